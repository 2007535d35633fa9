//! The oracle's driver, shared by the engines it checks: the machine a case runs in, how
//! its result is read back, and the loop that runs every form through the host CPU and
//! an engine and compares.
//!
//! `tests/oracle.rs` drives the interpreter (`cpu::Cpu::step`) with it and
//! `crates/bt/tests/oracle.rs` the binary translator (`bt::Bt::run`): both start each
//! case from [`machine`], read its result with [`outcome`] and go through [`run`], so the
//! two engines see the same cases (same forms, same seeds) and the same comparison
//! ([`crate::diff`], [`crate::fpdiff`]).
//!
//! The machine: flat 32-bit protected mode at CPL 3, no paging, the case's code at
//! [`CODE_ADDR`] and its window at [`DATA_BASE`], CR0.NE set as on the host (Linux runs
//! with it: an unmasked x87 exception is #MF at the next waiting instruction, not FERR#),
//! and descriptor tables ([`write_tables`]) whose interrupt gates lead to one handler
//! address per vector. An engine may return an exception without delivering it (the
//! interpreter's `step` does, except for INT3 and INTO, which it delivers) or deliver it
//! through the IDT (the translator's run loop does, for every exception); a delivered one
//! is recognised by where EIP lands, and the frame it pushed gives the state at the fault.

use std::cell::Cell;
use std::collections::BTreeMap;

use cpu::{Bus, Cpu};
use mem::PhysAddr;

use crate::diff::{differences_under, report_under};
use crate::fpdiff::{used_deviation, Rules};
use crate::gen::{forms, generate, Case, Rng};
use crate::native::run_native;
use crate::state::{FpuState, Outcome, UserState, CODE_ADDR, ENV_LEN, ESP, FX_LEN, VISIBLE_FLAGS};
use crate::{fp_forms, DATA_BASE, DATA_SIZE};

// CODE_ADDR, the guest-physical (and, flat and unpaged, linear) address of the case's
// code, is below 1 MiB and clear of bit 20, so the A20 gate cannot matter; away from the
// data window.
/// A GDT with flat 32-bit DPL-3 code (selector 0x0b, as `set_flat32(3)` names it) and
/// data (0x13).
pub const GDT_ADDR: u32 = 0x0009_0000;
/// An IDT whose gates lead to one handler address per vector ([`HANDLERS`]). As in
/// Linux, only vectors 3 (#BP) and 4 (#OF) have DPL-3 gates.
pub const IDT_ADDR: u32 = 0x0009_1000;
/// The handler of vector `v` is at `HANDLERS + 16 * v`: an engine that lands there has
/// delivered the exception, and the case is over. Each is a `JMP $`, so that an engine
/// that goes on after delivering (the interpreter's `run` does not count a faulting
/// instruction against its budget) stays there and changes nothing.
pub const HANDLERS: u32 = 0x0009_2000;
/// Mismatch reports printed in full, unless `STRACHEY_ORACLE_REPORTS` says otherwise.
const MAX_REPORTS: u64 = 12;
/// Reports per form, so one broken form does not hide the others, unless
/// `STRACHEY_ORACLE_REPORTS_PER_FORM` says otherwise.
const MAX_REPORTS_PER_FORM: u64 = 2;
/// Times the host runs a case again before a difference counts against the engine.
/// The host is not a perfectly steady oracle: when the kernel switches tasks it saves
/// and restores the FPU, and on the AMD hosts this project runs on FIP, FDP, FCS, FDS
/// and FOP come back as 0 (checked: an FLD, 200 ms of integer work while another task
/// shares the core, then FNSTENV). A case preempted between its instruction and the
/// FNSTENV that reads the pointers back then differs; CI, on a loaded 2-core machine,
/// saw it in 2 of 217,000 x87 cases. An engine is deterministic: a real difference is
/// there on every run, and the count of cases that needed a re-run is printed.
const HOST_RERUNS: usize = 3;

/// Writes the descriptor tables of [`GDT_ADDR`] and [`IDT_ADDR`] (SDM Vol. 3A §3.4.5 and
/// §6.11) and the handlers at [`HANDLERS`].
pub fn write_tables(bus: &mut Bus) {
    let gdt: [u64; 3] = [0, 0x00CF_FA00_0000_FFFF, 0x00CF_F200_0000_FFFF];
    let gdt: Vec<u8> = gdt.iter().flat_map(|d| d.to_le_bytes()).collect();
    bus.mem.write(PhysAddr(u64::from(GDT_ADDR)), &gdt);
    let mut idt = Vec::with_capacity(256 * 8);
    for v in 0..256u32 {
        let off = HANDLERS + v * 16;
        let dpl: u32 = if v == 3 || v == 4 { 3 } else { 0 };
        let lo = (0x0b << 16) | (off & 0xffff);
        // Present, 32-bit trap gate (type 0xF).
        let hi = (off & 0xffff_0000) | 0x8000 | (dpl << 13) | 0x0F00;
        idt.extend_from_slice(&lo.to_le_bytes());
        idt.extend_from_slice(&hi.to_le_bytes());
    }
    bus.mem.write(PhysAddr(u64::from(IDT_ADDR)), &idt);
    let mut handlers = vec![0u8; 256 * 16];
    for h in handlers.chunks_mut(16) {
        h[..2].copy_from_slice(&[0xeb, 0xfe]); // jmp $
    }
    bus.mem.write(PhysAddr(u64::from(HANDLERS)), &handlers);
}

/// Writes the case's window and code into `bus` (whose tables [`write_tables`] wrote)
/// and returns a CPU about to run it: flat 32-bit protected mode at CPL 3, no paging.
pub fn machine(bus: &mut Bus, case: &Case) -> Cpu {
    bus.mem.write(PhysAddr(u64::from(DATA_BASE)), &case.before.mem);
    bus.mem.write(PhysAddr(u64::from(CODE_ADDR)), &case.bytes);
    // A fresh CPU per case: no decoded block or TLB entry survives from the last case
    // (the code bytes at CODE_ADDR change every time).
    let mut cpu = Cpu::new();
    cpu.state.set_flat32(3);
    cpu.state.gdtr.base = GDT_ADDR;
    cpu.state.gdtr.limit = 3 * 8 - 1;
    cpu.state.idtr.base = IDT_ADDR;
    cpu.state.idtr.limit = 256 * 8 - 1;
    cpu.state.regs = case.before.regs;
    cpu.state.eflags = case.before.eflags;
    cpu.state.eip = CODE_ADDR;
    // As on the host (Linux runs with CR0.NE set): an unmasked x87 exception is #MF at
    // the next waiting instruction, not FERR#.
    cpu.state.cr0 |= cpu::cr0::NE;
    if let Some(f) = &case.before.fpu {
        let mut img = [0u8; 512];
        img[..FX_LEN].copy_from_slice(&f.fx);
        cpu.state.fpu.fxrstor(&img);
    }
    cpu
}

/// Where the case's code ends: an engine that completed it stops here.
pub fn code_end(case: &Case) -> u32 {
    CODE_ADDR + case.bytes.len() as u32
}

/// Whether EIP is at an exception handler, that is, an exception was delivered.
pub fn at_handler(eip: u32) -> bool {
    (HANDLERS..HANDLERS + 256 * 16).contains(&eip)
}

/// Whether exception `vector` pushes an error code (SDM Vol. 3A Table 6-1).
fn has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10..=14 | 17)
}

/// The outcome of `case` from the CPU that ran it: `fault` is the exception an engine
/// returned without delivering it; an exception delivered through the IDT is recognised
/// by EIP at its handler. Panics (which [`run`] reports as a mismatch) if EIP is
/// anywhere else than the end of the case's code.
pub fn outcome(cpu: &Cpu, bus: &mut Bus, case: &Case, fault: Option<u8>) -> Outcome {
    let fpu = case.before.fpu.as_ref().map(|_| fpu_state(&cpu.state.fpu));
    let mut mem = vec![0; DATA_SIZE];
    bus.mem.read(PhysAddr(u64::from(DATA_BASE)), &mut mem);
    let eip = cpu.state.eip;
    let end = code_end(case);
    if fault.is_none() && at_handler(eip) {
        // Delivered through a same-privilege trap gate: the frame on the stack holds
        // EIP, CS, EFLAGS as they were after a trap or before a fault, under the error
        // code of the exceptions that have one.
        let vector = ((eip - HANDLERS) / 16) as u8;
        let len = if has_error_code(vector) { 16 } else { 12 };
        let esp = cpu.state.regs[ESP];
        let mut frame = [0u8; 16];
        bus.mem.read(PhysAddr(u64::from(esp)), &mut frame[..len]);
        let at = len - 12;
        let word = |k: usize| {
            u32::from_le_bytes([
                frame[at + k],
                frame[at + k + 1],
                frame[at + k + 2],
                frame[at + k + 3],
            ])
        };
        let (ret, eflags) = (word(0), word(8));
        let mut regs = cpu.state.regs;
        regs[ESP] = esp.wrapping_add(len as u32);
        // A stack case's ESP is in the window: the frame is the delivery's doing, not
        // the case's. A faulting instruction writes nothing (precise exceptions, SDM
        // Vol. 3A §6.5), so those bytes are as they were before.
        for k in 0..len as u32 {
            let off = esp.wrapping_add(k).wrapping_sub(DATA_BASE) as usize;
            if off < DATA_SIZE {
                mem[off] = case.before.mem[off];
            }
        }
        if matches!(vector, 3 | 4) {
            assert_eq!(ret, end, "return EIP pushed by the delivery of INT3/INTO");
        } else {
            assert!(
                (CODE_ADDR..end).contains(&ret),
                "return EIP {ret:#x} pushed by the delivery of vector {vector} is outside the case's code"
            );
        }
        return Outcome::Exception {
            vector,
            state: UserState {
                regs,
                eflags: eflags & VISIBLE_FLAGS,
                mem,
                fpu,
            },
        };
    }
    let state = UserState {
        regs: cpu.state.regs,
        eflags: cpu.state.eflags & VISIBLE_FLAGS,
        mem,
        fpu,
    };
    // A wrong EIP is reported through the panic path of the caller.
    assert!(
        fault.is_some() || eip == end,
        "EIP after the instruction is {eip:#x}, expected {end:#x}"
    );
    match fault {
        Some(vector) => Outcome::Exception { vector, state },
        None => Outcome::Completed(state),
    }
}

/// The emulated FPU as the host reports it: the FXSAVE image and the 32-bit
/// protected-mode FNSTENV image (SDM Vol. 1 §8.1.10, figure 8-9; reserved halves ones).
pub fn fpu_state(f: &cpu::fpu::Fpu) -> FpuState {
    let img = f.fxsave_image();
    let mut fx = [0u8; FX_LEN];
    fx.copy_from_slice(&img[..FX_LEN]);
    let mut env = [0xffu8; ENV_LEN];
    env[0..2].copy_from_slice(&f.fcw.to_le_bytes());
    env[4..6].copy_from_slice(&f.fsw.to_le_bytes());
    env[8..10].copy_from_slice(&f.tag_word().to_le_bytes());
    env[12..16].copy_from_slice(&f.fip.to_le_bytes());
    env[16..18].copy_from_slice(&f.fcs.to_le_bytes());
    env[18..20].copy_from_slice(&(f.fop & 0x7ff).to_le_bytes());
    env[20..24].copy_from_slice(&f.fdp.to_le_bytes());
    env[24..26].copy_from_slice(&f.fds.to_le_bytes());
    FpuState { fx, env }
}

/// How [`run`] runs and what it prints.
#[derive(Clone, Debug)]
pub struct Config {
    /// Prefix of the printed lines (`oracle`).
    pub name: &'static str,
    /// The engine's name in mismatch reports (`interp`).
    pub engine: &'static str,
    /// Cases per integer form.
    pub cases: u64,
    /// Cases per x87/MMX form.
    pub fp_cases: u64,
    /// Picks, with each form's index, the form's cases.
    pub seed: u64,
    /// Mismatch reports printed in full.
    pub max_reports: usize,
    /// Of which at most this many per form.
    pub max_per_form: u64,
    /// Only these groups, if given.
    pub groups: Option<Vec<String>>,
    /// The x87 deviations accepted.
    pub rules: Rules,
}

fn env_num(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

impl Config {
    /// Settings from the environment: `{prefix}_CASES` sets the cases per form (default
    /// `cases`) and `{prefix}_FP_CASES` those per x87/MMX form (default `{prefix}_CASES`
    /// if set, else `fp_cases`); the groups, the seed and the reports come from
    /// `STRACHEY_ORACLE_GROUPS`, `STRACHEY_ORACLE_SEED`, `STRACHEY_ORACLE_REPORTS` and
    /// `STRACHEY_ORACLE_REPORTS_PER_FORM` whatever the engine, so that one setting
    /// reproduces a case under every engine. The x87 rules are [`Rules::Listed`].
    pub fn from_env(
        name: &'static str,
        engine: &'static str,
        prefix: &str,
        cases: u64,
        fp_cases: u64,
    ) -> Self {
        let set_cases = env_num(&format!("{prefix}_CASES"));
        Config {
            name,
            engine,
            cases: set_cases.unwrap_or(cases),
            fp_cases: env_num(&format!("{prefix}_FP_CASES"))
                .or(set_cases)
                .unwrap_or(fp_cases),
            seed: env_num("STRACHEY_ORACLE_SEED").unwrap_or(0),
            max_reports: env_num("STRACHEY_ORACLE_REPORTS").unwrap_or(MAX_REPORTS) as usize,
            max_per_form: env_num("STRACHEY_ORACLE_REPORTS_PER_FORM").unwrap_or(MAX_REPORTS_PER_FORM),
            groups: std::env::var("STRACHEY_ORACLE_GROUPS")
                .ok()
                .map(|g| g.split(',').map(str::to_string).collect()),
            rules: Rules::Listed,
        }
    }
}

thread_local! {
    /// Set while an engine runs a case: its panics are reported, not printed.
    static IN_ENGINE: Cell<bool> = const { Cell::new(false) };
}

#[derive(Default)]
struct Tally {
    forms: usize,
    cases: u64,
    mismatches: u64,
    /// Cases accepted through `known_deviations_x87.txt`.
    deviations: u64,
    /// Cases that agreed only when the host ran them again ([`HOST_RERUNS`]).
    reruns: u64,
    bad_forms: BTreeMap<String, u64>,
}

/// Runs every form's cases (integer forms first, then the x87/MMX ones; the form's
/// index and the seed pick its cases) on the host and through `engine`, prints a line
/// per group and the first mismatch reports, and returns the number of mismatches. A
/// panic in `engine` is a mismatch like any other.
pub fn run(cfg: &Config, mut engine: impl FnMut(&Case) -> Outcome) -> u64 {
    // Engine panics are caught per case and reported below; keep the default hook
    // from printing each one, and only those.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_ENGINE.with(Cell::get) {
            default_hook(info);
        }
    }));
    let name = cfg.name;
    let mut tally: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut reports = Vec::new();
    let integer_forms = forms();
    let fp = fp_forms();
    for (fi, form) in integer_forms.iter().chain(fp.iter()).enumerate() {
        if cfg
            .groups
            .as_ref()
            .is_some_and(|g| !g.iter().any(|g| g == form.group))
        {
            continue;
        }
        let per_form = if fi < integer_forms.len() {
            cfg.cases
        } else {
            cfg.fp_cases
        };
        let t = tally.entry(form.group).or_default();
        t.forms += 1;
        let mut rng = Rng::new(cfg.seed.wrapping_mul(0x1_0000).wrapping_add(fi as u64));
        let mut form_reports = 0;
        for i in 0..per_form {
            let case = generate(form, i, &mut rng);
            let mut host = run_native(&case.bytes, &case.before);
            IN_ENGINE.with(|f| f.set(true));
            let other = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine(&case)));
            IN_ENGINE.with(|f| f.set(false));
            t.cases += 1;
            let supported = fi < integer_forms.len() || cpu::supports(&case.instr);
            if let Ok(other) = &other {
                let differs = |host: &Outcome| !differences_under(&case, host, other, cfg.rules).is_empty();
                if supported && differs(&host) {
                    if let Some(again) = (0..HOST_RERUNS)
                        .map(|_| run_native(&case.bytes, &case.before))
                        .find(|again| !differs(again))
                    {
                        t.reruns += 1;
                        host = again;
                    }
                }
            }
            let label = format!("{}:", cfg.engine);
            let text = match &other {
                Ok(_) if !supported => format!(
                    "{}: {} is not an instruction of the modelled CPU (cpu::supports)\n",
                    case.form.name(),
                    case.disassembly()
                ),
                Ok(other) if differences_under(&case, &host, other, cfg.rules).is_empty() => {
                    if let (Some(h), Some(o)) = (&host.state().fpu, &other.state().fpu) {
                        if used_deviation(h, o) {
                            t.deviations += 1;
                        }
                    }
                    continue;
                }
                Ok(other) => report_under(&case, &host, other, &label, cfg.rules),
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("(no message)");
                    let r = report_under(&case, &host, &host, "host:", cfg.rules);
                    // The instruction, the state before and the host's outcome.
                    let end = r
                        .find("\n  host:")
                        .and_then(|h| r[h + 1..].find('\n').map(|e| h + 1 + e));
                    let first = &r[..end.unwrap_or(r.len())];
                    format!("{first}\n  {label} PANICKED: {msg}\n")
                }
            };
            t.mismatches += 1;
            *t.bad_forms.entry(form.name()).or_default() += 1;
            if form_reports < cfg.max_per_form && reports.len() < cfg.max_reports {
                form_reports += 1;
                reports.push(text);
            }
        }
    }
    let mut total = 0;
    for (group, t) in &tally {
        let deviations = if t.deviations > 0 {
            format!(
                " ({} accepted as listed in known_deviations_x87.txt)",
                t.deviations
            )
        } else {
            String::new()
        };
        let reruns = if t.reruns > 0 {
            format!(" ({} agreed when the host ran them again)", t.reruns)
        } else {
            String::new()
        };
        println!(
            "{name}: {group} {} forms, {} cases, {} mismatches{deviations}{reruns}",
            t.forms, t.cases, t.mismatches
        );
        total += t.mismatches;
    }
    if total == 0 {
        return 0;
    }
    println!(
        "\n{name}: forms with mismatches (form: mismatching cases of {}):",
        cfg.cases
    );
    for t in tally.values() {
        for (name, n) in &t.bad_forms {
            println!("  {name}: {n}");
        }
    }
    println!("\n{name}: first mismatches (host = the CPU running this test):\n");
    for r in &reports {
        println!("{r}");
    }
    total
}
