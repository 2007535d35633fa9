//! Interrupt and exception delivery (SDM Vol. 3A, chapter 6; real mode:
//! 20.1.4).

use crate::access::{check_limit, Access};
use crate::desc::{fault_sel, is_null, null_segment, rpl, sys, Desc};
use crate::fault::{vector, Fault, Res};
use crate::interp::ops::W;
use crate::state::{flags, reg, SegReg, Segment};
use crate::task::Switch;
use crate::{Bus, Cpu};

/// Where an event comes from: decides the gate DPL check and the return
/// address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The INTR line (a PIC).
    External,
    /// `INT n`, `INT3`, `INTO`: the gate's DPL is checked against CPL, and
    /// in virtual-8086 mode IOPL applies.
    Software,
    /// A fault or abort raised by an instruction: EIP points at it.
    Fault,
    /// A trap (#DB after an instruction): EIP points after it.
    Trap,
}

impl Cpu {
    /// Deliver interrupt `v` (EIP already holds the return address).
    pub(crate) fn interrupt(&mut self, bus: &mut Bus, v: u8, error: Option<u32>, src: Source) -> Res<()> {
        self.state.halted = false;
        if self.state.real() {
            return self.interrupt_real(bus, v);
        }
        self.interrupt_protected(bus, v, error, src)
    }

    /// Real mode: through the IVT at IDTR.base; pushes FLAGS, CS, IP.
    fn interrupt_real(&mut self, bus: &mut Bus, v: u8) -> Res<()> {
        let entry = u32::from(v) * 4;
        if entry + 3 > self.state.idtr.limit {
            return Err(Fault::GP0);
        }
        let base = self.state.idtr.base;
        let ip = self.read_sys_u16(bus, base.wrapping_add(entry))?;
        let cs = self.read_sys_u16(bus, base.wrapping_add(entry + 2))?;
        // Three pushes; check the lowest one first so nothing is committed
        // on a stack fault.
        let sp = self.sp_add(6u32.wrapping_neg());
        self.probe_write(bus, SegReg::Ss, sp, 6)?;
        let fl = self.state.eflags & 0xffff;
        let old_cs = u32::from(self.state.seg(SegReg::Cs).selector);
        let eip = self.state.eip & 0xffff;
        self.push(bus, fl, W::W)?;
        self.push(bus, old_cs, W::W)?;
        self.push(bus, eip, W::W)?;
        self.state.eflags &= !(flags::IF | flags::TF | flags::AC | flags::RF);
        self.load_seg(bus, SegReg::Cs, cs)?;
        self.state.eip = u32::from(ip);
        Ok(())
    }

    /// Protected and virtual-8086 mode delivery through the IDT (SDM Vol. 2,
    /// "INT n/INTO/INT3/INT1" pseudo-code; Vol. 3A, 6.10-6.13 and 20.3).
    /// `error`, if any, is pushed after the return address. Every check
    /// and every page of the new frame is verified before anything changes.
    pub(crate) fn interrupt_protected(
        &mut self,
        bus: &mut Bus,
        v: u8,
        error: Option<u32>,
        src: Source,
    ) -> Res<()> {
        // EXT: the event is not the program's own INT n / INT3 / INTO
        // (SDM Vol. 3A, 6.13 "Error Code").
        let ext = u32::from(src != Source::Software);
        let idt_err = u32::from(v) * 8 + 2 + ext;
        let cpl = self.state.cpl;
        if u32::from(v) * 8 + 7 > self.state.idtr.limit {
            return Err(Fault::gp(idt_err));
        }
        let a = self.state.idtr.base.wrapping_add(u32::from(v) * 8);
        let lo = self.read_sys_u32(bus, a)?;
        let hi = self.read_sys_u32(bus, a.wrapping_add(4))?;
        let gate = Desc(u64::from(hi) << 32 | u64::from(lo));
        if gate.s()
            || !matches!(
                gate.typ(),
                sys::TASK | sys::INT16 | sys::TRAP16 | sys::INT32 | sys::TRAP32
            )
        {
            return Err(Fault::gp(idt_err));
        }
        if src == Source::Software && gate.dpl() < cpl {
            return Err(Fault::gp(u32::from(v) * 8 + 2));
        }
        if !gate.present() {
            return Err(Fault::np(idt_err));
        }
        if gate.typ() == sys::TASK {
            return self.interrupt_task_gate(bus, gate, error, ext);
        }
        // TRAP-OR-INTERRUPT-GATE.
        let sel = gate.gate_selector();
        if is_null(sel) {
            return Err(Fault::gp(ext));
        }
        let (d, daddr) = self.fetch_desc(bus, sel, vector::GP, ext)?;
        if !d.is_code() || d.dpl() > cpl {
            return Err(fault_sel(vector::GP, sel, ext));
        }
        if !d.present() {
            return Err(fault_sel(vector::NP, sel, ext));
        }
        let w = if gate.sys32() { W::D } else { W::W };
        let ip = gate.gate_offset();
        let v86 = self.state.v86();
        let old_cs = u32::from(self.state.seg(SegReg::Cs).selector);
        let mut frame = Frame::default();
        if !d.conforming() && d.dpl() < cpl {
            // INTER-PRIVILEGE-LEVEL-INTERRUPT or INTERRUPT-FROM-VIRTUAL-8086-MODE.
            if v86 && d.dpl() != 0 {
                return Err(fault_sel(vector::GP, sel, ext));
            }
            let new_cpl = d.dpl();
            let (ss_sel, esp) = self.tss_stack(bus, new_cpl, ext)?;
            let ss = self.check_new_ss(bus, ss_sel, new_cpl, ext)?;
            if v86 {
                for s in [SegReg::Gs, SegReg::Fs, SegReg::Ds, SegReg::Es] {
                    frame.push(u32::from(self.state.seg(s).selector));
                }
            }
            frame.push(u32::from(self.state.seg(SegReg::Ss).selector));
            frame.push(self.state.regs[reg::ESP]);
            frame.push(self.state.eflags);
            frame.push(old_cs);
            frame.push(self.state.eip);
            if let Some(e) = error {
                frame.push(e);
            }
            let sp = if ss.big() { esp } else { esp & 0xffff };
            let new_sp = self.check_frame(
                bus,
                &ss,
                sp,
                frame.len() * w.bytes(),
                new_cpl == 3,
                fault_sel(vector::SS, ss_sel, ext),
            )?;
            if ip > d.limit() {
                return Err(Fault::gp(ext));
            }
            self.write_frame(bus, &ss, new_sp, &frame, w, new_cpl == 3)?;
            self.load_cs(bus, sel, d, daddr, new_cpl)?;
            self.state.segs[SegReg::Ss as usize] = ss;
            self.state.regs[reg::ESP] = if ss.big() {
                new_sp
            } else {
                (esp & 0xffff_0000) | new_sp
            };
            if v86 {
                for s in [SegReg::Gs, SegReg::Fs, SegReg::Ds, SegReg::Es] {
                    self.state.segs[s as usize] = null_segment(0);
                }
            }
        } else {
            // INTRA-PRIVILEGE-LEVEL-INTERRUPT.
            if v86 {
                return Err(fault_sel(vector::GP, sel, ext));
            }
            frame.push(self.state.eflags);
            frame.push(old_cs);
            frame.push(self.state.eip);
            if let Some(e) = error {
                frame.push(e);
            }
            let ss = *self.state.seg(SegReg::Ss);
            let sp = self.sp();
            let new_sp = self.check_frame(bus, &ss, sp, frame.len() * w.bytes(), cpl == 3, Fault::ss(ext))?;
            if ip > d.limit() {
                return Err(Fault::gp(ext));
            }
            self.write_frame(bus, &ss, new_sp, &frame, w, cpl == 3)?;
            self.load_cs(bus, sel, d, daddr, cpl)?;
            self.set_sp(new_sp);
        }
        self.state.eip = ip;
        let mut clear = flags::TF | flags::NT | flags::RF | flags::VM;
        if gate.typ() & 1 == 0 {
            clear |= flags::IF;
        }
        self.state.eflags &= !clear;
        self.end_block = true;
        Ok(())
    }

    /// TASK-GATE in the IDT (SDM Vol. 2, INT n; Vol. 3A, 7.3): switch
    /// tasks with nesting, then push the error code on the new task's
    /// stack.
    fn interrupt_task_gate(&mut self, bus: &mut Bus, gate: Desc, error: Option<u32>, ext: u32) -> Res<()> {
        let tss = gate.gate_selector();
        if tss & 4 != 0 {
            return Err(fault_sel(vector::GP, tss, ext));
        }
        let (d, daddr) = self.fetch_desc(bus, tss, vector::GP, ext)?;
        if !(d.is_sys(sys::TSS16_AVAIL) || d.is_sys(sys::TSS32_AVAIL)) {
            return Err(fault_sel(vector::GP, tss, ext));
        }
        if !d.present() {
            return Err(fault_sel(vector::NP, tss, ext));
        }
        if !self.task_switch(bus, tss, d, daddr, Switch::Int, ext)? {
            return Ok(());
        }
        if let Some(e) = error {
            let w = if d.sys32() { W::D } else { W::W };
            let ss = *self.state.seg(SegReg::Ss);
            let user = self.state.cpl == 3;
            let r = self
                .check_frame(bus, &ss, self.sp(), w.bytes(), user, Fault::ss(ext))
                .and_then(|sp| {
                    let mut f = Frame::default();
                    f.push(e);
                    self.write_frame(bus, &ss, sp, &f, w, user)?;
                    self.set_sp(sp);
                    Ok(())
                });
            if let Err(f) = r {
                // The switch is committed: the fault belongs to the new task.
                self.exception(bus, f);
                return Ok(());
            }
        }
        Ok(())
    }

    /// The stack for privilege level `dpl` from the current TSS (SDM
    /// Vol. 3A, 7.2.1 and 6.12.1): SS and ESP (SP, zero-extended, in a
    /// 16-bit TSS). #TS(TR + EXT) if the TSS is too small to hold them.
    pub(crate) fn tss_stack(&mut self, bus: &mut Bus, dpl: u8, ext: u32) -> Res<(u16, u32)> {
        let tr = self.state.tr;
        let dpl = u32::from(dpl);
        if tr.attr & 8 != 0 {
            let at = dpl * 8 + 4;
            if at + 5 > tr.limit {
                return Err(fault_sel(vector::TS, tr.selector, ext));
            }
            let esp = self.read_sys_u32(bus, tr.base.wrapping_add(at))?;
            let ss = self.read_sys_u16(bus, tr.base.wrapping_add(at + 4))?;
            Ok((ss, esp))
        } else {
            let at = dpl * 4 + 2;
            if at + 3 > tr.limit {
                return Err(fault_sel(vector::TS, tr.selector, ext));
            }
            let sp = self.read_sys_u16(bus, tr.base.wrapping_add(at))?;
            let ss = self.read_sys_u16(bus, tr.base.wrapping_add(at + 2))?;
            Ok((ss, u32::from(sp)))
        }
    }

    /// Check a stack segment taken from the TSS for a switch to privilege
    /// `dpl` (SDM Vol. 2, CALL and INT n: #TS for a bad selector or
    /// descriptor, #SS if not present), set its accessed bit and return the
    /// segment to load.
    pub(crate) fn check_new_ss(&mut self, bus: &mut Bus, sel: u16, dpl: u8, ext: u32) -> Res<Segment> {
        if is_null(sel) {
            return Err(Fault::ts(ext));
        }
        let (d, addr) = self.fetch_desc(bus, sel, vector::TS, ext)?;
        if rpl(sel) != dpl || d.dpl() != dpl || !d.writable() {
            return Err(fault_sel(vector::TS, sel, ext));
        }
        if !d.present() {
            return Err(fault_sel(vector::SS, sel, ext));
        }
        self.set_accessed(bus, d, addr)?;
        Ok(d.segment(sel))
    }

    /// Check that `bytes` bytes can be pushed below `sp` on stack `ss`
    /// (limit, then paging at the privilege of `user`), returning the new
    /// stack pointer in the stack's address size. Raises `fault` on a
    /// limit violation.
    pub(crate) fn check_frame(
        &mut self,
        bus: &mut Bus,
        ss: &Segment,
        sp: u32,
        bytes: u32,
        user: bool,
        fault: Fault,
    ) -> Res<u32> {
        let mask = if ss.big() { 0xffff_ffff } else { 0xffff };
        let new_sp = sp.wrapping_sub(bytes) & mask;
        if !ss.valid || check_limit(ss, new_sp, bytes).is_none() {
            return Err(fault);
        }
        let lin = ss.base.wrapping_add(new_sp);
        self.translate(bus, lin, Access::Write, user)?;
        self.translate(bus, lin.wrapping_add(bytes - 1), Access::Write, user)?;
        Ok(new_sp)
    }

    /// Write a frame checked by `check_frame`: `frame`'s first value at the
    /// highest address, each `w` wide (selectors zero-extended).
    pub(crate) fn write_frame(
        &mut self,
        bus: &mut Bus,
        ss: &Segment,
        new_sp: u32,
        frame: &Frame,
        w: W,
        user: bool,
    ) -> Res<()> {
        let n = w.bytes();
        let total = frame.len() * n;
        for (k, v) in frame.values().iter().enumerate() {
            let off = new_sp.wrapping_add(total - (k as u32 + 1) * n);
            let lin = ss.base.wrapping_add(off);
            match w {
                W::D => self.write_lin(bus, lin, v.to_le_bytes(), user)?,
                _ => self.write_lin(bus, lin, (*v as u16).to_le_bytes(), user)?,
            }
        }
        Ok(())
    }
}

/// Values pushed by an interrupt, call gate or task switch, in push order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame {
    vals: [u32; 48],
    len: usize,
}

impl Default for Frame {
    fn default() -> Self {
        Self {
            vals: [0; 48],
            len: 0,
        }
    }
}

impl Frame {
    /// Append a value (pushed after the previous ones).
    pub fn push(&mut self, v: u32) {
        self.vals[self.len] = v;
        self.len += 1;
    }
    /// Number of values.
    pub fn len(&self) -> u32 {
        self.len as u32
    }
    /// The values in push order.
    pub fn values(&self) -> &[u32] {
        &self.vals[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::Source;
    use crate::desc::testenv::*;
    use crate::fault::{vector, Fault};
    use crate::state::{flags, SegReg};

    // int 0x80 (CD 80) from CPL 3 through a DPL-3 32-bit trap gate: the
    // ring-0 stack comes from the TSS and gets SS, ESP, EFLAGS, CS, EIP.
    #[test]
    fn int_from_ring3_through_trap_gate_switches_stacks() {
        let mut e = Env::new();
        e.set_idt(0x80, gate(0x08, 0x7000, 0xf, 3, 0));
        e.load_flat(3);
        e.cpu.state.eflags |= flags::IF;
        e.cpu.state.regs[crate::reg::ESP] = 0x6000;
        e.code(&[0xcd, 0x80]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.cpl, 0);
        assert_eq!(e.sel(SegReg::Cs), 0x08);
        assert_eq!(e.sel(SegReg::Ss), 0x10);
        assert_eq!(e.cpu.state.eip, 0x7000);
        assert_eq!(e.esp(), 0x9000 - 20);
        assert_eq!(e.r32(0x9000 - 4), 0x23, "old SS");
        assert_eq!(e.r32(0x9000 - 8), 0x6000, "old ESP");
        assert_eq!(e.r32(0x9000 - 12), flags::FIXED1 | flags::IF, "EFLAGS");
        assert_eq!(e.r32(0x9000 - 16), 0x1b, "old CS");
        assert_eq!(e.r32(0x9000 - 20), CODE + 2, "return EIP");
        // A trap gate leaves IF alone.
        assert_ne!(e.cpu.state.eflags & flags::IF, 0);
    }

    // int 0x80 (CD 80) at CPL 3 through a DPL-0 gate: #GP(vector*8+2),
    // without EXT (a software interrupt).
    #[test]
    fn int_through_privileged_gate_is_gp() {
        let mut e = Env::new();
        e.set_idt(0x80, gate(0x08, 0x7000, 0xe, 0, 0));
        e.load_flat(3);
        e.code(&[0xcd, 0x80]);
        assert_eq!(e.step(), Err(Fault::gp(0x80 * 8 + 2)));
        assert_eq!(e.cpu.state.eip, CODE);
        assert_eq!(e.cpu.state.cpl, 3);
    }

    // An external interrupt ignores the gate DPL; a not-present gate is
    // #NP(vector*8+2+EXT); past the IDT limit it is #GP(vector*8+2+EXT).
    #[test]
    fn external_interrupt_error_codes_carry_ext() {
        let mut e = Env::new();
        e.set_idt(0x21, gate(0x08, 0x7000, 0xe, 0, 0) & !(0x80 << 40));
        let r = e.cpu.interrupt(&mut e.bus, 0x21, None, Source::External);
        assert_eq!(r, Err(Fault::np(0x21 * 8 + 3)));
        e.cpu.state.idtr.limit = 0xff;
        let r = e.cpu.interrupt(&mut e.bus, 0x40, None, Source::External);
        assert_eq!(r, Err(Fault::gp(0x40 * 8 + 3)));
        // Same privilege, interrupt gate with an error code: IF cleared.
        e.set_idt(0x0d, gate(0x08, 0x7100, 0xe, 0, 0));
        e.cpu.state.eflags |= flags::IF;
        e.cpu.state.eip = 0x1234;
        e.cpu
            .interrupt(&mut e.bus, vector::GP, Some(0x28), Source::Fault)
            .unwrap();
        assert_eq!(e.esp(), 0x8000 - 16);
        assert_eq!(e.r32(0x8000 - 16), 0x28, "error code");
        assert_eq!(e.r32(0x8000 - 12), 0x1234, "EIP");
        assert_eq!(e.cpu.state.eflags & flags::IF, 0);
    }

    // A 16-bit interrupt gate to a ring-0 handler from CPL 3 pushes words.
    #[test]
    fn sixteen_bit_gate_pushes_words() {
        let mut e = Env::new();
        e.set_idt(0x30, gate(0x08, 0x7000, 0x6, 3, 0));
        e.load_flat(3);
        e.cpu.state.regs[crate::reg::ESP] = 0x6000;
        e.code(&[0xcd, 0x30]);
        e.step().unwrap();
        assert_eq!(e.esp(), 0x9000 - 10);
        assert_eq!(e.r32(0x9000 - 4) >> 16, 0x23, "old SS word");
        assert_eq!(e.r32(0x9000 - 10) & 0xffff, CODE + 2, "IP");
    }

    // A ring-0 stack selector in the TSS with RPL 3: #TS(SS selector).
    #[test]
    fn bad_tss_stack_is_ts() {
        let mut e = Env::new();
        e.set_idt(0x80, gate(0x08, 0x7000, 0xf, 3, 0));
        e.w32(TSS + 8, 0x13);
        e.load_flat(3);
        e.code(&[0xcd, 0x80]);
        assert_eq!(e.step(), Err(Fault::ts(0x10)));
    }
}
