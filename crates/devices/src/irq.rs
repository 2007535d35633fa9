//! Interrupt lines: how a device asserts an IRQ without knowing who listens.
//!
//! A device holds an [`IrqLine`] (a sink and a line number) and sets its
//! level; the sink (the 8259 PIC pair, later an I/O APIC) decides what that
//! means and raises [`mem::Attention::IRQ`] when its output to the CPU may
//! have risen.

use mem::Shared;
use std::fmt;

/// Something that receives interrupt request lines.
pub trait IrqSink {
    /// Line `line` is now at `level` (true = asserted).
    fn set_irq(&mut self, line: u8, level: bool);
}

/// One interrupt request line of a device.
#[derive(Clone)]
pub struct IrqLine {
    sink: Option<Shared<dyn IrqSink>>,
    line: u8,
}

impl fmt::Debug for IrqLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IrqLine({}{})",
            self.line,
            if self.sink.is_some() { "" } else { ", unconnected" }
        )
    }
}

impl IrqLine {
    /// Line `line` of `sink`.
    pub fn new(sink: Shared<dyn IrqSink>, line: u8) -> Self {
        Self {
            sink: Some(sink),
            line,
        }
    }

    /// A line connected to nothing (a device used on its own, in tests).
    pub fn unconnected() -> Self {
        Self { sink: None, line: 0 }
    }

    /// The line number.
    pub fn number(&self) -> u8 {
        self.line
    }

    /// Set the level.
    pub fn set(&self, level: bool) {
        if let Some(s) = &self.sink {
            s.borrow_mut().set_irq(self.line, level);
        }
    }

    /// Assert the line.
    pub fn raise(&self) {
        self.set(true);
    }

    /// Deassert the line.
    pub fn lower(&self) {
        self.set(false);
    }

    /// An edge: assert then deassert (for edge-triggered ISA interrupts).
    pub fn pulse(&self) {
        self.set(true);
        self.set(false);
    }
}
