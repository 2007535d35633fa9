//! The VGA driven through its ports and memory the way SeaBIOS's VGA BIOS
//! (vgasrc/stdvga*.c, bochsvga.c) and SeaBIOS's PCI code drive it.

use super::modes::{ega_color, MODE3_ATTR, MODE3_CRTC, MODE3_GC, MODE3_MISC, MODE3_SEQ};
use super::regs::{FRAME_NS, LINE_NS, VRETRACE_NS};
use super::*;
use crate::pci::PciFunction;
use std::cell::RefCell;
use std::rc::Rc;

/// Guest-side accessors (also used by `render_tests.rs`).
pub(super) struct Guest {
    pub(super) vga: Vga,
    pub(super) clock: Clock,
}

impl Guest {
    pub(super) fn new() -> Self {
        Self::with_rom(None)
    }
    pub(super) fn with_rom(rom: Option<Vec<u8>>) -> Self {
        let clock = Clock::manual();
        Self {
            vga: Vga::new(clock.clone(), rom).expect("video memory"),
            clock,
        }
    }
    pub(super) fn outb(&mut self, port: u16, v: u8) {
        PortDevice::write(&mut self.vga, Port(port), &[v]);
    }
    pub(super) fn outw(&mut self, port: u16, v: u16) {
        PortDevice::write(&mut self.vga, Port(port), &v.to_le_bytes());
    }
    pub(super) fn inb(&mut self, port: u16) -> u8 {
        let mut b = [0];
        PortDevice::read(&mut self.vga, Port(port), &mut b);
        b[0]
    }
    pub(super) fn inw(&mut self, port: u16) -> u16 {
        let mut b = [0; 2];
        PortDevice::read(&mut self.vga, Port(port), &mut b);
        u16::from_le_bytes(b)
    }
    pub(super) fn writeb(&mut self, addr: u64, v: u8) {
        MmioDevice::write(&mut self.vga, addr - LEGACY_WINDOW, &[v]);
    }
    pub(super) fn writew(&mut self, addr: u64, v: u16) {
        MmioDevice::write(&mut self.vga, addr - LEGACY_WINDOW, &v.to_le_bytes());
    }
    pub(super) fn readb(&mut self, addr: u64) -> u8 {
        let mut b = [0];
        MmioDevice::read(&mut self.vga, addr - LEGACY_WINDOW, &mut b);
        b[0]
    }
    pub(super) fn cfg_readl(&mut self, off: u8) -> u32 {
        let mut b = [0; 4];
        self.vga.config_read(off, &mut b);
        u32::from_le_bytes(b)
    }
    pub(super) fn cfg_writel(&mut self, off: u8, v: u32) {
        self.vga.config_write(off, &v.to_le_bytes());
    }

    // stdvgaio.c
    pub(super) fn sequ_write(&mut self, i: u8, v: u8) {
        self.outw(0x3C4, u16::from(v) << 8 | u16::from(i));
    }
    pub(super) fn grdc_write(&mut self, i: u8, v: u8) {
        self.outw(0x3CE, u16::from(v) << 8 | u16::from(i));
    }
    pub(super) fn crtc_write(&mut self, i: u8, v: u8) {
        self.outw(0x3D4, u16::from(v) << 8 | u16::from(i));
    }
    pub(super) fn crtc_read(&mut self, i: u8) -> u8 {
        self.outb(0x3D4, i);
        self.inb(0x3D5)
    }
    pub(super) fn attr_write(&mut self, i: u8, v: u8) {
        self.inb(0x3DA);
        let orig = self.inb(0x3C0);
        self.outb(0x3C0, i);
        self.outb(0x3C0, v);
        self.outb(0x3C0, orig);
    }
    pub(super) fn attr_read(&mut self, i: u8) -> u8 {
        self.inb(0x3DA);
        let orig = self.inb(0x3C0);
        self.outb(0x3C0, i);
        let v = self.inb(0x3C1);
        self.inb(0x3DA);
        self.outb(0x3C0, orig);
        v
    }
    pub(super) fn attrindex_write(&mut self, v: u8) {
        self.inb(0x3DA);
        self.outb(0x3C0, v);
    }

    /// stdvga_init, then stdvga_set_mode(3) with palette, clear and font.
    pub(super) fn set_mode3(&mut self) {
        self.outb(0x3C2, 0xC3);
        self.sequ_write(0x04, 0x02);

        self.outb(0x3C6, 0xFF);
        self.outb(0x3C8, 0);
        for i in 0..64 {
            for c in ega_color(i) {
                self.outb(0x3C9, c);
            }
        }
        for _ in 64..256 {
            for _ in 0..3 {
                self.outb(0x3C9, 0);
            }
        }
        for (i, &v) in MODE3_ATTR.iter().enumerate() {
            self.attr_write(i as u8, v);
        }
        self.attr_write(0x14, 0);
        self.sequ_write(0x00, 0x03);
        for (i, &v) in MODE3_SEQ.iter().enumerate() {
            self.sequ_write(i as u8 + 1, v);
        }
        for (i, &v) in MODE3_GC.iter().enumerate() {
            self.grdc_write(i as u8, v);
        }
        self.crtc_write(0x11, 0x00);
        for (i, &v) in MODE3_CRTC.iter().enumerate() {
            self.crtc_write(i as u8, v);
        }
        self.outb(0x3C2, MODE3_MISC);
        self.attrindex_write(0x20);
        for i in 0..16 * 1024u64 {
            self.writew(0xB8000 + 2 * i, 0x0720);
        }
        self.load_font(16);
    }

    /// stdvga_load_font with a made-up font: row `y` of character `c` is
    /// `c ^ y`.
    pub(super) fn load_font(&mut self, height: u8) {
        // get_font_access
        self.sequ_write(0x00, 0x01);
        self.sequ_write(0x02, 0x04);
        self.sequ_write(0x04, 0x07);
        self.sequ_write(0x00, 0x03);
        self.grdc_write(0x04, 0x02);
        self.grdc_write(0x05, 0x00);
        self.grdc_write(0x06, 0x04);
        for c in 0..256u64 {
            for y in 0..u64::from(height) {
                self.writeb(0xA0000 + c * 32 + y, (c ^ y) as u8);
            }
        }
        // release_font_access
        self.sequ_write(0x00, 0x01);
        self.sequ_write(0x02, 0x03);
        self.sequ_write(0x04, 0x03);
        self.sequ_write(0x00, 0x03);
        self.outb(0x3C4, 0); // leave the index somewhere else
        let v = if self.inb(0x3CC) & 1 != 0 { 0x0E } else { 0x0A };
        self.grdc_write(0x06, v);
        self.grdc_write(0x04, 0x00);
        self.grdc_write(0x05, 0x10);
    }

    pub(super) fn put(&mut self, row: u64, col: u64, text: &[u8], attr: u8) {
        for (i, &c) in text.iter().enumerate() {
            let a = 0xB8000 + (row * 80 + col + i as u64) * 2;
            self.writew(a, u16::from(attr) << 8 | u16::from(c));
        }
    }

    pub(super) fn set_cursor(&mut self, row: u16, col: u16) {
        let pos = row * 80 + col;
        self.crtc_write(0x0E, (pos >> 8) as u8);
        self.crtc_write(0x0F, pos as u8);
    }
}

#[test]
fn mode3_text_screen_cursor_and_cp437() {
    let mut g = Guest::new();
    assert_eq!(g.vga.mode(), DisplayMode::Blank);
    g.set_mode3();
    g.put(0, 0, b"Hello", 0x1F);
    g.put(0, 5, &[0xC9, 0x01, 0x82, 0xFB], 0x4E);
    g.put(24, 70, b"end ", 0x07);
    g.set_cursor(3, 7);

    assert_eq!(g.vga.mode(), DisplayMode::Text { cols: 80, rows: 25 });
    let t = g.vga.text_screen().expect("text mode");
    assert_eq!((t.cols, t.rows, t.char_height), (80, 25, 16));
    assert_eq!(t.row(0)[0], Cell { ch: b'H', attr: 0x1F });
    assert_eq!(t.row(0)[6], Cell { ch: 0x01, attr: 0x4E });
    assert_eq!(t.row(1)[0], Cell { ch: b' ', attr: 0x07 });
    assert_eq!(t.row_text(0), "Hello╔☺é√");
    assert_eq!(t.row_text(24), format!("{}end", " ".repeat(70)));
    assert_eq!(
        t.cursor,
        Some(Cursor {
            row: 3,
            col: 7,
            start: 0x0D,
            end: 0x0E
        })
    );
    assert_eq!(t.start_address, 0);
    assert!(t.blink);
    // Attribute colour 1 is DAC entry 1 (blue), 6 goes to DAC 0x14 (brown).
    assert_eq!(t.palette[1], [0, 0, 0xAA]);
    assert_eq!(t.palette[6], [0xAA, 0x55, 0]);
    assert_eq!(t.palette[15], [0xFF, 0xFF, 0xFF]);

    let dump = g.vga.text_dump().unwrap();
    assert_eq!(dump.lines().count(), 25);
    assert!(dump.starts_with("Hello╔☺é√\n\n"));

    // The text reads back through B8000 (odd/even), and the font went to
    // plane 2 without touching planes 0 and 1.
    assert_eq!(g.readb(0xB8000), b'H');
    assert_eq!(g.readb(0xB8001), 0x1F);
    assert_eq!(g.vga.vram.plane(2, 0x41 * 32 + 3), 0x41 ^ 3);
    assert_eq!(g.vga.vram.plane(0, 2 * 80), b' ');
    assert_eq!(g.vga.vram.plane(1, 2 * 80), 0x07);
    // A0000 is not decoded in mode 3 (memory map B8000/32K).
    assert_eq!(g.readb(0xA0000), 0xFF);

    // Disabling the cursor (bit 5 of the cursor start register).
    g.crtc_write(0x0A, 0x20);
    assert_eq!(g.vga.text_screen().unwrap().cursor, None);
}

#[test]
fn font_reads_back_through_plane_2() {
    let mut g = Guest::new();
    g.set_mode3();
    g.sequ_write(0x02, 0x04);
    g.sequ_write(0x04, 0x07);
    g.grdc_write(0x04, 0x02);
    g.grdc_write(0x05, 0x00);
    g.grdc_write(0x06, 0x04);
    for y in 0..16 {
        assert_eq!(g.readb(0xA0000 + 0x30 * 32 + y), 0x30 ^ y as u8);
    }
}

#[test]
fn mode3_80x50_and_start_address() {
    let mut g = Guest::new();
    g.set_mode3();
    g.load_font(8);
    // stdvga_set_scan_lines(8): crtc_mask(0x09, 0x1F, 7).
    let v = g.crtc_read(0x09);
    g.crtc_write(0x09, (v & !0x1F) | 7);
    g.put(49, 0, b"last row", 0x07);
    let t = g.vga.text_screen().unwrap();
    assert_eq!((t.cols, t.rows, t.char_height), (80, 50, 8));
    assert_eq!(t.row_text(49), "last row");

    // Page 1 of 80×25: the start address is in characters.
    g.crtc_write(0x09, (v & !0x1F) | 15);
    g.put(25, 0, b"page one", 0x07);
    g.crtc_write(0x0C, 0x07);
    g.crtc_write(0x0D, 0xD0); // 2000 = 25 * 80
    g.set_cursor(26, 2); // absolute position 26 * 80 + 2
    let t = g.vga.text_screen().unwrap();
    assert_eq!(t.start_address, 2000);
    assert_eq!(t.row_text(0), "page one");
    assert_eq!(t.cursor.map(|c| (c.row, c.col)), Some((1, 2)));
}

#[test]
fn crtc_write_protect_and_io_select() {
    let mut g = Guest::new();
    g.set_mode3();
    assert_eq!(g.crtc_read(0x11), 0x8E);
    g.crtc_write(0x01, 0x27);
    assert_eq!(g.crtc_read(0x01), 0x4F, "register 1 is protected");
    let ov = g.crtc_read(0x07);
    g.crtc_write(0x07, 0x00);
    assert_eq!(g.crtc_read(0x07), ov & !0x10, "only line compare bit 8 changes");
    g.crtc_write(0x0E, 0x12);
    assert_eq!(g.crtc_read(0x0E), 0x12, "registers above 7 stay writable");
    g.crtc_write(0x11, 0x0E);
    g.crtc_write(0x01, 0x27);
    assert_eq!(g.crtc_read(0x01), 0x27);

    // Misc bit 0 clear: the CRTC moves to 0x3B4/0x3B5, status 1 to 0x3BA.
    g.outb(0x3C2, 0x66);
    assert_eq!(g.inb(0x3CC), 0x66);
    assert_eq!(g.inb(0x3D5), 0xFF);
    assert_eq!(g.inb(0x3DA), 0xFF);
    g.outb(0x3B4, 0x01);
    assert_eq!(g.inb(0x3B5), 0x27);
    g.outb(0x3D5, 0x55); // not decoded: dropped
    assert_eq!(g.inb(0x3B5), 0x27);
    // 16-bit reads of an index/data pair.
    g.outb(0x3C4, 0x02);
    assert_eq!(g.inw(0x3C4), 0x0302);
}

#[test]
fn dac_read_and_write_cycles() {
    let mut g = Guest::new();
    g.outb(0x3C8, 5);
    assert_eq!(g.inb(0x3C7) & 3, 0, "DAC state: write mode");
    for v in [0x3F, 0x40, 0x2A, 0x01, 0x02, 0x03] {
        g.outb(0x3C9, v);
    }
    assert_eq!(g.inb(0x3C8), 7, "write index advanced by two entries");
    g.outb(0x3C7, 5);
    assert_eq!(g.inb(0x3C7) & 3, 3, "DAC state: read mode");
    let got: Vec<u8> = (0..6).map(|_| g.inb(0x3C9)).collect();
    assert_eq!(got, [0x3F, 0x00, 0x2A, 0x01, 0x02, 0x03], "6-bit values");
    // A new index restarts the three-byte cycle.
    g.outb(0x3C8, 9);
    g.outb(0x3C9, 0x11);
    g.outb(0x3C8, 9);
    g.outb(0x3C9, 0x21);
    g.outb(0x3C9, 0x22);
    g.outb(0x3C9, 0x23);
    g.outb(0x3C7, 9);
    assert_eq!([g.inb(0x3C9), g.inb(0x3C9), g.inb(0x3C9)], [0x21, 0x22, 0x23]);
    assert_eq!(g.vga.dac_rgb(5), [0xFF, 0x00, 0xAA]);
    g.outb(0x3C6, 0x0F);
    assert_eq!(g.inb(0x3C6), 0x0F);
}

#[test]
fn attribute_flip_flop_and_palette_source() {
    let mut g = Guest::new();
    g.outb(0x3C2, 0xC3); // input status 1 at 0x3DA
    g.inb(0x3DA);
    g.outb(0x3C0, 0x01);
    g.outb(0x3C0, 0x15);
    assert_eq!(g.inb(0x3C0), 0x01, "index reads back");
    g.outb(0x3C0, 0x02); // flip-flop back at "index"
    assert_eq!(g.inb(0x3C0), 0x02);
    g.outb(0x3C0, 0x2A);
    g.outb(0x3C0, 0x01);
    assert_eq!(g.inb(0x3C1), 0x15);
    // The flip-flop now expects data; reading input status 1 resets it,
    // so the next write is an index again.
    g.inb(0x3DA);
    g.outb(0x3C0, 0x04);
    assert_eq!(g.inb(0x3C0), 0x04);
    g.outb(0x3C0, 0x3F);
    assert_eq!(g.attr_read(0x04), 0x3F);
    assert_eq!(g.attr_read(0x02), 0x2A);
    // With the palette address source set, palette registers are frozen
    // but the others still load; the index keeps the PAS bit.
    g.attrindex_write(0x21);
    g.outb(0x3C0, 0x00);
    g.attrindex_write(0x31);
    g.outb(0x3C0, 0x09);
    assert_eq!(g.inb(0x3C0), 0x31);
    assert_eq!(g.attr_read(0x01), 0x15);
    assert_eq!(g.attr_read(0x11), 0x09);
}

#[test]
fn retrace_toggles_with_the_clock() {
    let mut g = Guest::new();
    g.outb(0x3C2, 0xC3);
    assert_eq!(g.inb(0x3DA) & 0x09, 0, "t = 0: drawing");
    g.clock.set(LINE_NS - 1);
    assert_eq!(g.inb(0x3DA) & 0x09, 0x01, "horizontal blanking");
    g.clock.set(FRAME_NS - VRETRACE_NS + 1);
    assert_eq!(g.inb(0x3DA) & 0x09, 0x09, "vertical retrace");
    g.clock.set(FRAME_NS + 10);
    assert_eq!(g.inb(0x3DA) & 0x08, 0);
    // One second of polling sees 60 retraces, each about 1/20 frame long.
    let (mut edges, mut on, mut last) = (0, 0, false);
    let start = 2 * FRAME_NS;
    for step in 0..10_000u64 {
        g.clock.set(start + step * 100_000);
        let r = g.inb(0x3DA) & 0x08 != 0;
        edges += u32::from(r && !last);
        on += u32::from(r);
        last = r;
    }
    assert_eq!(edges, 60);
    assert!((480..=520).contains(&on), "retrace {on} of 10000 samples");
}

#[test]
fn dispi_handshake_caps_and_banked_window() {
    let mut g = Guest::new();
    // bochsvga_setup
    g.outw(0x1CE, 0);
    g.outw(0x1CF, 0xB0C0);
    assert_eq!(g.inw(0x1CF), 0xB0C0);
    g.outw(0x1CF, 0xB0C5);
    assert_eq!(g.inw(0x1CF), 0xB0C5);
    g.outw(0x1CF, 0x1234);
    assert_eq!(g.inw(0x1CF), 0xB0C5, "unknown IDs are refused");
    g.outw(0x1CE, 0x0A);
    assert_eq!(g.inw(0x1CF), 256, "16 MiB in 64 KiB units");
    g.outw(0x1CE, 4);
    let en = g.inw(0x1CF);
    g.outw(0x1CF, en | 2);
    g.outw(0x1CE, 1);
    assert_eq!(g.inw(0x1CF), 2560);
    g.outw(0x1CE, 3);
    assert_eq!(g.inw(0x1CF), 32);
    g.outw(0x1CE, 4);
    g.outw(0x1CF, en);
    g.outw(0x1CE, 1);
    assert_eq!(g.inw(0x1CF), 0, "GETCAPS off: the real XRES");

    // bochsvga_set_mode(0x101, 640×480×8, LFB) and its VGA compat setup.
    for (i, v) in [(3, 8), (1, 640), (2, 480), (5, 0), (4, 0x41)] {
        g.outw(0x1CE, i);
        g.outw(0x1CF, v);
    }
    g.grdc_write(0x06, 0x05);
    g.sequ_write(0x02, 0x0F);
    g.sequ_write(0x04, 0x0E);
    g.outb(0x3C2, 0xC3);
    assert_eq!(
        g.vga.mode(),
        DisplayMode::Vbe {
            width: 640,
            height: 480,
            bpp: 8
        }
    );
    g.outw(0x1CE, 6);
    assert_eq!(g.inw(0x1CF), 640, "virtual width follows XRES");
    g.outw(0x1CE, 5);
    g.outw(0x1CF, 2);
    g.writeb(0xA0007, 0x99);
    let mut b = [0];
    g.vga.read_vram(0x20007, &mut b);
    assert_eq!(b[0], 0x99, "bank 2 at A0000, chained");
    g.vga.pci_read(PciWindow::Lfb, 0x20007, &mut b);
    assert_eq!(b[0], 0x99);
    g.vga.pci_write(PciWindow::Lfb, 0x20008, &[0x42]);
    assert_eq!(g.readb(0xA0008), 0x42);
    // Disabling returns to VGA addressing with bank 0.
    g.outw(0x1CE, 4);
    g.outw(0x1CF, 0);
    assert_ne!(
        g.vga.mode(),
        DisplayMode::Vbe {
            width: 640,
            height: 480,
            bpp: 8
        }
    );
}

#[test]
fn planar_write_and_read_modes() {
    let mut g = Guest::new();
    g.outb(0x3C2, 0xE3);
    g.sequ_write(0x02, 0x0F);
    g.sequ_write(0x04, 0x06);
    g.grdc_write(0x06, 0x05);
    g.grdc_write(0x08, 0xFF);
    let planes = |g: &Guest, off: usize| -> [u8; 4] { std::array::from_fn(|p| g.vga.vram.plane(p, off)) };

    // Write mode 0 with set/reset on all planes.
    g.grdc_write(0x01, 0x0F);
    g.grdc_write(0x00, 0x05);
    g.writeb(0xA0000, 0x00);
    assert_eq!(planes(&g, 0), [0xFF, 0, 0xFF, 0]);
    g.grdc_write(0x01, 0x00);

    // Read mode 0 picks a plane; read mode 1 compares colours.
    g.grdc_write(0x04, 2);
    assert_eq!(g.readb(0xA0000), 0xFF);
    g.grdc_write(0x05, 0x08);
    g.grdc_write(0x02, 0x05);
    g.grdc_write(0x07, 0x0F);
    assert_eq!(g.readb(0xA0000), 0xFF);
    g.grdc_write(0x02, 0x01);
    assert_eq!(g.readb(0xA0000), 0x00);
    g.grdc_write(0x07, 0x01); // only plane 0 matters
    assert_eq!(g.readb(0xA0000), 0xFF);

    // Write mode 1 copies the latches.
    g.grdc_write(0x05, 0x01);
    g.readb(0xA0000);
    g.writeb(0xA0010, 0x12);
    assert_eq!(planes(&g, 0x10), [0xFF, 0, 0xFF, 0]);

    // Write mode 2: the byte's low bits are a colour, the bit mask picks pixels.
    g.grdc_write(0x05, 0x02);
    g.readb(0xA0002);
    g.grdc_write(0x08, 0xF0);
    g.writeb(0xA0002, 0x0A);
    assert_eq!(planes(&g, 2), [0x00, 0xF0, 0x00, 0xF0]);

    // Write mode 3: rotated data ANDed with the bit mask, colour from set/reset.
    g.grdc_write(0x05, 0x03);
    g.grdc_write(0x08, 0xFF);
    g.grdc_write(0x00, 0x0C);
    g.grdc_write(0x03, 0x04); // rotate right by 4
    g.readb(0xA0003);
    g.writeb(0xA0003, 0x0F);
    assert_eq!(planes(&g, 3), [0x00, 0x00, 0xF0, 0xF0]);

    // Write mode 0, XOR with the latches, map mask limiting the planes.
    g.grdc_write(0x05, 0x00);
    g.grdc_write(0x03, 0x18);
    g.sequ_write(0x02, 0x07);
    g.readb(0xA0000);
    g.writeb(0xA0000, 0x0F);
    assert_eq!(planes(&g, 0), [0xF0, 0x0F, 0xF0, 0x00]);

    // Misc RAM enable clear: no CPU access.
    g.outb(0x3C2, 0xE1);
    assert_eq!(g.readb(0xA0000), 0xFF);
}

#[test]
fn rom_bar_sizing_enable_and_image() {
    let mut image = vec![0u8; 0x9000];
    image[0] = 0x55;
    image[1] = 0xAA;
    image[2] = 0x48;
    let mut g = Guest::with_rom(Some(image));
    assert_eq!(g.cfg_readl(0x00), 0x1111_1234);
    assert_eq!(g.cfg_readl(0x08) >> 16, 0x0300);
    assert_eq!(g.cfg_readl(0x2C), 0x1100_1AF4);

    // pciinit.c sizing: write all ones (ROM: 0xFFFFFFFE), read, restore.
    g.cfg_writel(0x10, 0xFFFF_FFFF);
    assert_eq!(g.cfg_readl(0x10), 0xFF00_0008, "16 MiB prefetchable");
    g.cfg_writel(0x18, 0xFFFF_FFFF);
    assert_eq!(g.cfg_readl(0x18), 0xFFFF_F000, "4 KiB");
    g.cfg_writel(0x30, 0xFFFF_FFFE);
    assert_eq!(g.cfg_readl(0x30), 0xFFFF_0000, "36 KiB image in a 64 KiB window");
    g.cfg_writel(0x30, 0);

    g.cfg_writel(0x10, 0xFD00_0000);
    g.cfg_writel(0x18, 0xFEBF_0000);
    g.cfg_writel(0x30, 0xFEBE_0000);
    assert_eq!(g.vga.rom_mapping().map(|m| m.0), None, "memory decode off");
    let gen = g.vga.mapping_generation();
    g.vga.config_write(0x04, &0x0103u16.to_le_bytes());
    assert_ne!(g.vga.mapping_generation(), gen);
    assert_eq!(g.vga.lfb_mapping(), Some(0xFD00_0000));
    assert_eq!(g.vga.mmio_mapping(), Some(0xFEBF_0000));
    assert_eq!(g.vga.rom_mapping().map(|m| m.0), None, "ROM enable bit clear");

    // optionroms.c: enable at the assigned address, read the image.
    let gen = g.vga.mapping_generation();
    g.cfg_writel(0x30, 0xFEBE_0001);
    assert_ne!(g.vga.mapping_generation(), gen);
    let (addr, img) = g.vga.rom_mapping().unwrap();
    assert_eq!((addr, img.len()), (0xFEBE_0000, 0x9000));
    assert_eq!(g.vga.pci_window_at(0xFEBE_0001), Some((PciWindow::Rom, 1)));
    let shared = Rc::new(RefCell::new(g.vga));
    let mut rom = VgaRom(shared.clone());
    let mut b = [0; 4];
    rom.read(0, &mut b);
    assert_eq!(b, [0x55, 0xAA, 0x48, 0x00]);
    rom.read(0xFFFC, &mut b);
    assert_eq!(b, [0; 4], "past the image");
    rom.write(0, &[0]);
    rom.read(0, &mut b[..1]);
    assert_eq!(b[0], 0x55, "read-only");
    assert_eq!(
        shared.borrow().pci_windows(),
        vec![
            (PciWindow::Lfb, 0xFD00_0000, 16 << 20),
            (PciWindow::Mmio, 0xFEBF_0000, 0x1000),
            (PciWindow::Rom, 0xFEBE_0000, 0x10000),
        ]
    );
    shared
        .borrow_mut()
        .config_write(0x30, &0xFEBE_0000u32.to_le_bytes());
    assert!(shared.borrow().rom_mapping().is_none());
}

#[test]
fn mmio_bar_edid_ports_and_dispi() {
    let vga = Rc::new(RefCell::new(
        Vga::new(Clock::manual(), None).expect("video memory"),
    ));
    let mut mmio = VgaMmio(vga.clone());
    let mut edid = [0u8; 256];
    for (i, chunk) in edid.chunks_mut(4).enumerate() {
        mmio.read(i as u64 * 4, chunk);
    }
    assert_eq!(&edid[..8], &[0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0]);
    assert_eq!(edid[..128].iter().fold(0u8, |a, &b| a.wrapping_add(b)), 0);
    assert!(edid[128..].iter().all(|&b| b == 0));
    let mut w = [0; 2];
    mmio.read(0x500, &mut w);
    assert_eq!(u16::from_le_bytes(w), 0xB0C5);
    mmio.write(0x502, &640u16.to_le_bytes());
    assert_eq!(vga.borrow().dispi.regs[1], 640);
    // 0x400 + n mirrors port 0x3C0 + n.
    mmio.write(0x408, &[3]); // 0x3C8
    mmio.write(0x409, &[0x3F]);
    assert_eq!(vga.borrow().regs.dac.pending[0], 0x3F);
    let mut b = [0];
    mmio.read(0x408, &mut b);
    assert_eq!(b[0], 3);
}

#[test]
fn direct_text_mode_without_bios() {
    let mut g = Guest::new();
    g.vga.set_text_mode();
    g.put(0, 0, b"Linux", 0x07);
    let t = g.vga.text_screen().unwrap();
    assert_eq!((t.cols, t.rows), (80, 25));
    assert_eq!(t.row_text(0), "Linux");
    assert_eq!(t.palette[7], [0xAA, 0xAA, 0xAA]);
}

#[test]
fn cp437_table() {
    assert_eq!(cp437_to_char(0x00), ' ');
    assert_eq!(cp437_to_char(0x03), '♥');
    assert_eq!(cp437_to_char(b'A'), 'A');
    assert_eq!(cp437_to_char(0x7F), '⌂');
    assert_eq!(cp437_to_char(0x80), 'Ç');
    assert_eq!(cp437_to_char(0xB3), '│');
    assert_eq!(cp437_to_char(0xDB), '█');
    assert_eq!(cp437_to_char(0xE1), 'ß');
    assert_eq!(cp437_to_char(0xFE), '■');
    assert_eq!(cp437_to_char(0xFF), '\u{A0}');
    let distinct: std::collections::HashSet<char> = (1..=255u8).map(cp437_to_char).collect();
    assert_eq!(
        distinct.len(),
        255,
        "every code but NUL and space has its own glyph"
    );
}

#[test]
fn ports_register_on_a_bus() {
    let vga = Rc::new(RefCell::new(
        Vga::new(Clock::manual(), None).expect("video memory"),
    ));
    let mut bus = mem::PortBus::new();
    for &(first, count) in Vga::PORTS {
        bus.register(Port(first), count, vga.clone()).unwrap();
    }
    bus.write(Port(0x3C2), &[0xC3]);
    bus.write(Port(0x3C4), &0x0F02u16.to_le_bytes());
    let mut b = [0; 2];
    bus.read(Port(0x3C4), &mut b);
    assert_eq!(b, [0x02, 0x0F]);
    bus.write(Port(0x3D4), &0x550Eu16.to_le_bytes());
    bus.read(Port(0x3D5), &mut b[..1]);
    assert_eq!(b[0], 0x55);
    bus.write(Port(0x1CE), &0u16.to_le_bytes());
    bus.write(Port(0x1CF), &0xB0C0u16.to_le_bytes());
    bus.read(Port(0x1CF), &mut b);
    assert_eq!(u16::from_le_bytes(b), 0xB0C0);
    assert_eq!(bus.unclaimed_accesses(), 0);
}

/// The real `vgabios-stdvga.bin` through the ROM BAR, checked the way
/// SeaBIOS's optionroms.c checks it. The image is fetched by
/// `firmware/fetch.sh` (which `cargo xtask test` runs first) and not
/// committed; without it the test fails and says how to get it.
#[test]
fn seabios_vga_rom_passes_optionrom_checks() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../firmware/seabios/vgabios-stdvga.bin"
    );
    let Ok(image) = std::fs::read(path) else {
        panic!("{path} is missing: run firmware/fetch.sh (cargo xtask test does)");
    };
    let mut g = Guest::with_rom(Some(image.clone()));
    g.cfg_writel(0x30, 0xFFFF_FFFE);
    let size = !(g.cfg_readl(0x30) & 0xFFFF_F800) + 1;
    assert!(size as usize >= image.len() && size.is_power_of_two());
    g.cfg_writel(0x30, 0xFEBE_0001);
    g.vga.config_write(0x04, &0x0103u16.to_le_bytes());
    let (addr, _) = g.vga.rom_mapping().expect("ROM decoded");
    let mut rom = vec![0; size as usize];
    for (i, chunk) in rom.chunks_mut(4).enumerate() {
        let (w, off) = g.vga.pci_window_at(addr + i as u64 * 4).unwrap();
        g.vga.pci_read(w, off, chunk);
    }
    assert_eq!(&rom[..2], &[0x55, 0xAA]);
    let len = usize::from(rom[2]) * 512;
    assert!(len <= image.len());
    assert_eq!(
        rom[..len].iter().fold(0u8, |a, &b| a.wrapping_add(b)),
        0,
        "checksum"
    );
    let pcir = usize::from(u16::from_le_bytes([rom[0x18], rom[0x19]]));
    assert_eq!(&rom[pcir..pcir + 4], b"PCIR");
    let id = |o: usize| u16::from_le_bytes([rom[pcir + o], rom[pcir + o + 1]]);
    assert_eq!((id(4), id(6)), (0x1234, 0x1111));
    assert_eq!(rom[pcir + 0x14], 0, "code type x86");
}
