//! The reference interpreter: one handler per mnemonic, grouped by kind of
//! instruction (one file per group, after Bochs).
//!
//! A handler runs with `state.eip` already pointing at the next instruction
//! and returns `Err(fault)` to raise a guest exception, in which case the run
//! loop puts EIP back on the instruction. Handlers must therefore not commit
//! any architectural state before their last possible fault (or must undo
//! it): that is what makes faults restartable.

mod arith;
mod atomic;
mod bcd;
mod bit;
mod ctrl;
mod data;
pub(crate) use data::cond;
mod far;
mod fast;
mod io;
mod logic;
mod muldiv;
pub(crate) mod ops;
mod shift;
mod stack;
mod string;
mod system;

use crate::fault::{Fault, Res};
use crate::{Bus, Cpu};
use iced_x86::{CpuidFeature, Instruction, Mnemonic};

/// An instruction handler.
pub(crate) type Handler = fn(&mut Cpu, &mut Bus, &Instruction) -> Res<()>;

/// Choose the handler for a decoded instruction (once, at decode time).
pub(crate) fn handler_for(i: &Instruction) -> Handler {
    if i.code() == iced_x86::Code::INVALID || !supported(i) {
        return undefined;
    }
    if let Some(h) = crate::fpu::lookup(i) {
        return h;
    }
    if let Some(h) = fast::lookup(i, &ops::Pre::of(i)) {
        return h;
    }
    let m = i.mnemonic();
    arith::lookup(m)
        .or_else(|| logic::lookup(m))
        .or_else(|| data::lookup(m))
        .or_else(|| stack::lookup(m))
        .or_else(|| ctrl::lookup(m))
        .or_else(|| string::lookup(m))
        .or_else(|| shift::lookup(m))
        .or_else(|| muldiv::lookup(m))
        .or_else(|| bcd::lookup(m))
        .or_else(|| bit::lookup(m))
        .or_else(|| atomic::lookup(m))
        .or_else(|| io::lookup(m))
        .or_else(|| far::lookup(m))
        .or_else(|| system::lookup(m))
        .unwrap_or(unimplemented)
}

/// Whether the CPU we model (a Pentium II-class i686 with x87, MMX and
/// FXSAVE/FXRSTOR, without SSE) has this instruction. Everything else
/// raises #UD, so host extensions never leak into the guest.
pub(crate) fn supported(i: &Instruction) -> bool {
    i.cpuid_features().iter().all(|f| {
        matches!(
            f,
            CpuidFeature::INTEL8086
                | CpuidFeature::INTEL8086_ONLY
                | CpuidFeature::INTEL186
                | CpuidFeature::INTEL286
                | CpuidFeature::INTEL386
                | CpuidFeature::INTEL486
                | CpuidFeature::CPUID
                | CpuidFeature::TSC
                | CpuidFeature::MSR
                | CpuidFeature::CX8
                | CpuidFeature::CMOV
                | CpuidFeature::SEP
                | CpuidFeature::MULTIBYTENOP
                | CpuidFeature::PAUSE
                | CpuidFeature::FPU
                | CpuidFeature::FPU287
                | CpuidFeature::FPU387
                | CpuidFeature::MMX
                | CpuidFeature::FXSR
        )
    }) && i.code() != iced_x86::Code::Paddq_mm_mmm64 // SSE2 (SDM), though iced lists it as MMX
}

/// x87 escape instructions: the ones this CPU lacks (FISTTP, the 287XL
/// and 387SL extras) still raise #NM rather than #UD when CR0.EM or CR0.TS
/// is set, as every D8–DF opcode does (see `undefined`).
fn is_x87(i: &Instruction) -> bool {
    i.cpuid_features().contains(&CpuidFeature::FPU)
}

/// Instructions after which the next instruction may decode or run
/// differently (mode, CS size, paging, interrupt shadow...).
pub(crate) fn is_mode_changing(i: &Instruction) -> bool {
    use Mnemonic as M;
    matches!(i.mnemonic(), M::Mov | M::Pop)
        && i.op0_kind() == iced_x86::OpKind::Register
        && matches!(
            i.op0_register(),
            iced_x86::Register::SS
                | iced_x86::Register::CR0
                | iced_x86::Register::CR3
                | iced_x86::Register::CR4
        )
        || matches!(
            i.mnemonic(),
            M::Sti
                | M::Popf
                | M::Popfd
                | M::Lmsw
                | M::Invlpg
                | M::Clts
                | M::Wrmsr
                | M::Out
                | M::Outsb
                | M::Outsw
                | M::Outsd
                | M::Hlt
        )
}

/// Invalid or unsupported encodings: #UD (SDM Vol. 2, UD).
fn undefined(cpu: &mut Cpu, _bus: &mut Bus, i: &Instruction) -> Res<()> {
    // iced stops at the 15-byte limit: an instruction that runs past it is
    // #GP(0), not #UD (SDM Vol. 2A, 2.3.11).
    if i.code() == iced_x86::Code::INVALID && i.len() >= 15 {
        return Err(Fault::GP0);
    }
    use crate::state::cr0;
    if i.code() != iced_x86::Code::INVALID && is_x87(i) && cpu.state.cr0 & (cr0::EM | cr0::TS) != 0 {
        return Err(Fault::NM);
    }
    Err(Fault::UD)
}

/// A valid instruction the interpreter does not implement yet: #UD, and
/// counted so that the gap is visible.
fn unimplemented(cpu: &mut Cpu, _bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.stats.unimplemented += 1;
    if cpu.stats.unimplemented <= 16 {
        eprintln!(
            "strachey: unimplemented instruction {:?} ({:?}) at eip {:#x}",
            i.mnemonic(),
            i.code(),
            i.ip()
        );
    }
    Err(Fault::UD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::Code;

    /// Every instruction form the modelled CPU has (by iced's CPUID table,
    /// 16- and 32-bit modes) has a handler: nothing valid falls through to
    /// `unimplemented`.
    #[test]
    fn every_i686_integer_instruction_has_a_handler() {
        let mut missing = Vec::new();
        let mut covered = 0;
        for code in Code::values() {
            let op = code.op_code();
            let pseudo = matches!(
                code,
                Code::DeclareByte
                    | Code::DeclareWord
                    | Code::DeclareDword
                    | Code::DeclareQword
                    | Code::Zero_bytes
            );
            if code == Code::INVALID || pseudo || !(op.mode16() || op.mode32()) {
                continue;
            }
            let i = Instruction::with(code);
            if !supported(&i) {
                continue;
            }
            covered += 1;
            if handler_for(&i) as usize == unimplemented as Handler as usize {
                missing.push(format!("{code:?}"));
            }
        }
        println!("{covered} instruction forms, {} without a handler", missing.len());
        assert!(missing.is_empty(), "no handler for: {}", missing.join(", "));
    }
}
