//! System instructions: CLI/STI, HLT, descriptor-table and control-register
//! moves, CPUID, RDTSC, MSRs... (first cut; privilege checks via `cpl0`).

use super::Handler;
use crate::fault::{Fault, Res};
use crate::state::{cr0, cr4, flags, reg};
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic, Register};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Cli => cli,
        Mnemonic::Sti => sti,
        Mnemonic::Hlt => hlt,
        Mnemonic::Lgdt | Mnemonic::Lidt => lgdt_lidt,
        Mnemonic::Cpuid => cpuid,
        Mnemonic::Rdtsc => rdtsc,
        _ => return None,
    })
}

impl Cpu {
    /// #GP(0) unless CPL is 0 (and not virtual-8086 mode).
    pub(crate) fn cpl0(&self) -> Res<()> {
        if self.state.protected() && (self.state.cpl != 0 || self.state.v86()) {
            return Err(Fault::GP0);
        }
        Ok(())
    }

    /// IOPL-sensitive instructions (CLI, STI): #GP(0) when CPL > IOPL.
    fn iopl_check(&self) -> Res<()> {
        if self.state.protected()
            && (self.state.v86() || self.state.cpl > self.state.iopl())
            && (self.state.v86() && self.state.iopl() < 3 || !self.state.v86())
        {
            return Err(Fault::GP0);
        }
        Ok(())
    }
}

fn cli(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    cpu.iopl_check()?;
    cpu.state.eflags &= !flags::IF;
    Ok(())
}

/// STI: interrupts stay inhibited until after the next instruction.
fn sti(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    cpu.iopl_check()?;
    if cpu.state.eflags & flags::IF == 0 {
        cpu.state.eflags |= flags::IF;
        cpu.state.intr_shadow = true;
    }
    cpu.end_block = true;
    Ok(())
}

fn hlt(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    cpu.cpl0()?;
    cpu.state.halted = true;
    cpu.end_block = true;
    Ok(())
}

fn lgdt_lidt(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.cpl0()?;
    let (s, off) = cpu.ea(i);
    let limit = cpu.read_mem(bus, s, off, super::ops::W::W)?;
    let mut base = cpu.read_mem(bus, s, off.wrapping_add(2), super::ops::W::D)?;
    if i.code() == iced_x86::Code::Lgdt_m1632_16 || i.code() == iced_x86::Code::Lidt_m1632_16 {
        base &= 0x00ff_ffff;
    }
    let t = crate::state::TableReg { base, limit };
    if i.mnemonic() == Mnemonic::Lgdt {
        cpu.state.gdtr = t;
    } else {
        cpu.state.idtr = t;
    }
    Ok(())
}

pub(super) fn mov_to_special(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.cpl0()?;
    let v = cpu.reg(i.op1_register());
    match i.op0_register() {
        Register::CR0 => {
            if v & cr0::PG != 0 && v & cr0::PE == 0 {
                return Err(Fault::GP0);
            }
            cpu.state.cr0 = v | cr0::ET;
            cpu.tlb.flush_all();
        }
        Register::CR2 => cpu.state.cr2 = v,
        Register::CR3 => {
            cpu.state.cr3 = v;
            cpu.tlb.flush_non_global();
        }
        Register::CR4 => {
            if v & !cr4::SUPPORTED != 0 {
                return Err(Fault::GP0);
            }
            cpu.state.cr4 = v;
            cpu.tlb.flush_all();
        }
        _ => return Err(Fault::UD),
    }
    cpu.end_block = true;
    let _ = bus;
    Ok(())
}

pub(super) fn mov_from_special(cpu: &mut Cpu, _bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.cpl0()?;
    let v = match i.op1_register() {
        Register::CR0 => cpu.state.cr0,
        Register::CR2 => cpu.state.cr2,
        Register::CR3 => cpu.state.cr3,
        Register::CR4 => cpu.state.cr4,
        _ => return Err(Fault::UD),
    };
    cpu.set_reg(i.op0_register(), v);
    Ok(())
}

fn cpuid(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    let [a, b, c, d] = crate::cpuid::cpuid(cpu.state.regs[reg::EAX], cpu.state.regs[reg::ECX]);
    cpu.state.regs[reg::EAX] = a;
    cpu.state.regs[reg::EBX] = b;
    cpu.state.regs[reg::ECX] = c;
    cpu.state.regs[reg::EDX] = d;
    Ok(())
}

fn rdtsc(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    if cpu.state.cr4 & cr4::TSD != 0 {
        cpu.cpl0()?;
    }
    let t = cpu.tsc();
    cpu.state.regs[reg::EAX] = t as u32;
    cpu.state.regs[reg::EDX] = (t >> 32) as u32;
    Ok(())
}

impl Cpu {
    /// The guest time-stamp counter: host nanoseconds since the CPU was
    /// created (a 1 GHz clock) plus the offset written through the MSR.
    pub(crate) fn tsc(&self) -> u64 {
        (self.tsc_start.elapsed().as_nanos() as u64).wrapping_add(self.state.msr.tsc_offset)
    }
}
