//! FRNDINT, FSCALE, FXTRACT, FPREM and FPREM1 (SDM Vol. 2 instruction pages).

use crate::arith::{signed, Screen};
use crate::round::{round_at, Unp};
use crate::{Class, Context, Exceptions, F80};

/// The result of FPREM/FPREM1: the new ST(0) and the condition codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PremResult {
    /// The partial remainder (or the masked response).
    pub value: F80,
    /// C2: the reduction is incomplete; run the instruction again.
    pub c2: bool,
    /// C0: quotient bit 2 (when complete).
    pub c0: bool,
    /// C3: quotient bit 1 (when complete).
    pub c3: bool,
    /// C1: quotient bit 0 (when complete).
    pub c1: bool,
}

impl PremResult {
    fn plain(value: F80) -> PremResult {
        PremResult {
            value,
            c2: false,
            c0: false,
            c3: false,
            c1: false,
        }
    }
}

/// A finite nonzero value as (sign, 64-bit normalised significand, biased
/// exponent with denormals normalised below 1).
fn parts(v: F80) -> (bool, u64, i32) {
    let u = Unp::from(v);
    (u.sign, (u.sig >> 64) as u64, u.exp)
}

impl Context {
    /// FRNDINT: rounds to an integer per RC (PC does not apply).
    pub fn round_int(&mut self, a: F80) -> F80 {
        self.begin();
        if let Screen::Done(r) = self.screen2(a, a) {
            return r;
        }
        if matches!(a.class(), Class::Zero | Class::Infinity) {
            return a;
        }
        if a.is_denormal() {
            self.raise(Exceptions::DE);
        }
        let v = Unp::from(a);
        let e = v.exp - F80::BIAS;
        if e >= 63 {
            return a;
        }
        let (q, inexact, up) = round_at(v.sig, (127 - e) as u32, v.sign, self.rounding);
        if inexact {
            self.raise(Exceptions::PE);
        }
        self.c1 = up;
        let r = F80::from_i64(q as i64);
        if q == 1 << 63 {
            return signed(F80::new(0x3FFF + 63, 1 << 63), v.sign);
        }
        signed(r, v.sign)
    }

    /// FSCALE: `a * 2^trunc(b)` (a = ST(0), b = ST(1)), rounded to 64 bits.
    pub fn scale(&mut self, a: F80, b: F80) -> F80 {
        self.begin();
        if let Screen::Done(r) = self.screen2(a, b) {
            return r;
        }
        let (ac, bc) = (a.class(), b.class());
        let binf = bc == Class::Infinity;
        if (ac == Class::Infinity && binf && b.sign()) || (ac == Class::Zero && binf && !b.sign()) {
            return self.invalid();
        }
        if a.is_denormal() || b.is_denormal() {
            self.raise(Exceptions::DE);
        }
        if matches!(ac, Class::Infinity | Class::Zero) {
            return a;
        }
        if binf {
            return signed(if b.sign() { F80::ZERO } else { F80::INFINITY }, a.sign());
        }
        let n: i32 = if bc == Class::Zero {
            0
        } else {
            let (bs, bm, be) = parts(b);
            let e = be - F80::BIAS;
            let mag = if e < 0 {
                0
            } else if e > 16 {
                0x10000
            } else {
                (bm >> (63 - e)) as i32
            };
            if bs {
                -mag
            } else {
                mag
            }
        };
        let mut v = Unp::from(a);
        v.exp += n;
        self.round_pack(v, 64)
    }

    /// FXTRACT: (exponent, significand) of `a`; after the push ST(0) is the
    /// significand and ST(1) the exponent. Zero raises #Z and gives −∞.
    pub fn xtract(&mut self, a: F80) -> (F80, F80) {
        self.begin();
        if let Screen::Done(r) = self.screen2(a, a) {
            return (r, r);
        }
        match a.class() {
            Class::Zero => {
                self.raise(Exceptions::ZE);
                return (F80::INFINITY.neg(), a);
            }
            Class::Infinity => return (F80::INFINITY, a),
            _ => {}
        }
        if a.is_denormal() {
            self.raise(Exceptions::DE);
        }
        let (s, m, e) = parts(a);
        (F80::from_i32(e - F80::BIAS), signed(F80::new(0x3FFF, m), s))
    }

    /// FPREM: partial remainder of `a` (ST(0)) by `b` (ST(1)) with the
    /// quotient truncated (8087-compatible).
    pub fn prem(&mut self, a: F80, b: F80) -> PremResult {
        self.prem_common(a, b, false)
    }
    /// FPREM1: IEEE partial remainder (quotient rounded to nearest-even).
    pub fn prem1(&mut self, a: F80, b: F80) -> PremResult {
        self.prem_common(a, b, true)
    }

    /// The SDM pseudo-code of FPREM/FPREM1: when the exponents differ by 64
    /// or more, one partial step reduces the difference to below 64
    /// (N = 32 + D mod 32) and sets C2.
    fn prem_common(&mut self, a: F80, b: F80, ieee: bool) -> PremResult {
        self.begin();
        if let Screen::Done(r) = self.screen2(a, b) {
            return PremResult::plain(r);
        }
        let (ac, bc) = (a.class(), b.class());
        if ac == Class::Infinity || bc == Class::Zero {
            return PremResult::plain(self.invalid());
        }
        if a.is_denormal() || b.is_denormal() {
            self.raise(Exceptions::DE);
        }
        if ac == Class::Zero || bc == Class::Infinity {
            return PremResult::plain(self.round_pack_exact(a));
        }
        let (asg, am, ae) = parts(a);
        let (_, bm, be) = parts(b);
        let d = ae - be;
        let (num, den, unit, partial) = if d >= 64 {
            let n = (d & 31) | 32;
            (u128::from(am) << n, u128::from(bm), be + (d - n), true)
        } else if d >= 0 {
            (u128::from(am) << d, u128::from(bm), be, false)
        } else if d == -1 {
            (u128::from(am), u128::from(bm) << 1, ae, false)
        } else {
            return PremResult::plain(self.round_pack_exact(a));
        };
        let (mut q, mut r) = (num / den, num % den);
        let mut sign = asg;
        if ieee && !partial && (2 * r > den || (2 * r == den && q & 1 == 1)) {
            q += 1;
            r = den - r;
            sign = !sign;
        }
        if r == 0 {
            sign = asg;
        }
        let value = if r == 0 {
            signed(F80::ZERO, sign)
        } else {
            let lz = r.leading_zeros();
            // r * 2^(unit - BIAS - 63) as sig/2^127 * 2^(exp - BIAS).
            self.round_pack(
                Unp {
                    sign,
                    exp: unit + 64 - lz as i32,
                    sig: r << lz,
                },
                64,
            )
        };
        let r = if partial {
            PremResult {
                value,
                c2: true,
                c0: false,
                c3: false,
                c1: false,
            }
        } else {
            PremResult {
                value,
                c2: false,
                c0: q & 4 != 0,
                c3: q & 2 != 0,
                c1: q & 1 != 0,
            }
        };
        self.c1 = r.c1;
        r
    }

    /// `a` normalised to 64 bits (exact unless tiny): the operand returned
    /// unchanged by FPREM when |a| < |b|.
    fn round_pack_exact(&mut self, a: F80) -> F80 {
        if a.class() == Class::Zero {
            return a;
        }
        self.round_pack(Unp::from(a), 64)
    }
}
