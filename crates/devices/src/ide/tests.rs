//! The IDE controller driven through its ports the way SeaBIOS and Linux's
//! ata_piix drive it.

use super::*;
use crate::disk::DiskMode;
use crate::irq::IrqSink;
use std::cell::RefCell;
use std::rc::Rc;

/// Records the level of IRQ 14 and 15.
#[derive(Default)]
struct Lines {
    level: [bool; 2],
    edges: [u32; 2],
}
impl IrqSink for Lines {
    fn set_irq(&mut self, line: u8, level: bool) {
        let i = usize::from(line - 14);
        if level && !self.level[i] {
            self.edges[i] += 1;
        }
        self.level[i] = level;
    }
}

const SECTORS: usize = 2048; // 1 MiB

/// Sector `lba` starts with its number and is filled with a byte of it.
fn pattern() -> Vec<u8> {
    let mut v = vec![0u8; SECTORS * 512];
    for (lba, s) in v.chunks_mut(512).enumerate() {
        s.fill((lba * 7) as u8);
        s[..4].copy_from_slice(&(lba as u32).to_le_bytes());
    }
    v
}

struct Rig {
    ide: Ide,
    lines: Rc<RefCell<Lines>>,
}

impl Rig {
    fn new() -> Self {
        let lines = Rc::new(RefCell::new(Lines::default()));
        let mut ide = Ide::new(IrqLine::new(lines.clone(), 14), IrqLine::new(lines.clone(), 15));
        ide.attach(0, 0, DiskImage::from_bytes("hd0", pattern(), DiskMode::ReadWrite))
            .unwrap();
        Rig { ide, lines }
    }
    fn out(&mut self, port: u16, v: u8) {
        self.ide.write(Port(port), &[v]);
    }
    fn inb(&mut self, port: u16) -> u8 {
        let mut b = [0];
        self.ide.read(Port(port), &mut b);
        b[0]
    }
    fn inw(&mut self, port: u16) -> u16 {
        let mut b = [0; 2];
        self.ide.read(Port(port), &mut b);
        u16::from_le_bytes(b)
    }
    fn outw(&mut self, port: u16, v: u16) {
        self.ide.write(Port(port), &v.to_le_bytes());
    }
    fn irq14(&self) -> bool {
        self.lines.borrow().level[0]
    }
    fn edges14(&self) -> u32 {
        self.lines.borrow().edges[0]
    }
    fn read_sector(&mut self) -> Vec<u8> {
        (0..256).flat_map(|_| self.inw(0x1F0).to_le_bytes()).collect()
    }
    fn lba28(&mut self, lba: u32, count: u8, cmd: u8) {
        self.out(0x1F2, count);
        self.out(0x1F3, lba as u8);
        self.out(0x1F4, (lba >> 8) as u8);
        self.out(0x1F5, (lba >> 16) as u8);
        self.out(0x1F6, 0xE0 | ((lba >> 24) as u8 & 0xF));
        self.out(0x1F7, cmd);
    }
    fn lba48(&mut self, lba: u64, count: u16, cmd: u8) {
        self.out(0x1F6, 0x40);
        self.out(0x1F2, (count >> 8) as u8);
        self.out(0x1F3, (lba >> 24) as u8);
        self.out(0x1F4, (lba >> 32) as u8);
        self.out(0x1F5, (lba >> 40) as u8);
        self.out(0x1F2, count as u8);
        self.out(0x1F3, lba as u8);
        self.out(0x1F4, (lba >> 8) as u8);
        self.out(0x1F5, (lba >> 16) as u8);
        self.out(0x1F7, cmd);
    }
    fn image(&self) -> &[u8] {
        self.ide.disk(0, 0).unwrap().image.memory().unwrap()
    }
}

fn sector(lba: usize) -> Vec<u8> {
    pattern()[lba * 512..(lba + 1) * 512].to_vec()
}

fn word(id: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([id[2 * i], id[2 * i + 1]])
}

fn string(id: &[u8], words: std::ops::Range<usize>) -> String {
    words
        .flat_map(|i| word(id, i).to_be_bytes())
        .map(char::from)
        .collect::<String>()
        .trim_end()
        .to_string()
}

#[test]
fn seabios_detection_and_identify() {
    let mut r = Rig::new();
    // Secondary channel: nothing cabled, the bus floats.
    assert_eq!(r.inb(0x177), 0xFF);
    assert_eq!(r.inb(0x376), 0xFF);

    // Master: registers read back.
    assert_eq!(r.inb(0x1F7) & 0x80, 0);
    r.out(0x1F6, 0xA0);
    r.out(0x1F2, 0x55);
    r.out(0x1F3, 0xAA);
    assert_eq!((r.inb(0x1F2), r.inb(0x1F3), r.inb(0x1F6)), (0x55, 0xAA, 0xA0));
    // SRST once per channel, with nIEN.
    r.out(0x3F6, 0x0E);
    assert_eq!(r.inb(0x3F6) & 0x80, 0x80, "busy during reset");
    r.out(0x3F6, 0x0A);
    assert_eq!(r.inb(0x3F6), 0x50);
    assert_eq!(
        (
            r.inb(0x1F1),
            r.inb(0x1F2),
            r.inb(0x1F3),
            r.inb(0x1F4),
            r.inb(0x1F5)
        ),
        (1, 1, 1, 0, 0)
    );
    r.out(0x1F6, 0xA0);
    // IDENTIFY PACKET DEVICE: an ATA disk aborts, keeping its signature.
    r.out(0x1F7, 0xA1);
    assert_eq!(r.inb(0x1F7), 0x41);
    assert_eq!(r.inb(0x1F1), 0x04);
    assert_eq!((r.inb(0x1F4), r.inb(0x1F5)), (0, 0));
    assert!(!r.irq14(), "nIEN holds the line");
    r.out(0x1F7, 0xEC);
    assert_eq!(r.inb(0x1F7), 0x58);
    let id = r.read_sector();
    assert_eq!(r.inb(0x1F7), 0x50);

    assert_eq!(word(&id, 0), 0x0040);
    assert_eq!((word(&id, 1), word(&id, 3), word(&id, 6)), (2, 16, 63));
    assert_eq!(string(&id, 27..47), "STRACHEY HARDDISK");
    assert_eq!(string(&id, 10..20), "STRACHEY-HD0");
    assert_ne!(word(&id, 49) & (1 << 9), 0, "LBA");
    assert_eq!(
        u32::from(word(&id, 60)) | u32::from(word(&id, 61)) << 16,
        SECTORS as u32
    );
    assert_eq!(word(&id, 47) & 0xFF, 16);
    assert_eq!(word(&id, 59), 0x110);
    assert_ne!(word(&id, 80) & (1 << 6), 0, "ATA-6");
    assert_ne!(word(&id, 83) & (1 << 10), 0, "LBA48");
    assert_eq!(word(&id, 64) & 3, 3, "PIO 3 and 4");
    assert_eq!(word(&id, 100), SECTORS as u16);
    assert_eq!((word(&id, 101), word(&id, 102), word(&id, 103)), (0, 0, 0));
    assert_eq!(id[510], 0xA5);
    assert_eq!(id.iter().fold(0u8, |a, &b| a.wrapping_add(b)), 0, "checksum");

    // Missing slave: the task file echoes, Status reads 0.
    r.out(0x1F6, 0xB0);
    r.out(0x1F2, 0x55);
    r.out(0x1F3, 0xAA);
    assert_eq!((r.inb(0x1F2), r.inb(0x1F3), r.inb(0x1F6)), (0x55, 0xAA, 0xB0));
    r.out(0x1F7, 0xA1);
    assert_eq!(r.inb(0x1F7), 0);
    assert_eq!(r.inb(0x3F6), 0);
}

#[test]
fn lba28_read_with_interrupts() {
    let mut r = Rig::new();
    r.out(0x3F6, 0x08);
    r.lba28(5, 3, 0x20);
    for lba in 5..8 {
        assert!(r.irq14(), "an interrupt per sector");
        assert_eq!(r.inb(0x3F6), 0x58);
        assert!(r.irq14(), "alternate status does not acknowledge");
        assert_eq!(r.inb(0x1F7), 0x58);
        assert!(!r.irq14(), "status acknowledges");
        assert_eq!(r.read_sector(), sector(lba));
    }
    assert!(!r.irq14(), "no interrupt after the last sector is read");
    assert_eq!(r.inb(0x1F7), 0x50);
    assert_eq!(r.edges14(), 3);
    // The task file holds the last sector transferred.
    assert_eq!(
        (r.inb(0x1F2), r.inb(0x1F3), r.inb(0x1F4), r.inb(0x1F6)),
        (0, 7, 0, 0xE0)
    );
}

#[test]
fn lba28_write_and_read_back() {
    let mut r = Rig::new();
    r.out(0x3F6, 0x08);
    r.lba28(100, 2, 0x30);
    assert!(!r.irq14(), "the first block is asked for without an interrupt");
    assert_eq!(r.inb(0x3F6), 0x58);
    for w in 0..256u16 {
        r.outw(0x1F0, w);
    }
    assert!(r.irq14());
    assert_eq!(r.inb(0x1F7), 0x58);
    for _ in 0..256 {
        r.outw(0x1F0, 0xBEEF);
    }
    assert!(r.irq14(), "completion interrupts");
    assert_eq!(r.inb(0x1F7), 0x50);
    let img = r.image();
    assert_eq!(img[100 * 512..100 * 512 + 4], [0, 0, 1, 0]);
    assert_eq!(img[101 * 512..101 * 512 + 2], [0xEF, 0xBE]);
    assert_eq!(img[102 * 512..102 * 512 + 512], sector(102)[..]);
    // 32-bit reads move two words.
    r.lba28(101, 1, 0x20);
    let mut d = [0u8; 4];
    r.ide.read(Port(0x1F0), &mut d);
    assert_eq!(d, [0xEF, 0xBE, 0xEF, 0xBE]);
}

#[test]
fn lba48_read_write_and_hob() {
    let mut r = Rig::new();
    r.out(0x3F6, 0x08);
    r.lba48(0x3FE, 2, 0x24);
    assert_eq!(r.read_sector(), sector(0x3FE));
    assert_eq!(r.inb(0x1F7), 0x58);
    assert_eq!(r.read_sector(), sector(0x3FF));
    assert_eq!(r.inb(0x1F7), 0x50);
    assert_eq!((r.inb(0x1F3), r.inb(0x1F4)), (0xFF, 0x03));
    r.out(0x3F6, 0x88);
    assert_eq!((r.inb(0x1F2), r.inb(0x1F3), r.inb(0x1F4)), (0, 0, 0), "HOB bytes");
    r.out(0x3F6, 0x08);

    // WRITE MULTIPLE EXT of three sectors in one block.
    r.out(0x1F2, 4);
    r.out(0x1F7, 0xC6);
    assert_eq!(r.inb(0x1F7), 0x50);
    r.lba48(0x700, 3, 0x39);
    for _ in 0..3 * 256 {
        r.outw(0x1F0, 0x1234);
    }
    assert_eq!(r.inb(0x1F7), 0x50);
    assert_eq!(r.image()[0x702 * 512 + 510..0x703 * 512], [0x34, 0x12]);

    // An LBA with high bits set is past the end: IDNF.
    r.lba48(1 << 40, 1, 0x24);
    assert_eq!(r.inb(0x1F7), 0x41);
    assert_eq!(r.inb(0x1F1), 0x10);
}

#[test]
fn read_multiple_blocks() {
    let mut r = Rig::new();
    r.out(0x3F6, 0x08);
    r.out(0x1F2, 4);
    r.out(0x1F7, 0xC6);
    r.inb(0x1F7);
    r.lba28(10, 6, 0xC4);
    assert_eq!(r.inb(0x1F7), 0x58);
    let edges = r.edges14();
    let mut got = Vec::new();
    for _ in 0..4 {
        got.extend(r.read_sector());
    }
    assert_eq!(r.edges14(), edges + 1, "one interrupt per block of four");
    assert_eq!(r.inb(0x1F7), 0x58);
    for _ in 0..2 {
        got.extend(r.read_sector());
    }
    assert_eq!(r.inb(0x1F7), 0x50);
    assert_eq!(got, pattern()[10 * 512..16 * 512]);
    // Not a power of two: aborted. Zero disables, and READ MULTIPLE aborts.
    r.out(0x1F2, 3 + 2);
    r.out(0x1F7, 0xC6);
    assert_eq!((r.inb(0x1F7), r.inb(0x1F1)), (0x41, 0x04));
    r.out(0x1F2, 0);
    r.out(0x1F7, 0xC6);
    r.lba28(0, 1, 0xC4);
    assert_eq!(r.inb(0x1F7), 0x41);
}

#[test]
fn chs_translation() {
    let mut r = Rig::new();
    r.out(0x3F6, 0x08);
    // Default 16 heads x 63 sectors: C0 H1 S1 is LBA 63.
    r.out(0x1F2, 1);
    r.out(0x1F3, 1);
    r.out(0x1F4, 0);
    r.out(0x1F5, 0);
    r.out(0x1F6, 0xA1);
    r.out(0x1F7, 0x20);
    assert_eq!(r.read_sector(), sector(63));
    // INITIALIZE DEVICE PARAMETERS: 4 heads, 17 sectors.
    r.out(0x1F2, 17);
    r.out(0x1F6, 0xA3);
    r.out(0x1F7, 0x91);
    assert_eq!(r.inb(0x1F7), 0x50);
    r.out(0x1F2, 2);
    r.out(0x1F3, 17);
    r.out(0x1F4, 1);
    r.out(0x1F6, 0xA3);
    r.out(0x1F7, 0x20);
    // C1 H3 S17 = (1*4+3)*17+16 = 135, then C2 H0 S1 = 136.
    assert_eq!(r.read_sector(), sector(135));
    assert_eq!(r.read_sector(), sector(136));
    assert_eq!((r.inb(0x1F3), r.inb(0x1F4), r.inb(0x1F6) & 0xF), (1, 2, 0));
    // Words 54-58 show the current translation.
    r.out(0x1F7, 0xEC);
    let id = r.read_sector();
    assert_eq!((word(&id, 54), word(&id, 55), word(&id, 56)), (30, 4, 17));
    // Sector 0 does not exist.
    r.out(0x1F3, 0);
    r.out(0x1F6, 0xA0);
    r.out(0x1F7, 0x20);
    assert_eq!((r.inb(0x1F7), r.inb(0x1F1)), (0x41, 0x10));
}

#[test]
fn housekeeping_commands() {
    let mut r = Rig::new();
    r.out(0x3F6, 0x08);
    let ok = |r: &mut Rig, feat: u8, count: u8| {
        r.out(0x1F1, feat);
        r.out(0x1F2, count);
        r.out(0x1F7, 0xEF);
        r.inb(0x1F7)
    };
    assert_eq!(ok(&mut r, 0x03, 0x0C), 0x50, "PIO 4 with flow control");
    assert_eq!(ok(&mut r, 0x03, 0x42), 0x41, "no UDMA");
    assert_eq!(ok(&mut r, 0x82, 0), 0x50);
    for cmd in [0xE7, 0xEA, 0xE0, 0xE1, 0xE3, 0x40, 0x10] {
        r.out(0x1F2, 1);
        r.out(0x1F7, cmd);
        assert_eq!(r.inb(0x1F7), 0x50, "command {cmd:#x}");
    }
    r.out(0x1F7, 0xE5);
    assert_eq!((r.inb(0x1F7), r.inb(0x1F2)), (0x50, 0xFF));
    for cmd in [0x00, 0x08, 0xA0, 0xB0, 0xF8] {
        r.out(0x1F7, cmd);
        assert_eq!(
            (r.inb(0x1F7), r.inb(0x1F1)),
            (0x41, 0x04),
            "command {cmd:#x} aborts"
        );
    }
    // EXECUTE DEVICE DIAGNOSTIC: signature, code 1, an interrupt.
    r.out(0x1F6, 0xB0);
    r.out(0x1F7, 0x90);
    assert!(r.irq14());
    assert_eq!(r.inb(0x1F6), 0x00, "device 0 selected");
    assert_eq!(
        (r.inb(0x1F7), r.inb(0x1F1), r.inb(0x1F2), r.inb(0x1F3)),
        (0x50, 1, 1, 1)
    );
    // nIEN keeps the line low; clearing it shows the pending interrupt.
    r.out(0x3F6, 0x0A);
    r.out(0x1F7, 0xE7);
    assert!(!r.irq14());
    r.out(0x3F6, 0x08);
    assert!(r.irq14());
    // Past the end: IDNF.
    r.lba28(SECTORS as u32 - 1, 2, 0x20);
    assert_eq!((r.inb(0x1F7), r.inb(0x1F1)), (0x41, 0x10));
}

#[test]
fn snapshot_disk_leaves_file_unchanged() {
    let dir = std::env::temp_dir().join(format!("strachey-ide-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("hd.img");
    std::fs::write(&p, pattern()).unwrap();
    let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
    let lines = Rc::new(RefCell::new(Lines::default()));
    let mut ide = Ide::new(IrqLine::new(lines.clone(), 14), IrqLine::new(lines, 15));
    ide.attach(0, 1, DiskImage::open_hard_disk(&p, DiskMode::Snapshot).unwrap())
        .unwrap();
    let mut r = Rig {
        ide,
        lines: Rc::new(RefCell::new(Lines::default())),
    };
    r.out(0x1F6, 0xF0);
    r.out(0x1F2, 1);
    r.out(0x1F3, 9);
    r.out(0x1F4, 0);
    r.out(0x1F5, 0);
    r.out(0x1F7, 0x30);
    for _ in 0..256 {
        r.outw(0x1F0, 0xAAAA);
    }
    r.out(0x1F7, 0xE7);
    assert_eq!(r.inb(0x1F7), 0x50);
    r.out(0x1F7, 0x20);
    assert!(
        r.read_sector().iter().all(|&b| b == 0xAA),
        "the guest sees its write"
    );
    // Master absent, slave present: the master reads 0 in Status.
    r.out(0x1F6, 0xA0);
    assert_eq!(r.inb(0x1F7), 0);
    drop(r);
    assert!(std::fs::read(&p).unwrap() == pattern());
    assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), mtime);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_images_are_refused() {
    let lines = Rc::new(RefCell::new(Lines::default()));
    let mut ide = Ide::new(IrqLine::new(lines.clone(), 14), IrqLine::new(lines, 15));
    let e = ide
        .attach(
            0,
            0,
            DiskImage::from_bytes("odd.img", vec![0; 1000], DiskMode::Snapshot),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "hard disk image odd.img is 1000 bytes, which is not a whole number of 512-byte sectors (truncated?)"
    );
    assert!(ide.disk(0, 0).is_none());
}
