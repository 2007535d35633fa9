//! The x87 FPU and MMX: state, the rules every x87 instruction shares
//! (CR0.EM/TS/MP → #NM, pending unmasked exceptions → #MF or FERR#, the
//! register stack and its faults, the last-instruction pointers), and the
//! instruction handlers, one file per group:
//!
//! ```text
//!  interp::handler_for ──► fpu::lookup ──► load_store.rs  FLD FST FILD FIST FBLD FBSTP FXCH FCMOVcc consts
//!                                      ├─► arith.rs       FADD…FDIVR FSQRT FABS FCHS FPREM FSCALE FXTRACT FRNDINT
//!                                      ├─► compare.rs     FCOM FUCOM FICOM FTST FXAM FCOMI FUCOMI
//!                                      ├─► control.rs     FINIT FCLEX FLDCW FSTCW FSTSW FLDENV FSTENV FSAVE FRSTOR FXSAVE FXRSTOR FWAIT
//!                                      ├─► trans.rs       F2XM1 FYL2X FYL2XP1 FPTAN FPATAN FSIN FCOS FSINCOS
//!                                      └─► mmx.rs         MOVD MOVQ P* EMMS
//!                      numbers: the f80 crate (exact 80-bit soft-float)
//! ```
//!
//! Unmasked exceptions (SDM Vol. 1, 8.5 and 8.7): an instruction that
//! raises one sets ES (and B) in the status word; the *next* waiting x87
//! instruction (or WAIT) then raises #MF if CR0.NE=1. With CR0.NE=0 it
//! asserts FERR# instead — [`Fpu::ferr`] and
//! [`InterruptController::ferr`](crate::InterruptController::ferr), which
//! the board wires to IRQ13 — and goes on, as a PC with the IGNNE# latch
//! does once the IRQ13 handler ran (QEMU and Bochs behave the same).
//!
//! Choices where the SDM leaves room, checked against the host-CPU oracle
//! (`crates/testkit`, groups x87, x87mem, x87trans, fpenv, mmx):
//! - RESET leaves the P6 power-up state (FCW 0040H, all registers +0 and
//!   tagged valid, SDM Vol. 3A table 9-1), not the FNINIT state.
//! - FOP is rebuilt from iced's decoded form (`fop_of`); FDP/FDS change
//!   only for instructions with a memory operand.
//! - The reserved upper halves of the 32-bit FSTENV/FSAVE image are
//!   written as ones; FSTENV then masks all exceptions, which clears ES
//!   and B (the flags stay).
//! - A stack underflow in FCOM/FCOMI sets "unordered" even when IE is
//!   unmasked (the pops happen only when masked), as Bochs does; so does
//!   an unmasked invalid operand, and an unmasked #D still compares.
//! - An unmasked #I, #D or #Z sets only its own flag and clears C1; an
//!   unmasked #O or #U on a store to memory does not set PE.
//! - C1 and C2 where the SDM says "undefined": FCMOVcc and FCOMI keep C1,
//!   FFREE clears it; FPREM with a NaN or an unmasked exception clears C1
//!   and C2 only; F2XM1/FYL2X/FYL2XP1/FPATAN keep C2.
//! - FXSAVE writes only the x87/MMX part (bytes 0–23 and 32–159): there
//!   is no SSE state.
//!
//! Tests and the oracle reach the state directly: [`Fpu`]'s fields are
//! public (physical registers, abridged tags), [`Fpu::st`] and
//! [`Fpu::set_st`] go through TOP, and [`Fpu::fxsave_image`] /
//! [`Fpu::fxrstor`] convert to and from the FXSAVE layout.

mod arith;
mod compare;
mod control;
mod load_store;
mod mmx;
pub mod state;
#[cfg(test)]
mod tests;
mod trans;

use crate::fault::{vector, Fault, Res};
use crate::interp::Handler;
use crate::state::{cr0, SegReg};
use crate::{Bus, Cpu};
use f80::{Context, F80};
use iced_x86::{Instruction, Register};
pub use state::{fcw, fsw, Fpu, Reg80};

/// #MF.
pub(crate) const MF: Fault = Fault {
    vector: vector::MF,
    error: None,
};

/// The handler for an x87, MMX or FXSR instruction (or WAIT), if `i` is one.
pub(crate) fn lookup(i: &Instruction) -> Option<Handler> {
    let m = i.mnemonic();
    load_store::lookup(m)
        .or_else(|| arith::lookup(m))
        .or_else(|| compare::lookup(m))
        .or_else(|| control::lookup(m))
        .or_else(|| trans::lookup(m))
        .or_else(|| mmx::lookup(m))
}

impl From<Reg80> for F80 {
    #[inline]
    fn from(r: Reg80) -> F80 {
        F80::new(r.se, r.signif)
    }
}

impl From<F80> for Reg80 {
    #[inline]
    fn from(v: F80) -> Reg80 {
        Reg80 {
            signif: v.mant,
            se: v.sign_exp,
        }
    }
}

/// Index of the x87 register operand `n` (ST(i) → i).
#[inline]
pub(crate) fn sti(i: &Instruction, n: u32) -> usize {
    i.op_register(n) as usize - Register::ST0 as usize
}

/// The 11-bit opcode the FPU records (SDM Vol. 1, 8.1.9): the low three
/// bits of the escape byte, then the ModR/M byte, rebuilt from the decoded
/// form (iced keeps no raw bytes).
pub fn fop_of(i: &Instruction) -> u16 {
    let oc = i.op_code();
    let code = oc.op_code() as u16;
    if oc.op_code_len() == 2 {
        // Register forms: iced's two-byte opcode is the escape and the
        // ModR/M byte of ST(0) (`D8 C0+i`), plus i.
        let st = (0..i.op_count())
            .map(|n| i.op_register(n))
            .find(|r| r.is_st() && *r != Register::ST0)
            .map_or(0, |r| r as u16 - Register::ST0 as u16);
        return ((code >> 8) & 7) << 8 | ((code & 0xff) + st);
    }
    let hi = (code & 7) << 8;
    let reg = oc.group_index().max(0) as u16;
    let base = i.memory_base();
    let index = i.memory_index();
    let dsize = i.memory_displ_size();
    let md = |has_base: bool| -> u16 {
        match dsize {
            0 => 0,
            1 => 1,
            _ if has_base => 2,
            _ => 0,
        }
    };
    let (mo, rm) = if base.is_gpr16()
        || index.is_gpr16()
        || (base == Register::None && index == Register::None && dsize == 2)
    {
        use Register as R;
        let rm = match (base, index) {
            (R::BX, R::SI) => 0,
            (R::BX, R::DI) => 1,
            (R::BP, R::SI) => 2,
            (R::BP, R::DI) => 3,
            (R::SI, R::None) => 4,
            (R::DI, R::None) => 5,
            (R::None, R::None) => 6,
            (R::BP, R::None) => 6,
            _ => 7,
        };
        (md(base != R::None || index != R::None), rm)
    } else if index != Register::None || base == Register::ESP {
        (if base == Register::None { 0 } else { md(true) }, 4)
    } else if base == Register::None {
        (0, 5)
    } else {
        (md(true), base as u16 - Register::EAX as u16)
    };
    hi | mo << 6 | reg << 3 | rm
}

impl Cpu {
    /// The #NM check every ESC (D8–DF) instruction makes first (SDM Vol. 3A,
    /// 2.5 table 2-2): CR0.EM or CR0.TS.
    #[inline]
    pub(crate) fn fpu_nm(&self) -> Res<()> {
        if self.state.cr0 & (cr0::EM | cr0::TS) != 0 {
            return Err(Fault::NM);
        }
        Ok(())
    }

    /// A pending unmasked exception at a waiting instruction: #MF with
    /// CR0.NE=1; with NE=0, assert FERR# and carry on (see the module
    /// documentation).
    #[inline]
    pub(crate) fn fpu_pending(&mut self, bus: &mut Bus) -> Res<()> {
        if self.state.fpu.fsw & fsw::ES == 0 {
            return Ok(());
        }
        if self.state.cr0 & cr0::NE != 0 {
            return Err(MF);
        }
        self.set_ferr(bus, true);
        Ok(())
    }

    /// Drive the FERR# output.
    pub(crate) fn set_ferr(&mut self, bus: &mut Bus, on: bool) {
        if self.state.fpu.ferr != on {
            self.state.fpu.ferr = on;
            // The board may raise IRQ13: look at it after this instruction,
            // not at the end of the block.
            self.end_block = true;
            if let Some(ic) = bus.intc.as_mut() {
                ic.ferr(on);
            }
        }
    }

    /// Entry of a waiting x87 instruction: #NM, then #MF.
    #[inline]
    pub(crate) fn fpu_enter(&mut self, bus: &mut Bus) -> Res<()> {
        self.fpu_nm()?;
        self.fpu_pending(bus)
    }

    /// Record a non-control instruction in FIP/FCS/FOP, and its memory
    /// operand (if any) in FDP/FDS (SDM Vol. 1, 8.1.8–8.1.9). Called at the
    /// commit point, after the last possible fault.
    #[inline]
    pub(crate) fn fpu_note(&mut self, i: &Instruction, mem: Option<(SegReg, u32)>) {
        let cs = self.state.seg(SegReg::Cs).selector;
        let f = &mut self.state.fpu;
        f.fip = i.ip() as u32;
        f.fcs = cs;
        f.fop = fop_of(i);
        if let Some((s, off)) = mem {
            f.fdp = off;
            f.fds = self.state.segs[s as usize].selector;
        }
    }

    /// An arithmetic context for the current control word.
    #[inline]
    pub(crate) fn fpu_ctx(&self) -> Context {
        Context::from_control_word(self.state.fpu.fcw)
    }
}

/// What an instruction's exceptions mean for its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Deliver the result (masked or no exception, or an unmasked
    /// post-computation exception on a register destination).
    Store,
    /// An unmasked exception that leaves destination and stack as they were.
    Abort,
}

impl Fpu {
    /// Merge the exceptions an operation raised into the status word and
    /// decide whether the result is delivered (SDM Vol. 1, 8.5): unmasked
    /// #I, #D or #Z leave the destination alone; unmasked #O or #U do too
    /// when the destination is memory (`to_mem`), and deliver the
    /// bias-adjusted result to a register. C1 is the rounded-up bit.
    ///
    /// An unmasked pre-computation exception (#I, #D, #Z) stops the
    /// operation before it computes anything: only that exception's flag
    /// is set (not the PE, UE or OE the result would have raised) and C1
    /// is cleared, as the host-CPU oracle shows.
    pub(crate) fn account(&mut self, ctx: &Context, to_mem: bool) -> Outcome {
        let out = self.outcome(ctx, to_mem);
        let mut raised = ctx.raised.0 as u16;
        let pre = fsw::IE | fsw::DE | fsw::ZE;
        if raised & !self.fcw & pre != 0 {
            raised &= pre;
            self.set_c1(false);
        } else if to_mem && raised & !self.fcw & (fsw::OE | fsw::UE) != 0 {
            // Unmasked #O or #U on a store to memory: nothing is stored,
            // so nothing is inexact either; C1 is cleared.
            raised &= !fsw::PE;
            self.set_c1(false);
        }
        self.fsw |= raised;
        if raised & !self.fcw & fsw::EXC != 0 {
            self.fsw |= fsw::ES | fsw::B;
        }
        if out == Outcome::Store {
            self.set_c1(ctx.c1);
        }
        out
    }

    /// What [`account`](Self::account) will decide, without changing
    /// anything (stores decide before writing memory, which may fault).
    pub(crate) fn outcome(&self, ctx: &Context, to_mem: bool) -> Outcome {
        let unmasked = ctx.raised.0 as u16 & !self.fcw & fsw::EXC;
        let pre = fsw::IE | fsw::DE | fsw::ZE;
        let post = if to_mem { fsw::OE | fsw::UE } else { 0 };
        if unmasked & (pre | post) != 0 {
            Outcome::Abort
        } else {
            Outcome::Store
        }
    }

    /// Set or clear C1.
    #[inline]
    pub(crate) fn set_c1(&mut self, on: bool) {
        if on {
            self.fsw |= fsw::C1;
        } else {
            self.fsw &= !fsw::C1;
        }
    }

    /// Set C0–C3 from the low four bits of `cc` (C0, C1, C2, C3 order).
    #[inline]
    pub(crate) fn set_cc(&mut self, c0: bool, c1: bool, c2: bool, c3: bool) {
        self.fsw &= !fsw::CC;
        self.fsw |= u16::from(c0) << 8 | u16::from(c1) << 9 | u16::from(c2) << 10 | u16::from(c3) << 14;
    }

    /// A stack fault (SDM Vol. 1, 8.5.1.1): IE and SF, C1 = 1 for overflow,
    /// 0 for underflow. Returns whether the invalid-operation exception is
    /// masked (the caller then delivers the masked response).
    pub(crate) fn stack_fault(&mut self, overflow: bool) -> bool {
        self.fsw |= fsw::IE | fsw::SF;
        self.set_c1(overflow);
        if self.fcw & fcw::IM == 0 {
            self.fsw |= fsw::ES | fsw::B;
            false
        } else {
            true
        }
    }

    /// Push with the overflow check (ST(7) must be empty): on overflow the
    /// masked response pushes the indefinite; unmasked, nothing changes.
    /// C1 is 1 after an overflow, else 0.
    pub(crate) fn push(&mut self, v: Reg80) {
        if self.is_empty(7) {
            self.push_raw(v);
            self.set_c1(false);
        } else if self.stack_fault(true) {
            self.push_raw(Reg80::INDEFINITE);
        }
    }
}

/// `Mnemonic` shorthand for the lookup tables.
pub(crate) use iced_x86::Mnemonic as M;
