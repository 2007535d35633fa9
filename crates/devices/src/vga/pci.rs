//! The VGA's PCI face: QEMU's "std VGA" identity, function 00:02.0
//! (vendor 1234, device 1111, class 0300, subsystem 1AF4:1100), with
//!
//! - BAR0: the linear framebuffer, 16 MiB of prefetchable memory (all of
//!   video memory);
//! - BAR2: 4 KiB of MMIO laid out as QEMU's stdvga does — EDID at 0x000
//!   (256 bytes, then zeros to 0x3FF), the VGA ports 0x3C0–0x3DF at
//!   0x400–0x41F, the dispi registers at 0x500 (register n at 0x500 + 2n);
//! - the expansion-ROM BAR: the VGA BIOS image, its window a power of two
//!   at least as large as the image.
//!
//! The register file itself is the shared [`ConfigSpace`]; this file only
//! declares it and produces the EDID block.

use crate::pci::{BarKind, ConfigSpace};

/// PCI vendor ID of QEMU's std VGA (the Bochs/QEMU "VGA" vendor).
pub const VENDOR_ID: u16 = 0x1234;
/// PCI device ID of the std VGA.
pub const DEVICE_ID: u16 = 0x1111;
/// Class code: display controller, VGA-compatible.
pub const CLASS_VGA: u16 = 0x0300;
/// Subsystem vendor (Red Hat / QEMU).
pub const SUBSYSTEM_VENDOR_ID: u16 = 0x1AF4;
/// Subsystem ID (QEMU).
pub const SUBSYSTEM_ID: u16 = 0x1100;
/// Revision QEMU reports for the std VGA.
pub const REVISION: u8 = 2;

/// BAR of the linear framebuffer.
pub const BAR_LFB: usize = 0;
/// BAR of the MMIO registers.
pub const BAR_MMIO: usize = 2;
/// Size of the MMIO BAR.
pub const MMIO_SIZE: u32 = 0x1000;
/// MMIO offset of the EDID blob.
pub const MMIO_EDID: u64 = 0x000;
/// MMIO offset of the VGA port mirror (port 0x3C0 + n at 0x400 + n).
pub const MMIO_VGA_PORTS: u64 = 0x400;
/// Number of mirrored VGA ports.
pub const MMIO_VGA_PORTS_LEN: u64 = 0x20;
/// MMIO offset of the dispi registers (16 bits each).
pub const MMIO_DISPI: u64 = 0x500;
/// The smallest ROM window the expansion-ROM BAR can describe.
const MIN_ROM_WINDOW: u32 = 0x800;

/// The configuration space of the std VGA with a framebuffer of
/// `vram_size` bytes (a power of two) and, if `rom_len` is given, an
/// expansion ROM window large enough for that many bytes.
pub fn config_space(vram_size: u32, rom_len: Option<usize>) -> ConfigSpace {
    let mut c = ConfigSpace::new(VENDOR_ID, DEVICE_ID, CLASS_VGA, 0);
    c.set_revision(REVISION)
        .set_subsystem(SUBSYSTEM_VENDOR_ID, SUBSYSTEM_ID)
        .add_bar(BAR_LFB, BarKind::PrefetchableMemory, vram_size)
        .add_bar(BAR_MMIO, BarKind::Memory, MMIO_SIZE);
    if let Some(len) = rom_len {
        c.add_rom(rom_window(len));
    }
    c.set_defaults();
    c
}

/// The ROM BAR size for an image of `len` bytes.
pub fn rom_window(len: usize) -> u32 {
    let len = u32::try_from(len).unwrap_or(u32::MAX / 2 + 1);
    len.next_power_of_two().max(MIN_ROM_WINDOW)
}

/// A 256-byte EDID (VESA E-EDID 1.4 base block plus an empty second
/// block) for a monitor named "Strachey VGA" whose preferred mode is
/// 1024×768 at 60 Hz (VESA DMT timing), also listing 640×480 and 800×600.
pub fn edid() -> [u8; 256] {
    let mut e = [0u8; 256];
    e[0..8].copy_from_slice(&[0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]);
    // Manufacturer "STR": three 5-bit letters (A = 1), big-endian.
    let id = (u16::from(b'S' - b'@') << 10) | (u16::from(b'T' - b'@') << 5) | u16::from(b'R' - b'@');
    e[8..10].copy_from_slice(&id.to_be_bytes());
    e[10..12].copy_from_slice(&DEVICE_ID.to_le_bytes()); // product code
    e[16] = 1; // week of manufacture
    e[17] = 34; // year of manufacture: 2024 - 1990
    e[18] = 1; // EDID version 1.4
    e[19] = 4;
    e[20] = 0x80; // digital input, colour depth and interface undefined
    e[21] = 40; // width, cm
    e[22] = 30; // height, cm
    e[23] = 120; // gamma 2.2
    e[24] = 0x06; // sRGB default colour space; preferred timing is native
                  // sRGB chromaticity coordinates.
    e[25..35].copy_from_slice(&[0xEE, 0x91, 0xA3, 0x54, 0x4C, 0x99, 0x26, 0x0F, 0x50, 0x54]);
    e[35] = 0x21; // established timings I: 640×480@60, 800×600@60
    e[36] = 0x08; // established timings II: 1024×768@60
    for st in e[38..54].chunks_mut(2) {
        st.copy_from_slice(&[0x01, 0x01]); // standard timings unused
    }
    // Detailed timing 1: 1024×768@60 (65 MHz; 1024+320 × 768+38; sync
    // offset/width 24/136 and 3/6; 400×300 mm; separate sync, negative).
    e[54..72].copy_from_slice(&[
        0x64, 0x19, 0x00, 0x40, 0x41, 0x00, 0x26, 0x30, 0x18, 0x88, 0x36, 0x00, 0x90, 0x2C, 0x11, 0x00, 0x00,
        0x18,
    ]);
    // Display range limits: 50–125 Hz, 30–160 kHz, 250 MHz, no formula.
    e[72..90].copy_from_slice(&[
        0x00, 0x00, 0x00, 0xFD, 0x00, 50, 125, 30, 160, 25, 0x01, 0x0A, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    ]);
    // Display product name.
    e[90..95].copy_from_slice(&[0x00, 0x00, 0x00, 0xFC, 0x00]);
    let name = b"Strachey VGA\n";
    e[95..108].copy_from_slice(name);
    // Dummy descriptor.
    e[108..113].copy_from_slice(&[0x00, 0x00, 0x00, 0x10, 0x00]);
    e[126] = 0; // no extension blocks
    let sum = e[..127].iter().fold(0u8, |a, &b| a.wrapping_add(b));
    e[127] = 0u8.wrapping_sub(sum);
    e
}
