//! The PC's devices, one file per device. Each is a plain struct that
//! implements `mem`'s [`PortDevice`](mem::PortDevice) or
//! [`MmioDevice`](mem::MmioDevice); devices raise interrupt lines and
//! the [`Attention`](mem::Attention) flag, and never touch CPU state.

#![forbid(unsafe_code)]

pub mod clock;
pub mod debug_exit;
pub mod debugcon;
pub mod irq;

pub use clock::{Clock, Nanos, Timed};
pub use debug_exit::DebugExit;
pub use debugcon::{DebugCon, Sink};
pub use irq::{IrqLine, IrqSink};
