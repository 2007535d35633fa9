//! x87 transcendentals (SDM Vol. 1, 8.3.8–8.3.10): F2XM1, FYL2X,
//! FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS. The values come from f80;
//! this file does the stack: operands, pops, pushes, C2 for an operand out
//! of range (|x| ≥ 2^63, ST(0) unchanged).
//!
//! C2 and C1 as the host-CPU oracle shows them: FSIN, FCOS, FPTAN and
//! FSINCOS set C2 when the operand is out of range (and clear C1) and
//! clear it otherwise, stack faults and unmasked exceptions included;
//! F2XM1, FYL2X, FYL2XP1 and FPATAN leave C2 alone (the SDM leaves C0, C2
//! and C3 undefined for them).

use super::{fsw, Outcome, Reg80, M};
use crate::fault::Res;
use crate::interp::Handler;
use crate::{Bus, Cpu};
use f80::F80;
use iced_x86::{Instruction, Mnemonic};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        M::F2xm1 | M::Fsin | M::Fcos => one_op,
        M::Fyl2x | M::Fyl2xp1 | M::Fpatan => two_op_pop,
        M::Fptan | M::Fsincos => push_op,
        _ => return None,
    })
}

/// Common entry: #NM/#MF, FIP/FOP.
fn enter(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    cpu.fpu_note(i, None);
    Ok(())
}

/// F2XM1, FSIN, FCOS: ST(0) ← f(ST(0)).
fn one_op(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    enter(cpu, bus, i)?;
    let f = &mut cpu.state.fpu;
    let trig = i.mnemonic() != M::F2xm1;
    if trig {
        f.fsw &= !fsw::C2;
    }
    if f.is_empty(0) {
        if f.stack_fault(false) {
            f.set_st(0, Reg80::INDEFINITE);
        }
        return Ok(());
    }
    let a = F80::from(f.st(0));
    let mut ctx = cpu.fpu_ctx();
    let r = match i.mnemonic() {
        M::F2xm1 => Some(ctx.f2xm1(a)),
        M::Fsin => ctx.sin(a),
        _ => ctx.cos(a),
    };
    let f = &mut cpu.state.fpu;
    let Some(r) = r else {
        // Out of range: C2 = 1, C1 = 0, ST(0) unchanged.
        f.fsw |= fsw::C2;
        f.set_c1(false);
        return Ok(());
    };
    if f.account(&ctx, false) == Outcome::Store {
        f.set_st(0, r.into());
    }
    Ok(())
}

/// FYL2X, FYL2XP1, FPATAN: ST(1) ← f(ST(0), ST(1)), then pop.
fn two_op_pop(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    enter(cpu, bus, i)?;
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) || f.is_empty(1) {
        if f.stack_fault(false) {
            f.set_st(1, Reg80::INDEFINITE);
            f.pop_raw();
        }
        return Ok(());
    }
    let (x, y) = (F80::from(f.st(0)), F80::from(f.st(1)));
    let mut ctx = cpu.fpu_ctx();
    let r = match i.mnemonic() {
        M::Fyl2x => ctx.fyl2x(x, y),
        M::Fyl2xp1 => ctx.fyl2xp1(x, y),
        _ => ctx.atan(y, x),
    };
    let f = &mut cpu.state.fpu;
    if f.account(&ctx, false) == Outcome::Store {
        f.set_st(1, r.into());
        f.pop_raw();
    }
    Ok(())
}

/// FPTAN (ST(0) ← tan, push 1.0) and FSINCOS (ST(0) ← sin, push cos).
fn push_op(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    enter(cpu, bus, i)?;
    let f = &mut cpu.state.fpu;
    f.fsw &= !fsw::C2;
    let under = f.is_empty(0);
    if under || !f.is_empty(7) {
        if f.stack_fault(!under) {
            f.set_st(0, Reg80::INDEFINITE);
            f.push_raw(Reg80::INDEFINITE);
        }
        return Ok(());
    }
    let a = F80::from(f.st(0));
    let mut ctx = cpu.fpu_ctx();
    let r = if i.mnemonic() == M::Fptan {
        // A NaN result (NaN operand, or the masked response to an invalid
        // one) is pushed as well, in place of 1.0 (as Bochs does).
        ctx.tan(a).map(|t| (t, if t.is_nan() { t } else { F80::ONE }))
    } else {
        ctx.sincos(a)
    };
    let f = &mut cpu.state.fpu;
    let Some((first, second)) = r else {
        f.fsw |= fsw::C2;
        f.set_c1(false);
        return Ok(());
    };
    if f.account(&ctx, false) == Outcome::Store {
        f.set_st(0, first.into());
        f.push_raw(second.into());
    }
    Ok(())
}
