//! Strachey's x86 CPU: the architectural state of an i686-class processor
//! and the reference interpreter that gives it meaning.
//!
//! ```text
//!  Cpu::run ──► decode (iced-x86, cached blocks per physical page)
//!     │            │
//!     │            ▼
//!     │        interp/<group>.rs handlers ──► access.rs: segmentation
//!     │                                          │        (limits, rights)
//!     ▼                                          ▼
//!  intr.rs: exceptions,                     paging.rs walk ─► mem::Tlb
//!  interrupts, #DF/triple                        │
//!                                                ▼
//!                                          mem::PhysMemory / PortBus
//! ```
//!
//! The interpreter is the reference semantics: the binary translator is
//! checked against it, and falls back to it for anything it does not
//! translate. Guest exceptions are [`Fault`] values propagated with `?`;
//! a handler that returns a fault has committed nothing, so the run loop can
//! restart the instruction after delivering the exception.
//!
//! # Oracle API
//! Running user-level code one instruction at a time, as the host-CPU
//! oracle does:
//!
//! ```
//! use cpu::{Bus, Cpu};
//! use mem::{PhysAddr, PhysMemory};
//! let mut bus = Bus::new(PhysMemory::new(4).unwrap());
//! let mut cpu = Cpu::new();
//! cpu.state.set_flat32(3); // flat 32-bit protected mode, CPL 3, no paging
//! bus.mem.write(PhysAddr(0x1000), &[0x01, 0xd8]); // add eax, ebx
//! cpu.state.eip = 0x1000;
//! cpu.state.regs[0] = 2;
//! cpu.state.regs[3] = 3;
//! cpu.step(&mut bus).unwrap();
//! assert_eq!(cpu.state.regs[0], 5);
//! assert_eq!(cpu.state.eip, 0x1002);
//! ```
//!
//! [`Cpu::step`] executes exactly one instruction (a REP string instruction
//! may stop early after a chunk of iterations, leaving EIP on itself) and
//! returns a fault *without delivering it*: the state is then the state at
//! the fault, with EIP on the faulting instruction.

#![deny(unsafe_code)]

mod access;
mod bus;
mod cpu;
pub mod cpuid;
mod decode;
mod desc;
mod fault;
pub mod fpu;
mod interp;
mod intr;
mod paging;
mod seg;
mod state;
mod task;

pub use access::Access;

/// Whether the modelled CPU has instruction `i` (by its CPUID features): the
/// translator accepts only what the interpreter would.
pub fn supports(i: &iced_x86::Instruction) -> bool {
    interp::supported(i)
}
pub use bus::{Bus, InterruptController};
pub use cpu::{Cpu, Exit, Stats};
pub use fault::{vector, Fault, FaultClass, Res};
pub use intr::Source;
pub use paging::pf;
pub use state::{attr, cr0, cr4, flags, reg, CpuState, Msrs, SegReg, Segment, TableReg};
