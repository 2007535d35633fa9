//! Guest memory accesses: segmentation (SDM Vol. 3A, 5.3), then paging
//! through the software TLB, then physical memory.

use crate::fault::{Fault, Res};
use crate::state::{attr, cr0, flags, SegReg, Segment};
use crate::{Bus, Cpu};
use mem::{PhysAddr, Tlb, PAGE_MASK};

/// Kind of access, for permission checks and #PF error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Data read.
    Read,
    /// Data write (or the read half of a read-modify-write).
    Write,
    /// Instruction fetch.
    Exec,
}

impl Cpu {
    /// Whether accesses at the current privilege are user-mode accesses for
    /// paging. Implicit accesses to system structures (GDT, IDT, TSS) use
    /// the `*_sys` functions, which are always supervisor accesses.
    #[inline]
    pub(crate) fn user_mode(&self) -> bool {
        self.state.cpl == 3
    }

    /// Check an access of `len` bytes at `offset` in segment `s` and return
    /// its linear address (SDM Vol. 3A, 5.3 and 5.4).
    #[inline(always)]
    pub(crate) fn seg_lin(&self, s: SegReg, offset: u32, len: u32, acc: Access) -> Res<u32> {
        let seg = &self.state.segs[s as usize];
        // Fast path: a valid, expand-up data segment (writable, for writes)
        // and no alignment checking — what flat and real-mode code uses.
        // Anything else takes the full checks below.
        let (mask, want) = if acc == Access::Write {
            (attr::S | attr::CODE | attr::DC | attr::RW, attr::S | attr::RW)
        } else {
            (attr::S | attr::CODE | attr::DC, attr::S)
        };
        if seg.valid
            && seg.attr & mask == want
            && u64::from(offset) + u64::from(len) <= u64::from(seg.limit) + 1
            && self.state.eflags & flags::AC == 0
        {
            return Ok(seg.base.wrapping_add(offset));
        }
        self.seg_lin_slow(s, offset, len, acc)
    }

    #[inline(never)]
    fn seg_lin_slow(&self, s: SegReg, offset: u32, len: u32, acc: Access) -> Res<u32> {
        let seg = &self.state.segs[s as usize];
        let fault = if s == SegReg::Ss { Fault::SS0 } else { Fault::GP0 };
        if !seg.valid {
            return Err(fault);
        }
        if self.state.protected() && !self.state.v86() {
            let a = seg.attr;
            let ok = match acc {
                Access::Read => a & attr::CODE == 0 || a & attr::RW != 0,
                Access::Write => a & attr::CODE == 0 && a & attr::RW != 0,
                Access::Exec => true,
            };
            if !ok {
                return Err(fault);
            }
        }
        check_limit(seg, offset, len).ok_or(fault)?;
        if len > 1
            && self.state.cpl == 3
            && self.state.eflags & flags::AC != 0
            && self.state.cr0 & cr0::AM != 0
            && offset & (len.min(4) - 1) != 0
        {
            return Err(Fault {
                vector: crate::vector::AC,
                error: Some(0),
            });
        }
        Ok(seg.base.wrapping_add(offset))
    }

    /// Translate a linear address, walking the page tables on a TLB miss.
    pub(crate) fn translate(&mut self, bus: &mut Bus, lin: u32, acc: Access, user: bool) -> Res<PhysAddr> {
        let need = need_bits(acc, user);
        if let Some(p) = self.tlb.lookup(lin, need) {
            return Ok(p);
        }
        self.translate_slow(bus, lin, acc, user)
    }

    fn translate_slow(&mut self, bus: &mut Bus, lin: u32, acc: Access, user: bool) -> Res<PhysAddr> {
        if !self.state.paging() {
            self.tlb.fill(&bus.mem, lin, PhysAddr(u64::from(lin)), 0xf, false);
            return Ok(PhysAddr(u64::from(lin)));
        }
        let w = self.walk(bus, lin, acc, user)?;
        self.tlb.fill(&bus.mem, lin, w.phys, w.perms, w.global);
        Ok(PhysAddr(w.phys.0 | u64::from(lin) & PAGE_MASK))
    }

    /// Read `N` bytes at linear address `lin`.
    #[inline(always)]
    pub(crate) fn read_lin<const N: usize>(
        &mut self,
        bus: &mut Bus,
        lin: u32,
        acc: Access,
        user: bool,
    ) -> Res<[u8; N]> {
        if let Some(v) = self.tlb.read::<N>(lin, need_bits(acc, user)) {
            return Ok(v);
        }
        self.read_lin_slow(bus, lin, acc, user)
    }

    #[inline(never)]
    fn read_lin_slow<const N: usize>(
        &mut self,
        bus: &mut Bus,
        lin: u32,
        acc: Access,
        user: bool,
    ) -> Res<[u8; N]> {
        let mut out = [0u8; N];
        let first = PAGE_MASK as u32 + 1 - (lin & PAGE_MASK as u32);
        let p0 = self.translate(bus, lin, acc, user)?;
        if (N as u32) <= first {
            bus.mem.read(p0, &mut out);
        } else {
            let lin2 = lin.wrapping_add(first);
            let p1 = self.translate(bus, lin2, acc, user)?;
            let (a, b) = out.split_at_mut(first as usize);
            bus.mem.read(p0, a);
            bus.mem.read(p1, b);
        }
        Ok(out)
    }

    /// Write `N` bytes at linear address `lin`. Every page is translated
    /// (and may fault) before any byte is written.
    #[inline(always)]
    pub(crate) fn write_lin<const N: usize>(
        &mut self,
        bus: &mut Bus,
        lin: u32,
        v: [u8; N],
        user: bool,
    ) -> Res<()> {
        let need = if user { Tlb::USER_WRITE } else { Tlb::SUP_WRITE };
        if self.tlb.write::<N>(lin, need, v) {
            return Ok(());
        }
        self.write_lin_slow(bus, lin, v, user)
    }

    #[inline(never)]
    fn write_lin_slow<const N: usize>(&mut self, bus: &mut Bus, lin: u32, v: [u8; N], user: bool) -> Res<()> {
        let first = PAGE_MASK as u32 + 1 - (lin & PAGE_MASK as u32);
        let p0 = self.translate(bus, lin, Access::Write, user)?;
        if (N as u32) <= first {
            bus.mem.write(p0, &v);
        } else {
            let p1 = self.translate(bus, lin.wrapping_add(first), Access::Write, user)?;
            bus.mem.write(p0, &v[..first as usize]);
            bus.mem.write(p1, &v[first as usize..]);
        }
        if bus.mem.smc_pending() {
            self.handle_smc(bus);
        }
        Ok(())
    }

    /// Read through segment `s` at `offset`, at the current privilege.
    #[inline(always)]
    pub(crate) fn read_seg<const N: usize>(&mut self, bus: &mut Bus, s: SegReg, offset: u32) -> Res<[u8; N]> {
        let lin = self.seg_lin(s, offset, N as u32, Access::Read)?;
        let user = self.user_mode();
        self.read_lin(bus, lin, Access::Read, user)
    }

    /// Read for a later write (read-modify-write): checks write permission.
    #[inline(always)]
    pub(crate) fn read_seg_rmw<const N: usize>(
        &mut self,
        bus: &mut Bus,
        s: SegReg,
        offset: u32,
    ) -> Res<[u8; N]> {
        let lin = self.seg_lin(s, offset, N as u32, Access::Write)?;
        let user = self.user_mode();
        self.read_lin(bus, lin, Access::Write, user)
    }

    /// Write through segment `s` at `offset`, at the current privilege.
    #[inline(always)]
    pub(crate) fn write_seg<const N: usize>(
        &mut self,
        bus: &mut Bus,
        s: SegReg,
        offset: u32,
        v: [u8; N],
    ) -> Res<()> {
        let lin = self.seg_lin(s, offset, N as u32, Access::Write)?;
        let user = self.user_mode();
        self.write_lin(bus, lin, v, user)
    }

    /// Check that a write of `len` bytes would succeed (segment and paging)
    /// without performing it. Used by instructions that must not commit
    /// anything before all their accesses are known to succeed.
    pub(crate) fn probe_write(&mut self, bus: &mut Bus, s: SegReg, offset: u32, len: u32) -> Res<()> {
        let lin = self.seg_lin(s, offset, len, Access::Write)?;
        let user = self.user_mode();
        self.translate(bus, lin, Access::Write, user)?;
        let last = lin.wrapping_add(len - 1);
        if (last ^ lin) & !(PAGE_MASK as u32) != 0 {
            self.translate(bus, last, Access::Write, user)?;
        }
        Ok(())
    }

    /// Supervisor read of a system structure at linear address `lin`.
    pub(crate) fn read_sys<const N: usize>(&mut self, bus: &mut Bus, lin: u32) -> Res<[u8; N]> {
        self.read_lin(bus, lin, Access::Read, false)
    }

    /// Supervisor write of a system structure at linear address `lin`.
    pub(crate) fn write_sys<const N: usize>(&mut self, bus: &mut Bus, lin: u32, v: [u8; N]) -> Res<()> {
        self.write_lin(bus, lin, v, false)
    }

    /// 16-bit supervisor read.
    pub(crate) fn read_sys_u16(&mut self, bus: &mut Bus, lin: u32) -> Res<u16> {
        Ok(u16::from_le_bytes(self.read_sys(bus, lin)?))
    }

    /// 32-bit supervisor read.
    pub(crate) fn read_sys_u32(&mut self, bus: &mut Bus, lin: u32) -> Res<u32> {
        Ok(u32::from_le_bytes(self.read_sys(bus, lin)?))
    }
}

/// TLB permission bit needed for an access.
#[inline]
pub(crate) fn need_bits(acc: Access, user: bool) -> u8 {
    match (acc, user) {
        (Access::Read | Access::Exec, false) => Tlb::SUP_READ,
        (Access::Read | Access::Exec, true) => Tlb::USER_READ,
        (Access::Write, false) => Tlb::SUP_WRITE,
        (Access::Write, true) => Tlb::USER_WRITE,
    }
}

/// Whether bytes `offset ..= offset+len-1` lie inside the segment (expand-up
/// or expand-down, SDM Vol. 3A, 5.3).
#[inline(always)]
pub(crate) fn check_limit(seg: &Segment, offset: u32, len: u32) -> Option<()> {
    let last = u64::from(offset) + u64::from(len) - 1;
    let expand_down = seg.attr & (attr::CODE | attr::DC) == attr::DC && seg.attr & attr::S != 0;
    if expand_down {
        let upper: u64 = if seg.big() { 0xffff_ffff } else { 0xffff };
        (offset > seg.limit && last <= upper).then_some(())
    } else {
        (last <= u64::from(seg.limit)).then_some(())
    }
}
