//! CPUID (SDM Vol. 2, CPUID): a family 6 "GenuineIntel"-compatible i686
//! that reports only what Strachey implements.

/// Feature bits in CPUID.1:EDX.
pub mod edx1 {
    /// x87 FPU on chip.
    pub const FPU: u32 = 1 << 0;
    /// Virtual-8086 mode enhancements.
    pub const VME: u32 = 1 << 1;
    /// Debugging extensions.
    pub const DE: u32 = 1 << 2;
    /// Page size extensions.
    pub const PSE: u32 = 1 << 4;
    /// Time-stamp counter.
    pub const TSC: u32 = 1 << 5;
    /// RDMSR/WRMSR.
    pub const MSR: u32 = 1 << 6;
    /// CMPXCHG8B.
    pub const CX8: u32 = 1 << 8;
    /// SYSENTER/SYSEXIT.
    pub const SEP: u32 = 1 << 11;
    /// Page global enable.
    pub const PGE: u32 = 1 << 13;
    /// CMOVcc.
    pub const CMOV: u32 = 1 << 15;
    /// MMX.
    pub const MMX: u32 = 1 << 23;
    /// FXSAVE/FXRSTOR.
    pub const FXSR: u32 = 1 << 24;
}

/// Family 6, model 3, stepping 3 (a Pentium II "Klamath").
pub const SIGNATURE: u32 = 0x0633;

/// The CPUID leaves: `[eax, ebx, ecx, edx]` for leaf `eax` (sub-leaf `ecx`).
pub fn cpuid(leaf: u32, _sub: u32) -> [u32; 4] {
    match leaf {
        // "StracheyCPU " would break guests that test for Intel; report the
        // vendor whose behaviour we model.
        0 => [
            1,
            u32::from_le_bytes(*b"Genu"),
            u32::from_le_bytes(*b"ntel"),
            u32::from_le_bytes(*b"ineI"),
        ],
        1 => [
            SIGNATURE,
            0,
            0,
            edx1::FPU
                | edx1::DE
                | edx1::PSE
                | edx1::TSC
                | edx1::MSR
                | edx1::CX8
                | edx1::SEP
                | edx1::PGE
                | edx1::CMOV
                | edx1::MMX
                | edx1::FXSR,
        ],
        // Leaves above the maximum return the highest basic leaf's values
        // on Intel parts (SDM Vol. 2, CPUID).
        _ => cpuid(1, 0),
    }
}
