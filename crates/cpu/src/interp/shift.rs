//! Shifts and rotates: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR, SHLD, SHRD
//! (SDM Vol. 2B, "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD").
//!
//! The count is masked to 5 bits. A masked count of 0 changes nothing, but a
//! memory operand is still read with a write check (so it can fault). With a
//! nonzero count the destination is always written back, even when a rotate
//! leaves it unchanged.
//!
//! Flags the SDM leaves undefined get the values measured on the
//! development host (AMD Zen), which are the defined formulas extended to
//! every count (Bochs uses the same formulas for P6 and later):
//! - SHL/SAL: OF = MSB(result) ^ CF; CF = 0 once the count exceeds the width.
//! - SHR: OF = the two top bits of the result XORed (0 for counts > 1);
//!   SAR: OF = 0.
//! - SHL/SHR/SAR/SHLD/SHRD: AF = 1 (Bochs and QEMU give 0; hosts differ).
//! - ROL: OF = MSB ^ LSB of the result; ROR/RCR: OF = the two top bits of the
//!   result XORed; RCL: OF = MSB(result) ^ CF. RCL/RCR of 8/16 bits whose
//!   count is a multiple of 9/17 still set CF (unchanged) and OF.
//! - SHLD/SHRD: OF as for SHL/SHR.
//! - 16-bit SHLD/SHRD with counts 17..31 (undefined result): the source keeps
//!   being shifted in, i.e. SHLD gives the top 16 bits of the 48-bit
//!   `dest:src:src << count` and SHRD the bottom 16 bits of
//!   `src:src:dest >> count` (the P6 behaviour Bochs describes, and what the
//!   host does); CF = 0, SHLD clears OF, SHRD sets OF = bit 15 ^ bit 14.

use super::ops::{op_width, szp, W};
use super::Handler;
use crate::fault::Res;
use crate::state::flags;
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        // SAL is the (undocumented) /6 encoding; it behaves exactly as SHL.
        Mnemonic::Shl | Mnemonic::Sal => |c, b, i| shift(c, b, i, Kind::Shl),
        Mnemonic::Shr => |c, b, i| shift(c, b, i, Kind::Shr),
        Mnemonic::Sar => |c, b, i| shift(c, b, i, Kind::Sar),
        Mnemonic::Rol => |c, b, i| shift(c, b, i, Kind::Rol),
        Mnemonic::Ror => |c, b, i| shift(c, b, i, Kind::Ror),
        Mnemonic::Rcl => |c, b, i| shift(c, b, i, Kind::Rcl),
        Mnemonic::Rcr => |c, b, i| shift(c, b, i, Kind::Rcr),
        Mnemonic::Shld => |c, b, i| double(c, b, i, true),
        Mnemonic::Shrd => |c, b, i| double(c, b, i, false),
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Shl,
    Shr,
    Sar,
    Rol,
    Ror,
    Rcl,
    Rcr,
}

/// Bit `n` of `v` as 0/1.
#[inline]
fn bit(v: u32, n: u32) -> u32 {
    (v >> n) & 1
}

/// OF (as a flag bit) from a 0/1 value.
#[inline]
fn of(b: u32) -> u32 {
    if b != 0 {
        flags::OF
    } else {
        0
    }
}

/// The shift or rotate of `a` (width `w`) by the masked count `c` (1..=31)
/// with incoming carry `cf` (0/1): (result, new arithmetic flags, which
/// flags the instruction replaces).
fn compute(k: Kind, a: u32, c: u32, cf: u32, w: W) -> (u32, u32, u32) {
    let n = w.bits();
    let m = w.mask();
    let a = a & m;
    match k {
        Kind::Shl => {
            let wide = u64::from(a) << c;
            let r = (wide as u32) & m;
            let cf = ((wide >> n) & 1) as u32;
            (
                r,
                szp(r, w) | cf | of(bit(r, n - 1) ^ cf) | flags::AF,
                flags::ARITH,
            )
        }
        Kind::Shr => {
            let r = a >> c;
            let cf = bit(a, c - 1);
            let o = of(bit(r, n - 1) ^ bit(r, n - 2));
            (r, szp(r, w) | cf | o | flags::AF, flags::ARITH)
        }
        Kind::Sar => {
            let s = w.sext(a) as i32;
            let r = (s >> c) as u32 & m;
            let cf = ((s >> (c - 1)) & 1) as u32;
            (r, szp(r, w) | cf | flags::AF, flags::ARITH)
        }
        Kind::Rol => {
            let c = c % n;
            let r = if c == 0 {
                a
            } else {
                ((a << c) | (a >> (n - c))) & m
            };
            let cf = r & 1;
            (r, cf | of(bit(r, n - 1) ^ cf), flags::CF | flags::OF)
        }
        Kind::Ror => {
            let c = c % n;
            let r = if c == 0 {
                a
            } else {
                ((a >> c) | (a << (n - c))) & m
            };
            let cf = bit(r, n - 1);
            (r, cf | of(cf ^ bit(r, n - 2)), flags::CF | flags::OF)
        }
        Kind::Rcl | Kind::Rcr => {
            // Rotate the (n+1)-bit value CF:dest.
            let c = c % (n + 1);
            let v = (u64::from(cf) << n) | u64::from(a);
            let ring = (1u64 << (n + 1)) - 1;
            let v = if k == Kind::Rcl {
                ((v << c) | (v >> (n + 1 - c))) & ring
            } else {
                ((v >> c) | (v << (n + 1 - c))) & ring
            };
            let r = (v as u32) & m;
            let cf = ((v >> n) & 1) as u32;
            let o = if k == Kind::Rcl {
                bit(r, n - 1) ^ cf
            } else {
                bit(r, n - 1) ^ bit(r, n - 2)
            };
            (r, cf | of(o), flags::CF | flags::OF)
        }
    }
}

/// The shift count: CL or imm8 (the `D0`/`D1` forms carry an implicit 1).
#[inline]
fn count(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, n: u32) -> Res<u32> {
    let c = if i.op_count() > n {
        cpu.read_op(bus, i, n)?
    } else {
        1
    };
    Ok(c & 0x1f)
}

fn shift(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, k: Kind) -> Res<()> {
    let w = op_width(i, 0);
    let a = cpu.read_op_rmw(bus, i, 0)?;
    let c = count(cpu, bus, i, 1)?;
    if c == 0 {
        return Ok(());
    }
    let (r, f, changed) = compute(k, a, c, cpu.cf(), w);
    cpu.write_op(bus, i, 0, r)?;
    cpu.state.eflags = (cpu.state.eflags & !changed) | (f & changed);
    Ok(())
}

/// SHLD (`left`) or SHRD of `a` with bits from `b` by the masked count `c`
/// (1..=31): (result, arithmetic flags).
fn compute_double(left: bool, a: u32, b: u32, c: u32, w: W) -> (u32, u32) {
    let n = w.bits();
    let (r, cf) = if w == W::D {
        if left {
            ((a << c) | (b >> (32 - c)), bit(a, 32 - c))
        } else {
            ((a >> c) | (b << (32 - c)), bit(a, c - 1))
        }
    } else {
        // 16 bits: shift a 48-bit value that repeats the source, which is
        // the usual result for counts up to 16 and the P6 one above.
        let (a, b) = (u64::from(a & 0xffff), u64::from(b & 0xffff));
        if left {
            let x = (a << 32) | (b << 16) | b;
            let cf = if c > 16 { 0 } else { bit(a as u32, 16 - c) };
            ((((x << c) >> 32) & 0xffff) as u32, cf)
        } else {
            let x = (b << 32) | (b << 16) | a;
            let cf = if c > 16 { 0 } else { bit(a as u32, c - 1) };
            (((x >> c) & 0xffff) as u32, cf)
        }
    };
    let o = if !left {
        bit(r, n - 1) ^ bit(r, n - 2)
    } else if c > n {
        0
    } else {
        bit(r, n - 1) ^ cf
    };
    (r, szp(r, w) | cf | of(o) | flags::AF)
}

fn double(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, left: bool) -> Res<()> {
    let w = op_width(i, 0);
    let a = cpu.read_op_rmw(bus, i, 0)?;
    let b = cpu.read_op(bus, i, 1)?;
    let c = count(cpu, bus, i, 2)?;
    if c == 0 {
        return Ok(());
    }
    let (r, f) = compute_double(left, a, b, c, w);
    cpu.write_op(bus, i, 0, r)?;
    cpu.set_arith(f);
    Ok(())
}
