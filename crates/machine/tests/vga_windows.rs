//! The VGA's plain windows as the board routes them
//! (`Machine::vga_plain_windows`): the chain-4 legacy window always, the
//! linear framebuffer only where the PCI hole sends accesses to the card.

use devices::vga::PlainWindow;
use devices::Sink;
use machine::{Config, Machine};
use mem::Port;

/// PCI configuration address of the VGA (00:02.0), register `reg`.
fn vga_config(reg: u32) -> u32 {
    0x8000_0000 | 2 << 11 | reg
}

fn outl(m: &mut Machine, port: u16, v: u32) {
    m.bus.io.write(Port(port), &v.to_le_bytes());
}

fn outw(m: &mut Machine, port: u16, v: u16) {
    m.bus.io.write(Port(port), &v.to_le_bytes());
}

#[test]
fn lfb_listed_only_inside_the_pci_hole() {
    let rom = vec![0xf4u8; 0x10000];
    let mut m = Machine::new(Config::minimal(rom, Sink::Buffer(Vec::new()))).expect("board");
    assert_eq!(m.vga_plain_windows(), vec![]);
    // Mode 13h's CPU side: RAM enable, chain 4, all planes, A0000/64K.
    m.bus.io.write(Port(0x3C2), &[0x63]);
    outw(&mut m, 0x3C4, 0x0F02);
    outw(&mut m, 0x3C4, 0x0E04);
    outw(&mut m, 0x3CE, 0x4005);
    outw(&mut m, 0x3CE, 0x0506);
    let legacy = PlainWindow {
        guest: 0xA0000,
        vram_offset: 0,
        len: 0x10000,
    };
    assert_eq!(m.vga_plain_windows(), vec![legacy]);

    // BAR0 where SeaBIOS puts it, memory decoding on.
    outl(&mut m, 0xCF8, vga_config(0x10));
    outl(&mut m, 0xCFC, 0xFD00_0000);
    outl(&mut m, 0xCF8, vga_config(0x04));
    outw(&mut m, 0xCFC, 0x0003);
    let lfb = PlainWindow {
        guest: 0xFD00_0000,
        vram_offset: 0,
        len: 16 << 20,
    };
    assert_eq!(m.vga_plain_windows(), vec![legacy, lfb]);

    // Over RAM, below the hole: the card decodes it, the board does not
    // route it there.
    let generation = m.vga().borrow().windows_generation();
    outl(&mut m, 0xCF8, vga_config(0x10));
    outl(&mut m, 0xCFC, 0x0100_0000);
    assert_ne!(m.vga().borrow().windows_generation(), generation);
    assert_eq!(m.vga().borrow().plain_windows().len(), 2);
    assert_eq!(m.vga_plain_windows(), vec![legacy]);
}
