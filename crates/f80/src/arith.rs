//! FADD, FSUB, FMUL, FDIV and FSQRT (SDM Vol. 2 instruction pages; operand
//! rules of Vol. 1 §4.8.3 and table 4-7), and the operand screening shared
//! by every operation: unsupported encodings, NaN propagation, denormals.

use crate::round::Unp;
use crate::{Class, Context, Exceptions, Real, F80};

/// Sets the quiet bit of a NaN.
pub(crate) fn quiet(v: F80) -> F80 {
    F80::new(v.sign_exp, v.mant | (1 << 62))
}

/// The NaN an operation on two operands delivers, at least one a NaN (SDM
/// Vol. 1 table 4-7): an SNaN is quieted; of two NaNs of the same kind the
/// one with the larger significand wins (on a tie, the positive one); a QNaN
/// beats an SNaN.
pub(crate) fn pick_nan(a: F80, b: F80) -> F80 {
    let (an, bn) = (a.is_nan(), b.is_nan());
    if !bn {
        return quiet(a);
    }
    if !an {
        return quiet(b);
    }
    match (a.is_snan(), b.is_snan()) {
        (true, false) => return b,
        (false, true) => return a,
        _ => {}
    }
    let (qa, qb) = (quiet(a), quiet(b));
    if qa.mant != qb.mant {
        return if qa.mant > qb.mant { qa } else { qb };
    }
    if qa.sign() {
        qb
    } else {
        qa
    }
}

/// What screening two operands decided.
pub(crate) enum Screen {
    /// The operation is over: deliver this.
    Done(F80),
    /// Both operands are numbers (zero, finite or infinite).
    Go,
}

impl Context {
    /// Widens the sources, raising #IA for unsupported encodings (real
    /// indefinite) and SNaNs, propagating NaNs; otherwise raises nothing (the
    /// caller decides #D, which comes after invalid-operation checks).
    pub(crate) fn screen2(&mut self, a: F80, b: F80) -> Screen {
        if a.is_unsupported() || b.is_unsupported() {
            self.raise(Exceptions::IE);
            return Screen::Done(F80::INDEFINITE);
        }
        if a.is_nan() || b.is_nan() {
            if a.is_snan() || b.is_snan() {
                self.raise(Exceptions::IE);
            }
            return Screen::Done(pick_nan(a, b));
        }
        Screen::Go
    }

    /// Masked invalid operation: #IA and the real indefinite.
    pub(crate) fn invalid(&mut self) -> F80 {
        self.raise(Exceptions::IE);
        F80::INDEFINITE
    }

    fn denormal_if(&mut self, d: bool) {
        if d {
            self.raise(Exceptions::DE);
        }
    }

    /// FADD: `a + b`, rounded to the precision control.
    pub fn add(&mut self, a: impl Into<Real>, b: impl Into<Real>) -> F80 {
        self.begin();
        let (a, ad) = a.into().widen();
        let (b, bd) = b.into().widen();
        self.add_inner(a, ad, b, bd)
    }

    /// FSUB: `a - b` (FSUBR is `sub(b, a)`), rounded to the precision control.
    pub fn sub(&mut self, a: impl Into<Real>, b: impl Into<Real>) -> F80 {
        self.begin();
        let (a, ad) = a.into().widen();
        let (b, bd) = b.into().widen();
        if let Screen::Done(r) = self.screen2(a, b) {
            return r;
        }
        self.add_inner(a, ad, b.neg(), bd)
    }

    fn add_inner(&mut self, a: F80, ad: bool, b: F80, bd: bool) -> F80 {
        if let Screen::Done(r) = self.screen2(a, b) {
            return r;
        }
        let (ai, bi) = (a.class() == Class::Infinity, b.class() == Class::Infinity);
        if ai && bi && a.sign() != b.sign() {
            return self.invalid();
        }
        self.denormal_if(ad || bd);
        if ai {
            return a;
        }
        if bi {
            return b;
        }
        let (x, y) = (Unp::from(a), Unp::from(b));
        if x.is_zero() && y.is_zero() {
            let neg = if x.sign == y.sign {
                x.sign
            } else {
                self.rounding == crate::Rounding::Down
            };
            return F80::new(if neg { 0x8000 } else { 0 }, 0);
        }
        let bits = self.precision.bits();
        if y.is_zero() {
            return self.round_pack(x, bits);
        }
        if x.is_zero() {
            return self.round_pack(y, bits);
        }
        // Larger magnitude first; one bit of headroom for the carry, and
        // 63 guard bits below the 64-bit significands, with a sticky bit.
        let (x, y) = if (x.exp, x.sig) >= (y.exp, y.sig) {
            (x, y)
        } else {
            (y, x)
        };
        let d = (x.exp - y.exp) as u32;
        let xs = x.sig >> 1;
        let ys = shift_right_sticky(y.sig >> 1, d);
        let (sum, sign) = if x.sign == y.sign {
            (xs + ys, x.sign)
        } else {
            (xs - ys, x.sign)
        };
        if sum == 0 {
            return F80::new(
                if self.rounding == crate::Rounding::Down {
                    0x8000
                } else {
                    0
                },
                0,
            );
        }
        let lz = sum.leading_zeros();
        self.round_pack(
            Unp {
                sign,
                exp: x.exp + 1 - lz as i32,
                sig: sum << lz,
            },
            bits,
        )
    }

    /// FMUL: `a * b`, rounded to the precision control.
    pub fn mul(&mut self, a: impl Into<Real>, b: impl Into<Real>) -> F80 {
        self.begin();
        let (a, ad) = a.into().widen();
        let (b, bd) = b.into().widen();
        if let Screen::Done(r) = self.screen2(a, b) {
            return r;
        }
        let sign = a.sign() != b.sign();
        let (ai, bi) = (a.class() == Class::Infinity, b.class() == Class::Infinity);
        let (az, bz) = (a.class() == Class::Zero, b.class() == Class::Zero);
        if (ai && bz) || (bi && az) {
            return self.invalid();
        }
        self.denormal_if(ad || bd);
        if ai || bi {
            return signed(F80::INFINITY, sign);
        }
        if az || bz {
            return signed(F80::ZERO, sign);
        }
        let (x, y) = (Unp::from(a), Unp::from(b));
        let p = (x.sig >> 64) * (y.sig >> 64);
        let (exp, sig) = if p >> 127 != 0 {
            (x.exp + y.exp - F80::BIAS + 1, p)
        } else {
            (x.exp + y.exp - F80::BIAS, p << 1)
        };
        self.round_pack(Unp { sign, exp, sig }, self.precision.bits())
    }

    /// FDIV: `a / b` (FDIVR is `div(b, a)`), rounded to the precision control.
    pub fn div(&mut self, a: impl Into<Real>, b: impl Into<Real>) -> F80 {
        self.begin();
        let (a, ad) = a.into().widen();
        let (b, bd) = b.into().widen();
        if let Screen::Done(r) = self.screen2(a, b) {
            return r;
        }
        let sign = a.sign() != b.sign();
        let (ai, bi) = (a.class() == Class::Infinity, b.class() == Class::Infinity);
        let (az, bz) = (a.class() == Class::Zero, b.class() == Class::Zero);
        if (ai && bi) || (az && bz) {
            return self.invalid();
        }
        if bz && !ai {
            // Divide by zero wins over a denormal dividend.
            self.raise(Exceptions::ZE);
            return signed(F80::INFINITY, sign);
        }
        self.denormal_if(ad || bd);
        if ai {
            return signed(F80::INFINITY, sign);
        }
        if bi {
            return signed(F80::ZERO, sign);
        }
        if az {
            return signed(F80::ZERO, sign);
        }
        let (x, y) = (Unp::from(a), Unp::from(b));
        let (am, bm) = ((x.sig >> 64) as u64, (y.sig >> 64) as u64);
        let (num, exp) = if am >= bm {
            (u128::from(am) << 63, x.exp - y.exp + F80::BIAS)
        } else {
            (u128::from(am) << 64, x.exp - y.exp + F80::BIAS - 1)
        };
        let d = u128::from(bm);
        let q1 = num / d;
        let r1 = num % d;
        let q2 = (r1 << 64) / d;
        let r2 = (r1 << 64) % d;
        let sig = (q1 << 64) | q2 | u128::from(r2 != 0);
        self.round_pack(Unp { sign, exp, sig }, self.precision.bits())
    }

    /// FSQRT: the square root, rounded to the precision control; −0 gives −0.
    pub fn sqrt(&mut self, a: F80) -> F80 {
        self.begin();
        if let Screen::Done(r) = self.screen2(a, a) {
            return r;
        }
        match a.class() {
            Class::Zero => return a,
            _ if a.sign() => return self.invalid(),
            Class::Infinity => return a,
            _ => {}
        }
        self.denormal_if(a.is_denormal());
        let x = Unp::from(a);
        let u = x.exp - F80::BIAS;
        let t = u.div_euclid(2) * 2;
        // value = f / 2^63 * 2^t with f = m or 2m; sqrt = isqrt(2f * 2^70) / 2^67 * 2^(t/2).
        let f = u128::from((x.sig >> 64) as u64) << (u - t);
        let (root, rem) = isqrt_digits(f << 1, 34, 35);
        let sig = (root << 60) | u128::from(rem != 0);
        self.round_pack(
            Unp {
                sign: false,
                exp: t / 2 + F80::BIAS,
                sig,
            },
            self.precision.bits(),
        )
    }
}

/// `v` with the sign set to `neg`.
pub(crate) fn signed(v: F80, neg: bool) -> F80 {
    F80::new((v.sign_exp & 0x7FFF) | if neg { 0x8000 } else { 0 }, v.mant)
}

/// `v >> n`, ORing any lost bits into bit 0.
pub(crate) fn shift_right_sticky(v: u128, n: u32) -> u128 {
    if n == 0 {
        v
    } else if n >= 128 {
        u128::from(v != 0)
    } else {
        (v >> n) | u128::from(v & ((1u128 << n) - 1) != 0)
    }
}

/// Digit-by-digit square root of the radicand formed by the low `pairs` bit
/// pairs of `x` followed by `zero_pairs` zero pairs: (root, remainder).
pub(crate) fn isqrt_digits(x: u128, pairs: u32, zero_pairs: u32) -> (u128, u128) {
    let (mut rem, mut root) = (0u128, 0u128);
    for i in (0..pairs + zero_pairs).rev() {
        let next = if i >= zero_pairs {
            (x >> (2 * (i - zero_pairs))) & 3
        } else {
            0
        };
        rem = (rem << 2) | next;
        let trial = (root << 2) | 1;
        if rem >= trial {
            rem -= trial;
            root = (root << 1) | 1;
        } else {
            root <<= 1;
        }
    }
    (root, rem)
}
