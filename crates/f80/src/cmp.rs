//! FCOM/FUCOM/FCOMI/FUCOMI/FTST (SDM Vol. 2; Vol. 1 §8.1.3.3 condition codes).

use crate::round::Unp;
use crate::{Class, Context, Exceptions, Real, F80};

/// The outcome of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compare {
    /// `a > b`: C3,C2,C0 = 0,0,0 (FCOMI: ZF,PF,CF = 0,0,0).
    Greater,
    /// `a < b`: 0,0,1.
    Less,
    /// `a = b`: 1,0,0.
    Equal,
    /// Unordered (a NaN or an unsupported encoding): 1,1,1.
    Unordered,
}

impl Compare {
    /// (C3, C2, C0) for FCOM and friends; also (ZF, PF, CF) for FCOMI.
    pub const fn condition_codes(self) -> (bool, bool, bool) {
        match self {
            Compare::Greater => (false, false, false),
            Compare::Less => (false, false, true),
            Compare::Equal => (true, false, false),
            Compare::Unordered => (true, true, true),
        }
    }
}

impl Context {
    /// Compares `a` with `b`. An ordered compare (`quiet == false`: FCOM,
    /// FCOMI, FICOM, FTST) raises #IA for any NaN; an unordered one (FUCOM,
    /// FUCOMI) only for an SNaN. Unsupported encodings raise #IA either way.
    /// A denormal operand raises #D unless the compare was invalid.
    pub fn compare(&mut self, a: impl Into<Real>, b: impl Into<Real>, quiet: bool) -> Compare {
        self.begin();
        let (a, ad) = a.into().widen();
        let (b, bd) = b.into().widen();
        if a.is_unsupported() || b.is_unsupported() {
            self.raise(Exceptions::IE);
            return Compare::Unordered;
        }
        if a.is_nan() || b.is_nan() {
            if !quiet || a.is_snan() || b.is_snan() {
                self.raise(Exceptions::IE);
            }
            return Compare::Unordered;
        }
        if ad || bd {
            self.raise(Exceptions::DE);
        }
        let key = |v: F80| -> (i8, i32, u128) {
            // Magnitude key, then signed.
            match v.class() {
                Class::Zero => (0, 0, 0),
                Class::Infinity => (if v.sign() { -2 } else { 2 }, 0, 0),
                _ => {
                    let u = Unp::from(v);
                    if u.sign {
                        (-1, -u.exp, !u.sig)
                    } else {
                        (1, u.exp, u.sig)
                    }
                }
            }
        };
        match key(a).cmp(&key(b)) {
            std::cmp::Ordering::Less => Compare::Less,
            std::cmp::Ordering::Equal => Compare::Equal,
            std::cmp::Ordering::Greater => Compare::Greater,
        }
    }

    /// FTST: compares `a` with +0.0 (ordered).
    pub fn test(&mut self, a: F80) -> Compare {
        self.compare(a, F80::ZERO, false)
    }
}
