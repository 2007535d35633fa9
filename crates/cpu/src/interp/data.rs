//! Data movement and flag instructions: MOV, MOVZX, MOVSX, XCHG, LEA, the
//! sign extensions, XLAT, CMOVcc, SETcc, LAHF/SAHF, CLC/STC/CMC/CLD/STD, NOP.

use super::ops::{op_width, reg_width, W};
use super::Handler;
use crate::fault::Res;
use crate::state::{flags, reg};
use crate::{Bus, Cpu};
use iced_x86::{ConditionCode, Instruction, Mnemonic, OpKind, Register};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Mov => mov,
        Mnemonic::Movzx => movzx,
        Mnemonic::Movsx => movsx,
        Mnemonic::Xchg => xchg,
        Mnemonic::Lea => lea,
        Mnemonic::Cbw => |c, _, _| {
            c.set_reg(Register::AX, W::B.sext(c.state.regs[reg::EAX]));
            Ok(())
        },
        Mnemonic::Cwde => |c, _, _| {
            c.state.regs[reg::EAX] = W::W.sext(c.state.regs[reg::EAX]);
            Ok(())
        },
        Mnemonic::Cwd => |c, _, _| {
            let hi = if c.state.regs[reg::EAX] & 0x8000 != 0 {
                0xffff
            } else {
                0
            };
            c.set_reg(Register::DX, hi);
            Ok(())
        },
        Mnemonic::Cdq => |c, _, _| {
            c.state.regs[reg::EDX] = ((c.state.regs[reg::EAX] as i32) >> 31) as u32;
            Ok(())
        },
        Mnemonic::Xlatb => xlat,
        Mnemonic::Cmovo
        | Mnemonic::Cmovno
        | Mnemonic::Cmovb
        | Mnemonic::Cmovae
        | Mnemonic::Cmove
        | Mnemonic::Cmovne
        | Mnemonic::Cmovbe
        | Mnemonic::Cmova
        | Mnemonic::Cmovs
        | Mnemonic::Cmovns
        | Mnemonic::Cmovp
        | Mnemonic::Cmovnp
        | Mnemonic::Cmovl
        | Mnemonic::Cmovge
        | Mnemonic::Cmovle
        | Mnemonic::Cmovg => cmov,
        Mnemonic::Seto
        | Mnemonic::Setno
        | Mnemonic::Setb
        | Mnemonic::Setae
        | Mnemonic::Sete
        | Mnemonic::Setne
        | Mnemonic::Setbe
        | Mnemonic::Seta
        | Mnemonic::Sets
        | Mnemonic::Setns
        | Mnemonic::Setp
        | Mnemonic::Setnp
        | Mnemonic::Setl
        | Mnemonic::Setge
        | Mnemonic::Setle
        | Mnemonic::Setg => setcc,
        Mnemonic::Lahf => |c, _, _| {
            let v = c.state.eflags & (flags::ARITH & !flags::OF) | flags::FIXED1;
            c.set_reg(Register::AH, v);
            Ok(())
        },
        Mnemonic::Sahf => |c, _, _| {
            let ah = (c.state.regs[reg::EAX] >> 8) & (flags::ARITH & !flags::OF);
            c.state.eflags = (c.state.eflags & !(flags::ARITH & !flags::OF)) | ah;
            Ok(())
        },
        Mnemonic::Clc => |c, _, _| flag(c, flags::CF, false),
        Mnemonic::Stc => |c, _, _| flag(c, flags::CF, true),
        Mnemonic::Cmc => |c, _, _| {
            c.state.eflags ^= flags::CF;
            Ok(())
        },
        Mnemonic::Cld => |c, _, _| flag(c, flags::DF, false),
        Mnemonic::Std => |c, _, _| flag(c, flags::DF, true),
        // The reserved-NOP space (0F 0D, 0F 18-0F 1F) executes as NOP.
        Mnemonic::Nop | Mnemonic::Pause | Mnemonic::Reservednop => |_, _, _| Ok(()),
        // WAIT/FWAIT with no x87 yet: #NM when CR0.MP and CR0.TS are both
        // set (SDM Vol. 2, WAIT), otherwise nothing to wait for.
        Mnemonic::Wait => |c, _, _| {
            use crate::state::cr0;
            if c.state.cr0 & (cr0::MP | cr0::TS) == cr0::MP | cr0::TS {
                return Err(crate::fault::Fault::NM);
            }
            Ok(())
        },
        Mnemonic::Ud0 | Mnemonic::Ud1 | Mnemonic::Ud2 => |_, _, _| Err(crate::fault::Fault::UD),
        Mnemonic::Salc => |c, _, _| {
            let v = if c.cf() != 0 { 0xff } else { 0 };
            c.set_reg(Register::AL, v);
            Ok(())
        },
        _ => return None,
    })
}

fn flag(cpu: &mut Cpu, f: u32, on: bool) -> Res<()> {
    if on {
        cpu.state.eflags |= f;
    } else {
        cpu.state.eflags &= !f;
    }
    Ok(())
}

/// Evaluate a condition code against EFLAGS (SDM Vol. 1, B.1).
#[inline]
pub(crate) fn cond(eflags: u32, cc: ConditionCode) -> bool {
    let f = |b: u32| eflags & b != 0;
    match cc {
        ConditionCode::o => f(flags::OF),
        ConditionCode::no => !f(flags::OF),
        ConditionCode::b => f(flags::CF),
        ConditionCode::ae => !f(flags::CF),
        ConditionCode::e => f(flags::ZF),
        ConditionCode::ne => !f(flags::ZF),
        ConditionCode::be => f(flags::CF) || f(flags::ZF),
        ConditionCode::a => !f(flags::CF) && !f(flags::ZF),
        ConditionCode::s => f(flags::SF),
        ConditionCode::ns => !f(flags::SF),
        ConditionCode::p => f(flags::PF),
        ConditionCode::np => !f(flags::PF),
        ConditionCode::l => f(flags::SF) != f(flags::OF),
        ConditionCode::ge => f(flags::SF) == f(flags::OF),
        ConditionCode::le => f(flags::ZF) || f(flags::SF) != f(flags::OF),
        ConditionCode::g => !f(flags::ZF) && f(flags::SF) == f(flags::OF),
        ConditionCode::None => true,
    }
}

fn mov(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if i.op0_kind() == OpKind::Register {
        let r = i.op0_register();
        if r.is_segment_register() {
            let v = cpu.read_op(bus, i, 1)? as u16;
            return cpu.mov_to_seg(bus, r, v);
        }
        if r.is_cr() || r.is_dr() || r.is_tr() {
            return super::system::mov_to_special(cpu, bus, i);
        }
    }
    if i.op1_kind() == OpKind::Register {
        let r = i.op1_register();
        if r.is_cr() || r.is_dr() || r.is_tr() {
            return super::system::mov_from_special(cpu, bus, i);
        }
    }
    let v = cpu.read_op(bus, i, 1)?;
    cpu.write_op(bus, i, 0, v)
}

fn movzx(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let v = cpu.read_op(bus, i, 1)?;
    cpu.write_op(bus, i, 0, v)
}

fn movsx(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = op_width(i, 1);
    let v = cpu.read_op(bus, i, 1)?;
    cpu.write_op(bus, i, 0, w.sext(v))
}

/// XCHG: with a memory operand the exchange is locked; both orders of the
/// operands occur.
fn xchg(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let a = cpu.read_op_rmw(bus, i, 0)?;
    let b = cpu.read_op_rmw(bus, i, 1)?;
    if i.op0_kind() == OpKind::Memory {
        cpu.write_op(bus, i, 0, b)?;
        cpu.write_op(bus, i, 1, a)
    } else {
        cpu.write_op(bus, i, 1, a)?;
        cpu.write_op(bus, i, 0, b)
    }
}

/// LEA: the offset, truncated to the operand size.
fn lea(cpu: &mut Cpu, _bus: &mut Bus, i: &Instruction) -> Res<()> {
    let (_, off) = cpu.ea(i);
    let r = i.op0_register();
    cpu.set_reg(r, off & reg_width(r).mask());
    Ok(())
}

/// XLAT: AL = [seg:(E)BX + AL].
fn xlat(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let (s, _) = cpu.ea(i);
    let al = cpu.state.regs[reg::EAX] & 0xff;
    let off = if i.memory_base() == Register::BX {
        (cpu.state.regs[reg::EBX].wrapping_add(al)) & 0xffff
    } else {
        cpu.state.regs[reg::EBX].wrapping_add(al)
    };
    let v = cpu.read_mem(bus, s, off, W::B)?;
    cpu.set_reg(Register::AL, v);
    Ok(())
}

/// CMOVcc reads its source even when the condition is false (so it can
/// fault), and a 32-bit destination is written... only if the condition
/// holds (on P6 the upper bits are untouched in 32-bit mode either way).
fn cmov(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let v = cpu.read_op(bus, i, 1)?;
    if cond(cpu.state.eflags, i.condition_code()) {
        cpu.write_op(bus, i, 0, v)?;
    }
    Ok(())
}

fn setcc(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let v = u32::from(cond(cpu.state.eflags, i.condition_code()));
    cpu.write_op(bus, i, 0, v)
}
