//! The interpreter against the host CPU: random cases for every instruction form in
//! `testkit::gen` and `testkit::fp`, run natively and in `cpu::Cpu::step` from the same
//! state, compared on registers, flags (minus what the SDM leaves undefined), the data
//! window, the x87/MMX state and the exception raised. x87 differences listed in
//! `known_deviations_x87.txt` (and only those) are accepted; the count of cases that
//! needed one is printed per group.
//!
//! `STRACHEY_ORACLE_CASES=N` sets the cases per form (default 1000; the x87/MMX groups
//! take `STRACHEY_ORACLE_FP_CASES`, default 1000 too);
//! `STRACHEY_ORACLE_GROUPS=alu,shift` limits the groups; `STRACHEY_ORACLE_REPORTS=N` prints
//! up to N mismatch reports (default 12; `STRACHEY_ORACLE_REPORTS_PER_FORM`, default 2,
//! caps them per form); `STRACHEY_ORACLE_SEED=S` changes
//! the seed (default 0; the seed and the form's index pick each form's cases, so a
//! failure reproduces with the same settings).

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use std::cell::Cell;
use std::collections::BTreeMap;

use cpu::{Bus, Cpu};
use mem::{PhysAddr, PhysMemory};
use testkit::diff::{differences, report};
use testkit::state::{FpuState, CODE_ADDR, ENV_LEN, FX_LEN, VISIBLE_FLAGS};
use testkit::{forms, fp_forms, generate, run_native, Case, Outcome, Rng, UserState, DATA_BASE, DATA_SIZE};

// CODE_ADDR, the guest-physical (and, flat and unpaged, linear) address of the case's
// code, is below 1 MiB and clear of bit 20, so the A20 gate cannot matter; away from the
// data window.
/// A GDT with flat 32-bit DPL-3 code (selector 0x0b, as `set_flat32(3)` names it) and
/// data (0x13), and an IDT whose gates lead to one handler address per vector, so that
/// INT3 and INTO, which the interpreter delivers instead of returning a fault, can be
/// recognised. As in Linux, only vectors 3 (#BP) and 4 (#OF) have DPL-3 gates.
const GDT_ADDR: u32 = 0x0009_0000;
const IDT_ADDR: u32 = 0x0009_1000;
const HANDLERS: u32 = 0x0009_2000;
/// A REP string instruction may stop after a chunk of iterations with EIP on itself;
/// far more steps than a generated case needs (ECX ≤ 9).
const MAX_STEPS: usize = 10_000;
/// Mismatch reports printed in full, unless `STRACHEY_ORACLE_REPORTS` says otherwise.
const MAX_REPORTS: u64 = 12;
/// Reports per form, so one broken form does not hide the others, unless
/// `STRACHEY_ORACLE_REPORTS_PER_FORM` says otherwise.
const MAX_REPORTS_PER_FORM: u64 = 2;

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
    // Step until EIP leaves the case's code (x87 cases are the instruction and an
    // FWAIT; a REP string instruction stays on itself until done) or a fault.
    let end = CODE_ADDR + case.bytes.len() as u32;
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
    let fpu = case.before.fpu.as_ref().map(|_| fpu_state(&cpu.state.fpu));
    let mut mem = vec![0; DATA_SIZE];
    bus.mem.read(PhysAddr(u64::from(DATA_BASE)), &mut mem);
    let eip = cpu.state.eip;
    if fault.is_none() && (HANDLERS..HANDLERS + 256 * 16).contains(&eip) {
        // Delivered through a same-privilege trap gate: the frame on the stack holds
        // EIP, CS, EFLAGS as they were after the instruction.
        let mut frame = [0u8; 12];
        bus.mem.read(PhysAddr(u64::from(cpu.state.regs[4])), &mut frame);
        let eflags = u32::from_le_bytes([frame[8], frame[9], frame[10], frame[11]]);
        let mut regs = cpu.state.regs;
        regs[4] = regs[4].wrapping_add(12);
        let vector = ((eip - HANDLERS) / 16) as u8;
        let ret = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
        let next = CODE_ADDR + case.bytes.len() as u32;
        assert_eq!(
            ret, next,
            "return EIP pushed by the interpreter's INT3/INTO delivery"
        );
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
        "interpreter EIP after the instruction is {eip:#x}, expected {end:#x}"
    );
    match fault {
        Some(vector) => Outcome::Exception { vector, state },
        None => Outcome::Completed(state),
    }
}

/// The interpreter's FPU as the host reports it: the FXSAVE image and the 32-bit
/// protected-mode FNSTENV image (SDM Vol. 1 §8.1.10, figure 8-9; reserved halves ones).
fn fpu_state(f: &cpu::fpu::Fpu) -> FpuState {
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

/// Writes the descriptor tables of [`GDT_ADDR`] and [`IDT_ADDR`] (SDM Vol. 3A §3.4.5 and
/// §6.11).
fn write_tables(bus: &mut Bus) {
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
}

thread_local! {
    /// Set while the interpreter runs a case: its panics are reported, not printed.
    static IN_INTERP: Cell<bool> = const { Cell::new(false) };
}

#[derive(Default)]
struct Tally {
    forms: usize,
    cases: u64,
    mismatches: u64,
    /// Cases accepted through `known_deviations_x87.txt`.
    deviations: u64,
    bad_forms: BTreeMap<String, u64>,
}

#[test]
fn interpreter_matches_host_cpu() {
    // Never skipped: a host that cannot run 32-bit code cannot check the
    // interpreter, and that must be seen.
    if let Err(e) = testkit::native_available() {
        panic!("oracle: the host cannot run 32-bit code natively ({e}); the oracle needs IA-32 emulation in the kernel");
    }
    let per_form = env_num("STRACHEY_ORACLE_CASES", 1000);
    let per_fp_form = env_num("STRACHEY_ORACLE_FP_CASES", per_form);
    let seed = env_num("STRACHEY_ORACLE_SEED", 0);
    let max_reports = env_num("STRACHEY_ORACLE_REPORTS", MAX_REPORTS) as usize;
    let max_per_form = env_num("STRACHEY_ORACLE_REPORTS_PER_FORM", MAX_REPORTS_PER_FORM);
    let only: Option<Vec<String>> = std::env::var("STRACHEY_ORACLE_GROUPS")
        .ok()
        .map(|g| g.split(',').map(str::to_string).collect());
    let mut bus = Bus::new(PhysMemory::new(4).expect("4 MiB of guest RAM"));
    write_tables(&mut bus);
    // Interpreter panics are caught per case and reported below; keep the default hook
    // from printing each one, and only those.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_INTERP.with(Cell::get) {
            default_hook(info);
        }
    }));
    let mut tally: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut reports = Vec::new();
    let integer_forms = forms();
    let fp = fp_forms();
    for (fi, form) in integer_forms.iter().chain(fp.iter()).enumerate() {
        if only.as_ref().is_some_and(|g| !g.iter().any(|g| g == form.group)) {
            continue;
        }
        let per_form = if fi < integer_forms.len() {
            per_form
        } else {
            per_fp_form
        };
        let t = tally.entry(form.group).or_default();
        t.forms += 1;
        let mut rng = Rng::new(seed.wrapping_mul(0x1_0000).wrapping_add(fi as u64));
        let mut form_reports = 0;
        for i in 0..per_form {
            let case = generate(form, i, &mut rng);
            let host = run_native(&case.bytes, &case.before);
            // A panic in the interpreter is a mismatch like any other: report it with
            // the case and carry on with the next.
            IN_INTERP.with(|f| f.set(true));
            let interp =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_interp(&mut bus, &case)));
            IN_INTERP.with(|f| f.set(false));
            t.cases += 1;
            let supported = fi < integer_forms.len() || cpu::supports(&case.instr);
            let text = match &interp {
                Ok(_) if !supported => format!(
                    "{}: {} is not an instruction of the modelled CPU (cpu::supports)\n",
                    case.form.name(),
                    case.disassembly()
                ),
                Ok(interp) if differences(&case, &host, interp).is_empty() => {
                    if let (Some(h), Some(o)) = (&host.state().fpu, &interp.state().fpu) {
                        if testkit::fpdiff::used_deviation(h, o) {
                            t.deviations += 1;
                        }
                    }
                    continue;
                }
                Ok(interp) => report(&case, &host, interp, "interp:"),
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("(no message)");
                    let r = report(&case, &host, &host, "host:");
                    // The instruction, the state before and the host's outcome.
                    let end = r
                        .find("\n  host:")
                        .and_then(|h| r[h + 1..].find('\n').map(|e| h + 1 + e));
                    let first = &r[..end.unwrap_or(r.len())];
                    format!("{first}\n  interp: PANICKED: {msg}\n")
                }
            };
            t.mismatches += 1;
            *t.bad_forms.entry(form.name()).or_default() += 1;
            if form_reports < max_per_form && reports.len() < max_reports {
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
        println!(
            "oracle: {group} {} forms, {} cases, {} mismatches{deviations}",
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
