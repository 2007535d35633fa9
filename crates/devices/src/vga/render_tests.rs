//! The renderer, driven through the card's ports and memory the way a
//! BIOS or a program would, checked pixel for pixel against images built
//! from the rules of each mode (not from the renderer).

use super::super::modes::{ega_color, MODE3_ATTR};
use super::super::regs::FRAME_NS;
use super::super::tests::Guest;
use super::super::Frame;
use super::Blink;

/// A BIOS mode's register set (IBM VGA parameter table layout).
struct ModeRegs {
    misc: u8,
    seq: [u8; 4],
    crtc: [u8; 25],
    ar: [u8; 20],
    gc: [u8; 9],
}

const IDENTITY_AR: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

fn ar(palette: [u8; 16], tail: [u8; 4]) -> [u8; 20] {
    let mut a = [0; 20];
    a[..16].copy_from_slice(&palette);
    a[16..].copy_from_slice(&tail);
    a
}

/// Mode 12h: 640×480, 16 colours, planar.
fn mode12() -> ModeRegs {
    ModeRegs {
        misc: 0xE3,
        seq: [0x01, 0x0F, 0x00, 0x06],
        crtc: [
            0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0x0B, 0x3E, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0xEA, 0x8C, 0xDF, 0x28, 0x00, 0xE7, 0x04, 0xE3, 0xFF,
        ],
        ar: ar(IDENTITY_AR, [0x01, 0x00, 0x0F, 0x00]),
        gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF],
    }
}

/// Mode 13h: 320×200, 256 colours, chain 4.
fn mode13() -> ModeRegs {
    ModeRegs {
        misc: 0x63,
        seq: [0x01, 0x0F, 0x00, 0x0E],
        crtc: [
            0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x9C, 0x8E, 0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3, 0xFF,
        ],
        ar: ar(IDENTITY_AR, [0x41, 0x00, 0x0F, 0x00]),
        gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0F, 0xFF],
    }
}

/// Mode X: mode 13h unchained, 480 scan lines (Abrash's 320×240).
fn mode_x() -> ModeRegs {
    let mut m = mode13();
    m.misc = 0xE3;
    m.seq[3] = 0x06;
    for (i, v) in [
        (0x06, 0x0D),
        (0x07, 0x3E),
        (0x10, 0xEA),
        (0x11, 0xAC),
        (0x12, 0xDF),
        (0x14, 0x00),
        (0x15, 0xE7),
        (0x16, 0x06),
        (0x17, 0xE3),
    ] {
        m.crtc[i] = v;
    }
    m
}

/// Mode 4: 320×200, 4 colours, CGA interleave at B8000.
fn mode4() -> ModeRegs {
    ModeRegs {
        misc: 0x63,
        seq: [0x09, 0x03, 0x00, 0x02],
        crtc: [
            0x2D, 0x27, 0x28, 0x90, 0x2B, 0x80, 0xBF, 0x1F, 0x00, 0xC1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x9C, 0x8E, 0x8F, 0x14, 0x00, 0x96, 0xB9, 0xA2, 0xFF,
        ],
        ar: ar(
            [
                0x00, 0x13, 0x15, 0x17, 0x02, 0x04, 0x06, 0x07, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
                0x17,
            ],
            [0x01, 0x00, 0x03, 0x00],
        ),
        gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x0F, 0x0F, 0xFF],
    }
}

/// Mode 6: 640×200, 2 colours, CGA interleave at B8000.
fn mode6() -> ModeRegs {
    ModeRegs {
        misc: 0x63,
        seq: [0x01, 0x01, 0x00, 0x06],
        crtc: [
            0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0xC1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x9C, 0x8E, 0x8F, 0x28, 0x00, 0x96, 0xB9, 0xC2, 0xFF,
        ],
        ar: ar(
            [
                0x00, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17,
                0x17,
            ],
            [0x01, 0x00, 0x01, 0x00],
        ),
        gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0D, 0x0F, 0xFF],
    }
}

/// Mode 0Dh: 320×200, 16 colours, planar, scan doubled.
fn mode0d() -> ModeRegs {
    ModeRegs {
        misc: 0x63,
        seq: [0x09, 0x0F, 0x00, 0x06],
        crtc: [
            0x2D, 0x27, 0x28, 0x90, 0x2B, 0x80, 0xBF, 0x1F, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x9C, 0x8E, 0x8F, 0x14, 0x00, 0x96, 0xB9, 0xE3, 0xFF,
        ],
        ar: ar(
            [
                0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
                0x17,
            ],
            [0x01, 0x00, 0x0F, 0x00],
        ),
        gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF],
    }
}

/// A made-up DAC (6-bit components), distinct for every index.
fn dac6(i: u8) -> [u8; 3] {
    [i >> 2, i.wrapping_mul(3) & 0x3F, 0x3F - (i >> 2)]
}

/// A 6-bit DAC entry as the frame's pixel.
fn px6(c: [u8; 3]) -> u32 {
    let e = |x: u8| u32::from((x << 2) | (x >> 4));
    e(c[0]) << 16 | e(c[1]) << 8 | e(c[2])
}

impl Guest {
    /// Program a mode's registers with the screen blanked, as a BIOS does,
    /// and load the DAC with `dac`.
    fn set_regs(&mut self, m: &ModeRegs, dac: fn(u8) -> [u8; 3]) {
        self.outb(0x3C2, m.misc);
        self.attrindex_write(0x00);
        self.sequ_write(0, 0x01);
        for (i, &v) in m.seq.iter().enumerate() {
            self.sequ_write(i as u8 + 1, v);
        }
        self.sequ_write(0, 0x03);
        self.crtc_write(0x11, 0);
        for (i, &v) in m.crtc.iter().enumerate() {
            self.crtc_write(i as u8, v);
        }
        for (i, &v) in m.gc.iter().enumerate() {
            self.grdc_write(i as u8, v);
        }
        for (i, &v) in m.ar.iter().enumerate() {
            self.attr_write(i as u8, v);
        }
        self.attr_write(0x14, 0);
        self.outb(0x3C8, 0);
        for i in 0..=255 {
            for c in dac(i) {
                self.outb(0x3C9, c);
            }
        }
        self.attrindex_write(0x20);
    }

    /// The frame after an update must equal a fresh full render.
    fn checked_frame(&mut self) -> Frame {
        let f = self.vga.frame().clone();
        assert_eq!(
            f,
            self.vga.render_uncached(),
            "cached frame differs from a full render"
        );
        f
    }
}

/// Compare two frames, naming the first differing pixel.
#[track_caller]
fn assert_frame(got: &Frame, want: &Frame) {
    assert_eq!((got.width, got.height), (want.width, want.height), "frame size");
    if let Some(i) = got.pixels.iter().zip(&want.pixels).position(|(a, b)| a != b) {
        let (x, y) = (i as u32 % got.width, i as u32 / got.width);
        panic!(
            "pixel ({x}, {y}): got {:06X}, want {:06X}",
            got.pixels[i], want.pixels[i]
        );
    }
}

fn frame_from(width: u32, height: u32, f: impl Fn(u32, u32) -> u32) -> Frame {
    let mut fr = Frame::new(width, height);
    for y in 0..height {
        for x in 0..width {
            fr.pixels[(y * width + x) as usize] = f(x, y);
        }
    }
    fr
}

/// The mode 3 text screen the rules give: `cell(row, col)` is (character,
/// attribute); the font is `load_font`'s (`c ^ y`); colours are the mode 3
/// attribute palette over the EGA DAC; 9-dot cells with line graphics;
/// blink enabled.
fn expect_mode3(cell: impl Fn(u32, u32) -> (u8, u8), cursor: Option<(u32, u32)>, blink: Blink) -> Frame {
    let pal = |c: u8| px6(ega_color(MODE3_ATTR[usize::from(c)]));
    frame_from(720, 400, |x, y| {
        let (row, col, scan, dot) = (y / 16, x / 9, y % 16, x % 9);
        let (ch, attr) = cell(row, col);
        let mut glyph = ch ^ scan as u8;
        let mut forced = false;
        if attr & 0x80 != 0 && !blink.text {
            glyph = 0;
        }
        if cursor == Some((row, col)) && (0x0D..=0x0E).contains(&scan) && blink.cursor {
            glyph = 0xFF;
            forced = true;
        }
        let on = if dot < 8 {
            glyph >> (7 - dot) & 1 != 0
        } else {
            (forced || (0xC0..=0xDF).contains(&ch)) && glyph & 1 != 0
        };
        pal(if on { attr & 0x0F } else { attr >> 4 & 7 })
    })
}

#[test]
fn text_mode_from_the_font_in_plane_2() {
    let mut g = Guest::new();
    g.set_mode3();
    g.put(0, 0, b"H", 0x1F);
    g.put(0, 1, &[0xC9, 0xC0, 0xDF, 0xE0, 0xBF], 0x4E);
    g.put(1, 0, b"Blink", 0x8F);
    g.put(24, 79, b"!", 0x70);
    g.set_cursor(2, 3);
    let cells = |r: u32, c: u32| match (r, c) {
        (0, 0) => (b'H', 0x1F),
        (0, 1..=5) => ([0xC9, 0xC0, 0xDF, 0xE0, 0xBF][c as usize - 1], 0x4E),
        (1, 0..=4) => (b"Blink"[c as usize], 0x8F),
        (24, 79) => (b'!', 0x70),
        _ => (b' ', 0x07),
    };
    let on = Blink {
        cursor: true,
        text: true,
    };
    assert_frame(&g.checked_frame(), &expect_mode3(cells, Some((2, 3)), on));

    // Eight frames later the cursor is off: only its scan lines change.
    g.clock.set(8 * FRAME_NS);
    let lines = g.vga.update_frame().expect("the cursor blinked");
    assert_eq!(
        lines,
        16..2 * 16 + 0x0E + 1,
        "the blinking row and the cursor lines"
    );
    let off = Blink {
        cursor: false,
        text: true,
    };
    assert_frame(g.vga.frame(), &expect_mode3(cells, Some((2, 3)), off));
    assert_eq!(g.vga.update_frame(), None, "nothing changed");
    // Sixteen frames in, blinking text shows its background.
    g.clock.set(16 * FRAME_NS);
    let phase = Blink {
        cursor: true,
        text: false,
    };
    assert_eq!(g.vga.frame_blink(), off);
    assert_frame(&g.checked_frame(), &expect_mode3(cells, Some((2, 3)), phase));
    assert_eq!(g.vga.frame_blink(), phase);

    // Blink disabled: attribute bit 7 is a bright background instead.
    g.attr_write(0x10, 0x04);
    let f = g.checked_frame();
    let pal = |c: u8| px6(ega_color(MODE3_ATTR[usize::from(c)]));
    assert_eq!(f.pixel(5, 16), pal(0x08), "background 8 behind 'B'");
    // Without line graphics the 9th dot of 0xC9 is background.
    assert_eq!(f.pixel(9 + 8, 4), pal(0x0E), "C9 ^ 4 = CD: bit 0 set, repeated");
    g.attr_write(0x10, 0x00);
    assert_eq!(g.checked_frame().pixel(9 + 8, 4), pal(0x04));
}

#[test]
fn text_80x50_fonts_a_and_b_panning_and_split() {
    let mut g = Guest::new();
    g.set_mode3();
    g.load_font(8);
    // Font B is map 0 (the `c ^ y` font); font A is map 1 at plane 2
    // offset 0x4000, filled with the complement.
    g.sequ_write(0x02, 0x04);
    g.sequ_write(0x04, 0x07);
    g.grdc_write(0x05, 0x00);
    g.grdc_write(0x06, 0x04);
    for c in 0..256u64 {
        for y in 0..8u64 {
            g.writeb(0xA4000 + c * 32 + y, !(c ^ y) as u8);
        }
    }
    g.sequ_write(0x02, 0x03);
    g.sequ_write(0x04, 0x02);
    g.grdc_write(0x06, 0x0E);
    g.grdc_write(0x05, 0x10);
    g.sequ_write(0x03, 0x04);
    // 8-dot characters 8 lines high; text everywhere.
    g.sequ_write(0x01, 0x01);
    for i in 0..4096u64 {
        g.writew(
            0xB8000 + 2 * i,
            ((((i * 29) >> 3) as u16) & 0x7F) << 8 | (i as u16 & 0xFF),
        );
    }
    let v = g.crtc_read(0x09);
    g.crtc_write(0x09, (v & !0x5F) | 7);
    // Start at memory row 1, pan by 3, split after scan line 199 (line
    // compare 199: bits 8 and 9 clear), bottom unpanned.
    g.crtc_write(0x0C, 0);
    g.crtc_write(0x0D, 80);
    g.crtc_write(0x18, 199);
    let ov = g.crtc_read(0x07);
    g.crtc_write(0x07, ov & !0x10);
    g.attr_write(0x13, 3);
    g.attr_write(0x10, 0x24);
    g.crtc_write(0x0A, 0x20); // no cursor
    let f = g.checked_frame();
    assert_eq!((f.width, f.height), (640, 400));
    let pal = |c: u8| px6(ega_color(MODE3_ATTR[usize::from(c)]));
    let want = frame_from(640, 400, |x, y| {
        let (x, y, base) = if y <= 199 { (x + 3, y, 80) } else { (x, y - 200, 0) };
        let i = base + u64::from(y / 8 * 80 + x / 8);
        let (ch, attr) = ((i & 0xFF) as u8, ((i * 29) >> 3) as u8 & 0x7F);
        let glyph = (ch ^ (y % 8) as u8) ^ if attr & 0x08 != 0 { 0xFF } else { 0 };
        pal(if glyph >> (7 - x % 8) & 1 != 0 {
            attr & 0x0F
        } else {
            attr >> 4
        })
    });
    assert_frame(&f, &want);
}

/// The mode 12h test picture: 16 bars 40 pixels wide, a box XORed with
/// colour 5, a diagonal; rows past 479 are 0.
fn pattern12(x: u32, y: u32) -> u8 {
    if y >= 480 {
        return 0;
    }
    if x == y + 80 {
        return ((y >> 4) as u8 + 8) & 15;
    }
    let bar = (x / 40) as u8;
    if (400..440).contains(&y) && (320..384).contains(&x) {
        bar ^ 5
    } else {
        bar
    }
}

/// Draw [`pattern12`] the way a program would: clear with write mode 0,
/// bars with write mode 2, the box with set/reset and XOR, the diagonal
/// with the bit mask and the latches.
fn draw12(g: &mut Guest) {
    g.sequ_write(0x02, 0x0F);
    g.grdc_write(0x05, 0x00);
    g.grdc_write(0x08, 0xFF);
    for a in 0..0x10000u64 {
        g.writeb(0xA0000 + a, 0);
    }
    g.grdc_write(0x05, 0x02);
    for y in 0..480u64 {
        for b in 0..80u64 {
            g.writeb(0xA0000 + y * 80 + b, (b / 5) as u8);
        }
    }
    g.grdc_write(0x05, 0x00);
    g.grdc_write(0x00, 0x05);
    g.grdc_write(0x01, 0x0F);
    g.grdc_write(0x03, 0x18);
    for y in 400..440u64 {
        for b in 40..48u64 {
            g.readb(0xA0000 + y * 80 + b);
            g.writeb(0xA0000 + y * 80 + b, 0);
        }
    }
    g.grdc_write(0x01, 0x00);
    g.grdc_write(0x03, 0x00);
    g.grdc_write(0x05, 0x02);
    for y in 0..480u64 {
        let x = y + 80;
        g.grdc_write(0x08, 0x80 >> (x & 7));
        let a = 0xA0000 + y * 80 + x / 8;
        g.readb(a);
        g.writeb(a, ((y >> 4) as u8 + 8) & 15);
    }
    g.grdc_write(0x08, 0xFF);
    g.grdc_write(0x05, 0x00);
}

#[test]
fn planar_640x480_panning_start_address_and_split() {
    let mut g = Guest::new();
    let mut m = mode12();
    let palette: [u8; 16] = std::array::from_fn(|k| (k as u8 * 4 + 3) & 0x3F);
    m.ar[..16].copy_from_slice(&palette);
    g.set_regs(&m, dac6);
    draw12(&mut g);
    let pal = |c: u8| px6(dac6(palette[usize::from(c)]));
    assert_frame(
        &g.checked_frame(),
        &frame_from(640, 480, |x, y| pal(pattern12(x, y))),
    );

    // Start 40 lines and 16 pixels down the picture, pan 3 more; split
    // after scan line 299 (bit 8 in the overflow register, bit 9 in the
    // maximum scan line register) with the bottom unpanned.
    let start = 40 * 80 + 2;
    g.crtc_write(0x0C, (start >> 8) as u8);
    g.crtc_write(0x0D, start as u8);
    g.attr_write(0x13, 3);
    g.attr_write(0x10, 0x21);
    g.crtc_write(0x18, (299u32 & 0xFF) as u8);
    let ov = g.crtc_read(0x07);
    g.crtc_write(0x07, ov | 0x10);
    let ms = g.crtc_read(0x09);
    g.crtc_write(0x09, ms & !0x40);
    let want = frame_from(640, 480, |x, y| {
        if y <= 299 {
            let l = 40 * 640 + 16 + 3 + y * 640 + x;
            pal(pattern12(l % 640, l / 640))
        } else {
            pal(pattern12(x, y - 300))
        }
    });
    assert_frame(&g.checked_frame(), &want);

    // The colour plane enable register masks planes out.
    g.attr_write(0x12, 0x05);
    let f = g.checked_frame();
    assert_eq!(f.pixel(7 * 40, 479), pal(7 & 5));
}

#[test]
fn chain4_320x200_and_mode_x_320x240() {
    let mut g = Guest::new();
    g.set_regs(&mode13(), dac6);
    for y in 0..200u64 {
        for x in 0..320u64 {
            g.writeb(0xA0000 + y * 320 + x, (x + 2 * y) as u8);
        }
    }
    let want = frame_from(320, 200, |x, y| px6(dac6((x + 2 * y) as u8)));
    assert_frame(&g.checked_frame(), &want);
    // The DAC pixel mask.
    g.outb(0x3C6, 0x0F);
    assert_eq!(g.checked_frame().pixel(0x35, 0), px6(dac6(0x05)));
    g.outb(0x3C6, 0xFF);
    // 256-colour panning moves by half the register value.
    g.attr_write(0x13, 2);
    assert_eq!(g.checked_frame().pixel(0, 0), px6(dac6(1)));
    g.attr_write(0x13, 0);

    g.set_regs(&mode_x(), dac6);
    for p in 0..4u64 {
        g.sequ_write(0x02, 1 << p);
        for y in 0..240u64 {
            for k in 0..80u64 {
                let x = 4 * k + p;
                g.writeb(0xA0000 + y * 80 + k, (x ^ y) as u8);
            }
        }
    }
    let want = frame_from(320, 240, |x, y| px6(dac6((x ^ y) as u8)));
    assert_frame(&g.checked_frame(), &want);
    assert_eq!(
        g.vga.mode(),
        super::super::DisplayMode::Graphics {
            width: 320,
            height: 240
        }
    );
    // Page flipping: start one page (19200 bytes per plane) further on.
    g.crtc_write(0x0C, (19200u32 >> 8) as u8);
    g.crtc_write(0x0D, 19200u32 as u8);
    assert_eq!(g.checked_frame().pixel(5, 5), px6(dac6(0)));
}

#[test]
fn cga_modes_4_and_6_and_16_colour_0d() {
    let mut g = Guest::new();
    g.set_regs(&mode4(), |i| ega_color(i & 0x3F));
    // CGA layout: line y at 0x2000 * (y & 1) + 80 * (y / 2); 2-bit pixels,
    // leftmost in the high bits.
    let byte4 = |x4: u64, y: u64| (x4 * 7 + y * 3) as u8;
    for y in 0..200u64 {
        for b in 0..80u64 {
            g.writeb(0xB8000 + 0x2000 * (y & 1) + 80 * (y / 2) + b, byte4(b, y));
        }
    }
    let pal4 = mode4().ar;
    let want = frame_from(320, 200, |x, y| {
        let b = byte4(u64::from(x / 4), u64::from(y));
        let c = b >> (6 - 2 * (x % 4)) & 3;
        px6(ega_color(pal4[usize::from(c)]))
    });
    assert_frame(&g.checked_frame(), &want);

    g.set_regs(&mode6(), |i| ega_color(i & 0x3F));
    for y in 0..200u64 {
        for b in 0..80u64 {
            g.writeb(0xB8000 + 0x2000 * (y & 1) + 80 * (y / 2) + b, byte4(b, y) ^ 0x5A);
        }
    }
    let want = frame_from(640, 200, |x, y| {
        let b = byte4(u64::from(x / 8), u64::from(y)) ^ 0x5A;
        let c = if b >> (7 - x % 8) & 1 != 0 { 0x17 } else { 0 };
        px6(ega_color(c))
    });
    assert_frame(&g.checked_frame(), &want);

    g.set_regs(&mode0d(), |i| ega_color(i & 0x3F));
    g.grdc_write(0x05, 0x02);
    for y in 0..200u64 {
        for b in 0..40u64 {
            g.writeb(0xA0000 + y * 40 + b, ((b + y) & 15) as u8);
        }
    }
    let pal = mode0d().ar;
    let want = frame_from(320, 200, |x, y| px6(ega_color(pal[((x / 8 + y) & 15) as usize])));
    assert_frame(&g.checked_frame(), &want);
}

#[test]
fn vbe_depths_virtual_width_and_offsets() {
    let mut g = Guest::new();
    g.set_regs(&mode13(), dac6);
    let dispi = |g: &mut Guest, i: u16, v: u16| {
        g.outw(0x1CE, i);
        g.outw(0x1CF, v);
    };
    for bpp in [8u16, 15, 16, 24, 32] {
        dispi(&mut g, 4, 0);
        dispi(&mut g, 1, 64);
        dispi(&mut g, 2, 48);
        dispi(&mut g, 3, bpp);
        dispi(&mut g, 4, 0x41);
        dispi(&mut g, 6, 80); // virtual width
        dispi(&mut g, 8, 3); // x offset
        dispi(&mut g, 9, 2); // y offset
        let bytes = usize::from(bpp).div_ceil(8);
        let line = 80 * bytes;
        let value = |i: usize| (i * 13 + i / 7) as u8;
        for i in 0..line * 50 {
            g.vga
                .pci_write(super::super::PciWindow::Lfb, i as u64, &[value(i)]);
        }
        let want = frame_from(64, 48, |x, y| {
            let o = (y as usize + 2) * line + (x as usize + 3) * bytes;
            let b = |k: usize| u32::from(value(o + k));
            let e5 = |c: u32| (c << 3) | (c >> 2);
            match bpp {
                8 => px6(dac6(value(o))),
                15 => {
                    let w = b(0) | b(1) << 8;
                    e5(w >> 10 & 31) << 16 | e5(w >> 5 & 31) << 8 | e5(w & 31)
                }
                16 => {
                    let w = b(0) | b(1) << 8;
                    let g6 = w >> 5 & 63;
                    e5(w >> 11) << 16 | ((g6 << 2) | (g6 >> 4)) << 8 | e5(w & 31)
                }
                _ => b(2) << 16 | b(1) << 8 | b(0),
            }
        });
        assert_frame(&g.checked_frame(), &want);
    }
    // An odd geometry (no resolution) is a blank frame, not a panic.
    dispi(&mut g, 4, 0);
    dispi(&mut g, 1, 0);
    dispi(&mut g, 4, 0x01);
    let f = g.checked_frame();
    assert!(f.pixels.iter().all(|&p| p == 0));
}

#[test]
fn only_changed_lines_are_redrawn() {
    let mut g = Guest::new();
    g.set_regs(&mode13(), dac6);
    g.vga.frame();
    assert_eq!(g.vga.update_frame(), None);
    // One pixel in line 100: its 256-offset page covers lines 96–102
    // (plane offsets 80 per line).
    g.writeb(0xA0000 + 100 * 320 + 7, 0x42);
    let lines = g.vga.update_frame().expect("a line changed");
    assert!(lines.contains(&100) && lines.end - lines.start <= 8, "{lines:?}");
    assert_eq!(g.vga.frame().pixel(7, 100), px6(dac6(0x42)));
    // Drawing state (bit mask, map mask) does not redraw; the palette does.
    g.grdc_write(0x08, 0x0F);
    g.sequ_write(0x02, 0x03);
    assert_eq!(g.vga.update_frame(), None);
    g.outb(0x3C8, 0x42);
    for c in [1, 2, 3] {
        g.outb(0x3C9, c);
    }
    assert_eq!(g.vga.update_frame(), Some(0..200));
    assert_eq!(g.vga.frame().pixel(7, 100), px6([1, 2, 3]));

    // Random stores and register changes in every mode: the cached frame
    // always equals a full render.
    let mut seed = 0x1234_5678_u32;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for (n, mode) in [mode12(), mode13(), mode_x(), mode4(), mode0d()]
        .iter()
        .enumerate()
    {
        g.set_regs(mode, dac6);
        for round in 0..20 {
            for _ in 0..50 {
                let r = rand();
                g.writeb(0xA0000 + u64::from(r >> 8) % 0x20000, r as u8);
            }
            if round % 5 == 4 {
                let r = rand();
                g.crtc_write(0x0D, r as u8);
                g.attr_write(0x13, (r >> 8) as u8 & 7);
            }
            g.checked_frame();
        }
        assert!(n < 5);
    }
    g.set_mode3();
    for _ in 0..20 {
        for _ in 0..50 {
            let r = rand();
            g.writeb(0xB8000 + u64::from(r >> 8) % 0x8000, r as u8);
        }
        g.clock.advance(5 * FRAME_NS);
        g.checked_frame();
    }
}

/// `inner` framed by `(bx, by)` pixels of `colour` on every side.
fn bordered(inner: &Frame, (bx, by): (u32, u32), colour: u32) -> Frame {
    frame_from(inner.width + 2 * bx, inner.height + 2 * by, |x, y| {
        let inside = (bx..bx + inner.width).contains(&x) && (by..by + inner.height).contains(&y);
        if inside {
            inner.pixel(x - bx, y - by)
        } else {
            colour
        }
    })
}

#[test]
fn overscan_border_in_the_overscan_colour() {
    let mut g = Guest::new();
    g.set_regs(&mode13(), dac6);
    for i in 0..320 * 200u64 {
        g.writeb(0xA0000 + i, (i * 7) as u8);
    }
    let plain = g.checked_frame();
    assert_eq!((plain.width, plain.height), (320, 200), "no border by default");
    g.attr_write(0x11, 0x2A);
    g.vga.set_overscan_border(true);
    assert!(g.vga.overscan_border());
    // 8 dots are 4 pixels of 320; 8 scan lines are 4 doubled lines.
    let want = bordered(&plain, (4, 4), px6(dac6(0x2A)));
    assert_frame(&g.checked_frame(), &want);
    // A store redraws its lines only, named in frame lines.
    g.writeb(0xA0000 + 100 * 320 + 7, 0x42);
    let lines = g.vga.update_frame().expect("a line changed");
    assert!(lines.contains(&104) && lines.end - lines.start <= 8, "{lines:?}");
    assert_eq!(g.vga.frame().pixel(4 + 7, 4 + 100), px6(dac6(0x42)));
    assert_eq!(g.vga.frame().pixel(3, 104), px6(dac6(0x2A)), "border kept");
    // A new overscan colour (or DAC entry) redraws the whole frame.
    g.attr_write(0x11, 0x05);
    assert_eq!(g.vga.update_frame(), Some(0..208));
    assert_eq!(g.vga.frame().pixel(0, 0), px6(dac6(0x05)));
    g.outb(0x3C8, 0x05);
    for c in [1, 2, 3] {
        g.outb(0x3C9, c);
    }
    assert_eq!(g.vga.update_frame(), Some(0..208));
    assert_eq!(g.checked_frame().pixel(327, 207), px6([1, 2, 3]));

    // 720×400 text: 8 dots and 8 lines.
    g.set_mode3();
    g.attr_write(0x11, 0x01);
    let f = g.checked_frame();
    assert_eq!((f.width, f.height), (736, 416));
    assert_eq!(f.pixel(0, 0), px6(ega_color(0x01)));
    assert_eq!(f.pixel(735, 415), px6(ega_color(0x01)));
    assert_eq!(f.pixel(8, 8), px6(ega_color(0)), "the picture starts inside");

    // Mode 12h: 640×480 gets 8 on every side; blanked, the frame keeps
    // its size and is all black.
    g.set_regs(&mode12(), dac6);
    let f = g.checked_frame();
    assert_eq!((f.width, f.height), (656, 496));
    g.attrindex_write(0x00);
    let f = g.checked_frame();
    assert_eq!((f.width, f.height), (656, 496), "blanking keeps the size");
    assert!(f.pixels.iter().all(|&p| p == 0));
    g.attrindex_write(0x20);

    // VBE: 8 pixels and 8 lines.
    for (i, v) in [(1u16, 64u16), (2, 48), (3, 32), (4, 0x41)] {
        g.outw(0x1CE, i);
        g.outw(0x1CF, v);
    }
    g.attr_write(0x11, 0x00);
    let f = g.checked_frame();
    assert_eq!((f.width, f.height), (80, 64));

    // Off again: the picture alone.
    g.vga.set_overscan_border(false);
    let f = g.checked_frame();
    assert_eq!((f.width, f.height), (64, 48));
}

#[test]
fn stores_through_a_second_mapping_show_once_marked() {
    let mut g = Guest::new();
    g.set_regs(&mode13(), dac6);
    g.checked_frame();
    assert_eq!(g.vga.vram_fd(), g.vga.vram.memory().fd());
    // The translator's view: the same memfd mapped again.
    let window = g.vga.vram.memory().map_again().expect("map video memory again");
    let at = 100 * 320 + 7;
    window.write_byte(at, 0x42);
    // The card reads the new byte at once...
    assert_eq!(g.readb(0xA0000 + at as u64), 0x42);
    // ...but the renderer redraws nothing until told.
    assert_eq!(g.vga.update_frame(), None);
    assert_ne!(g.vga.frame().pixel(7, 100), px6(dac6(0x42)));
    let epoch = g.vga.dirty_epoch();
    let generation = g.vga.display_generation();
    g.vga.mark_vram_dirty(at as u64 & !0xFFF, 0x1000);
    assert_ne!(g.vga.display_generation(), generation);
    assert_eq!(g.vga.dirty_epoch(), epoch, "marking is not consuming");
    let lines = g.vga.update_frame().expect("the marked page is redrawn");
    assert!(lines.contains(&100), "{lines:?}");
    assert_eq!(g.vga.frame().pixel(7, 100), px6(dac6(0x42)));
    assert_eq!(g.vga.dirty_epoch(), epoch + 1, "the renderer consumed the marks");
    // Nothing dirty: no redraw and the epoch stays.
    assert_eq!(g.vga.update_frame(), None);
    assert_eq!(g.vga.dirty_epoch(), epoch + 1);
    // A whole-screen store through the mapping, marked, equals a full render.
    for i in 0..320 * 200 {
        window.write_byte(i, (i / 3) as u8);
    }
    g.vga.mark_vram_dirty(0, 320 * 200);
    assert_eq!(g.vga.update_frame(), Some(0..200));
    assert_frame(
        &g.checked_frame(),
        &frame_from(320, 200, |x, y| px6(dac6(((y * 320 + x) / 3) as u8))),
    );

    // Text mode: a glyph byte in plane 2 redraws every line; a plane-0
    // byte outside the screen redraws nothing.
    g.set_mode3();
    g.checked_frame();
    let glyph = (u32::from(b' ') * 32 + 3) as usize * 4 + 2;
    window.write_byte(glyph, 0xFF);
    g.vga.mark_vram_dirty(glyph as u64, 1);
    assert_eq!(g.vga.update_frame(), Some(0..400));
    assert_eq!(g.vga.frame().pixel(0, 3), px6(ega_color(MODE3_ATTR[7])));
    let far = 0x30000 * 4;
    window.write_byte(far, 1);
    g.vga.mark_vram_dirty(far as u64, 1);
    assert_eq!(g.vga.update_frame(), None);
    // Marks past the end are ignored.
    g.vga.mark_vram_dirty(u64::MAX - 1, u64::MAX);
    g.vga.mark_vram_dirty(16 << 20, 4096);
    assert_eq!(g.vga.update_frame(), None);
}

#[test]
fn blank_and_garbage_registers_never_panic() {
    let mut g = Guest::new();
    // Power-on registers: blank.
    let f = g.checked_frame();
    assert!(f.pixels.iter().all(|&p| p == 0));
    let mut seed = 0x9E37_79B9_u32;
    for _ in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let port = [0x3C0, 0x3C4, 0x3C5, 0x3CE, 0x3CF, 0x3D4, 0x3D5, 0x3C2, 0x1CE][(seed % 9) as usize];
        if port == 0x1CE {
            g.outw(0x1CE, (seed >> 8) as u16 % 11);
            g.outw(0x1CF, (seed >> 16) as u16);
        } else {
            g.outb(port, (seed >> 8) as u8);
        }
        if seed & 15 == 0 {
            g.checked_frame();
        }
    }
}

#[test]
#[ignore = "timing, run by hand"]
fn full_redraw_cost() {
    let mut g = Guest::new();
    let t = |g: &mut Guest, what: &str| {
        let n = 20;
        let start = std::time::Instant::now();
        for i in 0..n {
            // A palette change redraws everything through the cache.
            g.outb(0x3C8, 0xF0);
            for c in [i as u8 & 0x3F, 0, 0] {
                g.outb(0x3C9, c);
            }
            std::hint::black_box(g.vga.update_frame());
        }
        println!("{what}: {:?} per full frame", start.elapsed() / n);
    };
    g.set_mode3();
    t(&mut g, "text 720x400");
    g.set_regs(&mode12(), dac6);
    t(&mut g, "mode 12h 640x480");
    g.set_regs(&mode13(), dac6);
    t(&mut g, "mode 13h 320x200");
    for (i, v) in [(1u16, 1920u16), (2, 1080), (3, 32), (4, 0x41)] {
        g.outw(0x1CE, i);
        g.outw(0x1CF, v);
    }
    t(&mut g, "VBE 1920x1080x32");
}
