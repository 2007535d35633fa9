//! Segment and gate descriptors (SDM Vol. 3A, 3.4.5 "Segment Descriptors",
//! 3.5 "System Descriptor Types", 5.8.3 "Call Gates", 6.11 "IDT
//! Descriptors", 7.2.2 "TSS Descriptor") and the descriptor-table lookups
//! every protected-mode transfer starts with.

use crate::fault::{Fault, Res};
use crate::state::{attr, Segment};
use crate::{Bus, Cpu};

/// System descriptor types (S = 0), SDM Vol. 3A, 3.5, table 3-2.
pub(crate) mod sys {
    /// 16-bit TSS, available.
    pub const TSS16_AVAIL: u8 = 0x1;
    /// LDT.
    pub const LDT: u8 = 0x2;
    /// 16-bit TSS, busy.
    pub const TSS16_BUSY: u8 = 0x3;
    /// 16-bit call gate.
    pub const CALL16: u8 = 0x4;
    /// Task gate.
    pub const TASK: u8 = 0x5;
    /// 16-bit interrupt gate.
    pub const INT16: u8 = 0x6;
    /// 16-bit trap gate.
    pub const TRAP16: u8 = 0x7;
    /// 32-bit TSS, available.
    pub const TSS32_AVAIL: u8 = 0x9;
    /// 32-bit TSS, busy.
    pub const TSS32_BUSY: u8 = 0xb;
    /// 32-bit call gate.
    pub const CALL32: u8 = 0xc;
    /// 32-bit interrupt gate.
    pub const INT32: u8 = 0xe;
    /// 32-bit trap gate.
    pub const TRAP32: u8 = 0xf;
    /// The busy bit of a TSS type (bit 1).
    pub const BUSY: u8 = 0x2;
}

/// One raw 8-byte descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Desc(pub u64);

impl Desc {
    /// Low dword.
    pub fn lo(self) -> u32 {
        self.0 as u32
    }
    /// High dword.
    pub fn hi(self) -> u32 {
        (self.0 >> 32) as u32
    }
    /// Type field (4 bits).
    pub fn typ(self) -> u8 {
        ((self.hi() >> 8) & 0xf) as u8
    }
    /// S bit: code/data (true) or system (false).
    pub fn s(self) -> bool {
        self.hi() & (1 << 12) != 0
    }
    /// Descriptor privilege level.
    pub fn dpl(self) -> u8 {
        ((self.hi() >> 13) & 3) as u8
    }
    /// Present bit.
    pub fn present(self) -> bool {
        self.hi() & (1 << 15) != 0
    }
    /// A code segment (S = 1, type bit 3).
    pub fn is_code(self) -> bool {
        self.s() && self.typ() & 8 != 0
    }
    /// A data segment (S = 1, type bit 3 clear).
    pub fn is_data(self) -> bool {
        self.s() && self.typ() & 8 == 0
    }
    /// A conforming code segment.
    pub fn conforming(self) -> bool {
        self.is_code() && self.typ() & 4 != 0
    }
    /// Readable code or any data segment.
    pub fn readable(self) -> bool {
        self.is_data() || self.is_code() && self.typ() & 2 != 0
    }
    /// Writable data segment.
    pub fn writable(self) -> bool {
        self.is_data() && self.typ() & 2 != 0
    }
    /// A system descriptor of type `t`.
    pub fn is_sys(self, t: u8) -> bool {
        !self.s() && self.typ() == t
    }
    /// Segment base (bits 16-39 and 56-63).
    pub fn base(self) -> u32 {
        (self.lo() >> 16) | (self.hi() & 0xff) << 16 | (self.hi() & 0xff00_0000)
    }
    /// Segment limit in bytes, expanded by the G bit (SDM Vol. 3A, 3.4.5).
    pub fn limit(self) -> u32 {
        let raw = (self.lo() & 0xffff) | (self.hi() & 0x000f_0000);
        if self.hi() & (1 << 23) != 0 {
            raw << 12 | 0xfff
        } else {
            raw
        }
    }
    /// Access rights in the VMX layout of [`Segment::attr`]: descriptor
    /// bits 40-47 and 52-55.
    pub fn attr(self) -> u16 {
        (((self.hi() >> 8) & 0xff) | ((self.hi() >> 8) & 0xf000)) as u16
    }
    /// The hidden descriptor cache this descriptor loads for `selector`.
    pub fn segment(self, selector: u16) -> Segment {
        Segment {
            selector,
            attr: self.attr(),
            base: self.base(),
            limit: self.limit(),
            valid: true,
        }
    }
    /// Gate: target selector (bits 16-31).
    pub fn gate_selector(self) -> u16 {
        (self.lo() >> 16) as u16
    }
    /// Gate: target offset (bits 0-15 and 48-63; 16-bit gates use the low
    /// half only).
    pub fn gate_offset(self) -> u32 {
        let o = (self.lo() & 0xffff) | (self.hi() & 0xffff_0000);
        if self.typ() & 8 != 0 {
            o
        } else {
            o & 0xffff
        }
    }
    /// Call gate: parameter count (bits 32-36).
    pub fn gate_params(self) -> u32 {
        self.hi() & 0x1f
    }
    /// A 32-bit gate or TSS (type bit 3 of a system descriptor).
    pub fn sys32(self) -> bool {
        self.typ() & 8 != 0
    }
}

/// A selector's RPL.
pub(crate) fn rpl(sel: u16) -> u8 {
    (sel & 3) as u8
}

/// A null selector (index 0 in the GDT, any RPL).
pub(crate) fn is_null(sel: u16) -> bool {
    sel & 0xfffc == 0
}

impl Cpu {
    /// Linear address of the descriptor for `sel` in the GDT or LDT, or
    /// `fault(sel)` if it lies outside the table (SDM Vol. 3A, 3.4.2: the
    /// whole 8-byte entry must be within the limit). `ext` is the EXT bit of
    /// the error code.
    pub(crate) fn desc_addr(&self, sel: u16, vector: u8, ext: u32) -> Res<u32> {
        let (base, limit) = if sel & 4 != 0 {
            let l = &self.state.ldtr;
            if !l.valid || is_null(l.selector) {
                return Err(fault_sel(vector, sel, ext));
            }
            (l.base, l.limit)
        } else {
            (self.state.gdtr.base, self.state.gdtr.limit)
        };
        let off = u32::from(sel & 0xfff8);
        if off + 7 > limit {
            return Err(fault_sel(vector, sel, ext));
        }
        Ok(base.wrapping_add(off))
    }

    /// Read the descriptor for `sel` (`fault(sel + ext)` if outside its
    /// table); returns it with its linear address.
    pub(crate) fn fetch_desc(&mut self, bus: &mut Bus, sel: u16, vector: u8, ext: u32) -> Res<(Desc, u32)> {
        let a = self.desc_addr(sel, vector, ext)?;
        let lo = self.read_sys_u32(bus, a)?;
        let hi = self.read_sys_u32(bus, a.wrapping_add(4))?;
        Ok((Desc(u64::from(hi) << 32 | u64::from(lo)), a))
    }

    /// Set the accessed bit of a code/data descriptor in memory, as every
    /// segment-register load does (SDM Vol. 3A, 3.4.5.1).
    pub(crate) fn set_accessed(&mut self, bus: &mut Bus, d: Desc, addr: u32) -> Res<()> {
        if d.s() && d.typ() & 1 == 0 {
            let b = ((d.hi() >> 8) as u8) | 1;
            self.write_sys(bus, addr.wrapping_add(5), [b])?;
        }
        Ok(())
    }

    /// Rewrite the type byte of a system descriptor (TSS busy bit).
    pub(crate) fn set_desc_type(&mut self, bus: &mut Bus, d: Desc, addr: u32, typ: u8) -> Res<()> {
        let b = ((d.hi() >> 8) as u8 & 0xf0) | (typ & 0xf);
        self.write_sys(bus, addr.wrapping_add(5), [b])
    }
}

/// `vector` with the error code of a selector plus the EXT bit.
pub(crate) fn fault_sel(vector: u8, sel: u16, ext: u32) -> Fault {
    Fault {
        vector,
        error: Some(u32::from(sel & 0xfffc) | ext),
    }
}

/// A null segment as loaded into DS/ES/FS/GS in protected mode: any access
/// through it raises #GP(0) (SDM Vol. 3A, 3.4.2).
pub(crate) fn null_segment(selector: u16) -> Segment {
    Segment {
        selector,
        attr: 0,
        base: 0,
        limit: 0,
        valid: false,
    }
}

/// The flat 4 GiB segments SYSENTER/SYSEXIT load (SDM Vol. 2, SYSENTER).
pub(crate) fn flat_segment(selector: u16, code: bool, dpl: u8) -> Segment {
    let ty = if code { attr::CODE_RX } else { attr::DATA_RW };
    Segment {
        selector,
        attr: ty | attr::DB | attr::G | u16::from(dpl) << 5,
        base: 0,
        limit: 0xffff_ffff,
        valid: true,
    }
}

/// A small protected-mode machine for the unit tests of the system half:
/// a GDT at 0x1000, an IDT at 0x2000, a 32-bit TSS at 0x3000 (TR = 0x28,
/// ring-0 stack 0x10:0x9000), flat ring-0 and ring-3 segments, CPL 0.
#[cfg(test)]
pub(crate) mod testenv {
    use crate::state::{flags, SegReg};
    use crate::{Bus, Cpu, Res};
    use mem::{PhysAddr, PhysMemory};

    /// GDT base.
    pub const GDT: u32 = 0x1000;
    /// IDT base.
    pub const IDT: u32 = 0x2000;
    /// First TSS base (selector 0x28).
    pub const TSS: u32 = 0x3000;
    /// Second TSS base (selector 0x30).
    pub const TSS2: u32 = 0x3100;
    /// Where tests put code.
    pub const CODE: u32 = 0x5000;

    /// Ring-0 flat 32-bit code.
    pub const CODE0: u64 = 0x00cf_9a00_0000_ffff;
    /// Ring-0 flat data.
    pub const DATA0: u64 = 0x00cf_9200_0000_ffff;
    /// Ring-3 flat 32-bit code.
    pub const CODE3: u64 = 0x00cf_fa00_0000_ffff;
    /// Ring-3 flat data.
    pub const DATA3: u64 = 0x00cf_f200_0000_ffff;

    /// A segment descriptor: `access` is byte 5 (P, DPL, S, type), `fl` the
    /// G/D nibble.
    pub fn seg(base: u32, limit: u32, access: u8, fl: u8) -> u64 {
        let (b, l) = (u64::from(base), u64::from(limit));
        (l & 0xffff)
            | (b & 0xff_ffff) << 16
            | u64::from(access) << 40
            | (l >> 16 & 0xf) << 48
            | u64::from(fl & 0xf) << 52
            | (b >> 24) << 56
    }

    /// A gate descriptor of type `typ` with DPL `dpl` (present).
    pub fn gate(sel: u16, off: u32, typ: u8, dpl: u8, params: u8) -> u64 {
        let o = u64::from(off);
        (o & 0xffff)
            | u64::from(sel) << 16
            | u64::from(params & 0x1f) << 32
            | u64::from(0x80 | dpl << 5 | typ) << 40
            | (o >> 16) << 48
    }

    /// The machine.
    pub struct Env {
        pub cpu: Cpu,
        pub bus: Bus,
    }

    impl Env {
        pub fn new() -> Env {
            let mut e = Env {
                cpu: Cpu::new(),
                bus: Bus::new(PhysMemory::new(2).unwrap()),
            };
            e.set_gdt(0x08, CODE0);
            e.set_gdt(0x10, DATA0);
            e.set_gdt(0x18, CODE3);
            e.set_gdt(0x20, DATA3);
            e.set_gdt(0x28, seg(TSS, 0x67, 0x8b, 0)); // busy: it is TR
            e.set_gdt(0x30, seg(TSS2, 0x67, 0x89, 0));
            e.w32(TSS + 4, 0x9000); // ESP0
            e.w32(TSS + 8, 0x10); // SS0
            let s = &mut e.cpu.state;
            s.gdtr = crate::TableReg {
                base: GDT,
                limit: 0xff,
            };
            s.idtr = crate::TableReg {
                base: IDT,
                limit: 0x7ff,
            };
            s.cr0 |= crate::cr0::PE;
            s.eflags = flags::FIXED1;
            s.ldtr = super::null_segment(0);
            let mut tr = super::Desc(seg(TSS, 0x67, 0x8b, 0)).segment(0x28);
            tr.valid = true;
            s.tr = tr;
            e.load_flat(0);
            e.cpu.state.regs[crate::reg::ESP] = 0x8000;
            e
        }

        /// Flat segments at `cpl` (selectors 0x08/0x10 or 0x1b/0x23).
        pub fn load_flat(&mut self, cpl: u8) {
            let (c, d, cs, ds) = if cpl == 0 {
                (CODE0, DATA0, 0x08, 0x10)
            } else {
                (CODE3, DATA3, 0x1b, 0x23)
            };
            for r in SegReg::ALL {
                let (desc, sel) = if r == SegReg::Cs { (c, cs) } else { (d, ds) };
                self.cpu.state.segs[r as usize] = super::Desc(desc).segment(sel);
            }
            self.cpu.state.cpl = cpl;
        }

        pub fn set_gdt(&mut self, sel: u16, d: u64) {
            self.w64(GDT + u32::from(sel & 0xfff8), d);
        }
        pub fn set_idt(&mut self, v: u8, d: u64) {
            self.w64(IDT + u32::from(v) * 8, d);
        }
        pub fn w64(&mut self, a: u32, v: u64) {
            self.bus.mem.write(PhysAddr(u64::from(a)), &v.to_le_bytes());
        }
        pub fn w32(&mut self, a: u32, v: u32) {
            self.bus.mem.write(PhysAddr(u64::from(a)), &v.to_le_bytes());
        }
        pub fn w16(&mut self, a: u32, v: u16) {
            self.bus.mem.write(PhysAddr(u64::from(a)), &v.to_le_bytes());
        }
        pub fn r32(&mut self, a: u32) -> u32 {
            let mut b = [0u8; 4];
            self.bus.mem.read(PhysAddr(u64::from(a)), &mut b);
            u32::from_le_bytes(b)
        }
        pub fn r8(&mut self, a: u32) -> u8 {
            let mut b = [0u8; 1];
            self.bus.mem.read(PhysAddr(u64::from(a)), &mut b);
            b[0]
        }
        /// Put `code` at CODE and point EIP at it.
        pub fn code(&mut self, code: &[u8]) {
            self.bus.mem.write(PhysAddr(u64::from(CODE)), code);
            self.bus.mem.take_smc_pages();
            self.cpu.cache.clear();
            self.cpu.state.eip = CODE;
        }
        /// Execute one instruction.
        pub fn step(&mut self) -> Res<()> {
            self.cpu.step(&mut self.bus)
        }
        pub fn esp(&self) -> u32 {
            self.cpu.state.regs[crate::reg::ESP]
        }
        pub fn sel(&self, s: SegReg) -> u16 {
            self.cpu.state.seg(s).selector
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_code_descriptor_decodes() {
        // 0x00cf9a000000ffff: base 0, limit 4 GiB, 32-bit ring-0 code.
        let d = Desc(0x00cf_9a00_0000_ffff);
        assert!(d.is_code() && d.readable() && !d.conforming() && d.present());
        assert_eq!(d.base(), 0);
        assert_eq!(d.limit(), 0xffff_ffff);
        assert_eq!(
            d.attr(),
            attr::P | attr::S | attr::CODE | attr::RW | attr::DB | attr::G
        );
        let g = Desc(0x1234_ee00_0008_5678);
        assert_eq!(g.gate_selector(), 8);
        assert_eq!(g.gate_offset(), 0x1234_5678);
        assert!(g.is_sys(sys::INT32) && g.dpl() == 3);
    }
}
