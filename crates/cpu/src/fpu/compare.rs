//! x87 comparisons (SDM Vol. 1, 8.3.6 and 8.1.4): FCOM, FCOMP, FCOMPP,
//! FUCOM, FUCOMP, FUCOMPP, FICOM, FICOMP, FTST, FXAM (condition codes),
//! and FCOMI, FCOMIP, FUCOMI, FUCOMIP (EFLAGS).

use super::load_store::read_real;
use super::{sti, Outcome, M};
use crate::fault::Res;
use crate::interp::Handler;
use crate::state::flags;
use crate::{Bus, Cpu};
use f80::{Class, Compare, Real, F80};
use iced_x86::{Instruction, Mnemonic, OpKind};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        M::Fcom
        | M::Fcomp
        | M::Fcompp
        | M::Fucom
        | M::Fucomp
        | M::Fucompp
        | M::Ficom
        | M::Ficomp
        | M::Ftst => fcom,
        M::Fcomi | M::Fcomip | M::Fucomi | M::Fucomip => fcomi,
        M::Fxam => fxam,
        _ => return None,
    })
}

/// How many pops and whether the compare is unordered (quiet).
fn kind(m: Mnemonic) -> (u8, bool) {
    match m {
        M::Fcomp | M::Ficomp | M::Fcomip => (1, false),
        M::Fucomp | M::Fucomip => (1, true),
        M::Fcompp => (2, false),
        M::Fucompp => (2, true),
        M::Fucom | M::Fucomi => (0, true),
        _ => (0, false),
    }
}

/// The comparison shared by both families: ST(0) against the source
/// (memory, ST(i), ST(1) for the no-operand forms, +0.0 for FTST).
/// `Ok(None)` is a stack underflow, after which the caller reports
/// "unordered"; `Ok(Some((r, false)))` a comparison that raised an
/// unmasked exception: the condition codes (or EFLAGS) are still set from
/// it — "unordered" for an invalid operand — but nothing is popped (as the
/// host CPU does).
#[allow(clippy::type_complexity)]
fn compare(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<(Option<(Compare, bool)>, u8)> {
    cpu.fpu_enter(bus)?;
    let m = i.mnemonic();
    let (pops, quiet) = kind(m);
    let mem = (0..i.op_count()).any(|n| i.op_kind(n) == OpKind::Memory);
    let (src, at) = if mem {
        let (v, at) = read_real(cpu, bus, i)?;
        (Err(v), Some(at))
    } else if m == M::Ftst {
        (Err(Real::Ext(F80::ZERO)), None)
    } else if i.op_count() >= 2 {
        (Ok(sti(i, 1)), None)
    } else {
        (Ok(1), None)
    };
    cpu.fpu_note(i, at);
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) || matches!(src, Ok(s) if f.is_empty(s)) {
        return Ok((None, pops));
    }
    let a = F80::from(f.st(0));
    let b: Real = match src {
        Ok(s) => F80::from(f.st(s)).into(),
        Err(v) => v,
    };
    let mut ctx = cpu.fpu_ctx();
    let r = if m == M::Ftst {
        ctx.test(a)
    } else {
        ctx.compare(a, b, quiet)
    };
    let f = &mut cpu.state.fpu;
    // FCOM and friends clear C1; FCOMI and friends leave it (as the host
    // CPU does; the SDM only says it is cleared on a stack underflow).
    let c1 = f.fsw & super::fsw::C1;
    let out = f.account(&ctx, false);
    f.set_c1(false);
    if matches!(m, M::Fcomi | M::Fcomip | M::Fucomi | M::Fucomip) {
        f.fsw |= c1;
    }
    Ok((Some((r, out == Outcome::Store)), pops))
}

fn pop_n(cpu: &mut Cpu, n: u8) {
    for _ in 0..n {
        cpu.state.fpu.pop_raw();
    }
}

/// FCOM family: C3, C2, C0 (SDM Vol. 2, FCOM table 3-21).
fn fcom(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let (r, pops) = compare(cpu, bus, i)?;
    let f = &mut cpu.state.fpu;
    match r {
        // Stack underflow: "unordered" even when unmasked (as Bochs), the
        // pops only when masked.
        None => {
            let masked = f.stack_fault(false);
            f.set_cc(true, false, true, true);
            if masked {
                pop_n(cpu, pops);
            }
        }
        Some((c, stored)) => {
            let (c3, c2, c0) = c.condition_codes();
            f.set_cc(c0, false, c2, c3);
            if stored {
                pop_n(cpu, pops);
            }
        }
    }
    Ok(())
}

/// FCOMI family: ZF, PF, CF; OF, SF and AF cleared (SDM Vol. 2, FCOMI).
fn fcomi(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let (r, pops) = compare(cpu, bus, i)?;
    let set = |cpu: &mut Cpu, (zf, pf, cf): (bool, bool, bool)| {
        let mut e = cpu.state.eflags & !flags::ARITH;
        if zf {
            e |= flags::ZF;
        }
        if pf {
            e |= flags::PF;
        }
        if cf {
            e |= flags::CF;
        }
        cpu.state.eflags = e;
    };
    match r {
        None => {
            let masked = cpu.state.fpu.stack_fault(false);
            set(cpu, (true, true, true));
            if masked {
                pop_n(cpu, pops);
            }
        }
        Some((c, stored)) => {
            set(cpu, c.condition_codes());
            if stored {
                pop_n(cpu, pops);
            }
        }
    }
    Ok(())
}

/// FXAM: classify ST(0), empty or not; C1 is its sign (SDM Vol. 2, FXAM
/// table 3-43). Never raises anything.
fn fxam(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    cpu.fpu_note(i, None);
    let f = &mut cpu.state.fpu;
    let v = F80::from(f.st(0));
    // (C3, C2, C0)
    let (c3, c2, c0) = if f.is_empty(0) {
        (true, false, true)
    } else {
        match v.class() {
            Class::Unnormal | Class::PseudoNan | Class::PseudoInfinity => (false, false, false),
            Class::QuietNan | Class::SignalingNan => (false, false, true),
            Class::Normal => (false, true, false),
            Class::Infinity => (false, true, true),
            Class::Zero => (true, false, false),
            Class::Denormal | Class::PseudoDenormal => (true, true, false),
        }
    };
    f.set_cc(c0, v.sign(), c2, c3);
    Ok(())
}
