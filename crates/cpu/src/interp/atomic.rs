//! Atomic read-modify-write instructions: XADD, CMPXCHG, CMPXCHG8B (SDM
//! Vol. 2A/2B). The interpreter runs one instruction at a time, so atomicity
//! is free; what matters is the order of accesses: every memory destination
//! is written (CMPXCHG writes the old value back when the comparison fails),
//! so a read-only destination faults either way, and registers are only
//! changed after that write succeeded.

use super::arith::{add_flags, sub_flags};
use super::ops::op_width;
use super::Handler;
use crate::fault::{Fault, Res};
use crate::state::{flags, reg};
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic, OpKind, Register};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Xadd => xadd,
        Mnemonic::Cmpxchg => cmpxchg,
        Mnemonic::Cmpxchg8b => cmpxchg8b,
        _ => return None,
    })
}

/// XADD dest, src: TEMP = dest + src; src = dest; dest = TEMP. Flags of the
/// addition. With the same register twice, the sum wins.
fn xadd(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = op_width(i, 0);
    let d = cpu.read_op_rmw(bus, i, 0)?;
    let s = cpu.reg(i.op1_register());
    let (r, f) = add_flags(d, s, 0, w);
    if i.op0_kind() == OpKind::Memory {
        cpu.write_op(bus, i, 0, r)?;
        cpu.set_reg(i.op1_register(), d);
    } else {
        cpu.set_reg(i.op1_register(), d);
        cpu.write_op(bus, i, 0, r)?;
    }
    cpu.set_arith(f);
    Ok(())
}

/// CMPXCHG dest, src: compare the accumulator with dest (flags as CMP); if
/// equal dest = src, else the accumulator = dest (and dest is rewritten
/// with its own value).
fn cmpxchg(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = op_width(i, 0);
    let acc = match w {
        super::ops::W::B => Register::AL,
        super::ops::W::W => Register::AX,
        super::ops::W::D => Register::EAX,
    };
    let d = cpu.read_op_rmw(bus, i, 0)?;
    let a = cpu.reg(acc);
    let (_, f) = sub_flags(a, d, 0, w);
    if f & flags::ZF != 0 {
        let s = cpu.reg(i.op1_register());
        cpu.write_op(bus, i, 0, s)?;
    } else {
        cpu.write_op(bus, i, 0, d)?;
        cpu.set_reg(acc, d);
    }
    cpu.set_arith(f);
    Ok(())
}

/// CMPXCHG8B m64: compare EDX:EAX with m64; if equal ZF = 1 and
/// m64 = ECX:EBX, else ZF = 0 and EDX:EAX = m64 (the old value is written
/// back). Only ZF changes. The register form is #UD.
fn cmpxchg8b(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if i.op0_kind() != OpKind::Memory {
        return Err(Fault::UD);
    }
    let (s, off) = cpu.ea(i);
    let m = u64::from_le_bytes(cpu.read_seg_rmw::<8>(bus, s, off)?);
    let r = &cpu.state.regs;
    let cur = u64::from(r[reg::EDX]) << 32 | u64::from(r[reg::EAX]);
    if m == cur {
        let new = u64::from(r[reg::ECX]) << 32 | u64::from(r[reg::EBX]);
        cpu.write_seg(bus, s, off, new.to_le_bytes())?;
        cpu.state.eflags |= flags::ZF;
    } else {
        cpu.write_seg(bus, s, off, m.to_le_bytes())?;
        cpu.state.regs[reg::EAX] = m as u32;
        cpu.state.regs[reg::EDX] = (m >> 32) as u32;
        cpu.state.eflags &= !flags::ZF;
    }
    Ok(())
}
