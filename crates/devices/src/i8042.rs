//! The Intel 8042 keyboard controller (as in every PC/AT and PS/2), with a
//! PS/2 keyboard on its first port and a PS/2 mouse on its second.
//!
//! Ports 0x60 (data) and 0x64 (status on read, command on write).
//! Implemented (IBM PS/2 Hardware Interface Technical Reference, "Keyboard
//! and Auxiliary Device Controller"):
//! - the status register: output buffer full, system flag (from the
//!   command byte), command/data (last write was to 0x64), keyboard not
//!   inhibited, auxiliary output buffer full; the input buffer is never
//!   busy because writes are handled at once;
//! - the controller command byte ("CTR") and the rest of its 32-byte RAM
//!   (`20`–`3F` read, `60`–`7F` write): keyboard and mouse interrupt enables
//!   (IRQ1, IRQ12), system flag, port disables, set-2 → set-1 translation;
//! - commands `A4` (no password), `A7`/`A8`/`A9` (aux disable/enable/test),
//!   `AA` (self-test → 55), `AB` (keyboard port test → 00), `AD`/`AE`,
//!   `C0` (input port), `D0`/`D1` (output port: bit 0 reset, bit 1 A20),
//!   `D2`/`D3` (write keyboard/aux output buffer), `D4` (write to mouse),
//!   `DD`/`DF` (A20 off/on), `E0` (test inputs), `F0`–`FF` (pulse output
//!   lines: bit 0 pulsed = reset; `FF` is a no-op);
//! - one output buffer fed, when empty, from controller replies first, then
//!   the keyboard's queue, then the mouse's, each only while its port is
//!   enabled in the CTR; IRQ1 / IRQ12 are high while the buffer holds a
//!   keyboard / mouse byte and the matching CTR bit is set, so each byte is
//!   a new edge for the 8259.
//!
//! Host side: [`I8042::press`], [`I8042::release`], [`I8042::mouse_motion`].
//! The keyboard's typematic repeat is timed on the guest clock; the
//! controller is [`Timed`] so the board brings it up to date (and wakes a
//! halted CPU) when a repeat is due. Repeats take the same path as key
//! presses, translation included, and are not generated while the keyboard
//! port is disabled (CTR bit 4, `AD`): the clock line is held low, so the
//! keyboard could not send them.
//! A20 goes to the shared line from `mem::PhysMemory::a20_line`; reset
//! requests go to a [`ResetSignal`] (a flag the board polls, plus
//! `Attention::STOP`).
//!
//! Not implemented: timing (replies are immediate), the keyboard inhibit
//! switch and password security, parity and timeout errors (the status
//! bits are always 0), `AC` (diagnostic dump), `C1`/`C2` input-port polling.

use crate::clock::{Clock, Nanos, Timed};
use crate::irq::IrqLine;
use crate::ps2kbd::{Key, Ps2Keyboard, Translator};
use crate::ps2mouse::Ps2Mouse;
use crate::sysctl::ResetSignal;
use mem::{Port, PortDevice};
use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

/// The data port.
pub const DATA_PORT: u16 = 0x60;
/// The status (read) / command (write) port.
pub const STATUS_PORT: u16 = 0x64;
/// The ports: (first, count) each.
pub const PORTS: &[(u16, u16)] = &[(DATA_PORT, 1), (STATUS_PORT, 1)];
/// The keyboard's ISA interrupt.
pub const KBD_IRQ: u8 = 1;
/// The mouse's ISA interrupt.
pub const AUX_IRQ: u8 = 12;

/// Status register bits.
pub mod status {
    /// Output buffer full: port 0x60 has a byte for the host.
    pub const OBF: u8 = 1 << 0;
    /// Input buffer full: the controller has not taken the last write.
    pub const IBF: u8 = 1 << 1;
    /// System flag (CTR bit 2; set by a successful self-test).
    pub const SYS: u8 = 1 << 2;
    /// The last write went to port 0x64 (a command).
    pub const CMD: u8 = 1 << 3;
    /// Keyboard not inhibited (the key lock is open).
    pub const UNLOCKED: u8 = 1 << 4;
    /// The output buffer holds a byte from the auxiliary (mouse) port.
    pub const AUX_OBF: u8 = 1 << 5;
    /// Receive timeout.
    pub const TIMEOUT: u8 = 1 << 6;
    /// Parity error.
    pub const PARITY: u8 = 1 << 7;
}

/// Controller command byte (CTR) bits.
pub mod ctr {
    /// Raise IRQ1 when the output buffer holds a keyboard byte.
    pub const KBD_INT: u8 = 1 << 0;
    /// Raise IRQ12 when the output buffer holds a mouse byte.
    pub const AUX_INT: u8 = 1 << 1;
    /// System flag, shown in status bit 2.
    pub const SYS: u8 = 1 << 2;
    /// Ignore the keyboard lock.
    pub const OVERRIDE: u8 = 1 << 3;
    /// Keyboard port disabled (clock held low).
    pub const KBD_DIS: u8 = 1 << 4;
    /// Auxiliary port disabled.
    pub const AUX_DIS: u8 = 1 << 5;
    /// Translate keyboard set 2 to set 1.
    pub const XLATE: u8 = 1 << 6;
}

/// Controller commands written to port 0x64.
pub mod cmd {
    /// Read controller RAM byte 0 (the CTR); `20`–`3F` read bytes 0–31.
    pub const READ_CTR: u8 = 0x20;
    /// Write controller RAM byte 0 (the CTR); `60`–`7F` write bytes 0–31.
    pub const WRITE_CTR: u8 = 0x60;
    /// Is a password installed? (F1 = no)
    pub const PASSWORD_INSTALLED: u8 = 0xa4;
    /// Disable the auxiliary port.
    pub const AUX_DISABLE: u8 = 0xa7;
    /// Enable the auxiliary port.
    pub const AUX_ENABLE: u8 = 0xa8;
    /// Test the auxiliary port (00 = OK).
    pub const AUX_TEST: u8 = 0xa9;
    /// Controller self-test (55 = OK).
    pub const SELF_TEST: u8 = 0xaa;
    /// Test the keyboard port (00 = OK).
    pub const KBD_TEST: u8 = 0xab;
    /// Diagnostic dump.
    pub const DIAG_DUMP: u8 = 0xac;
    /// Disable the keyboard port.
    pub const KBD_DISABLE: u8 = 0xad;
    /// Enable the keyboard port.
    pub const KBD_ENABLE: u8 = 0xae;
    /// Read the input port.
    pub const READ_INPUT: u8 = 0xc0;
    /// Read the output port.
    pub const READ_OUTPUT: u8 = 0xd0;
    /// Write the output port (next data byte).
    pub const WRITE_OUTPUT: u8 = 0xd1;
    /// Write the next data byte to the output buffer as if from the keyboard.
    pub const WRITE_KBD_OBUF: u8 = 0xd2;
    /// Write the next data byte to the output buffer as if from the mouse.
    pub const WRITE_AUX_OBUF: u8 = 0xd3;
    /// Send the next data byte to the mouse.
    pub const WRITE_AUX: u8 = 0xd4;
    /// Gate A20 off (HP Vectra extension).
    pub const A20_OFF: u8 = 0xdd;
    /// Gate A20 on (HP Vectra extension).
    pub const A20_ON: u8 = 0xdf;
    /// Read the test inputs.
    pub const READ_TEST: u8 = 0xe0;
    /// First of the output-line pulse commands (`F0`–`FF`).
    pub const PULSE: u8 = 0xf0;
    /// Pulse the reset line (`FE` = `F0` with only bit 0 low).
    pub const RESET: u8 = 0xfe;
}

/// Output port bits (`D0`/`D1`).
pub mod outport {
    /// System reset, active low.
    pub const RESET_N: u8 = 1 << 0;
    /// A20 gate.
    pub const A20: u8 = 1 << 1;
    /// Output buffer full with a mouse byte (IRQ12).
    pub const AUX_IRQ: u8 = 1 << 5;
    /// Output buffer full with a keyboard byte (IRQ1).
    pub const KBD_IRQ: u8 = 1 << 4;
    /// Keyboard clock and data lines (idle high).
    pub const KBD_LINES: u8 = 0xc0;
}

/// The command byte after power-on: both interrupts enabled and
/// translation on, as a BIOS leaves it (so a kernel booted without a BIOS
/// finds a usable controller).
pub const CTR_RESET: u8 = ctr::KBD_INT | ctr::AUX_INT | ctr::XLATE;
/// Self-test passed.
const SELF_TEST_OK: u8 = 0x55;
/// "No password installed".
const NO_PASSWORD: u8 = 0xf1;
/// Input port value: bit 7 keyboard not inhibited, bit 5 no manufacturing
/// jumper, bit 4 256 KiB of motherboard RAM on the AT.
const INPUT_PORT: u8 = 0xb0;

/// Who put a byte into the output buffer; decides the AUX bit and the IRQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Kbd,
    Aux,
}

/// The 8042 with its keyboard and mouse.
#[derive(Debug)]
pub struct I8042 {
    kbd: Ps2Keyboard,
    mouse: Ps2Mouse,
    /// Controller RAM; byte 0 is the CTR.
    ram: [u8; 32],
    /// The output buffer.
    obuf: Option<(u8, Source)>,
    /// The last byte read from port 0x60 (read again if the buffer is empty).
    last_read: u8,
    /// Replies of the controller itself, waiting for the output buffer.
    replies: VecDeque<(u8, Source)>,
    /// A command waiting for its data byte at port 0x60.
    pending: Option<u8>,
    last_was_cmd: bool,
    /// Output port bits other than A20 (which lives on the shared line) and
    /// the IRQ bits (computed).
    outport: u8,
    xlate: Translator,
    irq_kbd: IrqLine,
    irq_aux: IrqLine,
    level_kbd: bool,
    level_aux: bool,
    a20: Rc<Cell<bool>>,
    reset: ResetSignal,
    /// Unknown commands already warned about (one bit per command).
    warned: [u64; 4],
}

impl I8042 {
    /// A controller raising `irq_kbd` (IRQ1) and `irq_aux` (IRQ12), driving
    /// the A20 line `a20` (from `mem::PhysMemory::a20_line`) and asking for
    /// resets on `reset`; its keyboard times typematic repeat on `clock`.
    pub fn new(
        clock: Clock,
        irq_kbd: IrqLine,
        irq_aux: IrqLine,
        a20: Rc<Cell<bool>>,
        reset: ResetSignal,
    ) -> Self {
        let mut s = Self {
            kbd: Ps2Keyboard::new(clock),
            mouse: Ps2Mouse::new(),
            ram: [0; 32],
            obuf: None,
            last_read: 0,
            replies: VecDeque::new(),
            pending: None,
            last_was_cmd: false,
            outport: outport::RESET_N | outport::KBD_LINES,
            xlate: Translator::default(),
            irq_kbd,
            irq_aux,
            level_kbd: false,
            level_aux: false,
            a20,
            reset,
            warned: [0; 4],
        };
        s.reset();
        s
    }

    /// Power-on state: CTR [`CTR_RESET`], buffers empty, A20 enabled,
    /// keyboard and mouse reset.
    pub fn reset(&mut self) {
        self.kbd.reset();
        self.mouse.reset();
        self.ram = [0; 32];
        self.ram[0] = CTR_RESET;
        self.obuf = None;
        self.replies.clear();
        self.pending = None;
        self.last_was_cmd = false;
        self.outport = outport::RESET_N | outport::KBD_LINES;
        self.xlate.reset();
        self.a20.set(true);
        self.update();
    }

    /// The controller command byte.
    pub fn ctr(&self) -> u8 {
        self.ram[0]
    }

    /// The keyboard (LED state, scancode set).
    pub fn keyboard(&self) -> &Ps2Keyboard {
        &self.kbd
    }

    /// The mouse.
    pub fn mouse(&self) -> &Ps2Mouse {
        &self.mouse
    }

    /// Host: a key went down.
    pub fn press(&mut self, key: Key) {
        self.kbd.press(key);
        self.update();
    }

    /// Host: a key came up.
    pub fn release(&mut self, key: Key) {
        self.kbd.release(key);
        self.update();
    }

    /// Host: the mouse moved by `dx` (right) and `dy` (down, screen
    /// direction) with `buttons` held (bits of [`crate::ps2mouse::buttons`]).
    pub fn mouse_motion(&mut self, dx: i32, dy: i32, buttons: u8) {
        self.mouse.motion(dx, dy, 0, buttons);
        self.update();
    }

    /// Host: the wheel turned `dz` clicks towards the user (negative: away),
    /// with `buttons` held.
    pub fn mouse_wheel(&mut self, dz: i32, buttons: u8) {
        self.mouse.motion(0, 0, dz, buttons);
        self.update();
    }

    fn reply(&mut self, b: u8) {
        self.replies.push_back((b, Source::Kbd));
        self.update();
    }

    /// Refill the output buffer if it is empty, then set the IRQ lines.
    fn update(&mut self) {
        let ctr = self.ram[0];
        while self.obuf.is_none() {
            if let Some(r) = self.replies.pop_front() {
                self.obuf = Some(r);
            } else if ctr & ctr::KBD_DIS == 0 && self.kbd.has_data() {
                let b = self.kbd.pop().unwrap_or(0);
                if ctr & ctr::XLATE != 0 {
                    if let Some(t) = self.xlate.feed(b) {
                        self.obuf = Some((t, Source::Kbd));
                    }
                } else {
                    self.obuf = Some((b, Source::Kbd));
                }
            } else if ctr & ctr::AUX_DIS == 0 && self.mouse.has_data() {
                let b = self.mouse.pop().unwrap_or(0);
                self.obuf = Some((b, Source::Aux));
            } else {
                break;
            }
        }
        let (kbd, aux) = match self.obuf {
            Some((_, Source::Kbd)) => (ctr & ctr::KBD_INT != 0, false),
            Some((_, Source::Aux)) => (false, ctr & ctr::AUX_INT != 0),
            None => (false, false),
        };
        if kbd != self.level_kbd {
            self.level_kbd = kbd;
            self.irq_kbd.set(kbd);
        }
        if aux != self.level_aux {
            self.level_aux = aux;
            self.irq_aux.set(aux);
        }
    }

    fn lower_irqs(&mut self) {
        if std::mem::take(&mut self.level_kbd) {
            self.irq_kbd.lower();
        }
        if std::mem::take(&mut self.level_aux) {
            self.irq_aux.lower();
        }
    }

    fn status(&self) -> u8 {
        let mut s = status::UNLOCKED;
        if self.ram[0] & ctr::SYS != 0 {
            s |= status::SYS;
        }
        if self.last_was_cmd {
            s |= status::CMD;
        }
        match self.obuf {
            Some((_, Source::Kbd)) => s |= status::OBF,
            Some((_, Source::Aux)) => s |= status::OBF | status::AUX_OBF,
            None => {}
        }
        s
    }

    fn output_port(&self) -> u8 {
        let mut v = self.outport & !(outport::A20 | outport::KBD_IRQ | outport::AUX_IRQ);
        if self.a20.get() {
            v |= outport::A20;
        }
        match self.obuf {
            Some((_, Source::Kbd)) => v |= outport::KBD_IRQ,
            Some((_, Source::Aux)) => v |= outport::AUX_IRQ,
            None => {}
        }
        v
    }

    fn write_output_port(&mut self, v: u8) {
        self.outport = v;
        self.a20.set(v & outport::A20 != 0);
        if v & outport::RESET_N == 0 {
            self.reset.request();
        }
    }

    fn set_ctr(&mut self, v: u8) {
        if (v ^ self.ram[0]) & ctr::XLATE != 0 {
            self.xlate.reset();
        }
        self.ram[0] = v;
        self.update();
    }

    fn warn_once(&mut self, what: &str, c: u8) {
        let (w, bit) = (usize::from(c >> 6), 1u64 << (c & 63));
        if self.warned[w] & bit == 0 {
            self.warned[w] |= bit;
            eprintln!("strachey: i8042: {what} {c:#04x} ignored");
        }
    }

    fn command(&mut self, c: u8) {
        match c {
            0x20..=0x3f => {
                let v = self.ram[usize::from(c & 0x1f)];
                self.reply(v);
            }
            0x60..=0x7f | cmd::WRITE_OUTPUT | cmd::WRITE_KBD_OBUF | cmd::WRITE_AUX_OBUF | cmd::WRITE_AUX => {
                self.pending = Some(c)
            }
            cmd::PASSWORD_INSTALLED => self.reply(NO_PASSWORD),
            cmd::AUX_DISABLE => self.set_ctr(self.ram[0] | ctr::AUX_DIS),
            cmd::AUX_ENABLE => self.set_ctr(self.ram[0] & !ctr::AUX_DIS),
            cmd::AUX_TEST | cmd::KBD_TEST => self.reply(0x00),
            cmd::SELF_TEST => {
                self.ram[0] |= ctr::SYS;
                self.reply(SELF_TEST_OK);
            }
            cmd::KBD_DISABLE => self.set_ctr(self.ram[0] | ctr::KBD_DIS),
            cmd::KBD_ENABLE => self.set_ctr(self.ram[0] & !ctr::KBD_DIS),
            cmd::READ_INPUT => self.reply(INPUT_PORT),
            cmd::READ_OUTPUT => {
                let v = self.output_port();
                self.reply(v);
            }
            cmd::A20_OFF => self.a20.set(false),
            cmd::A20_ON => self.a20.set(true),
            cmd::READ_TEST => self.reply(0x00),
            cmd::PULSE..=0xff => {
                // Bits 3:0 low = pulse that output line; line 0 is reset.
                if c & outport::RESET_N == 0 {
                    self.reset.request();
                }
            }
            _ => self.warn_once("unsupported command", c),
        }
    }

    fn data(&mut self, b: u8) {
        match self.pending.take() {
            Some(c @ 0x60..=0x7f) => {
                if c == cmd::WRITE_CTR {
                    self.set_ctr(b);
                } else {
                    self.ram[usize::from(c & 0x1f)] = b;
                }
            }
            Some(cmd::WRITE_OUTPUT) => self.write_output_port(b),
            Some(cmd::WRITE_KBD_OBUF) => {
                self.replies.push_back((b, Source::Kbd));
                self.update();
            }
            Some(cmd::WRITE_AUX_OBUF) => {
                self.replies.push_back((b, Source::Aux));
                self.update();
            }
            Some(cmd::WRITE_AUX) => {
                self.mouse.write(b);
                self.update();
            }
            _ => {
                self.kbd.write(b);
                self.update();
            }
        }
    }
}

impl Timed for I8042 {
    fn next_deadline(&self) -> Option<Nanos> {
        if self.ram[0] & ctr::KBD_DIS != 0 {
            return None;
        }
        self.kbd.next_deadline()
    }

    fn advance(&mut self, now: Nanos) {
        if self.ram[0] & ctr::KBD_DIS == 0 {
            self.kbd.advance(now);
            self.update();
        }
    }
}

impl PortDevice for I8042 {
    fn read(&mut self, port: Port, data: &mut [u8]) {
        data.fill(0xff);
        data[0] = match port.0 {
            DATA_PORT => {
                if let Some((b, _)) = self.obuf.take() {
                    self.last_read = b;
                    // The IRQ output follows OBF: it drops with the read, so
                    // the next byte (loaded at once) makes a new edge.
                    self.lower_irqs();
                    self.update();
                }
                self.last_read
            }
            _ => self.status(),
        };
    }

    fn write(&mut self, port: Port, data: &[u8]) {
        match port.0 {
            DATA_PORT => {
                self.last_was_cmd = false;
                self.data(data[0]);
            }
            _ => {
                self.last_was_cmd = true;
                // A new command abandons one still waiting for its data.
                self.pending = None;
                self.command(data[0]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::IrqSink;
    use mem::{Attention, Shared};
    use std::cell::RefCell;

    /// Records every level change per line.
    #[derive(Default)]
    struct Sink {
        levels: [bool; 16],
        edges: [u32; 16],
    }
    impl IrqSink for Sink {
        fn set_irq(&mut self, line: u8, level: bool) {
            let l = usize::from(line);
            if level && !self.levels[l] {
                self.edges[l] += 1;
            }
            self.levels[l] = level;
        }
    }

    struct Rig {
        kbc: I8042,
        sink: Rc<RefCell<Sink>>,
        a20: Rc<Cell<bool>>,
        reset: ResetSignal,
        att: Attention,
        clock: Clock,
    }

    fn rig() -> Rig {
        let sink = Rc::new(RefCell::new(Sink::default()));
        let s: Shared<dyn IrqSink> = sink.clone();
        let a20 = Rc::new(Cell::new(false));
        let att = Attention::new();
        let reset = ResetSignal::new(att.clone());
        let clock = Clock::manual();
        let kbc = I8042::new(
            clock.clone(),
            IrqLine::new(s.clone(), 1),
            IrqLine::new(s, 12),
            a20.clone(),
            reset.clone(),
        );
        Rig {
            kbc,
            sink,
            a20,
            reset,
            att,
            clock,
        }
    }

    impl Rig {
        fn status(&mut self) -> u8 {
            let mut b = [0];
            self.kbc.read(Port(STATUS_PORT), &mut b);
            b[0]
        }
        fn cmd(&mut self, c: u8) {
            self.kbc.write(Port(STATUS_PORT), &[c]);
        }
        fn out(&mut self, d: u8) {
            self.kbc.write(Port(DATA_PORT), &[d]);
        }
        /// Read one byte the way SeaBIOS does: wait for OBF, then read.
        fn get(&mut self) -> Option<u8> {
            if self.status() & status::OBF == 0 {
                return None;
            }
            let mut b = [0];
            self.kbc.read(Port(DATA_PORT), &mut b);
            Some(b[0])
        }
        fn drain(&mut self) -> Vec<u8> {
            std::iter::from_fn(|| self.get()).collect()
        }
        fn cmd_reply(&mut self, c: u8) -> Option<u8> {
            self.cmd(c);
            self.get()
        }
        fn level(&self, line: usize) -> bool {
            self.sink.borrow().levels[line]
        }
    }

    /// SEABIOS.md §8, in order.
    #[test]
    fn seabios_keyboard_init() {
        let mut r = rig();
        assert!(r.a20.get(), "reset enables A20");
        r.kbc.press(Key::A); // something to flush
        assert!(r.drain().len() <= 16);
        r.cmd(cmd::KBD_DISABLE);
        r.cmd(cmd::AUX_DISABLE);
        assert_eq!(r.cmd_reply(cmd::SELF_TEST), Some(0x55));
        assert_eq!(r.status() & status::SYS, status::SYS);
        assert_eq!(r.cmd_reply(cmd::KBD_TEST), Some(0x00));
        // Each keyboard command: CTR 0x30 (all off), flush, CTR 0x20
        // (keyboard on, no IRQs, no translation), command, replies.
        fn kbd_cmd(r: &mut Rig, bytes: &[u8]) -> Vec<u8> {
            r.cmd(cmd::WRITE_CTR);
            r.out(0x30);
            r.drain();
            r.cmd(cmd::WRITE_CTR);
            r.out(0x20);
            let mut got = Vec::new();
            for &b in bytes {
                r.out(b);
                got.extend(r.drain());
            }
            got
        }
        assert_eq!(kbd_cmd(&mut r, &[0xff]), [0xfa, 0xaa]);
        assert_eq!(kbd_cmd(&mut r, &[0xf5]), [0xfa]);
        assert_eq!(kbd_cmd(&mut r, &[0xf0, 0x02]), [0xfa, 0xfa]);
        assert_eq!(kbd_cmd(&mut r, &[0xf4]), [0xfa]);
        r.cmd(cmd::WRITE_CTR);
        r.out(0x61);
        assert_eq!(r.cmd_reply(cmd::READ_CTR), Some(0x61));
        // The system flag follows CTR bit 2, which SeaBIOS's 0x61 clears.
        assert_eq!(r.status() & status::SYS, 0);
        assert!(!r.level(1));
        let edges = r.sink.borrow().edges[1];
        // A key under translation arrives as set 1 with IRQ1.
        r.kbc.press(Key::A);
        assert!(r.level(1));
        assert_eq!(r.get(), Some(0x1e));
        assert!(!r.level(1));
        r.kbc.release(Key::A);
        assert_eq!(r.drain(), [0x9e]);
        r.kbc.press(Key::ArrowLeft);
        r.kbc.release(Key::ArrowLeft);
        assert_eq!(r.drain(), [0xe0, 0x4b, 0xe0, 0xcb]);
        assert_eq!(r.sink.borrow().edges[1] - edges, 6, "one edge per byte");
    }

    #[test]
    fn set2_without_translation_and_scancode_query() {
        let mut r = rig();
        r.cmd(cmd::WRITE_CTR);
        r.out(ctr::KBD_INT);
        r.kbc.press(Key::ArrowLeft);
        r.kbc.release(Key::ArrowLeft);
        assert_eq!(r.drain(), [0xe0, 0x6b, 0xe0, 0xf0, 0x6b]);
        r.out(0xf0);
        r.out(0x00);
        assert_eq!(r.drain(), [0xfa, 0xfa, 0x02]);
        // With translation the set number is translated too (Linux knows).
        r.cmd(cmd::WRITE_CTR);
        r.out(ctr::KBD_INT | ctr::XLATE);
        r.out(0xf0);
        r.out(0x00);
        assert_eq!(r.drain(), [0xfa, 0xfa, 0x41]);
        r.out(0xf2);
        assert_eq!(r.drain(), [0xfa, 0xab, 0x41]);
    }

    #[test]
    fn ctr_bits_gate_irq1_and_port() {
        let mut r = rig();
        r.cmd(cmd::WRITE_CTR);
        r.out(ctr::XLATE); // no interrupts
        r.kbc.press(Key::Z);
        assert_eq!(r.status() & status::OBF, status::OBF);
        assert!(!r.level(1));
        r.cmd(cmd::WRITE_CTR);
        r.out(ctr::XLATE | ctr::KBD_INT);
        // The CTR write's data byte is not a reply; the Z make code is
        // still in the buffer and now raises IRQ1.
        assert!(r.level(1));
        assert_eq!(r.get(), Some(0x2c));
        // Keyboard port disabled: bytes wait in the keyboard.
        r.cmd(cmd::KBD_DISABLE);
        assert_eq!(r.ctr() & ctr::KBD_DIS, ctr::KBD_DIS);
        r.kbc.release(Key::Z);
        assert_eq!(r.status() & status::OBF, 0);
        r.cmd(cmd::KBD_ENABLE);
        assert!(r.level(1));
        assert_eq!(r.drain(), [0xac]);
    }

    impl Rig {
        /// Move the clock to `t` and service the controller as the board
        /// does when its deadline has come.
        fn tick(&mut self, t: Nanos) {
            self.clock.set(t);
            if self.kbc.next_deadline().is_some_and(|d| d <= t) {
                self.kbc.advance(t);
            }
        }
    }

    const MS: Nanos = 1_000_000;

    #[test]
    fn typematic_repeats_arrive_translated_with_irq1() {
        let mut r = rig();
        r.kbc.press(Key::ArrowLeft);
        assert_eq!(r.drain(), [0xe0, 0x4b], "set 1 through the translation");
        assert_eq!(r.kbc.next_deadline(), Some(500 * MS));
        let edges = r.sink.borrow().edges[1];
        r.tick(499 * MS);
        assert_eq!(r.status() & status::OBF, 0);
        r.tick(500 * MS);
        assert!(r.level(1), "a repeat raises IRQ1");
        assert_eq!(r.drain(), [0xe0, 0x4b], "the repeat is the set-1 make code");
        r.tick(592 * MS);
        assert_eq!(r.drain(), [0xe0, 0x4b]);
        assert_eq!(r.sink.borrow().edges[1] - edges, 4, "one edge per byte");
        r.kbc.release(Key::ArrowLeft);
        assert_eq!(r.drain(), [0xe0, 0xcb]);
        assert_eq!(r.kbc.next_deadline(), None);

        // Without translation the repeat is set 2.
        r.cmd(cmd::WRITE_CTR);
        r.out(ctr::KBD_INT);
        r.kbc.press(Key::A);
        r.tick(1100 * MS);
        assert_eq!(r.drain(), [0x1c, 0x1c]);
    }

    #[test]
    fn no_repeats_while_the_keyboard_port_is_disabled() {
        let mut r = rig();
        r.kbc.press(Key::A);
        assert_eq!(r.drain(), [0x1e]);
        r.cmd(cmd::KBD_DISABLE);
        assert_eq!(r.kbc.next_deadline(), None);
        r.tick(600 * MS);
        r.tick(2000 * MS);
        r.cmd(cmd::KBD_ENABLE);
        assert_eq!(r.drain(), [], "nothing was generated while disabled");
        // Re-enabled with the key still held: the overdue repeat comes at
        // once, then the rate resumes.
        r.tick(2000 * MS);
        assert_eq!(r.drain(), [0x1e]);
        assert!(r.kbc.next_deadline().is_some_and(|d| d > 2000 * MS));
    }

    #[test]
    fn a_guest_that_does_not_read_gets_a_bounded_backlog() {
        let mut r = rig();
        r.kbc.press(Key::A);
        for t in (500..10_000).step_by(10) {
            r.tick(t * MS);
        }
        // The output buffer's byte plus the keyboard's 16.
        let got = r.drain();
        assert_eq!(got.len(), 1 + crate::ps2kbd::REPEAT_ROOM);
        assert!(got.iter().all(|&b| b == 0x1e));
    }

    impl Rig {
        fn ctr(&mut self) -> u8 {
            self.cmd_reply(cmd::READ_CTR).unwrap()
        }
    }

    #[test]
    fn a20_and_reset_through_output_port() {
        let mut r = rig();
        assert_eq!(r.cmd_reply(cmd::READ_OUTPUT).map(|v| v & 3), Some(3));
        r.cmd(cmd::WRITE_OUTPUT);
        r.out(0xdd);
        assert!(!r.a20.get());
        assert_eq!(r.cmd_reply(cmd::READ_OUTPUT).map(|v| v & 3), Some(1));
        r.cmd(cmd::WRITE_OUTPUT);
        r.out(0xdf);
        assert!(r.a20.get());
        r.cmd(0xff); // the null pulse Linux sends after D1
        assert!(!r.reset.is_requested());
        r.cmd(cmd::RESET);
        assert!(r.reset.take());
        assert_ne!(r.att.get() & Attention::STOP, 0);
        r.cmd(cmd::WRITE_OUTPUT);
        r.out(0xde);
        assert!(r.reset.take());
    }

    /// Linux's i8042_check_aux and psmouse probing.
    #[test]
    fn aux_port() {
        let mut r = rig();
        r.cmd(cmd::WRITE_CTR);
        r.out(ctr::XLATE | ctr::AUX_DIS | ctr::KBD_DIS);
        r.cmd(cmd::WRITE_AUX_OBUF);
        r.out(0x5a);
        assert_eq!(r.status() & (status::OBF | status::AUX_OBF), 0x21);
        assert_eq!(r.get(), Some(0x5a));
        r.cmd(cmd::AUX_ENABLE);
        assert_eq!(r.ctr() & ctr::AUX_DIS, 0);
        r.cmd(cmd::AUX_DISABLE);
        assert_eq!(r.ctr() & ctr::AUX_DIS, ctr::AUX_DIS);
        assert_eq!(r.cmd_reply(cmd::AUX_TEST), Some(0));
        // IRQ12 test: loop a byte through with AUX_INT on.
        r.cmd(cmd::WRITE_CTR);
        r.out(ctr::XLATE | ctr::AUX_INT | ctr::KBD_DIS);
        r.cmd(cmd::WRITE_AUX_OBUF);
        r.out(0xa5);
        assert!(r.level(12));
        assert_eq!(r.get(), Some(0xa5));
        assert!(!r.level(12));
        // Talk to the mouse.
        r.cmd(cmd::WRITE_CTR);
        r.out(ctr::XLATE | ctr::AUX_INT | ctr::KBD_INT);
        r.cmd(cmd::WRITE_AUX);
        r.out(0xff);
        assert_eq!(r.drain(), [0xfa, 0xaa, 0x00]);
        r.cmd(cmd::WRITE_AUX);
        r.out(0xf4);
        assert_eq!(r.drain(), [0xfa]);
        r.kbc.mouse_motion(3, 0, crate::ps2mouse::buttons::LEFT);
        assert!(r.level(12) && !r.level(1));
        assert_eq!(r.status() & status::AUX_OBF, status::AUX_OBF);
        assert_eq!(r.drain(), [0x09, 3, 0]);
        // Keyboard bytes are not translated when sent through D2 or D4.
        r.cmd(cmd::WRITE_KBD_OBUF);
        r.out(0x1c);
        assert!(r.level(1));
        assert_eq!(r.drain(), [0x1c]);
    }
}
