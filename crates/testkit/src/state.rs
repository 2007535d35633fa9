//! The user-level state a test case starts from and ends in.

use std::fmt;

/// Linear address of the data window: the only memory a case's instruction may touch.
///
/// It is fixed (not chosen by `mmap`) so that a case is a plain value: the same register
/// values address the same bytes in the host oracle and in the interpreter.
pub const DATA_BASE: u32 = 0x0020_0000;
/// Size of the data window in bytes.
pub const DATA_SIZE: usize = 0x1000;
/// Where the interpreter runs a case's code (the oracle's choice; below 1 MiB and clear
/// of the data window).
pub const CODE_ADDR: u32 = 0x0008_0000;
/// Where the host runs a case's code: the snippet's load sequence is padded so the
/// case always starts here. FIP values are compared relative to the two addresses.
pub const NATIVE_CODE_ADDR: u32 = 0x0010_0480;
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

/// The state a user-level 32-bit instruction can see: general registers, EFLAGS, the
/// data window at [`DATA_BASE`] and, for x87/MMX cases, the FPU. Segments are flat
/// (base 0, limit 4 GiB).
#[derive(Clone, PartialEq, Eq)]
pub struct UserState {
    /// EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI.
    pub regs: [u32; 8],
    /// EFLAGS; only [`VISIBLE_FLAGS`] are meaningful.
    pub eflags: u32,
    /// The data window, [`DATA_SIZE`] bytes at [`DATA_BASE`].
    pub mem: Vec<u8>,
    /// The x87/MMX state, for cases that load and compare it; `None` for integer cases
    /// (which run from the FNINIT state and leave the FPU out of the comparison).
    pub fpu: Option<FpuState>,
}

/// Bytes of an FXSAVE image that hold x87/MMX state: the header (FCW … MXCSR_MASK) and
/// the eight 16-byte register slots (SDM Vol. 2A FXSAVE, the 32-bit layout).
pub const FX_LEN: usize = 160;

/// Offsets in the FXSAVE image (SDM Vol. 2A FXSAVE, "Non-64-bit-Mode Layout").
pub mod fx {
    /// FCW (2 bytes).
    pub const FCW: usize = 0;
    /// FSW (2 bytes).
    pub const FSW: usize = 2;
    /// Abridged FTW (1 byte: bit i set = physical register Ri not empty).
    pub const FTW: usize = 4;
    /// FOP (11 bits in 2 bytes).
    pub const FOP: usize = 6;
    /// FPU IP offset (4 bytes), then FCS (2) and 2 reserved.
    pub const FIP: usize = 8;
    /// FCS.
    pub const FCS: usize = 12;
    /// FPU DP offset (4 bytes), then FDS (2) and 2 reserved.
    pub const FDP: usize = 16;
    /// FDS.
    pub const FDS: usize = 20;
    /// MXCSR (4 bytes) and MXCSR_MASK (4): SSE state, absent from the modelled CPU.
    pub const MXCSR: usize = 24;
    /// ST(0) (or MM0 when TOP = 0); ST(i) is 16 bytes further each, of which 10 count.
    pub const ST0: usize = 32;
}

/// x87/MMX state as an FXSAVE image, the form both the host (FXRSTOR/FXSAVE) and the
/// interpreter (`Fpu::fxrstor`/`Fpu::fxsave_image`) read and write.
#[derive(Clone, PartialEq, Eq)]
pub struct FpuState {
    /// Bytes 0..[`FX_LEN`] of the image; see [`fx`] for the fields.
    pub fx: [u8; FX_LEN],
    /// The 32-bit protected-mode FNSTENV image after the case: the full two-bit tag word
    /// and the last-instruction pointers, which FXSAVE on some hosts stores only while an
    /// exception is pending. Only in outcomes: a case starts from `fx` alone.
    pub env: [u8; ENV_LEN],
}

/// Length of a 32-bit FSTENV image.
pub const ENV_LEN: usize = 28;

impl FpuState {
    /// The FNINIT state: FCW 037FH, everything else zero, every register empty.
    pub fn init() -> Self {
        let mut fx = [0; FX_LEN];
        fx[fx::FCW..fx::FCW + 2].copy_from_slice(&0x037fu16.to_le_bytes());
        let mut env = [0xff; ENV_LEN];
        env[12..26].fill(0);
        FpuState { fx, env }
    }

    /// The full tag word from [`FpuState::env`].
    pub fn tag_word(&self) -> u16 {
        u16::from_le_bytes([self.env[8], self.env[9]])
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_le_bytes([self.fx[at], self.fx[at + 1]])
    }

    /// The control word.
    pub fn fcw(&self) -> u16 {
        self.u16_at(fx::FCW)
    }

    /// The status word.
    pub fn fsw(&self) -> u16 {
        self.u16_at(fx::FSW)
    }

    /// The abridged tag byte.
    pub fn ftw(&self) -> u8 {
        self.fx[fx::FTW]
    }

    /// ST(i) as its 10-byte memory image.
    pub fn st(&self, i: usize) -> [u8; 10] {
        let at = fx::ST0 + 16 * i;
        let mut b = [0; 10];
        b.copy_from_slice(&self.fx[at..at + 10]);
        b
    }

    /// Sets ST(i) from its 10-byte memory image.
    pub fn set_st(&mut self, i: usize, v: [u8; 10]) {
        let at = fx::ST0 + 16 * i;
        self.fx[at..at + 10].copy_from_slice(&v);
    }

    /// Sets the control word.
    pub fn set_fcw(&mut self, v: u16) {
        self.fx[fx::FCW..fx::FCW + 2].copy_from_slice(&v.to_le_bytes());
    }

    /// Sets the status word.
    pub fn set_fsw(&mut self, v: u16) {
        self.fx[fx::FSW..fx::FSW + 2].copy_from_slice(&v.to_le_bytes());
    }
}

impl fmt::Debug for FpuState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fcw={:04x} fsw={:04x} (top={}) ftw={:02x} tags={:04x}",
            self.fcw(),
            self.fsw(),
            (self.fsw() >> 11) & 7,
            self.ftw(),
            self.tag_word()
        )?;
        for i in 0..8 {
            let b = self.st(i);
            let se = u16::from_le_bytes([b[8], b[9]]);
            let m = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            write!(f, " st{i}={se:04x}:{m:016x}")?;
        }
        Ok(())
    }
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
            fpu: None,
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
        write!(f, "eflags={:08x} [{}]", self.eflags, flag_names(self.eflags))?;
        if let Some(fpu) = &self.fpu {
            write!(f, "\n          fpu: {fpu:?}")?;
        }
        Ok(())
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
