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
//! - SHL/SAL and SHR: CF = 0 once the count exceeds the width; SHL/SAL:
//!   OF = MSB(result) ^ CF.
//! - SHR: OF = the two top bits of the result XORed (0 for counts > 1);
//!   SAR: OF = 0.
//! - SHL/SHR/SAR/SHLD/SHRD: AF = 1 (Bochs gives 0; Intel hosts may too).
//! - ROL: OF = MSB ^ LSB of the result; ROR/RCR: OF = the two top bits of the
//!   result XORed; RCL: OF = MSB(result) ^ CF. RCL/RCR of 8/16 bits whose
//!   count is a multiple of 9/17 still set CF (unchanged) and OF.
//! - SHLD/SHRD: OF as for SHL/SHR.
//! - 16-bit SHLD/SHRD with counts 17..31 (undefined result): the source keeps
//!   being shifted in, i.e. SHLD gives the top 16 bits of the 48-bit
//!   `dest:src:src << count` and SHRD the bottom 16 bits of
//!   `src:src:dest >> count` (the P6 behaviour described in Bochs' comments,
//!   and what the host does); CF = 0, SHLD clears OF, SHRD sets OF = bit 15 ^ bit 14.
//!   A 16-bit SHLD by exactly 16 sets OF = CF.

use super::ops::{op_width, szp, Opd, W};
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
#[inline(always)]
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
#[inline(always)]
fn count(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, n: u32) -> Res<u32> {
    if n == 1 {
        // Decode-time summary: an immediate or CL.
        match cpu.cur.op[1] {
            Opd::Imm => return Ok(cpu.cur.imm & 0x1f),
            Opd::R8L(r) => return Ok(cpu.state.regs[r as usize] & 0x1f),
            _ => {}
        }
    }
    let c = if i.op_count() > n {
        cpu.read_op(bus, i, n)?
    } else {
        1
    };
    Ok(c & 0x1f)
}

#[inline(always)]
fn shift(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, k: Kind) -> Res<()> {
    let w = cpu.width0(i);
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
    } else if c >= n {
        // What the host does: OF = CF ^ bit 15 of (dest << count), and
        // that bit is 0 once the count reaches 16.
        cf
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

/// Table-driven instruction tests shared by this file and the other
/// arithmetic groups (muldiv, bcd, bit, atomic): one row per instruction,
/// with its bytes, the initial and expected registers, arithmetic flags and
/// memory, run in flat 32-bit ring 0 on the `desc::testenv` machine.
#[cfg(test)]
pub(super) mod table {
    use crate::desc::testenv::Env;
    use crate::fault::Fault;
    use crate::state::flags;

    pub const C: u32 = flags::CF;
    pub const P: u32 = flags::PF;
    pub const A: u32 = flags::AF;
    pub const Z: u32 = flags::ZF;
    pub const S: u32 = flags::SF;
    pub const O: u32 = flags::OF;

    pub const EAX: usize = 0;
    pub const ECX: usize = 1;
    pub const EDX: usize = 2;
    pub const EBX: usize = 3;

    /// Where rows put memory operands.
    pub const DATA: u32 = 0x6000;

    /// One instruction: `regs`, `flags` and `mem` (dwords) are set before
    /// it runs; `want*` are checked after it (every other register must be
    /// unchanged, and all six arithmetic flags are compared). With `fault`
    /// set, the instruction must fault and change nothing.
    #[derive(Clone, Copy)]
    pub struct Row {
        pub code: &'static [u8],
        pub regs: &'static [(usize, u32)],
        pub flags: u32,
        pub mem: &'static [(u32, u32)],
        pub want: &'static [(usize, u32)],
        pub want_flags: u32,
        pub want_mem: &'static [(u32, u32)],
        pub fault: Option<Fault>,
    }

    impl Row {
        pub const DEF: Row = Row {
            code: &[],
            regs: &[],
            flags: 0,
            mem: &[],
            want: &[],
            want_flags: 0,
            want_mem: &[],
            fault: None,
        };
    }

    /// Run every row, reporting all failures at once.
    pub fn run(rows: &[Row]) {
        let mut failures = Vec::new();
        for (n, row) in rows.iter().enumerate() {
            let mut e = Env::new();
            e.code(row.code);
            // Distinct filler so that stray register writes show.
            let mut regs = [
                0x1111_1111u32,
                0x2222_2222,
                0x3333_3333,
                0x4444_4444,
                0x8000,
                0x6666_6666,
                0x7777_7777,
                0x8888_8888,
            ];
            for &(r, v) in row.regs {
                regs[r] = v;
            }
            e.cpu.state.regs = regs;
            e.cpu.state.eflags = flags::FIXED1 | row.flags;
            for &(a, v) in row.mem {
                e.w32(a, v);
            }
            let res = e.step();
            let mut want_regs = regs;
            let mut want_flags = flags::FIXED1 | row.flags;
            let mut want_eip = crate::desc::testenv::CODE;
            if row.fault.is_none() {
                for &(r, v) in row.want {
                    want_regs[r] = v;
                }
                want_flags = flags::FIXED1 | row.want_flags;
                want_eip += row.code.len() as u32;
            }
            let mut errs = Vec::new();
            if res.err() != row.fault {
                errs.push(format!("result {res:?}, want {:?}", row.fault));
            }
            if e.cpu.state.regs != want_regs {
                errs.push(format!("regs {:08x?}, want {:08x?}", e.cpu.state.regs, want_regs));
            }
            if e.cpu.state.eflags != want_flags {
                errs.push(format!(
                    "eflags {:#x}, want {:#x}",
                    e.cpu.state.eflags, want_flags
                ));
            }
            if e.cpu.state.eip != want_eip {
                errs.push(format!("eip {:#x}, want {want_eip:#x}", e.cpu.state.eip));
            }
            let want_mem: &[(u32, u32)] = if row.fault.is_some() {
                row.mem
            } else {
                row.want_mem
            };
            for &(a, v) in want_mem {
                let got = e.r32(a);
                if got != v {
                    errs.push(format!("mem[{a:#x}] = {got:#x}, want {v:#x}"));
                }
            }
            if !errs.is_empty() {
                failures.push(format!("row {n} ({:02x?}): {}", row.code, errs.join("; ")));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} rows failed:\n{}",
            failures.len(),
            rows.len(),
            failures.join("\n")
        );
    }

    /// Make DS read-only (a data segment without W).
    pub fn read_only_ds(e: &mut Env) {
        e.cpu.state.segs[crate::state::SegReg::Ds as usize].attr &= !crate::state::attr::RW;
    }
}

#[cfg(test)]
mod tests {
    use super::table::*;
    use crate::desc::testenv::Env;
    use crate::fault::Fault;

    #[test]
    #[rustfmt::skip]
    fn shifts_and_rotates() {
        run(&[
            // shl al, 1
            Row { code: &[0xd0, 0xe0], regs: &[(EAX, 0x81)], want: &[(EAX, 0x02)], want_flags: C | O | A, ..Row::DEF },
            // sal eax, 1 (the /6 alias)
            Row { code: &[0xd1, 0xf0], regs: &[(EAX, 0x4000_0000)], want: &[(EAX, 0x8000_0000)], want_flags: O | S | A | P, ..Row::DEF },
            // shl eax, cl with CL = 0: nothing changes
            Row { code: &[0xd3, 0xe0], regs: &[(EAX, 5), (ECX, 0x100)], flags: C | Z | S, want_flags: C | Z | S, ..Row::DEF },
            // shl eax, cl with CL = 32: masked to 0
            Row { code: &[0xd3, 0xe0], regs: &[(EAX, 5), (ECX, 0x20)], flags: O | P, want_flags: O | P, ..Row::DEF },
            // shl bl, cl with CL = 8: everything shifted out, CF = old bit 0
            Row { code: &[0xd2, 0xe3], regs: &[(EBX, 0xff), (ECX, 8)], want: &[(EBX, 0)], want_flags: C | O | Z | P | A, ..Row::DEF },
            // shr ax, 1
            Row { code: &[0x66, 0xd1, 0xe8], regs: &[(EAX, 0xffff_8001)], want: &[(EAX, 0xffff_4000)], want_flags: C | O | A | P, ..Row::DEF },
            // sar al, cl with CL = 9: the sign fills the byte and CF
            Row { code: &[0xd2, 0xf8], regs: &[(EAX, 0x80), (ECX, 9)], want: &[(EAX, 0xff)], want_flags: C | S | P | A, ..Row::DEF },
            // sar eax, 31
            Row { code: &[0xc1, 0xf8, 0x1f], regs: &[(EAX, 0x4000_0000)], flags: O, want: &[(EAX, 0)], want_flags: C | Z | P | A, ..Row::DEF },
            // rol eax, 4: only CF and OF change
            Row { code: &[0xc1, 0xc0, 0x04], regs: &[(EAX, 0x1234_5678)], flags: Z | S, want: &[(EAX, 0x2345_6781)], want_flags: Z | S | C | O, ..Row::DEF },
            // rol al, 8: value unchanged, CF = bit 0, OF = MSB ^ CF
            Row { code: &[0xc0, 0xc0, 0x08], regs: &[(EAX, 0x01)], want_flags: C | O, ..Row::DEF },
            // ror al, 1
            Row { code: &[0xd0, 0xc8], regs: &[(EAX, 0x01)], want: &[(EAX, 0x80)], want_flags: C | O, ..Row::DEF },
            // rcl al, 1 with CF = 1
            Row { code: &[0xd0, 0xd0], regs: &[(EAX, 0x80)], flags: C, want: &[(EAX, 0x01)], want_flags: C | O, ..Row::DEF },
            // rcr ax, 1: CF in at the top, bit 0 out to CF; SZAP untouched
            Row { code: &[0x66, 0xd1, 0xd8], regs: &[(EAX, 1)], flags: A | P, want: &[(EAX, 0)], want_flags: A | P | C, ..Row::DEF },
            // rcl al, cl with CL = 9: a full turn through CF (OF = MSB ^ CF)
            Row { code: &[0xd2, 0xd0], regs: &[(EAX, 0x80), (ECX, 9)], flags: C | O, want_flags: C, ..Row::DEF },
            // rcr ebx, cl with CL = 31 (33-bit rotate)
            Row { code: &[0xd3, 0xdb], regs: &[(EBX, 0x8000_0000), (ECX, 31)], flags: Z, want: &[(EBX, 1)], want_flags: Z, ..Row::DEF },
            // rcl word [0x6000], 1 with CF = 1
            Row { code: &[0x66, 0xd1, 0x15, 0x00, 0x60, 0x00, 0x00], flags: C, mem: &[(DATA, 0xaaaa_8000)], want_mem: &[(DATA, 0xaaaa_0001)], want_flags: C | O, ..Row::DEF },
            // shl dword [0x6000], 1
            Row { code: &[0xd1, 0x25, 0x00, 0x60, 0x00, 0x00], mem: &[(DATA, 0x4000_0000)], want_mem: &[(DATA, 0x8000_0000)], want_flags: O | S | A | P, ..Row::DEF },
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn double_shifts() {
        run(&[
            // shld eax, ebx, 4
            Row { code: &[0x0f, 0xa4, 0xd8, 0x04], regs: &[(EAX, 0x1234_5678), (EBX, 0x9abc_def0)], want: &[(EAX, 0x2345_6789)], want_flags: C | O | A, ..Row::DEF },
            // shrd ax, bx, cl with CL = 4
            Row { code: &[0x66, 0x0f, 0xad, 0xd8], regs: &[(EAX, 0x1234), (EBX, 0xabcd), (ECX, 4)], want: &[(EAX, 0xd123)], want_flags: S | A, ..Row::DEF },
            // shld ax, bx, 20: the source keeps coming in (dest:src:src << 20)
            Row { code: &[0x66, 0x0f, 0xa4, 0xd8, 0x14], regs: &[(EAX, 0x1234), (EBX, 0xabcd)], want: &[(EAX, 0xbcda)], want_flags: S | A, ..Row::DEF },
            // shrd ax, bx, 20: src:src:dest >> 20
            Row { code: &[0x66, 0x0f, 0xac, 0xd8, 0x14], regs: &[(EAX, 0x1234), (EBX, 0xabcd)], want: &[(EAX, 0xdabc)], want_flags: S | A, ..Row::DEF },
            // shld ax, bx, 16: AX = BX, CF = old bit 0, OF = CF
            Row { code: &[0x66, 0x0f, 0xa4, 0xd8, 0x10], regs: &[(EAX, 0x0001), (EBX, 0x8001)], want: &[(EAX, 0x8001)], want_flags: C | O | S | A, ..Row::DEF },
            // shrd eax, ebx, cl with CL = 0: nothing changes
            Row { code: &[0x0f, 0xad, 0xd8], regs: &[(EAX, 1), (EBX, 2), (ECX, 0xe0)], flags: Z, want_flags: Z, ..Row::DEF },
            // shrd dword [0x6000], ebx, 8
            Row { code: &[0x0f, 0xac, 0x1d, 0x00, 0x60, 0x00, 0x00, 0x08], regs: &[(EBX, 0xab)], mem: &[(DATA, 0x1234_5680)], want_mem: &[(DATA, 0xab12_3456)], want_flags: C | O | S | P | A, ..Row::DEF },
        ]);
    }

    /// A masked count of 0 still checks that the memory operand is
    /// writable.
    #[test]
    fn zero_count_still_checks_access() {
        for code in [
            // shl dword [0x6000], cl
            &[0xd3, 0x25, 0x00, 0x60, 0x00, 0x00][..],
            // shld dword [0x6000], eax, cl
            &[0x0f, 0xa5, 0x05, 0x00, 0x60, 0x00, 0x00],
        ] {
            let mut e = Env::new();
            read_only_ds(&mut e);
            e.cpu.state.regs[ECX] = 0x20;
            e.code(code);
            assert_eq!(e.step(), Err(Fault::GP0), "{code:02x?}");
        }
    }
}
