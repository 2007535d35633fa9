//! The standard register set of BIOS mode 3 (80×25 colour text, 720×400,
//! 9-dot characters 16 lines high), as in IBM's VGA BIOS parameter table,
//! and the EGA-compatible 64-colour DAC palette. Used to bring the card up
//! in text mode when no VGA BIOS runs (direct kernel boot) and by tests.

/// Miscellaneous output: colour I/O, RAM enabled, 28 MHz clock, odd/even
/// page high, 400-line sync polarity.
pub const MODE3_MISC: u8 = 0x67;
/// Sequencer registers 1–4.
pub const MODE3_SEQ: [u8; 4] = [0x00, 0x03, 0x00, 0x02];
/// CRTC registers 0x00–0x18.
pub const MODE3_CRTC: [u8; 25] = [
    0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00, 0x9C,
    0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF,
];
/// Attribute registers 0x00–0x13 (0x14 is 0).
pub const MODE3_ATTR: [u8; 20] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x0C,
    0x00, 0x0F, 0x08,
];
/// Graphics controller registers 0x00–0x08.
pub const MODE3_GC: [u8; 9] = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x0F, 0xFF];

/// DAC entry `i` (0–63) of the EGA palette: the index bits are
/// `r g b R G B` from high to low, where lower-case bits are worth 0x15
/// and upper-case bits 0x2A of a 6-bit component.
pub fn ega_color(i: u8) -> [u8; 3] {
    let c = |hi: u8, lo: u8| ((i >> hi) & 1) * 0x2A + ((i >> lo) & 1) * 0x15;
    [c(2, 5), c(1, 4), c(0, 3)]
}
