//! PCI: configuration mechanism #1, bus 0 and its functions.
//!
//! - [`PciBus`] answers the host bridge's two I/O registers (i440FX
//!   datasheet 3.1.1–3.1.2; PCI 3.0, 3.2.2.3.2): CONFADD at 0xCF8, a
//!   32-bit address register that only dword accesses reach (bit 31
//!   enable, bus 23:16, device 15:11, function 10:8, register 7:2), and
//!   CONFDATA at 0xCFC–0xCFF, where byte, word and dword accesses reach
//!   the selected function at register + (port & 3). Only bus 0 exists;
//!   every other bus, absent function, or access with bit 31 clear reads
//!   all ones and drops writes.
//! - [`PciFunction`] is what a function implements: configuration reads
//!   and writes by offset and width. [`ConfigSpace`] is the reusable
//!   256-byte register file behind most functions (IDs, write masks, BAR
//!   sizing, ROM BAR, command/status, interrupt line/pin); a function that
//!   owns BARs sees every configuration write, and
//!   [`ConfigSpace::write`] tells it when its windows moved.
//! - [`I440fx`] (00:00.0) is the host bridge with the PAM shadow-RAM
//!   registers; [`Piix3`] (00:01.0) the ISA bridge with PIRQ routing,
//!   [`Piix3Ide`] (00:01.1) its IDE function, [`ResetControl`] the
//!   PIIX3's reset register at 0xCF9, [`PciIntxRouter`] the interrupt
//!   router that turns PCI INTx# levels into ISA IRQ levels.
//!
//! Not implemented: configuration mechanism #2, buses behind bridges,
//! 64-bit BARs, capabilities lists, PCI Express extended space.

mod config;
mod host;
mod piix3;

pub use config::{
    command, reg, status, BarKind, BarMapping, ConfigSpace, BAR_COUNT, HEADER_MULTIFUNCTION, ROM_ENABLE,
};
pub use host::I440fx;
pub use piix3::{intx_line, PciIntxRouter, Piix3, Piix3Ide, ResetControl, ResetKind};

use mem::{Port, PortDevice, Shared};
use std::fmt;

/// CONFADD: the configuration address register (dword accesses only).
pub const CONFIG_ADDRESS: u16 = 0xCF8;
/// CONFDATA: the configuration data window, 0xCFC..=0xCFF.
pub const CONFIG_DATA: u16 = 0xCFC;
/// CONFADD bit 31: configuration cycles enabled.
pub const CONFIG_ENABLE: u32 = 1 << 31;
/// CONFADD bits that hold state: enable, bus, device, function, register
/// (bits 30:24 and 1:0 are reserved and read as zero).
const CONFIG_ADDRESS_MASK: u32 = 0x80FF_FFFC;

/// Devices on a bus (slots).
pub const DEVICES: u8 = 32;
/// Functions per device.
pub const FUNCTIONS: u8 = 8;

/// One configuration function of a PCI device.
///
/// `offset` is the register offset (0..=255); `data.len()` is the width
/// (1, 2 or 4) and the access never crosses a dword boundary. Values are
/// little-endian, as on the bus.
pub trait PciFunction {
    /// Configuration read.
    fn config_read(&mut self, offset: u8, data: &mut [u8]);
    /// Configuration write.
    fn config_write(&mut self, offset: u8, data: &[u8]);
}

/// Why a function could not be attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PciError {
    /// Device or function number out of range.
    NoSuchSlot(u8, u8),
    /// Something is already attached there.
    Occupied(u8, u8),
}

impl fmt::Display for PciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PciError::NoSuchSlot(d, func) => write!(f, "PCI slot {d:02x}.{func} does not exist"),
            PciError::Occupied(d, func) => write!(f, "PCI slot {d:02x}.{func} is already taken"),
        }
    }
}

impl std::error::Error for PciError {}

/// PCI bus 0 behind configuration mechanism #1.
pub struct PciBus {
    /// CONFADD as last written (reserved bits cleared).
    address: u32,
    /// Indexed by device * 8 + function.
    functions: Vec<Option<Shared<dyn PciFunction>>>,
}

impl fmt::Debug for PciBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let present: Vec<String> = self
            .functions
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| format!("{:02x}.{}", i / 8, i % 8))
            .collect();
        f.debug_struct("PciBus")
            .field("address", &format_args!("{:#010x}", self.address))
            .field("functions", &present)
            .finish()
    }
}

impl Default for PciBus {
    fn default() -> Self {
        Self::new()
    }
}

impl PciBus {
    /// The ports to register, as (first, count): CONFADD as one port (only
    /// dword accesses to 0xCF8 reach it; 0xCF9 is the PIIX3's
    /// [`ResetControl`]) and CONFDATA as four.
    pub const PORTS: &'static [(u16, u16)] = &[(CONFIG_ADDRESS, 1), (CONFIG_DATA, 4)];

    /// An empty bus.
    pub fn new() -> Self {
        Self {
            address: 0,
            functions: vec![None; usize::from(DEVICES) * usize::from(FUNCTIONS)],
        }
    }

    fn index(device: u8, function: u8) -> Option<usize> {
        (device < DEVICES && function < FUNCTIONS).then(|| usize::from(device) * 8 + usize::from(function))
    }

    /// Put `f` at `device`.`function` of bus 0.
    ///
    /// # Errors
    /// The slot does not exist or is taken.
    pub fn attach(&mut self, device: u8, function: u8, f: Shared<dyn PciFunction>) -> Result<(), PciError> {
        let i = Self::index(device, function).ok_or(PciError::NoSuchSlot(device, function))?;
        if self.functions[i].is_some() {
            return Err(PciError::Occupied(device, function));
        }
        self.functions[i] = Some(f);
        Ok(())
    }

    /// The function at `device`.`function`, if any.
    pub fn function(&self, device: u8, function: u8) -> Option<Shared<dyn PciFunction>> {
        self.functions[Self::index(device, function)?].clone()
    }

    /// CONFADD as the guest would read it.
    pub fn config_address(&self) -> u32 {
        self.address
    }

    /// Configuration read of `device`.`function` on bus 0, bypassing
    /// CONFADD (for the board and tests). Absent functions read all ones.
    pub fn config_read(&self, device: u8, function: u8, offset: u8, data: &mut [u8]) {
        match self.function(device, function) {
            Some(f) => f.borrow_mut().config_read(offset, data),
            None => data.fill(0xFF),
        }
    }

    /// Configuration write, bypassing CONFADD. Absent functions ignore it.
    pub fn config_write(&self, device: u8, function: u8, offset: u8, data: &[u8]) {
        if let Some(f) = self.function(device, function) {
            f.borrow_mut().config_write(offset, data);
        }
    }

    /// The function and register CONFADD selects, if configuration cycles
    /// are enabled and it names bus 0.
    fn selected(&self) -> Option<(u8, u8, u8)> {
        let a = self.address;
        if a & CONFIG_ENABLE == 0 || (a >> 16) & 0xFF != 0 {
            return None;
        }
        Some((((a >> 11) & 0x1F) as u8, ((a >> 8) & 7) as u8, (a & 0xFC) as u8))
    }

    /// The part of a CONFDATA access at `port` that stays inside the dword
    /// (an access running past 0xCFF reaches no configuration register).
    fn data_window(port: u16, len: usize) -> (u8, usize) {
        let lane = (port - CONFIG_DATA) as u8;
        (lane, len.min(4 - usize::from(lane)))
    }
}

impl PortDevice for PciBus {
    fn read(&mut self, port: Port, data: &mut [u8]) {
        data.fill(0xFF);
        match port.0 {
            CONFIG_ADDRESS if data.len() == 4 => data.copy_from_slice(&self.address.to_le_bytes()),
            CONFIG_ADDRESS => {} // byte and word accesses go to ISA, where nothing answers
            p @ CONFIG_DATA..=0xCFF => {
                if let Some((dev, func, reg)) = self.selected() {
                    let (lane, n) = Self::data_window(p, data.len());
                    self.config_read(dev, func, reg + lane, &mut data[..n]);
                }
            }
            _ => {}
        }
    }

    fn write(&mut self, port: Port, data: &[u8]) {
        match port.0 {
            CONFIG_ADDRESS if data.len() == 4 => {
                let v = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
                self.address = v & CONFIG_ADDRESS_MASK;
            }
            CONFIG_ADDRESS => {}
            p @ CONFIG_DATA..=0xCFF => {
                if let Some((dev, func, reg)) = self.selected() {
                    let (lane, n) = Self::data_window(p, data.len());
                    self.config_write(dev, func, reg + lane, &data[..n]);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Guest-side helpers: the accesses SeaBIOS's pci.c makes.
    pub(crate) struct Guest<'a>(pub &'a mut PciBus);

    impl Guest<'_> {
        pub fn outl(&mut self, port: u16, v: u32) {
            self.0.write(Port(port), &v.to_le_bytes());
        }
        pub fn inl(&mut self, port: u16) -> u32 {
            let mut b = [0; 4];
            self.0.read(Port(port), &mut b);
            u32::from_le_bytes(b)
        }
        fn addr(bdf: u16, reg: u8) -> u32 {
            CONFIG_ENABLE | (u32::from(bdf) << 8) | u32::from(reg & 0xFC)
        }
        pub fn readl(&mut self, bdf: u16, reg: u8) -> u32 {
            self.outl(CONFIG_ADDRESS, Self::addr(bdf, reg));
            self.inl(CONFIG_DATA)
        }
        pub fn readw(&mut self, bdf: u16, reg: u8) -> u16 {
            self.outl(CONFIG_ADDRESS, Self::addr(bdf, reg));
            let mut b = [0; 2];
            self.0.read(Port(CONFIG_DATA + u16::from(reg & 2)), &mut b);
            u16::from_le_bytes(b)
        }
        pub fn readb(&mut self, bdf: u16, reg: u8) -> u8 {
            self.outl(CONFIG_ADDRESS, Self::addr(bdf, reg));
            let mut b = [0; 1];
            self.0.read(Port(CONFIG_DATA + u16::from(reg & 3)), &mut b);
            b[0]
        }
        pub fn writel(&mut self, bdf: u16, reg: u8, v: u32) {
            self.outl(CONFIG_ADDRESS, Self::addr(bdf, reg));
            self.outl(CONFIG_DATA, v);
        }
        pub fn writew(&mut self, bdf: u16, reg: u8, v: u16) {
            self.outl(CONFIG_ADDRESS, Self::addr(bdf, reg));
            self.0
                .write(Port(CONFIG_DATA + u16::from(reg & 2)), &v.to_le_bytes());
        }
        pub fn writeb(&mut self, bdf: u16, reg: u8, v: u8) {
            self.outl(CONFIG_ADDRESS, Self::addr(bdf, reg));
            self.0.write(Port(CONFIG_DATA + u16::from(reg & 3)), &[v]);
        }
    }

    pub(crate) fn bdf(dev: u8, func: u8) -> u16 {
        (u16::from(dev) << 3) | u16::from(func)
    }

    fn plain(vendor: u16, device: u16, class: u16) -> Shared<ConfigSpace> {
        Rc::new(RefCell::new(ConfigSpace::new(vendor, device, class, 0)))
    }

    #[test]
    fn config_address_reads_back_and_gates_data() {
        let mut bus = PciBus::new();
        bus.attach(0, 0, plain(0x8086, 0x1237, 0x0600)).unwrap();
        let mut g = Guest(&mut bus);
        // SeaBIOS's pci_probe: 0xCF8 must read back 0x80000000.
        g.outl(CONFIG_ADDRESS, 0x8000_0000);
        assert_eq!(g.inl(CONFIG_ADDRESS), 0x8000_0000);
        g.outl(CONFIG_ADDRESS, 0xFFFF_FFFF);
        assert_eq!(g.inl(CONFIG_ADDRESS), 0x80FF_FFFC, "reserved bits read as zero");
        // Linux's type-1 check writes a byte to 0xCFB first: no effect.
        g.outl(CONFIG_ADDRESS, 0x8000_0000);
        g.0.write(Port(CONFIG_ADDRESS), &[0x01]);
        assert_eq!(g.inl(CONFIG_ADDRESS), 0x8000_0000);
        assert_eq!(g.inl(CONFIG_DATA), 0x1237_8086);
        // Bit 31 clear: no configuration cycle.
        g.outl(CONFIG_ADDRESS, 0);
        assert_eq!(g.inl(CONFIG_DATA), 0xFFFF_FFFF);
        // Another bus: nothing there.
        g.outl(CONFIG_ADDRESS, 0x8001_0000);
        assert_eq!(g.inl(CONFIG_DATA), 0xFFFF_FFFF);
    }

    #[test]
    fn byte_and_word_accesses_use_the_low_address_bits() {
        let mut bus = PciBus::new();
        bus.attach(0, 0, plain(0x8086, 0x1237, 0x0600)).unwrap();
        let mut g = Guest(&mut bus);
        assert_eq!(g.readw(0, 0x00), 0x8086);
        assert_eq!(g.readw(0, 0x02), 0x1237);
        assert_eq!(g.readb(0, 0x01), 0x80);
        assert_eq!(g.readb(0, 0x03), 0x12);
        assert_eq!(g.readb(0, 0x0B), 0x06);
        g.writeb(0, 0x3C, 10);
        g.writeb(0, 0x0D, 0x40);
        assert_eq!(g.readl(0, 0x3C) & 0xFF, 10);
        assert_eq!(g.readb(0, 0x0D), 0x40);
        g.writew(0, 0x04, 0x0103);
        assert_eq!(g.readw(0, 0x04), 0x0103);
        // A dword at 0xCFE only reaches two registers; the rest float.
        g.outl(CONFIG_ADDRESS, 0x8000_0000);
        let mut b = [0; 4];
        g.0.read(Port(0xCFE), &mut b);
        assert_eq!(b, [0x37, 0x12, 0xFF, 0xFF]);
    }

    #[test]
    fn absent_functions_read_all_ones() {
        let mut bus = PciBus::new();
        let mut g = Guest(&mut bus);
        assert_eq!(g.readl(bdf(5, 0), 0), 0xFFFF_FFFF);
        g.writel(bdf(5, 0), 0x10, 0);
        assert_eq!(g.readw(bdf(31, 7), 0), 0xFFFF);
        assert_eq!(
            bus.attach(32, 0, plain(1, 2, 3)),
            Err(PciError::NoSuchSlot(32, 0))
        );
        bus.attach(1, 0, plain(1, 2, 3)).unwrap();
        assert_eq!(bus.attach(1, 0, plain(1, 2, 3)), Err(PciError::Occupied(1, 0)));
    }

    #[test]
    fn bar_sizing_through_the_ports() {
        let mut bus = PciBus::new();
        let f = plain(0x1234, 0x1111, 0x0300);
        f.borrow_mut()
            .add_bar(0, BarKind::PrefetchableMemory, 16 << 20)
            .add_bar(2, BarKind::Memory, 4096)
            .add_rom(0x10000);
        bus.attach(2, 0, f.clone()).unwrap();
        let mut g = Guest(&mut bus);
        let d = bdf(2, 0);
        let old = g.readl(d, 0x10);
        g.writel(d, 0x10, !0);
        assert_eq!(g.readl(d, 0x10), 0xFF00_0008);
        g.writel(d, 0x10, old);
        g.writel(d, 0x30, 0xFFFF_F800);
        assert_eq!(g.readl(d, 0x30), 0xFFFF_0000);
        g.writel(d, 0x10, 0xFD00_0000);
        g.writel(d, 0x18, 0xFEBF_0000);
        g.writel(d, 0x30, 0xFEBE_0001);
        let cmd = g.readw(d, 0x04);
        g.writew(d, 0x04, cmd | 0x0103);
        let cs = f.borrow();
        assert_eq!(cs.bar_mapping(0).map(|m| m.addr), Some(0xFD00_0000));
        assert_eq!(cs.bar_mapping(2).map(|m| m.addr), Some(0xFEBF_0000));
        assert_eq!(cs.rom_mapping().map(|m| m.addr), Some(0xFEBE_0000));
    }
}
