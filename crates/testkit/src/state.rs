//! The user-level state a test case starts from and ends in.

use std::fmt;

/// Linear address of the data window: the only memory a case's instruction may touch.
///
/// It is fixed (not chosen by `mmap`) so that a case is a plain value: the same register
/// values address the same bytes in the host oracle and in the interpreter.
pub const DATA_BASE: u32 = 0x0020_0000;
/// Size of the data window in bytes.
pub const DATA_SIZE: usize = 0x1000;
/// ESP given to cases that do not choose one: inside the native runner's 32-bit stack
/// (0x0010_2000–0x0010_F000), away from the data window.
pub const DEFAULT_ESP: u32 = 0x0010_E800;

/// Carry flag (EFLAGS bit 0; Intel SDM Vol. 1 §3.4.3).
pub const CF: u32 = 1 << 0;
/// Reserved bit 1 of EFLAGS, always reads as 1.
pub const RESERVED1: u32 = 1 << 1;
/// Parity flag.
pub const PF: u32 = 1 << 2;
/// Auxiliary-carry flag.
pub const AF: u32 = 1 << 4;
/// Zero flag.
pub const ZF: u32 = 1 << 6;
/// Sign flag.
pub const SF: u32 = 1 << 7;
/// Trap flag.
pub const TF: u32 = 1 << 8;
/// Interrupt-enable flag.
pub const IF: u32 = 1 << 9;
/// Direction flag.
pub const DF: u32 = 1 << 10;
/// Overflow flag.
pub const OF: u32 = 1 << 11;
/// The six status flags an arithmetic instruction may write.
pub const ARITH_FLAGS: u32 = CF | PF | AF | ZF | SF | OF;
/// The EFLAGS bits a case controls and an outcome reports: the status flags, DF, IF and
/// TF (always 0), plus the reserved bit 1. RF, ID, AC and the system bits are left out
/// because user code cannot observe them reliably (the CPU sets RF in the image of a
/// faulting instruction's EFLAGS, SDM Vol. 3 §17.3.1.1).
pub const VISIBLE_FLAGS: u32 = ARITH_FLAGS | DF | IF | TF | RESERVED1;

/// Index of a register in [`UserState::regs`], in the order of the ModRM encoding.
pub const EAX: usize = 0;
/// Index of ECX in [`UserState::regs`].
pub const ECX: usize = 1;
/// Index of EDX in [`UserState::regs`].
pub const EDX: usize = 2;
/// Index of EBX in [`UserState::regs`].
pub const EBX: usize = 3;
/// Index of ESP in [`UserState::regs`].
pub const ESP: usize = 4;
/// Index of EBP in [`UserState::regs`].
pub const EBP: usize = 5;
/// Index of ESI in [`UserState::regs`].
pub const ESI: usize = 6;
/// Index of EDI in [`UserState::regs`].
pub const EDI: usize = 7;
/// Register names in [`UserState::regs`] order.
pub const REG_NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

/// The state a user-level 32-bit instruction can see: general registers, EFLAGS, and the
/// data window at [`DATA_BASE`]. Segments are flat (base 0, limit 4 GiB).
#[derive(Clone, PartialEq, Eq)]
pub struct UserState {
    /// EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI.
    pub regs: [u32; 8],
    /// EFLAGS; only [`VISIBLE_FLAGS`] are meaningful.
    pub eflags: u32,
    /// The data window, [`DATA_SIZE`] bytes at [`DATA_BASE`].
    pub mem: Vec<u8>,
}

impl UserState {
    /// All registers 0 except ESP, EFLAGS = IF | reserved bit, the window zeroed.
    pub fn new() -> Self {
        let mut regs = [0; 8];
        regs[ESP] = DEFAULT_ESP;
        UserState {
            regs,
            eflags: IF | RESERVED1,
            mem: vec![0; DATA_SIZE],
        }
    }
}

impl Default for UserState {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for UserState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, v) in REG_NAMES.iter().zip(self.regs) {
            write!(f, "{name}={v:08x} ")?;
        }
        write!(f, "eflags={:08x} [{}]", self.eflags, flag_names(self.eflags))
    }
}

/// The flags set in `eflags`, spelled like a debugger does (`CF ZF DF`).
pub fn flag_names(eflags: u32) -> String {
    const NAMES: [(u32, &str); 9] = [
        (CF, "CF"),
        (PF, "PF"),
        (AF, "AF"),
        (ZF, "ZF"),
        (SF, "SF"),
        (TF, "TF"),
        (IF, "IF"),
        (DF, "DF"),
        (OF, "OF"),
    ];
    let set: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| eflags & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    set.join(" ")
}

/// What running one instruction did.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// The instruction ran to completion; the state after it.
    Completed(UserState),
    /// The instruction raised an exception.
    Exception {
        /// The exception vector (0 = #DE, 5 = #BR, 6 = #UD, 13 = #GP, 14 = #PF …).
        vector: u8,
        /// The state at the fault: for a fault, the state before the instruction (or,
        /// for a REP string instruction, after the iterations that completed).
        state: UserState,
    },
}

impl Outcome {
    /// The final or faulting state.
    pub fn state(&self) -> &UserState {
        match self {
            Outcome::Completed(s) => s,
            Outcome::Exception { state, .. } => state,
        }
    }

    /// The exception vector, if one was raised.
    pub fn vector(&self) -> Option<u8> {
        match self {
            Outcome::Completed(_) => None,
            Outcome::Exception { vector, .. } => Some(*vector),
        }
    }
}
