//! A VGA with the Bochs VBE extensions, on PCI as QEMU's "std VGA"
//! (1234:1111, class 0300) — the card `vgabios-stdvga.bin` drives.
//!
//! Implemented:
//! - the VGA registers at 0x3B0–0x3DF (`regs.rs`): miscellaneous output
//!   (bit 0 moves the CRTC and input status 1 between 0x3Dx and 0x3Bx),
//!   sequencer, CRTC with the register 0x11 write protect, graphics
//!   controller, attribute controller with its index/data flip-flop and
//!   palette address source bit, the DAC (6-bit components in three-byte
//!   cycles, pixel mask, DAC state), input status 1 with a vertical retrace
//!   and display-enable bit driven by the guest clock (60 Hz frame, retrace
//!   the last twentieth, 31.8 µs lines), feature control, video enable;
//! - 16 MiB of video memory as four planes with the full CPU pipeline
//!   (`memory.rs`): memory map select (A0000/128K, A0000/64K, B0000/32K,
//!   B8000/32K), odd/even, chain 4, write modes 0–3, read modes 0–1,
//!   latches, rotate, logical function, set/reset, bit mask, map mask,
//!   the misc RAM-enable bit;
//! - the Bochs dispi interface at 0x1CE/0x1CF (`dispi.rs`) with the 64 KiB
//!   banked window at A0000;
//! - reading back the text screen with its cursor, start address and
//!   colours, and code page 437 → Unicode (`text.rs`);
//! - drawing the screen as a [`Frame`] of RGB pixels for the window and
//!   screenshots (`render.rs`: text from the fonts in plane 2, 16-colour
//!   planar, CGA, 256-colour chained and unchained, Bochs VBE at every
//!   depth; split screen, panning, blink and cursor), redrawing only the
//!   lines whose registers or memory changed; optionally the overscan
//!   border around it; PNG encoding (`frame.rs`);
//! - a frame-capture port for tests (`capture.rs`);
//! - the PCI function (`pci.rs`): BAR0 linear framebuffer, BAR2 MMIO (EDID,
//!   VGA ports, dispi registers), and the expansion ROM holding the VGA
//!   BIOS image.
//!
//! Not implemented (yet): the vertical retrace interrupt, light pen,
//! MDA/CGA/EGA register aliases at 0x3B8,
//! 0x3D8, 0x3D9, the odd/even page select (misc bit 5) and chain odd/even
//! (graphics controller 6 bit 1), which no BIOS mode relies on.
//!
//! The legacy ports and the A0000 window decode whatever the PCI command
//! register says, as on QEMU (a PCI VGA's legacy ranges are positively
//! decoded from power-on so that the BIOS can print before PCI setup).
//!
//! # How the board wires it
//! Ports: [`Vga::PORTS`]. The legacy window: `Shared<Vga>` is itself the
//! [`MmioDevice`] for [`LEGACY_WINDOW`] .. + [`LEGACY_WINDOW_SIZE`]. PCI: the
//! same `Shared<Vga>` is the [`PciFunction`] for 00:02.0. Its BAR windows
//! move when the guest programs them: [`Vga::pci_windows`] lists where
//! each is decoded now and [`Vga::mapping_generation`] changes whenever
//! that list does; [`VgaLfb`], [`VgaMmio`] and [`VgaRom`] are the
//! `MmioDevice`s for the three windows (offsets relative to the window),
//! and [`Vga::pci_window_at`] / [`Vga::pci_read`] / [`Vga::pci_write`]
//! serve a board that prefers to route one big PCI hole itself.
//!
//! # Video memory as plain memory (for the binary translator)
//! Video memory is a memfd ([`Vga::vram_fd`], [`Vga::vram_len`]) that a
//! translator may map into its guest window. [`Vga::plain_windows`] lists
//! the guest-physical ranges where, with the registers as they are, a load
//! or store is exactly a load or store of video memory at a fixed offset
//! (the linear framebuffer, chain-4 memory with a pass-through graphics
//! controller, the VBE bank window); [`Vga::windows_generation`] changes
//! when that list does. Everything else (planar memory, write modes 1–3,
//! read mode 1, ...) stays MMIO. Stores made through such a mapping are
//! invisible to the card, so the translator reports them with
//! [`Vga::mark_vram_dirty`], following the protocol described there and
//! at [`Vga::dirty_epoch`].

pub mod capture;
pub mod dispi;
mod frame;
mod memory;
mod modes;
pub mod pci;
mod plain;
pub mod regs;
pub mod render;
mod text;

#[cfg(test)]
mod plain_tests;
#[cfg(test)]
mod tests;

pub use capture::{Capture, FrameCapture, FRAME_CAPTURE_PORT};
pub use dispi::{DISPI_DATA, DISPI_INDEX};
pub use frame::{Frame, FrameError};
pub use plain::PlainWindow;
pub use render::Blink;
pub use text::{cp437_to_char, Cell, Cursor, TextScreen};

use crate::clock::Clock;
use crate::pci::{ConfigSpace, PciFunction};
use dispi::Dispi;
use mem::{MmioDevice, Port, PortDevice, Shared};
use memory::Vram;
use regs::{Effect, Regs};
use render::Renderer;
use std::fmt;
use std::io;
use std::ops::Range;

/// Video memory size: 16 MiB, as QEMU's std VGA defaults to.
pub const VRAM_SIZE: usize = 16 << 20;
/// Physical start of the legacy VGA memory window.
pub const LEGACY_WINDOW: u64 = 0xA0000;
/// Size of the legacy window (A0000–BFFFF).
pub const LEGACY_WINDOW_SIZE: u64 = 0x20000;

/// The PCI windows of the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PciWindow {
    /// BAR0: the linear framebuffer (all of video memory).
    Lfb,
    /// BAR2: EDID, VGA port mirror, dispi registers.
    Mmio,
    /// Expansion ROM: the VGA BIOS.
    Rom,
}

/// What the card is showing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisplayMode {
    /// Video is off (palette address source clear, or screen off).
    Blank,
    /// Alphanumeric: read it with [`Vga::text_screen`].
    Text {
        /// Characters per row.
        cols: usize,
        /// Rows.
        rows: usize,
    },
    /// A VGA graphics mode (planar, CGA-compatible or chain 4).
    Graphics {
        /// Pixels per line.
        width: u32,
        /// Lines.
        height: u32,
    },
    /// A Bochs VBE mode.
    Vbe {
        /// Pixels per line.
        width: u16,
        /// Lines.
        height: u16,
        /// Bits per pixel.
        bpp: u16,
    },
}

/// The VGA card.
pub struct Vga {
    clock: Clock,
    regs: Regs,
    vram: Vram,
    dispi: Dispi,
    config: ConfigSpace,
    rom: Vec<u8>,
    edid: [u8; 256],
    mapping_generation: u64,
    /// [`Vga::plain_windows`] as of the last register change: the legacy
    /// window, then the linear framebuffer.
    windows: [Option<PlainWindow>; 2],
    windows_generation: u64,
    dirty_epoch: u64,
    display_generation: u64,
    /// Bumped when a register that affects the picture changes (memory
    /// changes are tracked page by page in `vram`).
    regs_generation: u64,
    renderer: Renderer,
}

impl fmt::Debug for Vga {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vga")
            .field("mode", &self.mode())
            .field("misc", &format_args!("{:#04x}", self.regs.misc))
            .field("vram", &self.vram)
            .field("rom_len", &self.rom.len())
            .field("config", &self.config)
            .finish()
    }
}

impl Vga {
    /// The ports to register, as (first, count): the monochrome CRTC and
    /// input status 1 (0x3B4–0x3B5, 0x3BA), the VGA core 0x3C0–0x3CF, the
    /// colour CRTC and input status 1 (0x3D4–0x3D5, 0x3DA), and the dispi
    /// index/data pair 0x1CE–0x1CF. (0x3BC–0x3BE stay free for an MDA-style
    /// parallel port.)
    pub const PORTS: &'static [(u16, u16)] = &[
        (regs::CRTC_INDEX_MONO, 2),
        (regs::STATUS1_MONO, 1),
        (regs::ATTR_INDEX, 16),
        (regs::CRTC_INDEX_COLOR, 2),
        (regs::STATUS1_COLOR, 1),
        (DISPI_INDEX, 2),
    ];

    /// A card reading time from `clock`, whose expansion ROM holds `rom`
    /// (the bytes of `vgabios-stdvga.bin`; `None` for a card without ROM).
    ///
    /// # Errors
    /// The host refused the memfd for video memory, or its mapping.
    pub fn new(clock: Clock, rom: Option<Vec<u8>>) -> io::Result<Self> {
        let config = pci::config_space(VRAM_SIZE as u32, rom.as_ref().map(Vec::len));
        let mut vga = Self {
            clock,
            regs: Regs::default(),
            vram: Vram::new(VRAM_SIZE)?,
            dispi: Dispi::new(VRAM_SIZE),
            config,
            rom: rom.unwrap_or_default(),
            edid: pci::edid(),
            mapping_generation: 0,
            windows: [None; 2],
            windows_generation: 0,
            dirty_epoch: 0,
            display_generation: 0,
            regs_generation: 0,
            renderer: Renderer::new(),
        };
        vga.refresh_windows();
        Ok(vga)
    }

    /// Program mode 3 (80×25 colour text) directly, as the VGA BIOS would
    /// through the ports, for boots that run no VGA BIOS. The screen is
    /// cleared to grey-on-black spaces; no font is loaded, so the rendered
    /// [`Frame`] shows backgrounds and the cursor but no glyphs until the
    /// guest loads one ([`Vga::text_screen`] reads the characters anyway).
    pub fn set_text_mode(&mut self) {
        self.regs.misc = modes::MODE3_MISC;
        self.regs.seq[regs::SEQ_RESET] = 0x03;
        self.regs.seq[1..5].copy_from_slice(&modes::MODE3_SEQ);
        self.regs.crtc.copy_from_slice(&modes::MODE3_CRTC);
        self.regs.gc.copy_from_slice(&modes::MODE3_GC);
        self.regs.ar[..modes::MODE3_ATTR.len()].copy_from_slice(&modes::MODE3_ATTR);
        self.regs.ar[regs::AR_COLOR_SELECT] = 0;
        self.regs.ar_index = regs::AR_PAS;
        self.regs.ar_flip = false;
        for i in 0..64u8 {
            self.regs.dac.palette[i as usize] = modes::ega_color(i);
        }
        self.regs.dac.mask = 0xFF;
        for cell in 0..0x4000usize {
            let off = cell * 2;
            self.vram.set_plane(0, off, b' ');
            self.vram.set_plane(1, off, 0x07);
        }
        self.vram.mark_all_dirty();
        self.display_generation += 1;
        self.regs_generation += 1;
        self.refresh_windows();
    }

    // ---- What the board shows -------------------------------------------

    /// What the card is displaying now.
    pub fn mode(&self) -> DisplayMode {
        if self.dispi.enabled() {
            return DisplayMode::Vbe {
                width: self.dispi.regs[dispi::INDEX_XRES],
                height: self.dispi.regs[dispi::INDEX_YRES],
                bpp: self.dispi.regs[dispi::INDEX_BPP],
            };
        }
        if !self.regs.video_on() {
            return DisplayMode::Blank;
        }
        let r = &self.regs;
        if r.ar[regs::AR_MODE] & regs::AR_MODE_GRAPHICS == 0 {
            let t = text::read_screen_geometry(r);
            return DisplayMode::Text { cols: t.0, rows: t.1 };
        }
        // The logical resolution the renderer draws (see `render.rs`).
        let (width, height) = render::frame_size(r, &self.dispi);
        DisplayMode::Graphics { width, height }
    }

    // ---- The picture ------------------------------------------------------------

    /// Bring the cached frame up to date (redrawing only the lines whose
    /// registers or video memory changed, or that hold the cursor or
    /// blinking text when the blink phase flipped). Returns the lines that
    /// changed, `None` if the frame is as it was: a window uploads only
    /// those.
    pub fn update_frame(&mut self) -> Option<Range<u32>> {
        let now = self.clock.now();
        let changed = self
            .renderer
            .update(&self.regs, &self.dispi, &self.vram, self.regs_generation, now);
        if self.vram.any_dirty() {
            // The renderer has consumed the dirty pages: a translator must
            // catch the next stores to them again (see `dirty_epoch`).
            self.dirty_epoch += 1;
        }
        self.vram.clear_dirty();
        changed
    }

    /// Draw the overscan border around the picture in [`Vga::frame`] (the
    /// frame grows by the border on every side; see `render.rs` for its
    /// width), or not. Off by default: the frame is then the active
    /// picture alone, at the mode's resolution.
    pub fn set_overscan_border(&mut self, on: bool) {
        self.renderer.set_border(on);
        self.display_generation += 1;
    }

    /// Whether [`Vga::frame`] has the overscan border.
    pub fn overscan_border(&self) -> bool {
        self.renderer.border()
    }

    /// The picture now ([`Vga::update_frame`], then the cached frame).
    pub fn frame(&mut self) -> &Frame {
        self.update_frame();
        self.renderer.frame()
    }

    /// The blink phase the cached frame was drawn with.
    pub fn frame_blink(&self) -> Blink {
        self.renderer.blink()
    }

    /// Draw the whole picture afresh, bypassing the cache (for tests that
    /// check the cache against it).
    pub fn render_uncached(&self) -> Frame {
        let mut r = Renderer::new();
        r.set_border(self.renderer.border());
        r.update(
            &self.regs,
            &self.dispi,
            &self.vram,
            self.regs_generation,
            self.clock.now(),
        );
        r.frame().clone()
    }

    /// The text screen, if the card is in an alphanumeric mode with video
    /// on.
    pub fn text_screen(&self) -> Option<TextScreen> {
        matches!(self.mode(), DisplayMode::Text { .. }).then(|| self.read_text_screen())
    }

    /// Interpret video memory as a text screen whatever the mode (for
    /// debugging dumps).
    pub fn read_text_screen(&self) -> TextScreen {
        text::read_screen(&self.regs, &self.vram)
    }

    /// The text screen as UTF-8 (code page 437 translated, one line per
    /// row, trailing spaces trimmed), or `None` outside text mode.
    pub fn text_dump(&self) -> Option<String> {
        self.text_screen().map(|t| t.to_utf8())
    }

    /// Bumped whenever video memory or a register that affects the picture
    /// is written, so a live display can skip unchanged frames.
    pub fn display_generation(&self) -> u64 {
        self.display_generation
    }

    /// DAC entry `i` as 8-bit RGB.
    pub fn dac_rgb(&self, i: u8) -> [u8; 3] {
        self.regs.dac.rgb8(i)
    }

    /// Copy video memory from byte `offset` into `buf` (interleaved
    /// planes; for VBE modes, the linear framebuffer); bytes past the end
    /// read as 0xFF.
    pub fn read_vram(&self, offset: u64, buf: &mut [u8]) {
        match usize::try_from(offset) {
            Ok(o) => self.vram.read(o, buf, 0xFF),
            Err(_) => buf.fill(0xFF),
        }
    }

    /// The register file (read-only; for display code and debugging).
    pub fn regs(&self) -> &Regs {
        &self.regs
    }

    // ---- PCI windows --------------------------------------------------------

    /// Where the expansion ROM is decoded now, and the image (the window
    /// may be larger than the image; bytes past it read as zero).
    pub fn rom_mapping(&self) -> Option<(u64, &[u8])> {
        let m = self.config.rom_mapping()?;
        Some((u64::from(m.addr), &self.rom))
    }

    /// Where the linear framebuffer (BAR0, [`VRAM_SIZE`] bytes) is decoded.
    pub fn lfb_mapping(&self) -> Option<u64> {
        self.config.bar_mapping(pci::BAR_LFB).map(|m| u64::from(m.addr))
    }

    /// Where the MMIO BAR (BAR2, 4 KiB) is decoded.
    pub fn mmio_mapping(&self) -> Option<u64> {
        self.config.bar_mapping(pci::BAR_MMIO).map(|m| u64::from(m.addr))
    }

    /// Every PCI window decoded now, as (window, address, size).
    pub fn pci_windows(&self) -> Vec<(PciWindow, u64, u64)> {
        let mut v = Vec::with_capacity(3);
        if let Some(m) = self.config.bar_mapping(pci::BAR_LFB) {
            v.push((PciWindow::Lfb, u64::from(m.addr), u64::from(m.size)));
        }
        if let Some(m) = self.config.bar_mapping(pci::BAR_MMIO) {
            v.push((PciWindow::Mmio, u64::from(m.addr), u64::from(m.size)));
        }
        if let Some(m) = self.config.rom_mapping() {
            v.push((PciWindow::Rom, u64::from(m.addr), u64::from(m.size)));
        }
        v
    }

    /// Changes whenever [`Vga::pci_windows`] would return something new.
    pub fn mapping_generation(&self) -> u64 {
        self.mapping_generation
    }

    /// The PCI window holding physical address `addr`, and the offset into it.
    pub fn pci_window_at(&self, addr: u64) -> Option<(PciWindow, u64)> {
        self.pci_windows()
            .into_iter()
            .find(|&(_, a, s)| addr >= a && addr - a < s)
            .map(|(w, a, _)| (w, addr - a))
    }

    /// A guest load from `window` at `offset`.
    pub fn pci_read(&mut self, window: PciWindow, offset: u64, data: &mut [u8]) {
        match window {
            PciWindow::Lfb => {
                self.read_vram(offset, data);
            }
            PciWindow::Rom => {
                for (i, b) in data.iter_mut().enumerate() {
                    *b = usize::try_from(offset + i as u64)
                        .ok()
                        .and_then(|o| self.rom.get(o).copied())
                        .unwrap_or(0);
                }
            }
            PciWindow::Mmio => self.mmio_read(offset, data),
        }
    }

    /// A guest store to `window` at `offset`.
    pub fn pci_write(&mut self, window: PciWindow, offset: u64, data: &[u8]) {
        match window {
            PciWindow::Lfb => {
                for (i, &b) in data.iter().enumerate() {
                    if let Ok(o) = usize::try_from(offset + i as u64) {
                        self.vram.store_linear(o, b);
                    }
                }
                self.display_generation += 1;
            }
            PciWindow::Rom => {} // read-only
            PciWindow::Mmio => self.mmio_write(offset, data),
        }
    }

    fn mmio_read(&mut self, offset: u64, data: &mut [u8]) {
        use pci::{MMIO_DISPI, MMIO_EDID, MMIO_VGA_PORTS, MMIO_VGA_PORTS_LEN};
        data.fill(0);
        if (MMIO_VGA_PORTS..MMIO_VGA_PORTS + MMIO_VGA_PORTS_LEN).contains(&offset) {
            let port = regs::ATTR_INDEX + (offset - MMIO_VGA_PORTS) as u16;
            self.port_read(port, data);
        } else if (MMIO_DISPI..MMIO_DISPI + 2 * dispi::INDEX_COUNT as u64).contains(&offset) {
            let i = ((offset - MMIO_DISPI) / 2) as usize;
            let v = self.dispi.read_reg(i).to_le_bytes();
            let lane = ((offset - MMIO_DISPI) % 2) as usize;
            for (d, s) in data.iter_mut().zip(&v[lane..]) {
                *d = *s;
            }
        } else if offset < MMIO_EDID + self.edid.len() as u64 {
            for (i, b) in data.iter_mut().enumerate() {
                *b = self
                    .edid
                    .get((offset - MMIO_EDID) as usize + i)
                    .copied()
                    .unwrap_or(0);
            }
        }
    }

    fn mmio_write(&mut self, offset: u64, data: &[u8]) {
        use pci::{MMIO_DISPI, MMIO_VGA_PORTS, MMIO_VGA_PORTS_LEN};
        if (MMIO_VGA_PORTS..MMIO_VGA_PORTS + MMIO_VGA_PORTS_LEN).contains(&offset) {
            let port = regs::ATTR_INDEX + (offset - MMIO_VGA_PORTS) as u16;
            self.port_write(port, data);
        } else if (MMIO_DISPI..MMIO_DISPI + 2 * dispi::INDEX_COUNT as u64).contains(&offset)
            && offset & 1 == 0
            && data.len() >= 2
        {
            let i = ((offset - MMIO_DISPI) / 2) as usize;
            self.dispi_write(i, u16::from_le_bytes([data[0], data[1]]));
        }
    }

    // ---- Ports ----------------------------------------------------------------

    fn port_read(&mut self, port: u16, data: &mut [u8]) {
        let now = self.clock.now();
        for (i, b) in data.iter_mut().enumerate() {
            *b = self.regs.read(port.wrapping_add(i as u16), now).unwrap_or(0xFF);
        }
    }

    fn port_write(&mut self, port: u16, data: &[u8]) {
        for (i, &b) in data.iter().enumerate() {
            if self.regs.write(port.wrapping_add(i as u16), b) == Effect::Display {
                self.display_generation += 1;
                self.regs_generation += 1;
            }
        }
        self.refresh_windows();
    }

    fn dispi_write(&mut self, i: usize, v: u16) {
        let action = self.dispi.write_reg(i, v);
        self.refresh_windows();
        match action {
            dispi::Action::None => return,
            dispi::Action::Enabled { clear } => {
                if clear {
                    self.vram.fill(0);
                }
            }
            dispi::Action::Changed => {}
        }
        self.regs.dac.eight_bit = self.dispi.regs[dispi::INDEX_ENABLE] & dispi::DAC_8BIT != 0;
        self.display_generation += 1;
        self.regs_generation += 1;
    }

    // ---- Legacy window ---------------------------------------------------------

    /// The window address (relative to the selected memory map, bank
    /// applied) for offset `off` into A0000–BFFFF, if the map decodes it.
    fn window_address(&self, off: u64) -> Option<u32> {
        if self.regs.misc & regs::MISC_RAM_ENABLE == 0 {
            return None;
        }
        let map = (self.regs.gc[regs::GC_MISC] >> 2) & 3;
        let (base, size) = memory_map(map);
        if off < base || off >= base + size {
            return None;
        }
        let mut a = (off - base) as u32;
        if map == 1 && self.dispi.enabled() {
            a += self.dispi.bank_offset();
        }
        Some(a)
    }
}

impl PortDevice for Vga {
    fn read(&mut self, port: Port, data: &mut [u8]) {
        match port.0 {
            DISPI_INDEX => {
                let v = self.dispi.index.to_le_bytes();
                fill_le(data, &v);
            }
            DISPI_DATA => {
                let v = self.dispi.read_reg(self.dispi.index as usize).to_le_bytes();
                fill_le(data, &v);
            }
            p => self.port_read(p, data),
        }
    }

    fn write(&mut self, port: Port, data: &[u8]) {
        let word = |d: &[u8]| u16::from_le_bytes([d[0], d.get(1).copied().unwrap_or(0)]);
        match port.0 {
            DISPI_INDEX => self.dispi.index = word(data),
            DISPI_DATA => self.dispi_write(self.dispi.index as usize, word(data)),
            p => self.port_write(p, data),
        }
    }
}

/// Memory map select `map` (graphics controller misc bits 2–3): the
/// window's offset from [`LEGACY_WINDOW`] and its size.
fn memory_map(map: u8) -> (u64, u64) {
    match map {
        0 => (0, 0x20000),
        1 => (0, 0x10000),
        2 => (0x10000, 0x8000),
        _ => (0x18000, 0x8000),
    }
}

/// Copy a 16-bit register's bytes into an access of any width (upper
/// bytes of a dword access read as zero).
fn fill_le(data: &mut [u8], v: &[u8; 2]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b = v.get(i).copied().unwrap_or(0);
    }
}

/// The legacy window: offsets are relative to [`LEGACY_WINDOW`]. Wider
/// accesses are a sequence of byte accesses, as the VGA sees a 16- or
/// 32-bit CPU access.
impl MmioDevice for Vga {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            *b = match self.window_address(offset + i as u64) {
                Some(a) => self.vram.cpu_read(&self.regs, a),
                None => 0xFF,
            };
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        for (i, &b) in data.iter().enumerate() {
            if let Some(a) = self.window_address(offset + i as u64) {
                self.vram.cpu_write(&self.regs, a, b);
            }
        }
        self.display_generation += 1;
    }
}

impl PciFunction for Vga {
    fn config_read(&mut self, offset: u8, data: &mut [u8]) {
        self.config.read(offset, data);
    }

    fn config_write(&mut self, offset: u8, data: &[u8]) {
        if self.config.write(offset, data) {
            self.mapping_generation += 1;
            self.refresh_windows();
        }
    }
}

macro_rules! window_device {
    ($name:ident, $window:expr, $doc:literal) => {
        #[doc = $doc]
        pub struct $name(pub Shared<Vga>);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($name))
            }
        }

        impl MmioDevice for $name {
            fn read(&mut self, offset: u64, data: &mut [u8]) {
                self.0.borrow_mut().pci_read($window, offset, data);
            }
            fn write(&mut self, offset: u64, data: &[u8]) {
                self.0.borrow_mut().pci_write($window, offset, data);
            }
        }
    };
}

window_device!(
    VgaLfb,
    PciWindow::Lfb,
    "The linear framebuffer window (BAR0); offsets relative to the BAR."
);
window_device!(
    VgaMmio,
    PciWindow::Mmio,
    "The MMIO register window (BAR2); offsets relative to the BAR."
);
window_device!(
    VgaRom,
    PciWindow::Rom,
    "The expansion ROM window; offsets relative to the ROM BAR."
);
