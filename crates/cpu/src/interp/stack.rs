//! Stack instructions: PUSH, POP, PUSHA, POPA, PUSHF, POPF, ENTER, LEAVE.
//!
//! The stack's address size comes from SS.B (ESP or SP); the operand size
//! from the instruction. Each handler computes every address and checks
//! every access before it changes ESP, so a fault leaves the stack as it was.

use super::ops::W;
use super::Handler;
use crate::fault::{Fault, Res};
use crate::state::{flags, reg, SegReg};
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic, OpKind, Register};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Push => generic_push,
        Mnemonic::Pop => generic_pop,
        Mnemonic::Pusha | Mnemonic::Pushad => pusha,
        Mnemonic::Popa | Mnemonic::Popad => popa,
        Mnemonic::Pushf | Mnemonic::Pushfd => pushf,
        Mnemonic::Popf | Mnemonic::Popfd => popf,
        Mnemonic::Enter => enter,
        Mnemonic::Leave => leave,
        _ => return None,
    })
}

impl Cpu {
    /// Stack pointer as used for addressing (ESP or SP).
    #[inline]
    pub(crate) fn sp(&self) -> u32 {
        if self.state.stack32() {
            self.state.regs[reg::ESP]
        } else {
            self.state.regs[reg::ESP] & 0xffff
        }
    }

    /// `sp + delta` in the stack's address size.
    #[inline]
    pub(crate) fn sp_add(&self, delta: u32) -> u32 {
        if self.state.stack32() {
            self.state.regs[reg::ESP].wrapping_add(delta)
        } else {
            self.state.regs[reg::ESP].wrapping_add(delta) & 0xffff
        }
    }

    /// Set the stack pointer (only SP for a 16-bit stack).
    #[inline]
    pub(crate) fn set_sp(&mut self, v: u32) {
        if self.state.stack32() {
            self.state.regs[reg::ESP] = v;
        } else {
            self.state.regs[reg::ESP] = (self.state.regs[reg::ESP] & 0xffff_0000) | (v & 0xffff);
        }
    }

    /// Push a value of width `w` (2 or 4 bytes).
    pub(crate) fn push(&mut self, bus: &mut Bus, v: u32, w: W) -> Res<()> {
        let sp = self.sp_add(w.bytes().wrapping_neg());
        self.write_mem(bus, SegReg::Ss, sp, w, v)?;
        self.set_sp(sp);
        Ok(())
    }

    /// Read the value `depth` bytes above the top of the stack.
    pub(crate) fn peek(&mut self, bus: &mut Bus, depth: u32, w: W) -> Res<u32> {
        let a = self.sp_add(depth);
        self.read_mem(bus, SegReg::Ss, a, w)
    }

    /// Pop a value of width `w`.
    pub(crate) fn pop(&mut self, bus: &mut Bus, w: W) -> Res<u32> {
        let v = self.peek(bus, 0, w)?;
        self.set_sp(self.sp_add(w.bytes()));
        Ok(v)
    }
}

/// Operand size of a stack instruction, from iced's stack increment.
fn stack_width(i: &Instruction) -> W {
    W::from_bytes(i.stack_pointer_increment().unsigned_abs())
}

/// PUSH, any form.
pub(super) fn generic_push(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = stack_width(i);
    if i.op0_kind() == OpKind::Register && i.op0_register().is_segment_register() {
        // A 32-bit push of a segment register writes only the low 16 bits
        // (as recent Intel processors do; SDM Vol. 2, PUSH).
        let v = cpu.reg(i.op0_register());
        let sp = cpu.sp_add(w.bytes().wrapping_neg());
        cpu.write_mem(bus, SegReg::Ss, sp, W::W, v)?;
        if w == W::D {
            cpu.probe_write(bus, SegReg::Ss, sp, 4)?;
        }
        cpu.set_sp(sp);
        return Ok(());
    }
    // PUSH ESP pushes the value before the push; memory operands are read
    // before ESP changes.
    let v = cpu.read_op(bus, i, 0)?;
    cpu.push(bus, v, w)
}

/// POP, any form.
pub(super) fn generic_pop(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = stack_width(i);
    let v = cpu.peek(bus, 0, w)?;
    let new_sp = cpu.sp_add(w.bytes());
    match i.op0_kind() {
        OpKind::Register if i.op0_register().is_segment_register() => {
            cpu.mov_to_seg(bus, i.op0_register(), v as u16)?;
            cpu.set_sp(new_sp);
        }
        OpKind::Register => {
            cpu.set_sp(new_sp);
            cpu.set_reg(i.op0_register(), v);
        }
        _ => {
            // The destination address is computed with the incremented ESP
            // (SDM Vol. 2, POP); undo the increment if the store faults.
            let old = cpu.state.regs[reg::ESP];
            cpu.set_sp(new_sp);
            if let Err(f) = cpu.write_op(bus, i, 0, v) {
                cpu.state.regs[reg::ESP] = old;
                return Err(f);
            }
        }
    }
    Ok(())
}

const GPRS: [Register; 8] = [
    Register::EAX,
    Register::ECX,
    Register::EDX,
    Register::EBX,
    Register::ESP,
    Register::EBP,
    Register::ESI,
    Register::EDI,
];

const GPRS16: [Register; 8] = [
    Register::AX,
    Register::CX,
    Register::DX,
    Register::BX,
    Register::SP,
    Register::BP,
    Register::SI,
    Register::DI,
];

fn pusha(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = if i.mnemonic() == Mnemonic::Pushad {
        W::D
    } else {
        W::W
    };
    let n = w.bytes();
    cpu.probe_write(bus, SegReg::Ss, cpu.sp_add((8 * n).wrapping_neg()), 8 * n)?;
    let vals = cpu.state.regs;
    for (k, v) in vals.iter().enumerate() {
        let a = cpu.sp_add((k as u32 + 1).wrapping_mul(n).wrapping_neg());
        cpu.write_mem(bus, SegReg::Ss, a, w, *v)?;
    }
    cpu.set_sp(cpu.sp_add((8 * n).wrapping_neg()));
    Ok(())
}

fn popa(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = if i.mnemonic() == Mnemonic::Popad {
        W::D
    } else {
        W::W
    };
    let n = w.bytes();
    let mut vals = [0u32; 8];
    for (k, v) in vals.iter_mut().enumerate() {
        *v = cpu.peek(bus, (7 - k as u32) * n, w)?;
    }
    for (k, r) in GPRS.iter().enumerate() {
        if k != reg::ESP {
            let r = if w == W::W { GPRS16[k] } else { *r };
            cpu.set_reg(r, vals[k]);
        }
    }
    cpu.set_sp(cpu.sp_add(8 * n));
    Ok(())
}

/// PUSHF: in virtual-8086 mode with IOPL < 3 it faults (no VME).
fn pushf(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if cpu.state.v86() && cpu.state.iopl() < 3 {
        return Err(Fault::GP0);
    }
    let w = stack_width(i);
    // VM and RF read as zero in the pushed image (SDM Vol. 2, PUSHF).
    let v = cpu.state.eflags & !(flags::VM | flags::RF);
    cpu.push(bus, v, w)
}

/// POPF with the privilege rules of SDM Vol. 2, POPF.
fn popf(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let v86 = cpu.state.v86();
    if v86 && cpu.state.iopl() < 3 {
        return Err(Fault::GP0);
    }
    let w = stack_width(i);
    let v = cpu.pop(bus, w)?;
    cpu.write_eflags_popf(v, w);
    Ok(())
}

impl Cpu {
    /// Load EFLAGS as POPF/IRET-to-same-privilege do: which bits may change
    /// depends on CPL and IOPL; VM, VIF and VIP never change here.
    pub(crate) fn write_eflags_popf(&mut self, v: u32, w: W) {
        let mut mask = flags::ARITH
            | flags::TF
            | flags::DF
            | flags::NT
            | flags::AC
            | flags::ID
            | flags::IF
            | flags::IOPL;
        let cpl = self.state.cpl;
        if self.state.protected() {
            if cpl > 0 || self.state.v86() {
                mask &= !flags::IOPL;
            }
            if u32::from(cpl) > u32::from(self.state.iopl()) && !self.state.v86() {
                mask &= !flags::IF;
            }
        }
        if w == W::W {
            mask &= 0xffff;
        }
        let old = self.state.eflags;
        self.state.eflags =
            ((old & !mask) | (v & mask) | flags::FIXED1) & !flags::RF & flags::VALID | (old & flags::VM);
        if old & flags::IF == 0 && self.state.eflags & flags::IF != 0 {
            self.end_block = true;
        }
    }
}

/// ENTER size, level (SDM Vol. 2, ENTER).
fn enter(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = if i.code() == iced_x86::Code::Enterw_imm16_imm8 {
        W::W
    } else {
        W::D
    };
    let size = u32::from(i.immediate16());
    let level = u32::from(i.immediate8_2nd()) % 32;
    let n = w.bytes();
    let ebp_reg = if cpu.state.stack32() {
        cpu.state.regs[reg::EBP]
    } else {
        cpu.state.regs[reg::EBP] & 0xffff
    };
    // Check the whole frame first so nothing is committed on a fault.
    let total = n * (1 + level) + size;
    if total > 0 {
        cpu.probe_write(bus, SegReg::Ss, cpu.sp_add(total.wrapping_neg()), total.max(1))?;
    }
    let mut sp = cpu.sp_add(n.wrapping_neg());
    cpu.write_mem(bus, SegReg::Ss, sp, w, cpu.state.regs[reg::EBP])?;
    let frame = sp;
    let mask = if cpu.state.stack32() { 0xffff_ffff } else { 0xffff };
    if level > 0 {
        let mut bp = ebp_reg;
        for _ in 1..level {
            bp = bp.wrapping_sub(n) & mask;
            let v = cpu.read_mem(bus, SegReg::Ss, bp, w)?;
            sp = sp.wrapping_sub(n) & mask;
            cpu.write_mem(bus, SegReg::Ss, sp, w, v)?;
        }
        sp = sp.wrapping_sub(n) & mask;
        cpu.write_mem(bus, SegReg::Ss, sp, w, frame)?;
    }
    sp = sp.wrapping_sub(size) & mask;
    if w == W::D {
        cpu.state.regs[reg::EBP] = frame;
    } else {
        cpu.set_reg(Register::BP, frame);
    }
    cpu.set_sp(sp);
    Ok(())
}

/// LEAVE: (E)SP = (E)BP, then pop (E)BP.
fn leave(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = if i.code() == iced_x86::Code::Leavew {
        W::W
    } else {
        W::D
    };
    let bp = if cpu.state.stack32() {
        cpu.state.regs[reg::EBP]
    } else {
        cpu.state.regs[reg::EBP] & 0xffff
    };
    let v = cpu.read_mem(bus, SegReg::Ss, bp, w)?;
    cpu.set_sp(bp);
    cpu.set_sp(cpu.sp_add(w.bytes()));
    if w == W::D {
        cpu.state.regs[reg::EBP] = v;
    } else {
        cpu.set_reg(Register::BP, v);
    }
    Ok(())
}
