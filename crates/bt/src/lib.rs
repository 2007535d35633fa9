//! Strachey's binary translator: guest code runs as host code.
//!
//! ```text
//!  Bt::run ──► translatable here? ──no──► cpu::Cpu::run (the interpreter)
//!     │             │yes
//!     │             ▼
//!     │     translate.rs: iced decode ─► identity / rewrite / stop
//!     │             │
//!     │             ▼
//!     │     cache.rs (memfd, RW + RX views) ─► entry stub ─► block ─► exit stub
//!     │                                                        │ host fault
//!     ▼                                                        ▼
//!  reasons: next EIP, budget, fallback ◄──────────── signal.rs ─► fault exit
//! ```
//!
//! Guest EAX, ECX, EDX, EBX, EBP, ESI, EDI live in the same host registers,
//! guest ESP in r12d, the context pointer in r15, the block budget in r13,
//! r11 is scratch; RSP stays the host stack. Guest arithmetic flags and DF
//! live in host RFLAGS while translated code runs. Memory operands are
//! re-encoded `gs:` with a 32-bit address size over the guest window
//! (`window.rs`), so the host computes and wraps guest effective addresses.
//!
//! What is translated so far: 32-bit flat protected-mode code (CS, DS, ES,
//! SS with base 0 and 4 GiB limits) with paging off, at CPL 0 or 3. Every
//! other mode, and every instruction the translator does not handle (the
//! sensitive and privileged ones among them), runs in the interpreter, one
//! instruction at a time, and is counted. A host fault in translated code
//! (an MMIO or ROM access, a write to a page holding translated code, #DE)
//! is resolved by letting the interpreter execute that instruction from the
//! same state, which gives exactly the interpreter's result.

mod cache;
mod signal;
mod translate;
mod window;

use cpu::{Bus, Cpu, Exit};
use std::collections::HashMap;
use std::mem::offset_of;

pub use translate::{translate, Translation};

/// Reasons a block returns to the run loop (`Context::reason`).
pub const REASON_NEXT: u32 = 0;
/// The block budget ran out; `next_eip` is the block that was to run.
pub const REASON_BUDGET: u32 = 1;
/// A host fault; `fault_rip` says where.
pub const REASON_FAULT: u32 = 2;
/// The next instruction must run in the interpreter.
pub const REASON_FALLBACK: u32 = 3;

/// What translated code reads and writes (`#[repr(C)]`; offsets are used
/// by the generated code).
#[derive(Debug, Default)]
#[repr(C)]
pub struct Context {
    /// Guest EAX..EDI (ESP at index 4).
    pub regs: [u32; 8],
    /// Host RFLAGS image: guest arithmetic flags and DF.
    pub rflags: u64,
    /// Host address to enter.
    pub target: u64,
    /// Guest EIP to continue at.
    pub next_eip: u32,
    /// Why the block returned.
    pub reason: u32,
    /// Blocks left before returning with `REASON_BUDGET`.
    pub budget: u64,
    /// Guest instructions executed (r14; each block adds its count on
    /// entry, so a fault leaves the rest of its block counted too).
    pub executed: u64,
    /// The guest window's base (GS base), for rebasing string operands.
    pub window_base: u64,
    /// The indirect-branch table: 65,536 entries of (guest EIP, host
    /// address), indexed by the low 16 bits of the EIP.
    pub ibtc: u64,
    /// Host RIP of a fault.
    pub fault_rip: u64,
    /// Faulting data address.
    pub fault_addr: u64,
    /// Signal number of a fault.
    pub fault_signo: u32,
    _pad: u32,
    /// This engine's code cache (executable range) and fault-exit stub,
    /// for the signal handler.
    pub rx_start: u64,
    /// End of the executable range.
    pub rx_end: u64,
    /// Where a fault resumes.
    pub fault_exit: u64,
}

/// One indirect-branch table entry.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct IbtcEntry {
    eip: u64,
    host: u64,
}

const IBTC_SIZE: usize = 1 << 16;

/// Translator counters (`--stats`).
#[derive(Clone, Debug, Default)]
pub struct BtStats {
    /// Blocks translated.
    pub blocks: u64,
    /// Guest instructions translated.
    pub insns_translated: u64,
    /// Host bytes emitted.
    pub host_bytes: u64,
    /// Entries into translated code.
    pub entries: u64,
    /// Guest instructions executed as translated code.
    pub executed: u64,
    /// Instructions handed to the interpreter (fallbacks and faults).
    pub fallbacks: u64,
    /// Host faults in translated code, by signal (SIGSEGV/SIGBUS, SIGFPE).
    pub faults_segv: u64,
    /// #DE raised by host division.
    pub faults_fpe: u64,
    /// Blocks dropped because their code was written.
    pub smc_invalidations: u64,
    /// Exit stubs patched into direct jumps to the next block.
    pub chain_patches: u64,
    /// Code-cache flushes.
    pub flushes: u64,
    /// Time spent translating.
    pub translate_time: std::time::Duration,
}

/// An exit stub that jumps to another block instead of the exit stub:
/// where it is and the bytes the jump replaced.
#[derive(Clone, Copy)]
struct Patch {
    stub: usize,
    original: [u8; 5],
}

struct Block {
    rx_off: usize,
    len: usize,
    map: Vec<(u32, u32)>,
    eip: u32,
    guest_len: u32,
    insns: u32,
}

/// The binary translator engine.
pub struct Bt {
    cache: cache::CodeCache,
    window: window::Window,
    entry: u64,
    exit: u64,
    runtime_len: usize,
    /// (EIP, physical address) -> block index.
    blocks: HashMap<(u32, u64), usize>,
    list: Vec<Block>,
    /// Guest physical pages holding translated code -> blocks.
    by_page: HashMap<u64, Vec<usize>>,
    /// Exit stubs waiting for a block at an EIP to exist.
    pending: HashMap<u32, Vec<Patch>>,
    /// Stubs chained into each block (undone when it is dropped).
    incoming: HashMap<usize, Vec<(Patch, u32)>>,
    ctx: Box<Context>,
    ibtc: Box<[IbtcEntry]>,
    /// Counters.
    pub stats: BtStats,
}

impl std::fmt::Debug for Bt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bt")
            .field("blocks", &self.list.len())
            .field("stats", &self.stats)
            .finish()
    }
}

const CACHE_SIZE: usize = 32 << 20;

impl Bt {
    /// A translator for the machine whose memory is `bus.mem`.
    ///
    /// # Errors
    /// The host refused the code cache or the guest window.
    pub fn new(bus: &Bus) -> std::io::Result<Self> {
        let mut cache = cache::CodeCache::new(CACHE_SIZE)?;
        let window = window::Window::new(&bus.mem)?;
        window.activate()?;
        let (entry, exit, fault_exit) = emit_runtime(&mut cache);
        let (rx_start, rx_end) = cache.rx_range();
        signal::install();
        let runtime_len = cache.next_offset();
        let mut ibtc = vec![
            IbtcEntry {
                eip: u64::MAX,
                host: 0
            };
            IBTC_SIZE
        ]
        .into_boxed_slice();
        let ctx = Box::new(Context {
            rx_start,
            rx_end,
            fault_exit,
            window_base: window.base(),
            ibtc: ibtc.as_mut_ptr() as u64,
            ..Context::default()
        });
        Ok(Self {
            cache,
            window,
            entry,
            exit,
            runtime_len,
            blocks: HashMap::new(),
            list: Vec::new(),
            by_page: HashMap::new(),
            pending: HashMap::new(),
            incoming: HashMap::new(),
            ctx,
            ibtc,
            stats: BtStats::default(),
        })
    }

    /// Whether the CPU is in a state translated code can run in.
    fn translatable(cpu: &Cpu, bus: &Bus) -> bool {
        use cpu::{attr, flags, SegReg};
        let s = &cpu.state;
        if !s.protected() || s.v86() || s.paging() || s.intr_shadow || s.halted || !bus.mem.a20_enabled() {
            return false;
        }
        if s.eflags & (flags::TF | flags::AC) != 0 {
            return false;
        }
        let flat = |r: SegReg, need: u16| {
            let g = s.seg(r);
            g.valid
                && g.base == 0
                && g.limit == 0xffff_ffff
                && g.big()
                && g.attr & need == need
                && g.attr & (attr::DC | attr::S) == attr::S
        };
        flat(SegReg::Cs, attr::CODE | attr::RW)
            && flat(SegReg::Ds, attr::RW)
            && flat(SegReg::Es, attr::RW)
            && flat(SegReg::Ss, attr::RW)
            && s.seg(SegReg::Ds).attr & attr::CODE == 0
            && s.seg(SegReg::Es).attr & attr::CODE == 0
            && s.seg(SegReg::Ss).attr & attr::CODE == 0
    }

    /// Run until `budget` blocks (translated) or interpreter instructions
    /// have run, or something needs the board.
    pub fn run(&mut self, cpu: &mut Cpu, bus: &mut Bus, budget: u64) -> Exit {
        let mut left = budget.max(1);
        // The GS base is per thread; the machine may run on any thread.
        if self.window.activate().is_err() {
            return cpu.run(bus, budget);
        }
        loop {
            self.sync_smc(cpu, bus);
            if !Self::translatable(cpu, bus) || bus.attention.get() != 0 {
                let step = left.min(256);
                let before = cpu.stats.instructions;
                let e = cpu.run(bus, step);
                let done = cpu.stats.instructions - before;
                left = left.saturating_sub(done.max(1));
                if e != Exit::Budget {
                    return e;
                }
                if left == 0 {
                    return Exit::Budget;
                }
                continue;
            }
            let Some(b) = self.lookup(cpu, bus) else {
                // The first instruction here is for the interpreter.
                self.stats.fallbacks += 1;
                let e = cpu.run(bus, 1);
                if e != Exit::Budget {
                    return e;
                }
                left = left.saturating_sub(1);
                if left == 0 {
                    return Exit::Budget;
                }
                continue;
            };
            let reason = self.enter(cpu, b, left);
            left = self.ctx.budget;
            self.stats.executed += self.ctx.executed;
            if reason == REASON_FAULT {
                // The faulting block was counted whole; the instructions
                // from the faulting one on did not run.
                let (fb, k) = self.insn_of_fault(self.ctx.fault_rip);
                self.stats.executed -= u64::from(self.list[fb].insns) - k as u64;
            }
            match reason {
                REASON_NEXT => cpu.state.eip = self.ctx.next_eip,
                REASON_BUDGET => {
                    cpu.state.eip = self.ctx.next_eip;
                    return Exit::Budget;
                }
                REASON_FALLBACK => {
                    cpu.state.eip = self.ctx.next_eip;
                    self.stats.fallbacks += 1;
                    let e = cpu.run(bus, 1);
                    if e != Exit::Budget {
                        return e;
                    }
                }
                _ => {
                    // A host fault: the interpreter executes the faulting
                    // instruction from the same state.
                    if self.ctx.fault_signo == libc::SIGFPE as u32 {
                        self.stats.faults_fpe += 1;
                    } else {
                        self.stats.faults_segv += 1;
                    }
                    cpu.state.eip = self.eip_of_fault(self.ctx.fault_rip);
                    self.stats.fallbacks += 1;
                    let e = cpu.run(bus, 1);
                    if e != Exit::Budget {
                        return e;
                    }
                }
            }
            if left == 0 {
                return Exit::Budget;
            }
        }
    }

    /// Enter translated code at block `b` with the CPU's state.
    fn enter(&mut self, cpu: &mut Cpu, b: usize, budget: u64) -> u32 {
        use cpu::flags;
        let c = &mut *self.ctx;
        c.regs = cpu.state.regs;
        let keep = flags::ARITH | flags::DF;
        c.rflags = u64::from(cpu.state.eflags & keep) | 0x202;
        c.target = self.cache.rx_addr(self.list[b].rx_off);
        c.budget = budget;
        c.executed = 0;
        c.reason = u32::MAX;
        self.stats.entries += 1;
        let ctx_ptr: *mut Context = c;
        signal::ACTIVE.with(|a| a.set(ctx_ptr));
        let f: extern "sysv64" fn(*mut Context) =
            // SAFETY: `entry` is the entry stub emitted by `emit_runtime`,
            // which follows the SysV ABI (saves callee-saved registers,
            // keeps RSP aligned, returns with DF clear).
            unsafe { std::mem::transmute::<u64, extern "sysv64" fn(*mut Context)>(self.entry) };
        f(ctx_ptr);
        signal::ACTIVE.with(|a| a.set(std::ptr::null_mut()));
        let c = &*self.ctx;
        cpu.state.regs = c.regs;
        cpu.state.eflags = (cpu.state.eflags & !keep) | (c.rflags as u32 & keep);
        c.reason
    }

    /// The guest EIP of the instruction at host address `rip`.
    fn eip_of_fault(&self, rip: u64) -> u32 {
        let (b, k) = self.insn_of_fault(rip);
        self.list[b].map[k].1
    }

    /// (block, index of the guest instruction) holding host address `rip`.
    fn insn_of_fault(&self, rip: u64) -> (usize, usize) {
        let off = (rip - self.cache.rx_addr(0)) as usize;
        // Blocks are appended in cache order (a flush empties both), so the
        // list is sorted by `rx_off`.
        let b = self.list.partition_point(|b| b.rx_off <= off).saturating_sub(1);
        assert!(
            off >= self.list[b].rx_off && off < self.list[b].rx_off + self.list[b].len,
            "a fault in translated code lies in a block"
        );
        let rel = (off - self.list[b].rx_off) as u32;
        let i = self.list[b].map.partition_point(|&(h, _)| h <= rel);
        (b, i.saturating_sub(1))
    }

    /// Find or make the block at CS:EIP.
    fn lookup(&mut self, cpu: &mut Cpu, bus: &mut Bus) -> Option<usize> {
        let eip = cpu.state.eip;
        let phys = u64::from(eip); // paging off, flat CS
        if let Some(&b) = self.blocks.get(&(eip, phys)) {
            self.ibtc_set(eip, b);
            return Some(b);
        }
        let region = bus.mem.region(mem::PhysAddr(phys));
        if !matches!(region, mem::Region::Ram(_) | mem::Region::Rom(_)) {
            return None;
        }
        let page_end = (phys | 0xfff) + 1;
        let mut bytes = vec![0u8; (page_end - phys) as usize];
        bus.mem.read(mem::PhysAddr(phys), &mut bytes);
        let t0 = std::time::Instant::now();
        if self.cache.room() < 64 * 1024 {
            self.flush();
        }
        let rx = self.cache.rx_addr(self.cache.next_offset());
        let t = translate(&bytes, eip, rx, self.exit)?;
        let off = self.cache.push(&t.code)?;
        self.stats.translate_time += t0.elapsed();
        self.stats.blocks += 1;
        self.stats.insns_translated += u64::from(t.insns);
        self.stats.host_bytes += t.code.len() as u64;
        let page = phys >> 12;
        let idx = self.list.len();
        self.list.push(Block {
            rx_off: off,
            len: t.code.len(),
            map: t.map,
            eip,
            guest_len: t.guest_len,
            insns: t.insns,
        });
        self.blocks.insert((eip, phys), idx);
        self.by_page.entry(page).or_default().push(idx);
        // Writes to this code must be seen: by the interpreter's tracking
        // (mark_code) and, for translated stores, by a read-only mapping.
        bus.mem
            .mark_code(mem::PhysAddr(phys), u64::from(t.guest_len.max(1)));
        let _ = self.window.set_code_page(page, true);
        // Chaining: this block's exits to blocks that exist jump straight
        // there; exits elsewhere that wait for this EIP now come here.
        for &(at, target) in &t.exits {
            let stub = off + at as usize;
            let mut original = [0u8; 5];
            original.copy_from_slice(&t.code[at as usize..at as usize + 5]);
            let p = Patch { stub, original };
            match self.blocks.get(&(target, u64::from(target))) {
                Some(&tb) => self.link(p, tb, target),
                None => self.pending.entry(target).or_default().push(p),
            }
        }
        if let Some(waiting) = self.pending.remove(&eip) {
            for p in waiting {
                self.link(p, idx, eip);
            }
        }
        self.ibtc_set(eip, idx);
        Some(idx)
    }

    fn ibtc_set(&mut self, eip: u32, b: usize) {
        let host = self.cache.rx_addr(self.list[b].rx_off);
        self.ibtc[eip as usize & (IBTC_SIZE - 1)] = IbtcEntry {
            eip: u64::from(eip),
            host,
        };
    }

    fn ibtc_drop(&mut self, eip: u32) {
        let e = &mut self.ibtc[eip as usize & (IBTC_SIZE - 1)];
        if e.eip == u64::from(eip) {
            e.eip = u64::MAX;
        }
    }

    /// Make exit stub `p` jump to block `b` (at `eip`).
    fn link(&mut self, p: Patch, b: usize, eip: u32) {
        let from = self.cache.rx_addr(p.stub) + 5;
        let to = self.cache.rx_addr(self.list[b].rx_off);
        let rel = to.wrapping_sub(from) as i64 as i32;
        let mut jmp = [0xe9, 0, 0, 0, 0];
        jmp[1..].copy_from_slice(&rel.to_le_bytes());
        self.cache.patch(p.stub, &jmp);
        self.incoming.entry(b).or_default().push((p, eip));
        self.stats.chain_patches += 1;
    }

    /// Undo the chaining into block `b` (its code is being dropped).
    fn unlink(&mut self, b: usize) {
        for (p, eip) in self.incoming.remove(&b).unwrap_or_default() {
            self.cache.patch(p.stub, &p.original);
            self.pending.entry(eip).or_default().push(p);
        }
    }

    /// Drop every translation (the guest's memory was replaced from
    /// outside, or a test reuses the engine).
    pub fn reset(&mut self) {
        self.flush();
    }

    /// Drop every translation.
    fn flush(&mut self) {
        for &page in self.by_page.keys() {
            let _ = self.window.set_code_page(page, false);
        }
        self.blocks.clear();
        self.list.clear();
        self.by_page.clear();
        self.pending.clear();
        self.incoming.clear();
        self.ibtc.fill(IbtcEntry {
            eip: u64::MAX,
            host: 0,
        });
        self.cache.truncate(self.runtime_len);
        self.stats.flushes += 1;
    }

    /// Drop blocks whose code was written (reported by the interpreter).
    fn sync_smc(&mut self, cpu: &mut Cpu, bus: &Bus) {
        let log = cpu.take_smc_log();
        if log.is_empty() {
            return;
        }
        let _ = bus;
        for (page, mask) in log {
            let Some(list) = self.by_page.get(&page) else {
                continue;
            };
            let hit: Vec<usize> = list
                .iter()
                .copied()
                .filter(|&b| {
                    let bl = &self.list[b];
                    let lo = u64::from(bl.eip) & 0xfff;
                    let hi = (lo + u64::from(bl.guest_len.max(1)) - 1).min(0xfff);
                    let g = mem::CODE_GRANULE;
                    let covered = (lo / g..=hi / g).fold(0u64, |m, i| m | 1 << i);
                    covered & mask != 0
                })
                .collect();
            if hit.is_empty() {
                continue;
            }
            for b in &hit {
                let eip = self.list[*b].eip;
                self.blocks.remove(&(eip, u64::from(eip)));
                self.ibtc_drop(eip);
                self.unlink(*b);
                self.stats.smc_invalidations += 1;
            }
            let list = self.by_page.get_mut(&page).expect("page listed above");
            list.retain(|b| !hit.contains(b));
            if list.is_empty() {
                self.by_page.remove(&page);
                let _ = self.window.set_code_page(page, false);
            }
        }
    }
}

/// Emit the entry stub, the exit stub and the fault-exit stub at the start
/// of the cache; returns their executable addresses.
fn emit_runtime(cache: &mut cache::CodeCache) -> (u64, u64, u64) {
    let r = |f: usize| {
        assert!(f < 128, "context field {f} beyond a disp8");
        f as u8
    };
    let regs = offset_of!(Context, regs);
    let rflags = r(offset_of!(Context, rflags));
    let target = r(offset_of!(Context, target));
    let budget = r(offset_of!(Context, budget));
    let executed = r(offset_of!(Context, executed));
    // Register field of each guest register's host register in ModRM
    // (EAX ECX EDX EBX r12 EBP ESI EDI), with REX.R for r12.
    let host: [(u8, bool); 8] = [
        (0, false),
        (1, false),
        (2, false),
        (3, false),
        (4, true),
        (5, false),
        (6, false),
        (7, false),
    ];
    let mut entry = vec![
        0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57, 0x48, 0x83, 0xec, 0x08, 0x49, 0x89, 0xff,
    ];
    for (k, (reg, rex_r)) in host.iter().enumerate() {
        // mov r32, [r15 + regs + 4k]
        entry.extend_from_slice(&[
            if *rex_r { 0x45 } else { 0x41 },
            0x8b,
            0x47 | (reg << 3),
            r(regs + 4 * k),
        ]);
    }
    entry.extend_from_slice(&[0x4d, 0x8b, 0x6f, budget]); // mov r13, [r15+budget]
    entry.extend_from_slice(&[0x4d, 0x8b, 0x77, executed]); // mov r14, [r15+executed]
    entry.extend_from_slice(&[0x41, 0xff, 0x77, rflags, 0x9d]); // push [r15+rflags]; popfq
    entry.extend_from_slice(&[0x41, 0xff, 0x67, target]); // jmp [r15+target]
    let entry_off = cache.push(&entry).expect("empty cache has room");

    let mut exit = vec![0x9c, 0x41, 0x8f, 0x47, rflags]; // pushfq; pop [r15+rflags]
    for (k, (reg, rex_r)) in host.iter().enumerate() {
        exit.extend_from_slice(&[
            if *rex_r { 0x45 } else { 0x41 },
            0x89,
            0x47 | (reg << 3),
            r(regs + 4 * k),
        ]);
    }
    exit.extend_from_slice(&[0x4d, 0x89, 0x6f, budget]); // mov [r15+budget], r13
    exit.extend_from_slice(&[0x4d, 0x89, 0x77, executed]); // mov [r15+executed], r14
    exit.extend_from_slice(&[
        0xfc, 0x48, 0x83, 0xc4, 0x08, 0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b, 0xc3,
    ]);
    let exit_off = cache.push(&exit).expect("room");
    let exit_rx = cache.rx_addr(exit_off);

    // Fault exit: reason = FAULT, then the common exit.
    let fault_rx = cache.rx_addr(cache.next_offset());
    let mut fault = vec![0x41, 0xc7, 0x47, r(offset_of!(Context, reason))];
    fault.extend_from_slice(&REASON_FAULT.to_le_bytes());
    let rel = exit_rx.wrapping_sub(fault_rx + fault.len() as u64 + 5) as i64 as i32;
    fault.push(0xe9);
    fault.extend_from_slice(&rel.to_le_bytes());
    let fault_off = cache.push(&fault).expect("room");
    debug_assert_eq!(cache.rx_addr(fault_off), fault_rx);
    (cache.rx_addr(entry_off), exit_rx, fault_rx)
}
