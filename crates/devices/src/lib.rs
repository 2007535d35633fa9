//! The PC's devices, one file per device. Each is a plain struct that
//! implements `mem`'s [`PortDevice`](mem::PortDevice) or
//! [`MmioDevice`](mem::MmioDevice); devices raise interrupt lines and
//! the [`Attention`](mem::Attention) flag, and never touch CPU state.

#![forbid(unsafe_code)]

pub mod clock;
pub mod debug_exit;
pub mod debugcon;
pub mod disk;
pub mod dma8237;
pub mod fdc;
pub mod fwcfg;
pub mod i8042;
pub mod ide;
pub mod irq;
pub mod pci;
pub mod pic;
pub mod pit;
pub mod ps2kbd;
pub mod ps2mouse;
pub mod rtc;
pub mod sysctl;
pub mod uart;
pub mod vga;

pub use clock::{Clock, Nanos, Timed};
pub use debug_exit::DebugExit;
pub use debugcon::{DebugCon, Sink};
pub use irq::{IrqLine, IrqSink};
