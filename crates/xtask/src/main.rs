//! `cargo xtask test`: the project's one test command.
//!
//! 1. installs what the tests need from Debian packages, by package name,
//!    when it is missing: nasm for the test ROMs; for the window test
//!    libsdl2-dev, an X server to run it on (xvfb, xauth), xdotool to type
//!    into it, ImageMagick to photograph it and python3 to close it; and
//!    fetches SeaBIOS from Debian's `seabios` package (`firmware/fetch.sh`);
//! 2. assembles the test ROMs (`test-roms/build.sh`);
//! 3. runs `cargo test --release --workspace` (the default build, no SDL2);
//! 4. runs the window's tests in the build with the window (`--features
//!    gui`) on a virtual X display: `xvfb-run -a cargo test --release -p
//!    strachey --features gui --bins --test window`;
//! 5. runs the command line's tests in the build without the translator,
//!    the one hosts other than x86-64 Linux get (`cargo test --release -p
//!    strachey --features interp-only`): the interpreter is the default
//!    engine there and `--engine bt` is a clear error;
//!
//! and fails if any run fails.
//!
//! Nothing is downloaded by address; packages come through `apt-get`.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&root, &args[1..]),
        Some("prepare") => prepare(&root),
        _ => {
            eprintln!("usage: cargo xtask test [-- CARGO-TEST-ARGS]   run the whole test suite");
            eprintln!(
                "       cargo xtask prepare                     install prerequisites, build test ROMs"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Install Debian packages by name if their command is missing.
fn ensure_packages(pkgs: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> = pkgs
        .iter()
        .filter(|(cmd, _)| !have(cmd))
        .map(|(_, p)| *p)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let sudo = if is_root() { vec![] } else { vec!["sudo"] };
    let run = |extra: &[&str]| -> bool {
        let mut c = Command::new(if sudo.is_empty() { "apt-get" } else { "sudo" });
        if !sudo.is_empty() {
            c.arg("apt-get");
        }
        c.args(extra)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !run(&["install", "-y", "-q", "--no-install-recommends"]
        .iter()
        .copied()
        .chain(missing.iter().copied())
        .collect::<Vec<_>>())
    {
        // The package lists may be missing or stale on a fresh machine.
        if !run(&["update", "-q"])
            || !run(&["install", "-y", "-q", "--no-install-recommends"]
                .iter()
                .copied()
                .chain(missing.iter().copied())
                .collect::<Vec<_>>())
        {
            return Err(format!(
                "could not install {} with apt-get; install them by hand",
                missing.join(" ")
            ));
        }
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

fn prepare(root: &Path) -> Result<ExitCode, String> {
    ensure_packages(&[
        ("nasm", "nasm"),
        // The window (`--features gui`) and its test on a virtual display.
        ("sdl2-config", "libsdl2-dev"),
        ("xvfb-run", "xvfb"),
        ("xauth", "xauth"),
        ("xdotool", "xdotool"),
        ("import", "imagemagick"),
        ("python3", "python3"),
    ])?;
    // SeaBIOS and its VGA BIOS, from Debian's seabios package by name.
    let st = Command::new("bash")
        .arg(root.join("firmware/fetch.sh"))
        .status()
        .map_err(|e| format!("cannot run firmware/fetch.sh: {e}"))?;
    if !st.success() {
        return Err("fetching SeaBIOS failed (firmware/fetch.sh)".into());
    }
    let st = Command::new("sh")
        .arg(root.join("test-roms/build.sh"))
        .status()
        .map_err(|e| format!("cannot run test-roms/build.sh: {e}"))?;
    if !st.success() {
        return Err("building the test ROMs failed".into());
    }
    Ok(ExitCode::SUCCESS)
}

fn test(root: &Path, extra: &[String]) -> Result<ExitCode, String> {
    prepare(root)?;
    let cargo = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| "cargo".into());
    let mut workspace = Command::new(&cargo);
    workspace
        .args(["test", "--release", "--workspace", "--no-fail-fast"])
        .args(extra)
        // The oracle, the ROM runner and the garbage test print their
        // counts; show them.
        .args(if extra.is_empty() {
            &["--", "--nocapture"][..]
        } else {
            &[][..]
        });
    let workspace = step(root, &mut workspace, "the workspace tests")?;
    // The window, built with SDL2, on a virtual X server (xvfb-run picks a
    // free display number and removes it afterwards).
    let mut gui = Command::new("xvfb-run");
    gui.arg("-a").arg(&cargo).args([
        "test",
        "--release",
        "-p",
        "strachey",
        "--features",
        "gui",
        "--bins",
        "--test",
        "window",
    ]);
    let gui = step(root, &mut gui, "the window tests")?;
    // The build other hosts get: no translator, the interpreter by default.
    let mut interp_only = Command::new(&cargo);
    interp_only.args([
        "test",
        "--release",
        "-p",
        "strachey",
        "--features",
        "interp-only",
        "--no-fail-fast",
    ]);
    let interp_only = step(
        root,
        &mut interp_only,
        "the tests of the build without the translator",
    )?;
    Ok(if workspace && gui && interp_only {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Run one more step of the suite in `root`; whether it passed (a failure
/// is reported with the command that reproduces it).
fn step(root: &Path, cmd: &mut Command, what: &str) -> Result<bool, String> {
    let shown = format!("{cmd:?}");
    let st = cmd
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run {what} ({shown}): {e}"))?;
    if !st.success() {
        eprintln!("xtask: {what} failed: {shown}");
    }
    Ok(st.success())
}
