//! Video memory as plain memory, for the binary translator: the memfd to
//! map, the guest ranges where accesses are plain ([`Vga::plain_windows`])
//! and the dirty-page protocol for stores the card does not see
//! ([`Vga::mark_vram_dirty`], [`Vga::dirty_epoch`]). The module
//! documentation of `super` and `docs/devices.md` give the overview.

use super::{memory_map, regs, Vga, LEGACY_WINDOW};

/// A guest-physical range where loads and stores are plain accesses to
/// video memory: guest byte `guest + i` is video memory byte
/// `vram_offset + i` for every `i < len`, read and written as is (see
/// [`Vga::plain_windows`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlainWindow {
    /// Guest-physical start.
    pub guest: u64,
    /// Offset into video memory ([`Vga::vram_fd`]).
    pub vram_offset: u64,
    /// Length in bytes.
    pub len: u64,
}

impl Vga {
    /// The memfd holding video memory: [`Vga::vram_len`] bytes, the four
    /// planes interleaved (byte `o` of plane `p` at `4 * o + p`), so that
    /// chain-4 memory and the linear framebuffer are linear in it. Map it
    /// `MAP_SHARED` to share the card's pages; the descriptor stays open
    /// as long as the card lives (a mapping made from it outlives both).
    pub fn vram_fd(&self) -> i32 {
        self.vram.memory().fd()
    }

    /// Bytes of video memory ([`super::VRAM_SIZE`]).
    pub fn vram_len(&self) -> u64 {
        self.vram.len() as u64
    }

    /// The guest-physical ranges where, with the registers as they are
    /// now, every load and store is exactly a load or store of video
    /// memory at a fixed offset: no plane masking, no write-mode logic, no
    /// latches needed. A translator may map video memory there (see
    /// [`Vga::vram_fd`]); everywhere else (and here too, always) the MMIO
    /// path is correct. At most two windows:
    ///
    /// - **the legacy window** (A0000, B0000 or B8000 as the memory map
    ///   select says; 128, 64 or 32 KiB) when CPU access is enabled (misc
    ///   bit 1), chain 4 is on, the map mask enables all four planes, and
    ///   the graphics controller passes the CPU's byte through unchanged:
    ///   write mode 0, read mode 0, no set/reset enabled, rotate 0,
    ///   function "replace", bit mask 0xFF. Chain-4 address `a` is video
    ///   memory byte `a` here, so the window is linear from offset 0 — or
    ///   from the Bochs VBE bank offset when VBE is enabled and the memory
    ///   map is A0000/64K (the banked window of a VBE mode without LFB);
    /// - **the linear framebuffer**, at BAR0 when the guest has set it and
    ///   enabled memory decoding, over all of video memory (in every mode:
    ///   the LFB is always linear).
    ///
    /// A real VGA loads the four latches on every read of the legacy
    /// window, and a mapped window does not (the card never sees those
    /// reads). Nothing can observe the difference while the window is
    /// listed, since all of the listed conditions keep the latches out of
    /// both the read and the write path. Once the guest switches to a mode
    /// that uses them (write mode 1, a bit mask, a logical function, read
    /// mode 1) the window is gone and accesses are MMIO again, and the
    /// latches hold what the card last read itself. A program that *reads*
    /// through a pass-through chain-4 window and only *then* switches to
    /// write mode 1 to store the latched byte would see stale latches; the
    /// latch-copy idiom sets write mode 1 first and does its reads under
    /// it, so it is unaffected.
    ///
    /// The guest addresses are where the card decodes them; the board
    /// decides whether the address reaches the card at all (see
    /// `machine::Machine::vga_plain_windows`, which keeps only the windows
    /// the board routes to the VGA).
    pub fn plain_windows(&self) -> Vec<PlainWindow> {
        self.windows.iter().flatten().copied().collect()
    }

    /// Changes exactly when [`Vga::plain_windows`] would return something
    /// new (a register, a VBE bank or enable, a BAR or the PCI command
    /// register changed it). A translator compares it with the value it
    /// mapped at before entering guest code and after every device access
    /// it makes for the guest: an `out` to the graphics controller can
    /// end a window in the middle of a block.
    pub fn windows_generation(&self) -> u64 {
        self.windows_generation
    }

    /// Report that video memory bytes `vram_offset..vram_offset + len`
    /// were (or are about to be) stored to through a mapping the card does
    /// not see: their pages are redrawn at the next [`Vga::update_frame`]
    /// (and the fonts reloaded if a plane-2 byte is among them).
    ///
    /// The protocol for a translator that maps [`Vga::plain_windows`]:
    /// 1. map the windows' pages read-only (loads need no help: the card
    ///    reads the same pages);
    /// 2. on the first store to a page, call `mark_vram_dirty` for that
    ///    page, then make the page writable and let the store go on;
    /// 3. before entering guest code, and on returning to it from any
    ///    device access (the frame-capture port draws a frame inside an
    ///    `out`), compare [`Vga::dirty_epoch`] with the epoch the pages
    ///    were made writable in: if it changed, the renderer has drawn (and
    ///    forgotten) those pages, so write-protect them all again before
    ///    the next guest instruction, and go on from 1.
    ///
    /// Marking a page before the store lands (step 2) and re-protecting
    /// before guest code runs on (step 3) is what makes no store go
    /// unseen: dirty state is cleared only in [`Vga::update_frame`], which
    /// never runs in the middle of a guest instruction's store.
    pub fn mark_vram_dirty(&mut self, vram_offset: u64, len: u64) {
        let Ok(start) = usize::try_from(vram_offset) else {
            return;
        };
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.vram.mark_range(start, len);
        self.display_generation += 1;
    }

    /// Bumped each time [`Vga::update_frame`] consumes dirty video memory
    /// (after drawing the frame): pages marked with
    /// [`Vga::mark_vram_dirty`] before the bump are clean again, so a
    /// translator must write-protect them again to see the next stores.
    /// When nothing was dirty the epoch stays, so an idle screen costs the
    /// translator nothing.
    pub fn dirty_epoch(&self) -> u64 {
        self.dirty_epoch
    }

    /// Recompute the plain windows after a register change.
    pub(super) fn refresh_windows(&mut self) {
        let now = [self.legacy_plain_window(), self.lfb_plain_window()];
        if now != self.windows {
            self.windows = now;
            self.windows_generation += 1;
        }
    }

    /// The legacy window, if CPU accesses to it are plain (see
    /// [`Vga::plain_windows`] for the conditions).
    fn legacy_plain_window(&self) -> Option<PlainWindow> {
        use regs::{
            GC_BIT_MASK, GC_DATA_ROTATE, GC_ENABLE_SET_RESET, GC_MISC, GC_MODE, GC_MODE_READ_COMPARE,
            MEM_CHAIN4, MISC_RAM_ENABLE, SEQ_MAP_MASK, SEQ_MEMORY_MODE,
        };
        let r = &self.regs;
        let gc = &r.gc;
        let pass_through = r.misc & MISC_RAM_ENABLE != 0
            && r.seq[SEQ_MEMORY_MODE] & MEM_CHAIN4 != 0
            && r.seq[SEQ_MAP_MASK] & 0x0F == 0x0F
            // Write mode 0 (bits 0–1) and read mode 0 (bit 3).
            && gc[GC_MODE] & (0x03 | GC_MODE_READ_COMPARE) == 0
            && gc[GC_ENABLE_SET_RESET] & 0x0F == 0
            // Rotate count (bits 0–2) 0, function (bits 3–4) "replace".
            && gc[GC_DATA_ROTATE] & 0x1F == 0
            && gc[GC_BIT_MASK] == 0xFF;
        if !pass_through {
            return None;
        }
        let map = (gc[GC_MISC] >> 2) & 3;
        let (base, size) = memory_map(map);
        let bank = if map == 1 && self.dispi.enabled() {
            u64::from(self.dispi.bank_offset())
        } else {
            0
        };
        (bank + size <= self.vram_len()).then_some(PlainWindow {
            guest: LEGACY_WINDOW + base,
            vram_offset: bank,
            len: size,
        })
    }

    /// The linear framebuffer, if BAR0 is decoded.
    fn lfb_plain_window(&self) -> Option<PlainWindow> {
        self.lfb_mapping().map(|guest| PlainWindow {
            guest,
            vram_offset: 0,
            len: self.vram_len(),
        })
    }
}
