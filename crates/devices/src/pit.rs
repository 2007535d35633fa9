//! The Intel 8254 programmable interval timer at ports 0x40–0x43, and the
//! PC's system control port B at 0x61 (PIIX3 datasheet §4.7.2, "NMI Status
//! and Control Register"), which gates counter 2 and reads its output.
//!
//! Counter 0 drives IRQ0 (an edge on each rising edge of OUT0); counter 1
//! once paced DRAM refresh and drives nothing; counter 2 feeds the speaker
//! through port 0x61 bit 1, and its gate is port 0x61 bit 0.
//!
//! Implemented (Intel 8254 datasheet, order no. 231164): all six modes
//! (0 interrupt on terminal count, 1 gate-triggered one-shot, 2 rate
//! generator, 3 square wave, 4 software strobe, 5 gate-triggered strobe),
//! binary and BCD counting, LSB/MSB/LSB-then-MSB access with the read and
//! write flip-flops, the counter-latch command, the read-back command with
//! status bytes (OUT, NULL COUNT, programmed mode), and gate inputs (gate
//! low pauses modes 0/2/3/4 and forces OUT high in modes 2/3; a rising gate
//! restarts modes 1/2/3/5). A count written while modes 2/3 run takes
//! effect at the end of the current period, as the datasheet says.
//!
//! Port 0x61: bit 0 gate 2, bit 1 speaker data, bits 2–3 stored (parity
//! and I/O check enables), bit 4 the refresh toggle (flips every 15.085 µs),
//! bit 5 OUT2; bits 6–7 (NMI sources) read 0.
//!
//! Nothing is ticked: counters are computed from [`Clock`] time
//! (1.193182 MHz) when the guest looks, and [`Timed`] reports the next
//! rising edge of OUT0 so the board can deliver IRQ0 on time. Edges the
//! board was late for are coalesced into one pulse (the PIC latches one
//! request anyway).
//!
//! Not implemented: the count-loading delay of one CLK after a write (a
//! count starts at the write), the exact odd-count phases of mode 3 (the
//! output is high for (N+1)/2 and low for N/2 clocks, but the counter reads
//! even values), and sound output (see [`Pit::speaker_hz`]).

use crate::clock::{Clock, Nanos, Timed};
use crate::irq::IrqLine;
use mem::{Port, PortDevice};

/// The 8254's input clock on a PC: 14.31818 MHz / 12.
pub const PIT_HZ: u64 = 1_193_182;
/// Counter 0 (IRQ0).
pub const COUNTER0: u16 = 0x40;
/// Counter 1 (DRAM refresh, unconnected).
pub const COUNTER1: u16 = 0x41;
/// Counter 2 (speaker).
pub const COUNTER2: u16 = 0x42;
/// Control word register (write only).
pub const CONTROL: u16 = 0x43;
/// System control port B.
pub const PORT_B: u16 = 0x61;

/// Port B: counter 2 gate.
pub const PORT_B_GATE2: u8 = 0x01;
/// Port B: speaker data enable.
pub const PORT_B_SPEAKER: u8 = 0x02;
/// Port B: the bits a write stores (gate, speaker, parity/IOCHK enables).
const PORT_B_WRITABLE: u8 = 0x0F;
/// Port B: refresh cycle toggle.
pub const PORT_B_REFRESH: u8 = 0x10;
/// Port B: counter 2 output.
pub const PORT_B_OUT2: u8 = 0x20;
/// The refresh toggle flips once per this many nanoseconds.
const REFRESH_PERIOD_NS: u64 = 15_085;

/// Control word: select counter (bits 7–6; 3 = read-back).
const CW_SELECT_SHIFT: u8 = 6;
/// Control word: access mode (bits 5–4; 0 = counter latch).
const CW_ACCESS_SHIFT: u8 = 4;
/// Control word: BCD counting.
const CW_BCD: u8 = 0x01;
/// Read-back: do not latch the count (active low).
const RB_NO_COUNT: u8 = 0x20;
/// Read-back: do not latch the status (active low).
const RB_NO_STATUS: u8 = 0x10;
/// Status byte: OUT pin.
const STATUS_OUT: u8 = 0x80;
/// Status byte: null count (the last count written is not yet loaded).
const STATUS_NULL: u8 = 0x40;

fn ns_to_tick(ns: Nanos) -> u64 {
    (u128::from(ns) * u128::from(PIT_HZ) / 1_000_000_000) as u64
}

/// The first nanosecond at which the tick count reaches `tick`.
fn tick_to_ns(tick: u64) -> Nanos {
    (u128::from(tick) * 1_000_000_000).div_ceil(u128::from(PIT_HZ)) as Nanos
}

fn from_bcd(v: u16) -> u32 {
    (0..4)
        .rev()
        .fold(0, |acc, i| acc * 10 + u32::from((v >> (4 * i)) & 0xF))
}

fn to_bcd(v: u32) -> u16 {
    let v = v % 10_000;
    (0..4).fold(0, |acc, i| acc | (((v / 10u32.pow(i)) % 10) as u16) << (4 * i))
}

/// How the counter's 16 bits are transferred (control word bits 5–4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Lsb,
    Msb,
    Word,
}

/// One counter.
#[derive(Clone, Debug)]
struct Channel {
    /// Control word bits 5–0 as programmed (for the status byte).
    control: u8,
    mode: u8,
    access: Access,
    bcd: bool,
    /// The count N in 1..=65536 (binary) or 1..=10000 (BCD).
    reload: u32,
    /// A count has been written since the control word.
    armed: bool,
    /// Modes 1 and 5: a gate edge has started the count.
    triggered: bool,
    gate: bool,
    /// Tick at which the current counting stretch began.
    start: u64,
    /// Ticks counted before `start` (modes 0/4 paused by the gate, or a
    /// mode 2/3 count frozen by a low gate).
    counted: u64,
    /// A count waiting to be loaded: at the given tick (end of the current
    /// mode 2/3 period), or at the next gate trigger.
    pending: Option<(u32, Option<u64>)>,
    /// Tick of the last count write (the NULL COUNT status bit).
    load_tick: u64,
    write_msb_next: bool,
    write_lsb: u8,
    read_msb_next: bool,
    latched: Option<u16>,
    latch_msb_next: bool,
    status: Option<u8>,
}

impl Channel {
    fn new(gate: bool) -> Self {
        Self {
            control: 0x30,
            mode: 0,
            access: Access::Word,
            bcd: false,
            reload: 0x1_0000,
            armed: false,
            triggered: false,
            gate,
            start: 0,
            counted: 0,
            pending: None,
            load_tick: 0,
            write_msb_next: false,
            write_lsb: 0,
            read_msb_next: false,
            latched: None,
            latch_msb_next: false,
            status: None,
        }
    }

    fn modulus(&self) -> u32 {
        if self.bcd {
            10_000
        } else {
            0x1_0000
        }
    }

    fn running(&self) -> bool {
        self.armed
            && match self.mode {
                1 | 5 => self.triggered,
                _ => self.gate,
            }
    }

    /// Clocks counted since the count was (re)loaded.
    fn elapsed(&self, t: u64) -> u64 {
        self.counted
            + if self.running() {
                t.saturating_sub(self.start)
            } else {
                0
            }
    }

    /// Load a count that was waiting for the end of a period.
    fn sync(&mut self, t: u64) {
        if let Some((n, Some(at))) = self.pending {
            if t >= at {
                self.reload = n;
                self.start = at;
                self.counted = 0;
                self.pending = None;
            }
        }
    }

    /// Apply a count that was waiting for a gate trigger.
    fn take_pending(&mut self) {
        if let Some((n, _)) = self.pending.take() {
            self.reload = n;
        }
    }

    /// The OUT pin at tick `t` (after [`Channel::sync`]).
    fn out(&self, t: u64) -> bool {
        let n = u64::from(self.reload);
        let d = self.elapsed(t);
        match self.mode {
            0 => self.armed && d >= n,
            1 => !(self.armed && self.triggered) || d >= n,
            2 => !self.running() || d % n != n - 1,
            3 => !self.running() || d % n < n.div_ceil(2),
            4 => !self.armed || d != n,
            _ => !(self.armed && self.triggered) || d != n,
        }
    }

    /// The counting element at tick `t`, in binary.
    fn value(&self, t: u64) -> u32 {
        let n = self.reload;
        let m = self.modulus();
        if !self.armed || (matches!(self.mode, 1 | 5) && !self.triggered) {
            return n % m;
        }
        let d = self.elapsed(t);
        let v = match self.mode {
            2 => n - (d % u64::from(n)) as u32,
            3 => {
                let ph = (d % u64::from(n)) as u32;
                let high = n.div_ceil(2);
                let ph = if ph < high { ph } else { ph - high };
                (n.saturating_sub(2 * ph) & !1).max(2)
            }
            _ => (i64::from(n) - (d % u64::from(m)) as i64).rem_euclid(i64::from(m)) as u32,
        };
        v % m
    }

    /// The value a read returns (BCD-coded in BCD mode).
    fn readable(&self, t: u64) -> u16 {
        let v = self.value(t);
        if self.bcd {
            to_bcd(v)
        } else {
            v as u16
        }
    }

    /// The first rising edge of OUT strictly after tick `after`.
    fn next_edge(&self, after: u64) -> Option<u64> {
        let (n, base) = match self.pending {
            Some((n, Some(at))) if after >= at => (n, i128::from(at)),
            _ => {
                if !self.running() {
                    return None;
                }
                (self.reload, i128::from(self.start) - i128::from(self.counted))
            }
        };
        let n = i128::from(n);
        let d_after = i128::from(after) - base;
        let edge = match self.mode {
            0 | 1 => n,
            4 | 5 => n + 1,
            _ if d_after < 0 => n,
            _ => (d_after / n + 1) * n,
        };
        (edge > d_after).then(|| (base + edge) as u64)
    }

    /// A complete count write.
    fn load(&mut self, raw: u16, t: u64) {
        let n = if self.bcd { from_bcd(raw) } else { u32::from(raw) };
        let n = if n == 0 {
            self.modulus()
        } else {
            n.min(self.modulus())
        };
        if matches!(self.mode, 2 | 3) && n == 1 {
            warn_once_count1();
        }
        self.load_tick = t;
        match self.mode {
            1 | 5 if self.armed => self.pending = Some((n, None)),
            1 | 5 => {
                self.reload = n;
                self.armed = true;
                self.triggered = false;
            }
            2 | 3 if self.armed && self.running() => {
                let r = u64::from(self.reload);
                let base = self.start - self.counted.min(self.start);
                let at = base + (self.elapsed(t) / r + 1) * r;
                self.pending = Some((n, Some(at)));
            }
            2 | 3 if self.armed => self.pending = Some((n, None)),
            _ => {
                self.reload = n;
                self.armed = true;
                self.start = t;
                self.counted = 0;
                self.pending = None;
            }
        }
    }

    fn set_gate(&mut self, level: bool, t: u64) {
        if level == self.gate {
            return;
        }
        self.sync(t);
        if level {
            self.gate = true;
            match self.mode {
                1 | 5 if self.armed => {
                    self.take_pending();
                    self.triggered = true;
                    self.start = t;
                    self.counted = 0;
                }
                2 | 3 if self.armed => {
                    self.take_pending();
                    self.start = t;
                    self.counted = 0;
                }
                _ => self.start = t,
            }
        } else {
            if self.running() && !matches!(self.mode, 1 | 5) {
                self.counted = self.elapsed(t);
            }
            self.gate = false;
        }
    }

    /// A control word selecting this counter (not a latch command).
    fn program(&mut self, cw: u8, t: u64) {
        self.control = cw & 0x3F;
        self.access = match (cw >> CW_ACCESS_SHIFT) & 3 {
            1 => Access::Lsb,
            2 => Access::Msb,
            _ => Access::Word,
        };
        self.mode = match (cw >> 1) & 7 {
            6 => 2,
            7 => 3,
            m => m,
        };
        self.bcd = cw & CW_BCD != 0;
        if self.reload > self.modulus() {
            self.reload = self.modulus();
        }
        self.armed = false;
        self.triggered = false;
        self.pending = None;
        self.start = t;
        self.counted = 0;
        self.load_tick = t;
        self.write_msb_next = false;
        self.read_msb_next = false;
        self.latched = None;
        self.latch_msb_next = false;
        self.status = None;
    }

    fn latch_count(&mut self, t: u64) {
        if self.latched.is_none() {
            self.latched = Some(self.readable(t));
            self.latch_msb_next = false;
        }
    }

    fn latch_status(&mut self, t: u64) {
        if self.status.is_none() {
            let null = !self.armed || self.pending.is_some() || t <= self.load_tick;
            self.status = Some(
                (if self.out(t) { STATUS_OUT } else { 0 })
                    | (if null { STATUS_NULL } else { 0 })
                    | self.control,
            );
        }
    }

    fn read(&mut self, t: u64) -> u8 {
        if let Some(s) = self.status.take() {
            return s;
        }
        if let Some(l) = self.latched {
            let msb = match self.access {
                Access::Lsb => false,
                Access::Msb => true,
                Access::Word => self.latch_msb_next,
            };
            if self.access == Access::Word && !msb {
                self.latch_msb_next = true;
            } else {
                self.latched = None;
                self.latch_msb_next = false;
            }
            return if msb { (l >> 8) as u8 } else { l as u8 };
        }
        let v = self.readable(t);
        let msb = match self.access {
            Access::Lsb => false,
            Access::Msb => true,
            Access::Word => {
                self.read_msb_next = !self.read_msb_next;
                !self.read_msb_next
            }
        };
        if msb {
            (v >> 8) as u8
        } else {
            v as u8
        }
    }

    fn write(&mut self, v: u8, t: u64) {
        match self.access {
            Access::Lsb => self.load(u16::from(v), t),
            Access::Msb => self.load(u16::from(v) << 8, t),
            Access::Word if !self.write_msb_next => {
                self.write_lsb = v;
                self.write_msb_next = true;
                if self.mode == 0 {
                    // Mode 0: writing the first byte stops the count and
                    // drops OUT (8254 datasheet, "Mode 0").
                    self.armed = false;
                }
            }
            Access::Word => {
                self.write_msb_next = false;
                self.load(u16::from(self.write_lsb) | u16::from(v) << 8, t);
            }
        }
    }
}

fn warn_once_count1() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| eprintln!("strachey: 8254 PIT: count 1 is illegal in modes 2 and 3"));
}

/// The 8254 and port 0x61.
#[derive(Debug)]
pub struct Pit {
    channels: [Channel; 3],
    clock: Clock,
    irq0: IrqLine,
    /// Channel 0 edges up to this tick have been delivered.
    irq0_done: u64,
    /// Port 0x61 bits 0–3.
    port_b: u8,
}

impl Pit {
    /// The ports the PIT claims, as (first, count): the 8254 and port 0x61.
    pub const PORTS: &'static [(u16, u16)] = &[(COUNTER0, 4), (PORT_B, 1)];

    /// A PIT counting on `clock`, with counter 0's output on `irq0`. The
    /// counters start unprogrammed; gates 0 and 1 are tied high, gate 2
    /// follows port 0x61 (initially low).
    pub fn new(clock: Clock, irq0: IrqLine) -> Self {
        Self {
            channels: [Channel::new(true), Channel::new(true), Channel::new(false)],
            clock,
            irq0,
            irq0_done: 0,
            port_b: 0,
        }
    }

    /// System reset: counters unprogrammed, port 0x61 cleared (gate 2 low).
    pub fn reset(&mut self) {
        let t = self.now_tick();
        self.channels = [Channel::new(true), Channel::new(true), Channel::new(false)];
        self.irq0_done = t;
        self.port_b = 0;
    }

    fn now_tick(&self) -> u64 {
        ns_to_tick(self.clock.now())
    }

    /// Deliver a due IRQ0 edge and load counts that fell due.
    fn catch_up(&mut self, t: u64) {
        if let Some(e) = self.channels[0].next_edge(self.irq0_done) {
            if e <= t {
                self.irq0.pulse();
            }
        }
        self.irq0_done = self.irq0_done.max(t);
        for c in &mut self.channels {
            c.sync(t);
        }
    }

    /// The OUT pin of counter `ch` (0–2) now.
    pub fn out(&mut self, ch: usize) -> bool {
        let t = self.now_tick();
        self.catch_up(t);
        self.channels.get(ch).is_some_and(|c| c.out(t))
    }

    /// Set the gate input of counter `ch` (0–2); on a PC gates 0 and 1 are
    /// tied high and gate 2 is port 0x61 bit 0.
    pub fn set_gate(&mut self, ch: usize, level: bool) {
        let t = self.now_tick();
        self.catch_up(t);
        if let Some(c) = self.channels.get_mut(ch) {
            c.set_gate(level, t);
        }
    }

    /// The tone the speaker plays, if it is on: counter 2 in a periodic mode
    /// with its gate and the speaker data bit set.
    pub fn speaker_hz(&self) -> Option<u32> {
        let c = &self.channels[2];
        let on = self.port_b & (PORT_B_GATE2 | PORT_B_SPEAKER) == PORT_B_GATE2 | PORT_B_SPEAKER;
        (on && c.armed && matches!(c.mode, 2 | 3)).then(|| (PIT_HZ / u64::from(c.reload)) as u32)
    }

    fn read_byte(&mut self, port: u16, t: u64) -> u8 {
        match port {
            COUNTER0..=COUNTER2 => self.channels[usize::from(port - COUNTER0)].read(t),
            PORT_B => {
                let refresh = (self.clock.now() / REFRESH_PERIOD_NS) & 1 != 0;
                self.port_b
                    | if refresh { PORT_B_REFRESH } else { 0 }
                    | if self.channels[2].out(t) { PORT_B_OUT2 } else { 0 }
            }
            // The control register is write-only: the bus floats.
            _ => 0xFF,
        }
    }

    fn write_byte(&mut self, port: u16, v: u8, t: u64) {
        match port {
            COUNTER0..=COUNTER2 => self.channels[usize::from(port - COUNTER0)].write(v, t),
            CONTROL => self.control(v, t),
            PORT_B => {
                self.port_b = v & PORT_B_WRITABLE;
                self.channels[2].set_gate(v & PORT_B_GATE2 != 0, t);
            }
            _ => {}
        }
    }

    fn control(&mut self, v: u8, t: u64) {
        let sel = v >> CW_SELECT_SHIFT;
        if sel == 3 {
            // Read-back: bits 3–1 select counters 2–0.
            for (i, c) in self.channels.iter_mut().enumerate() {
                if v & (2 << i) != 0 {
                    if v & RB_NO_STATUS == 0 {
                        c.latch_status(t);
                    }
                    if v & RB_NO_COUNT == 0 {
                        c.latch_count(t);
                    }
                }
            }
            return;
        }
        let c = &mut self.channels[usize::from(sel)];
        if (v >> CW_ACCESS_SHIFT) & 3 == 0 {
            c.latch_count(t);
        } else {
            c.program(v, t);
        }
    }
}

/// A wider access is split into byte accesses at consecutive ports.
impl PortDevice for Pit {
    fn read(&mut self, port: Port, data: &mut [u8]) {
        let t = self.now_tick();
        self.catch_up(t);
        for (i, b) in data.iter_mut().enumerate() {
            *b = self.read_byte(port.0.wrapping_add(i as u16), t);
        }
    }

    fn write(&mut self, port: Port, data: &[u8]) {
        let t = self.now_tick();
        self.catch_up(t);
        for (i, &b) in data.iter().enumerate() {
            self.write_byte(port.0.wrapping_add(i as u16), b, t);
        }
    }
}

impl Timed for Pit {
    fn next_deadline(&self) -> Option<Nanos> {
        self.channels[0].next_edge(self.irq0_done).map(tick_to_ns)
    }

    fn advance(&mut self, now: Nanos) {
        self.catch_up(ns_to_tick(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::IrqSink;
    use mem::Shared;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Records every level change of every line.
    #[derive(Default)]
    struct Recorder(Vec<(u8, bool)>);
    impl IrqSink for Recorder {
        fn set_irq(&mut self, line: u8, level: bool) {
            self.0.push((line, level));
        }
    }

    fn setup() -> (Pit, Clock, Rc<RefCell<Recorder>>) {
        let clock = Clock::manual();
        let rec = Rc::new(RefCell::new(Recorder::default()));
        let sink: Shared<dyn IrqSink> = rec.clone();
        (Pit::new(clock.clone(), IrqLine::new(sink, 0)), clock, rec)
    }

    fn out(p: &mut Pit, port: u16, v: u8) {
        p.write(Port(port), &[v]);
    }

    fn inb(p: &mut Pit, port: u16) -> u8 {
        let mut b = [0];
        p.read(Port(port), &mut b);
        b[0]
    }

    fn rises(rec: &Rc<RefCell<Recorder>>) -> usize {
        rec.borrow().0.iter().filter(|e| e.1).count()
    }

    /// Run the board's timer loop up to `until`, returning the times at
    /// which IRQ0 was pulsed.
    fn run(p: &mut Pit, clock: &Clock, rec: &Rc<RefCell<Recorder>>, until: Nanos) -> Vec<Nanos> {
        let mut times = Vec::new();
        while let Some(d) = p.next_deadline() {
            if d > until {
                break;
            }
            clock.set(d);
            let before = rises(rec);
            p.advance(d);
            assert_eq!(rises(rec), before + 1, "a deadline delivers one edge");
            times.push(d);
        }
        clock.set(until);
        times
    }

    #[test]
    fn seabios_mode2_18hz() {
        let (mut p, clock, rec) = setup();
        clock.set(1_000);
        out(&mut p, 0x43, 0x34);
        out(&mut p, 0x40, 0);
        out(&mut p, 0x40, 0);
        let start = tick_to_ns(ns_to_tick(1_000));
        let times = run(&mut p, &clock, &rec, 1_000_000_000);
        // 65536 / 1193182 s = 54.925 ms: 18 edges in one second.
        assert_eq!(times.len(), 18);
        for (k, &t) in times.iter().enumerate() {
            let want = tick_to_ns(ns_to_tick(start) + 65536 * (k as u64 + 1));
            assert_eq!(t, want);
        }
        // Edges are pulses: the line returns low each time.
        assert!(rec.borrow().0.iter().all(|&(l, _)| l == 0));
        assert_eq!(rec.borrow().0.len(), 36);
    }

    #[test]
    fn mode3_square_wave_and_counter_reads() {
        let (mut p, clock, rec) = setup();
        out(&mut p, 0x43, 0x36); // counter 0, LSB/MSB, mode 3
        out(&mut p, 0x40, 0xA9);
        out(&mut p, 0x40, 0x04); // 1193: about 1 kHz
        assert!(p.out(0));
        clock.set(tick_to_ns(600));
        assert!(!p.out(0), "second half of the period is low");
        // Counter decrements by two: 1193 & !1 - 2*(600-597)
        out(&mut p, 0x43, 0x00); // latch counter 0
        let lo = inb(&mut p, 0x40);
        let hi = inb(&mut p, 0x40);
        let v = u16::from_le_bytes([lo, hi]);
        assert!(v.is_multiple_of(2) && v < 1193, "latched {v}");
        let times = run(&mut p, &clock, &rec, tick_to_ns(1193 * 10));
        assert_eq!(times.len(), 10);
        assert_eq!(times[0], tick_to_ns(1193));
        assert_eq!(times[9], tick_to_ns(11930));
    }

    #[test]
    fn late_board_coalesces_edges() {
        let (mut p, clock, rec) = setup();
        out(&mut p, 0x43, 0x34);
        out(&mut p, 0x40, 100);
        out(&mut p, 0x40, 0);
        clock.set(tick_to_ns(1000));
        p.advance(clock.now());
        assert_eq!(rises(&rec), 1);
        assert_eq!(p.next_deadline(), Some(tick_to_ns(1100)));
        // A port access also delivers a due edge.
        clock.set(tick_to_ns(1100));
        inb(&mut p, 0x61);
        assert_eq!(rises(&rec), 2);
    }

    #[test]
    fn mode0_one_shot_irq() {
        let (mut p, clock, rec) = setup();
        out(&mut p, 0x43, 0x30);
        out(&mut p, 0x40, 0x10);
        assert!(!p.out(0), "mode 0 OUT is low while counting");
        out(&mut p, 0x40, 0x00); // 16 ticks
        assert_eq!(p.next_deadline(), Some(tick_to_ns(16)));
        let times = run(&mut p, &clock, &rec, 1_000_000);
        assert_eq!(times, vec![tick_to_ns(16)]);
        assert!(p.out(0));
        // The counter wraps and keeps counting.
        out(&mut p, 0x43, 0x00);
        let v = u16::from_le_bytes([inb(&mut p, 0x40), inb(&mut p, 0x40)]);
        assert_eq!(v, (16u32 + 0x10000 - ns_to_tick(1_000_000) as u32) as u16);
    }

    #[test]
    fn seabios_tsc_calibration_via_port_61() {
        let (mut p, clock, _) = setup();
        clock.set(5_000_000);
        let v = inb(&mut p, 0x61);
        out(&mut p, 0x61, (v & !2) | 1);
        out(&mut p, 0x43, 0xB0);
        out(&mut p, 0x42, 0x00);
        out(&mut p, 0x42, 0x08);
        let t0 = clock.now();
        let mut polls = 0;
        while inb(&mut p, 0x61) & 0x20 == 0 {
            clock.advance(1_000);
            polls += 1;
            assert!(polls < 10_000);
        }
        let dt = clock.now() - t0;
        // 2048 ticks = 1.7164 ms.
        assert!((1_716_000..=1_718_000).contains(&dt), "{dt} ns");
        assert_eq!(inb(&mut p, 0x61) & 0x0F, 0x01);
    }

    #[test]
    fn refresh_toggle_flips() {
        let (mut p, clock, _) = setup();
        let a = inb(&mut p, 0x61) & 0x10;
        clock.advance(15_085);
        let b = inb(&mut p, 0x61) & 0x10;
        assert_ne!(a, b);
    }

    #[test]
    fn gate2_pauses_mode0_and_triggers_mode1() {
        let (mut p, clock, _) = setup();
        out(&mut p, 0x61, 0x01);
        out(&mut p, 0x43, 0xB0);
        out(&mut p, 0x42, 100);
        out(&mut p, 0x42, 0);
        clock.set(tick_to_ns(40));
        out(&mut p, 0x61, 0x00); // pause
        clock.set(tick_to_ns(500));
        assert_eq!(inb(&mut p, 0x61) & 0x20, 0);
        out(&mut p, 0x43, 0x80);
        assert_eq!(u16::from_le_bytes([inb(&mut p, 0x42), inb(&mut p, 0x42)]), 60);
        out(&mut p, 0x61, 0x01); // resume
        clock.set(tick_to_ns(560));
        assert_ne!(inb(&mut p, 0x61) & 0x20, 0);

        // Mode 1: OUT high until a gate edge, then low for N clocks.
        out(&mut p, 0x43, 0xB2);
        out(&mut p, 0x42, 50);
        out(&mut p, 0x42, 0);
        assert_ne!(inb(&mut p, 0x61) & 0x20, 0);
        clock.set(tick_to_ns(1000));
        assert_ne!(inb(&mut p, 0x61) & 0x20, 0, "gate already high: no trigger");
        out(&mut p, 0x61, 0x00);
        out(&mut p, 0x61, 0x01);
        assert_eq!(inb(&mut p, 0x61) & 0x20, 0);
        clock.set(tick_to_ns(1049));
        assert_eq!(inb(&mut p, 0x61) & 0x20, 0);
        clock.set(tick_to_ns(1050));
        assert_ne!(inb(&mut p, 0x61) & 0x20, 0);
    }

    #[test]
    fn mode2_gate_low_forces_out_high_and_restarts() {
        let (mut p, clock, _) = setup();
        out(&mut p, 0x61, 0x01);
        out(&mut p, 0x43, 0xB4); // counter 2, mode 2
        out(&mut p, 0x42, 10);
        out(&mut p, 0x42, 0);
        clock.set(tick_to_ns(9));
        assert!(!p.out(2), "low for the last clock of the period");
        out(&mut p, 0x61, 0x00);
        assert!(p.out(2));
        clock.set(tick_to_ns(100));
        out(&mut p, 0x61, 0x01);
        clock.set(tick_to_ns(105));
        out(&mut p, 0x43, 0x80);
        assert_eq!(u16::from_le_bytes([inb(&mut p, 0x42), inb(&mut p, 0x42)]), 5);
    }

    #[test]
    fn mode4_and_mode5_strobes() {
        let (mut p, clock, rec) = setup();
        out(&mut p, 0x43, 0x38); // counter 0 mode 4
        out(&mut p, 0x40, 20);
        out(&mut p, 0x40, 0);
        clock.set(tick_to_ns(20));
        assert!(!p.out(0));
        let times = run(&mut p, &clock, &rec, 1_000_000);
        assert_eq!(times, vec![tick_to_ns(21)]);
        assert!(p.out(0));

        out(&mut p, 0x61, 0x00);
        out(&mut p, 0x43, 0xBA); // counter 2 mode 5
        out(&mut p, 0x42, 5);
        out(&mut p, 0x42, 0);
        let t = ns_to_tick(clock.now());
        out(&mut p, 0x61, 0x01);
        clock.set(tick_to_ns(t + 5));
        assert!(!p.out(2));
        clock.set(tick_to_ns(t + 6));
        assert!(p.out(2));
    }

    #[test]
    fn bcd_and_byte_access_modes() {
        let (mut p, clock, _) = setup();
        out(&mut p, 0x43, 0x11); // counter 0, LSB only, mode 0, BCD
        out(&mut p, 0x40, 0x99);
        clock.set(tick_to_ns(10));
        out(&mut p, 0x43, 0x00);
        assert_eq!(inb(&mut p, 0x40), 0x89, "99 - 10 = 89 in BCD");
        out(&mut p, 0x43, 0x61); // counter 1, MSB only, mode 0, BCD
        out(&mut p, 0x41, 0x12); // 1200
        clock.set(tick_to_ns(10 + 200));
        assert_eq!(inb(&mut p, 0x41), 0x10, "1000 in BCD, MSB");
        // Binary count 0 in BCD mode means 10000.
        out(&mut p, 0x43, 0x71);
        out(&mut p, 0x41, 0x00);
        out(&mut p, 0x41, 0x00);
        clock.advance(tick_to_ns(1));
        out(&mut p, 0x43, 0x40);
        let v = u16::from_le_bytes([inb(&mut p, 0x41), inb(&mut p, 0x41)]);
        assert!(v == 0x9999 || v == 0x9998, "{v:#x}");
    }

    #[test]
    fn read_back_status_and_count() {
        let (mut p, clock, _) = setup();
        out(&mut p, 0x43, 0x34);
        // Status before a count: NULL COUNT, OUT high (mode 2), control 0x34.
        out(&mut p, 0x43, 0xE2);
        assert_eq!(inb(&mut p, 0x40), 0xC0 | 0x34);
        out(&mut p, 0x40, 0x00);
        out(&mut p, 0x40, 0x10); // 4096
        clock.set(tick_to_ns(96));
        // SeaBIOS's fallback: latch the count of counter 0.
        out(&mut p, 0x43, 0xD2);
        clock.set(tick_to_ns(200));
        assert_eq!(u16::from_le_bytes([inb(&mut p, 0x40), inb(&mut p, 0x40)]), 4000);
        // Status and count together: status first; a second latch
        // command does not overwrite an unread latch.
        out(&mut p, 0x43, 0xC2);
        out(&mut p, 0x43, 0x00);
        assert_eq!(inb(&mut p, 0x40), 0x80 | 0x34);
        assert_eq!(u16::from_le_bytes([inb(&mut p, 0x40), inb(&mut p, 0x40)]), 3896);
        // Unlatched reads follow the read flip-flop.
        clock.set(tick_to_ns(300));
        assert_eq!(u16::from_le_bytes([inb(&mut p, 0x40), inb(&mut p, 0x40)]), 3796);
    }

    #[test]
    fn new_count_in_mode2_waits_for_period_end() {
        let (mut p, clock, rec) = setup();
        out(&mut p, 0x43, 0x34);
        out(&mut p, 0x40, 100);
        out(&mut p, 0x40, 0);
        clock.set(tick_to_ns(150));
        out(&mut p, 0x40, 10);
        out(&mut p, 0x40, 0);
        // The write at tick 150 delivered the edge at tick 100 first.
        assert_eq!(rises(&rec), 1);
        let times = run(&mut p, &clock, &rec, tick_to_ns(230));
        assert_eq!(
            times,
            vec![tick_to_ns(200), tick_to_ns(210), tick_to_ns(220), tick_to_ns(230)]
        );
    }

    #[test]
    fn speaker_tone() {
        let (mut p, _, _) = setup();
        out(&mut p, 0x43, 0xB6);
        out(&mut p, 0x42, 0xA9);
        out(&mut p, 0x42, 0x04);
        assert_eq!(p.speaker_hz(), None);
        out(&mut p, 0x61, 0x03);
        assert_eq!(p.speaker_hz(), Some(1000));
    }

    #[test]
    fn irq0_through_the_pic() {
        use crate::pic::Pic;
        use mem::Attention;
        let att = Attention::new();
        let pic = Rc::new(RefCell::new(Pic::new(att.clone())));
        let clock = Clock::manual();
        let sink: Shared<dyn IrqSink> = pic.clone();
        let mut p = Pit::new(clock.clone(), IrqLine::new(sink, 0));
        for (port, v) in [
            (0x20, 0x11),
            (0x21, 0x08),
            (0x21, 0x04),
            (0x21, 0x01),
            (0x21, 0xFE),
        ] {
            pic.borrow_mut().write(Port(port), &[v]);
        }
        out(&mut p, 0x43, 0x34);
        out(&mut p, 0x40, 0x9C);
        out(&mut p, 0x40, 0x2E); // 11932: 100 Hz
        for k in 1..=3u64 {
            let d = p.next_deadline().unwrap();
            assert_eq!(d, tick_to_ns(11932 * k));
            att.clear(Attention::IRQ);
            clock.set(d);
            p.advance(d);
            assert_ne!(att.get() & Attention::IRQ, 0);
            assert_eq!(pic.borrow_mut().acknowledge(), 0x08);
            pic.borrow_mut().write(Port(0x20), &[0x20]);
            assert!(!pic.borrow().pending());
        }
    }

    #[test]
    fn bcd_helpers() {
        assert_eq!(from_bcd(0x1234), 1234);
        assert_eq!(to_bcd(9876), 0x9876);
        assert_eq!(to_bcd(10_000), 0);
    }
}
