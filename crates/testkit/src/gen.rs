//! Random test cases for user-level instruction forms.
//!
//! A *form* is an iced-x86 [`Code`] (`Add_rm32_r32`, `Shl_rm8_CL`, …). The list of forms
//! is derived from a table of mnemonics per group: every legacy encoding of those
//! mnemonics that is valid in 32-bit mode and whose operands this generator knows how to
//! fill becomes a form. A case is one instruction of that form with random operands
//! (registers, or `[base + index*scale + disp]` inside the data window), random register
//! values biased toward edge cases, random arithmetic flags, and a random data window.
//!
//! Beyond the operands, cases vary what decoders and exception paths get wrong: shift
//! counts walk 0..=255; divisions are mostly made not to overflow (the rest raise #DE);
//! string forms run with and without REP/REPE/REPNE, with DF 0 and 1, overlapping
//! pointers and, now and then, runs of up to 1,536 bytes; stack forms keep ESP and EBP in
//! the window and may name ESP; LEA gets arbitrary addresses, a third of them with 16-bit
//! addressing; memory operands sometimes carry ES/CS/SS/DS overrides (a write through CS
//! is #GP); the `lock` group puts LOCK on every lockable form and on some that are not
//! (#UD); and one case in eight of the plain groups gets redundant prefixes, sometimes
//! enough to pass the 15-byte limit (#GP).

use iced_x86::{
    Code, Decoder, DecoderOptions, Encoder, EncodingKind, Instruction, Mnemonic, OpCodeOperandKind, OpKind,
    Register, RepPrefixKind,
};

use crate::state::{
    UserState, ARITH_FLAGS, DATA_BASE, DATA_SIZE, DF, EBP, EBX, ECX, EDI, ESI, ESP, IF, RESERVED1,
};

/// A small deterministic PRNG (SplitMix64): cases are reproducible from a seed without
/// pulling in a dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.next_u32()) * u64::from(n)) >> 32) as u32
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u32, den: u32) -> bool {
        self.below(den) < num
    }

    /// A random element of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u32) as usize]
    }

    /// A 32-bit value biased toward the edges arithmetic gets wrong: 0, 1, the signed and
    /// unsigned limits of each width, small numbers, and words built from edge bytes.
    pub fn edge_u32(&mut self) -> u32 {
        const EDGES: [u32; 20] = [
            0,
            1,
            2,
            0x7f,
            0x80,
            0xff,
            0x100,
            0x7fff,
            0x8000,
            0xffff,
            0x1_0000,
            0x7fff_ffff,
            0x8000_0000,
            0x8000_0001,
            0xffff_fffe,
            0xffff_ffff,
            0x0f0f_0f0f,
            0x9999_9999,
            0x0909_0909,
            0x1234_5678,
        ];
        match self.below(8) {
            0 | 1 => self.pick(&EDGES),
            2 => self.below(40),
            3 => self.pick(&EDGES).wrapping_add(self.below(3)).wrapping_sub(1),
            4 => {
                let bytes: [u8; 4] =
                    std::array::from_fn(|_| self.pick(&[0u8, 1, 0x09, 0x0f, 0x7f, 0x80, 0x99, 0xff]));
                u32::from_le_bytes(bytes)
            }
            _ => self.next_u32(),
        }
    }
}

/// One instruction form to test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Form {
    /// The iced-x86 form.
    pub code: Code,
    /// The group it is reported under.
    pub group: &'static str,
    /// For string forms: the repeat prefix.
    pub rep: RepPrefixKind,
    /// Whether the instruction carries a LOCK prefix (group `lock`).
    pub lock: bool,
}

impl Form {
    /// A readable name: the iced `Code`, with the repeat prefix for string forms.
    pub fn name(&self) -> String {
        if self.lock {
            return format!("Lock_{:?}", self.code);
        }
        match self.rep {
            RepPrefixKind::Repe => format!("Rep_{:?}", self.code),
            RepPrefixKind::Repne => format!("Repne_{:?}", self.code),
            _ => format!("{:?}", self.code),
        }
    }
}

/// One test case: an encoded instruction and the state to run it from.
#[derive(Clone, Debug)]
pub struct Case {
    /// The form the case was drawn from.
    pub form: Form,
    /// The instruction, as decoded back from `bytes`.
    pub instr: Instruction,
    /// Its 32-bit encoding.
    pub bytes: Vec<u8>,
    /// The state to run it from.
    pub before: UserState,
}

impl Case {
    /// The instruction in Intel syntax.
    pub fn disassembly(&self) -> String {
        use iced_x86::Formatter;
        let mut out = String::new();
        iced_x86::IntelFormatter::new().format(&self.instr, &mut out);
        out
    }
}

/// The groups and their mnemonics. String instructions are listed separately because
/// their forms also vary by repeat prefix.
pub const GROUPS: &[(&str, &[Mnemonic])] = {
    use Mnemonic::*;
    &[
        (
            "alu",
            &[Add, Adc, Sub, Sbb, Cmp, And, Or, Xor, Test, Neg, Not, Inc, Dec],
        ),
        ("shift", &[Shl, Sal, Shr, Sar, Rol, Ror, Rcl, Rcr, Shld, Shrd]),
        ("muldiv", &[Mul, Imul, Div, Idiv]),
        ("bcd", &[Aaa, Aas, Aam, Aad, Daa, Das]),
        ("bit", &[Bt, Bts, Btr, Btc, Bsf, Bsr]),
        ("xchg", &[Xchg, Xadd, Cmpxchg, Cmpxchg8b]),
        (
            "cond",
            &[
                Cmovo, Cmovno, Cmovb, Cmovae, Cmove, Cmovne, Cmovbe, Cmova, Cmovs, Cmovns, Cmovp, Cmovnp,
                Cmovl, Cmovge, Cmovle, Cmovg, Seto, Setno, Setb, Setae, Sete, Setne, Setbe, Seta, Sets,
                Setns, Setp, Setnp, Setl, Setge, Setle, Setg,
            ],
        ),
        ("flag", &[Clc, Stc, Cmc, Cld, Std, Lahf, Sahf]),
        ("convert", &[Cbw, Cwde, Cwd, Cdq, Bswap, Movzx, Movsx]),
        ("mov", &[Mov, Lea]),
        (
            "stack",
            &[
                Push, Pop, Pusha, Pushad, Popa, Popad, Pushf, Pushfd, Popf, Popfd, Enter, Leave,
            ],
        ),
        ("loop", &[Loop, Loope, Loopne, Jcxz, Jecxz]),
        ("trap", &[Into, Int3, Bound, Ud2]),
    ]
};

/// Mnemonics tried with a LOCK prefix (group `lock`), in their forms whose first operand
/// may be memory. Those the SDM (Vol. 2A "LOCK") lists complete; the others (CMP, TEST,
/// BT) and register destinations raise #UD.
const LOCK_MNEMONICS: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Add, Adc, Sub, Sbb, Cmp, And, Or, Xor, Test, Neg, Not, Inc, Dec, Bt, Bts, Btr, Btc, Xchg, Xadd,
        Cmpxchg, Cmpxchg8b,
    ]
};

/// The string forms (each also with REP, and CMPS/SCAS with REPE and REPNE).
const STRING_CODES: &[Code] = &[
    Code::Movsb_m8_m8,
    Code::Movsw_m16_m16,
    Code::Movsd_m32_m32,
    Code::Stosb_m8_AL,
    Code::Stosw_m16_AX,
    Code::Stosd_m32_EAX,
    Code::Lodsb_AL_m8,
    Code::Lodsw_AX_m16,
    Code::Lodsd_EAX_m32,
    Code::Cmpsb_m8_m8,
    Code::Cmpsw_m16_m16,
    Code::Cmpsd_m32_m32,
    Code::Scasb_AL_m8,
    Code::Scasw_AX_m16,
    Code::Scasd_EAX_m32,
];

/// Groups whose instructions get random redundant prefixes now and then. BSF and BSR
/// are left out: F3 turns them into TZCNT and LZCNT on hosts with BMI1/ABM, which the
/// i686 Strachey models does not have.
const PREFIX_GROUPS: &[&str] = &["alu", "shift", "muldiv", "bit", "cond", "convert", "mov", "xchg"];

/// Forms left out on purpose, with the reason.
const EXCLUDED: &[(Code, &str)] = &[
    (
        Code::Bswap_r16,
        "SDM Vol. 2A BSWAP: the result with a 16-bit operand is undefined",
    ),
    (
        Code::Cmpxchg486_rm8_r8,
        "0F A6: CMPXCHG of early 486 steppings only; #UD on later CPUs",
    ),
    (Code::Cmpxchg486_rm16_r16, "0F A7: as above"),
    (Code::Cmpxchg486_rm32_r32, "0F A7: as above"),
];

/// Every form to test, in group order.
pub fn forms() -> Vec<Form> {
    let mut out = Vec::new();
    let plain = |code, group| Form {
        code,
        group,
        rep: RepPrefixKind::None,
        lock: false,
    };
    for (group, mnemonics) in GROUPS {
        for code in Code::values() {
            if mnemonics.contains(&code.mnemonic()) && usable(code) {
                out.push(plain(code, group));
            }
        }
        if *group == "mov" {
            // XLAT's operand kind (seg:[ebx+al]) is generated by hand.
            out.push(plain(Code::Xlat_m8, group));
        }
    }
    for code in Code::values() {
        let rm_first = matches!(
            code.op_code().op_kinds().first(),
            Some(
                OpCodeOperandKind::r8_or_mem | OpCodeOperandKind::r16_or_mem | OpCodeOperandKind::r32_or_mem
            ) | Some(OpCodeOperandKind::mem)
        );
        if LOCK_MNEMONICS.contains(&code.mnemonic()) && usable(code) && rm_first {
            out.push(Form {
                code,
                group: "lock",
                rep: RepPrefixKind::None,
                lock: true,
            });
        }
    }
    for &code in STRING_CODES {
        let compares = matches!(
            code.mnemonic(),
            Mnemonic::Cmpsb | Mnemonic::Cmpsw | Mnemonic::Cmpsd
        ) || matches!(
            code.mnemonic(),
            Mnemonic::Scasb | Mnemonic::Scasw | Mnemonic::Scasd
        );
        let reps: &[RepPrefixKind] = if compares {
            &[RepPrefixKind::None, RepPrefixKind::Repe, RepPrefixKind::Repne]
        } else {
            &[RepPrefixKind::None, RepPrefixKind::Repe]
        };
        for &rep in reps {
            out.push(Form {
                code,
                group: "string",
                rep,
                lock: false,
            });
        }
    }
    out
}

/// Whether `code` is a legacy encoding valid in 32-bit mode with operands we can fill.
fn usable(code: Code) -> bool {
    let op = code.op_code();
    code.encoding() == EncodingKind::Legacy
        && op.mode32()
        && op.is_instruction()
        && !EXCLUDED.iter().any(|(c, _)| *c == code)
        && op.op_kinds().iter().all(|k| supported(*k))
}

fn supported(k: OpCodeOperandKind) -> bool {
    use OpCodeOperandKind::*;
    matches!(
        k,
        r8_or_mem
            | r16_or_mem
            | r32_or_mem
            | r8_reg
            | r8_opcode
            | r16_reg
            | r16_rm
            | r16_opcode
            | r32_reg
            | r32_rm
            | r32_opcode
            | mem
            | mem_offs
            | al
            | cl
            | ax
            | eax
            | imm8
            | imm8_const_1
            | imm8sex16
            | imm8sex32
            | imm16
            | imm32
            | br32_1
    )
}

const R8: [Register; 8] = [
    Register::AL,
    Register::CL,
    Register::DL,
    Register::BL,
    Register::AH,
    Register::CH,
    Register::DH,
    Register::BH,
];
const R16: [Register; 8] = [
    Register::AX,
    Register::CX,
    Register::DX,
    Register::BX,
    Register::SP,
    Register::BP,
    Register::SI,
    Register::DI,
];
const R32: [Register; 8] = [
    Register::EAX,
    Register::ECX,
    Register::EDX,
    Register::EBX,
    Register::ESP,
    Register::EBP,
    Register::ESI,
    Register::EDI,
];

/// Registers a form uses implicitly or rewrites in a fix-up, which must not double as a
/// memory base (the base holds a window address).
fn reserved_regs(m: Mnemonic) -> &'static [usize] {
    use Mnemonic::*;
    match m {
        Mul | Imul | Div | Idiv | Cwd | Cdq | Cmpxchg | Cmpxchg8b => &[0, 2],
        Shl | Sal | Shr | Sar | Rol | Ror | Rcl | Rcr | Shld | Shrd => &[1],
        _ => &[],
    }
}

/// Draws one case of `form`. `index` is the case's number within its form: shift
/// forms use it to walk every count 0..=255 in their first 256 cases.
pub fn generate(form: &Form, index: u64, rng: &mut Rng) -> Case {
    if crate::fp::FP_GROUPS.contains(&form.group) {
        return crate::fp::generate(form, index, rng);
    }
    let mut before = UserState::new();
    for (i, r) in before.regs.iter_mut().enumerate() {
        if i != 4 {
            *r = rng.edge_u32();
        }
    }
    before.eflags = (rng.next_u32() & ARITH_FLAGS) | IF | RESERVED1;
    fill_window(&mut before.mem, rng);

    if form.group == "stack" {
        // A stack inside the window, usually dword-aligned; EBP too, for ENTER's nested
        // frames and LEAVE.
        let misalign = if rng.chance(1, 8) { 2 } else { 0 };
        before.regs[ESP] = DATA_BASE + 0x200 + (rng.below(0xC00) & !3) + misalign;
        before.regs[EBP] = DATA_BASE + 0x200 + (rng.below(0xC00) & !3);
    }
    let mut instr = match form.code {
        _ if form.group == "string" => string_case(form, rng, &mut before),
        Code::Xlat_m8 => xlat_case(rng, &mut before),
        _ => operand_case(form, index, rng, &mut before),
    };
    if form.group == "flag" && rng.chance(1, 2) {
        before.eflags |= DF;
    }
    let mut bytes = encode(form, &instr);
    if instr.op0_kind() == OpKind::NearBranch32 {
        // Branch to the next instruction: taken or not, execution continues after it,
        // and what differs (ECX for LOOP) is in the registers.
        instr.set_near_branch32(bytes.len() as u32);
        bytes = encode(form, &instr);
        assert_eq!(instr.near_branch32(), bytes.len() as u32);
    }
    let mut prefixed = false;
    if PREFIX_GROUPS.contains(&form.group)
        && !matches!(instr.mnemonic(), Mnemonic::Bsf | Mnemonic::Bsr)
        && rng.chance(1, 8)
    {
        // Redundant prefixes: segment overrides (the last one counts) and REP/REPNE,
        // which these instructions ignore. Now and then so many that the instruction
        // passes 15 bytes, which is #GP (SDM Vol. 2A §2.3.11).
        let n = if rng.chance(1, 8) {
            4 + rng.below(6)
        } else {
            1 + rng.below(3)
        };
        let mut p: Vec<u8> = (0..n)
            .map(|_| rng.pick(&[0x26u8, 0x2E, 0x36, 0x3E, 0xF2, 0xF3]))
            .collect();
        p.extend_from_slice(&bytes);
        bytes = p;
        prefixed = true;
    }
    let mut decoder = Decoder::new(32, &bytes, DecoderOptions::NONE);
    let decoded = decoder.decode();
    let instr = if (decoded.is_invalid() || decoded.len() != bytes.len()) && (form.lock || prefixed) {
        // LOCK with a register destination, or on an instruction that cannot be locked:
        // iced decodes it as invalid (the CPU raises #UD); keep the instruction we built
        // so reports show what was tried.
        instr.set_len(bytes.len());
        instr
    } else {
        assert_eq!(
            decoded.len(),
            bytes.len(),
            "{:?}: re-decoding {bytes:02x?} gave {decoded}",
            form.code
        );
        decoded
    };
    Case {
        form: *form,
        instr,
        bytes,
        before,
    }
}

fn encode(form: &Form, instr: &Instruction) -> Vec<u8> {
    let mut encoder = Encoder::new(32);
    if let Err(e) = encoder.encode(instr, 0) {
        panic!("cannot encode {:?} ({instr}): {e}", form.code);
    }
    encoder.take_buffer()
}

/// `xlatb` (D7), sometimes with a segment override: AL = [seg:EBX + AL].
fn xlat_case(rng: &mut Rng, before: &mut UserState) -> Instruction {
    before.regs[EBX] = DATA_BASE + rng.below(DATA_SIZE as u32 - 0x100);
    let bytes: &[u8] = match rng.below(6) {
        0 => &[0x26, 0xD7], // es:
        1 => &[0x2E, 0xD7], // cs:
        2 => &[0x36, 0xD7], // ss:
        _ => &[0xD7],
    };
    Decoder::new(32, bytes, DecoderOptions::NONE).decode()
}

/// Fills the window with edge-biased dwords, or (a third of the time) with bytes from a
/// two-letter alphabet so that string compares find equal runs.
pub(crate) fn fill_window(mem: &mut [u8], rng: &mut Rng) {
    if rng.chance(1, 3) {
        let letters = [rng.pick(&[0u8, 0x41, 0xff]), rng.pick(&[1u8, 0x42, 0x80])];
        for b in mem.iter_mut() {
            *b = letters[rng.below(4).min(1) as usize];
        }
    } else {
        for chunk in mem.chunks_mut(4) {
            let v = rng.edge_u32().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

fn string_case(form: &Form, rng: &mut Rng, before: &mut UserState) -> Instruction {
    use Code::*;
    let rep = form.rep;
    // A source segment override now and then (the destination is always ES).
    let none = if rng.chance(1, 4) {
        rng.pick(&[Register::ES, Register::CS, Register::SS, Register::DS])
    } else {
        Register::None
    };
    let instr = match form.code {
        Movsb_m8_m8 => Instruction::with_movsb(32, none, rep),
        Movsw_m16_m16 => Instruction::with_movsw(32, none, rep),
        Movsd_m32_m32 => Instruction::with_movsd(32, none, rep),
        Stosb_m8_AL => Instruction::with_stosb(32, rep),
        Stosw_m16_AX => Instruction::with_stosw(32, rep),
        Stosd_m32_EAX => Instruction::with_stosd(32, rep),
        Lodsb_AL_m8 => Instruction::with_lodsb(32, none, rep),
        Lodsw_AX_m16 => Instruction::with_lodsw(32, none, rep),
        Lodsd_EAX_m32 => Instruction::with_lodsd(32, none, rep),
        Cmpsb_m8_m8 => Instruction::with_cmpsb(32, none, rep),
        Cmpsw_m16_m16 => Instruction::with_cmpsw(32, none, rep),
        Cmpsd_m32_m32 => Instruction::with_cmpsd(32, none, rep),
        Scasb_AL_m8 => Instruction::with_scasb(32, rep),
        Scasw_AX_m16 => Instruction::with_scasw(32, rep),
        Scasd_EAX_m32 => Instruction::with_scasd(32, rep),
        other => panic!("{other:?} is not a string form"),
    }
    .unwrap_or_else(|e| panic!("{:?}: {e}", form.code));
    let down = rng.chance(1, 2);
    if down {
        before.eflags |= DF;
    }
    if rep != RepPrefixKind::None && rng.chance(1, 8) {
        // A long run (up to 1,536 bytes), which the interpreter may execute in chunks:
        // start near the end of the window the run moves away from.
        let size = form.code.op_code().operand_size().max(8) / 8;
        let count = rng.below(0x600 / size + 1);
        let start = |rng: &mut Rng| {
            let slack = rng.below(0x80);
            if down {
                DATA_BASE + DATA_SIZE as u32 - 0x80 - slack
            } else {
                DATA_BASE + 0x80 + slack
            }
        };
        before.regs[ESI] = start(rng);
        before.regs[EDI] = start(rng);
        before.regs[ECX] = count;
    } else {
        // Pointers well inside the window: at most 9 elements of 4 bytes either way.
        let room = 0x80;
        before.regs[ESI] = DATA_BASE + room + rng.below(DATA_SIZE as u32 - 2 * room);
        before.regs[EDI] = if rng.chance(1, 4) {
            // Overlapping source and destination.
            before.regs[ESI].wrapping_add(rng.below(17)).wrapping_sub(8)
        } else {
            DATA_BASE + room + rng.below(DATA_SIZE as u32 - 2 * room)
        };
        if rep != RepPrefixKind::None {
            before.regs[ECX] = rng.below(10);
        }
    }
    if matches!(
        form.code.mnemonic(),
        Mnemonic::Scasb | Mnemonic::Scasw | Mnemonic::Scasd
    ) && rng.chance(1, 2)
    {
        // Compare against the letters in the window.
        let at = (before.regs[EDI] - DATA_BASE) as usize;
        let v = u32::from_le_bytes(before.mem[at..at + 4].try_into().unwrap_or([0; 4]));
        before.regs[0] = v;
    }
    instr
}

fn operand_case(form: &Form, index: u64, rng: &mut Rng, before: &mut UserState) -> Instruction {
    let code = form.code;
    let mnemonic = code.mnemonic();
    let op = code.op_code();
    let kinds = op.op_kinds();
    let mut instr = Instruction::default();
    instr.set_code(code);
    // Stack forms may name ESP (PUSH ESP, POP [ESP+8]); elsewhere ESP stays the
    // harness's stack pointer.
    let allow_esp = form.group == "stack";
    // Registers taken by explicit register operands: a memory base avoids them so the
    // fix-ups below cannot move it.
    let mut taken: Vec<usize> = reserved_regs(mnemonic).to_vec();
    // LOCK forms put their first operand in memory 7 times in 8 (a register destination
    // with LOCK is #UD).
    let (num, den) = if form.lock { (7, 8) } else { (1, 2) };
    let mem_operand = kinds.iter().position(|k| {
        matches!(k, OpCodeOperandKind::mem | OpCodeOperandKind::mem_offs)
            || (is_reg_or_mem(*k) && rng.chance(num, den))
    });
    for (n, &k) in kinds.iter().enumerate() {
        let n = n as u32;
        use OpCodeOperandKind::*;
        if Some(n as usize) == mem_operand {
            continue;
        }
        match k {
            r8_or_mem | r8_reg | r8_opcode => {
                let i = rng.below(8) as usize;
                instr.set_op_kind(n, OpKind::Register);
                instr.set_op_register(n, R8[i]);
                taken.push(i & 3);
            }
            r16_or_mem | r16_reg | r16_rm | r16_opcode | r32_or_mem | r32_reg | r32_rm | r32_opcode => {
                let i = if allow_esp {
                    rng.below(8) as usize
                } else {
                    pick_not_esp(rng)
                };
                let wide = matches!(k, r32_or_mem | r32_reg | r32_rm | r32_opcode);
                instr.set_op_kind(n, OpKind::Register);
                instr.set_op_register(n, if wide { R32[i] } else { R16[i] });
                taken.push(i);
            }
            al | cl | ax | eax => {
                let r = match k {
                    al => Register::AL,
                    cl => Register::CL,
                    ax => Register::AX,
                    _ => Register::EAX,
                };
                instr.set_op_kind(n, OpKind::Register);
                instr.set_op_register(n, r);
            }
            imm8 | imm8_const_1 => {
                let v = match k {
                    imm8_const_1 => 1,
                    _ if is_shift(mnemonic) => shift_count(index, rng),
                    _ => rng.edge_u32() as u8,
                };
                if mnemonic == Mnemonic::Enter {
                    // ENTER imm16, imm8: iced keeps the second immediate apart.
                    instr.set_op_kind(n, OpKind::Immediate8_2nd);
                    instr.set_immediate8_2nd(v);
                } else {
                    instr.set_op_kind(n, OpKind::Immediate8);
                    instr.set_immediate8(v);
                }
            }
            imm8sex16 => {
                instr.set_op_kind(n, OpKind::Immediate8to16);
                instr.set_immediate8(rng.edge_u32() as u8);
            }
            imm8sex32 => {
                instr.set_op_kind(n, OpKind::Immediate8to32);
                instr.set_immediate8(rng.edge_u32() as u8);
            }
            imm16 => {
                instr.set_op_kind(n, OpKind::Immediate16);
                instr.set_immediate16(rng.edge_u32() as u16);
            }
            imm32 => {
                instr.set_op_kind(n, OpKind::Immediate32);
                instr.set_immediate32(rng.edge_u32());
            }
            br32_1 => {
                // The target is set once the length is known (see `generate`).
                instr.set_op_kind(n, OpKind::NearBranch32);
                instr.set_near_branch32(0);
            }
            other => panic!("{code:?}: operand kind {other:?} not supported"),
        }
    }
    if let Some(n) = mem_operand.filter(|_| mnemonic == Mnemonic::Lea) {
        lea_address(&mut instr, n as u32, rng);
    } else if let Some(n) = mem_operand {
        set_memory(
            &mut instr,
            n as u32,
            kinds[n] == OpCodeOperandKind::mem_offs,
            None,
            &taken,
            allow_esp,
            rng,
            before,
        );
        if mnemonic != Mnemonic::Lea && rng.chance(1, 6) {
            // Flat segments all, but CS is not writable: a write through it is #GP(0).
            instr.set_segment_prefix(rng.pick(&[Register::ES, Register::CS, Register::SS, Register::DS]));
        }
    }
    instr.set_has_lock_prefix(form.lock);
    fix_up(&mut instr, index, rng, before);
    instr
}

/// LEA computes an address without touching memory, so its operand can be anything:
/// random registers and displacements (the sum wraps mod 2^32), and a third of the time
/// 16-bit addressing (`67` prefix: `[bx+si+disp16]` and friends, wrapping mod 2^16).
fn lea_address(instr: &mut Instruction, n: u32, rng: &mut Rng) {
    instr.set_op_kind(n, OpKind::Memory);
    if rng.chance(1, 3) {
        use Register::*;
        const FORMS: [(Register, Register); 9] = [
            (BX, SI),
            (BX, DI),
            (BP, SI),
            (BP, DI),
            (SI, None),
            (DI, None),
            (BP, None),
            (BX, None),
            (None, None),
        ];
        let (base, index) = rng.pick(&FORMS);
        let disp = rng.edge_u32() & 0xffff;
        let size = match (base, rng.below(3)) {
            (None, _) => 2,
            (_, 0) if base != BP || index != None => 0,
            (_, 1) if (disp as u16 as i16) >= -128 && (disp as u16 as i16) < 128 => 1,
            _ => 2,
        };
        let disp = if size == 0 { 0 } else { disp };
        instr.set_memory_base(base);
        instr.set_memory_index(index);
        instr.set_memory_index_scale(1);
        instr.set_memory_displacement32(disp);
        instr.set_memory_displ_size(size);
    } else {
        let base = rng.below(9) as usize;
        let index = rng.below(9) as usize;
        instr.set_memory_base(R32.get(base).copied().unwrap_or(Register::None));
        // ESP cannot be an index.
        instr.set_memory_index(
            R32.get(index)
                .copied()
                .filter(|r| *r != Register::ESP)
                .unwrap_or(Register::None),
        );
        instr.set_memory_index_scale(rng.pick(&[1, 2, 4, 8]));
        let disp = rng.edge_u32();
        let size = if base == 8 { 4 } else { rng.pick(&[0u32, 1, 4]) };
        let disp = match size {
            0 => 0,
            1 => disp as u8 as i8 as i32 as u32,
            _ => disp,
        };
        instr.set_memory_displacement32(disp);
        instr.set_memory_displ_size(size);
    }
}

fn is_reg_or_mem(k: OpCodeOperandKind) -> bool {
    matches!(
        k,
        OpCodeOperandKind::r8_or_mem | OpCodeOperandKind::r16_or_mem | OpCodeOperandKind::r32_or_mem
    )
}

fn is_shift(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(m, Shl | Sal | Shr | Sar | Rol | Ror | Rcl | Rcr | Shld | Shrd)
}

/// Every count 0..=255 in the first 256 cases, then mostly small counts.
fn shift_count(index: u64, rng: &mut Rng) -> u8 {
    if index < 256 {
        index as u8
    } else if rng.chance(3, 4) {
        rng.below(34) as u8
    } else {
        rng.next_u32() as u8
    }
}

pub(crate) fn pick_not_esp(rng: &mut Rng) -> usize {
    loop {
        let i = rng.below(8) as usize;
        if i != 4 {
            return i;
        }
    }
}

/// Makes operand `n` a memory operand addressing the window: `[base + disp]`, sometimes
/// `[base + index*scale + disp]`, or an absolute `moffs`. The operand lies at window
/// offset `at` if given, else at a random one with 256 bytes to spare on either side.
#[allow(clippy::too_many_arguments)]
pub(crate) fn set_memory(
    instr: &mut Instruction,
    n: u32,
    moffs: bool,
    at: Option<u32>,
    taken: &[usize],
    allow_esp: bool,
    rng: &mut Rng,
    before: &mut UserState,
) {
    instr.set_op_kind(n, OpKind::Memory);
    // The effective address, with room on both sides for the operand and for bit
    // offsets of BT-style instructions (±128 bytes).
    let ea = at.unwrap_or_else(|| 0x100 + rng.below(DATA_SIZE as u32 - 0x200));
    if moffs {
        instr.set_memory_base(Register::None);
        instr.set_memory_index(Register::None);
        instr.set_memory_displacement32(DATA_BASE + ea);
        instr.set_memory_displ_size(4);
        return;
    }
    let free: Vec<usize> = (0..8)
        .filter(|i| (allow_esp || *i != ESP) && !taken.contains(i))
        .collect();
    let base = rng.pick(&free);
    let disp: i32 = match rng.below(4) {
        0 => 0,
        1 | 2 => rng.below(256) as i32 - 128,
        _ => rng.below(0x1000) as i32 - 0x800,
    };
    let mut addr = (DATA_BASE + ea).wrapping_sub(disp as u32);
    instr.set_memory_base(R32[base]);
    // ESP cannot be an index (SIB index 100b means none).
    let others: Vec<usize> = free.iter().copied().filter(|i| *i != base && *i != ESP).collect();
    if !others.is_empty() && rng.chance(1, 4) {
        let index = rng.pick(&others);
        let scale = rng.pick(&[1u32, 2, 4, 8]);
        let iv = rng.below(64);
        before.regs[index] = iv;
        addr = addr.wrapping_sub(iv * scale);
        instr.set_memory_index(R32[index]);
        instr.set_memory_index_scale(scale);
    } else {
        instr.set_memory_index(Register::None);
    }
    let mut disp = disp;
    if base == ESP {
        // ESP is the stack pointer the instruction also uses (PUSH [ESP+8]): keep it
        // inside the window and fold the difference into the displacement instead.
        let delta = addr.wrapping_sub(before.regs[ESP]);
        disp = disp.wrapping_add(delta as i32);
    } else {
        before.regs[base] = addr;
    }
    instr.set_memory_displacement32(disp as u32);
    instr.set_memory_displ_size(if disp == 0 {
        0
    } else if (-128..128).contains(&disp) {
        1
    } else {
        4
    });
}

/// Adjusts the state so that interesting outcomes are common: divisions that do not
/// overflow, CMPXCHG that succeeds, BT bit offsets that stay inside the window, CL
/// counts that walk 0..=255.
fn fix_up(instr: &mut Instruction, index: u64, rng: &mut Rng, before: &mut UserState) {
    use Mnemonic::*;
    match instr.mnemonic() {
        Enter => {
            // A small frame (imm16) and nesting level (imm8, used mod 32): level n copies
            // n-1 frame pointers from [EBP-4], [EBP-8]..., which lie in the window.
            instr.set_immediate16(rng.below(64) as u16);
            let level = if rng.chance(1, 2) {
                rng.below(5)
            } else {
                rng.below(256)
            };
            instr.set_immediate8_2nd(level as u8);
        }
        Popf | Popfd => {
            // Keep TF (a #DB after the POPF), NT and AC (alignment checks) out of the
            // popped image: they would change how the *harness* runs, not the result.
            let at = before.regs[ESP].wrapping_sub(DATA_BASE) as usize;
            let v = u32::from_le_bytes(before.mem[at..at + 4].try_into().unwrap_or([0; 4]));
            let v = v & !((1 << 8) | (1 << 14) | (1 << 18));
            before.mem[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        Into if rng.chance(1, 2) => before.eflags ^= crate::state::OF,
        Bound if rng.chance(2, 3) => {
            // Often in bounds: BOUND compares signed (SDM Vol. 2A "BOUND").
            let at = ea(instr, before) as usize;
            let wide = instr.op0_register().size() == 4;
            let (lo, hi) = if wide {
                let lo = i32::from_le_bytes(before.mem[at..at + 4].try_into().unwrap_or([0; 4]));
                let hi = i32::from_le_bytes(before.mem[at + 4..at + 8].try_into().unwrap_or([0; 4]));
                (i64::from(lo), i64::from(hi))
            } else {
                let lo = i16::from_le_bytes(before.mem[at..at + 2].try_into().unwrap_or([0; 2]));
                let hi = i16::from_le_bytes(before.mem[at + 2..at + 4].try_into().unwrap_or([0; 2]));
                (i64::from(lo), i64::from(hi))
            };
            if lo <= hi {
                let span = (hi - lo + 1).min(i64::from(u32::MAX)) as u32;
                let v = lo + i64::from(rng.below(span.max(1)));
                write_reg(instr.op0_register(), v as u32, before);
            }
        }
        Div | Idiv if rng.chance(3, 4) => {
            let bits = crate::flags::operand_bits(instr);
            let divisor = read_operand(instr, 0, before);
            let (low_reg, high_reg) = match bits {
                8 => (Register::AL, Register::AH),
                16 => (Register::AX, Register::DX),
                _ => (Register::EAX, Register::EDX),
            };
            if instr.op0_kind() == OpKind::Register && instr.op0_register() == high_reg {
                return;
            }
            let high = if instr.mnemonic() == Div {
                if divisor == 0 {
                    rng.next_u32()
                } else {
                    rng.next_u32() % divisor
                }
            } else {
                let low = read_reg(low_reg, before);
                let sign = low >> (bits - 1) & 1;
                if sign == 1 {
                    u32::MAX
                } else {
                    0
                }
            };
            write_reg(high_reg, high, before);
        }
        Cmpxchg if rng.chance(1, 2) => {
            let bits = crate::flags::operand_bits(instr);
            let acc = match bits {
                8 => Register::AL,
                16 => Register::AX,
                _ => Register::EAX,
            };
            let v = read_operand(instr, 0, before);
            write_reg(acc, v, before);
        }
        Cmpxchg8b if rng.chance(1, 2) => {
            let at = ea(instr, before) as usize;
            before.regs[0] = u32::from_le_bytes(before.mem[at..at + 4].try_into().unwrap_or([0; 4]));
            before.regs[2] = u32::from_le_bytes(before.mem[at + 4..at + 8].try_into().unwrap_or([0; 4]));
        }
        Bt | Bts | Btr | Btc
            if instr.op0_kind() == OpKind::Memory && instr.op1_kind() == OpKind::Register =>
        {
            // The bit offset is a signed register value that can reach far outside the
            // operand (SDM Vol. 2A BT): keep it within ±128 bytes.
            let v = (rng.below(2048) as i32 - 1024) as u32;
            write_reg(instr.op1_register(), v, before);
        }
        m if is_shift(m) && instr.op_kind(instr.op_count() - 1) == OpKind::Register => {
            let count = u32::from(shift_count(index, rng));
            before.regs[ECX] = (before.regs[ECX] & !0xff) | count;
        }
        _ => {}
    }
}

/// The effective address of `instr`'s memory operand as an offset in the window.
pub fn ea(instr: &Instruction, before: &UserState) -> u32 {
    let mut a = instr.memory_displacement32();
    if instr.memory_base() != Register::None {
        a = a.wrapping_add(read_reg(instr.memory_base(), before));
    }
    if instr.memory_index() != Register::None {
        a = a.wrapping_add(read_reg(instr.memory_index(), before).wrapping_mul(instr.memory_index_scale()));
    }
    a.wrapping_sub(DATA_BASE)
}

fn read_operand(instr: &Instruction, n: u32, before: &UserState) -> u32 {
    let bits = crate::flags::operand_bits(instr);
    match instr.op_kind(n) {
        OpKind::Register => read_reg(instr.op_register(n), before),
        _ => {
            let at = ea(instr, before) as usize;
            let mut b = [0u8; 4];
            let len = (bits / 8) as usize;
            b[..len].copy_from_slice(&before.mem[at..at + len]);
            u32::from_le_bytes(b)
        }
    }
}

fn read_reg(r: Register, s: &UserState) -> u32 {
    let i = crate::flags::gpr_index(r).unwrap_or(0);
    let v = s.regs[i];
    match r.size() {
        1 if matches!(r, Register::AH | Register::CH | Register::DH | Register::BH) => (v >> 8) & 0xff,
        1 => v & 0xff,
        2 => v & 0xffff,
        _ => v,
    }
}

fn write_reg(r: Register, val: u32, s: &mut UserState) {
    let i = crate::flags::gpr_index(r).unwrap_or(0);
    let v = &mut s.regs[i];
    match r.size() {
        1 if matches!(r, Register::AH | Register::CH | Register::DH | Register::BH) => {
            *v = (*v & !0xff00) | ((val & 0xff) << 8);
        }
        1 => *v = (*v & !0xff) | (val & 0xff),
        2 => *v = (*v & !0xffff) | (val & 0xffff),
        _ => *v = val,
    }
}
