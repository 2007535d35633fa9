//! Near control transfers: JMP, Jcc, CALL, RET, LOOPcc, JCXZ/JECXZ. Far
//! forms are handed to `far`.

use super::data::cond;
use super::ops::W;
use super::Handler;
use crate::fault::{Fault, Res};
use crate::state::{reg, SegReg};
use crate::{Bus, Cpu};
use iced_x86::{Code, Instruction, Mnemonic, OpKind};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Jmp => jmp,
        Mnemonic::Jo
        | Mnemonic::Jno
        | Mnemonic::Jb
        | Mnemonic::Jae
        | Mnemonic::Je
        | Mnemonic::Jne
        | Mnemonic::Jbe
        | Mnemonic::Ja
        | Mnemonic::Js
        | Mnemonic::Jns
        | Mnemonic::Jp
        | Mnemonic::Jnp
        | Mnemonic::Jl
        | Mnemonic::Jge
        | Mnemonic::Jle
        | Mnemonic::Jg => jcc,
        Mnemonic::Call => generic_call,
        Mnemonic::Ret => generic_ret,
        Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne => loopcc,
        Mnemonic::Jcxz | Mnemonic::Jecxz => jcxz,
        _ => return None,
    })
}

impl Cpu {
    /// Jump to `target` in the current code segment: #GP(0) past the limit
    /// (SDM Vol. 2, JMP).
    #[inline]
    pub(crate) fn jump_near(&mut self, target: u32) -> Res<()> {
        if target > self.state.seg(SegReg::Cs).limit {
            return Err(Fault::GP0);
        }
        self.state.eip = target;
        Ok(())
    }
}

fn is_far(i: &Instruction) -> bool {
    matches!(i.op0_kind(), OpKind::FarBranch16 | OpKind::FarBranch32)
        || matches!(
            i.memory_size(),
            iced_x86::MemorySize::SegPtr16 | iced_x86::MemorySize::SegPtr32
        )
}

/// Target of a near branch operand (relative, register or memory), with the
/// operand size's truncation.
fn target(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<u32> {
    match i.op0_kind() {
        OpKind::NearBranch16 => Ok(u32::from(i.near_branch16())),
        OpKind::NearBranch32 => Ok(i.near_branch32()),
        _ => cpu.read_op(bus, i, 0),
    }
}

fn jmp(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if is_far(i) {
        return super::far::jmp_far(cpu, bus, i);
    }
    let t = target(cpu, bus, i)?;
    cpu.jump_near(t)
}

fn jcc(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if cond(cpu.state.eflags, i.condition_code()) {
        let t = target(cpu, bus, i)?;
        cpu.jump_near(t)?;
    }
    Ok(())
}

/// CALL, any form.
pub(super) fn generic_call(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if is_far(i) {
        return super::far::call_far(cpu, bus, i);
    }
    let w = W::from_bytes(i.stack_pointer_increment().unsigned_abs());
    let t = target(cpu, bus, i)?;
    if t > cpu.state.seg(SegReg::Cs).limit {
        return Err(Fault::GP0);
    }
    let ret = cpu.state.eip;
    cpu.push(bus, ret, w)?;
    cpu.state.eip = t;
    Ok(())
}

/// Near RET, any form.
pub(super) fn generic_ret(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = if matches!(i.code(), Code::Retnw | Code::Retnw_imm16) {
        W::W
    } else {
        W::D
    };
    let t = cpu.peek(bus, 0, w)?;
    if t > cpu.state.seg(SegReg::Cs).limit {
        return Err(Fault::GP0);
    }
    let extra = if i.op_count() > 0 {
        u32::from(i.immediate16())
    } else {
        0
    };
    cpu.set_sp(cpu.sp_add(w.bytes() + extra));
    cpu.state.eip = t;
    Ok(())
}

/// The count register of LOOP/JCXZ: CX or ECX by address size.
fn counter32(i: &Instruction) -> bool {
    matches!(
        i.code(),
        Code::Loop_rel8_16_ECX
            | Code::Loop_rel8_32_ECX
            | Code::Loope_rel8_16_ECX
            | Code::Loope_rel8_32_ECX
            | Code::Loopne_rel8_16_ECX
            | Code::Loopne_rel8_32_ECX
            | Code::Jecxz_rel8_16
            | Code::Jecxz_rel8_32
    )
}

fn loopcc(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let c32 = counter32(i);
    let c = if c32 {
        cpu.state.regs[reg::ECX].wrapping_sub(1)
    } else {
        cpu.state.regs[reg::ECX].wrapping_sub(1) & 0xffff
    };
    let zf = cpu.state.eflags & crate::state::flags::ZF != 0;
    let taken = c != 0
        && match i.mnemonic() {
            Mnemonic::Loope => zf,
            Mnemonic::Loopne => !zf,
            _ => true,
        };
    if taken {
        let t = target(cpu, bus, i)?;
        cpu.jump_near(t)?;
    }
    if c32 {
        cpu.state.regs[reg::ECX] = c;
    } else {
        cpu.set_reg(iced_x86::Register::CX, c);
    }
    Ok(())
}

fn jcxz(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let c = if counter32(i) {
        cpu.state.regs[reg::ECX]
    } else {
        cpu.state.regs[reg::ECX] & 0xffff
    };
    if c == 0 {
        let t = target(cpu, bus, i)?;
        cpu.jump_near(t)?;
    }
    Ok(())
}
