//! The transcendental instructions (SDM Vol. 2: F2XM1, FYL2X, FYL2XP1,
//! FPTAN, FPATAN, FSIN, FCOS, FSINCOS).
//!
//! Method: the exact operand is carried into 128-bit working precision
//! (`wide.rs`), the function is evaluated by argument reduction and a Taylor
//! or atanh series to about 2^-120 relative, and the result is rounded once
//! to 64 bits per RC (precision control does not apply to these
//! instructions, SDM Vol. 1 §8.1.5.2). The result is therefore within one
//! ulp of the correctly rounded value (and correctly rounded except within
//! ~2^-56 ulp of a rounding boundary).
//!
//! FSIN/FCOS/FSINCOS/FPTAN reduce the argument modulo π/2 with the x87's own
//! 66-bit π (SDM Vol. 1 §8.3.10), as the hardware does, so that for large
//! arguments they agree with a real x87 rather than with the true function.

use crate::arith::{signed, Screen};
use crate::round::Unp;
use crate::wide::{self, int, LN2, PI_2, ZERO};
use crate::{Class, Context, Exceptions, F80};

/// The x87's π: 66 bits, 0xC90FDAA22168C234 followed by binary 11; as an
/// integer P, π₆₆ = P · 2^-64.
const PI66: u128 = (0xC90F_DAA2_2168_C234u128 << 2) | 3;

/// Marks a series result of a nonzero argument as inexact: the function is
/// transcendental there, even when the terms beyond 2^-130 were dropped.
fn inexact(v: Unp) -> Unp {
    Unp { sig: v.sig | 1, ..v }
}

/// Whether `t` no longer matters next to `sum`.
fn negligible(term: Unp, sum: Unp) -> bool {
    term.sig == 0 || term.exp < sum.exp - 130
}

/// e^y − 1 for |y| ≤ 1.
fn expm1(y: Unp) -> Unp {
    let (mut sum, mut term) = (y, y);
    for k in 2..80 {
        term = wide::div(wide::mul(term, y), int(k));
        if negligible(term, sum) {
            break;
        }
        sum = wide::add(sum, term);
    }
    sum
}

/// 2·atanh(z) = ln((1+z)/(1−z)) for |z| ≤ 0.2.
fn atanh2(z: Unp) -> Unp {
    let z2 = wide::mul(z, z);
    let (mut sum, mut p) = (z, z);
    for k in (3..200).step_by(2) {
        p = wide::mul(p, z2);
        let t = wide::div(p, int(k));
        if negligible(t, sum) {
            break;
        }
        sum = wide::add(sum, t);
    }
    Unp {
        exp: sum.exp + 1,
        ..sum
    }
}

/// log2(x) for a positive finite x.
fn log2(x: Unp) -> Unp {
    let mut e = x.exp - F80::BIAS;
    let mut f = Unp { exp: F80::BIAS, ..x };
    // Keep f in [√½, √2) so that x near 1 gives e = 0 (no cancellation).
    if f.sig > 0xB504_F333_F9DE_6484_597D_89B3_754A_BE9F {
        f.exp -= 1;
        e += 1;
    }
    let one = int(1);
    let z = wide::div(wide::sub(f, one), wide::add(f, one));
    let frac = wide::div(atanh2(z), LN2);
    let ei = if e < 0 {
        wide::neg(int(u64::from(e.unsigned_abs())))
    } else {
        int(e as u64)
    };
    wide::add(if e == 0 { ZERO } else { ei }, frac)
}

/// atan(t) for t ≥ 0.
fn atan(t: Unp) -> Unp {
    let one = int(1);
    if (t.exp, t.sig) > (one.exp, one.sig) {
        return wide::sub(PI_2, atan(wide::div(one, t)));
    }
    // Two halvings: atan t = 2 atan(t / (1 + √(1 + t²))).
    let mut r = t;
    for _ in 0..2 {
        r = wide::div(r, wide::add(one, wide::sqrt(wide::add(one, wide::mul(r, r)))));
    }
    let r2 = wide::mul(r, r);
    let (mut sum, mut p) = (r, r);
    for k in (3..400u64).step_by(2) {
        p = wide::neg(wide::mul(p, r2));
        let term = wide::div(p, int(k));
        if negligible(term, sum) {
            break;
        }
        sum = wide::add(sum, term);
    }
    Unp {
        exp: sum.exp + 2,
        ..sum
    }
}

/// (sin r, cos r) for |r| ≤ π/4.
fn sin_cos(r: Unp) -> (Unp, Unp) {
    let r2 = wide::mul(r, r);
    let (mut s, mut st) = (r, r);
    let (mut c, mut ct) = (int(1), int(1));
    for k in 1..60u64 {
        st = wide::neg(wide::div(wide::mul(st, r2), int((2 * k) * (2 * k + 1))));
        ct = wide::neg(wide::div(wide::mul(ct, r2), int((2 * k - 1) * (2 * k))));
        let done = negligible(st, s) && negligible(ct, c);
        s = wide::add(s, st);
        c = wide::add(c, ct);
        if done {
            break;
        }
    }
    (s, c)
}

/// Reduces |x| < 2^63 modulo π₆₆/2: (quadrant mod 4, remainder in [−π/4, π/4]).
fn reduce(x: F80) -> (u32, Unp) {
    let v = Unp {
        sign: false,
        ..Unp::from(x)
    };
    let m = (v.sig >> 64) as u64;
    let e = v.exp - F80::BIAS - 63; // |x| = m · 2^e
    if e + 65 < 0 {
        return (0, v);
    }
    let xs = u128::from(m) << (e + 65); // |x| · 2^65; π₆₆/2 · 2^65 = PI66
    let (mut k, rem) = (xs / PI66, xs % PI66);
    let (neg, r) = if 2 * rem > PI66 {
        k += 1;
        (true, PI66 - rem)
    } else {
        (false, rem)
    };
    let lz = r.leading_zeros();
    let ru = if r == 0 {
        ZERO
    } else {
        // r · 2^-65 = (r << lz) / 2^127 · 2^(exp − B)
        Unp {
            sign: neg,
            exp: F80::BIAS - 65 + 127 - lz as i32,
            sig: r << lz,
        }
    };
    ((k & 3) as u32, ru)
}

impl Context {
    /// Screens a one-operand transcendental: NaN and unsupported operands.
    fn screen1(&mut self, a: F80) -> Option<F80> {
        match self.screen2(a, a) {
            Screen::Done(r) => Some(r),
            Screen::Go => None,
        }
    }

    /// F2XM1: `2^a − 1` for −1 ≤ a ≤ 1 (outside, the x87 result is undefined).
    pub fn f2xm1(&mut self, a: F80) -> F80 {
        self.begin();
        if let Some(r) = self.screen1(a) {
            return r;
        }
        match a.class() {
            Class::Zero => return a,
            Class::Infinity => return if a.sign() { F80::ONE.neg() } else { a },
            _ => {}
        }
        if a.is_denormal() {
            self.raise(Exceptions::DE);
        }
        let u = Unp::from(a);
        let one = int(1);
        if (u.exp, u.sig) > (one.exp, one.sig) {
            // Outside the domain the host x87 leaves the operand as it was.
            self.raise(Exceptions::PE);
            return a;
        }
        if (u.exp, u.sig) == (one.exp, one.sig) {
            return if a.sign() {
                F80::new(0xBFFE, F80::INT_BIT)
            } else {
                F80::ONE
            };
        }
        self.round_pack(inexact(expm1(wide::mul(u, LN2))), 64)
    }

    /// FYL2X: `y · log2(x)` (x = ST(0), y = ST(1)).
    pub fn fyl2x(&mut self, x: F80, y: F80) -> F80 {
        self.begin();
        if let Screen::Done(r) = self.screen2(x, y) {
            return r;
        }
        let (xc, yc) = (x.class(), y.class());
        if x.sign() && xc != Class::Zero {
            return self.invalid();
        }
        let x_is_one = x == F80::ONE;
        match (xc, yc) {
            (Class::Zero, Class::Zero) | (Class::Infinity, Class::Zero) => return self.invalid(),
            (_, Class::Infinity) if x_is_one => return self.invalid(),
            _ => {}
        }
        if xc == Class::Zero {
            // Divide by zero without #D, as the host does.
            if yc != Class::Infinity {
                self.raise(Exceptions::ZE);
            }
            return signed(F80::INFINITY, !y.sign());
        }
        if x.is_denormal() || y.is_denormal() {
            self.raise(Exceptions::DE);
        }
        let below_one = Unp::from(x).exp < F80::BIAS;
        if xc == Class::Infinity {
            return signed(F80::INFINITY, y.sign());
        }
        if yc == Class::Infinity {
            return signed(F80::INFINITY, y.sign() != below_one);
        }
        if yc == Class::Zero || x_is_one {
            return signed(F80::ZERO, y.sign() != below_one);
        }
        self.round_pack(wide::mul(Unp::from(y), log2(Unp::from(x))), 64)
    }

    /// FYL2XP1: `y · log2(x + 1)` (x = ST(0), y = ST(1)), for
    /// |x| < 1 − √2/2 (outside, the x87 result is undefined).
    pub fn fyl2xp1(&mut self, x: F80, y: F80) -> F80 {
        self.begin();
        if let Screen::Done(r) = self.screen2(x, y) {
            return r;
        }
        let (xc, yc) = (x.class(), y.class());
        if (xc == Class::Zero && yc == Class::Infinity)
            || (xc == Class::Infinity && (yc == Class::Zero || x.sign()))
        {
            return self.invalid();
        }
        if x.is_denormal() || y.is_denormal() {
            self.raise(Exceptions::DE);
        }
        let sign = x.sign() != y.sign();
        if xc == Class::Infinity || yc == Class::Infinity {
            return signed(F80::INFINITY, sign);
        }
        if xc == Class::Zero || yc == Class::Zero {
            return signed(F80::ZERO, sign);
        }
        let xu = Unp::from(x);
        if x.sign() && (xu.exp, xu.sig) >= (int(1).exp, int(1).sig) {
            return self.invalid();
        }
        // ln(1 + x) = 2 atanh(x / (2 + x)).
        let z = wide::div(xu, wide::add(int(2), xu));
        let l = wide::div(atanh2(z), LN2);
        self.round_pack(wide::mul(Unp::from(y), l), 64)
    }

    /// Shared screening of FSIN/FCOS/FSINCOS/FPTAN: `Err(None)` for out of
    /// range, `Err(Some(v))` for a finished masked response, else the operand.
    fn trig_screen(&mut self, a: F80) -> Result<F80, Option<F80>> {
        self.begin();
        if let Some(r) = self.screen1(a) {
            return Err(Some(r));
        }
        if a.class() == Class::Infinity {
            return Err(Some(self.invalid()));
        }
        if a.exp() >= 0x3FFF + 63 {
            return Err(None);
        }
        if a.is_denormal() {
            self.raise(Exceptions::DE);
        }
        Ok(a)
    }

    /// FPTAN: `tan(a)`; `None` when |a| ≥ 2^63 (C2 = 1, ST(0) unchanged, no
    /// push). After a result the caller pushes +1.0.
    pub fn tan(&mut self, a: F80) -> Option<F80> {
        let a = match self.trig_screen(a) {
            Ok(a) => a,
            Err(r) => return r,
        };
        if a.class() == Class::Zero {
            return Some(a);
        }
        let (q, r) = reduce(a);
        let (s, c) = sin_cos(r);
        let t = if q & 1 == 0 {
            wide::div(s, c)
        } else {
            wide::neg(wide::div(c, s))
        };
        let t = if a.sign() { wide::neg(t) } else { t };
        Some(self.round_pack(inexact(t), 64))
    }

    /// FPATAN: `atan2(y, x)` (y = ST(1), x = ST(0)), in [−π, π].
    pub fn atan(&mut self, y: F80, x: F80) -> F80 {
        self.begin();
        if let Screen::Done(r) = self.screen2(y, x) {
            return r;
        }
        if x.is_denormal() || y.is_denormal() {
            self.raise(Exceptions::DE);
        }
        let (xc, yc) = (x.class(), y.class());
        let pi = Unp {
            exp: PI_2.exp + 1,
            ..PI_2
        };
        let v = match (yc, xc) {
            (Class::Zero, _) => {
                if !x.sign() {
                    return y;
                }
                pi
            }
            (Class::Infinity, Class::Infinity) => {
                let q = Unp {
                    exp: PI_2.exp - 1,
                    ..PI_2
                };
                if x.sign() {
                    wide::sub(pi, q)
                } else {
                    q
                }
            }
            (Class::Infinity, _) | (_, Class::Zero) => PI_2,
            (_, Class::Infinity) => {
                if !x.sign() {
                    return signed(F80::ZERO, y.sign());
                }
                pi
            }
            _ => {
                let (yu, xu) = (
                    Unp {
                        sign: false,
                        ..Unp::from(y)
                    },
                    Unp {
                        sign: false,
                        ..Unp::from(x)
                    },
                );
                let a = if (yu.exp, yu.sig) > (xu.exp, xu.sig) {
                    wide::sub(PI_2, atan(wide::div(xu, yu)))
                } else {
                    atan(wide::div(yu, xu))
                };
                if x.sign() {
                    wide::sub(pi, a)
                } else {
                    a
                }
            }
        };
        self.round_pack(inexact(Unp { sign: y.sign(), ..v }), 64)
    }

    /// (sin, cos) of a screened finite operand.
    fn sin_cos_of(a: F80) -> (Unp, Unp) {
        let (q, r) = reduce(a);
        let (s, c) = sin_cos(r);
        let (s, c) = match q {
            0 => (s, c),
            1 => (c, wide::neg(s)),
            2 => (wide::neg(s), wide::neg(c)),
            _ => (wide::neg(c), s),
        };
        (if a.sign() { wide::neg(s) } else { s }, c)
    }

    /// FSIN: `sin(a)`; `None` when |a| ≥ 2^63 (C2 = 1, ST(0) unchanged).
    pub fn sin(&mut self, a: F80) -> Option<F80> {
        let a = match self.trig_screen(a) {
            Ok(a) => a,
            Err(r) => return r,
        };
        if a.class() == Class::Zero {
            return Some(a);
        }
        let (s, _) = Self::sin_cos_of(a);
        Some(self.round_pack(inexact(s), 64))
    }

    /// FCOS: `cos(a)`; `None` when |a| ≥ 2^63 (C2 = 1, ST(0) unchanged).
    pub fn cos(&mut self, a: F80) -> Option<F80> {
        let a = match self.trig_screen(a) {
            Ok(a) => a,
            Err(r) => return r,
        };
        if a.class() == Class::Zero {
            return Some(F80::ONE);
        }
        let (_, c) = Self::sin_cos_of(a);
        Some(self.round_pack(inexact(c), 64))
    }

    /// FSINCOS: `(sin(a), cos(a))`; `None` when |a| ≥ 2^63 (C2 = 1). After
    /// the instruction ST(0) = cos, ST(1) = sin. C1 and the flags reflect
    /// both roundings (C1 from the cosine, as the last one stored).
    pub fn sincos(&mut self, a: F80) -> Option<(F80, F80)> {
        let a = match self.trig_screen(a) {
            Ok(a) => a,
            Err(Some(r)) => return Some((r, r)),
            Err(None) => return None,
        };
        if a.class() == Class::Zero {
            return Some((a, F80::ONE));
        }
        let (s, c) = Self::sin_cos_of(a);
        let raised = self.raised;
        let sv = self.round_pack(inexact(s), 64);
        let sin_raised = self.raised;
        let cv = self.round_pack(inexact(c), 64);
        self.raised |= raised | sin_raised;
        Some((sv, cv))
    }
}
