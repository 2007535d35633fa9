//! 128-bit-significand working precision for the transcendentals: products,
//! quotients, sums and square roots truncated to 128 bits (error below
//! 2^-126 relative each), and the constants they need.

use crate::arith::{isqrt_digits, shift_right_sticky};
use crate::round::Unp;
use crate::F80;

pub(crate) const ZERO: Unp = Unp {
    sign: false,
    exp: 0,
    sig: 0,
};
/// ln 2 = 0.B17217F7D1CF79ABC9E3B39803F2F6AF…
pub(crate) const LN2: Unp = Unp {
    sign: false,
    exp: F80::BIAS - 1,
    sig: 0xB172_17F7_D1CF_79AB_C9E3_B398_03F2_F6AF,
};
/// π/2 = 1.921FB54442D18469898CC51701B839A2…
pub(crate) const PI_2: Unp = Unp {
    sign: false,
    exp: F80::BIAS,
    sig: 0xC90F_DAA2_2168_C234_C4C6_628B_80DC_1CD1,
};

pub(crate) fn int(v: u64) -> Unp {
    let u = Unp::from(F80::from_i64(v as i64));
    Unp { sign: false, ..u }
}

pub(crate) fn neg(a: Unp) -> Unp {
    Unp { sign: !a.sign, ..a }
}

fn norm(sign: bool, exp: i32, sig: u128) -> Unp {
    if sig == 0 {
        return ZERO;
    }
    let lz = sig.leading_zeros();
    Unp {
        sign,
        exp: exp - lz as i32,
        sig: sig << lz,
    }
}

pub(crate) fn mul(a: Unp, b: Unp) -> Unp {
    if a.sig == 0 || b.sig == 0 {
        return ZERO;
    }
    let (ah, al) = (a.sig >> 64, a.sig & u128::from(u64::MAX));
    let (bh, bl) = (b.sig >> 64, b.sig & u128::from(u64::MAX));
    let hh = ah * bh;
    let hl = ah * bl;
    let lh = al * bh;
    let ll = al * bl;
    let mid = (hl & u128::from(u64::MAX)) + (lh & u128::from(u64::MAX)) + (ll >> 64);
    let hi = hh + (hl >> 64) + (lh >> 64) + (mid >> 64);
    let lo_nonzero = (mid << 64) | (ll & u128::from(u64::MAX)) != 0;
    let sign = a.sign != b.sign;
    // hi:lo = product / 2^128; value = product / 2^254 * 2^(ea+eb-2B).
    if hi >> 127 != 0 {
        Unp {
            sign,
            exp: a.exp + b.exp - F80::BIAS + 1,
            sig: hi | u128::from(lo_nonzero),
        }
    } else {
        let lo_top = ((mid << 64) >> 127) & 1;
        Unp {
            sign,
            exp: a.exp + b.exp - F80::BIAS,
            sig: (hi << 1) | lo_top,
        }
    }
}

pub(crate) fn add(a: Unp, b: Unp) -> Unp {
    if a.sig == 0 {
        return b;
    }
    if b.sig == 0 {
        return a;
    }
    let (x, y) = if (a.exp, a.sig) >= (b.exp, b.sig) {
        (a, b)
    } else {
        (b, a)
    };
    let d = (x.exp - y.exp) as u32;
    let xs = x.sig >> 1;
    let ys = shift_right_sticky(y.sig >> 1, d);
    let s = if x.sign == y.sign { xs + ys } else { xs - ys };
    norm(x.sign, x.exp + 1, s)
}

pub(crate) fn sub(a: Unp, b: Unp) -> Unp {
    add(a, neg(b))
}

pub(crate) fn div(a: Unp, b: Unp) -> Unp {
    if a.sig == 0 {
        return ZERO;
    }
    let den = b.sig;
    let mut r = a.sig;
    let mut q: u128 = 0;
    if r >= den {
        r -= den;
        q = 1 << 127;
    }
    for i in (0..127).rev() {
        let carry = r >> 127;
        r <<= 1;
        if carry == 1 || r >= den {
            r = r.wrapping_sub(den);
            q |= 1 << i;
        }
    }
    // q = floor(a.sig / b.sig * 2^127).
    norm(
        a.sign != b.sign,
        a.exp - b.exp + F80::BIAS,
        q | u128::from(r != 0),
    )
}

pub(crate) fn sqrt(a: Unp) -> Unp {
    if a.sig == 0 {
        return ZERO;
    }
    let u = a.exp - F80::BIAS;
    let t = u.div_euclid(2) * 2;
    // value = m * 2^(t - 124) with m = (sig >> 3) << (u - t) (≤ 126 bits,
    // 63 pairs); with 61 zero pairs, root = sqrt(m * 2^122), so
    // sqrt(value) = root * 2^(t/2 - 123).
    let m = (a.sig >> 3) << (u - t);
    let (root, _) = isqrt_digits(m, 63, 61);
    norm(false, t / 2 + 4 + F80::BIAS, root)
}
