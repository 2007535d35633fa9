//! Unpacked values and the one rounding routine every operation ends in
//! (SDM Vol. 1 §4.8.4 rounding, §4.9.1.4–4.9.1.6 overflow, underflow,
//! inexact, §8.1.5.2 precision control).

use crate::{Context, Exceptions, Rounding, F80};

/// The exponent wrap applied to an unmasked overflow or underflow result of
/// a register destination (SDM Vol. 1 §8.5.4, §8.5.5).
pub(crate) const WRAP: i32 = 24576;

/// A finite nonzero value `sig / 2^127 * 2^(exp - 16383)`, `sig` normalised
/// (bit 127 set); a zero has `sig == 0`. The exponent is unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unp {
    pub sign: bool,
    pub exp: i32,
    pub sig: u128,
}

impl Unp {
    /// Unpacks a zero, denormal, pseudo-denormal or normal (not an
    /// unnormal, infinity or NaN).
    pub fn from(v: F80) -> Unp {
        let sign = v.sign();
        if v.mant == 0 {
            return Unp { sign, exp: 0, sig: 0 };
        }
        let exp = i32::from(v.exp().max(1));
        let sig = u128::from(v.mant) << 64;
        let lz = sig.leading_zeros();
        Unp {
            sign,
            exp: exp - lz as i32,
            sig: sig << lz,
        }
    }
    pub fn is_zero(&self) -> bool {
        self.sig == 0
    }
}

/// Rounds `sig >> shift` per `rc` (the sign tells directed modes which way is
/// up). Returns the rounded quotient (which may carry into a new top bit),
/// whether bits were lost, and whether the magnitude was rounded up.
pub(crate) fn round_at(sig: u128, shift: u32, sign: bool, rc: Rounding) -> (u128, bool, bool) {
    let (q, rem_nonzero, above_half, at_half) = if shift == 0 {
        (sig, false, false, false)
    } else if shift > 128 {
        (0, sig != 0, false, false)
    } else {
        let q = if shift == 128 { 0 } else { sig >> shift };
        let rem = if shift == 128 {
            sig
        } else {
            sig & ((1u128 << shift) - 1)
        };
        let half = 1u128 << (shift - 1);
        (q, rem != 0, rem > half, rem == half)
    };
    let up = match rc {
        Rounding::NearestEven => above_half || (at_half && q & 1 == 1),
        Rounding::Up => rem_nonzero && !sign,
        Rounding::Down => rem_nonzero && sign,
        Rounding::Zero => false,
    };
    (q + u128::from(up), rem_nonzero, up)
}

/// Whether rounding away from zero on overflow goes to infinity (else the
/// largest finite value), SDM Vol. 1 table 4-8.
pub(crate) fn overflow_to_inf(sign: bool, rc: Rounding) -> bool {
    match rc {
        Rounding::NearestEven => true,
        Rounding::Up => !sign,
        Rounding::Down => sign,
        Rounding::Zero => false,
    }
}

impl Context {
    /// Rounds an unpacked value to a register result with `bits` significand
    /// bits, raising PE/OE/UE and setting C1.
    pub(crate) fn round_pack(&mut self, v: Unp, bits: u32) -> F80 {
        let sign_bit = if v.sign { 0x8000u16 } else { 0 };
        if v.sig == 0 {
            return F80::new(sign_bit, 0);
        }
        let rc = self.rounding;
        let shift = 128 - bits;
        let pack = |exp: i32, q: u128| F80::new(sign_bit | exp as u16, (q << (64 - bits)) as u64);
        let mut exp = v.exp;
        if exp >= 1 {
            let (mut q, inexact, up) = round_at(v.sig, shift, v.sign, rc);
            if q >> bits != 0 {
                q >>= 1;
                exp += 1;
            }
            if exp >= 0x7FFF {
                // Beyond even the wrapped range (only FSCALE gets there), an
                // unmasked overflow delivers ∞ whatever the rounding.
                if !self.masked(Exceptions::OE) && exp - WRAP >= 0x7FFF {
                    self.raise(Exceptions::OE | Exceptions::PE);
                    self.c1 = true;
                    return F80::new(sign_bit | 0x7FFF, F80::INT_BIT);
                }
                if !self.masked(Exceptions::OE) {
                    self.raise(Exceptions::OE);
                    if inexact {
                        self.raise(Exceptions::PE);
                    }
                    self.c1 = up;
                    return pack(exp - WRAP, q);
                }
                self.raise(Exceptions::OE | Exceptions::PE);
                return if overflow_to_inf(v.sign, rc) {
                    self.c1 = true;
                    F80::new(sign_bit | 0x7FFF, F80::INT_BIT)
                } else {
                    pack(0x7FFE, (1u128 << bits) - 1)
                };
            }
            if inexact {
                self.raise(Exceptions::PE);
            }
            self.c1 = up;
            return pack(exp, q);
        }
        // Tiny before rounding; the x87 decides tininess after rounding (to
        // `bits` with an unbounded exponent), so a value that rounds up to the
        // smallest normal is not tiny.
        let tiny = exp < 0 || round_at(v.sig, shift, v.sign, rc).0 >> bits == 0;
        if !tiny {
            let (q, inexact, up) = round_at(v.sig, shift, v.sign, rc);
            if inexact {
                self.raise(Exceptions::PE);
            }
            self.c1 = up;
            return pack(1, q >> 1);
        }
        if !self.masked(Exceptions::UE) && exp + WRAP < 1 {
            // Likewise an unmasked underflow beyond the wrapped range gives 0.
            self.raise(Exceptions::UE | Exceptions::PE);
            return F80::new(sign_bit, 0);
        }
        if !self.masked(Exceptions::UE) {
            self.raise(Exceptions::UE);
            let (mut q, inexact, up) = round_at(v.sig, shift, v.sign, rc);
            if q >> bits != 0 {
                q >>= 1;
                exp += 1;
            }
            if inexact {
                self.raise(Exceptions::PE);
            }
            self.c1 = up;
            return pack(exp + WRAP, q);
        }
        let extra = (1 - exp) as u32;
        let (q, inexact, up) = round_at(v.sig, shift.saturating_add(extra).min(200), v.sign, rc);
        if inexact {
            self.raise(Exceptions::UE | Exceptions::PE);
        }
        self.c1 = up;
        let mant = (q << (64 - bits)) as u64;
        F80::new(sign_bit | u16::from(mant >> 63 != 0), mant)
    }
}
