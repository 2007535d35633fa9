//! The code cache: one memfd mapped twice, writable for the translator and
//! executable for the CPU, so no page is ever writable and executable at
//! once and nothing moves when it fills (it is flushed whole instead).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The code cache.
#[derive(Debug)]
pub struct CodeCache {
    _fd: OwnedFd,
    rw: *mut u8,
    rx: *const u8,
    len: usize,
    used: usize,
}

impl CodeCache {
    /// A cache of `len` bytes (rounded up to a page).
    ///
    /// # Errors
    /// The host refused the memfd or a mapping.
    pub fn new(len: usize) -> io::Result<Self> {
        let len = len.div_ceil(4096) * 4096;
        // SAFETY: memfd_create with a constant NUL-terminated name; the
        // result is checked and then owned.
        let raw = unsafe { libc::memfd_create(c"strachey-code".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: plain syscall on our descriptor.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let map = |prot| {
            // SAFETY: a fresh shared mapping of the whole file, checked below.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    prot,
                    libc::MAP_SHARED,
                    fd.as_raw_fd(),
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                Err(io::Error::last_os_error())
            } else {
                Ok(p.cast::<u8>())
            }
        };
        let rw = map(libc::PROT_READ | libc::PROT_WRITE)?;
        let rx = map(libc::PROT_READ | libc::PROT_EXEC)?;
        Ok(Self {
            _fd: fd,
            rw,
            rx,
            len,
            used: 0,
        })
    }

    /// Executable address of cache offset `off`.
    pub fn rx_addr(&self, off: usize) -> u64 {
        self.rx as u64 + off as u64
    }

    /// The executable view's range, for the signal handler.
    pub fn rx_range(&self) -> (u64, u64) {
        (self.rx as u64, self.rx as u64 + self.len as u64)
    }

    /// Offset where the next code will go.
    pub fn next_offset(&self) -> usize {
        self.used
    }

    /// Bytes left.
    pub fn room(&self) -> usize {
        self.len - self.used
    }

    /// Append `code` (already linked for its executable address
    /// `rx_addr(next_offset())`); returns its offset, or None when full.
    pub fn push(&mut self, code: &[u8]) -> Option<usize> {
        if code.len() > self.room() {
            return None;
        }
        let off = self.used;
        // SAFETY: `off + code.len() <= len`, the writable view is ours and
        // no Rust reference into it exists.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), self.rw.add(off), code.len()) };
        self.used += code.len().next_multiple_of(16);
        self.used = self.used.min(self.len);
        Some(off)
    }

    /// Overwrite bytes at `off` (patching a jump).
    pub fn patch(&mut self, off: usize, bytes: &[u8]) {
        assert!(off + bytes.len() <= self.used, "patch outside emitted code");
        // SAFETY: inside emitted code (checked), writable view.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.rw.add(off), bytes.len()) };
    }

    /// Forget everything after `keep` bytes (flush, keeping the runtime
    /// stubs at the start).
    pub fn truncate(&mut self, keep: usize) {
        self.used = keep.min(self.used);
    }
}

impl Drop for CodeCache {
    fn drop(&mut self) {
        // SAFETY: the two mappings made in `new`, each of `len` bytes.
        unsafe {
            libc::munmap(self.rw.cast(), self.len);
            libc::munmap(self.rx.cast_mut().cast(), self.len);
        }
    }
}
