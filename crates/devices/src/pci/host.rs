//! The Intel 82441FX (i440FX) PCI and memory controller as host bridge
//! 00:00.0 (8086:1237, class 0600), as QEMU's `pc` machine presents it.
//!
//! Implemented: the header (revision 02, subsystem 1AF4:1100 as on every
//! QEMU device, which SeaBIOS reads to print "Running on QEMU (i440fx)"),
//! the Programmable Attribute Map registers PAM0–PAM6 at 0x59–0x5F
//! (82441FX datasheet 3.2.18), which route reads and writes of
//! 0xC0000–0xFFFFF to shadow RAM or to the bus through
//! [`mem::ShadowControl`], and SMRAM at 0x72 as a plain register (SeaBIOS's
//! `bios.bin` never touches it; no SMM exists). The DRAM control and row
//! boundary registers, the error and timing registers hold what is written
//! and do nothing.
//!
//! Not implemented: SMRAM decoding (D_OPEN/G_SMRAME), the DRB-derived
//! memory size (RAM size comes from the board), cache control.

use super::config::ConfigSpace;
use super::PciFunction;
use mem::{PhysAddr, ShadowControl};

/// Intel's vendor ID.
const VENDOR_INTEL: u16 = 0x8086;
/// 82441FX device ID.
const DEVICE_I440FX: u16 = 0x1237;
/// Class: bridge (06), host bridge (00).
const CLASS_HOST_BRIDGE: u16 = 0x0600;
/// The revision QEMU reports.
const REVISION: u8 = 0x02;
/// Subsystem vendor and ID of QEMU's PCI devices (Red Hat, "QEMU virtual
/// machine"); SeaBIOS's `qemu_detect` keys on them.
const SUBSYSTEM_VENDOR_QEMU: u16 = 0x1AF4;
const SUBSYSTEM_QEMU: u16 = 0x1100;

/// PAM0: bits 7:4 = attributes of 0xF0000–0xFFFFF (bits 3:0 reserved).
pub const PAM0: u8 = 0x59;
/// PAM6, the last: 0xE8000–0xEBFFF (low nibble), 0xEC000–0xEFFFF (high).
pub const PAM6: u8 = 0x5F;
/// PAM attribute bit: reads go to DRAM (RE), in each nibble.
const PAM_READ: u8 = 1 << 0;
/// PAM attribute bit: writes go to DRAM (WE), in each nibble.
const PAM_WRITE: u8 = 1 << 1;
/// Writable PAM bits: RE, WE and the cache-enable bit of each nibble.
const PAM_WMASK: u8 = 0x77;
/// SMRAM control register (3.2.23); C_BASE_SEG (2:0) is hardwired 010.
pub const SMRAM: u8 = 0x72;
const SMRAM_DEFAULT: u8 = 0x02;
const SMRAM_WMASK: u8 = 0x78;

/// Start of the BIOS area PAM0 controls, and its size.
const BIOS_AREA: (u64, u64) = (0xF0000, 0x10000);
/// Start of the 16 KiB chunks PAM1..PAM6 control (two per register).
const EXPANSION_AREA: u64 = 0xC0000;
const CHUNK: u64 = 0x4000;

/// The host bridge.
#[derive(Debug)]
pub struct I440fx {
    config: ConfigSpace,
    shadow: ShadowControl,
}

impl I440fx {
    /// Its place on bus 0: (device, function).
    pub const SLOT: (u8, u8) = (0, 0);

    /// A host bridge driving `shadow` (from
    /// [`PhysMemory::shadow_control`](mem::PhysMemory::shadow_control)).
    /// At power-on every PAM is 0: 0xC0000–0xFFFFF reads from the bus
    /// (the BIOS alias, or nothing) and writes are dropped.
    pub fn new(shadow: ShadowControl) -> Self {
        let mut config = ConfigSpace::new(VENDOR_INTEL, DEVICE_I440FX, CLASS_HOST_BRIDGE, 0);
        config
            .set_revision(REVISION)
            .set_subsystem(SUBSYSTEM_VENDOR_QEMU, SUBSYSTEM_QEMU)
            // PMCCFG, DETURBO, DBC, AXC, DRAMR, DRAMC, DRAMT: storage only.
            .set_writable(0x50, &[0xFF; 9])
            .set_writable(PAM0, &[0xF0 & PAM_WMASK])
            .set_writable(PAM0 + 1, &[PAM_WMASK; 6])
            // DRB0–7, FDHC, MTT, CLT, ERRCMD, ERRSTS, TRC: storage only.
            .set_writable(0x60, &[0xFF; 9])
            .set_writable(0x70, &[0xFF; 2])
            .set_writable(0x90, &[0xFF; 4])
            .set_u8(SMRAM, SMRAM_DEFAULT)
            .set_writable(SMRAM, &[SMRAM_WMASK])
            .set_defaults();
        let mut d = Self { config, shadow };
        d.apply_pam();
        d
    }

    /// Power-on state (PCIRST#): every register, and so the shadow map,
    /// returns to its default.
    pub fn reset(&mut self) {
        self.config.reset();
        self.apply_pam();
    }

    /// The configuration registers.
    pub fn config(&self) -> &ConfigSpace {
        &self.config
    }

    /// Route one region by a PAM nibble.
    fn route(&self, start: u64, len: u64, nibble: u8) {
        self.shadow.set(
            PhysAddr(start),
            len,
            nibble & PAM_READ != 0,
            nibble & PAM_WRITE != 0,
        );
    }

    /// Make the shadow map match PAM0–PAM6.
    fn apply_pam(&mut self) {
        self.route(BIOS_AREA.0, BIOS_AREA.1, self.config.u8_at(PAM0) >> 4);
        for (i, r) in (PAM0 + 1..=PAM6).enumerate() {
            let v = self.config.u8_at(r);
            let base = EXPANSION_AREA + 2 * CHUNK * i as u64;
            self.route(base, CHUNK, v & 0xF);
            self.route(base + CHUNK, CHUNK, v >> 4);
        }
    }
}

impl PciFunction for I440fx {
    fn config_read(&mut self, offset: u8, data: &mut [u8]) {
        self.config.read(offset, data);
    }

    fn config_write(&mut self, offset: u8, data: &[u8]) {
        let _ = self.config.write(offset, data);
        let end = usize::from(offset) + data.len();
        if usize::from(offset) <= usize::from(PAM6) && end > usize::from(PAM0) {
            // Takes effect at once: the memory map's generation changes,
            // so the CPU refetches through the new routing.
            self.apply_pam();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::tests::{bdf, Guest};
    use crate::pci::PciBus;
    use mem::PhysMemory;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A 2 MiB PC with a 128 KiB BIOS whose bytes say where they are
    /// (0x11 everywhere, 0xEA at the reset vector, 0xC5 in the last page
    /// before the E0000 alias' end).
    fn machine() -> (PhysMemory, PciBus) {
        let mut m = PhysMemory::new(2).unwrap();
        let mut rom = vec![0x11u8; 0x20000];
        rom[0x1FFF0] = 0xEA;
        rom[0x0C000] = 0xEC; // appears at 0xEC000
        m.load_bios(&rom).unwrap();
        let mut bus = PciBus::new();
        bus.attach(0, 0, Rc::new(RefCell::new(I440fx::new(m.shadow_control()))))
            .unwrap();
        (m, bus)
    }

    fn rd(m: &mut PhysMemory, a: u64) -> u8 {
        m.read_le::<1>(PhysAddr(a))[0]
    }

    #[test]
    fn identifies_as_qemus_i440fx() {
        let (_, mut bus) = machine();
        let mut g = Guest(&mut bus);
        assert_eq!(g.readw(0, 0x00), 0x8086);
        assert_eq!(g.readw(0, 0x02), 0x1237);
        assert_eq!(g.readw(0, 0x2C), 0x1AF4);
        assert_eq!(g.readw(0, 0x2E), 0x1100);
        assert_eq!(g.readl(0, 0x08), 0x0600_0002);
        assert_eq!(g.readb(0, 0x0E), 0x00, "single function");
        assert_eq!(g.readb(0, SMRAM), 0x02);
        g.writeb(0, SMRAM, 0xFF);
        assert_eq!(g.readb(0, SMRAM), 0x7A, "plain register, base segment fixed");
    }

    /// SeaBIOS's shadow.c, step by step (SEABIOS.md section 4).
    #[test]
    fn seabios_shadowing_sequence() {
        let (mut m, mut bus) = machine();
        let mut g = Guest(&mut bus);
        let host = bdf(0, 0);

        // POST reads PAM0: 0 means the BIOS runs from ROM.
        assert_eq!(g.readb(host, PAM0), 0);
        assert_eq!(rd(&mut m, 0xFFFF0), 0xEA);
        m.write(PhysAddr(0xF0000), &[0x99]);
        assert_eq!(rd(&mut m, 0xF0000), 0x11, "ROM: writes dropped");
        assert_eq!(rd(&mut m, 0xC0000), 0xFF, "option ROM area is open bus");

        // Make everything read+write RAM, as __make_bios_writable does.
        g.writel(host, 0x58, 0x3333_3000);
        g.writel(host, 0x5C, 0x3333_3333);
        assert_eq!(g.readb(host, PAM0), 0x30);
        assert_eq!(g.readl(host, 0x58), 0x3333_3000);
        // Shadow RAM is empty: the copy comes from the 4 GiB alias.
        assert_eq!(rd(&mut m, 0xFFFF0), 0);
        let mut image = vec![0u8; 0x20000];
        m.read(PhysAddr(0xFFFE_0000), &mut image);
        m.write(PhysAddr(0xE0000), &image);
        assert_eq!(rd(&mut m, 0xFFFF0), 0xEA);
        assert_eq!(rd(&mut m, 0xEC000), 0xEC);
        m.write(PhysAddr(0xC0000), &[0x55, 0xAA]);
        assert_eq!(m.read_le::<2>(PhysAddr(0xC0000)), [0x55, 0xAA]);

        // make_bios_readonly: RAM read-only, except EC000-EFFFF.
        g.writel(host, 0x58, 0x1111_1000);
        g.writel(host, 0x5C, 0x3111_1111);
        m.write(PhysAddr(0xFFFF0), &[0x90]);
        assert_eq!(rd(&mut m, 0xFFFF0), 0xEA, "BIOS shadow is write-protected");
        m.write(PhysAddr(0xC0000), &[0]);
        assert_eq!(rd(&mut m, 0xC0000), 0x55, "VGA ROM shadow is write-protected");
        m.write(PhysAddr(0xEC010), &[0x42]);
        assert_eq!(rd(&mut m, 0xEC010), 0x42, "the VGA stack stays writable");
        m.write(PhysAddr(0xE8000), &[0x42]);
        assert_eq!(rd(&mut m, 0xE8000), 0x11, "its neighbour does not");

        // Back to ROM for the BIOS area (a reset would do this).
        g.writeb(host, PAM0, 0x00);
        m.write(PhysAddr(0xFFFF0), &[0x90]);
        assert_eq!(rd(&mut m, 0xFFFF0), 0xEA);
        assert_eq!(rd(&mut m, 0xF0000), 0x11);
    }

    #[test]
    fn write_only_shadow_and_reset() {
        let (mut m, mut bus) = machine();
        let mut g = Guest(&mut bus);
        // WE only: reads still from the bus, writes land in RAM underneath.
        g.writeb(0, PAM0 + 1, 0x02);
        m.write(PhysAddr(0xC0000), &[0x77]);
        assert_eq!(rd(&mut m, 0xC0000), 0xFF);
        g.writeb(0, PAM0 + 1, 0x01);
        assert_eq!(rd(&mut m, 0xC0000), 0x77);
        assert_eq!(rd(&mut m, 0xC4000), 0xFF, "only the low 16 KiB half");
        g.writeb(0, PAM0, 0xFF);
        assert_eq!(g.readb(0, PAM0), 0x70, "reserved bits read as zero");
        assert_eq!(rd(&mut m, 0xFFFF0), 0, "BIOS area now reads shadow RAM");

        let mut host = I440fx::new(m.shadow_control());
        host.config_write(PAM0, &[0x30]);
        host.reset();
        assert_eq!(host.config().u8_at(PAM0), 0);
        assert_eq!(
            rd(&mut m, 0xFFFF0),
            0xEA,
            "reset routes the BIOS area to ROM again"
        );
        assert_eq!(rd(&mut m, 0xC0000), 0xFF);
    }
}
