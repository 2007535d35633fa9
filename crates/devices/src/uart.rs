//! A 16550A UART (National Semiconductor PC16550D datasheet), as on a PC's
//! COM ports: COM1 at 0x3F8 (IRQ4) and COM2 at 0x2F8 (IRQ3).
//!
//! Implemented: every register — RBR/THR, IER, IIR/FCR (FIFO enable and
//! reset, receiver trigger level 1/4/8/14), LCR with the divisor latch
//! access bit, MCR (DTR, RTS, OUT1, OUT2, loopback), LSR, MSR with delta
//! bits, SCR, DLL/DLM; a 16-byte receive FIFO (one holding register with
//! the FIFO off) with overrun; the interrupt priorities of datasheet
//! table IV (line status, received data at the trigger level, character
//! timeout after four character times, THR empty, modem status); loopback
//! (THR → RBR, DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD). The interrupt output
//! reaches the IRQ line only while MCR.OUT2 is set and loopback is off, as
//! on a PC, where OUT2 gates the ISA interrupt buffer. Enough for SeaBIOS's
//! detection (SEABIOS.md §10) and for Linux's 8250 probe to report a
//! 16550A.
//!
//! Transmission completes at once (no baud-rate timing): THR is always
//! empty again right after a write, so LSR.THRE and TEMT always read 1. The
//! THRE interrupt follows the datasheet: it is set when THR empties (after
//! every write) and when IER.ETBEI goes from 0 to 1, and cleared by a THR
//! write or by an IIR read that reports it. Every THR write therefore
//! lowers and raises the line again: a fresh edge for the 8259.
//!
//! Receiving: the host side is a [`SerialBackend`]. Through [`Timed`], the
//! UART polls it every millisecond of guest time (when it has input) and
//! takes only what fits into the FIFO, so bytes wait in the backend rather
//! than overrun. Not implemented: parity, framing and break conditions
//! (never produced), the DMA mode signals, the transmitter FIFO's trigger
//! (there is nothing in it for long enough).

use crate::clock::{Clock, Nanos, Timed};
use crate::irq::IrqLine;
use mem::{Port, PortDevice};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{LineWriter, Write};
use std::rc::Rc;
use std::sync::mpsc;

/// COM1's base port.
pub const COM1: u16 = 0x3f8;
/// COM2's base port.
pub const COM2: u16 = 0x2f8;
/// COM1's ISA interrupt.
pub const COM1_IRQ: u8 = 4;
/// COM2's ISA interrupt.
pub const COM2_IRQ: u8 = 3;
/// Registers per UART.
pub const PORT_COUNT: u16 = 8;

/// The port range of a UART at `base`: (first, count).
pub fn ports(base: u16) -> (u16, u16) {
    (base, PORT_COUNT)
}

/// Register offsets (datasheet table II).
pub mod reg {
    /// Receiver buffer (read) / transmitter holding (write); DLL with DLAB.
    pub const RBR_THR: u16 = 0;
    /// Interrupt enable; DLM with DLAB.
    pub const IER: u16 = 1;
    /// Interrupt identification (read) / FIFO control (write).
    pub const IIR_FCR: u16 = 2;
    /// Line control.
    pub const LCR: u16 = 3;
    /// Modem control.
    pub const MCR: u16 = 4;
    /// Line status.
    pub const LSR: u16 = 5;
    /// Modem status.
    pub const MSR: u16 = 6;
    /// Scratch.
    pub const SCR: u16 = 7;
}

/// IER bits.
pub mod ier {
    /// Received data available (and character timeout).
    pub const ERBFI: u8 = 1 << 0;
    /// Transmitter holding register empty.
    pub const ETBEI: u8 = 1 << 1;
    /// Receiver line status.
    pub const ELSI: u8 = 1 << 2;
    /// Modem status.
    pub const EDSSI: u8 = 1 << 3;
}

/// IIR values (datasheet table IV) and bits.
pub mod iir {
    /// No interrupt pending.
    pub const NONE: u8 = 0x01;
    /// Receiver line status (highest priority).
    pub const LINE_STATUS: u8 = 0x06;
    /// Received data at the trigger level.
    pub const RX_DATA: u8 = 0x04;
    /// Character timeout (FIFO mode).
    pub const RX_TIMEOUT: u8 = 0x0c;
    /// Transmitter holding register empty.
    pub const THRE: u8 = 0x02;
    /// Modem status (lowest priority).
    pub const MODEM_STATUS: u8 = 0x00;
    /// Bits 7:6 set: FIFOs enabled.
    pub const FIFO_ENABLED: u8 = 0xc0;
}

/// FCR bits.
pub mod fcr {
    /// Enable both FIFOs (changing it clears them).
    pub const ENABLE: u8 = 1 << 0;
    /// Clear the receive FIFO.
    pub const CLEAR_RX: u8 = 1 << 1;
    /// Clear the transmit FIFO.
    pub const CLEAR_TX: u8 = 1 << 2;
    /// Receiver trigger level: bits 7:6 select 1, 4, 8 or 14 bytes.
    pub const TRIGGER_SHIFT: u8 = 6;
}

/// LCR bits.
pub mod lcr {
    /// Divisor latch access.
    pub const DLAB: u8 = 1 << 7;
    /// Parity enable.
    pub const PARITY: u8 = 1 << 3;
    /// Two stop bits (1.5 with 5-bit words).
    pub const STOP2: u8 = 1 << 2;
}

/// MCR bits.
pub mod mcr {
    /// Data terminal ready.
    pub const DTR: u8 = 1 << 0;
    /// Request to send.
    pub const RTS: u8 = 1 << 1;
    /// User output 1.
    pub const OUT1: u8 = 1 << 2;
    /// User output 2: on a PC, gates the interrupt onto the ISA bus.
    pub const OUT2: u8 = 1 << 3;
    /// Loopback.
    pub const LOOP: u8 = 1 << 4;
}

/// LSR bits.
pub mod lsr {
    /// Data ready.
    pub const DR: u8 = 1 << 0;
    /// Overrun error.
    pub const OE: u8 = 1 << 1;
    /// Parity error.
    pub const PE: u8 = 1 << 2;
    /// Framing error.
    pub const FE: u8 = 1 << 3;
    /// Break interrupt.
    pub const BI: u8 = 1 << 4;
    /// Transmitter holding register empty.
    pub const THRE: u8 = 1 << 5;
    /// Transmitter empty.
    pub const TEMT: u8 = 1 << 6;
    /// The error bits an LSR read clears.
    pub const ERRORS: u8 = OE | PE | FE | BI;
}

/// MSR bits.
pub mod msr {
    /// Delta CTS.
    pub const DCTS: u8 = 1 << 0;
    /// Delta DSR.
    pub const DDSR: u8 = 1 << 1;
    /// Trailing edge of RI.
    pub const TERI: u8 = 1 << 2;
    /// Delta DCD.
    pub const DDCD: u8 = 1 << 3;
    /// Clear to send.
    pub const CTS: u8 = 1 << 4;
    /// Data set ready.
    pub const DSR: u8 = 1 << 5;
    /// Ring indicator.
    pub const RI: u8 = 1 << 6;
    /// Data carrier detect.
    pub const DCD: u8 = 1 << 7;
}

/// FIFO depth.
pub const FIFO_SIZE: usize = 16;
/// The crystal: 1.8432 MHz, divided by 16 × divisor for the bit rate.
const CLOCK_HZ: u64 = 1_843_200;
/// How often the backend is polled for input (guest time).
const RX_POLL_NS: Nanos = 1_000_000;
/// Modem inputs of the outside world: a terminal that is always there.
const EXTERNAL_MODEM_INPUTS: u8 = msr::CTS | msr::DSR | msr::DCD;

/// The host side of a serial port.
pub trait SerialBackend {
    /// The guest sent `byte`.
    fn write(&mut self, byte: u8);
    /// A byte for the guest, if one is ready; never blocks.
    fn poll_read(&mut self) -> Option<u8>;
    /// Whether this backend can ever produce input (if not, the UART does
    /// not poll it).
    fn has_input(&self) -> bool {
        false
    }
    /// Push buffered output to its destination.
    fn flush(&mut self) {}
}

/// No host connection: output dropped, no input.
#[derive(Debug, Default)]
pub struct NullBackend;

impl SerialBackend for NullBackend {
    fn write(&mut self, _byte: u8) {}
    fn poll_read(&mut self) -> Option<u8> {
        None
    }
}

/// The emulator's stdout and stdin. A background thread reads stdin into a
/// channel, so the guest never waits for the host. Create at most one per
/// process (two would steal each other's input). Putting the terminal in
/// raw mode is the frontend's business.
#[derive(Debug)]
pub struct StdioBackend {
    rx: mpsc::Receiver<u8>,
    dirty: bool,
}

impl StdioBackend {
    /// Start the stdin reader thread.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        // The thread ends when stdin closes or the receiver is dropped.
        let spawned = std::thread::Builder::new()
            .name("serial-stdin".into())
            .spawn(move || {
                use std::io::Read;
                let mut buf = [0u8; 256];
                let mut stdin = std::io::stdin();
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if buf[..n].iter().any(|&b| tx.send(b).is_err()) {
                                break;
                            }
                        }
                    }
                }
            });
        if spawned.is_err() {
            eprintln!("strachey: serial: cannot start the stdin reader; input is disabled");
        }
        Self { rx, dirty: false }
    }
}

impl Default for StdioBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl SerialBackend for StdioBackend {
    fn write(&mut self, byte: u8) {
        // Rust's stdout is line-buffered; partial lines are flushed by the
        // periodic poll.
        let _ = std::io::stdout().write_all(&[byte]);
        self.dirty = byte != b'\n';
    }
    fn poll_read(&mut self) -> Option<u8> {
        self.rx.try_recv().ok()
    }
    fn has_input(&self) -> bool {
        true
    }
    fn flush(&mut self) {
        if std::mem::take(&mut self.dirty) {
            let _ = std::io::stdout().flush();
        }
    }
}

/// Output to a file (line-buffered), no input.
#[derive(Debug)]
pub struct FileBackend {
    out: LineWriter<File>,
    failed: bool,
}

impl FileBackend {
    /// Create (truncate) `path`.
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn create(path: &str) -> std::io::Result<Self> {
        Ok(Self {
            out: LineWriter::new(File::create(path)?),
            failed: false,
        })
    }
}

impl SerialBackend for FileBackend {
    fn write(&mut self, byte: u8) {
        if self.out.write_all(&[byte]).is_err() && !self.failed {
            self.failed = true;
            eprintln!("strachey: serial: writing the output file failed; further output is dropped");
        }
    }
    fn poll_read(&mut self) -> Option<u8> {
        None
    }
    fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

/// In-memory buffers shared with whoever made the backend (tests, and
/// boot smoke tests that grep the console). Cloning shares them.
#[derive(Clone, Debug, Default)]
pub struct BufferBackend {
    /// Everything the guest sent.
    pub output: Rc<RefCell<Vec<u8>>>,
    /// Bytes waiting for the guest.
    pub input: Rc<RefCell<VecDeque<u8>>>,
}

impl SerialBackend for BufferBackend {
    fn write(&mut self, byte: u8) {
        self.output.borrow_mut().push(byte);
    }
    fn poll_read(&mut self) -> Option<u8> {
        self.input.borrow_mut().pop_front()
    }
    fn has_input(&self) -> bool {
        true
    }
}

/// A backend named on the command line could not be opened.
#[derive(Debug)]
pub enum BackendError {
    /// Not `stdio`, `none` or `file:PATH`.
    UnknownKind(String),
    /// The output file could not be created.
    File(String, std::io::Error),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownKind(s) => write!(f, "serial backend {s:?} is not one of stdio, none or file:PATH"),
            Self::File(p, e) => write!(f, "cannot create serial output file {p}: {e}"),
        }
    }
}

impl std::error::Error for BackendError {}

/// Open the backend a command line names: `stdio`, `none` or `file:PATH`.
///
/// # Errors
/// An unknown name, or a file that cannot be created.
pub fn open_backend(spec: &str) -> Result<Box<dyn SerialBackend>, BackendError> {
    match spec {
        "stdio" => Ok(Box::new(StdioBackend::new())),
        "none" => Ok(Box::new(NullBackend)),
        _ => match spec.strip_prefix("file:") {
            Some(p) if !p.is_empty() => FileBackend::create(p)
                .map(|b| Box::new(b) as Box<dyn SerialBackend>)
                .map_err(|e| BackendError::File(p.to_string(), e)),
            _ => Err(BackendError::UnknownKind(spec.to_string())),
        },
    }
}

/// One 16550A.
pub struct Uart {
    backend: Box<dyn SerialBackend>,
    irq: IrqLine,
    level: bool,
    clock: Clock,
    ier: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    divisor: u16,
    /// Sticky LSR error bits (cleared by reading LSR).
    errors: u8,
    fifo: bool,
    trigger: usize,
    rx: VecDeque<u8>,
    /// The THRE interrupt latch.
    thre_pending: bool,
    /// MSR delta bits not yet read.
    msr_deltas: u8,
    /// Last receive or RBR read, for the character timeout.
    rx_activity: Nanos,
    /// When the character timeout must be raised on the line, if armed.
    timeout_at: Option<Nanos>,
    next_poll: Nanos,
}

impl std::fmt::Debug for Uart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uart")
            .field("irq", &self.irq)
            .field("ier", &self.ier)
            .field("lcr", &self.lcr)
            .field("mcr", &self.mcr)
            .field("fifo", &self.fifo)
            .field("rx", &self.rx.len())
            .finish_non_exhaustive()
    }
}

impl Uart {
    /// A UART raising `irq`, reading time from `clock`, talking to `backend`.
    pub fn new(irq: IrqLine, clock: Clock, backend: Box<dyn SerialBackend>) -> Self {
        let now = clock.now();
        let mut u = Self {
            backend,
            irq,
            level: false,
            clock,
            ier: 0,
            lcr: 0,
            mcr: 0,
            scr: 0,
            divisor: 12, // 9600 baud, the BIOS default
            errors: 0,
            fifo: false,
            trigger: 1,
            rx: VecDeque::new(),
            thre_pending: false,
            msr_deltas: 0,
            rx_activity: now,
            timeout_at: None,
            next_poll: now,
        };
        u.reset();
        u
    }

    /// Master reset (datasheet table VIII): registers cleared, FIFOs off,
    /// THR empty.
    pub fn reset(&mut self) {
        self.ier = 0;
        self.lcr = 0;
        self.mcr = 0;
        self.errors = 0;
        self.fifo = false;
        self.trigger = 1;
        self.rx.clear();
        self.thre_pending = false;
        self.msr_deltas = 0;
        self.timeout_at = None;
        self.update_irq();
    }

    /// Flush the backend's output (at exit, or periodically).
    pub fn flush(&mut self) {
        self.backend.flush();
    }

    /// Host: offer a received byte. Returns false (and keeps nothing) when
    /// the receiver has no room; the caller should retry later.
    pub fn receive(&mut self, byte: u8) -> bool {
        if self.rx.len() >= self.rx_capacity() {
            return false;
        }
        self.push_rx(byte);
        self.update_irq();
        true
    }

    fn rx_capacity(&self) -> usize {
        if self.fifo {
            FIFO_SIZE
        } else {
            1
        }
    }

    /// Put a byte into the receiver; on overflow it is lost and OE is set.
    fn push_rx(&mut self, byte: u8) {
        if self.rx.len() >= self.rx_capacity() {
            self.errors |= lsr::OE;
            if !self.fifo {
                // The holding register is overwritten (datasheet: OE).
                self.rx.clear();
                self.rx.push_back(byte);
            }
        } else {
            self.rx.push_back(byte);
        }
        self.rx_activity = self.clock.now();
        self.arm_timeout();
    }

    /// One character time in nanoseconds, from the divisor and LCR.
    fn char_time(&self) -> Nanos {
        let data = 5 + u64::from(self.lcr & 3);
        let parity = u64::from(self.lcr & lcr::PARITY != 0);
        let stop = if self.lcr & lcr::STOP2 != 0 { 2 } else { 1 };
        let bits = 1 + data + parity + stop;
        let div = u64::from(self.divisor.max(1));
        bits * div * 16 * 1_000_000_000 / CLOCK_HZ
    }

    fn arm_timeout(&mut self) {
        self.timeout_at = (self.fifo && !self.rx.is_empty()).then(|| self.rx_activity + 4 * self.char_time());
    }

    fn timeout_due(&self) -> bool {
        self.fifo && !self.rx.is_empty() && self.clock.now() >= self.rx_activity + 4 * self.char_time()
    }

    fn loopback(&self) -> bool {
        self.mcr & mcr::LOOP != 0
    }

    /// The modem status inputs (MSR bits 7:4).
    fn modem_inputs(&self) -> u8 {
        if self.loopback() {
            let m = self.mcr;
            (u8::from(m & mcr::RTS != 0) * msr::CTS)
                | (u8::from(m & mcr::DTR != 0) * msr::DSR)
                | (u8::from(m & mcr::OUT1 != 0) * msr::RI)
                | (u8::from(m & mcr::OUT2 != 0) * msr::DCD)
        } else {
            EXTERNAL_MODEM_INPUTS
        }
    }

    /// The highest-priority pending interrupt (datasheet table IV).
    fn pending(&self) -> u8 {
        let ier = self.ier;
        if ier & ier::ELSI != 0 && self.errors != 0 {
            iir::LINE_STATUS
        } else if ier & ier::ERBFI != 0 && !self.rx.is_empty() && self.rx.len() >= self.trigger_level() {
            iir::RX_DATA
        } else if ier & ier::ERBFI != 0 && self.timeout_due() {
            iir::RX_TIMEOUT
        } else if ier & ier::ETBEI != 0 && self.thre_pending {
            iir::THRE
        } else if ier & ier::EDSSI != 0 && self.msr_deltas != 0 {
            iir::MODEM_STATUS
        } else {
            iir::NONE
        }
    }

    fn trigger_level(&self) -> usize {
        if self.fifo {
            self.trigger
        } else {
            1
        }
    }

    fn update_irq(&mut self) {
        let out2 = self.mcr & mcr::OUT2 != 0 && !self.loopback();
        let level = out2 && self.pending() != iir::NONE;
        if level != self.level {
            self.level = level;
            self.irq.set(level);
        }
    }

    fn lsr(&self) -> u8 {
        let mut v = self.errors | lsr::THRE | lsr::TEMT;
        if !self.rx.is_empty() {
            v |= lsr::DR;
        }
        v
    }

    fn read_reg(&mut self, r: u16) -> u8 {
        let dlab = self.lcr & lcr::DLAB != 0;
        match r {
            reg::RBR_THR if dlab => self.divisor as u8,
            reg::RBR_THR => {
                let b = self.rx.pop_front().unwrap_or(0);
                self.rx_activity = self.clock.now();
                self.arm_timeout();
                self.update_irq();
                b
            }
            reg::IER if dlab => (self.divisor >> 8) as u8,
            reg::IER => self.ier,
            reg::IIR_FCR => {
                let p = self.pending();
                if p == iir::THRE {
                    self.thre_pending = false;
                    self.update_irq();
                }
                p | if self.fifo { iir::FIFO_ENABLED } else { 0 }
            }
            reg::LCR => self.lcr,
            reg::MCR => self.mcr,
            reg::LSR => {
                let v = self.lsr();
                self.errors = 0;
                self.update_irq();
                v
            }
            reg::MSR => {
                let v = self.modem_inputs() | self.msr_deltas;
                self.msr_deltas = 0;
                self.update_irq();
                v
            }
            _ => self.scr,
        }
    }

    fn write_reg(&mut self, r: u16, v: u8) {
        let dlab = self.lcr & lcr::DLAB != 0;
        match r {
            reg::RBR_THR if dlab => self.divisor = (self.divisor & 0xff00) | u16::from(v),
            reg::RBR_THR => {
                self.thre_pending = false;
                self.update_irq();
                if self.loopback() {
                    self.push_rx(v);
                } else {
                    self.backend.write(v);
                }
                // Transmitted at once: THR is empty again.
                self.thre_pending = true;
                self.update_irq();
            }
            reg::IER if dlab => self.divisor = (self.divisor & 0x00ff) | (u16::from(v) << 8),
            reg::IER => {
                let old = self.ier;
                self.ier = v & 0x0f;
                if self.ier & ier::ETBEI != 0 && old & ier::ETBEI == 0 {
                    // THR is empty: enabling the interrupt raises it.
                    self.thre_pending = true;
                }
                self.update_irq();
            }
            reg::IIR_FCR => self.write_fcr(v),
            reg::LCR => {
                self.lcr = v;
                self.arm_timeout();
            }
            reg::MCR => {
                let before = self.modem_inputs();
                self.mcr = v & 0x1f;
                let after = self.modem_inputs();
                let changed = before ^ after;
                let mut d = 0;
                if changed & msr::CTS != 0 {
                    d |= msr::DCTS;
                }
                if changed & msr::DSR != 0 {
                    d |= msr::DDSR;
                }
                if before & msr::RI != 0 && after & msr::RI == 0 {
                    d |= msr::TERI;
                }
                if changed & msr::DCD != 0 {
                    d |= msr::DDCD;
                }
                self.msr_deltas |= d;
                self.update_irq();
            }
            reg::LSR | reg::MSR => {} // read-only (factory test on some parts)
            _ => self.scr = v,
        }
    }

    fn write_fcr(&mut self, v: u8) {
        let enable = v & fcr::ENABLE != 0;
        if enable != self.fifo {
            // Changing the FIFO mode clears both FIFOs.
            self.fifo = enable;
            self.rx.clear();
        }
        if enable {
            if v & fcr::CLEAR_RX != 0 {
                self.rx.clear();
            }
            self.trigger = [1, 4, 8, 14][usize::from(v >> fcr::TRIGGER_SHIFT)];
        }
        self.arm_timeout();
        self.update_irq();
    }

    fn poll_backend(&mut self) {
        if self.loopback() {
            return;
        }
        let mut got = false;
        while self.rx.len() < self.rx_capacity() {
            match self.backend.poll_read() {
                Some(b) => {
                    self.push_rx(b);
                    got = true;
                }
                None => break,
            }
        }
        if got {
            self.update_irq();
        }
    }
}

impl Timed for Uart {
    fn next_deadline(&self) -> Option<Nanos> {
        let poll = self.backend.has_input().then_some(self.next_poll);
        match (poll, self.timeout_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn advance(&mut self, now: Nanos) {
        if self.backend.has_input() && now >= self.next_poll {
            self.next_poll = now + RX_POLL_NS;
            self.poll_backend();
            self.backend.flush();
        }
        if self.timeout_at.is_some_and(|t| now >= t) {
            self.timeout_at = None;
            self.update_irq();
        }
    }
}

impl PortDevice for Uart {
    fn read(&mut self, port: Port, data: &mut [u8]) {
        data.fill(0xff);
        data[0] = self.read_reg(port.0 & 7);
    }

    fn write(&mut self, port: Port, data: &[u8]) {
        self.write_reg(port.0 & 7, data[0]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::IrqSink;
    use mem::Shared;

    #[derive(Default)]
    struct Sink {
        level: bool,
        edges: u32,
    }
    impl IrqSink for Sink {
        fn set_irq(&mut self, _line: u8, level: bool) {
            if level && !self.level {
                self.edges += 1;
            }
            self.level = level;
        }
    }

    struct Rig {
        u: Uart,
        sink: Rc<RefCell<Sink>>,
        host: BufferBackend,
        clock: Clock,
    }

    fn rig() -> Rig {
        let sink = Rc::new(RefCell::new(Sink::default()));
        let s: Shared<dyn IrqSink> = sink.clone();
        let host = BufferBackend::default();
        let clock = Clock::manual();
        let u = Uart::new(IrqLine::new(s, COM1_IRQ), clock.clone(), Box::new(host.clone()));
        Rig { u, sink, host, clock }
    }

    impl Rig {
        fn r(&mut self, off: u16) -> u8 {
            let mut b = [0];
            self.u.read(Port(COM1 + off), &mut b);
            b[0]
        }
        fn w(&mut self, off: u16, v: u8) {
            self.u.write(Port(COM1 + off), &[v]);
        }
        fn irq(&self) -> bool {
            self.sink.borrow().level
        }
    }

    #[test]
    fn seabios_detection() {
        let mut t = rig();
        t.w(reg::IER, 0x02);
        assert_eq!(t.r(reg::IER), 0x02);
        assert_eq!(t.r(reg::IIR_FCR) & 0x3f, 0x02);
        t.w(reg::IER, 0);
    }

    /// The order of Linux's autoconfig() and autoconfig_16550a().
    #[test]
    fn linux_8250_probe_finds_16550a() {
        let mut t = rig();
        // IER test.
        t.w(reg::IER, 0);
        assert_eq!(t.r(reg::IER) & 0x0f, 0);
        t.w(reg::IER, 0x0f);
        assert_eq!(t.r(reg::IER) & 0x0f, 0x0f);
        t.w(reg::IER, 0);
        // Loopback test.
        t.w(reg::MCR, mcr::LOOP | 0x0a);
        assert_eq!(t.r(reg::MSR) & 0xf0, 0x90);
        t.w(reg::MCR, 0);
        // FIFO detection: IIR bits 7:6.
        t.w(reg::LCR, 0xbf);
        t.w(reg::IIR_FCR, 0); // EFR on an enhanced part, FCR here
        t.w(reg::LCR, 0);
        t.w(reg::IIR_FCR, fcr::ENABLE);
        assert_eq!(t.r(reg::IIR_FCR) >> 6, 3);
        // No EFR behind DLAB: offset 2 still reads the (nonzero) IIR.
        t.w(reg::LCR, 0x80);
        assert_ne!(t.r(reg::IIR_FCR), 0);
        t.w(reg::LCR, 0xbf);
        assert_ne!(t.r(reg::IIR_FCR), 0);
        // Not a NatSemi (bit 4 of IIR stays clear) nor a 16750 (bit 5).
        t.w(reg::LCR, 0);
        assert_eq!(t.r(reg::IIR_FCR) & 0x30, 0);
        t.w(reg::IIR_FCR, fcr::ENABLE | 0x20);
        assert_eq!(t.r(reg::IIR_FCR) >> 5, 6);
        // IER bit 6 (XScale UUE) does not stick.
        t.w(reg::IER, 0x40);
        assert_eq!(t.r(reg::IER) & 0x40, 0);
        // Scratch register.
        t.w(reg::SCR, 0xa5);
        assert_eq!(t.r(reg::SCR), 0xa5);
        // Divisor latch.
        t.w(reg::LCR, lcr::DLAB | 3);
        t.w(reg::RBR_THR, 1);
        t.w(reg::IER, 0);
        assert_eq!((t.r(reg::RBR_THR), t.r(reg::IER)), (1, 0));
        t.w(reg::LCR, 3);
        assert_eq!(t.r(reg::IER), 0);
    }

    #[test]
    fn loopback_and_transmit() {
        let mut t = rig();
        t.w(reg::MCR, mcr::LOOP);
        t.w(reg::RBR_THR, b'x');
        assert_eq!(t.r(reg::LSR) & (lsr::DR | lsr::THRE | lsr::TEMT), 0x61);
        assert_eq!(t.r(reg::RBR_THR), b'x');
        assert_eq!(t.r(reg::LSR) & lsr::DR, 0);
        // Overrun without a FIFO.
        t.w(reg::RBR_THR, 1);
        t.w(reg::RBR_THR, 2);
        assert_eq!(t.r(reg::LSR) & lsr::OE, lsr::OE);
        assert_eq!(t.r(reg::LSR) & lsr::OE, 0, "cleared by the read");
        assert_eq!(t.r(reg::RBR_THR), 2);
        // Modem deltas appear when loopback outputs change.
        t.r(reg::MSR);
        t.w(reg::MCR, mcr::LOOP | mcr::DTR | mcr::OUT1);
        assert_eq!(t.r(reg::MSR), msr::DSR | msr::RI | msr::DDSR);
        t.w(reg::MCR, mcr::LOOP);
        assert_eq!(t.r(reg::MSR), msr::DDSR | msr::TERI);
        t.w(reg::MCR, mcr::OUT2);
        t.w(reg::RBR_THR, b'h');
        t.w(reg::RBR_THR, b'i');
        assert_eq!(*t.host.output.borrow(), b"hi", "loopback bytes never left");
    }

    #[test]
    fn thre_interrupt_rules() {
        let mut t = rig();
        t.w(reg::MCR, mcr::OUT2 | mcr::DTR | mcr::RTS);
        assert!(!t.irq());
        t.w(reg::IER, ier::ETBEI);
        assert!(t.irq(), "enabling THRE with THR empty raises it");
        assert_eq!(t.r(reg::IIR_FCR), iir::THRE);
        assert!(!t.irq(), "reading IIR cleared it");
        assert_eq!(t.r(reg::IIR_FCR), iir::NONE);
        // Linux's UART_BUG_THRE test: IER 0 then THRI again re-raises.
        t.w(reg::IER, 0);
        t.w(reg::IER, ier::ETBEI);
        assert_eq!(t.r(reg::IIR_FCR), iir::THRE);
        // Every THR write gives a fresh edge.
        let e = t.sink.borrow().edges;
        t.w(reg::RBR_THR, b'a');
        t.w(reg::RBR_THR, b'b');
        assert_eq!(t.sink.borrow().edges - e, 2);
        assert!(t.irq());
        // Rewriting IER with ETBEI already set does not re-raise.
        assert_eq!(t.r(reg::IIR_FCR), iir::THRE);
        t.w(reg::IER, ier::ETBEI);
        assert!(!t.irq());
        // OUT2 gates the line.
        t.w(reg::RBR_THR, b'c');
        assert!(t.irq());
        t.w(reg::MCR, 0);
        assert!(!t.irq());
        assert_eq!(t.r(reg::IIR_FCR), iir::THRE, "still pending inside the UART");
    }

    #[test]
    fn fifo_trigger_and_timeout() {
        let mut t = rig();
        t.w(reg::LCR, lcr::DLAB);
        t.w(reg::RBR_THR, 1); // 115200 baud: 10 bits = 86.8 us per character
        t.w(reg::IER, 0);
        t.w(reg::LCR, 3);
        t.w(
            reg::IIR_FCR,
            fcr::ENABLE | fcr::CLEAR_RX | (2 << fcr::TRIGGER_SHIFT),
        ); // 8 bytes
        t.w(reg::MCR, mcr::OUT2);
        t.w(reg::IER, ier::ERBFI);
        t.host.input.borrow_mut().extend(b"0123456789abcdefXYZ");
        assert_eq!(t.u.next_deadline(), Some(0));
        t.u.advance(0);
        assert!(t.irq(), "16 bytes >= trigger 8");
        assert_eq!(t.r(reg::IIR_FCR), iir::FIFO_ENABLED | iir::RX_DATA);
        let got: Vec<u8> = (0..9).map(|_| t.r(reg::RBR_THR)).collect();
        assert_eq!(got, b"012345678");
        // 7 left: below the trigger, no interrupt until the timeout.
        assert!(!t.irq());
        assert_eq!(t.r(reg::IIR_FCR), iir::FIFO_ENABLED | iir::NONE);
        let deadline = t.u.next_deadline().unwrap();
        assert_eq!(deadline, 4 * 86_805);
        t.clock.set(deadline);
        t.u.advance(deadline);
        assert!(t.irq());
        assert_eq!(t.r(reg::IIR_FCR), iir::FIFO_ENABLED | iir::RX_TIMEOUT);
        assert_eq!(t.r(reg::RBR_THR), b'9');
        assert!(!t.irq(), "a read restarts the timeout");
        let rest: Vec<u8> =
            std::iter::from_fn(|| (t.r(reg::LSR) & lsr::DR != 0).then(|| t.r(reg::RBR_THR))).collect();
        assert_eq!(rest, b"abcdef");
        // The backend kept what did not fit.
        t.clock.set(deadline + RX_POLL_NS);
        t.u.advance(deadline + RX_POLL_NS);
        assert_eq!(t.r(reg::LSR) & lsr::DR, lsr::DR);
        assert_eq!(t.r(reg::RBR_THR), b'X');
        // FIFO reset.
        t.w(reg::IIR_FCR, fcr::ENABLE | fcr::CLEAR_RX);
        assert_eq!(t.r(reg::LSR) & lsr::DR, 0);
    }

    #[test]
    fn line_status_interrupt_has_priority() {
        let mut t = rig();
        t.w(reg::MCR, mcr::LOOP);
        t.w(reg::IER, ier::ELSI | ier::ERBFI | ier::ETBEI);
        t.w(reg::RBR_THR, 1);
        t.w(reg::RBR_THR, 2); // overrun
        assert_eq!(t.r(reg::IIR_FCR), iir::LINE_STATUS);
        t.r(reg::LSR);
        assert_eq!(t.r(reg::IIR_FCR), iir::RX_DATA);
        t.r(reg::RBR_THR);
        assert_eq!(t.r(reg::IIR_FCR), iir::THRE);
        assert!(!t.irq(), "no IRQ in loopback");
    }

    #[test]
    fn backend_specs() {
        assert!(open_backend("none").is_ok());
        assert!(open_backend("bogus").is_err());
        assert!(open_backend("file:").is_err());
        let p = std::env::temp_dir().join(format!("strachey-uart-{}.txt", std::process::id()));
        let spec = format!("file:{}", p.display());
        {
            let mut b = open_backend(&spec).unwrap();
            b.write(b'o');
            b.write(b'k');
            b.flush();
        }
        assert_eq!(std::fs::read(&p).unwrap(), b"ok");
        let _ = std::fs::remove_file(p);
    }
}
