//! Argument parsing and the `run` and `demo` commands.

use clap::{Args, Parser, Subcommand};
use devices::{DebugExit, Sink};
use machine::{Config, DebugConSpec, Engine, Machine, Outcome};
use std::path::PathBuf;
use std::time::Duration;

/// Bad usage or input.
pub const EXIT_USAGE: u8 = 2;
/// Triple fault with `--no-reboot`.
pub const EXIT_TRIPLE_FAULT: u8 = 4;
/// Halted with nothing to wake the CPU.
pub const EXIT_DEAD_HALT: u8 = 6;
/// `--timeout` expired.
pub const EXIT_TIMEOUT: u8 = 8;

/// The built-in demo ROM (assembled from test-roms/demo.asm).
const DEMO_ROM: &[u8] = include_bytes!("../../../test-roms/prebuilt/demo.bin");

const EXIT_HELP: &str = "\
Exit status: (v<<1)|1 when the guest writes v to the debug-exit port 0xf4 \
(as QEMU's isa-debug-exit); 2 bad usage or input; 4 triple fault with \
--no-reboot; 6 halted with nothing to wake the CPU; 8 timeout; 10 host failure.";

#[derive(Parser, Debug)]
#[command(name = "strachey", version, about = "A full-virtualization x86 PC emulator", after_help = EXIT_HELP)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a machine from a BIOS ROM image.
    Run(RunArgs),
    /// Run the built-in demo ROM (no files needed).
    Demo {
        /// Print execution statistics at exit.
        #[arg(long)]
        stats: bool,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    /// BIOS ROM image: a multiple of 64 KiB, mapped at the top of 4 GiB,
    /// with its last 128 KiB also below 1 MiB.
    #[arg(long, value_name = "ROM")]
    bios: PathBuf,
    /// Guest RAM in MiB.
    #[arg(short = 'm', long = "memory", value_name = "MiB", default_value_t = 32)]
    memory: u64,
    /// Execution engine.
    #[arg(long, value_name = "ENGINE", default_value = "interp", value_parser = ["interp"])]
    engine: String,
    /// Capture bytes written to a port: `[PORT=]DEST`, DEST is `stdio` or
    /// `file:PATH`, PORT defaults to 0xe9. May be repeated.
    #[arg(long, value_name = "[PORT=]DEST")]
    debugcon: Vec<String>,
    /// Stop at a triple fault instead of resetting.
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
        Cmd::Run(a) => run(a),
        Cmd::Demo { stats } => {
            let cfg = Config {
                ram_mib: 16,
                bios: DEMO_ROM.to_vec(),
                engine: Engine::Interp,
                debugcons: vec![DebugConSpec {
                    port: 0xe9,
                    sink: Sink::Stdout,
                }],
                debug_exit_port: 0xf4,
                no_reboot: true,
            };
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

fn run(a: RunArgs) -> Result<u8, String> {
    let bios = std::fs::read(&a.bios).map_err(|e| format!("cannot read BIOS {}: {e}", a.bios.display()))?;
    if bios.is_empty() || !bios.len().is_multiple_of(0x10000) || bios.len() > 16 << 20 {
        return Err(format!(
            "BIOS {} is {} bytes; a ROM image must be a multiple of 64 KiB, at most 16 MiB",
            a.bios.display(),
            bios.len()
        ));
    }
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
        e => return Err(format!("unknown engine {e}")),
    };
    let cfg = Config {
        ram_mib: a.memory,
        bios,
        engine,
        debugcons,
        debug_exit_port: 0xf4,
        no_reboot: a.no_reboot,
    };
    let mut m = Machine::new(cfg).map_err(|e| e.to_string())?;
    let outcome = m.run(a.timeout.map(Duration::from_secs_f64));
    if a.stats {
        print_stats(&m);
    }
    match outcome {
        Outcome::TripleFault => eprintln!("strachey: triple fault (CPU shutdown) at {}", where_(&m)),
        Outcome::DeadHalt => eprintln!(
            "strachey: the CPU halted with nothing to wake it at {}",
            where_(&m)
        ),
        Outcome::Timeout => eprintln!(
            "strachey: timeout after {:.1} s at {}",
            m.elapsed.as_secs_f64(),
            where_(&m)
        ),
        Outcome::DebugExit(_) => {}
    }
    Ok(exit_code(outcome))
}

fn where_(m: &Machine) -> String {
    let s = &m.cpu.state;
    format!("{:04x}:{:08x}", s.segs[1].selector, s.eip)
}

fn exit_code(o: Outcome) -> u8 {
    match o {
        Outcome::DebugExit(v) => DebugExit::exit_status(v) as u8,
        Outcome::TripleFault => EXIT_TRIPLE_FAULT,
        Outcome::DeadHalt => EXIT_DEAD_HALT,
        Outcome::Timeout => EXIT_TIMEOUT,
    }
}

fn print_stats(m: &Machine) {
    let s = &m.cpu.stats;
    let secs = m.elapsed.as_secs_f64().max(1e-9);
    eprintln!("strachey: engine interp");
    eprintln!(
        "strachey: instructions {} in {:.3} s = {:.1} MIPS",
        s.instructions,
        secs,
        s.instructions as f64 / secs / 1e6
    );
    eprintln!(
        "strachey: blocks decoded {}, exceptions {}, interrupts {}, SMC invalidations {}, unimplemented {}, resets {}",
        s.blocks_decoded, s.exceptions, s.interrupts, s.smc_invalidations, s.unimplemented, m.resets
    );
}
