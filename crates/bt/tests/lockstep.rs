//! The test ROMs under the translator in lock step with the interpreter:
//! after every translated block (or interpreted instruction) the translator's
//! machine is compared with an interpreter-only machine brought to the same
//! EIP. Finds the first instruction whose translation differs.

use cpu::{Bus, Cpu, Exit};
use mem::PhysMemory;

fn boot(rom: &[u8]) -> (Cpu, Bus) {
    let mut mem = PhysMemory::new(16).unwrap();
    mem.load_bios(rom).unwrap();
    (Cpu::new(), Bus::new(mem))
}

fn lockstep(name: &str, max_steps: u64) {
    let path = format!("{}/../../test-roms/build/{name}.bin", env!("CARGO_MANIFEST_DIR"));
    let rom = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run test-roms/build.sh)"));
    let (mut a, mut abus) = boot(&rom);
    let (mut b, mut bbus) = boot(&rom);
    let mut bt = bt::Bt::new(&bbus).unwrap();
    let (mut done_native, mut done_interp) = (0u64, 0u64);
    for step in 0..max_steps {
        let before = b.state.clone();
        let eb = bt.run(&mut b, &mut bbus, 1);
        if eb != Exit::Budget {
            let ea = a.run(&mut abus, 10_000_000);
            assert_eq!(ea, eb, "{name}: exits differ");
            assert_eq!(a.state.regs, b.state.regs, "{name}: final registers");
            println!("lockstep {name}: {step} steps, {:?}", bt.stats);
            return;
        }
        // Bring the interpreter to the same place: as many instructions as
        // the translator's machine executed (natively and interpreted).
        let n = (bt.stats.executed - done_native) + (b.stats.instructions - done_interp);
        done_native = bt.stats.executed;
        done_interp = b.stats.instructions;
        if n > 0 {
            let e = a.run(&mut abus, n);
            assert_eq!(
                e,
                Exit::Budget,
                "{name}: interpreter stopped early at step {step}"
            );
        }
        if std::env::var("LOCKSTEP_TRACE").is_ok() {
            eprintln!(
                "step {step}: from {:#x} n={n} -> a {:#x} b {:#x} stats {:?}",
                before.eip,
                a.state.eip,
                b.state.eip,
                (bt.stats.executed, bt.stats.fallbacks, bt.stats.faults_segv)
            );
        }
        assert_eq!(
            a.state.eip, b.state.eip,
            "{name}: step {step} from eip {:#x}: EIPs differ",
            before.eip
        );
        let fl = 0x8d5; // arithmetic flags + DF... compare all defined bits
        if a.state.fpu != b.state.fpu {
            panic!(
                "{name}: step {step} from eip {:#x}: x87/MMX state differs\n interp {:x?}\n bt     {:x?}",
                before.eip, a.state.fpu, b.state.fpu
            );
        }
        if a.state.regs != b.state.regs || (a.state.eflags & 0xfd5) != (b.state.eflags & 0xfd5) {
            panic!(
                "{name}: step {step} from eip {:#x}: state differs\n interp regs {:08x?} flags {:#x}\n bt     regs {:08x?} flags {:#x} (mask {fl:#x})",
                before.eip, a.state.regs, a.state.eflags, b.state.regs, b.state.eflags
            );
        }
    }
    println!("lockstep {name}: {max_steps} steps, {:?}", bt.stats);
}

#[test]
fn bench_rom_in_lockstep() {
    lockstep("bench", 200_000);
}

#[test]
fn test_roms_in_lockstep() {
    for rom in [
        "demo",
        "realmode",
        "pmode",
        "seglimit",
        "exceptions",
        "paging",
        "privilege",
        "tasks",
        "v86",
    ] {
        lockstep(rom, 10_000_000);
    }
}
