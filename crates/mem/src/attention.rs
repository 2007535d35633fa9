//! The attention flag: how devices and other threads interrupt the CPU loop.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A cheap, cloneable flag word. The CPU loop tests it between instructions
/// (interpreter) or at block entry (translator); anyone holding a clone may
/// raise bits from any thread.
///
/// Translated code does not read the word while it runs (a test of memory
/// would cost flags the guest owns). An engine that runs code that long
/// registers a waker ([`Attention::set_waker`]), which `raise` calls after
/// setting the bits: the translator's makes its thread leave translated code
/// at the next block boundary.
#[derive(Clone, Default)]
pub struct Attention(Arc<Inner>);

#[derive(Default)]
struct Inner {
    bits: AtomicU32,
    waker: Mutex<Option<Waker>>,
}

/// What [`Attention::raise`] calls after raising bits.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for Attention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attention")
            .field("bits", &self.get())
            .field("waker", &self.waker().is_some())
            .finish()
    }
}

impl Attention {
    /// An interrupt line may have changed: re-evaluate pending interrupts.
    pub const IRQ: u32 = 1 << 0;
    /// Someone asked the run loop to stop (debug exit, reset, user request).
    pub const STOP: u32 = 1 << 1;

    /// A new, clear flag.
    pub fn new() -> Self {
        Self::default()
    }
    /// Raise `bits`, then wake the engine if one registered a waker.
    pub fn raise(&self, bits: u32) {
        // SeqCst: the engine stores "running translated code" and then
        // loads these bits; a raiser stores the bits and then (in the
        // waker) loads that state. One of the two sees the other.
        self.0.bits.fetch_or(bits, Ordering::SeqCst);
        if let Some(wake) = self.waker() {
            wake();
        }
    }
    /// Current bits, without clearing them.
    pub fn get(&self) -> u32 {
        self.0.bits.load(Ordering::SeqCst)
    }
    /// Clear `bits`, returning the bits that were set before.
    pub fn clear(&self, bits: u32) -> u32 {
        self.0.bits.fetch_and(!bits, Ordering::AcqRel)
    }
    /// Register the waker `raise` calls, replacing any other (the engine
    /// running the machine's CPU now). It runs on the raising thread, often
    /// the CPU's own, so it must be cheap when there is nothing to wake.
    pub fn set_waker(&self, waker: Waker) {
        *self.0.waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(waker);
    }
    /// The registered waker.
    pub fn waker(&self) -> Option<Waker> {
        self.0
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn raise_sets_bits_and_calls_the_waker_from_any_thread() {
        let a = Attention::new();
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        a.set_waker(Arc::new(|| panic!("replaced")));
        a.set_waker(Arc::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        let b = a.clone();
        std::thread::spawn(move || b.raise(Attention::STOP))
            .join()
            .unwrap();
        assert_eq!(a.get(), Attention::STOP);
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        assert_eq!(a.clear(Attention::STOP), Attention::STOP);
        assert_eq!(a.get(), 0);
    }
}
