//! Far control transfers and software interrupts: far JMP/CALL, RETF, IRET,
//! INT n, INT3, INTO, INT1, BOUND... (real-mode paths; protected mode to come).

use super::ops::W;
use super::Handler;
use crate::fault::{Fault, Res};
use crate::intr::Source;
use crate::state::{flags, SegReg};
use crate::{Bus, Cpu};
use iced_x86::{Code, Instruction, Mnemonic, OpKind};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Retf => retf,
        Mnemonic::Iret | Mnemonic::Iretd => iret,
        Mnemonic::Int => int,
        Mnemonic::Int3 => int3,
        Mnemonic::Into => into,
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
    Err(Fault::GP0)
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
    Err(Fault::GP0)
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
    Err(Fault::GP0)
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
    Err(Fault::GP0)
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
