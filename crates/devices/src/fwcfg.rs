//! QEMU's firmware configuration device (`fw_cfg`, x86 I/O-port flavour):
//! how the board tells SeaBIOS the RAM layout, CPU count, boot order and
//! boot-menu policy (QEMU's docs/specs/fw_cfg.rst; SEABIOS.md sections
//! 1–2).
//!
//! - Selector port 0x510 (16-bit write): choose an item and rewind to its
//!   first byte. Bit 14 (the old write channel) is ignored; bit 15 selects
//!   the architecture-specific keys (0x8000+), which are items like any
//!   other here.
//! - Data port 0x511: each byte read returns the next byte of the selected
//!   item; past its end, and for unknown selectors, reads return 0. Writes
//!   are ignored (as in QEMU since 2.4).
//! - DMA at 0x514 (high 32 bits of the descriptor address) and 0x518 (low
//!   32 bits; writing it starts the transfer), both big-endian. The
//!   descriptor {u32 control, u32 length, u64 address} is big-endian;
//!   control bits ERROR 1, READ 2, SKIP 4, SELECT 8 (key in 31:16), WRITE
//!   0x10. The transfer runs at once and completes by writing the control
//!   word back as 0 (or ERROR). Reading the DMA ports returns the signature
//!   "QEMU CFG".
//! - Items: 0x00 signature "QEMU", 0x01 feature bits (1 = traditional
//!   interface, 2 = DMA), 0x19 the file directory (big-endian count, then
//!   64-byte entries {BE u32 size, BE u16 select, u16 reserved,
//!   name[56]}), files from selector 0x20 up; the rest is what the board
//!   adds with [`FwCfgBuilder`].
//!
//! Not implemented: writable items (DMA WRITE reports ERROR), the MMIO
//! flavour, ACPI/SMBIOS tables, the kernel-loading items.

use mem::{Dma, PhysAddr, Port, PortDevice};
use std::collections::BTreeMap;
use std::fmt;

/// Selector register (16-bit).
pub const PORT_SELECTOR: u16 = 0x510;
/// Data register (8-bit).
pub const PORT_DATA: u16 = 0x511;
/// DMA address, high 32 bits (big-endian).
pub const PORT_DMA_HIGH: u16 = 0x514;
/// DMA address, low 32 bits (big-endian); the write starts the transfer.
pub const PORT_DMA_LOW: u16 = 0x518;

/// Well-known item keys (QEMU's include/standard-headers/linux/qemu_fw_cfg.h).
pub mod key {
    /// "QEMU".
    pub const SIGNATURE: u16 = 0x00;
    /// Interface feature bits (u32 LE).
    pub const ID: u16 = 0x01;
    /// RAM size in bytes (u64 LE).
    pub const RAM_SIZE: u16 = 0x03;
    /// Non-zero: no graphics, SeaBIOS's serial console on COM1 (u16 LE).
    pub const NOGRAPHIC: u16 = 0x04;
    /// Number of CPUs at boot (u16 LE).
    pub const NB_CPUS: u16 = 0x05;
    /// Non-zero: show the boot menu prompt (u16 LE).
    pub const BOOT_MENU: u16 = 0x0E;
    /// Highest CPU (APIC ID) limit (u16 LE).
    pub const MAX_CPUS: u16 = 0x0F;
    /// The file directory.
    pub const FILE_DIR: u16 = 0x19;
    /// The first file's selector.
    pub const FILE_FIRST: u16 = 0x20;
}

/// Feature bit in item 0x01: the port interface.
const ID_TRADITIONAL: u32 = 1 << 0;
/// Feature bit in item 0x01: the DMA interface.
const ID_DMA: u32 = 1 << 1;
/// Selector bit 14: the (removed) write channel; ignored.
const SELECT_WRITE: u16 = 1 << 14;

/// DMA control bits.
mod control {
    pub const ERROR: u32 = 1 << 0;
    pub const READ: u32 = 1 << 1;
    pub const SKIP: u32 = 1 << 2;
    pub const SELECT: u32 = 1 << 3;
    pub const WRITE: u32 = 1 << 4;
}

/// What reads of the DMA ports return.
const DMA_SIGNATURE: &[u8; 8] = b"QEMU CFG";
/// Bytes of a file name in a directory entry, including the NUL.
const FILE_NAME_LEN: usize = 56;
/// Size of a directory entry.
const DIR_ENTRY_LEN: usize = 64;
/// The most zero bytes a DMA read writes past the end of its item.
const MAX_ZERO_FILL: usize = 1 << 20;
/// How many files fit between FILE_FIRST and the arch-specific keys.
const MAX_FILES: usize = 0x8000 - key::FILE_FIRST as usize;

/// E820 memory types.
pub mod e820 {
    /// Usable RAM.
    pub const RAM: u32 = 1;
    /// Reserved.
    pub const RESERVED: u32 = 2;
}

/// Why the builder refused something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FwCfgError {
    /// The name does not fit the directory's 55 bytes (plus NUL), or is empty.
    BadName(String),
    /// A file of that name exists already.
    Duplicate(String),
    /// The selector range for files is full.
    TooManyFiles,
}

impl fmt::Display for FwCfgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FwCfgError::BadName(n) => write!(f, "fw_cfg file name {n:?} is empty or longer than 55 bytes"),
            FwCfgError::Duplicate(n) => write!(f, "fw_cfg file {n:?} is added twice"),
            FwCfgError::TooManyFiles => write!(f, "too many fw_cfg files"),
        }
    }
}

impl std::error::Error for FwCfgError {}

/// Collects the items before the device exists.
///
/// ```
/// use devices::fwcfg::FwCfgBuilder;
/// let mut b = FwCfgBuilder::new();
/// b.ram_size(32 << 20).cpu_count(1).boot_menu(false).nographic(false);
/// b.e820_ram(32 << 20).boot_fail_wait(u32::MAX).unwrap();
/// let fw = b.build(None);
/// assert!(fw.item(devices::fwcfg::key::RAM_SIZE).is_some());
/// ```
#[derive(Debug, Default)]
pub struct FwCfgBuilder {
    items: BTreeMap<u16, Vec<u8>>,
    files: Vec<(String, Vec<u8>)>,
    e820: Vec<u8>,
}

impl FwCfgBuilder {
    /// No items yet (the signature, ID and directory are added by
    /// [`FwCfgBuilder::build`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Item `key` with contents `data` (replacing any earlier one).
    pub fn item(&mut self, key: u16, data: &[u8]) -> &mut Self {
        self.items.insert(key & !SELECT_WRITE, data.to_vec());
        self
    }

    /// 0x03: RAM size in bytes.
    pub fn ram_size(&mut self, bytes: u64) -> &mut Self {
        self.item(key::RAM_SIZE, &bytes.to_le_bytes())
    }

    /// 0x05: CPUs present at boot; also 0x0F, the APIC ID limit, which
    /// SeaBIOS reads as `etc/max-cpus` (the same number with one CPU per
    /// APIC ID from 0).
    pub fn cpu_count(&mut self, n: u16) -> &mut Self {
        self.item(key::NB_CPUS, &n.to_le_bytes());
        self.item(key::MAX_CPUS, &n.to_le_bytes())
    }

    /// 0x0E: whether SeaBIOS shows "Press ESC for boot menu." (QEMU's
    /// default is not to, which also skips its 2.5 s wait).
    pub fn boot_menu(&mut self, show: bool) -> &mut Self {
        self.item(key::BOOT_MENU, &u16::from(show).to_le_bytes())
    }

    /// 0x04: no graphics (SeaBIOS then mirrors its screen on COM1).
    pub fn nographic(&mut self, on: bool) -> &mut Self {
        self.item(key::NOGRAPHIC, &u16::from(on).to_le_bytes())
    }

    /// One `etc/e820` entry (20 bytes: u64 address, u64 length, u32 type,
    /// little-endian).
    pub fn e820_entry(&mut self, addr: u64, len: u64, kind: u32) -> &mut Self {
        self.e820.extend_from_slice(&addr.to_le_bytes());
        self.e820.extend_from_slice(&len.to_le_bytes());
        self.e820.extend_from_slice(&kind.to_le_bytes());
        self
    }

    /// The `etc/e820` QEMU's `pc` machine gives for `ram_size` bytes of
    /// RAM below 4 GiB (hw/i386/pc.c, `pc_memory_init`): one RAM entry from
    /// address 0 over all of it, the VGA hole and BIOS area included, and
    /// (with TCG) no reserved entries. SeaBIOS then carves out what it
    /// uses itself (EBDA 0x9FC00, 0xF0000–0xFFFFF, its high tables, the
    /// 256 KiB below 4 GiB) before it hands the map to the OS.
    pub fn e820_ram(&mut self, ram_size: u64) -> &mut Self {
        self.e820_entry(0, ram_size, e820::RAM)
    }

    /// `etc/boot-fail-wait`: milliseconds SeaBIOS waits after "No bootable
    /// device." before rebooting (u32 LE); `u32::MAX` = wait for ever,
    /// QEMU's default.
    ///
    /// # Errors
    /// The file was added already.
    pub fn boot_fail_wait(&mut self, ms: u32) -> Result<&mut Self, FwCfgError> {
        self.file("etc/boot-fail-wait", &ms.to_le_bytes())
    }

    /// `bootorder`: OpenFirmware device paths, one a line, highest
    /// priority first (e.g. `/pci@i0cf8/ide@1,1/drive@0/disk@0\n`).
    ///
    /// # Errors
    /// The file was added already.
    pub fn bootorder(&mut self, text: &str) -> Result<&mut Self, FwCfgError> {
        self.file("bootorder", text.as_bytes())
    }

    /// A named file.
    ///
    /// # Errors
    /// The name is empty, too long or taken, or there are too many files.
    pub fn file(&mut self, name: &str, data: &[u8]) -> Result<&mut Self, FwCfgError> {
        if name.is_empty() || name.len() >= FILE_NAME_LEN || name.as_bytes().contains(&0) {
            return Err(FwCfgError::BadName(name.to_string()));
        }
        if self.files.iter().any(|(n, _)| n == name) || (name == "etc/e820" && !self.e820.is_empty()) {
            return Err(FwCfgError::Duplicate(name.to_string()));
        }
        if self.files.len() + 1 >= MAX_FILES {
            return Err(FwCfgError::TooManyFiles);
        }
        self.files.push((name.to_string(), data.to_vec()));
        Ok(self)
    }

    /// The device. With `dma`, the DMA interface is offered (item 0x01 =
    /// 3) and transfers reach guest RAM through it; without, only the
    /// port interface (item 0x01 = 1).
    pub fn build(mut self, dma: Option<Dma>) -> FwCfg {
        if !self.e820.is_empty() && !self.files.iter().any(|(n, _)| n == "etc/e820") {
            let table = std::mem::take(&mut self.e820);
            self.files.push(("etc/e820".to_string(), table));
        }
        let mut items = self.items;
        items.insert(key::SIGNATURE, b"QEMU".to_vec());
        let id = ID_TRADITIONAL | if dma.is_some() { ID_DMA } else { 0 };
        items.insert(key::ID, id.to_le_bytes().to_vec());
        let mut dir = Vec::with_capacity(4 + DIR_ENTRY_LEN * self.files.len());
        dir.extend_from_slice(&(self.files.len() as u32).to_be_bytes());
        for (i, (name, data)) in self.files.into_iter().enumerate() {
            let select = key::FILE_FIRST + i as u16;
            dir.extend_from_slice(&(data.len() as u32).to_be_bytes());
            dir.extend_from_slice(&select.to_be_bytes());
            dir.extend_from_slice(&[0, 0]);
            let mut n = [0u8; FILE_NAME_LEN];
            n[..name.len()].copy_from_slice(name.as_bytes());
            dir.extend_from_slice(&n);
            items.insert(select, data);
        }
        items.insert(key::FILE_DIR, dir);
        FwCfg {
            items,
            selector: 0,
            offset: 0,
            dma,
            dma_high: 0,
            warned: false,
        }
    }
}

/// The fw_cfg device.
pub struct FwCfg {
    items: BTreeMap<u16, Vec<u8>>,
    /// The selected key (write bit removed).
    selector: u16,
    /// Read position in the selected item.
    offset: usize,
    dma: Option<Dma>,
    /// High 32 bits of the next descriptor address.
    dma_high: u32,
    warned: bool,
}

impl fmt::Debug for FwCfg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FwCfg")
            .field("items", &self.items.keys().collect::<Vec<_>>())
            .field("selector", &self.selector)
            .field("offset", &self.offset)
            .field("dma", &self.dma.is_some())
            .finish()
    }
}

impl FwCfg {
    /// The ports to register, as (first, count): selector and data, then
    /// the 8-byte DMA address register.
    pub const PORTS: &'static [(u16, u16)] = &[(PORT_SELECTOR, 2), (PORT_DMA_HIGH, 8)];

    /// The contents of item `key`, if it exists.
    pub fn item(&self, key: u16) -> Option<&[u8]> {
        self.items.get(&(key & !SELECT_WRITE)).map(Vec::as_slice)
    }

    /// Power-on state: nothing selected (the items stay).
    pub fn reset(&mut self) {
        self.select(key::SIGNATURE);
        self.dma_high = 0;
    }

    fn select(&mut self, key: u16) {
        self.selector = key & !SELECT_WRITE;
        self.offset = 0;
    }

    /// Copy the next bytes of the selected item into `out`, zeros past its
    /// end, and advance.
    fn read_data(&mut self, out: &mut [u8]) {
        let item = self.items.get(&self.selector).map(Vec::as_slice).unwrap_or(&[]);
        let start = self.offset.min(item.len());
        let n = out.len().min(item.len() - start);
        out[..n].copy_from_slice(&item[start..start + n]);
        out[n..].fill(0);
        self.offset = (self.offset + out.len()).min(item.len());
    }

    fn warn_once(&mut self, what: &str) {
        if !self.warned {
            self.warned = true;
            eprintln!("strachey: fw_cfg: {what} (further fw_cfg warnings suppressed)");
        }
    }

    /// Run the DMA descriptor at guest physical `addr`.
    fn run_dma(&mut self, addr: u64) {
        let Some(dma) = self.dma.clone() else {
            return;
        };
        let mut d = [0u8; 16];
        dma.read(PhysAddr(addr), &mut d);
        let ctl = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        let len = u32::from_be_bytes([d[4], d[5], d[6], d[7]]) as usize;
        let target = u64::from_be_bytes([d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]]);
        if ctl & control::SELECT != 0 {
            self.select((ctl >> 16) as u16);
        }
        let mut result = 0;
        if ctl & control::READ != 0 {
            let item = self.items.get(&self.selector).map(Vec::as_slice).unwrap_or(&[]);
            let start = self.offset.min(item.len());
            let copy = len.min(item.len() - start);
            dma.write(PhysAddr(target), &item[start..start + copy]);
            self.offset = start + copy;
            // Past the end of the item the transfer writes zeros; a length
            // far beyond it is a guest bug, and is cut short rather than
            // spending seconds writing gigabytes.
            let zeros = len - copy;
            if zeros > MAX_ZERO_FILL {
                self.warn_once(&format!(
                    "DMA read of {len} bytes runs {zeros} bytes past the item; truncated"
                ));
            }
            let buf = [0u8; 4096];
            let zeros = zeros.min(MAX_ZERO_FILL);
            let mut done = 0;
            while done < zeros {
                let n = (zeros - done).min(buf.len());
                dma.write(PhysAddr(target.wrapping_add((copy + done) as u64)), &buf[..n]);
                done += n;
            }
        } else if ctl & control::WRITE != 0 {
            // No item is writable.
            result = control::ERROR;
        } else if ctl & control::SKIP != 0 {
            let size = self.items.get(&self.selector).map_or(0, Vec::len);
            self.offset = self.offset.saturating_add(len).min(size);
        }
        dma.write(PhysAddr(addr), &result.to_be_bytes());
    }
}

impl PortDevice for FwCfg {
    fn read(&mut self, port: Port, data: &mut [u8]) {
        match port.0 {
            PORT_SELECTOR => data.fill(0),
            // A wider read of the data port returns that many bytes in order.
            PORT_DATA => self.read_data(data),
            p @ PORT_DMA_HIGH..=0x51B => {
                let start = usize::from(p - PORT_DMA_HIGH);
                for (i, b) in data.iter_mut().enumerate() {
                    *b = DMA_SIGNATURE.get(start + i).copied().unwrap_or(0xFF);
                }
            }
            _ => data.fill(0xFF),
        }
    }

    fn write(&mut self, port: Port, data: &[u8]) {
        match (port.0, data.len()) {
            (PORT_SELECTOR, 1) => self.select(u16::from(data[0])),
            (PORT_SELECTOR, _) => self.select(u16::from_le_bytes([data[0], data[1]])),
            (PORT_DATA, _) => {}
            (PORT_DMA_HIGH, 4) => self.dma_high = u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
            (PORT_DMA_LOW, 4) => {
                let low = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                let addr = (u64::from(self.dma_high) << 32) | u64::from(low);
                self.dma_high = 0;
                self.run_dma(addr);
            }
            (p, n) => self.warn_once(&format!("ignored {n}-byte write to port {p:#x}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mem::PhysMemory;

    fn qemu_like(dma: Option<Dma>) -> FwCfg {
        let mut b = FwCfgBuilder::new();
        b.ram_size(32 << 20)
            .cpu_count(1)
            .boot_menu(false)
            .nographic(false)
            .e820_ram(32 << 20);
        b.boot_fail_wait(u32::MAX).unwrap();
        b.bootorder("/pci@i0cf8/ide@1,1/drive@0/disk@0\n").unwrap();
        b.build(dma)
    }

    fn select(fw: &mut FwCfg, key: u16) {
        fw.write(Port(PORT_SELECTOR), &key.to_le_bytes());
    }

    fn insb(fw: &mut FwCfg, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                let mut b = [0];
                fw.read(Port(PORT_DATA), &mut b);
                b[0]
            })
            .collect()
    }

    /// Find a file the way SeaBIOS's qemu_early_e820 does: walk the
    /// directory through the data port.
    fn find_file(fw: &mut FwCfg, name: &str) -> Option<(u16, u32)> {
        select(fw, key::FILE_DIR);
        let count = u32::from_be_bytes(insb(fw, 4).try_into().unwrap());
        for _ in 0..count {
            let e = insb(fw, 64);
            let n = &e[8..];
            let len = n.iter().position(|&c| c == 0).unwrap();
            if &n[..len] == name.as_bytes() {
                return Some((
                    u16::from_be_bytes([e[4], e[5]]),
                    u32::from_be_bytes([e[0], e[1], e[2], e[3]]),
                ));
            }
        }
        None
    }

    #[test]
    fn signature_id_and_legacy_items_through_the_data_port() {
        let mut fw = qemu_like(None);
        select(&mut fw, key::SIGNATURE);
        assert_eq!(insb(&mut fw, 4), b"QEMU");
        assert_eq!(insb(&mut fw, 2), [0, 0], "past the end reads zeros");
        select(&mut fw, key::ID);
        assert_eq!(insb(&mut fw, 4), [1, 0, 0, 0], "no DMA without a Dma");
        select(&mut fw, key::RAM_SIZE);
        assert_eq!(insb(&mut fw, 8), (32u64 << 20).to_le_bytes());
        select(&mut fw, key::NB_CPUS);
        assert_eq!(insb(&mut fw, 2), [1, 0]);
        select(&mut fw, key::BOOT_MENU);
        assert_eq!(insb(&mut fw, 2), [0, 0]);
        select(&mut fw, 0x0D); // NUMA: not provided
        assert_eq!(insb(&mut fw, 8), [0; 8], "unknown selectors read zeros");
        select(&mut fw, 0x8003);
        assert_eq!(insb(&mut fw, 4), [0; 4]);
        // Re-selecting rewinds; a word read returns two bytes in order.
        select(&mut fw, key::SIGNATURE);
        let mut w = [0; 2];
        fw.read(Port(PORT_DATA), &mut w);
        assert_eq!(&w, b"QE");
        fw.write(Port(PORT_DATA), &[0x55]);
        assert_eq!(insb(&mut fw, 2), b"MU", "data writes are ignored");
    }

    #[test]
    fn directory_and_files_through_the_data_port() {
        let mut fw = qemu_like(None);
        let (sel, size) = find_file(&mut fw, "etc/e820").unwrap();
        assert_eq!(size, 20);
        select(&mut fw, sel);
        let e = insb(&mut fw, 20);
        assert_eq!(u64::from_le_bytes(e[0..8].try_into().unwrap()), 0);
        assert_eq!(u64::from_le_bytes(e[8..16].try_into().unwrap()), 32 << 20);
        assert_eq!(u32::from_le_bytes(e[16..20].try_into().unwrap()), e820::RAM);
        let (sel, size) = find_file(&mut fw, "etc/boot-fail-wait").unwrap();
        select(&mut fw, sel);
        assert_eq!(insb(&mut fw, size as usize), [0xFF; 4]);
        let (sel, size) = find_file(&mut fw, "bootorder").unwrap();
        select(&mut fw, sel | SELECT_WRITE);
        assert_eq!(
            insb(&mut fw, size as usize),
            b"/pci@i0cf8/ide@1,1/drive@0/disk@0\n"
        );
        assert_eq!(find_file(&mut fw, "etc/table-loader"), None);
    }

    #[test]
    fn builder_rejects_bad_files() {
        let mut b = FwCfgBuilder::new();
        b.file("a", b"1").unwrap();
        assert_eq!(b.file("a", b"2").err(), Some(FwCfgError::Duplicate("a".into())));
        assert!(matches!(
            b.file(&"x".repeat(56), b""),
            Err(FwCfgError::BadName(_))
        ));
        assert!(matches!(b.file("", b""), Err(FwCfgError::BadName(_))));
        b.e820_ram(1 << 20);
        assert!(b.file("etc/e820", b"").is_err());
    }

    /// The guest side of SeaBIOS's qemu_cfg_dma_transfer: a big-endian
    /// descriptor in RAM, its address byte-swapped into 0x518, then poll.
    fn dma_transfer(fw: &mut FwCfg, m: &mut PhysMemory, desc: u64, ctl: u32, len: u32, to: u64) -> u32 {
        let mut d = Vec::new();
        d.extend_from_slice(&ctl.to_be_bytes());
        d.extend_from_slice(&len.to_be_bytes());
        d.extend_from_slice(&to.to_be_bytes());
        m.write(PhysAddr(desc), &d);
        fw.write(Port(PORT_DMA_LOW), &(desc as u32).to_be_bytes());
        u32::from_be_bytes(m.read_le::<4>(PhysAddr(desc)))
    }

    #[test]
    fn dma_reads_land_in_guest_ram() {
        let mut m = PhysMemory::new(2).unwrap();
        let mut fw = qemu_like(Some(m.dma()));
        select(&mut fw, key::ID);
        assert_eq!(insb(&mut fw, 4), [3, 0, 0, 0], "DMA offered");
        let mut sig = [0u8; 8];
        fw.read(Port(PORT_DMA_HIGH), &mut sig[..4]);
        fw.read(Port(PORT_DMA_LOW), &mut sig[4..]);
        assert_eq!(&sig, b"QEMU CFG");

        // Select the signature and read it to 0x7000.
        let ctl = (u32::from(key::SIGNATURE) << 16) | control::SELECT | control::READ;
        assert_eq!(dma_transfer(&mut fw, &mut m, 0x6000, ctl, 4, 0x7000), 0);
        assert_eq!(&m.read_le::<4>(PhysAddr(0x7000)), b"QEMU");

        // The directory, then one file: select + skip + read.
        let ctl = (u32::from(key::FILE_DIR) << 16) | control::SELECT | control::READ;
        assert_eq!(dma_transfer(&mut fw, &mut m, 0x6000, ctl, 4, 0x7000), 0);
        let count = u32::from_be_bytes(m.read_le::<4>(PhysAddr(0x7000)));
        assert_eq!(count, 3);
        assert_eq!(
            dma_transfer(&mut fw, &mut m, 0x6000, control::READ, 64 * count, 0x7100),
            0
        );
        let mut dir = vec![0u8; 64 * count as usize];
        m.read(PhysAddr(0x7100), &mut dir);
        let e820 = dir
            .chunks(64)
            .find(|e| e[8..].starts_with(b"etc/e820\0"))
            .expect("etc/e820 in the directory");
        let sel = u16::from_be_bytes([e820[4], e820[5]]);
        let ctl = (u32::from(sel) << 16) | control::SELECT | control::SKIP;
        assert_eq!(dma_transfer(&mut fw, &mut m, 0x6000, ctl, 8, 0), 0);
        // Read 12 bytes (length + type) and 4 past the end (zeros).
        m.write(PhysAddr(0x8000), &[0xAA; 16]);
        assert_eq!(
            dma_transfer(&mut fw, &mut m, 0x6000, control::READ, 16, 0x8000),
            0
        );
        let got = m.read_le::<16>(PhysAddr(0x8000));
        assert_eq!(u64::from_le_bytes(got[..8].try_into().unwrap()), 32 << 20);
        assert_eq!(&got[8..], &[1, 0, 0, 0, 0, 0, 0, 0]);

        // Writes are refused with ERROR; the port interface still works.
        let ctl = (u32::from(sel) << 16) | control::SELECT | control::WRITE;
        assert_eq!(
            dma_transfer(&mut fw, &mut m, 0x6000, ctl, 4, 0x8000),
            control::ERROR
        );
        select(&mut fw, key::SIGNATURE);
        assert_eq!(insb(&mut fw, 4), b"QEMU");
    }

    #[test]
    fn dma_high_address_and_non_ram_targets() {
        let mut m = PhysMemory::new(2).unwrap();
        let mut fw = qemu_like(Some(m.dma()));
        // A descriptor above 4 GiB: nothing there to read or complete.
        fw.write(Port(PORT_DMA_HIGH), &1u32.to_be_bytes());
        fw.write(Port(PORT_DMA_LOW), &0x6000u32.to_be_bytes());
        // The high half is consumed by the transfer.
        let ctl = (u32::from(key::SIGNATURE) << 16) | control::SELECT | control::READ;
        assert_eq!(
            dma_transfer(&mut fw, &mut m, 0x6000, ctl, 4, 0xA0000),
            0,
            "target outside RAM: dropped"
        );
        assert_eq!(m.read_le::<4>(PhysAddr(0xA0000)), [0xFF; 4]);
    }
}
