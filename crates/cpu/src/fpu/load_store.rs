//! x87 data transfer (SDM Vol. 1, 8.3.3–8.3.4): FLD, FST(P), FILD,
//! FIST(P), FBLD, FBSTP, FXCH, FCMOVcc, the constants, FFREE(P),
//! FINCSTP, FDECSTP.

use super::{sti, Outcome, Reg80, M};
use crate::fault::Res;
use crate::interp::Handler;
use crate::state::SegReg;
use crate::{Bus, Cpu};
use f80::{Real, F80};
use iced_x86::{ConditionCode, Instruction, MemorySize, Mnemonic, OpKind};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        M::Fld => fld,
        M::Fst => |c, b, i| fst(c, b, i, false),
        M::Fstp | M::Fstpnce => |c, b, i| fst(c, b, i, true),
        M::Fild => fild,
        M::Fist => |c, b, i| fist(c, b, i, false),
        M::Fistp => |c, b, i| fist(c, b, i, true),
        M::Fbld => fbld,
        M::Fbstp => fbstp,
        M::Fxch => fxch,
        M::Fcmovb
        | M::Fcmove
        | M::Fcmovbe
        | M::Fcmovu
        | M::Fcmovnb
        | M::Fcmovne
        | M::Fcmovnbe
        | M::Fcmovnu => fcmov,
        M::Fld1 | M::Fldz | M::Fldpi | M::Fldl2e | M::Fldl2t | M::Fldlg2 | M::Fldln2 => fld_const,
        M::Ffree => |c, b, i| ffree(c, b, i, false),
        M::Ffreep => |c, b, i| ffree(c, b, i, true),
        M::Fincstp => |c, b, i| incdec(c, b, i, 1),
        M::Fdecstp => |c, b, i| incdec(c, b, i, 7),
        _ => return None,
    })
}

impl Cpu {
    /// Read the instruction's `N`-byte memory operand; also returns where it
    /// is, for FDP/FDS.
    #[inline]
    pub(crate) fn fpu_read<const N: usize>(
        &mut self,
        bus: &mut Bus,
        i: &Instruction,
    ) -> Res<([u8; N], (SegReg, u32))> {
        let (s, off) = self.ea(i);
        let v = self.read_seg::<N>(bus, s, off)?;
        Ok((v, (s, off)))
    }

    /// Write the instruction's memory operand.
    #[inline]
    pub(crate) fn fpu_write<const N: usize>(
        &mut self,
        bus: &mut Bus,
        i: &Instruction,
        v: [u8; N],
    ) -> Res<(SegReg, u32)> {
        let (s, off) = self.ea(i);
        self.write_seg::<N>(bus, s, off, v)?;
        Ok((s, off))
    }
}

/// A source operand read from memory as the arithmetic and compare
/// instructions take it (m32fp, m64fp, m80fp, m16int, m32int, m64int).
pub(crate) fn read_real(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<(Real, (SegReg, u32))> {
    Ok(match i.memory_size() {
        MemorySize::Float32 => {
            let (b, at) = cpu.fpu_read::<4>(bus, i)?;
            (Real::Single(u32::from_le_bytes(b)), at)
        }
        MemorySize::Float64 => {
            let (b, at) = cpu.fpu_read::<8>(bus, i)?;
            (Real::Double(u64::from_le_bytes(b)), at)
        }
        MemorySize::Int16 => {
            let (b, at) = cpu.fpu_read::<2>(bus, i)?;
            (Real::Ext(F80::from_i16(i16::from_le_bytes(b))), at)
        }
        MemorySize::Int32 => {
            let (b, at) = cpu.fpu_read::<4>(bus, i)?;
            (Real::Ext(F80::from_i32(i32::from_le_bytes(b))), at)
        }
        MemorySize::Int64 => {
            let (b, at) = cpu.fpu_read::<8>(bus, i)?;
            (Real::Ext(F80::from_i64(i64::from_le_bytes(b))), at)
        }
        _ => {
            let (b, at) = cpu.fpu_read::<10>(bus, i)?;
            (Real::Ext(F80::from_bits(b)), at)
        }
    })
}

/// FLD m32fp/m64fp/m80fp/ST(i). The overflow check comes first; m80 and
/// register sources load unchanged (no #IA for an SNaN, no #D).
fn fld(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    let mut at = None;
    let mut ctx = cpu.fpu_ctx();
    let v = if i.op0_kind() == OpKind::Memory {
        match i.memory_size() {
            MemorySize::Float32 => {
                let (b, a) = cpu.fpu_read::<4>(bus, i)?;
                at = Some(a);
                Some(ctx.load_f32(u32::from_le_bytes(b)))
            }
            MemorySize::Float64 => {
                let (b, a) = cpu.fpu_read::<8>(bus, i)?;
                at = Some(a);
                Some(ctx.load_f64(u64::from_le_bytes(b)))
            }
            _ => {
                let (b, a) = cpu.fpu_read::<10>(bus, i)?;
                at = Some(a);
                Some(F80::from_bits(b))
            }
        }
    } else {
        let n = sti(i, 0);
        (!cpu.state.fpu.is_empty(n)).then(|| cpu.state.fpu.st(n).into())
    };
    cpu.fpu_note(i, at);
    let f = &mut cpu.state.fpu;
    // FLD ST(i) of an empty register: stack underflow, reported as such
    // (C1 = 0) even when the push overflows too (as the host CPU does).
    if v.is_none() {
        if f.stack_fault(false) {
            f.push_raw(Reg80::INDEFINITE);
        }
        return Ok(());
    }
    if !f.is_empty(7) {
        if f.stack_fault(true) {
            f.push_raw(Reg80::INDEFINITE);
        }
        return Ok(());
    }
    match v {
        None => {}
        Some(v) => {
            // An unmasked #D alone (a denormal single or double) does not
            // stop the load: the host CPU pushes the value and reports #D
            // at the next waiting instruction.
            let denormal_only = ctx.raised.0 as u16 & !f.fcw & super::fsw::EXC == super::fsw::DE;
            if f.account(&ctx, false) == Outcome::Store || denormal_only {
                f.push_raw(v.into());
                f.set_c1(false);
            }
        }
    }
    Ok(())
}

/// FST/FSTP to m32fp, m64fp, m80fp (FSTP only) or ST(i).
fn fst(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, pop: bool) -> Res<()> {
    cpu.fpu_enter(bus)?;
    let empty = cpu.state.fpu.is_empty(0);
    let st0: F80 = cpu.state.fpu.st(0).into();
    if i.op0_kind() != OpKind::Memory {
        let n = sti(i, 0);
        cpu.fpu_note(i, None);
        let f = &mut cpu.state.fpu;
        if empty {
            if !f.stack_fault(false) {
                return Ok(());
            }
            f.set_st(n, Reg80::INDEFINITE);
        } else {
            f.set_st(n, st0.into());
            f.set_c1(false);
        }
        if pop {
            f.pop_raw();
        }
        return Ok(());
    }
    probe_store(cpu, bus, i)?;
    if empty && cpu.state.fpu.fcw & super::fcw::IM == 0 {
        // Unmasked stack underflow: nothing is written.
        cpu.fpu_note(i, Some(cpu.ea(i)));
        cpu.state.fpu.stack_fault(false);
        return Ok(());
    }
    let mut ctx = cpu.fpu_ctx();
    let at = match i.memory_size() {
        MemorySize::Float32 => {
            let v = if empty { 0xffc0_0000 } else { ctx.to_f32(st0) };
            if !empty && cpu.state.fpu.outcome(&ctx, true) == Outcome::Abort {
                None
            } else {
                Some(cpu.fpu_write(bus, i, v.to_le_bytes())?)
            }
        }
        MemorySize::Float64 => {
            let v = if empty {
                0xfff8_0000_0000_0000
            } else {
                ctx.to_f64(st0)
            };
            if !empty && cpu.state.fpu.outcome(&ctx, true) == Outcome::Abort {
                None
            } else {
                Some(cpu.fpu_write(bus, i, v.to_le_bytes())?)
            }
        }
        _ => {
            let v = if empty { F80::INDEFINITE } else { st0 };
            Some(cpu.fpu_write(bus, i, v.to_bits())?)
        }
    };
    store_done(cpu, i, at, &ctx, empty, pop);
    Ok(())
}

/// The segment and page checks of a store's destination, made before any
/// x87 exception is decided: a store that would fault (#GP, #SS, #PF) does
/// so even when an unmasked exception means nothing gets written (as the
/// host CPU does).
fn probe_store(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let (s, off) = cpu.ea(i);
    let len = i.memory_size().size() as u32;
    cpu.probe_write(bus, s, off, len)
}

/// The commit of a store to memory: flags, C1, FDP, pop.
fn store_done(
    cpu: &mut Cpu,
    i: &Instruction,
    at: Option<(SegReg, u32)>,
    ctx: &f80::Context,
    empty: bool,
    pop: bool,
) {
    cpu.fpu_note(i, Some(at.unwrap_or_else(|| cpu.ea(i))));
    let f = &mut cpu.state.fpu;
    let stored = if empty {
        f.stack_fault(false)
    } else {
        f.account(ctx, true) == Outcome::Store
    };
    if stored && pop {
        f.pop_raw();
    }
}

fn fild(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    let (v, at) = read_real(cpu, bus, i)?;
    cpu.fpu_note(i, Some(at));
    let Real::Ext(v) = v else {
        unreachable!("FILD reads an integer")
    };
    cpu.state.fpu.push(v.into());
    Ok(())
}

/// FIST/FISTP m16int/m32int/m64int: rounded per RC; the masked response
/// to an invalid conversion or an empty ST(0) is the integer indefinite.
fn fist(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, pop: bool) -> Res<()> {
    cpu.fpu_enter(bus)?;
    probe_store(cpu, bus, i)?;
    let empty = cpu.state.fpu.is_empty(0);
    let st0: F80 = cpu.state.fpu.st(0).into();
    if empty && cpu.state.fpu.fcw & super::fcw::IM == 0 {
        cpu.fpu_note(i, Some(cpu.ea(i)));
        cpu.state.fpu.stack_fault(false);
        return Ok(());
    }
    let mut ctx = cpu.fpu_ctx();
    let size = i.memory_size();
    let (bytes, n): ([u8; 8], usize) = match size {
        MemorySize::Int16 => {
            let v = if empty { i16::MIN } else { ctx.to_i16(st0) };
            (u64::from(v as u16).to_le_bytes(), 2)
        }
        MemorySize::Int32 => {
            let v = if empty { i32::MIN } else { ctx.to_i32(st0) };
            (u64::from(v as u32).to_le_bytes(), 4)
        }
        _ => {
            let v = if empty { i64::MIN } else { ctx.to_i64(st0) };
            (v.to_le_bytes(), 8)
        }
    };
    let at = if !empty && cpu.state.fpu.outcome(&ctx, true) == Outcome::Abort {
        None
    } else {
        Some(match n {
            2 => cpu.fpu_write(bus, i, [bytes[0], bytes[1]])?,
            4 => cpu.fpu_write(bus, i, [bytes[0], bytes[1], bytes[2], bytes[3]])?,
            _ => cpu.fpu_write(bus, i, bytes)?,
        })
    };
    store_done(cpu, i, at, &ctx, empty, pop);
    Ok(())
}

fn fbld(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    let (b, at) = cpu.fpu_read::<10>(bus, i)?;
    cpu.fpu_note(i, Some(at));
    let mut ctx = cpu.fpu_ctx();
    let f = &mut cpu.state.fpu;
    if !f.is_empty(7) {
        if f.stack_fault(true) {
            f.push_raw(Reg80::INDEFINITE);
        }
        return Ok(());
    }
    let v = ctx.from_bcd(b);
    if f.account(&ctx, false) == Outcome::Store {
        f.push_raw(v.into());
        f.set_c1(false);
    }
    Ok(())
}

/// FBSTP: the masked response to an invalid operand or an empty ST(0) is
/// the packed-BCD indefinite.
fn fbstp(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    probe_store(cpu, bus, i)?;
    let empty = cpu.state.fpu.is_empty(0);
    if empty && cpu.state.fpu.fcw & super::fcw::IM == 0 {
        cpu.fpu_note(i, Some(cpu.ea(i)));
        cpu.state.fpu.stack_fault(false);
        return Ok(());
    }
    let mut ctx = cpu.fpu_ctx();
    let v = if empty {
        BCD_INDEFINITE
    } else {
        ctx.to_bcd(cpu.state.fpu.st(0).into())
    };
    let at = if !empty && cpu.state.fpu.outcome(&ctx, true) == Outcome::Abort {
        None
    } else {
        Some(cpu.fpu_write(bus, i, v)?)
    };
    store_done(cpu, i, at, &ctx, empty, true);
    Ok(())
}

/// The packed-BCD indefinite (SDM Vol. 1, 4.8.3.7 table 4-16).
const BCD_INDEFINITE: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff];

/// FXCH ST(i): with an empty operand, the masked response exchanges the
/// indefinite in its place (SDM Vol. 2, FXCH).
fn fxch(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    let n = sti(i, 1);
    cpu.fpu_note(i, None);
    let f = &mut cpu.state.fpu;
    let (e0, en) = (f.is_empty(0), f.is_empty(n));
    if (e0 || en) && !f.stack_fault(false) {
        return Ok(());
    }
    let a = if e0 { Reg80::INDEFINITE } else { f.st(0) };
    let b = if en { Reg80::INDEFINITE } else { f.st(n) };
    f.set_st(0, b);
    f.set_st(n, a);
    f.set_c1(false);
    Ok(())
}

/// FCMOVcc ST(0), ST(i) (SDM Vol. 2, FCMOVcc): on the EFLAGS condition.
fn fcmov(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    let n = sti(i, 1);
    let cc = match i.mnemonic() {
        M::Fcmovb => ConditionCode::b,
        M::Fcmove => ConditionCode::e,
        M::Fcmovbe => ConditionCode::be,
        M::Fcmovu => ConditionCode::p,
        M::Fcmovnb => ConditionCode::ae,
        M::Fcmovne => ConditionCode::ne,
        M::Fcmovnbe => ConditionCode::a,
        _ => ConditionCode::np,
    };
    let take = crate::interp::cond(cpu.state.eflags, cc);
    cpu.fpu_note(i, None);
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) || f.is_empty(n) {
        if f.stack_fault(false) {
            f.set_st(0, Reg80::INDEFINITE);
        }
        return Ok(());
    }
    // C1 is left alone (the SDM defines it only for a stack underflow;
    // the host CPU keeps it).
    if take {
        let v = f.st(n);
        f.set_st(0, v);
    }
    Ok(())
}

/// The constants of FLD1…FLDLN2: significand truncated to 64 bits, the
/// exponent, and whether the exact value lies above (round-to-nearest
/// rounds up). The x87 holds them to 66+ bits and rounds per RC (SDM
/// Vol. 1, 8.3.5; PC does not apply).
const CONSTANTS: [(Mnemonic, u16, u64, bool, bool); 7] = [
    // (mnemonic, sign/exponent, truncated significand, inexact, nearest rounds up)
    (M::Fld1, 0x3fff, 0x8000_0000_0000_0000, false, false),
    (M::Fldz, 0x0000, 0, false, false),
    // π = C90FDAA2 2168C234 C4C6628B…
    (M::Fldpi, 0x4000, 0xc90f_daa2_2168_c234, true, true),
    // log2 e = B8AA3B29 5C17F0BB BE87FED0…
    (M::Fldl2e, 0x3fff, 0xb8aa_3b29_5c17_f0bb, true, true),
    // log2 10 = D49A784B CD1B8AFE 492BF6FF…
    (M::Fldl2t, 0x4000, 0xd49a_784b_cd1b_8afe, true, false),
    // log10 2 = 9A209A84 FBCFF798 8F8959AC…
    (M::Fldlg2, 0x3ffd, 0x9a20_9a84_fbcf_f798, true, true),
    // ln 2 = B17217F7 D1CF79AB C9E3B398…
    (M::Fldln2, 0x3ffe, 0xb172_17f7_d1cf_79ab, true, true),
];

/// The value of a constant under rounding control `rc` (bits 11–10 of FCW).
pub(crate) fn constant(m: Mnemonic, rc: u16) -> Reg80 {
    let &(_, se, sig, inexact, near_up) = CONSTANTS.iter().find(|c| c.0 == m).unwrap_or(&CONSTANTS[0]);
    // All constants are positive: "up" rounds away from zero, "down" and
    // "zero" truncate.
    let up = inexact
        && match rc {
            0 => near_up,
            2 => true,
            _ => false,
        };
    Reg80 {
        signif: if up { sig + 1 } else { sig },
        se,
    }
}

fn fld_const(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    cpu.fpu_note(i, None);
    let f = &mut cpu.state.fpu;
    let v = constant(i.mnemonic(), (f.fcw >> 10) & 3);
    f.push(v);
    Ok(())
}

/// FFREE ST(i), FFREEP ST(i) (FFREE, then pop).
fn ffree(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, pop: bool) -> Res<()> {
    cpu.fpu_enter(bus)?;
    let n = sti(i, 0);
    cpu.fpu_note(i, None);
    cpu.state.fpu.free(n);
    // The SDM leaves C0–C3 undefined; the host CPU clears C1.
    cpu.state.fpu.set_c1(false);
    if pop {
        cpu.state.fpu.pop_raw();
    }
    Ok(())
}

/// FINCSTP/FDECSTP: TOP moves, tags and contents do not; C1 = 0.
fn incdec(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, delta: usize) -> Res<()> {
    cpu.fpu_enter(bus)?;
    cpu.fpu_note(i, None);
    let f = &mut cpu.state.fpu;
    let t = (f.top() + delta) & 7;
    f.set_top(t);
    f.set_c1(false);
    Ok(())
}
