//! Reading the alphanumeric (text) screen back out of video memory, the way
//! the CRT controller fetches it, and code page 437 for showing it on a
//! Unicode terminal.
//!
//! The CRTC walks a memory address counter `ma` from the start address
//! (registers 0x0C/0x0D); each row advances it by twice the offset register
//! (0x13). In word mode (register 0x17 bit 6 clear — every colour text
//! mode) the plane offset is `ma << 1` with bit 13 or 15 of `ma` rotated into
//! bit 0; in byte mode it is `ma` itself. The character is that byte of
//! plane 0, the attribute the same byte of plane 1. Columns come from the
//! horizontal display end (0x01), rows from the vertical display end
//! (0x12 and overflow 0x07) divided by the character height (0x09 bits 0–4,
//! doubled by bit 7). Not modelled: line compare (split screen), pel
//! panning, the underline location of monochrome attributes.

use super::memory::Vram;
use super::regs::{
    Regs, AR_MODE, AR_MODE_BLINK, CRTC_CURSOR_END, CRTC_CURSOR_HI, CRTC_CURSOR_LO, CRTC_CURSOR_START,
    CRTC_H_DISPLAY_END, CRTC_MAX_SCAN, CRTC_MODE, CRTC_OFFSET, CRTC_START_HI, CRTC_START_LO, CRTC_UNDERLINE,
};

/// One character cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    /// The code page 437 character code.
    pub ch: u8,
    /// The attribute: foreground in bits 0–3, background in 4–6, blink or
    /// bright background in 7.
    pub attr: u8,
}

/// The hardware cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Row on the screen (0-based).
    pub row: usize,
    /// Column on the screen (0-based).
    pub col: usize,
    /// First scan line of the cursor block within the character cell.
    pub start: u8,
    /// Last scan line.
    pub end: u8,
}

/// A snapshot of the text screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextScreen {
    /// Characters per row.
    pub cols: usize,
    /// Rows.
    pub rows: usize,
    /// `rows * cols` cells, row by row.
    pub cells: Vec<Cell>,
    /// The cursor, if it is enabled and on the screen.
    pub cursor: Option<Cursor>,
    /// CRTC start address (in CRTC address units: characters).
    pub start_address: u16,
    /// Scan lines per character row.
    pub char_height: u8,
    /// Attribute bit 7 blinks (else it selects a bright background).
    pub blink: bool,
    /// The 16 attribute colours as 8-bit RGB, through the attribute
    /// palette and the DAC.
    pub palette: [[u8; 3]; 16],
}

impl TextScreen {
    /// Row `r` as a slice of cells.
    pub fn row(&self, r: usize) -> &[Cell] {
        &self.cells[r * self.cols..(r + 1) * self.cols]
    }

    /// Row `r` as Unicode text (code page 437), trailing spaces removed.
    pub fn row_text(&self, r: usize) -> String {
        let s: String = self.row(r).iter().map(|c| cp437_to_char(c.ch)).collect();
        s.trim_end_matches(' ').to_string()
    }

    /// The whole screen as UTF-8, one line per row ending in `\n`, each
    /// with trailing spaces (and blank NUL cells) trimmed.
    pub fn to_utf8(&self) -> String {
        let mut out = String::with_capacity(self.rows * (self.cols + 1));
        for r in 0..self.rows {
            out.push_str(&self.row_text(r));
            out.push('\n');
        }
        out
    }
}

/// Scan lines per character row: the maximum scan line + 1, doubled by
/// double scanning.
fn char_height(regs: &Regs) -> u32 {
    let max_scan = regs.crtc[CRTC_MAX_SCAN];
    let h = u32::from(max_scan & 0x1F) + 1;
    if max_scan & 0x80 != 0 {
        h * 2
    } else {
        h
    }
}

/// (columns, rows) of the text screen the CRTC is programmed for.
pub fn read_screen_geometry(regs: &Regs) -> (usize, usize) {
    let cols = regs.crtc[CRTC_H_DISPLAY_END] as usize + 1;
    let rows = (regs.displayed_lines() / char_height(regs)).max(1) as usize;
    (cols, rows)
}

/// Read the text screen described by `regs` out of `vram`.
pub fn read_screen(regs: &Regs, vram: &Vram) -> TextScreen {
    let (cols, rows) = read_screen_geometry(regs);
    let char_height = char_height(regs);
    let start = regs.crtc16(CRTC_START_HI, CRTC_START_LO);
    let stride = regs.crtc[CRTC_OFFSET] as u32 * 2;
    let mode = regs.crtc[CRTC_MODE];
    let dword = regs.crtc[CRTC_UNDERLINE] & 0x40 != 0;
    let byte_mode = mode & 0x40 != 0;
    let wrap_bit = if mode & 0x20 != 0 { 15 } else { 13 };
    let plane_addr = |ma: u32| -> usize {
        let a = if dword {
            ma << 2
        } else if byte_mode {
            ma
        } else {
            (ma << 1) | ((ma >> wrap_bit) & 1)
        };
        (a & 0xFFFF) as usize
    };

    let mut cells = Vec::with_capacity(rows * cols);
    for r in 0..rows as u32 {
        for c in 0..cols as u32 {
            let a = plane_addr(u32::from(start) + r * stride + c);
            cells.push(Cell {
                ch: vram.plane(0, a),
                attr: vram.plane(1, a),
            });
        }
    }

    let cursor_start = regs.crtc[CRTC_CURSOR_START];
    let loc = u32::from(regs.crtc16(CRTC_CURSOR_HI, CRTC_CURSOR_LO));
    let cursor = (cursor_start & 0x20 == 0 && stride != 0)
        .then(|| loc.wrapping_sub(u32::from(start)) & 0xFFFF)
        .map(|rel| ((rel / stride) as usize, (rel % stride) as usize))
        .filter(|&(row, col)| row < rows && col < cols)
        .map(|(row, col)| Cursor {
            row,
            col,
            start: cursor_start & 0x1F,
            end: regs.crtc[CRTC_CURSOR_END] & 0x1F,
        });

    let mut palette = [[0u8; 3]; 16];
    for (i, p) in palette.iter_mut().enumerate() {
        *p = regs.dac.rgb8(regs.attr_to_dac(i as u8) & regs.dac.mask);
    }

    TextScreen {
        cols,
        rows,
        cells,
        cursor,
        start_address: start,
        char_height: char_height as u8,
        blink: regs.ar[AR_MODE] & AR_MODE_BLINK != 0,
        palette,
    }
}

/// Code page 437 (the IBM PC's ROM character set) to Unicode, with the
/// glyphs the VGA draws for the control range 0x01–0x1F and 0x7F. 0x00 is
/// drawn blank and maps to a space; 0xFF is the no-break space.
pub fn cp437_to_char(b: u8) -> char {
    match b {
        0x00 => ' ',
        0x01..=0x1F => CP437_LOW[b as usize - 1],
        0x20..=0x7E => b as char,
        0x7F => '\u{2302}',
        _ => CP437_HIGH[b as usize - 0x80],
    }
}

/// 0x01–0x1F.
const CP437_LOW: [char; 31] = [
    '\u{263A}', '\u{263B}', '\u{2665}', '\u{2666}', '\u{2663}', '\u{2660}', '\u{2022}', // 01–07
    '\u{25D8}', '\u{25CB}', '\u{25D9}', '\u{2642}', '\u{2640}', '\u{266A}', '\u{266B}', // 08–0E
    '\u{263C}', '\u{25BA}', '\u{25C4}', '\u{2195}', '\u{203C}', '\u{00B6}', '\u{00A7}', // 0F–15
    '\u{25AC}', '\u{21A8}', '\u{2191}', '\u{2193}', '\u{2192}', '\u{2190}', '\u{221F}', // 16–1C
    '\u{2194}', '\u{25B2}', '\u{25BC}', // 1D–1F
];

/// 0x80–0xFF.
const CP437_HIGH: [char; 128] = [
    // 0x80
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', // 0x90
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', // 0xA0
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', // 0xB0
    '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐', // 0xC0
    '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧', // 0xD0
    '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐', '▀', // 0xE0
    'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', // 0xF0
    '≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{00A0}',
];
