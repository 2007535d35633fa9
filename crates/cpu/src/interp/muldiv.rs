//! Multiplication and division: MUL, IMUL (one-, two- and three-operand
//! forms), DIV, IDIV (SDM Vol. 2A/2B).
//!
//! Undefined flags follow the development host (AMD Zen): MUL/IMUL define
//! only CF and OF and leave SF, ZF, AF and PF unchanged (Bochs instead sets
//! SF/ZF/PF from the low half and clears AF). DIV and IDIV (all flags
//! undefined) set AF, clear SF, ZF and PF and leave CF and OF unchanged
//! (Bochs leaves all of them unchanged).
//! A divide error (#DE: divisor 0, or a quotient that does not fit, which
//! includes IDIV of the most negative dividend by -1) changes nothing.

use super::ops::{op_width, W};
use super::Handler;
use crate::fault::{Fault, Res};
use crate::state::{flags, reg};
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Mul => mul,
        Mnemonic::Imul => imul,
        Mnemonic::Div => |c, b, i| div(c, b, i, false),
        Mnemonic::Idiv => |c, b, i| div(c, b, i, true),
        _ => return None,
    })
}

/// The implicit double-width accumulator (AX, DX:AX or EDX:EAX) as one
/// value, zero-extended.
fn acc_wide(cpu: &Cpu, w: W) -> u64 {
    let eax = cpu.state.regs[reg::EAX];
    let edx = cpu.state.regs[reg::EDX];
    match w {
        W::B => u64::from(eax & 0xffff),
        W::W => u64::from((edx & 0xffff) << 16 | (eax & 0xffff)),
        W::D => u64::from(edx) << 32 | u64::from(eax),
    }
}

/// Store a double-width product into AX, DX:AX or EDX:EAX.
fn set_acc_wide(cpu: &mut Cpu, w: W, v: u64) {
    let r = &mut cpu.state.regs;
    match w {
        W::B => r[reg::EAX] = (r[reg::EAX] & 0xffff_0000) | (v as u32 & 0xffff),
        W::W => {
            r[reg::EAX] = (r[reg::EAX] & 0xffff_0000) | (v as u32 & 0xffff);
            r[reg::EDX] = (r[reg::EDX] & 0xffff_0000) | ((v >> 16) as u32 & 0xffff);
        }
        W::D => {
            r[reg::EAX] = v as u32;
            r[reg::EDX] = (v >> 32) as u32;
        }
    }
}

/// Flags of a multiplication: CF = OF = `overflow`, the others unchanged.
#[inline]
fn set_mul_flags(cpu: &mut Cpu, overflow: bool) {
    let f = &mut cpu.state.eflags;
    *f &= !(flags::CF | flags::OF);
    if overflow {
        *f |= flags::CF | flags::OF;
    }
}

/// MUL r/m: unsigned accumulator * source into the double-width
/// accumulator; CF = OF = upper half nonzero.
fn mul(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = op_width(i, 0);
    let src = u64::from(cpu.read_op(bus, i, 0)?);
    let a = u64::from(cpu.state.regs[reg::EAX] & w.mask());
    let p = a * src;
    set_acc_wide(cpu, w, p);
    set_mul_flags(cpu, p >> w.bits() != 0);
    Ok(())
}

/// IMUL: the one-operand form widens into the accumulator; the two- and
/// three-operand forms truncate into a register. CF = OF = the result does
/// not fit (sign-extended) in the destination's width.
fn imul(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = op_width(i, 0);
    if i.op_count() == 1 {
        let src = i64::from(w.sext(cpu.read_op(bus, i, 0)?) as i32);
        let a = i64::from(w.sext(cpu.state.regs[reg::EAX]) as i32);
        let p = a * src;
        set_acc_wide(cpu, w, p as u64);
        let fits = i64::from(w.sext(p as u32) as i32) == p;
        set_mul_flags(cpu, !fits);
        return Ok(());
    }
    let (x, y) = if i.op_count() == 2 {
        (cpu.reg(i.op0_register()), cpu.read_op(bus, i, 1)?)
    } else {
        (cpu.read_op(bus, i, 1)?, cpu.read_op(bus, i, 2)?)
    };
    let p = i64::from(w.sext(x) as i32) * i64::from(w.sext(y) as i32);
    let r = p as u32 & w.mask();
    let fits = i64::from(w.sext(r) as i32) == p;
    cpu.set_reg(i.op0_register(), r);
    set_mul_flags(cpu, !fits);
    Ok(())
}

/// DIV/IDIV r/m: the double-width accumulator divided by the source,
/// quotient to AL/AX/EAX and remainder to AH/DX/EDX. Quotients truncate
/// towards zero and the remainder has the dividend's sign.
fn div(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, signed: bool) -> Res<()> {
    let w = op_width(i, 0);
    let n = w.bits();
    let src = cpu.read_op(bus, i, 0)?;
    let dividend = acc_wide(cpu, w);
    let (q, r) = if signed {
        // Sign-extend the 2n-bit dividend and the n-bit divisor.
        let a = ((dividend << (64 - 2 * n)) as i64) >> (64 - 2 * n);
        let d = i64::from(w.sext(src) as i32);
        let q = a.checked_div(d).ok_or(Fault::DE)?;
        let r = a.checked_rem(d).ok_or(Fault::DE)?;
        let lim = 1i64 << (n - 1);
        if q < -lim || q >= lim {
            return Err(Fault::DE);
        }
        (q as u64, r as u64)
    } else {
        let d = u64::from(src);
        let q = dividend.checked_div(d).ok_or(Fault::DE)?;
        if q > u64::from(w.mask()) {
            return Err(Fault::DE);
        }
        (q, dividend % d)
    };
    let (q, r) = (q & u64::from(w.mask()), r & u64::from(w.mask()));
    set_acc_wide(cpu, w, (r << n) | q);
    let f = cpu.state.eflags & (flags::CF | flags::OF);
    cpu.set_arith(f | flags::AF);
    Ok(())
}
