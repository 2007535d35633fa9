//! A guest that executes garbage gets guest exceptions, never a host panic
//! or hang: random bytes run in real mode, 16- and 32-bit protected mode at
//! CPL 0 and 3, with and without paging. `STRACHEY_GARBAGE_CASES=N` runs
//! more programs (default 1,000 per mode).

use cpu::{Bus, Cpu, Exit};
use mem::{PhysAddr, PhysMemory};

/// xorshift64*: a small deterministic generator (no dependencies).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Real,
    Flat32(u8),
    Prot16,
    Paged32,
}

fn machine(mode: Mode, rng: &mut Rng) -> (Cpu, Bus) {
    let mut bus = Bus::new(PhysMemory::new(4).unwrap());
    // Random RAM below 1 MiB (code, data, tables, everything).
    let mut junk = vec![0u8; 0x20000];
    for b in junk.chunks_mut(8) {
        b.copy_from_slice(&rng.next().to_le_bytes());
    }
    bus.mem.write(PhysAddr(0), &junk);
    let mut cpu = Cpu::new();
    for s in &mut cpu.state.segs {
        s.selector = 0;
        s.base = 0;
    }
    cpu.state.eip = (rng.next() % 0x1f000) as u32;
    cpu.state.regs = std::array::from_fn(|_| rng.next() as u32 & 0x1ffff);
    match mode {
        Mode::Real => {}
        Mode::Flat32(cpl) => cpu.state.set_flat32(cpl),
        Mode::Prot16 => {
            cpu.state.set_flat32(0);
            for s in &mut cpu.state.segs {
                s.attr &= !cpu::attr::DB;
                s.limit = 0xffff;
            }
        }
        Mode::Paged32 => {
            cpu.state.set_flat32(0);
            // Identity-map the first 4 MiB with one PSE page plus random
            // page tables elsewhere: the guest's own junk decides the rest.
            bus.mem.write(PhysAddr(0x30000), &(0x83u32 | 0x4).to_le_bytes());
            cpu.state.cr4 |= cpu::cr4::PSE;
            cpu.state.cr3 = 0x30000;
            cpu.state.cr0 |= cpu::cr0::PG;
        }
    }
    // Random IDT/GDT bases and limits inside the junk.
    cpu.state.idtr = cpu::TableReg {
        base: (rng.next() % 0x10000) as u32,
        limit: (rng.next() % 0x800) as u32,
    };
    cpu.state.gdtr = cpu::TableReg {
        base: (rng.next() % 0x10000) as u32,
        limit: (rng.next() % 0x800) as u32,
    };
    (cpu, bus)
}

#[test]
fn random_code_never_panics_or_hangs() {
    let cases: u64 = std::env::var("STRACHEY_GARBAGE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let modes = [
        Mode::Real,
        Mode::Flat32(0),
        Mode::Flat32(3),
        Mode::Prot16,
        Mode::Paged32,
    ];
    for mode in modes {
        let (mut faults, mut insns) = (0u64, 0u64);
        for case in 0..cases {
            let seed = rng.next();
            let mut r = Rng(seed | 1);
            let (mut cpu, mut bus) = machine(mode, &mut r);
            // Step by step (faults returned, not delivered)...
            for _ in 0..64 {
                if cpu.step(&mut bus).is_err() {
                    faults += 1;
                    cpu.state.eip = (r.next() % 0x1f000) as u32;
                }
            }
            // ...and through the run loop, which delivers them.
            let exit = cpu.run(&mut bus, 2000);
            assert!(
                matches!(
                    exit,
                    Exit::Budget | Exit::Halted | Exit::DeadHalt | Exit::TripleFault
                ),
                "mode {mode:?} case {case}: {exit:?}"
            );
            insns += cpu.stats.instructions;
        }
        println!("garbage {mode:?}: {cases} programs, {insns} instructions, {faults} faults in single steps");
    }
}
