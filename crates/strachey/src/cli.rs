//! Argument parsing and the `run` and `demo` commands.

use crate::console::{Console, ConsoleEvent};
use clap::{Args, Parser, Subcommand, ValueEnum};
use devices::disk::{DiskImage, DiskMode};
use devices::{DebugExit, Sink};
use machine::{BootFrom, Config, DebugConSpec, Engine, Machine, Outcome};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Bad usage or input.
pub const EXIT_USAGE: u8 = 2;
/// Triple fault or reset request with `--no-reboot`.
pub const EXIT_TRIPLE_FAULT: u8 = 4;
/// Halted with nothing to wake the CPU.
pub const EXIT_DEAD_HALT: u8 = 6;
/// `--timeout` expired.
pub const EXIT_TIMEOUT: u8 = 8;
/// A host failure while running.
pub const EXIT_HOST: u8 = 10;
/// Stopped by SIGINT, SIGTERM or SIGHUP (128 + SIGINT, as a shell reports
/// a process Ctrl-C ended).
pub const EXIT_INTERRUPTED: u8 = 130;

/// The built-in demo ROM (assembled from test-roms/demo.asm).
const DEMO_ROM: &[u8] = include_bytes!("../../../test-roms/prebuilt/demo.bin");

const EXIT_HELP: &str = "\
Exit status: (v<<1)|1 when the guest writes v to the debug-exit port 0xf4 \
(as QEMU's isa-debug-exit); 0 quit from the console (Ctrl-] q); 2 bad usage \
or input; 4 triple fault or reset with --no-reboot; 6 halted with nothing to \
wake the CPU; 8 timeout; 10 host failure; 130 stopped by SIGINT, SIGTERM or \
SIGHUP (disks flushed; a second signal ends the process at once).";

/// The engine `--engine` defaults to: the translator where this build has
/// it (x86-64 Linux hosts).
const DEFAULT_ENGINE: &str = if machine::bt::AVAILABLE { "bt" } else { "interp" };

#[derive(Parser, Debug)]
#[command(name = "strachey", version, about = "A full-virtualization x86 PC emulator", after_help = EXIT_HELP)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a PC: SeaBIOS (or another BIOS ROM) and the given disks.
    Run(Box<RunArgs>),
    /// Run the built-in demo ROM (no files needed).
    Demo {
        /// Print execution statistics at exit.
        #[arg(long)]
        stats: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BootArg {
    /// The first hard disk.
    C,
    /// The floppy.
    A,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DisplayArg {
    /// No window: the text screen is shown in the terminal when stdout is one.
    None,
    /// A desktop window (SDL2; only in builds with `--features gui`).
    Sdl,
}

/// `--display sdl` in a build without the window.
const NO_WINDOW: &str = "this build has no window: rebuild with --features gui, or use --display none";

#[derive(Args, Debug)]
struct RunArgs {
    /// BIOS ROM image: a multiple of 64 KiB, mapped at the top of 4 GiB,
    /// with its last 128 KiB also below 1 MiB. Default: SeaBIOS from
    /// firmware/seabios/ (see firmware/fetch.sh) or /usr/share/seabios.
    #[arg(long, value_name = "ROM")]
    bios: Option<PathBuf>,
    /// VGA BIOS image, exposed through the VGA's PCI ROM BAR. Default:
    /// vgabios-stdvga.bin beside the default BIOS.
    #[arg(long, value_name = "ROM")]
    vga_bios: Option<PathBuf>,
    /// Guest RAM in MiB.
    #[arg(short = 'm', long = "memory", value_name = "MiB", default_value_t = 32)]
    memory: u64,
    /// Hard-disk image (IDE primary master), raw.
    #[arg(long, value_name = "IMG")]
    hda: Option<PathBuf>,
    /// Hard-disk image (IDE primary slave), raw.
    #[arg(long, value_name = "IMG")]
    hdb: Option<PathBuf>,
    /// Floppy image (drive A): 1.44 MB or 2.88 MB (also 360K, 720K, 1.2M).
    #[arg(long, value_name = "IMG")]
    fda: Option<PathBuf>,
    /// Boot from the hard disk (c) or the floppy (a).
    #[arg(long, value_enum, default_value = "c")]
    boot: BootArg,
    /// Never write to the disk images: guest writes stay in memory.
    #[arg(long)]
    snapshot: bool,
    /// COM1: `stdio`, `file:PATH` or `none`.
    #[arg(long, value_name = "DEST", default_value = "none")]
    serial: String,
    /// Capture bytes written to a port: `[PORT=]DEST`, DEST is `stdio` or
    /// `file:PATH`, PORT defaults to 0xe9. May be repeated.
    #[arg(long, value_name = "[PORT=]DEST")]
    debugcon: Vec<String>,
    /// Display.
    #[arg(long, value_enum, default_value = "none")]
    display: DisplayArg,
    /// Write the final text screen to PATH at exit (UTF-8, one line per row).
    #[arg(long, value_name = "PATH")]
    screen_dump: Option<PathBuf>,
    /// Show the VGA's overscan border (8 pixels around the picture, in the
    /// attribute controller's overscan colour) in the window and in
    /// screenshots, as a monitor does.
    #[arg(long)]
    vga_border: bool,
    /// Write the final frame to PATH at exit as a PNG image.
    #[arg(long, value_name = "PATH")]
    screenshot: Option<PathBuf>,
    /// Type TEXT on the keyboard once the boot sector has started and the
    /// keyboard is enabled (`\n` is Enter).
    #[arg(long, value_name = "TEXT")]
    keys: Option<String>,
    /// Execution engine: the binary translator (`bt`, the default on x86-64
    /// Linux) or the interpreter (`interp`).
    #[arg(long, value_name = "ENGINE", default_value = DEFAULT_ENGINE, value_parser = ["interp", "bt"])]
    engine: String,
    /// Print each translated block: every guest instruction next to the
    /// host code it became (with `--engine bt`; to standard error).
    #[arg(long)]
    trace_translation: bool,
    /// Stop at a triple fault or reset request instead of resetting.
    #[arg(long)]
    no_reboot: bool,
    /// Stop after this many seconds of wall-clock time.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    timeout: Option<f64>,
    /// Print execution statistics at exit.
    #[arg(long)]
    stats: bool,
}

/// Parse a `--debugcon` spec.
fn parse_debugcon(spec: &str) -> Result<DebugConSpec, String> {
    let (port, dest) = match spec.split_once('=') {
        Some((p, d)) => (
            parse_port(p).ok_or_else(|| format!("bad port {p:?} in --debugcon {spec:?}"))?,
            d,
        ),
        None => (0xe9, spec),
    };
    let sink = if dest == "stdio" {
        Sink::Stdout
    } else if let Some(path) = dest.strip_prefix("file:") {
        if path.is_empty() {
            return Err(format!("--debugcon {spec:?}: file: needs a path"));
        }
        let f =
            std::fs::File::create(path).map_err(|e| format!("cannot create debugcon file {path}: {e}"))?;
        Sink::Writer(Box::new(std::io::BufWriter::new(f)))
    } else {
        return Err(format!(
            "--debugcon {spec:?}: destination must be stdio or file:PATH"
        ));
    };
    Ok(DebugConSpec { port, sink })
}

fn parse_port(s: &str) -> Option<u16> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u16::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

pub fn main() -> Result<u8, String> {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return Ok(0);
        }
        Err(e) => {
            // One line, like every other input error: clap's first line
            // without its "error: " prefix, plus the hint.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            return Err(format!(
                "{} (see strachey --help)",
                first.trim_start_matches("error: ")
            ));
        }
    };
    match cli.cmd {
        Cmd::Run(a) => run(*a),
        Cmd::Demo { stats } => {
            let mut cfg = Config::minimal(DEMO_ROM.to_vec(), Sink::Stdout);
            cfg.ram_mib = 16;
            let mut m = Machine::new(cfg).map_err(|e| e.to_string())?;
            let outcome = m.run(Some(Duration::from_secs(60)));
            if stats {
                print_stats(&m);
            }
            Ok(match outcome {
                Outcome::DebugExit(0) => 0,
                o => exit_code(o),
            })
        }
    }
}

/// Where the default firmware lives: `$STRACHEY_FIRMWARE`, the project's
/// firmware/seabios/ (next to the source tree this binary was built from,
/// or two levels above the binary), then Debian's /usr/share/seabios.
fn firmware_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("STRACHEY_FIRMWARE") {
        dirs.push(PathBuf::from(d));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(root) = exe.parent().and_then(Path::parent).and_then(Path::parent) {
            dirs.push(root.join("firmware/seabios"));
        }
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware/seabios"));
    dirs.push(PathBuf::from("/usr/share/seabios"));
    dirs
}

fn find_firmware(name: &str) -> Option<PathBuf> {
    firmware_dirs()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn read_rom(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    if path.is_dir() {
        return Err(format!(
            "{what} {} is a directory, not a ROM image",
            path.display()
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

fn open_disk(path: &Path, floppy: bool, snapshot: bool) -> Result<DiskImage, String> {
    let mode = if snapshot {
        DiskMode::Snapshot
    } else {
        DiskMode::ReadWrite
    };
    let r = if floppy {
        DiskImage::open_floppy(path, mode)
    } else {
        DiskImage::open_hard_disk(path, mode)
    };
    r.map_err(|e| e.to_string())
}

fn run(a: RunArgs) -> Result<u8, String> {
    if a.display == DisplayArg::Sdl && !cfg!(feature = "gui") {
        return Err(NO_WINDOW.into());
    }
    let bios_path = match &a.bios {
        Some(p) => p.clone(),
        None => find_firmware("bios.bin").ok_or(
            "no BIOS: give --bios ROM, or fetch SeaBIOS with firmware/fetch.sh (or apt-get install seabios)",
        )?,
    };
    let bios = read_rom(&bios_path, "BIOS")?;
    if bios.is_empty() || !bios.len().is_multiple_of(0x10000) || bios.len() > 16 << 20 {
        return Err(format!(
            "BIOS {} is {} bytes; a ROM image must be a multiple of 64 KiB, at most 16 MiB",
            bios_path.display(),
            bios.len()
        ));
    }
    let vga_bios = match &a.vga_bios {
        Some(p) => Some(read_rom(p, "VGA BIOS")?),
        None => {
            let beside = bios_path
                .parent()
                .map(|d| d.join("vgabios-stdvga.bin"))
                .filter(|p| p.is_file());
            match beside.or_else(|| {
                if a.bios.is_none() {
                    find_firmware("vgabios-stdvga.bin")
                } else {
                    None
                }
            }) {
                Some(p) => Some(read_rom(&p, "VGA BIOS")?),
                None => None,
            }
        }
    };
    if let Some(t) = a.timeout {
        if !(t > 0.0 && t.is_finite()) {
            return Err(format!("--timeout must be a positive number of seconds, not {t}"));
        }
    }
    let debugcons = a
        .debugcon
        .iter()
        .map(|s| parse_debugcon(s))
        .collect::<Result<Vec<_>, _>>()?;
    let engine = match a.engine.as_str() {
        "interp" => Engine::Interp,
        "bt" => Engine::Bt,
        e => return Err(format!("unknown engine {e}")),
    };
    if a.trace_translation && engine != Engine::Bt {
        return Err("--trace-translation needs --engine bt".into());
    }
    let serial = devices::uart::open_backend(&a.serial).map_err(|e| format!("--serial {}: {e}", a.serial))?;
    let hda = a
        .hda
        .as_deref()
        .map(|p| open_disk(p, false, a.snapshot))
        .transpose()?;
    let hdb = a
        .hdb
        .as_deref()
        .map(|p| open_disk(p, false, a.snapshot))
        .transpose()?;
    let fda = a
        .fda
        .as_deref()
        .map(|p| open_disk(p, true, a.snapshot))
        .transpose()?;
    let cfg = Config {
        ram_mib: a.memory,
        bios,
        vga_bios,
        engine,
        hda,
        hdb,
        fda,
        boot: if a.boot == BootArg::A {
            BootFrom::Floppy
        } else {
            BootFrom::HardDisk
        },
        serial,
        debugcons,
        no_reboot: a.no_reboot,
    };
    let mut m = Machine::new(cfg).map_err(|e| e.to_string())?;
    if let Some(bt) = m.bt.as_mut() {
        bt.trace = a.trace_translation;
    }
    if a.vga_border {
        m.vga().borrow_mut().set_overscan_border(true);
    }
    if let Some(k) = &a.keys {
        m.type_text(&k.replace("\\n", "\n"));
    }
    // The live text console, as QEMU's curses display: only when stdout is
    // a terminal that nothing else writes to.
    let stdout_busy = a.serial == "stdio" || a.debugcon.iter().any(|d| d.ends_with("stdio"));
    let window = a.display == DisplayArg::Sdl;
    let mut console = if stdout_busy || window {
        None
    } else {
        Console::open()?
    };
    let outcome = match console.as_mut() {
        None if window => run_window(&mut m, &a)?,
        None => {
            stop_on_signals(&m);
            m.run(a.timeout.map(Duration::from_secs_f64))
        }
        Some(con) => run_with_console(&mut m, con, a.timeout.map(Duration::from_secs_f64)),
    };
    drop(console);
    if let Some(p) = &a.screen_dump {
        let text = m.screen_text().unwrap_or_default();
        if let Err(e) = std::fs::write(p, text) {
            eprintln!("strachey: cannot write screen dump {}: {e}", p.display());
            return Ok(EXIT_HOST);
        }
    }
    if let Some(p) = &a.screenshot {
        if let Err(e) = m.screenshot(p) {
            eprintln!("strachey: cannot write screenshot {}: {e}", p.display());
            return Ok(EXIT_HOST);
        }
    }
    if a.stats {
        print_stats(&m);
    }
    match outcome {
        Outcome::TripleFault => eprintln!("strachey: triple fault (CPU shutdown) at {}", where_(&m)),
        Outcome::Reset => eprintln!("strachey: the guest asked for a reset at {}", where_(&m)),
        Outcome::DeadHalt => eprintln!(
            "strachey: the CPU halted with nothing to wake it at {}",
            where_(&m)
        ),
        Outcome::Timeout => eprintln!(
            "strachey: timeout after {:.1} s at {}",
            m.elapsed.as_secs_f64(),
            where_(&m)
        ),
        Outcome::Interrupted => eprintln!("strachey: interrupted at {}", where_(&m)),
        Outcome::DebugExit(_) | Outcome::Quit => {}
    }
    Ok(exit_code(outcome))
}

/// End a headless run cleanly on SIGINT, SIGTERM or SIGHUP: the machine
/// stops at once (translated code is kicked out of its loop), disks are
/// flushed, `--stats` and screenshots are written. A second signal ends
/// the process as the signal's default action would. (With the terminal
/// console, the console watches these signals itself.)
fn stop_on_signals(m: &Machine) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let stopper = m.stopper();
    // Failing to register or to start the thread leaves the default
    // actions in place.
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        let _ = std::thread::Builder::new()
            .name("stop-signals".into())
            .spawn(move || {
                let mut asked = false;
                for sig in signals.forever() {
                    if asked {
                        let _ = signal_hook::low_level::emulate_default_handler(sig);
                    }
                    asked = true;
                    stopper.request();
                }
            });
    }
}

/// Run in the SDL2 window (`--display sdl`); screenshots taken with its
/// key chord go to the current folder.
#[cfg(feature = "gui")]
fn run_window(m: &mut Machine, a: &RunArgs) -> Result<Outcome, String> {
    let opts = crate::window::WindowOptions {
        timeout: a.timeout.map(Duration::from_secs_f64),
        engine: a.engine.clone(),
        screenshot_dir: PathBuf::from("."),
    };
    crate::window::run_window(m, &opts)
}

#[cfg(not(feature = "gui"))]
fn run_window(_: &mut Machine, _: &RunArgs) -> Result<Outcome, String> {
    Err(NO_WINDOW.into())
}

/// Run with the terminal console: redraw the screen when it changed (at
/// most every 16 ms), pass typed keys to the keyboard, stop on the quit chord.
fn run_with_console(m: &mut Machine, con: &mut Console, timeout: Option<Duration>) -> Outcome {
    let mut shown = u64::MAX;
    let mut last = Instant::now() - Duration::from_secs(1);
    let mut quit = false;
    m.run_with(timeout, |m| {
        for ev in con.poll_keys() {
            match ev {
                ConsoleEvent::Quit => quit = true,
                ev => {
                    let kbd = m.keyboard().clone();
                    let mut kbd = kbd.borrow_mut();
                    for (k, down) in ev.strokes() {
                        if down {
                            kbd.press(k);
                        } else {
                            kbd.release(k);
                        }
                    }
                }
            }
        }
        let generation = m.vga().borrow().display_generation();
        if generation != shown && last.elapsed() >= Duration::from_millis(16) {
            con.render_vga(&m.vga().borrow());
            shown = generation;
            last = Instant::now();
        }
        !quit
    })
}

fn where_(m: &Machine) -> String {
    let s = &m.cpu.state;
    format!("{:04x}:{:08x}", s.segs[1].selector, s.eip)
}

fn exit_code(o: Outcome) -> u8 {
    match o {
        Outcome::DebugExit(v) => DebugExit::exit_status(v) as u8,
        Outcome::TripleFault | Outcome::Reset => EXIT_TRIPLE_FAULT,
        Outcome::DeadHalt => EXIT_DEAD_HALT,
        Outcome::Timeout => EXIT_TIMEOUT,
        Outcome::Quit => 0,
        Outcome::Interrupted => EXIT_INTERRUPTED,
    }
}

fn print_stats(m: &Machine) {
    let s = &m.cpu.stats;
    let secs = m.elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "strachey: engine {}",
        if m.bt.is_some() { "bt" } else { "interp" }
    );
    if let Some(bt) = &m.bt {
        let b = &bt.stats;
        let total = b.executed + s.instructions;
        eprintln!(
            "strachey: guest instructions {} ({} translated, {} interpreted) in {:.3} s = {:.1} MIPS",
            total,
            b.executed,
            s.instructions,
            secs,
            total as f64 / secs / 1e6
        );
        eprintln!(
            "strachey: bt: blocks translated {} ({} guest instructions, {} host bytes, {:.1} ms translating), entries {}",
            b.blocks,
            b.insns_translated,
            b.host_bytes,
            b.translate_time.as_secs_f64() * 1e3,
            b.entries
        );
        eprintln!(
            "strachey: bt: chain patches {}, SMC invalidations {}, cache flushes {}, retranslated as callouts {}",
            b.chain_patches, b.smc_invalidations, b.flushes, b.retranslations
        );
        let mut callouts: Vec<_> = b
            .callouts
            .iter()
            .map(|(m, n)| (*n, format!("{m:?}").to_lowercase()))
            .collect();
        callouts.sort_by(|x, y| y.cmp(x));
        let list: Vec<String> = callouts
            .iter()
            .take(12)
            .map(|(n, m)| format!("{m} {n}"))
            .collect();
        eprintln!(
            "strachey: bt: callouts to the interpreter {}{}{}",
            b.fallbacks,
            if list.is_empty() { "" } else { ": " },
            list.join(", ")
        );
        let named = |names: &[&str], counts: &[u64]| {
            let v: Vec<String> = names
                .iter()
                .zip(counts)
                .filter(|(_, &n)| n > 0)
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        eprintln!(
            "strachey: bt: interpreted by mode: {}",
            named(&machine::bt::MODE_NAMES, &b.by_mode)
        );
        eprintln!(
            "strachey: bt: host faults: {}",
            named(&machine::bt::FAULT_NAMES, &b.faults)
        );
        eprintln!(
            "strachey: bt: video memory mapped {} times, pages written through the mapping {}",
            b.video_remaps, b.video_dirty_pages
        );
        eprintln!(
            "strachey: bt: kicks out of translated code by other threads {}",
            b.kicks
        );
    }
    eprintln!(
        "strachey: interpreter instructions {} in {:.3} s = {:.1} MIPS",
        s.instructions,
        secs,
        s.instructions as f64 / secs / 1e6
    );
    eprintln!(
        "strachey: blocks decoded {}, exceptions {}, interrupts {}, SMC invalidations {}, unimplemented {}, resets {}",
        s.blocks_decoded, s.exceptions, s.interrupts, s.smc_invalidations, s.unimplemented, m.resets
    );
}
