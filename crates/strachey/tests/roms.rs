//! Every test ROM in `test-roms/` runs under the `strachey` binary and must
//! end with the exit status `test-roms/expected.txt` gives, after printing
//! its `PASS` line. The ROMs are assembled by `test-roms/build.sh` (nasm),
//! which `cargo xtask test` runs first; this test runs it too.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn build_roms() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let st = Command::new("sh")
            .arg(root().join("test-roms/build.sh"))
            .status()
            .expect("run test-roms/build.sh");
        assert!(
            st.success(),
            "test-roms/build.sh failed (is nasm installed? `cargo xtask test` installs it)"
        );
    });
}

/// (name, expected exit status) from expected.txt.
fn expected() -> Vec<(String, i32)> {
    let text = std::fs::read_to_string(root().join("test-roms/expected.txt")).expect("read expected.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut f = l.split_whitespace();
            let name = f.next().unwrap().to_string();
            let code = f
                .next()
                .and_then(|c| c.parse().ok())
                .expect("exit code in expected.txt");
            (name, code)
        })
        .collect()
}

fn run_rom(name: &str) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_strachey"))
        .args(["run", "--bios"])
        .arg(root().join(format!("test-roms/build/{name}.bin")))
        .args([
            "--debugcon",
            "stdio",
            "--no-reboot",
            "--timeout",
            "60",
            "-m",
            "16",
        ])
        .output()
        .expect("run strachey");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_test_rom_passes() {
    build_roms();
    let mut failed = Vec::new();
    let all = expected();
    for (name, want) in &all {
        if name == "bench" {
            continue; // the benchmark ROM runs in benches/, it takes seconds
        }
        let (code, out, err) = run_rom(name);
        let passed = code == Some(*want) && (*want != 1 || out.contains(&format!("PASS {name}")));
        println!(
            "rom {name}: exit {code:?} (want {want}) {}",
            if passed { "ok" } else { "FAILED" }
        );
        if !passed {
            failed.push(format!(
                "{name}: exit {code:?}, want {want}\n--- stdout\n{out}\n--- stderr\n{err}"
            ));
        }
    }
    println!(
        "test ROMs: {} passed, {} failed",
        all.len() - 1 - failed.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "failing ROMs:\n{}", failed.join("\n"));
}

#[test]
fn builtin_demo_matches_its_source() {
    build_roms();
    let built = std::fs::read(root().join("test-roms/build/demo.bin")).unwrap();
    let shipped = std::fs::read(root().join("test-roms/prebuilt/demo.bin")).unwrap();
    assert!(
        built == shipped,
        "test-roms/prebuilt/demo.bin is stale: copy test-roms/build/demo.bin over it"
    );
}
