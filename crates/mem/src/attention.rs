//! The attention flag: how devices and other threads interrupt the CPU loop.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// A cheap, cloneable flag word. The CPU loop tests it between instructions
/// (interpreter) or at block entry (translator); anyone holding a clone may
/// raise bits from any thread.
#[derive(Clone, Debug, Default)]
pub struct Attention(Arc<AtomicU32>);

impl Attention {
    /// An interrupt line may have changed: re-evaluate pending interrupts.
    pub const IRQ: u32 = 1 << 0;
    /// Someone asked the run loop to stop (debug exit, reset, user request).
    pub const STOP: u32 = 1 << 1;

    /// A new, clear flag.
    pub fn new() -> Self {
        Self::default()
    }
    /// Raise `bits`.
    pub fn raise(&self, bits: u32) {
        self.0.fetch_or(bits, Ordering::Release);
    }
    /// Current bits, without clearing them.
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Acquire)
    }
    /// Clear `bits`, returning the bits that were set before.
    pub fn clear(&self, bits: u32) -> u32 {
        self.0.fetch_and(!bits, Ordering::AcqRel)
    }
}
