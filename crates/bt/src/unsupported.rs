//! The translator on hosts it does not support (anything but x86-64
//! Linux): the same API, but [`Bt::new`] fails with a clear message, so no
//! `Bt` ever exists and the machine runs the interpreter.

use crate::{BtStats, VideoMemory};
use cpu::{Bus, Cpu, Exit};

/// The binary translator engine (not available on this host).
#[derive(Debug)]
pub struct Bt {
    /// Print each translation (`--trace-translation`).
    pub trace: bool,
    /// Longest block in guest instructions.
    pub max_insns: u32,
    /// Check the budget at every block.
    pub check_every_block: bool,
    /// Counters.
    pub stats: BtStats,
    /// No value of this type exists: neither does a `Bt` here.
    never: std::convert::Infallible,
}

impl Bt {
    /// Always fails: the translator emits x86-64 code and relies on Linux.
    ///
    /// # Errors
    /// Always.
    pub fn new(bus: &Bus) -> std::io::Result<Self> {
        Self::with_cache_size(bus, 0)
    }

    /// As [`Bt::new`].
    ///
    /// # Errors
    /// Always.
    pub fn with_cache_size(_bus: &Bus, _bytes: usize) -> std::io::Result<Self> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "not in this build (it needs an x86-64 Linux host); use --engine interp",
        ))
    }

    /// Never runs (no `Bt` exists).
    pub fn run(&mut self, _cpu: &mut Cpu, _bus: &mut Bus, _budget: u64) -> Exit {
        match self.never {}
    }

    /// Never runs (no `Bt` exists).
    pub fn set_video(&mut self, _video: Box<dyn VideoMemory>) {
        match self.never {}
    }

    /// Never runs (no `Bt` exists).
    pub fn reset(&mut self) {
        match self.never {}
    }
}
