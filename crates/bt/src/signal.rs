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

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    /// The context of the translated code running on this thread (null
    /// when none runs). Const-initialised without a destructor, so reading
    /// it is a plain thread-local load, safe in a signal handler.
    pub(crate) static ACTIVE: Cell<*mut crate::Context> = const { Cell::new(std::ptr::null_mut()) };
}

const SIGNALS: [libc::c_int; 3] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE];

/// The previous handlers, for chaining.
static mut PREVIOUS: [std::mem::MaybeUninit<libc::sigaction>; 3] = [std::mem::MaybeUninit::uninit(); 3];
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
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
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

/// Pass a signal that is not ours to the previous handler.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    let Some(i) = SIGNALS.iter().position(|&s| s == sig) else {
        return;
    };
    // SAFETY: `PREVIOUS[i]` was initialised by `install` before our handler
    // was installed for `sig`, and is never written again.
    let prev = unsafe { (*std::ptr::addr_of!(PREVIOUS[i])).assume_init() };
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
