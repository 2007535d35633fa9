//! Address and port newtypes, so a linear address is never passed where a
//! physical one is expected.

use std::fmt;

/// log2 of the x86 small page size.
pub const PAGE_SHIFT: u32 = 12;
/// The x86 small page size (4 KiB).
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
/// Mask of the offset-within-page bits.
pub const PAGE_MASK: u64 = PAGE_SIZE - 1;

/// A guest physical address (32 bits on an i686, kept in a u64 so that the
/// top of the 4 GiB space and sizes can be expressed without overflow).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhysAddr(pub u64);

impl PhysAddr {
    /// Page frame number.
    pub const fn page(self) -> u64 {
        self.0 >> PAGE_SHIFT
    }
    /// Offset within the page.
    pub const fn offset(self) -> u64 {
        self.0 & PAGE_MASK
    }
}

impl fmt::Debug for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhysAddr({:#x})", self.0)
    }
}

impl fmt::Display for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// An x86 I/O port number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Port(pub u16);

impl fmt::Debug for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Port({:#06x})", self.0)
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x}", self.0)
    }
}
