//! The translator at run time (x86-64 Linux hosts): the code cache, the
//! block tables and chaining, the run loop that enters translated code and
//! takes its exits, faults and kicks.

use super::*;
use cpu::{Bus, Cpu, Exit};
use std::mem::offset_of;

/// Video memory mapped into the window: each page's guest page number, its
/// offset in the video file, and whether it is writable now.
#[derive(Default)]
struct VideoMap {
    pages: FastMap<u64, (u64, bool)>,
    /// The windows as mapped (to unmap them).
    ranges: Vec<(u64, u64)>,
    generation: u64,
    epoch: u64,
}

/// Entries of an indirect-branch table (one per mode): host addresses of
/// blocks' `verify` entries or of the miss stub, by the low 16 bits of the
/// guest EIP.
const IBTC_SIZE: usize = 1 << 16;

/// Mode bits are below this.
const MODES: usize = 256;

/// After this many host faults at one guest instruction, it is
/// retranslated as a callout (no host fault per execution).
const HOT_FAULTS: u32 = 3;

/// A retranslated callout is tried as host code again after this many
/// executions.
const CALLOUT_RETRY: u32 = 1024;

/// A chained exit: a stub that jumps to another block instead of the exit
/// stub, or a conditional jump pointed at it; where it is and the bytes the
/// patch replaced.
#[derive(Clone, Copy)]
struct Patch {
    /// Offset in the cache of the stub or displacement.
    at: usize,
    /// A 32-bit displacement (else a 5-byte stub).
    rel32: bool,
    /// A backward edge: it goes to the target's budget check.
    backward: bool,
    original: [u8; 5],
}

impl Patch {
    fn len(&self) -> usize {
        if self.rel32 {
            4
        } else {
            5
        }
    }
}

struct Block {
    rx_off: usize,
    /// Offsets of the indirect-branch entry, the checked entry and the
    /// entry in the code.
    verify: u32,
    checked: u32,
    entry: u32,
    mode: u8,
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
    /// (EIP, physical address, mode bits) -> block index.
    blocks: FastMap<(u32, u64, u8), usize>,
    list: Vec<Block>,
    /// Guest physical pages holding translated code -> blocks.
    by_page: FastMap<u64, Vec<usize>>,
    /// RAM pages read-only in the window because they hold code (translated
    /// or decoded by the interpreter).
    protected: std::collections::HashSet<u64, std::hash::BuildHasherDefault<FastHasher>>,
    /// Pages whose protection may have to change (`sync_protection`).
    recheck: Vec<u64>,
    /// Exit stubs waiting for a block at an (EIP, mode) to exist.
    pending: FastMap<(u32, u8), Vec<Patch>>,
    /// Stubs chained into each block (undone when it is dropped).
    incoming: FastMap<usize, Vec<(Patch, u32)>>,
    /// The helper that loads the guest FPU state into the host FPU.
    fpu_load: u64,
    /// The guest FPU state `ctx.fpu_image` holds (rebuilt when the
    /// interpreter changed it).
    fpu_cached: Option<cpu::fpu::Fpu>,
    /// Host faults seen at each guest instruction.
    fault_counts: FastMap<u32, u32>,
    /// Guest instructions translated as callouts (they kept faulting), with
    /// the executions left before they are tried as host code again.
    callout_eips: FastMap<u32, u32>,
    /// Print each translation (`--trace-translation`).
    pub trace: bool,
    /// Longest block in guest instructions (tests compare engines at
    /// several block sizes; at most `translate::MAX_INSNS`).
    pub max_insns: u32,
    /// Check the budget at every block, forward edges too, so that a
    /// budget of one runs one block (lock-step tests); normally only
    /// backward edges, indirect branches and entries from the run loop
    /// check it. Set it before translating.
    pub check_every_block: bool,
    /// `bus.mem.generation()` when the window's shadow RAM was last mapped.
    mem_generation: u64,
    /// The board's video memory, and how it is mapped.
    video: Option<Box<dyn VideoMemory>>,
    video_map: VideoMap,
    ctx: Box<Context>,
    /// The indirect-branch table of each mode, made when first needed.
    ibtc: Vec<Option<Box<[u64]>>>,
    /// The indirect-branch miss stub.
    miss: u64,
    /// The thread running translated code, for the board's waker.
    kick: std::sync::Arc<signal::Kick>,
    /// The waker registered with the board's attention flag.
    waker: mem::Waker,
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

/// The mode bits that change how code at the current EIP is translated.
fn mode_of(cpu: &Cpu) -> u8 {
    use cpu::SegReg;
    let s = &cpu.state;
    let mut m = 0;
    if s.cr0 & (cpu::cr0::EM | cpu::cr0::TS) == 0 {
        m |= MODE_FPU;
    }
    for (r, bit) in [
        (SegReg::Ds, MODE_DS_BASE),
        (SegReg::Es, MODE_ES_BASE),
        (SegReg::Ss, MODE_SS_BASE),
    ] {
        if s.seg(r).base != 0 {
            m |= bit;
        }
    }
    // Stack instructions address the stack at r12d directly: only with SS
    // flat.
    if s.seg(SegReg::Ss).limit != 0xffff_ffff {
        m |= MODE_SS_BASE;
    }
    if Bt::data_ok(cpu, SegReg::Fs) {
        m |= MODE_FS;
    }
    if Bt::data_ok(cpu, SegReg::Gs) {
        m |= MODE_GS;
    }
    // A limit below 4 GiB on any segment translated code reaches: every
    // explicit memory operand is checked against its segment's limit.
    let limited = |r: SegReg| s.seg(r).limit != 0xffff_ffff;
    if limited(SegReg::Ds)
        || limited(SegReg::Es)
        || limited(SegReg::Ss)
        || m & MODE_FS != 0 && limited(SegReg::Fs)
        || m & MODE_GS != 0 && limited(SegReg::Gs)
    {
        m |= MODE_LIMITS;
    }
    if s.eflags & cpu::flags::DF != 0 {
        m |= MODE_DF;
    }
    m
}

impl Bt {
    /// A translator for the machine whose memory is `bus.mem`.
    ///
    /// # Errors
    /// The host refused the code cache or the guest window.
    pub fn new(bus: &Bus) -> std::io::Result<Self> {
        Self::with_cache_size(bus, CACHE_SIZE)
    }

    /// A translator with a code cache of `bytes` (at least 256 KiB; tests
    /// use small ones to see it flushed when full).
    ///
    /// # Errors
    /// The host refused the code cache or the guest window.
    pub fn with_cache_size(bus: &Bus, bytes: usize) -> std::io::Result<Self> {
        let mut cache = cache::CodeCache::new(bytes.max(256 << 10))?;
        let window = window::Window::new(&bus.mem)?;
        window.activate()?;
        let rt = emit_runtime(&mut cache);
        let (rx_start, rx_end) = cache.rx_range();
        signal::install();
        let runtime_len = cache.next_offset();
        let kick = std::sync::Arc::new(signal::Kick::default());
        let waker = kick.waker();
        let ctx = Box::new(Context {
            rx_start,
            rx_end,
            blocks_start: cache.rx_addr(runtime_len),
            budget_in_r13: rt.budget_in_r13,
            fault_exit: rt.fault_exit,
            window_base: window.base(),
            ..Context::default()
        });
        Ok(Self {
            cache,
            window,
            entry: rt.entry,
            exit: rt.exit,
            fpu_load: rt.fpu_load,
            fpu_cached: None,
            fault_counts: FastMap::default(),
            callout_eips: FastMap::default(),
            trace: false,
            max_insns: translate::MAX_INSNS,
            check_every_block: false,
            mem_generation: u64::MAX,
            video: None,
            video_map: VideoMap {
                generation: u64::MAX,
                ..VideoMap::default()
            },
            runtime_len,
            blocks: FastMap::default(),
            list: Vec::new(),
            by_page: FastMap::default(),
            protected: Default::default(),
            recheck: Vec::new(),
            pending: FastMap::default(),
            incoming: FastMap::default(),
            ctx,
            ibtc: (0..MODES).map(|_| None).collect(),
            miss: rt.miss,
            kick,
            waker,
            stats: BtStats::default(),
        })
    }

    /// Whether the CPU is in a state translated code can run in; if not,
    /// why (an index into `MODE_NAMES`).
    fn untranslatable(cpu: &Cpu, bus: &Bus) -> Option<usize> {
        let s = &cpu.state;
        if !s.protected() {
            Some(0)
        } else if s.v86() {
            Some(1)
        } else if s.paging() {
            Some(2)
        } else if s.intr_shadow || s.halted || s.eflags & (cpu::flags::TF | cpu::flags::AC) != 0 {
            Some(4)
        } else if Self::event_pending(cpu, bus) {
            Some(5)
        } else if !Self::flat(cpu) || !bus.mem.a20_enabled() {
            Some(3)
        } else {
            None
        }
    }

    /// Whether the board wants the interpreter's attention: a stop request,
    /// or an interrupt request that could be delivered now. (With IF=0 the
    /// IRQ flag stays up until IF is set again, which only callouts do.)
    fn event_pending(cpu: &Cpu, bus: &Bus) -> bool {
        let a = bus.attention.get();
        a & mem::Attention::STOP != 0
            || a & mem::Attention::IRQ != 0 && cpu.state.eflags & cpu::flags::IF != 0
    }

    /// CS flat (base 0, 4 GiB limit, 32-bit, readable), and DS, ES and SS
    /// writable expand-up data segments (any base and limit: the base is
    /// added and the limit checked at run time).
    fn flat(cpu: &Cpu) -> bool {
        use cpu::{attr, SegReg};
        let cs = cpu.state.seg(SegReg::Cs);
        let code_ok = cs.valid
            && cs.base == 0
            && cs.limit == 0xffff_ffff
            && cs.big()
            && cs.attr & (attr::CODE | attr::RW | attr::S) == attr::CODE | attr::RW | attr::S;
        code_ok
            && Self::data_ok(cpu, SegReg::Ds)
            && Self::data_ok(cpu, SegReg::Es)
            && Self::data_ok(cpu, SegReg::Ss)
            && cpu.state.seg(SegReg::Ss).big()
    }

    /// A usable writable expand-up data segment: an access through it is
    /// legal when it ends within the limit (checked by translated code when
    /// the limit is below 4 GiB, `MODE_LIMITS`).
    fn data_ok(cpu: &Cpu, r: cpu::SegReg) -> bool {
        use cpu::attr;
        let g = cpu.state.seg(r);
        g.valid && g.attr & (attr::S | attr::CODE | attr::DC | attr::RW) == attr::S | attr::RW
    }

    /// Run until `budget` blocks (translated) or interpreter instructions
    /// have run, or something needs the board. Another thread's raise of
    /// `bus.attention` while translated code runs ends the run early with
    /// `Exit::Budget` (a kick); the next call sees the event.
    pub fn run(&mut self, cpu: &mut Cpu, bus: &mut Bus, budget: u64) -> Exit {
        let mut left = budget.max(1);
        // The GS base is per thread; the machine may run on any thread.
        if self.window.activate().is_err() {
            return cpu.run(bus, budget);
        }
        // Another thread's raise of the attention flag must reach
        // translated code (`signal::Kick`).
        self.kick.here();
        if !bus
            .attention
            .waker()
            .is_some_and(|w| std::sync::Arc::ptr_eq(&w, &self.waker))
        {
            bus.attention.set_waker(self.waker.clone());
        }
        loop {
            self.sync_smc(cpu);
            if bus.mem.generation() != self.mem_generation {
                self.sync_memory_map(bus);
            }
            self.sync_video();
            self.sync_protection(bus);
            if let Some(why) = Self::untranslatable(cpu, bus) {
                let step = left.min(256);
                let before = cpu.stats.instructions;
                let e = cpu.run(bus, step);
                let done = cpu.stats.instructions - before;
                self.stats.by_mode[why] += done;
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
                // The code here is not in RAM or ROM: the interpreter.
                let e = self.callout(cpu, bus, None);
                if e != Exit::Budget {
                    return e;
                }
                left = left.saturating_sub(1);
                if left == 0 {
                    return Exit::Budget;
                }
                continue;
            };
            let reason = self.enter(cpu, bus, b, left);
            left = self.ctx.budget;
            self.stats.executed += self.ctx.executed;
            if reason == REASON_FAULT {
                // The faulting block was counted whole; the instructions
                // from the faulting one on did not run.
                let (fb, k) = self.insn_of_fault(self.ctx.fault_rip);
                self.stats.executed -= u64::from(self.list[fb].insns) - k as u64;
            }
            match reason {
                REASON_NEXT | REASON_MODE => cpu.state.eip = self.ctx.next_eip,
                REASON_BUDGET => {
                    cpu.state.eip = self.ctx.next_eip;
                    return Exit::Budget;
                }
                REASON_FALLBACK => {
                    cpu.state.eip = self.ctx.next_eip;
                    let known = iced_x86::Mnemonic::try_from(self.ctx.callout as usize).ok();
                    let e = self.callout(cpu, bus, known);
                    if e != Exit::Budget {
                        return e;
                    }
                }
                _ => {
                    // A host fault: the interpreter executes the faulting
                    // instruction from the same state.
                    cpu.state.eip = self.eip_of_fault(self.ctx.fault_rip);
                    self.note_fault(cpu, bus);
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

    /// The chipset changed what the legacy area routes to RAM: map the
    /// window's shadow RAM again. Translations of code there are dropped
    /// (the bytes at those addresses may now be another memory's).
    fn sync_memory_map(&mut self, bus: &Bus) {
        self.mem_generation = bus.mem.generation();
        let legacy: Vec<u64> = self
            .by_page
            .keys()
            .copied()
            .filter(|&p| (0xc0..0x100).contains(&p))
            .collect();
        for p in legacy {
            self.stats.smc_invalidations += self.drop_blocks(p, |_| true);
        }
        let by_page = &self.by_page;
        // Should a mapping fail (host resources), the pages it did not
        // reach stay inaccessible: their accesses fault and are emulated.
        let _ = self.window.sync_shadow(&bus.mem, |p| by_page.contains_key(&p));
    }

    /// Give translated code the board's video memory as plain memory where
    /// the device allows it (see [`VideoMemory`]).
    pub fn set_video(&mut self, video: Box<dyn VideoMemory>) {
        self.video = Some(video);
        self.video_map.generation = u64::MAX;
    }

    /// Follow the video device: map its plain windows again when they
    /// changed, and write-protect the pages written since it last drew.
    fn sync_video(&mut self) {
        let Some(v) = self.video.as_ref() else {
            return;
        };
        let map = &mut self.video_map;
        if v.generation() != map.generation {
            map.generation = v.generation();
            for &(at, len) in &map.ranges {
                let _ = self.window.unmap(at, len);
            }
            map.ranges.clear();
            map.pages.clear();
            let fd = v.fd();
            for (at, off, len) in v.windows() {
                // Only holes of the guest address space (never RAM or ROM).
                if at % 4096 != 0 || len % 4096 != 0 || self.window.is_ram_page(at >> 12) {
                    continue;
                }
                if self.window.map_file(at, len, fd, off, false).is_ok() {
                    map.ranges.push((at, len));
                    for k in 0..len / 4096 {
                        map.pages.insert((at >> 12) + k, (off + k * 4096, false));
                    }
                }
            }
            map.epoch = v.dirty_epoch();
            self.stats.video_remaps += 1;
        } else if v.dirty_epoch() != map.epoch {
            map.epoch = v.dirty_epoch();
            for (&page, (_, writable)) in map.pages.iter_mut() {
                if *writable && self.window.protect_page(page, false).is_ok() {
                    *writable = false;
                }
            }
        }
    }

    /// A write fault on a read-only video page: the device hears of the
    /// page, which stays writable until it draws. Returns whether the fault
    /// was one.
    fn video_write_fault(&mut self, phys: u64) -> bool {
        let Some(v) = self.video.as_mut() else {
            return false;
        };
        let Some((off, writable)) = self.video_map.pages.get_mut(&(phys >> 12)) else {
            return false;
        };
        if *writable {
            return false;
        }
        v.mark_dirty(*off, 4096);
        if self.window.protect_page(phys >> 12, true).is_ok() {
            *writable = true;
        }
        self.stats.video_dirty_pages += 1;
        true
    }

    /// The interpreter executes the instruction at EIP for translated code
    /// (a callout), counted by mnemonic.
    fn callout(&mut self, cpu: &mut Cpu, bus: &mut Bus, known: Option<iced_x86::Mnemonic>) -> Exit {
        self.stats.fallbacks += 1;
        let m = known.unwrap_or_else(|| {
            peek_code(bus, cpu.state.eip).map_or(iced_x86::Mnemonic::INVALID, |b| {
                iced_x86::Decoder::with_ip(32, &b, 0, iced_x86::DecoderOptions::NONE)
                    .decode()
                    .mnemonic()
            })
        });
        *self.stats.callouts.entry(m).or_default() += 1;
        let eip = cpu.state.eip;
        if let Some(n) = self.callout_eips.get_mut(&eip) {
            // Try it as host code again now and then: what it faulted on
            // (translated code sharing a page with data, say) may be gone.
            *n -= 1;
            if *n == 0 {
                self.callout_eips.remove(&eip);
                self.fault_counts.remove(&eip);
                // The blocks that end in this callout, and the one that is
                // just this callout, are translated again.
                let page = u64::from(eip.wrapping_sub(1)) >> 12;
                self.drop_blocks(page, |b| b.eip.wrapping_add(b.guest_len) == eip);
                self.drop_blocks(u64::from(eip) >> 12, |b| b.eip == eip);
            }
        }
        cpu.run(bus, 1)
    }

    /// Classify and count a host fault at the instruction at EIP; an
    /// instruction that keeps faulting is retranslated as a callout.
    fn note_fault(&mut self, cpu: &Cpu, bus: &mut Bus) {
        let c = &*self.ctx;
        let kind = if c.fault_signo == libc::SIGFPE as u32 {
            self.stats.faults_fpe += 1;
            // x87 and MMX instructions, WAIT: #MF; otherwise a division.
            let b = peek_code(bus, cpu.state.eip).unwrap_or_default();
            let i = iced_x86::Decoder::with_ip(32, &b, 0, iced_x86::DecoderOptions::NONE).decode();
            if translate::is_fpu(&i) {
                5
            } else {
                4
            }
        } else {
            self.stats.faults_segv += 1;
            let phys = c.fault_addr.wrapping_sub(c.window_base);
            if self.video_write_fault(phys) {
                // The interpreter makes this write (through the device);
                // the next ones go straight to video memory.
                return;
            }
            match bus.mem.region(mem::PhysAddr(phys)) {
                mem::Region::Rom(_) => 1,
                mem::Region::Ram(_) if self.protected.contains(&(phys >> 12)) => 2,
                mem::Region::Ram(_) => 3,
                _ => 0,
            }
        };
        self.stats.faults[kind] += 1;
        if kind >= 4 {
            return;
        }
        let eip = cpu.state.eip;
        let n = self.fault_counts.entry(eip).or_default();
        *n += 1;
        if *n >= HOT_FAULTS && self.callout_eips.insert(eip, CALLOUT_RETRY).is_none() {
            self.stats.retranslations += 1;
            self.drop_blocks(u64::from(eip) >> 12, |b| {
                eip.wrapping_sub(b.eip) < b.guest_len.max(1)
            });
        }
    }

    /// Enter translated code at block `b` with the CPU's state.
    fn enter(&mut self, cpu: &mut Cpu, bus: &mut Bus, b: usize, budget: u64) -> u32 {
        use cpu::flags;
        let target = self.checked_of(b);
        let c = &mut *self.ctx;
        c.regs = cpu.state.regs;
        for (k, b) in c.seg_base.iter_mut().enumerate() {
            *b = cpu.state.segs[k].base;
        }
        for (k, l) in c.seg_limit_neg.iter_mut().enumerate() {
            *l = -(i64::from(cpu.state.segs[k].limit) + 1);
        }
        let keep = flags::ARITH | flags::DF;
        c.rflags = u64::from(cpu.state.eflags & keep) | 0x202;
        c.target = target;
        let mode = usize::from(self.list[b].mode);
        let miss = self.miss;
        let table = self.ibtc[mode].get_or_insert_with(|| vec![miss; IBTC_SIZE].into_boxed_slice());
        c.ibtc = table.as_ptr() as u64;
        c.budget = budget;
        c.executed = 0;
        c.reason = u32::MAX;
        // The guest FPU state: the image is rebuilt only when the
        // interpreter changed the state since it was made; the host FPU
        // loads it when translated code first needs it.
        let fpu = &cpu.state.fpu;
        if self.fpu_cached.as_ref() != Some(fpu) {
            fpu.fxsave(&mut c.fpu_image.0);
            self.fpu_cached = Some(fpu.clone());
        }
        c.fpu_loaded = 0;
        c.fpu_opseg = u32::MAX;
        self.stats.entries += 1;
        let ctx_ptr: *mut Context = c;
        signal::ACTIVE.with(|a| a.set(ctx_ptr));
        // From here a raise from another thread sends a kick; one that came
        // just before is seen here (see `Kick::waker`).
        self.kick.set_in_code(true);
        if Self::event_pending(cpu, bus) {
            // SAFETY: our own live context; volatile as the kick handler's
            // stores are.
            unsafe { std::ptr::write_volatile(std::ptr::addr_of_mut!((*ctx_ptr).budget), 0) };
        }
        let f: extern "sysv64" fn(*mut Context) =
            // SAFETY: `entry` is the entry stub emitted by `emit_runtime`,
            // which follows the SysV ABI (saves callee-saved registers,
            // keeps RSP aligned, returns with DF clear).
            unsafe { std::mem::transmute::<u64, extern "sysv64" fn(*mut Context)>(self.entry) };
        f(ctx_ptr);
        self.kick.set_in_code(false);
        signal::ACTIVE.with(|a| a.set(std::ptr::null_mut()));
        let c = &mut *self.ctx;
        self.stats.kicks += std::mem::take(&mut c.kicks);
        cpu.state.regs = c.regs;
        cpu.state.eflags = (cpu.state.eflags & !keep) | (c.rflags as u32 & keep);
        let reason = c.reason;
        if c.fpu_loaded != 0 {
            self.fpu_back(cpu, bus);
        }
        reason
    }

    /// Take the guest FPU state back from the image the exit stub saved,
    /// with the guest's last-instruction pointers (the host's are host
    /// addresses).
    fn fpu_back(&mut self, cpu: &mut Cpu, bus: &mut Bus) {
        let c = &mut *self.ctx;
        c.fpu_loaded = 0;
        let sel = |s: cpu::SegReg| cpu.state.seg(s).selector;
        let cs = sel(cpu::SegReg::Cs);
        let ds = cpu::SegReg::ALL
            .get((c.fpu_opseg >> 16) as usize)
            .map(|&s| sel(s));
        let f = &mut cpu.state.fpu;
        let (fip, fop, fcs, fdp, fds) = (f.fip, f.fop, f.fcs, f.fdp, f.fds);
        f.fxrstor(&c.fpu_image.0);
        (f.fip, f.fop, f.fcs, f.fdp, f.fds) = (fip, fop, fcs, fdp, fds);
        if c.fpu_opseg & 0xffff != 0xffff {
            f.fip = c.fpu_fip;
            f.fop = c.fpu_opseg as u16 & 0x7ff;
            f.fcs = cs;
        }
        if let Some(ds) = ds {
            f.fdp = c.fpu_fdp;
            f.fds = ds;
        }
        self.fpu_cached = Some(cpu.state.fpu.clone());
        cpu.fpu_replaced(bus);
    }

    /// The guest EIP of the instruction at host address `rip`.
    fn eip_of_fault(&self, rip: u64) -> u32 {
        let (b, k) = self.insn_of_fault(rip);
        self.list[b].map.get(k).map_or(self.list[b].eip, |m| m.1)
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
        let mode = mode_of(cpu);
        if let Some(&b) = self.blocks.get(&(eip, phys, mode)) {
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
        let env = translate::Env {
            rx,
            exit: self.exit,
            fpu_load: self.fpu_load,
            miss: self.miss,
            mode,
            callouts: &self.callout_eips,
            max_insns: self.max_insns,
        };
        let t = translate(&bytes, eip, &env)?;
        let off = self.cache.push(&t.code)?;
        if self.trace {
            eprint!("{}", listing(&t, &bytes, eip, rx));
        }
        self.stats.translate_time += t0.elapsed();
        self.stats.blocks += 1;
        self.stats.insns_translated += u64::from(t.insns);
        self.stats.host_bytes += t.code.len() as u64;
        let page = phys >> 12;
        let idx = self.list.len();
        self.list.push(Block {
            rx_off: off,
            verify: t.verify,
            checked: t.checked,
            entry: t.entry,
            mode,
            len: t.code.len(),
            map: t.map,
            eip,
            guest_len: t.guest_len,
            insns: t.insns,
        });
        self.blocks.insert((eip, phys, mode), idx);
        self.by_page.entry(page).or_default().push(idx);
        // Writes to this code must be seen: by the interpreter's tracking
        // (mark_code) and, for translated stores, by a read-only mapping.
        cpu.mark_code(bus, mem::PhysAddr(phys), u64::from(t.guest_len.max(1)));
        if self.protected.insert(page) {
            let _ = self.window.set_code_page(page, true);
        }
        // Chaining: this block's exits to blocks that exist jump straight
        // there; exits elsewhere that wait for this EIP now come here.
        for x in &t.exits {
            let (at, target) = (x.at as usize, x.target);
            let mut p = Patch {
                at: off + at,
                rel32: x.rel32,
                backward: x.backward || self.check_every_block,
                original: [0; 5],
            };
            let n = p.len();
            p.original[..n].copy_from_slice(&t.code[at..at + n]);
            match self.blocks.get(&(target, u64::from(target), mode)) {
                Some(&tb) => self.link(p, tb, target),
                None => self.pending.entry((target, mode)).or_default().push(p),
            }
        }
        if let Some(waiting) = self.pending.remove(&(eip, mode)) {
            for p in waiting {
                self.link(p, idx, eip);
            }
        }
        self.ibtc_set(eip, idx);
        Some(idx)
    }

    /// Host address of block `b`'s entry (forward edges).
    fn entry_of(&self, b: usize) -> u64 {
        self.cache
            .rx_addr(self.list[b].rx_off + self.list[b].entry as usize)
    }

    /// Host address of block `b`'s entry with the budget check (backward
    /// edges, the run loop).
    fn checked_of(&self, b: usize) -> u64 {
        self.cache
            .rx_addr(self.list[b].rx_off + self.list[b].checked as usize)
    }

    /// Host address of block `b`'s indirect-branch entry.
    fn verify_of(&self, b: usize) -> u64 {
        self.cache
            .rx_addr(self.list[b].rx_off + self.list[b].verify as usize)
    }

    fn ibtc_set(&mut self, eip: u32, b: usize) {
        let host = self.verify_of(b);
        let miss = self.miss;
        let table = self.ibtc[usize::from(self.list[b].mode)]
            .get_or_insert_with(|| vec![miss; IBTC_SIZE].into_boxed_slice());
        table[eip as usize & (IBTC_SIZE - 1)] = host;
    }

    /// Block `b` is going: no table entry may lead to it any more.
    fn ibtc_drop(&mut self, eip: u32, b: usize) {
        let host = self.verify_of(b);
        if let Some(table) = self.ibtc[usize::from(self.list[b].mode)].as_mut() {
            let e = &mut table[eip as usize & (IBTC_SIZE - 1)];
            if *e == host {
                *e = self.miss;
            }
        }
    }

    /// Make exit stub `p` jump to block `b` (at `eip`).
    fn link(&mut self, p: Patch, b: usize, eip: u32) {
        let from = self.cache.rx_addr(p.at) + p.len() as u64;
        let to = if p.backward {
            self.checked_of(b)
        } else {
            self.entry_of(b)
        };
        let rel = (to.wrapping_sub(from) as i64 as i32).to_le_bytes();
        if p.rel32 {
            self.cache.patch(p.at, &rel);
        } else {
            let mut jmp = [0xe9, 0, 0, 0, 0];
            jmp[1..].copy_from_slice(&rel);
            self.cache.patch(p.at, &jmp);
        }
        self.incoming.entry(b).or_default().push((p, eip));
        self.stats.chain_patches += 1;
    }

    /// Undo the chaining into block `b` (its code is being dropped).
    fn unlink(&mut self, b: usize) {
        let mode = self.list[b].mode;
        for (p, eip) in self.incoming.remove(&b).unwrap_or_default() {
            self.cache.patch(p.at, &p.original[..p.len()]);
            self.pending.entry((eip, mode)).or_default().push(p);
        }
    }

    /// Drop every translation (the guest's memory was replaced from
    /// outside, or a test reuses the engine).
    pub fn reset(&mut self) {
        self.flush();
        self.fault_counts.clear();
        self.callout_eips.clear();
    }

    /// Drop every translation.
    fn flush(&mut self) {
        self.recheck.extend(self.by_page.keys().copied());
        self.blocks.clear();
        self.list.clear();
        self.by_page.clear();
        self.pending.clear();
        self.incoming.clear();
        for table in self.ibtc.iter_mut().flatten() {
            table.fill(self.miss);
        }
        self.cache.truncate(self.runtime_len);
        self.stats.flushes += 1;
    }

    /// Drop blocks whose code was written (reported by the interpreter).
    fn sync_smc(&mut self, cpu: &mut Cpu) {
        let log = cpu.take_smc_log();
        for (page, mask) in log {
            // Its code may be gone: the page may become writable.
            self.recheck.push(page);
            let dropped = self.drop_blocks(page, |bl| {
                let lo = u64::from(bl.eip) & 0xfff;
                let hi = (lo + u64::from(bl.guest_len.max(1)) - 1).min(0xfff);
                let g = mem::CODE_GRANULE;
                let covered = (lo / g..=hi / g).fold(0u64, |m, i| m | 1 << i);
                covered & mask != 0
            });
            self.stats.smc_invalidations += dropped;
        }
    }

    /// Write-protect, in the window, the RAM pages that hold code, whoever
    /// decoded it: translated stores do not pass through `mem`'s write
    /// path, so code only the interpreter ran (real-mode code, a callout's
    /// page) would otherwise be rewritten unseen and the interpreter would
    /// run stale decodings. Pages whose code is gone (no block left on
    /// them, no granule marked in `mem`) become writable again. Runs before
    /// translated code is entered; pages are made writable only here.
    fn sync_protection(&mut self, bus: &mut Bus) {
        self.recheck.extend(bus.mem.take_fresh_code_pages());
        for page in std::mem::take(&mut self.recheck) {
            let want = self.by_page.contains_key(&page) || bus.mem.is_code(mem::PhysAddr(page << 12));
            if want != self.protected.contains(&page) && self.window.set_code_page(page, want).is_ok() {
                if want {
                    self.protected.insert(page);
                } else {
                    self.protected.remove(&page);
                }
            }
        }
    }

    /// Drop the blocks on guest page `page` that `hit` selects (unchained,
    /// out of the lookup tables); the page may become writable again when
    /// no block is left on it (`sync_protection`). Returns how many were
    /// dropped.
    fn drop_blocks(&mut self, page: u64, hit: impl Fn(&Block) -> bool) -> u64 {
        let Some(list) = self.by_page.get(&page) else {
            return 0;
        };
        let hit: Vec<usize> = list.iter().copied().filter(|&b| hit(&self.list[b])).collect();
        if hit.is_empty() {
            return 0;
        }
        for b in &hit {
            let (eip, mode) = (self.list[*b].eip, self.list[*b].mode);
            self.blocks.remove(&(eip, u64::from(eip), mode));
            self.ibtc_drop(eip, *b);
            self.unlink(*b);
        }
        // The dropped blocks' own exits are dead code now: forget them, or
        // later blocks at their targets would patch them again (and code
        // that keeps rewriting itself would pile them up).
        let dead: Vec<(usize, usize)> = hit
            .iter()
            .map(|&b| (self.list[b].rx_off, self.list[b].rx_off + self.list[b].len))
            .collect();
        let live = |p: &Patch| !dead.iter().any(|&(lo, hi)| (lo..hi).contains(&p.at));
        self.pending.retain(|_, v| {
            v.retain(&live);
            !v.is_empty()
        });
        for v in self.incoming.values_mut() {
            v.retain(|(p, _)| live(p));
        }
        let list = self.by_page.get_mut(&page).expect("page listed above");
        list.retain(|b| !hit.contains(b));
        if list.is_empty() {
            self.by_page.remove(&page);
            self.recheck.push(page);
        }
        hit.len() as u64
    }
}

/// The 15 bytes at guest-physical `eip` when they are RAM or ROM (reading
/// MMIO could have side effects).
fn peek_code(bus: &mut Bus, eip: u32) -> Option<[u8; 15]> {
    let plain = |a: u64| {
        matches!(
            bus.mem.region(mem::PhysAddr(a)),
            mem::Region::Ram(_) | mem::Region::Rom(_)
        )
    };
    let at = u64::from(eip);
    if !plain(at) || !plain(at + 14) {
        return None;
    }
    let mut b = [0u8; 15];
    bus.mem.read(mem::PhysAddr(at), &mut b);
    Some(b)
}

/// Executable addresses of the runtime stubs at the start of the cache.
struct Runtime {
    entry: u64,
    exit: u64,
    fault_exit: u64,
    fpu_load: u64,
    miss: u64,
    /// Stub code during which r13 holds the block budget: the entry stub
    /// after it loaded it, and the FPU-load helper (called from blocks).
    budget_in_r13: [[u64; 2]; 2],
}

/// Emit the entry stub, the exit stub, the fault-exit stub and the FPU-load
/// helper at the start of the cache.
fn emit_runtime(cache: &mut cache::CodeCache) -> Runtime {
    let r = |f: usize| {
        assert!(f < 128, "context field {f} beyond a disp8");
        f as u8
    };
    let regs = offset_of!(Context, regs);
    let rflags = r(offset_of!(Context, rflags));
    let target = (offset_of!(Context, target) as u32).to_le_bytes();
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
    // mov r32, [r15 + regs + 4k] (0x8b) or mov [r15 + regs + 4k], r32 (0x89)
    // for each guest register.
    let moves = |opcode: u8| -> Vec<u8> {
        host.iter()
            .enumerate()
            .flat_map(|(k, &(reg, rex_r))| {
                [
                    if rex_r { 0x45 } else { 0x41 },
                    opcode,
                    0x47 | (reg << 3),
                    r(regs + 4 * k),
                ]
            })
            .collect()
    };
    entry.extend(moves(0x8b));
    entry.extend_from_slice(&[0x4d, 0x8b, 0x6f, budget]); // mov r13, [r15+budget]
    let budget_loaded = entry.len() as u64;
    entry.extend_from_slice(&[0x4d, 0x8b, 0x77, executed]); // mov r14, [r15+executed]
    entry.extend_from_slice(&[0x41, 0xff, 0x77, rflags, 0x9d]); // push [r15+rflags]; popfq
    entry.extend_from_slice(&[0x41, 0xff, 0xa7]); // jmp [r15+target]
    entry.extend_from_slice(&target);
    let entry_off = cache.push(&entry).expect("empty cache has room");
    let entry_rx = cache.rx_addr(entry_off);
    let entry_tail = [entry_rx + budget_loaded, entry_rx + entry.len() as u64];

    let mut exit = vec![0x9c, 0x41, 0x8f, 0x47, rflags]; // pushfq; pop [r15+rflags]
    exit.extend(moves(0x89));
    // If translated code loaded the guest FPU state: fxsave [r15+image];
    // fninit (the host FPU is left as the ABI expects it).
    let loaded = r(offset_of!(Context, fpu_loaded));
    let image = (offset_of!(Context, fpu_image) as u32).to_le_bytes();
    exit.extend_from_slice(&[0x41, 0x80, 0x7f, loaded, 0x00, 0x74, 0x0a, 0x41, 0x0f, 0xae, 0x87]);
    exit.extend_from_slice(&image);
    exit.extend_from_slice(&[0xdb, 0xe3]);
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

    // FPU load (called, flag-neutral): stmxcsr [r15+host_mxcsr];
    // fxrstor [r15+image]; ldmxcsr [r15+host_mxcsr]; mov byte
    // [r15+fpu_loaded], 1; ret. The host keeps its own MXCSR.
    let mxcsr = (offset_of!(Context, host_mxcsr) as u32).to_le_bytes();
    let mut load = vec![0x41, 0x0f, 0xae, 0x9f];
    load.extend_from_slice(&mxcsr);
    load.extend_from_slice(&[0x41, 0x0f, 0xae, 0x8f]);
    load.extend_from_slice(&image);
    load.extend_from_slice(&[0x41, 0x0f, 0xae, 0x97]);
    load.extend_from_slice(&mxcsr);
    load.extend_from_slice(&[0x41, 0xc6, 0x47, loaded, 0x01, 0xc3]);
    let load_off = cache.push(&load).expect("room");
    let load_rx = cache.rx_addr(load_off);

    // Indirect-branch miss: mov [r15+next_eip], r11d; mov dword
    // [r15+reason], NEXT; jmp exit.
    let miss_rx = cache.rx_addr(cache.next_offset());
    let mut miss = vec![0x45, 0x89, 0x5f, r(offset_of!(Context, next_eip))];
    miss.extend_from_slice(&[0x41, 0xc7, 0x47, r(offset_of!(Context, reason))]);
    miss.extend_from_slice(&REASON_NEXT.to_le_bytes());
    let rel = exit_rx.wrapping_sub(miss_rx + miss.len() as u64 + 5) as i64 as i32;
    miss.push(0xe9);
    miss.extend_from_slice(&rel.to_le_bytes());
    let miss_off = cache.push(&miss).expect("room");
    Runtime {
        miss: cache.rx_addr(miss_off),
        entry: entry_rx,
        exit: exit_rx,
        fault_exit: fault_rx,
        fpu_load: load_rx,
        budget_in_r13: [entry_tail, [load_rx, load_rx + load.len() as u64]],
    }
}
