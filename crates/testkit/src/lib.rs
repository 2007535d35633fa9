//! Test-only harnesses for Strachey.
//!
//! The host-CPU oracle lives here. [`run_native`] executes 32-bit user-level code on the
//! real host CPU (in compatibility mode, inside this 64-bit process; see [`native`] for
//! how and why) from a given [`UserState`] — registers, EFLAGS and a 4 KiB data window at
//! [`DATA_BASE`] — and reports the [`Outcome`]: the state after it, or the exception it
//! raised and the state at the fault.
//!
//! [`gen`] draws random cases for several hundred instruction forms (every legacy
//! encoding, valid in 32-bit mode, of the ALU, shift, multiply/divide, BCD, bit, exchange,
//! CMOV/SETcc, flag, conversion, move, stack, loop, trap and string mnemonics, and their
//! LOCK variants), with register values biased toward edge cases and memory operands
//! inside the window. [`flags`] is the table of what the Intel SDM leaves undefined,
//! and [`diff`] compares two outcomes with it and formats a readable report.
//!
//! [`fp`] does the same for every x87, MMX and FXSAVE/FXRSTOR form of the modelled
//! Pentium II (groups `x87`, `x87mem`, `x87trans`, `fpenv`, `mmx`): the case state then
//! carries the FPU as an FXSAVE image ([`state::FpuState`]), which the native runner
//! loads with FXRSTOR and reads back with FXSAVE and FNSTENV, and every case ends in
//! FWAIT so that unmasked exceptions surface as #MF. [`fpdiff`] compares the FPU state
//! and accepts exactly the deviations listed, with reasons, in
//! `known_deviations_x87.txt`.
//!
//! [`oracle`] is the driver: the machine a case runs in under one of the emulator's
//! engines, how its result is read back, and the loop over every form. `tests/oracle.rs`
//! runs every form through the host and through the interpreter (`cpu::Cpu::step`) and
//! fails on any difference; `STRACHEY_ORACLE_CASES`, `STRACHEY_ORACLE_GROUPS` and
//! `STRACHEY_ORACLE_SEED` tune it. The translator's `crates/bt/tests/oracle.rs` does the
//! same for `bt::Bt`.
//!
//! Nothing in the emulator depends on this crate; it sits beside `cpu` and is used only
//! by tests.

pub mod diff;
pub mod flags;
pub mod fp;
pub mod fpdiff;
pub mod gen;
pub mod state;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod native;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod oracle;

pub use fp::fp_forms;
pub use gen::{forms, generate, Case, Form, Rng};
pub use state::{Outcome, UserState, DATA_BASE, DATA_SIZE};

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub use native::{native_available, run_native};
