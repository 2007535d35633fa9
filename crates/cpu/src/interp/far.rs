//! Far control transfers and software interrupts: far JMP/CALL, RETF, IRET,
//! INT n, INT3, INTO, INT1, far-pointer loads (LDS...) and BOUND, in real,
//! protected and virtual-8086 mode (SDM Vol. 2, the instruction pages;
//! Vol. 3A, 5.8 "Privilege Level Checking When Transferring Program
//! Control Between Code Segments", 6.14, 7.3, 20.2-20.3).

use super::ops::{reg_width, W};
use super::Handler;
use crate::desc::{is_null, null_segment, rpl, sys, Desc};
use crate::fault::{vector, Fault, Res};
use crate::intr::{Frame, Source};
use crate::state::{attr, flags, reg, SegReg, Segment};
use crate::task::Switch;
use crate::{Bus, Cpu};
use iced_x86::{Code, Instruction, Mnemonic, OpKind};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Retf => retf,
        Mnemonic::Iret | Mnemonic::Iretd => iret,
        Mnemonic::Int => int,
        Mnemonic::Int3 => int3,
        Mnemonic::Into => into,
        Mnemonic::Int1 => int1,
        Mnemonic::Lds | Mnemonic::Les | Mnemonic::Lfs | Mnemonic::Lgs | Mnemonic::Lss => load_far_pointer,
        Mnemonic::Bound => bound,
        _ => return None,
    })
}

/// Selector and offset of a far branch operand (immediate or m16:16/m16:32).
fn far_target(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<(u16, u32, W)> {
    match i.op0_kind() {
        OpKind::FarBranch16 => Ok((i.far_branch_selector(), u32::from(i.far_branch16()), W::W)),
        OpKind::FarBranch32 => Ok((i.far_branch_selector(), i.far_branch32(), W::D)),
        _ => {
            let (s, off) = cpu.ea(i);
            if i.memory_size() == iced_x86::MemorySize::SegPtr32 {
                let o = cpu.read_mem(bus, s, off, W::D)?;
                let sel = cpu.read_mem(bus, s, off.wrapping_add(4), W::W)? as u16;
                Ok((sel, o, W::D))
            } else {
                let o = cpu.read_mem(bus, s, off, W::W)?;
                let sel = cpu.read_mem(bus, s, off.wrapping_add(2), W::W)? as u16;
                Ok((sel, o, W::W))
            }
        }
    }
}

pub(super) fn jmp_far(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let (sel, off, _) = far_target(cpu, bus, i)?;
    if cpu.state.real() || cpu.state.v86() {
        if off > cpu.state.seg(SegReg::Cs).limit {
            return Err(Fault::GP0);
        }
        cpu.load_seg(bus, SegReg::Cs, sel)?;
        cpu.state.eip = off;
        cpu.end_block = true;
        return Ok(());
    }
    cpu.far_protected(bus, sel, off, None)
}

pub(super) fn call_far(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let (sel, off, w) = far_target(cpu, bus, i)?;
    if cpu.state.real() || cpu.state.v86() {
        if off > cpu.state.seg(SegReg::Cs).limit {
            return Err(Fault::GP0);
        }
        let n = w.bytes();
        cpu.probe_write(bus, SegReg::Ss, cpu.sp_add((2 * n).wrapping_neg()), 2 * n)?;
        let cs = u32::from(cpu.state.seg(SegReg::Cs).selector);
        let eip = cpu.state.eip;
        cpu.push(bus, cs, w)?;
        cpu.push(bus, eip, w)?;
        cpu.load_seg(bus, SegReg::Cs, sel)?;
        cpu.state.eip = off;
        cpu.end_block = true;
        return Ok(());
    }
    cpu.far_protected(bus, sel, off, Some(w))
}

fn retf(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = if matches!(i.code(), Code::Retfw | Code::Retfw_imm16) {
        W::W
    } else {
        W::D
    };
    let extra = if i.op_count() > 0 {
        u32::from(i.immediate16())
    } else {
        0
    };
    if cpu.state.real() || cpu.state.v86() {
        let off = cpu.peek(bus, 0, w)?;
        let sel = cpu.peek(bus, w.bytes(), w)? as u16;
        if off > cpu.state.seg(SegReg::Cs).limit {
            return Err(Fault::GP0);
        }
        cpu.load_seg(bus, SegReg::Cs, sel)?;
        cpu.state.eip = off;
        cpu.set_sp(cpu.sp_add(2 * w.bytes() + extra));
        cpu.end_block = true;
        return Ok(());
    }
    cpu.retf_protected(bus, w, extra)
}

fn iret(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = if i.code() == Code::Iretw { W::W } else { W::D };
    if cpu.state.real() {
        let n = w.bytes();
        let off = cpu.peek(bus, 0, w)?;
        let sel = cpu.peek(bus, n, w)? as u16;
        let fl = cpu.peek(bus, 2 * n, w)?;
        if off > cpu.state.seg(SegReg::Cs).limit {
            return Err(Fault::GP0);
        }
        cpu.load_seg(bus, SegReg::Cs, sel)?;
        cpu.state.eip = off;
        cpu.set_sp(cpu.sp_add(3 * n));
        cpu.write_eflags_popf(fl, w);
        cpu.end_block = true;
        return Ok(());
    }
    cpu.end_block = true;
    if cpu.state.v86() {
        return cpu.iret_v86(bus, w);
    }
    if cpu.state.eflags & flags::NT != 0 {
        return cpu.iret_task(bus);
    }
    cpu.iret_protected(bus, w)
}

fn int(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.software_interrupt(bus, i.immediate8())
}

fn int3(cpu: &mut Cpu, bus: &mut Bus, _i: &Instruction) -> Res<()> {
    cpu.software_interrupt(bus, crate::vector::BP)
}

fn into(cpu: &mut Cpu, bus: &mut Bus, _i: &Instruction) -> Res<()> {
    if cpu.state.eflags & flags::OF != 0 {
        return cpu.software_interrupt(bus, crate::vector::OF);
    }
    Ok(())
}

impl Cpu {
    /// INT n / INT3 / INTO: a trap; EIP (the return address) is already past
    /// the instruction. A fault during delivery is reported against the INT.
    pub(crate) fn software_interrupt(&mut self, bus: &mut Bus, v: u8) -> Res<()> {
        if self.state.v86() && self.state.iopl() < 3 {
            return Err(Fault::GP0);
        }
        self.interrupt(bus, v, None, Source::Software)?;
        self.end_block = true;
        Ok(())
    }
}

/// INT1 (ICEBP): a #DB trap without the gate DPL check (SDM Vol. 2, INT n,
/// "INT1").
fn int1(cpu: &mut Cpu, bus: &mut Bus, _i: &Instruction) -> Res<()> {
    cpu.interrupt(bus, vector::DB, None, Source::Trap)?;
    cpu.end_block = true;
    Ok(())
}

/// LDS/LES/LFS/LGS/LSS r, m16:16/m16:32 (SDM Vol. 2, "LDS/LES/LFS/LGS/LSS"):
/// the segment register is loaded (with every check) before the general
/// register, which cannot fault. LSS inhibits interrupts like MOV SS.
fn load_far_pointer(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let r = i.op0_register();
    let w = reg_width(r);
    let (s, off) = cpu.ea(i);
    let o = cpu.read_mem(bus, s, off, w)?;
    let sel = cpu.read_mem(bus, s, off.wrapping_add(w.bytes()), W::W)? as u16;
    let seg = match i.mnemonic() {
        Mnemonic::Lds => SegReg::Ds,
        Mnemonic::Les => SegReg::Es,
        Mnemonic::Lfs => SegReg::Fs,
        Mnemonic::Lgs => SegReg::Gs,
        _ => SegReg::Ss,
    };
    cpu.load_seg(bus, seg, sel)?;
    if seg == SegReg::Ss {
        cpu.state.intr_shadow = true;
        cpu.end_block = true;
    }
    cpu.set_reg(r, o);
    Ok(())
}

/// BOUND r16, m16&16 / r32, m32&32 (SDM Vol. 2, BOUND): signed bounds,
/// #BR if the index is outside them.
fn bound(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = reg_width(i.op0_register());
    let idx = w.sext(cpu.reg(i.op0_register())) as i32;
    let (s, off) = cpu.ea(i);
    let lo = w.sext(cpu.read_mem(bus, s, off, w)?) as i32;
    let hi = w.sext(cpu.read_mem(bus, s, off.wrapping_add(w.bytes()), w)?) as i32;
    if idx < lo || idx > hi {
        return Err(Fault::BR);
    }
    Ok(())
}

/// Checks on a code segment that is the direct target of a far JMP or
/// CALL (SDM Vol. 2, JMP/CALL "CONFORMING-CODE-SEGMENT" and
/// "NONCONFORMING-CODE-SEGMENT"; Vol. 3A, 5.8.1-5.8.2).
fn check_direct_code(d: Desc, sel: u16, cpl: u8) -> Res<()> {
    let ok = if d.conforming() {
        d.dpl() <= cpl
    } else {
        rpl(sel) <= cpl && d.dpl() == cpl
    };
    if !ok {
        return Err(Fault::sel(vector::GP, sel));
    }
    if !d.present() {
        return Err(Fault::sel(vector::NP, sel));
    }
    Ok(())
}

/// Checks on the code segment a returning RETF or IRET names (SDM Vol. 2,
/// RET and IRET "PROTECTED-MODE-RETURN").
fn check_return_code(d: Desc, sel: u16, cpl: u8) -> Res<()> {
    let r = rpl(sel);
    if !d.is_code() || r < cpl || (d.conforming() && d.dpl() > r) || (!d.conforming() && d.dpl() != r) {
        return Err(Fault::sel(vector::GP, sel));
    }
    if !d.present() {
        return Err(Fault::sel(vector::NP, sel));
    }
    Ok(())
}

impl Cpu {
    /// Protected-mode far JMP (`push` = None) or CALL (`push` = operand
    /// size) to `sel:off` (SDM Vol. 2, JMP and CALL pseudo-code).
    fn far_protected(&mut self, bus: &mut Bus, sel: u16, off: u32, push: Option<W>) -> Res<()> {
        let cpl = self.state.cpl;
        if is_null(sel) {
            return Err(Fault::GP0);
        }
        let (d, daddr) = self.fetch_desc(bus, sel, vector::GP, 0)?;
        if d.is_code() {
            check_direct_code(d, sel, cpl)?;
            if off > d.limit() {
                return Err(Fault::GP0);
            }
            if let Some(w) = push {
                self.push_return(bus, w)?;
            }
            self.load_cs(bus, sel, d, daddr, cpl)?;
            self.state.eip = off;
            return Ok(());
        }
        if d.s() {
            return Err(Fault::sel(vector::GP, sel));
        }
        let kind = if push.is_some() { Switch::Call } else { Switch::Jmp };
        match d.typ() {
            sys::CALL16 | sys::CALL32 => {
                if d.dpl() < cpl || d.dpl() < rpl(sel) {
                    return Err(Fault::sel(vector::GP, sel));
                }
                if !d.present() {
                    return Err(Fault::sel(vector::NP, sel));
                }
                self.through_call_gate(bus, d, push.is_some())
            }
            sys::TASK => {
                if d.dpl() < cpl || d.dpl() < rpl(sel) {
                    return Err(Fault::sel(vector::GP, sel));
                }
                if !d.present() {
                    return Err(Fault::sel(vector::NP, sel));
                }
                let tss = d.gate_selector();
                if tss & 4 != 0 {
                    return Err(Fault::sel(vector::GP, tss));
                }
                let (td, taddr) = self.fetch_desc(bus, tss, vector::GP, 0)?;
                if !(td.is_sys(sys::TSS16_AVAIL) || td.is_sys(sys::TSS32_AVAIL)) {
                    return Err(Fault::sel(vector::GP, tss));
                }
                if !td.present() {
                    return Err(Fault::sel(vector::NP, tss));
                }
                self.task_switch(bus, tss, td, taddr, kind, 0).map(|_| ())
            }
            sys::TSS16_AVAIL | sys::TSS32_AVAIL => {
                if d.dpl() < cpl || d.dpl() < rpl(sel) {
                    return Err(Fault::sel(vector::GP, sel));
                }
                if !d.present() {
                    return Err(Fault::sel(vector::NP, sel));
                }
                self.task_switch(bus, sel, d, daddr, kind, 0).map(|_| ())
            }
            _ => Err(Fault::sel(vector::GP, sel)),
        }
    }

    /// Push CS:EIP of the return address on the current stack (far CALL,
    /// same privilege), checking the whole frame first.
    fn push_return(&mut self, bus: &mut Bus, w: W) -> Res<()> {
        let mut f = Frame::default();
        f.push(u32::from(self.state.seg(SegReg::Cs).selector));
        f.push(self.state.eip);
        let ss = *self.state.seg(SegReg::Ss);
        let user = self.state.cpl == 3;
        let sp = self.check_frame(bus, &ss, self.sp(), 2 * w.bytes(), user, Fault::SS0)?;
        self.write_frame(bus, &ss, sp, &f, w, user)?;
        self.set_sp(sp);
        Ok(())
    }

    /// JMP or CALL through a call gate (SDM Vol. 2, CALL "CALL-GATE",
    /// "MORE-PRIVILEGE" and "SAME-PRIVILEGE"; Vol. 3A, 5.8.5-5.8.6).
    fn through_call_gate(&mut self, bus: &mut Bus, gate: Desc, call: bool) -> Res<()> {
        let cpl = self.state.cpl;
        let sel = gate.gate_selector();
        if is_null(sel) {
            return Err(Fault::GP0);
        }
        let (d, daddr) = self.fetch_desc(bus, sel, vector::GP, 0)?;
        let bad = if call {
            !d.is_code() || d.dpl() > cpl
        } else {
            !d.is_code() || (d.conforming() && d.dpl() > cpl) || (!d.conforming() && d.dpl() != cpl)
        };
        if bad {
            return Err(Fault::sel(vector::GP, sel));
        }
        if !d.present() {
            return Err(Fault::sel(vector::NP, sel));
        }
        let off = gate.gate_offset();
        let w = if gate.sys32() { W::D } else { W::W };
        if !call {
            if off > d.limit() {
                return Err(Fault::GP0);
            }
            self.load_cs(bus, sel, d, daddr, cpl)?;
            self.state.eip = off;
            return Ok(());
        }
        if d.conforming() || d.dpl() == cpl {
            // SAME-PRIVILEGE: the gate's size decides the pushes.
            if off > d.limit() {
                return Err(Fault::GP0);
            }
            self.push_return(bus, w)?;
            self.load_cs(bus, sel, d, daddr, cpl)?;
            self.state.eip = off;
            return Ok(());
        }
        // MORE-PRIVILEGE: new stack from the TSS, parameters copied.
        let new_cpl = d.dpl();
        let (ss_sel, esp) = self.tss_stack(bus, new_cpl, 0)?;
        let ss = self.check_new_ss(bus, ss_sel, new_cpl, 0)?;
        let n = w.bytes();
        let count = gate.gate_params();
        let mut f = Frame::default();
        f.push(u32::from(self.state.seg(SegReg::Ss).selector));
        f.push(self.state.regs[reg::ESP]);
        for k in (0..count).rev() {
            let v = self.peek(bus, k * n, w)?;
            f.push(v);
        }
        f.push(u32::from(self.state.seg(SegReg::Cs).selector));
        f.push(self.state.eip);
        let sp = if ss.big() { esp } else { esp & 0xffff };
        let user = new_cpl == 3;
        let new_sp = self.check_frame(bus, &ss, sp, f.len() * n, user, Fault::sel(vector::SS, ss_sel))?;
        if off > d.limit() {
            return Err(Fault::GP0);
        }
        self.write_frame(bus, &ss, new_sp, &f, w, user)?;
        self.load_cs(bus, sel, d, daddr, new_cpl)?;
        self.state.segs[SegReg::Ss as usize] = ss;
        self.state.regs[reg::ESP] = if ss.big() {
            new_sp
        } else {
            (esp & 0xffff_0000) | new_sp
        };
        self.state.eip = off;
        Ok(())
    }

    /// The SS a return to outer privilege `r` pops (SDM Vol. 2, RET and
    /// IRET "RETURN-TO-OUTER-PRIVILEGE-LEVEL"): #GP(0) if null, #GP(sel)
    /// for a bad descriptor, #SS(sel) if not present.
    fn check_return_ss(&mut self, bus: &mut Bus, sel: u16, r: u8) -> Res<(Desc, u32)> {
        if is_null(sel) {
            return Err(Fault::GP0);
        }
        let (d, addr) = self.fetch_desc(bus, sel, vector::GP, 0)?;
        if rpl(sel) != r || !d.writable() || d.dpl() != r {
            return Err(Fault::sel(vector::GP, sel));
        }
        if !d.present() {
            return Err(Fault::sel(vector::SS, sel));
        }
        Ok((d, addr))
    }

    /// After a return to outer privilege, data segment registers the new
    /// CPL may not use become null (SDM Vol. 2, RET and IRET: "data or
    /// non-conforming code segment AND CPL > DPL").
    fn revalidate_data_segments(&mut self) {
        let cpl = self.state.cpl;
        for s in [SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs] {
            let seg = self.state.segs[s as usize];
            let conforming_code = seg.attr & (attr::CODE | attr::DC) == attr::CODE | attr::DC;
            if seg.valid && !conforming_code && seg.dpl() < cpl {
                self.state.segs[s as usize] = null_segment(0);
            }
        }
    }

    /// Protected-mode RETF [imm16] (SDM Vol. 2, RET "PROTECTED-MODE").
    fn retf_protected(&mut self, bus: &mut Bus, w: W, extra: u32) -> Res<()> {
        let n = w.bytes();
        let cpl = self.state.cpl;
        let off = self.peek(bus, 0, w)?;
        let sel = self.peek(bus, n, w)? as u16;
        if is_null(sel) {
            return Err(Fault::GP0);
        }
        let (d, daddr) = self.fetch_desc(bus, sel, vector::GP, 0)?;
        check_return_code(d, sel, cpl)?;
        let r = rpl(sel);
        if r == cpl {
            if off > d.limit() {
                return Err(Fault::GP0);
            }
            self.load_cs(bus, sel, d, daddr, cpl)?;
            self.state.eip = off;
            self.set_sp(self.sp_add(2 * n + extra));
            return Ok(());
        }
        // RETURN-TO-OUTER-PRIVILEGE-LEVEL.
        let esp = self.peek(bus, 2 * n + extra, w)?;
        let ss_sel = self.peek(bus, 3 * n + extra, w)? as u16;
        let (sd, saddr) = self.check_return_ss(bus, ss_sel, r)?;
        if off > d.limit() {
            return Err(Fault::GP0);
        }
        self.set_accessed(bus, sd, saddr)?;
        self.load_cs(bus, sel, d, daddr, r)?;
        self.state.segs[SegReg::Ss as usize] = sd.segment(ss_sel);
        // The new SS's B bit decides ESP or SP (as Bochs does).
        self.set_sp(esp.wrapping_add(extra));
        self.state.eip = off;
        self.revalidate_data_segments();
        Ok(())
    }

    /// IRET with NT = 1: return to the task in the back-link (SDM Vol. 2,
    /// IRET "TASK-RETURN"; Vol. 3A, 7.3).
    fn iret_task(&mut self, bus: &mut Bus) -> Res<()> {
        let link = self.read_sys_u16(bus, self.state.tr.base)?;
        if link & 4 != 0 {
            return Err(Fault::ts(u32::from(link & 0xfffc)));
        }
        let (d, daddr) = self.fetch_desc(bus, link, vector::TS, 0)?;
        if !(d.is_sys(sys::TSS16_BUSY) || d.is_sys(sys::TSS32_BUSY)) {
            return Err(Fault::sel(vector::TS, link));
        }
        if !d.present() {
            return Err(Fault::sel(vector::NP, link));
        }
        self.task_switch(bus, link, d, daddr, Switch::Iret, 0).map(|_| ())
    }

    /// IRET in virtual-8086 mode (SDM Vol. 2, IRET "IF VM = 1"): with IOPL
    /// 3 a real-mode style return that cannot change VM or IOPL; else
    /// #GP(0).
    fn iret_v86(&mut self, bus: &mut Bus, w: W) -> Res<()> {
        if self.state.iopl() < 3 {
            return Err(Fault::GP0);
        }
        let n = w.bytes();
        let off = self.peek(bus, 0, w)?;
        let sel = self.peek(bus, n, w)? as u16;
        let fl = self.peek(bus, 2 * n, w)?;
        if off > 0xffff {
            return Err(Fault::GP0);
        }
        self.load_seg(bus, SegReg::Cs, sel)?;
        self.state.eip = off;
        self.set_sp(self.sp_add(3 * n));
        let keep =
            flags::VM | flags::IOPL | flags::VIF | flags::VIP | if w == W::W { 0xffff_0000 } else { 0 };
        let old = self.state.eflags;
        self.state.eflags = ((old & keep) | (fl & !keep & flags::VALID)) | flags::FIXED1;
        Ok(())
    }

    /// Protected-mode IRET without NT (SDM Vol. 2, IRET
    /// "PROTECTED-MODE-RETURN", "RETURN-TO-VIRTUAL-8086-MODE",
    /// "RETURN-TO-SAME-PRIVILEGE-LEVEL", "RETURN-TO-OUTER-PRIVILEGE-LEVEL").
    fn iret_protected(&mut self, bus: &mut Bus, w: W) -> Res<()> {
        let n = w.bytes();
        let cpl = self.state.cpl;
        let off = self.peek(bus, 0, w)?;
        let sel = self.peek(bus, n, w)? as u16;
        let fl = self.peek(bus, 2 * n, w)?;
        if w == W::D && fl & flags::VM != 0 && cpl == 0 {
            // RETURN-TO-VIRTUAL-8086-MODE: ESP, SS, ES, DS, FS, GS follow.
            let mut v = [0u32; 6];
            for (k, x) in v.iter_mut().enumerate() {
                *x = self.peek(bus, 12 + 4 * k as u32, W::D)?;
            }
            if off > 0xffff {
                return Err(Fault::GP0);
            }
            self.state.eflags = (fl & flags::VALID) | flags::FIXED1;
            let seg = |sel: u32, a: u16| Segment::real(sel as u16, 0xffff, a | 3 << 5);
            self.state.segs[SegReg::Cs as usize] = seg(u32::from(sel), attr::CODE_RX);
            self.state.segs[SegReg::Ss as usize] = seg(v[1], attr::DATA_RW);
            self.state.segs[SegReg::Es as usize] = seg(v[2], attr::DATA_RW);
            self.state.segs[SegReg::Ds as usize] = seg(v[3], attr::DATA_RW);
            self.state.segs[SegReg::Fs as usize] = seg(v[4], attr::DATA_RW);
            self.state.segs[SegReg::Gs as usize] = seg(v[5], attr::DATA_RW);
            self.state.regs[reg::ESP] = v[0];
            self.state.eip = off;
            self.state.cpl = 3;
            return Ok(());
        }
        if is_null(sel) {
            return Err(Fault::GP0);
        }
        let (d, daddr) = self.fetch_desc(bus, sel, vector::GP, 0)?;
        check_return_code(d, sel, cpl)?;
        let r = rpl(sel);
        if r == cpl {
            if off > d.limit() {
                return Err(Fault::GP0);
            }
            self.load_cs(bus, sel, d, daddr, cpl)?;
            self.state.eip = off;
            self.set_sp(self.sp_add(3 * n));
            self.iret_flags(fl, w, cpl);
            return Ok(());
        }
        let esp = self.peek(bus, 3 * n, w)?;
        let ss_sel = self.peek(bus, 4 * n, w)? as u16;
        let (sd, saddr) = self.check_return_ss(bus, ss_sel, r)?;
        if off > d.limit() {
            return Err(Fault::GP0);
        }
        self.set_accessed(bus, sd, saddr)?;
        self.iret_flags(fl, w, cpl);
        self.load_cs(bus, sel, d, daddr, r)?;
        self.state.segs[SegReg::Ss as usize] = sd.segment(ss_sel);
        // The new SS's B bit decides ESP or SP (as Bochs does; the SDM
        // pseudo-code just says ESP := tempESP).
        self.set_sp(esp);
        self.state.eip = off;
        self.revalidate_data_segments();
        Ok(())
    }

    /// The EFLAGS update of a protected-mode IRET, with the privilege rules
    /// of the CPL before the return (SDM Vol. 2, IRET).
    fn iret_flags(&mut self, fl: u32, w: W, cpl: u8) {
        let mut mask = flags::ARITH | flags::TF | flags::DF | flags::NT;
        if w == W::D {
            mask |= flags::RF | flags::AC | flags::ID;
        }
        if cpl <= self.state.iopl() {
            mask |= flags::IF;
        }
        if cpl == 0 {
            mask |= flags::IOPL;
            if w == W::D {
                mask |= flags::VIF | flags::VIP;
            }
        }
        self.state.eflags = (self.state.eflags & !mask) | (fl & mask) | flags::FIXED1;
    }
}

#[cfg(test)]
mod tests {
    use crate::desc::testenv::*;
    use crate::fault::Fault;
    use crate::state::{flags, reg, SegReg};

    // call far 0x0043:0 (9A 00000000 4300) from CPL 3 through a DPL-3
    // 32-bit call gate with 2 parameters to ring-0 code: new stack from the
    // TSS, old SS:ESP, both parameters in the same order, CS:EIP. Then
    // retf 8 (CA 0800) at CPL 0 returns to ring 3 and nulls DS, which held
    // a ring-0 data segment.
    #[test]
    fn call_gate_copies_parameters_and_retf_returns_outward() {
        let mut e = Env::new();
        e.set_gdt(0x40, gate(0x08, 0x7000, 0xc, 3, 2));
        e.load_flat(3);
        e.cpu.state.regs[reg::ESP] = 0x6000 - 8;
        e.w32(0x6000 - 8, 0x1111); // parameter 1 (top of stack)
        e.w32(0x6000 - 4, 0x2222); // parameter 2
        e.code(&[0x9a, 0, 0, 0, 0, 0x43, 0]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.cpl, 0);
        assert_eq!(e.sel(SegReg::Cs), 0x08);
        assert_eq!(e.cpu.state.eip, 0x7000);
        assert_eq!(e.sel(SegReg::Ss), 0x10);
        assert_eq!(e.esp(), 0x9000 - 24);
        assert_eq!(e.r32(0x9000 - 4), 0x23, "old SS");
        assert_eq!(e.r32(0x9000 - 8), 0x6000 - 8, "old ESP");
        assert_eq!(e.r32(0x9000 - 12), 0x2222, "parameter 2");
        assert_eq!(e.r32(0x9000 - 16), 0x1111, "parameter 1");
        assert_eq!(e.r32(0x9000 - 20), 0x1b, "old CS");
        assert_eq!(e.r32(0x9000 - 24), CODE + 7, "return EIP");

        // In the handler: DS = ring-0 data, then retf 8.
        e.cpu.state.segs[SegReg::Ds as usize] = crate::desc::Desc(DATA0).segment(0x10);
        e.bus.mem.write(mem::PhysAddr(0x7000), &[0xca, 8, 0]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.cpl, 3);
        assert_eq!(e.cpu.state.eip, CODE + 7);
        assert_eq!(e.sel(SegReg::Ss), 0x23);
        assert_eq!(e.esp(), 0x6000, "parameters released");
        assert_eq!(e.sel(SegReg::Ds), 0);
        assert!(!e.cpu.state.seg(SegReg::Ds).valid);
        assert_eq!(e.sel(SegReg::Es), 0x23, "ES was usable at CPL 3");
    }

    // jmp far 0x001b:0x5000 (EA 00500000 1B00) at CPL 0 to ring-3 code:
    // a nonconforming segment needs DPL = CPL, so #GP(0x18).
    #[test]
    fn far_jmp_to_other_privilege_is_gp() {
        let mut e = Env::new();
        e.code(&[0xea, 0, 0x50, 0, 0, 0x1b, 0]);
        assert_eq!(e.step(), Err(Fault::gp(0x18)));
        // Not present: #NP(sel).
        e.set_gdt(0x48, CODE0 & !(0x80 << 40));
        e.code(&[0xea, 0, 0x50, 0, 0, 0x48, 0]);
        assert_eq!(e.step(), Err(Fault::np(0x48)));
    }

    // iretd (CF) at CPL 0 with VM set in the popped EFLAGS enters
    // virtual-8086 mode, popping ESP, SS, ES, DS, FS, GS; int 0x80 (CD 80)
    // there with IOPL 3 goes back to ring 0 through the TSS stack, pushing
    // GS, FS, DS, ES too and nulling them.
    #[test]
    fn iret_to_v86_and_interrupt_back() {
        let mut e = Env::new();
        let frame = [
            0x0100,
            0x2000,
            flags::VM | flags::IOPL | flags::FIXED1,
            0x0ffe,
            0x3000,
            0x11,
            0x22,
            0x33,
            0x44,
        ];
        for (k, v) in frame.iter().enumerate() {
            e.w32(0x8000 + 4 * k as u32, *v);
        }
        e.code(&[0xcf]);
        e.step().unwrap();
        assert!(e.cpu.state.v86());
        assert_eq!(e.cpu.state.cpl, 3);
        assert_eq!(e.cpu.state.eip, 0x100);
        assert_eq!(e.cpu.state.seg(SegReg::Cs).base, 0x20000);
        assert_eq!(e.sel(SegReg::Ss), 0x3000);
        assert_eq!(e.esp(), 0x0ffe);
        assert_eq!(e.sel(SegReg::Gs), 0x44);

        e.set_idt(0x80, gate(0x08, 0x7000, 0xe, 3, 0));
        e.bus.mem.write(mem::PhysAddr(0x20100), &[0xcd, 0x80]);
        e.step().unwrap();
        assert!(!e.cpu.state.v86());
        assert_eq!(e.cpu.state.cpl, 0);
        assert_eq!(e.esp(), 0x9000 - 36);
        assert_eq!(e.r32(0x9000 - 4), 0x44, "GS");
        assert_eq!(e.r32(0x9000 - 16), 0x11, "ES");
        assert_eq!(e.r32(0x9000 - 20), 0x3000, "SS");
        assert_eq!(e.r32(0x9000 - 28) & flags::VM, flags::VM, "EFLAGS.VM");
        assert_eq!(e.r32(0x9000 - 36), 0x102, "EIP");
        assert!(!e.cpu.state.seg(SegReg::Ds).valid);
        assert_eq!(e.sel(SegReg::Ds), 0);
    }

    // In virtual-8086 mode with IOPL < 3, iret (CF) and int 0x80 (CD 80)
    // are #GP(0).
    #[test]
    fn v86_iopl_sensitive_instructions_fault() {
        let mut e = Env::new();
        e.cpu.state.eflags |= flags::VM;
        e.cpu.state.cpl = 3;
        for r in SegReg::ALL {
            e.cpu.state.segs[r as usize] =
                crate::state::Segment::real(0, 0xffff, crate::attr::DATA_RW | 3 << 5);
        }
        e.code(&[0xcf]);
        assert_eq!(e.step(), Err(Fault::GP0));
        e.code(&[0xcd, 0x80]);
        assert_eq!(e.step(), Err(Fault::GP0));
    }

    // lss esp, [0x6000] (0F B2 25 00600000) loads SS:ESP; mov ds, ax with a
    // null selector is fine but lss with a null selector is #GP(0).
    #[test]
    fn lss_loads_stack_and_checks_null() {
        let mut e = Env::new();
        e.w32(0x6000, 0x4321);
        e.w16(0x6004, 0x10);
        e.code(&[0x0f, 0xb2, 0x25, 0, 0x60, 0, 0]);
        e.step().unwrap();
        assert_eq!(e.esp(), 0x4321);
        assert!(e.cpu.state.intr_shadow);
        e.w16(0x6004, 0);
        e.code(&[0x0f, 0xb2, 0x25, 0, 0x60, 0, 0]);
        assert_eq!(e.step(), Err(Fault::GP0));
        assert_eq!(e.esp(), 0x4321);
    }

    // bound eax, [0x6000] (62 05 00600000): signed bounds, #BR outside.
    #[test]
    fn bound_checks_signed_range() {
        let mut e = Env::new();
        e.w32(0x6000, (-5i32) as u32);
        e.w32(0x6004, 10);
        e.cpu.state.regs[reg::EAX] = (-5i32) as u32;
        e.code(&[0x62, 0x05, 0, 0x60, 0, 0]);
        e.step().unwrap();
        e.cpu.state.regs[reg::EAX] = 11;
        e.code(&[0x62, 0x05, 0, 0x60, 0, 0]);
        assert_eq!(e.step(), Err(Fault::BR));
    }

    // iretd (CF) at CPL 0 to ring 3: pops EIP, CS, EFLAGS, ESP, SS; IOPL
    // and IF come from the image because the old CPL was 0.
    #[test]
    fn iret_to_outer_privilege() {
        let mut e = Env::new();
        let fl = flags::FIXED1 | flags::IF | flags::IOPL | flags::CF;
        for (k, v) in [0x5100u32, 0x1b, fl, 0x6000, 0x23].iter().enumerate() {
            e.w32(0x8000 + 4 * k as u32, *v);
        }
        e.code(&[0xcf]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.cpl, 3);
        assert_eq!(e.cpu.state.eip, 0x5100);
        assert_eq!(e.esp(), 0x6000);
        assert_eq!(e.sel(SegReg::Ss), 0x23);
        assert_eq!(e.cpu.state.eflags, fl);
        // Returning to a more privileged level is #GP(sel).
        e.load_flat(3);
        e.cpu.state.regs[reg::ESP] = 0x8000;
        e.w32(0x8004, 0x08);
        e.code(&[0xcf]);
        assert_eq!(e.step(), Err(Fault::gp(0x08)));
    }

    // call far 0x0048:0x5100 (9A 00510000 4800) from CPL 3 to a ring-0
    // conforming code segment keeps CPL 3 and the ring-3 stack.
    #[test]
    fn conforming_code_keeps_cpl() {
        let mut e = Env::new();
        e.set_gdt(0x48, seg(0, 0xfffff, 0x9e, 0xc));
        e.load_flat(3);
        e.cpu.state.regs[reg::ESP] = 0x6000;
        e.code(&[0x9a, 0, 0x51, 0, 0, 0x48, 0]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.cpl, 3);
        assert_eq!(e.sel(SegReg::Cs), 0x4b);
        assert_eq!(e.esp(), 0x6000 - 8);
        assert_eq!(e.r32(0x6000 - 4), 0x1b);
    }
}
