//! System Control Port A (port 0x92, "fast A20 and reset"), and the reset
//! request line it shares with the 8042.
//!
//! Implemented (IBM PS/2 Hardware Interface Technical Reference, "System
//! Control Port A"; Intel 82371 PIIX3 datasheet, port 92h): bit 1 drives
//! the A20 gate, bit 0 going from 0 to 1 requests a system reset (the
//! "alternate hot reset"); the other bits (3: CMOS/password lock, 6–7: disk
//! activity lights) are stored. Reads return the stored bits with bit 1
//! showing the current state of the A20 line, which the 8042 may also have
//! moved (both drivers share one line; the last write wins).
//!
//! Not implemented: the lock bit has no effect on the RTC.
//!
//! Resets: a device that wants the machine reset calls
//! [`ResetSignal::request`], which sets a flag the board polls
//! ([`ResetSignal::take`]) and raises [`mem::Attention::STOP`] so that the
//! CPU loop returns promptly. The board then resets the CPU and devices.

use mem::{Attention, Port, PortDevice};
use std::cell::Cell;
use std::rc::Rc;

/// The port: (first, count).
pub const PORTS: &[(u16, u16)] = &[(0x92, 1)];

/// Bit 0: alternate hot reset (a 0→1 write resets the system).
pub const FAST_RESET: u8 = 1 << 0;
/// Bit 1: A20 gate (1 = address line 20 passes).
pub const FAST_A20: u8 = 1 << 1;

/// A request line for "reset the machine", shared by every device that can
/// ask for it (8042 output port and pulse commands, port 0x92). Cloning
/// shares it.
#[derive(Clone, Debug)]
pub struct ResetSignal {
    requested: Rc<Cell<bool>>,
    attention: Attention,
}

impl ResetSignal {
    /// A clear signal that raises [`Attention::STOP`] on `attention` when
    /// requested.
    pub fn new(attention: Attention) -> Self {
        Self {
            requested: Rc::new(Cell::new(false)),
            attention,
        }
    }

    /// Ask for a system reset.
    pub fn request(&self) {
        self.requested.set(true);
        self.attention.raise(Attention::STOP);
    }

    /// Whether a reset has been requested and not yet taken.
    pub fn is_requested(&self) -> bool {
        self.requested.get()
    }

    /// For the board: whether a reset was requested, clearing the request.
    pub fn take(&self) -> bool {
        self.requested.replace(false)
    }
}

/// Port 0x92.
#[derive(Debug)]
pub struct SysCtl {
    value: u8,
    a20: Rc<Cell<bool>>,
    reset: ResetSignal,
}

impl SysCtl {
    /// The port, driving the A20 line `a20` (from
    /// `mem::PhysMemory::a20_line`) and requesting resets on `reset`.
    pub fn new(a20: Rc<Cell<bool>>, reset: ResetSignal) -> Self {
        Self { value: 0, a20, reset }
    }

    /// Power-on state: all bits clear. The A20 line itself is left alone
    /// (the 8042's reset drives it).
    pub fn reset(&mut self) {
        self.value = 0;
    }
}

impl PortDevice for SysCtl {
    fn read(&mut self, _port: Port, data: &mut [u8]) {
        let v = (self.value & !FAST_A20) | if self.a20.get() { FAST_A20 } else { 0 };
        data.fill(0xff);
        data[0] = v;
    }

    fn write(&mut self, _port: Port, data: &[u8]) {
        let v = data[0];
        let old = self.value;
        self.value = v;
        self.a20.set(v & FAST_A20 != 0);
        if v & FAST_RESET != 0 && old & FAST_RESET == 0 {
            self.reset.request();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a20_and_reset() {
        let att = Attention::new();
        let a20 = Rc::new(Cell::new(false));
        let rs = ResetSignal::new(att.clone());
        let mut p = SysCtl::new(a20.clone(), rs.clone());
        let mut b = [0u8];
        p.read(Port(0x92), &mut b);
        assert_eq!(b[0], 0);
        // SeaBIOS's mode switch: IN 0x92; OUT 0x92, v | 2.
        p.write(Port(0x92), &[b[0] | FAST_A20]);
        assert!(a20.get());
        p.read(Port(0x92), &mut b);
        assert_eq!(b[0], FAST_A20);
        // The 8042 closed the gate: reads show the line.
        a20.set(false);
        p.read(Port(0x92), &mut b);
        assert_eq!(b[0], 0);
        assert!(!rs.is_requested());
        p.write(Port(0x92), &[FAST_A20 | FAST_RESET]);
        assert!(rs.is_requested());
        assert_ne!(att.get() & Attention::STOP, 0);
        assert!(rs.take());
        assert!(!rs.take());
        // Bit 0 stays set: writing it again is not a new edge.
        p.write(Port(0x92), &[FAST_A20 | FAST_RESET]);
        assert!(!rs.is_requested());
    }
}
