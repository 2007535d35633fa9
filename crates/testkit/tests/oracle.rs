//! The interpreter against the host CPU: random cases for every instruction form in
//! `testkit::gen`, run natively and in `cpu::Cpu::step` from the same state, compared on
//! registers, flags (minus what the SDM leaves undefined), the data window and the
//! exception raised.
//!
//! `STRACHEY_ORACLE_CASES=N` sets the cases per form (default 1000);
//! `STRACHEY_ORACLE_GROUPS=alu,shift` limits the groups; `STRACHEY_ORACLE_SEED=S` changes
//! the seed (default 0; the seed and the form's index pick each form's cases, so a
//! failure reproduces with the same settings).

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use std::collections::BTreeMap;

use cpu::{Bus, Cpu};
use mem::{PhysAddr, PhysMemory};
use testkit::diff::{differences, report};
use testkit::state::VISIBLE_FLAGS;
use testkit::{forms, generate, run_native, Case, Outcome, Rng, UserState, DATA_BASE, DATA_SIZE};

/// Guest-physical (and, flat and unpaged, linear) address of the case's code. Below
/// 1 MiB and clear of bit 20, so the A20 gate cannot matter; away from the data window.
const CODE_ADDR: u32 = 0x0008_0000;
/// A REP string instruction may stop after a chunk of iterations with EIP on itself;
/// far more steps than a generated case needs (ECX ≤ 9).
const MAX_STEPS: usize = 10_000;
/// Mismatch reports printed in full.
const MAX_REPORTS: usize = 12;
/// Reports per form, so one broken form does not hide the others.
const MAX_REPORTS_PER_FORM: usize = 2;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `case` in the interpreter: flat 32-bit protected mode at CPL 3, no paging.
fn run_interp(bus: &mut Bus, case: &Case) -> Outcome {
    bus.mem.write(PhysAddr(u64::from(DATA_BASE)), &case.before.mem);
    bus.mem.write(PhysAddr(u64::from(CODE_ADDR)), &case.bytes);
    // A fresh CPU per case: no decoded block or TLB entry survives from the last case
    // (the code bytes at CODE_ADDR change every time).
    let mut cpu = Cpu::new();
    cpu.state.set_flat32(3);
    cpu.state.regs = case.before.regs;
    cpu.state.eflags = case.before.eflags;
    cpu.state.eip = CODE_ADDR;
    let mut fault = None;
    for _ in 0..MAX_STEPS {
        if let Err(f) = cpu.step(bus) {
            fault = Some(f.vector);
            break;
        }
        if cpu.state.eip != CODE_ADDR {
            break;
        }
    }
    let mut mem = vec![0; DATA_SIZE];
    bus.mem.read(PhysAddr(u64::from(DATA_BASE)), &mut mem);
    let state = UserState {
        regs: cpu.state.regs,
        eflags: cpu.state.eflags & VISIBLE_FLAGS,
        mem,
    };
    if fault.is_none() && cpu.state.eip != CODE_ADDR + case.bytes.len() as u32 {
        // Report a wrong EIP as an impossible vector so the diff shows it.
        return Outcome::Exception { vector: 0xff, state };
    }
    match fault {
        Some(vector) => Outcome::Exception { vector, state },
        None => Outcome::Completed(state),
    }
}

#[derive(Default)]
struct Tally {
    forms: usize,
    cases: u64,
    mismatches: u64,
    bad_forms: BTreeMap<String, u64>,
}

#[test]
fn interpreter_matches_host_cpu() {
    if let Err(e) = testkit::native_available() {
        eprintln!("oracle: skipped, the host cannot run 32-bit code natively: {e}");
        return;
    }
    let per_form = env_num("STRACHEY_ORACLE_CASES", 1000);
    let seed = env_num("STRACHEY_ORACLE_SEED", 0);
    let only: Option<Vec<String>> = std::env::var("STRACHEY_ORACLE_GROUPS")
        .ok()
        .map(|g| g.split(',').map(str::to_string).collect());
    let mut bus = Bus::new(PhysMemory::new(4).expect("4 MiB of guest RAM"));
    let mut tally: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut reports = Vec::new();
    for (fi, form) in forms().iter().enumerate() {
        if only.as_ref().is_some_and(|g| !g.iter().any(|g| g == form.group)) {
            continue;
        }
        let t = tally.entry(form.group).or_default();
        t.forms += 1;
        let mut rng = Rng::new(seed.wrapping_mul(0x1_0000).wrapping_add(fi as u64));
        let mut form_reports = 0;
        for i in 0..per_form {
            let case = generate(form, i, &mut rng);
            let host = run_native(&case.bytes, &case.before);
            let interp = run_interp(&mut bus, &case);
            t.cases += 1;
            if differences(&case, &host, &interp).is_empty() {
                continue;
            }
            t.mismatches += 1;
            *t.bad_forms.entry(form.name()).or_default() += 1;
            if form_reports < MAX_REPORTS_PER_FORM && reports.len() < MAX_REPORTS {
                form_reports += 1;
                reports.push(report(&case, &host, &interp, "interp:"));
            }
        }
    }
    let mut total = 0;
    for (group, t) in &tally {
        println!(
            "oracle: {group} {} forms, {} cases, {} mismatches",
            t.forms, t.cases, t.mismatches
        );
        total += t.mismatches;
    }
    if total == 0 {
        return;
    }
    println!("\noracle: forms with mismatches (form: mismatching cases of {per_form}):");
    for t in tally.values() {
        for (name, n) in &t.bad_forms {
            println!("  {name}: {n}");
        }
    }
    println!("\noracle: first mismatches (host = the CPU running this test):\n");
    for r in &reports {
        println!("{r}");
    }
    panic!("oracle: {total} cases where the interpreter differs from the host CPU (see above)");
}
