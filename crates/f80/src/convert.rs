//! Conversions: FLD/FST of binary32 and binary64, FIST/FISTP/FISTTP, FBLD
//! and FBSTP (SDM Vol. 2 instruction pages; Vol. 1 §4.8.3, §8.2).

use crate::arith::quiet;
use crate::round::{overflow_to_inf, round_at, Unp};
use crate::{Class, Context, Exceptions, Rounding, F80};

/// Exact widening of an IEEE bit pattern with `frac` fraction bits and `ebits`
/// exponent bits; NaNs keep their payload and signalling-ness.
pub(crate) fn widen(bits: u64, frac: u32, ebits: u32) -> F80 {
    let sign = if (bits >> (frac + ebits)) & 1 != 0 {
        0x8000u16
    } else {
        0
    };
    let emax = (1u64 << ebits) - 1;
    let e = (bits >> frac) & emax;
    let f = bits & ((1u64 << frac) - 1);
    let bias = (emax >> 1) as i32;
    if e == emax {
        return F80::new(sign | 0x7FFF, F80::INT_BIT | (f << (63 - frac)));
    }
    if e == 0 {
        if f == 0 {
            return F80::new(sign, 0);
        }
        let lz = f.leading_zeros() - (63 - frac); // shifts to put the top bit at `frac`
        let exp = 1 - bias - lz as i32 + F80::BIAS;
        return F80::new(sign | exp as u16, (f << lz) << (63 - frac));
    }
    let exp = e as i32 - bias + F80::BIAS;
    F80::new(sign | exp as u16, F80::INT_BIT | (f << (63 - frac)))
}

/// Integer indefinite patterns and ranges per width.
fn int_limits(width: u32) -> (u128, u128) {
    // (largest positive magnitude, largest negative magnitude)
    ((1u128 << (width - 1)) - 1, 1u128 << (width - 1))
}

/// The packed-BCD indefinite (SDM Vol. 1 table 4-12).
const BCD_INDEFINITE: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF];

impl Context {
    fn load_ieee(&mut self, bits: u64, frac: u32, ebits: u32) -> F80 {
        self.begin();
        let v = widen(bits, frac, ebits);
        let e = (bits >> frac) & ((1 << ebits) - 1);
        let f = bits & ((1 << frac) - 1);
        if v.is_snan() {
            self.raise(Exceptions::IE);
            return quiet(v);
        }
        if e == 0 && f != 0 {
            self.raise(Exceptions::DE);
        }
        v
    }
    /// FLD m32fp: widens; #IA and quieting for an SNaN, #D for a denormal.
    pub fn load_f32(&mut self, bits: u32) -> F80 {
        self.load_ieee(bits.into(), 23, 8)
    }
    /// FLD m64fp: widens; #IA and quieting for an SNaN, #D for a denormal.
    pub fn load_f64(&mut self, bits: u64) -> F80 {
        self.load_ieee(bits, 52, 11)
    }

    /// Rounds to an IEEE format with `frac` fraction bits and `ebits`
    /// exponent bits per RC (SDM Vol. 1 §4.9.1.4–4.9.1.5 masked responses).
    fn narrow(&mut self, a: F80, frac: u32, ebits: u32) -> u64 {
        self.begin();
        let emax = (1u64 << ebits) - 1;
        let sign = u64::from(a.sign()) << (frac + ebits);
        let indefinite = sign | (emax << frac) | (1 << (frac - 1));
        if a.is_unsupported() {
            self.raise(Exceptions::IE);
            return (1 << (frac + ebits)) | indefinite;
        }
        match a.class() {
            Class::SignalingNan | Class::QuietNan => {
                if a.is_snan() {
                    self.raise(Exceptions::IE);
                }
                let payload = (a.mant << 1) >> (64 - frac);
                return sign | (emax << frac) | payload | (1 << (frac - 1));
            }
            Class::Infinity => return sign | (emax << frac),
            Class::Zero => return sign,
            _ => {}
        }
        // FST does not report a denormal operand (measured on the host).
        let v = Unp::from(a);
        let bias = (emax >> 1) as i32;
        let te = v.exp - F80::BIAS + bias;
        let bits = frac + 1;
        let shift = 128 - bits;
        let rc = self.rounding;
        if te >= 1 {
            let (q, inexact, up) = round_at(v.sig, shift, v.sign, rc);
            let field = (((te - 1) as u128) << frac) + q;
            if field >= u128::from(emax << frac) {
                self.raise(Exceptions::OE | Exceptions::PE);
                if overflow_to_inf(v.sign, rc) {
                    self.c1 = true;
                    return sign | (emax << frac);
                }
                return sign | ((emax << frac) - 1);
            }
            if inexact {
                self.raise(Exceptions::PE);
            }
            self.c1 = up;
            return sign | field as u64;
        }
        let tiny = te < 0 || round_at(v.sig, shift, v.sign, rc).0 >> bits == 0;
        let (q, inexact, up) = round_at(v.sig, (shift + (1 - te) as u32).min(200), v.sign, rc);
        if inexact {
            self.raise(Exceptions::PE);
            if tiny {
                self.raise(Exceptions::UE);
            }
        }
        self.c1 = up;
        sign | q as u64
    }
    /// FST m32fp: rounds to binary32 per RC (PC does not apply). Overflow
    /// and underflow give the masked responses.
    pub fn to_f32(&mut self, a: F80) -> u32 {
        self.narrow(a, 23, 8) as u32
    }
    /// FST m64fp: rounds to binary64 per RC (PC does not apply).
    pub fn to_f64(&mut self, a: F80) -> u64 {
        self.narrow(a, 52, 11)
    }

    /// Rounds to an integer magnitude per `rc`: `None` for NaN, ∞ and
    /// unsupported encodings or magnitudes beyond `limit(sign)`.
    fn integer_of(&mut self, a: F80, width: u32, rc: Rounding) -> Option<i128> {
        self.begin();
        if a.is_unsupported() || matches!(a.class(), Class::Infinity | Class::QuietNan | Class::SignalingNan)
        {
            self.raise(Exceptions::IE);
            return None;
        }
        if a.class() == Class::Zero {
            return Some(0);
        }
        // FIST and FBSTP do not report denormal operands.
        let v = Unp::from(a);
        let e = v.exp - F80::BIAS;
        if e > 64 {
            self.raise(Exceptions::IE);
            return None;
        }
        let (q, inexact, up) = round_at(v.sig, (127 - e) as u32, v.sign, rc);
        let (pos, neg) = int_limits(width);
        if q > if v.sign { neg } else { pos } {
            self.raise(Exceptions::IE);
            return None;
        }
        if inexact {
            self.raise(Exceptions::PE);
        }
        self.c1 = up;
        Some(if v.sign { -(q as i128) } else { q as i128 })
    }
    /// FIST m16int: rounds per RC; #IA and the integer indefinite 0x8000 for
    /// NaN, ∞, unsupported encodings and values out of range.
    pub fn to_i16(&mut self, a: F80) -> i16 {
        self.integer_of(a, 16, self.rounding)
            .map_or(i16::MIN, |v| v as i16)
    }
    /// FIST m32int.
    pub fn to_i32(&mut self, a: F80) -> i32 {
        self.integer_of(a, 32, self.rounding)
            .map_or(i32::MIN, |v| v as i32)
    }
    /// FIST m64int.
    pub fn to_i64(&mut self, a: F80) -> i64 {
        self.integer_of(a, 64, self.rounding)
            .map_or(i64::MIN, |v| v as i64)
    }
    /// FISTTP m16int: truncates regardless of RC.
    pub fn to_i16_trunc(&mut self, a: F80) -> i16 {
        self.integer_of(a, 16, Rounding::Zero)
            .map_or(i16::MIN, |v| v as i16)
    }
    /// FISTTP m32int.
    pub fn to_i32_trunc(&mut self, a: F80) -> i32 {
        self.integer_of(a, 32, Rounding::Zero)
            .map_or(i32::MIN, |v| v as i32)
    }
    /// FISTTP m64int.
    pub fn to_i64_trunc(&mut self, a: F80) -> i64 {
        self.integer_of(a, 64, Rounding::Zero)
            .map_or(i64::MIN, |v| v as i64)
    }

    /// FBLD: converts 18-digit packed BCD (sign in bit 79) exactly. Digits
    /// above 9 are undefined on the x87; they are weighted as given here.
    pub fn from_bcd(&mut self, b: [u8; 10]) -> F80 {
        self.begin();
        let mut v: u64 = 0;
        for i in (0..9).rev() {
            v = v * 100 + u64::from(b[i] >> 4) * 10 + u64::from(b[i] & 15);
        }
        let r = F80::from_i64(v as i64);
        if b[9] & 0x80 != 0 {
            r.neg()
        } else {
            r
        }
    }
    /// FBSTP: rounds per RC to an integer and packs 18 BCD digits; #IA and
    /// the packed-BCD indefinite (FFFF C000 0000 0000 0000) for NaN, ∞,
    /// unsupported encodings and magnitudes of 10^18 or more.
    pub fn to_bcd(&mut self, a: F80) -> [u8; 10] {
        let sign = a.sign();
        let Some(v) = self.integer_of(a, 64, self.rounding) else {
            return BCD_INDEFINITE;
        };
        let mut m = v.unsigned_abs();
        if m >= 1_000_000_000_000_000_000 {
            self.raised = Exceptions::IE;
            self.flags |= Exceptions::IE;
            self.c1 = false;
            return BCD_INDEFINITE;
        }
        let mut out = [0u8; 10];
        for byte in out.iter_mut().take(9) {
            *byte = (m % 10) as u8 | (((m / 10) % 10) as u8) << 4;
            m /= 100;
        }
        out[9] = if sign { 0x80 } else { 0 };
        out
    }
}
