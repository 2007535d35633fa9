//! Test-only harnesses for Strachey.
//!
//! The host-CPU oracle lives here: [`run_native`] executes a 32-bit user-level
//! instruction on the real host CPU (in compatibility mode, inside this 64-bit process)
//! from a given [`UserState`] and reports the [`Outcome`]. [`gen`] produces random cases
//! for many instruction forms, and [`flags`] says which results the Intel SDM leaves
//! undefined so that a comparison with the interpreter can ignore them. The integration
//! test `tests/oracle.rs` runs the same cases through the interpreter and diffs.
//!
//! Nothing in the emulator depends on this crate; it sits beside `cpu` and is used only
//! by tests.

pub mod diff;
pub mod flags;
pub mod gen;
pub mod state;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod native;

pub use gen::{forms, generate, Case, Form, Rng};
pub use state::{Outcome, UserState, DATA_BASE, DATA_SIZE};

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub use native::{native_available, run_native};
