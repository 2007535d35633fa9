//! The board: builds the memory map and port map from a [`Config`], loads
//! the firmware, owns the CPU and devices, and runs the main loop that turns
//! CPU exits into outcomes ([`Outcome`]).
//!
//! The foundation board is deliberately small: RAM, a BIOS ROM, and the
//! debug devices (debug consoles and the debug-exit port). The PC chipset
//! devices arrive with the platform work.

#![forbid(unsafe_code)]

use cpu::{Bus, Cpu, Exit};
use devices::{DebugCon, DebugExit, Sink};
use mem::{PhysMemory, Port, Shared};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Instructions per slice of the run loop between checks of the clock.
const SLICE: u64 = 1 << 20;

/// Which execution engine runs guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The reference interpreter.
    Interp,
}

/// One debug console: a port and where its bytes go.
#[derive(Debug)]
pub struct DebugConSpec {
    /// The port it listens on.
    pub port: u16,
    /// Where the bytes go.
    pub sink: Sink,
}

/// Everything needed to build a machine.
#[derive(Debug)]
pub struct Config {
    /// RAM in MiB.
    pub ram_mib: u64,
    /// The BIOS image (mapped at the top of 4 GiB).
    pub bios: Vec<u8>,
    /// Engine.
    pub engine: Engine,
    /// Debug consoles.
    pub debugcons: Vec<DebugConSpec>,
    /// Port of the debug-exit device.
    pub debug_exit_port: u16,
    /// On a triple fault, stop instead of resetting.
    pub no_reboot: bool,
}

/// Errors building a machine.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Memory could not be set up (size, ROM size, host memory).
    #[error(transparent)]
    Mem(#[from] mem::MemError),
    /// Two devices claim the same port.
    #[error("port conflict: {0}")]
    Ports(String),
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The guest wrote this value to the debug-exit port.
    DebugExit(u8),
    /// Triple fault with `no_reboot`.
    TripleFault,
    /// The CPU halted where nothing can wake it.
    DeadHalt,
    /// The wall-clock limit passed.
    Timeout,
}

/// The machine.
pub struct Machine {
    /// The CPU.
    pub cpu: Cpu,
    /// Memory, ports, interrupt line.
    pub bus: Bus,
    debug_exit: Shared<DebugExit>,
    consoles: Vec<Shared<DebugCon>>,
    no_reboot: bool,
    /// Time spent in `run`.
    pub elapsed: Duration,
    /// Resets after triple faults.
    pub resets: u64,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("cpu", &self.cpu)
            .field("bus", &self.bus)
            .finish()
    }
}

impl Machine {
    /// Build the board described by `cfg`.
    ///
    /// # Errors
    /// Bad memory or ROM sizes, host memory exhaustion, port conflicts.
    pub fn new(cfg: Config) -> Result<Self, BuildError> {
        let mut mem = PhysMemory::new(cfg.ram_mib)?;
        mem.load_bios(&cfg.bios)?;
        let mut bus = Bus::new(mem);
        let debug_exit = Rc::new(RefCell::new(DebugExit::new(bus.attention.clone())));
        bus.io
            .register(Port(cfg.debug_exit_port), 1, debug_exit.clone())
            .map_err(BuildError::Ports)?;
        let mut consoles = Vec::new();
        for spec in cfg.debugcons {
            let con = Rc::new(RefCell::new(DebugCon::new(spec.sink)));
            bus.io
                .register(Port(spec.port), 1, con.clone())
                .map_err(BuildError::Ports)?;
            consoles.push(con);
        }
        let _ = cfg.engine;
        Ok(Self {
            cpu: Cpu::new(),
            bus,
            debug_exit,
            consoles,
            no_reboot: cfg.no_reboot,
            elapsed: Duration::ZERO,
            resets: 0,
        })
    }

    /// What debug console `n` collected (for `Sink::Buffer` consoles).
    pub fn console_output(&self, n: usize) -> Vec<u8> {
        self.consoles
            .get(n)
            .map(|c| c.borrow().buffer().to_vec())
            .unwrap_or_default()
    }

    /// Run until the guest ends the run or `timeout` passes.
    pub fn run(&mut self, timeout: Option<Duration>) -> Outcome {
        let start = Instant::now();
        let outcome = loop {
            if let Some(t) = timeout {
                if start.elapsed() >= t {
                    break Outcome::Timeout;
                }
            }
            match self.cpu.run(&mut self.bus, SLICE) {
                Exit::Budget => {}
                Exit::Stop => {
                    if let Some(v) = self.debug_exit.borrow().code() {
                        break Outcome::DebugExit(v);
                    }
                    self.bus.attention.clear(mem::Attention::STOP);
                }
                Exit::TripleFault => {
                    if self.no_reboot {
                        break Outcome::TripleFault;
                    }
                    self.resets += 1;
                    self.cpu.reset();
                }
                // Without an interrupt controller on the board, nothing can
                // end a halt, whatever IF says.
                Exit::DeadHalt => break Outcome::DeadHalt,
                Exit::Halted => {
                    if self.bus.intc.is_none() {
                        break Outcome::DeadHalt;
                    }
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
        };
        for c in &self.consoles {
            c.borrow_mut().flush();
        }
        self.elapsed += start.elapsed();
        outcome
    }
}
