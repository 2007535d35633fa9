//! Integer addition and subtraction: ADD, ADC, SUB, SBB, CMP, INC, DEC, NEG
//! (SDM Vol. 2). Flags are computed eagerly.

use super::ops::{szp, W};
use super::Handler;
use crate::fault::Res;
use crate::state::flags;
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Add => add,
        Mnemonic::Adc => adc,
        Mnemonic::Sub => sub,
        Mnemonic::Sbb => sbb,
        Mnemonic::Cmp => cmp,
        Mnemonic::Inc => inc,
        Mnemonic::Dec => dec,
        Mnemonic::Neg => neg,
        _ => return None,
    })
}

/// `a + b + carry` at width `w`: (result, arithmetic flags).
#[inline(always)]
pub(crate) fn add_flags(a: u32, b: u32, carry: u32, w: W) -> (u32, u32) {
    let m = w.mask();
    let (a, b) = (a & m, b & m);
    let wide = u64::from(a) + u64::from(b) + u64::from(carry);
    let r = (wide as u32) & m;
    let mut f = szp(r, w);
    if wide > u64::from(m) {
        f |= flags::CF;
    }
    if (a ^ r) & (b ^ r) & w.sign() != 0 {
        f |= flags::OF;
    }
    f |= (a ^ b ^ r) & flags::AF;
    (r, f)
}

/// `a - b - borrow` at width `w`: (result, arithmetic flags).
#[inline(always)]
pub(crate) fn sub_flags(a: u32, b: u32, borrow: u32, w: W) -> (u32, u32) {
    let m = w.mask();
    let (a, b) = (a & m, b & m);
    let r = a.wrapping_sub(b).wrapping_sub(borrow) & m;
    let mut f = szp(r, w);
    if u64::from(a) < u64::from(b) + u64::from(borrow) {
        f |= flags::CF;
    }
    if (a ^ b) & (a ^ r) & w.sign() != 0 {
        f |= flags::OF;
    }
    f |= (a ^ b ^ r) & flags::AF;
    (r, f)
}

/// Two-operand read-modify-write with `f(a, b, cf)`.
#[inline]
fn binop(
    cpu: &mut Cpu,
    bus: &mut Bus,
    i: &Instruction,
    write: bool,
    f: fn(u32, u32, u32, W) -> (u32, u32),
    use_cf: bool,
) -> Res<()> {
    let w = cpu.width0(i);
    let a = if write {
        cpu.read_op_rmw(bus, i, 0)?
    } else {
        cpu.read_op(bus, i, 0)?
    };
    let b = cpu.read_op(bus, i, 1)?;
    let c = if use_cf { cpu.cf() } else { 0 };
    let (r, fl) = f(a, b, c, w);
    if write {
        cpu.write_op(bus, i, 0, r)?;
    }
    cpu.set_arith(fl);
    Ok(())
}

fn add(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    binop(cpu, bus, i, true, add_flags, false)
}

fn adc(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    binop(cpu, bus, i, true, add_flags, true)
}

fn sub(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    binop(cpu, bus, i, true, sub_flags, false)
}

fn sbb(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    binop(cpu, bus, i, true, sub_flags, true)
}

fn cmp(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    binop(cpu, bus, i, false, sub_flags, false)
}

/// INC/DEC leave CF alone.
fn incdec(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, f: fn(u32, u32, u32, W) -> (u32, u32)) -> Res<()> {
    let w = cpu.width0(i);
    let a = cpu.read_op_rmw(bus, i, 0)?;
    let (r, fl) = f(a, 1, 0, w);
    cpu.write_op(bus, i, 0, r)?;
    cpu.set_arith((fl & !flags::CF) | cpu.cf());
    Ok(())
}

fn inc(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    incdec(cpu, bus, i, add_flags)
}

fn dec(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    incdec(cpu, bus, i, sub_flags)
}

fn neg(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = cpu.width0(i);
    let a = cpu.read_op_rmw(bus, i, 0)?;
    let (r, fl) = sub_flags(0, a, 0, w);
    cpu.write_op(bus, i, 0, r)?;
    cpu.set_arith(fl);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_sub_flags() {
        let (r, f) = add_flags(0x7f, 1, 0, W::B);
        assert_eq!(r, 0x80);
        assert_eq!(f, flags::OF | flags::SF | flags::AF);
        let (r, f) = add_flags(0xffff_ffff, 1, 0, W::D);
        assert_eq!(r, 0);
        assert_eq!(f, flags::CF | flags::ZF | flags::PF | flags::AF);
        let (r, f) = sub_flags(0, 1, 0, W::W);
        assert_eq!(r, 0xffff);
        assert_eq!(f, flags::CF | flags::SF | flags::PF | flags::AF);
        let (r, f) = sub_flags(0x80, 1, 0, W::B);
        assert_eq!(r, 0x7f);
        assert_eq!(f, flags::OF | flags::AF);
        let (_, f) = sub_flags(5, 4, 1, W::D);
        assert_eq!(f, flags::ZF | flags::PF);
    }
}
