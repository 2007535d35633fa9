//! The Intel 82371SB (PIIX3) PCI-to-ISA bridge, as QEMU's `pc` machine
//! presents it: function 00:01.0 (8086:7000, class 0601, multifunction)
//! and the IDE function 00:01.1 (8086:7010, class 0101, prog-if 0x80);
//! plus the PIIX3's Reset Control register at port 0xCF9 and the PCI
//! interrupt router its PIRQ registers program.
//!
//! Implemented:
//! - ISA function: PIRQ route control PIRQRC[A:D] at 0x60–0x63 (82371SB
//!   datasheet 2.2.9: bit 7 = routing disabled, bits 3:0 = ISA IRQ) driving
//!   a [`PciIntxRouter`]; the other device-specific registers (ISA I/O
//!   recovery, X-bus chip select, top of memory, motherboard IRQ/DMA
//!   routing, APIC base, SMI control) hold what is written, with their
//!   datasheet reset values.
//! - IDE function: BAR4 (BMIBA, 16 I/O ports for bus-master IDE; the
//!   bus-master engine itself is not here), IDETIM at 0x40/0x42 with the
//!   IDE decode enable bit 15, SIDETIM at 0x44. BAR0–3 do not exist: the
//!   channels sit at the legacy ports and IRQs 14/15.
//! - [`ResetControl`] (RC, datasheet 2.3.1) at 0xCF9.
//!
//! Not implemented: the ELCR at 0x4D0/0x4D1 (it belongs with the 8259
//! model), the USB function (00:01.2), the PIIX4 power-management function
//! QEMU puts at 00:01.3, the motherboard IRQ routing's effect, SMI.

use super::config::{command, BarKind, ConfigSpace};
use super::PciFunction;
use crate::irq::{IrqLine, IrqSink};
use crate::sysctl::ResetSignal;
use mem::{Port, PortDevice, Shared};
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

const VENDOR_INTEL: u16 = 0x8086;
const DEVICE_PIIX3_ISA: u16 = 0x7000;
const DEVICE_PIIX3_IDE: u16 = 0x7010;
/// Class: bridge (06), PCI-to-ISA (01).
const CLASS_ISA_BRIDGE: u16 = 0x0601;
/// Class: mass storage (01), IDE (01).
const CLASS_IDE: u16 = 0x0101;
/// Programming interface: bus-master capable, both channels in legacy
/// (compatibility) mode with fixed ports.
const PROG_IF_IDE_LEGACY_BM: u8 = 0x80;

/// PIRQRC[A]; PIRQB..D follow at 0x61..0x63.
pub const PIRQRC: u8 = 0x60;
/// PIRQRC bit 7: the PIRQ is not routed to any ISA IRQ.
pub const PIRQ_DISABLED: u8 = 0x80;
/// PIRQRC bits 3:0: the ISA IRQ.
const PIRQ_IRQ_MASK: u8 = 0x0F;
/// ISA IRQs a PIRQ may be routed to (datasheet 2.2.9: 3–7, 9–12, 14, 15;
/// the others are reserved and route nowhere).
const PIRQ_VALID_IRQS: u16 = 0b1101_1110_1111_1000;

/// IDETIM, primary channel (16 bits); secondary at 0x42.
pub const IDETIM_PRIMARY: u8 = 0x40;
/// IDETIM, secondary channel.
pub const IDETIM_SECONDARY: u8 = 0x42;
/// IDETIM bit 15: IDE decode enable for the channel's legacy ports.
pub const IDETIM_DECODE_ENABLE: u16 = 1 << 15;
/// SIDETIM, slave timing.
const SIDETIM: u8 = 0x44;
/// BMIBA: bus-master interface base address is BAR4.
const BMIBA_BAR: usize = 4;
const BMIBA_SIZE: u32 = 16;

/// The PCI interrupt pin → PIRQ swizzle of QEMU's (and most) PC boards:
/// slot `slot`'s INTx# (pin 1..=4 = A..D) drives PIRQ `(slot + pin - 2) & 3`.
fn pirq_of(slot: u8, pin: u8) -> usize {
    usize::from((slot.wrapping_add(pin).wrapping_sub(2)) & 3)
}

/// The [`IrqLine`] number a function in `slot` with interrupt pin `pin`
/// (1..=4 = INTA#..INTD#) uses on the [`PciIntxRouter`].
pub fn intx_line(slot: u8, pin: u8) -> u8 {
    (slot & 0x1F) * 4 + (pin.clamp(1, 4) - 1)
}

/// PCI interrupts are level-sensitive and shared: every INTx# wired to a
/// PIRQ is ORed, and each routed PIRQ drives its ISA IRQ (several PIRQs on
/// one IRQ are ORed too). The PIIX3's PIRQRC registers choose the routes.
///
/// Devices get their line from [`PciIntxRouter::line`]; the router passes
/// ISA IRQ levels to its sink (the 8259 pair, through the board). A device
/// that shares an ISA IRQ with an ISA device needs the sink to OR them.
pub struct PciIntxRouter {
    isa: Shared<dyn IrqSink>,
    /// PIRQRC[A:D] as last programmed.
    routes: [u8; 4],
    /// Asserted INTx# inputs, bit = [`intx_line`] number.
    asserted: u128,
    /// ISA IRQs this router drives high now.
    driven: u16,
}

impl fmt::Debug for PciIntxRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PciIntxRouter")
            .field("routes", &self.routes)
            .field("asserted", &format_args!("{:#x}", self.asserted))
            .field("driven", &format_args!("{:#06x}", self.driven))
            .finish()
    }
}

impl PciIntxRouter {
    /// A router feeding `isa`, with every PIRQ disabled (the reset state).
    pub fn new(isa: Shared<dyn IrqSink>) -> Shared<Self> {
        Rc::new(RefCell::new(Self {
            isa,
            routes: [PIRQ_DISABLED; 4],
            asserted: 0,
            driven: 0,
        }))
    }

    /// The interrupt line for the function in `slot` with pin `pin`
    /// (1..=4 = INTA#..INTD#).
    pub fn line(router: &Shared<Self>, slot: u8, pin: u8) -> IrqLine {
        let sink: Shared<dyn IrqSink> = router.clone();
        IrqLine::new(sink, intx_line(slot, pin))
    }

    /// The ISA IRQ PIRQ `pirq` (0..=3 = A..D) is routed to, if any.
    pub fn pirq_irq(&self, pirq: usize) -> Option<u8> {
        let r = *self.routes.get(pirq)?;
        let irq = r & PIRQ_IRQ_MASK;
        (r & PIRQ_DISABLED == 0 && PIRQ_VALID_IRQS & (1 << irq) != 0).then_some(irq)
    }

    /// The ISA IRQ that `slot`'s pin `pin` reaches now, if routed.
    pub fn isa_irq(&self, slot: u8, pin: u8) -> Option<u8> {
        self.pirq_irq(pirq_of(slot, pin))
    }

    /// New PIRQRC[A:D] values.
    fn set_routes(&mut self, routes: [u8; 4]) {
        self.routes = routes;
        self.update();
    }

    /// Drive every ISA IRQ to the OR of the INTx# inputs routed to it.
    fn update(&mut self) {
        let mut want = 0u16;
        for line in 0..128u8 {
            if self.asserted & (1u128 << line) != 0 {
                if let Some(irq) = self.isa_irq(line / 4, line % 4 + 1) {
                    want |= 1 << irq;
                }
            }
        }
        let changed = want ^ self.driven;
        self.driven = want;
        for irq in 0..16u8 {
            if changed & (1 << irq) != 0 {
                self.isa.borrow_mut().set_irq(irq, want & (1 << irq) != 0);
            }
        }
    }
}

impl IrqSink for PciIntxRouter {
    fn set_irq(&mut self, line: u8, level: bool) {
        let Some(bit) = 1u128.checked_shl(u32::from(line)) else {
            return;
        };
        let before = self.asserted;
        if level {
            self.asserted |= bit;
        } else {
            self.asserted &= !bit;
        }
        if self.asserted != before {
            self.update();
        }
    }
}

/// PIIX3 function 0: the PCI-to-ISA bridge.
#[derive(Debug)]
pub struct Piix3 {
    config: ConfigSpace,
    router: Shared<PciIntxRouter>,
}

impl Piix3 {
    /// Its place on bus 0: (device, function).
    pub const SLOT: (u8, u8) = (1, 0);

    /// The bridge, programming `router`'s PIRQ routes.
    pub fn new(router: Shared<PciIntxRouter>) -> Self {
        let mut config = ConfigSpace::new(VENDOR_INTEL, DEVICE_PIIX3_ISA, CLASS_ISA_BRIDGE, 0);
        config.set_multifunction(true);
        config.set_u16(
            super::reg::COMMAND,
            command::IO | command::MEMORY | command::BUS_MASTER,
        );
        // (offset, reset value, writable bits), datasheet table 2.2.
        let regs: &[(u8, u8, u8)] = &[
            (0x4C, 0x4D, 0xFF), // IORT
            (0x4E, 0x03, 0xFF), // XBCS
            (0x4F, 0x00, 0xFF),
            (0x60, PIRQ_DISABLED, 0x8F), // PIRQRC[A:D]
            (0x61, PIRQ_DISABLED, 0x8F),
            (0x62, PIRQ_DISABLED, 0x8F),
            (0x63, PIRQ_DISABLED, 0x8F),
            (0x69, 0x02, 0xFF), // TOM
            (0x6A, 0x00, 0xFF), // MSTAT
            (0x6B, 0x00, 0xFF),
            (0x70, 0x80, 0xFF), // MBIRQ0
            (0x76, 0x0C, 0xFF), // MBDMA0/1
            (0x77, 0x0C, 0xFF),
            (0x78, 0x02, 0xFF), // PCSC
            (0x79, 0x00, 0xFF),
            (0x80, 0x00, 0xFF), // APICBASE
            (0x82, 0x00, 0xFF), // DLC
            (0xA0, 0x08, 0xFF), // SMICNTL
            (0xA2, 0x00, 0xFF), // SMIEN
            (0xA3, 0x00, 0xFF),
            (0xA4, 0x00, 0xFF), // SEE
            (0xA5, 0x00, 0xFF),
            (0xA6, 0x00, 0xFF),
            (0xA7, 0x00, 0xFF),
            (0xA8, 0x0F, 0xFF), // FTMR
            (0xAA, 0x00, 0xFF), // SMIREQ
            (0xAB, 0x00, 0xFF),
            (0xAC, 0x00, 0xFF), // CTLTMR
            (0xAE, 0x00, 0xFF), // CTHTMR
        ];
        for &(off, v, m) in regs {
            config.set_u8(off, v).set_writable(off, &[m]);
        }
        config.set_defaults();
        let mut d = Self { config, router };
        d.push_routes();
        d
    }

    /// Power-on state: PIRQs disabled, registers at their defaults.
    pub fn reset(&mut self) {
        self.config.reset();
        self.push_routes();
    }

    /// The configuration registers.
    pub fn config(&self) -> &ConfigSpace {
        &self.config
    }

    /// The router this bridge programs.
    pub fn router(&self) -> Shared<PciIntxRouter> {
        self.router.clone()
    }

    /// The ISA IRQ PIRQ `pirq` (0..=3 = A..D) is routed to, if any.
    pub fn pirq_irq(&self, pirq: usize) -> Option<u8> {
        self.router.borrow().pirq_irq(pirq)
    }

    /// The ISA IRQ that INTx# pin `pin` (1..=4) of the device in `slot`
    /// reaches, by the standard swizzle and the current PIRQ routes.
    pub fn isa_irq(&self, slot: u8, pin: u8) -> Option<u8> {
        self.router.borrow().isa_irq(slot, pin)
    }

    fn push_routes(&mut self) {
        let r = self.config.u32_at(PIRQRC).to_le_bytes();
        self.router.borrow_mut().set_routes(r);
    }
}

impl PciFunction for Piix3 {
    fn config_read(&mut self, offset: u8, data: &mut [u8]) {
        self.config.read(offset, data);
    }

    fn config_write(&mut self, offset: u8, data: &[u8]) {
        let _ = self.config.write(offset, data);
        let end = usize::from(offset) + data.len();
        if usize::from(offset) < usize::from(PIRQRC) + 4 && end > usize::from(PIRQRC) {
            self.push_routes();
        }
    }
}

/// PIIX3 function 1: the IDE controller's PCI face.
#[derive(Debug)]
pub struct Piix3Ide {
    config: ConfigSpace,
}

impl Default for Piix3Ide {
    fn default() -> Self {
        Self::new()
    }
}

impl Piix3Ide {
    /// Its place on bus 0: (device, function).
    pub const SLOT: (u8, u8) = (1, 1);

    /// The IDE function, both channels' decode disabled (IDETIM = 0), as
    /// at reset; the firmware enables them.
    pub fn new() -> Self {
        let mut config = ConfigSpace::new(VENDOR_INTEL, DEVICE_PIIX3_IDE, CLASS_IDE, PROG_IF_IDE_LEGACY_BM);
        // Only I/O decode and bus mastering exist on this function.
        config.set_writable(
            super::reg::COMMAND,
            &[(command::IO | command::BUS_MASTER) as u8, 0],
        );
        config
            .add_bar(BMIBA_BAR, BarKind::Io, BMIBA_SIZE)
            .set_writable(IDETIM_PRIMARY, &[0xFF; 4])
            .set_writable(SIDETIM, &[0xFF])
            .set_defaults();
        Self { config }
    }

    /// Power-on state.
    pub fn reset(&mut self) {
        self.config.reset();
    }

    /// The configuration registers.
    pub fn config(&self) -> &ConfigSpace {
        &self.config
    }

    /// Whether the primary channel's legacy ports (0x1F0–0x1F7, 0x3F6)
    /// are decoded: IDETIM bit 15 and I/O space enabled.
    pub fn primary_enabled(&self) -> bool {
        self.decodes(IDETIM_PRIMARY)
    }

    /// Whether the secondary channel's legacy ports (0x170–0x177, 0x376)
    /// are decoded.
    pub fn secondary_enabled(&self) -> bool {
        self.decodes(IDETIM_SECONDARY)
    }

    fn decodes(&self, idetim: u8) -> bool {
        self.config.command() & command::IO != 0 && self.config.u16_at(idetim) & IDETIM_DECODE_ENABLE != 0
    }

    /// The bus-master registers' base port (BAR4), when decoded.
    pub fn bus_master_base(&self) -> Option<u16> {
        self.config.bar_mapping(BMIBA_BAR).map(|m| m.addr as u16)
    }

    /// Whether the function may master the bus (command bit 2).
    pub fn bus_master_enabled(&self) -> bool {
        self.config.bus_master()
    }
}

impl PciFunction for Piix3Ide {
    fn config_read(&mut self, offset: u8, data: &mut [u8]) {
        self.config.read(offset, data);
    }

    fn config_write(&mut self, offset: u8, data: &[u8]) {
        let _ = self.config.write(offset, data);
    }
}

/// The port of the Reset Control register.
pub const RESET_CONTROL: u16 = 0xCF9;
/// RC bit 1 (SRST): the next reset is a hard (system) reset.
const RC_SYSTEM_RESET: u8 = 1 << 1;
/// RC bit 2 (RCPU): writing 1 starts the reset.
const RC_RESET_CPU: u8 = 1 << 2;

/// What the guest asked [`ResetControl`] for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetKind {
    /// SRST set: reset the whole system (PCIRST#, chipset, CPU).
    Hard,
    /// SRST clear: reset the CPU only (INIT).
    Soft,
}

/// The PIIX3's Reset Control register at 0xCF9 (byte accesses only; a
/// dword at 0xCF8 is the PCI configuration address).
///
/// Writing a value with RCPU (bit 2) set requests a reset on the board's
/// shared [`ResetSignal`] (which raises [`mem::Attention::STOP`]), like
/// the 8042 and port 0x92. SRST (bit 1) chooses a hard (system) reset over
/// a soft one (CPU INIT only); the board may look at
/// [`ResetControl::last_kind`], but treating both as a full reset is what
/// SeaBIOS expects: its reboot writes 0x02 then 0x06. The register keeps
/// SRST; RCPU reads back 0.
#[derive(Debug)]
pub struct ResetControl {
    value: u8,
    reset: ResetSignal,
    last: Option<ResetKind>,
}

impl ResetControl {
    /// The ports to register, as (first, count).
    pub const PORTS: &'static [(u16, u16)] = &[(RESET_CONTROL, 1)];

    /// A register requesting resets on `reset`.
    pub fn new(reset: ResetSignal) -> Self {
        Self {
            value: 0,
            reset,
            last: None,
        }
    }

    /// The kind of the last reset the guest asked for here, if any.
    pub fn last_kind(&self) -> Option<ResetKind> {
        self.last
    }

    /// Power-on state.
    pub fn reset(&mut self) {
        self.value = 0;
    }
}

impl PortDevice for ResetControl {
    fn read(&mut self, _port: Port, data: &mut [u8]) {
        data.fill(0xFF);
        data[0] = self.value;
    }

    fn write(&mut self, _port: Port, data: &[u8]) {
        let v = data[0];
        self.value = v & RC_SYSTEM_RESET;
        if v & RC_RESET_CPU != 0 {
            self.last = Some(if v & RC_SYSTEM_RESET != 0 {
                ResetKind::Hard
            } else {
                ResetKind::Soft
            });
            self.reset.request();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::tests::{bdf, Guest};
    use crate::pci::{I440fx, PciBus};
    use mem::ShadowControl;

    /// Records the level of every IRQ it is told about.
    #[derive(Default)]
    struct Levels([bool; 16], Vec<(u8, bool)>);
    impl IrqSink for Levels {
        fn set_irq(&mut self, line: u8, level: bool) {
            self.0[usize::from(line)] = level;
            self.1.push((line, level));
        }
    }

    struct Board {
        bus: PciBus,
        pic: Rc<RefCell<Levels>>,
        router: Shared<PciIntxRouter>,
        ide: Rc<RefCell<Piix3Ide>>,
    }

    fn board() -> Board {
        let pic = Rc::new(RefCell::new(Levels::default()));
        let router = PciIntxRouter::new(pic.clone());
        let mut bus = PciBus::new();
        bus.attach(0, 0, Rc::new(RefCell::new(I440fx::new(ShadowControl::default()))))
            .unwrap();
        bus.attach(1, 0, Rc::new(RefCell::new(Piix3::new(router.clone()))))
            .unwrap();
        let ide = Rc::new(RefCell::new(Piix3Ide::new()));
        bus.attach(1, 1, ide.clone()).unwrap();
        Board {
            bus,
            pic,
            router,
            ide,
        }
    }

    /// SeaBIOS's pci_probe_devices on bus 0: function 0 of each slot, and
    /// functions 1..7 only when function 0's header type has bit 7.
    #[test]
    fn multifunction_scan_finds_qemus_devices() {
        let mut b = board();
        let mut g = Guest(&mut b.bus);
        let mut found = Vec::new();
        for dev in 0..32u8 {
            let mut func = 0;
            while func < 8 {
                let id = g.readl(bdf(dev, func), 0x00);
                if id & 0xFFFF != 0xFFFF {
                    let class = g.readw(bdf(dev, func), 0x0A);
                    let prog_if = g.readb(bdf(dev, func), 0x09);
                    found.push((dev, func, id, class, prog_if));
                }
                if func == 0 && g.readb(bdf(dev, 0), 0x0E) & 0x80 == 0 {
                    break;
                }
                func += 1;
            }
        }
        assert_eq!(
            found,
            vec![
                (0, 0, 0x1237_8086, 0x0600, 0),
                (1, 0, 0x7000_8086, 0x0601, 0),
                (1, 1, 0x7010_8086, 0x0101, 0x80),
            ]
        );
    }

    /// SeaBIOS's piix_isa_bridge_setup and per-device INTERRUPT_LINE, then
    /// a device in slot 3 asserting INTA#.
    #[test]
    fn pirq_routing_as_seabios_programs_it() {
        let mut b = board();
        let isa = bdf(1, 0);
        let mut g = Guest(&mut b.bus);
        assert_eq!(g.readl(isa, PIRQRC), 0x8080_8080, "all disabled at reset");
        let line = PciIntxRouter::line(&b.router, 3, 1);
        line.raise();
        assert!(b.pic.borrow().1.is_empty(), "nothing routed yet");
        for (i, irq) in [10u8, 10, 11, 11].into_iter().enumerate() {
            g.writeb(isa, PIRQRC + i as u8, irq);
        }
        assert_eq!(g.readl(isa, PIRQRC), 0x0B0B_0A0A);
        // Slot 3, INTA -> PIRQ (3 + 1 - 2) & 3 = C -> IRQ 11: the level
        // already asserted appears as soon as the route exists.
        assert_eq!(b.router.borrow().isa_irq(3, 1), Some(11));
        assert!(b.pic.borrow().0[11]);
        // A second device on the same PIRQ: the line is shared (ORed).
        let other = PciIntxRouter::line(&b.router, 1, 3); // (1 + 3 - 2) & 3 = C
        other.raise();
        line.lower();
        assert!(b.pic.borrow().0[11], "still held by the other device");
        other.lower();
        assert!(!b.pic.borrow().0[11]);
        // Slot 2 INTA -> PIRQB -> IRQ 10; slot 2 INTD -> PIRQA -> IRQ 10.
        assert_eq!(b.router.borrow().isa_irq(2, 1), Some(10));
        assert_eq!(b.router.borrow().isa_irq(2, 4), Some(10));
        // Re-routing moves an asserted level; disabling drops it.
        let vga = PciIntxRouter::line(&b.router, 2, 1);
        vga.raise();
        assert!(b.pic.borrow().0[10]);
        g.writeb(isa, PIRQRC + 1, 5);
        assert!(!b.pic.borrow().0[10] && b.pic.borrow().0[5]);
        g.writeb(isa, PIRQRC + 1, 0x85);
        assert!(!b.pic.borrow().0[5]);
        assert_eq!(b.router.borrow().pirq_irq(1), None);
        // A reserved IRQ number routes nowhere.
        g.writeb(isa, PIRQRC + 1, 2);
        assert_eq!(b.router.borrow().pirq_irq(1), None);
        assert!(!b.pic.borrow().0[2]);
        // Only valid bits stick.
        g.writeb(isa, PIRQRC, 0x7B);
        assert_eq!(g.readb(isa, PIRQRC), 0x0B);
    }

    #[test]
    fn ide_function_as_seabios_sets_it_up() {
        let mut b = board();
        let ide = bdf(1, 1);
        let mut g = Guest(&mut b.bus);
        assert_eq!(g.readb(ide, 0x0E), 0x00);
        assert!(!b.ide.borrow().primary_enabled());
        // BARs 0-3 do not exist; BAR4 is 16 I/O ports.
        for bar in 0..4u8 {
            g.writel(ide, 0x10 + 4 * bar, !0);
            assert_eq!(g.readl(ide, 0x10 + 4 * bar), 0);
        }
        g.writel(ide, 0x20, !0);
        assert_eq!(g.readl(ide, 0x20), 0xFFFF_FFF1);
        g.writel(ide, 0x20, 0xC000);
        g.writew(ide, IDETIM_PRIMARY, 0x8000);
        g.writew(ide, IDETIM_SECONDARY, 0x8000);
        assert!(!b.ide.borrow().primary_enabled(), "I/O decode still off");
        let cmd = g.readw(ide, 0x04);
        g.writew(ide, 0x04, cmd | 0x0103);
        assert_eq!(g.readw(ide, 0x04), 0x0001, "no memory space, no SERR");
        assert!(b.ide.borrow().primary_enabled() && b.ide.borrow().secondary_enabled());
        assert_eq!(b.ide.borrow().bus_master_base(), Some(0xC000));
        assert!(!b.ide.borrow().bus_master_enabled());
        g.writew(ide, 0x04, 0xFFFF);
        assert_eq!(g.readw(ide, 0x04), 0x0005, "only I/O and bus master exist");
        assert!(b.ide.borrow().bus_master_enabled());
    }

    #[test]
    fn reset_control_requests_a_hard_reset() {
        let att = mem::Attention::new();
        let signal = ResetSignal::new(att.clone());
        let mut rc = ResetControl::new(signal.clone());
        rc.write(Port(RESET_CONTROL), &[0x02]);
        assert_eq!(att.get(), 0);
        assert!(!signal.is_requested());
        let mut v = [0];
        rc.read(Port(RESET_CONTROL), &mut v);
        assert_eq!(v, [0x02]);
        rc.write(Port(RESET_CONTROL), &[0x06]);
        assert_ne!(att.get() & mem::Attention::STOP, 0);
        assert!(signal.take());
        assert_eq!(rc.last_kind(), Some(ResetKind::Hard));
        rc.read(Port(RESET_CONTROL), &mut v);
        assert_eq!(v, [0x02], "RCPU reads back 0");
        rc.write(Port(RESET_CONTROL), &[0x04]);
        assert!(signal.take());
        assert_eq!(rc.last_kind(), Some(ResetKind::Soft));
    }
}
