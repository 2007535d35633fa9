//! The command line: exit statuses, debug consoles and bad input. The guest
//! programs are a few bytes placed at the reset vector of a 64 KiB ROM.

use std::path::PathBuf;
use std::process::{Command, Output};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("strachey-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// A 64 KiB ROM with `code` at the reset vector (F000:FFF0).
fn rom(name: &str, code: &[u8]) -> PathBuf {
    let mut img = vec![0u8; 0x10000];
    img[0xfff0..0xfff0 + code.len()].copy_from_slice(code);
    let p = tmp(name);
    std::fs::write(&p, img).unwrap();
    p
}

fn strachey(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strachey"))
        .args(args)
        .output()
        .expect("run strachey")
}

fn run(rom: &std::path::Path, extra: &[&str]) -> Output {
    let mut a = vec!["run", "--bios", rom.to_str().unwrap()];
    a.extend_from_slice(extra);
    strachey(&a)
}

#[test]
fn debug_exit_and_debugcon_ports() {
    // mov al,'A'; out 0x80,al; out 0xe9,al; mov al,5; out 0xf4,al
    let r = rom(
        "exit5.bin",
        &[0xb0, 0x41, 0xe6, 0x80, 0xe6, 0xe9, 0xb0, 0x05, 0xe6, 0xf4],
    );
    let post = tmp("post.bin");
    let spec = format!("0x80=file:{}", post.display());
    let out = run(&r, &["--debugcon", "stdio", "--debugcon", &spec]);
    assert_eq!(out.status.code(), Some(11), "(5 << 1) | 1");
    assert_eq!(out.stdout, b"A");
    assert_eq!(std::fs::read(&post).unwrap(), b"A");
}

#[test]
fn dead_halt_has_its_own_status() {
    let r = rom("cli-hlt.bin", &[0xfa, 0xf4]); // cli; hlt
    let out = run(&r, &[]);
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("halted"));
}

#[test]
fn triple_fault_with_no_reboot() {
    // lidt cs:[0] (six zero bytes: limit 0), then ud2: #UD -> #GP -> #DF -> shutdown.
    let r = rom("triple.bin", &[0x2e, 0x0f, 0x01, 0x1e, 0x00, 0x00, 0x0f, 0x0b]);
    let out = run(&r, &["--no-reboot"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("triple fault"));
    // Without --no-reboot the machine resets and runs into the same fault
    // again until the timeout.
    let out = run(&r, &["--timeout", "0.3"]);
    assert_eq!(out.status.code(), Some(8));
}

#[test]
fn timeout_has_its_own_status() {
    let r = rom("loop.bin", &[0xeb, 0xfe]); // jmp $
    let out = run(&r, &["--timeout", "0.2", "--stats"]);
    assert_eq!(out.status.code(), Some(8));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("timeout"), "{err}");
    assert!(err.contains("MIPS"), "--stats reports MIPS: {err}");
}

/// Bad input: one line on stderr naming the problem, exit status 2.
fn assert_usage_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains(needle), "expected {needle:?} in {err:?}");
    assert!(out.stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
}

#[test]
fn bad_input_is_a_one_line_error() {
    let out = strachey(&["run", "--bios", "/nonexistent/rom.bin"]);
    assert_usage_error(&out, "cannot read BIOS /nonexistent/rom.bin");

    let odd = tmp("odd.bin");
    std::fs::write(&odd, vec![0u8; 1000]).unwrap();
    let out = run(&odd, &[]);
    assert_usage_error(&out, "multiple of 64 KiB");

    let dir = std::env::temp_dir();
    let out = strachey(&["run", "--bios", dir.to_str().unwrap()]);
    assert_usage_error(&out, "is a directory");

    let r = rom("ok.bin", &[0xfa, 0xf4]);
    assert_usage_error(
        &run(&r, &["--debugcon", "tty"]),
        "destination must be stdio or file:PATH",
    );
    assert_usage_error(&run(&r, &["--debugcon", "0xzz=stdio"]), "bad port");
    assert_usage_error(&run(&r, &["--frobnicate"]), "--frobnicate");
    assert_usage_error(&run(&r, &["--engine", "magic"]), "magic");
    assert_usage_error(&run(&r, &["-m", "0"]), "RAM size");
    assert_usage_error(&run(&r, &["--timeout", "-1"]), "timeout");
}

#[test]
fn builtin_demo_runs_without_files() {
    let out = strachey(&["demo"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Strachey demo ROM"), "{text}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {text}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
