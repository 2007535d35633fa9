//! The translator's frontend and emitter: a run of guest instructions
//! becomes host code.
//!
//! Each instruction falls into one class:
//! - **identity**: re-encoded for 64-bit mode with the same operation:
//!   memory operands get the GS segment and a 32-bit address size (iced
//!   emits `65 67`), guest ESP/SP becomes r12d/r12w; the host computes the
//!   same result and the same flags;
//! - **rewritten**: stack and control-transfer instructions, expressed with
//!   flag-neutral host instructions (MOV, LEA) on the guest stack through GS;
//! - **fallback**: anything else ends the block before it; the run loop lets
//!   the interpreter execute it (privileged and sensitive instructions,
//!   string instructions, segment loads, FS/GS-relative accesses...).

use crate::{
    Context, MODE_DF, MODE_DS_BASE, MODE_ES_BASE, MODE_FPU, MODE_FS, MODE_GS, MODE_LIMITS, MODE_SS_BASE,
    REASON_BUDGET, REASON_FALLBACK, REASON_MODE, REASON_NEXT,
};
use iced_x86::{
    Code, Decoder, DecoderOptions, Encoder, Instruction, MemoryOperand, Mnemonic, OpKind, Register,
};
use std::mem::offset_of;

/// Longest block, in guest instructions (unless `Env::max_insns` says less).
pub const MAX_INSNS: u32 = 48;

/// A translated block, before it is placed in the cache.
#[derive(Debug)]
pub struct Translation {
    /// Host code, linked for its executable address.
    pub code: Vec<u8>,
    /// Offset of the indirect-branch entry (checks r11d holds the block's
    /// EIP, then falls into the entry).
    pub verify: u32,
    /// Offset of the entry with the budget check (backward edges and the
    /// run loop come here).
    pub checked: u32,
    /// Offset of the entry without it (forward edges come here).
    pub entry: u32,
    /// (host offset, guest EIP) of each guest instruction, in order.
    pub map: Vec<(u32, u32)>,
    /// Guest instructions translated.
    pub insns: u32,
    /// Guest bytes covered (from the block's EIP).
    pub guest_len: u32,
    /// Exits with a known target, which chaining points at the target's
    /// block once it exists.
    pub exits: Vec<ExitSlot>,
}

/// A place chaining patches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitSlot {
    /// Offset in the block's code: of an exit stub, whose first 5 bytes
    /// become a `jmp` to the target; or (`rel32`) of a conditional jump's
    /// 32-bit displacement, pointed straight at the target.
    pub at: u32,
    /// The guest EIP it leads to.
    pub target: u32,
    /// Whether `at` is a displacement rather than a stub.
    pub rel32: bool,
    /// Whether the target is at or before the jump: such edges go to the
    /// target's budget check.
    pub backward: bool,
}

/// A context field's offset as a (signed) 8-bit displacement.
fn disp8(field: usize) -> u8 {
    assert!(field < 128, "context field {field} beyond a disp8");
    field as u8
}

/// Where a block goes and what it may assume.
#[derive(Clone, Copy, Debug)]
pub struct Env<'a> {
    /// Executable address the block's code will have.
    pub rx: u64,
    /// The shared exit stub.
    pub exit: u64,
    /// The helper that loads the guest FPU state into the host FPU.
    pub fpu_load: u64,
    /// The indirect-branch miss stub (leaves for the run loop with the
    /// target EIP in r11d).
    pub miss: u64,
    /// The block's mode bits (`MODE_*`), part of its key.
    pub mode: u8,
    /// Guest instructions to leave to the interpreter (they kept faulting
    /// when translated).
    pub callouts: &'a crate::FastMap<u32, u32>,
    /// Longest block, in guest instructions (1 to `MAX_INSNS`).
    pub max_insns: u32,
}

struct Emitter {
    code: Vec<u8>,
    /// Executable address of `code[0]`.
    rx: u64,
    exit: u64,
    fpu_load: u64,
    miss: u64,
    mode: u8,
    exits: Vec<ExitSlot>,
    /// The guest instruction being translated.
    ip: u32,
    /// The guest FPU state is in the host FPU from here on (the load check
    /// was emitted earlier in this block).
    fpu_ready: bool,
    /// Index in the block of the guest instruction being translated.
    index: u32,
    /// Exits in the middle of the block (a failed limit check): where each
    /// one's `lea r14, [r14 + imm32]` has its immediate, and the index of
    /// its instruction. The block counted all its instructions on entry;
    /// the immediate takes back those from that instruction on.
    uncount: Vec<(usize, u32)>,
}

impl Emitter {
    fn here(&self) -> u64 {
        self.rx + self.code.len() as u64
    }
    /// `mov dword [r15+field], imm32`
    fn store_imm(&mut self, field: usize, v: u32) {
        self.code.extend_from_slice(&[0x41, 0xc7, 0x47, disp8(field)]);
        self.code.extend_from_slice(&v.to_le_bytes());
    }
    /// `mov word [r15+field], imm16`
    fn store_imm16(&mut self, field: usize, v: u16) {
        self.code
            .extend_from_slice(&[0x66, 0x41, 0xc7, 0x47, disp8(field)]);
        self.code.extend_from_slice(&v.to_le_bytes());
    }
    /// Make sure the host FPU holds the guest's x87/MMX state before the
    /// first x87 instruction of a block (flag-neutral: MOV, MOVZX, JRCXZ,
    /// CALL): `mov r10, rcx; movzx ecx, byte [r15+fpu_loaded]; jrcxz .load;
    /// mov rcx, r10; jmp .go; .load: mov rcx, r10; call fpu_load; .go:`
    fn fpu_ready(&mut self) {
        if self.fpu_ready {
            return;
        }
        self.fpu_ready = true;
        let loaded = disp8(offset_of!(Context, fpu_loaded));
        self.code
            .extend_from_slice(&[0x49, 0x89, 0xca, 0x41, 0x0f, 0xb6, 0x4f, loaded]);
        self.code
            .extend_from_slice(&[0xe3, 0x05, 0x4c, 0x89, 0xd1, 0xeb, 0x08, 0x4c, 0x89, 0xd1]);
        let rel = self.fpu_load.wrapping_sub(self.here() + 5) as i64 as i32;
        self.code.push(0xe8);
        self.code.extend_from_slice(&rel.to_le_bytes());
    }
    /// `mov dword [r15+field], r11d`
    fn store_r11(&mut self, field: usize) {
        self.code.extend_from_slice(&[0x45, 0x89, 0x5f, disp8(field)]);
    }
    /// `jmp rel32` to `target`.
    fn jmp(&mut self, target: u64) {
        let rel = target.wrapping_sub(self.here() + 5) as i64 as i32;
        self.code.push(0xe9);
        self.code.extend_from_slice(&rel.to_le_bytes());
    }
    /// Leave the block for the run loop: next EIP and reason. A plain
    /// `REASON_NEXT` exit is recorded as chainable.
    fn exit_to(&mut self, eip: u32, reason: u32) {
        if reason == REASON_NEXT {
            self.exits.push(ExitSlot {
                at: self.code.len() as u32,
                target: eip,
                rel32: false,
                backward: eip <= self.ip,
            });
        }
        self.store_imm(offset_of!(Context, next_eip), eip);
        self.store_imm(offset_of!(Context, reason), reason);
        self.jmp(self.exit);
    }
    /// Continue at the guest EIP in r11d (zero-extended) through the
    /// indirect-branch table of this mode: 65,536 host addresses indexed by
    /// the EIP's low 16 bits, each the `verify` entry of a block (which
    /// checks the whole EIP) or the miss stub. Flag-neutral:
    /// `movzx r10d, r11w; mov r9, [r15+ibtc]; jmp [r9+r10*8]`.
    fn exit_r11(&mut self) {
        self.code
            .extend_from_slice(&[0x45, 0x0f, 0xb7, 0xd3, 0x4d, 0x8b, 0x4f]);
        self.code.push(disp8(offset_of!(Context, ibtc)));
        self.code.extend_from_slice(&[0x43, 0xff, 0x24, 0xd1]);
    }
    /// Encode a host instruction.
    fn insn(&mut self, i: &Instruction) -> Result<(), iced_x86::IcedError> {
        let mut e = Encoder::new(64);
        e.encode(i, self.here())?;
        self.code.extend_from_slice(&e.take_buffer());
        Ok(())
    }
    /// The block's head: the budget exit, the indirect-branch entry and
    /// the budget check, all flag-neutral (LEA, XCHG, JRCXZ). Returns the
    /// offsets of the indirect-branch entry and of the checked entry; the
    /// unchecked entry follows the head.
    ///
    /// ```text
    /// .out:    xchg r13, rcx; exit with BUDGET at this block's EIP
    /// .verify: lea r9d, [r11-eip]; xchg r9, rcx; jrcxz .hit
    ///          xchg r9, rcx; jmp miss        ; another EIP with the same hash
    /// .hit:    xchg r9, rcx
    /// .checked: xchg r13, rcx; jrcxz .out; lea rcx, [rcx-1]; xchg r13, rcx
    /// .entry:  (the block)
    /// ```
    ///
    /// Backward edges (target at or before the jump), indirect branches and
    /// the run loop enter at `.checked`; forward edges at `.entry`: every
    /// loop passes a check, straight-line chains pay none.
    fn head(&mut self, eip: u32) -> (u32, u32) {
        let out = self.code.len();
        self.code.extend_from_slice(&XCHG_R13_RCX);
        self.exit_to(eip, REASON_BUDGET);
        let verify = self.code.len() as u32;
        self.code.extend_from_slice(&[0x45, 0x8d, 0x8b]);
        self.code.extend_from_slice(&eip.wrapping_neg().to_le_bytes());
        self.code
            .extend_from_slice(&[0x49, 0x87, 0xc9, 0xe3, 0x08, 0x49, 0x87, 0xc9]);
        self.jmp(self.miss);
        self.code.extend_from_slice(&[0x49, 0x87, 0xc9]);
        let checked = self.code.len() as u32;
        self.code.extend_from_slice(&XCHG_R13_RCX);
        self.code.extend_from_slice(&[JRCXZ, 0]);
        let back = out as i64 - self.code.len() as i64;
        self.code[checked as usize + 4] = i8::try_from(back).expect("budget exit within a rel8") as u8;
        self.code.extend_from_slice(&LEA_RCX_DEC);
        self.code.extend_from_slice(&XCHG_R13_RCX);
        (verify, checked)
    }

    /// Count the block's guest instructions in r14 (flag-neutral LEA).
    fn count(&mut self, n: u32) {
        // lea r14, [r14 + disp32]
        self.code.extend_from_slice(&[0x4d, 0x8d, 0xb6]);
        self.code.extend_from_slice(&n.to_le_bytes());
    }
}

/// `xchg r13, rcx`, which moves the budget into RCX for JRCXZ and back.
const XCHG_R13_RCX: [u8; 3] = [0x4c, 0x87, 0xe9];
/// `jrcxz` (rel8 follows).
const JRCXZ: u8 = 0xe3;
/// `lea rcx, [rcx-1]`: one block of the budget spent.
const LEA_RCX_DEC: [u8; 4] = [0x48, 0x8d, 0x49, 0xff];

/// Where the block budget is while the instruction at some host address
/// is about to run in translated code (the kick handler zeroes it there).
#[cfg_attr(not(bt_host), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BudgetHolder {
    /// In r13, as everywhere outside a block head's budget check.
    R13,
    /// In RCX (guest ECX is in r13): store this value there to end the
    /// budget at the next check.
    Rcx(i64),
    /// In RCX and already zero (the budget exit is running).
    Zero,
}

/// Who holds the budget at an instruction whose first bytes are `at`,
/// preceded by `before` (four bytes each). Only the head's budget check
/// (`xchg r13, rcx; jrcxz .out; lea rcx, [rcx-1]; xchg r13, rcx`) and its
/// exit (`.out: xchg r13, rcx`) move it out of r13; guest code is 32-bit,
/// so none of its translations starts with these REX.W-prefixed bytes.
#[cfg_attr(not(bt_host), allow(dead_code))]
pub(crate) fn budget_holder(before: &[u8], at: &[u8]) -> BudgetHolder {
    if at.starts_with(&LEA_RCX_DEC) {
        // The decrement follows: RCX = 1 leaves 0 behind.
        BudgetHolder::Rcx(1)
    } else if at.first() == Some(&JRCXZ) && before.ends_with(&XCHG_R13_RCX) {
        BudgetHolder::Rcx(0)
    } else if at.starts_with(&XCHG_R13_RCX) {
        if at.get(3) == Some(&JRCXZ) {
            // The check's first exchange: still in r13.
            BudgetHolder::R13
        } else if before.ends_with(&LEA_RCX_DEC) {
            BudgetHolder::Rcx(0)
        } else {
            BudgetHolder::Zero
        }
    } else {
        BudgetHolder::R13
    }
}

/// ESP → r12d and SP → r12w; other registers unchanged.
fn host_reg(r: Register) -> Register {
    match r {
        Register::ESP => Register::R12D,
        Register::SP => Register::R12W,
        r => r,
    }
}

/// Identity-translatable mnemonics (their 64-bit encoding with 32-bit
/// operands has the same semantics, flags included).
fn identity_ok(i: &Instruction, mode: u8) -> bool {
    use Mnemonic as M;
    let m = i.mnemonic();
    let ok = matches!(
        m,
        M::Add
            | M::Adc
            | M::Sub
            | M::Sbb
            | M::And
            | M::Or
            | M::Xor
            | M::Cmp
            | M::Test
            | M::Mov
            | M::Movzx
            | M::Movsx
            | M::Lea
            | M::Neg
            | M::Not
            | M::Inc
            | M::Dec
            | M::Shl
            | M::Sal
            | M::Shr
            | M::Sar
            | M::Rol
            | M::Ror
            | M::Rcl
            | M::Rcr
            | M::Shld
            | M::Shrd
            | M::Mul
            | M::Imul
            | M::Div
            | M::Idiv
            | M::Bt
            | M::Bts
            | M::Btr
            | M::Btc
            | M::Bsf
            | M::Bsr
            | M::Bswap
            | M::Xchg
            | M::Xadd
            | M::Cmpxchg
            | M::Cmpxchg8b
            | M::Cbw
            | M::Cwde
            | M::Cwd
            | M::Cdq
            | M::Nop
            | M::Clc
            | M::Stc
            | M::Cmc
            | M::Lahf
            | M::Sahf
    ) || (M::Seto as u32..=M::Setg as u32).contains(&(m as u32)) && is_setcc(m)
        || is_cmov(m);
    if !ok {
        return false;
    }
    // F3 BSF/BSR would run as TZCNT/LZCNT on the host.
    if matches!(m, M::Bsf | M::Bsr) && i.has_rep_prefix() {
        return false;
    }
    // Segment registers, control and debug registers are not plain moves.
    for n in 0..i.op_count() {
        if i.op_kind(n) == OpKind::Register {
            let r = i.op_register(n);
            if r.is_segment_register() || r.is_cr() || r.is_dr() || r.is_tr() {
                return false;
            }
        }
    }
    mem_ok(i, mode)
}

fn is_setcc(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Seto
            | M::Setno
            | M::Setb
            | M::Setae
            | M::Sete
            | M::Setne
            | M::Setbe
            | M::Seta
            | M::Sets
            | M::Setns
            | M::Setp
            | M::Setnp
            | M::Setl
            | M::Setge
            | M::Setle
            | M::Setg
    )
}

fn is_cmov(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Cmovo
            | M::Cmovno
            | M::Cmovb
            | M::Cmovae
            | M::Cmove
            | M::Cmovne
            | M::Cmovbe
            | M::Cmova
            | M::Cmovs
            | M::Cmovns
            | M::Cmovp
            | M::Cmovnp
            | M::Cmovl
            | M::Cmovge
            | M::Cmovle
            | M::Cmovg
    )
}

/// Guest segment register number (ES, CS, SS, DS, FS, GS = 0..5) of a
/// memory operand's segment.
fn seg_index(r: Register) -> usize {
    match r {
        Register::ES => 0,
        Register::CS => 1,
        Register::SS => 2,
        Register::FS => 4,
        Register::GS => 5,
        _ => 3,
    }
}

/// Whether accesses through segment `s` need its base added at run time
/// (FS and GS always; DS, ES and SS when the block's mode says their base
/// is not zero).
fn needs_base(s: usize, mode: u8) -> bool {
    match s {
        0 => mode & MODE_ES_BASE != 0,
        2 => mode & MODE_SS_BASE != 0,
        3 => mode & MODE_DS_BASE != 0,
        _ => true,
    }
}

/// A memory operand we can express through GS: 32-bit addressing, through
/// DS, ES or SS (4 GiB writable data segments whenever code is translated)
/// or FS/GS when the block's mode says they are such segments too; not
/// through CS.
fn mem_ok(i: &Instruction, mode: u8) -> bool {
    if !(0..i.op_count()).any(|n| i.op_kind(n) == OpKind::Memory) {
        return true;
    }
    if i.mnemonic() == Mnemonic::Lea {
        return !i.memory_base().is_gpr16() && !i.memory_index().is_gpr16();
    }
    let base_ok = |r: Register| r == Register::None || r.is_gpr32();
    let seg_ok = match i.memory_segment() {
        Register::DS | Register::ES | Register::SS => true,
        Register::FS => mode & MODE_FS != 0,
        Register::GS => mode & MODE_GS != 0,
        _ => false,
    };
    base_ok(i.memory_base())
        && base_ok(i.memory_index())
        && !(i.memory_base() == Register::None
            && i.memory_index() == Register::None
            && i.memory_displ_size() == 2)
        && seg_ok
}

/// `i` for the host with its memory operand (if any) through GS: as is for
/// a segment with base 0; otherwise the linear address is computed first,
/// flag-neutrally, into r11d (`lea r11d, [ea]; mov r10d, [r15+base];
/// lea r11d, [r11+r10]`) and the operand becomes `gs:[r11d]`. With
/// `MODE_LIMITS`, the offset in r11d is checked against the segment's
/// limit first ([`limit_check`]).
fn host_mem(e: &mut Emitter, i: &Instruction) -> Option<Instruction> {
    let mut h = to_host(i);
    let has_mem = (0..i.op_count()).any(|n| i.op_kind(n) == OpKind::Memory);
    if !has_mem || i.mnemonic() == Mnemonic::Lea {
        return Some(h);
    }
    let s = seg_index(i.memory_segment());
    let limits = e.mode & MODE_LIMITS != 0;
    if !needs_base(s, e.mode) && !limits {
        return Some(h);
    }
    e.insn(&Instruction::with2(Code::Lea_r32_m, Register::R11D, ea_of(&h)).ok()?)
        .ok()?;
    if limits {
        limit_check(e, i, s)?;
    }
    if needs_base(s, e.mode) {
        let field = offset_of!(Context, seg_base) + 4 * s;
        e.code.extend_from_slice(&[0x45, 0x8b, 0x57, disp8(field)]); // mov r10d, [r15+base]
        e.code.extend_from_slice(&[0x47, 0x8d, 0x1c, 0x13]); // lea r11d, [r11+r10]
    }
    h.set_memory_base(Register::R11D);
    h.set_memory_index(Register::None);
    h.set_memory_index_scale(1);
    h.set_memory_displacement32(0);
    h.set_memory_displ_size(0);
    Some(h)
}

/// Check the access of `i` at the offset in r11d against the limit of
/// segment `s`, flag-neutrally; beyond it, leave the block with the
/// instruction for the interpreter (which raises #GP or #SS):
///
/// ```text
///   mov r10, [r15+seg_limit_neg+8s]     ; -(limit + 1)
///   lea r10, [r11+r10+size-1]           ; negative: within the limit
///   not r10; bswap r10; movzx r10d, r10b ; 0 within, 0xff beyond
///   xchg r10, rcx; jrcxz .ok; xchg r10, rcx
///   lea r14, [r14-n]                    ; n: this and later instructions
///   exit to the interpreter at this instruction
/// .ok: xchg r10, rcx
/// ```
fn limit_check(e: &mut Emitter, i: &Instruction, s: usize) -> Option<()> {
    use Register::{R10, R10D, R10L, R11, R15, RCX};
    let size = i.memory_size().size();
    if size == 0 {
        return None;
    }
    let field = offset_of!(Context, seg_limit_neg) + 8 * s;
    let load = MemoryOperand::with_base_displ(R15, field as i64);
    e.insn(&Instruction::with2(Code::Mov_r64_rm64, R10, load).ok()?)
        .ok()?;
    let end = MemoryOperand::with_base_index_scale_displ_size(R11, R10, 1, size as i64 - 1, 1);
    e.insn(&Instruction::with2(Code::Lea_r64_m, R10, end).ok()?)
        .ok()?;
    e.insn(&Instruction::with1(Code::Not_rm64, R10).ok()?).ok()?;
    e.insn(&Instruction::with1(Code::Bswap_r64, R10).ok()?).ok()?;
    e.insn(&Instruction::with2(Code::Movzx_r32_rm8, R10D, R10L).ok()?)
        .ok()?;
    let xchg = Instruction::with2(Code::Xchg_rm64_r64, R10, RCX).ok()?;
    e.insn(&xchg).ok()?;
    e.code.extend_from_slice(&[JRCXZ, 0]);
    let jump = e.code.len();
    e.insn(&xchg).ok()?;
    // lea r14, [r14 - instructions not run] (patched when the block ends)
    e.code.extend_from_slice(&[0x4d, 0x8d, 0xb6]);
    e.uncount.push((e.code.len(), e.index));
    e.code.extend_from_slice(&[0; 4]);
    e.store_imm(offset_of!(Context, callout), i.mnemonic() as u32);
    e.exit_to(e.ip, REASON_FALLBACK);
    e.code[jump - 1] = u8::try_from(e.code.len() - jump).ok()?;
    e.insn(&xchg).ok()?;
    Some(())
}

/// The effective-address part of `h`'s memory operand (no segment).
fn ea_of(h: &Instruction) -> MemoryOperand {
    MemoryOperand::with_base_index_scale_displ_size(
        h.memory_base(),
        h.memory_index(),
        h.memory_index_scale(),
        i64::from(h.memory_displacement32() as i32),
        if h.memory_base() == Register::None && h.memory_index() == Register::None {
            4
        } else {
            1
        },
    )
}

/// Rewrite `i` for the host: ESP → r12d, memory through GS, short INC/DEC
/// to their r/m forms.
fn to_host(i: &Instruction) -> Instruction {
    let mut h = *i;
    h.set_code(match i.code() {
        Code::Inc_r16 => Code::Inc_rm16,
        Code::Inc_r32 => Code::Inc_rm32,
        Code::Dec_r16 => Code::Dec_rm16,
        Code::Dec_r32 => Code::Dec_rm32,
        c => c,
    });
    for n in 0..i.op_count() {
        if i.op_kind(n) == OpKind::Register {
            h.set_op_register(n, host_reg(i.op_register(n)));
        }
    }
    if (0..i.op_count()).any(|n| i.op_kind(n) == OpKind::Memory) {
        h.set_memory_base(host_reg(i.memory_base()));
        h.set_memory_index(host_reg(i.memory_index()));
        if i.mnemonic() != Mnemonic::Lea {
            h.set_segment_prefix(Register::GS);
        } else {
            h.set_segment_prefix(Register::None);
        }
        if i.memory_base() == Register::None && i.memory_index() == Register::None {
            h.set_memory_displ_size(4);
        }
    }
    h
}

/// Emit the guest stack push of `value` (a host register or an immediate),
/// committing ESP only after the store (so a fault leaves it unchanged).
fn push32(e: &mut Emitter, value: Result<Register, u32>) -> Result<(), iced_x86::IcedError> {
    let slot = MemoryOperand::with_base_displ(Register::R12D, -4).with_segment_prefix(Register::GS);
    let st = match value {
        Ok(r) => Instruction::with2(Code::Mov_rm32_r32, slot, r)?,
        Err(imm) => Instruction::with2(Code::Mov_rm32_imm32, slot, imm)?,
    };
    e.insn(&st)?;
    e.code.extend_from_slice(&[0x45, 0x8d, 0x64, 0x24, 0xfc]); // lea r12d, [r12-4]
    Ok(())
}

/// The guest stack slot `gs:[r12d + disp]`.
fn stack(disp: i64) -> MemoryOperand {
    MemoryOperand::with_base_displ(Register::R12D, disp).with_segment_prefix(Register::GS)
}

trait WithSeg {
    fn with_segment_prefix(self, r: Register) -> MemoryOperand;
}
impl WithSeg for MemoryOperand {
    fn with_segment_prefix(mut self, r: Register) -> MemoryOperand {
        self.segment_prefix = r;
        self
    }
}

/// Translate the block at `eip` whose code bytes (to the end of its page)
/// are `bytes`, for executable address `rx`, with the shared exit stub at
/// `exit`. None when its first instruction cannot be translated.
pub fn translate(bytes: &[u8], eip: u32, env: &Env) -> Option<Translation> {
    let mut e = Emitter {
        code: Vec::with_capacity(512),
        rx: env.rx,
        exit: env.exit,
        fpu_load: env.fpu_load,
        miss: env.miss,
        mode: env.mode,
        exits: Vec::new(),
        ip: eip,
        fpu_ready: false,
        index: 0,
        uncount: Vec::new(),
    };
    let (verify, checked) = e.head(eip);
    let entry = e.code.len() as u32;
    // The instruction count is patched in once the block is known.
    let count_at = e.code.len();
    e.count(0);
    let mut dec = Decoder::with_ip(32, bytes, u64::from(eip), DecoderOptions::NONE);
    let mut map = Vec::new();
    let mut insns = 0u32;
    let mut i = Instruction::default();
    let mut next = eip;
    let mut ended = false;
    let max = env.max_insns.clamp(1, MAX_INSNS);
    while insns < max && dec.can_decode() {
        dec.decode_out(&mut i);
        if i.code() == Code::INVALID {
            break;
        }
        if !cpu::supports(&i) || env.callouts.contains_key(&i.ip32()) {
            break;
        }
        let start = e.code.len();
        let here = i.ip32();
        e.ip = here;
        let after = i.next_ip32();
        e.index = insns;
        let ok = translate_one(&mut e, &i);
        match ok {
            Some(true) => {
                map.push((start as u32, here));
                insns += 1;
                next = after;
            }
            Some(false) => {
                // A block-ending control transfer was emitted.
                map.push((start as u32, here));
                insns += 1;
                next = after;
                ended = true;
                break;
            }
            None => {
                e.code.truncate(start);
                e.uncount.retain(|&(at, _)| at < start);
                break;
            }
        }
    }
    e.code[count_at + 3..count_at + 7].copy_from_slice(&insns.to_le_bytes());
    for &(at, k) in &e.uncount {
        let back = -i64::from(insns - k) as i32;
        e.code[at..at + 4].copy_from_slice(&back.to_le_bytes());
    }
    let mut guest_len = next.wrapping_sub(eip);
    if !ended {
        // Fell off the end (length limit, page end, or an instruction for
        // the interpreter): continue at `next`. A block whose very first
        // instruction is for the interpreter is just that callout, so that
        // jumps to it chain and it is not translated again each time.
        let stopped = dec.can_decode() || insns == 0;
        if stopped && insns < max {
            e.store_imm(offset_of!(Context, callout), i.mnemonic() as u32);
            e.exit_to(next, REASON_FALLBACK);
            if insns == 0 {
                // Its code is the instruction it leaves to the interpreter
                // (a write to it must drop the block).
                guest_len = i.len().max(1) as u32;
            }
        } else {
            e.exit_to(next, REASON_NEXT);
        }
    }
    Some(Translation {
        code: e.code,
        verify,
        checked,
        entry,
        map,
        insns,
        guest_len,
        exits: e.exits,
    })
}

/// Emit one guest instruction: Some(true) = continue, Some(false) = the
/// block ends here (control transfer emitted), None = not translatable.
fn translate_one(e: &mut Emitter, i: &Instruction) -> Option<bool> {
    use Mnemonic as M;
    let after = i.next_ip32();
    // The stack is addressed at r12d directly: only with SS base 0.
    if e.mode & MODE_SS_BASE != 0
        && matches!(
            i.mnemonic(),
            M::Push | M::Pop | M::Call | M::Ret | M::Pushad | M::Popad | M::Leave
        )
    {
        return None;
    }
    match (i.mnemonic(), i.code()) {
        (M::Push, Code::Push_r32) => push32(e, Ok(host_reg(i.op0_register()))).ok().map(|_| true),
        (M::Push, Code::Pushd_imm32 | Code::Pushd_imm8) => {
            push32(e, Err(i.immediate(0) as u32)).ok().map(|_| true)
        }
        (M::Pop, Code::Pop_r32) => {
            let r = host_reg(i.op0_register());
            let src = MemoryOperand::with_base(Register::R12D).with_segment_prefix(Register::GS);
            e.insn(&Instruction::with2(Code::Mov_r32_rm32, r, src).ok()?)
                .ok()?;
            if r != Register::R12D {
                e.code.extend_from_slice(&[0x45, 0x8d, 0x64, 0x24, 0x04]); // lea r12d, [r12+4]
            }
            Some(true)
        }
        (M::Push, Code::Push_rm32) if mem_ok(i, e.mode) => {
            // The operand (ESP-relative ones see ESP before the push) into
            // r11d, then a push of r11d.
            let h = host_mem(e, i)?;
            let load = if i.op0_kind() == OpKind::Register {
                Instruction::with2(Code::Mov_r32_rm32, Register::R11D, h.op0_register()).ok()?
            } else {
                let mut m = ea_of(&h);
                m.segment_prefix = Register::GS;
                Instruction::with2(Code::Mov_r32_rm32, Register::R11D, m).ok()?
            };
            e.insn(&load).ok()?;
            push32(e, Ok(Register::R11D)).ok()?;
            Some(true)
        }
        (M::Pop, Code::Pop_rm32) if i.op0_kind() == OpKind::Memory && mem_ok(i, e.mode) => {
            // An ESP-based destination is addressed after the increment.
            if i.memory_base() == Register::ESP || i.memory_index() == Register::ESP {
                return None;
            }
            // The destination's address first (through a segment base it
            // is computed into r11d), then the value into r10d.
            let h = host_mem(e, i)?;
            e.insn(&Instruction::with2(Code::Mov_r32_rm32, Register::R10D, stack(0)).ok()?)
                .ok()?;
            let mut m = ea_of(&h);
            m.segment_prefix = Register::GS;
            e.insn(&Instruction::with2(Code::Mov_rm32_r32, m, Register::R10D).ok()?)
                .ok()?;
            e.code.extend_from_slice(&[0x45, 0x8d, 0x64, 0x24, 0x04]); // lea r12d, [r12+4]
            Some(true)
        }
        (M::Pushad, Code::Pushad) => {
            // Stores first (a fault leaves ESP alone; the stores are
            // repeated when the interpreter takes over), then ESP. Lowest
            // address first: when ESP < 32 the frame wraps below 0, which
            // is #SS for the whole instruction; the lowest slots then lie
            // at the top of 4 GiB (ROM, holes or past the window: never
            // writable), so the first store faults before any is made.
            let regs = [
                Register::EAX,
                Register::ECX,
                Register::EDX,
                Register::EBX,
                Register::R12D,
                Register::EBP,
                Register::ESI,
                Register::EDI,
            ];
            for (k, r) in regs.iter().enumerate().rev() {
                let slot = stack(-4 * (k as i64 + 1));
                e.insn(&Instruction::with2(Code::Mov_rm32_r32, slot, *r).ok()?)
                    .ok()?;
            }
            e.code.extend_from_slice(&[0x45, 0x8d, 0x64, 0x24, 0xe0]); // lea r12d, [r12-32]
            Some(true)
        }
        (M::Popad, Code::Popad) => {
            // Probe both ends first with 64-bit addresses (no wrap: past
            // 4 GiB is the window's guard), so that a fault comes before any
            // register changes; then the loads (ESP's slot skipped), then
            // ESP.
            e.code.extend_from_slice(&[0x65, 0x45, 0x8b, 0x0c, 0x24]); // mov r9d, gs:[r12]
            e.code.extend_from_slice(&[0x65, 0x45, 0x8b, 0x4c, 0x24, 0x1c]); // mov r9d, gs:[r12+28]
            let regs = [
                Register::EDI,
                Register::ESI,
                Register::EBP,
                Register::None,
                Register::EBX,
                Register::EDX,
                Register::ECX,
                Register::EAX,
            ];
            for (k, r) in regs.iter().enumerate() {
                if *r != Register::None {
                    e.insn(&Instruction::with2(Code::Mov_r32_rm32, *r, stack(4 * k as i64)).ok()?)
                        .ok()?;
                }
            }
            e.code.extend_from_slice(&[0x45, 0x8d, 0x64, 0x24, 0x20]); // lea r12d, [r12+32]
            Some(true)
        }
        (M::Leave, Code::Leaved) => {
            // mov r11d, gs:[ebp]; lea r12d, [rbp+4]; mov ebp, r11d: the
            // load first, so a fault leaves ESP and EBP as they were.
            e.code.extend_from_slice(&[0x65, 0x67, 0x44, 0x8b, 0x5d, 0x00]);
            e.code.extend_from_slice(&[0x44, 0x8d, 0x65, 0x04]);
            e.code.extend_from_slice(&[0x44, 0x89, 0xdd]);
            Some(true)
        }
        (M::Ret, Code::Retnd_imm16) => {
            // mov r11d, gs:[r12d]; lea r12d, [r12+4+imm16]; exit to r11d
            e.insn(&Instruction::with2(Code::Mov_r32_rm32, Register::R11D, stack(0)).ok()?)
                .ok()?;
            let at = MemoryOperand::with_base_displ(Register::R12, 4 + i64::from(i.immediate16()));
            e.insn(&Instruction::with2(Code::Lea_r32_m, Register::R12D, at).ok()?)
                .ok()?;
            e.exit_r11();
            Some(false)
        }
        (M::Jmp, Code::Jmp_rel8_32 | Code::Jmp_rel32_32) => {
            e.exit_to(i.near_branch32(), REASON_NEXT);
            Some(false)
        }
        (_, _)
            if i.flow_control() == iced_x86::FlowControl::ConditionalBranch
                && matches!(i.op0_kind(), OpKind::NearBranch32)
                && !matches!(i.mnemonic(), M::Jecxz | M::Jcxz | M::Loop | M::Loope | M::Loopne) =>
        {
            // jcc .taken (rel32); fall-through exit; .taken: exit to target.
            let cc = i.condition_code() as u8 - iced_x86::ConditionCode::o as u8;
            let at = e.code.len();
            e.code.extend_from_slice(&[0x0f, 0x80 + cc, 0, 0, 0, 0]);
            e.exit_to(after, REASON_NEXT);
            let taken = e.code.len();
            let rel = (taken - (at + 6)) as i32;
            e.code[at + 2..at + 6].copy_from_slice(&rel.to_le_bytes());
            e.exit_to(i.near_branch32(), REASON_NEXT);
            // Chaining points the Jcc itself at the target's block (one
            // taken jump); the stub stays for when it is unchained.
            let slot = e.exits.last_mut().expect("exit_to recorded the taken exit");
            slot.at = at as u32 + 2;
            slot.rel32 = true;
            Some(false)
        }
        (
            _,
            Code::Loop_rel8_32_ECX | Code::Loope_rel8_32_ECX | Code::Loopne_rel8_32_ECX | Code::Jecxz_rel8_32,
        ) => {
            // LOOP: lea ecx, [rcx-1]; jrcxz .not; (LOOPE: jne .not;
            // LOOPNE: je .not); exit to the target; .not: exit to the next
            // instruction. JECXZ: jecxz .taken; exit next; .taken: exit target.
            let at;
            if i.code() == Code::Jecxz_rel8_32 {
                e.code.extend_from_slice(&[0x67, 0xe3, 0]);
                at = e.code.len();
                e.exit_to(after, REASON_NEXT);
                e.code[at - 1] = (e.code.len() - at) as u8;
                e.exit_to(i.near_branch32(), REASON_NEXT);
                return Some(false);
            }
            e.code.extend_from_slice(&[0x8d, 0x49, 0xff, 0xe3, 0]);
            let mut holes = vec![e.code.len()];
            match i.code() {
                Code::Loope_rel8_32_ECX => e.code.extend_from_slice(&[0x75, 0]),
                Code::Loopne_rel8_32_ECX => e.code.extend_from_slice(&[0x74, 0]),
                _ => {}
            }
            if e.code.len() != holes[0] {
                holes.push(e.code.len());
            }
            e.exit_to(i.near_branch32(), REASON_NEXT);
            let not = e.code.len();
            for h in holes {
                e.code[h - 1] = (not - h) as u8;
            }
            e.exit_to(after, REASON_NEXT);
            Some(false)
        }
        (M::Call, Code::Call_rel32_32) => {
            push32(e, Err(after)).ok()?;
            e.exit_to(i.near_branch32(), REASON_NEXT);
            Some(false)
        }
        (M::Ret, Code::Retnd) => {
            // mov r11d, gs:[r12d]; lea r12d, [r12+4]; exit to r11d
            e.code
                .extend_from_slice(&[0x65, 0x67, 0x45, 0x8b, 0x1c, 0x24, 0x45, 0x8d, 0x64, 0x24, 0x04]);
            e.exit_r11();
            Some(false)
        }
        (M::Jmp, Code::Jmp_rm32) | (M::Call, Code::Call_rm32) => {
            if !mem_ok(i, e.mode) || i.mnemonic() == M::Call && e.mode & MODE_SS_BASE != 0 {
                return None;
            }
            // mov r11d, <operand>
            let load = if i.op0_kind() == OpKind::Register {
                Instruction::with2(Code::Mov_r32_rm32, Register::R11D, host_reg(i.op0_register())).ok()?
            } else {
                let h = host_mem(e, i)?;
                let mut m = ea_of(&h);
                m.segment_prefix = Register::GS;
                Instruction::with2(Code::Mov_r32_rm32, Register::R11D, m).ok()?
            };
            e.insn(&load).ok()?;
            if i.mnemonic() == M::Call {
                push32(e, Err(after)).ok()?;
            }
            e.exit_r11();
            Some(false)
        }
        _ if is_fpu(i) => {
            fpu(e, i)?;
            Some(true)
        }
        _ if is_string(i) && string_ok(i, e.mode) => {
            if rep(i) == iced_x86::RepPrefixKind::None {
                string_moves(e, i)?;
            } else {
                string(e, i).ok()?;
            }
            Some(true)
        }
        (M::Cld | M::Std, _) => {
            // DF is part of the block's mode: a change ends the block.
            e.insn(i).ok()?;
            let df = e.mode & MODE_DF != 0;
            if df == (i.mnemonic() == M::Std) {
                return Some(true);
            }
            e.exit_to(after, REASON_MODE);
            Some(false)
        }
        // A bit offset in a register reaches beyond the operand: the
        // access is not where a limit check would look.
        (M::Bt | M::Bts | M::Btr | M::Btc, _)
            if e.mode & MODE_LIMITS != 0
                && i.op0_kind() == OpKind::Memory
                && i.op1_kind() == OpKind::Register =>
        {
            None
        }
        _ if identity_ok(i, e.mode) => {
            let h = host_mem(e, i)?;
            e.insn(&h).ok()?;
            Some(true)
        }
        _ => None,
    }
}

/// MOVS, STOS, LODS, CMPS, SCAS with 32-bit addressing and flat segments.
fn is_string(i: &Instruction) -> bool {
    use Mnemonic as M;
    matches!(
        i.mnemonic(),
        M::Movsb
            | M::Movsw
            | M::Movsd
            | M::Stosb
            | M::Stosw
            | M::Stosd
            | M::Lodsb
            | M::Lodsw
            | M::Lodsd
            | M::Cmpsb
            | M::Cmpsw
            | M::Cmpsd
            | M::Scasb
            | M::Scasw
            | M::Scasd
    ) && (0..i.op_count()).all(|n| !matches!(i.op_kind(n), OpKind::MemorySegSI | OpKind::MemoryESDI))
        && !matches!(i.segment_prefix(), Register::FS | Register::GS | Register::CS)
}

/// A string instruction on rebased RSI/RDI: the host runs the same string
/// operation (DF, REP, flags and mid-way faults included) on window
/// addresses; because the window is 4 GiB-aligned, truncating RSI/RDI back
/// to 32 bits gives the guest's ESI/EDI again (also at a fault).
fn string(e: &mut Emitter, i: &Instruction) -> Result<(), iced_x86::IcedError> {
    let uses = |k: OpKind| (0..i.op_count()).any(|n| i.op_kind(n) == k);
    let si = uses(OpKind::MemorySegESI);
    let di = uses(OpKind::MemoryESEDI);
    // mov r11, [r15 + window_base]
    e.code
        .extend_from_slice(&[0x4d, 0x8b, 0x5f, disp8(offset_of!(Context, window_base))]);
    if si {
        e.code.extend_from_slice(&[0x4a, 0x8d, 0x34, 0x1e]); // lea rsi, [rsi + r11]
    }
    if di {
        e.code.extend_from_slice(&[0x4a, 0x8d, 0x3c, 0x1f]); // lea rdi, [rdi + r11]
    }
    // The same instruction with 64-bit addresses and no segment override.
    let code = match i.mnemonic() {
        Mnemonic::Movsb => Code::Movsb_m8_m8,
        Mnemonic::Movsw => Code::Movsw_m16_m16,
        Mnemonic::Movsd => Code::Movsd_m32_m32,
        Mnemonic::Stosb => Code::Stosb_m8_AL,
        Mnemonic::Stosw => Code::Stosw_m16_AX,
        Mnemonic::Stosd => Code::Stosd_m32_EAX,
        Mnemonic::Lodsb => Code::Lodsb_AL_m8,
        Mnemonic::Lodsw => Code::Lodsw_AX_m16,
        Mnemonic::Lodsd => Code::Lodsd_EAX_m32,
        Mnemonic::Cmpsb => Code::Cmpsb_m8_m8,
        Mnemonic::Cmpsw => Code::Cmpsw_m16_m16,
        Mnemonic::Cmpsd => Code::Cmpsd_m32_m32,
        Mnemonic::Scasb => Code::Scasb_AL_m8,
        Mnemonic::Scasw => Code::Scasw_AX_m16,
        _ => Code::Scasd_EAX_m32,
    };
    let h = match code {
        Code::Movsb_m8_m8 => Instruction::with_movsb(64, Register::None, rep(i))?,
        Code::Movsw_m16_m16 => Instruction::with_movsw(64, Register::None, rep(i))?,
        Code::Movsd_m32_m32 => Instruction::with_movsd(64, Register::None, rep(i))?,
        Code::Stosb_m8_AL => Instruction::with_stosb(64, rep(i))?,
        Code::Stosw_m16_AX => Instruction::with_stosw(64, rep(i))?,
        Code::Stosd_m32_EAX => Instruction::with_stosd(64, rep(i))?,
        Code::Lodsb_AL_m8 => Instruction::with_lodsb(64, Register::None, rep(i))?,
        Code::Lodsw_AX_m16 => Instruction::with_lodsw(64, Register::None, rep(i))?,
        Code::Lodsd_EAX_m32 => Instruction::with_lodsd(64, Register::None, rep(i))?,
        Code::Cmpsb_m8_m8 => Instruction::with_cmpsb(64, Register::None, rep(i))?,
        Code::Cmpsw_m16_m16 => Instruction::with_cmpsw(64, Register::None, rep(i))?,
        Code::Cmpsd_m32_m32 => Instruction::with_cmpsd(64, Register::None, rep(i))?,
        Code::Scasb_AL_m8 => Instruction::with_scasb(64, rep(i))?,
        Code::Scasw_AX_m16 => Instruction::with_scasw(64, rep(i))?,
        _ => Instruction::with_scasd(64, rep(i))?,
    };
    e.insn(&h)?;
    if si {
        e.code.extend_from_slice(&[0x89, 0xf6]); // mov esi, esi
    }
    if di {
        e.code.extend_from_slice(&[0x89, 0xff]); // mov edi, edi
    }
    Ok(())
}

fn rep(i: &Instruction) -> iced_x86::RepPrefixKind {
    if i.has_repne_prefix() {
        iced_x86::RepPrefixKind::Repne
    } else if i.has_rep_prefix() {
        iced_x86::RepPrefixKind::Repe
    } else {
        iced_x86::RepPrefixKind::None
    }
}

/// x87, MMX and FXSAVE/FXRSTOR instructions, and WAIT.
pub(crate) fn is_fpu(i: &Instruction) -> bool {
    use iced_x86::CpuidFeature as F;
    i.mnemonic() == Mnemonic::Wait
        || i.cpuid_features()
            .iter()
            .any(|f| matches!(f, F::FPU | F::FPU287 | F::FPU387 | F::MMX | F::FXSR))
}

/// An x87 or MMX instruction on the host FPU, which holds the guest's state
/// while translated code runs. Instructions that store or load the
/// last-instruction pointers (FNSTENV, FNSAVE, FXSAVE and their loads) or
/// reset them (FNINIT) are left to the interpreter, which keeps the guest's
/// values; after a non-control instruction the guest's FIP, FOP and FDP are
/// recorded in the context, since the host's are host addresses.
fn fpu(e: &mut Emitter, i: &Instruction) -> Option<()> {
    use Mnemonic as M;
    if e.mode & MODE_FPU == 0 || !mem_ok(i, e.mode) {
        return None;
    }
    let m = i.mnemonic();
    // D9 D8+i: an alias of FSTP on the modelled P6, FSTPNCE on some hosts
    // (AMD), which pops an empty ST(0) without the underflow exception.
    if m == M::Fstpnce {
        return None;
    }
    if matches!(
        m,
        M::Fnstenv
            | M::Fstenv
            | M::Fnsave
            | M::Fsave
            | M::Fxsave
            | M::Fldenv
            | M::Frstor
            | M::Fxrstor
            | M::Fninit
            | M::Finit
    ) {
        return None;
    }
    e.fpu_ready();
    let h = host_mem(e, i)?;
    e.insn(&h).ok()?;
    // Control instructions leave FIP, FOP and FDP alone (SDM Vol. 1 §8.1.8), as do the
    // 8087/287 mode controls, no-ops since the 387 (as on the host and in the
    // interpreter; FNOP is not a control instruction).
    let control = matches!(
        m,
        M::Fnclex
            | M::Fclex
            | M::Fldcw
            | M::Fnstcw
            | M::Fstcw
            | M::Fnstsw
            | M::Fstsw
            | M::Wait
            | M::Fneni
            | M::Feni
            | M::Fndisi
            | M::Fdisi
            | M::Fnsetpm
            | M::Fsetpm
    );
    let mmx = i.cpuid_features().contains(&iced_x86::CpuidFeature::MMX);
    if control || mmx {
        return Some(());
    }
    let has_mem = (0..i.op_count()).any(|n| i.op_kind(n) == OpKind::Memory);
    e.store_imm(offset_of!(Context, fpu_fip), i.ip32());
    let fop = cpu::fpu::fop_of(i);
    if has_mem {
        let seg = seg_index(i.memory_segment()) as u32;
        e.store_imm(offset_of!(Context, fpu_opseg), u32::from(fop) | seg << 16);
    } else {
        // The FOP half only: FDP and FDS stay those of the last instruction
        // with a memory operand.
        e.store_imm16(offset_of!(Context, fpu_opseg), fop);
    }
    if has_mem {
        // lea r11d, [ea]; mov [r15+fpu_fdp], r11d
        let ea = ea_of(&to_host(i));
        e.insn(&Instruction::with2(Code::Lea_r32_m, Register::R11D, ea).ok()?)
            .ok()?;
        e.store_r11(offset_of!(Context, fpu_fdp));
    }
    Some(())
}

/// A teaching listing of a translation: each guest instruction next to the
/// host code it became (`--trace-translation`, the golden listings).
/// `guest` holds the guest bytes from `eip` on; `rx` is the block's
/// executable address.
pub fn listing(t: &Translation, guest: &[u8], eip: u32, rx: u64) -> String {
    use iced_x86::{Formatter, IntelFormatter};
    use std::fmt::Write;
    let mut f = IntelFormatter::new();
    f.options_mut().set_rip_relative_addresses(false);
    f.options_mut().set_space_after_operand_separator(true);
    let mut out = String::new();
    let host = |out: &mut String, f: &mut IntelFormatter, from: usize, to: usize, indent: &str| {
        let mut d = Decoder::with_ip(64, &t.code[from..to], rx + from as u64, DecoderOptions::NONE);
        for h in &mut d {
            let mut text = String::new();
            f.format(&h, &mut text);
            let off = h.ip() - rx;
            let bytes = &t.code[off as usize..off as usize + h.len()];
            let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(out, "{indent}+{off:04x}  {:<36} {text}", hex.join(" "));
        }
    };
    let _ = writeln!(
        out,
        "block {eip:#010x}: {} guest instructions, {} guest bytes -> {} host bytes",
        t.insns,
        t.guest_len,
        t.code.len()
    );
    let first = t.map.first().map_or(t.code.len(), |m| m.0 as usize);
    let _ = writeln!(out, "  (entry: budget check, instruction count)");
    host(&mut out, &mut f, 0, first, "      ");
    for (k, &(at, g)) in t.map.iter().enumerate() {
        let end = t.map.get(k + 1).map_or(t.code.len(), |m| m.0 as usize);
        let off = g.wrapping_sub(eip) as usize;
        let mut d = Decoder::with_ip(
            32,
            &guest[off.min(guest.len())..],
            u64::from(g),
            DecoderOptions::NONE,
        );
        let gi = d.decode();
        let mut text = String::new();
        f.format(&gi, &mut text);
        let gb = &guest[off..(off + gi.len()).min(guest.len())];
        let hex: Vec<String> = gb.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(out, "  {g:08x}  {:<30} {text}", hex.join(" "));
        host(&mut out, &mut f, at as usize, end, "      ");
    }
    out
}

/// String instructions run on rebased RSI/RDI: only through segments with
/// base 0 (DS or its override for the source, ES for the destination).
fn string_ok(i: &Instruction, mode: u8) -> bool {
    if mode & MODE_LIMITS != 0 {
        // Their ranges are not checked against segment limits.
        return false;
    }
    let uses = |k: OpKind| (0..i.op_count()).any(|n| i.op_kind(n) == k);
    let src = !uses(OpKind::MemorySegESI) || !needs_base(seg_index(i.memory_segment()), mode);
    let dst = !uses(OpKind::MemoryESEDI) || mode & MODE_ES_BASE == 0;
    src && dst
}

/// A string instruction without REP as moves through GS: the direction
/// flag is known from the block's mode, so ESI/EDI step by a constant (LEA,
/// flag-neutral, after the accesses: a fault changes nothing). CMPS and
/// SCAS compare with CMP, which sets the flags as they do.
fn string_moves(e: &mut Emitter, i: &Instruction) -> Option<()> {
    use Mnemonic as M;
    let m = i.mnemonic();
    let size: i32 = match m {
        M::Lodsb | M::Stosb | M::Movsb | M::Cmpsb | M::Scasb => 1,
        M::Lodsw | M::Stosw | M::Movsw | M::Cmpsw | M::Scasw => 2,
        _ => 4,
    };
    let step = if e.mode & MODE_DF != 0 { -size } else { size };
    let (acc, tmp) = match size {
        1 => (Register::AL, Register::R11L),
        2 => (Register::AX, Register::R11W),
        _ => (Register::EAX, Register::R11D),
    };
    let (load, store, cmp) = match size {
        1 => (Code::Mov_r8_rm8, Code::Mov_rm8_r8, Code::Cmp_r8_rm8),
        2 => (Code::Mov_r16_rm16, Code::Mov_rm16_r16, Code::Cmp_r16_rm16),
        _ => (Code::Mov_r32_rm32, Code::Mov_rm32_r32, Code::Cmp_r32_rm32),
    };
    let src = MemoryOperand::with_base(Register::ESI).with_segment_prefix(Register::GS);
    let dst = MemoryOperand::with_base(Register::EDI).with_segment_prefix(Register::GS);
    let (si, di) = match m {
        M::Lodsb | M::Lodsw | M::Lodsd => {
            e.insn(&Instruction::with2(load, acc, src).ok()?).ok()?;
            (true, false)
        }
        M::Stosb | M::Stosw | M::Stosd => {
            e.insn(&Instruction::with2(store, dst, acc).ok()?).ok()?;
            (false, true)
        }
        M::Movsb | M::Movsw | M::Movsd => {
            e.insn(&Instruction::with2(load, tmp, src).ok()?).ok()?;
            e.insn(&Instruction::with2(store, dst, tmp).ok()?).ok()?;
            (true, true)
        }
        M::Cmpsb | M::Cmpsw | M::Cmpsd => {
            e.insn(&Instruction::with2(load, tmp, src).ok()?).ok()?;
            e.insn(&Instruction::with2(cmp, tmp, dst).ok()?).ok()?;
            (true, true)
        }
        _ => {
            e.insn(&Instruction::with2(cmp, acc, dst).ok()?).ok()?;
            (false, true)
        }
    };
    for (used, r64, r32) in [
        (si, Register::RSI, Register::ESI),
        (di, Register::RDI, Register::EDI),
    ] {
        if used {
            let at = MemoryOperand::with_base_displ(r64, i64::from(step));
            e.insn(&Instruction::with2(Code::Lea_r32_m, r32, at).ok()?).ok()?;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At every instruction of a real block (a loop with a memory operand,
    /// a PUSH, a CALL and a RET: head, body and exits), `budget_holder`
    /// names where the head sequence put the budget, and r13 elsewhere.
    #[test]
    fn budget_holder_follows_the_head_sequence() {
        // top: add [ebx+4], eax; push ecx; call f; dec ecx; jnz top;
        // f: ret
        let guest = [
            0x01, 0x43, 0x04, 0x51, 0xe8, 0x03, 0x00, 0x00, 0x00, 0x49, 0x75, 0xf4, 0xc3,
        ];
        let callouts = crate::FastMap::default();
        let env = Env {
            rx: 0x7f00_0010_0000,
            exit: 0x7f00_0000_0040,
            fpu_load: 0x7f00_0000_0100,
            miss: 0x7f00_0000_0140,
            mode: 0,
            callouts: &callouts,
            max_insns: MAX_INSNS,
        };
        let t = translate(&guest, 0x1000, &env).expect("translatable");
        let mut d = Decoder::with_ip(64, &t.code, 0, DecoderOptions::NONE);
        let c = u64::from(t.checked);
        let mut seen = 0;
        while d.can_decode() {
            let at = d.position();
            let i = d.decode();
            let off = i.ip();
            let before: Vec<u8> = t.code[at.saturating_sub(4)..at].to_vec();
            let bytes = &t.code[at..(at + 4).min(t.code.len())];
            let want = match off {
                0 => BudgetHolder::Zero,
                o if o == c + 3 => BudgetHolder::Rcx(0),
                o if o == c + 5 => BudgetHolder::Rcx(1),
                o if o == c + 9 => BudgetHolder::Rcx(0),
                _ => BudgetHolder::R13,
            };
            if want != BudgetHolder::R13 {
                seen += 1;
            }
            assert_eq!(budget_holder(&before, bytes), want, "at +{off:#x}: {i}");
        }
        assert_eq!(seen, 4, "the budget exit and the three places in the check");
    }
}
