//! x87 arithmetic (SDM Vol. 1, 8.3.5–8.3.7): FADD, FSUB(R), FMUL,
//! FDIV(R) in every form, their integer and popping variants, FSQRT, FABS,
//! FCHS, FRNDINT, FSCALE, FXTRACT, FPREM, FPREM1.

use super::load_store::read_real;
use super::{sti, Outcome, Reg80, M};
use crate::fault::Res;
use crate::interp::Handler;
use crate::{Bus, Cpu};
use f80::{Real, F80};
use iced_x86::{Instruction, Mnemonic, OpKind};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        M::Fadd
        | M::Faddp
        | M::Fiadd
        | M::Fsub
        | M::Fsubp
        | M::Fisub
        | M::Fsubr
        | M::Fsubrp
        | M::Fisubr
        | M::Fmul
        | M::Fmulp
        | M::Fimul
        | M::Fdiv
        | M::Fdivp
        | M::Fidiv
        | M::Fdivr
        | M::Fdivrp
        | M::Fidivr => binop,
        M::Fsqrt | M::Frndint => unop,
        M::Fabs | M::Fchs => sign,
        M::Fscale => fscale,
        M::Fxtract => fxtract,
        M::Fprem | M::Fprem1 => fprem,
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// The two-operand arithmetic instructions. The destination is ST(0)
/// for memory and `st0, sti` forms, ST(i) for `sti, st0` forms; the
/// reversed forms compute source − destination.
fn binop(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    use Mnemonic as Mn;
    let m = i.mnemonic();
    let (op, reverse, pop) = match m {
        Mn::Fadd | Mn::Fiadd => (Op::Add, false, false),
        Mn::Faddp => (Op::Add, false, true),
        Mn::Fsub | Mn::Fisub => (Op::Sub, false, false),
        Mn::Fsubp => (Op::Sub, false, true),
        Mn::Fsubr | Mn::Fisubr => (Op::Sub, true, false),
        Mn::Fsubrp => (Op::Sub, true, true),
        Mn::Fmul | Mn::Fimul => (Op::Mul, false, false),
        Mn::Fmulp => (Op::Mul, false, true),
        Mn::Fdiv | Mn::Fidiv => (Op::Div, false, false),
        Mn::Fdivp => (Op::Div, false, true),
        Mn::Fdivr | Mn::Fidivr => (Op::Div, true, false),
        _ => (Op::Div, true, true),
    };
    // (destination index, source), the source being a register index or
    // a memory value.
    let (dst, src, at) = if i.op0_kind() == OpKind::Memory || i.op1_kind() == OpKind::Memory {
        let (v, at) = read_real(cpu, bus, i)?;
        (0, Err(v), Some(at))
    } else {
        let (d, s) = (sti(i, 0), sti(i, 1));
        (d, Ok(s), None)
    };
    cpu.fpu_note(i, at);
    let f = &mut cpu.state.fpu;
    let src_empty = matches!(src, Ok(s) if f.is_empty(s));
    if f.is_empty(dst) || src_empty {
        if f.stack_fault(false) {
            f.set_st(dst, Reg80::INDEFINITE);
            if pop {
                f.pop_raw();
            }
        }
        return Ok(());
    }
    let d: Real = F80::from(f.st(dst)).into();
    let s: Real = match src {
        Ok(s) => F80::from(f.st(s)).into(),
        Err(v) => v,
    };
    let (a, b) = if reverse { (s, d) } else { (d, s) };
    let mut ctx = cpu.fpu_ctx();
    let r = match op {
        Op::Add => ctx.add(a, b),
        Op::Sub => ctx.sub(a, b),
        Op::Mul => ctx.mul(a, b),
        Op::Div => ctx.div(a, b),
    };
    let f = &mut cpu.state.fpu;
    if f.account(&ctx, false) == Outcome::Store {
        f.set_st(dst, r.into());
        if pop {
            f.pop_raw();
        }
    }
    Ok(())
}

/// Run `op` on ST(0) when it is not empty (stack underflow otherwise: the
/// masked response is the indefinite in ST(0)).
fn on_st0(
    cpu: &mut Cpu,
    bus: &mut Bus,
    i: &Instruction,
    op: impl FnOnce(&mut f80::Context, F80) -> F80,
) -> Res<()> {
    cpu.fpu_enter(bus)?;
    cpu.fpu_note(i, None);
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) {
        if f.stack_fault(false) {
            f.set_st(0, Reg80::INDEFINITE);
        }
        return Ok(());
    }
    let mut ctx = cpu.fpu_ctx();
    let r = op(&mut ctx, cpu.state.fpu.st(0).into());
    let f = &mut cpu.state.fpu;
    if f.account(&ctx, false) == Outcome::Store {
        f.set_st(0, r.into());
    }
    Ok(())
}

/// FSQRT, FRNDINT.
fn unop(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if i.mnemonic() == M::Fsqrt {
        on_st0(cpu, bus, i, |c, a| c.sqrt(a))
    } else {
        on_st0(cpu, bus, i, |c, a| c.round_int(a))
    }
}

/// FABS, FCHS: sign only, no exceptions but stack underflow; C1 = 0.
fn sign(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let chs = i.mnemonic() == M::Fchs;
    on_st0(cpu, bus, i, |_, a| if chs { a.neg() } else { a.abs() })
}

/// Check that ST(0) and ST(1) are both in use; the masked response to an
/// underflow puts the indefinite in ST(0). Returns them if present.
fn two(cpu: &mut Cpu) -> Option<(F80, F80)> {
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) || f.is_empty(1) {
        if f.stack_fault(false) {
            f.set_st(0, Reg80::INDEFINITE);
        }
        return None;
    }
    Some((f.st(0).into(), f.st(1).into()))
}

/// FSCALE: ST(0) × 2^trunc(ST(1)).
fn fscale(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    cpu.fpu_note(i, None);
    let Some((a, b)) = two(cpu) else { return Ok(()) };
    let mut ctx = cpu.fpu_ctx();
    let r = ctx.scale(a, b);
    let f = &mut cpu.state.fpu;
    if f.account(&ctx, false) == Outcome::Store {
        f.set_st(0, r.into());
    }
    Ok(())
}

/// FXTRACT: ST(0) becomes the exponent, then the significand is pushed.
/// An empty ST(0) (underflow) or a full ST(7) (overflow) leaves, when
/// masked, the indefinite in both.
fn fxtract(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    cpu.fpu_note(i, None);
    let f = &mut cpu.state.fpu;
    let under = f.is_empty(0);
    if under || !f.is_empty(7) {
        if f.stack_fault(!under) {
            f.set_st(0, Reg80::INDEFINITE);
            f.push_raw(Reg80::INDEFINITE);
        }
        return Ok(());
    }
    let mut ctx = cpu.fpu_ctx();
    let f = &mut cpu.state.fpu;
    let (exp, sig) = ctx.xtract(f.st(0).into());
    if f.account(&ctx, false) == Outcome::Store {
        f.set_st(0, exp.into());
        f.push_raw(sig.into());
    }
    Ok(())
}

/// FPREM, FPREM1: partial remainder of ST(0) by ST(1); C2 = incomplete,
/// C0, C3, C1 = quotient bits 2, 1, 0.
fn fprem(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    cpu.fpu_note(i, None);
    let Some((a, b)) = two(cpu) else {
        cpu.state.fpu.fsw &= !super::fsw::C2;
        return Ok(());
    };
    let mut ctx = cpu.fpu_ctx();
    let r = if i.mnemonic() == M::Fprem {
        ctx.prem(a, b)
    } else {
        ctx.prem1(a, b)
    };
    let f = &mut cpu.state.fpu;
    let special = [a, b].iter().any(|v| v.is_nan()) || ctx.raised.0 & 1 != 0;
    if f.account(&ctx, false) == Outcome::Store && !special {
        f.set_st(0, r.value.into());
        f.set_cc(r.c0, r.c1, r.c2, r.c3);
    } else {
        // A NaN operand, an invalid operation or an unmasked exception: no
        // quotient bits; C1 and C2 are cleared, C0 and C3 left (as the
        // host CPU does).
        if f.outcome(&ctx, false) == Outcome::Store {
            f.set_st(0, r.value.into());
        }
        f.fsw &= !(super::fsw::C1 | super::fsw::C2);
    }
    Ok(())
}
