//! Shared test code: the host-FPU oracle and the operand generator.
#![allow(dead_code)]

pub mod gen;
pub mod host;

/// How many random cases per operation: `F80_CASES`, else 10,000.
pub fn cases() -> usize {
    std::env::var("F80_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

/// The seed: `F80_SEED`, else fixed.
pub fn seed() -> u64 {
    std::env::var("F80_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x05EE_DF80)
}
