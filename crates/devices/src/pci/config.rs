//! A PCI function's 256-byte configuration space (PCI Local Bus
//! Specification 3.0, chapter 6): the type-0 header with read-only IDs,
//! per-bit write masks, write-one-to-clear status bits, base address
//! registers with their sizing behaviour and the expansion-ROM BAR.
//!
//! A device embeds a [`ConfigSpace`], declares its registers once at
//! construction (IDs, class, BARs, which device-specific bits are
//! writable) and forwards the guest's configuration accesses to
//! [`ConfigSpace::read`] and [`ConfigSpace::write`]. `write` reports when
//! the decoded BAR mappings changed, so the device can move its MMIO or
//! I/O windows; [`ConfigSpace::bar_mapping`] and
//! [`ConfigSpace::rom_mapping`] say where they are now.
//!
//! Only 32-bit BARs exist here (no 64-bit memory BARs, no capabilities
//! list, no type-1 bridge header).

use std::fmt;

/// Offsets of the type-0 header registers (PCI 3.0, figure 6-1).
pub mod reg {
    /// Vendor ID (16 bits, read-only).
    pub const VENDOR_ID: u8 = 0x00;
    /// Device ID (16 bits, read-only).
    pub const DEVICE_ID: u8 = 0x02;
    /// Command register (16 bits), see [`super::command`].
    pub const COMMAND: u8 = 0x04;
    /// Status register (16 bits), see [`super::status`].
    pub const STATUS: u8 = 0x06;
    /// Revision ID.
    pub const REVISION_ID: u8 = 0x08;
    /// Programming interface byte of the class code.
    pub const PROG_IF: u8 = 0x09;
    /// Sub-class byte of the class code.
    pub const SUBCLASS: u8 = 0x0A;
    /// Base class byte of the class code.
    pub const CLASS: u8 = 0x0B;
    /// Cache line size (read/write scratch for us).
    pub const CACHE_LINE_SIZE: u8 = 0x0C;
    /// Latency timer.
    pub const LATENCY_TIMER: u8 = 0x0D;
    /// Header type; bit 7 = multifunction device.
    pub const HEADER_TYPE: u8 = 0x0E;
    /// Base address register 0; BAR n is at `BAR0 + 4 * n`.
    pub const BAR0: u8 = 0x10;
    /// Subsystem vendor ID.
    pub const SUBSYSTEM_VENDOR_ID: u8 = 0x2C;
    /// Subsystem ID.
    pub const SUBSYSTEM_ID: u8 = 0x2E;
    /// Expansion ROM base address; bit 0 = decode enable.
    pub const ROM_ADDRESS: u8 = 0x30;
    /// Interrupt line (read/write, the firmware's note of the IRQ).
    pub const INTERRUPT_LINE: u8 = 0x3C;
    /// Interrupt pin: 0 = none, 1..=4 = INTA#..INTD# (read-only).
    pub const INTERRUPT_PIN: u8 = 0x3D;
    /// First device-specific register.
    pub const DEVICE_SPECIFIC: u8 = 0x40;
}

/// Command register bits (PCI 3.0, 6.2.2).
pub mod command {
    /// I/O space decode enable.
    pub const IO: u16 = 1 << 0;
    /// Memory space decode enable.
    pub const MEMORY: u16 = 1 << 1;
    /// Bus master enable.
    pub const BUS_MASTER: u16 = 1 << 2;
    /// Parity error response.
    pub const PARITY: u16 = 1 << 6;
    /// SERR# enable.
    pub const SERR: u16 = 1 << 8;
    /// INTx# emulation disable.
    pub const INTX_DISABLE: u16 = 1 << 10;
}

/// Status register bits (PCI 3.0, 6.2.3).
pub mod status {
    /// Fast back-to-back capable.
    pub const FAST_BACK_TO_BACK: u16 = 1 << 7;
    /// DEVSEL# timing = medium.
    pub const DEVSEL_MEDIUM: u16 = 1 << 9;
    /// The error bits, all write-one-to-clear: master data parity error,
    /// signalled/received target abort, received master abort, signalled
    /// system error, detected parity error.
    pub const ERRORS_W1C: u16 = 0xF900;
}

/// Header-type bit 7: the device has functions besides function 0.
pub const HEADER_MULTIFUNCTION: u8 = 0x80;
/// Expansion-ROM BAR bit 0: ROM decode enable.
pub const ROM_ENABLE: u32 = 1;
/// Address bits of the expansion-ROM BAR (31:11).
const ROM_ADDRESS_MASK: u32 = 0xFFFF_F800;
/// Number of BARs in a type-0 header.
pub const BAR_COUNT: usize = 6;

/// What a base address register decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    /// I/O space (bit 0 = 1).
    Io,
    /// 32-bit memory space, not prefetchable.
    Memory,
    /// 32-bit memory space, prefetchable (bit 3 = 1), e.g. a framebuffer.
    PrefetchableMemory,
}

impl BarKind {
    /// The read-only low bits of the register that announce the kind.
    fn type_bits(self) -> u32 {
        match self {
            BarKind::Io => 0x1,
            BarKind::Memory => 0x0,
            BarKind::PrefetchableMemory => 0x8,
        }
    }

    /// Bits of the register that are flags rather than address.
    fn flag_mask(self) -> u32 {
        match self {
            BarKind::Io => 0x3,
            _ => 0xF,
        }
    }

    /// Whether it decodes I/O space.
    pub fn is_io(self) -> bool {
        self == BarKind::Io
    }
}

/// A BAR (or the ROM BAR) as currently decoded: enabled in the command
/// register, with an address the bus can route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarMapping {
    /// What it decodes (the ROM BAR reports [`BarKind::Memory`]).
    pub kind: BarKind,
    /// Base address (a port number for I/O BARs).
    pub addr: u32,
    /// Size in bytes (a power of two).
    pub size: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BarDecl {
    kind: BarKind,
    size: u32,
}

/// All the windows a function decodes: BAR0..5, then the ROM.
type Mappings = [Option<BarMapping>; BAR_COUNT + 1];

/// The configuration space of one PCI function.
#[derive(Clone)]
pub struct ConfigSpace {
    data: [u8; 256],
    /// Bits the guest may change.
    wmask: [u8; 256],
    /// Bits a guest write of 1 clears.
    w1c: [u8; 256],
    bars: [Option<BarDecl>; BAR_COUNT],
    rom_size: Option<u32>,
    /// The register values at construction, for [`ConfigSpace::reset`].
    reset_data: Box<[u8; 256]>,
}

impl fmt::Debug for ConfigSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigSpace")
            .field("vendor", &format_args!("{:#06x}", self.u16_at(reg::VENDOR_ID)))
            .field("device", &format_args!("{:#06x}", self.u16_at(reg::DEVICE_ID)))
            .field("command", &format_args!("{:#06x}", self.command()))
            .field("bars", &self.bars)
            .field("rom_size", &self.rom_size)
            .finish()
    }
}

impl ConfigSpace {
    /// A type-0 header for `vendor:device` of class `class` (base class in
    /// the high byte, sub-class in the low byte, e.g. 0x0600 for a host
    /// bridge) and programming interface `prog_if`.
    ///
    /// The command register's I/O, memory, bus-master, parity, SERR and
    /// INTx-disable bits, the cache line size, the latency timer and the
    /// interrupt line are writable; the status error bits are
    /// write-one-to-clear; everything else (including all device-specific
    /// registers from 0x40) is read-only until declared otherwise with
    /// [`ConfigSpace::set_writable`].
    pub fn new(vendor: u16, device: u16, class: u16, prog_if: u8) -> Self {
        let mut c = Self {
            data: [0; 256],
            wmask: [0; 256],
            w1c: [0; 256],
            bars: [None; BAR_COUNT],
            rom_size: None,
            reset_data: Box::new([0; 256]),
        };
        c.set_u16(reg::VENDOR_ID, vendor);
        c.set_u16(reg::DEVICE_ID, device);
        c.set_u8(reg::PROG_IF, prog_if);
        c.set_u16(reg::SUBCLASS, class);
        c.set_u16(reg::STATUS, status::DEVSEL_MEDIUM | status::FAST_BACK_TO_BACK);
        let cmd = command::IO
            | command::MEMORY
            | command::BUS_MASTER
            | command::PARITY
            | command::SERR
            | command::INTX_DISABLE;
        c.set_writable(reg::COMMAND, &cmd.to_le_bytes());
        c.w1c[usize::from(reg::STATUS)..usize::from(reg::STATUS) + 2]
            .copy_from_slice(&status::ERRORS_W1C.to_le_bytes());
        c.set_writable(reg::CACHE_LINE_SIZE, &[0xFF, 0xFF]);
        c.set_writable(reg::INTERRUPT_LINE, &[0xFF]);
        c.snapshot();
        c
    }

    fn snapshot(&mut self) {
        *self.reset_data = self.data;
    }

    /// Set bit 7 of the header type: the device has more functions, and
    /// firmware scans functions 1..7 only when function 0 says so.
    pub fn set_multifunction(&mut self, on: bool) -> &mut Self {
        let h = self.data[usize::from(reg::HEADER_TYPE)];
        let h = if on {
            h | HEADER_MULTIFUNCTION
        } else {
            h & !HEADER_MULTIFUNCTION
        };
        self.set_u8(reg::HEADER_TYPE, h)
    }

    /// Set the revision ID.
    pub fn set_revision(&mut self, rev: u8) -> &mut Self {
        self.set_u8(reg::REVISION_ID, rev)
    }

    /// Set the subsystem vendor and subsystem IDs.
    pub fn set_subsystem(&mut self, vendor: u16, id: u16) -> &mut Self {
        self.set_u16(reg::SUBSYSTEM_VENDOR_ID, vendor);
        self.set_u16(reg::SUBSYSTEM_ID, id)
    }

    /// Set the interrupt pin (1..=4 = INTA#..INTD#, 0 = none).
    pub fn set_interrupt_pin(&mut self, pin: u8) -> &mut Self {
        self.set_u8(reg::INTERRUPT_PIN, pin)
    }

    /// Declare BAR `index` (0..6) as a window of `size` bytes.
    ///
    /// # Panics
    /// `index` is out of range or `size` is not a power of two (a bug in
    /// the device model, not something a guest can cause).
    pub fn add_bar(&mut self, index: usize, kind: BarKind, size: u32) -> &mut Self {
        assert!(index < BAR_COUNT, "BAR index {index} out of range");
        assert!(size.is_power_of_two(), "BAR size {size:#x} is not a power of two");
        // The smallest windows the specification allows (PCI 3.0, 6.2.5.1).
        let size = size.max(if kind.is_io() { 4 } else { 16 });
        self.bars[index] = Some(BarDecl { kind, size });
        let off = Self::bar_offset(index);
        self.set_u32(off, kind.type_bits());
        let mask = !(size - 1) & !kind.flag_mask();
        self.set_writable(off, &mask.to_le_bytes());
        self.snapshot();
        self
    }

    /// Declare an expansion ROM of `size` bytes (at least 2 KiB).
    ///
    /// # Panics
    /// `size` is not a power of two.
    pub fn add_rom(&mut self, size: u32) -> &mut Self {
        assert!(size.is_power_of_two(), "ROM size {size:#x} is not a power of two");
        let size = size.max(0x800);
        self.rom_size = Some(size);
        let mask = (!(size - 1) & ROM_ADDRESS_MASK) | ROM_ENABLE;
        self.set_writable(reg::ROM_ADDRESS, &mask.to_le_bytes());
        self
    }

    /// Let the guest change the bits set in `mask` of the bytes starting
    /// at `offset` (for device-specific registers).
    pub fn set_writable(&mut self, offset: u8, mask: &[u8]) -> &mut Self {
        let o = usize::from(offset);
        self.wmask[o..o + mask.len()].copy_from_slice(mask);
        self
    }

    /// Set a byte, bypassing the write masks (device side).
    pub fn set_u8(&mut self, offset: u8, v: u8) -> &mut Self {
        self.data[usize::from(offset)] = v;
        self
    }

    /// Set a little-endian 16-bit value, bypassing the write masks.
    pub fn set_u16(&mut self, offset: u8, v: u16) -> &mut Self {
        let o = usize::from(offset);
        self.data[o..o + 2].copy_from_slice(&v.to_le_bytes());
        self
    }

    /// Set a little-endian 32-bit value, bypassing the write masks.
    pub fn set_u32(&mut self, offset: u8, v: u32) -> &mut Self {
        let o = usize::from(offset);
        self.data[o..o + 4].copy_from_slice(&v.to_le_bytes());
        self
    }

    /// Declare the current register values the power-on defaults that
    /// [`ConfigSpace::reset`] returns to (call after the constructor's
    /// `set_*` calls for device-specific registers).
    pub fn set_defaults(&mut self) -> &mut Self {
        self.snapshot();
        self
    }

    /// Return every register to its power-on value (PCI RST#).
    pub fn reset(&mut self) {
        self.data = *self.reset_data;
    }

    /// A byte.
    pub fn u8_at(&self, offset: u8) -> u8 {
        self.data[usize::from(offset)]
    }

    /// A little-endian 16-bit value (offset must leave room for it).
    pub fn u16_at(&self, offset: u8) -> u16 {
        let o = usize::from(offset);
        u16::from_le_bytes([self.data[o], self.data[o + 1]])
    }

    /// A little-endian 32-bit value (offset must leave room for it).
    pub fn u32_at(&self, offset: u8) -> u32 {
        let o = usize::from(offset);
        u32::from_le_bytes([self.data[o], self.data[o + 1], self.data[o + 2], self.data[o + 3]])
    }

    /// The command register.
    pub fn command(&self) -> u16 {
        self.u16_at(reg::COMMAND)
    }

    /// Whether bus mastering (DMA) is enabled.
    pub fn bus_master(&self) -> bool {
        self.command() & command::BUS_MASTER != 0
    }

    /// Guest read of `data.len()` bytes at `offset`; bytes past the end of
    /// the space read as all ones.
    pub fn read(&self, offset: u8, data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            *b = self.data.get(usize::from(offset) + i).copied().unwrap_or(0xFF);
        }
    }

    /// Guest write at `offset`: only writable bits change, status error
    /// bits written as 1 are cleared. Returns true when a decoded BAR or
    /// ROM window ([`ConfigSpace::bar_mapping`], [`ConfigSpace::rom_mapping`])
    /// changed, i.e. the device must move its windows.
    pub fn write(&mut self, offset: u8, data: &[u8]) -> bool {
        let before = self.mappings();
        for (i, &v) in data.iter().enumerate() {
            let o = usize::from(offset) + i;
            if o >= 256 {
                break;
            }
            let m = self.wmask[o];
            let mut n = (self.data[o] & !m) | (v & m);
            n &= !(v & self.w1c[o]);
            self.data[o] = n;
        }
        self.mappings() != before
    }

    fn bar_offset(index: usize) -> u8 {
        reg::BAR0 + 4 * index as u8
    }

    /// The declared kind and size of BAR `index`, if it exists.
    pub fn bar(&self, index: usize) -> Option<(BarKind, u32)> {
        self.bars.get(index).copied().flatten().map(|b| (b.kind, b.size))
    }

    /// The raw address programmed into BAR `index` (flag bits removed),
    /// whether or not it is decoded.
    pub fn bar_address(&self, index: usize) -> Option<u32> {
        let b = self.bars.get(index).copied().flatten()?;
        Some(self.u32_at(Self::bar_offset(index)) & !b.kind.flag_mask())
    }

    /// Where BAR `index` decodes now: the BAR exists, its space is enabled
    /// in the command register, and its address is routable (not zero, an
    /// I/O window inside 64 KiB, a memory window ending below 4 GiB — an
    /// address of all ones, left there while the firmware sizes the BAR,
    /// decodes nothing).
    pub fn bar_mapping(&self, index: usize) -> Option<BarMapping> {
        let b = self.bars.get(index).copied().flatten()?;
        let addr = self.bar_address(index)?;
        let (enable, limit) = if b.kind.is_io() {
            (command::IO, 0xFFFF)
        } else {
            (command::MEMORY, 0xFFFF_FFFE)
        };
        let last = u64::from(addr) + u64::from(b.size) - 1;
        (self.command() & enable != 0 && addr != 0 && last <= limit).then_some(BarMapping {
            kind: b.kind,
            addr,
            size: b.size,
        })
    }

    /// The expansion-ROM size, if the function has one.
    pub fn rom_size(&self) -> Option<u32> {
        self.rom_size
    }

    /// Where the expansion ROM decodes now: it exists, memory decode is on,
    /// the ROM BAR's enable bit is set and its address is routable.
    pub fn rom_mapping(&self) -> Option<BarMapping> {
        let size = self.rom_size?;
        let v = self.u32_at(reg::ROM_ADDRESS);
        let addr = v & ROM_ADDRESS_MASK;
        let last = u64::from(addr) + u64::from(size) - 1;
        let on = self.command() & command::MEMORY != 0 && v & ROM_ENABLE != 0;
        (on && addr != 0 && last < 0xFFFF_FFFF).then_some(BarMapping {
            kind: BarKind::Memory,
            addr,
            size,
        })
    }

    fn mappings(&self) -> Mappings {
        let mut m = [None; BAR_COUNT + 1];
        for (i, slot) in m.iter_mut().take(BAR_COUNT).enumerate() {
            *slot = self.bar_mapping(i);
        }
        m[BAR_COUNT] = self.rom_mapping();
        m
    }
}

/// A function with no behaviour beyond its registers (a placeholder or a
/// test double) is a PCI function in its own right.
impl super::PciFunction for ConfigSpace {
    fn config_read(&mut self, offset: u8, data: &mut [u8]) {
        self.read(offset, data);
    }

    fn config_write(&mut self, offset: u8, data: &[u8]) {
        let _ = self.write(offset, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vga_like() -> ConfigSpace {
        let mut c = ConfigSpace::new(0x1234, 0x1111, 0x0300, 0);
        c.add_bar(0, BarKind::PrefetchableMemory, 16 << 20)
            .add_bar(2, BarKind::Memory, 0x1000)
            .add_bar(4, BarKind::Io, 16)
            .add_rom(0x10000);
        c
    }

    fn rd32(c: &ConfigSpace, off: u8) -> u32 {
        let mut b = [0; 4];
        c.read(off, &mut b);
        u32::from_le_bytes(b)
    }

    #[test]
    fn ids_are_read_only_and_command_is_masked() {
        let mut c = vga_like();
        c.write(0, &[0, 0, 0, 0]);
        assert_eq!(rd32(&c, 0), 0x1111_1234);
        c.write(reg::COMMAND, &0xFFFFu16.to_le_bytes());
        assert_eq!(c.command(), 0x0547);
        c.write(reg::CLASS - 3, &[0xFF; 4]);
        assert_eq!(rd32(&c, 0x08), 0x0300_0000, "class and revision are read-only");
    }

    /// SeaBIOS's sizing dance (pciinit.c): save, write all ones, read,
    /// restore.
    #[test]
    fn bar_sizing_reads_back_the_size_mask() {
        let mut c = vga_like();
        for (bar, want) in [
            (0usize, 0xFF00_0008u32),
            (2, 0xFFFF_F000),
            (4, 0xFFFF_FFF1),
            (1, 0),
        ] {
            let off = reg::BAR0 + 4 * bar as u8;
            let old = rd32(&c, off);
            c.write(off, &u32::MAX.to_le_bytes());
            assert_eq!(rd32(&c, off), want, "BAR{bar}");
            c.write(off, &old.to_le_bytes());
            assert_eq!(rd32(&c, off), old);
        }
        c.write(reg::ROM_ADDRESS, &0xFFFF_F800u32.to_le_bytes());
        assert_eq!(rd32(&c, reg::ROM_ADDRESS), 0xFFFF_0000);
        c.write(reg::ROM_ADDRESS, &0xFFFF_FFFEu32.to_le_bytes());
        assert_eq!(
            rd32(&c, reg::ROM_ADDRESS),
            0xFFFF_0000,
            "enable bit stays as written"
        );
    }

    #[test]
    fn mappings_follow_command_and_addresses() {
        let mut c = vga_like();
        assert!(
            !c.write(reg::BAR0, &0xFD00_0000u32.to_le_bytes()),
            "not decoded yet"
        );
        assert!(!c.write(reg::BAR0 + 16, &0xC000u32.to_le_bytes()));
        assert_eq!(c.bar_mapping(0), None);
        assert!(c.write(reg::COMMAND, &[0x03, 0x01]));
        assert_eq!(
            c.bar_mapping(0),
            Some(BarMapping {
                kind: BarKind::PrefetchableMemory,
                addr: 0xFD00_0000,
                size: 16 << 20
            })
        );
        assert_eq!(c.bar_mapping(4).map(|m| m.addr), Some(0xC000));
        assert_eq!(c.bar_mapping(2), None, "address 0 decodes nothing");
        // Sizing while decoding: all ones is not a place.
        assert!(c.write(reg::BAR0, &u32::MAX.to_le_bytes()));
        assert_eq!(c.bar_mapping(0), None);
        assert!(c.write(reg::BAR0, &0xFD00_0000u32.to_le_bytes()));
        // The ROM decodes only with its enable bit and memory decode.
        assert!(!c.write(reg::ROM_ADDRESS, &0xFEBE_0000u32.to_le_bytes()));
        assert_eq!(c.rom_mapping(), None);
        assert!(c.write(reg::ROM_ADDRESS, &0xFEBE_0001u32.to_le_bytes()));
        assert_eq!(
            c.rom_mapping().map(|m| (m.addr, m.size)),
            Some((0xFEBE_0000, 0x10000))
        );
        assert!(c.write(reg::COMMAND, &[0x01, 0x00]), "memory decode off");
        assert_eq!(c.rom_mapping(), None);
        assert_eq!(c.bar_mapping(0), None);
        assert!(c.bar_mapping(4).is_some());
    }

    #[test]
    fn status_errors_are_write_one_to_clear() {
        let mut c = vga_like();
        c.set_u16(reg::STATUS, 0x2280); // received master abort
        c.write(reg::STATUS, &0x0000u16.to_le_bytes());
        assert_eq!(c.u16_at(reg::STATUS), 0x2280);
        c.write(reg::STATUS, &0xFFFFu16.to_le_bytes());
        assert_eq!(c.u16_at(reg::STATUS), 0x0280);
    }

    #[test]
    fn header_interrupt_and_reset() {
        let mut c = vga_like();
        c.set_multifunction(true).set_interrupt_pin(1).set_defaults();
        assert_eq!(c.u8_at(reg::HEADER_TYPE), 0x80);
        c.write(reg::INTERRUPT_LINE, &[11, 4]);
        assert_eq!(
            (c.u8_at(reg::INTERRUPT_LINE), c.u8_at(reg::INTERRUPT_PIN)),
            (11, 1)
        );
        c.write(reg::DEVICE_SPECIFIC, &[0xAA]);
        assert_eq!(
            c.u8_at(reg::DEVICE_SPECIFIC),
            0,
            "undeclared registers are read-only"
        );
        c.reset();
        assert_eq!(c.u8_at(reg::INTERRUPT_LINE), 0);
        assert_eq!(c.u8_at(reg::HEADER_TYPE), 0x80);
    }
}
