//! The renderer: the picture the card sends to the monitor, as a [`Frame`]
//! of `0x00RRGGBB` pixels, redrawn only where something changed.
//!
//! # What is drawn, and at what size
//! The frame has the mode's *logical* resolution, not the monitor's: mode
//! 13h is 320×200 (not 640×400 of doubled pixels), mode 3 is 720×400, a
//! VBE mode is XRES×YRES. The window scales it.
//!
//! - **Width**: the CRTC's character clocks (horizontal display end + 1)
//!   times 9 or 8 dots in text modes (sequencer clocking bit 0), 8 pixels
//!   in 16-colour and CGA graphics, 4 in 256-colour graphics (each pixel
//!   is two dots). The dot-clock divider (clocking bit 3, modes 0Dh and
//!   4–6) only widens pixels on the monitor and is ignored.
//! - **Height**: the displayed scan lines (vertical display end + 1)
//!   divided by the scan lines each logical line is repeated on: 2 when
//!   scan doubling (maximum scan line bit 7) is on, times the character
//!   height in graphics modes whose row scan counter does not reach the
//!   address (CRTC mode control bits 0 and 1 set: mode 13h's "maximum scan
//!   line 1", mode X). Mode 4's row scan bit 0 selects the CGA bank, so
//!   its two scan lines per character row are distinct lines.
//!
//! # How a line is fetched (VGA modes)
//! The CRTC is followed scan line by scan line: the row scan counter starts
//! at the preset row scan and counts to the maximum scan line (clocked
//! every other line when scan doubling), then the line start address
//! advances by twice the offset register; at the line compare scan line
//! the address and the row scan restart from 0 (split screen). Each
//! character clock `k` of a line reads the four planes at the address
//! counter `ma + k` turned into a plane offset as the CRTC's output
//! multiplexer does: word mode `ma << 1` with bit 13 or 15 rotated into
//! bit 0, byte mode `ma`, double-word mode `ma << 2`; then bit 13 (14) is
//! replaced by row scan bit 0 (1) when CRTC mode control bit 0 (1) is clear
//! (the CGA and Hercules bank interleave). Offsets wrap at 64 KiB.
//!
//! One deliberate deviation follows from how this card stores chain-4
//! bytes (see `memory.rs`: chain-4 address `a` is plane offset `a >> 2`,
//! where real hardware uses `a & !3`): with chain 4 on, double-word mode
//! fetches plane offset `ma`, so mode 13h and its page flipping look as on
//! real hardware. With chain 4 off, double-word mode is `ma << 2`.
//!
//! # Pixels
//! - Text: character and attribute from planes 0 and 1, the glyph row from
//!   plane 2 (32 bytes per character, font A or B by attribute bit 3,
//!   chosen by the character map select register); the 9th dot is the
//!   background, or repeats the 8th for 0xC0–0xDF when line graphics is
//!   enabled; blinking characters (attribute bit 7 with blink enabled)
//!   show their background half of the time, on a 32-frame period; the
//!   cursor fills its scan lines (start ≤ row ≤ end) of the cell at the
//!   cursor location in the foreground colour, on a 16-frame period; the
//!   underline (monochrome emulation only) fills the underline scan line
//!   of cells whose attribute is `x000x001`.
//! - 16-colour planar: bit `7 - i` of planes 0–3 is pixel `i`'s colour.
//! - CGA interleave (GC mode bit 5): four 2-bit pixels from plane 0 (low
//!   bits) and plane 2 (high bits), then four from planes 1 and 3.
//! - 256 colours (GC mode bit 6): planes 0, 1, 2, 3 are four pixels.
//! - 4-bit colours go through the colour plane enable mask, the attribute
//!   palette and the colour select register; 8-bit colours go straight to
//!   the DAC (as QEMU and Bochs do); every DAC index is ANDed with the
//!   pixel mask.
//! - Horizontal pel panning shifts the line left by 0–7 pixels (9-dot
//!   text: 8 means 0 and 0–7 mean 1–8; 256 colours: half the value);
//!   below a line compare match it is 0 if the attribute mode control's
//!   pel panning compatibility bit is set. Byte panning (preset row scan
//!   bits 5–6) adds to the start address.
//! - Bochs VBE: XRES×YRES pixels at `y_offset * line + x_offset * bytes`
//!   of video memory, lines `line` bytes apart (the virtual width); 8 bpp
//!   through the DAC, 15/16 bpp as 5-5-5 and 5-6-5, 24 bpp as B, G, R and
//!   32 bpp as B, G, R, X.
//!
//! # The overscan border
//! With the border on ([`Renderer::set_border`]; off by default) the frame
//! grows by a border on every side in the attribute controller's overscan
//! colour (register 0x11, a DAC index, through the pixel mask like every
//! other), as a monitor shows the part of each line and frame between
//! display end and blanking. Its width is fixed rather than read from the
//! CRTC's blanking registers: [`BORDER_DOTS`] dots left and right and
//! [`BORDER_LINES`] scan lines above and below, about what the VGA's
//! standard 640×480 and 720×400 timings leave (7–9 lines, 8 dots per
//! side), turned into frame pixels the way the picture is (so 4 pixels
//! left and right in 320-pixel modes, 4 lines in scan-doubled ones). VBE
//! modes get 8 pixels and 8 lines. A blank screen is black, border and all.
//!
//! Not drawn: the 4-bpp VBE mode (blank), blinking in graphics modes,
//! cursor skew, the palette's 8-bit colour path through the attribute
//! registers.
//!
//! # Redrawing only what changed
//! [`Renderer::update`] redraws everything when the layout, a register
//! that affects the picture (`regs_generation`), or — in text modes — the
//! fonts in plane 2 changed; otherwise only the lines that read a video
//! memory page written since the last update (each line remembers the
//! plane offsets it read), plus, when the blink phase flips, the lines
//! holding the cursor or blinking characters.

use super::dispi::{self, Dispi};
use super::frame::Frame;
use super::memory::Vram;
use super::regs::{
    Regs, AR_MODE, AR_MODE_BLINK, AR_MODE_GRAPHICS, AR_MODE_LINE_GRAPHICS, AR_MODE_MONO, AR_MODE_PAN_COMPAT,
    AR_OVERSCAN, AR_PEL_PAN, AR_PLANE_ENABLE, CLOCKING_DOT8, CLOCKING_DOT_CLOCK_HALF, CRTC_CURSOR_END,
    CRTC_CURSOR_HI, CRTC_CURSOR_LO, CRTC_CURSOR_START, CRTC_H_DISPLAY_END, CRTC_LINE_COMPARE, CRTC_MAX_SCAN,
    CRTC_MODE, CRTC_MODE_BYTE, CRTC_MODE_MAP13, CRTC_MODE_MAP14, CRTC_MODE_WRAP15, CRTC_OFFSET,
    CRTC_OVERFLOW, CRTC_PRESET_ROW_SCAN, CRTC_START_HI, CRTC_START_LO, CRTC_UNDERLINE, CURSOR_DISABLE,
    FRAME_NS, GC_MODE, GC_MODE_SHIFT_256, GC_MODE_SHIFT_CGA, MAX_SCAN_DOUBLE, MAX_SCAN_LC9, MEM_CHAIN4,
    OVERFLOW_LC8, SEQ_CHAR_MAP, SEQ_CLOCKING, SEQ_MEMORY_MODE, UNDERLINE_DWORD,
};
use crate::clock::Nanos;
use std::ops::Range;

/// The cursor is on for 8 frames, then off for 8.
const CURSOR_BLINK_FRAMES: u64 = 8;
/// Blinking characters are on for 16 frames, then off for 16.
const TEXT_BLINK_FRAMES: u64 = 16;
/// The CRTC's addresses are 16 bits: plane offsets wrap here.
const CRTC_ADDRESS_MASK: u32 = 0xFFFF;
/// Bytes per character in the font (plane 2).
const FONT_STRIDE: usize = 32;
/// A blank screen with no usable geometry is shown at this size.
const BLANK_SIZE: (u32, u32) = (640, 480);
/// Overscan border left and right, in monitor dots.
pub const BORDER_DOTS: u32 = 8;
/// Overscan border above and below, in scan lines.
pub const BORDER_LINES: u32 = 8;

/// The blink phase of a frame: whether the cursor and blinking characters
/// are showing. Both follow the vertical refresh (60 Hz here), as on a VGA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blink {
    /// The cursor is drawn.
    pub cursor: bool,
    /// Blinking characters show their foreground.
    pub text: bool,
}

impl Blink {
    /// The phase at guest time `now`.
    pub fn at(now: Nanos) -> Self {
        let frame = now / FRAME_NS;
        Self {
            cursor: (frame / CURSOR_BLINK_FRAMES) & 1 == 0,
            text: (frame / TEXT_BLINK_FRAMES) & 1 == 0,
        }
    }
}

/// How the graphics shift registers serialise the four planes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shift {
    /// One bit per plane per pixel, 8 pixels per character clock.
    Planar,
    /// CGA 2-bit pixels, 8 per character clock.
    Cga,
    /// One byte per pixel, 4 per character clock.
    Color256,
}

/// The CRTC geometry of a VGA (non-VBE) mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Crt {
    width: u32,
    height: u32,
    /// Character clocks per line.
    chars: u32,
    /// Pixels per character clock.
    dots: u32,
    /// Scan lines per frame line.
    repeat: u32,
    /// Monitor dots per frame pixel (2 with the halved dot clock or in
    /// 256-colour modes, 4 with both).
    dot_width: u32,
}

impl Crt {
    /// The overscan border in frame pixels (x per side, y per side).
    fn border(&self) -> (u32, u32) {
        (
            (BORDER_DOTS / self.dot_width).max(1),
            (BORDER_LINES / self.repeat).max(1),
        )
    }
}

/// The VBE picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Vbe {
    width: u32,
    height: u32,
    bpp: u16,
    line_bytes: usize,
    start: usize,
}

/// What the registers say the screen is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Blank {
        width: u32,
        height: u32,
        /// The border the mode would have (so that blanking the screen
        /// during a mode set does not change the frame size).
        border: (u32, u32),
    },
    Text(Crt),
    Graphics(Crt, Shift),
    Vbe(Vbe),
}

impl Layout {
    fn of(regs: &Regs, dispi: &Dispi) -> Self {
        if dispi.enabled() {
            return Self::vbe(dispi);
        }
        let graphics = regs.ar[AR_MODE] & AR_MODE_GRAPHICS != 0;
        let gc_mode = regs.gc[GC_MODE];
        let shift = if gc_mode & GC_MODE_SHIFT_256 != 0 {
            Shift::Color256
        } else if gc_mode & GC_MODE_SHIFT_CGA != 0 {
            Shift::Cga
        } else {
            Shift::Planar
        };
        let chars = u32::from(regs.crtc[CRTC_H_DISPLAY_END]) + 1;
        let dots = match (graphics, shift) {
            (false, _) if regs.seq[SEQ_CLOCKING] & CLOCKING_DOT8 != 0 => 8,
            (false, _) => 9,
            (true, Shift::Color256) => 4,
            (true, _) => 8,
        };
        let max_scan = regs.crtc[CRTC_MAX_SCAN];
        let mut repeat = if max_scan & MAX_SCAN_DOUBLE != 0 { 2 } else { 1 };
        let both_maps = CRTC_MODE_MAP13 | CRTC_MODE_MAP14;
        if graphics && regs.crtc[CRTC_MODE] & both_maps == both_maps {
            repeat *= u32::from(max_scan & 0x1F) + 1;
        }
        let half_clock = regs.seq[SEQ_CLOCKING] & CLOCKING_DOT_CLOCK_HALF != 0;
        let wide = graphics && shift == Shift::Color256;
        let crt = Crt {
            width: chars * dots,
            height: (regs.displayed_lines() / repeat).max(1),
            chars,
            dots,
            repeat,
            dot_width: (1 + u32::from(half_clock)) * (1 + u32::from(wide)),
        };
        if !regs.video_on() {
            let usable = crt.width >= 64 && crt.height >= 64;
            let (width, height, border) = if usable {
                (crt.width, crt.height, crt.border())
            } else {
                (BLANK_SIZE.0, BLANK_SIZE.1, (BORDER_DOTS, BORDER_LINES))
            };
            return Self::Blank {
                width,
                height,
                border,
            };
        }
        if graphics {
            Self::Graphics(crt, shift)
        } else {
            Self::Text(crt)
        }
    }

    fn vbe(dispi: &Dispi) -> Self {
        let r = &dispi.regs;
        let (width, height, bpp) = (
            u32::from(r[dispi::INDEX_XRES]),
            u32::from(r[dispi::INDEX_YRES]),
            r[dispi::INDEX_BPP],
        );
        if width == 0 || height == 0 || bpp == 4 {
            return Self::Blank {
                width: width.max(1),
                height: height.max(1),
                border: (BORDER_DOTS, BORDER_LINES),
            };
        }
        let line_bytes = dispi.line_bytes() as usize;
        let start = usize::from(r[dispi::INDEX_Y_OFFSET]) * line_bytes
            + usize::from(r[dispi::INDEX_X_OFFSET]) * usize::from(bpp).div_ceil(8);
        Self::Vbe(Vbe {
            width,
            height,
            bpp,
            line_bytes,
            start,
        })
    }

    fn size(&self) -> (u32, u32) {
        match *self {
            Self::Blank { width, height, .. } => (width, height),
            Self::Text(c) | Self::Graphics(c, _) => (c.width, c.height),
            Self::Vbe(v) => (v.width, v.height),
        }
    }

    /// The overscan border, in frame pixels per side (x, y).
    fn border(&self) -> (u32, u32) {
        match *self {
            Self::Blank { border, .. } => border,
            Self::Text(c) | Self::Graphics(c, _) => c.border(),
            Self::Vbe(_) => (BORDER_DOTS, BORDER_LINES),
        }
    }
}

/// The frame size the registers describe now (for [`super::Vga::mode`]).
pub(super) fn frame_size(regs: &Regs, dispi: &Dispi) -> (u32, u32) {
    Layout::of(regs, dispi).size()
}

/// Where one frame line comes from.
#[derive(Clone, Copy, Debug)]
struct LineSrc {
    /// Address counter at the start of the line.
    ma: u32,
    /// Row scan counter.
    row_scan: u32,
    /// Below a line compare match.
    split: bool,
}

/// What one drawn line read, to decide whether to draw it again.
#[derive(Clone, Copy, Debug, Default)]
struct LineDeps {
    /// First and last plane offset read (inclusive).
    first: usize,
    last: usize,
    /// The line shows the cursor or blinking characters.
    blinks: bool,
}

/// Follow the CRTC down the screen: the source of every frame line.
fn line_sources(regs: &Regs, crt: &Crt) -> Vec<LineSrc> {
    let c = &regs.crtc;
    let lines = regs.displayed_lines();
    let max_scan = u32::from(c[CRTC_MAX_SCAN] & 0x1F);
    let double = c[CRTC_MAX_SCAN] & MAX_SCAN_DOUBLE != 0;
    let line_compare = u32::from(c[CRTC_LINE_COMPARE])
        | u32::from(c[CRTC_OVERFLOW] & OVERFLOW_LC8) << 4
        | u32::from(c[CRTC_MAX_SCAN] & MAX_SCAN_LC9) << 3;
    let stride = u32::from(c[CRTC_OFFSET]) * 2;
    let preset = c[CRTC_PRESET_ROW_SCAN];
    let mut ma = u32::from(regs.crtc16(CRTC_START_HI, CRTC_START_LO)) + u32::from(preset >> 5 & 3);
    let mut row_scan = u32::from(preset & 0x1F);
    let mut split = false;
    let mut out = Vec::with_capacity(crt.height as usize);
    for y in 0..lines {
        if y % crt.repeat == 0 && out.len() < crt.height as usize {
            out.push(LineSrc { ma, row_scan, split });
        }
        if y == line_compare {
            ma = 0;
            row_scan = 0;
            split = true;
        } else if !double || y & 1 == 1 {
            if row_scan == max_scan {
                row_scan = 0;
                ma = ma.wrapping_add(stride);
            } else {
                row_scan = (row_scan + 1) & 0x1F;
            }
        }
    }
    out
}

/// The plane offset the CRTC fetches for address counter `ma` on row scan
/// `row_scan` (see the module documentation).
fn crtc_address(regs: &Regs, ma: u32, row_scan: u32) -> usize {
    let mode = regs.crtc[CRTC_MODE];
    let mut a = if regs.crtc[CRTC_UNDERLINE] & UNDERLINE_DWORD != 0 {
        if regs.seq[SEQ_MEMORY_MODE] & MEM_CHAIN4 != 0 {
            ma
        } else {
            ma << 2
        }
    } else if mode & CRTC_MODE_BYTE != 0 {
        ma
    } else {
        let wrap = if mode & CRTC_MODE_WRAP15 != 0 { 15 } else { 13 };
        (ma << 1) | ((ma >> wrap) & 1)
    };
    if mode & CRTC_MODE_MAP13 == 0 {
        a = (a & !0x2000) | ((row_scan & 1) << 13);
    }
    if mode & CRTC_MODE_MAP14 == 0 {
        a = (a & !0x4000) | ((row_scan >> 1 & 1) << 14);
    }
    (a & CRTC_ADDRESS_MASK) as usize
}

/// A DAC entry as `0x00RRGGBB`.
fn dac_pixel(regs: &Regs, index: u8) -> u32 {
    let [r, g, b] = regs.dac.rgb8(index & regs.dac.mask);
    u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b)
}

/// The 16 attribute colours, and the 256 direct DAC colours.
struct Palettes {
    attr: [u32; 16],
    direct: [u32; 256],
}

impl Palettes {
    fn of(regs: &Regs) -> Self {
        Self {
            attr: std::array::from_fn(|c| dac_pixel(regs, regs.attr_to_dac(c as u8))),
            direct: std::array::from_fn(|i| dac_pixel(regs, i as u8)),
        }
    }
}

/// Tracks the plane offsets a line reads.
struct Span {
    first: usize,
    last: usize,
}

impl Span {
    fn new() -> Self {
        Self {
            first: usize::MAX,
            last: 0,
        }
    }
    fn add(&mut self, a: usize) {
        self.first = self.first.min(a);
        self.last = self.last.max(a);
    }
    fn deps(&self, blinks: bool) -> LineDeps {
        LineDeps {
            first: self.first.min(self.last),
            last: self.last,
            blinks,
        }
    }
}

/// The text-mode registers, decoded once per update.
struct TextParams {
    pan: usize,
    cursor: Option<(u32, Range<u32>)>,
    blink_attr: bool,
    line_graphics: bool,
    underline: Option<u32>,
    /// Plane 2 offsets of fonts A (attribute bit 3 set) and B.
    font_a: usize,
    font_b: usize,
}

impl TextParams {
    fn of(regs: &Regs, crt: &Crt) -> Self {
        let pan = regs.ar[AR_PEL_PAN] & 0x0F;
        let pan = match (crt.dots, pan) {
            (9, 0..=7) => pan + 1,
            (_, 0..=7) if crt.dots == 8 => pan,
            _ => 0,
        };
        let cs = regs.crtc[CRTC_CURSOR_START];
        let (start, end) = (u32::from(cs & 0x1F), u32::from(regs.crtc[CRTC_CURSOR_END] & 0x1F));
        let cursor = (cs & CURSOR_DISABLE == 0 && start <= end).then(|| {
            let loc = u32::from(regs.crtc16(CRTC_CURSOR_HI, CRTC_CURSOR_LO));
            (loc, start..end + 1)
        });
        // Character map select: map A is bits 5, 3–2, map B bits 4, 1–0;
        // maps 0–3 are 16 KiB apart, and maps 4–7 sit 8 KiB above them.
        let map = |n: u8| usize::from(n & 3) * 0x4000 + usize::from(n >> 2 & 1) * 0x2000;
        let s = regs.seq[SEQ_CHAR_MAP];
        let ar_mode = regs.ar[AR_MODE];
        Self {
            pan: usize::from(pan),
            cursor,
            blink_attr: ar_mode & AR_MODE_BLINK != 0,
            line_graphics: ar_mode & AR_MODE_LINE_GRAPHICS != 0,
            underline: (ar_mode & AR_MODE_MONO != 0).then_some(u32::from(regs.crtc[CRTC_UNDERLINE] & 0x1F)),
            font_a: map((s >> 5 & 1) << 2 | (s >> 2 & 3)),
            font_b: map((s >> 4 & 1) << 2 | (s & 3)),
        }
    }
}

/// Everything a line needs to read.
struct Ctx<'a> {
    regs: &'a Regs,
    vram: &'a Vram,
    pal: Palettes,
    blink: Blink,
}

impl Ctx<'_> {
    /// Draw text line `src` into `out`; what it read.
    fn text_line(
        &self,
        crt: &Crt,
        tp: &TextParams,
        src: LineSrc,
        out: &mut [u32],
        buf: &mut Vec<u8>,
    ) -> LineDeps {
        let pan = if src.split && self.regs.ar[AR_MODE] & AR_MODE_PAN_COMPAT != 0 {
            0
        } else {
            tp.pan
        };
        let chars = crt.chars + u32::from(pan > 0);
        let mut span = Span::new();
        let mut blinks = false;
        buf.clear();
        for k in 0..chars {
            let ma = src.ma.wrapping_add(k);
            let a = crtc_address(self.regs, ma, src.row_scan);
            span.add(a);
            let ch = self.vram.plane(0, a);
            let attr = self.vram.plane(1, a);
            let font = if attr & 0x08 != 0 { tp.font_a } else { tp.font_b };
            let mut glyph = self
                .vram
                .plane(2, font + usize::from(ch) * FONT_STRIDE + src.row_scan as usize);
            let fg = attr & 0x0F;
            let bg = if tp.blink_attr { attr >> 4 & 7 } else { attr >> 4 };
            let mut forced = false;
            if tp.blink_attr && attr & 0x80 != 0 {
                blinks = true;
                if !self.blink.text {
                    glyph = 0;
                }
            }
            if tp.underline == Some(src.row_scan) && attr & 0x77 == 0x01 {
                glyph = 0xFF;
                forced = true;
            }
            if let Some((loc, rows)) = &tp.cursor {
                if ma & CRTC_ADDRESS_MASK == *loc && rows.contains(&src.row_scan) {
                    blinks = true;
                    if self.blink.cursor {
                        glyph = 0xFF;
                        forced = true;
                    }
                }
            }
            for bit in (0..8).rev() {
                buf.push(if glyph >> bit & 1 != 0 { fg } else { bg });
            }
            if crt.dots == 9 {
                let repeat_8th = forced || (tp.line_graphics && (0xC0..=0xDF).contains(&ch));
                buf.push(if repeat_8th && glyph & 1 != 0 { fg } else { bg });
            }
        }
        for (o, &c) in out.iter_mut().zip(&buf[pan..]) {
            *o = self.pal.attr[usize::from(c)];
        }
        span.deps(blinks)
    }

    /// Draw graphics line `src` into `out`; what it read.
    fn graphics_line(
        &self,
        crt: &Crt,
        shift: Shift,
        src: LineSrc,
        out: &mut [u32],
        buf: &mut Vec<u8>,
    ) -> LineDeps {
        let regs = self.regs;
        let pan = regs.ar[AR_PEL_PAN] & 0x0F;
        let pan = if src.split && regs.ar[AR_MODE] & AR_MODE_PAN_COMPAT != 0 {
            0
        } else if shift == Shift::Color256 {
            usize::from(pan >> 1 & 3)
        } else if pan < 8 {
            usize::from(pan)
        } else {
            0
        };
        let enable = regs.ar[AR_PLANE_ENABLE] & 0x0F;
        let chars = crt.chars + u32::from(pan > 0);
        let mut span = Span::new();
        buf.clear();
        for k in 0..chars {
            let a = crtc_address(regs, src.ma.wrapping_add(k), src.row_scan);
            span.add(a);
            let p: [u8; 4] = std::array::from_fn(|i| self.vram.plane(i, a));
            match shift {
                Shift::Planar => {
                    for bit in (0..8).rev() {
                        let c = (p[0] >> bit & 1)
                            | (p[1] >> bit & 1) << 1
                            | (p[2] >> bit & 1) << 2
                            | (p[3] >> bit & 1) << 3;
                        buf.push(c & enable);
                    }
                }
                Shift::Cga => {
                    for half in 0..2 {
                        let (lo, hi) = (p[half], p[half + 2]);
                        for pair in (0..4).rev() {
                            let c = (lo >> (2 * pair) & 3) | (hi >> (2 * pair) & 3) << 2;
                            buf.push(c & enable);
                        }
                    }
                }
                Shift::Color256 => buf.extend_from_slice(&p),
            }
        }
        let lut: &[u32] = if shift == Shift::Color256 {
            &self.pal.direct
        } else {
            &self.pal.attr
        };
        for (o, &c) in out.iter_mut().zip(&buf[pan..]) {
            *o = lut[usize::from(c)];
        }
        span.deps(false)
    }

    /// Draw VBE line `y` into `out`; what it read.
    fn vbe_line(&self, v: &Vbe, y: u32, out: &mut [u32], buf: &mut Vec<u8>) -> LineDeps {
        let bytes = usize::from(v.bpp).div_ceil(8);
        let off = v.start + y as usize * v.line_bytes;
        let len = v.width as usize * bytes;
        let deps = LineDeps {
            first: off / 4,
            last: (off + len.max(1) - 1) / 4,
            blinks: false,
        };
        // A copy of the line (bytes past video memory read as 0): the
        // renderer never borrows video memory (see `memory.rs`). The copy
        // overwrites all of `buf`, so its old contents may stay.
        buf.resize(len, 0);
        self.vram.read(off, &mut buf[..len], 0);
        let expand5 = |c: u32| (c << 3) | (c >> 2);
        match v.bpp {
            32 => {
                for (o, p) in out.iter_mut().zip(buf.chunks_exact(4)) {
                    *o = u32::from_le_bytes([p[0], p[1], p[2], 0]);
                }
            }
            24 => {
                for (o, p) in out.iter_mut().zip(buf.chunks_exact(3)) {
                    *o = u32::from_le_bytes([p[0], p[1], p[2], 0]);
                }
            }
            8 => {
                for (o, &p) in out.iter_mut().zip(buf.iter()) {
                    *o = self.pal.direct[usize::from(p)];
                }
            }
            15 | 16 => {
                for (o, p) in out.iter_mut().zip(buf.chunks_exact(2)) {
                    let w = u32::from(u16::from_le_bytes([p[0], p[1]]));
                    let (r, g, b) = if v.bpp == 15 {
                        (w >> 10 & 0x1F, expand5(w >> 5 & 0x1F), w & 0x1F)
                    } else {
                        let g = w >> 5 & 0x3F;
                        (w >> 11 & 0x1F, (g << 2) | (g >> 4), w & 0x1F)
                    };
                    *o = expand5(r) << 16 | g << 8 | expand5(b);
                }
            }
            // No other depth gets here (`Layout::vbe` blanks 4 bpp, and
            // the dispi interface refuses the rest).
            _ => out.fill(0),
        }
        deps
    }
}

/// The cached frame and what each of its lines was drawn from.
#[derive(Debug)]
pub struct Renderer {
    frame: Frame,
    /// Draw the overscan border.
    border: bool,
    /// The border the frame was drawn with (frame pixels per side).
    drawn_border: (u32, u32),
    layout: Option<Layout>,
    regs_generation: u64,
    blink: Blink,
    lines: Vec<LineDeps>,
    buf: Vec<u8>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    /// A renderer that has drawn nothing yet.
    pub fn new() -> Self {
        Self {
            frame: Frame::new(BLANK_SIZE.0, BLANK_SIZE.1),
            border: false,
            drawn_border: (0, 0),
            layout: None,
            regs_generation: 0,
            blink: Blink::at(0),
            lines: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Draw the overscan border around the picture (see the module
    /// documentation), or not. Takes effect at the next update, which then
    /// redraws everything.
    pub fn set_border(&mut self, on: bool) {
        self.border = on;
    }

    /// Whether the overscan border is drawn.
    pub fn border(&self) -> bool {
        self.border
    }

    /// The last frame drawn.
    pub fn frame(&self) -> &Frame {
        &self.frame
    }

    /// The blink phase of the last frame drawn.
    pub fn blink(&self) -> Blink {
        self.blink
    }

    /// Bring the frame up to date with the card at guest time `now`.
    /// `regs_generation` must change whenever a register that affects the
    /// picture does; `vram`'s dirty pages say what memory changed (the
    /// caller clears them afterwards). Returns the lines redrawn, or
    /// `None` if the frame is unchanged.
    pub fn update(
        &mut self,
        regs: &Regs,
        dispi: &Dispi,
        vram: &Vram,
        regs_generation: u64,
        now: Nanos,
    ) -> Option<Range<u32>> {
        let layout = Layout::of(regs, dispi);
        let blink = Blink::at(now);
        let (bx, by) = if self.border { layout.border() } else { (0, 0) };
        let full = self.layout != Some(layout)
            || self.drawn_border != (bx, by)
            || self.regs_generation != regs_generation
            || (matches!(layout, Layout::Text(_)) && vram.font_dirty());
        let blink_changed = blink != self.blink && matches!(layout, Layout::Text(_));
        self.layout = Some(layout);
        self.drawn_border = (bx, by);
        self.regs_generation = regs_generation;
        self.blink = blink;
        if !full && !blink_changed && !vram.any_dirty() {
            return None;
        }
        let (width, height) = layout.size();
        let (frame_w, frame_h) = (width + 2 * bx, height + 2 * by);
        if full {
            if (self.frame.width, self.frame.height) != (frame_w, frame_h) {
                self.frame = Frame::new(frame_w, frame_h);
            }
            self.lines = vec![LineDeps::default(); height as usize];
        }
        let ctx = Ctx {
            regs,
            vram,
            pal: Palettes::of(regs),
            blink,
        };
        let stale = |d: &LineDeps| full || (blink_changed && d.blinks) || vram.range_dirty(d.first, d.last);
        let mut changed: Option<Range<u32>> = None;
        // `y` is a line of the picture; the frame line is `y + by`.
        let mut note = |y: u32| {
            let y = y + by;
            changed = Some(changed.as_ref().map_or(y..y + 1, |r| r.start.min(y)..y + 1));
        };
        let active = bx as usize..(bx + width) as usize;
        match layout {
            Layout::Blank { .. } => {
                if full {
                    self.frame.pixels.fill(0);
                }
            }
            Layout::Text(crt) => {
                let tp = TextParams::of(regs, &crt);
                for (y, src) in (0..).zip(line_sources(regs, &crt)) {
                    if stale(&self.lines[y as usize]) {
                        let out = &mut self.frame.line_mut(y + by)[active.clone()];
                        self.lines[y as usize] = ctx.text_line(&crt, &tp, src, out, &mut self.buf);
                        note(y);
                    }
                }
            }
            Layout::Graphics(crt, shift) => {
                for (y, src) in (0..).zip(line_sources(regs, &crt)) {
                    if stale(&self.lines[y as usize]) {
                        let out = &mut self.frame.line_mut(y + by)[active.clone()];
                        self.lines[y as usize] = ctx.graphics_line(&crt, shift, src, out, &mut self.buf);
                        note(y);
                    }
                }
            }
            Layout::Vbe(v) => {
                for y in 0..height {
                    if stale(&self.lines[y as usize]) {
                        let out = &mut self.frame.line_mut(y + by)[active.clone()];
                        self.lines[y as usize] = ctx.vbe_line(&v, y, out, &mut self.buf);
                        note(y);
                    }
                }
            }
        }
        if full {
            if (bx, by) != (0, 0) && !matches!(layout, Layout::Blank { .. }) {
                self.draw_border(dac_pixel(regs, regs.ar[AR_OVERSCAN]), (bx, by), height);
            }
            // Everything was drawn, border included.
            changed = Some(0..frame_h);
        }
        changed
    }

    /// Fill the border around a `height`-line picture with `colour`.
    fn draw_border(&mut self, colour: u32, (bx, by): (u32, u32), height: u32) {
        let w = self.frame.width as usize;
        let (bx, by) = (bx as usize, by as usize);
        let bottom = (by + height as usize) * w;
        self.frame.pixels[..by * w].fill(colour);
        self.frame.pixels[bottom..].fill(colour);
        for y in by..by + height as usize {
            let line = &mut self.frame.pixels[y * w..(y + 1) * w];
            line[..bx].fill(colour);
            line[w - bx..].fill(colour);
        }
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
