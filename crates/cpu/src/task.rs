//! Hardware task switches (SDM Vol. 3A, chapter 7, "Task Management").
//!
//! A switch first reads everything it needs from the new TSS and checks
//! that the old TSS can be written, so that a fault before the commit point
//! leaves the old task untouched (faults there are reported in the old
//! task's context). After the commit point (step 10 of 7.3, "the task
//! switch is complete") the segment registers of the new task are checked
//! and loaded; a fault then belongs to the new task and is delivered from
//! here, with EIP on the new task's first instruction (SDM Vol. 3A, 7.3,
//! table 7-1).

use crate::access::Access;
use crate::desc::{fault_sel, is_null, null_segment, rpl, sys, Desc};
use crate::fault::{vector, Fault, Res};
use crate::state::{attr, cr0, flags, SegReg, Segment};
use crate::{Bus, Cpu};

/// What started a task switch (SDM Vol. 3A, 7.3, table 7-2): decides the
/// busy-bit, NT and back-link handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Switch {
    /// JMP to a TSS or task gate.
    Jmp,
    /// CALL to a TSS or task gate.
    Call,
    /// IRET with NT = 1.
    Iret,
    /// An interrupt or exception through a task gate.
    Int,
}

/// Offsets of the dynamic fields of a TSS (SDM Vol. 3A, 7.2.1 figure 7-2
/// for 32 bits, 7.6 figure 7-11 for 16 bits).
struct Layout {
    eip: u32,
    eflags: u32,
    regs: u32,
    segs: u32,
    ldt: u32,
    /// Field width in bytes.
    n: u32,
    /// Minimum limit of a valid TSS.
    min_limit: u32,
}

const TSS32: Layout = Layout {
    eip: 0x20,
    eflags: 0x24,
    regs: 0x28,
    segs: 0x48,
    ldt: 0x60,
    n: 4,
    min_limit: 0x67,
};

const TSS16: Layout = Layout {
    eip: 0x0e,
    eflags: 0x10,
    regs: 0x12,
    segs: 0x22,
    ldt: 0x2a,
    n: 2,
    min_limit: 0x2b,
};

/// Segment registers in TSS order (ES, CS, SS, DS, FS, GS); a 16-bit TSS
/// holds the first four.
const TSS_SEGS: [SegReg; 6] = SegReg::ALL;

/// Everything loaded from the new TSS.
#[derive(Clone, Copy, Debug, Default)]
struct Image {
    cr3: Option<u32>,
    eip: u32,
    eflags: u32,
    regs: [u32; 8],
    segs: [u16; 6],
    ldt: u16,
}

impl Cpu {
    /// Switch to the task whose TSS descriptor `d` (at linear address
    /// `daddr`) `sel` names (SDM Vol. 3A, 7.3). The caller has done the
    /// privilege and busy checks of its instruction. Returns `Ok(false)` if
    /// the switch committed but a fault was then delivered in the new task.
    pub(crate) fn task_switch(
        &mut self,
        bus: &mut Bus,
        sel: u16,
        d: Desc,
        daddr: u32,
        kind: Switch,
        ext: u32,
    ) -> Res<bool> {
        if !d.present() {
            return Err(fault_sel(vector::NP, sel, ext));
        }
        let new = if d.sys32() { &TSS32 } else { &TSS16 };
        if d.limit() < new.min_limit {
            return Err(fault_sel(vector::TS, sel, ext));
        }
        let old_tr = self.state.tr;
        let old = if old_tr.attr & 8 != 0 { &TSS32 } else { &TSS16 };
        let old_end = old.segs + old.n * nsegs_of(old) - 1;
        if old_tr.limit < old_end {
            return Err(fault_sel(vector::TS, old_tr.selector, ext));
        }

        // Read the new task's state (may #PF: nothing has changed yet).
        let nb = d.base();
        let mut img = Image::default();
        let rd = |cpu: &mut Cpu, bus: &mut Bus, off: u32| -> Res<u32> {
            if new.n == 4 {
                cpu.read_sys_u32(bus, nb.wrapping_add(off))
            } else {
                cpu.read_sys_u16(bus, nb.wrapping_add(off)).map(u32::from)
            }
        };
        if new.n == 4 && self.state.paging() {
            img.cr3 = Some(self.read_sys_u32(bus, nb.wrapping_add(0x1c))?);
        }
        img.eip = rd(self, bus, new.eip)?;
        img.eflags = rd(self, bus, new.eflags)?;
        for k in 0..8 {
            let v = rd(self, bus, new.regs + k as u32 * new.n)?;
            // A 16-bit TSS loads the low words; the high words read as ones
            // (as Bochs and QEMU model the 286 TSS on a 386).
            img.regs[k] = if new.n == 4 { v } else { v | 0xffff_0000 };
        }
        let nsegs = if new.n == 4 { 6 } else { 4 };
        for k in 0..nsegs {
            img.segs[k] = self.read_sys_u16(bus, nb.wrapping_add(new.segs + k as u32 * new.n))?;
        }
        img.ldt = self.read_sys_u16(bus, nb.wrapping_add(new.ldt))?;

        // The old TSS and the new back-link must be writable.
        self.translate(bus, old_tr.base.wrapping_add(old.eip), Access::Write, false)?;
        self.translate(bus, old_tr.base.wrapping_add(old_end), Access::Write, false)?;
        let nested = matches!(kind, Switch::Call | Switch::Int);
        if nested {
            self.translate(bus, nb, Access::Write, false)?;
        }
        // The old TSS descriptor, whose busy bit JMP and IRET clear.
        let old_desc = if matches!(kind, Switch::Jmp | Switch::Iret) && !is_null(old_tr.selector) {
            Some(self.fetch_desc(bus, old_tr.selector, vector::TS, ext)?)
        } else {
            None
        };

        // Commit: the old task's state is saved, the new TSS becomes busy.
        if let Some((od, oaddr)) = old_desc {
            self.set_desc_type(bus, od, oaddr, od.typ() & !sys::BUSY)?;
        }
        let mut saved_flags = self.state.eflags;
        if kind == Switch::Iret {
            saved_flags &= !flags::NT;
        }
        self.save_task(bus, old, saved_flags)?;
        if nested {
            self.write_sys(bus, nb, old_tr.selector.to_le_bytes())?;
            img.eflags |= flags::NT;
        }
        if kind != Switch::Iret {
            self.set_desc_type(bus, d, daddr, d.typ() | sys::BUSY)?;
        }
        let mut tr = d.segment(sel);
        tr.attr |= u16::from(sys::BUSY);
        self.state.tr = tr;
        self.state.cr0 |= cr0::TS;
        // Local breakpoints are task-local (SDM Vol. 3A, 17.2.4).
        self.state.dr[7] &= !0x155;
        self.load_task(bus, new, img, ext)
    }

    /// Save the dynamic state of the outgoing task into its TSS.
    fn save_task(&mut self, bus: &mut Bus, l: &Layout, eflags: u32) -> Res<()> {
        let base = self.state.tr.base;
        let wr = |cpu: &mut Cpu, bus: &mut Bus, off: u32, v: u32| -> Res<()> {
            if l.n == 4 {
                cpu.write_sys(bus, base.wrapping_add(off), v.to_le_bytes())
            } else {
                cpu.write_sys(bus, base.wrapping_add(off), (v as u16).to_le_bytes())
            }
        };
        wr(self, bus, l.eip, self.state.eip)?;
        wr(self, bus, l.eflags, eflags)?;
        for k in 0..8 {
            wr(self, bus, l.regs + k * l.n, self.state.regs[k as usize])?;
        }
        for k in 0..nsegs_of(l) {
            let s = u32::from(self.state.segs[TSS_SEGS[k as usize] as usize].selector);
            wr(self, bus, l.segs + k * l.n, s)?;
        }
        Ok(())
    }

    /// Load the incoming task's state after the commit point. A fault here
    /// is delivered in the new task's context.
    fn load_task(&mut self, bus: &mut Bus, l: &Layout, img: Image, ext: u32) -> Res<bool> {
        if let Some(cr3) = img.cr3 {
            self.state.cr3 = cr3;
            self.tlb.flush_non_global();
        }
        self.state.eip = img.eip;
        self.state.eflags = if l.n == 4 {
            (img.eflags & flags::VALID) | flags::FIXED1
        } else {
            (self.state.eflags & 0xffff_0000 & !flags::VM) | (img.eflags & 0xffff) | flags::FIXED1
        };
        self.state.regs = img.regs;
        self.end_block = true;
        // Selectors first, caches invalid until each is checked (SDM
        // Vol. 3A, 7.3 step 11).
        for (k, s) in TSS_SEGS.iter().enumerate() {
            if k < nsegs_of(l) as usize {
                self.state.segs[*s as usize] = null_segment(img.segs[k]);
            } else {
                self.state.segs[*s as usize] = null_segment(0);
            }
        }
        self.state.ldtr = null_segment(img.ldt);
        if let Err(f) = self.load_task_segments(bus, img, ext) {
            self.exception(bus, f);
            return Ok(false);
        }
        Ok(true)
    }

    fn load_task_segments(&mut self, bus: &mut Bus, img: Image, ext: u32) -> Res<()> {
        // LDTR (SDM Vol. 3A, table 7-1: every LDT fault is #TS(LDT)).
        if !is_null(img.ldt) {
            if img.ldt & 4 != 0 {
                return Err(fault_sel(vector::TS, img.ldt, ext));
            }
            let (d, _) = self.fetch_desc(bus, img.ldt, vector::TS, ext)?;
            if !d.is_sys(sys::LDT) || !d.present() {
                return Err(fault_sel(vector::TS, img.ldt, ext));
            }
            self.state.ldtr = d.segment(img.ldt);
        }
        if self.state.v86() {
            self.state.cpl = 3;
            for (k, s) in TSS_SEGS.iter().enumerate() {
                let a = if *s == SegReg::Cs {
                    attr::CODE_RX
                } else {
                    attr::DATA_RW
                };
                self.state.segs[*s as usize] = Segment::real(img.segs[k], 0xffff, a | 3 << 5);
            }
            return Ok(());
        }
        // CS: its RPL is the new CPL.
        let cs = img.segs[SegReg::Cs as usize];
        let cpl = rpl(cs);
        self.state.cpl = cpl;
        if is_null(cs) {
            return Err(fault_sel(vector::TS, cs, ext));
        }
        let (d, addr) = self.fetch_desc(bus, cs, vector::TS, ext)?;
        if !d.is_code() || (!d.conforming() && d.dpl() != cpl) || (d.conforming() && d.dpl() > cpl) {
            return Err(fault_sel(vector::TS, cs, ext));
        }
        if !d.present() {
            return Err(fault_sel(vector::NP, cs, ext));
        }
        self.load_cs(bus, cs, d, addr, cpl)?;
        for s in [SegReg::Ss, SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs] {
            let sel = img.segs[s as usize];
            let seg = self.check_data_seg(bus, s, sel, vector::TS, ext)?;
            self.state.segs[s as usize] = seg;
        }
        if self.state.eip > self.state.seg(SegReg::Cs).limit {
            return Err(Fault::gp(ext));
        }
        Ok(())
    }
}

/// Segment registers a TSS of this layout holds.
fn nsegs_of(l: &Layout) -> u32 {
    if l.n == 4 {
        6
    } else {
        4
    }
}

#[cfg(test)]
mod tests {
    use crate::desc::testenv::*;
    use crate::fault::Fault;
    use crate::state::{cr0, flags, reg, SegReg};

    /// Fill the second TSS with a ring-0 task starting at 0x7000.
    fn second_task(e: &mut Env) {
        e.w32(TSS2 + 0x20, 0x7000); // EIP
        e.w32(TSS2 + 0x24, flags::FIXED1 | flags::CF); // EFLAGS
        e.w32(TSS2 + 0x28, 0xaaaa); // EAX
        e.w32(TSS2 + 0x38, 0x8800); // ESP
        for (k, sel) in [0x10u32, 0x08, 0x10, 0x10, 0x10, 0x10].iter().enumerate() {
            e.w32(TSS2 + 0x48 + 4 * k as u32, *sel);
        }
    }

    // jmp far 0x0030:0 (EA 00000000 3000): the old TSS gets the state and
    // loses its busy bit, the new one becomes busy and TR, CR0.TS is set,
    // NT stays clear.
    #[test]
    fn jmp_to_tss_switches_tasks() {
        let mut e = Env::new();
        second_task(&mut e);
        e.cpu.state.regs[reg::EAX] = 0x5555;
        e.code(&[0xea, 0, 0, 0, 0, 0x30, 0]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.tr.selector, 0x30);
        assert_eq!(e.cpu.state.eip, 0x7000);
        assert_eq!(e.cpu.state.regs[reg::EAX], 0xaaaa);
        assert_eq!(e.esp(), 0x8800);
        assert_eq!(e.cpu.state.eflags & flags::CF, flags::CF);
        assert_eq!(e.cpu.state.eflags & flags::NT, 0);
        assert_ne!(e.cpu.state.cr0 & cr0::TS, 0);
        assert_eq!(e.r8(GDT + 0x28 + 5) & 0xf, 0x9, "old TSS available");
        assert_eq!(e.r8(GDT + 0x30 + 5) & 0xf, 0xb, "new TSS busy");
        assert_eq!(e.r32(TSS + 0x20), CODE + 7, "saved EIP");
        assert_eq!(e.r32(TSS + 0x28), 0x5555, "saved EAX");
        assert_eq!(e.r32(TSS + 0x4c), 0x08, "saved CS");
        // Jumping to the busy TSS again is #GP(sel).
        e.code(&[0xea, 0, 0, 0, 0, 0x30, 0]);
        assert_eq!(e.step(), Err(Fault::gp(0x30)));
    }

    // call far 0x0030:0 (9A 00000000 3000) nests: back-link and NT; iretd
    // (CF) in the new task returns to the caller through the back-link.
    #[test]
    fn call_to_tss_and_iret_back() {
        let mut e = Env::new();
        second_task(&mut e);
        e.code(&[0x9a, 0, 0, 0, 0, 0x30, 0]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.tr.selector, 0x30);
        assert_ne!(e.cpu.state.eflags & flags::NT, 0);
        assert_eq!(e.r32(TSS2) & 0xffff, 0x28, "back-link");
        assert_eq!(e.r8(GDT + 0x28 + 5) & 0xf, 0xb, "caller stays busy");
        e.bus.mem.write(mem::PhysAddr(0x7000), &[0xcf]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.tr.selector, 0x28);
        assert_eq!(e.cpu.state.eip, CODE + 7);
        assert_eq!(e.r8(GDT + 0x30 + 5) & 0xf, 0x9, "callee available again");
        assert_eq!(e.r32(TSS2 + 0x24) & flags::NT, 0, "saved NT cleared");
        assert_eq!(e.sel(SegReg::Cs), 0x08);
    }

    // A task gate in the IDT: an exception switches tasks and pushes its
    // error code on the new task's stack.
    #[test]
    fn exception_through_task_gate() {
        let mut e = Env::new();
        second_task(&mut e);
        e.set_idt(0x0d, gate(0x30, 0, 0x5, 0, 0));
        e.cpu.state.eip = 0x1234;
        e.cpu
            .interrupt(&mut e.bus, 0x0d, Some(0x18), crate::intr::Source::Fault)
            .unwrap();
        assert_eq!(e.cpu.state.tr.selector, 0x30);
        assert_eq!(e.esp(), 0x8800 - 4);
        assert_eq!(e.r32(0x8800 - 4), 0x18);
        assert_eq!(e.r32(TSS + 0x20), 0x1234);
    }

    // A bad DS in the new TSS (a system descriptor) faults after the switch,
    // in the new task: #TS(DS) is delivered through the IDT with the new
    // task's EIP.
    #[test]
    fn bad_segment_faults_in_new_task() {
        let mut e = Env::new();
        second_task(&mut e);
        e.w32(TSS2 + 0x54, 0x28); // DS = a TSS descriptor
        e.set_idt(0x0a, gate(0x08, 0x7400, 0xe, 0, 0));
        e.code(&[0xea, 0, 0, 0, 0, 0x30, 0]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.tr.selector, 0x30);
        assert_eq!(e.cpu.state.eip, 0x7400, "in the #TS handler");
        assert_eq!(e.r32(e.esp()), 0x28, "error code");
        assert_eq!(e.r32(e.esp() + 4), 0x7000, "new task's EIP");
    }

    // jmp far 0x0048:0 to a 16-bit TSS: word fields, high register words
    // read as ones; the outgoing 32-bit TSS is saved as usual.
    #[test]
    fn jmp_to_16bit_tss() {
        let mut e = Env::new();
        let t = 0x3200;
        e.set_gdt(0x48, seg(t, 0x2b, 0x81, 0));
        e.w16(t + 0x0e, 0x7000); // IP
        e.w16(t + 0x10, 0x0002); // FLAGS
        e.w16(t + 0x12, 0x1234); // AX
        e.w16(t + 0x1a, 0x8800); // SP
        for (k, sel) in [0x10u16, 0x08, 0x10, 0x10].iter().enumerate() {
            e.w16(t + 0x22 + 2 * k as u32, *sel);
        }
        e.code(&[0xea, 0, 0, 0, 0, 0x48, 0]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.tr.selector, 0x48);
        assert_eq!(e.cpu.state.eip, 0x7000);
        assert_eq!(e.cpu.state.regs[reg::EAX], 0xffff_1234);
        assert_eq!(e.r8(GDT + 0x48 + 5) & 0xf, 0x3, "16-bit TSS busy");
        assert_eq!(e.sel(SegReg::Fs), 0);
    }
}
