//! Hand-checked cases for the host-CPU oracle on its own.

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use testkit::state::*;
use testkit::{run_native, Outcome, UserState};

fn state(regs: [u32; 8], eflags: u32) -> UserState {
    let mut s = UserState::new();
    for (i, r) in regs.into_iter().enumerate() {
        if i != ESP {
            s.regs[i] = r;
        }
    }
    s.eflags = eflags | IF | RESERVED1;
    s
}

fn completed(o: Outcome) -> UserState {
    match o {
        Outcome::Completed(s) => s,
        other => panic!("expected completion, got {other:?}"),
    }
}

#[test]
fn add_eax_ebx() {
    // 01 d8: add eax, ebx
    let before = state([0x7fff_ffff, 0, 0, 1, 0, 0, 0, 0], 0);
    let after = completed(run_native(&[0x01, 0xd8], &before));
    assert_eq!(after.regs[EAX], 0x8000_0000);
    assert_eq!(after.regs[EBX], 1);
    assert_eq!(after.regs[ESP], before.regs[ESP]);
    // 0x7fffffff + 1: OF (signed overflow), SF, AF (carry out of bit 3), PF (low byte 0).
    assert_eq!(after.eflags & ARITH_FLAGS, OF | SF | AF | PF);
    assert_eq!(after.eflags & IF, IF);
}

#[test]
fn flags_in_and_out() {
    // f5: cmc, with every arithmetic flag and DF set on entry.
    let before = state([0; 8], ARITH_FLAGS | DF);
    let after = completed(run_native(&[0xf5], &before));
    assert_eq!(after.eflags & (ARITH_FLAGS | DF), (ARITH_FLAGS | DF) & !CF);
}

#[test]
fn memory_window() {
    // 01 43 10: add [ebx+0x10], eax
    let mut before = state([5, 0, 0, DATA_BASE + 0x100, 0, 0, 0, 0], 0);
    before.mem[0x110..0x114].copy_from_slice(&0x1234_5678u32.to_le_bytes());
    let after = completed(run_native(&[0x01, 0x43, 0x10], &before));
    assert_eq!(&after.mem[0x110..0x114], &0x1234_567du32.to_le_bytes());
    let mut expect = before.mem.clone();
    expect[0x110..0x114].copy_from_slice(&0x1234_567du32.to_le_bytes());
    assert!(after.mem == expect, "only the operand changed");
}

#[test]
fn rep_movsb_with_df() {
    // fd: std; f3 a4: rep movsb — copies backwards.
    let mut before = state([0, 4, 0, 0, 0, 0, DATA_BASE + 0x13, DATA_BASE + 0x23], 0);
    before.mem[0x10..0x14].copy_from_slice(b"abcd");
    let after = completed(run_native(&[0xfd, 0xf3, 0xa4], &before));
    assert_eq!(&after.mem[0x20..0x24], b"abcd");
    assert_eq!(after.regs[ECX], 0);
    assert_eq!(after.regs[ESI], DATA_BASE + 0xf);
    assert_eq!(after.regs[EDI], DATA_BASE + 0x1f);
    assert_eq!(after.eflags & DF, DF);
}

#[test]
fn div_by_zero_is_de() {
    // f7 f1: div ecx, with ecx = 0
    let before = state([10, 0, 0, 0, 0, 0, 0, 0], CF | ZF);
    match run_native(&[0xf7, 0xf1], &before) {
        Outcome::Exception { vector, state } => {
            assert_eq!(vector, 0, "#DE");
            assert_eq!(
                state.regs, before.regs,
                "a fault leaves the registers as they were"
            );
            assert_eq!(state.eflags & ARITH_FLAGS, CF | ZF);
        }
        other => panic!("expected #DE, got {other:?}"),
    }
    // The runner still works after a fault.
    let after = completed(run_native(&[0x01, 0xd8], &state([1, 0, 0, 2, 0, 0, 0, 0], 0)));
    assert_eq!(after.regs[EAX], 3);
}

#[test]
fn idiv_overflow_is_de() {
    // f7 f9: idiv ecx with edx:eax = 0x80000000, ecx = -1: quotient overflows.
    let before = state([0x8000_0000, 0xffff_ffff, 0xffff_ffff, 0, 0, 0, 0, 0], 0);
    assert_eq!(run_native(&[0xf7, 0xf9], &before).vector(), Some(0));
}

#[test]
fn ud2_is_ud() {
    assert_eq!(run_native(&[0x0f, 0x0b], &UserState::new()).vector(), Some(6));
}

#[test]
fn bound_is_br() {
    // 62 03: bound eax, [ebx] with bounds [0, 10] and eax = 11.
    let mut before = state([11, 0, 0, DATA_BASE, 0, 0, 0, 0], 0);
    before.mem[4..8].copy_from_slice(&10u32.to_le_bytes());
    assert_eq!(run_native(&[0x62, 0x03], &before).vector(), Some(5));
}

#[test]
fn outside_window_is_pf() {
    // 8b 03: mov eax, [ebx] with ebx just past the window (a guard page).
    let before = state([0, 0, 0, DATA_BASE + DATA_SIZE as u32, 0, 0, 0, 0], 0);
    assert_eq!(run_native(&[0x8b, 0x03], &before).vector(), Some(14));
}

#[test]
fn many_threads_share_the_runner() {
    let handles: Vec<_> = (0..4u32)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..200u32 {
                    let after = completed(run_native(&[0x01, 0xd8], &state([i, 0, 0, t, 0, 0, 0, 0], 0)));
                    assert_eq!(after.regs[EAX], i + t);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// Every generated case stays inside the data window and the harness's stack (no #PF
/// from the host), so the generator's addressing and fix-ups are sound; prints the
/// exceptions each group raises on the host.
#[test]
fn generated_cases_stay_in_the_window() {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<&str, (usize, usize, BTreeMap<u8, usize>)> = BTreeMap::new();
    for (fi, form) in testkit::forms().iter().enumerate() {
        let mut rng = testkit::Rng::new(fi as u64);
        let g = groups.entry(form.group).or_default();
        g.0 += 1;
        for i in 0..300 {
            let case = testkit::generate(form, i, &mut rng);
            let out = run_native(&case.bytes, &case.before);
            g.1 += 1;
            if let Some(v) = out.vector() {
                assert_ne!(
                    v,
                    14,
                    "{} left the window:\n{}",
                    form.name(),
                    testkit::diff::report(&case, &out, &out, "host")
                );
                *g.2.entry(v).or_default() += 1;
            }
        }
    }
    for (g, (forms, cases, vectors)) in groups {
        let v: Vec<String> = vectors
            .iter()
            .map(|(v, n)| format!("{} {n}", testkit::diff::vector_name(*v)))
            .collect();
        println!(
            "native: {g} {forms} forms, {cases} cases, exceptions: [{}]",
            v.join(", ")
        );
    }
}

/// Prints what one native run costs (the figure quoted in `native.rs`).
#[test]
fn cost_per_case() {
    let before = state([1, 0, 0, 2, 0, 0, 0, 0], 0);
    let n = 20_000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        run_native(&[0x01, 0xd8], &before);
    }
    println!(
        "native: {:.2} µs a case",
        start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    );
}

/// An instruction longer than 15 bytes raises #GP(0) (SDM Vol. 2A §2.3.11), not #UD.
#[test]
fn sixteen_bytes_is_gp() {
    // Seven redundant DS prefixes, then 81 84 18 10 00 00 00 01 00 00 00:
    // add dword ptr [eax+ebx+0x10], 1 — 18 bytes.
    let mut code = vec![0x3e; 7];
    code.extend_from_slice(&[0x81, 0x84, 0x18, 0x10, 0, 0, 0, 1, 0, 0, 0]);
    let before = state([DATA_BASE, 0, 0, 0, 0, 0, 0, 0], 0);
    assert_eq!(run_native(&code, &before).vector(), Some(13));
    // The same with four prefixes (15 bytes) completes.
    let after = completed(run_native(&code[3..], &before));
    assert_eq!(after.mem[0x10], 1);
}

#[test]
fn x87_state_in_and_out_and_mf_at_the_next_wait() {
    // d9 e8: fld1; d9 ee: fldz; de f9: fdivp st(1), st — 1/0 with ZM clear; 9b: fwait.
    let mut before = state([0; 8], 0);
    let mut fpu = FpuState::init();
    fpu.set_fcw(0x037b);
    before.fpu = Some(fpu);
    let code = [0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0x9b];
    let out = run_native(&code, &before);
    assert_eq!(out.vector(), Some(16), "#MF at the FWAIT: {out:?}");
    let f = out.state().fpu.as_ref().expect("fpu state");
    // ZE, ES and B set; the division did not happen: TOP = 6, ST(0) = +0, ST(1) = 1.0.
    assert_eq!(f.fsw() & 0xb8ff, 0x8084 | 6 << 11);
    assert_eq!(f.st(0), [0; 10]);
    assert_eq!(f.st(1), [0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f]);
    assert_eq!(f.ftw(), 0xc0);
    // The full tag word from FNSTENV: R6 zero, R7 valid, the rest empty.
    assert_eq!(f.tag_word(), 0x1fff);
    // Without the exception (ZM set) the same code completes.
    before.fpu.as_mut().unwrap().set_fcw(0x037f);
    let out = run_native(&code, &before);
    assert_eq!(out.vector(), None);
}
