//! Video memory as the binary translator sees it: which guest ranges are
//! plain memory ([`Vga::plain_windows`]) in which register states, that
//! they really are (an MMIO access and a plain access of the listed bytes
//! agree), and when [`Vga::windows_generation`] moves.

use super::tests::Guest;
use super::*;

/// The chain-4 window of mode 13h: A0000, 64 KiB, from offset 0.
const MODE13_WINDOW: PlainWindow = PlainWindow {
    guest: 0xA0000,
    vram_offset: 0,
    len: 0x10000,
};

/// The CPU-access registers of mode 13h (RAM enabled, chain 4, all
/// planes, graphics controller passing bytes through, A0000/64K).
fn chain4(g: &mut Guest) {
    g.outb(0x3C2, 0x63);
    g.sequ_write(0x02, 0x0F);
    g.sequ_write(0x04, 0x0E);
    for (i, v) in [(0, 0), (1, 0), (3, 0), (5, 0x40), (6, 0x05), (8, 0xFF)] {
        g.grdc_write(i, v);
    }
}

/// A register on the CPU's path to video memory.
#[derive(Clone, Copy, Debug)]
enum Reg {
    Seq(u8),
    Gc(u8),
    Misc,
}

impl Reg {
    fn write(self, g: &mut Guest, v: u8) {
        match self {
            Self::Seq(i) => g.sequ_write(i, v),
            Self::Gc(i) => g.grdc_write(i, v),
            Self::Misc => g.outb(0x3C2, v),
        }
    }
}

fn dispi(g: &mut Guest, i: u16, v: u16) {
    g.outw(0x1CE, i);
    g.outw(0x1CF, v);
}

/// Every byte of `w` (sampled) reads and writes the same through MMIO and
/// through video memory at `vram_offset`.
#[track_caller]
fn assert_plain(g: &mut Guest, w: PlainWindow) {
    let window = g.vga.vram.memory().map_again().expect("map video memory again");
    for k in 0..64u64 {
        let i = (k * 0x3F1 + k * k) % w.len;
        let v = (k as u8).wrapping_mul(37) ^ 0x5A;
        g.writeb(w.guest + i, v);
        let mut b = [0];
        g.vga.read_vram(w.vram_offset + i, &mut b);
        assert_eq!(b[0], v, "MMIO store at {:#x}", w.guest + i);
        window.write_byte((w.vram_offset + i) as usize, !v);
        assert_eq!(
            g.readb(w.guest + i),
            !v,
            "plain store at vram {:#x}",
            w.vram_offset + i
        );
    }
}

#[test]
fn chain4_window_only_while_the_graphics_controller_passes_bytes_through() {
    let mut g = Guest::new();
    assert_eq!(g.vga.plain_windows(), vec![], "power-on: CPU access disabled");
    let generation = g.vga.windows_generation();
    chain4(&mut g);
    assert_eq!(g.vga.plain_windows(), vec![MODE13_WINDOW]);
    assert_ne!(g.vga.windows_generation(), generation);
    assert_plain(&mut g, MODE13_WINDOW);

    // Each of these breaks the pass-through; restoring the register brings
    // the window back. Every change moves the generation.
    let breakers = [
        ("map mask", Reg::Seq(0x02), 0x0E, 0x0F),
        ("chain 4 off", Reg::Seq(0x04), 0x06, 0x0E),
        ("RAM disabled", Reg::Misc, 0x61, 0x63),
        ("write mode 1", Reg::Gc(0x05), 0x41, 0x40),
        ("write mode 2", Reg::Gc(0x05), 0x42, 0x40),
        ("write mode 3", Reg::Gc(0x05), 0x43, 0x40),
        ("read mode 1", Reg::Gc(0x05), 0x48, 0x40),
        ("set/reset enabled", Reg::Gc(0x01), 0x04, 0x00),
        ("rotate", Reg::Gc(0x03), 0x01, 0x00),
        ("function XOR", Reg::Gc(0x03), 0x18, 0x00),
        ("bit mask", Reg::Gc(0x08), 0xFE, 0xFF),
    ];
    for (what, reg, bad, good) in breakers {
        let before = g.vga.windows_generation();
        reg.write(&mut g, bad);
        assert_eq!(g.vga.plain_windows(), vec![], "{what}");
        assert_ne!(g.vga.windows_generation(), before, "{what}");
        let off = g.vga.windows_generation();
        reg.write(&mut g, good);
        assert_eq!(g.vga.plain_windows(), vec![MODE13_WINDOW], "{what} restored");
        assert_ne!(g.vga.windows_generation(), off, "{what} restored");
    }

    // What does not change the list does not move the generation: the
    // set/reset value, colour compare, read map, the host odd/even bit,
    // the CRTC, the DAC, the same value again.
    let before = g.vga.windows_generation();
    g.grdc_write(0x00, 0x0F);
    g.grdc_write(0x02, 0x03);
    g.grdc_write(0x04, 0x02);
    g.grdc_write(0x05, 0x50);
    g.crtc_write(0x0C, 0x12);
    g.outb(0x3C8, 1);
    g.outb(0x3C9, 0x3F);
    g.sequ_write(0x02, 0x0F);
    assert_eq!(g.vga.plain_windows(), vec![MODE13_WINDOW]);
    assert_eq!(g.vga.windows_generation(), before);

    // The memory map select moves and sizes the window.
    g.grdc_write(0x06, 0x01);
    let w128 = PlainWindow {
        len: 0x20000,
        ..MODE13_WINDOW
    };
    assert_eq!(g.vga.plain_windows(), vec![w128]);
    assert_plain(&mut g, w128);
    g.grdc_write(0x06, 0x0D);
    let b8 = PlainWindow {
        guest: 0xB8000,
        vram_offset: 0,
        len: 0x8000,
    };
    assert_eq!(g.vga.plain_windows(), vec![b8]);
    assert_plain(&mut g, b8);
}

#[test]
fn text_and_planar_modes_have_no_plain_window() {
    let mut g = Guest::new();
    g.set_mode3();
    assert_eq!(g.vga.plain_windows(), vec![], "odd/even text");
    g.vga.set_text_mode();
    assert_eq!(g.vga.plain_windows(), vec![]);
    // Mode 12h's CPU side: planar, all planes, write mode 0.
    g.outb(0x3C2, 0xE3);
    g.sequ_write(0x02, 0x0F);
    g.sequ_write(0x04, 0x06);
    g.grdc_write(0x05, 0x00);
    g.grdc_write(0x06, 0x05);
    assert_eq!(g.vga.plain_windows(), vec![]);
}

#[test]
fn vbe_bank_window_and_linear_framebuffer() {
    let mut g = Guest::new();
    // bochsvga_set_mode: 640×480×8 without the LFB flag, banked.
    for (i, v) in [(3, 8), (1, 640), (2, 480), (5, 0), (4, 0x01)] {
        dispi(&mut g, i, v);
    }
    chain4(&mut g);
    assert_eq!(g.vga.plain_windows(), vec![MODE13_WINDOW]);
    let before = g.vga.windows_generation();
    dispi(&mut g, 5, 3);
    let bank3 = PlainWindow {
        vram_offset: 0x30000,
        ..MODE13_WINDOW
    };
    assert_eq!(g.vga.plain_windows(), vec![bank3]);
    assert_ne!(g.vga.windows_generation(), before);
    assert_plain(&mut g, bank3);
    // The same bank again changes nothing.
    let before = g.vga.windows_generation();
    dispi(&mut g, 5, 3);
    assert_eq!(g.vga.windows_generation(), before);
    // Disabling VBE resets the bank: back to offset 0.
    dispi(&mut g, 4, 0);
    assert_eq!(g.vga.plain_windows(), vec![MODE13_WINDOW]);
    assert_ne!(g.vga.windows_generation(), before);

    // BAR0 set but memory decoding off: no LFB; on: all of video memory.
    g.cfg_writel(0x10, 0xFD00_0000);
    assert_eq!(g.vga.plain_windows(), vec![MODE13_WINDOW]);
    let before = g.vga.windows_generation();
    g.vga.config_write(0x04, &0x0003u16.to_le_bytes());
    let lfb = PlainWindow {
        guest: 0xFD00_0000,
        vram_offset: 0,
        len: VRAM_SIZE as u64,
    };
    assert_eq!(g.vga.plain_windows(), vec![MODE13_WINDOW, lfb]);
    assert_ne!(g.vga.windows_generation(), before);
    assert_eq!(g.vga.vram_len(), lfb.len);
    // The LFB stays plain whatever the VGA registers say.
    g.sequ_write(0x04, 0x06);
    assert_eq!(g.vga.plain_windows(), vec![lfb]);
    let window = g.vga.vram.memory().map_again().unwrap();
    window.write_byte(0x12_3456, 0x77);
    let mut b = [0];
    g.vga.pci_read(PciWindow::Lfb, 0x12_3456, &mut b);
    assert_eq!(b[0], 0x77);
    g.vga.pci_write(PciWindow::Lfb, 0xFF_FFFF, &[0x66]);
    assert_eq!(window.read_byte(0xFF_FFFF), 0x66);
    // Moving the BAR moves the window; decoding off removes it.
    let before = g.vga.windows_generation();
    g.cfg_writel(0x10, 0xE000_0000);
    assert_eq!(g.vga.plain_windows()[0].guest, 0xE000_0000);
    assert_ne!(g.vga.windows_generation(), before);
    g.vga.config_write(0x04, &0x0000u16.to_le_bytes());
    assert_eq!(g.vga.plain_windows(), vec![]);
}
