//! MMX (SDM Vol. 1, chapter 9; Vol. 2 instruction pages): MOVD, MOVQ,
//! packed add/subtract (wrapping and saturating), multiplies, compares,
//! packs and unpacks, logic, shifts, EMMS.
//!
//! MM0–MM7 alias the significands of the *physical* x87 registers R0–R7.
//! Every MMX instruction but EMMS sets TOP to 0 and tags all registers
//! valid; a write also sets the register's sign/exponent field to all
//! ones (SDM Vol. 1, 9.5.1, table 9-3). EMMS tags them all empty. The
//! x87 pointers and opcode are not touched. Entry rules: CR0.EM → #UD,
//! CR0.TS → #NM, then a pending x87 exception → #MF.

use super::{Reg80, M};
use crate::fault::{Fault, Res};
use crate::interp::Handler;
use crate::state::cr0;
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic, OpKind, Register};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        M::Emms => emms,
        M::Movd => movd,
        M::Movq => movq,
        M::Paddb => |c, b, i| bin(c, b, i, |x, y| lanes(8, x, y, u64::wrapping_add)),
        M::Paddw => |c, b, i| bin(c, b, i, |x, y| lanes(16, x, y, u64::wrapping_add)),
        M::Paddd => |c, b, i| bin(c, b, i, |x, y| lanes(32, x, y, u64::wrapping_add)),
        M::Psubb => |c, b, i| bin(c, b, i, |x, y| lanes(8, x, y, u64::wrapping_sub)),
        M::Psubw => |c, b, i| bin(c, b, i, |x, y| lanes(16, x, y, u64::wrapping_sub)),
        M::Psubd => |c, b, i| bin(c, b, i, |x, y| lanes(32, x, y, u64::wrapping_sub)),
        M::Paddsb => |c, b, i| bin(c, b, i, |x, y| lanes_s(8, x, y, |p, q| sat_s(8, p + q))),
        M::Paddsw => |c, b, i| bin(c, b, i, |x, y| lanes_s(16, x, y, |p, q| sat_s(16, p + q))),
        M::Psubsb => |c, b, i| bin(c, b, i, |x, y| lanes_s(8, x, y, |p, q| sat_s(8, p - q))),
        M::Psubsw => |c, b, i| bin(c, b, i, |x, y| lanes_s(16, x, y, |p, q| sat_s(16, p - q))),
        M::Paddusb => |c, b, i| bin(c, b, i, |x, y| lanes(8, x, y, |p, q| (p + q).min(0xff))),
        M::Paddusw => |c, b, i| bin(c, b, i, |x, y| lanes(16, x, y, |p, q| (p + q).min(0xffff))),
        M::Psubusb => |c, b, i| bin(c, b, i, |x, y| lanes(8, x, y, u64::saturating_sub)),
        M::Psubusw => |c, b, i| bin(c, b, i, |x, y| lanes(16, x, y, u64::saturating_sub)),
        M::Pmullw => |c, b, i| bin(c, b, i, |x, y| lanes_s(16, x, y, |p, q| p * q)),
        M::Pmulhw => |c, b, i| bin(c, b, i, |x, y| lanes_s(16, x, y, |p, q| (p * q) >> 16)),
        M::Pmaddwd => |c, b, i| bin(c, b, i, pmaddwd),
        M::Pcmpeqb => |c, b, i| bin(c, b, i, |x, y| lanes(8, x, y, |p, q| if p == q { !0 } else { 0 })),
        M::Pcmpeqw => |c, b, i| {
            bin(c, b, i, |x, y| {
                lanes(16, x, y, |p, q| if p == q { !0 } else { 0 })
            })
        },
        M::Pcmpeqd => |c, b, i| {
            bin(c, b, i, |x, y| {
                lanes(32, x, y, |p, q| if p == q { !0 } else { 0 })
            })
        },
        M::Pcmpgtb => |c, b, i| {
            bin(c, b, i, |x, y| {
                lanes_s(8, x, y, |p, q| if p > q { -1 } else { 0 })
            })
        },
        M::Pcmpgtw => |c, b, i| {
            bin(c, b, i, |x, y| {
                lanes_s(16, x, y, |p, q| if p > q { -1 } else { 0 })
            })
        },
        M::Pcmpgtd => |c, b, i| {
            bin(c, b, i, |x, y| {
                lanes_s(32, x, y, |p, q| if p > q { -1 } else { 0 })
            })
        },
        M::Packsswb => |c, b, i| bin(c, b, i, |x, y| pack(16, x, y, |v| sat_s(8, v))),
        M::Packssdw => |c, b, i| bin(c, b, i, |x, y| pack(32, x, y, |v| sat_s(16, v))),
        M::Packuswb => |c, b, i| bin(c, b, i, |x, y| pack(16, x, y, |v| v.clamp(0, 0xff))),
        M::Punpcklbw => |c, b, i| bin(c, b, i, |x, y| unpack(8, x, y, 0)),
        M::Punpcklwd => |c, b, i| bin(c, b, i, |x, y| unpack(16, x, y, 0)),
        M::Punpckldq => |c, b, i| bin(c, b, i, |x, y| unpack(32, x, y, 0)),
        M::Punpckhbw => |c, b, i| bin(c, b, i, |x, y| unpack(8, x, y, 32)),
        M::Punpckhwd => |c, b, i| bin(c, b, i, |x, y| unpack(16, x, y, 32)),
        M::Punpckhdq => |c, b, i| bin(c, b, i, |x, y| unpack(32, x, y, 32)),
        M::Pand => |c, b, i| bin(c, b, i, |x, y| x & y),
        M::Pandn => |c, b, i| bin(c, b, i, |x, y| !x & y),
        M::Por => |c, b, i| bin(c, b, i, |x, y| x | y),
        M::Pxor => |c, b, i| bin(c, b, i, |x, y| x ^ y),
        M::Psllw => |c, b, i| bin(c, b, i, |x, n| shift(16, x, n, Shift::Left)),
        M::Pslld => |c, b, i| bin(c, b, i, |x, n| shift(32, x, n, Shift::Left)),
        M::Psllq => |c, b, i| bin(c, b, i, |x, n| shift(64, x, n, Shift::Left)),
        M::Psrlw => |c, b, i| bin(c, b, i, |x, n| shift(16, x, n, Shift::Right)),
        M::Psrld => |c, b, i| bin(c, b, i, |x, n| shift(32, x, n, Shift::Right)),
        M::Psrlq => |c, b, i| bin(c, b, i, |x, n| shift(64, x, n, Shift::Right)),
        M::Psraw => |c, b, i| bin(c, b, i, |x, n| shift(16, x, n, Shift::Arith)),
        M::Psrad => |c, b, i| bin(c, b, i, |x, n| shift(32, x, n, Shift::Arith)),
        _ => return None,
    })
}

/// Entry of every MMX instruction.
fn enter(cpu: &mut Cpu, bus: &mut Bus) -> Res<()> {
    if cpu.state.cr0 & cr0::EM != 0 {
        return Err(Fault::UD);
    }
    if cpu.state.cr0 & cr0::TS != 0 {
        return Err(Fault::NM);
    }
    cpu.fpu_pending(bus)
}

/// The x87 side effects of an MMX instruction other than EMMS.
fn touch(cpu: &mut Cpu) {
    let f = &mut cpu.state.fpu;
    f.set_top(0);
    f.ftw = 0xff;
}

/// Index of an MMX register.
fn mm(r: Register) -> usize {
    r as usize - Register::MM0 as usize
}

/// Read operand `n`: an MMX register, a general register (zero-extended),
/// memory of the operand's size (4 or 8 bytes), or an immediate count.
fn src(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, n: u32) -> Res<u64> {
    Ok(match i.op_kind(n) {
        OpKind::Register => {
            let r = i.op_register(n);
            if r.is_mm() {
                cpu.state.fpu.regs[mm(r)].signif
            } else {
                u64::from(cpu.reg(r))
            }
        }
        OpKind::Memory => {
            let (s, off) = cpu.ea(i);
            if i.memory_size().size() == 4 {
                u64::from(u32::from_le_bytes(cpu.read_seg(bus, s, off)?))
            } else {
                u64::from_le_bytes(cpu.read_seg(bus, s, off)?)
            }
        }
        _ => u64::from(i.immediate8()),
    })
}

/// mm ← f(mm, source).
fn bin(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, f: fn(u64, u64) -> u64) -> Res<()> {
    enter(cpu, bus)?;
    let d = mm(i.op0_register());
    let b = src(cpu, bus, i, 1)?;
    let a = cpu.state.fpu.regs[d].signif;
    touch(cpu);
    cpu.state.fpu.regs[d] = Reg80::mmx(f(a, b));
    Ok(())
}

fn emms(cpu: &mut Cpu, bus: &mut Bus, _i: &Instruction) -> Res<()> {
    enter(cpu, bus)?;
    // Every tag empty; and like every MMX instruction, TOP = 0 (SDM Vol.
    // 3A, 12.2, table 12-2).
    cpu.state.fpu.ftw = 0;
    cpu.state.fpu.set_top(0);
    Ok(())
}

/// Write an MMX instruction's destination (operand 0): an MMX register,
/// a general register (low 32 bits) or memory (4 or 8 bytes).
fn store(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, v: u64) -> Res<()> {
    match i.op0_kind() {
        OpKind::Memory => {
            let (s, off) = cpu.ea(i);
            if i.memory_size().size() == 4 {
                cpu.write_seg(bus, s, off, (v as u32).to_le_bytes())?;
            } else {
                cpu.write_seg(bus, s, off, v.to_le_bytes())?;
            }
            touch(cpu);
        }
        _ => {
            let r = i.op0_register();
            touch(cpu);
            if r.is_mm() {
                cpu.state.fpu.regs[mm(r)] = Reg80::mmx(v);
            } else {
                cpu.set_reg(r, v as u32);
            }
        }
    }
    Ok(())
}

/// MOVD mm, r/m32 (zero-extended) and MOVD r/m32, mm.
fn movd(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    enter(cpu, bus)?;
    let v = src(cpu, bus, i, 1)? & 0xffff_ffff;
    store(cpu, bus, i, v)
}

/// MOVQ mm, mm/m64 and MOVQ mm/m64, mm.
fn movq(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    enter(cpu, bus)?;
    let v = src(cpu, bus, i, 1)?;
    store(cpu, bus, i, v)
}

fn mask(w: u32) -> u64 {
    if w == 64 {
        !0
    } else {
        (1u64 << w) - 1
    }
}

/// Apply `f` to each `w`-bit unsigned lane pair; results are truncated.
#[inline]
fn lanes(w: u32, a: u64, b: u64, f: impl Fn(u64, u64) -> u64) -> u64 {
    (0..64 / w).fold(0, |r, k| {
        let sh = k * w;
        let m = mask(w);
        r | (f((a >> sh) & m, (b >> sh) & m) & m) << sh
    })
}

/// Sign-extend the low `w` bits.
#[inline]
fn sext(w: u32, v: u64) -> i64 {
    ((v << (64 - w)) as i64) >> (64 - w)
}

/// Apply `f` to each `w`-bit signed lane pair; results are truncated.
#[inline]
fn lanes_s(w: u32, a: u64, b: u64, f: impl Fn(i64, i64) -> i64) -> u64 {
    lanes(w, a, b, |p, q| f(sext(w, p), sext(w, q)) as u64)
}

/// Signed saturation to `w` bits.
#[inline]
fn sat_s(w: u32, v: i64) -> i64 {
    let max = (1i64 << (w - 1)) - 1;
    v.clamp(-max - 1, max)
}

/// PMADDWD: each doubleword is the sum of two signed word products
/// (0x8000·0x8000 twice wraps to 0x8000_0000, as on hardware).
fn pmaddwd(a: u64, b: u64) -> u64 {
    let w = |v: u64, k: u32| i64::from((v >> (16 * k)) as u16 as i16);
    let d0 = (w(a, 0) * w(b, 0) + w(a, 1) * w(b, 1)) as u32;
    let d1 = (w(a, 2) * w(b, 2) + w(a, 3) * w(b, 3)) as u32;
    u64::from(d0) | u64::from(d1) << 32
}

/// PACKSS*/PACKUS*: the `w`-bit signed lanes of the destination, then of
/// the source, each narrowed to `w/2` bits by `sat`.
fn pack(w: u32, a: u64, b: u64, sat: impl Fn(i64) -> i64) -> u64 {
    let n = 64 / w;
    let h = w / 2;
    (0..2 * n).fold(0, |r, k| {
        let v = if k < n { a } else { b };
        let lane = sext(w, v >> ((k % n) * w));
        r | ((sat(lane) as u64) & mask(h)) << (k * h)
    })
}

/// PUNPCKL* (`from` 0) / PUNPCKH* (`from` 32): interleave the `w`-bit
/// lanes of one half of the destination and the source.
fn unpack(w: u32, a: u64, b: u64, from: u32) -> u64 {
    let n = 32 / w;
    (0..n).fold(0, |r, k| {
        let sh = from + k * w;
        let x = (a >> sh) & mask(w);
        let y = (b >> sh) & mask(w);
        r | x << (2 * k * w) | y << ((2 * k + 1) * w)
    })
}

#[derive(Clone, Copy)]
enum Shift {
    Left,
    Right,
    Arith,
}

/// PSLL/PSRL/PSRA with a 64-bit count: counts past the lane width give 0
/// (or the sign for PSRA).
fn shift(w: u32, a: u64, n: u64, kind: Shift) -> u64 {
    lanes(w, a, 0, |x, _| match kind {
        Shift::Left if n < u64::from(w) => x << n,
        Shift::Right if n < u64::from(w) => x >> n,
        Shift::Left | Shift::Right => 0,
        Shift::Arith => (sext(w, x) >> n.min(u64::from(w) - 1)) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_helpers() {
        assert_eq!(lanes(8, 0x01ff, 0x0101, u64::wrapping_add), 0x0200);
        assert_eq!(lanes_s(16, 0x7fff, 0x0001, |p, q| sat_s(16, p + q)), 0x7fff);
        assert_eq!(lanes_s(16, 0x8000, 0x0001, |p, q| sat_s(16, p - q)), 0x8000);
        assert_eq!(pmaddwd(0x8000_8000, 0x8000_8000), 0x8000_0000);
        assert_eq!(pack(16, 0x0080_ff7f_0001_8000, 0, |v| sat_s(8, v)), 0x7f_80_01_80);
        assert_eq!(
            pack(16, 0x0100_ffff_00fe_0001, 0, |v| v.clamp(0, 0xff)),
            0xff_00_fe_01
        );
        assert_eq!(
            unpack(8, 0x0706_0504_0302_0100, 0x1716_1514_1312_1110, 0),
            0x1303_1202_1101_1000
        );
        assert_eq!(
            unpack(32, 0x1111_1111_2222_2222, 0x3333_3333_4444_4444, 32),
            0x3333_3333_1111_1111
        );
        assert_eq!(shift(16, 0x8000_0001, 1, Shift::Arith), 0xc000_0000);
        assert_eq!(shift(16, 0x8000_0001, 99, Shift::Arith), 0xffff_0000);
        assert_eq!(shift(64, 1, 64, Shift::Left), 0);
        assert_eq!(shift(32, 0x8000_0000_8000_0000, 31, Shift::Right), 0x1_0000_0001);
    }
}
