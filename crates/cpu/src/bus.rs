//! What the CPU is connected to.

use mem::{Attention, PhysMemory, PortBus};
use std::fmt;

/// The interrupt controller as the CPU sees it: the INTR line and the
/// interrupt-acknowledge cycle (an 8259 PIC or, later, a local APIC).
///
/// Contract: whenever INTR may have become asserted, the controller (or
/// whoever drives it) raises [`Attention::IRQ`]; the CPU only looks at
/// [`pending`](Self::pending) when that bit is up.
pub trait InterruptController {
    /// Whether INTR is asserted.
    fn pending(&self) -> bool;
    /// The INTA cycle: the vector of the highest-priority request.
    fn acknowledge(&mut self) -> u8;
    /// The CPU's FERR# output changed (an unmasked x87 exception is pending
    /// with CR0.NE=0, or was cleared). A PC routes it to IRQ13 (through
    /// the IGNNE# latch at port F0h); the default ignores it.
    fn ferr(&mut self, _asserted: bool) {}
}

/// Memory, ports and the interrupt line: everything outside the CPU. The
/// board (`machine`) owns one and lends it to the CPU while it runs.
pub struct Bus {
    /// Physical memory.
    pub mem: PhysMemory,
    /// I/O ports.
    pub io: PortBus,
    /// Raised by devices to make the run loop look up.
    pub attention: Attention,
    /// The interrupt controller, if the board has one.
    pub intc: Option<Box<dyn InterruptController>>,
}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bus")
            .field("mem", &self.mem)
            .field("io", &self.io)
            .field("intc", &self.intc.is_some())
            .finish()
    }
}

impl Bus {
    /// A bus with this memory, no ports claimed and no interrupt controller.
    pub fn new(mem: PhysMemory) -> Self {
        Self {
            mem,
            io: PortBus::new(),
            attention: Attention::new(),
            intc: None,
        }
    }
}
