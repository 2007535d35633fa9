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
//! What is translated so far: 32-bit protected-mode code with paging off,
//! at CPL 0 or 3, with a flat CS and DS, ES, SS (FS, GS) that are writable
//! expand-up data segments: bases are added and limits checked at run time
//! (`docs/translator.md`). Every
//! other mode, and every instruction the translator does not handle (the
//! sensitive and privileged ones among them), runs in the interpreter, one
//! instruction at a time, and is counted. A host fault in translated code
//! (an MMIO or ROM access, a write to a page holding translated code, #DE)
//! is resolved by letting the interpreter execute that instruction from the
//! same state, which gives exactly the interpreter's result.

#[cfg(bt_host)]
mod cache;
#[cfg(bt_host)]
mod engine;
#[cfg(bt_host)]
mod signal;
mod translate;
#[cfg(not(bt_host))]
mod unsupported;
#[cfg(bt_host)]
mod window;

#[cfg(bt_host)]
pub use engine::Bt;

/// Whether this build has the translator's runtime (x86-64 Linux hosts;
/// elsewhere `Bt::new` fails and the machine runs the interpreter).
pub const AVAILABLE: bool = cfg!(bt_host);
#[cfg(not(bt_host))]
pub use unsupported::Bt;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// The hasher of the translator's tables: a rotate, an xor and a multiply
/// per word (the keys are small integers: EIPs, pages, block numbers; the
/// tables need speed on every block lookup, not resistance to chosen keys).
#[derive(Clone, Copy, Debug, Default)]
pub struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for FastHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(u64::from(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.add(u64::from(v));
    }
    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.add(u64::from(v));
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.add(u64::from(v));
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
}

/// A hash map with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

pub use translate::{listing, translate, Env, Translation};

/// The listing of the block at `eip` (guest bytes from `eip` on) as the
/// translator would emit it in `mode` (`MODE_*` bits) at fixed host addresses (the golden-listing
/// tests; `--trace-translation` prints the real ones). None when the first
/// instruction is left to the interpreter.
pub fn listing_at_fixed_addresses(bytes: &[u8], eip: u32, mode: u8) -> Option<String> {
    const RX: u64 = 0x7f00_0010_0000;
    let callouts = FastMap::default();
    let env = Env {
        rx: RX,
        exit: 0x7f00_0000_0040,
        fpu_load: 0x7f00_0000_0100,
        miss: 0x7f00_0000_0140,
        mode,
        callouts: &callouts,
        max_insns: translate::MAX_INSNS,
    };
    let t = translate(bytes, eip, &env)?;
    Some(listing(&t, bytes, eip, RX))
}

/// Video memory the board lets translated code reach as plain memory (the
/// VGA's chain-4 window, a linear framebuffer): the device keeps it in a
/// file the translator maps into the guest window. The device must learn
/// of writes made through the mapping, page by page, to redraw them: the
/// translator maps the pages read-only, and the first write to each after
/// the device last consumed its dirty state (`dirty_epoch`) faults; the
/// translator reports the page (`mark_dirty`) and makes it writable until
/// the epoch changes.
pub trait VideoMemory {
    /// The file holding video memory.
    fn fd(&self) -> i32;
    /// Where video memory is plain memory now: (guest-physical address,
    /// offset in the file, length), page-aligned.
    fn windows(&self) -> Vec<(u64, u64, u64)>;
    /// Changes whenever `windows` may.
    fn generation(&self) -> u64;
    /// Changes whenever the device consumed its dirty state.
    fn dirty_epoch(&self) -> u64;
    /// Bytes at this offset were (or are about to be) written through a
    /// mapping.
    fn mark_dirty(&mut self, offset: u64, len: u64);
}

/// Reasons a block returns to the run loop (`Context::reason`).
pub const REASON_NEXT: u32 = 0;
/// The block budget ran out; `next_eip` is the block that was to run.
pub const REASON_BUDGET: u32 = 1;
/// A host fault; `fault_rip` says where.
pub const REASON_FAULT: u32 = 2;
/// The next instruction must run in the interpreter.
pub const REASON_FALLBACK: u32 = 3;
/// Continue at `next_eip` in another mode (not chained: the block there is
/// looked up for the new mode).
pub const REASON_MODE: u32 = 4;

/// What translated code reads and writes (`#[repr(C)]`; offsets are used
/// by the generated code: the fields it touches often come first, within a
/// disp8 of r15).
#[derive(Debug)]
#[repr(C, align(64))]
pub struct Context {
    /// Guest EAX..EDI (ESP at index 4).
    pub regs: [u32; 8],
    /// Host RFLAGS image: guest arithmetic flags and DF.
    pub rflags: u64,
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
    /// The indirect-branch table: 65,536 entries of (guest EIP and mode,
    /// host address), indexed by the low 16 bits of the EIP.
    pub ibtc: u64,
    /// Guest segment bases (ES, CS, SS, DS, FS, GS), for accesses through
    /// segments whose base is not zero.
    pub seg_base: [u32; 6],
    /// Whether the host FPU holds the guest's x87/MMX state (set by the
    /// load helper on the first x87 instruction after entry; the exit stub
    /// then saves it into `fpu_image`).
    pub fpu_loaded: u8,
    _pad0: [u8; 3],
    /// Guest FIP of the last non-control x87 instruction translated code
    /// executed (the host's own FIP would be a host address).
    pub fpu_fip: u32,
    /// Its FOP (low half; 0xffff when none ran since entry) and the
    /// segment (ES..GS as 0..5) of the memory operand of the last such
    /// instruction that had one (high half; 0xffff for none since entry).
    pub fpu_opseg: u32,
    /// That memory operand's offset.
    pub fpu_fdp: u32,
    /// The mnemonic (`iced_x86::Mnemonic` as a number) of the instruction
    /// a `REASON_FALLBACK` exit leaves to the interpreter.
    pub callout: u32,
    /// The host's MXCSR, kept across the guest state's FXRSTOR.
    pub host_mxcsr: u32,
    /// Host address to enter.
    pub target: u64,
    /// Host RIP of a fault.
    pub fault_rip: u64,
    /// Faulting data address.
    pub fault_addr: u64,
    /// Signal number of a fault.
    pub fault_signo: u32,
    _pad2: u32,
    /// This engine's code cache (executable range) and fault-exit stub,
    /// for the signal handler.
    pub rx_start: u64,
    /// End of the executable range.
    pub rx_end: u64,
    /// Where blocks start in it (the runtime stubs come first).
    pub blocks_start: u64,
    /// Stub code during which r13 holds the block budget (for kicks).
    pub budget_in_r13: [[u64; 2]; 2],
    /// Where a fault resumes.
    pub fault_exit: u64,
    /// Kicks the signal handler took since the run loop last looked.
    pub kicks: u64,
    /// Minus (limit + 1) of each guest segment (ES, CS, SS, DS, FS, GS):
    /// with `MODE_LIMITS`, an access of `size` bytes at offset `ea` is
    /// within the limit when `ea + size - 1 + seg_limit_neg` is negative.
    pub seg_limit_neg: [i64; 6],
    /// The guest x87/MMX state as an FXSAVE image (16-byte aligned), loaded
    /// into the host FPU on demand and saved back at exit.
    pub fpu_image: FxArea,
}

/// A 512-byte FXSAVE/FXRSTOR area.
#[derive(Clone, Debug)]
#[repr(C, align(16))]
pub struct FxArea(pub [u8; 512]);

impl Default for Context {
    fn default() -> Self {
        Self {
            regs: [0; 8],
            rflags: 0,
            next_eip: 0,
            reason: 0,
            budget: 0,
            executed: 0,
            window_base: 0,
            ibtc: 0,
            seg_base: [0; 6],
            fpu_loaded: 0,
            _pad0: [0; 3],
            fpu_fip: 0,
            fpu_opseg: u32::MAX,
            fpu_fdp: 0,
            callout: u32::MAX,
            host_mxcsr: 0,
            target: 0,
            fault_rip: 0,
            fault_addr: 0,
            fault_signo: 0,
            _pad2: 0,
            rx_start: 0,
            rx_end: 0,
            blocks_start: 0,
            budget_in_r13: [[0; 2]; 2],
            fault_exit: 0,
            kicks: 0,
            seg_limit_neg: [0; 6],
            fpu_image: FxArea([0; 512]),
        }
    }
}

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
    /// Instructions the interpreter executed at a translated block's
    /// request (not translated: sensitive, privileged or not yet handled),
    /// by mnemonic.
    pub callouts: FastMap<iced_x86::Mnemonic, u64>,
    /// Instructions interpreted because the CPU was in a mode the
    /// translator does not handle, by mode (`MODE_NAMES`).
    pub by_mode: [u64; MODE_NAMES.len()],
    /// Host faults in translated code by kind (`FAULT_NAMES`).
    pub faults: [u64; FAULT_NAMES.len()],
    /// Instructions retranslated as callouts because they kept faulting.
    pub retranslations: u64,
    /// Times the video memory windows were mapped again.
    pub video_remaps: u64,
    /// Video pages made writable after a first write (each one reported
    /// to the device as dirty).
    pub video_dirty_pages: u64,
    /// Times another thread's raise of the attention flag made translated
    /// code leave for the run loop.
    pub kicks: u64,
}

/// Why the interpreter ran instead of translated code (`BtStats::by_mode`).
pub const MODE_NAMES: [&str; 6] = [
    "real mode",
    "virtual-8086 mode",
    "paging",
    "16-bit code or other segments",
    "interrupt shadow, TF or halt",
    "pending event",
];

/// Host faults in translated code (`BtStats::faults`).
pub const FAULT_NAMES: [&str; 6] = [
    "MMIO or unmapped",
    "ROM write",
    "write to a code page",
    "legacy-area RAM",
    "#DE",
    "x87 #MF",
];

/// Mode bit of a block's key: x87 and MMX instructions run on the host FPU
/// (CR0.EM and CR0.TS clear; otherwise they are left to the interpreter,
/// which raises #NM or #UD).
pub const MODE_FPU: u8 = 1;

/// Mode bit: DS has a base other than 0 (added at run time).
pub const MODE_DS_BASE: u8 = 2;
/// Mode bit: ES has a base other than 0.
pub const MODE_ES_BASE: u8 = 4;
/// Mode bit: SS has a base other than 0 (stack instructions are left to
/// the interpreter).
pub const MODE_SS_BASE: u8 = 8;
/// Mode bit: FS is a 4 GiB writable data segment (accesses through it are
/// translated, its base added at run time).
pub const MODE_FS: u8 = 16;
/// Mode bit: GS likewise.
pub const MODE_GS: u8 = 32;
/// Mode bit: the direction flag is set (string instructions step down).
pub const MODE_DF: u8 = 64;
/// Mode bit: a segment translated code reaches (DS, ES, SS, or FS/GS with
/// `MODE_FS`/`MODE_GS`) has a limit below 4 GiB. Explicit memory operands
/// are then checked against their segment's limit at run time (an access
/// beyond it leaves the instruction to the interpreter, which raises #GP
/// or #SS); string instructions are left to the interpreter.
pub const MODE_LIMITS: u8 = 128;
