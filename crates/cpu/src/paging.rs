//! Two-level 32-bit paging with 4 KiB and 4 MiB pages (SDM Vol. 3A, 4.3).

use crate::access::Access;
use crate::fault::{Fault, Res};
use crate::state::{cr0, cr4};
use crate::{Bus, Cpu};
use mem::{PhysAddr, Tlb};

const P: u32 = 1 << 0;
const RW: u32 = 1 << 1;
const US: u32 = 1 << 2;
const A: u32 = 1 << 5;
const D: u32 = 1 << 6;
const PS: u32 = 1 << 7;
const G: u32 = 1 << 8;

/// #PF error code bits (SDM Vol. 3A, 4.7).
pub mod pf {
    /// The fault was a protection violation (else: page not present).
    pub const P: u32 = 1;
    /// The access was a write.
    pub const W: u32 = 2;
    /// The access was a user-mode access.
    pub const U: u32 = 4;
}

/// Result of a successful walk.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Walk {
    /// Physical address of the 4 KiB frame holding the address.
    pub phys: PhysAddr,
    /// TLB permission bits.
    pub perms: u8,
    /// Global page.
    pub global: bool,
}

impl Cpu {
    /// Walk the guest page tables for `lin`, setting accessed and dirty bits,
    /// or raise #PF (writing CR2).
    pub(crate) fn walk(&mut self, bus: &mut Bus, lin: u32, acc: Access, user: bool) -> Res<Walk> {
        let write = acc == Access::Write;
        let mut code = if write { pf::W } else { 0 } | if user { pf::U } else { 0 };
        let pde_addr = PhysAddr(u64::from(self.state.cr3 & 0xffff_f000) | u64::from(lin >> 22) << 2);
        let pde = u32::from_le_bytes(bus.mem.read_le(pde_addr));
        if pde & P == 0 {
            return Err(self.page_fault(lin, code));
        }
        let big = pde & PS != 0 && self.state.cr4 & cr4::PSE != 0;
        let (entry, entry_addr, frame, flags) = if big {
            let frame = u64::from(pde & 0xffc0_0000) | u64::from(lin & 0x003f_f000);
            (pde, pde_addr, frame, pde)
        } else {
            let pte_addr = PhysAddr(u64::from(pde & 0xffff_f000) | u64::from((lin >> 12) & 0x3ff) << 2);
            let pte = u32::from_le_bytes(bus.mem.read_le(pte_addr));
            if pte & P == 0 {
                return Err(self.page_fault(lin, code));
            }
            // Combined permissions: both levels must allow (SDM Vol. 3A, 4.6).
            (
                pte,
                pte_addr,
                u64::from(pte & 0xffff_f000),
                pte & (pde | !(RW | US)),
            )
        };
        code |= pf::P;
        let wp = self.state.cr0 & cr0::WP != 0;
        if user && flags & US == 0 {
            return Err(self.page_fault(lin, code));
        }
        if write && flags & RW == 0 && (user || wp) {
            return Err(self.page_fault(lin, code));
        }
        // Accessed bits on the way down; dirty on the leaf for writes.
        if !big && pde & A == 0 {
            bus.mem.write(pde_addr, &(pde | A).to_le_bytes());
        }
        let mut leaf = entry | A;
        if write {
            leaf |= D;
        }
        if leaf != entry {
            bus.mem.write(entry_addr, &leaf.to_le_bytes());
            if bus.mem.smc_pending() {
                self.handle_smc(bus);
            }
        }
        // Write permission is only entered once the dirty bit is set, so the
        // first write to a clean page comes back here and sets it.
        let mut perms = Tlb::SUP_READ;
        let dirty = leaf & D != 0;
        if dirty && (flags & RW != 0 || !wp) {
            perms |= Tlb::SUP_WRITE;
        }
        if flags & US != 0 {
            perms |= Tlb::USER_READ;
            if dirty && flags & RW != 0 {
                perms |= Tlb::USER_WRITE;
            }
        }
        let global = leaf & G != 0 && self.state.cr4 & cr4::PGE != 0;
        Ok(Walk {
            phys: PhysAddr(frame),
            perms,
            global,
        })
    }

    /// Record a page fault: CR2 gets the linear address.
    pub(crate) fn page_fault(&mut self, lin: u32, code: u32) -> Fault {
        self.state.cr2 = lin;
        Fault::pf(code)
    }
}
