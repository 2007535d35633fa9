//! Guest exceptions, propagated with `?` through the interpreter and kept
//! apart from host errors.

use std::fmt;

/// Exception vectors (SDM Vol. 3A, 6.3.1, table 6-1).
pub mod vector {
    /// Divide error.
    pub const DE: u8 = 0;
    /// Debug.
    pub const DB: u8 = 1;
    /// Non-maskable interrupt.
    pub const NMI: u8 = 2;
    /// Breakpoint (INT3).
    pub const BP: u8 = 3;
    /// Overflow (INTO).
    pub const OF: u8 = 4;
    /// BOUND range exceeded.
    pub const BR: u8 = 5;
    /// Invalid opcode.
    pub const UD: u8 = 6;
    /// Device not available.
    pub const NM: u8 = 7;
    /// Double fault.
    pub const DF: u8 = 8;
    /// Invalid TSS.
    pub const TS: u8 = 10;
    /// Segment not present.
    pub const NP: u8 = 11;
    /// Stack-segment fault.
    pub const SS: u8 = 12;
    /// General protection.
    pub const GP: u8 = 13;
    /// Page fault.
    pub const PF: u8 = 14;
    /// x87 floating-point error.
    pub const MF: u8 = 16;
    /// Alignment check.
    pub const AC: u8 = 17;
    /// Machine check.
    pub const MC: u8 = 18;
}

/// A guest exception raised by an instruction: the vector and, for the
/// vectors that push one, the error code. For #PF, CR2 has already been
/// written when the fault is created.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Exception vector.
    pub vector: u8,
    /// Error code pushed on the handler's stack, if the vector has one.
    pub error: Option<u32>,
}

impl Fault {
    /// #DE.
    pub const DE: Fault = Fault {
        vector: vector::DE,
        error: None,
    };
    /// #UD.
    pub const UD: Fault = Fault {
        vector: vector::UD,
        error: None,
    };
    /// #NM.
    pub const NM: Fault = Fault {
        vector: vector::NM,
        error: None,
    };
    /// #BR.
    pub const BR: Fault = Fault {
        vector: vector::BR,
        error: None,
    };
    /// #GP(0).
    pub const GP0: Fault = Fault {
        vector: vector::GP,
        error: Some(0),
    };
    /// #SS(0).
    pub const SS0: Fault = Fault {
        vector: vector::SS,
        error: Some(0),
    };

    /// #GP(code).
    pub const fn gp(code: u32) -> Fault {
        Fault {
            vector: vector::GP,
            error: Some(code),
        }
    }
    /// #SS(code).
    pub const fn ss(code: u32) -> Fault {
        Fault {
            vector: vector::SS,
            error: Some(code),
        }
    }
    /// #NP(code).
    pub const fn np(code: u32) -> Fault {
        Fault {
            vector: vector::NP,
            error: Some(code),
        }
    }
    /// #TS(code).
    pub const fn ts(code: u32) -> Fault {
        Fault {
            vector: vector::TS,
            error: Some(code),
        }
    }
    /// #PF(code); the caller sets CR2.
    pub const fn pf(code: u32) -> Fault {
        Fault {
            vector: vector::PF,
            error: Some(code),
        }
    }
    /// A fault on a selector: error code = selector index/TI bits.
    pub const fn sel(vector: u8, selector: u16) -> Fault {
        Fault {
            vector,
            error: Some((selector & 0xfffc) as u32),
        }
    }

    /// Benign, contributory or page fault, for double-fault rules
    /// (SDM Vol. 3A, 6.15, table 6-5).
    pub fn class(&self) -> FaultClass {
        match self.vector {
            vector::DE | vector::TS | vector::NP | vector::SS | vector::GP => FaultClass::Contributory,
            vector::PF => FaultClass::PageFault,
            vector::DF => FaultClass::DoubleFault,
            _ => FaultClass::Benign,
        }
    }
}

/// Exception classes for the double-fault rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultClass {
    /// Everything else.
    Benign,
    /// #DE, #TS, #NP, #SS, #GP.
    Contributory,
    /// #PF.
    PageFault,
    /// #DF itself.
    DoubleFault,
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 20] = [
            "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#09", "#TS", "#NP", "#SS", "#GP",
            "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
        ];
        let name = NAMES.get(self.vector as usize).copied().unwrap_or("#??");
        match self.error {
            Some(e) => write!(f, "{name}({e:#x})"),
            None => write!(f, "{name}"),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Result of anything that can raise a guest exception.
pub type Res<T> = Result<T, Fault>;
