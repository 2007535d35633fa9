//! The interpreter against the host CPU: random cases for every instruction form in
//! `testkit::gen` and `testkit::fp`, run natively and in `cpu::Cpu::step` from the same
//! state, compared on registers, flags (minus what the SDM leaves undefined), the data
//! window, the x87/MMX state and the exception raised. x87 differences listed in
//! `known_deviations_x87.txt` (and only those) are accepted; the count of cases that
//! needed one is printed per group. The machine and the loop are `testkit::oracle`'s,
//! shared with the translator's oracle (`crates/bt/tests/oracle.rs`).
//!
//! `STRACHEY_ORACLE_CASES=N` sets the cases per form (default 1000; the x87/MMX groups
//! take `STRACHEY_ORACLE_FP_CASES`, default 1000 too);
//! `STRACHEY_ORACLE_GROUPS=alu,shift` limits the groups; `STRACHEY_ORACLE_REPORTS=N` prints
//! up to N mismatch reports (default 12; `STRACHEY_ORACLE_REPORTS_PER_FORM`, default 2,
//! caps them per form); `STRACHEY_ORACLE_SEED=S` changes
//! the seed (default 0; the seed and the form's index pick each form's cases, so a
//! failure reproduces with the same settings).

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use cpu::Bus;
use mem::PhysMemory;
use testkit::oracle::{code_end, machine, outcome, write_tables, Config};
use testkit::state::CODE_ADDR;
use testkit::{Case, Outcome};

/// A REP string instruction may stop after a chunk of iterations with EIP on itself;
/// far more steps than a generated case needs (ECX ≤ 9).
const MAX_STEPS: usize = 10_000;

/// Runs `case` in the interpreter, one `step` at a time: exceptions come back as the
/// fault `step` returns, except INT3 and INTO, which it delivers.
fn run_interp(bus: &mut Bus, case: &Case) -> Outcome {
    let mut cpu = machine(bus, case);
    // Step until EIP leaves the case's code (x87 cases are the instruction and an
    // FWAIT; a REP string instruction stays on itself until done) or a fault.
    let end = code_end(case);
    let mut fault = None;
    for _ in 0..MAX_STEPS {
        if let Err(f) = cpu.step(bus) {
            fault = Some(f.vector);
            break;
        }
        if !(CODE_ADDR..end).contains(&cpu.state.eip) {
            break;
        }
    }
    outcome(&cpu, bus, case, fault)
}

#[test]
fn interpreter_matches_host_cpu() {
    // Never skipped: a host that cannot run 32-bit code cannot check the
    // interpreter, and that must be seen.
    if let Err(e) = testkit::native_available() {
        panic!("oracle: the host cannot run 32-bit code natively ({e}); the oracle needs IA-32 emulation in the kernel");
    }
    let cfg = Config::from_env("oracle", "interp", "STRACHEY_ORACLE", 1000, 1000);
    let mut bus = Bus::new(PhysMemory::new(4).expect("4 MiB of guest RAM"));
    write_tables(&mut bus);
    let total = testkit::oracle::run(&cfg, |case| run_interp(&mut bus, case));
    if total > 0 {
        panic!("oracle: {total} cases where the interpreter differs from the host CPU (see above)");
    }
}
