//! Translator speed relative to native: one compute-bound workload
//! (`test-roms/workload.inc`: loops, calls and returns, jump-table and
//! function-pointer dispatch, REP MOVSD/STOSD, a sieve, checksums, a sort)
//! run four ways in one run:
//!
//! 1. natively, as a static Linux i386 program (`test-roms/native/cbench.asm`);
//! 2. `strachey run --bios cbench.bin --engine bt`;
//! 3. `strachey run --bios cbench.bin --engine interp`;
//! 4. `qemu-system-i386 -accel tcg` on the same ROM.
//!
//! Each way is timed as a whole process (wall clock, best of N runs), so the
//! emulators' start-up is included; Strachey's `--stats` also gives the time
//! spent running the guest, shown separately. All four must print the same
//! checksum, or the benchmark fails.
//!
//! Run with `cargo bench -p strachey --bench translator [-- --runs N]
//! [--ways native,bt,interp,qemu]`. Missing tools (nasm, binutils, QEMU) are
//! installed from Debian packages with `apt-get`. Not a test: nothing here
//! asserts a speed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// One way of running the workload.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Way {
    Native,
    Bt,
    Interp,
    Qemu,
}

impl Way {
    const ALL: [Way; 4] = [Way::Native, Way::Bt, Way::Interp, Way::Qemu];

    fn name(self) -> &'static str {
        match self {
            Way::Native => "native",
            Way::Bt => "bt",
            Way::Interp => "interp",
            Way::Qemu => "qemu",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Way::Native => "native (i386 ELF)",
            Way::Bt => "strachey --engine bt",
            Way::Interp => "strachey --engine interp",
            Way::Qemu => "qemu-system-i386 -accel tcg",
        }
    }

    /// The exit status of a successful run: the ELF exits with 0, the ROM
    /// writes 0 to the debug-exit port, which gives (0 << 1) | 1.
    fn success_code(self) -> i32 {
        if self == Way::Native {
            0
        } else {
            1
        }
    }
}

/// What `strachey --stats` reports (on stderr).
#[derive(Default, Debug, Clone)]
struct Stats {
    /// Guest instructions, translated and interpreted.
    instructions: Option<u64>,
    /// Seconds spent running the guest (without start-up).
    guest_secs: Option<f64>,
    /// Instructions the translator left to the interpreter.
    interpreted: Option<u64>,
    /// The translator's own lines (`strachey: bt: ...`: blocks, callouts
    /// to the interpreter, host faults), shown as they are.
    bt_lines: Vec<String>,
}

/// The best of a way's runs.
#[derive(Debug)]
struct Timing {
    way: Way,
    wall: f64,
    stats: Stats,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() {
    let mut runs: usize = std::env::var("STRACHEY_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut ways = Way::ALL.to_vec();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--runs N (N >= 1)");
            }
            "--ways" => {
                let list = args.next().expect("--ways native,bt,interp,qemu");
                ways = list
                    .split(',')
                    .map(|w| {
                        *Way::ALL
                            .iter()
                            .find(|x| x.name() == w)
                            .unwrap_or_else(|| panic!("unknown way {w:?}"))
                    })
                    .collect();
            }
            _ => {} // `cargo bench` passes --bench and filters
        }
    }
    let runs = runs.max(1);

    assert!(ensure_tool("nasm", "nasm"), "the benchmark needs nasm");
    assert!(ensure_tool("ld", "binutils"), "the benchmark needs GNU ld");
    if ways.contains(&Way::Qemu) && !ensure_tool("qemu-system-i386", "qemu-system-x86") {
        println!("qemu-system-i386 is not available: that way is skipped");
        ways.retain(|w| *w != Way::Qemu);
    }
    let st = Command::new("sh")
        .arg(root().join("test-roms/build.sh"))
        .status()
        .expect("run test-roms/build.sh");
    assert!(st.success(), "test-roms/build.sh failed");
    let rom = root().join("test-roms/build/cbench.bin");
    let elf = root().join("test-roms/build/cbench-native");
    assert!(
        elf.exists(),
        "test-roms/build.sh did not build {} (needs ld)",
        elf.display()
    );

    println!(
        "translator benchmark: test-roms/workload.inc, best of {runs} run(s) per way, whole-process wall clock"
    );
    let mut checksum: Option<String> = None;
    let mut timings = Vec::new();
    for &way in &ways {
        let mut best: Option<Timing> = None;
        for run in 0..runs {
            let (secs, out) = time(command(way, &rom, &elf));
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.code() == Some(way.success_code()),
                "{}: exit status {:?}\n--- stdout\n{stdout}--- stderr\n{stderr}",
                way.label(),
                out.status
            );
            let sum = stdout
                .lines()
                .find_map(|l| l.strip_prefix("cbench: checksum "))
                .unwrap_or_else(|| panic!("{}: no checksum in\n{stdout}", way.label()))
                .trim()
                .to_string();
            match &checksum {
                None => checksum = Some(sum),
                Some(c) => assert!(
                    *c == sum,
                    "CHECKSUM MISMATCH: {} printed {sum}, the first way printed {c}",
                    way.label()
                ),
            }
            let stats = parse_stats(&stderr);
            println!(
                "  {:<28} run {}: {secs:.3} s{}",
                way.label(),
                run + 1,
                stats
                    .guest_secs
                    .map(|g| format!(" (guest {g:.3} s)"))
                    .unwrap_or_default()
            );
            if best.as_ref().is_none_or(|b| secs < b.wall) {
                best = Some(Timing {
                    way,
                    wall: secs,
                    stats,
                });
            }
        }
        timings.extend(best);
    }
    report(&timings, checksum.as_deref().unwrap_or("?"));
}

/// The command line of one way.
fn command(way: Way, rom: &Path, elf: &Path) -> Command {
    match way {
        Way::Native => Command::new(elf),
        Way::Bt | Way::Interp => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_strachey"));
            c.args(["run", "--bios"])
                .arg(rom)
                .args(["--engine", way.name()])
                .args(["-m", "16", "--debugcon", "stdio", "--no-reboot"])
                .args(["--timeout", "600", "--stats"]);
            c
        }
        Way::Qemu => {
            let mut c = Command::new("qemu-system-i386");
            c.args(["-display", "none", "-accel", "tcg", "-m", "16"])
                .args(["-nodefaults", "-no-reboot"])
                .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=1"])
                .args(["-debugcon", "stdio", "-bios"])
                .arg(rom);
            c
        }
    }
}

fn time(mut c: Command) -> (f64, Output) {
    let t = Instant::now();
    let out = c.output().unwrap_or_else(|e| panic!("run {c:?}: {e}"));
    (t.elapsed().as_secs_f64(), out)
}

/// Reads the lines of `strachey --stats` that this benchmark uses:
/// `guest instructions N (T translated, I interpreted) in S s` (bt),
/// `interpreter instructions N in S s` (interp) and the `bt: ...` lines.
fn parse_stats(stderr: &str) -> Stats {
    fn num<T: std::str::FromStr>(w: Option<&str>) -> Option<T> {
        w?.trim_matches(|c| c == ',' || c == '(').parse().ok()
    }
    let mut s = Stats::default();
    for line in stderr.lines() {
        let Some(line) = line.strip_prefix("strachey: ") else {
            continue;
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let after = |key: &str| {
            words
                .iter()
                .position(|w| *w == key)
                .and_then(|i| words.get(i + 1).copied())
        };
        if let Some(rest) = line.strip_prefix("guest instructions ") {
            s.instructions = num(rest.split_whitespace().next());
            s.guest_secs = num(after("in"));
            s.interpreted = words
                .iter()
                .position(|w| *w == "interpreted)")
                .and_then(|i| num(words.get(i - 1).copied()));
        } else if line.starts_with("interpreter instructions ") && s.instructions.is_none() {
            s.instructions = num(words.get(2).copied());
            s.guest_secs = num(after("in"));
        } else if line.starts_with("bt: ") {
            s.bt_lines.push(line.to_string());
        }
    }
    s
}

fn report(timings: &[Timing], checksum: &str) {
    let native = timings.iter().find(|t| t.way == Way::Native).map(|t| t.wall);
    // The guest instruction count: Strachey's, the interpreter's first (the
    // reference); native and QEMU ran the same instructions.
    let count = [Way::Interp, Way::Bt]
        .iter()
        .find_map(|w| timings.iter().find(|t| t.way == *w)?.stats.instructions);
    println!();
    println!("all ways printed checksum {checksum}");
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "way", "wall s", "x native", "guest s", "start s", "MIPS"
    );
    for t in timings {
        let ratio = native.map_or("-".to_string(), |n| format!("{:.2}", t.wall / n));
        let (guest, start) = match t.stats.guest_secs {
            Some(g) => (format!("{g:.3}"), format!("{:.3}", t.wall - g)),
            None => ("-".into(), "-".into()),
        };
        let mips = count.map_or("-".to_string(), |n| format!("{:.0}", n as f64 / t.wall / 1e6));
        println!(
            "{:<28} {:>9.3} {:>9} {:>9} {:>9} {:>8}",
            t.way.label(),
            t.wall,
            ratio,
            guest,
            start,
            mips
        );
    }
    if let Some(n) = count {
        println!("MIPS = {n} guest instructions (strachey --stats) / wall seconds");
    }
    if let Some(t) = timings.iter().find(|t| t.way == Way::Bt) {
        let s = &t.stats;
        println!(
            "bt: {} of the guest instructions interpreted; its --stats:",
            s.interpreted.map_or("?".into(), |v| v.to_string())
        );
        for l in &s.bt_lines {
            println!("  {l}");
        }
    }
}

/// Makes sure `tool` is on the PATH, installing the Debian package `package`
/// with apt-get (through sudo when not root) if it is not. Returns whether
/// the tool is there now.
fn ensure_tool(tool: &str, package: &str) -> bool {
    let present = || {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool} >/dev/null 2>&1")])
            .status()
            .is_ok_and(|s| s.success())
    };
    if present() {
        return true;
    }
    println!("{tool} not found: installing the Debian package {package}");
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut c = if root_user {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.arg("apt-get");
        c
    };
    let ok = c
        .args(["install", "-y", package])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("apt-get install {package} failed");
    }
    present()
}
