//! Random operands biased towards the edge cases of the x87.

use f80::F80;

/// xorshift64*: small, deterministic, good enough for test operands.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn coin(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    /// A significand with patterns around the 24-, 53- and 64-bit rounding
    /// points (halfway, just above and below, all ones).
    pub fn mant_bits(&mut self) -> u64 {
        match self.below(8) {
            0 => self.next(),
            1 => {
                let keep = [24u32, 53, 64][self.below(3) as usize];
                let hi = self.next() & !((1u64 << (64 - keep)).wrapping_sub(1) * u64::from(keep < 64));
                let tail = match self.below(5) {
                    0 => 0,
                    1 => 1,
                    2 => (1u64 << (63 - keep.min(63))).wrapping_sub(1),
                    3 => 1u64 << (63 - keep.min(63)),
                    _ => (1u64 << (63 - keep.min(63))) + 1,
                };
                if keep == 64 {
                    hi
                } else {
                    hi | tail
                }
            }
            2 => u64::MAX << self.below(64),
            3 => (1u64 << 63) | (1u64 << self.below(63)),
            4 => (1u64 << 63) | (self.next() >> self.below(64)),
            5 => u64::MAX >> self.below(64),
            _ => self.next(),
        }
    }

    /// Any 80-bit encoding, biased to edge cases.
    pub fn f80(&mut self) -> F80 {
        let sign = if self.coin(2) { 0x8000 } else { 0 };
        let m = self.mant_bits() | F80::INT_BIT;
        let v = match self.below(24) {
            0 => F80::new(0, 0),
            1 => F80::new(0, m & !F80::INT_BIT), // denormal
            2 => F80::new(0, m),                 // pseudo-denormal
            3 => F80::new(1 + self.below(0x7FFE) as u16, m & !F80::INT_BIT), // unnormal
            4 => F80::new(0x7FFF, F80::INT_BIT), // infinity
            5 => F80::new(0x7FFF, m | (1 << 62)), // QNaN
            6 => F80::new(0x7FFF, (m & !(1 << 62)) | 1 << self.below(62)), // SNaN
            7 => F80::new(0x7FFF, m & !F80::INT_BIT), // pseudo-NaN/infinity
            8 | 9 => F80::new(1 + self.below(80) as u16, m), // tiny
            10 | 11 => F80::new(0x7FFE - self.below(80) as u16, m), // huge
            12 => F80::new(1 + self.below(0x7FFE) as u16, m),
            13 => F80::from_i64((self.next() as i64) >> self.below(64)),
            14 => F80::new(0x3FFF - 16 + self.below(32) as u16, m), // fractions
            15 => F80::new((0x3FFF + self.below(70)) as u16, m),    // integers and halves
            _ => F80::new(0x3FFF - 80 + self.below(160) as u16, m),
        };
        F80::new(v.sign_exp | sign, v.mant)
    }

    /// A second operand correlated with `a` half of the time (close
    /// exponents and significands, to exercise cancellation and ties).
    pub fn partner(&mut self, a: F80) -> F80 {
        if self.coin(2) {
            return self.f80();
        }
        let de = self.below(130) as i32 - 65;
        let e = (i32::from(a.exp()) + de).clamp(0, 0x7FFE) as u16;
        let m = match self.below(4) {
            0 => a.mant,
            1 => a.mant.wrapping_add(self.below(4)),
            2 => a.mant.wrapping_sub(self.below(4)),
            _ => a.mant ^ (1 << self.below(64)),
        };
        let s = if self.coin(2) { a.sign_exp & 0x8000 } else { 0x8000 };
        F80::new(s | e, m)
    }

    /// A control word: random RC and PC, all exceptions masked except,
    /// sometimes, overflow and underflow (which change the register result).
    pub fn control_word(&mut self, unmask_ou: bool) -> u16 {
        let rc = self.below(4) as u16;
        let pc = [0u16, 2, 3][self.below(3) as usize];
        let mut masks = 0x3F;
        if unmask_ou && self.coin(4) {
            masks &= !(self.below(4) as u16 * 8);
        }
        0x0040 | (rc << 10) | (pc << 8) | masks
    }
}
