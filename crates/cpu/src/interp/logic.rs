//! Bitwise logic: AND, OR, XOR, TEST, NOT (SDM Vol. 2). CF and OF are
//! cleared, SF/ZF/PF set from the result; AF is undefined and left clear.

use super::ops::szp;
use super::Handler;
use crate::fault::Res;
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::And => and,
        Mnemonic::Or => or,
        Mnemonic::Xor => xor,
        Mnemonic::Test => test,
        Mnemonic::Not => not,
        _ => return None,
    })
}

#[inline]
fn logic(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, write: bool, f: fn(u32, u32) -> u32) -> Res<()> {
    let w = cpu.width0(i);
    let a = if write {
        cpu.read_op_rmw(bus, i, 0)?
    } else {
        cpu.read_op(bus, i, 0)?
    };
    let b = cpu.read_op(bus, i, 1)?;
    let r = f(a, b) & w.mask();
    if write {
        cpu.write_op(bus, i, 0, r)?;
    }
    cpu.set_arith(szp(r, w));
    Ok(())
}

fn and(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    logic(cpu, bus, i, true, |a, b| a & b)
}

fn or(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    logic(cpu, bus, i, true, |a, b| a | b)
}

fn xor(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    logic(cpu, bus, i, true, |a, b| a ^ b)
}

fn test(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    logic(cpu, bus, i, false, |a, b| a & b)
}

/// NOT changes no flags.
fn not(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let a = cpu.read_op_rmw(bus, i, 0)?;
    cpu.write_op(bus, i, 0, !a)
}
