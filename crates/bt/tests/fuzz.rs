//! Random code under both engines, in lock step (`common::lockstep`): pages
//! of random bytes mixed with random host-oracle instruction forms, in
//! 32-bit protected mode at CPL 0 or 3 (flat, or data segments with random
//! bases and limits) with an IDT whose handlers skip ahead, so
//! a case runs on through #UD, #GP, #DE and the rest. Any difference in
//! registers, flags, EIP, the x87 state or memory fails.
//!
//! `STRACHEY_BT_FUZZ=N` runs N cases (default 60, a few seconds);
//! `STRACHEY_BT_FUZZ_SEED=S` changes the seed. A failure names its case,
//! which reproduces with the same seed; `STRACHEY_BT_FUZZ_CASE=K` runs only
//! case K (with `LOCKSTEP_TRACE=1` to follow it step by step).

#![cfg(bt_host)]

mod common;

use cpu::{Bus, Cpu};
use mem::{PhysAddr, PhysMemory};
use testkit::{forms, generate, Rng};

const CODE: u32 = 0x0010_0000;
const CODE_LEN: usize = 0x2000;
const IDT: u32 = 0x0009_0000;
/// The GDT: flat code (0x08) and data (0x10) at the case's privilege, flat
/// kernel code (0x18) and data (0x20) for the handlers, and a TSS (0x28)
/// whose ring-0 stack they run on when the case runs at CPL 3.
const GDT: u32 = 0x0008_f000;
const TSS: u32 = 0x0008_e000;
/// The ring-0 stack for exceptions at CPL 3.
const KERNEL_STACK: u32 = 0x0007_f000;
const HANDLER: u32 = 0x0009_1000;
const STACK: u32 = 0x0008_0000;
const DATA: u32 = 0x0020_0000;
/// RAM of each machine (the buses and the translator are reused between
/// cases: making a translator reserves 8 GiB of address space).
const RAM: usize = 8 << 20;

/// A machine for one case: `code` at CODE, random data, an IDT whose 32
/// exception gates lead to a handler that drops the error code when there
/// is one (`add esp, 4` for 8, 10–14, 17), moves the return EIP on by one
/// byte and returns, so execution goes on after a fault.
fn machine(bus: &mut Bus, code: &[u8], data: &[u8], regs: [u32; 8], segs: &[(u32, u32); 6], cpl: u8) -> Cpu {
    // All of RAM as the case starts: zeros, then code, data and the IDT.
    bus.mem.write(PhysAddr(0), &vec![0u8; RAM]);
    bus.mem.write(PhysAddr(u64::from(CODE)), code);
    bus.mem.write(PhysAddr(u64::from(DATA)), data);
    let mut idt = Vec::new();
    for v in 0..32u32 {
        let with_error = matches!(v, 8 | 10..=14 | 17);
        let h = HANDLER + v * 16 + if with_error { 0 } else { 3 };
        // 32-bit interrupt gate, selector 0x18 (kernel code), DPL 0, present.
        let gate = (u64::from(h >> 16) << 48) | (0x8e00u64 << 32) | (0x18u64 << 16) | u64::from(h & 0xffff);
        idt.extend_from_slice(&gate.to_le_bytes());
    }
    bus.mem.write(PhysAddr(u64::from(IDT)), &idt);
    let dpl = u64::from(cpl) << 45;
    let tss = 0x0000_8b00_0000_0067 | u64::from(TSS & 0xff_ffff) << 16 | u64::from(TSS >> 24) << 56;
    let gdt: Vec<u8> = [
        0u64,
        0x00cf_9a00_0000_ffff | dpl,
        0x00cf_9200_0000_ffff | dpl,
        0x00cf_9a00_0000_ffff,
        0x00cf_9200_0000_ffff,
        tss,
    ]
    .iter()
    .flat_map(|d| d.to_le_bytes())
    .collect();
    bus.mem.write(PhysAddr(u64::from(GDT)), &gdt);
    // The TSS's ring-0 stack: ESP0, SS0.
    bus.mem
        .write(PhysAddr(u64::from(TSS) + 4), &KERNEL_STACK.to_le_bytes());
    bus.mem
        .write(PhysAddr(u64::from(TSS) + 8), &0x20u32.to_le_bytes());
    for v in 0..32u32 {
        // add esp, 4; inc dword [esp]; iretd
        let stub = [0x83, 0xc4, 0x04, 0xff, 0x04, 0x24, 0xcf];
        bus.mem.write(PhysAddr(u64::from(HANDLER + v * 16)), &stub);
    }
    bus.mem.take_smc_pages();
    let mut cpu = Cpu::new();
    cpu.state.set_flat32(cpl);
    for (k, &(base, limit)) in segs.iter().enumerate() {
        cpu.state.segs[k].base = base;
        cpu.state.segs[k].limit = limit;
    }
    cpu.state.regs = regs;
    cpu.state.regs[4] = STACK;
    cpu.state.eip = CODE;
    cpu.state.eflags = cpu::flags::FIXED1;
    cpu.state.idtr = cpu::TableReg {
        base: IDT,
        limit: 32 * 8 - 1,
    };
    cpu.state.gdtr = cpu::TableReg {
        base: GDT,
        limit: 6 * 8 - 1,
    };
    cpu.state.tr = cpu::Segment {
        selector: 0x28,
        attr: cpu::attr::P | 0xb,
        base: TSS,
        limit: 0x67,
        valid: true,
    };
    cpu
}

/// (base, limit) of ES, CS, SS, DS, FS and GS for a case: flat one time
/// in four; otherwise data segments with bases (one wrapping around 4 GiB)
/// and limits that cut through the data page, and a stack segment with a
/// limit above the stack. CS stays flat.
fn random_segments(rng: &mut Rng) -> [(u32, u32); 6] {
    let flat = (0, 0xffff_ffff);
    let mut segs = [flat; 6];
    if rng.next_u32().is_multiple_of(4) {
        return segs;
    }
    for k in [0, 3, 4, 5] {
        let base = [0, 0, 0x1000, 0x0010_0000, 0xffff_f000][rng.next_u32() as usize % 5];
        let limit =
            [0xffff_ffff, 0x0020_0fff, 0x0020_07ff, 0x001f_ffff, 0x7fff_ffff][rng.next_u32() as usize % 5];
        segs[k] = (base, limit);
    }
    segs[2] = [flat, (0, 0x000f_ffff), (0x1000, 0x000f_ffff)][rng.next_u32() as usize % 3];
    segs
}

#[test]
fn random_code_agrees() {
    let n: u64 = std::env::var("STRACHEY_BT_FUZZ")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("STRACHEY_BT_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0xf022);
    // A pool of generated instructions to draw from (generating a form
    // builds a whole oracle case, too slow to do per instruction).
    let forms = forms();
    let mut pool_rng = Rng::new(seed);
    let pool: Vec<Vec<u8>> = (0..8192u64)
        .map(|k| generate(&forms[(k as usize * 7919) % forms.len()], k, &mut pool_rng).bytes)
        .collect();
    let mut failures = Vec::new();
    let mut abus = Bus::new(PhysMemory::new(RAM as u64 >> 20).unwrap());
    let mut bbus = Bus::new(PhysMemory::new(RAM as u64 >> 20).unwrap());
    let mut bt = bt::Bt::new(&bbus).unwrap();
    if let Some(k) = std::env::var("STRACHEY_BT_FUZZ_BLOCK")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        bt.max_insns = k;
    }
    let mut exits = std::collections::BTreeMap::new();
    let mut deviations = 0;
    let only: Option<u64> = std::env::var("STRACHEY_BT_FUZZ_CASE")
        .ok()
        .and_then(|v| v.parse().ok());
    for case in 0..n {
        if only.is_some_and(|k| k != case) {
            continue;
        }
        let mut rng = Rng::new(seed ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        // Mostly instruction forms, some raw random bytes.
        let mut code = Vec::new();
        while code.len() < CODE_LEN - 16 {
            if rng.next_u32().is_multiple_of(8) {
                for _ in 0..1 + rng.next_u32() % 6 {
                    code.push(rng.next_u32() as u8);
                }
            } else {
                code.extend_from_slice(&pool[rng.next_u32() as usize % pool.len()]);
            }
        }
        code.truncate(CODE_LEN - 2);
        code.extend_from_slice(&[0xfa, 0xf4]); // cli; hlt
        let data: Vec<u8> = (0..4096).map(|_| rng.next_u32() as u8).collect();
        let mut regs = [0u32; 8];
        for r in &mut regs {
            // Addresses near the data page, counts small, or anything.
            *r = match rng.next_u32() % 3 {
                0 => DATA + (rng.next_u32() % 4096),
                1 => rng.next_u32() % 64,
                _ => rng.next_u32(),
            };
        }
        let segs = random_segments(&mut rng);
        // Half the cases run as user code.
        let cpl = if rng.next_u32().is_multiple_of(2) { 0 } else { 3 };
        if only.is_some() && std::env::var_os("LOCKSTEP_TRACE").is_some() {
            show(&code, regs);
            eprintln!("CPL {cpl}, segments (base, limit) ES CS SS DS FS GS: {segs:x?}");
        }
        let mut a = machine(&mut abus, &code, &data, regs, &segs, cpl);
        let mut b = machine(&mut bbus, &code, &data, regs, &segs, cpl);
        bt.reset();
        let t0 = std::time::Instant::now();
        let result = common::lockstep(&mut a, &mut abus, &mut b, &mut bbus, &mut bt, 5_000);
        if std::env::var_os("STRACHEY_BT_FUZZ_TIMES").is_some() {
            eprintln!(
                "case {case}: {:?} {:?}",
                t0.elapsed(),
                result.as_ref().map(|e| (e.steps, e.exit))
            );
        }
        match result {
            Ok(end) if !end.rep_desync => {
                deviations += end.deviations;
                let (mut ma, mut mb) = (vec![0u8; RAM], vec![0u8; RAM]);
                abus.mem.read(PhysAddr(0), &mut ma);
                bbus.mem.read(PhysAddr(0), &mut mb);
                if ma != mb {
                    let at = ma.iter().zip(&mb).position(|(x, y)| x != y).unwrap_or(0);
                    let end = (at + 16).min(ma.len());
                    failures.push(format!(
                        "case {case}: memory differs first at {at:#x}: {:02x?} (interp), {:02x?} (bt)",
                        &ma[at..end],
                        &mb[at..end]
                    ));
                }
                *exits.entry(format!("{:?}", end.exit)).or_insert(0u64) += 1;
            }
            Ok(_) => {
                *exits
                    .entry("REP in chunks (not comparable further)".into())
                    .or_insert(0u64) += 1
            }
            Err(e) => failures.push(format!("case {case}: {e}")),
        }
    }
    println!(
        "bt fuzz: {n} cases (seed {seed:#x}), endings {exits:?}, {deviations} tolerated transcendental deviations, {} differences",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The start of a case's code and its registers (with `LOCKSTEP_TRACE`).
fn show(code: &[u8], regs: [u32; 8]) {
    use iced_x86::Formatter;
    eprintln!("registers {regs:08x?}");
    let mut f = iced_x86::IntelFormatter::new();
    let d = iced_x86::Decoder::with_ip(32, &code[..512], u64::from(CODE), iced_x86::DecoderOptions::NONE);
    for i in d {
        let mut t = String::new();
        f.format(&i, &mut t);
        eprintln!("  {:08x}  {t}", i.ip());
    }
}
