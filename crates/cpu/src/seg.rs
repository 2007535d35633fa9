//! Segment register loads (SDM Vol. 3A, 3.4.3 and 5.4-5.8).

use crate::desc::{fault_sel, is_null, null_segment, rpl, Desc};
use crate::fault::{vector, Fault, Res};
use crate::state::{attr, SegReg, Segment};
use crate::{Bus, Cpu};
use iced_x86::Register;

impl Cpu {
    /// Load a data or stack segment register (`MOV Sreg`, `POP Sreg`,
    /// `LDS`...): real-mode and virtual-8086 semantics here, protected mode
    /// with every check in `load_seg_protected`.
    pub(crate) fn load_seg(&mut self, bus: &mut Bus, s: SegReg, sel: u16) -> Res<()> {
        if self.state.real() {
            // Real mode changes only selector and base; limit and access
            // rights stay as they were ("unreal mode" relies on that).
            let seg = &mut self.state.segs[s as usize];
            seg.selector = sel;
            seg.base = u32::from(sel) << 4;
            seg.valid = true;
            return Ok(());
        }
        if self.state.v86() {
            let dpl3 = 3 << 5;
            let a = if s == SegReg::Cs {
                attr::CODE_RX
            } else {
                attr::DATA_RW
            };
            self.state.segs[s as usize] = Segment::real(sel, 0xffff, a | dpl3);
            return Ok(());
        }
        self.load_seg_protected(bus, s, sel)
    }

    /// `MOV Sreg, r/m16` and `POP Sreg`: CS cannot be the destination; a
    /// load of SS inhibits interrupts for one instruction.
    pub(crate) fn mov_to_seg(&mut self, bus: &mut Bus, r: Register, sel: u16) -> Res<()> {
        let s = super::interp::ops::seg_of(r);
        if s == SegReg::Cs {
            return Err(Fault::UD);
        }
        self.load_seg(bus, s, sel)?;
        if s == SegReg::Ss {
            self.state.intr_shadow = true;
            self.end_block = true;
        }
        Ok(())
    }

    /// Protected-mode load of a data or stack segment register (SDM Vol. 2,
    /// MOV "Loading a segment register while in protected mode"; Vol. 3A,
    /// 5.5-5.7): null rules, table limit, type, RPL/DPL/CPL, presence,
    /// then the accessed bit and the descriptor cache.
    pub(crate) fn load_seg_protected(&mut self, bus: &mut Bus, s: SegReg, sel: u16) -> Res<()> {
        let seg = self.check_data_seg(bus, s, sel, vector::GP, 0)?;
        self.state.segs[s as usize] = seg;
        Ok(())
    }

    /// The checks of `load_seg_protected` without the load: the segment the
    /// register would hold. `vector` is the fault for type and privilege
    /// violations (#GP for instructions, #TS during a task switch), `ext`
    /// the EXT bit of error codes. Sets the descriptor's accessed bit.
    pub(crate) fn check_data_seg(
        &mut self,
        bus: &mut Bus,
        s: SegReg,
        sel: u16,
        vector: u8,
        ext: u32,
    ) -> Res<Segment> {
        let cpl = self.state.cpl;
        if is_null(sel) {
            if s == SegReg::Ss {
                return Err(fault_sel(vector, 0, ext));
            }
            return Ok(null_segment(sel));
        }
        let (d, addr) = self.fetch_desc(bus, sel, vector, ext)?;
        if s == SegReg::Ss {
            if rpl(sel) != cpl || !d.writable() || d.dpl() != cpl {
                return Err(fault_sel(vector, sel, ext));
            }
            if !d.present() {
                return Err(fault_sel(crate::vector::SS, sel, ext));
            }
        } else {
            if !d.readable() {
                return Err(fault_sel(vector, sel, ext));
            }
            // Data and nonconforming code: both RPL and CPL at most DPL.
            if !d.conforming() && (rpl(sel) > d.dpl() || cpl > d.dpl()) {
                return Err(fault_sel(vector, sel, ext));
            }
            if !d.present() {
                return Err(fault_sel(crate::vector::NP, sel, ext));
            }
        }
        self.set_accessed(bus, d, addr)?;
        Ok(d.segment(sel))
    }

    /// Load CS from a checked code descriptor: the selector's RPL becomes
    /// `cpl`, which becomes the CPL (SDM Vol. 3A, 5.8.1). Sets the accessed
    /// bit, which may fault, before anything changes.
    pub(crate) fn load_cs(&mut self, bus: &mut Bus, sel: u16, d: Desc, addr: u32, cpl: u8) -> Res<()> {
        self.set_accessed(bus, d, addr)?;
        let sel = (sel & 0xfffc) | u16::from(cpl);
        self.state.segs[SegReg::Cs as usize] = d.segment(sel);
        self.state.cpl = cpl;
        self.end_block = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::desc::testenv::*;
    use crate::fault::Fault;
    use crate::state::{attr, reg, SegReg};

    // mov ds, ax (8E D8) / mov ss, ax (8E D0) in protected mode.
    fn mov_ds(e: &mut Env, sel: u16) -> crate::Res<()> {
        e.cpu.state.regs[reg::EAX] = u32::from(sel);
        e.code(&[0x8e, 0xd8]);
        e.step()
    }
    fn mov_ss(e: &mut Env, sel: u16) -> crate::Res<()> {
        e.cpu.state.regs[reg::EAX] = u32::from(sel);
        e.code(&[0x8e, 0xd0]);
        e.step()
    }

    #[test]
    fn null_selector_rules() {
        let mut e = Env::new();
        mov_ds(&mut e, 3).unwrap();
        assert!(!e.cpu.state.seg(SegReg::Ds).valid);
        assert_eq!(e.sel(SegReg::Ds), 3);
        assert_eq!(mov_ss(&mut e, 0), Err(Fault::GP0));
        // Using the null DS: #GP(0). mov eax, [0] (A1 00000000)
        e.code(&[0xa1, 0, 0, 0, 0]);
        assert_eq!(e.step(), Err(Fault::GP0));
    }

    #[test]
    fn type_privilege_and_presence_checks() {
        let mut e = Env::new();
        // Past the GDT limit.
        assert_eq!(mov_ds(&mut e, 0x100), Err(Fault::gp(0x100)));
        // An LDT selector with no LDT.
        assert_eq!(mov_ds(&mut e, 0x0c), Err(Fault::gp(0x0c)));
        // A system descriptor.
        assert_eq!(mov_ds(&mut e, 0x28), Err(Fault::gp(0x28)));
        // Execute-only code.
        e.set_gdt(0x48, seg(0, 0xfffff, 0x98, 0xc));
        assert_eq!(mov_ds(&mut e, 0x48), Err(Fault::gp(0x48)));
        // SS: must be writable data with DPL = RPL = CPL.
        assert_eq!(mov_ss(&mut e, 0x08), Err(Fault::gp(0x08)));
        assert_eq!(mov_ss(&mut e, 0x23), Err(Fault::gp(0x20)));
        // Not present: #NP for DS, #SS for SS.
        e.set_gdt(0x50, seg(0, 0xfffff, 0x12, 0xc));
        assert_eq!(mov_ds(&mut e, 0x50), Err(Fault::np(0x50)));
        assert_eq!(mov_ss(&mut e, 0x50), Err(Fault::ss(0x50)));
        // At CPL 3 a ring-0 data segment is out of reach.
        e.load_flat(3);
        assert_eq!(mov_ds(&mut e, 0x13), Err(Fault::gp(0x10)));
    }

    #[test]
    fn load_sets_accessed_bit_and_expands_limit() {
        let mut e = Env::new();
        // Expand-down 16-bit data, byte granular, limit 0x0fff, not accessed.
        e.set_gdt(0x58, seg(0x10000, 0x0fff, 0x96, 0x0));
        mov_ds(&mut e, 0x58).unwrap();
        assert_eq!(e.r8(GDT + 0x58 + 5), 0x97);
        let ds = *e.cpu.state.seg(SegReg::Ds);
        assert_eq!((ds.base, ds.limit), (0x10000, 0x0fff));
        assert_eq!(ds.attr & attr::DC, attr::DC);
        // Offsets at or below the limit of an expand-down segment fault.
        e.code(&[0xa1, 0, 0, 0, 0]);
        assert_eq!(e.step(), Err(Fault::GP0));
        // 4 KiB granularity.
        e.set_gdt(0x60, seg(0, 0x1, 0x92, 0x8));
        mov_ds(&mut e, 0x60).unwrap();
        assert_eq!(e.cpu.state.seg(SegReg::Ds).limit, 0x1fff);
    }
}
