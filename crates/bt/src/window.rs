//! The guest window: a 4 GiB host reservation at the GS base in which guest
//! physical memory appears at its guest address, so translated code reaches
//! guest memory with `gs:` and a 32-bit address size (the host then wraps
//! effective addresses mod 2^32 exactly as the guest would).
//!
//! With paging off (the only case translated so far) guest-linear equals
//! guest-physical: RAM is mapped once, read-write; the BIOS ROM read-only
//! at the top of 4 GiB; shadow RAM in 0xC0000–0xFFFFF as the chipset's PAM
//! registers route it (read-write, or read-only when writes go elsewhere);
//! everything else — the VGA window 0xA0000–0xBFFFF, legacy-area pages
//! whose reads come from ROM, MMIO, holes — stays inaccessible, so an
//! access there faults and the instruction is emulated by the interpreter.
//! Pages holding translated code are made read-only, so a guest write to
//! them faults too and is handled as self-modifying code.

use mem::PhysMemory;
use std::io;

const FOUR_GIB: u64 = 1 << 32;
/// Beyond 4 GiB: an access near the top (a wide operand at 0xFFFFFFFF)
/// runs this far past the end.
const GUARD: u64 = 1 << 16;
const LEGACY: std::ops::Range<u64> = 0xA0000..0x100000;
const SHADOW: std::ops::Range<u64> = 0xC0000..0x100000;
const PAGE: u64 = 4096;
const SHADOW_PAGES: usize = ((SHADOW.end - SHADOW.start) / PAGE) as usize;

/// The guest window. Its base is 4 GiB-aligned, so the low 32 bits of a
/// host address inside it are the guest address: host string instructions
/// can run on rebased RSI/RDI, and truncating them back to 32 bits (or
/// reading them at a fault) gives the guest's ESI/EDI.
#[derive(Debug)]
pub struct Window {
    base: *mut u8,
    ram_size: u64,
    /// How each shadow page (0xC0000–0xFFFFF) is mapped: 0 not at all,
    /// 1 RAM read-only, 2 RAM read-write.
    shadow: [u8; SHADOW_PAGES],
    /// The whole reservation (for unmapping).
    reserved: (*mut u8, usize),
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl Window {
    /// Reserve the window and map `mem`'s RAM and ROM into it.
    ///
    /// # Errors
    /// The host refused the reservation or a mapping.
    pub fn new(mem: &PhysMemory) -> io::Result<Self> {
        // Twice the size, to find a 4 GiB-aligned base inside.
        let len = (2 * FOUR_GIB + GUARD) as usize;
        // SAFETY: an anonymous PROT_NONE reservation; checked below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let aligned = (base as u64).next_multiple_of(FOUR_GIB);
        let w = Self {
            base: aligned as *mut u8,
            ram_size: mem.ram_size(),
            shadow: [0; SHADOW_PAGES],
            reserved: (base.cast(), len),
        };
        w.map_fd(
            0,
            mem.ram_size(),
            mem.ram().fd(),
            0,
            libc::PROT_READ | libc::PROT_WRITE,
        )?;
        // The legacy area is not plain RAM (VGA window, BIOS shadow).
        w.protect(LEGACY.start, LEGACY.end - LEGACY.start, libc::PROT_NONE)?;
        if let Some(rom) = mem.rom() {
            let size = rom.len() as u64;
            w.map_fd(FOUR_GIB - size, size, rom.fd(), 0, libc::PROT_READ)?;
        }
        Ok(w)
    }

    fn map_fd(&self, at: u64, len: u64, fd: i32, off: u64, prot: libc::c_int) -> io::Result<()> {
        // SAFETY: MAP_FIXED inside our own reservation (at + len <= 4 GiB),
        // replacing only pages of the reservation.
        let p = unsafe {
            libc::mmap(
                self.base.add(at as usize).cast(),
                len as usize,
                prot,
                libc::MAP_SHARED | libc::MAP_FIXED,
                fd,
                off as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    fn protect(&self, at: u64, len: u64, prot: libc::c_int) -> io::Result<()> {
        // SAFETY: inside our reservation; mprotect only changes permissions.
        check(unsafe { libc::mprotect(self.base.add(at as usize).cast(), len as usize, prot) })
    }

    /// The GS base translated code runs with.
    pub fn base(&self) -> u64 {
        self.base as u64
    }

    /// Whether guest physical page `page` (number) is RAM mapped
    /// read-write here (when it holds no translated code).
    pub fn is_ram_page(&self, page: u64) -> bool {
        let a = page * PAGE;
        if SHADOW.contains(&a) {
            return self.shadow[((a - SHADOW.start) / PAGE) as usize] == 2;
        }
        a < self.ram_size && !LEGACY.contains(&a)
    }

    /// Map shadow RAM in 0xC0000–0xFFFFF as `mem` routes it now (after the
    /// chipset's PAM registers changed): read-write where both reads and
    /// writes go to RAM (read-only where `code(page)`: it holds translated
    /// code), read-only where only reads do, not at all elsewhere.
    pub fn sync_shadow(&mut self, mem: &PhysMemory, code: impl Fn(u64) -> bool) -> io::Result<()> {
        for k in 0..SHADOW_PAGES {
            let a = SHADOW.start + k as u64 * PAGE;
            let ram =
                |write| matches!(mem.region_for(mem::PhysAddr(a), write), mem::Region::Ram(o) if o == a);
            let want = match (ram(false), ram(true)) {
                (true, true) => 2,
                (true, false) => 1,
                _ => 0,
            };
            if want == self.shadow[k] {
                continue;
            }
            if self.shadow[k] == 0 {
                self.map_fd(a, PAGE, mem.ram().fd(), a, libc::PROT_READ)?;
            }
            let prot = match want {
                2 if !code(a / PAGE) => libc::PROT_READ | libc::PROT_WRITE,
                2 | 1 => libc::PROT_READ,
                _ => libc::PROT_NONE,
            };
            self.protect(a, PAGE, prot)?;
            self.shadow[k] = want;
        }
        Ok(())
    }

    /// Map `len` bytes of the file `fd` from `off` at guest address `at`
    /// (video memory: a VGA window, a linear framebuffer), read-only or
    /// read-write. The range must lie outside RAM and ROM.
    pub fn map_file(&self, at: u64, len: u64, fd: i32, off: u64, writable: bool) -> io::Result<()> {
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        self.map_fd(at, len, fd, off, prot)
    }

    /// Make `len` bytes at guest address `at` inaccessible again (a mapping
    /// made with `map_file` ends): anonymous PROT_NONE pages replace it, as
    /// in the rest of the reservation.
    pub fn unmap(&self, at: u64, len: u64) -> io::Result<()> {
        // SAFETY: MAP_FIXED inside our own reservation, replacing a mapping
        // this window made; no Rust reference points into the window.
        let p = unsafe {
            libc::mmap(
                self.base.add(at as usize).cast(),
                len as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Make a page of a `map_file` mapping read-only or writable.
    pub fn protect_page(&self, page: u64, writable: bool) -> io::Result<()> {
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        self.protect(page * PAGE, PAGE, prot)
    }

    /// Make a RAM page read-only (it holds translated code) or writable
    /// again. Pages that are not plain RAM are left alone.
    pub fn set_code_page(&self, page: u64, code: bool) -> io::Result<()> {
        if !self.is_ram_page(page) {
            return Ok(());
        }
        let prot = if code {
            libc::PROT_READ
        } else {
            libc::PROT_READ | libc::PROT_WRITE
        };
        self.protect(page * PAGE, PAGE, prot)
    }

    /// Point this thread's GS base at the window.
    pub fn activate(&self) -> io::Result<()> {
        const ARCH_SET_GS: libc::c_long = 0x1001;
        // SAFETY: arch_prctl(ARCH_SET_GS) changes only this thread's GS
        // base, which Rust code on x86-64 Linux does not use (TLS is FS).
        let r = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_SET_GS, self.base as libc::c_long) };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        // SAFETY: the whole reservation made in `new`.
        unsafe {
            libc::munmap(self.reserved.0.cast(), self.reserved.1);
        }
    }
}
