//! Random cases for the x87 FPU, MMX and FXSAVE/FXRSTOR forms.
//!
//! The forms are every legacy encoding, valid in 32-bit mode, of an instruction that
//! needs nothing beyond the modelled CPU's FPU, MMX, FXSR and CMOV features (so no
//! FISTTP, which is SSE3, no PADDQ, which is SSE2, and no 287XL/387SL extras), in five
//! groups: `x87` (register forms), `x87mem` (memory forms), `x87trans`
//! (the transcendental instructions), `fpenv` (environment, save/restore, FINIT,
//! FCLEX, WAIT) and `mmx`.
//!
//! A case starts from a random FPU state (see [`random_fpu`]): every rounding mode and
//! the three precisions, all exceptions masked three times in four and random masks
//! otherwise, sticky flags, random TOP, tags that leave the stack empty, full or in
//! between, and register values biased toward what arithmetic gets wrong: zeros,
//! denormals, pseudo-denormals, unnormals, infinities, pseudo-infinities, quiet,
//! signalling and pseudo-NaNs, the largest and smallest numbers, integers near the
//! 16/32/64-bit limits and 10^18, halves, multiples of pi. Memory operands are filled
//! according to their type (single, double, extended, integers, packed BCD with
//! invalid digits now and then, control words, environment and save images).
//!
//! Every case is followed by FWAIT (`9B`): with an unmasked exception the instruction
//! sets ES and B and the FWAIT raises #MF, on the host and in the interpreter alike; in
//! one case in sixteen the starting state already has an exception pending, so waiting
//! instructions fault on entry and the non-waiting ones (FN…) run.

use iced_x86::{
    Code, CpuidFeature, Decoder, DecoderOptions, Encoder, EncodingKind, Instruction, MemorySize, Mnemonic,
    OpCodeOperandKind, OpKind, Register, RepPrefixKind,
};

use crate::gen::{ea, fill_window, pick_not_esp, set_memory, Case, Form, Rng};
use crate::state::{fx, FpuState, UserState, ARITH_FLAGS, DATA_SIZE, IF, RESERVED1};

/// The groups of x87/MMX forms.
pub const FP_GROUPS: &[&str] = &["x87", "x87mem", "x87trans", "fpenv", "mmx"];

/// The mnemonics of group `x87trans`.
pub const TRANSCENDENTAL: &[Mnemonic] = {
    use Mnemonic::*;
    &[F2xm1, Fyl2x, Fyl2xp1, Fptan, Fpatan, Fsin, Fcos, Fsincos]
};

/// The mnemonics of group `fpenv`.
const ENVIRONMENT: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Fldenv, Fnstenv, Fstenv, Fnsave, Fsave, Frstor, Fxsave, Fxrstor, Fninit, Finit, Fnclex, Fclex, Wait,
    ]
};

/// The CPUID features of the modelled CPU that x87/MMX forms may need.
const FEATURES: &[CpuidFeature] = &[
    CpuidFeature::INTEL8086,
    CpuidFeature::FPU,
    CpuidFeature::FPU287,
    CpuidFeature::FPU387,
    CpuidFeature::MMX,
    CpuidFeature::FXSR,
    CpuidFeature::CMOV,
];

/// Every x87, MMX and FXSR form to test, in group order.
pub fn fp_forms() -> Vec<Form> {
    let mut out: Vec<Form> = Code::values()
        .filter(|&c| usable(c))
        .map(|code| Form {
            code,
            group: group_of(code),
            rep: RepPrefixKind::None,
            lock: false,
        })
        .collect();
    out.sort_by_key(|f| FP_GROUPS.iter().position(|g| *g == f.group));
    out
}

fn usable(code: Code) -> bool {
    let op = code.op_code();
    if code.encoding() != EncodingKind::Legacy || !op.mode32() || !op.is_instruction() {
        return false;
    }
    let mut i = Instruction::default();
    i.set_code(code);
    let f = i.cpuid_features();
    let fp = code.mnemonic() == Mnemonic::Wait
        || f.iter()
            .any(|f| FEATURES[1..].contains(f) && *f != CpuidFeature::CMOV);
    // PADDQ on MMX registers came with SSE2 (SDM Vol. 2B PADDQ), though iced lists it
    // with MMX.
    fp && f.iter().all(|f| FEATURES.contains(f)) && code != Code::Paddq_mm_mmm64
}

fn group_of(code: Code) -> &'static str {
    let m = code.mnemonic();
    let mut i = Instruction::default();
    i.set_code(code);
    if TRANSCENDENTAL.contains(&m) {
        "x87trans"
    } else if ENVIRONMENT.contains(&m) {
        "fpenv"
    } else if i.cpuid_features().contains(&CpuidFeature::MMX) {
        "mmx"
    } else if code.op_code().op_kinds().contains(&OpCodeOperandKind::mem) {
        "x87mem"
    } else {
        "x87"
    }
}

/// Draws one case of an x87/MMX `form`; `index` walks MMX shift counts 0..72 first.
pub fn generate(form: &Form, index: u64, rng: &mut Rng) -> Case {
    let mut before = UserState::new();
    for (i, r) in before.regs.iter_mut().enumerate() {
        if i != 4 {
            *r = rng.edge_u32();
        }
    }
    before.eflags = (rng.next_u32() & ARITH_FLAGS) | IF | RESERVED1;
    fill_window(&mut before.mem, rng);
    let mnemonic = form.code.mnemonic();
    let mut fpu = random_fpu(rng, form.group == "mmx", true);
    if form.group == "x87trans" {
        // PE stays masked: the host raises it even for exact results (its
        // approximations are not correctly rounded; see known_deviations_x87.txt), and
        // unmasked it would turn that into #MF at the FWAIT.
        fpu.set_fcw(fpu.fcw() | 0x20);
        let es = if fpu.fsw() & !fpu.fcw() & 0x3f != 0 {
            0x8080
        } else {
            0
        };
        fpu.set_fsw((fpu.fsw() & !0x8080) | es);
    }
    shape_stack(mnemonic, &mut fpu, rng);

    let kinds = form.code.op_code().op_kinds();
    let mut instr = Instruction::default();
    instr.set_code(form.code);
    let mem_operand = kinds.iter().position(|k| {
        *k == OpCodeOperandKind::mem
            || (matches!(k, OpCodeOperandKind::mm_or_mem | OpCodeOperandKind::r32_or_mem) && rng.chance(1, 2))
    });
    let mut taken = Vec::new();
    for (n, &k) in kinds.iter().enumerate() {
        use OpCodeOperandKind as K;
        if Some(n) == mem_operand {
            continue;
        }
        let n = n as u32;
        let reg = match k {
            K::st0 => Register::ST0,
            K::sti_opcode => Register::ST0 + rng.below(8),
            K::mm_reg | K::mm_rm | K::mm_or_mem => Register::MM0 + rng.below(8),
            K::r32_or_mem | K::r32_reg => {
                let i = pick_not_esp(rng);
                taken.push(i);
                Register::EAX + i as u32
            }
            K::ax => Register::AX,
            K::imm8 => {
                let count = if index < 72 {
                    index as u8
                } else if rng.chance(3, 4) {
                    rng.below(70) as u8
                } else {
                    rng.next_u32() as u8
                };
                instr.set_op_kind(n, OpKind::Immediate8);
                instr.set_immediate8(count);
                continue;
            }
            other => panic!("{:?}: operand kind {other:?} not supported", form.code),
        };
        instr.set_op_kind(n, OpKind::Register);
        instr.set_op_register(n, reg);
    }
    if let Some(n) = mem_operand {
        let size = instr.memory_size().size() as u32;
        let at = if size >= 94 {
            // Room for the whole image; FXSAVE/FXRSTOR need 16-byte alignment (#GP
            // otherwise), tried now and then.
            let at = 0x100 + (rng.below(DATA_SIZE as u32 - 0x200 - 512) & !15);
            Some(if rng.chance(1, 16) {
                at + rng.pick(&[2, 4, 8])
            } else {
                at
            })
        } else {
            None
        };
        set_memory(&mut instr, n as u32, false, at, &taken, false, rng, &mut before);
        if rng.chance(1, 16) {
            // Flat segments all, but CS is not writable: a store through it is #GP(0).
            instr.set_segment_prefix(rng.pick(&[Register::ES, Register::CS, Register::SS, Register::DS]));
        }
        let at = ea(&instr, &before) as usize;
        fill_operand(&instr, at, &mut before.mem, rng);
    }
    before.fpu = Some(fpu);

    let mut encoder = Encoder::new(32);
    if let Err(e) = encoder.encode(&instr, 0) {
        panic!("cannot encode {:?} ({instr}): {e}", form.code);
    }
    let mut bytes = encoder.take_buffer();
    let len = bytes.len();
    let decoded = Decoder::new(32, &bytes, DecoderOptions::NONE).decode();
    let decoded = if decoded.code() == Code::Wait && form.code != Code::Wait {
        // FWAIT and the FN form (FENI, FDISI, FSETPM): iced decodes the wait apart, as
        // does the interpreter, which then runs two instructions. Keep the form's
        // instruction for reports and the deviation rules.
        let mut i = instr;
        i.set_len(len);
        i
    } else {
        decoded
    };
    assert_eq!(
        decoded.len(),
        len,
        "{:?}: re-decoding {bytes:02x?} gave {decoded}",
        form.code
    );
    // FWAIT: an unmasked exception the instruction raised is reported here (#MF).
    bytes.push(0x9B);
    Case {
        form: *form,
        instr: decoded,
        bytes,
        before,
    }
}

/// A random FPU state. `mmx` draws register values as MMX data (significands of any
/// pattern, exponent field mostly all ones as MMX writes leave it); `pending` allows an
/// unmasked exception flag to be set (ES and B then set too) one time in sixteen.
pub fn random_fpu(rng: &mut Rng, mmx: bool, pending: bool) -> FpuState {
    let masks = if rng.chance(3, 4) {
        0x3f
    } else {
        rng.below(64) as u16
    };
    let pc = rng.pick(&[3u16, 3, 3, 2, 0]);
    let rc = rng.below(4) as u16;
    let x = if rng.chance(1, 8) { 0x1000 } else { 0 };
    let fcw = masks | 0x40 | pc << 8 | rc << 10 | x;
    let mut exc = if rng.chance(1, 3) { rng.below(64) as u16 } else { 0 };
    if !(pending && rng.chance(1, 16)) {
        exc &= masks;
    }
    let sf = if exc & 1 != 0 && rng.chance(1, 2) { 0x40 } else { 0 };
    let cc = rng.next_u32() as u16 & 0x4700;
    let top = rng.below(8) as u16;
    let es = if exc & !masks & 0x3f != 0 { 0x8080 } else { 0 };
    let fsw = exc | sf | cc | top << 11 | es;
    let ftw = match rng.below(8) {
        0 => 0,
        1 => 0xff,
        2 => rng.next_u32() as u8,
        _ => (0..8).fold(0u8, |t, p| if rng.chance(7, 8) { t | 1 << p } else { t }),
    };
    let mut f = FpuState::init();
    f.set_fcw(fcw);
    f.set_fsw(fsw);
    f.fx[fx::FTW] = ftw;
    for i in 0..8 {
        let v = if mmx && rng.chance(7, 8) {
            let se = if rng.chance(3, 4) {
                0xffff
            } else {
                rng.next_u32() as u16
            };
            to_bytes(se, mmx_value(rng))
        } else {
            reg80(rng)
        };
        f.set_st(i, v);
    }
    f
}

/// A 64-bit MMX value: lanes of edge bytes, words or dwords, or random bits.
fn mmx_value(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 => {
            let b: [u8; 8] = std::array::from_fn(|_| rng.pick(&[0u8, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x40]));
            u64::from_le_bytes(b)
        }
        1 => {
            let w: [u16; 4] =
                std::array::from_fn(|_| rng.pick(&[0u16, 1, 0x7fff, 0x8000, 0x8001, 0xffff, 0x00ff, 0xff00]));
            w.iter().rev().fold(0u64, |a, &w| a << 16 | u64::from(w))
        }
        2 => u64::from(rng.edge_u32()) << 32 | u64::from(rng.edge_u32()),
        _ => rng.next_u64(),
    }
}

fn to_bytes(se: u16, mant: u64) -> [u8; 10] {
    let mut b = [0u8; 10];
    b[..8].copy_from_slice(&mant.to_le_bytes());
    b[8..].copy_from_slice(&se.to_le_bytes());
    b
}

fn from_bytes(b: [u8; 10]) -> (u16, u64) {
    let mut m = [0u8; 8];
    m.copy_from_slice(&b[..8]);
    (u16::from_le_bytes([b[8], b[9]]), u64::from_le_bytes(m))
}

const INT_BIT: u64 = 1 << 63;

/// A random 80-bit register value, biased toward special and edge encodings.
pub fn reg80(rng: &mut Rng) -> [u8; 10] {
    let sign = if rng.chance(1, 2) { 0x8000u16 } else { 0 };
    let frac = |rng: &mut Rng| {
        let m = rng.next_u64() & !INT_BIT;
        match rng.below(4) {
            0 => m >> rng.below(63),
            1 => m & !(u64::MAX >> rng.below(64)),
            _ => m,
        }
    };
    let (se, m) = match rng.below(24) {
        0 => (sign, 0),
        1 => (sign, (frac(rng) | 1) >> rng.below(8)),
        2 => (sign, INT_BIT | frac(rng)),
        3 => (sign | (1 + rng.below(0x7ffe)) as u16, frac(rng)),
        4 => (sign | 0x7fff, INT_BIT),
        5 => (sign | 0x7fff, frac(rng)), // pseudo-infinity or pseudo-NaN
        6 => (sign | 0x7fff, INT_BIT | 1 << 62 | frac(rng) >> 1),
        7 => (sign | 0x7fff, INT_BIT | ((frac(rng) >> 1) | 1)),
        8 => (0xffff, 0xc000_0000_0000_0000),
        9 => (sign | rng.pick(&[1u16, 2, 0x7ffe, 0x7ffd]), INT_BIT | frac(rng)),
        10 => (sign | rng.pick(&[1u16, 0x7ffe]), rng.pick(&[INT_BIT, u64::MAX])),
        11 | 12 => return int_near_limit(rng, sign != 0),
        13 => {
            // An exact double or single: rounding to them is then exact or a tie.
            let keep = rng.pick(&[11u32, 24, 53, 64]);
            let m = (INT_BIT | frac(rng)) & !(u64::MAX >> keep);
            (sign | (0x3fff + rng.below(200) as i32 - 100) as u16, m)
        }
        14 | 15 => (sign | (0x3ffe + rng.below(3)) as u16, INT_BIT | frac(rng)),
        16 => {
            // Near a multiple of pi/4 (FPREM, FSIN, FPTAN reduce by it).
            let pi = 0xc90f_daa2_2168_c234u64;
            let m = pi.wrapping_add(u64::from(rng.below(5)).wrapping_sub(2));
            (sign | (0x3ffe + rng.below(70)) as u16, m | INT_BIT)
        }
        17 => (sign | (0x3fff + rng.below(128)) as u16, INT_BIT),
        18 => (sign | (1 + rng.below(0x7ffe)) as u16, INT_BIT | frac(rng)),
        _ => (
            sign | (0x3fff + rng.below(128) as i32 - 64) as u16,
            INT_BIT | frac(rng),
        ),
    };
    to_bytes(se, m)
}

/// A value near an integer limit: 0, 1, 2^15, 2^31, 2^63, 2^64, 10^18 (FBSTP's limit),
/// plus or minus up to 2, plus a fraction of 0, 1/4, 1/2 or 3/4 — what FIST, FISTP,
/// FBSTP and FRNDINT round differently per rounding mode.
fn int_near_limit(rng: &mut Rng, negative: bool) -> [u8; 10] {
    let base: u128 = rng.pick(&[
        0u128,
        1,
        1 << 15,
        1 << 31,
        1 << 63,
        1 << 64,
        1_000_000_000_000_000_000,
    ]);
    let offset = i128::from(rng.below(5)) - 2;
    let quarters = (base as i128 + offset).max(0) as u128 * 4 + u128::from(rng.below(4));
    if quarters == 0 {
        return to_bytes(if negative { 0x8000 } else { 0 }, 0);
    }
    let bits = 128 - quarters.leading_zeros();
    let mant = if bits <= 64 {
        (quarters << (64 - bits)) as u64
    } else {
        (quarters >> (bits - 64)) as u64
    };
    let exp = 0x3fff + bits as u16 - 1 - 2;
    to_bytes(if negative { 0x8000 } else { 0 } | exp, mant)
}

/// Adjusts ST(0) and ST(1) for the instructions whose interesting cases random values
/// rarely hit: operands in the defined domain of the transcendentals, close exponents
/// for FPREM, integer-like scales for FSCALE, equal operands for compares.
fn shape_stack(m: Mnemonic, f: &mut FpuState, rng: &mut Rng) {
    use Mnemonic::*;
    let normal = |rng: &mut Rng, lo: i32, hi: i32| {
        let sign = if rng.chance(1, 2) { 0x8000u16 } else { 0 };
        let e = 0x3fff + lo + rng.below((hi - lo + 1) as u32) as i32;
        to_bytes(sign | e as u16, INT_BIT | (rng.next_u64() >> 1))
    };
    let in_domain = rng.chance(3, 4);
    match m {
        F2xm1 if in_domain => f.set_st(0, normal(rng, -70, -1)),
        Fyl2xp1 if in_domain => f.set_st(0, normal(rng, -70, -3)),
        Fyl2x if in_domain => {
            let (se, m) = from_bytes(normal(rng, -80, 80));
            f.set_st(0, to_bytes(se & 0x7fff, m));
        }
        Fsin | Fcos | Fsincos | Fptan | Fpatan if in_domain => f.set_st(0, normal(rng, -40, 70)),
        Fprem | Fprem1 if in_domain => {
            let (se, _) = from_bytes(f.st(0));
            let (_, m1) = from_bytes(normal(rng, 0, 0));
            let e1 = (i32::from(se & 0x7fff) - rng.below(80) as i32).clamp(1, 0x7ffe) as u16;
            f.set_st(1, to_bytes(e1 | if rng.chance(1, 2) { 0x8000 } else { 0 }, m1));
        }
        Fscale if in_domain => {
            let v = rng.pick(&[
                0i64, 1, -1, 63, -63, 16383, -16383, 16384, -16384, 32767, -32768, 70000,
            ]);
            let v = v + i64::from(rng.below(3)) - 1;
            let frac = rng.chance(1, 4);
            let mut b = int_bytes(v);
            if frac {
                // A fractional scale: FSCALE truncates it toward zero.
                b[0] |= 0x40;
            }
            f.set_st(1, b);
        }
        Fcom | Fcomp | Fcompp | Fucom | Fucomp | Fucompp | Fcomi | Fcomip | Fucomi | Fucomip | Fsub
        | Fsubr | Fsubp | Fsubrp | Fdiv | Fdivr
            if rng.chance(1, 4) =>
        {
            let v = f.st(0);
            for i in 1..8 {
                f.set_st(i, v);
            }
        }
        _ => {}
    }
}

/// `v` as an exact 80-bit value (|v| < 2^63).
fn int_bytes(v: i64) -> [u8; 10] {
    if v == 0 {
        return [0; 10];
    }
    let a = v.unsigned_abs();
    let lz = a.leading_zeros();
    let sign = if v < 0 { 0x8000 } else { 0 };
    to_bytes(sign | (0x3fff + 63 - lz) as u16, a << lz)
}

/// Writes a value of the operand's type at window offset `at`, for loads.
fn fill_operand(instr: &Instruction, at: usize, mem: &mut [u8], rng: &mut Rng) {
    use Mnemonic::*;
    let mut put = |bytes: &[u8]| mem[at..at + bytes.len()].copy_from_slice(bytes);
    match instr.mnemonic() {
        Fldcw => {
            let cw = if rng.chance(1, 4) {
                rng.next_u32() as u16
            } else {
                let f = random_fpu(rng, false, false);
                f.fcw()
            };
            put(&cw.to_le_bytes());
            return;
        }
        Fldenv | Frstor => {
            let small = instr.memory_size().size() < 28 || instr.memory_size() == MemorySize::FpuState94;
            put(&env_image(rng, small, instr.mnemonic() == Frstor));
            return;
        }
        Fxrstor => {
            let mmx = rng.chance(1, 4);
            let f = random_fpu(rng, mmx, false);
            let mut img = [0u8; 512];
            for b in img.iter_mut() {
                *b = rng.next_u32() as u8;
            }
            img[..crate::state::FX_LEN].copy_from_slice(&f.fx);
            img[5] = 0;
            img[fx::FOP..fx::FOP + 2].copy_from_slice(&(rng.next_u32() as u16 & 0x7ff).to_le_bytes());
            img[fx::MXCSR..fx::MXCSR + 4].copy_from_slice(&0x1f80u32.to_le_bytes());
            for i in 0..8 {
                let o = fx::ST0 + 16 * i + 10;
                img[o..o + 6].fill(0);
            }
            put(&img);
            return;
        }
        _ => {}
    }
    match instr.memory_size() {
        MemorySize::Float32 => put(&float_bits(rng, 8, 23).to_le_bytes()[..4]),
        MemorySize::Float64 => put(&float_bits(rng, 11, 52).to_le_bytes()),
        MemorySize::Float80 => put(&reg80(rng)),
        MemorySize::Int16 => put(&(edge_int(rng, 16) as u16).to_le_bytes()),
        MemorySize::Int32 => put(&(edge_int(rng, 32) as u32).to_le_bytes()),
        MemorySize::Int64 => put(&edge_int(rng, 64).to_le_bytes()),
        MemorySize::Bcd => put(&bcd(rng)),
        _ if is_mmx_shift(instr.mnemonic()) && rng.chance(3, 4) => {
            put(&u64::from(rng.below(70)).to_le_bytes());
        }
        _ => {}
    }
}

fn is_mmx_shift(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(m, Psllw | Pslld | Psllq | Psrlw | Psrld | Psrlq | Psraw | Psrad)
}

/// A binary floating-point encoding with `e` exponent and `f` fraction bits, biased
/// toward zeros, denormals, the extremes, infinities and NaNs.
fn float_bits(rng: &mut Rng, e: u32, f: u32) -> u64 {
    let sign = u64::from(rng.chance(1, 2)) << (e + f);
    let emax = (1u64 << e) - 1;
    let fmask = (1u64 << f) - 1;
    let fr = rng.next_u64() & fmask;
    let (ex, fr) = match rng.below(12) {
        0 => (0, 0),
        1 => (0, fr | 1),
        2 => (emax, 0),
        3 => (emax, fr | 1 << (f - 1)),
        4 => (emax, (fr & (fmask >> 1)) | 1),
        5 => (rng.pick(&[1, 2, emax - 1]), fr),
        6 => (emax - 1, fmask),
        _ => ((emax >> 1) + u64::from(rng.below(80)) - 40, fr),
    };
    sign | ex << f | fr
}

/// A `bits`-wide integer near 0 or the limits, or random.
fn edge_int(rng: &mut Rng, bits: u32) -> u64 {
    let min = 1u64 << (bits - 1);
    let v = match rng.below(4) {
        0 => rng.pick(&[0u64, 1, u64::MAX, min, min - 1, min + 1]),
        1 => u64::from(rng.below(2000)).wrapping_sub(1000),
        2 => 1_000_000_000_000_000_000u64.wrapping_mul(rng.pick(&[1u64, u64::MAX])),
        _ => rng.next_u64(),
    };
    if bits == 64 {
        v
    } else {
        v & ((1 << bits) - 1)
    }
}

/// A packed BCD operand: 18 digits and a sign byte; now and then a digit above 9 or
/// junk in the sign byte's low bits (SDM Vol. 1 §4.7: invalid encodings).
fn bcd(rng: &mut Rng) -> [u8; 10] {
    let mut b = [0u8; 10];
    let digits = rng.pick(&[0u32, 1, 5, 18, 18]);
    for d in 0..digits {
        let v = if rng.chance(1, 3) { 9 } else { rng.below(10) } as u8;
        b[d as usize / 2] |= v << (4 * (d % 2));
    }
    if rng.chance(1, 10) {
        let d = rng.below(18) as usize;
        b[d / 2] |= 0xa << (4 * (d % 2)) | rng.below(6) as u8;
    }
    b[9] = rng.pick(&[0u8, 0x80, 0x80, 0]) | if rng.chance(1, 8) { rng.below(128) as u8 } else { 0 };
    b
}

/// An FLDENV (and, with `regs`, FRSTOR) image in the 32-bit protected-mode format, or
/// the 16-bit one (`small`; operand-size prefix), from a random state whose ES agrees
/// with its flags and masks. Tags of non-empty registers are sometimes wrong for the
/// contents (the CPU keeps only "empty or not" and recomputes the rest).
fn env_image(rng: &mut Rng, small: bool, regs: bool) -> Vec<u8> {
    let mmx = rng.chance(1, 8);
    let f = random_fpu(rng, mmx, false);
    let top = usize::from((f.fsw() >> 11) & 7);
    let mut tags = 0u16;
    for p in 0..8 {
        let st = f.st((p + 8 - top) & 7);
        let t = if f.ftw() & (1 << p) == 0 {
            3
        } else if rng.chance(1, 4) {
            rng.below(3) as u16
        } else {
            tag_of(st)
        };
        tags |= t << (2 * p);
    }
    let mut fcw = f.fcw();
    if rng.chance(1, 8) {
        // Reserved bits set (they read back as the CPU keeps them).
        fcw |= rng.next_u32() as u16 & 0xe0c0;
    }
    let mut out = Vec::new();
    let word = |out: &mut Vec<u8>, v: u16, pad: bool, rng: &mut Rng| {
        out.extend_from_slice(&v.to_le_bytes());
        if pad {
            let r = if rng.chance(1, 2) {
                0xffff
            } else {
                rng.next_u32() as u16
            };
            out.extend_from_slice(&r.to_le_bytes());
        }
    };
    let big = !small;
    word(&mut out, fcw, big, rng);
    word(&mut out, f.fsw(), big, rng);
    word(&mut out, tags, big, rng);
    if big {
        out.extend_from_slice(&rng.next_u32().to_le_bytes());
        word(&mut out, rng.next_u32() as u16, false, rng);
        word(&mut out, rng.next_u32() as u16 & 0x7ff, false, rng);
        out.extend_from_slice(&rng.next_u32().to_le_bytes());
        word(&mut out, rng.next_u32() as u16, true, rng);
    } else {
        for _ in 0..4 {
            word(&mut out, rng.next_u32() as u16, false, rng);
        }
    }
    if regs {
        for i in 0..8 {
            out.extend_from_slice(&f.st(i));
        }
    }
    out
}

/// The two-bit tag the CPU computes for a register's contents (SDM Vol. 1 §8.1.7):
/// 0 valid, 1 zero, 2 special.
fn tag_of(v: [u8; 10]) -> u16 {
    let (se, m) = from_bytes(v);
    match se & 0x7fff {
        0x7fff => 2,
        0 if m == 0 => 1,
        0 => 2,
        _ if m & INT_BIT == 0 => 2,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_cover_x87_and_mmx_and_nothing_newer() {
        let forms = fp_forms();
        let count = |g: &str| forms.iter().filter(|f| f.group == g).count();
        assert!(count("x87") > 60 && count("x87mem") > 50, "{forms:?}");
        assert_eq!(count("x87trans"), 8);
        assert!(count("mmx") >= 45 && count("fpenv") >= 15);
        for code in [
            Code::Fisttp_m32int,
            Code::Paddq_mm_mmm64,
            Code::Fstdw_AX,
            Code::Frstpm,
        ] {
            assert!(!forms.iter().any(|f| f.code == code), "{code:?}");
        }
    }

    #[test]
    fn cases_decode_to_their_form_and_end_in_fwait() {
        let mut rng = Rng::new(5);
        for form in fp_forms() {
            for i in 0..30 {
                let c = generate(&form, i, &mut rng);
                assert_eq!(c.instr.code(), form.code, "{}", c.disassembly());
                assert_eq!(c.bytes.last(), Some(&0x9B));
                let f = c.before.fpu.as_ref().expect("fpu state");
                let pending = f.fsw() & !f.fcw() & 0x3f != 0;
                assert_eq!(f.fsw() & 0x8080 != 0, pending, "ES agrees with the flags");
            }
        }
    }

    #[test]
    fn integer_values_are_exact() {
        assert_eq!(from_bytes(int_bytes(1)), (0x3fff, INT_BIT));
        assert_eq!(from_bytes(int_bytes(-3)), (0xc000, 0xc000_0000_0000_0000));
    }
}
