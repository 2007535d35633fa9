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

/// A ROM that enters flat 32-bit protected mode, writes a line `P` to port
/// 0xE9 and counts in EAX forever (`inc eax; jmp $-1` at 0xf0037): code the
/// translator runs without leaving it.
fn endless_flat32_rom(name: &str) -> PathBuf {
    let mut img = vec![0u8; 0x10000];
    let code: &[u8] = &[
        0xfa, // cli
        0x2e, 0x0f, 0x01, 0x16, 0x20, 0x01, // lgdt cs:[0x120]
        0x0f, 0x20, 0xc0, // mov eax, cr0
        0x0c, 0x01, // or al, 1
        0x0f, 0x22, 0xc0, // mov cr0, eax
        0x66, 0xea, 0x20, 0x00, 0x0f, 0x00, 0x08, 0x00, // jmp dword 0x08:0xf0020
    ];
    img[..code.len()].copy_from_slice(code);
    let flat: &[u8] = &[
        0x66, 0xb8, 0x10, 0x00, // mov ax, 0x10
        0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, // mov ds/es/ss, ax
        0xbc, 0x00, 0x80, 0x00, 0x00, // mov esp, 0x8000
        0xb0, b'P', 0xe6, 0xe9, // mov al, 'P'; out 0xe9, al
        0xb0, b'\n', 0xe6, 0xe9, // mov al, 10; out 0xe9, al
        0x40, 0xeb, 0xfd, // inc eax; jmp $-1
    ];
    img[0x20..0x20 + flat.len()].copy_from_slice(flat);
    // GDT: null, flat code 0x08, flat data 0x10; its pseudo-descriptor.
    for (k, d) in [0u64, 0x00cf_9a00_0000_ffff, 0x00cf_9200_0000_ffff]
        .iter()
        .enumerate()
    {
        img[0x100 + 8 * k..0x108 + 8 * k].copy_from_slice(&d.to_le_bytes());
    }
    img[0x120..0x126].copy_from_slice(&[0x17, 0x00, 0x00, 0x01, 0x0f, 0x00]);
    img[0xfff0..0xfff5].copy_from_slice(&[0xea, 0x00, 0x00, 0x00, 0xf0]); // jmp f000:0000
    let p = tmp(name);
    std::fs::write(&p, img).unwrap();
    p
}

#[test]
fn sigint_stops_a_translated_loop_cleanly() {
    let r = endless_flat32_rom("endless32.bin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_strachey"))
        .args([
            "run",
            "--bios",
            r.to_str().unwrap(),
            "--stats",
            "--timeout",
            "120",
            "--debugcon",
            "stdio",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run strachey");
    // Once the guest has written its line it is in its loop (and the signal
    // handlers are in place); then a little longer, so that the signal
    // finds the thread in translated code. (`--timeout` bounds the read.)
    let mut line = [0u8; 2];
    std::io::Read::read_exact(child.stdout.as_mut().expect("piped"), &mut line).expect("the guest's line");
    assert_eq!(&line, b"P\n");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    // In the loop: translated code leaves at its head (0xf0037); the
    // interpreter may stop at either instruction.
    assert!(
        err.contains("interrupted at 0008:000f0037") || err.contains("interrupted at 0008:000f0038"),
        "stopped in the loop: {err}"
    );
    assert!(!err.contains("timeout"), "{err}");
    // Whether the signal found the thread in translated code (a kick) or
    // between two slices of the run loop is timing; both end the run.
    assert_eq!(
        err.contains("strachey: bt: kicks out of translated code by other threads"),
        machine::bt::AVAILABLE,
        "{err}"
    );
}
