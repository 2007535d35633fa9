//! Specialised handlers for the commonest forms of the commonest
//! instructions (32-bit ALU and MOV between registers, immediates and
//! memory; INC/DEC, PUSH/POP of a register; Jcc). They do what the generic
//! handlers do, minus the per-execution operand decoding: the operands come
//! from the decode-time summary ([`Pre`]). The generic handlers remain the
//! reference; these are checked against them by the same tests and oracle.

use super::arith::{add_flags, sub_flags};
use super::data::cond;
use super::ops::{szp, Opd, Pre, W};
use super::Handler;
use crate::fault::Res;
use crate::state::flags;
use crate::state::{reg, SegReg};
use crate::{Bus, Cpu};
use iced_x86::{Code, Instruction, Mnemonic};

const ADD: u8 = 0;
const OR: u8 = 1;
const ADC: u8 = 2;
const SBB: u8 = 3;
const AND: u8 = 4;
const SUB: u8 = 5;
const XOR: u8 = 6;
const CMP: u8 = 7;
const TEST: u8 = 8;
const MOV: u8 = 9;

/// A specialised handler for `i`, if it has one of the covered forms.
pub(super) fn lookup(i: &Instruction, p: &Pre) -> Option<Handler> {
    // 32-bit stack operations (they fall back to the generic handlers when
    // the stack is 16-bit).
    match i.code() {
        Code::Push_r32 => return Some(push_r32),
        Code::Pop_r32 => return Some(pop_r32),
        Code::Call_rel32_32 => return Some(call_rel32),
        Code::Retnd => return Some(ret32),
        _ => {}
    }
    let op = match i.mnemonic() {
        Mnemonic::Add => ADD,
        Mnemonic::Or => OR,
        Mnemonic::Adc => ADC,
        Mnemonic::Sbb => SBB,
        Mnemonic::And => AND,
        Mnemonic::Sub => SUB,
        Mnemonic::Xor => XOR,
        Mnemonic::Cmp => CMP,
        Mnemonic::Test => TEST,
        Mnemonic::Mov => MOV,
        Mnemonic::Inc | Mnemonic::Dec if matches!(p.op[0], Opd::R32(_)) => {
            return Some(if i.mnemonic() == Mnemonic::Inc {
                inc_r32
            } else {
                dec_r32
            });
        }
        _ if i.is_jcc_short_or_near() && p.op[0] == Opd::Imm => return Some(jcc_rel),
        _ => return None,
    };
    let mem32 = p.mem_bytes == 4;
    macro_rules! pick {
        ($f:ident) => {
            match op {
                ADD => $f::<ADD>,
                OR => $f::<OR>,
                ADC => $f::<ADC>,
                SBB => $f::<SBB>,
                AND => $f::<AND>,
                SUB => $f::<SUB>,
                XOR => $f::<XOR>,
                CMP => $f::<CMP>,
                TEST => $f::<TEST>,
                _ => $f::<MOV>,
            }
        };
    }
    Some(match (p.op[0], p.op[1]) {
        (Opd::R32(_), Opd::R32(_)) => pick!(r_r),
        (Opd::R32(_), Opd::Imm) => pick!(r_i),
        (Opd::R32(_), Opd::Mem) if mem32 => pick!(r_m),
        (Opd::Mem, Opd::R32(_)) if mem32 => pick!(m_r),
        (Opd::Mem, Opd::Imm) if mem32 => pick!(m_i),
        _ => return None,
    })
}

/// Apply ALU operation `OP` to 32-bit `a` and `b`, setting the flags;
/// returns the result to store (MOV: `b`).
#[inline(always)]
fn alu<const OP: u8>(cpu: &mut Cpu, a: u32, b: u32) -> u32 {
    let (r, f) = match OP {
        ADD => add_flags(a, b, 0, W::D),
        ADC => add_flags(a, b, cpu.cf(), W::D),
        SUB | CMP => sub_flags(a, b, 0, W::D),
        SBB => sub_flags(a, b, cpu.cf(), W::D),
        OR => (a | b, szp(a | b, W::D)),
        AND | TEST => (a & b, szp(a & b, W::D)),
        XOR => (a ^ b, szp(a ^ b, W::D)),
        _ => return b,
    };
    cpu.set_arith(f);
    r
}

/// Whether `OP` writes its destination.
const fn writes(op: u8) -> bool {
    op != CMP && op != TEST
}

#[inline(always)]
fn reg(o: Opd) -> usize {
    match o {
        Opd::R32(r) => r as usize,
        _ => unreachable!("fast handler chosen for a non-register operand"),
    }
}

fn r_r<const OP: u8>(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    let (d, s) = (reg(cpu.cur.op[0]), reg(cpu.cur.op[1]));
    let r = alu::<OP>(cpu, cpu.state.regs[d], cpu.state.regs[s]);
    if writes(OP) {
        cpu.state.regs[d] = r;
    }
    Ok(())
}

fn r_i<const OP: u8>(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    let d = reg(cpu.cur.op[0]);
    let r = alu::<OP>(cpu, cpu.state.regs[d], cpu.cur.imm);
    if writes(OP) {
        cpu.state.regs[d] = r;
    }
    Ok(())
}

fn r_m<const OP: u8>(cpu: &mut Cpu, bus: &mut Bus, _i: &Instruction) -> Res<()> {
    let d = reg(cpu.cur.op[0]);
    let (s, off) = cpu.ea_pre();
    let b = u32::from_le_bytes(cpu.read_seg::<4>(bus, s, off)?);
    let r = alu::<OP>(cpu, cpu.state.regs[d], b);
    if writes(OP) {
        cpu.state.regs[d] = r;
    }
    Ok(())
}

fn m_r<const OP: u8>(cpu: &mut Cpu, bus: &mut Bus, _i: &Instruction) -> Res<()> {
    let b = cpu.state.regs[reg(cpu.cur.op[1])];
    mem_op::<OP>(cpu, bus, b)
}

fn m_i<const OP: u8>(cpu: &mut Cpu, bus: &mut Bus, _i: &Instruction) -> Res<()> {
    let b = cpu.cur.imm;
    mem_op::<OP>(cpu, bus, b)
}

#[inline(always)]
fn mem_op<const OP: u8>(cpu: &mut Cpu, bus: &mut Bus, b: u32) -> Res<()> {
    let (s, off) = cpu.ea_pre();
    if OP == MOV {
        return cpu.write_seg(bus, s, off, b.to_le_bytes());
    }
    let a = if writes(OP) {
        u32::from_le_bytes(cpu.read_seg_rmw::<4>(bus, s, off)?)
    } else {
        u32::from_le_bytes(cpu.read_seg::<4>(bus, s, off)?)
    };
    let old = cpu.state.eflags;
    let r = alu::<OP>(cpu, a, b);
    if writes(OP) {
        if let Err(f) = cpu.write_seg(bus, s, off, r.to_le_bytes()) {
            cpu.state.eflags = old;
            return Err(f);
        }
    }
    Ok(())
}

fn inc_r32(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    let d = reg(cpu.cur.op[0]);
    let (r, f) = add_flags(cpu.state.regs[d], 1, 0, W::D);
    cpu.state.regs[d] = r;
    cpu.set_arith((f & !flags::CF) | cpu.cf());
    Ok(())
}

fn dec_r32(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    let d = reg(cpu.cur.op[0]);
    let (r, f) = sub_flags(cpu.state.regs[d], 1, 0, W::D);
    cpu.state.regs[d] = r;
    cpu.set_arith((f & !flags::CF) | cpu.cf());
    Ok(())
}

fn jcc_rel(cpu: &mut Cpu, _bus: &mut Bus, i: &Instruction) -> Res<()> {
    if cond(cpu.state.eflags, i.condition_code()) {
        cpu.jump_near(cpu.cur.imm)?;
    }
    Ok(())
}

/// PUSH r32 on a 32-bit stack.
fn push_r32(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if !cpu.state.stack32() {
        return super::stack::generic_push(cpu, bus, i);
    }
    // PUSH ESP pushes the value before the push.
    let v = cpu.state.regs[reg(cpu.cur.op[0])];
    let sp = cpu.state.regs[reg::ESP].wrapping_sub(4);
    cpu.write_seg(bus, SegReg::Ss, sp, v.to_le_bytes())?;
    cpu.state.regs[reg::ESP] = sp;
    Ok(())
}

/// POP r32 from a 32-bit stack (POP ESP loads the popped value).
fn pop_r32(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if !cpu.state.stack32() {
        return super::stack::generic_pop(cpu, bus, i);
    }
    let sp = cpu.state.regs[reg::ESP];
    let v = u32::from_le_bytes(cpu.read_seg::<4>(bus, SegReg::Ss, sp)?);
    cpu.state.regs[reg::ESP] = sp.wrapping_add(4);
    cpu.state.regs[reg(cpu.cur.op[0])] = v;
    Ok(())
}

/// CALL rel32 with a 32-bit stack.
fn call_rel32(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if !cpu.state.stack32() {
        return super::ctrl::generic_call(cpu, bus, i);
    }
    let t = cpu.cur.imm;
    if t > cpu.state.seg(SegReg::Cs).limit {
        return Err(crate::fault::Fault::GP0);
    }
    let sp = cpu.state.regs[reg::ESP].wrapping_sub(4);
    cpu.write_seg(bus, SegReg::Ss, sp, cpu.state.eip.to_le_bytes())?;
    cpu.state.regs[reg::ESP] = sp;
    cpu.state.eip = t;
    Ok(())
}

/// RET (32-bit operand size, no immediate) with a 32-bit stack.
fn ret32(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if !cpu.state.stack32() {
        return super::ctrl::generic_ret(cpu, bus, i);
    }
    let sp = cpu.state.regs[reg::ESP];
    let t = u32::from_le_bytes(cpu.read_seg::<4>(bus, SegReg::Ss, sp)?);
    if t > cpu.state.seg(SegReg::Cs).limit {
        return Err(crate::fault::Fault::GP0);
    }
    cpu.state.regs[reg::ESP] = sp.wrapping_add(4);
    cpu.state.eip = t;
    Ok(())
}
