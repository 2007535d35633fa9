//! The test ROMs under the translator in lock step with the interpreter
//! (`common::lockstep`), with the translator's usual blocks and with blocks
//! of one and three instructions. Finds the first instruction whose
//! translation differs.

#![cfg(bt_host)]

mod common;

use cpu::{Bus, Cpu};
use mem::PhysMemory;

fn boot(rom: &[u8]) -> (Cpu, Bus) {
    let mut mem = PhysMemory::new(16).unwrap();
    mem.load_bios(rom).unwrap();
    (Cpu::new(), Bus::new(mem))
}

/// ROM `name` in lock step for at most `max_steps`, with translated blocks
/// of at most `max_insns` instructions.
fn lockstep(name: &str, max_steps: u64, max_insns: u32) {
    let path = format!("{}/../../test-roms/build/{name}.bin", env!("CARGO_MANIFEST_DIR"));
    let rom = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run test-roms/build.sh)"));
    let (mut a, mut abus) = boot(&rom);
    let (mut b, mut bbus) = boot(&rom);
    let mut bt = bt::Bt::new(&bbus).unwrap();
    bt.max_insns = max_insns.min(bt.max_insns);
    // Host code runs a whole repetition at once: so do both interpreters.
    a.rep_chunk = u32::MAX;
    b.rep_chunk = u32::MAX;
    match common::lockstep(&mut a, &mut abus, &mut b, &mut bbus, &mut bt, max_steps) {
        Ok(end) if end.rep_desync => panic!("{name}: REP desynchronised at step {}", end.steps),
        Ok(end) => println!(
            "lockstep {name} (blocks of up to {} instructions): {} steps, {:?}, {} tolerated transcendental deviations, {:?}",
            bt.max_insns, end.steps, end.exit, end.deviations, bt.stats
        ),
        Err(e) => panic!("{name} (blocks of up to {} instructions): {e}", bt.max_insns),
    }
}

const ROMS: [&str; 11] = [
    "demo",
    "realmode",
    "pmode",
    "seglimit",
    "exceptions",
    "paging",
    "privilege",
    "tasks",
    "v86",
    "fpu",
    "bench",
];

#[test]
fn bench_rom_in_lockstep() {
    lockstep("bench", 200_000, u32::MAX);
}

#[test]
fn test_roms_in_lockstep() {
    for rom in ROMS {
        lockstep(rom, 1_000_000, u32::MAX);
    }
}

#[test]
fn test_roms_in_lockstep_with_one_instruction_blocks() {
    for rom in ROMS {
        lockstep(rom, 300_000, 1);
    }
}

#[test]
fn test_roms_in_lockstep_with_three_instruction_blocks() {
    for rom in ROMS {
        lockstep(rom, 300_000, 3);
    }
}
