//! Guest physical memory: the bottom of Strachey's house.
//!
//! Everything that turns a guest *physical* address or an I/O port number
//! into an effect lives here:
//!
//! - [`GuestRam`]: guest RAM as one memfd, mapped once into this process.
//!   The binary translator will later map the same pages again into shadow
//!   address spaces, which is why RAM is a file and not a `Vec`.
//! - [`PhysMemory`]: the physical map of a PC — RAM, the BIOS ROM at the top
//!   of 4 GiB with its last 128 KiB aliased below 1 MiB, MMIO regions, holes
//!   — and the A20 gate.
//! - [`PortBus`]: port-I/O dispatch over a range map that rejects overlaps.
//! - [`Tlb`]: a direct-mapped software TLB from linear pages to host
//!   pointers, used by the interpreter so that a RAM access costs a tag
//!   compare and a load.
//! - [`Attention`]: a flag any device (or thread) raises to make the CPU
//!   loop look up from its work (pending interrupt, exit request, ...).
//!
//! Nothing here knows about segmentation, paging or the CPU; the `cpu`
//! crate fills the TLB after its own page walk.

mod addr;
mod attention;
mod bus;
mod phys;
mod ram;
mod tlb;

pub use addr::{PhysAddr, Port, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE};
pub use attention::{Attention, Waker};
pub use bus::{MmioDevice, PortBus, PortDevice, Shared};
pub use phys::{Dma, MemError, PhysMemory, Region, ShadowControl, BIOS_ALIAS_SIZE, CODE_GRANULE};
pub use ram::GuestRam;
pub use tlb::{Tlb, TlbEntry, TLB_SIZE};
