//! The VGA register file behind ports 0x3B0–0x3DF: miscellaneous output,
//! sequencer, CRT controller, graphics controller, attribute controller,
//! DAC, input status and feature control.
//!
//! Register names and bit layouts follow IBM's *VGA Technical Reference*
//! (Personal System/2 Hardware Interface Technical Reference, "Video
//! Subsystem") as retold in FreeVGA's "VGA/SVGA Video Programming"
//! register pages. Every port here is a byte port; wider accesses are split
//! into consecutive byte ports by the caller (so `out dx, ax` to 0x3C4
//! writes the index to 0x3C4 and the data to 0x3C5, as on the real bus).

use crate::clock::Nanos;

// ---- Ports --------------------------------------------------------------

/// Attribute controller: index/data write (flip-flop), index read.
pub const ATTR_INDEX: u16 = 0x3C0;
/// Attribute controller data read.
pub const ATTR_DATA_READ: u16 = 0x3C1;
/// Miscellaneous output register (write); input status 0 (read).
pub const MISC_WRITE: u16 = 0x3C2;
/// Video subsystem enable (bit 0).
pub const VIDEO_ENABLE: u16 = 0x3C3;
/// Sequencer index.
pub const SEQ_INDEX: u16 = 0x3C4;
/// Sequencer data.
pub const SEQ_DATA: u16 = 0x3C5;
/// DAC pixel mask.
pub const DAC_MASK: u16 = 0x3C6;
/// DAC read index (write); DAC state (read).
pub const DAC_READ_INDEX: u16 = 0x3C7;
/// DAC write index.
pub const DAC_WRITE_INDEX: u16 = 0x3C8;
/// DAC data: red, green, blue in turn.
pub const DAC_DATA: u16 = 0x3C9;
/// Feature control read.
pub const FEATURE_READ: u16 = 0x3CA;
/// Miscellaneous output read.
pub const MISC_READ: u16 = 0x3CC;
/// Graphics controller index.
pub const GC_INDEX: u16 = 0x3CE;
/// Graphics controller data.
pub const GC_DATA: u16 = 0x3CF;
/// CRTC index, monochrome decode (misc bit 0 clear).
pub const CRTC_INDEX_MONO: u16 = 0x3B4;
/// CRTC data, monochrome decode.
pub const CRTC_DATA_MONO: u16 = 0x3B5;
/// Input status 1 (read) / feature control (write), monochrome decode.
pub const STATUS1_MONO: u16 = 0x3BA;
/// CRTC index, colour decode (misc bit 0 set).
pub const CRTC_INDEX_COLOR: u16 = 0x3D4;
/// CRTC data, colour decode.
pub const CRTC_DATA_COLOR: u16 = 0x3D5;
/// Input status 1 (read) / feature control (write), colour decode.
pub const STATUS1_COLOR: u16 = 0x3DA;

// ---- Miscellaneous output bits ------------------------------------------

/// I/O address select: 1 = CRTC and status 1 at 0x3Dx, 0 = at 0x3Bx.
pub const MISC_IO_COLOR: u8 = 0x01;
/// RAM enable: CPU access to video memory.
pub const MISC_RAM_ENABLE: u8 = 0x02;

// ---- Sequencer ----------------------------------------------------------

/// Sequencer registers.
pub const SEQ_RESET: usize = 0x00;
/// Clocking mode (bit 0: 8-dot characters; bit 5: screen off).
pub const SEQ_CLOCKING: usize = 0x01;
/// Map mask: planes written by the CPU.
pub const SEQ_MAP_MASK: usize = 0x02;
/// Character map select (fonts A and B in plane 2).
pub const SEQ_CHAR_MAP: usize = 0x03;
/// Memory mode.
pub const SEQ_MEMORY_MODE: usize = 0x04;
/// Clocking mode: 8-dot characters (else 9).
pub const CLOCKING_DOT8: u8 = 0x01;
/// Clocking mode: dot clock halved (the 320- and 360-dot modes 0, 1, 4,
/// 5, 0Dh: each pixel is two dots on the monitor).
pub const CLOCKING_DOT_CLOCK_HALF: u8 = 0x08;
/// Clocking mode: screen off.
pub const CLOCKING_SCREEN_OFF: u8 = 0x20;
/// Memory mode: odd/even host write addressing *disabled*.
pub const MEM_ODD_EVEN_DISABLE: u8 = 0x04;
/// Memory mode: chain 4.
pub const MEM_CHAIN4: u8 = 0x08;
/// Writable bits of each sequencer register.
const SEQ_MASK: [u8; 8] = [0x03, 0x3D, 0x0F, 0x3F, 0x0E, 0, 0, 0];

// ---- Graphics controller ------------------------------------------------

/// Set/reset value per plane.
pub const GC_SET_RESET: usize = 0x00;
/// Which planes take set/reset in write mode 0.
pub const GC_ENABLE_SET_RESET: usize = 0x01;
/// Colour compare (read mode 1).
pub const GC_COLOR_COMPARE: usize = 0x02;
/// Data rotate (bits 0–2) and logical function (bits 3–4).
pub const GC_DATA_ROTATE: usize = 0x03;
/// Read map select.
pub const GC_READ_MAP: usize = 0x04;
/// Graphics mode: write mode (0–1), read mode (3), host odd/even (4),
/// shift modes (5–6).
pub const GC_MODE: usize = 0x05;
/// Miscellaneous graphics: graphics mode (0), chain odd/even (1), memory
/// map select (2–3).
pub const GC_MISC: usize = 0x06;
/// Colour don't care (read mode 1).
pub const GC_COLOR_DONT_CARE: usize = 0x07;
/// Bit mask.
pub const GC_BIT_MASK: usize = 0x08;
/// Graphics mode: host odd/even read addressing.
pub const GC_MODE_ODD_EVEN: u8 = 0x10;
/// Graphics mode register: read mode 1 (colour compare).
pub const GC_MODE_READ_COMPARE: u8 = 0x08;
/// Graphics mode: shift register interleave (CGA 4-colour modes 4 and 5).
pub const GC_MODE_SHIFT_CGA: u8 = 0x20;
/// Graphics mode: 256-colour shift (mode 13h and its unchained variants).
pub const GC_MODE_SHIFT_256: u8 = 0x40;
/// Graphics mode: both shift mode bits.
const GC_MODE_SHIFT_MASK: u8 = GC_MODE_SHIFT_CGA | GC_MODE_SHIFT_256;
/// Writable bits of each graphics controller register.
const GC_MASK: [u8; 9] = [0x0F, 0x0F, 0x0F, 0x1F, 0x03, 0x7B, 0x0F, 0x0F, 0xFF];

// ---- CRT controller -----------------------------------------------------

/// Horizontal display end (characters − 1).
pub const CRTC_H_DISPLAY_END: usize = 0x01;
/// Overflow (bits 8 and 9 of the vertical counters).
pub const CRTC_OVERFLOW: usize = 0x07;
/// Maximum scan line (bits 0–4: character height − 1; bit 7: double scan).
pub const CRTC_MAX_SCAN: usize = 0x09;
/// Cursor start (bits 0–4) and cursor disable (bit 5).
pub const CRTC_CURSOR_START: usize = 0x0A;
/// Cursor end (bits 0–4).
pub const CRTC_CURSOR_END: usize = 0x0B;
/// Start address high.
pub const CRTC_START_HI: usize = 0x0C;
/// Start address low.
pub const CRTC_START_LO: usize = 0x0D;
/// Cursor location high.
pub const CRTC_CURSOR_HI: usize = 0x0E;
/// Cursor location low.
pub const CRTC_CURSOR_LO: usize = 0x0F;
/// Vertical retrace end; bit 7 protects registers 0–7.
pub const CRTC_V_RETRACE_END: usize = 0x11;
/// Vertical display end (low 8 bits).
pub const CRTC_V_DISPLAY_END: usize = 0x12;
/// Offset: logical line width in units of two (or four) addresses.
pub const CRTC_OFFSET: usize = 0x13;
/// Underline location; bit 6 selects double-word addressing.
pub const CRTC_UNDERLINE: usize = 0x14;
/// CRTC mode control; bit 6 = byte mode (else word), bit 5 = address wrap.
pub const CRTC_MODE: usize = 0x17;
/// Line compare (bits 0–7; bit 8 in the overflow register, bit 9 in the
/// maximum scan line register).
pub const CRTC_LINE_COMPARE: usize = 0x18;
/// Preset row scan (bits 0–4) and byte panning (bits 5–6).
pub const CRTC_PRESET_ROW_SCAN: usize = 0x08;
/// Maximum scan line: scan doubling.
pub const MAX_SCAN_DOUBLE: u8 = 0x80;
/// Maximum scan line: bit 9 of the line compare.
pub const MAX_SCAN_LC9: u8 = 0x40;
/// Overflow: bit 8 of the line compare.
pub const OVERFLOW_LC8: u8 = 0x10;
/// Cursor start: cursor disabled.
pub const CURSOR_DISABLE: u8 = 0x20;
/// Underline location: double-word addressing.
pub const UNDERLINE_DWORD: u8 = 0x40;
/// CRTC mode control: output address bit 13 is the address counter's
/// (1) or row scan bit 0 (0: CGA two-bank interleave).
pub const CRTC_MODE_MAP13: u8 = 0x01;
/// CRTC mode control: output address bit 14 is the address counter's
/// (1) or row scan bit 1 (0: Hercules four-bank interleave).
pub const CRTC_MODE_MAP14: u8 = 0x02;
/// CRTC mode control: word mode rotates counter bit 15 (1) or 13 (0) into
/// address bit 0.
pub const CRTC_MODE_WRAP15: u8 = 0x20;
/// CRTC mode control: byte mode (1) or word mode (0).
pub const CRTC_MODE_BYTE: u8 = 0x40;
/// Number of CRTC registers.
pub const CRTC_COUNT: usize = 0x19;
/// Register 0x11 bit 7: registers 0–7 are write-protected.
const CRTC_PROTECT: u8 = 0x80;

// ---- Attribute controller -----------------------------------------------

/// Attribute mode control.
pub const AR_MODE: usize = 0x10;
/// Overscan (border) colour.
pub const AR_OVERSCAN: usize = 0x11;
/// Colour plane enable.
pub const AR_PLANE_ENABLE: usize = 0x12;
/// Horizontal pel panning.
pub const AR_PEL_PAN: usize = 0x13;
/// Colour select.
pub const AR_COLOR_SELECT: usize = 0x14;
/// Number of attribute registers.
pub const AR_COUNT: usize = 0x15;
/// Attribute index bit 5: palette address source (1 = the display owns the
/// palette, i.e. video on; 0 = the CPU may load the palette, screen blank).
pub const AR_PAS: u8 = 0x20;
/// Mode control: graphics (1) or alphanumeric (0).
pub const AR_MODE_GRAPHICS: u8 = 0x01;
/// Mode control: monochrome emulation (underline attribute).
pub const AR_MODE_MONO: u8 = 0x02;
/// Mode control: line graphics enable (the 9th dot of characters
/// 0xC0–0xDF repeats the 8th).
pub const AR_MODE_LINE_GRAPHICS: u8 = 0x04;
/// Mode control: attribute bit 7 blinks (1) or selects bright background.
pub const AR_MODE_BLINK: u8 = 0x08;
/// Mode control: pel panning compatibility (the lines below a line compare
/// match are not panned).
pub const AR_MODE_PAN_COMPAT: u8 = 0x20;
/// Mode control: palette bits 5–4 come from the colour select register.
pub const AR_MODE_P54: u8 = 0x80;
/// Writable bits of each attribute register.
const AR_MASK: [u8; AR_COUNT] = [
    0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0xEF,
    0xFF, 0x3F, 0x0F, 0x0F,
];

// ---- Input status 1 -----------------------------------------------------

/// Input status 1: display disabled (horizontal or vertical blanking).
pub const STATUS1_DISPLAY_DISABLED: u8 = 0x01;
/// Input status 1: vertical retrace in progress.
pub const STATUS1_VRETRACE: u8 = 0x08;

/// One frame at 60 Hz.
pub const FRAME_NS: Nanos = 1_000_000_000 / 60;
/// The vertical retrace: the last twentieth of the frame.
pub const VRETRACE_NS: Nanos = FRAME_NS / 20;
/// One scan line at the VGA's 31.469 kHz horizontal rate.
pub const LINE_NS: Nanos = 31_778;
/// Horizontal blanking: the last fifth of each line.
pub const HBLANK_NS: Nanos = LINE_NS / 5;

/// The DAC (an INMOS IMS G171-compatible RAMDAC): 256 entries of 6-bit
/// red, green and blue, loaded and read in three-byte cycles.
#[derive(Clone, Debug)]
pub struct Dac {
    /// Pixel mask (0x3C6).
    pub mask: u8,
    /// Next entry a 0x3C9 write fills.
    pub write_index: u8,
    /// Next entry a 0x3C9 read returns.
    pub read_index: u8,
    /// Which component (0 red, 1 green, 2 blue) the next data access is.
    pub step: u8,
    /// Last index register written was the read index (DAC state 0x3C7).
    pub reading: bool,
    /// Components written so far in the current write cycle.
    pub pending: [u8; 3],
    /// The palette.
    pub palette: [[u8; 3]; 256],
    /// Components are 8 bits wide (Bochs VBE 8BIT_DAC) instead of 6.
    pub eight_bit: bool,
}

impl Default for Dac {
    fn default() -> Self {
        Self {
            mask: 0xFF,
            write_index: 0,
            read_index: 0,
            step: 0,
            reading: false,
            pending: [0; 3],
            palette: [[0; 3]; 256],
            eight_bit: false,
        }
    }
}

impl Dac {
    fn component_mask(&self) -> u8 {
        if self.eight_bit {
            0xFF
        } else {
            0x3F
        }
    }

    /// A data write; true if it changed a palette entry.
    fn write_data(&mut self, v: u8) -> bool {
        self.pending[self.step as usize] = v & self.component_mask();
        self.step += 1;
        if self.step < 3 {
            return false;
        }
        let old = std::mem::replace(&mut self.palette[self.write_index as usize], self.pending);
        self.write_index = self.write_index.wrapping_add(1);
        self.step = 0;
        old != self.pending
    }

    fn read_data(&mut self) -> u8 {
        let v = self.palette[self.read_index as usize][self.step as usize];
        self.step += 1;
        if self.step == 3 {
            self.read_index = self.read_index.wrapping_add(1);
            self.step = 0;
        }
        v
    }

    /// The entry `i` as 8-bit RGB for the host display.
    pub fn rgb8(&self, i: u8) -> [u8; 3] {
        let c = self.palette[i as usize];
        if self.eight_bit {
            c
        } else {
            // 6 → 8 bits: replicate the top bits so 0x3F becomes 0xFF.
            c.map(|x| (x << 2) | (x >> 4))
        }
    }
}

/// Every register of the VGA except video memory and its latches.
#[derive(Clone, Debug)]
pub struct Regs {
    /// Miscellaneous output.
    pub misc: u8,
    /// Feature control.
    pub feature: u8,
    /// Video subsystem enable (0x3C3).
    pub video_enable: u8,
    /// Sequencer index.
    pub seq_index: u8,
    /// Sequencer registers.
    pub seq: [u8; 8],
    /// CRTC index.
    pub crtc_index: u8,
    /// CRTC registers.
    pub crtc: [u8; CRTC_COUNT],
    /// Graphics controller index.
    pub gc_index: u8,
    /// Graphics controller registers.
    pub gc: [u8; 9],
    /// Attribute index, including the palette address source bit.
    pub ar_index: u8,
    /// Attribute flip-flop: the next 0x3C0 write is data (else index).
    pub ar_flip: bool,
    /// Attribute registers.
    pub ar: [u8; AR_COUNT],
    /// The DAC.
    pub dac: Dac,
}

impl Default for Regs {
    /// Power-on state: everything zero except what makes the card usable
    /// before a BIOS programs it (map mask all planes, bit mask all bits,
    /// DAC mask all bits, video enabled).
    fn default() -> Self {
        let mut seq = [0; 8];
        seq[SEQ_MAP_MASK] = 0x0F;
        let mut gc = [0; 9];
        gc[GC_BIT_MASK] = 0xFF;
        Self {
            misc: 0,
            feature: 0,
            video_enable: 1,
            seq_index: 0,
            seq,
            crtc_index: 0,
            crtc: [0; CRTC_COUNT],
            gc_index: 0,
            gc,
            ar_index: 0,
            ar_flip: false,
            ar: [0; AR_COUNT],
            dac: Dac::default(),
        }
    }
}

/// What a register write may have changed, so the owner can mark the
/// screen dirty or recompute derived state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing visible.
    None,
    /// The picture (mode, palette, cursor, start address...).
    Display,
}

impl Effect {
    /// `Display` if `changed`.
    fn changed(changed: bool) -> Self {
        if changed {
            Self::Display
        } else {
            Self::None
        }
    }
}

impl Regs {
    /// The CRTC index port for the current I/O address select.
    pub fn crtc_base(&self) -> u16 {
        if self.misc & MISC_IO_COLOR != 0 {
            CRTC_INDEX_COLOR
        } else {
            CRTC_INDEX_MONO
        }
    }

    fn status1_port(&self) -> u16 {
        if self.misc & MISC_IO_COLOR != 0 {
            STATUS1_COLOR
        } else {
            STATUS1_MONO
        }
    }

    /// Input status 1 at guest time `now`. The beam is simulated from the
    /// clock alone: a 60 Hz frame whose last twentieth is vertical retrace,
    /// and 31.8 µs lines whose last fifth is horizontal blanking. Bit 0
    /// ("display disabled") is set in either blanking interval.
    pub fn input_status1(now: Nanos) -> u8 {
        let in_frame = now % FRAME_NS;
        let vretrace = in_frame >= FRAME_NS - VRETRACE_NS;
        let hblank = now % LINE_NS >= LINE_NS - HBLANK_NS;
        let mut v = 0;
        if vretrace {
            v |= STATUS1_VRETRACE | STATUS1_DISPLAY_DISABLED;
        } else if hblank {
            v |= STATUS1_DISPLAY_DISABLED;
        }
        v
    }

    /// Guest read of byte port `port`; `None` if the port is not decoded
    /// (e.g. 0x3B5 while the CRTC sits at 0x3D5), which reads as open bus.
    pub fn read(&mut self, port: u16, now: Nanos) -> Option<u8> {
        let crtc = self.crtc_base();
        let v = match port {
            ATTR_INDEX => self.ar_index,
            ATTR_DATA_READ => {
                let i = (self.ar_index & 0x1F) as usize;
                self.ar.get(i).copied().unwrap_or(0)
            }
            // Input status 0: no retrace interrupt pending, switch sense 0.
            MISC_WRITE => 0x00,
            VIDEO_ENABLE => self.video_enable,
            SEQ_INDEX => self.seq_index,
            SEQ_DATA => self.seq[self.seq_index as usize & 7],
            DAC_MASK => self.dac.mask,
            // DAC state: 0b11 after a read-index write, 0b00 after a write-index write.
            DAC_READ_INDEX => {
                if self.dac.reading {
                    0x03
                } else {
                    0x00
                }
            }
            DAC_WRITE_INDEX => self.dac.write_index,
            DAC_DATA => self.dac.read_data(),
            FEATURE_READ => self.feature,
            MISC_READ => self.misc,
            GC_INDEX => self.gc_index,
            GC_DATA => self.gc.get(self.gc_index as usize).copied().unwrap_or(0),
            p if p == crtc => self.crtc_index,
            p if p == crtc + 1 => self.crtc.get(self.crtc_index as usize).copied().unwrap_or(0),
            p if p == self.status1_port() => {
                // Reading input status 1 resets the attribute flip-flop to "index".
                self.ar_flip = false;
                Self::input_status1(now)
            }
            _ => return None,
        };
        Some(v)
    }

    /// Guest write of byte port `port`.
    pub fn write(&mut self, port: u16, v: u8) -> Effect {
        let crtc = self.crtc_base();
        match port {
            ATTR_INDEX => return self.write_attr(v),
            MISC_WRITE => return Effect::changed(std::mem::replace(&mut self.misc, v) != v),
            VIDEO_ENABLE => self.video_enable = v & 1,
            SEQ_INDEX => self.seq_index = v & 7,
            SEQ_DATA => {
                let i = self.seq_index as usize;
                let old = std::mem::replace(&mut self.seq[i], v & SEQ_MASK[i]);
                // The map mask and the reset register only steer CPU
                // writes; mode X programs rewrite the map mask constantly.
                if old != self.seq[i] && matches!(i, SEQ_CLOCKING | SEQ_CHAR_MAP | SEQ_MEMORY_MODE) {
                    return Effect::Display;
                }
            }
            DAC_MASK => return Effect::changed(std::mem::replace(&mut self.dac.mask, v) != v),
            DAC_READ_INDEX => {
                self.dac.read_index = v;
                self.dac.step = 0;
                self.dac.reading = true;
            }
            DAC_WRITE_INDEX => {
                self.dac.write_index = v;
                self.dac.step = 0;
                self.dac.reading = false;
            }
            DAC_DATA => return Effect::changed(self.dac.write_data(v)),
            GC_INDEX => self.gc_index = v & 0x0F,
            GC_DATA => {
                let i = self.gc_index as usize;
                if let Some(r) = self.gc.get_mut(i) {
                    let old = std::mem::replace(r, v & GC_MASK[i]);
                    // Only the shift mode (bits 5-6 of the graphics mode
                    // register) reaches the screen; the rest of the
                    // graphics controller steers CPU accesses, and drawing
                    // code rewrites the bit mask all the time.
                    if i == GC_MODE && (old ^ *r) & GC_MODE_SHIFT_MASK != 0 {
                        return Effect::Display;
                    }
                }
            }
            p if p == crtc => self.crtc_index = v,
            p if p == crtc + 1 => return self.write_crtc(v),
            // Feature control is written at the input status 1 address.
            p if p == self.status1_port() => self.feature = v,
            _ => {}
        }
        Effect::None
    }

    fn write_crtc(&mut self, v: u8) -> Effect {
        let i = self.crtc_index as usize;
        if i >= CRTC_COUNT {
            return Effect::None;
        }
        if i <= CRTC_OVERFLOW && self.crtc[CRTC_V_RETRACE_END] & CRTC_PROTECT != 0 {
            // Registers 0–7 are protected, except the line compare bit 8
            // (bit 4 of the overflow register), which stays writable.
            if i == CRTC_OVERFLOW {
                self.crtc[i] = (self.crtc[i] & !0x10) | (v & 0x10);
            }
            return Effect::Display;
        }
        if std::mem::replace(&mut self.crtc[i], v) == v {
            return Effect::None;
        }
        Effect::Display
    }

    fn write_attr(&mut self, v: u8) -> Effect {
        if !self.ar_flip {
            self.ar_flip = true;
            let was = self.ar_index & AR_PAS;
            self.ar_index = v & 0x3F;
            return if was != v & AR_PAS {
                Effect::Display
            } else {
                Effect::None
            };
        }
        self.ar_flip = false;
        let i = (self.ar_index & 0x1F) as usize;
        if i >= AR_COUNT {
            return Effect::None;
        }
        // The palette registers (0–15) can only be loaded while the palette
        // address source bit is clear (video off); the other registers are
        // always writable.
        if i < 0x10 && self.ar_index & AR_PAS != 0 {
            return Effect::None;
        }
        let v = v & AR_MASK[i];
        if std::mem::replace(&mut self.ar[i], v) == v {
            return Effect::None;
        }
        Effect::Display
    }

    /// The display is on: palette address source set and the sequencer's
    /// screen-off bit clear.
    pub fn video_on(&self) -> bool {
        self.ar_index & AR_PAS != 0 && self.seq[SEQ_CLOCKING] & CLOCKING_SCREEN_OFF == 0
    }

    /// 16-bit CRTC value from a high/low register pair.
    pub fn crtc16(&self, hi: usize, lo: usize) -> u16 {
        u16::from_be_bytes([self.crtc[hi], self.crtc[lo]])
    }

    /// Vertical display end + 1: the number of displayed scan lines.
    pub fn displayed_lines(&self) -> u32 {
        let ov = self.crtc[CRTC_OVERFLOW] as u32;
        let vde = self.crtc[CRTC_V_DISPLAY_END] as u32 | ((ov & 0x02) << 7) | ((ov & 0x40) << 3);
        vde + 1
    }

    /// The DAC index an attribute colour (0–15) ends up at: through the
    /// attribute palette, then the colour select register (VGA attribute
    /// controller, "Colour Select Register").
    pub fn attr_to_dac(&self, color: u8) -> u8 {
        let p = self.ar[(color & 0x0F) as usize];
        let cs = self.ar[AR_COLOR_SELECT];
        let (hi, mid) = if self.ar[AR_MODE] & AR_MODE_P54 != 0 {
            ((cs & 0x0C) << 4, (cs & 0x03) << 4)
        } else {
            ((cs & 0x0C) << 4, p & 0x30)
        };
        hi | mid | (p & 0x0F)
    }
}
