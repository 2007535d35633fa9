//! Comparing the x87/MMX part of two outcomes, and the tolerated deviations.
//!
//! Compared bit for bit: FCW, FSW (C0–C3, TOP, the exception flags, SF, ES, B), the
//! abridged tag byte, the full tag word, the eight registers (10 bytes each) and the
//! last-instruction pointers of the FNSTENV image: FOP and FDP exactly, FIP relative
//! to where each engine put the case's code ([`NATIVE_CODE_ADDR`], [`CODE_ADDR`]), and
//! FCS/FDS as "the same segment" (the host's flat selectors are 0x23 and 0x2B, the
//! interpreter's 0x0B and 0x13). Not compared: MXCSR and the XMM area (the modelled CPU
//! has no SSE), the reserved bytes 10–15 of each FXSAVE register slot, and the pointer
//! fields of the FXSAVE image itself (AMD CPUs store FOP/FIP/FDP there only while an
//! exception is pending — AMD64 APM Vol. 5 FXSAVE — while the FNSTENV image always has
//! them).
//!
//! `known_deviations_x87.txt` lists, per mnemonic, the differences that are accepted
//! and why; nothing else is. They are the interpreter's (its x87 arithmetic is `f80`'s);
//! an engine that runs x87 code on the host FPU itself (the translator) is held to
//! [`Rules::Exact`], which accepts none of them.

use iced_x86::{MemorySize, Mnemonic};

use crate::gen::{ea, Case};
use crate::state::{FpuState, CODE_ADDR, NATIVE_CODE_ADDR};

/// How a listed mnemonic may differ from the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deviation {
    /// A register result may be one unit in the last place away from the host's; C1
    /// and PE (the rounding direction and inexactness of the host's approximation,
    /// which the host reports even for exact results) are not compared.
    Ulp,
    /// With ST(0) outside the operand range the SDM defines, the case is not compared
    /// (the result is undefined).
    Domain,
    /// With ST(0) empty before the instruction, the case is not compared at all.
    EmptySt0,
}

/// Which deviations a comparison accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rules {
    /// Those listed in `known_deviations_x87.txt`.
    Listed,
    /// None: every compared bit must match the host's.
    Exact,
    /// Those listed, for these instructions only (which an engine leaves
    /// to the interpreter); none for the rest.
    ListedFor(&'static [Mnemonic]),
}

/// The deviations data file.
const DEVIATIONS: &str = include_str!("../known_deviations_x87.txt");

/// The deviations listed for `m` (its mnemonic in lower case in the data file).
pub fn deviations(m: Mnemonic) -> Vec<Deviation> {
    let name = format!("{m:?}").to_lowercase();
    DEVIATIONS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(name.as_str())).then(|| match w.next() {
                Some("ulp") => Deviation::Ulp,
                Some("domain") => Deviation::Domain,
                Some("empty-st0") => Deviation::EmptySt0,
                other => panic!("known_deviations_x87.txt: unknown rule {other:?} in {l:?}"),
            })
        })
        .collect()
}

/// Whether ST(0) of the case's starting state is outside the range the SDM defines
/// the instruction for: F2XM1 with |x| > 1, FYL2XP1 with |x| ≥ 1 − √2/2.
fn outside_domain(case: &Case) -> bool {
    let Some(f) = &case.before.fpu else {
        return false;
    };
    let b = f.st(0);
    let se = u16::from_le_bytes([b[8], b[9]]);
    let m = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    let exp = se & 0x7fff;
    if exp == 0x7fff || (exp == 0 && m == 0) {
        return false;
    }
    match case.instr.mnemonic() {
        // |x| > 1: exponent above 0x3fff, or 0x3fff with more than the integer bit.
        Mnemonic::F2xm1 => exp > 0x3fff || (exp == 0x3fff && m != 1 << 63),
        // 1 − √2/2 ≈ 0.2929 = 0x3ffd:0x95f6_1998_0c43_3812 (rounded down).
        Mnemonic::Fyl2xp1 => exp > 0x3ffd || (exp == 0x3ffd && m >= 0x95f6_1998_0c43_3812),
        _ => false,
    }
}

/// The deviations `rules` accept for the case's mnemonic.
fn accepted(case: &Case, rules: Rules) -> Vec<Deviation> {
    match rules {
        Rules::Listed => deviations(case.instr.mnemonic()),
        Rules::Exact => Vec::new(),
        Rules::ListedFor(ms) if ms.contains(&case.instr.mnemonic()) => deviations(case.instr.mnemonic()),
        Rules::ListedFor(_) => Vec::new(),
    }
}

/// Whether the case is left out of the comparison by an `empty-st0` or `domain`
/// deviation that `rules` accept.
pub fn not_compared(case: &Case, rules: Rules) -> bool {
    let Some(f) = &case.before.fpu else {
        return false;
    };
    let dev = accepted(case, rules);
    let top = (f.fsw() >> 11) & 7;
    let empty = f.ftw() & (1 << top) == 0;
    (empty && dev.contains(&Deviation::EmptySt0))
        || (!empty && dev.contains(&Deviation::Domain) && outside_domain(case))
}

/// Whether two register images are one unit in the last place apart (or equal): the
/// same sign and adjacent magnitudes, across an exponent boundary too.
fn within_one_ulp(a: [u8; 10], b: [u8; 10]) -> bool {
    let split = |v: [u8; 10]| {
        let se = u16::from_le_bytes([v[8], v[9]]);
        let m = u64::from_le_bytes([v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]);
        (
            se >> 15,
            (u128::from(se & 0x7fff) << 63) | u128::from(m & !(1 << 63)),
            m >> 63,
        )
    };
    let (sa, ka, ja) = split(a);
    let (sb, kb, jb) = split(b);
    sa == sb && ja == jb && ka.abs_diff(kb) <= 1
}

/// FSW bits C1 and PE.
const C1: u16 = 1 << 9;
const PE: u16 = 1 << 5;

/// The differences between the host's FPU state and another engine's, as lines of text,
/// accepting the deviations `rules` accept.
///
/// `faulted`: the host's state went through a signal frame (the case raised an
/// exception). Linux saves and restores it in the 64-bit format, which has no FCS and
/// FDS, so they come back as 0.
pub fn fpu_differences(case: &Case, h: &FpuState, o: &FpuState, faulted: bool, rules: Rules) -> Vec<String> {
    let mut out = Vec::new();
    let dev = accepted(case, rules);
    let mut fsw_mask = 0xffffu16;
    if dev.contains(&Deviation::Ulp) {
        fsw_mask &= !(C1 | PE);
    }
    for i in 0..8 {
        let (a, b) = (h.st(i), o.st(i));
        if a == b {
            continue;
        }
        if dev.contains(&Deviation::Ulp) && within_one_ulp(a, b) {
            continue;
        }
        out.push(format!("st{i}: host {} other {}", show80(a), show80(b)));
    }
    if h.fcw() != o.fcw() {
        out.push(format!("fcw: host {:04x} other {:04x}", h.fcw(), o.fcw()));
    }
    if h.fsw() & fsw_mask != o.fsw() & fsw_mask {
        out.push(format!(
            "fsw: host {:04x} other {:04x} (differ in {:04x})",
            h.fsw(),
            o.fsw(),
            (h.fsw() ^ o.fsw()) & fsw_mask
        ));
    }
    if h.ftw() != o.ftw() || h.tag_word() != o.tag_word() {
        out.push(format!(
            "tags: host {:02x}/{:04x} other {:02x}/{:04x}",
            h.ftw(),
            h.tag_word(),
            o.ftw(),
            o.tag_word()
        ));
    }
    pointer_differences("fpu pointers", &h.env, &o.env, true, faulted, &mut out);
    out
}

/// Compares the pointer fields of two FSTENV images (32-bit format if `big`, else the
/// 16-bit one): FOP and FDP exactly, FIP relative to each engine's code address, and
/// the selectors as "the same segment".
fn pointer_differences(what: &str, h: &[u8], o: &[u8], big: bool, faulted: bool, out: &mut Vec<String>) {
    let u16at = |b: &[u8], at: usize| u32::from(u16::from_le_bytes([b[at], b[at + 1]]));
    let u32at = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    // (name, offset, width in bytes) per format.
    let (fip, fcs, fop, fdp, fds) = if big {
        ((12, 4), (16, 2), Some((18, 2)), (20, 4), (24, 2))
    } else {
        ((6, 2), (8, 2), None, (10, 2), (12, 2))
    };
    let read = |b: &[u8], (at, w): (usize, usize)| if w == 4 { u32at(b, at) } else { u16at(b, at) };
    let mask = |w: usize| if w == 4 { u32::MAX } else { 0xffff };
    let (hf, of) = (read(h, fip), read(o, fip));
    let rel_h = hf.wrapping_sub(NATIVE_CODE_ADDR) & mask(fip.1);
    let rel_o = of.wrapping_sub(CODE_ADDR) & mask(fip.1);
    if hf != of && rel_h != rel_o {
        out.push(format!("{what}: fip host {hf:08x} other {of:08x}"));
    }
    let same_seg =
        |h: u32, o: u32| h == o || (h, o) == (0x23, 0x0b) || (h, o) == (0x2b, 0x13) || (faulted && h == 0);
    for (name, f) in [("fcs", fcs), ("fds", fds)] {
        let (a, b) = (read(h, f), read(o, f));
        if !same_seg(a, b) {
            out.push(format!("{what}: {name} host {a:04x} other {b:04x}"));
        }
    }
    for (name, f) in [("fop", fop), ("fdp", Some(fdp))] {
        if let Some(f) = f {
            let (a, b) = (read(h, f), read(o, f));
            if a != b {
                out.push(format!("{what}: {name} host {a:x} other {b:x}"));
            }
        }
    }
}

/// Window bytes an x87 store leaves for [`memory_differences`] instead of the
/// byte-for-byte comparison: the pointer fields of FSTENV/FSAVE images and, for FXSAVE,
/// the pointers, MXCSR and everything after the register slots.
pub fn masked_memory(case: &Case) -> Vec<(usize, usize)> {
    let Some((at, big)) = env_store(case) else {
        if case.instr.mnemonic() == Mnemonic::Fxsave {
            let at = ea(&case.instr, &case.before) as usize;
            return vec![(at + 6, 26), (at + 160, 352)];
        }
        return Vec::new();
    };
    if big {
        vec![(at + 12, 14)]
    } else {
        vec![(at + 6, 8)]
    }
}

/// The window offset and format (32-bit or not) of an FSTENV/FSAVE image the case stores.
fn env_store(case: &Case) -> Option<(usize, bool)> {
    use Mnemonic::*;
    let i = &case.instr;
    if !matches!(i.mnemonic(), Fnstenv | Fstenv | Fnsave | Fsave) {
        return None;
    }
    let big = !matches!(i.memory_size(), MemorySize::FpuEnv14 | MemorySize::FpuState94);
    Some((ea(i, &case.before) as usize, big))
}

/// The pointer fields of an FSTENV/FSAVE image in the window, compared as in the
/// register state.
pub fn memory_differences(case: &Case, h: &[u8], o: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((at, big)) = env_store(case) {
        let n = if big { 28 } else { 14 };
        if at + n <= h.len() {
            pointer_differences(
                "stored pointers",
                &h[at..at + n],
                &o[at..at + n],
                big,
                false,
                &mut out,
            );
        }
    }
    out
}

/// Whether two FPU states that [`fpu_differences`] accepts differ in a register or the
/// status word anyway: a listed deviation was used.
pub fn used_deviation(h: &FpuState, o: &FpuState) -> bool {
    h.fsw() != o.fsw() || (0..8).any(|i| h.st(i) != o.st(i))
}

fn show80(v: [u8; 10]) -> String {
    let se = u16::from_le_bytes([v[8], v[9]]);
    let m = u64::from_le_bytes([v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]);
    format!("{se:04x}:{m:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_file_parses_and_lists_the_transcendentals() {
        for m in [Mnemonic::Fsin, Mnemonic::Fpatan, Mnemonic::F2xm1] {
            assert!(deviations(m).contains(&Deviation::Ulp), "{m:?}");
        }
        assert!(deviations(Mnemonic::Fadd).is_empty());
    }

    #[test]
    fn one_ulp_crosses_exponents_but_not_signs() {
        let v = |se: u16, m: u64| {
            let mut b = [0u8; 10];
            b[..8].copy_from_slice(&m.to_le_bytes());
            b[8..].copy_from_slice(&se.to_le_bytes());
            b
        };
        assert!(within_one_ulp(v(0x3fff, u64::MAX), v(0x4000, 1 << 63)));
        assert!(!within_one_ulp(v(0x3fff, 1 << 63), v(0xbfff, 1 << 63)));
        assert!(!within_one_ulp(v(0x3fff, 1 << 63), v(0x3fff, (1 << 63) + 2)));
    }
}
