//! Interpreter speed on the compute-bound benchmark ROM (`test-roms/bench.asm`),
//! in guest MIPS, and the same ROM under `qemu-system-i386 -accel tcg` when
//! QEMU is installed, timed in the same run.
//!
//! Run with `cargo bench -p strachey --bench interp`. Not a test: nothing
//! here asserts a speed.

use devices::Sink;
use machine::{Config, Machine, Outcome};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let st = Command::new("sh")
        .arg(root.join("test-roms/build.sh"))
        .status()
        .expect("run test-roms/build.sh");
    assert!(st.success(), "test-roms/build.sh failed (needs nasm)");
    let rom_path = root.join("test-roms/build/bench.bin");
    let rom = std::fs::read(&rom_path).expect("read bench.bin");

    let cfg = Config::minimal(rom, Sink::Buffer(Vec::new()));
    let mut m = Machine::new(cfg).expect("build machine");
    let t = Instant::now();
    let outcome = m.run(Some(Duration::from_secs(600)));
    let secs = t.elapsed().as_secs_f64();
    let out = String::from_utf8_lossy(&m.console_output(0)).into_owned();
    print!("{out}");
    assert_eq!(outcome, Outcome::DebugExit(0), "benchmark ROM did not pass");
    let n = m.cpu.stats.instructions;
    let mips = n as f64 / secs / 1e6;
    println!("strachey interp: {n} instructions in {secs:.2} s = {mips:.1} MIPS");

    let mut qemu = Command::new("qemu-system-i386");
    qemu.args([
        "-display",
        "none",
        "-accel",
        "tcg",
        "-m",
        "16",
        "-nodefaults",
        "-no-reboot",
    ])
    .args([
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=1",
        "-debugcon",
        "null",
        "-bios",
    ])
    .arg(&rom_path);
    let t = Instant::now();
    match qemu.status() {
        Ok(s) if s.code() == Some(1) => {
            let q = t.elapsed().as_secs_f64();
            println!(
                "qemu-system-i386 -accel tcg: {q:.2} s (= {:.1} MIPS for the same instruction count); strachey interp / qemu time: {:.2}",
                n as f64 / q / 1e6,
                secs / q
            );
        }
        Ok(s) => println!("qemu-system-i386 ended with {s}; no comparison"),
        Err(_) => println!("qemu-system-i386 not installed (apt-get install qemu-system-x86); no comparison"),
    }
}
