//! Decimal adjustment: DAA, DAS, AAA, AAS, AAM, AAD (SDM Vol. 2A), following
//! the SDM pseudo-code. AAA and AAS adjust the whole of AX as the P6 does
//! (AX += 106h, AX -= 6 then AH -= 1), so a carry or borrow out of AL
//! reaches AH.
//!
//! Undefined flags get the values measured on the development host (AMD
//! Zen); see each handler. The oracle masks them.

use super::ops::{parity, szp, W};
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

/// AAA (`sub` false) or AAS. AF = CF = adjustment made. Of the undefined
/// flags, OF, SF and ZF are cleared and PF is the parity of AL +/- 6 (8
/// bits) when adjusting, else of AL, as the development host (AMD Zen)
/// does.
fn aaa_aas(cpu: &mut Cpu, sub: bool) {
    let ax0 = ax(cpu);
    let al = ax0 & 0xff;
    let adjust = (al & 0xf) > 9 || cpu.state.eflags & flags::AF != 0;
    let (v, fl) = if adjust {
        let v = if sub {
            let t = ax0.wrapping_sub(6) & 0xffff;
            (t & 0x00ff) | (t.wrapping_sub(0x100) & 0xff00)
        } else {
            (ax0 + 0x106) & 0xffff
        };
        let t = if sub { al.wrapping_sub(6) } else { al + 6 };
        (v, parity(t) | flags::AF | flags::CF)
    } else {
        (ax0, parity(al))
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
    let (r, fl) = super::arith::add_flags(ax0 & 0xff, prod, 0, W::B);
    set_ax(cpu, r);
    cpu.set_arith(fl);
    Ok(())
}
