//! x87 FPU and MMX architectural state (SDM Vol. 1, 8.1 and 9.2).
//!
//! The eight data registers are kept by *physical* number (R0–R7); ST(i)
//! is R((TOP + i) mod 8), with TOP held in the status word as the hardware
//! does. The tag word is kept abridged (one "non-empty" bit per physical
//! register, the FXSAVE form): the full two-bit tags that FSTENV/FSAVE
//! store are computed from the register contents, as P6 and later
//! processors do (SDM Vol. 1, 8.1.7).

/// An 80-bit register as stored: significand (with the explicit integer
/// bit 63) and sign/exponent word (sign in bit 15, biased exponent 0–14).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
#[repr(C)]
pub struct Reg80 {
    /// Significand, integer bit in bit 63. MMX registers alias it.
    pub signif: u64,
    /// Sign (bit 15) and biased exponent (bits 0–14).
    pub se: u16,
}

impl Reg80 {
    /// +0.0.
    pub const ZERO: Reg80 = Reg80 { signif: 0, se: 0 };
    /// The QNaN floating-point indefinite (the masked response to IE).
    pub const INDEFINITE: Reg80 = Reg80 {
        signif: 0xc000_0000_0000_0000,
        se: 0xffff,
    };

    /// From the 10-byte memory image.
    pub fn from_bytes(b: [u8; 10]) -> Reg80 {
        let mut m = [0u8; 8];
        m.copy_from_slice(&b[..8]);
        Reg80 {
            signif: u64::from_le_bytes(m),
            se: u16::from_le_bytes([b[8], b[9]]),
        }
    }

    /// The 10-byte memory image.
    pub fn to_bytes(self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&self.signif.to_le_bytes());
        b[8..].copy_from_slice(&self.se.to_le_bytes());
        b
    }

    /// The two-bit tag this value gets in the full tag word (SDM Vol. 1,
    /// 8.1.7): 00 valid, 01 zero, 10 special (NaN, infinity, denormal,
    /// unnormal, pseudo-denormal...).
    pub fn tag(self) -> u16 {
        let exp = self.se & 0x7fff;
        if exp == 0x7fff {
            tag::SPECIAL
        } else if exp == 0 {
            if self.signif == 0 {
                tag::ZERO
            } else {
                tag::SPECIAL
            }
        } else if self.signif >> 63 == 0 {
            tag::SPECIAL
        } else {
            tag::VALID
        }
    }

    /// The value an MMX write leaves in the register: the 64-bit MMX value
    /// as significand and the sign/exponent field all ones (SDM Vol. 1, 9.5).
    pub fn mmx(v: u64) -> Reg80 {
        Reg80 {
            signif: v,
            se: 0xffff,
        }
    }
}

/// Two-bit tag values of the full tag word.
pub mod tag {
    /// A valid (normal) number.
    pub const VALID: u16 = 0;
    /// ±0.
    pub const ZERO: u16 = 1;
    /// NaN, infinity, denormal or unsupported format.
    pub const SPECIAL: u16 = 2;
    /// Empty.
    pub const EMPTY: u16 = 3;
}

/// Control-word bits (SDM Vol. 1, 8.1.5).
pub mod fcw {
    /// Invalid-operation mask.
    pub const IM: u16 = 1 << 0;
    /// Denormal-operand mask.
    pub const DM: u16 = 1 << 1;
    /// Zero-divide mask.
    pub const ZM: u16 = 1 << 2;
    /// Overflow mask.
    pub const OM: u16 = 1 << 3;
    /// Underflow mask.
    pub const UM: u16 = 1 << 4;
    /// Precision mask.
    pub const PM: u16 = 1 << 5;
    /// Precision control (bits 8–9): 00 single, 10 double, 11 extended.
    pub const PC: u16 = 3 << 8;
    /// Rounding control (bits 10–11): 00 nearest, 01 down, 10 up, 11 zero.
    pub const RC: u16 = 3 << 10;
    /// Infinity control (no effect since the 387; kept as written).
    pub const X: u16 = 1 << 12;
    /// The value FNINIT loads.
    pub const INIT: u16 = 0x037f;
    /// Bit 6 reads as one on P6 and later (FLDCW cannot clear it).
    pub const RESERVED_ONE: u16 = 1 << 6;
}

/// Status-word bits (SDM Vol. 1, 8.1.3).
pub mod fsw {
    /// Invalid operation.
    pub const IE: u16 = 1 << 0;
    /// Denormal operand.
    pub const DE: u16 = 1 << 1;
    /// Zero divide.
    pub const ZE: u16 = 1 << 2;
    /// Overflow.
    pub const OE: u16 = 1 << 3;
    /// Underflow.
    pub const UE: u16 = 1 << 4;
    /// Precision (inexact).
    pub const PE: u16 = 1 << 5;
    /// Stack fault (with IE; C1 tells overflow from underflow).
    pub const SF: u16 = 1 << 6;
    /// Error summary: an unmasked exception is pending.
    pub const ES: u16 = 1 << 7;
    /// Condition code 0.
    pub const C0: u16 = 1 << 8;
    /// Condition code 1.
    pub const C1: u16 = 1 << 9;
    /// Condition code 2.
    pub const C2: u16 = 1 << 10;
    /// Stack top (bits 11–13).
    pub const TOP: u16 = 7 << 11;
    /// Condition code 3.
    pub const C3: u16 = 1 << 14;
    /// Busy (mirrors ES on P6).
    pub const B: u16 = 1 << 15;
    /// The six exception flags.
    pub const EXC: u16 = IE | DE | ZE | OE | UE | PE;
    /// The four condition codes.
    pub const CC: u16 = C0 | C1 | C2 | C3;
}

/// The x87 FPU (and aliased MMX) state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Fpu {
    /// Physical data registers R0–R7 (ST(i) is R((TOP+i) mod 8)).
    pub regs: [Reg80; 8],
    /// Control word.
    pub fcw: u16,
    /// Status word, TOP included.
    pub fsw: u16,
    /// Abridged tag word: bit i set = physical register Ri is not empty.
    pub ftw: u8,
    /// Opcode of the last non-control instruction (11 bits: low three bits
    /// of the first opcode byte, then the ModR/M byte).
    pub fop: u16,
    /// Offset of the last non-control instruction (in real mode a linear
    /// address, with `fcs` 0, after FLDENV/FRSTOR of a real-mode image).
    pub fip: u32,
    /// CS selector of the last non-control instruction.
    pub fcs: u16,
    /// Offset of the last non-control instruction's memory operand.
    pub fdp: u32,
    /// Segment selector of that memory operand.
    pub fds: u16,
    /// The FERR# output: asserted when a waiting instruction found an
    /// unmasked exception pending with CR0.NE=0, deasserted when the
    /// exception flags are cleared. Not architectural state but the pin
    /// the board turns into IRQ13 (see `InterruptController::ferr`).
    pub ferr: bool,
}

impl Default for Fpu {
    fn default() -> Self {
        Self::reset()
    }
}

impl Fpu {
    /// The state after RESET on P6 and later (SDM Vol. 3A, 9.1.1, table
    /// 9-1): FCW 0040H, FSW 0, every register +0.0 and tagged valid
    /// (FTW 5555H). Firmware runs FNINIT before using the FPU.
    pub fn reset() -> Self {
        Fpu {
            regs: [Reg80::ZERO; 8],
            fcw: 0x0040,
            fsw: 0,
            ftw: 0xff,
            fop: 0,
            fip: 0,
            fcs: 0,
            fdp: 0,
            fds: 0,
            ferr: false,
        }
    }

    /// FNINIT (SDM Vol. 2, FINIT): control word 037FH, status 0, all
    /// registers empty, pointers and opcode 0; register contents unchanged.
    /// (The FERR# pin is the caller's: `Cpu::set_ferr`.)
    pub fn init(&mut self) {
        self.fcw = fcw::INIT;
        self.fsw = 0;
        self.ftw = 0;
        self.fop = 0;
        self.fip = 0;
        self.fcs = 0;
        self.fdp = 0;
        self.fds = 0;
    }

    /// TOP.
    #[inline]
    pub fn top(&self) -> usize {
        usize::from((self.fsw >> 11) & 7)
    }

    /// Set TOP.
    #[inline]
    pub fn set_top(&mut self, top: usize) {
        self.fsw = (self.fsw & !fsw::TOP) | ((top as u16 & 7) << 11);
    }

    /// Physical register number of ST(i).
    #[inline]
    pub fn phys(&self, i: usize) -> usize {
        (self.top() + i) & 7
    }

    /// ST(i), whatever its tag.
    #[inline]
    pub fn st(&self, i: usize) -> Reg80 {
        self.regs[self.phys(i)]
    }

    /// Whether ST(i) is empty.
    #[inline]
    pub fn is_empty(&self, i: usize) -> bool {
        self.ftw & (1 << self.phys(i)) == 0
    }

    /// Write ST(i) and tag it non-empty.
    #[inline]
    pub fn set_st(&mut self, i: usize, v: Reg80) {
        let p = self.phys(i);
        self.regs[p] = v;
        self.ftw |= 1 << p;
    }

    /// Tag ST(i) empty.
    #[inline]
    pub fn free(&mut self, i: usize) {
        self.ftw &= !(1 << self.phys(i));
    }

    /// Push: TOP-1, then ST(0) = v (no overflow check: see `push` in the
    /// handlers for the stack-fault rules).
    #[inline]
    pub fn push_raw(&mut self, v: Reg80) {
        let t = self.top().wrapping_sub(1) & 7;
        self.set_top(t);
        self.set_st(0, v);
    }

    /// Pop: tag ST(0) empty, TOP+1.
    #[inline]
    pub fn pop_raw(&mut self) {
        self.free(0);
        let t = (self.top() + 1) & 7;
        self.set_top(t);
    }

    /// The full 16-bit tag word (two bits per physical register), as
    /// FSTENV/FSAVE store it.
    pub fn tag_word(&self) -> u16 {
        (0..8).fold(0u16, |tw, p| {
            let t = if self.ftw & (1 << p) == 0 {
                tag::EMPTY
            } else {
                self.regs[p].tag()
            };
            tw | t << (2 * p)
        })
    }

    /// Load a full tag word (FLDENV/FRSTOR): only "empty" or "not empty"
    /// is kept; the rest is recomputed from the contents when stored.
    pub fn set_tag_word(&mut self, tw: u16) {
        self.ftw = (0..8).fold(0u8, |a, p| {
            if (tw >> (2 * p)) & 3 == tag::EMPTY {
                a
            } else {
                a | 1 << p
            }
        });
    }

    /// Recompute ES and B from the exception flags and masks: ES is set
    /// while any unmasked exception flag is set (SDM Vol. 1, 8.1.3.5).
    pub fn update_es(&mut self) {
        if self.fsw & !self.fcw & fsw::EXC != 0 {
            self.fsw |= fsw::ES | fsw::B;
        } else {
            self.fsw &= !(fsw::ES | fsw::B);
        }
    }

    /// Write the 512-byte FXSAVE image (SDM Vol. 2, FXSAVE, table 3-53,
    /// 32-bit format). Bytes the x87/MMX state does not own (MXCSR, XMM
    /// registers, the software-available area) are left as they were:
    /// this CPU has no SSE, so FXSAVE does not write them.
    pub fn fxsave(&self, img: &mut [u8; 512]) {
        img[0..2].copy_from_slice(&self.fcw.to_le_bytes());
        img[2..4].copy_from_slice(&self.fsw.to_le_bytes());
        img[4] = self.ftw;
        img[5] = 0;
        img[6..8].copy_from_slice(&(self.fop & 0x7ff).to_le_bytes());
        img[8..12].copy_from_slice(&self.fip.to_le_bytes());
        img[12..14].copy_from_slice(&self.fcs.to_le_bytes());
        img[14..16].fill(0);
        img[16..20].copy_from_slice(&self.fdp.to_le_bytes());
        img[20..22].copy_from_slice(&self.fds.to_le_bytes());
        img[22..24].fill(0);
        for i in 0..8 {
            let o = 32 + 16 * i;
            img[o..o + 10].copy_from_slice(&self.st(i).to_bytes());
            img[o + 10..o + 16].fill(0);
        }
    }

    /// An FXSAVE image of this state (the parts FXSAVE writes; the rest 0):
    /// the export the host-CPU oracle compares.
    pub fn fxsave_image(&self) -> [u8; 512] {
        let mut img = [0u8; 512];
        self.fxsave(&mut img);
        img
    }

    /// Load an FXSAVE image (FXRSTOR).
    pub fn fxrstor(&mut self, img: &[u8; 512]) {
        let u16at = |o: usize| u16::from_le_bytes([img[o], img[o + 1]]);
        let u32at = |o: usize| u32::from_le_bytes([img[o], img[o + 1], img[o + 2], img[o + 3]]);
        self.fcw = u16at(0);
        self.fsw = u16at(2);
        self.ftw = img[4];
        self.fop = u16at(6) & 0x7ff;
        self.fip = u32at(8);
        self.fcs = u16at(12);
        self.fdp = u32at(16);
        self.fds = u16at(20);
        for i in 0..8 {
            let o = 32 + 16 * i;
            let mut b = [0u8; 10];
            b.copy_from_slice(&img[o..o + 10]);
            let p = self.phys(i);
            self.regs[p] = Reg80::from_bytes(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_contents() {
        let mut f = Fpu::reset();
        f.init();
        assert_eq!(f.tag_word(), 0xffff);
        f.push_raw(Reg80 {
            signif: 1 << 63,
            se: 0x3fff,
        }); // 1.0 in R7
        f.push_raw(Reg80::ZERO); // R6
        f.push_raw(Reg80::INDEFINITE); // R5
        f.push_raw(Reg80 { signif: 1, se: 0 }); // denormal in R4
        f.push_raw(Reg80 {
            signif: 1 << 62,
            se: 0x3fff,
        }); // unnormal in R3
        assert_eq!(f.top(), 3);
        assert_eq!(f.tag_word(), 0b00_01_10_10_10_11_11_11);
        // Only "empty" is kept from a loaded tag word: R0 said "valid"
        // but holds +0, and is stored back as "zero".
        f.set_tag_word(0xfffc);
        assert_eq!(f.ftw, 0x01);
        assert_eq!(f.tag_word(), 0xfffd);
    }

    #[test]
    fn fxsave_round_trip() {
        let mut f = Fpu::reset();
        f.fcw = 0x1234;
        f.fsw = 0x3800 | fsw::C2;
        f.ftw = 0xa5;
        f.fop = 0x7ff;
        f.fip = 0x1122_3344;
        f.fcs = 0x1b;
        f.fdp = 0x5566_7788;
        f.fds = 0x23;
        for (p, r) in f.regs.iter_mut().enumerate() {
            *r = Reg80 {
                signif: 0x0101_0101_0101_0101 * p as u64,
                se: 0x4000 + p as u16,
            };
        }
        let img = f.fxsave_image();
        assert_eq!(&img[..8], &[0x34, 0x12, 0x00, 0x38 | 4, 0xa5, 0, 0xff, 0x07]);
        // ST(0) is R7 (TOP=7) and comes first.
        assert_eq!(img[32], 7);
        assert_eq!(img[48], 0);
        let mut g = Fpu::reset();
        g.fxrstor(&img);
        assert_eq!(g, f);
    }
}
