//! The CPU object and the interpreter's run loop.

use crate::decode::{Block, DecodeCache};
use crate::fault::{vector, Fault, FaultClass};
use crate::state::{flags, CpuState};
use crate::Bus;
use mem::{Attention, Tlb};
use std::rc::Rc;

/// Why [`Cpu::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The instruction budget is used up.
    Budget,
    /// HLT with interrupts enabled: the board should advance time until an
    /// interrupt is pending, then call `run` again.
    Halted,
    /// HLT with interrupts disabled: nothing but NMI or reset can wake the
    /// CPU, and this board has neither.
    DeadHalt,
    /// Triple fault: the CPU entered shutdown (a PC resets).
    TripleFault,
    /// Something raised [`Attention::STOP`].
    Stop,
}

/// Execution counters, reported by `--stats`.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Guest instructions retired.
    pub instructions: u64,
    /// Blocks decoded.
    pub blocks_decoded: u64,
    /// Exceptions delivered.
    pub exceptions: u64,
    /// External interrupts delivered.
    pub interrupts: u64,
    /// Decoded blocks dropped because their page was written.
    pub smc_invalidations: u64,
    /// Valid instructions the interpreter does not implement (raised #UD).
    pub unimplemented: u64,
}

/// One x86 CPU: architectural state plus the interpreter's caches.
#[derive(Debug)]
pub struct Cpu {
    /// Architectural state.
    pub state: CpuState,
    /// Counters.
    pub stats: Stats,
    pub(crate) tlb: Tlb,
    pub(crate) cache: DecodeCache,
    /// The current block must end after this instruction (a mode change, a
    /// write to its own code, an interrupt shadow...).
    pub(crate) end_block: bool,
    /// A linear address to watch for: when a block starting there is looked
    /// up, `watch_hit` is set (the board uses it to notice that the boot
    /// sector at 0000:7C00 started).
    pub watch: Option<u32>,
    /// The watched address was reached.
    pub watch_hit: bool,
    /// Iterations of a repeated string instruction per execution (4096):
    /// after that many it leaves EIP on itself so that the run loop can take
    /// interrupts, and is executed again. Lock-step tests comparing with
    /// host code, which runs the whole repetition at once, set it higher.
    pub rep_chunk: u32,
    /// Code writes seen since the translator last asked (page, granules).
    smc_log: Vec<(u64, u64)>,
    /// Decode-time operand summary of the instruction being executed.
    pub(crate) cur: crate::interp::ops::Pre,
    /// The block that just ran to its end without anything that could
    /// change translation: its successor links may be followed.
    prev_block: Option<Rc<Block>>,
    /// CS base and attributes when `prev_block` ran.
    prev_cs: (u32, u16),
    /// A20 state the TLB was filled under.
    a20_seen: bool,
    /// Memory-map generation the TLB and decoded code were made under.
    map_seen: u64,
    /// Set while delivering an exception, for double-fault detection.
    delivering: Option<FaultClass>,
    /// Shutdown (triple fault) happened.
    pub(crate) shutdown: bool,
    /// Reference point of the time-stamp counter.
    pub(crate) tsc_start: std::time::Instant,
}

impl Default for Cpu {
    fn default() -> Self {
        Self::new()
    }
}

impl Cpu {
    /// A CPU in its reset state.
    pub fn new() -> Self {
        Self {
            state: CpuState::reset(),
            stats: Stats::default(),
            tlb: Tlb::new(),
            cache: DecodeCache::default(),
            end_block: false,
            watch: None,
            watch_hit: false,
            rep_chunk: 4096,
            smc_log: Vec::new(),
            cur: crate::interp::ops::Pre::default(),
            prev_block: None,
            prev_cs: (0, 0),
            a20_seen: true,
            map_seen: 0,
            delivering: None,
            shutdown: false,
            tsc_start: std::time::Instant::now(),
        }
    }

    /// RESET: back to the reset state, caches dropped.
    pub fn reset(&mut self) {
        self.state = CpuState::reset();
        self.flush_tlb();
        self.cache.clear();
        self.shutdown = false;
        self.delivering = None;
    }

    /// Flush the TLB if the A20 gate changed since it was filled, and the
    /// decoded code too if the memory map changed (shadow RAM switched, a
    /// region added). Both only change on port writes, so `port_out` calls
    /// this too.
    #[inline]
    pub(crate) fn sync_a20(&mut self, bus: &Bus) {
        if bus.mem.a20_enabled() != self.a20_seen {
            self.a20_seen = bus.mem.a20_enabled();
            self.tlb.flush_all();
        }
        if bus.mem.generation() != self.map_seen {
            self.map_seen = bus.mem.generation();
            self.tlb.flush_all();
            self.cache.clear();
        }
    }

    /// Drop every cached translation (after the state was changed from outside).
    pub fn flush_tlb(&mut self) {
        self.tlb.flush_all();
    }

    /// Run until `budget` more instructions have retired or something needs
    /// the board's attention.
    pub fn run(&mut self, bus: &mut Bus, budget: u64) -> Exit {
        let end = self.stats.instructions.saturating_add(budget);
        // The state may have been changed from outside since the last run.
        self.prev_block = None;
        loop {
            if bus.attention.get() & Attention::STOP != 0 {
                return Exit::Stop;
            }
            if self.shutdown {
                return Exit::TripleFault;
            }
            self.sync_a20(bus);
            if bus.mem.smc_pending() {
                // Code pages written from outside the CPU (DMA, the board).
                self.handle_smc(bus);
            }
            // Checked before the shadow is consumed: a shadow must cover the
            // next instruction actually executed.
            if self.stats.instructions >= end && !self.state.halted {
                return Exit::Budget;
            }
            let shadow = std::mem::take(&mut self.state.intr_shadow);
            // The interrupt controller raises Attention::IRQ when INTR may
            // have risen; the flag stays up while interrupts are masked so
            // that the check is repeated once IF is set again.
            if !shadow && bus.attention.get() & Attention::IRQ != 0 {
                bus.attention.clear(Attention::IRQ);
                if let Some(ic) = bus.intc.as_mut() {
                    if ic.pending() {
                        if self.state.eflags & flags::IF != 0 {
                            let v = ic.acknowledge();
                            self.state.halted = false;
                            self.stats.interrupts += 1;
                            self.deliver_event(bus, v, None, crate::intr::Source::External);
                            // Another request may be waiting behind this one.
                            bus.attention.raise(Attention::IRQ);
                            continue;
                        }
                        bus.attention.raise(Attention::IRQ);
                    }
                }
            }
            if self.state.halted {
                return if self.state.eflags & flags::IF != 0 {
                    Exit::Halted
                } else {
                    Exit::DeadHalt
                };
            }
            if self.stats.instructions >= end {
                return Exit::Budget;
            }
            // Single-step and interrupt shadows run one instruction at a time.
            let single = shadow || self.state.eflags & flags::TF != 0;
            self.run_block(bus, single, end);
            if single {
                continue;
            }
            // Go straight on to the next block while nothing needs a look:
            // no attention raised, no mode change, budget left.
            while !self.end_block
                && bus.attention.get() == 0
                && self.stats.instructions < end
                && self.state.eflags & flags::TF == 0
                && !self.state.halted
            {
                self.run_block(bus, false, end);
            }
        }
    }

    /// Execute one block (or one instruction if `single`).
    fn run_block(&mut self, bus: &mut Bus, single: bool, end: u64) {
        let tf = self.state.eflags & flags::TF != 0;
        // Follow the link from the previous block when there is one: it
        // is only kept while nothing happened that could change how EIP
        // translates (any such instruction ends its block with end_block).
        let prev = self.prev_block.take();
        let eip = self.state.eip;
        let cs = &self.state.segs[crate::state::SegReg::Cs as usize];
        // Belt and braces: a CS change always ends a block, but a link is
        // only ever followed under the CS it was made under.
        let same_cs = (cs.base, cs.attr) == self.prev_cs;
        let linked = prev
            .as_ref()
            .filter(|_| same_cs)
            .and_then(|p| p.successor(eip))
            .filter(|b| b.last_eip <= cs.limit);
        let block: Rc<Block> = match linked {
            Some(b) => b,
            None => match self.fetch_block(bus) {
                Ok(b) => {
                    if let Some(p) = &prev {
                        p.link(eip, &b);
                    }
                    b
                }
                Err(f) => {
                    self.exception(bus, f);
                    return;
                }
            },
        };
        self.end_block = false;
        let budget = (end - self.stats.instructions).max(1);
        let n = if single {
            1
        } else {
            block
                .insns
                .len()
                .min(usize::try_from(budget).unwrap_or(usize::MAX))
        };
        for d in &block.insns[..n] {
            let start = self.state.eip;
            self.state.eip = d.next_eip;
            self.cur = d.pre;
            if let Err(f) = (d.handler)(self, bus, &d.instr) {
                self.state.eip = start;
                self.exception(bus, f);
                return;
            }
            self.stats.instructions += 1;
            if self.end_block || self.state.eip != d.next_eip {
                break;
            }
        }
        if !self.end_block && !single && !tf {
            self.prev_block = Some(block);
            let cs = &self.state.segs[crate::state::SegReg::Cs as usize];
            self.prev_cs = (cs.base, cs.attr);
        }
        if tf && !self.state.halted {
            // Single-step trap after the instruction (SDM Vol. 3A, 17.3.1.4).
            self.state.dr[6] |= 1 << 14;
            self.deliver_event(bus, vector::DB, None, crate::intr::Source::Trap);
        }
    }

    /// Deliver a fault raised by an instruction (EIP already points at it),
    /// applying the double- and triple-fault rules (SDM Vol. 3A, 6.15,
    /// "Interrupt 8").
    pub(crate) fn exception(&mut self, bus: &mut Bus, f: Fault) {
        self.stats.exceptions += 1;
        self.deliver_event(bus, f.vector, f.error, crate::intr::Source::Fault);
    }

    /// Deliver an event, turning a fault during delivery into #DF or a
    /// triple fault.
    pub(crate) fn deliver_event(
        &mut self,
        bus: &mut Bus,
        v: u8,
        error: Option<u32>,
        src: crate::intr::Source,
    ) {
        self.prev_block = None;
        let first = Fault { vector: v, error };
        let outer = self.delivering;
        let mut cur = first;
        let mut cur_src = src;
        self.delivering = Some(if src == crate::intr::Source::Fault {
            first.class()
        } else {
            FaultClass::Benign
        });
        loop {
            match self.interrupt(bus, cur.vector, cur.error, cur_src) {
                Ok(()) => break,
                Err(second) => {
                    let prev = self.delivering.unwrap_or(FaultClass::Benign);
                    let sc = second.class();
                    let double = matches!(
                        (prev, sc),
                        (FaultClass::Contributory, FaultClass::Contributory)
                            | (
                                FaultClass::PageFault,
                                FaultClass::Contributory | FaultClass::PageFault
                            )
                    );
                    if prev == FaultClass::DoubleFault {
                        self.shutdown = true;
                        break;
                    }
                    cur = if double {
                        Fault {
                            vector: vector::DF,
                            error: Some(0),
                        }
                    } else {
                        second
                    };
                    cur_src = crate::intr::Source::Fault;
                    self.delivering = Some(cur.class());
                }
            }
        }
        self.delivering = outer;
        self.end_block = true;
    }

    /// Decoded blocks of RAM pages that were written are dropped.
    pub(crate) fn handle_smc(&mut self, bus: &mut Bus) {
        for (page, mask) in bus.mem.take_smc_pages() {
            self.stats.smc_invalidations += self.cache.invalidate(page, mask);
            self.end_block = true;
            self.smc_log.push((page, mask));
        }
    }

    /// Note that code was decoded or translated from the `len` bytes at
    /// `phys` (within one page): writes to them must be seen, so a page
    /// that newly holds code loses the write permission of its TLB entries
    /// (the interpreter's stores through them would bypass the tracking).
    pub fn mark_code(&mut self, bus: &mut Bus, phys: mem::PhysAddr, len: u64) {
        if bus.mem.mark_code(phys, len) {
            self.tlb.write_protect_phys(phys);
        }
    }

    /// Code writes (RAM page, written granules) seen since the last call,
    /// for the translator's own cache.
    pub fn take_smc_log(&mut self) -> Vec<(u64, u64)> {
        std::mem::take(&mut self.smc_log)
    }

    /// The x87 state was replaced from outside the interpreter (the
    /// translator ran x87 code on the host FPU): FERR# follows the status
    /// word as FLDCW or FRSTOR would leave it, deasserted once no unmasked
    /// exception is pending.
    pub fn fpu_replaced(&mut self, bus: &mut Bus) {
        if self.state.fpu.fsw & crate::fpu::fsw::ES == 0 {
            self.set_ferr(bus, false);
        }
    }

    /// Fetch (decoding if needed) the block at CS:EIP.
    fn fetch_block(&mut self, bus: &mut Bus) -> crate::Res<Rc<Block>> {
        crate::decode::fetch_block(self, bus)
    }
}

impl Cpu {
    /// Execute exactly one instruction at CS:EIP without taking interrupts
    /// and without delivering a fault it raises: on `Err`, the state is the
    /// state at the fault (EIP on the instruction). See the crate's
    /// "Oracle API".
    pub fn step(&mut self, bus: &mut Bus) -> crate::Res<()> {
        self.prev_block = None;
        let block = self.fetch_block(bus)?;
        let d = &block.insns[0];
        let start = self.state.eip;
        self.state.eip = d.next_eip;
        self.end_block = false;
        self.cur = d.pre;
        match (d.handler)(self, bus, &d.instr) {
            Ok(()) => {
                self.stats.instructions += 1;
                Ok(())
            }
            Err(f) => {
                self.state.eip = start;
                Err(f)
            }
        }
    }
}
