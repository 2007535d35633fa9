//! The translator against the host CPU: the host-CPU oracle's cases (`testkit::oracle`,
//! the same forms and seeds as the interpreter's `crates/testkit/tests/oracle.rs`), each
//! run natively and under `bt::Bt` from the same state and compared the same way, on
//! registers, flags (minus what the SDM leaves undefined), the data window, the x87/MMX
//! state and the exception raised.
//!
//! A case is one block (the instruction, and FWAIT after an x87/MMX one) unless its first
//! instruction is left to the interpreter: `Bt::max_insns` ends each block where the
//! case does. The translator's run loop hands what it does not translate, and every
//! host fault in translated code (#MF included), to the interpreter, which delivers the
//! exception through the IDT; the outcome is read back from the handler's frame.
//!
//! The translator runs x87 and MMX code on the host FPU, so it is held to the host
//! exactly: none of the interpreter's deviations (`known_deviations_x87.txt`, which
//! stem from `f80`'s arithmetic and the modelled P6) is accepted, except for FSTPNCE,
//! which the translator leaves to the interpreter because hosts differ from the P6
//! there. The test also prints,
//! per group, how many cases ran their instruction as host code and which instructions
//! went to the interpreter (by design: memory operands through a CS override, 16-bit
//! pushes, BCD, traps, the x87 environment instructions...), since a case the
//! interpreter ran checks the interpreter, not the translator; it fails if an x87/MMX
//! form never ran as host code.
//!
//! `STRACHEY_BT_ORACLE_CASES=N` sets the cases per form (default 100; the x87/MMX
//! groups take `STRACHEY_BT_ORACLE_FP_CASES`, default N if set, else 1000 as in the
//! interpreter oracle, so that they see the same cases); the groups, the seed and the
//! reports follow the interpreter oracle's `STRACHEY_ORACLE_GROUPS`,
//! `STRACHEY_ORACLE_SEED` and `STRACHEY_ORACLE_REPORTS`.

#![cfg(bt_host)]

use std::collections::{BTreeMap, BTreeSet};

use cpu::{Bus, Exit};
use iced_x86::{Decoder, DecoderOptions, Mnemonic};
use mem::PhysMemory;
use testkit::fp::FP_GROUPS;
use testkit::fpdiff::Rules;
use testkit::oracle::{code_end, machine, outcome, write_tables, Config};
use testkit::state::CODE_ADDR;
use testkit::{Case, Outcome};

/// Cases per integer form, unless `STRACHEY_BT_ORACLE_CASES` says otherwise (the
/// interpreter oracle runs 1000; `crates/bt/tests/streams.rs` runs these forms too).
const CASES: u64 = 100;
/// Cases per x87/MMX form, unless `STRACHEY_BT_ORACLE_FP_CASES` says otherwise.
const FP_CASES: u64 = 1000;

/// Blocks (or interpreted instructions) a case may take: a REP string instruction in
/// the interpreter stops after each chunk of iterations; far more than a case needs.
const MAX_STEPS: usize = 10_000;

/// Instructions the translator leaves to the interpreter by design: those that store,
/// load or reset the x87 last-instruction pointers (translated code keeps the guest's
/// FIP/FOP/FDP apart from the host's).
const LEFT_TO_THE_INTERPRETER: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Fnstenv, Fstenv, Fnsave, Fsave, Fxsave, Fldenv, Frstor, Fxrstor, Fninit, Finit, Fstpnce,
    ]
};

/// How a case's instruction ran under the translator.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ran {
    /// As host code, and so did the rest of the case.
    Host,
    /// As host code, then a host fault (#MF at the FWAIT after it, #DE, a SIGSEGV) had
    /// the interpreter execute the faulting instruction.
    HostThenFault,
    /// The interpreter ran it (a callout: the translator does not handle it).
    Callout,
    /// It faulted on the host and the interpreter executed it (an x87 instruction with
    /// an exception pending, a division that raises #DE).
    Refaulted,
}

/// How the cases of one group ran.
#[derive(Default)]
struct Native {
    cases: u64,
    host: u64,
    host_then_fault: u64,
    callout: u64,
    refaulted: u64,
    /// Mnemonics the interpreter ran as callouts.
    callouts: BTreeSet<String>,
}

/// Runs `case` under the translator, a block (or an interpreted instruction) at a time,
/// until EIP leaves the case's code: at its end, or at an exception handler. Returns the
/// outcome and how the case's instruction ran.
fn run_bt(bt: &mut bt::Bt, bus: &mut Bus, case: &Case) -> (Outcome, Ran) {
    bt.reset();
    let mut cpu = machine(bus, case);
    // Writing the case's code replaced the last case's: not the guest's doing.
    bus.mem.take_smc_pages();
    let insns = remaining(case, CODE_ADDR) as u64;
    // A callout counts under the mnemonic the translator decodes: INVALID for what
    // the decoder rejects (LOCK on a register operand, which is #UD).
    let main = case.instr.mnemonic();
    let callouts = |bt: &bt::Bt| callouts_of(bt, main) + callouts_of(bt, Mnemonic::INVALID);
    let before = (
        bt.stats.executed,
        bt.stats.fallbacks,
        bt.stats.faults_segv + bt.stats.faults_fpe,
        callouts(bt),
    );
    let end = code_end(case);
    for _ in 0..MAX_STEPS {
        // The block ends where the case does (what follows is the last case's code).
        bt.max_insns = remaining(case, cpu.state.eip) as u32;
        let e = bt.run(&mut cpu, bus, 1);
        assert_eq!(
            e,
            Exit::Budget,
            "the translator stopped at EIP {:#x}",
            cpu.state.eip
        );
        if !(CODE_ADDR..end).contains(&cpu.state.eip) {
            break;
        }
    }
    // The instruction is the case's first: counted as executed by the translator unless
    // it was a callout or faulted on the host (the count leaves out a faulting
    // instruction and those after it).
    let executed = bt.stats.executed - before.0;
    let ran = if callouts(bt) > before.3 {
        Ran::Callout
    } else if executed == 0 {
        if bt.stats.faults_segv + bt.stats.faults_fpe > before.2 {
            Ran::Refaulted
        } else {
            Ran::Callout
        }
    } else if bt.stats.fallbacks == before.1 && executed == insns {
        Ran::Host
    } else {
        Ran::HostThenFault
    };
    (outcome(&cpu, bus, case, None), ran)
}

/// The instructions of the case from `eip` on.
fn remaining(case: &Case, eip: u32) -> usize {
    let from = (eip - CODE_ADDR) as usize;
    Decoder::new(32, &case.bytes[from..], DecoderOptions::NONE)
        .iter()
        .count()
}

fn callouts_of(bt: &bt::Bt, m: Mnemonic) -> u64 {
    bt.stats.callouts.get(&m).copied().unwrap_or(0)
}

#[test]
fn translator_matches_host_cpu() {
    if let Err(e) = testkit::native_available() {
        panic!("bt oracle: the host cannot run 32-bit code natively ({e}); the oracle needs IA-32 emulation in the kernel");
    }
    let mut cfg = Config::from_env("bt oracle", "bt", "STRACHEY_BT_ORACLE", CASES, FP_CASES);
    // Exact, except where the translator hands an instruction to the
    // interpreter on purpose because the host's behaviour is not the
    // modelled CPU's (FSTPNCE: an FSTP alias on the P6).
    cfg.rules = Rules::ListedFor(&[Mnemonic::Fstpnce]);
    let mut bus = Bus::new(PhysMemory::new(4).expect("4 MiB of guest RAM"));
    write_tables(&mut bus);
    // One translator for every case (making one maps a code cache and the guest
    // window); `run_bt` drops the last case's translations.
    let mut bt = bt::Bt::new(&bus).expect("a translator");
    let mut native: BTreeMap<&str, Native> = BTreeMap::new();
    // x87/MMX forms whose instruction ran as host code in at least one case.
    let mut fp_host: BTreeMap<String, bool> = BTreeMap::new();
    let t0 = std::time::Instant::now();
    let total = testkit::oracle::run(&cfg, |case| {
        let (outcome, ran) = run_bt(&mut bt, &mut bus, case);
        let n = native.entry(case.form.group).or_default();
        n.cases += 1;
        match ran {
            Ran::Host => n.host += 1,
            Ran::HostThenFault => n.host_then_fault += 1,
            Ran::Refaulted => n.refaulted += 1,
            Ran::Callout => {
                n.callout += 1;
                n.callouts
                    .insert(format!("{:?}", case.instr.mnemonic()).to_lowercase());
            }
        }
        if FP_GROUPS.contains(&case.form.group) && !LEFT_TO_THE_INTERPRETER.contains(&case.instr.mnemonic()) {
            *fp_host.entry(case.form.name()).or_default() |= matches!(ran, Ran::Host | Ran::HostThenFault);
        }
        outcome
    });
    println!(
        "\nbt oracle: how the instruction of each case ran ({:.1} s):",
        t0.elapsed().as_secs_f64()
    );
    for (group, n) in &native {
        let left: Vec<&str> = n.callouts.iter().map(String::as_str).collect();
        println!(
            "  {group}: {} cases: {} as host code (in {} of them a host fault followed), {} faulted on the host and the interpreter executed it, {} in the interpreter{}",
            n.cases,
            n.host + n.host_then_fault,
            n.host_then_fault,
            n.refaulted,
            n.callout,
            if left.is_empty() {
                String::new()
            } else {
                format!(" ({})", left.join(" "))
            },
        );
    }
    println!(
        "  {} blocks translated, {} instructions executed as host code, {} retranslated as callouts after repeated host faults",
        bt.stats.blocks, bt.stats.executed, bt.stats.retranslations
    );
    let never: Vec<&str> = fp_host
        .iter()
        .filter(|(_, host)| !**host)
        .map(|(name, _)| name.as_str())
        .collect();
    if total > 0 {
        panic!("bt oracle: {total} cases where the translator differs from the host CPU (see above)");
    }
    // The point is to check translated code: an x87/MMX form that the interpreter ran
    // every time was not checked here.
    assert!(
        never.is_empty(),
        "bt oracle: x87/MMX forms that never ran as host code: {}",
        never.join(" ")
    );
}
