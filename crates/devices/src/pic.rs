//! The PC's two cascaded Intel 8259A programmable interrupt controllers,
//! with the PIIX3 edge/level control registers (ELCR).
//!
//! The master answers at ports 0x20/0x21, the slave at 0xA0/0xA1, and the
//! slave's INT output feeds the master's IR2 (ISA IRQs 8–15 arrive through
//! it). The ELCR at 0x4D0/0x4D1 selects edge or level sensing per line
//! (PIIX3 datasheet §2.3.11, "ELCR1/ELCR2"); IRQ 0, 1, 2, 8 and 13 are
//! always edge-triggered there.
//!
//! Implemented (Intel 8259A datasheet, order no. 231468): the ICW1–ICW4
//! initialisation sequence, OCW1 masks, OCW2 non-specific, specific and
//! rotating EOIs and set-priority, OCW3 IRR/ISR reads, special mask mode and
//! poll mode; automatic EOI (with rotation), special fully nested mode on
//! the master, edge and level triggering, and the spurious vector (IR7 of
//! the chip that found no request at INTA: IRQ7, or IRQ15 with the master's
//! ISR bit 2 set).
//!
//! The device is [`IrqSink`] lines 0–15. An edge-triggered request is
//! latched in IRR on the rising edge and stays there until acknowledged even
//! if the line falls again (so a device may [`pulse`](crate::IrqLine::pulse)
//! its line); a level-triggered request follows its line, so a request
//! withdrawn before INTA yields the spurious vector. The master's IR2 both
//! latches the rising edge of the slave's INT and follows its level.
//!
//! Not implemented: 8080/8085 mode (ICW4 bit 0 clear: warned once and run
//! as 8086 mode), buffered mode (no effect on a PC), ICW1's LTIM bit (the
//! PIIX3 ignores it in favour of the ELCR), and the I/O APIC.
//!
//! The board wraps [`Pic::pending`] and [`Pic::acknowledge`] into the
//! CPU's `InterruptController`; the PIC raises [`Attention::IRQ`] whenever
//! its INT output is asserted after a change, as that contract requires.

use crate::irq::IrqSink;
use mem::{Attention, Port, PortDevice};

/// Master command port (ICW1, OCW2, OCW3 writes; IRR/ISR/poll reads).
pub const MASTER_COMMAND: u16 = 0x20;
/// Master data port (ICW2–4, OCW1 = IMR).
pub const MASTER_DATA: u16 = 0x21;
/// Slave command port.
pub const SLAVE_COMMAND: u16 = 0xA0;
/// Slave data port.
pub const SLAVE_DATA: u16 = 0xA1;
/// PIIX3 ELCR1 (IRQ 0–7 edge/level), PIIX3 datasheet §2.3.11.
pub const ELCR_MASTER: u16 = 0x4D0;
/// PIIX3 ELCR2 (IRQ 8–15 edge/level).
pub const ELCR_SLAVE: u16 = 0x4D1;

/// ELCR1 bits that may be set: IRQ 0, 1 and 2 are always edge.
const ELCR_MASTER_WRITABLE: u8 = 0xF8;
/// ELCR2 bits that may be set: IRQ 8 and 13 are always edge.
const ELCR_SLAVE_WRITABLE: u8 = 0xDE;

/// The master's input that the slave's INT output drives.
pub const CASCADE_IRQ: u8 = 2;

/// ICW1: bit 4 set on a command-port write marks an initialisation word.
const ICW1_INIT: u8 = 0x10;
/// ICW1: ICW4 will follow.
const ICW1_IC4: u8 = 0x01;
/// ICW1: single controller (no ICW3).
const ICW1_SNGL: u8 = 0x02;
/// ICW4: 8086/8088 mode (clear = 8080/8085).
const ICW4_UPM: u8 = 0x01;
/// ICW4: automatic EOI.
const ICW4_AEOI: u8 = 0x02;
/// ICW4: special fully nested mode.
const ICW4_SFNM: u8 = 0x10;
/// Command-port write with bit 3 set (and bit 4 clear) is OCW3, else OCW2.
const OCW3_SELECT: u8 = 0x08;
/// OCW3: poll command.
const OCW3_POLL: u8 = 0x04;
/// OCW3: act on RIS (bit 0) for the next reads.
const OCW3_RR: u8 = 0x02;
/// OCW3: read ISR (with RR) instead of IRR.
const OCW3_RIS: u8 = 0x01;
/// OCW3: act on SMM (bit 5).
const OCW3_ESMM: u8 = 0x40;
/// OCW3: special mask mode on.
const OCW3_SMM: u8 = 0x20;

/// Where a chip is in its initialisation sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Init {
    /// Initialised; data-port writes are OCW1.
    #[default]
    Ready,
    /// The next data-port write is ICW2 (vector base).
    Icw2,
    /// The next data-port write is ICW3 (cascade wiring).
    Icw3,
    /// The next data-port write is ICW4 (mode).
    Icw4,
}

/// One 8259A.
#[derive(Clone, Debug, Default)]
struct Chip {
    /// Interrupt request register (edge latches and level requests; the
    /// master's IR2 is added from the slave at evaluation time).
    irr: u8,
    /// In-service register.
    isr: u8,
    /// Interrupt mask register (OCW1).
    imr: u8,
    /// Current levels of the input lines.
    lines: u8,
    /// Level-triggered lines (ELCR).
    elcr: u8,
    /// Vector of IR0 (ICW2, low three bits clear).
    vector_base: u8,
    /// ICW3 as written (wiring is fixed on a PC; kept for inspection).
    icw3: u8,
    init: Init,
    icw4_expected: bool,
    single: bool,
    auto_eoi: bool,
    rotate_on_aeoi: bool,
    special_fully_nested: bool,
    read_isr: bool,
    poll: bool,
    special_mask: bool,
    /// The IR line with the highest priority (rotation moves it).
    highest_priority: u8,
}

impl Chip {
    /// Priority rank of line `irq` (0 = highest).
    fn rank(&self, irq: u8) -> u8 {
        irq.wrapping_sub(self.highest_priority) & 7
    }

    /// The highest-priority line set in `mask`.
    fn highest(&self, mask: u8) -> Option<u8> {
        (0..8)
            .map(|r| (r + self.highest_priority) & 7)
            .find(|&irq| mask & (1 << irq) != 0)
    }

    /// The line this chip would present at INTA, given `irr` (its IRR plus
    /// the cascade input for the master), or `None` when INT is low.
    fn request(&self, irr: u8, is_master: bool) -> Option<u8> {
        let irq = self.highest(irr & !self.imr)?;
        let mut in_service = self.isr;
        if self.special_mask {
            // Special mask mode: a masked level in service does not block
            // lower priorities (8259A datasheet, "Special Mask Mode").
            in_service &= !self.imr;
        }
        if is_master && self.special_fully_nested {
            // Special fully nested mode: the slave may interrupt while one
            // of its own requests is in service.
            in_service &= !(1 << CASCADE_IRQ);
        }
        match self.highest(in_service) {
            Some(cur) if self.rank(cur) <= self.rank(irq) => None,
            _ => Some(irq),
        }
    }

    /// The INTA (or poll) cycle for line `irq`: clear an edge request, put
    /// the line in service unless in automatic EOI mode.
    fn accept(&mut self, irq: u8) {
        let bit = 1 << irq;
        if self.elcr & bit == 0 {
            self.irr &= !bit;
        }
        if self.auto_eoi {
            if self.rotate_on_aeoi {
                self.highest_priority = (irq + 1) & 7;
            }
        } else {
            self.isr |= bit;
        }
    }

    /// A new level on input `irq`.
    fn set_line(&mut self, irq: u8, level: bool) {
        let bit = 1 << irq;
        if self.elcr & bit != 0 {
            if level {
                self.irr |= bit;
            } else {
                self.irr &= !bit;
            }
        } else if level && self.lines & bit == 0 {
            self.irr |= bit;
        }
        if level {
            self.lines |= bit;
        } else {
            self.lines &= !bit;
        }
    }

    /// New ELCR contents: level lines take their IRR bit from the line.
    fn set_elcr(&mut self, elcr: u8) {
        self.elcr = elcr;
        self.irr = (self.irr & !elcr) | (self.lines & elcr);
    }

    /// ICW1: start initialisation (8259A datasheet, "Initialization Command
    /// Words": IMR cleared, IR7 lowest priority, special mask mode off,
    /// IRR selected for reading, edge-sense latches reset).
    fn icw1(&mut self, v: u8) {
        self.init = Init::Icw2;
        self.icw4_expected = v & ICW1_IC4 != 0;
        self.single = v & ICW1_SNGL != 0;
        self.imr = 0;
        self.isr = 0;
        self.irr = self.lines & self.elcr;
        self.highest_priority = 0;
        self.special_mask = false;
        self.read_isr = false;
        self.poll = false;
        if !self.icw4_expected {
            self.auto_eoi = false;
            self.rotate_on_aeoi = false;
            self.special_fully_nested = false;
        }
    }

    /// A data-port write.
    fn write_data(&mut self, v: u8) {
        match self.init {
            Init::Ready => self.imr = v,
            Init::Icw2 => {
                self.vector_base = v & 0xF8;
                self.init = if !self.single {
                    Init::Icw3
                } else if self.icw4_expected {
                    Init::Icw4
                } else {
                    Init::Ready
                };
            }
            Init::Icw3 => {
                self.icw3 = v;
                self.init = if self.icw4_expected {
                    Init::Icw4
                } else {
                    Init::Ready
                };
            }
            Init::Icw4 => {
                if v & ICW4_UPM == 0 {
                    warn_once_8080();
                }
                self.auto_eoi = v & ICW4_AEOI != 0;
                self.special_fully_nested = v & ICW4_SFNM != 0;
                self.init = Init::Ready;
            }
        }
    }

    /// OCW2: EOI and priority commands (bits 7–5 = R, SL, EOI; bits 2–0 =
    /// the level for the specific forms).
    fn ocw2(&mut self, v: u8) {
        let level = v & 7;
        match v >> 5 {
            // Non-specific EOI, and the rotating form.
            0b001 | 0b101 => {
                if let Some(irq) = self.highest(self.isr) {
                    self.isr &= !(1 << irq);
                    if v >> 5 == 0b101 {
                        self.highest_priority = (irq + 1) & 7;
                    }
                }
            }
            // Specific EOI, and the rotating form.
            0b011 | 0b111 => {
                self.isr &= !(1 << level);
                if v >> 5 == 0b111 {
                    self.highest_priority = (level + 1) & 7;
                }
            }
            0b100 => self.rotate_on_aeoi = true,
            0b000 => self.rotate_on_aeoi = false,
            // Set priority: `level` becomes the lowest.
            0b110 => self.highest_priority = (level + 1) & 7,
            // 0b010: no operation.
            _ => {}
        }
    }

    /// OCW3: read register select, poll, special mask mode.
    fn ocw3(&mut self, v: u8) {
        if v & OCW3_RR != 0 {
            self.read_isr = v & OCW3_RIS != 0;
        }
        self.poll = v & OCW3_POLL != 0;
        if v & OCW3_ESMM != 0 {
            self.special_mask = v & OCW3_SMM != 0;
        }
    }

    /// A command-port write.
    fn write_command(&mut self, v: u8) {
        if v & ICW1_INIT != 0 {
            self.icw1(v);
        } else if v & OCW3_SELECT != 0 {
            self.ocw3(v);
        } else {
            self.ocw2(v);
        }
    }
}

fn warn_once_8080() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| eprintln!("strachey: 8259 PIC programmed for 8080/8085 mode; running it in 8086 mode"));
}

/// The master/slave 8259A pair with the PIIX3 ELCR.
#[derive(Debug)]
pub struct Pic {
    master: Chip,
    slave: Chip,
    attention: Attention,
}

impl Pic {
    /// The ports the PIC claims, as (first, count).
    pub const PORTS: &'static [(u16, u16)] = &[(MASTER_COMMAND, 2), (SLAVE_COMMAND, 2), (ELCR_MASTER, 2)];

    /// A PIC pair in its power-on state (uninitialised: vector bases 0,
    /// nothing masked, every line edge-triggered), raising
    /// [`Attention::IRQ`] on `attention` when INT rises.
    pub fn new(attention: Attention) -> Self {
        Self {
            master: Chip::default(),
            slave: Chip::default(),
            attention,
        }
    }

    /// System reset: both chips back to their power-on state (the ELCR too,
    /// as the PIIX3 clears it on reset); input line levels are kept, since
    /// they belong to the devices.
    pub fn reset(&mut self) {
        for c in [&mut self.master, &mut self.slave] {
            let lines = c.lines;
            *c = Chip::default();
            c.lines = lines;
        }
    }

    /// The slave's INT output (the master's IR2 input).
    fn slave_int(&self) -> bool {
        self.slave.request(self.slave.irr, false).is_some()
    }

    /// The master's IRR with the live cascade level folded in.
    fn master_irr(&self) -> u8 {
        self.master.irr | (u8::from(self.slave_int()) << CASCADE_IRQ)
    }

    /// Whether INTR (the master's INT output) is asserted.
    pub fn pending(&self) -> bool {
        self.master.request(self.master_irr(), true).is_some()
    }

    /// Drive the master's IR2 from the slave's INT output. The master
    /// latches the rising edge (so a slave request withdrawn before INTA
    /// yields the spurious IRQ15 vector, with IR2 in service on the master),
    /// and also sees the live level (so a slave whose INT stays high across
    /// an INTA, as in automatic EOI mode, keeps requesting).
    fn sync_cascade(&mut self) {
        let level = self.slave_int();
        self.master.set_line(CASCADE_IRQ, level);
    }

    /// Propagate the cascade and tell the CPU to look if INT is asserted.
    fn update(&mut self) {
        self.sync_cascade();
        if self.pending() {
            self.attention.raise(Attention::IRQ);
        }
    }

    /// The interrupt-acknowledge cycle: the vector of the highest-priority
    /// request, with IRR and ISR updated. If the request vanished since INT
    /// was seen, the answer is the spurious IR7 vector of the chip that
    /// found nothing (IRQ7, or IRQ15 with the master's IR2 in service).
    pub fn acknowledge(&mut self) -> u8 {
        self.sync_cascade();
        let vector = match self.master.request(self.master_irr(), true) {
            None => self.master.vector_base | 7,
            Some(irq) if irq == CASCADE_IRQ && !self.master.single => {
                let slave = self.slave.request(self.slave.irr, false);
                self.master.accept(irq);
                match slave {
                    Some(s) => {
                        self.slave.accept(s);
                        self.slave.vector_base | s
                    }
                    None => self.slave.vector_base | 7,
                }
            }
            Some(irq) => {
                self.master.accept(irq);
                self.master.vector_base | irq
            }
        };
        self.update();
        vector
    }

    /// PIIX3 ELCR contents (master, slave).
    pub fn elcr(&self) -> (u8, u8) {
        (self.master.elcr, self.slave.elcr)
    }

    /// Interrupt mask registers (master, slave), for diagnostics.
    pub fn masks(&self) -> (u8, u8) {
        (self.master.imr, self.slave.imr)
    }

    /// A poll-mode read of one chip (OCW3 P): acknowledge as INTA would
    /// and return 0x80 | level, or 0 if nothing is requesting.
    fn poll(&mut self, is_master: bool) -> u8 {
        let r = if is_master {
            let irr = self.master_irr();
            let r = self.master.request(irr, true);
            if let Some(irq) = r {
                self.master.accept(irq);
            }
            self.master.poll = false;
            r
        } else {
            let r = self.slave.request(self.slave.irr, false);
            if let Some(irq) = r {
                self.slave.accept(irq);
            }
            self.slave.poll = false;
            r
        };
        r.map_or(0, |irq| 0x80 | irq)
    }

    fn read_byte(&mut self, port: u16) -> u8 {
        match port {
            MASTER_COMMAND | MASTER_DATA if self.master.poll => {
                let v = self.poll(true);
                self.update();
                v
            }
            SLAVE_COMMAND | SLAVE_DATA if self.slave.poll => {
                let v = self.poll(false);
                self.update();
                v
            }
            MASTER_COMMAND if self.master.read_isr => self.master.isr,
            MASTER_COMMAND => self.master_irr(),
            SLAVE_COMMAND if self.slave.read_isr => self.slave.isr,
            SLAVE_COMMAND => self.slave.irr,
            MASTER_DATA => self.master.imr,
            SLAVE_DATA => self.slave.imr,
            ELCR_MASTER => self.master.elcr,
            ELCR_SLAVE => self.slave.elcr,
            _ => 0xFF,
        }
    }

    fn write_byte(&mut self, port: u16, v: u8) {
        match port {
            MASTER_COMMAND => self.master.write_command(v),
            MASTER_DATA => self.master.write_data(v),
            SLAVE_COMMAND => self.slave.write_command(v),
            SLAVE_DATA => self.slave.write_data(v),
            ELCR_MASTER => self.master.set_elcr(v & ELCR_MASTER_WRITABLE),
            ELCR_SLAVE => self.slave.set_elcr(v & ELCR_SLAVE_WRITABLE),
            _ => return,
        }
        self.update();
    }
}

impl IrqSink for Pic {
    fn set_irq(&mut self, line: u8, level: bool) {
        match line {
            0..=7 => self.master.set_line(line, level),
            8..=15 => self.slave.set_line(line - 8, level),
            _ => return,
        }
        self.update();
    }
}

/// A wider access is split into byte accesses at consecutive ports, as the
/// ISA bus does for an 8-bit device.
impl PortDevice for Pic {
    fn read(&mut self, port: Port, data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            *b = self.read_byte(port.0.wrapping_add(i as u16));
        }
    }

    fn write(&mut self, port: Port, data: &[u8]) {
        for (i, &b) in data.iter().enumerate() {
            self.write_byte(port.0.wrapping_add(i as u16), b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(p: &mut Pic, port: u16, v: u8) {
        p.write(Port(port), &[v]);
    }

    fn inb(p: &mut Pic, port: u16) -> u8 {
        let mut b = [0];
        p.read(Port(port), &mut b);
        b[0]
    }

    /// The initialisation SeaBIOS performs (SEABIOS.md §6).
    fn seabios_pic() -> (Pic, Attention) {
        let att = Attention::new();
        let mut p = Pic::new(att.clone());
        out(&mut p, 0x20, 0x11);
        out(&mut p, 0xA0, 0x11);
        out(&mut p, 0x21, 0x08);
        out(&mut p, 0xA1, 0x70);
        out(&mut p, 0x21, 0x04);
        out(&mut p, 0xA1, 0x02);
        out(&mut p, 0x21, 0x01);
        out(&mut p, 0xA1, 0x01);
        out(&mut p, 0x21, 0xFB);
        out(&mut p, 0xA1, 0xFF);
        (p, att)
    }

    #[test]
    fn seabios_init_and_vectors() {
        let (mut p, att) = seabios_pic();
        assert_eq!(inb(&mut p, 0x21), 0xFB);
        assert_eq!(inb(&mut p, 0xA1), 0xFF);
        // Final masks of SeaBIOS's POST: IRQ 0, 1, 2, 6 / 8, 12, 13, 14.
        out(&mut p, 0x21, 0xB8);
        out(&mut p, 0xA1, 0x8E);
        assert!(!p.pending());
        att.clear(Attention::IRQ);

        p.set_irq(0, true);
        assert!(p.pending());
        assert_ne!(att.get() & Attention::IRQ, 0);
        assert_eq!(p.acknowledge(), 0x08);
        assert!(!p.pending());
        // In service: ISR reads back through OCW3.
        out(&mut p, 0x20, 0x0B);
        assert_eq!(inb(&mut p, 0x20), 0x01);
        out(&mut p, 0x20, 0x20);
        assert_eq!(inb(&mut p, 0x20), 0x00);
        p.set_irq(0, false);

        // IRQ8 through the cascade.
        att.clear(Attention::IRQ);
        p.set_irq(8, true);
        assert_ne!(att.get() & Attention::IRQ, 0);
        assert_eq!(p.acknowledge(), 0x70);
        out(&mut p, 0xA0, 0x0B);
        out(&mut p, 0x20, 0x0B);
        assert_eq!(inb(&mut p, 0xA0), 0x01);
        assert_eq!(inb(&mut p, 0x20), 0x04);
        out(&mut p, 0xA0, 0x20);
        out(&mut p, 0x20, 0x20);
        assert_eq!(inb(&mut p, 0x20), 0x00);
        p.set_irq(8, false);

        // IRQ14 at vector 0x76.
        p.set_irq(14, true);
        assert_eq!(p.acknowledge(), 0x76);
    }

    #[test]
    fn masked_lines_do_not_interrupt_until_unmasked() {
        let (mut p, att) = seabios_pic();
        p.set_irq(1, true);
        assert!(!p.pending());
        // IRR shows it even though it is masked.
        assert_eq!(inb(&mut p, 0x20), 0x02);
        att.clear(Attention::IRQ);
        out(&mut p, 0x21, 0xF9);
        assert!(p.pending());
        assert_ne!(att.get() & Attention::IRQ, 0);
        assert_eq!(p.acknowledge(), 0x09);
    }

    #[test]
    fn priority_and_nesting() {
        let (mut p, _) = seabios_pic();
        out(&mut p, 0x21, 0x00);
        out(&mut p, 0xA1, 0x00);
        p.set_irq(3, true);
        p.set_irq(1, true);
        assert_eq!(p.acknowledge(), 0x09);
        // IRQ3 waits behind IRQ1 in service; IRQ0 preempts.
        assert!(!p.pending());
        p.set_irq(0, true);
        assert_eq!(p.acknowledge(), 0x08);
        out(&mut p, 0x20, 0x20); // EOI for IRQ0 (highest in service)
        assert!(!p.pending());
        out(&mut p, 0x20, 0x20); // EOI for IRQ1
        assert_eq!(p.acknowledge(), 0x0B);
        // A slave request preempts IRQ3: IR2 has the higher priority.
        p.set_irq(12, true);
        assert_eq!(p.acknowledge(), 0x74);
    }

    #[test]
    fn specific_eoi_and_rotation() {
        let (mut p, _) = seabios_pic();
        out(&mut p, 0x21, 0x00);
        p.set_irq(4, true);
        p.set_irq(5, true);
        assert_eq!(p.acknowledge(), 0x0C);
        // Specific EOI for level 4, with rotation: IRQ4 becomes lowest,
        // so IRQ5 is now the highest priority.
        out(&mut p, 0x20, 0xE4);
        p.set_irq(4, false);
        p.set_irq(4, true);
        assert_eq!(p.acknowledge(), 0x0D);
        // Set priority: make IRQ7 the lowest again (IRQ0 highest).
        out(&mut p, 0x20, 0x65); // specific EOI level 5
        out(&mut p, 0x20, 0xC7);
        p.set_irq(0, true);
        assert_eq!(p.acknowledge(), 0x08);
    }

    #[test]
    fn auto_eoi() {
        let att = Attention::new();
        let mut p = Pic::new(att);
        out(&mut p, 0x20, 0x11);
        out(&mut p, 0x21, 0x20);
        out(&mut p, 0x21, 0x04);
        out(&mut p, 0x21, 0x03); // 8086 mode, AEOI
        out(&mut p, 0x21, 0x00);
        p.set_irq(5, true);
        assert_eq!(p.acknowledge(), 0x25);
        out(&mut p, 0x20, 0x0B);
        assert_eq!(inb(&mut p, 0x20), 0x00);
        // A second edge is taken with no EOI in between.
        p.set_irq(5, false);
        p.set_irq(5, true);
        assert_eq!(p.acknowledge(), 0x25);
    }

    #[test]
    fn spurious_irq7_and_irq15() {
        let (mut p, _) = seabios_pic();
        out(&mut p, 0x21, 0x00);
        out(&mut p, 0xA1, 0x00);
        // Level-triggered IRQ10 and IRQ5 (as PCI lines are).
        out(&mut p, 0x4D0, 0x20);
        out(&mut p, 0x4D1, 0x04);
        assert_eq!(p.elcr(), (0x20, 0x04));
        p.set_irq(5, true);
        assert!(p.pending());
        p.set_irq(5, false);
        assert_eq!(p.acknowledge(), 0x0F);
        out(&mut p, 0x20, 0x0B);
        assert_eq!(inb(&mut p, 0x20), 0x00, "no ISR bit for a spurious IRQ7");

        p.set_irq(10, true);
        assert!(p.pending());
        p.set_irq(10, false);
        assert_eq!(p.acknowledge(), 0x77);
        // The master saw a cascade request: IR2 is in service.
        assert_eq!(inb(&mut p, 0x20), 0x04);
        out(&mut p, 0xA0, 0x0B);
        assert_eq!(inb(&mut p, 0xA0), 0x00);
    }

    #[test]
    fn level_triggered_line_reasserts_after_eoi() {
        let (mut p, att) = seabios_pic();
        out(&mut p, 0x21, 0x00);
        out(&mut p, 0xA1, 0x00);
        out(&mut p, 0x4D1, 0x08); // IRQ11 level
        p.set_irq(11, true);
        assert_eq!(p.acknowledge(), 0x73);
        att.clear(Attention::IRQ);
        out(&mut p, 0xA0, 0x20);
        out(&mut p, 0x20, 0x20);
        // Still asserted: requests again, and the CPU is told.
        assert!(p.pending());
        assert_ne!(att.get() & Attention::IRQ, 0);
        assert_eq!(p.acknowledge(), 0x73);
        // The ELCR ignores writes to IRQ 8 and 13 bits.
        out(&mut p, 0x4D1, 0xFF);
        assert_eq!(inb(&mut p, 0x4D1), 0xDE);
        out(&mut p, 0x4D0, 0xFF);
        assert_eq!(inb(&mut p, 0x4D0), 0xF8);
    }

    #[test]
    fn edge_latched_pulse_and_no_retrigger_while_high() {
        let (mut p, _) = seabios_pic();
        out(&mut p, 0x21, 0x00);
        p.set_irq(0, true);
        p.set_irq(0, false);
        assert!(p.pending(), "a pulse is latched");
        assert_eq!(p.acknowledge(), 0x08);
        out(&mut p, 0x20, 0x20);
        p.set_irq(3, true);
        assert_eq!(p.acknowledge(), 0x0B);
        out(&mut p, 0x20, 0x20);
        p.set_irq(3, true);
        assert!(!p.pending(), "no new edge while the line stays high");
    }

    #[test]
    fn poll_mode() {
        let (mut p, _) = seabios_pic();
        out(&mut p, 0x21, 0xFF);
        p.set_irq(6, true);
        out(&mut p, 0x20, 0x0C);
        // Masked lines are not reported by a poll, as INT would not rise.
        assert_eq!(inb(&mut p, 0x20), 0x00);
        out(&mut p, 0x21, 0x00);
        out(&mut p, 0x20, 0x0C);
        assert_eq!(inb(&mut p, 0x20), 0x86);
        // Poll acknowledged it: in service, and the next read is normal.
        out(&mut p, 0x20, 0x0B);
        assert_eq!(inb(&mut p, 0x20), 0x40);
    }

    #[test]
    fn special_mask_mode() {
        let (mut p, _) = seabios_pic();
        out(&mut p, 0x21, 0x00);
        p.set_irq(3, true);
        assert_eq!(p.acknowledge(), 0x0B);
        // IRQ5 is blocked by IRQ3 in service ...
        p.set_irq(5, true);
        assert!(!p.pending());
        // ... until IRQ3 is masked in special mask mode.
        out(&mut p, 0x20, 0x68);
        out(&mut p, 0x21, 0x08);
        assert!(p.pending());
        assert_eq!(p.acknowledge(), 0x0D);
        out(&mut p, 0x20, 0x48);
        out(&mut p, 0x20, 0x0B);
        assert_eq!(inb(&mut p, 0x20), 0x28);
    }

    #[test]
    fn reinit_clears_state_and_word_access_splits() {
        let (mut p, _) = seabios_pic();
        out(&mut p, 0x21, 0x00);
        p.set_irq(4, true);
        p.write(Port(0x20), &[0x11, 0x50]); // ICW1 then ICW2 = 0x50
        out(&mut p, 0x21, 0x04);
        out(&mut p, 0x21, 0x01);
        assert_eq!(inb(&mut p, 0x21), 0x00);
        assert!(!p.pending(), "ICW1 resets the edge latches");
        p.set_irq(4, false);
        p.set_irq(4, true);
        assert_eq!(p.acknowledge(), 0x54);
        let mut w = [0u8; 2];
        p.read(Port(0x4D0), &mut w);
        assert_eq!(w, [0, 0]);
    }
}
