//! Guest RAM: one memfd, mapped shared into this process.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;

/// A block of guest memory backed by a memfd. RAM is one of these; the BIOS
/// ROM is another. Cloning shares the same pages.
///
/// The mapping lives as long as any clone, so host pointers taken from it
/// (see [`GuestRam::host_ptr`]) stay valid while the holder keeps a clone.
///
/// No method hands out a `&[u8]` or `&mut [u8]` into the pages, on
/// purpose: the same pages may be mapped again (the translator's window,
/// [`GuestRam::map_again`]) and stored to through that mapping while such
/// a slice lived, which Rust's aliasing rules forbid even on one thread
/// (a shared slice promises the bytes do not change under it). Every
/// access is a raw copy in or out ([`GuestRam::read`], [`GuestRam::write`],
/// [`GuestRam::read_byte`], ...) that holds no reference across a point
/// where other code may run, so a store through another mapping between
/// two accesses is simply seen by the second.
#[derive(Clone, Debug)]
pub struct GuestRam(Arc<Mapping>);

#[derive(Debug)]
struct Mapping {
    fd: OwnedFd,
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; concurrent access to guest RAM
// is the guest's business (as on real hardware), and every access goes
// through unaligned raw reads/writes, never through Rust references.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are exactly what mmap returned, and no
        // pointer into the mapping outlives the last `Arc` to it.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

impl GuestRam {
    /// Create `len` bytes (rounded up to a page) of zeroed guest memory.
    ///
    /// # Errors
    /// The host refused the memfd or the mapping.
    pub fn new(name: &str, len: usize) -> io::Result<Self> {
        let len = len.max(1).div_ceil(4096) * 4096;
        let cname = CString::new(name).map_err(|_| io::Error::other("bad memfd name"))?;
        // SAFETY: memfd_create takes a NUL-terminated name and flags; the
        // returned descriptor is checked and then owned.
        let raw = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let size = libc::off_t::try_from(len).map_err(|_| io::Error::other("RAM too large"))?;
        // SAFETY: plain syscall on a descriptor we own.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), size) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Self::map(fd, len)
    }

    /// Map the whole file `fd`, `len` bytes long, read-write and shared.
    fn map(fd: OwnedFd, len: usize) -> io::Result<Self> {
        // SAFETY: a fresh shared mapping of the whole file, whose size is
        // `len`; the result is checked against MAP_FAILED before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_NORESERVE,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("null mapping"))?;
        Ok(Self(Arc::new(Mapping { fd, base, len })))
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.0.len
    }

    /// Whether the block is empty (never: sizes round up to a page).
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// The memfd, for mapping the same pages elsewhere.
    pub fn fd(&self) -> i32 {
        self.0.fd.as_raw_fd()
    }

    /// Host address of byte `offset`. Valid while a clone of `self` lives.
    ///
    /// # Panics
    /// `offset` is past the end.
    pub fn host_ptr(&self, offset: usize) -> *mut u8 {
        assert!(
            offset < self.0.len,
            "guest memory offset {offset:#x} out of range"
        );
        // SAFETY: in bounds of the mapping (checked above).
        unsafe { self.0.base.as_ptr().add(offset) }
    }

    /// Copy out `buf.len()` bytes at `offset`; bytes past the end read as 0xFF.
    pub fn read(&self, offset: usize, buf: &mut [u8]) {
        let avail = self.0.len.saturating_sub(offset).min(buf.len());
        if avail > 0 {
            // SAFETY: `offset..offset+avail` lies inside the mapping, and
            // `buf` is a distinct Rust buffer.
            unsafe {
                std::ptr::copy_nonoverlapping(self.0.base.as_ptr().add(offset), buf.as_mut_ptr(), avail);
            }
        }
        buf[avail..].fill(0xff);
    }

    /// Copy `buf` in at `offset`; bytes past the end are dropped.
    pub fn write(&self, offset: usize, buf: &[u8]) {
        let avail = self.0.len.saturating_sub(offset).min(buf.len());
        if avail > 0 {
            // SAFETY: as in `read`, with the roles of the buffers swapped.
            unsafe {
                std::ptr::copy_nonoverlapping(buf.as_ptr(), self.0.base.as_ptr().add(offset), avail);
            }
        }
    }

    /// The byte at `offset` (0xFF past the end): [`GuestRam::read`] for
    /// one byte, without the copy loop, for devices that walk their memory
    /// byte by byte.
    #[inline]
    pub fn read_byte(&self, offset: usize) -> u8 {
        if offset < self.0.len {
            // SAFETY: in bounds (checked above); a raw load, so no Rust
            // reference to memory another mapping may change is created.
            unsafe { self.0.base.as_ptr().add(offset).read() }
        } else {
            0xff
        }
    }

    /// Store `v` at `offset` (dropped past the end).
    #[inline]
    pub fn write_byte(&self, offset: usize, v: u8) {
        if offset < self.0.len {
            // SAFETY: in bounds (checked above); a raw store, as in `read_byte`.
            unsafe { self.0.base.as_ptr().add(offset).write(v) }
        }
    }

    /// Set `len` bytes at `offset` to `v` (clipped at the end).
    pub fn fill(&self, offset: usize, len: usize, v: u8) {
        let avail = self.0.len.saturating_sub(offset).min(len);
        if avail > 0 {
            // SAFETY: `offset..offset+avail` lies inside the mapping.
            unsafe { std::ptr::write_bytes(self.0.base.as_ptr().add(offset), v, avail) }
        }
    }

    /// The same pages mapped a second time, at another host address, the
    /// way the binary translator maps them into its window: a store
    /// through either mapping is seen by loads through the other. Also
    /// what tests use to stand in for the translator.
    ///
    /// # Errors
    /// The host refused to duplicate the descriptor or to map it.
    pub fn map_again(&self) -> io::Result<Self> {
        Self::map(self.0.fd.try_clone()?, self.0.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_pages_and_bounds_hold() {
        let ram = GuestRam::new("test", 5000).unwrap();
        assert_eq!(ram.len(), 8192);
        let other = ram.clone();
        ram.write(8190, &[1, 2, 3, 4]);
        let mut b = [0u8; 4];
        other.read(8190, &mut b);
        assert_eq!(b, [1, 2, 0xff, 0xff]);
    }

    #[test]
    fn a_second_mapping_shares_the_pages() {
        let ram = GuestRam::new("test", 4096).unwrap();
        let again = ram.map_again().unwrap();
        assert_ne!(ram.host_ptr(0), again.host_ptr(0), "another host address");
        again.write_byte(10, 0x5A);
        assert_eq!(ram.read_byte(10), 0x5A);
        ram.fill(100, 8, 0xC3);
        let mut b = [0u8; 10];
        again.read(99, &mut b);
        assert_eq!(b, [0, 0xC3, 0xC3, 0xC3, 0xC3, 0xC3, 0xC3, 0xC3, 0xC3, 0]);
        assert_eq!(again.read_byte(4096), 0xff, "past the end");
        again.write_byte(4096, 1);
        ram.fill(4090, 100, 7);
        assert_eq!(again.read_byte(4095), 7);
        drop(ram);
        assert_eq!(again.read_byte(10), 0x5A, "each mapping lives on its own");
    }
}
