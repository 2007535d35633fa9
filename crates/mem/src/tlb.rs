//! The interpreter's software TLB.
//!
//! Direct-mapped: linear page `p` lives in slot `p % TLB_SIZE`. An entry
//! holds the host address of the page and one permission bit per kind of
//! access (supervisor/user x read/write), so a CPL change needs no flush.
//! Pages that are not plain memory (MMIO, holes) never get an entry; RAM
//! pages that hold code get no write permission, so every write to them
//! takes the slow path, where self-modifying code is caught.

use crate::addr::{PhysAddr, PAGE_MASK, PAGE_SHIFT};
use crate::phys::PhysMemory;
use crate::ram::GuestRam;

/// Number of TLB slots.
pub const TLB_SIZE: usize = 1024;

/// One TLB slot.
#[derive(Clone, Copy, Debug)]
pub struct TlbEntry {
    /// Linear page number + 1 (0 = empty).
    tag: u32,
    /// Permission bits (`Tlb::SUP_READ` ...).
    perms: u8,
    /// Survives CR3 reloads (PTE.G with CR4.PGE).
    global: bool,
    /// Host address of the page start.
    host: *mut u8,
    /// Physical address of the page start.
    phys: u64,
}

impl Default for TlbEntry {
    fn default() -> Self {
        Self {
            tag: 0,
            perms: 0,
            global: false,
            host: std::ptr::null_mut(),
            phys: 0,
        }
    }
}

/// The software TLB. See the module documentation.
#[derive(Debug)]
pub struct Tlb {
    entries: Box<[TlbEntry; TLB_SIZE]>,
    /// Clones of the memory blocks our host pointers point into, so that the
    /// pointers stay valid as long as the TLB lives.
    keep: Vec<GuestRam>,
}

impl Default for Tlb {
    fn default() -> Self {
        Self::new()
    }
}

impl Tlb {
    /// Supervisor read (and instruction fetch).
    pub const SUP_READ: u8 = 1;
    /// Supervisor write.
    pub const SUP_WRITE: u8 = 2;
    /// User read (and instruction fetch).
    pub const USER_READ: u8 = 4;
    /// User write.
    pub const USER_WRITE: u8 = 8;

    /// An empty TLB.
    pub fn new() -> Self {
        Self {
            entries: Box::new([TlbEntry::default(); TLB_SIZE]),
            keep: Vec::new(),
        }
    }

    #[inline(always)]
    fn slot(lin: u32) -> usize {
        (lin >> PAGE_SHIFT) as usize % TLB_SIZE
    }

    /// Drop every entry.
    pub fn flush_all(&mut self) {
        self.entries.fill(TlbEntry::default());
    }

    /// Drop every entry not marked global (a CR3 load).
    pub fn flush_non_global(&mut self) {
        for e in self.entries.iter_mut().filter(|e| !e.global) {
            *e = TlbEntry::default();
        }
    }

    /// Drop the entry for the page holding `lin` (INVLPG).
    pub fn flush_page(&mut self, lin: u32) {
        let e = &mut self.entries[Self::slot(lin)];
        if e.tag == (lin >> PAGE_SHIFT) + 1 {
            *e = TlbEntry::default();
        }
    }

    /// Remove write permission from every entry for physical page `phys`
    /// (it now holds code).
    pub fn write_protect_phys(&mut self, phys: PhysAddr) {
        let p = phys.0 & !PAGE_MASK;
        for e in self.entries.iter_mut().filter(|e| e.tag != 0 && e.phys == p) {
            e.perms &= !(Self::SUP_WRITE | Self::USER_WRITE);
        }
    }

    /// Enter a translation: linear page of `lin` -> physical page of `phys`,
    /// with `perms`. Pages that are not plain memory are not entered; ROM is
    /// entered read-only, and code pages without write permission.
    pub fn fill(&mut self, mem: &PhysMemory, lin: u32, phys: PhysAddr, mut perms: u8, global: bool) {
        let phys = mem.mask_a20(PhysAddr(phys.0 & !PAGE_MASK));
        let Some((host, writable)) = mem.host_page(phys) else {
            return;
        };
        if !writable || mem.is_code(phys) {
            perms &= !(Self::SUP_WRITE | Self::USER_WRITE);
        }
        for block in [Some(mem.ram()), mem.rom()].into_iter().flatten() {
            if !self.keep.iter().any(|k| k.host_ptr(0) == block.host_ptr(0)) {
                self.keep.push(block.clone());
            }
        }
        self.entries[Self::slot(lin)] = TlbEntry {
            tag: (lin >> PAGE_SHIFT) + 1,
            perms,
            global,
            host,
            phys: phys.0,
        };
    }

    /// Physical address for `lin` if the TLB holds it with permission `need`.
    #[inline(always)]
    pub fn lookup(&self, lin: u32, need: u8) -> Option<PhysAddr> {
        let e = &self.entries[Self::slot(lin)];
        (e.tag == (lin >> PAGE_SHIFT) + 1 && e.perms & need != 0)
            .then(|| PhysAddr(e.phys | u64::from(lin) & PAGE_MASK))
    }

    #[inline(always)]
    fn hit(&self, lin: u32, len: usize, need: u8) -> Option<*mut u8> {
        let off = (lin as usize) & PAGE_MASK as usize;
        if off + len > 1 << PAGE_SHIFT {
            return None;
        }
        let e = &self.entries[Self::slot(lin)];
        if e.tag == (lin >> PAGE_SHIFT) + 1 && e.perms & need != 0 {
            // SAFETY: `host` points at the start of a 4 KiB page of a block
            // kept alive by `self.keep`, and `off + len <= 4096`.
            Some(unsafe { e.host.add(off) })
        } else {
            None
        }
    }

    /// Read `N` bytes at `lin` if the whole access hits with `need`.
    #[inline(always)]
    pub fn read<const N: usize>(&self, lin: u32, need: u8) -> Option<[u8; N]> {
        let p = self.hit(lin, N, need)?;
        // SAFETY: `hit` returned a pointer to N valid bytes of guest memory;
        // guest memory is only ever accessed through raw unaligned copies.
        Some(unsafe { p.cast::<[u8; N]>().read_unaligned() })
    }

    /// Write `N` bytes at `lin` if the whole access hits with `need`.
    /// Returns false on a miss (nothing written).
    #[inline(always)]
    pub fn write<const N: usize>(&self, lin: u32, need: u8, bytes: [u8; N]) -> bool {
        match self.hit(lin, N, need) {
            Some(p) => {
                // SAFETY: as in `read`; the entry has write permission, so
                // the page is RAM and not a code page.
                unsafe { p.cast::<[u8; N]>().write_unaligned(bytes) };
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_misses_and_permissions() {
        let mut mem = PhysMemory::new(2).unwrap();
        let mut tlb = Tlb::new();
        assert_eq!(tlb.read::<4>(0x40001000, Tlb::SUP_READ), None);
        tlb.fill(
            &mem,
            0x40001000,
            PhysAddr(0x5000),
            Tlb::SUP_READ | Tlb::SUP_WRITE,
            false,
        );
        assert!(tlb.write(0x40001ffc, Tlb::SUP_WRITE, 0xdeadbeefu32.to_le_bytes()));
        assert_eq!(mem.read_le::<4>(PhysAddr(0x5ffc)), 0xdeadbeefu32.to_le_bytes());
        assert_eq!(tlb.read::<4>(0x40001ffe, Tlb::SUP_READ), None, "crosses the page");
        assert_eq!(
            tlb.read::<4>(0x40001ffc, Tlb::USER_READ),
            None,
            "no user permission"
        );
        assert_eq!(tlb.lookup(0x40001234, Tlb::SUP_READ), Some(PhysAddr(0x5234)));
        tlb.flush_page(0x40001000);
        assert_eq!(tlb.read::<1>(0x40001000, Tlb::SUP_READ), None);

        mem.mark_code(PhysAddr(0x6000), 1);
        tlb.fill(&mem, 0x6000, PhysAddr(0x6000), 0xf, true);
        assert!(
            !tlb.write(0x6000, Tlb::SUP_WRITE, [1]),
            "code pages are not writable through the TLB"
        );
        tlb.flush_non_global();
        assert!(
            tlb.read::<1>(0x6000, Tlb::USER_READ).is_some(),
            "global entries survive"
        );
        tlb.fill(&mem, 0xa0000, PhysAddr(0xa0000), 0xf, false);
        assert!(
            tlb.read::<1>(0xa0000, Tlb::SUP_READ).is_none(),
            "holes are never entered"
        );
    }
}
