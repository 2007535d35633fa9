//! The Bochs VBE "dispi" interface: 16-bit index at port 0x1CE, 16-bit
//! data at 0x1CF (Bochs `vbe.h`, as used by the Bochs/QEMU VGA BIOSes and
//! Linux's `bochs-drm`). It sets resolution and depth directly instead of
//! through VGA timing registers.
//!
//! Implemented: the ID handshake (0xB0C0–0xB0C5), XRES/YRES/BPP with
//! range checks, ENABLE with GETCAPS (reads of XRES/YRES/BPP return the
//! maxima while it is set), 8-bit DAC, LFB and no-clear flags, BANK for the
//! 64 KiB window at 0xA0000, virtual size and display offsets, and the
//! read-only VRAM size in 64 KiB units. `render.rs` draws the modes.

/// Index port.
pub const DISPI_INDEX: u16 = 0x1CE;
/// Data port.
pub const DISPI_DATA: u16 = 0x1CF;

/// Interface version / handshake register.
pub const INDEX_ID: usize = 0x0;
/// Horizontal resolution.
pub const INDEX_XRES: usize = 0x1;
/// Vertical resolution.
pub const INDEX_YRES: usize = 0x2;
/// Bits per pixel.
pub const INDEX_BPP: usize = 0x3;
/// Enable and flags.
pub const INDEX_ENABLE: usize = 0x4;
/// 64 KiB bank shown in the window at 0xA0000.
pub const INDEX_BANK: usize = 0x5;
/// Virtual (scan line) width in pixels.
pub const INDEX_VIRT_WIDTH: usize = 0x6;
/// Virtual height in lines.
pub const INDEX_VIRT_HEIGHT: usize = 0x7;
/// Display start, x.
pub const INDEX_X_OFFSET: usize = 0x8;
/// Display start, y.
pub const INDEX_Y_OFFSET: usize = 0x9;
/// Video memory size in 64 KiB units (read-only).
pub const INDEX_VIDEO_MEMORY_64K: usize = 0xA;
/// Number of registers.
pub const INDEX_COUNT: usize = 0xB;

/// Oldest interface version.
pub const ID0: u16 = 0xB0C0;
/// Newest interface version we speak.
pub const ID5: u16 = 0xB0C5;

/// ENABLE: the VBE mode is on.
pub const ENABLED: u16 = 0x01;
/// ENABLE: reads of XRES/YRES/BPP return the capabilities.
pub const GETCAPS: u16 = 0x02;
/// ENABLE: the DAC takes 8-bit components.
pub const DAC_8BIT: u16 = 0x20;
/// ENABLE: the linear framebuffer is in use.
pub const LFB_ENABLED: u16 = 0x40;
/// ENABLE: do not clear video memory when enabling.
pub const NOCLEARMEM: u16 = 0x80;

/// Largest horizontal resolution offered.
pub const MAX_XRES: u16 = 2560;
/// Largest vertical resolution offered.
pub const MAX_YRES: u16 = 1600;
/// Deepest pixel format offered.
pub const MAX_BPP: u16 = 32;

/// What a data write asks the VGA to do besides storing the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing more.
    None,
    /// The mode was switched on; clear video memory if `clear`.
    Enabled {
        /// Video memory should be zeroed.
        clear: bool,
    },
    /// The mode was switched off, or flags changed.
    Changed,
}

/// The dispi register file.
#[derive(Clone, Debug)]
pub struct Dispi {
    /// Selected register.
    pub index: u16,
    /// Register values.
    pub regs: [u16; INDEX_COUNT],
}

impl Dispi {
    /// Power-on state for `vram_size` bytes of video memory.
    pub fn new(vram_size: usize) -> Self {
        let mut regs = [0; INDEX_COUNT];
        regs[INDEX_ID] = ID5;
        regs[INDEX_BPP] = 8;
        regs[INDEX_VIDEO_MEMORY_64K] = (vram_size >> 16).min(0xFFFF) as u16;
        Self { index: 0, regs }
    }

    /// The VBE mode is on.
    pub fn enabled(&self) -> bool {
        self.regs[INDEX_ENABLE] & ENABLED != 0
    }

    /// Byte offset of the bank shown in the 64 KiB window.
    pub fn bank_offset(&self) -> u32 {
        u32::from(self.regs[INDEX_BANK]) << 16
    }

    /// Read register `i` (through the data port, or BAR2).
    pub fn read_reg(&self, i: usize) -> u16 {
        if self.regs[INDEX_ENABLE] & GETCAPS != 0 {
            match i {
                INDEX_XRES => return MAX_XRES,
                INDEX_YRES => return MAX_YRES,
                INDEX_BPP => return MAX_BPP,
                _ => {}
            }
        }
        self.regs.get(i).copied().unwrap_or(0)
    }

    /// Write register `i`; out-of-range values are ignored, as Bochs does.
    pub fn write_reg(&mut self, i: usize, v: u16) -> Action {
        let vram_banks = u32::from(self.regs[INDEX_VIDEO_MEMORY_64K]);
        match i {
            INDEX_ID => {
                if (ID0..=ID5).contains(&v) {
                    self.regs[INDEX_ID] = v;
                }
            }
            INDEX_XRES => {
                if v <= MAX_XRES && v & 7 == 0 {
                    self.regs[i] = v;
                }
            }
            INDEX_YRES => {
                if v <= MAX_YRES {
                    self.regs[i] = v;
                }
            }
            INDEX_BPP => {
                let v = if v == 0 { 8 } else { v };
                if matches!(v, 4 | 8 | 15 | 16 | 24 | 32) {
                    self.regs[i] = v;
                }
            }
            INDEX_BANK => {
                if u32::from(v) < vram_banks.max(1) {
                    self.regs[i] = v;
                }
            }
            INDEX_ENABLE => {
                let was_on = self.enabled();
                self.regs[i] = v;
                if v & ENABLED != 0 && !was_on {
                    // A fresh mode: the virtual screen is the visible one
                    // and the display starts at the top.
                    self.regs[INDEX_VIRT_WIDTH] = self.regs[INDEX_XRES];
                    let line = self.line_bytes().max(1);
                    let height = (vram_banks << 16) / line;
                    self.regs[INDEX_VIRT_HEIGHT] = height.min(0xFFFF) as u16;
                    self.regs[INDEX_X_OFFSET] = 0;
                    self.regs[INDEX_Y_OFFSET] = 0;
                    return Action::Enabled {
                        clear: v & NOCLEARMEM == 0,
                    };
                }
                if v & ENABLED == 0 {
                    self.regs[INDEX_BANK] = 0;
                }
                return Action::Changed;
            }
            INDEX_VIRT_WIDTH | INDEX_VIRT_HEIGHT | INDEX_X_OFFSET | INDEX_Y_OFFSET => {
                self.regs[i] = v;
            }
            // VIDEO_MEMORY_64K is read-only; unknown indexes are ignored.
            _ => return Action::None,
        }
        Action::Changed
    }

    /// Bytes per scan line of the virtual screen.
    pub fn line_bytes(&self) -> u32 {
        let bpp = u32::from(self.regs[INDEX_BPP]);
        let w = u32::from(self.regs[INDEX_VIRT_WIDTH].max(self.regs[INDEX_XRES]));
        match bpp {
            4 => w / 2,
            15 | 16 => w * 2,
            _ => w * bpp.div_ceil(8),
        }
    }
}
