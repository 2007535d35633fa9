//! Table-driven tests of the x87 and MMX handlers: bytes, initial FPU
//! state, expected state. The numbers themselves are f80's business (and
//! tested there); these check the stack, tags, status and control words,
//! memory images, pointers and the #NM/#MF/#UD rules.

use super::state::{fcw, fsw, Fpu, Reg80};
use crate::desc::testenv::{Env, CODE};
use crate::fault::{Fault, Res};
use crate::state::{cr0, flags, reg, SegReg};
use crate::{Bus, Cpu};
use mem::PhysAddr;

/// Where tests put data (DS base 0).
const DATA: u32 = 0x6000;

/// A flat ring-0 protected-mode machine with a freshly initialised FPU
/// (FNINIT state) and CR0.NE set.
fn env() -> Env {
    let mut e = Env::new();
    e.cpu.state.fpu.init();
    e.cpu.state.cr0 |= cr0::NE;
    e
}

/// Run `code` to its end, stopping at the first fault.
fn run(e: &mut Env, code: &[u8]) -> Res<()> {
    e.code(code);
    while e.cpu.state.eip < CODE + code.len() as u32 {
        e.step()?;
    }
    Ok(())
}

/// `code` with a disp32 memory operand pointing at DATA + `off`.
fn at(prefix: &[u8], off: u32) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend_from_slice(&(DATA + off).to_le_bytes());
    v
}

fn wbytes(e: &mut Env, a: u32, b: &[u8]) {
    e.bus.mem.write(PhysAddr(u64::from(a)), b);
}

fn rbytes(e: &mut Env, a: u32, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    e.bus.mem.read(PhysAddr(u64::from(a)), &mut b);
    b
}

const ONE: Reg80 = Reg80 {
    signif: 1 << 63,
    se: 0x3fff,
};
const TWO: Reg80 = Reg80 {
    signif: 1 << 63,
    se: 0x4000,
};
const ZERO: Reg80 = Reg80::ZERO;

fn f(e: &Env) -> &Fpu {
    &e.cpu.state.fpu
}

// Pushes: fld1 (D9 E8), fldz (D9 EE), fldpi (D9 EB). TOP goes 0 → 7 → 6
// → 5, the pushed registers are tagged, the others stay empty.
#[test]
fn pushes_move_top_and_tags() {
    let mut e = env();
    run(&mut e, &[0xd9, 0xe8, 0xd9, 0xee, 0xd9, 0xeb]).unwrap();
    let f = f(&e);
    assert_eq!(f.top(), 5);
    assert_eq!(f.ftw, 0b1110_0000);
    assert_eq!(f.tag_word(), 0b00_01_00_11_11_11_11_11);
    assert_eq!(
        f.st(0),
        Reg80 {
            signif: 0xc90f_daa2_2168_c235,
            se: 0x4000
        }
    );
    assert_eq!(f.st(1), ZERO);
    assert_eq!(f.st(2), ONE);
    assert_eq!(f.fsw & fsw::EXC, 0);
}

// The constants round per RC (SDM Vol. 1, 8.3.5): fldpi (D9 EB),
// fldl2t (D9 E9), fldl2e (D9 EA), fldlg2 (D9 EC), fldln2 (D9 ED).
#[test]
fn constants_follow_rounding_control() {
    let table: [(&[u8], [u64; 4]); 5] = [
        (
            &[0xd9, 0xeb],
            [
                0xc90f_daa2_2168_c235,
                0xc90f_daa2_2168_c234,
                0xc90f_daa2_2168_c235,
                0xc90f_daa2_2168_c234,
            ],
        ),
        (
            &[0xd9, 0xe9],
            [
                0xd49a_784b_cd1b_8afe,
                0xd49a_784b_cd1b_8afe,
                0xd49a_784b_cd1b_8aff,
                0xd49a_784b_cd1b_8afe,
            ],
        ),
        (
            &[0xd9, 0xea],
            [
                0xb8aa_3b29_5c17_f0bc,
                0xb8aa_3b29_5c17_f0bb,
                0xb8aa_3b29_5c17_f0bc,
                0xb8aa_3b29_5c17_f0bb,
            ],
        ),
        (
            &[0xd9, 0xec],
            [
                0x9a20_9a84_fbcf_f799,
                0x9a20_9a84_fbcf_f798,
                0x9a20_9a84_fbcf_f799,
                0x9a20_9a84_fbcf_f798,
            ],
        ),
        (
            &[0xd9, 0xed],
            [
                0xb172_17f7_d1cf_79ac,
                0xb172_17f7_d1cf_79ab,
                0xb172_17f7_d1cf_79ac,
                0xb172_17f7_d1cf_79ab,
            ],
        ),
    ];
    for (code, want) in table {
        for (rc, w) in want.iter().enumerate() {
            let mut e = env();
            e.cpu.state.fpu.fcw = fcw::INIT | (rc as u16) << 10;
            run(&mut e, code).unwrap();
            assert_eq!(f(&e).st(0).signif, *w, "{code:02x?} rc={rc}");
            assert_eq!(f(&e).fsw & fsw::PE, 0, "constants are not inexact");
        }
    }
}

// Nine fld1 (D9 E8): the ninth overflows. Masked: IE, SF, C1 and the
// indefinite pushed. Unmasked: nothing pushed, ES set, and the next
// waiting instruction (fnop, D9 D0) raises #MF with CR0.NE=1; fnclex
// (DB E2) does not wait and clears it.
#[test]
fn stack_overflow_masked_and_unmasked() {
    let ld8 = [0xd9u8, 0xe8].repeat(8);
    let mut e = env();
    run(&mut e, &ld8).unwrap();
    run(&mut e, &[0xd9, 0xe8]).unwrap();
    let s = f(&e).fsw;
    assert_eq!(
        s & (fsw::IE | fsw::SF | fsw::C1 | fsw::ES),
        fsw::IE | fsw::SF | fsw::C1
    );
    assert_eq!(f(&e).st(0), Reg80::INDEFINITE);
    assert_eq!(f(&e).top(), 7);

    let mut e = env();
    e.cpu.state.fpu.fcw = fcw::INIT & !fcw::IM;
    run(&mut e, &ld8).unwrap();
    run(&mut e, &[0xd9, 0xe8]).unwrap();
    assert_eq!(f(&e).top(), 0, "nothing pushed");
    assert_eq!(f(&e).st(0), ONE);
    assert_ne!(f(&e).fsw & fsw::ES, 0);
    assert_ne!(f(&e).fsw & fsw::B, 0);
    e.code(&[0xd9, 0xd0]);
    assert_eq!(e.step(), Err(super::MF));
    assert_eq!(e.cpu.state.eip, CODE, "the fault is on the waiting instruction");
    run(&mut e, &[0xdb, 0xe2, 0xd9, 0xd0]).unwrap();
    assert_eq!(f(&e).fsw & (fsw::EXC | fsw::SF | fsw::ES | fsw::B), 0);
}

// With CR0.NE=0 a pending exception asserts FERR# at the next waiting
// instruction (fwait, 9B), which then completes; FNINIT drops it.
#[test]
fn ferr_with_ne_clear() {
    #[derive(Default)]
    struct Pic(std::rc::Rc<std::cell::Cell<u32>>);
    impl crate::InterruptController for Pic {
        fn pending(&self) -> bool {
            false
        }
        fn acknowledge(&mut self) -> u8 {
            0
        }
        fn ferr(&mut self, on: bool) {
            self.0.set(self.0.get() * 10 + u32::from(on) + 1);
        }
    }
    let mut e = env();
    let log = std::rc::Rc::new(std::cell::Cell::new(0));
    e.bus.intc = Some(Box::new(Pic(log.clone())));
    e.cpu.state.cr0 &= !cr0::NE;
    e.cpu.state.fpu.fcw = fcw::INIT & !fcw::ZM;
    // fld1; fldz; fdivp st1, st0 (DE F9): 1/0, unmasked #Z.
    run(&mut e, &[0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9]).unwrap();
    assert_ne!(f(&e).fsw & fsw::ZE, 0);
    assert!(!f(&e).ferr, "nothing asserted before a waiting instruction");
    run(&mut e, &[0x9b]).unwrap();
    assert!(f(&e).ferr);
    run(&mut e, &[0xdb, 0xe3]).unwrap();
    assert!(!f(&e).ferr);
    assert_eq!(log.get(), 21, "asserted, then deasserted");
}

// Stack underflow: fadd st0, st1 (D8 C1) with one register in use.
// Masked: IE, SF, C1=0, ST(0) = indefinite. faddp with both empty
// (DE C1) pops after the masked response.
#[test]
fn stack_underflow() {
    let mut e = env();
    run(&mut e, &[0xd9, 0xe8, 0xd8, 0xc1]).unwrap();
    assert_eq!(f(&e).fsw & (fsw::IE | fsw::SF | fsw::C1), fsw::IE | fsw::SF);
    assert_eq!(f(&e).st(0), Reg80::INDEFINITE);
    let mut e = env();
    run(&mut e, &[0xde, 0xc1]).unwrap();
    assert_eq!(f(&e).top(), 1);
    assert_eq!(f(&e).ftw, 0b10, "ST(1) before the pop got the indefinite");
    // fst st0 → st3 with ST(0) empty, unmasked: nothing changes.
    let mut e = env();
    e.cpu.state.fpu.fcw &= !fcw::IM;
    run(&mut e, &[0xdd, 0xd3]).unwrap();
    assert_eq!(f(&e).ftw, 0);
    assert_ne!(f(&e).fsw & fsw::ES, 0);
}

// fld1; fld1; faddp (DE C1): 2.0 in ST(0), one register in use.
// fld1; fchs (D9 E0); fabs (D9 E1); fsqrt (D9 FA) of 4.0; fxch (D9 C9).
#[test]
fn arithmetic_through_the_stack() {
    let mut e = env();
    run(&mut e, &[0xd9, 0xe8, 0xd9, 0xe8, 0xde, 0xc1]).unwrap();
    assert_eq!(f(&e).st(0), TWO);
    assert_eq!(f(&e).ftw.count_ones(), 1);
    // fld1; fadd st0, st0 (D8 C0) → 2+2 = 4; fsqrt → 2.
    run(&mut e, &[0xd8, 0xc0, 0xd9, 0xfa]).unwrap();
    assert_eq!(f(&e).st(0), TWO);
    // fld1; fchs; fxch st1: ST(0) = 2, ST(1) = -1; fsubr st0, st1 (D8 E9): -1 - 2 = -3.
    run(&mut e, &[0xd9, 0xe8, 0xd9, 0xe0, 0xd9, 0xc9]).unwrap();
    assert_eq!(f(&e).st(0), TWO);
    assert_eq!(f(&e).st(1).se, 0xbfff);
    run(&mut e, &[0xd8, 0xe9]).unwrap();
    assert_eq!(
        f(&e).st(0),
        Reg80 {
            signif: 0xc000_0000_0000_0000,
            se: 0xc000
        }
    );
    // fdivr st1, st0 (DC F1): ST(1) = ST(0) / ST(1) = -3 / -1 = 3.
    run(&mut e, &[0xdc, 0xf1]).unwrap();
    assert_eq!(
        f(&e).st(1),
        Reg80 {
            signif: 0xc000_0000_0000_0000,
            se: 0x4000
        }
    );
}

// Memory formats: fld m32 (D9 05), fld m64 (DD 05), fild m16/m32/m64
// (DF 05, DB 05, DF 2D), fbld (DF 25), then stores of each.
#[test]
fn loads_and_stores_of_every_format() {
    let mut e = env();
    wbytes(&mut e, DATA, &1.5f32.to_bits().to_le_bytes());
    wbytes(&mut e, DATA + 8, &(-2.25f64).to_bits().to_le_bytes());
    wbytes(&mut e, DATA + 16, &(-7i16).to_le_bytes());
    wbytes(&mut e, DATA + 24, &100_000i32.to_le_bytes());
    wbytes(&mut e, DATA + 32, &(-(1i64 << 40)).to_le_bytes());
    wbytes(&mut e, DATA + 48, &[0x21, 0x43, 0, 0, 0, 0, 0, 0, 0, 0x80]); // -4321
    let mut code = at(&[0xd9, 0x05], 0);
    code.extend(at(&[0xdd, 0x05], 8));
    code.extend(at(&[0xdf, 0x05], 16));
    code.extend(at(&[0xdb, 0x05], 24));
    code.extend(at(&[0xdf, 0x2d], 32));
    code.extend(at(&[0xdf, 0x25], 48));
    run(&mut e, &code).unwrap();
    assert_eq!(f(&e).top(), 2);
    let want = [
        (0xc00bu16, 0x8708_0000_0000_0000u64), // -4321 = -0x10E1
        (0xc027, 0x8000_0000_0000_0000),       // -2^40
        (0x400f, 0xc350_0000_0000_0000),       // 100000
        (0xc001, 0xe000_0000_0000_0000),       // -7
        (0xc000, 0x9000_0000_0000_0000),       // -2.25
        (0x3fff, 0xc000_0000_0000_0000),       // 1.5
    ];
    for (k, (se, m)) in want.iter().enumerate() {
        assert_eq!(f(&e).st(k), Reg80 { signif: *m, se: *se }, "ST({k})");
    }
    // fbstp (DF 35), fistp m64 (DF 3D), fistp m32 (DB 1D), fistp m16 (DF 1D),
    // fstp m64 (DD 1D), fstp m32 (D9 1D).
    let mut code = at(&[0xdf, 0x35], 0x100);
    code.extend(at(&[0xdf, 0x3d], 0x110));
    code.extend(at(&[0xdb, 0x1d], 0x118));
    code.extend(at(&[0xdf, 0x1d], 0x120));
    code.extend(at(&[0xdd, 0x1d], 0x128));
    code.extend(at(&[0xd9, 0x1d], 0x130));
    run(&mut e, &code).unwrap();
    assert_eq!(
        rbytes(&mut e, DATA + 0x100, 10),
        [0x21, 0x43, 0, 0, 0, 0, 0, 0, 0, 0x80]
    );
    assert_eq!(rbytes(&mut e, DATA + 0x110, 8), (-(1i64 << 40)).to_le_bytes());
    assert_eq!(rbytes(&mut e, DATA + 0x118, 4), 100_000i32.to_le_bytes());
    assert_eq!(rbytes(&mut e, DATA + 0x120, 2), (-7i16).to_le_bytes());
    assert_eq!(
        rbytes(&mut e, DATA + 0x128, 8),
        (-2.25f64).to_bits().to_le_bytes()
    );
    assert_eq!(rbytes(&mut e, DATA + 0x130, 4), 1.5f32.to_bits().to_le_bytes());
    assert_eq!(f(&e).ftw, 0, "all popped");
    // fstp m80 (DB 3D) of an empty ST(0), masked: the indefinite.
    run(&mut e, &at(&[0xdb, 0x3d], 0x140)).unwrap();
    assert_eq!(rbytes(&mut e, DATA + 0x140, 10), Reg80::INDEFINITE.to_bytes());
    // fistp m16 of an empty register: the integer indefinite.
    run(&mut e, &at(&[0xdf, 0x1d], 0x150)).unwrap();
    assert_eq!(rbytes(&mut e, DATA + 0x150, 2), [0x00, 0x80]);
}

// A store that page-faults (or #GPs) commits nothing: fstp m64 past the
// DS limit leaves the stack as it was.
#[test]
fn faulting_store_commits_nothing() {
    let mut e = env();
    run(&mut e, &[0xd9, 0xe8]).unwrap();
    let before = e.cpu.state.fpu.clone();
    e.cpu.state.segs[SegReg::Ds as usize].limit = DATA + 4;
    e.code(&at(&[0xdd, 0x1d], 0));
    assert_eq!(e.step(), Err(Fault::GP0));
    assert_eq!(e.cpu.state.fpu, before);
}

// fcom st1 (D8 D1), fcomi st0, st1 (DB F1), fucomip (DF E9), ftst (D9 E4),
// fxam (D9 E5).
#[test]
fn compares() {
    let mut e = env();
    // ST(0) = 1, ST(1) = 2.
    e.cpu.state.fpu.push_raw(TWO);
    e.cpu.state.fpu.push_raw(ONE);
    run(&mut e, &[0xd8, 0xd1]).unwrap();
    assert_eq!(f(&e).fsw & fsw::CC, fsw::C0, "1 < 2");
    e.cpu.state.eflags |= flags::OF | flags::SF | flags::AF;
    run(&mut e, &[0xdb, 0xf1]).unwrap();
    assert_eq!(e.cpu.state.eflags & flags::ARITH, flags::CF);
    // fxch; fcomip: 2 > 1, pops.
    run(&mut e, &[0xd9, 0xc9, 0xdf, 0xe9]).unwrap();
    assert_eq!(e.cpu.state.eflags & flags::ARITH, 0);
    assert_eq!(f(&e).ftw.count_ones(), 1);
    // ST(0) = 1: ftst → greater; fchs; fxam → normal, negative.
    run(&mut e, &[0xd9, 0xe4]).unwrap();
    assert_eq!(f(&e).fsw & fsw::CC, 0);
    run(&mut e, &[0xd9, 0xe0, 0xd9, 0xe5]).unwrap();
    assert_eq!(f(&e).fsw & fsw::CC, fsw::C2 | fsw::C1);
    // fxam of an empty register: C3 and C0.
    run(&mut e, &[0xdd, 0xd8, 0xd9, 0xe5]).unwrap();
    assert_eq!(f(&e).fsw & (fsw::C3 | fsw::C2 | fsw::C0), fsw::C3 | fsw::C0);
    // fucomi with an empty operand, masked: unordered (ZF, PF, CF).
    run(&mut e, &[0xdb, 0xe9]).unwrap();
    assert_eq!(
        e.cpu.state.eflags & flags::ARITH,
        flags::ZF | flags::PF | flags::CF
    );
    assert_ne!(f(&e).fsw & fsw::SF, 0);
}

// fcmovb st0, st1 (DA C1) and fcmovnb (DB C1) on CF.
#[test]
fn fcmov_follows_eflags() {
    let mut e = env();
    e.cpu.state.fpu.push_raw(TWO);
    e.cpu.state.fpu.push_raw(ONE);
    e.cpu.state.eflags &= !flags::CF;
    run(&mut e, &[0xda, 0xc1]).unwrap();
    assert_eq!(f(&e).st(0), ONE);
    run(&mut e, &[0xdb, 0xc1]).unwrap();
    assert_eq!(f(&e).st(0), TWO);
}

// ffree st1 (DD C1), fincstp (D9 F7), fdecstp (D9 F6), ffreep (DF C0).
#[test]
fn ffree_and_top_moves() {
    let mut e = env();
    run(&mut e, &[0xd9, 0xe8, 0xd9, 0xe8]).unwrap();
    assert_eq!(f(&e).ftw, 0b1100_0000);
    run(&mut e, &[0xdd, 0xc1]).unwrap();
    assert_eq!(f(&e).ftw, 0b0100_0000);
    run(&mut e, &[0xd9, 0xf7]).unwrap();
    assert_eq!(f(&e).top(), 7);
    assert_eq!(f(&e).ftw, 0b0100_0000, "tags do not move");
    run(&mut e, &[0xd9, 0xf6, 0xdf, 0xc0]).unwrap();
    assert_eq!(f(&e).top(), 7);
    assert_eq!(f(&e).ftw, 0);
}

// fldcw (D9 2D) keeps bit 6 set and drops the reserved bits; fnstcw
// (D9 3D), fnstsw ax (DF E0), fstsw m16 (9B DD 3D).
#[test]
fn control_and_status_words() {
    let mut e = env();
    wbytes(&mut e, DATA, &0xe000u16.to_le_bytes());
    let mut code = at(&[0xd9, 0x2d], 0);
    code.extend(at(&[0xd9, 0x3d], 2));
    run(&mut e, &code).unwrap();
    assert_eq!(rbytes(&mut e, DATA + 2, 2), [0x40, 0x00]);
    // fld1 with all exceptions unmasked: nothing raised, no ES.
    run(&mut e, &[0xd9, 0xe8, 0xdf, 0xe0]).unwrap();
    assert_eq!(e.cpu.state.regs[reg::EAX] & 0xffff, 0x3800);
    run(&mut e, &at(&[0x9b, 0xdd, 0x3d], 4)).unwrap();
    assert_eq!(rbytes(&mut e, DATA + 4, 2), [0x00, 0x38]);
}

// Unmasking a pending flag with fldcw makes the next waiting instruction
// fault (SDM Vol. 1, 8.7.3).
#[test]
fn fldcw_unmasking_a_pending_flag_raises_mf_later() {
    let mut e = env();
    e.cpu.state.fpu.fsw |= fsw::PE;
    wbytes(&mut e, DATA, &(fcw::INIT & !fcw::PM).to_le_bytes());
    run(&mut e, &at(&[0xd9, 0x2d], 0)).unwrap();
    assert_ne!(f(&e).fsw & fsw::ES, 0);
    e.code(&[0xd9, 0xe8]);
    assert_eq!(e.step(), Err(super::MF));
}

// The #NM/#UD rules of SDM Vol. 3A table 2-2: EM → #NM for x87, #UD for
// MMX; TS → #NM for both; WAIT only with MP and TS.
#[test]
fn cr0_em_ts_mp_rules() {
    // (CR0 bits, code, expected)
    let fld1: &[u8] = &[0xd9, 0xe8];
    let fwait: &[u8] = &[0x9b];
    let emms: &[u8] = &[0x0f, 0x77];
    let fxsave = at(&[0x0f, 0xae, 0x05], 0);
    let fisttp: &[u8] = &[0xdb, 0x08]; // fisttp dword [eax]: SSE3, not on a P6
    let table: [(u32, &[u8], Res<()>); 12] = [
        (cr0::EM, fld1, Err(Fault::NM)),
        (cr0::TS, fld1, Err(Fault::NM)),
        (cr0::MP, fld1, Ok(())),
        (cr0::TS, fwait, Ok(())),
        (cr0::EM, fwait, Ok(())),
        (cr0::MP | cr0::TS, fwait, Err(Fault::NM)),
        (cr0::EM, emms, Err(Fault::UD)),
        (cr0::TS, emms, Err(Fault::NM)),
        (cr0::EM, &fxsave, Err(Fault::NM)),
        (0, fisttp, Err(Fault::UD)),
        (cr0::EM, fisttp, Err(Fault::NM)),
        (0, emms, Ok(())),
    ];
    for (bits, code, want) in table {
        let mut e = env();
        e.cpu.state.cr0 |= bits;
        e.cpu.state.regs[reg::EAX] = DATA;
        e.code(code);
        assert_eq!(e.step(), want, "cr0 {bits:#x} code {code:02x?}");
    }
}

// FIP/FCS/FOP/FDP/FDS after fadd dword [DATA] (D8 05 disp32): FOP is the
// low three bits of D8 and the ModR/M byte. Control instructions (fnstcw)
// leave them alone.
#[test]
fn last_instruction_and_data_pointers() {
    let mut e = env();
    run(&mut e, &[0xd9, 0xe8]).unwrap();
    let mut code = at(&[0xd8, 0x05], 0);
    code.extend(at(&[0xd9, 0x3d], 0x10));
    run(&mut e, &code).unwrap();
    let f = f(&e);
    assert_eq!((f.fip, f.fcs, f.fop), (CODE, 0x08, 0x005));
    assert_eq!((f.fdp, f.fds), (DATA, 0x10));
    // fadd st0, st3 (D8 C3) with [ebp+8] style fop of a memory form:
    // fld qword [ebx+esi*4+0x10] (DD 44 B3 10) → FOP 0x544.
    let mut e = env();
    e.cpu.state.regs[reg::EBX] = DATA;
    e.cpu.state.regs[reg::ESI] = 0;
    run(&mut e, &[0xdd, 0x44, 0xb3, 0x10, 0xd8, 0xc3]).unwrap();
    assert_eq!(e.cpu.state.fpu.fop, 0x0c3);
    assert_eq!(e.cpu.state.fpu.fdp, DATA + 0x10, "register forms keep FDP");
    e.code(&[0xdd, 0x44, 0xb3, 0x10]);
    e.step().unwrap();
    assert_eq!(e.cpu.state.fpu.fop, 0x544);
}

/// A state with recognisable pointers for the environment tests.
fn sample(e: &mut Env) {
    run(e, &[0xd9, 0xe8, 0xd9, 0xee]).unwrap(); // ST0 = 0, ST1 = 1
    let f = &mut e.cpu.state.fpu;
    f.fcw = 0x0b7f;
    f.fsw |= fsw::C3 | fsw::PE;
    f.fip = 0x1234_5678;
    f.fcs = 0x08;
    f.fop = 0x1ee;
    f.fdp = 0x9abc_def0;
    f.fds = 0x10;
}

// fnstenv [DATA] (D9 35), 32-bit protected format, then the exceptions
// are masked; fldenv (D9 25) reads it back.
#[test]
fn fstenv_protected_32() {
    let mut e = env();
    sample(&mut e);
    let saved = e.cpu.state.fpu.clone();
    run(&mut e, &at(&[0xd9, 0x35], 0)).unwrap();
    let img = rbytes(&mut e, DATA, 28);
    let w = |k: usize| u32::from_le_bytes([img[4 * k], img[4 * k + 1], img[4 * k + 2], img[4 * k + 3]]);
    assert_eq!(w(0), 0xffff_0b7f);
    assert_eq!(w(1), 0xffff_0000 | u32::from(saved.fsw));
    assert_eq!(
        w(2),
        0xffff_1fff,
        "ST0 = R6 zero (01), ST1 = R7 valid (00), rest empty"
    );
    assert_eq!(w(3), 0x1234_5678);
    assert_eq!(w(4), 0x01ee_0008);
    assert_eq!(w(5), 0x9abc_def0);
    assert_eq!(w(6), 0xffff_0010);
    assert_eq!(e.cpu.state.fpu.fcw, 0x0b7f, "already all masked");
    e.cpu.state.fpu.init();
    run(&mut e, &at(&[0xd9, 0x25], 0)).unwrap();
    let mut want = saved;
    want.fcw = 0x0b7f;
    assert_eq!(e.cpu.state.fpu, want);
}

// 16-bit protected format: o16 fnstenv (66 D9 35).
#[test]
fn fstenv_protected_16() {
    let mut e = env();
    sample(&mut e);
    run(&mut e, &at(&[0x66, 0xd9, 0x35], 0)).unwrap();
    let img = rbytes(&mut e, DATA, 14);
    let h = |k: usize| u16::from_le_bytes([img[2 * k], img[2 * k + 1]]);
    assert_eq!(
        [h(0), h(2), h(3), h(4), h(5), h(6)],
        [0x0b7f, 0x1fff, 0x5678, 0x08, 0xdef0, 0x10]
    );
}

/// A real-mode CPU (CS = DS = 0) with code at CODE.
fn real_env() -> Env {
    let mut e = env();
    e.cpu.state.cr0 &= !cr0::PE;
    for s in SegReg::ALL {
        let a = if s == SegReg::Cs {
            crate::attr::CODE_RX
        } else {
            crate::attr::DATA_RW
        };
        e.cpu.state.segs[s as usize] = crate::Segment::real(0, 0xffff, a);
    }
    e
}

// Real-mode formats: 32-bit (66 D9 36 disp16) and 16-bit (D9 36 disp16):
// FIP and FDP are 20-bit linear addresses split around the opcode.
#[test]
fn fstenv_real_mode_formats() {
    let mut e = real_env();
    sample(&mut e);
    let f = &mut e.cpu.state.fpu;
    f.fcs = 0x1234;
    f.fip = 0x0010; // linear 0x12350
    f.fds = 0x2000;
    f.fdp = 0x0345; // linear 0x20345
    let d = DATA as u16;
    let mut code = vec![0x66, 0xd9, 0x36];
    code.extend_from_slice(&d.to_le_bytes());
    code.extend_from_slice(&[0xd9, 0x36]);
    code.extend_from_slice(&(d + 0x40).to_le_bytes());
    run(&mut e, &code).unwrap();
    let img = rbytes(&mut e, DATA, 28);
    let w = |k: usize| u32::from_le_bytes([img[4 * k], img[4 * k + 1], img[4 * k + 2], img[4 * k + 3]]);
    assert_eq!(w(3), 0xffff_2350);
    assert_eq!(w(4), 0x0000_1000 | 0x1ee);
    assert_eq!(w(5), 0xffff_0345);
    assert_eq!(w(6), 0x0000_2000);
    let img = rbytes(&mut e, DATA + 0x40, 14);
    let h = |k: usize| u16::from_le_bytes([img[2 * k], img[2 * k + 1]]);
    assert_eq!([h(3), h(4), h(5), h(6)], [0x2350, 0x1000 | 0x1ee, 0x0345, 0x2000]);
    // fldenv of the 16-bit image (D9 26 disp16) gives linear pointers.
    let mut code = vec![0xd9, 0x26];
    code.extend_from_slice(&(d + 0x40).to_le_bytes());
    run(&mut e, &code).unwrap();
    let f = &e.cpu.state.fpu;
    assert_eq!(
        (f.fip, f.fcs, f.fop, f.fdp, f.fds),
        (0x12350, 0, 0x1ee, 0x20345, 0)
    );
}

// fnsave (DD 35) writes the environment and the registers in ST order,
// then initialises; frstor (DD 25) restores everything.
#[test]
fn fsave_frstor_round_trip() {
    let mut e = env();
    sample(&mut e);
    let saved = e.cpu.state.fpu.clone();
    run(&mut e, &at(&[0xdd, 0x35], 0)).unwrap();
    assert_eq!(rbytes(&mut e, DATA + 28, 10), ZERO.to_bytes());
    assert_eq!(rbytes(&mut e, DATA + 38, 10), ONE.to_bytes());
    let f = &e.cpu.state.fpu;
    assert_eq!((f.fcw, f.fsw, f.ftw), (fcw::INIT, 0, 0), "FNINIT after the save");
    run(&mut e, &at(&[0xdd, 0x25], 0)).unwrap();
    assert_eq!(e.cpu.state.fpu, saved);
}

// fxsave (0F AE 05): the 512-byte layout with the abridged tag word,
// registers in ST order; #GP(0) when misaligned; fxrstor (0F AE 0D).
#[test]
fn fxsave_layout_and_alignment() {
    let mut e = env();
    sample(&mut e);
    let saved = e.cpu.state.fpu.clone();
    wbytes(&mut e, DATA, &[0xaa; 512]);
    run(&mut e, &at(&[0x0f, 0xae, 0x05], 0)).unwrap();
    let img = rbytes(&mut e, DATA, 512);
    assert_eq!(
        &img[0..8],
        &[
            0x7f,
            0x0b,
            saved.fsw as u8,
            (saved.fsw >> 8) as u8,
            0xc0,
            0,
            0xee,
            0x01
        ]
    );
    assert_eq!(
        &img[8..24],
        &[0x78, 0x56, 0x34, 0x12, 8, 0, 0, 0, 0xf0, 0xde, 0xbc, 0x9a, 0x10, 0, 0, 0]
    );
    assert_eq!(&img[24..32], &[0xaa; 8], "no MXCSR on this CPU");
    assert_eq!(&img[32..48], &[0u8; 16], "ST(0) = +0");
    assert_eq!(
        &img[48..64],
        &[0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(&img[160..], &[0xaa; 352]);
    assert_eq!(img[..24], saved.fxsave_image()[..24]);
    assert_eq!(img[32..160], saved.fxsave_image()[32..160]);
    e.code(&at(&[0x0f, 0xae, 0x05], 8));
    assert_eq!(e.step(), Err(Fault::GP0));
    e.cpu.state.fpu.init();
    run(&mut e, &at(&[0x0f, 0xae, 0x0d], 0)).unwrap();
    assert_eq!(e.cpu.state.fpu, saved);
}

// MMX aliasing: movq mm1, [DATA] (0F 6F 0D) sets TOP=0, tags all valid,
// exponent all ones; paddb mm1, mm1 (0F FC C9); movq [DATA+8], mm1
// (0F 7F 0D); movd eax, mm1 (0F 7E C8); emms (0F 77) empties the tags.
#[test]
fn mmx_aliases_the_x87_registers() {
    let mut e = env();
    run(&mut e, &[0xd9, 0xe8]).unwrap(); // TOP = 7
    wbytes(&mut e, DATA, &0x0102_0304_80ff_7f01u64.to_le_bytes());
    let mut code = at(&[0x0f, 0x6f, 0x0d], 0);
    code.extend_from_slice(&[0x0f, 0xfc, 0xc9]);
    code.extend(at(&[0x0f, 0x7f, 0x0d], 8));
    code.extend_from_slice(&[0x0f, 0x7e, 0xc8]);
    run(&mut e, &code).unwrap();
    let f = f(&e);
    assert_eq!(f.top(), 0);
    assert_eq!(f.ftw, 0xff);
    assert_eq!(
        f.regs[1],
        Reg80 {
            signif: 0x0204_0608_00fe_fe02,
            se: 0xffff
        }
    );
    assert_eq!(f.regs[7], ONE, "the x87 value in R7 is untouched");
    assert_eq!(
        rbytes(&mut e, DATA + 8, 8),
        0x0204_0608_00fe_fe02u64.to_le_bytes()
    );
    assert_eq!(e.cpu.state.regs[reg::EAX], 0x00fe_fe02);
    run(&mut e, &[0x0f, 0x77]).unwrap();
    assert_eq!(e.cpu.state.fpu.ftw, 0);
}

// One row per MMX operation: (bytes with mm0 ← op(mm0, mm1), mm0, mm1, result).
#[test]
fn mmx_arithmetic_table() {
    let table: [(&[u8], u64, u64, u64); 24] = [
        (&[0x0f, 0xfc, 0xc1], 0x00ff_0001, 0x0001_0001, 0x0000_0002), // paddb
        (&[0x0f, 0xfd, 0xc1], 0xffff_0001, 0x0001_0001, 0x0000_0002), // paddw
        (&[0x0f, 0xfe, 0xc1], 0xffff_ffff, 1, 0),                     // paddd
        (&[0x0f, 0xec, 0xc1], 0x7f80, 0x01ff, 0x7f80),                // paddsb
        (&[0x0f, 0xed, 0xc1], 0x7fff_8000, 0x0001_ffff, 0x7fff_8000), // paddsw
        (&[0x0f, 0xdc, 0xc1], 0xfe01, 0x0502, 0xff03),                // paddusb
        (&[0x0f, 0xdd, 0xc1], 0xfffe, 0x0005, 0xffff),                // paddusw
        (&[0x0f, 0xf8, 0xc1], 0x0100, 0x0101, 0x00ff),                // psubb
        (&[0x0f, 0xe8, 0xc1], 0x8000, 0x0101, 0x80ff),                // psubsb
        (&[0x0f, 0xd8, 0xc1], 0x0105, 0x0209, 0x0000),                // psubusb
        (&[0x0f, 0xd5, 0xc1], 0x0003_4000, 0x0005_0004, 0x000f_0000), // pmullw
        (&[0x0f, 0xe5, 0xc1], 0xffff_4000, 0x0002_0004, 0xffff_0001), // pmulhw
        (&[0x0f, 0xf5, 0xc1], 0x0002_0003, 0x0004_0005, 23),          // pmaddwd
        (&[0x0f, 0x74, 0xc1], 0x1234, 0x1235, 0xffff_ffff_ffff_ff00), // pcmpeqb
        (&[0x0f, 0x65, 0xc1], 0x0001_ffff, 0x0000_0000, 0xffff_0000), // pcmpgtw
        (&[0x0f, 0x63, 0xc1], 0x0080_ff00, 0x7fff, 0x007f_0000_7f80), // packsswb
        (&[0x0f, 0x6b, 0xc1], 0x0001_0000_ffff_8000, 0, 0x7fff_8000), // packssdw
        (&[0x0f, 0x60, 0xc1], 0x0201, 0x0403, 0x0402_0301),           // punpcklbw
        (
            &[0x0f, 0x6a, 0xc1],
            0x1111_1111_0000_0000,
            0x2222_2222_0000_0000,
            0x2222_2222_1111_1111,
        ), // punpckhdq
        (&[0x0f, 0xdf, 0xc1], 0x0ff0, 0xffff, 0xf00f),                // pandn
        (&[0x0f, 0xef, 0xc1], 0x0ff0, 0xffff, 0xf00f),                // pxor
        (&[0x0f, 0xd3, 0xc1], 0x8000_0000_0000_0000, 63, 1),          // psrlq mm0, mm1
        (&[0x0f, 0x71, 0xf0, 0x04], 0x0001_0010, 0, 0x0010_0100),     // psllw mm0, 4
        (
            &[0x0f, 0x72, 0xe0, 0x1f],
            0x8000_0000_7fff_ffff,
            0,
            0xffff_ffff_0000_0000,
        ), // psrad mm0, 31
    ];
    for (code, a, b, want) in table {
        let mut e = env();
        e.cpu.state.fpu.regs[0] = Reg80::mmx(a);
        e.cpu.state.fpu.regs[1] = Reg80::mmx(b);
        run(&mut e, code).unwrap();
        assert_eq!(e.cpu.state.fpu.regs[0].signif, want, "{code:02x?}");
    }
}

// An MMX instruction reports a pending x87 exception (#MF).
#[test]
fn mmx_checks_pending_exceptions() {
    let mut e = env();
    e.cpu.state.fpu.fcw &= !fcw::PM;
    e.cpu.state.fpu.fsw |= fsw::PE | fsw::ES | fsw::B;
    e.code(&[0x0f, 0x77]);
    assert_eq!(e.step(), Err(super::MF));
}

// The power-up state (SDM Vol. 3A, table 9-1) and CPUID's feature bits.
#[test]
fn reset_state_and_cpuid() {
    let cpu = Cpu::new();
    let f = &cpu.state.fpu;
    assert_eq!((f.fcw, f.fsw, f.tag_word()), (0x0040, 0, 0x5555));
    assert_ne!(cpu.state.cr0 & cr0::ET, 0);
    let [_, _, _, edx] = crate::cpuid::cpuid(1, 0);
    use crate::cpuid::edx1;
    assert_eq!(
        edx & (edx1::FPU | edx1::MMX | edx1::FXSR),
        edx1::FPU | edx1::MMX | edx1::FXSR
    );
    let _ = Bus::new;
}

// FOP for register, no-operand and memory forms, 16- and 32-bit
// addressing: the low three bits of the escape byte, then ModR/M.
#[test]
fn fop_is_rebuilt_from_the_decoded_form() {
    let table: [(u32, &[u8], u16); 14] = [
        (32, &[0xd9, 0xc9], 0x1c9),                   // fxch st1
        (32, &[0xde, 0xe9], 0x6e9),                   // fsubp st1, st0
        (32, &[0xdc, 0xf3], 0x4f3),                   // fdivr st3, st0
        (32, &[0xd9, 0xe8], 0x1e8),                   // fld1
        (32, &[0xdf, 0xe0], 0x7e0),                   // fnstsw ax
        (32, &[0xdb, 0xf2], 0x3f2),                   // fcomi st0, st2
        (32, &[0xda, 0xe9], 0x2e9),                   // fucompp
        (32, &[0xd8, 0xc0], 0x0c0),                   // fadd st0, st0
        (32, &[0xdd, 0x04, 0x24], 0x504),             // fld qword [esp]
        (32, &[0xdb, 0x6d, 0x00], 0x36d),             // fld tword [ebp+0]
        (32, &[0xde, 0x0c, 0x85, 0, 0, 0, 0], 0x60c), // fimul word [eax*4]
        (16, &[0xd9, 0x07], 0x107),                   // fld dword [bx]
        (16, &[0xdf, 0x46, 0x02], 0x746),             // fild word [bp+2]
        (16, &[0xd8, 0x06, 0x34, 0x12], 0x006),       // fadd dword [0x1234]
    ];
    for (bits, code, want) in table {
        let i = iced_x86::Decoder::new(bits, code, iced_x86::DecoderOptions::NONE).decode();
        assert_eq!(super::fop_of(&i), want, "{i}");
    }
}

// Exceptions through the handlers: fld dword [SNaN] (D9 05) quiets it
// with IE when masked and pushes nothing when not; 1/3 (fdivrp st1, st0 =
// DE F1 after fld 3.0; fld1) sets PE and C1 (rounded up); 1/0 gives ∞
// and ZE; fistp word of 1e10 (DF 1D) stores the integer indefinite.
#[test]
fn exceptions_reach_the_status_word() {
    let mut e = env();
    wbytes(&mut e, DATA, &0x7fa0_0000u32.to_le_bytes());
    run(&mut e, &at(&[0xd9, 0x05], 0)).unwrap();
    assert_eq!(
        f(&e).st(0),
        Reg80 {
            signif: 0xe000_0000_0000_0000,
            se: 0x7fff
        }
    );
    assert_eq!(f(&e).fsw & fsw::EXC, fsw::IE);
    let mut e = env();
    e.cpu.state.fpu.fcw &= !fcw::IM;
    wbytes(&mut e, DATA, &0x7fa0_0000u32.to_le_bytes());
    run(&mut e, &at(&[0xd9, 0x05], 0)).unwrap();
    assert_eq!(f(&e).ftw, 0);
    assert_eq!(f(&e).fsw & (fsw::IE | fsw::ES), fsw::IE | fsw::ES);

    let mut e = env();
    wbytes(&mut e, DATA, &3.0f32.to_bits().to_le_bytes());
    let mut code = at(&[0xd9, 0x05], 0);
    code.extend_from_slice(&[0xd9, 0xe8, 0xde, 0xf1]); // fld1; fdivrp st1, st0
    run(&mut e, &code).unwrap();
    assert_eq!(
        f(&e).st(0),
        Reg80 {
            signif: 0xaaaa_aaaa_aaaa_aaab,
            se: 0x3ffd
        }
    );
    assert_eq!(f(&e).fsw & (fsw::EXC | fsw::C1), fsw::PE | fsw::C1);

    let mut e = env();
    run(&mut e, &[0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9]).unwrap(); // 1/0
    assert_eq!(
        f(&e).st(0),
        Reg80 {
            signif: 1 << 63,
            se: 0x7fff
        }
    );
    assert_eq!(f(&e).fsw & fsw::EXC, fsw::ZE);

    let mut e = env();
    wbytes(&mut e, DATA, &1e10f32.to_bits().to_le_bytes());
    let mut code = at(&[0xd9, 0x05], 0);
    code.extend(at(&[0xdf, 0x1d], 8));
    run(&mut e, &code).unwrap();
    assert_eq!(rbytes(&mut e, DATA + 8, 2), [0x00, 0x80]);
    assert_eq!(f(&e).fsw & fsw::IE, fsw::IE);
    assert_eq!(f(&e).ftw, 0, "popped after the masked response");
}

// The partial-remainder condition codes and FXTRACT's push: fild word 2
// and 7 (DF 05); fprem (D9 F8): 7 = 3·2 + 1, so C0 C3 C1 = 0 1 1, C2 = 0.
// fxtract (D9 F4) of 8: ST(0) = 1.0, ST(1) = 3.0.
#[test]
fn fprem_codes_and_fxtract_push() {
    let mut e = env();
    wbytes(&mut e, DATA, &2i16.to_le_bytes());
    wbytes(&mut e, DATA + 2, &7i16.to_le_bytes());
    let mut code = at(&[0xdf, 0x05], 0);
    code.extend(at(&[0xdf, 0x05], 2));
    code.extend_from_slice(&[0xd9, 0xf8]);
    run(&mut e, &code).unwrap();
    assert_eq!(f(&e).st(0), ONE);
    assert_eq!(f(&e).fsw & fsw::CC, fsw::C3 | fsw::C1);
    let mut e = env();
    wbytes(&mut e, DATA + 4, &8i16.to_le_bytes());
    let mut code = at(&[0xdf, 0x05], 4);
    code.extend_from_slice(&[0xd9, 0xf4]);
    run(&mut e, &code).unwrap();
    assert_eq!(f(&e).st(0), ONE);
    assert_eq!(
        f(&e).st(1),
        Reg80 {
            signif: 0xc000_0000_0000_0000,
            se: 0x4000
        }
    );
    assert_eq!(f(&e).top(), 6);
}
