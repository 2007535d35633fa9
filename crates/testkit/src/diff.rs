//! Comparing two outcomes of one case, ignoring what the SDM leaves undefined.

use std::fmt::Write;

use crate::flags::{undefined, Undefined};
use crate::fpdiff::Rules;
use crate::gen::Case;
use crate::state::{flag_names, Outcome, REG_NAMES, VISIBLE_FLAGS, ZF};

/// Vector names for messages (SDM Vol. 3A Table 6-1).
pub fn vector_name(v: u8) -> &'static str {
    match v {
        0 => "#DE",
        1 => "#DB",
        3 => "#BP",
        4 => "#OF",
        5 => "#BR",
        6 => "#UD",
        7 => "#NM",
        8 => "#DF",
        10 => "#TS",
        11 => "#NP",
        12 => "#SS",
        13 => "#GP",
        14 => "#PF",
        16 => "#MF",
        17 => "#AC",
        _ => "#?",
    }
}

/// What to ignore when comparing outcomes of `case`, judged from the host's outcome.
pub fn undefined_for(case: &Case, host: &Outcome) -> Undefined {
    let zf = host.state().eflags & ZF != 0;
    undefined(&case.instr, &case.before, zf)
}

/// The differences between the host's outcome and another engine's, as lines of text;
/// empty if they agree on everything the SDM defines, give or take the x87 deviations
/// listed in `known_deviations_x87.txt`.
pub fn differences(case: &Case, host: &Outcome, other: &Outcome) -> Vec<String> {
    differences_under(case, host, other, Rules::Listed)
}

/// [`differences`], accepting the x87 deviations `rules` accept.
pub fn differences_under(case: &Case, host: &Outcome, other: &Outcome, rules: Rules) -> Vec<String> {
    let u = undefined_for(case, host);
    let mut out = Vec::new();
    if crate::fpdiff::not_compared(case, rules) {
        return out;
    }
    if host.vector() != other.vector() {
        out.push(format!(
            "exception: host {} other {}",
            describe_vector(host),
            describe_vector(other)
        ));
    }
    let (h, o) = (host.state(), other.state());
    for (i, name) in REG_NAMES.iter().enumerate() {
        let mask = !u.regs[i];
        if h.regs[i] & mask != o.regs[i] & mask {
            out.push(format!("{name}: host {:08x} other {:08x}", h.regs[i], o.regs[i]));
        }
    }
    let fmask = VISIBLE_FLAGS & !u.flags;
    if h.eflags & fmask != o.eflags & fmask {
        let diff = (h.eflags ^ o.eflags) & fmask;
        out.push(format!(
            "eflags: host {:08x} other {:08x} (differ in {})",
            h.eflags & VISIBLE_FLAGS,
            o.eflags & VISIBLE_FLAGS,
            flag_names(diff)
        ));
    }
    let masked = crate::fpdiff::masked_memory(case);
    let ignored = |at: usize| {
        u.mem
            .iter()
            .chain(masked.iter())
            .any(|&(start, len)| (start..start + len).contains(&at))
    };
    let bad: Vec<usize> = (0..h.mem.len().min(o.mem.len()))
        .filter(|&at| h.mem[at] != o.mem[at] && !ignored(at))
        .collect();
    if !bad.is_empty() {
        let shown: Vec<String> = bad
            .iter()
            .take(8)
            .map(|&at| format!("[{at:#05x}] host {:02x} other {:02x}", h.mem[at], o.mem[at]))
            .collect();
        out.push(format!(
            "memory: {} bytes differ: {}",
            bad.len(),
            shown.join(", ")
        ));
    }
    out.extend(crate::fpdiff::memory_differences(case, &h.mem, &o.mem));
    match (&h.fpu, &o.fpu) {
        (Some(hf), Some(of)) => out.extend(crate::fpdiff::fpu_differences(
            case,
            hf,
            of,
            host.vector().is_some(),
            rules,
        )),
        (None, None) => {}
        _ => out.push("fpu: only one outcome has the FPU state".to_string()),
    }
    out
}

fn describe_vector(o: &Outcome) -> String {
    match o.vector() {
        None => "none".to_string(),
        Some(v) => format!("{} (vector {v})", vector_name(v)),
    }
}

/// A readable report of one mismatch: the instruction, the state before, both results.
pub fn report(case: &Case, host: &Outcome, other: &Outcome, other_name: &str) -> String {
    report_under(case, host, other, other_name, Rules::Listed)
}

/// [`report`], with the differences as `rules` see them.
pub fn report_under(case: &Case, host: &Outcome, other: &Outcome, other_name: &str, rules: Rules) -> String {
    let u = undefined_for(case, host);
    let mut s = String::new();
    let bytes: Vec<String> = case.bytes.iter().map(|b| format!("{b:02x}")).collect();
    let _ = writeln!(
        s,
        "{}: {}    ({})",
        case.form.name(),
        case.disassembly(),
        bytes.join(" ")
    );
    let _ = writeln!(s, "  before: {:?}", case.before);
    if let Some((at, len)) = memory_operand(case) {
        let _ = writeln!(
            s,
            "          window[{at:#05x}..+{len}] = {:02x?}",
            &case.before.mem[at..at + len]
        );
    }
    let _ = writeln!(s, "  host:   {}", outcome_line(host));
    let _ = writeln!(s, "  {other_name:<7} {}", outcome_line(other));
    for d in differences_under(case, host, other, rules) {
        let _ = writeln!(s, "  differs: {d}");
    }
    if u != Undefined::default() {
        let _ = writeln!(
            s,
            "  ignored (undefined per SDM): flags [{}] regs {:08x?} mem {:?}",
            flag_names(u.flags),
            u.regs,
            u.mem
        );
    }
    s
}

fn outcome_line(o: &Outcome) -> String {
    match o {
        Outcome::Completed(st) => format!("completed  {st:?}"),
        Outcome::Exception { vector, state } => format!("{} ({vector}) {state:?}", vector_name(*vector)),
    }
}

/// The window bytes of the case's explicit memory operand, if it has one in the window.
fn memory_operand(case: &Case) -> Option<(usize, usize)> {
    let i = &case.instr;
    let has_mem = (0..i.op_count()).any(|n| i.op_kind(n) == iced_x86::OpKind::Memory);
    if !has_mem {
        return None;
    }
    let at = crate::gen::ea(i, &case.before) as usize;
    let len = i.memory_size().size().clamp(1, 8);
    (at + len <= case.before.mem.len()).then_some((at, len))
}

/// Runs `case` natively; a convenience for tests.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub fn run_case_native(case: &Case) -> Outcome {
    crate::native::run_native(&case.bytes, &case.before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::Form;
    use crate::state::{UserState, AF, CF};
    use iced_x86::{Code, Decoder, DecoderOptions, RepPrefixKind};

    fn case(bytes: &[u8], before: UserState) -> Case {
        let instr = Decoder::new(32, bytes, DecoderOptions::NONE).decode();
        let form = Form {
            code: instr.code(),
            group: "test",
            rep: RepPrefixKind::None,
            lock: false,
        };
        Case {
            form,
            instr,
            bytes: bytes.to_vec(),
            before,
        }
    }

    #[test]
    fn undefined_flags_are_ignored_and_defined_ones_are_not() {
        // 21 d8: and eax, ebx — AF is undefined (SDM Vol. 2A AND).
        let c = case(&[0x21, 0xd8], UserState::new());
        let host = Outcome::Completed(UserState::new());
        let mut s = UserState::new();
        s.eflags ^= AF;
        assert!(differences(&c, &host, &Outcome::Completed(s.clone())).is_empty());
        s.eflags ^= CF;
        assert_eq!(differences(&c, &host, &Outcome::Completed(s)).len(), 1);
    }

    #[test]
    fn registers_memory_and_exceptions_are_compared() {
        let c = case(&[0x01, 0xd8], UserState::new());
        let host = Outcome::Completed(UserState::new());
        let mut s = UserState::new();
        s.regs[3] = 1;
        s.mem[0x123] = 9;
        let d = differences(&c, &host, &Outcome::Completed(s.clone()));
        assert_eq!(d.len(), 2, "{d:?}");
        let d = differences(
            &c,
            &host,
            &Outcome::Exception {
                vector: 0,
                state: UserState::new(),
            },
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(report(&c, &host, &Outcome::Completed(s), "interp:").contains("add eax,ebx"));
    }

    #[test]
    fn shift_rules_follow_the_count() {
        // d3 e0: shl eax, cl
        let mut before = UserState::new();
        let undef = |before: &UserState| {
            undefined_for(
                &case(&[0xd3, 0xe0], before.clone()),
                &Outcome::Completed(before.clone()),
            )
            .flags
        };
        before.regs[1] = 0x100; // CL = 0: flags untouched, nothing undefined
        assert_eq!(undef(&before), 0);
        before.regs[1] = 1;
        assert_eq!(undef(&before), AF);
        before.regs[1] = 5;
        assert_eq!(undef(&before), AF | crate::state::OF);
    }

    #[test]
    fn every_form_encodes_and_decodes_to_itself() {
        let forms = crate::gen::forms();
        assert!(forms.len() > 500, "{} forms", forms.len());
        let mut rng = crate::gen::Rng::new(3);
        for form in &forms {
            for i in 0..20 {
                let c = crate::gen::generate(form, i, &mut rng);
                let same = c.instr.code() == form.code
                    // xchg eax,eax is NOP; 0x90 decodes as such.
                    || (form.code == Code::Xchg_r32_EAX && c.instr.code() == Code::Nopd)
                    || (form.code == Code::Xchg_r16_AX && c.instr.code() == Code::Nopw);
                assert!(
                    same,
                    "{:?} came back as {:?} ({})",
                    form.code,
                    c.instr.code(),
                    c.disassembly()
                );
            }
        }
    }
}
