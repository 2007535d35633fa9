//! The host-CPU oracle: runs one 32-bit user-level instruction natively, in
//! compatibility mode, inside this (64-bit) process.
//!
//! # How it works
//! A 64-bit Linux process may switch to the flat 32-bit user code segment `__USER32_CS`
//! (selector 0x23) with a far return, and back to `__USER_CS` (0x33) with a far jump,
//! provided the code and the stack it uses lie below 4 GiB. Everything the 32-bit code
//! touches therefore lives at fixed low addresses, mapped once with `MAP_FIXED_NOREPLACE`:
//!
//! | address       | contents                                                   |
//! |---------------|------------------------------------------------------------|
//! | `0x0010_0000` | 64-bit trampoline: save callee-saved registers, RSP and the FPU/SSE state (`fxsave64`), `retfq` to 0x23 |
//! | `0x0010_0100` | 64-bit landing pad: restore RSP, registers, the FPU/SSE state and a clean RFLAGS, `ret` |
//! | `0x0010_0200` | 32-bit fault stub: store the FPU state, `jmp far 0x33:landing` |
//! | `0x0010_0400` | 32-bit snippet: `fxrstor` the case's FPU state, load registers, `popfd`, *the case's code*, store registers, `fxsave`/`fnstenv`, `pushfd`, `jmp far 0x33:landing` |
//! | `0x0010_1000` | state block (registers, EFLAGS and FXSAVE images in and out, saved RSP, fault record) |
//! | `0x0010_2000`–`0x0011_0000` | the 32-bit stack |
//! | `0x0020_0000` | the data window ([`DATA_BASE`]), with `PROT_NONE` guard pages on both sides |
//!
//! An exception raised by the case's instruction (#DE, #UD, #GP, #PF…) reaches the process
//! as a signal (SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGTRAP). The kernel delivers it to our
//! 64-bit handler with a 64-bit frame even though the faulting code ran in compatibility
//! mode; `uc_mcontext` holds the vector (`REG_TRAPNO`), the error code and the registers at
//! the fault. The handler records them and points RIP at the 32-bit fault stub, so
//! `sigreturn` resumes in compatibility mode and the stub goes home. Signals that did not
//! come from our code page in the 32-bit code segment are passed on to the handler that was
//! installed before ours (std's stack-overflow handler, for instance).
//!
//! The signal frame is written on an alternate signal stack of our own (`SA_ONSTACK`), set
//! for the duration of each run: the case may leave ESP anywhere, and a 64-bit frame with
//! AVX-512 state needs several KiB.
//!
//! The x87/MMX state travels as a 32-bit FXSAVE image: the snippet loads the case's
//! image with FXRSTOR and stores the result with FXSAVE (non-waiting: a pending unmasked
//! exception stays pending) and FNSTENV (for the full tag word, which only the legacy
//! formats hold). An unmasked x87 exception surfaces as #MF (SIGFPE, trap number 16) at
//! the next waiting instruction; the kernel saves the FPU state in the signal frame and
//! restores it on `sigreturn`, so the fault stub stores the state at the fault the same
//! way. The process's own FPU/SSE state is saved by the trampoline and restored by the
//! landing pad, whatever the case left behind (a pending exception, other masks, MMX tags).
//!
//! Only one case runs at a time in a process (the fixed addresses are shared): a mutex
//! serialises callers.
//!
//! Measured here: about 1.5 µs a case (two `sigaltstack` calls, a signal-free mode switch
//! there and back, the window copied in and out, the FPU state saved and restored twice);
//! a fault adds a signal round trip.
//!
//! # Why in-process compatibility mode
//! The alternatives cost more and check less: a separate 32-bit helper process (built with
//! `nasm`/`ld -m elf_i386`, fed cases over a pipe) needs a context switch per case and a
//! second toolchain in the build; ptrace single-stepping is slower still; KVM is not
//! available on these machines. Compatibility mode runs the instruction on the same
//! silicon with the same 32-bit semantics (operand sizes, INC/DEC, BOUND, INTO, DAA and
//! the other opcodes that 64-bit mode drops), and the mechanism was verified here: see
//! `tests/native.rs`. If the kernel refuses 32-bit code (`ia32_emulation=false`), the
//! probe in `Runner::new` fails and [`native_available`] says why.

use std::sync::{Mutex, OnceLock};

use crate::state::{
    fx, FpuState, Outcome, UserState, DATA_BASE, DATA_SIZE, ENV_LEN, FX_LEN, IF, NATIVE_CODE_ADDR, RESERVED1,
    VISIBLE_FLAGS,
};

/// `__USER32_CS`: the flat 32-bit user code segment of x86-64 Linux.
const USER32_CS: u16 = 0x23;
/// `__USER_CS`: the 64-bit user code segment.
const USER64_CS: u16 = 0x33;

const LOW_BASE: u32 = 0x0010_0000;
const LOW_SIZE: usize = 0x1_0000;
const TRAMPOLINE64: u32 = LOW_BASE;
const LANDING64: u32 = LOW_BASE + 0x100;
const FAULT32: u32 = LOW_BASE + 0x200;
const SNIPPET32: u32 = LOW_BASE + 0x400;
const SNIPPET_END: u32 = LOW_BASE + 0x1000;
const STATE: u32 = LOW_BASE + 0x1000;
const IN_REGS: u32 = STATE;
const IN_EFLAGS: u32 = STATE + 0x20;
const OUT_REGS: u32 = STATE + 0x40;
const OUT_EFLAGS: u32 = STATE + 0x60;
const SAVE_RSP: u32 = STATE + 0x80;
const SAVE_DS: u32 = STATE + 0x88;
const SAVE_ES: u32 = STATE + 0x8c;
/// Fault record written by the signal handler: valid flag, vector, EFLAGS, registers.
const FAULT_VALID: u32 = STATE + 0xA0;
const FAULT_VECTOR: u32 = STATE + 0xA4;
const FAULT_EFLAGS: u32 = STATE + 0xA8;
const FAULT_REGS: u32 = STATE + 0xC0;
/// The case's FXSAVE image in (16-byte aligned, 512 bytes).
const IN_FX: u32 = STATE + 0x200;
/// The FXSAVE image after the case, or at its fault.
const OUT_FX: u32 = STATE + 0x400;
/// The 28-byte FNSTENV image after the case, or at its fault.
const OUT_ENV: u32 = STATE + 0x600;
/// The process's own FPU/SSE state while a case runs (64-bit FXSAVE image).
const SAVE_FX64: u32 = STATE + 0x800;
/// MXCSR loaded with every case: the power-up value (all SSE exceptions masked). The
/// modelled CPU has no SSE; FXRSTOR on the host needs a valid value.
const MXCSR_DEFAULT: u32 = 0x1f80;
const STACK32_TOP: u32 = LOW_BASE + 0xF000;

/// Size of the alternate signal stack used while a case runs.
const ALT_STACK_SIZE: usize = 256 * 1024;

/// Largest code a case may supply.
pub const MAX_CODE_LEN: usize = 0x800;

/// The pieces of the runner that are set up once per process.
struct Runner {
    /// Fixed bytes before the case's code in the 32-bit snippet.
    prologue: Vec<u8>,
    /// Fixed bytes after it.
    epilogue: Vec<u8>,
    /// Base of our alternate signal stack.
    alt_stack: usize,
}

static RUNNER: OnceLock<Result<Mutex<Runner>, String>> = OnceLock::new();

/// Set by the runner while a case is in flight; the handler only claims signals then.
static ARMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The signals an exception in user mode can arrive as (see arch/x86/kernel/traps.c).
const SIGNALS: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGTRAP,
];

/// The actions installed before ours, to chain to.
static OLD_ACTIONS: OnceLock<Vec<(libc::c_int, libc::sigaction)>> = OnceLock::new();

/// Whether the host can run the oracle (an x86-64 Linux kernel with IA-32 emulation and
/// the low addresses free). The reason it cannot, if not.
pub fn native_available() -> Result<(), String> {
    runner().map(|_| ())
}

fn runner() -> Result<&'static Mutex<Runner>, String> {
    RUNNER
        .get_or_init(|| Runner::new().map(Mutex::new))
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs `code` (32-bit machine code, position-independent and falling through, at most
/// [`MAX_CODE_LEN`] bytes) natively in compatibility mode, from `before`, and returns the
/// state after it or the exception it raised.
///
/// Only the bits of [`VISIBLE_FLAGS`] are taken from `before.eflags`; IF is forced to 1
/// and TF to 0. `before.mem` must be [`DATA_SIZE`] bytes.
///
/// # Panics
/// If the host cannot run the oracle (see [`native_available`]), or on a malformed case.
pub fn run_native(code: &[u8], before: &UserState) -> Outcome {
    assert!(
        code.len() <= MAX_CODE_LEN,
        "case code too long: {} bytes",
        code.len()
    );
    assert_eq!(
        before.mem.len(),
        DATA_SIZE,
        "data window must be {DATA_SIZE} bytes"
    );
    let runner = match runner() {
        Ok(r) => r,
        Err(e) => panic!("host-CPU oracle unavailable: {e}"),
    };
    // A panic while holding the lock leaves nothing half-done that matters: every run
    // rewrites the whole snippet, state block and window.
    let runner = runner.lock().unwrap_or_else(|e| e.into_inner());
    runner.run(code, before)
}

impl Runner {
    fn new() -> Result<Runner, String> {
        // SAFETY: mapping fresh anonymous memory at fixed low addresses with
        // MAP_FIXED_NOREPLACE cannot disturb existing mappings (the call fails instead).
        unsafe {
            map_fixed(
                LOW_BASE as usize,
                LOW_SIZE,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
            )?;
            map_fixed(DATA_BASE as usize - 0x1000, 0x1000, libc::PROT_NONE)?;
            map_fixed(DATA_BASE as usize, DATA_SIZE, libc::PROT_READ | libc::PROT_WRITE)?;
            map_fixed(DATA_BASE as usize + DATA_SIZE, 0x1000, libc::PROT_NONE)?;
        }
        let trampoline = assemble_trampoline().map_err(|e| format!("assembling trampoline: {e}"))?;
        let landing = assemble_landing().map_err(|e| format!("assembling landing pad: {e}"))?;
        let fault = assemble_fault_stub().map_err(|e| format!("assembling fault stub: {e}"))?;
        let (prologue, epilogue) =
            assemble_snippet_parts().map_err(|e| format!("assembling snippet: {e}"))?;
        assert!(trampoline.len() <= 0x100 && landing.len() <= 0x100 && fault.len() <= 0x200);
        assert!(prologue.len() + MAX_CODE_LEN + epilogue.len() <= (SNIPPET_END - SNIPPET32) as usize);
        // SAFETY: the low region was just mapped RWX and is LOW_SIZE bytes long; the
        // offsets written are below 0x1000.
        unsafe {
            copy_to(TRAMPOLINE64, &trampoline);
            copy_to(LANDING64, &landing);
            copy_to(FAULT32, &fault);
        }
        // SAFETY: anonymous private mapping at an address of the kernel's choosing.
        let alt_stack = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ALT_STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if alt_stack == libc::MAP_FAILED {
            return Err(format!(
                "mmap of the signal stack: {}",
                std::io::Error::last_os_error()
            ));
        }
        install_handlers()?;
        let runner = Runner {
            prologue,
            epilogue,
            alt_stack: alt_stack as usize,
        };
        // Prove the mode switch works before anyone relies on it: the kernel may have
        // IA-32 emulation disabled (`ia32_emulation=false`), in which case the far return
        // to 0x23 faults and we report the oracle as unavailable.
        let probe = runner.run(&[0x40], &UserState::new()); // inc eax
        match probe {
            Outcome::Completed(s) if s.regs[0] == 1 => Ok(runner),
            other => Err(format!("compatibility-mode probe failed: {other:?}")),
        }
    }

    fn run(&self, code: &[u8], before: &UserState) -> Outcome {
        let eflags_in = (before.eflags & VISIBLE_FLAGS & !crate::state::TF) | IF | RESERVED1;
        let mut snippet = Vec::with_capacity(self.prologue.len() + code.len() + self.epilogue.len());
        snippet.extend_from_slice(&self.prologue);
        snippet.extend_from_slice(code);
        snippet.extend_from_slice(&self.epilogue);
        let mut fx_in = [0u8; 512];
        match &before.fpu {
            Some(f) => fx_in[..FX_LEN].copy_from_slice(&f.fx),
            None => fx_in[..FX_LEN].copy_from_slice(&FpuState::init().fx),
        }
        fx_in[fx::MXCSR..fx::MXCSR + 4].copy_from_slice(&MXCSR_DEFAULT.to_le_bytes());
        fx_in[fx::MXCSR + 4..fx::MXCSR + 8].fill(0);
        // SAFETY: the low region and the data window are mapped RW(X) by `new`, with the
        // sizes written here; we hold the runner lock, so no other thread uses them.
        unsafe {
            copy_to(SNIPPET32, &snippet);
            copy_to(IN_FX, &fx_in);
            let regs = IN_REGS as usize as *mut [u32; 8];
            regs.write_volatile(before.regs);
            (IN_EFLAGS as usize as *mut u32).write_volatile(eflags_in);
            (OUT_REGS as usize as *mut [u32; 8]).write_volatile([0; 8]);
            (FAULT_VALID as usize as *mut u32).write_volatile(0);
            std::ptr::copy_nonoverlapping(before.mem.as_ptr(), DATA_BASE as usize as *mut u8, DATA_SIZE);
        }
        let mut old_ss = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: 0,
            ss_size: 0,
        };
        let ours = libc::stack_t {
            ss_sp: self.alt_stack as *mut libc::c_void,
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        // SAFETY: `ours` describes a live mapping owned by the runner for the life of the
        // process; the previous alternate stack is restored below.
        let rc = unsafe { libc::sigaltstack(&ours, &mut old_ss) };
        assert_eq!(rc, 0, "sigaltstack: {}", std::io::Error::last_os_error());
        ARMED.store(true, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: TRAMPOLINE64 holds a sysv64 function that saves every callee-saved
        // register and RSP, runs the snippet in compatibility mode on the low stack (which
        // touches only the low region and the data window), and returns with RSP, the
        // callee-saved registers, DS/ES and RFLAGS restored. Faults inside the snippet are
        // turned into a jump to the same return path by our signal handler.
        unsafe {
            let enter: extern "sysv64" fn() =
                std::mem::transmute::<usize, extern "sysv64" fn()>(TRAMPOLINE64 as usize);
            enter();
        }
        ARMED.store(false, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: restores the alternate stack that was in place before.
        let rc = unsafe { libc::sigaltstack(&old_ss, std::ptr::null_mut()) };
        assert_eq!(rc, 0, "sigaltstack restore: {}", std::io::Error::last_os_error());
        let mut mem = vec![0; DATA_SIZE];
        // SAFETY: the data window is mapped and DATA_SIZE long; we hold the runner lock.
        unsafe {
            std::ptr::copy_nonoverlapping(DATA_BASE as usize as *const u8, mem.as_mut_ptr(), DATA_SIZE)
        };
        // SAFETY: the state block is mapped; the snippet's epilogue or the fault stub wrote
        // both images.
        let fpu = before.fpu.as_ref().map(|_| unsafe {
            let fx_out = (OUT_FX as usize as *const [u8; FX_LEN]).read_volatile();
            let env = (OUT_ENV as usize as *const [u8; ENV_LEN]).read_volatile();
            FpuState { fx: fx_out, env }
        });
        // SAFETY: the state block is mapped; the snippet or the handler wrote it.
        unsafe {
            if (FAULT_VALID as usize as *const u32).read_volatile() != 0 {
                let vector = (FAULT_VECTOR as usize as *const u32).read_volatile() as u8;
                let regs = (FAULT_REGS as usize as *const [u32; 8]).read_volatile();
                let eflags = (FAULT_EFLAGS as usize as *const u32).read_volatile();
                Outcome::Exception {
                    vector,
                    state: UserState {
                        regs,
                        eflags: eflags & VISIBLE_FLAGS,
                        mem,
                        fpu,
                    },
                }
            } else {
                let regs = (OUT_REGS as usize as *const [u32; 8]).read_volatile();
                let eflags = (OUT_EFLAGS as usize as *const u32).read_volatile();
                Outcome::Completed(UserState {
                    regs,
                    eflags: eflags & VISIBLE_FLAGS,
                    mem,
                    fpu,
                })
            }
        }
    }
}

/// Maps anonymous memory at exactly `addr`.
///
/// # Safety
/// None beyond the call itself: MAP_FIXED_NOREPLACE refuses to replace a mapping.
unsafe fn map_fixed(addr: usize, len: usize, prot: libc::c_int) -> Result<(), String> {
    // SAFETY: see the function's contract.
    let p = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED || p as usize != addr {
        return Err(format!("mmap at {addr:#x}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Copies `bytes` to the fixed low address `addr`.
///
/// # Safety
/// `addr..addr+bytes.len()` must be mapped writable and unused by anyone else.
unsafe fn copy_to(addr: u32, bytes: &[u8]) {
    // SAFETY: guaranteed by the caller.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as usize as *mut u8, bytes.len()) };
}

/// `jmp far sel:off` in 32-bit code (opcode EA cd; SDM Vol. 2A "JMP").
fn far_jmp(sel: u16, off: u32) -> Vec<u8> {
    let mut v = vec![0xEA];
    v.extend_from_slice(&off.to_le_bytes());
    v.extend_from_slice(&sel.to_le_bytes());
    v
}

/// The 64-bit entry: `extern "sysv64" fn()`.
fn assemble_trampoline() -> Result<Vec<u8>, iced_x86::IcedError> {
    use iced_x86::code_asm::*;
    let mut a = CodeAssembler::new(64)?;
    for r in [rbx, rbp, r12, r13, r14, r15] {
        a.push(r)?;
    }
    a.mov(qword_ptr(SAVE_RSP as u64), rsp)?;
    a.fxsave64(ptr(SAVE_FX64 as u64))?;
    // 64-bit Linux runs with null DS/ES; compatibility mode checks segment registers as
    // protected mode does (a null DS faults on use), so load the flat data selector that
    // is already in SS (__USER_DS) and put DS/ES back on the way out.
    a.mov(word_ptr(SAVE_DS as u64), ds)?;
    a.mov(word_ptr(SAVE_ES as u64), es)?;
    a.mov(eax, ss)?;
    a.mov(ds, eax)?;
    a.mov(es, eax)?;
    a.push(USER32_CS as i32)?;
    a.mov(eax, SNIPPET32)?;
    a.push(rax)?;
    a.db(&[0x48, 0xCB])?; // retfq: pops RIP then CS
    a.assemble(TRAMPOLINE64 as u64)
}

/// The 64-bit landing pad the snippet and the fault stub jump to.
fn assemble_landing() -> Result<Vec<u8>, iced_x86::IcedError> {
    use iced_x86::code_asm::*;
    let mut a = CodeAssembler::new(64)?;
    a.mov(rsp, qword_ptr(SAVE_RSP as u64))?;
    a.fxrstor64(ptr(SAVE_FX64 as u64))?;
    a.mov(ds, word_ptr(SAVE_DS as u64))?;
    a.mov(es, word_ptr(SAVE_ES as u64))?;
    // The SysV ABI requires DF = 0 on return, and the case may have set DF, AC (which
    // would turn on alignment checking), NT or ID with POPF: start 64-bit code from a
    // clean RFLAGS (IF cannot change at CPL 3 and stays 1).
    a.push(2)?;
    a.popfq()?;
    for r in [r15, r14, r13, r12, rbp, rbx] {
        a.pop(r)?;
    }
    a.ret()?;
    a.assemble(LANDING64 as u64)
}

/// The 32-bit code around the case: load the state, run, store the state, go home.
fn assemble_snippet_parts() -> Result<(Vec<u8>, Vec<u8>), iced_x86::IcedError> {
    use iced_x86::code_asm::*;
    let regs32 = [eax, ecx, edx, ebx, esp, ebp, esi, edi];
    let mut a = CodeAssembler::new(32)?;
    a.fxrstor(ptr(IN_FX as u64))?;
    // Load EFLAGS through the harness stack, so nothing is written below the case's ESP.
    a.mov(esp, STACK32_TOP)?;
    a.push(dword_ptr(IN_EFLAGS as u64))?;
    a.popfd()?;
    // MOV leaves the flags alone from here on.
    for (i, r) in regs32.iter().enumerate() {
        a.mov(*r, dword_ptr((IN_REGS + 4 * i as u32) as u64))?;
    }
    let mut prologue = a.assemble(0)?;
    // The case starts at a fixed address, so that the FPU's instruction pointer can be
    // compared with the interpreter's.
    let start = (NATIVE_CODE_ADDR - SNIPPET32) as usize;
    assert!(
        prologue.len() <= start,
        "snippet prologue of {} bytes",
        prologue.len()
    );
    prologue.resize(start, 0x90);

    let mut a = CodeAssembler::new(32)?;
    for (i, r) in regs32.iter().enumerate() {
        a.mov(dword_ptr((OUT_REGS + 4 * i as u32) as u64), *r)?;
    }
    store_fpu(&mut a)?;
    a.mov(esp, STACK32_TOP)?;
    a.pushfd()?;
    a.pop(dword_ptr(OUT_EFLAGS as u64))?;
    a.db(&far_jmp(USER64_CS, LANDING64))?;
    let epilogue = a.assemble(0)?;
    Ok((prologue, epilogue))
}

/// Stores the FPU state without waiting (FXSAVE, then FNSTENV, which masks every
/// exception afterwards: harmless, the landing pad restores the process's state).
fn store_fpu(a: &mut iced_x86::code_asm::CodeAssembler) -> Result<(), iced_x86::IcedError> {
    use iced_x86::code_asm::*;
    a.fxsave(ptr(OUT_FX as u64))?;
    a.fnstenv(ptr(OUT_ENV as u64))?;
    Ok(())
}

/// The 32-bit stub a fault resumes at: store the FPU state at the fault (the kernel
/// restored it from the signal frame), then go home.
fn assemble_fault_stub() -> Result<Vec<u8>, iced_x86::IcedError> {
    use iced_x86::code_asm::*;
    let mut a = CodeAssembler::new(32)?;
    store_fpu(&mut a)?;
    a.db(&far_jmp(USER64_CS, LANDING64))?;
    a.assemble(FAULT32 as u64)
}

fn install_handlers() -> Result<(), String> {
    let mut olds = Vec::new();
    for sig in SIGNALS {
        // SAFETY: a zeroed sigaction is a valid value (empty mask, no flags).
        let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
        new.sa_sigaction =
            handler as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize;
        new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: as above.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live sigaction values; the handler is
        // async-signal-safe (it reads and writes plain memory and calls sigaction).
        let rc = unsafe { libc::sigaction(sig, &new, &mut old) };
        if rc != 0 {
            return Err(format!("sigaction({sig}): {}", std::io::Error::last_os_error()));
        }
        olds.push((sig, old));
    }
    OLD_ACTIONS
        .set(olds)
        .map_err(|_| "signal handlers installed twice".to_string())
}

/// The signal handler: claims exceptions raised by the 32-bit snippet, chains the rest.
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let uc = ctx as *mut libc::ucontext_t;
    // SAFETY: with SA_SIGINFO the kernel passes a valid ucontext_t as the third argument.
    let gregs = unsafe { &mut (*uc).uc_mcontext.gregs };
    let rip = gregs[libc::REG_RIP as usize] as u64;
    let cs = (gregs[libc::REG_CSGSFS as usize] as u64 & 0xffff) as u16;
    let ours = ARMED.load(std::sync::atomic::Ordering::SeqCst)
        && cs == USER32_CS
        && (u64::from(SNIPPET32)..u64::from(SNIPPET_END)).contains(&rip);
    if ours {
        let order = [
            libc::REG_RAX,
            libc::REG_RCX,
            libc::REG_RDX,
            libc::REG_RBX,
            libc::REG_RSP,
            libc::REG_RBP,
            libc::REG_RSI,
            libc::REG_RDI,
        ];
        let mut regs = [0u32; 8];
        for (r, g) in regs.iter_mut().zip(order) {
            *r = gregs[g as usize] as u32;
        }
        // SAFETY: ARMED is only set while the runner holds its lock and the state block
        // is mapped; nothing else writes the fault record.
        unsafe {
            (FAULT_REGS as usize as *mut [u32; 8]).write_volatile(regs);
            (FAULT_VECTOR as usize as *mut u32).write_volatile(gregs[libc::REG_TRAPNO as usize] as u32);
            (FAULT_EFLAGS as usize as *mut u32).write_volatile(gregs[libc::REG_EFL as usize] as u32);
            (FAULT_VALID as usize as *mut u32).write_volatile(1);
        }
        // Resume at the 32-bit fault stub (CS stays 0x23), which jumps home.
        gregs[libc::REG_RIP as usize] = i64::from(FAULT32);
        return;
    }
    chain(sig, info, ctx);
}

/// Passes a signal that is not ours to the action installed before ours.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let Some(old) = OLD_ACTIONS
        .get()
        .and_then(|v| v.iter().find(|(s, _)| *s == sig))
        .map(|(_, a)| *a)
    else {
        return;
    };
    match old.sa_sigaction {
        libc::SIG_DFL | libc::SIG_IGN => {
            // Reinstate the old action and return: the faulting instruction runs again
            // and the default action (usually a core dump) takes place as if we had never
            // been installed.
            // SAFETY: sigaction is async-signal-safe; `old` is a valid action.
            unsafe { libc::sigaction(sig, &old, std::ptr::null_mut()) };
        }
        f if old.sa_flags & libc::SA_SIGINFO != 0 => {
            // SAFETY: the old action asked for the three-argument form.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(f) };
            f(sig, info, ctx);
        }
        f => {
            // SAFETY: the old action is a one-argument handler.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(f) };
            f(sig);
        }
    }
}
