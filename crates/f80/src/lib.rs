//! Exact x87 80-bit extended-precision arithmetic in portable Rust: the
//! numeric core of Strachey's x87 FPU.
//!
//! ```text
//!  cpu::interp x87 handlers ──► f80::Context (RC, PC, masks, flags, C1)
//!        │                          │
//!        │   F80 (raw register)     ├─ arith.rs   FADD FSUB FMUL FDIV FSQRT
//!        └─────────────────────────►├─ cmp.rs     FCOM FUCOM FCOMI FTST
//!                                   ├─ convert.rs FILD FIST(T)P FLD/FST m32/m64 FBLD FBSTP
//!                                   ├─ misc.rs    FRNDINT FSCALE FXTRACT FPREM FPREM1
//!                                   └─ trans.rs   F2XM1 FYL2X FYL2XP1 FPTAN FPATAN FSIN FCOS FSINCOS
//!                                         all rounding through round.rs
//! ```
//!
//! An [`F80`] is the raw 80-bit register image (sign and 15-bit biased
//! exponent, 64-bit significand with an explicit integer bit). Every
//! operation is a method of [`Context`], which carries the control word's
//! rounding control, precision control and exception masks, and collects the
//! exception flags of the status word. Operations return the value the x87
//! delivers to its destination *when the exception is masked* (the "masked
//! response", SDM Vol. 1 §4.9.1 and §8.5); what to do for an unmasked
//! exception (not storing, #MF/FERR) is the caller's business, and
//! [`Context::raised`] tells it which exceptions the last operation raised.
//! The two exceptions whose *value* differs when unmasked are honoured here,
//! because the caller could not rebuild it: an unmasked overflow or
//! underflow of a register result returns the significand rounded with the
//! exponent wrapped by ∓24576 (SDM Vol. 1 §8.5.4–8.5.5), and an unmasked
//! underflow is raised on tininess alone, a masked one only on tiny *and*
//! inexact.
//!
//! The model is the 387 and later (Pentium-class): pseudo-NaNs,
//! pseudo-infinities and unnormals are unsupported encodings that raise the
//! invalid-operation exception; pseudo-denormals are accepted as denormal
//! operands (SDM Vol. 1 §8.2.2).
//!
//! Arithmetic, square root, comparisons, conversions, rounding to integer,
//! FSCALE, FXTRACT, FPREM and FPREM1 are bit-exact with a Pentium-class x87,
//! including the flags; the tests check that against the host FPU. The
//! transcendentals are evaluated in 128-bit-significand working precision
//! (`wide.rs`, error ~2^-120) and rounded once, so they are within one ulp of
//! the correctly rounded value; trigonometric arguments are reduced with the
//! x87's own 66-bit π, as the hardware does. The host x87's transcendentals
//! are not correctly rounded, so the last bit may differ from it: the tests
//! count those cases separately, and they are explained in
//! `tests/known_deviations.txt`.
#![forbid(unsafe_code)]

mod arith;
mod cmp;
mod convert;
mod misc;
mod round;
mod trans;
mod wide;

pub use cmp::Compare;
pub use misc::PremResult;

/// One 80-bit x87 register image: `sign_exp` holds the sign in bit 15 and the
/// biased exponent (bias 16383) in bits 14..0; `mant` is the 64-bit
/// significand whose bit 63 is the explicit integer bit (SDM Vol. 1 §4.2.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct F80 {
    /// Sign (bit 15) and biased exponent (bits 14..0).
    pub sign_exp: u16,
    /// Significand with the explicit integer bit in bit 63.
    pub mant: u64,
}

impl std::fmt::Debug for F80 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "F80({:04x}_{:016x})", self.sign_exp, self.mant)
    }
}

/// What an 80-bit encoding means (SDM Vol. 1 table 8-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// ±0: exponent 0, significand 0.
    Zero,
    /// Exponent 0, integer bit 0, fraction nonzero.
    Denormal,
    /// Exponent 0, integer bit 1: read as a denormal operand (the value of
    /// exponent 1); the x87 never produces it.
    PseudoDenormal,
    /// Exponent 1..=0x7FFE, integer bit 0: unsupported (invalid) on 387+.
    Unnormal,
    /// Exponent 1..=0x7FFE, integer bit 1.
    Normal,
    /// Exponent 0x7FFF, significand 0x8000_0000_0000_0000.
    Infinity,
    /// Exponent 0x7FFF, integer bit 1, bit 62 set.
    QuietNan,
    /// Exponent 0x7FFF, integer bit 1, bit 62 clear, fraction nonzero.
    SignalingNan,
    /// Exponent 0x7FFF, integer bit 0, fraction nonzero: unsupported.
    PseudoNan,
    /// Exponent 0x7FFF, significand 0: unsupported.
    PseudoInfinity,
}

impl F80 {
    /// Exponent bias of the extended format.
    pub const BIAS: i32 = 16383;
    /// Maximum biased exponent (infinities and NaNs).
    pub const EXP_MAX: u16 = 0x7FFF;
    /// The explicit integer bit.
    pub const INT_BIT: u64 = 1 << 63;
    /// +0.
    pub const ZERO: F80 = F80::new(0, 0);
    /// +1.
    pub const ONE: F80 = F80::new(0x3FFF, 1 << 63);
    /// +∞.
    pub const INFINITY: F80 = F80::new(0x7FFF, 1 << 63);
    /// The "real indefinite" QNaN the x87 returns for a masked invalid
    /// operation: negative, significand 0xC000_0000_0000_0000 (SDM Vol. 1 §4.8.3.7).
    pub const INDEFINITE: F80 = F80::new(0xFFFF, 0xC000_0000_0000_0000);
    /// Largest finite positive value.
    pub const MAX: F80 = F80::new(0x7FFE, u64::MAX);

    /// The value with these raw fields.
    pub const fn new(sign_exp: u16, mant: u64) -> F80 {
        F80 { sign_exp, mant }
    }
    /// Decodes the 10-byte little-endian memory image (FLD m80).
    pub fn from_bits(b: [u8; 10]) -> F80 {
        let mut m = [0u8; 8];
        m.copy_from_slice(&b[..8]);
        F80::new(u16::from_le_bytes([b[8], b[9]]), u64::from_le_bytes(m))
    }
    /// The 10-byte little-endian memory image (FSTP m80).
    pub fn to_bits(self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&self.mant.to_le_bytes());
        b[8..].copy_from_slice(&self.sign_exp.to_le_bytes());
        b
    }
    /// The sign bit.
    pub const fn sign(self) -> bool {
        self.sign_exp & 0x8000 != 0
    }
    /// The biased exponent field.
    pub const fn exp(self) -> u16 {
        self.sign_exp & 0x7FFF
    }
    /// The same value with the sign flipped (FCHS; raises nothing).
    pub const fn neg(self) -> F80 {
        F80::new(self.sign_exp ^ 0x8000, self.mant)
    }
    /// The same value with the sign cleared (FABS; raises nothing).
    pub const fn abs(self) -> F80 {
        F80::new(self.sign_exp & 0x7FFF, self.mant)
    }
    /// Classifies the encoding.
    pub const fn class(self) -> Class {
        let int = self.mant & F80::INT_BIT != 0;
        match self.exp() {
            0 if self.mant == 0 => Class::Zero,
            0 if int => Class::PseudoDenormal,
            0 => Class::Denormal,
            0x7FFF if !int && self.mant == 0 => Class::PseudoInfinity,
            0x7FFF if !int => Class::PseudoNan,
            0x7FFF if self.mant << 1 == 0 => Class::Infinity,
            0x7FFF if self.mant & (1 << 62) != 0 => Class::QuietNan,
            0x7FFF => Class::SignalingNan,
            _ if int => Class::Normal,
            _ => Class::Unnormal,
        }
    }
    /// A NaN (quiet or signalling; not pseudo-NaNs).
    pub const fn is_nan(self) -> bool {
        matches!(self.class(), Class::QuietNan | Class::SignalingNan)
    }
    /// A signalling NaN.
    pub const fn is_snan(self) -> bool {
        matches!(self.class(), Class::SignalingNan)
    }
    /// An encoding the 387 and later reject with #IA: unnormal, pseudo-NaN,
    /// pseudo-infinity.
    pub const fn is_unsupported(self) -> bool {
        matches!(
            self.class(),
            Class::Unnormal | Class::PseudoNan | Class::PseudoInfinity
        )
    }
    /// A denormal operand (#D when used): denormal or pseudo-denormal.
    pub const fn is_denormal(self) -> bool {
        matches!(self.class(), Class::Denormal | Class::PseudoDenormal)
    }
    /// Exact conversion of a 16-bit integer (FILD m16int).
    pub fn from_i16(v: i16) -> F80 {
        F80::from_i64(v.into())
    }
    /// Exact conversion of a 32-bit integer (FILD m32int).
    pub fn from_i32(v: i32) -> F80 {
        F80::from_i64(v.into())
    }
    /// Exact conversion of a 64-bit integer (FILD m64int).
    pub fn from_i64(v: i64) -> F80 {
        let sign = if v < 0 { 0x8000 } else { 0 };
        let m = v.unsigned_abs();
        if m == 0 {
            return F80::new(sign, 0);
        }
        let lz = m.leading_zeros();
        F80::new(sign | (0x3FFF + 63 - lz) as u16, m << lz)
    }
    /// Exact widening of a binary32 bit pattern, keeping a signalling NaN
    /// signalling (so that the operation it feeds raises #IA). Raises nothing;
    /// see [`Context::load_f32`] for FLD m32fp.
    pub fn from_f32_bits(bits: u32) -> F80 {
        convert::widen(u64::from(bits), 23, 8)
    }
    /// Exact widening of a binary64 bit pattern, keeping a signalling NaN
    /// signalling. Raises nothing; see [`Context::load_f64`] for FLD m64fp.
    pub fn from_f64_bits(bits: u64) -> F80 {
        convert::widen(bits, 52, 11)
    }
}

/// Rounding control, control word bits 11..10 (SDM Vol. 1 §4.8.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Rounding {
    /// Round to nearest, ties to even (RC=00).
    #[default]
    NearestEven,
    /// Round toward −∞ (RC=01).
    Down,
    /// Round toward +∞ (RC=10).
    Up,
    /// Round toward zero (RC=11).
    Zero,
}

/// Precision control, control word bits 9..8 (SDM Vol. 1 §8.1.5.2): the
/// significand width of FADD/FSUB/FMUL/FDIV/FSQRT results. The exponent range
/// stays that of the extended format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// 24 bits (PC=00).
    Single,
    /// 53 bits (PC=10).
    Double,
    /// 64 bits (PC=11; PC=01 is reserved and behaves as 64 here).
    #[default]
    Extended,
}

impl Precision {
    /// Significand bits kept.
    pub const fn bits(self) -> u32 {
        match self {
            Precision::Single => 24,
            Precision::Double => 53,
            Precision::Extended => 64,
        }
    }
}

/// A set of x87 floating-point exceptions, with the bit positions of the
/// status word (flags) and control word (masks): SDM Vol. 1 §8.1.3, §8.1.5.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Exceptions(pub u8);

impl Exceptions {
    /// Invalid operation (#I; #IA for arithmetic operands).
    pub const IE: Exceptions = Exceptions(1 << 0);
    /// Denormal operand (#D).
    pub const DE: Exceptions = Exceptions(1 << 1);
    /// Divide by zero (#Z).
    pub const ZE: Exceptions = Exceptions(1 << 2);
    /// Numeric overflow (#O).
    pub const OE: Exceptions = Exceptions(1 << 3);
    /// Numeric underflow (#U).
    pub const UE: Exceptions = Exceptions(1 << 4);
    /// Inexact result / precision (#P).
    pub const PE: Exceptions = Exceptions(1 << 5);
    /// No exception.
    pub const NONE: Exceptions = Exceptions(0);
    /// All six.
    pub const ALL: Exceptions = Exceptions(0x3F);

    /// Whether every exception of `other` is in `self`.
    pub const fn contains(self, other: Exceptions) -> bool {
        self.0 & other.0 == other.0
    }
    /// Whether no exception is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for Exceptions {
    type Output = Exceptions;
    fn bitor(self, o: Exceptions) -> Exceptions {
        Exceptions(self.0 | o.0)
    }
}
impl std::ops::BitOrAssign for Exceptions {
    fn bitor_assign(&mut self, o: Exceptions) {
        self.0 |= o.0;
    }
}

impl std::fmt::Debug for Exceptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = ["IE", "DE", "ZE", "OE", "UE", "PE"];
        let set: Vec<&str> = (0..6)
            .filter(|i| self.0 & (1 << i) != 0)
            .map(|i| names[i])
            .collect();
        write!(f, "{{{}}}", set.join(","))
    }
}

/// A floating-point source operand in any of the x87's real formats, so that
/// memory operands of FADD m32fp and friends raise #D for a denormal
/// *source* (which widening would normalise) and #IA for an SNaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Real {
    /// An 80-bit register or m80 operand.
    Ext(F80),
    /// A binary32 bit pattern (m32fp).
    Single(u32),
    /// A binary64 bit pattern (m64fp).
    Double(u64),
}

impl From<F80> for Real {
    fn from(v: F80) -> Real {
        Real::Ext(v)
    }
}

impl Real {
    /// The exactly widened value and whether the source was a denormal.
    pub fn widen(self) -> (F80, bool) {
        match self {
            Real::Ext(v) => (v, v.is_denormal()),
            Real::Single(b) => (F80::from_f32_bits(b), b & 0x7F80_0000 == 0 && b & 0x7F_FFFF != 0),
            Real::Double(b) => (
                F80::from_f64_bits(b),
                b & 0x7FF0_0000_0000_0000 == 0 && b & 0x000F_FFFF_FFFF_FFFF != 0,
            ),
        }
    }
}

/// The arithmetic context of the x87: the control word's rounding control,
/// precision control and exception masks, the accumulated exception flags,
/// and what the last operation reported.
///
/// Every operation clears [`raised`](Context::raised) and
/// [`c1`](Context::c1) first, then ORs what it raises into both `raised`
/// and `flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Context {
    /// Rounding control.
    pub rounding: Rounding,
    /// Precision control (arithmetic and FSQRT results only).
    pub precision: Precision,
    /// Exception masks (set = masked). Only OE and UE change the delivered
    /// value; see the crate overview.
    pub masks: Exceptions,
    /// Accumulated (sticky) exception flags, status word bits 5..0.
    pub flags: Exceptions,
    /// Exceptions raised by the last operation.
    pub raised: Exceptions,
    /// Status word C1 as the last operation left it, when it did not fault on
    /// the stack: 1 = the result was rounded up (away from zero in
    /// magnitude); for FPREM/FPREM1 the quotient bit Q0.
    pub c1: bool,
}

impl Default for Context {
    /// The FNINIT state: nearest-even, extended precision, all masked.
    fn default() -> Context {
        Context::from_control_word(0x037F)
    }
}

impl Context {
    /// A context for this control word (flags clear).
    pub fn from_control_word(cw: u16) -> Context {
        Context {
            rounding: match (cw >> 10) & 3 {
                0 => Rounding::NearestEven,
                1 => Rounding::Down,
                2 => Rounding::Up,
                _ => Rounding::Zero,
            },
            precision: match (cw >> 8) & 3 {
                0 => Precision::Single,
                2 => Precision::Double,
                _ => Precision::Extended,
            },
            masks: Exceptions(cw as u8 & 0x3F),
            flags: Exceptions::NONE,
            raised: Exceptions::NONE,
            c1: false,
        }
    }
    /// Sets rounding, precision and masks from a control word, keeping flags.
    pub fn set_control_word(&mut self, cw: u16) {
        let flags = self.flags;
        *self = Context::from_control_word(cw);
        self.flags = flags;
    }
    /// Whether the last operation's result was inexact (PE raised).
    pub fn inexact(&self) -> bool {
        self.raised.contains(Exceptions::PE)
    }
    /// Starts an operation: clears `raised` and `c1`.
    fn begin(&mut self) {
        self.raised = Exceptions::NONE;
        self.c1 = false;
    }
    /// Raises exceptions for the current operation.
    fn raise(&mut self, e: Exceptions) {
        self.raised |= e;
        self.flags |= e;
    }
    fn masked(&self, e: Exceptions) -> bool {
        self.masks.contains(e)
    }
}
