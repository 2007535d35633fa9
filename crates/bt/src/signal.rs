//! The host fault handler for translated code.
//!
//! It does almost nothing (DESIGN.md, "the fault handler"): for a fault
//! whose RIP lies in the code cache while translated code runs, it records
//! the faulting RIP, the address and the signal in the running context and
//! points RIP at the fault-exit stub, which saves the guest registers and
//! returns to the run loop; the run loop then lets the interpreter execute
//! the faulting instruction. Everything else is passed to the handler that
//! was installed before (Rust's stack-overflow handler, for instance). It is
//! async-signal-safe: atomics and plain stores only.
//!
//! The same module makes translated code leave for the run loop when
//! another thread raises the board's attention flag (a "kick"): the
//! waker [`Kick::waker`] registers sends [`KICK_SIGNAL`] to the thread
//! while it runs translated code, and the handler zeroes the block budget
//! wherever it is held at that moment, so the next budget check (every
//! backward edge, indirect branch and run-loop entry) exits.

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    /// The context of the translated code running on this thread (null
    /// when none runs). Const-initialised without a destructor, so reading
    /// it is a plain thread-local load, safe in a signal handler.
    pub(crate) static ACTIVE: Cell<*mut crate::Context> = const { Cell::new(std::ptr::null_mut()) };
}

/// The signal a kick sends: SIGURG, whose default action is to ignore it,
/// so one that arrives after translated code has left does nothing.
pub(crate) const KICK_SIGNAL: libc::c_int = libc::SIGURG;

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, KICK_SIGNAL];

/// The previous handlers, for chaining.
static mut PREVIOUS: [std::mem::MaybeUninit<libc::sigaction>; 4] = [std::mem::MaybeUninit::uninit(); 4];
static INSTALL: Once = Once::new();

/// Install the handler (once per process).
pub(crate) fn install() {
    INSTALL.call_once(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: a zeroed sigaction is a valid starting point; we fill
            // the handler, flags and mask, and `PREVIOUS[i]` is written only
            // here, before the handler can run for this signal.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = handler as *const () as usize;
                // SA_RESTART: a kick that lands just after the thread left
                // translated code for a system call must not fail the call.
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER | libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                let prev = std::ptr::addr_of_mut!(PREVIOUS[i]).cast::<libc::sigaction>();
                libc::sigaction(sig, &sa, prev);
            }
        }
    });
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid ucontext for SA_SIGINFO handlers.
    let uc = unsafe { &mut *uctx.cast::<libc::ucontext_t>() };
    let gregs = &mut uc.uc_mcontext.gregs;
    let rip = gregs[libc::REG_RIP as usize] as u64;
    let ctx = ACTIVE.with(Cell::get);
    if sig == KICK_SIGNAL {
        kicked(ctx, gregs);
        chain(sig, info, uctx);
        return;
    }
    // SAFETY: a non-null ACTIVE is the live context of this thread's
    // translated code (set just before entering it, cleared after).
    let ours = !ctx.is_null()
        && unsafe { rip >= (*ctx).rx_start && rip < (*ctx).rx_end }
        && gregs[libc::REG_R15 as usize] as u64 == ctx as u64;
    if ours {
        // SAFETY: `ctx` is the live context the running code was entered
        // with (checked against r15); `info` is valid for SA_SIGINFO.
        unsafe {
            (*ctx).fault_rip = rip;
            (*ctx).fault_addr = (*info).si_addr() as u64;
            (*ctx).fault_signo = sig as u32;
        }
        // SAFETY: as above.
        gregs[libc::REG_RIP as usize] = unsafe { (*ctx).fault_exit } as i64;
        return;
    }
    chain(sig, info, uctx);
}

/// A kick arrived on a thread whose translated code uses context `ctx`
/// (null if none is entered): zero the budget, in the context (the entry
/// stub has not loaded it yet, or the run loop reads it next) and, if the
/// thread is in translated code, in the register that holds it there.
fn kicked(ctx: *mut crate::Context, gregs: &mut [libc::greg_t]) {
    if ctx.is_null() {
        return;
    }
    let rip = gregs[libc::REG_RIP as usize] as u64;
    // SAFETY: a non-null ACTIVE is this thread's live context; the run loop
    // does not touch it between entering and leaving translated code, and
    // reads it only after (volatile stores: the compiler must not assume
    // the interrupted code's view of it).
    let (in_blocks, in_stub) = unsafe {
        std::ptr::write_volatile(std::ptr::addr_of_mut!((*ctx).budget), 0);
        let kicks = std::ptr::addr_of_mut!((*ctx).kicks);
        std::ptr::write_volatile(kicks, std::ptr::read_volatile(kicks) + 1);
        (
            rip >= (*ctx).blocks_start && rip < (*ctx).rx_end,
            (*ctx)
                .budget_in_r13
                .iter()
                .any(|&[lo, hi]| (lo..hi).contains(&rip)),
        )
    };
    // Elsewhere r13 is the host's (or about to be restored from the
    // stack): the exit stubs lead to the run loop, which looks at the
    // board anyway.
    if gregs[libc::REG_R15 as usize] as u64 != ctx as u64 || !(in_blocks || in_stub) {
        return;
    }
    if in_stub {
        gregs[libc::REG_R13 as usize] = 0;
        return;
    }
    // SAFETY: RIP lies in a block of the code cache's executable view: the
    // 4 bytes before it are the runtime stubs' or a block's, and the 4
    // from it its own (every block ends in a 5-byte jump).
    let code = |k: i64, n: usize| unsafe { std::slice::from_raw_parts((rip as i64 + k) as *const u8, n) };
    match crate::translate::budget_holder(code(-4, 4), code(0, 4)) {
        crate::translate::BudgetHolder::R13 => gregs[libc::REG_R13 as usize] = 0,
        crate::translate::BudgetHolder::Rcx(v) => gregs[libc::REG_RCX as usize] = v,
        crate::translate::BudgetHolder::Zero => {}
    }
}

/// Pass a signal that is not ours to the previous handler.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    let Some(i) = SIGNALS.iter().position(|&s| s == sig) else {
        return;
    };
    // SAFETY: `PREVIOUS[i]` was initialised by `install` before our handler
    // was installed for `sig`, and is never written again.
    let prev = unsafe { (*std::ptr::addr_of!(PREVIOUS[i])).assume_init() };
    if sig == KICK_SIGNAL && prev.sa_sigaction <= 1 {
        // Ignored by default (and by SIG_IGN): ours alone.
        return;
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 && prev.sa_sigaction > 1 {
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            // SAFETY: an SA_SIGINFO handler has this signature.
            unsafe { std::mem::transmute(prev.sa_sigaction) };
        f(sig, info, uctx);
    } else if prev.sa_sigaction == libc::SIG_DFL || prev.sa_sigaction == libc::SIG_IGN {
        // Restore the default action and return: the instruction faults
        // again and the process ends the way it would have without us.
        // SAFETY: resetting a signal disposition is async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    } else {
        let f: extern "C" fn(libc::c_int) =
            // SAFETY: a plain handler has this signature.
            unsafe { std::mem::transmute(prev.sa_sigaction) };
        f(sig);
    }
}

/// Who may kick this translator's thread out of translated code: the
/// thread running it, and whether it is in translated code now.
#[derive(Debug, Default)]
pub(crate) struct Kick {
    tid: std::sync::atomic::AtomicI32,
    in_code: std::sync::atomic::AtomicBool,
}

impl Kick {
    /// The thread that runs translated code from now on is the caller.
    pub(crate) fn here(&self) {
        thread_local! {
            static TID: Cell<libc::pid_t> = const { Cell::new(0) };
        }
        let tid = TID.with(|t| {
            if t.get() == 0 {
                // SAFETY: gettid has no preconditions.
                t.set(unsafe { libc::gettid() });
            }
            t.get()
        });
        self.tid.store(tid, std::sync::atomic::Ordering::SeqCst);
    }
    /// Translated code is entered (`true`) or left.
    pub(crate) fn set_in_code(&self, on: bool) {
        self.in_code.store(on, std::sync::atomic::Ordering::SeqCst);
    }
    /// The board's waker: signal the thread if it runs translated code.
    /// Called after the attention bits are raised (SeqCst both sides: the
    /// run loop stores `in_code` and then reads the bits, so either this
    /// sees it in code or it sees the bits).
    pub(crate) fn waker(self: &std::sync::Arc<Self>) -> mem::Waker {
        let me = std::sync::Arc::downgrade(self);
        std::sync::Arc::new(move || {
            let Some(k) = me.upgrade() else { return };
            if !k.in_code.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let tid = k.tid.load(std::sync::atomic::Ordering::SeqCst);
            // SAFETY: tgkill with our own process id and a thread id; if
            // the thread has ended the call fails with ESRCH and nothing
            // happens.
            unsafe {
                // A kick from the running thread itself cannot happen while it is in
                // translated code (raises come from Rust code), so this is another's.
                libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, KICK_SIGNAL);
            }
        })
    }
}
