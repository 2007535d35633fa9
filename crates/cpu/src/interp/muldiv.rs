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

#[cfg(test)]
mod tests {
    use super::super::shift::table::*;
    use crate::fault::Fault;

    #[test]
    #[rustfmt::skip]
    fn multiply() {
        run(&[
            // mul cl: CF = OF = AH != 0; SF, ZF, AF, PF unchanged
            Row { code: &[0xf6, 0xe1], regs: &[(EAX, 0x80), (ECX, 2)], flags: Z | P, want: &[(EAX, 0x0100)], want_flags: Z | P | C | O, ..Row::DEF },
            // mul ecx
            Row { code: &[0xf7, 0xe1], regs: &[(EAX, 0xffff_ffff), (ECX, 0xffff_ffff)], want: &[(EAX, 1), (EDX, 0xffff_fffe)], want_flags: C | O, ..Row::DEF },
            // mul cx: upper halves of EAX and EDX are kept
            Row { code: &[0x66, 0xf7, 0xe1], regs: &[(EAX, 0xaaaa_0003), (ECX, 5), (EDX, 0x1234_dead)], flags: C | O, want: &[(EAX, 0xaaaa_000f), (EDX, 0x1234_0000)], ..Row::DEF },
            // imul cl: -1 * -128 = 128 does not fit in a byte
            Row { code: &[0xf6, 0xe9], regs: &[(EAX, 0xff), (ECX, 0x80)], want: &[(EAX, 0x0080)], want_flags: C | O, ..Row::DEF },
            // imul ecx: -2 * 3 fits
            Row { code: &[0xf7, 0xe9], regs: &[(EAX, 0xffff_fffe), (ECX, 3)], flags: C | O | S, want: &[(EAX, 0xffff_fffa), (EDX, 0xffff_ffff)], want_flags: S, ..Row::DEF },
            // imul eax, ecx: 2^16 * 2^16 overflows to 0
            Row { code: &[0x0f, 0xaf, 0xc1], regs: &[(EAX, 0x1_0000), (ECX, 0x1_0000)], want: &[(EAX, 0)], want_flags: C | O, ..Row::DEF },
            // imul ax, cx, -3
            Row { code: &[0x66, 0x6b, 0xc1, 0xfd], regs: &[(EAX, 0x5555_0000), (ECX, 1000)], want: &[(EAX, 0x5555_f448)], ..Row::DEF },
            // imul eax, ecx, 0x12345678
            Row { code: &[0x69, 0xc1, 0x78, 0x56, 0x34, 0x12], regs: &[(ECX, 2)], want: &[(EAX, 0x2468_acf0)], ..Row::DEF },
            // imul eax, [0x6000], 0x40000000: 2 * 2^30 = 2^31 overflows
            Row { code: &[0x69, 0x05, 0x00, 0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40], mem: &[(DATA, 2)], want: &[(EAX, 0x8000_0000)], want_flags: C | O, ..Row::DEF },
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn divide() {
        run(&[
            // div cl: 263 / 10; flags: AF set, SZP clear, CF/OF kept
            Row { code: &[0xf6, 0xf1], regs: &[(EAX, 0x0107), (ECX, 10)], flags: C | Z | S | P, want: &[(EAX, 0x031a)], want_flags: C | A, ..Row::DEF },
            // div ecx
            Row { code: &[0xf7, 0xf1], regs: &[(EAX, 0), (EDX, 1), (ECX, 2)], want: &[(EAX, 0x8000_0000), (EDX, 0)], want_flags: A, ..Row::DEF },
            // div ecx by zero
            Row { code: &[0xf7, 0xf1], regs: &[(EAX, 7), (EDX, 0), (ECX, 0)], flags: Z, fault: Some(Fault::DE), ..Row::DEF },
            // div cl: quotient 0x100 does not fit
            Row { code: &[0xf6, 0xf1], regs: &[(EAX, 0x1000), (ECX, 0x10)], fault: Some(Fault::DE), ..Row::DEF },
            // div dword [0x6000] by zero (memory divisor)
            Row { code: &[0xf7, 0x35, 0x00, 0x60, 0x00, 0x00], mem: &[(DATA, 0)], fault: Some(Fault::DE), ..Row::DEF },
            // idiv ecx: -2^31 / -1
            Row { code: &[0xf7, 0xf9], regs: &[(EAX, 0x8000_0000), (EDX, 0xffff_ffff), (ECX, 0xffff_ffff)], fault: Some(Fault::DE), ..Row::DEF },
            // idiv ecx: -2^63 / -1
            Row { code: &[0xf7, 0xf9], regs: &[(EAX, 0), (EDX, 0x8000_0000), (ECX, 0xffff_ffff)], fault: Some(Fault::DE), ..Row::DEF },
            // idiv cl: -32768 / -1 (16-bit dividend) overflows a byte
            Row { code: &[0xf6, 0xf9], regs: &[(EAX, 0x8000), (ECX, 0xff)], fault: Some(Fault::DE), ..Row::DEF },
            // idiv cl: -128 / 1 = -128 fits
            Row { code: &[0xf6, 0xf9], regs: &[(EAX, 0xff80), (ECX, 1)], want: &[(EAX, 0x0080)], want_flags: A, ..Row::DEF },
            // idiv cl: 128 / -1 = -128 fits
            Row { code: &[0xf6, 0xf9], regs: &[(EAX, 0x0080), (ECX, 0xff)], want: &[(EAX, 0x0080)], want_flags: A, ..Row::DEF },
            // idiv cl: 128 / 1 = 128 does not
            Row { code: &[0xf6, 0xf9], regs: &[(EAX, 0x0080), (ECX, 1)], fault: Some(Fault::DE), ..Row::DEF },
            // idiv cx: -7 / 2 = -3 remainder -1
            Row { code: &[0x66, 0xf7, 0xf9], regs: &[(EAX, 0xffff_fff9), (EDX, 0xffff), (ECX, 2)], flags: O, want: &[(EAX, 0xffff_fffd), (EDX, 0xffff)], want_flags: O | A, ..Row::DEF },
            // idiv ecx: 7 / -2 = -3 remainder 1
            Row { code: &[0xf7, 0xf9], regs: &[(EAX, 7), (EDX, 0), (ECX, 0xffff_fffe)], want: &[(EAX, 0xffff_fffd), (EDX, 1)], want_flags: A, ..Row::DEF },
        ]);
    }
}
