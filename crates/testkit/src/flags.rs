//! What the Intel SDM leaves undefined, so a comparison can ignore it.
//!
//! One row per group of mnemonics, each citing the "Flags Affected" section of the
//! instruction's page in the SDM (Vol. 2A/2B) and Vol. 1 Appendix A ("EFLAGS
//! Cross-Reference"). Count-dependent rules (shifts and rotates) are computed from the
//! state before the instruction.

use iced_x86::{Instruction, Mnemonic, OpKind, Register};

use crate::state::{UserState, AF, ARITH_FLAGS, CF, OF, PF, SF, ZF};

/// How a row decides what is undefined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// These flags are always undefined after the instruction completes.
    Flags(u32),
    /// SHL/SAL/SHR/SAR: nothing if the masked count is 0; otherwise AF, OF unless the
    /// count is 1, and (SHL/SHR only) CF when the count is at least the operand size.
    Shift {
        /// Whether CF is undefined for counts of at least the operand size.
        cf_big: bool,
    },
    /// ROL/ROR/RCL/RCR: nothing if the masked count is 0; otherwise OF unless it is 1.
    Rotate,
    /// SHLD/SHRD: nothing if the masked count is 0; AF always; OF unless the count is 1;
    /// every flag and the destination if the count exceeds the operand size.
    DoubleShift,
    /// BSF/BSR: CF OF SF AF PF; the destination too when the source is 0.
    BitScan,
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// The mnemonics the row covers.
    pub mnemonics: &'static [Mnemonic],
    /// What is undefined.
    pub rule: Rule,
    /// Where the SDM says so.
    pub sdm: &'static str,
}

/// The table. Mnemonics not listed leave nothing undefined (ADD, ADC, SUB, SBB, CMP, NEG,
/// INC, DEC, XADD, CMPXCHG, CMPS, SCAS, SAHF, CLC, STC, CMC… define every flag they write).
pub const UNDEFINED: &[Row] = &[
    Row {
        mnemonics: &[Mnemonic::And, Mnemonic::Or, Mnemonic::Xor, Mnemonic::Test],
        rule: Rule::Flags(AF),
        sdm: "Vol. 2A AND/OR, 2B XOR/TEST: \"The OF and CF flags are cleared; the SF, ZF, and PF flags are set according to the result. The state of the AF flag is undefined.\"",
    },
    Row {
        mnemonics: &[Mnemonic::Mul, Mnemonic::Imul],
        rule: Rule::Flags(SF | ZF | AF | PF),
        sdm: "Vol. 2A MUL/IMUL: \"The SF, ZF, AF, and PF flags are undefined.\"",
    },
    Row {
        mnemonics: &[Mnemonic::Div, Mnemonic::Idiv],
        rule: Rule::Flags(ARITH_FLAGS),
        sdm: "Vol. 2A DIV/IDIV: \"The CF, OF, SF, ZF, AF, and PF flags are undefined.\"",
    },
    Row {
        mnemonics: &[Mnemonic::Bt, Mnemonic::Bts, Mnemonic::Btr, Mnemonic::Btc],
        rule: Rule::Flags(OF | SF | AF | PF),
        sdm: "Vol. 2A BT/BTC/BTR/BTS: \"The ZF flag is unaffected. The OF, SF, AF, and PF flags are undefined.\"",
    },
    Row {
        mnemonics: &[Mnemonic::Bsf, Mnemonic::Bsr],
        rule: Rule::BitScan,
        sdm: "Vol. 2A BSF/BSR: \"If the content of the source operand is 0, the content of the destination operand is undefined.\" \"The CF, OF, SF, AF, and PF flags are undefined.\"",
    },
    Row {
        mnemonics: &[Mnemonic::Aaa, Mnemonic::Aas],
        rule: Rule::Flags(OF | SF | ZF | PF),
        sdm: "Vol. 2A AAA/AAS: \"The OF, SF, ZF, and PF flags are undefined.\"",
    },
    Row {
        mnemonics: &[Mnemonic::Aam, Mnemonic::Aad],
        rule: Rule::Flags(OF | AF | CF),
        sdm: "Vol. 2A AAM/AAD: \"The OF, AF, and CF flags are undefined.\"",
    },
    Row {
        mnemonics: &[Mnemonic::Daa, Mnemonic::Das],
        rule: Rule::Flags(OF),
        sdm: "Vol. 2A DAA/DAS: \"The OF flag is undefined.\"",
    },
    Row {
        mnemonics: &[Mnemonic::Shl, Mnemonic::Sal, Mnemonic::Shr],
        rule: Rule::Shift { cf_big: true },
        sdm: "Vol. 2B SAL/SAR/SHL/SHR: CF \"is undefined for SHL and SHR instructions where the count is greater than or equal to the size (in bits) of the destination operand. The OF flag is affected only for 1-bit shifts; otherwise, it is undefined. [...] If the count is 0, the flags are not affected. For a non-zero count, the AF flag is undefined.\"",
    },
    Row {
        mnemonics: &[Mnemonic::Sar],
        rule: Rule::Shift { cf_big: false },
        sdm: "Vol. 2B SAL/SAR/SHL/SHR (as above; the CF clause names only SHL and SHR)",
    },
    Row {
        mnemonics: &[Mnemonic::Rol, Mnemonic::Ror, Mnemonic::Rcl, Mnemonic::Rcr],
        rule: Rule::Rotate,
        sdm: "Vol. 2B RCL/RCR/ROL/ROR: \"If the masked count is 0, the flags are not affected. [...] The OF flag is defined only for the 1-bit rotates; it is undefined in all other cases.\"",
    },
    Row {
        mnemonics: &[Mnemonic::Shld, Mnemonic::Shrd],
        rule: Rule::DoubleShift,
        sdm: "Vol. 2B SHLD/SHRD: \"For shifts greater than 1 bit, the OF flag is undefined. If a shift occurs, the AF flag is undefined. If the count operand is 0, the flags are not affected. If the count is greater than the operand size, the flags are undefined.\" and \"If the count is greater than the operand size, the result is undefined.\"",
    },
];

/// What to ignore when comparing two outcomes of one case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Undefined {
    /// EFLAGS bits to ignore.
    pub flags: u32,
    /// Per register, the bits to ignore.
    pub regs: [u32; 8],
    /// Bytes of the data window to ignore, as (offset, length).
    pub mem: Option<(usize, usize)>,
}

/// The row covering `mnemonic`, if any.
pub fn row(mnemonic: Mnemonic) -> Option<&'static Row> {
    UNDEFINED.iter().find(|r| r.mnemonics.contains(&mnemonic))
}

/// What is undefined after `instr` runs from `before`. `after_zf` is ZF as the host left
/// it (BSF/BSR set ZF exactly when the source is 0).
pub fn undefined(instr: &Instruction, before: &UserState, after_zf: bool) -> Undefined {
    let mut u = Undefined::default();
    let Some(row) = row(instr.mnemonic()) else {
        return u;
    };
    let size_bits = operand_bits(instr);
    match row.rule {
        Rule::Flags(f) => u.flags = f,
        Rule::Shift { cf_big } => {
            let count = count(instr, before) & 0x1f;
            if count != 0 {
                u.flags |= AF;
                if count != 1 {
                    u.flags |= OF;
                }
                if cf_big && count >= size_bits {
                    u.flags |= CF;
                }
            }
        }
        Rule::Rotate => {
            let count = count(instr, before) & 0x1f;
            if count > 1 {
                u.flags |= OF;
            }
        }
        Rule::DoubleShift => {
            let count = count(instr, before) & 0x1f;
            if count != 0 {
                u.flags |= AF;
                if count != 1 {
                    u.flags |= OF;
                }
                if count > size_bits {
                    u.flags |= ARITH_FLAGS;
                    undefine_dest(instr, before, size_bits, &mut u);
                }
            }
        }
        Rule::BitScan => {
            u.flags = CF | OF | SF | AF | PF;
            if after_zf {
                undefine_dest(instr, before, size_bits, &mut u);
            }
        }
    }
    u
}

/// Marks operand 0 undefined: the low `size_bits` bits of a register, or the bytes of a
/// memory operand in the window.
fn undefine_dest(instr: &Instruction, before: &UserState, size_bits: u32, u: &mut Undefined) {
    if instr.op0_kind() == OpKind::Register {
        if let Some(i) = gpr_index(instr.op0_register()) {
            u.regs[i] |= if size_bits >= 32 {
                u32::MAX
            } else {
                (1u32 << size_bits) - 1
            };
        }
    } else {
        u.mem = Some((crate::gen::ea(instr, before) as usize, size_bits as usize / 8));
    }
}

/// The size of operand 0 in bits (8, 16 or 32).
pub fn operand_bits(instr: &Instruction) -> u32 {
    match instr.op0_kind() {
        OpKind::Register => instr.op0_register().size() as u32 * 8,
        _ => instr.memory_size().size() as u32 * 8,
    }
}

/// The shift or rotate count of a shift-like instruction: its last operand (immediate,
/// CL or the constant 1).
fn count(instr: &Instruction, before: &UserState) -> u32 {
    let last = instr.op_count() - 1;
    match instr.op_kind(last) {
        OpKind::Register => before.regs[1] & 0xff, // CL
        OpKind::Immediate8 => u32::from(instr.immediate8()),
        // The `D0 /4`-style "by 1" forms have no immediate byte in iced's model.
        _ => 1,
    }
}

/// The index in [`UserState::regs`] of a general register of any size; AH..BH map to
/// EAX..EBX.
pub fn gpr_index(r: Register) -> Option<usize> {
    use Register::*;
    let i = match r {
        AL | AX | EAX | AH => 0,
        CL | CX | ECX | CH => 1,
        DL | DX | EDX | DH => 2,
        BL | BX | EBX | BH => 3,
        SP | ESP => 4,
        BP | EBP => 5,
        SI | ESI => 6,
        DI | EDI => 7,
        _ => return Option::None,
    };
    Some(i)
}
