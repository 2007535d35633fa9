//! System instructions: CLI/STI, HLT, descriptor-table registers
//! (LGDT/LIDT/SGDT/SIDT/LLDT/SLDT/LTR/STR), control and debug registers
//! (MOV CRn/DRn, LMSW/SMSW, CLTS), TLB and cache control (INVLPG, INVD,
//! WBINVD), CPUID, RDTSC, RDMSR/WRMSR, SYSENTER/SYSEXIT, and the
//! descriptor probes LAR/LSL/VERR/VERW and ARPL. Each cites its page in
//! SDM Vol. 2.

use super::ops::{reg_width, W};
use super::Handler;
use crate::desc::{flat_segment, is_null, rpl, sys, Desc};
use crate::fault::{vector, Fault, Res};
use crate::state::{cr0, cr4, flags, reg, SegReg, TableReg};
use crate::{Bus, Cpu};
use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Cli => cli,
        Mnemonic::Sti => sti,
        Mnemonic::Hlt => hlt,
        Mnemonic::Lgdt | Mnemonic::Lidt => lgdt_lidt,
        Mnemonic::Sgdt | Mnemonic::Sidt => sgdt_sidt,
        Mnemonic::Lldt => lldt,
        Mnemonic::Sldt | Mnemonic::Str => sldt_str,
        Mnemonic::Ltr => ltr,
        Mnemonic::Lmsw => lmsw,
        Mnemonic::Smsw => smsw,
        Mnemonic::Clts => clts,
        Mnemonic::Invlpg => invlpg,
        Mnemonic::Invd | Mnemonic::Wbinvd => invd_wbinvd,
        Mnemonic::Cpuid => cpuid,
        Mnemonic::Rdtsc => rdtsc,
        Mnemonic::Rdmsr => rdmsr,
        Mnemonic::Wrmsr => wrmsr,
        Mnemonic::Sysenter => sysenter,
        Mnemonic::Sysexit => sysexit,
        Mnemonic::Lar | Mnemonic::Lsl => lar_lsl,
        Mnemonic::Verr | Mnemonic::Verw => verr_verw,
        Mnemonic::Arpl => arpl,
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

    /// CLI/STI without VME/PVI (which this CPU does not report): allowed
    /// when CPL <= IOPL in protected mode and IOPL = 3 in virtual-8086 mode,
    /// else #GP(0) (SDM Vol. 2, CLI and STI, decision tables).
    fn iopl_check(&self) -> Res<()> {
        let s = &self.state;
        let ok = if !s.protected() {
            true
        } else if s.v86() {
            s.iopl() == 3
        } else {
            s.cpl <= s.iopl()
        };
        if ok {
            Ok(())
        } else {
            Err(Fault::GP0)
        }
    }

    /// #UD in real-address and virtual-8086 mode (instructions that only
    /// exist in protected mode: LLDT, SLDT, LTR, STR, LAR, LSL, VERR, VERW,
    /// ARPL).
    fn protected_only(&self) -> Res<()> {
        if !self.state.protected() || self.state.v86() {
            return Err(Fault::UD);
        }
        Ok(())
    }
}

/// CLI (SDM Vol. 2, CLI).
fn cli(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    cpu.iopl_check()?;
    cpu.state.eflags &= !flags::IF;
    Ok(())
}

/// STI (SDM Vol. 2, STI): interrupts stay inhibited until after the next
/// instruction.
fn sti(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    cpu.iopl_check()?;
    if cpu.state.eflags & flags::IF == 0 {
        cpu.state.eflags |= flags::IF;
        cpu.state.intr_shadow = true;
    }
    cpu.end_block = true;
    Ok(())
}

/// HLT (SDM Vol. 2, HLT): privileged.
fn hlt(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    cpu.cpl0()?;
    cpu.state.halted = true;
    cpu.end_block = true;
    Ok(())
}

/// LGDT/LIDT m16&32 (SDM Vol. 2, LGDT/LIDT): with a 16-bit operand size
/// only 24 bits of the base are loaded.
fn lgdt_lidt(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.cpl0()?;
    let (s, off) = cpu.ea(i);
    let limit = cpu.read_mem(bus, s, off, W::W)?;
    let mut base = cpu.read_mem(bus, s, off.wrapping_add(2), W::D)?;
    if matches!(i.code(), Code::Lgdt_m1632_16 | Code::Lidt_m1632_16) {
        base &= 0x00ff_ffff;
    }
    let t = TableReg { base, limit };
    if i.mnemonic() == Mnemonic::Lgdt {
        cpu.state.gdtr = t;
    } else {
        cpu.state.idtr = t;
    }
    Ok(())
}

/// SGDT/SIDT m (SDM Vol. 2, SGDT/SIDT): limit then the full 32-bit base,
/// for both operand sizes (as the current SDM pseudo-code says). Not
/// privileged (no UMIP on this CPU).
fn sgdt_sidt(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let (s, off) = cpu.ea(i);
    let t = if i.mnemonic() == Mnemonic::Sgdt {
        cpu.state.gdtr
    } else {
        cpu.state.idtr
    };
    let end = off.wrapping_add(2);
    // Check both parts before writing either.
    cpu.probe_write(bus, s, off, 2)?;
    cpu.probe_write(bus, s, end, 4)?;
    cpu.write_mem(bus, s, off, W::W, t.limit)?;
    cpu.write_mem(bus, s, end, W::D, t.base)
}

/// LLDT r/m16 (SDM Vol. 2, LLDT): a null selector makes LDTR unusable.
fn lldt(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.protected_only()?;
    cpu.cpl0()?;
    let sel = cpu.read_op(bus, i, 0)? as u16;
    if is_null(sel) {
        cpu.state.ldtr = crate::desc::null_segment(sel);
        return Ok(());
    }
    if sel & 4 != 0 {
        return Err(Fault::sel(vector::GP, sel));
    }
    let (d, _) = cpu.fetch_desc(bus, sel, vector::GP, 0)?;
    if !d.is_sys(sys::LDT) {
        return Err(Fault::sel(vector::GP, sel));
    }
    if !d.present() {
        return Err(Fault::sel(vector::NP, sel));
    }
    cpu.state.ldtr = d.segment(sel);
    Ok(())
}

/// SLDT/STR r/m16 (SDM Vol. 2, SLDT and STR): a register destination with a
/// 32-bit operand is zero-extended (what P6 and later processors do with
/// the "undefined" high bits).
fn sldt_str(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.protected_only()?;
    let v = u32::from(if i.mnemonic() == Mnemonic::Sldt {
        cpu.state.ldtr.selector
    } else {
        cpu.state.tr.selector
    });
    cpu.write_op(bus, i, 0, v)
}

/// LTR r/m16 (SDM Vol. 2, LTR): the TSS must be available; LTR marks it
/// busy.
fn ltr(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.protected_only()?;
    cpu.cpl0()?;
    let sel = cpu.read_op(bus, i, 0)? as u16;
    if is_null(sel) {
        return Err(Fault::GP0);
    }
    if sel & 4 != 0 {
        return Err(Fault::sel(vector::GP, sel));
    }
    let (d, addr) = cpu.fetch_desc(bus, sel, vector::GP, 0)?;
    if !(d.is_sys(sys::TSS16_AVAIL) || d.is_sys(sys::TSS32_AVAIL)) {
        return Err(Fault::sel(vector::GP, sel));
    }
    if !d.present() {
        return Err(Fault::sel(vector::NP, sel));
    }
    cpu.set_desc_type(bus, d, addr, d.typ() | sys::BUSY)?;
    let mut tr = d.segment(sel);
    tr.attr |= u16::from(sys::BUSY);
    cpu.state.tr = tr;
    Ok(())
}

/// LMSW r/m16 (SDM Vol. 2, LMSW): loads PE, MP, EM and TS; PE can be set
/// but not cleared.
fn lmsw(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.cpl0()?;
    let v = cpu.read_op(bus, i, 0)?;
    let low = cr0::PE | cr0::MP | cr0::EM | cr0::TS;
    let old = cpu.state.cr0;
    cpu.state.cr0 = (old & !(low & !cr0::PE)) | (v & low);
    if (old ^ cpu.state.cr0) & cr0::PE != 0 {
        cpu.tlb.flush_all();
    }
    cpu.end_block = true;
    Ok(())
}

/// SMSW r/m16, r32 (SDM Vol. 2, SMSW): a memory destination gets CR0's low
/// word; a 32-bit register gets all of CR0 (the high bits are "undefined";
/// P6 processors store CR0 whole, as QEMU does). Not privileged.
fn smsw(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let v = cpu.state.cr0;
    match i.op0_kind() {
        OpKind::Register => {
            cpu.set_reg(i.op0_register(), v);
            Ok(())
        }
        _ => cpu.write_op(bus, i, 0, v & 0xffff),
    }
}

/// CLTS (SDM Vol. 2, CLTS).
fn clts(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    cpu.cpl0()?;
    cpu.state.cr0 &= !cr0::TS;
    Ok(())
}

/// INVLPG m (SDM Vol. 2, INVLPG): drops the TLB entry of the linear
/// address of the operand (no segment-limit check), global or not.
fn invlpg(cpu: &mut Cpu, _bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.cpl0()?;
    let (s, off) = cpu.ea(i);
    let lin = cpu.state.seg(s).base.wrapping_add(off);
    cpu.tlb.flush_page(lin);
    cpu.end_block = true;
    Ok(())
}

/// INVD/WBINVD (SDM Vol. 2): privileged; there are no caches to flush.
fn invd_wbinvd(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    cpu.cpl0()
}

/// CR0 bits software can write (the rest are reserved and keep their
/// values; ET is fixed at 1 on a P6).
const CR0_WRITABLE: u32 =
    cr0::PE | cr0::MP | cr0::EM | cr0::TS | cr0::NE | cr0::WP | cr0::AM | cr0::NW | cr0::CD | cr0::PG;

/// MOV CRn/DRn, r32 (SDM Vol. 2, "MOV—Move to/from Control Registers" and
/// "MOV—Move to/from Debug Registers"; TLB rules: Vol. 3A, 4.10.4.1).
pub(super) fn mov_to_special(cpu: &mut Cpu, _bus: &mut Bus, i: &Instruction) -> Res<()> {
    let r = i.op0_register();
    if r.is_tr() || r.is_cr() && !matches!(r, Register::CR0 | Register::CR2 | Register::CR3 | Register::CR4) {
        return Err(Fault::UD);
    }
    cpu.cpl0()?;
    let v = cpu.reg(i.op1_register());
    match r {
        Register::CR0 => {
            if v & cr0::PG != 0 && v & cr0::PE == 0 || v & cr0::NW != 0 && v & cr0::CD == 0 {
                return Err(Fault::GP0);
            }
            let old = cpu.state.cr0;
            let new = (old & !CR0_WRITABLE) | (v & CR0_WRITABLE) | cr0::ET;
            cpu.state.cr0 = new;
            if (old ^ new) & (cr0::PG | cr0::WP | cr0::PE) != 0 {
                cpu.tlb.flush_all();
            }
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
            let old = cpu.state.cr4;
            cpu.state.cr4 = v;
            if (old ^ v) & (cr4::PGE | cr4::PSE | cr4::PAE) != 0 {
                cpu.tlb.flush_all();
            }
        }
        r if r.is_dr() => {
            let n = debug_index(cpu, r)?;
            cpu.state.dr[n] = match n {
                // DR6: bits 4-11 and 16-31 read as ones, bit 12 as zero.
                6 => (v & 0x0000_e00f) | 0xffff_0ff0,
                // DR7: bit 10 reads as one, bits 11-12 and 14-15 as zero.
                7 => (v & 0xffff_23ff) | 0x400,
                _ => v,
            };
        }
        _ => return Err(Fault::UD),
    }
    cpu.end_block = true;
    Ok(())
}

/// The DR index a MOV DR names: DR4/DR5 are #UD with CR4.DE set and alias
/// DR6/DR7 otherwise (SDM Vol. 3A, 17.2.2).
fn debug_index(cpu: &Cpu, r: Register) -> Res<usize> {
    let n = r as usize - Register::DR0 as usize;
    match n {
        4 | 5 if cpu.state.cr4 & cr4::DE != 0 => Err(Fault::UD),
        4 | 5 => Ok(n + 2),
        0..=7 => Ok(n),
        _ => Err(Fault::UD),
    }
}

/// MOV r32, CRn/DRn (SDM Vol. 2, MOV to/from control and debug registers).
pub(super) fn mov_from_special(cpu: &mut Cpu, _bus: &mut Bus, i: &Instruction) -> Res<()> {
    let r = i.op1_register();
    if r.is_tr() || r.is_cr() && !matches!(r, Register::CR0 | Register::CR2 | Register::CR3 | Register::CR4) {
        return Err(Fault::UD);
    }
    cpu.cpl0()?;
    let v = match r {
        Register::CR0 => cpu.state.cr0,
        Register::CR2 => cpu.state.cr2,
        Register::CR3 => cpu.state.cr3,
        Register::CR4 => cpu.state.cr4,
        r if r.is_dr() => cpu.state.dr[debug_index(cpu, r)?],
        _ => return Err(Fault::UD),
    };
    cpu.set_reg(i.op0_register(), v);
    Ok(())
}

/// MSR numbers this CPU implements (SDM Vol. 4, table 2-2).
mod msr {
    pub const TSC: u32 = 0x10;
    pub const APIC_BASE: u32 = 0x1b;
    pub const SYSENTER_CS: u32 = 0x174;
    pub const SYSENTER_ESP: u32 = 0x175;
    pub const SYSENTER_EIP: u32 = 0x176;
}

/// RDMSR (SDM Vol. 2, RDMSR): #GP(0) for an MSR this CPU does not have.
fn rdmsr(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    cpu.cpl0()?;
    let m = &cpu.state.msr;
    let v: u64 = match cpu.state.regs[reg::ECX] {
        msr::TSC => cpu.tsc(),
        msr::APIC_BASE => m.apic_base,
        msr::SYSENTER_CS => u64::from(m.sysenter_cs),
        msr::SYSENTER_ESP => u64::from(m.sysenter_esp),
        msr::SYSENTER_EIP => u64::from(m.sysenter_eip),
        _ => return Err(Fault::GP0),
    };
    cpu.state.regs[reg::EAX] = v as u32;
    cpu.state.regs[reg::EDX] = (v >> 32) as u32;
    Ok(())
}

/// WRMSR (SDM Vol. 2, WRMSR): #GP(0) for an unknown MSR or reserved bits.
fn wrmsr(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    cpu.cpl0()?;
    let v = u64::from(cpu.state.regs[reg::EDX]) << 32 | u64::from(cpu.state.regs[reg::EAX]);
    match cpu.state.regs[reg::ECX] {
        msr::TSC => {
            let now = cpu.tsc().wrapping_sub(cpu.state.msr.tsc_offset);
            cpu.state.msr.tsc_offset = v.wrapping_sub(now);
        }
        msr::APIC_BASE => {
            // Bits 8 (BSP), 11 (enable) and 12-35 (base); the rest reserved.
            if v & !0x0000_000f_ffff_f900 != 0 {
                return Err(Fault::GP0);
            }
            cpu.state.msr.apic_base = v;
        }
        msr::SYSENTER_CS => cpu.state.msr.sysenter_cs = v as u32 & 0xffff,
        msr::SYSENTER_ESP => cpu.state.msr.sysenter_esp = v as u32,
        msr::SYSENTER_EIP => cpu.state.msr.sysenter_eip = v as u32,
        _ => return Err(Fault::GP0),
    }
    cpu.end_block = true;
    Ok(())
}

/// SYSENTER (SDM Vol. 2, SYSENTER): flat ring-0 CS and SS from
/// IA32_SYSENTER_CS; #GP(0) in real mode or if the MSR's selector is null.
fn sysenter(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    let cs = cpu.state.msr.sysenter_cs as u16;
    if !cpu.state.protected() || is_null(cs) {
        return Err(Fault::GP0);
    }
    cpu.state.eflags &= !(flags::VM | flags::IF | flags::RF);
    let cs = cs & 0xfffc;
    cpu.state.segs[SegReg::Cs as usize] = flat_segment(cs, true, 0);
    cpu.state.segs[SegReg::Ss as usize] = flat_segment(cs.wrapping_add(8), false, 0);
    cpu.state.cpl = 0;
    cpu.state.regs[reg::ESP] = cpu.state.msr.sysenter_esp;
    cpu.state.eip = cpu.state.msr.sysenter_eip;
    cpu.end_block = true;
    Ok(())
}

/// SYSEXIT (SDM Vol. 2, SYSEXIT): back to flat ring 3 at EDX with stack
/// ECX; #GP(0) unless CPL 0 in protected mode with a non-null
/// IA32_SYSENTER_CS.
fn sysexit(cpu: &mut Cpu, _bus: &mut Bus, _i: &Instruction) -> Res<()> {
    let cs = cpu.state.msr.sysenter_cs as u16;
    if !cpu.state.protected() || cpu.state.v86() || cpu.state.cpl != 0 || is_null(cs) {
        return Err(Fault::GP0);
    }
    let cs = cs & 0xfffc;
    cpu.state.segs[SegReg::Cs as usize] = flat_segment(cs.wrapping_add(16) | 3, true, 3);
    cpu.state.segs[SegReg::Ss as usize] = flat_segment(cs.wrapping_add(24) | 3, false, 3);
    cpu.state.cpl = 3;
    cpu.state.regs[reg::ESP] = cpu.state.regs[reg::ECX];
    cpu.state.eip = cpu.state.regs[reg::EDX];
    cpu.end_block = true;
    Ok(())
}

/// The descriptor a LAR/LSL/VERR/VERW selector names, if it lies within
/// its table (else the instruction just clears ZF).
fn probe_desc(cpu: &mut Cpu, bus: &mut Bus, sel: u16) -> Res<Option<Desc>> {
    if is_null(sel) {
        return Ok(None);
    }
    match cpu.desc_addr(sel, vector::GP, 0) {
        Ok(_) => Ok(Some(cpu.fetch_desc(bus, sel, vector::GP, 0)?.0)),
        Err(_) => Ok(None),
    }
}

/// The privilege check of LAR/LSL/VERR/VERW: conforming code segments are
/// visible from anywhere, everything else needs DPL >= CPL and >= RPL.
fn visible(cpu: &Cpu, d: Desc, sel: u16) -> bool {
    d.conforming() || (d.dpl() >= cpu.state.cpl && d.dpl() >= rpl(sel))
}

fn set_zf(cpu: &mut Cpu, on: bool) {
    if on {
        cpu.state.eflags |= flags::ZF;
    } else {
        cpu.state.eflags &= !flags::ZF;
    }
}

/// LAR and LSL (SDM Vol. 2, LAR and LSL): ZF = 1 and the access rights
/// (masked 00FxFF00h) or expanded limit in the destination if the
/// descriptor is of a valid type and visible at CPL/RPL; else ZF = 0 and
/// the destination is unchanged. LAR accepts gates, LSL does not.
fn lar_lsl(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.protected_only()?;
    let sel = cpu.read_op(bus, i, 1)? as u16;
    let lar = i.mnemonic() == Mnemonic::Lar;
    let Some(d) = probe_desc(cpu, bus, sel)? else {
        set_zf(cpu, false);
        return Ok(());
    };
    let type_ok = d.s()
        || if lar {
            matches!(
                d.typ(),
                sys::TSS16_AVAIL
                    | sys::LDT
                    | sys::TSS16_BUSY
                    | sys::CALL16
                    | sys::TASK
                    | sys::TSS32_AVAIL
                    | sys::TSS32_BUSY
                    | sys::CALL32
            )
        } else {
            matches!(
                d.typ(),
                sys::TSS16_AVAIL | sys::LDT | sys::TSS16_BUSY | sys::TSS32_AVAIL | sys::TSS32_BUSY
            )
        };
    if !type_ok || !visible(cpu, d, sel) {
        set_zf(cpu, false);
        return Ok(());
    }
    let w = reg_width(i.op0_register());
    let v = if lar {
        d.hi() & if w == W::D { 0x00ff_ff00 } else { 0xff00 }
    } else {
        d.limit()
    };
    cpu.set_reg(i.op0_register(), v);
    set_zf(cpu, true);
    Ok(())
}

/// VERR/VERW r/m16 (SDM Vol. 2, VERR/VERW): ZF = 1 if the segment is
/// readable (data or readable code) / writable (data) at CPL and RPL.
fn verr_verw(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.protected_only()?;
    let sel = cpu.read_op(bus, i, 0)? as u16;
    let ok = match probe_desc(cpu, bus, sel)? {
        Some(d) if d.s() => {
            let usable = if i.mnemonic() == Mnemonic::Verr {
                d.readable()
            } else {
                d.writable()
            };
            usable && visible(cpu, d, sel)
        }
        _ => false,
    };
    set_zf(cpu, ok);
    Ok(())
}

/// ARPL r/m16, r16 (SDM Vol. 2, ARPL): raise the destination's RPL to the
/// source's; ZF says whether it changed. #UD outside protected mode.
fn arpl(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.protected_only()?;
    let dst = cpu.read_op_rmw(bus, i, 0)?;
    let src = cpu.reg(i.op1_register());
    if dst & 3 < src & 3 {
        cpu.write_op(bus, i, 0, (dst & !3) | (src & 3))?;
        set_zf(cpu, true);
    } else {
        set_zf(cpu, false);
    }
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

#[cfg(test)]
mod tests {
    use crate::desc::testenv::*;
    use crate::fault::Fault;
    use crate::state::{cr0, cr4, flags, reg};

    // ltr ax (0F 00 D8) marks the TSS busy; a busy TSS is #GP(sel).
    #[test]
    fn ltr_sets_busy() {
        let mut e = Env::new();
        e.cpu.state.regs[reg::EAX] = 0x30;
        e.code(&[0x0f, 0x00, 0xd8]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.tr.selector, 0x30);
        assert_eq!(e.r8(GDT + 0x30 + 5), 0x8b);
        e.code(&[0x0f, 0x00, 0xd8]);
        assert_eq!(e.step(), Err(Fault::gp(0x30)));
        e.load_flat(3);
        e.code(&[0x0f, 0x00, 0xd8]);
        assert_eq!(e.step(), Err(Fault::GP0));
    }

    // lar eax, ecx (0F 02 C1) and lsl eax, ecx (0F 03 C1).
    #[test]
    fn lar_lsl() {
        let mut e = Env::new();
        e.cpu.state.regs[reg::ECX] = 0x08;
        e.code(&[0x0f, 0x02, 0xc1]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.regs[reg::EAX], 0x00cf_9a00);
        assert_ne!(e.cpu.state.eflags & flags::ZF, 0);
        e.code(&[0x0f, 0x03, 0xc1]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.regs[reg::EAX], 0xffff_ffff);
        // A ring-0 segment from CPL 3: ZF = 0, EAX unchanged.
        e.load_flat(3);
        e.cpu.state.regs[reg::EAX] = 7;
        e.code(&[0x0f, 0x02, 0xc1]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.eflags & flags::ZF, 0);
        assert_eq!(e.cpu.state.regs[reg::EAX], 7);
        // LSL does not accept gates.
        e.load_flat(0);
        e.set_gdt(0x40, gate(0x08, 0, 0xc, 3, 0));
        e.cpu.state.regs[reg::ECX] = 0x40;
        e.code(&[0x0f, 0x03, 0xc1]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.eflags & flags::ZF, 0);
    }

    // verr cx (0F 00 E1) / verw cx (0F 00 E9).
    #[test]
    fn verr_verw() {
        let mut e = Env::new();
        e.cpu.state.regs[reg::ECX] = 0x08;
        e.code(&[0x0f, 0x00, 0xe1]);
        e.step().unwrap();
        assert_ne!(e.cpu.state.eflags & flags::ZF, 0, "code is readable");
        e.code(&[0x0f, 0x00, 0xe9]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.eflags & flags::ZF, 0, "code is not writable");
    }

    // mov eax, dr4 (0F 21 E0): DR6 alias, or #UD with CR4.DE.
    #[test]
    fn dr4_aliases_dr6_unless_de() {
        let mut e = Env::new();
        e.code(&[0x0f, 0x21, 0xe0]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.regs[reg::EAX], e.cpu.state.dr[6]);
        e.cpu.state.cr4 |= cr4::DE;
        e.code(&[0x0f, 0x21, 0xe0]);
        assert_eq!(e.step(), Err(Fault::UD));
    }

    // mov cr0, eax (0F 22 C0) with PG but not PE: #GP(0). rdmsr (0F 32) of
    // an unknown MSR: #GP(0). smsw eax (0F 01 E0) works at CPL 3.
    #[test]
    fn control_registers_and_msrs() {
        let mut e = Env::new();
        e.cpu.state.regs[reg::EAX] = cr0::PG;
        e.code(&[0x0f, 0x22, 0xc0]);
        assert_eq!(e.step(), Err(Fault::GP0));
        e.cpu.state.regs[reg::ECX] = 0x1234;
        e.code(&[0x0f, 0x32]);
        assert_eq!(e.step(), Err(Fault::GP0));
        e.cpu.state.regs[reg::ECX] = 0x174;
        e.cpu.state.regs[reg::EAX] = 0x08;
        e.cpu.state.regs[reg::EDX] = 0;
        e.code(&[0x0f, 0x30]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.msr.sysenter_cs, 0x08);
        e.load_flat(3);
        e.code(&[0x0f, 0x01, 0xe0]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.regs[reg::EAX], e.cpu.state.cr0);
        e.code(&[0x0f, 0x32]);
        assert_eq!(e.step(), Err(Fault::GP0));
    }

    // sysenter (0F 34) then sysexit (0F 35) with SYSENTER_CS = 0x08.
    #[test]
    fn sysenter_sysexit() {
        let mut e = Env::new();
        e.code(&[0x0f, 0x34]);
        assert_eq!(e.step(), Err(Fault::GP0), "SYSENTER_CS is 0");
        e.cpu.state.msr.sysenter_cs = 0x08;
        e.cpu.state.msr.sysenter_esp = 0x9000;
        e.cpu.state.msr.sysenter_eip = 0x7000;
        e.load_flat(3);
        e.code(&[0x0f, 0x34]);
        e.step().unwrap();
        assert_eq!((e.cpu.state.cpl, e.cpu.state.eip, e.esp()), (0, 0x7000, 0x9000));
        assert_eq!(e.sel(crate::SegReg::Ss), 0x10);
        e.cpu.state.regs[reg::ECX] = 0x6000;
        e.cpu.state.regs[reg::EDX] = CODE;
        e.bus.mem.write(mem::PhysAddr(0x7000), &[0x0f, 0x35]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.cpl, 3);
        assert_eq!(e.sel(crate::SegReg::Cs), 0x1b);
        assert_eq!(e.sel(crate::SegReg::Ss), 0x23);
        assert_eq!(e.esp(), 0x6000);
    }

    // sgdt [0x6000] (0F 01 05 00600000) with a 16-bit operand size
    // (66 prefix) still stores the whole base.
    #[test]
    fn sgdt_stores_limit_and_base() {
        let mut e = Env::new();
        e.cpu.state.gdtr = crate::TableReg {
            base: 0x1234_5678,
            limit: 0x3ff,
        };
        e.code(&[0x66, 0x0f, 0x01, 0x05, 0, 0x60, 0, 0]);
        e.step().unwrap();
        assert_eq!(e.r32(0x6000) & 0xffff, 0x3ff);
        assert_eq!(e.r32(0x6002), 0x1234_5678);
    }

    // arpl ax, cx (63 C8) is #UD in real mode.
    #[test]
    fn arpl() {
        let mut e = Env::new();
        e.cpu.state.regs[reg::EAX] = 0x10;
        e.cpu.state.regs[reg::ECX] = 0x23;
        e.code(&[0x63, 0xc8]);
        e.step().unwrap();
        assert_eq!(e.cpu.state.regs[reg::EAX], 0x13);
        assert_ne!(e.cpu.state.eflags & flags::ZF, 0);
        e.cpu.state.cr0 &= !cr0::PE;
        e.code(&[0x63, 0xc8]);
        assert_eq!(e.step(), Err(Fault::UD));
    }
}
