//! The physical address map of a PC.
//!
//! ```text
//! 0x0000_0000 ..  0x0009_FFFF   RAM (conventional memory)
//! 0x000A_0000 ..  0x000B_FFFF   VGA window (MMIO when a display claims it)
//! 0x000C_0000 ..  0x000D_FFFF   option ROM area (open bus, or shadow RAM)
//! 0x000E_0000 ..  0x000F_FFFF   alias of the last 128 KiB of the BIOS ROM
//!                               (or shadow RAM)
//! 0x0010_0000 ..  RAM size      RAM (extended memory)
//! ...                           MMIO regions, open bus
//! 4 GiB - ROM size .. 4 GiB     the BIOS ROM
//! ```
//!
//! With the A20 gate closed, address bit 20 is forced to zero before any of
//! this is consulted, as the 8042/port-0x92 gate does on a PC.
//!
//! Shadow RAM: the chipset's PAM registers (i440FX datasheet, 3.2.18) route
//! reads and writes of each 16 KiB chunk of 0xC0000–0xFFFFF separately to
//! RAM or to the bus (ROM or nothing); see [`PhysMemory::set_shadow`].

use crate::addr::{PhysAddr, PAGE_SHIFT, PAGE_SIZE};
use crate::bus::{MmioDevice, Shared};
use crate::ram::GuestRam;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

/// How much of the BIOS ROM is visible below 1 MiB (at 0xE0000..0xFFFFF).
pub const BIOS_ALIAS_SIZE: u64 = 128 * 1024;
const FOUR_GIB: u64 = 1 << 32;
const LOW_HOLE: std::ops::Range<u64> = 0xA0000..0x100000;
/// The shadowable area and its granule.
const SHADOW: std::ops::Range<u64> = 0xC0000..0x100000;
const SHADOW_CHUNK_SHIFT: u32 = 14;

/// Host errors building the memory map.
#[derive(Debug, thiserror::Error)]
pub enum MemError {
    /// The host could not provide the memory.
    #[error("cannot allocate guest memory: {0}")]
    Host(#[from] std::io::Error),
    /// A ROM image of a size a PC cannot map.
    #[error("BIOS ROM must be a multiple of 64 KiB between 64 KiB and 16 MiB, not {0} bytes")]
    RomSize(usize),
    /// RAM size outside what a 32-bit PC can hold.
    #[error("RAM size must be between 1 MiB and 3 GiB, not {0} MiB")]
    RamSize(u64),
    /// Two MMIO regions overlap.
    #[error("MMIO region {0:#x}..{1:#x} overlaps another region")]
    Overlap(u64, u64),
}

/// What a physical address refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// RAM at this offset into [`GuestRam`].
    Ram(u64),
    /// The BIOS ROM at this offset.
    Rom(u64),
    /// An MMIO region: its index and the offset into it.
    Mmio(usize, u64),
    /// Nothing: reads return all ones, writes are dropped.
    Unmapped,
}

struct MmioRegion {
    start: u64,
    len: u64,
    dev: Shared<dyn MmioDevice>,
}

/// The guest's physical address space.
pub struct PhysMemory {
    ram: GuestRam,
    ram_size: u64,
    rom: Option<GuestRam>,
    rom_size: u64,
    mmio: Vec<MmioRegion>,
    /// Start address -> index into `mmio`.
    mmio_index: BTreeMap<u64, usize>,
    a20: Rc<Cell<bool>>,
    /// Which RAM pages hold code; shared with DMA handles.
    code: Rc<RefCell<CodeTracker>>,
    /// Shadow routing of 0xC0000..0x100000; shared with the chipset.
    shadow: ShadowControl,
    /// Bumped when MMIO regions are added (the shadow map has its own).
    generation: u64,
}

/// Bytes per code-tracking granule: a write to a page that holds code only
/// disturbs the code in the granules it touches, so data next to code (the
/// common case in BIOSes and DOS programs) does not throw away the page's
/// decoded blocks.
pub const CODE_GRANULE: u64 = 64;

/// Code bookkeeping for self-modifying code.
#[derive(Debug)]
struct CodeTracker {
    /// Per RAM page, one bit per 64-byte granule that decoded or translated
    /// code depends on.
    pages: Vec<u64>,
    /// (RAM page, granules) that held code and were written since the CPU
    /// last looked.
    written: Vec<(u64, u64)>,
    /// RAM pages that came to hold code since the translator last looked
    /// (it write-protects them in its window, whoever decoded the code).
    fresh: Vec<u64>,
}

/// The granules of a page covered by bytes `lo..=hi` (offsets in the page).
#[inline]
fn granules(lo: u64, hi: u64) -> u64 {
    let (a, b) = (lo / CODE_GRANULE, hi / CODE_GRANULE);
    let upper = if b >= 63 { u64::MAX } else { (1u64 << (b + 1)) - 1 };
    upper & !((1u64 << a) - 1)
}

impl CodeTracker {
    /// Note a write to RAM bytes `off..off+len`.
    #[inline]
    fn wrote(&mut self, off: u64, len: u64) {
        let end = off + len.max(1) - 1;
        for p in (off >> PAGE_SHIFT)..=(end >> PAGE_SHIFT) {
            let Some(bits) = self.pages.get_mut(p as usize) else {
                continue;
            };
            if *bits == 0 {
                continue;
            }
            let base = p << PAGE_SHIFT;
            let lo = off.max(base) - base;
            let hi = end.min(base + PAGE_SIZE - 1) - base;
            let hit = *bits & granules(lo, hi);
            if hit != 0 {
                *bits &= !hit;
                self.written.push((p, hit));
            }
        }
    }
}

/// The chipset's handle on shadow-RAM routing (PAM registers): per 16 KiB
/// chunk of 0xC0000..0x100000, whether reads and writes go to RAM. Cloning
/// shares it.
#[derive(Clone, Debug, Default)]
pub struct ShadowControl(Rc<ShadowInner>);

#[derive(Debug, Default)]
struct ShadowInner {
    chunks: [Cell<(bool, bool)>; 16],
    generation: Cell<u64>,
}

impl ShadowControl {
    /// Route the chunks overlapping `start..start+len`: reads from RAM
    /// (else the bus: ROM alias or open bus) and writes to RAM (else dropped).
    pub fn set(&self, start: PhysAddr, len: u64, read_ram: bool, write_ram: bool) {
        let end = start.0.saturating_add(len).min(SHADOW.end);
        let mut a = start.0.max(SHADOW.start) & !((1 << SHADOW_CHUNK_SHIFT) - 1);
        while a < end {
            let c = &self.0.chunks[((a - SHADOW.start) >> SHADOW_CHUNK_SHIFT) as usize];
            if c.get() != (read_ram, write_ram) {
                c.set((read_ram, write_ram));
                self.0.generation.set(self.0.generation.get() + 1);
            }
            a += 1 << SHADOW_CHUNK_SHIFT;
        }
    }

    /// (reads from RAM, writes to RAM) for the chunk holding `a`.
    #[inline]
    fn get(&self, a: u64) -> (bool, bool) {
        self.0.chunks[((a - SHADOW.start) >> SHADOW_CHUNK_SHIFT) as usize].get()
    }

    fn generation(&self) -> u64 {
        self.0.generation.get()
    }
}

/// A device's path to guest RAM for DMA (8237 transfers, fw_cfg DMA,
/// bus-master IDE). It sees RAM only — no ROM, no MMIO — and, unlike the
/// CPU, is not subject to the A20 gate. Writes to pages holding code are
/// reported to the CPU as self-modifying code. Cloning shares it.
#[derive(Clone, Debug)]
pub struct Dma {
    ram: GuestRam,
    ram_size: u64,
    code: Rc<RefCell<CodeTracker>>,
    shadow: ShadowControl,
}

impl Dma {
    fn ram_at(&self, a: u64, write: bool) -> bool {
        if a >= self.ram_size {
            return false;
        }
        if SHADOW.contains(&a) {
            let (r, w) = self.shadow.get(a);
            return if write { w } else { r };
        }
        !LOW_HOLE.contains(&a)
    }

    /// Read guest RAM at `addr`; bytes that are not RAM read as 0xFF.
    pub fn read(&self, addr: PhysAddr, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr.0 + i as u64;
            *b = if self.ram_at(a, false) {
                let mut one = [0u8];
                self.ram.read(a as usize, &mut one);
                one[0]
            } else {
                0xff
            };
        }
    }

    /// Write guest RAM at `addr`; bytes that are not RAM are dropped.
    pub fn write(&self, addr: PhysAddr, buf: &[u8]) {
        let all_ram = (0..buf.len() as u64).all(|i| self.ram_at(addr.0 + i, true));
        if all_ram && !buf.is_empty() {
            self.ram.write(addr.0 as usize, buf);
            self.code.borrow_mut().wrote(addr.0, buf.len() as u64);
            return;
        }
        for (i, b) in buf.iter().enumerate() {
            let a = addr.0 + i as u64;
            if self.ram_at(a, true) {
                self.ram.write(a as usize, &[*b]);
                self.code.borrow_mut().wrote(a, 1);
            }
        }
    }
}

impl fmt::Debug for PhysMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhysMemory")
            .field("ram_size", &self.ram_size)
            .field("rom_size", &self.rom_size)
            .field("mmio_regions", &self.mmio.len())
            .field("a20", &self.a20.get())
            .finish()
    }
}

impl PhysMemory {
    /// A map with `ram_mib` MiB of RAM and no ROM.
    ///
    /// # Errors
    /// The size is out of range or the host has no memory for it.
    pub fn new(ram_mib: u64) -> Result<Self, MemError> {
        if !(1..=3072).contains(&ram_mib) {
            return Err(MemError::RamSize(ram_mib));
        }
        let ram_size = ram_mib << 20;
        let ram = GuestRam::new("strachey-ram", usize::try_from(ram_size).unwrap_or(usize::MAX))?;
        Ok(Self {
            ram,
            ram_size,
            rom: None,
            rom_size: 0,
            mmio: Vec::new(),
            mmio_index: BTreeMap::new(),
            a20: Rc::new(Cell::new(true)),
            code: Rc::new(RefCell::new(CodeTracker {
                pages: vec![0; (ram_size >> PAGE_SHIFT) as usize],
                written: Vec::new(),
                fresh: Vec::new(),
            })),
            shadow: ShadowControl::default(),
            generation: 0,
        })
    }

    /// Map `image` as the BIOS ROM at the top of 4 GiB, with its last
    /// 128 KiB (or all of it, if smaller) aliased below 1 MiB.
    ///
    /// # Errors
    /// The image size is not a multiple of 64 KiB in 64 KiB..=16 MiB.
    pub fn load_bios(&mut self, image: &[u8]) -> Result<(), MemError> {
        let n = image.len();
        if n == 0 || !n.is_multiple_of(0x10000) || n > 16 << 20 {
            return Err(MemError::RomSize(n));
        }
        let rom = GuestRam::new("strachey-rom", n)?;
        rom.write(0, image);
        self.rom = Some(rom);
        self.rom_size = n as u64;
        Ok(())
    }

    /// Add an MMIO region of `len` bytes at `start`.
    ///
    /// # Errors
    /// It overlaps a region already added.
    pub fn add_mmio(
        &mut self,
        start: PhysAddr,
        len: u64,
        dev: Shared<dyn MmioDevice>,
    ) -> Result<(), MemError> {
        let (s, e) = (start.0, start.0 + len);
        let clash = self.mmio.iter().any(|r| s < r.start + r.len && r.start < e);
        if len == 0 || clash {
            return Err(MemError::Overlap(s, e));
        }
        self.mmio_index.insert(s, self.mmio.len());
        self.mmio.push(MmioRegion { start: s, len, dev });
        self.generation += 1;
        Ok(())
    }

    /// Remove the MMIO region that starts at `start` (a PCI BAR moved or
    /// was disabled), returning its device.
    pub fn remove_mmio(&mut self, start: PhysAddr) -> Option<Shared<dyn MmioDevice>> {
        let i = self.mmio.iter().position(|r| r.start == start.0)?;
        let r = self.mmio.remove(i);
        self.mmio_index = self.mmio.iter().enumerate().map(|(i, r)| (r.start, i)).collect();
        self.generation += 1;
        Some(r.dev)
    }

    /// Route the 16 KiB chunks of 0xC0000..0x100000 that overlap
    /// `start..start+len` (see [`ShadowControl::set`]).
    pub fn set_shadow(&mut self, start: PhysAddr, len: u64, read_ram: bool, write_ram: bool) {
        self.shadow.set(start, len, read_ram, write_ram);
    }

    /// The shadow-routing handle, for the chipset's PAM registers.
    pub fn shadow_control(&self) -> ShadowControl {
        self.shadow.clone()
    }

    /// A DMA path to guest RAM, for devices.
    pub fn dma(&self) -> Dma {
        Dma {
            ram: self.ram.clone(),
            ram_size: self.ram_size,
            code: self.code.clone(),
            shadow: self.shadow.clone(),
        }
    }

    /// Changes whenever the map changes; see the field of the same name.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation + self.shadow.generation()
    }

    /// RAM size in bytes.
    pub fn ram_size(&self) -> u64 {
        self.ram_size
    }

    /// The RAM block (for mapping it elsewhere, loading images, dumps).
    pub fn ram(&self) -> &GuestRam {
        &self.ram
    }

    /// The ROM block, if a BIOS was loaded.
    pub fn rom(&self) -> Option<&GuestRam> {
        self.rom.as_ref()
    }

    /// The A20 gate's shared line: devices (8042, port 0x92) set it.
    pub fn a20_line(&self) -> Rc<Cell<bool>> {
        self.a20.clone()
    }

    /// Whether address line 20 is enabled.
    pub fn a20_enabled(&self) -> bool {
        self.a20.get()
    }

    /// Apply the A20 gate to an address.
    #[inline]
    pub fn mask_a20(&self, addr: PhysAddr) -> PhysAddr {
        if self.a20.get() {
            addr
        } else {
            PhysAddr(addr.0 & !(1 << 20))
        }
    }

    /// What a read of `addr` (after the A20 gate) refers to.
    #[inline]
    pub fn region(&self, addr: PhysAddr) -> Region {
        self.region_for(addr, false)
    }

    /// What a read (`write` false) or write of `addr` refers to; they differ
    /// only in shadowed chunks of 0xC0000..0x100000.
    pub fn region_for(&self, addr: PhysAddr, write: bool) -> Region {
        let a = self.mask_a20(addr).0 & (FOUR_GIB - 1);
        if a < self.ram_size && !LOW_HOLE.contains(&a) {
            return Region::Ram(a);
        }
        if SHADOW.contains(&a) && a < self.ram_size {
            let (r, w) = self.shadow.get(a);
            if (write && w) || (!write && r) {
                return Region::Ram(a);
            }
        }
        if self.rom_size > 0 {
            if a >= FOUR_GIB - self.rom_size {
                return Region::Rom(a - (FOUR_GIB - self.rom_size));
            }
            let alias = BIOS_ALIAS_SIZE.min(self.rom_size);
            if (0x100000 - alias..0x100000).contains(&a) {
                return Region::Rom(self.rom_size - (0x100000 - a));
            }
        }
        if let Some((_, &i)) = self.mmio_index.range(..=a).next_back() {
            let r = &self.mmio[i];
            if a < r.start + r.len {
                return Region::Mmio(i, a - r.start);
            }
        }
        Region::Unmapped
    }

    /// Host pointer to the page containing `addr` if it is plain memory:
    /// `(pointer to the page start, writable)`. ROM pages are read-only;
    /// MMIO and holes have no pointer.
    pub fn host_page(&self, addr: PhysAddr) -> Option<(*mut u8, bool)> {
        let page = PhysAddr(addr.0 & !(PAGE_SIZE - 1));
        match self.region(page) {
            Region::Ram(off) => {
                let writable = self.region_for(page, true) == Region::Ram(off);
                Some((self.ram.host_ptr(off as usize), writable))
            }
            Region::Rom(off) => self.rom.as_ref().map(|r| (r.host_ptr(off as usize), false)),
            _ => None,
        }
    }

    /// Read `buf.len()` bytes at `addr`. Accesses may cross regions.
    pub fn read(&mut self, addr: PhysAddr, buf: &mut [u8]) {
        let single = self.same_region(addr, buf.len(), false);
        if !single {
            for (i, b) in buf.iter_mut().enumerate() {
                let mut one = [0u8];
                self.read(PhysAddr(addr.0 + i as u64), &mut one);
                *b = one[0];
            }
            return;
        }
        match self.region(addr) {
            Region::Ram(off) => self.ram.read(off as usize, buf),
            Region::Rom(off) => match &self.rom {
                Some(r) => r.read(off as usize, buf),
                None => buf.fill(0xff),
            },
            Region::Mmio(i, off) => self.mmio[i].dev.borrow_mut().read(off, buf),
            Region::Unmapped => buf.fill(0xff),
        }
    }

    /// Write `buf` at `addr`. ROM and holes drop writes; a write to a RAM
    /// page that holds code is recorded for the CPU (see
    /// [`PhysMemory::take_smc_pages`]).
    pub fn write(&mut self, addr: PhysAddr, buf: &[u8]) {
        if !self.same_region(addr, buf.len(), true) {
            for (i, b) in buf.iter().enumerate() {
                self.write(PhysAddr(addr.0 + i as u64), &[*b]);
            }
            return;
        }
        match self.region_for(addr, true) {
            Region::Ram(off) => {
                self.ram.write(off as usize, buf);
                self.code.borrow_mut().wrote(off, buf.len() as u64);
            }
            Region::Mmio(i, off) => self.mmio[i].dev.borrow_mut().write(off, buf),
            Region::Rom(_) | Region::Unmapped => {}
        }
    }

    fn same_region(&self, addr: PhysAddr, len: usize, write: bool) -> bool {
        if len <= 1 {
            return true;
        }
        let last = PhysAddr(addr.0 + len as u64 - 1);
        if addr.page() == last.page() && !matches!(self.region_for(addr, write), Region::Mmio(..)) {
            return true;
        }
        match (self.region_for(addr, write), self.region_for(last, write)) {
            (Region::Ram(a), Region::Ram(b)) | (Region::Rom(a), Region::Rom(b)) => b == a + len as u64 - 1,
            (Region::Mmio(i, a), Region::Mmio(j, b)) => i == j && b == a + len as u64 - 1,
            (Region::Unmapped, Region::Unmapped) => true,
            _ => false,
        }
    }

    /// Read a little-endian value of `N` bytes.
    pub fn read_le<const N: usize>(&mut self, addr: PhysAddr) -> [u8; N] {
        let mut b = [0u8; N];
        self.read(addr, &mut b);
        b
    }

    /// Note that code was decoded from the `len` bytes at `addr` (within one
    /// page). Returns true if the page held no code before (the caller must
    /// then drop any writable TLB entries to it).
    pub fn mark_code(&mut self, addr: PhysAddr, len: u64) -> bool {
        match self.region(addr) {
            Region::Ram(off) => {
                let mut code = self.code.borrow_mut();
                let page = off >> PAGE_SHIFT;
                let p = &mut code.pages[page as usize];
                let new = *p == 0;
                let lo = off & (PAGE_SIZE - 1);
                let hi = (lo + len.max(1) - 1).min(PAGE_SIZE - 1);
                *p |= granules(lo, hi);
                if new {
                    code.fresh.push(page);
                }
                new
            }
            _ => false,
        }
    }

    /// Whether the RAM page holding `addr` is marked as holding code.
    pub fn is_code(&self, addr: PhysAddr) -> bool {
        match self.region(addr) {
            Region::Ram(off) => self.code.borrow().pages[(off >> PAGE_SHIFT) as usize] != 0,
            _ => false,
        }
    }

    /// Whether a code page was written since the last [`Self::take_smc_pages`].
    #[inline]
    pub fn smc_pending(&self) -> bool {
        !self.code.borrow().written.is_empty()
    }

    /// Code that was written: (RAM page number, mask of the written
    /// granules of [`CODE_GRANULE`] bytes that held code).
    pub fn take_smc_pages(&mut self) -> Vec<(u64, u64)> {
        std::mem::take(&mut self.code.borrow_mut().written)
    }

    /// RAM page numbers that came to hold code (decoded by anyone) since
    /// the last call: stores that bypass this memory's write path (the
    /// translator's, through its own mapping) must fault on them.
    pub fn take_fresh_code_pages(&mut self) -> Vec<u64> {
        let mut code = self.code.borrow_mut();
        if code.fresh.is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut code.fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn pc_layout() {
        let mut m = PhysMemory::new(2).unwrap();
        let mut rom = vec![0u8; 0x20000];
        rom[0x1fff0] = 0xea; // reset vector
        rom[0] = 0x11;
        m.load_bios(&rom).unwrap();
        assert_eq!(m.read_le::<1>(PhysAddr(0xffff_fff0)), [0xea]);
        assert_eq!(m.read_le::<1>(PhysAddr(0xffff0)), [0xea]);
        assert_eq!(m.read_le::<1>(PhysAddr(0xe0000)), [0x11]);
        assert_eq!(m.region(PhysAddr(0xa0000)), Region::Unmapped);
        assert_eq!(m.region(PhysAddr(0x1fffff)), Region::Ram(0x1fffff));
        assert_eq!(m.region(PhysAddr(0x200000)), Region::Unmapped);
        m.write(PhysAddr(0xffff0), &[0]);
        assert_eq!(m.read_le::<1>(PhysAddr(0xffff0)), [0xea], "ROM ignores writes");
        assert!(m.load_bios(&[0; 1000]).is_err());
    }

    #[test]
    fn a20_wraps_bit_20() {
        let mut m = PhysMemory::new(4).unwrap();
        m.write(PhysAddr(0x100010), &[0x5a]);
        m.write(PhysAddr(0x10), &[0xa5]);
        m.a20_line().set(false);
        assert_eq!(m.read_le::<1>(PhysAddr(0x100010)), [0xa5]);
        m.a20_line().set(true);
        assert_eq!(m.read_le::<1>(PhysAddr(0x100010)), [0x5a]);
    }

    #[test]
    fn shadow_ram_routes_reads_and_writes_separately() {
        let mut m = PhysMemory::new(2).unwrap();
        let mut rom = vec![0x11u8; 0x20000];
        rom[0x1fff0] = 0xea;
        m.load_bios(&rom).unwrap();
        let g = m.generation();
        // Copy the BIOS into shadow RAM the way firmware does: reads from
        // ROM, writes to RAM; then read from RAM and write-protect.
        m.set_shadow(PhysAddr(0xf0000), 0x10000, false, true);
        assert_ne!(m.generation(), g);
        let v = m.read_le::<1>(PhysAddr(0xffff0));
        assert_eq!(v, [0xea]);
        m.write(PhysAddr(0xffff0), &[0x90]);
        assert_eq!(
            m.read_le::<1>(PhysAddr(0xffff0)),
            [0xea],
            "reads still come from ROM"
        );
        assert_eq!(m.host_page(PhysAddr(0xff000)).map(|p| p.1), Some(false));
        m.set_shadow(PhysAddr(0xf0000), 0x10000, true, false);
        assert_eq!(m.read_le::<1>(PhysAddr(0xffff0)), [0x90], "now from shadow RAM");
        m.write(PhysAddr(0xffff0), &[0x00]);
        assert_eq!(
            m.read_le::<1>(PhysAddr(0xffff0)),
            [0x90],
            "write-protected shadow"
        );
        assert_eq!(
            m.read_le::<1>(PhysAddr(0xc0000)),
            [0xff],
            "option ROM area is open bus"
        );
        m.set_shadow(PhysAddr(0xc0000), 0x4000, true, true);
        m.write(PhysAddr(0xc0000), &[0x55]);
        assert_eq!(m.read_le::<1>(PhysAddr(0xc0000)), [0x55]);
        assert_eq!(
            m.read_le::<1>(PhysAddr(0xc4000)),
            [0xff],
            "only the chunk asked for"
        );
    }

    #[test]
    fn dma_sees_ram_only_and_reports_code_writes() {
        let mut m = PhysMemory::new(2).unwrap();
        m.load_bios(&[0x11; 0x10000]).unwrap();
        let dma = m.dma();
        m.mark_code(PhysAddr(0x3000), 16);
        dma.write(PhysAddr(0x2ffe), &[1, 2, 3, 4]);
        assert_eq!(m.read_le::<4>(PhysAddr(0x2ffe)), [1, 2, 3, 4]);
        assert_eq!(m.take_smc_pages(), vec![(3, 1)]);
        dma.write(PhysAddr(0xffff0), &[9]);
        assert_eq!(m.read_le::<1>(PhysAddr(0xffff0)), [0x11], "not through to ROM");
        let mut b = [0u8; 2];
        dma.read(PhysAddr(0x1fffff), &mut b);
        assert_eq!(b, [0, 0xff], "past the end of RAM");
        m.a20_line().set(false);
        dma.write(PhysAddr(0x100000), &[7]);
        m.a20_line().set(true);
        assert_eq!(
            m.read_le::<1>(PhysAddr(0x100000)),
            [7],
            "DMA ignores the A20 gate"
        );
    }

    struct Reg(u32);
    impl MmioDevice for Reg {
        fn read(&mut self, off: u64, data: &mut [u8]) {
            let v = (self.0 as u64 + off).to_le_bytes();
            data.copy_from_slice(&v[..data.len()]);
        }
        fn write(&mut self, _off: u64, data: &[u8]) {
            self.0 = u32::from(data[0]);
        }
    }

    #[test]
    fn mmio_dispatch_and_smc() {
        let mut m = PhysMemory::new(2).unwrap();
        let dev: Shared<dyn MmioDevice> = Rc::new(RefCell::new(Reg(0x100)));
        m.add_mmio(PhysAddr(0xfee0_0000), 0x1000, dev.clone()).unwrap();
        assert!(m.add_mmio(PhysAddr(0xfee0_0800), 0x1000, dev.clone()).is_err());
        let g = m.generation();
        let other = m.remove_mmio(PhysAddr(0xfee0_0000)).unwrap();
        assert!(m.generation() > g);
        assert_eq!(m.region(PhysAddr(0xfee0_0004)), Region::Unmapped);
        assert!(m.remove_mmio(PhysAddr(0xfee0_0000)).is_none());
        m.add_mmio(PhysAddr(0xfee0_0000), 0x1000, other).unwrap();
        assert_eq!(u32::from_le_bytes(m.read_le(PhysAddr(0xfee0_0004))), 0x104);
        m.write(PhysAddr(0xfee0_0000), &[7]);
        assert_eq!(m.read_le::<1>(PhysAddr(0xfee0_0001)), [8]);

        assert!(m.mark_code(PhysAddr(0x1234), 10));
        assert!(!m.mark_code(PhysAddr(0x1fc0), 64));
        m.write(PhysAddr(0x2000), &[1]);
        assert!(!m.smc_pending());
        m.write(PhysAddr(0x1300), &[1]);
        assert!(!m.smc_pending(), "data next to code in the same page is not code");
        m.write(PhysAddr(0x1fff), &[1, 2]);
        assert_eq!(m.take_smc_pages(), vec![(1, 1 << 63)]);
        assert!(m.is_code(PhysAddr(0x1000)), "the code at 0x1234 is still there");
        m.write(PhysAddr(0x123c), &[0; 8]);
        assert_eq!(m.take_smc_pages(), vec![(1, 1 << 8)]);
        assert!(!m.is_code(PhysAddr(0x1000)));
    }
}
