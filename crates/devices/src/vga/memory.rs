//! Video memory: four planes, the latches, and the graphics controller's
//! read and write pipelines (VGA graphics controller: write modes 0–3,
//! read modes 0–1, data rotate, logical function, set/reset, bit mask;
//! sequencer map mask, odd/even and chain-4 addressing).
//!
//! Storage is interleaved: byte `o` of plane `p` lives at byte `o * 4 + p`.
//! A chain-4 CPU address `a` therefore lands at byte `a`, which makes the
//! Bochs VBE linear framebuffer and the chain-4 (mode 13h) view the same
//! bytes. (Real chain-4 hardware leaves the plane offset at `a & !3`, so a
//! program that draws chained and then unchains sees its pixels packed
//! differently than on a real card; no BIOS or OS we target depends on it.)
//! Odd/even addressing keeps the plane offset at `a & !1`, as real hardware
//! does, so text written at B8000 is where the CRTC's word mode fetches it.
//!
//! The bytes live in a memfd ([`GuestRam`]) rather than a `Vec`, so that
//! the binary translator can map them a second time into its guest window
//! and let guest code store to the linear framebuffer and chain-4 memory
//! directly (see [`super::Vga::plain_windows`]). Because those stores
//! happen behind the device's back, this module never holds a Rust slice
//! of video memory: every access is a copy through [`GuestRam`]'s raw
//! reads and writes, which stay sound however the other mapping is used
//! (a `&[u8]` would promise that the bytes cannot change while it lives).
//!
//! Every store also marks its page dirty (a page is [`DIRTY_PAGE`] plane
//! offsets, i.e. 1 KiB of interleaved memory), so the renderer redraws only
//! the scan lines that read a changed page; a store to plane 2 also marks
//! the font dirty, because every text line may use any glyph. Stores made
//! through the translator's mapping are reported with [`Vram::mark_range`].

use super::regs::{
    Regs, GC_BIT_MASK, GC_COLOR_COMPARE, GC_COLOR_DONT_CARE, GC_DATA_ROTATE, GC_ENABLE_SET_RESET, GC_MODE,
    GC_MODE_ODD_EVEN, GC_MODE_READ_COMPARE, GC_READ_MAP, GC_SET_RESET, MEM_CHAIN4, MEM_ODD_EVEN_DISABLE,
    SEQ_MAP_MASK, SEQ_MEMORY_MODE,
};
use mem::GuestRam;
use std::io;

/// Plane offsets per dirty-tracking page (log2).
pub const DIRTY_SHIFT: u32 = 8;
/// Plane offsets per dirty-tracking page.
pub const DIRTY_PAGE: usize = 1 << DIRTY_SHIFT;

/// Video memory and the four latches.
pub struct Vram {
    /// Interleaved planes (see the module documentation).
    mem: GuestRam,
    /// Bytes of video memory (a multiple of 4).
    size: usize,
    /// The latches, loaded by every CPU read.
    pub latch: [u8; 4],
    /// One bit per page of plane offsets written since the last
    /// [`Vram::clear_dirty`].
    dirty: Vec<u64>,
    /// Some page is dirty.
    any_dirty: bool,
    /// Plane 2 (the fonts) was written.
    font_dirty: bool,
}

impl std::fmt::Debug for Vram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vram")
            .field("size", &self.size)
            .field("latch", &self.latch)
            .field("any_dirty", &self.any_dirty)
            .finish_non_exhaustive()
    }
}

/// Expand bit `p` of `v` to a whole byte.
fn expand(v: u8, p: usize) -> u8 {
    if v & (1 << p) != 0 {
        0xFF
    } else {
        0x00
    }
}

impl Vram {
    /// `size` bytes of zeroed video memory (a multiple of 4 KiB) in a
    /// fresh memfd.
    ///
    /// # Errors
    /// The host refused the memfd or its mapping.
    pub fn new(size: usize) -> io::Result<Self> {
        debug_assert!(size.is_multiple_of(4096), "video memory is whole pages");
        let pages = (size / 4).div_ceil(DIRTY_PAGE);
        Ok(Self {
            mem: GuestRam::new("strachey-vram", size)?,
            size,
            latch: [0; 4],
            dirty: vec![0; pages.div_ceil(64)],
            any_dirty: false,
            font_dirty: false,
        })
    }

    /// The memory, to be mapped elsewhere (its `fd`).
    pub fn memory(&self) -> &GuestRam {
        &self.mem
    }

    /// Bytes of video memory.
    pub fn len(&self) -> usize {
        self.size
    }

    /// Copy video memory from interleaved byte `i` into `buf`; bytes past
    /// the end read as `past_end`.
    pub fn read(&self, i: usize, buf: &mut [u8], past_end: u8) {
        let avail = self.size.saturating_sub(i).min(buf.len());
        self.mem.read(i, &mut buf[..avail]);
        buf[avail..].fill(past_end);
    }

    /// Interleaved byte `i` (the linear framebuffer's view), if it exists.
    pub fn byte(&self, i: usize) -> Option<u8> {
        (i < self.size).then(|| self.mem.read_byte(i))
    }

    /// Mark plane offset `off` of plane `p` written.
    fn mark(&mut self, off: usize, p: usize) {
        let page = off >> DIRTY_SHIFT;
        if let Some(w) = self.dirty.get_mut(page / 64) {
            *w |= 1 << (page % 64);
        }
        self.any_dirty = true;
        self.font_dirty |= p == 2;
    }

    /// Mark interleaved bytes `start..start + len` written (by someone the
    /// device did not see: the translator's mapping). Clipped at the end.
    pub fn mark_range(&mut self, start: usize, len: usize) {
        let end = start.saturating_add(len).min(self.size);
        if start >= end {
            return;
        }
        let (first, last) = (start / 4, (end - 1) / 4);
        for page in first >> DIRTY_SHIFT..=last >> DIRTY_SHIFT {
            if let Some(w) = self.dirty.get_mut(page / 64) {
                *w |= 1 << (page % 64);
            }
        }
        self.any_dirty = true;
        // Plane 2 is touched if some byte of the range sits at 2 mod 4
        // (any four consecutive bytes hold one).
        self.font_dirty |= end - start >= 4 || (start..end).any(|i| i % 4 == 2);
    }

    /// Store `v` at interleaved byte index `i` (the linear framebuffer's
    /// view), marking it dirty; out-of-range stores are dropped.
    pub fn store_linear(&mut self, i: usize, v: u8) {
        if i < self.size {
            self.mem.write_byte(i, v);
            self.mark(i / 4, i % 4);
        }
    }

    /// Set all of video memory to `v` and mark it dirty.
    pub fn fill(&mut self, v: u8) {
        self.mem.fill(0, self.size, v);
        self.mark_all_dirty();
    }

    /// Mark all of video memory dirty (after a bulk change such as a clear).
    pub fn mark_all_dirty(&mut self) {
        self.dirty.fill(!0);
        self.any_dirty = true;
        self.font_dirty = true;
    }

    /// Some page was written since the last [`Vram::clear_dirty`].
    pub fn any_dirty(&self) -> bool {
        self.any_dirty
    }

    /// Plane 2 was written since the last [`Vram::clear_dirty`].
    pub fn font_dirty(&self) -> bool {
        self.font_dirty
    }

    /// Some page holding plane offsets `first..=last` is dirty.
    pub fn range_dirty(&self, first: usize, last: usize) -> bool {
        if !self.any_dirty {
            return false;
        }
        let (lo, hi) = (first >> DIRTY_SHIFT, last >> DIRTY_SHIFT);
        (lo..=hi).any(|page| {
            self.dirty
                .get(page / 64)
                .is_some_and(|w| w & (1 << (page % 64)) != 0)
        })
    }

    /// Forget what was written (the renderer has caught up).
    pub fn clear_dirty(&mut self) {
        if self.any_dirty {
            self.dirty.fill(0);
        }
        self.any_dirty = false;
        self.font_dirty = false;
    }

    /// Bytes per plane.
    pub fn plane_size(&self) -> usize {
        self.size / 4
    }

    /// Byte `off` of plane `p` (the offset wraps at the plane size).
    #[inline]
    pub fn plane(&self, p: usize, off: usize) -> u8 {
        self.mem.read_byte((off % self.plane_size()) * 4 + (p & 3))
    }

    /// Store `v` as byte `off` of plane `p` (the offset wraps at the plane
    /// size), marking it dirty.
    pub fn set_plane(&mut self, p: usize, off: usize, v: u8) {
        let off = off % self.plane_size();
        let p = p & 3;
        self.mem.write_byte(off * 4 + p, v);
        self.mark(off, p);
    }

    /// A CPU read of window address `a` (already relative to the start of
    /// the selected memory map, bank applied).
    pub fn cpu_read(&mut self, regs: &Regs, a: u32) -> u8 {
        let a = a as usize;
        let (off, plane) = if regs.seq[SEQ_MEMORY_MODE] & MEM_CHAIN4 != 0 {
            (a >> 2, a & 3)
        } else if regs.gc[GC_MODE] & GC_MODE_ODD_EVEN != 0 {
            // Odd/even: A0 picks the plane within the pair chosen by bit 1
            // of the read map select.
            (a & !1, (regs.gc[GC_READ_MAP] as usize & 2) | (a & 1))
        } else {
            (a, regs.gc[GC_READ_MAP] as usize & 3)
        };
        for p in 0..4 {
            self.latch[p] = self.plane(p, off);
        }
        if regs.gc[GC_MODE] & GC_MODE_READ_COMPARE == 0 {
            return self.latch[plane];
        }
        // Read mode 1: a 1 bit for every pixel whose colour, over the planes
        // that "care", equals the colour compare register.
        let cc = regs.gc[GC_COLOR_COMPARE];
        let care = regs.gc[GC_COLOR_DONT_CARE];
        let mut r = 0xFF;
        for p in 0..4 {
            if care & (1 << p) != 0 {
                r &= !(self.latch[p] ^ expand(cc, p));
            }
        }
        r
    }

    /// A CPU write of `v` at window address `a`.
    pub fn cpu_write(&mut self, regs: &Regs, a: u32, v: u8) {
        let a = a as usize;
        let mm = regs.seq[SEQ_MEMORY_MODE];
        let (off, planes) = if mm & MEM_CHAIN4 != 0 {
            (a >> 2, 1u8 << (a & 3))
        } else if mm & MEM_ODD_EVEN_DISABLE == 0 {
            // Odd/even: even addresses go to planes 0 and 2, odd to 1 and 3.
            (a & !1, 0b0101u8 << (a & 1))
        } else {
            (a, 0x0F)
        };
        let planes = planes & regs.seq[SEQ_MAP_MASK];
        if planes == 0 {
            return;
        }
        let gc = &regs.gc;
        let rotate = u32::from(gc[GC_DATA_ROTATE] & 7);
        let func = (gc[GC_DATA_ROTATE] >> 3) & 3;
        let mut mask = gc[GC_BIT_MASK];
        let sr = gc[GC_SET_RESET];
        let esr = gc[GC_ENABLE_SET_RESET];
        let mut out = [0u8; 4];
        match gc[GC_MODE] & 3 {
            1 => out = self.latch,
            mode => {
                let rotated = v.rotate_right(rotate);
                if mode == 3 {
                    mask &= rotated;
                }
                for (p, o) in out.iter_mut().enumerate() {
                    let src = match mode {
                        0 if esr & (1 << p) != 0 => expand(sr, p),
                        0 => rotated,
                        2 => expand(v, p),
                        _ => expand(sr, p),
                    };
                    let l = self.latch[p];
                    let alu = match func {
                        0 => src,
                        1 => src & l,
                        2 => src | l,
                        _ => src ^ l,
                    };
                    *o = (alu & mask) | (l & !mask);
                }
            }
        }
        for (p, o) in out.iter().enumerate() {
            if planes & (1 << p) != 0 {
                self.set_plane(p, off, *o);
            }
        }
    }
}
