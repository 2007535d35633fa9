//! Decimal adjustment: DAA, DAS, AAA, AAS, AAM, AAD (SDM Vol. 2A), following
//! the SDM pseudo-code. AAA and AAS adjust the whole of AX as the P6 does
//! (AX += 106h, AX -= 6 then AH -= 1), so a carry or borrow out of AL
//! reaches AH.
//!
//! Undefined flags get the values measured on the development host (AMD
//! Zen); see each handler. The oracle masks them.

use super::arith::{add_flags, sub_flags};
use super::ops::{szp, W};
use super::Handler;
use crate::fault::{Fault, Res};
use crate::state::{flags, reg};
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Daa => |c, _, _| {
            daa_das(c, false);
            Ok(())
        },
        Mnemonic::Das => |c, _, _| {
            daa_das(c, true);
            Ok(())
        },
        Mnemonic::Aaa => |c, _, _| {
            aaa_aas(c, false);
            Ok(())
        },
        Mnemonic::Aas => |c, _, _| {
            aaa_aas(c, true);
            Ok(())
        },
        Mnemonic::Aam => aam,
        Mnemonic::Aad => aad,
        _ => return None,
    })
}

#[inline]
fn ax(cpu: &Cpu) -> u32 {
    cpu.state.regs[reg::EAX] & 0xffff
}

#[inline]
fn set_ax(cpu: &mut Cpu, v: u32) {
    let r = &mut cpu.state.regs[reg::EAX];
    *r = (*r & 0xffff_0000) | (v & 0xffff);
}

/// DAA (`sub` false) or DAS. SF, ZF, PF from the result; OF (undefined) is
/// the signed overflow of the adjustment as one 8-bit addition (or
/// subtraction) of the total correction to the original AL, as on the host.
fn daa_das(cpu: &mut Cpu, sub: bool) {
    let f = cpu.state.eflags;
    let old_al = ax(cpu) & 0xff;
    let old_cf = f & flags::CF != 0;
    let old_af = f & flags::AF != 0;
    let mut al = old_al;
    let mut cf = false;
    let mut af = false;
    if (old_al & 0xf) > 9 || old_af {
        if sub {
            cf = old_cf || al < 6;
            al = al.wrapping_sub(6) & 0xff;
        } else {
            cf = old_cf || al > 0xf9;
            al = (al + 6) & 0xff;
        }
        af = true;
    }
    if old_al > 0x99 || old_cf {
        al = if sub { al.wrapping_sub(0x60) } else { al + 0x60 } & 0xff;
        cf = true;
    } else if !sub {
        // DAA clears CF here; DAS keeps the borrow of the first step.
        cf = false;
    }
    let adj = if sub {
        old_al.wrapping_sub(al)
    } else {
        al.wrapping_sub(old_al)
    } & 0xff;
    let of = if sub {
        (old_al ^ adj) & (old_al ^ al) & 0x80 != 0
    } else {
        (old_al ^ al) & (adj ^ al) & 0x80 != 0
    };
    let mut fl = szp(al, W::B);
    if cf {
        fl |= flags::CF;
    }
    if af {
        fl |= flags::AF;
    }
    if of {
        fl |= flags::OF;
    }
    let v = (ax(cpu) & 0xff00) | al;
    set_ax(cpu, v);
    cpu.set_arith(fl);
}

/// AAA (`sub` false) or AAS: when adjusting, AX = AX +/- 106h (for AAS
/// that is AX -= 6 then AH -= 1), AF = CF = 1; then AL &= 0Fh. The
/// undefined OF, SF, ZF and PF are those of the 16-bit ADD/SUB of 106h to
/// AX before AL is masked (of AX itself, with OF = 0, when not adjusting),
/// as the development host (AMD Zen) does.
fn aaa_aas(cpu: &mut Cpu, sub: bool) {
    let ax0 = ax(cpu);
    let adjust = (ax0 & 0xf) > 9 || cpu.state.eflags & flags::AF != 0;
    let (v, fl) = if !adjust {
        (ax0, szp(ax0, W::W))
    } else if sub {
        let (v, fl) = sub_flags(ax0, 0x106, 0, W::W);
        (v, fl | flags::AF | flags::CF)
    } else {
        let (v, fl) = add_flags(ax0, 0x106, 0, W::W);
        (v, fl | flags::AF | flags::CF)
    };
    set_ax(cpu, v & 0xff0f);
    cpu.set_arith(fl);
}

/// AAM imm8: AH = AL / imm8, AL = AL mod imm8; #DE if imm8 is 0. SF, ZF,
/// PF from AL; the undefined OF, AF, CF are cleared (as on the host).
fn aam(cpu: &mut Cpu, _bus: &mut Bus, i: &Instruction) -> Res<()> {
    let base = u32::from(i.immediate8());
    if base == 0 {
        return Err(Fault::DE);
    }
    let al = ax(cpu) & 0xff;
    let r = al % base;
    set_ax(cpu, ((al / base) << 8) | r);
    cpu.set_arith(szp(r, W::B));
    Ok(())
}

/// AAD imm8: AL = AL + AH * imm8 (8 bits), AH = 0. SF, ZF, PF from AL; the
/// undefined OF, AF, CF are those of the 8-bit addition of AL and
/// (AH * imm8) that produces the result (as on the host).
fn aad(cpu: &mut Cpu, _bus: &mut Bus, i: &Instruction) -> Res<()> {
    let base = u32::from(i.immediate8());
    let ax0 = ax(cpu);
    let prod = ((ax0 >> 8) * base) & 0xff;
    let (r, fl) = add_flags(ax0 & 0xff, prod, 0, W::B);
    set_ax(cpu, r);
    cpu.set_arith(fl);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::shift::table::*;
    use crate::fault::Fault;

    #[test]
    #[rustfmt::skip]
    fn decimal_adjust_after_add_and_sub() {
        run(&[
            // daa: 9A -> 00 with both adjustments
            Row { code: &[0x27], regs: &[(EAX, 0x9a)], want: &[(EAX, 0x00)], want_flags: C | A | Z | P, ..Row::DEF },
            // daa with AF: 15 -> 1B
            Row { code: &[0x27], regs: &[(EAX, 0x15)], flags: A, want: &[(EAX, 0x1b)], want_flags: A | P, ..Row::DEF },
            // daa: 7A -> 80, OF from the +6 crossing into the sign bit
            Row { code: &[0x27], regs: &[(EAX, 0x7a)], want: &[(EAX, 0x80)], want_flags: A | S | O, ..Row::DEF },
            // das with CF and AF: 00 -> 9A
            Row { code: &[0x2f], regs: &[(EAX, 0x00)], flags: C | A, want: &[(EAX, 0x9a)], want_flags: C | A | S | P, ..Row::DEF },
            // das: 03 with AF borrows (CF = 1) but gets no -60h
            Row { code: &[0x2f], regs: &[(EAX, 0x03)], flags: A, want: &[(EAX, 0xfd)], want_flags: C | A | S, ..Row::DEF },
            // aaa: AX += 106h then AL &= 0Fh
            Row { code: &[0x37], regs: &[(EAX, 0x000f)], want: &[(EAX, 0x0105)], want_flags: A | C, ..Row::DEF },
            // aaa: the carry out of AL reaches AH (AL = FA)
            Row { code: &[0x37], regs: &[(EAX, 0x01fa)], want: &[(EAX, 0x0300)], want_flags: A | C | P, ..Row::DEF },
            // aaa without adjustment: flags from AX
            Row { code: &[0x37], regs: &[(EAX, 0x0005)], flags: C | Z | S | O, want: &[(EAX, 0x0005)], want_flags: P, ..Row::DEF },
            // aas with AF: AX -= 6, AH -= 1
            Row { code: &[0x3f], regs: &[(EAX, 0x0100)], flags: A, want: &[(EAX, 0xff0a)], want_flags: C | A | S | P, ..Row::DEF },
            // aas: 0106h with AF gives 0 (ZF from the 16-bit result)
            Row { code: &[0x3f], regs: &[(EAX, 0x0106)], flags: A, want: &[(EAX, 0)], want_flags: C | A | Z | P, ..Row::DEF },
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn ascii_adjust_mul_div() {
        run(&[
            // aam: 79 -> 07 09
            Row { code: &[0xd4, 0x0a], regs: &[(EAX, 0xff4f)], flags: C | O | A, want: &[(EAX, 0x0709)], want_flags: P, ..Row::DEF },
            // aam 16
            Row { code: &[0xd4, 0x10], regs: &[(EAX, 0x00f0)], want: &[(EAX, 0x0f00)], want_flags: Z | P, ..Row::DEF },
            // aam 0: #DE
            Row { code: &[0xd4, 0x00], regs: &[(EAX, 0x1234)], fault: Some(Fault::DE), ..Row::DEF },
            // aad: 07 09 -> 79
            Row { code: &[0xd5, 0x0a], regs: &[(EAX, 0x0709)], flags: Z, want: &[(EAX, 0x004f)], ..Row::DEF },
            // aad 16: 0F 0F -> FF
            Row { code: &[0xd5, 0x10], regs: &[(EAX, 0x0f0f)], want: &[(EAX, 0x00ff)], want_flags: S | P, ..Row::DEF },
            // aad: the 8-bit sum carries (flags of the addition)
            Row { code: &[0xd5, 0x0a], regs: &[(EAX, 0x1909)], want: &[(EAX, 0x0003)], want_flags: C | A | P, ..Row::DEF },
        ]);
    }
}
