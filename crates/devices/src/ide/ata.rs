//! One ATA hard disk: its image, geometry, settings and IDENTIFY DEVICE data.

use crate::disk::{ChsGeometry, DiskError, DiskImage};

/// The most sectors READ/WRITE MULTIPLE moves per DRQ block (IDENTIFY
/// word 47).
pub const MAX_MULTIPLE: u8 = 16;
/// The largest LBA28 capacity (IDENTIFY words 60–61 saturate here).
const LBA28_MAX: u64 = 0x0FFF_FFFF;
/// CHS capacity limit of ATA (16383 × 16 × 63).
const CHS_MAX: u64 = 16_514_064;

/// An ATA disk on an IDE channel.
#[derive(Debug)]
pub struct AtaDisk {
    pub(super) image: DiskImage,
    sectors: u64,
    /// The default (power-on) translation.
    default_chs: ChsGeometry,
    /// The translation INITIALIZE DEVICE PARAMETERS set: (cylinders,
    /// heads, sectors per track).
    current: (u16, u8, u8),
    /// Sectors per DRQ block of READ/WRITE MULTIPLE (0 = disabled).
    pub(super) multiple: u8,
    pub(super) write_cache: bool,
    /// Serial number (IDENTIFY words 10–19, 20 characters).
    pub serial: String,
    /// Model (words 27–46, 40 characters).
    pub model: String,
    /// Firmware revision (words 23–26, 8 characters).
    pub firmware: String,
}

impl AtaDisk {
    /// A disk backed by `image`, with the QEMU/Bochs default geometry.
    ///
    /// # Errors
    /// The image is not a whole number of sectors, or too large.
    pub fn new(image: DiskImage) -> Result<Self, DiskError> {
        image.check_hard_disk()?;
        let sectors = image.sectors();
        let g = ChsGeometry::for_hard_disk(sectors);
        Ok(Self {
            image,
            sectors,
            default_chs: g,
            current: (g.cylinders, g.heads, g.sectors),
            multiple: MAX_MULTIPLE,
            write_cache: true,
            serial: "STRACHEY0001".into(),
            model: "STRACHEY HARDDISK".into(),
            firmware: env!("CARGO_PKG_VERSION").into(),
        })
    }

    /// Total sectors.
    pub fn sectors(&self) -> u64 {
        self.sectors
    }

    /// The default CHS geometry (what the BIOS is told through CMOS).
    pub fn geometry(&self) -> ChsGeometry {
        self.default_chs
    }

    /// INITIALIZE DEVICE PARAMETERS: a new translation with `heads` heads
    /// and `spt` sectors per track. False if it cannot be set.
    pub(super) fn set_translation(&mut self, heads: u8, spt: u8) -> bool {
        if heads == 0 || spt == 0 {
            return false;
        }
        let cyl = (self.sectors.min(CHS_MAX) / (u64::from(heads) * u64::from(spt))).min(65535);
        self.current = (cyl as u16, heads, spt);
        true
    }

    /// Back to the power-on translation.
    pub(super) fn reset_translation(&mut self) {
        let g = self.default_chs;
        self.current = (g.cylinders, g.heads, g.sectors);
    }

    /// The LBA of a CHS address under the current translation.
    pub(super) fn chs_to_lba(&self, c: u16, h: u8, s: u8) -> Option<u64> {
        let (cyls, heads, spt) = self.current;
        if s == 0 || s > spt || h >= heads || c >= cyls {
            return None;
        }
        Some((u64::from(c) * u64::from(heads) + u64::from(h)) * u64::from(spt) + u64::from(s) - 1)
    }

    /// The CHS address of `lba` under the current translation.
    pub(super) fn lba_to_chs(&self, lba: u64) -> (u16, u8, u8) {
        let (_, heads, spt) = self.current;
        let (heads, spt) = (u64::from(heads), u64::from(spt));
        let s = lba % spt + 1;
        let h = (lba / spt) % heads;
        let c = lba / spt / heads;
        (c.min(0xFFFF) as u16, h as u8, s as u8)
    }

    /// The 256 words of IDENTIFY DEVICE (ATA/ATAPI-6, 8.15), as bytes.
    /// `unit` is 0 for the master, 1 for the slave.
    pub(super) fn identify(&self, unit: usize) -> [u8; 512] {
        let mut w = [0u16; 256];
        let g = self.default_chs;
        let (cc, ch, cs) = self.current;
        // General configuration: fixed, non-removable ATA device.
        w[0] = 0x0040;
        w[1] = g.cylinders;
        w[3] = u16::from(g.heads);
        // Obsolete unformatted bytes per track / per sector (as QEMU).
        w[4] = 512 * u16::from(g.sectors);
        w[5] = 512;
        w[6] = u16::from(g.sectors);
        put_string(&mut w[10..20], &self.serial);
        w[20] = 3; // buffer type (obsolete): dual-ported, cached
        w[21] = 512; // buffer size in sectors (obsolete)
        put_string(&mut w[23..27], &self.firmware);
        put_string(&mut w[27..47], &self.model);
        w[47] = 0x8000 | u16::from(MAX_MULTIPLE);
        w[48] = 1; // doubleword I/O (obsolete)
                   // Capabilities: LBA (bit 9), IORDY supported (bit 11). No DMA.
        w[49] = 1 << 11 | 1 << 9;
        w[50] = 0x4000;
        w[51] = 0x200; // PIO timing mode 2 (obsolete)
                       // Words 54–58 and 64–70 are valid.
        w[53] = 1 | 2;
        w[54] = cc;
        w[55] = u16::from(ch);
        w[56] = u16::from(cs);
        let cur_cap = u64::from(cc) * u64::from(ch) * u64::from(cs);
        w[57] = cur_cap as u16;
        w[58] = (cur_cap >> 16) as u16;
        if self.multiple != 0 {
            w[59] = 0x100 | u16::from(self.multiple);
        }
        let lba28 = self.sectors.min(LBA28_MAX);
        w[60] = lba28 as u16;
        w[61] = (lba28 >> 16) as u16;
        w[64] = 0x03; // PIO modes 3 and 4
        w[65] = 120; // minimum multiword DMA cycle (ns)
        w[66] = 120;
        w[67] = 120; // minimum PIO cycle without flow control
        w[68] = 120; // with IORDY
        w[80] = 0x7E; // ATA-1 .. ATA-6
                      // Supported: NOP (14), write cache (5), power management (3);
                      // FLUSH CACHE EXT (13), FLUSH CACHE (12), LBA48 (10).
        w[82] = 1 << 14 | 1 << 5 | 1 << 3;
        w[83] = 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10;
        w[84] = 1 << 14;
        w[85] = 1 << 14 | u16::from(self.write_cache) << 5 | 1 << 3;
        w[86] = 1 << 13 | 1 << 12 | 1 << 10;
        w[87] = 1 << 14;
        // Hardware reset result: device 0 or 1 passed, numbered by jumper.
        w[93] = 1 << 14 | if unit == 0 { 0x0009 } else { 0x0900 };
        w[100] = self.sectors as u16;
        w[101] = (self.sectors >> 16) as u16;
        w[102] = (self.sectors >> 32) as u16;
        w[103] = (self.sectors >> 48) as u16;
        let mut bytes = [0u8; 512];
        for (i, v) in w.iter().enumerate() {
            bytes[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
        }
        // Integrity word 255: signature 0xA5, then a checksum making the
        // byte sum zero.
        bytes[510] = 0xA5;
        let sum = bytes[..511].iter().fold(0u8, |a, &b| a.wrapping_add(b));
        bytes[511] = sum.wrapping_neg();
        bytes
    }
}

/// An ATA string: two characters a word, the first in the high byte,
/// padded with spaces.
fn put_string(words: &mut [u16], s: &str) {
    let mut chars = s.bytes().chain(std::iter::repeat(b' '));
    for w in words {
        let hi = chars.next().unwrap_or(b' ');
        let lo = chars.next().unwrap_or(b' ');
        *w = u16::from(hi) << 8 | u16::from(lo);
    }
}
