//! x87 control instructions (SDM Vol. 1, 8.3.12–8.3.13): FINIT, FCLEX,
//! FLDCW, FSTCW, FSTSW, FLDENV, FSTENV, FSAVE, FRSTOR, FNOP, WAIT, and
//! FXSAVE/FXRSTOR. Except FNOP these leave FIP/FOP/FDP alone; the FN
//! forms do not check for pending exceptions (SDM Vol. 1, 8.3.11).

use super::{fcw, fsw, Reg80, M};
use crate::access::Access;
use crate::fault::{Fault, Res};
use crate::interp::Handler;
use crate::state::{cr0, reg, SegReg};
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic, OpKind};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        M::Fninit => |c, b, _| finit(c, b, false),
        M::Finit => |c, b, _| finit(c, b, true),
        M::Fnclex => |c, b, _| fclex(c, b, false),
        M::Fclex => |c, b, _| fclex(c, b, true),
        M::Fldcw => fldcw,
        M::Fnstcw => |c, b, i| fstcw(c, b, i, false),
        M::Fstcw => |c, b, i| fstcw(c, b, i, true),
        M::Fnstsw => |c, b, i| fstsw(c, b, i, false),
        M::Fstsw => |c, b, i| fstsw(c, b, i, true),
        M::Fldenv => fldenv,
        M::Fnstenv => |c, b, i| fstenv(c, b, i, false),
        M::Fstenv => |c, b, i| fstenv(c, b, i, true),
        M::Frstor => frstor,
        M::Fnsave => |c, b, i| fsave(c, b, i, false),
        M::Fsave => |c, b, i| fsave(c, b, i, true),
        M::Fnop => fnop,
        // 8087/287 mode controls: no-ops on the 387 and later (SDM Vol. 1,
        // 8.3.13 and appendix about compatibility).
        M::Fneni | M::Fndisi | M::Fnsetpm => |c, _, _| c.fpu_nm(),
        M::Feni | M::Fdisi | M::Fsetpm => |c, b, _| c.fpu_enter(b),
        M::Wait => fwait,
        M::Fxsave => fxsave,
        M::Fxrstor => fxrstor,
        _ => return None,
    })
}

/// WAIT/FWAIT (SDM Vol. 2, WAIT): #NM only when CR0.MP and CR0.TS are both
/// set; then pending unmasked exceptions are reported.
fn fwait(cpu: &mut Cpu, bus: &mut Bus, _i: &Instruction) -> Res<()> {
    if cpu.state.cr0 & (cr0::MP | cr0::TS) == cr0::MP | cr0::TS {
        return Err(Fault::NM);
    }
    cpu.fpu_pending(bus)
}

/// FNOP: a non-control instruction (it updates FIP/FOP).
fn fnop(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    cpu.fpu_note(i, None);
    Ok(())
}

/// Entry of a control instruction: waiting or not.
fn enter(cpu: &mut Cpu, bus: &mut Bus, wait: bool) -> Res<()> {
    if wait {
        cpu.fpu_enter(bus)
    } else {
        cpu.fpu_nm()
    }
}

fn finit(cpu: &mut Cpu, bus: &mut Bus, wait: bool) -> Res<()> {
    enter(cpu, bus, wait)?;
    cpu.state.fpu.init();
    cpu.set_ferr(bus, false);
    Ok(())
}

/// FCLEX: exception flags, SF, ES and B cleared.
fn fclex(cpu: &mut Cpu, bus: &mut Bus, wait: bool) -> Res<()> {
    enter(cpu, bus, wait)?;
    cpu.state.fpu.fsw &= !(fsw::EXC | fsw::SF | fsw::ES | fsw::B);
    cpu.set_ferr(bus, false);
    Ok(())
}

/// Control-word bits that exist: bits 6 (reads as one), 7 and 13–15 are
/// reserved.
fn clean_fcw(v: u16) -> u16 {
    (v & 0x1f3f) | fcw::RESERVED_ONE
}

/// After the control or status word was loaded: ES follows the unmasked
/// flags, and FERR# drops when nothing is pending.
fn reload(cpu: &mut Cpu, bus: &mut Bus) {
    cpu.state.fpu.update_es();
    if cpu.state.fpu.fsw & fsw::ES == 0 {
        cpu.set_ferr(bus, false);
    }
}

fn fldcw(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    let (s, off) = cpu.ea(i);
    let v = u16::from_le_bytes(cpu.read_seg(bus, s, off)?);
    cpu.state.fpu.fcw = clean_fcw(v);
    reload(cpu, bus);
    Ok(())
}

fn fstcw(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, wait: bool) -> Res<()> {
    enter(cpu, bus, wait)?;
    let (s, off) = cpu.ea(i);
    cpu.write_seg(bus, s, off, cpu.state.fpu.fcw.to_le_bytes())
}

fn fstsw(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, wait: bool) -> Res<()> {
    enter(cpu, bus, wait)?;
    let v = cpu.state.fpu.fsw;
    if i.op0_kind() == OpKind::Register {
        let ax = &mut cpu.state.regs[reg::EAX];
        *ax = (*ax & 0xffff_0000) | u32::from(v);
        return Ok(());
    }
    let (s, off) = cpu.ea(i);
    cpu.write_seg(bus, s, off, v.to_le_bytes())
}

/// Whether the environment uses the real-mode layout (real and
/// virtual-8086 mode, SDM Vol. 1, 8.1.10).
fn real_format(cpu: &Cpu) -> bool {
    cpu.state.real() || cpu.state.v86()
}

/// Whether the instruction's environment image is the 32-bit one (m28,
/// m108) rather than the 16-bit one (m14, m94).
fn env32(i: &Instruction) -> bool {
    i.memory_size().size() >= 28 && i.memory_size().size() != 94
}

/// The 14- or 28-byte environment image (SDM Vol. 1, figures 8-9 to 8-12).
fn env_image(cpu: &Cpu, big: bool) -> Vec<u8> {
    let f = &cpu.state.fpu;
    let real = real_format(cpu);
    let tw = f.tag_word();
    let fop = u32::from(f.fop & 0x7ff);
    let mut out = Vec::with_capacity(28);
    let put16 = |o: &mut Vec<u8>, v: u16| o.extend_from_slice(&v.to_le_bytes());
    if big {
        let mut words = [0u32; 7];
        // Reserved upper halves read back as ones on P6.
        words[0] = 0xffff_0000 | u32::from(f.fcw);
        words[1] = 0xffff_0000 | u32::from(f.fsw);
        words[2] = 0xffff_0000 | u32::from(tw);
        if real {
            let ip = (u32::from(f.fcs) << 4).wrapping_add(f.fip);
            let dp = (u32::from(f.fds) << 4).wrapping_add(f.fdp);
            words[3] = 0xffff_0000 | (ip & 0xffff);
            words[4] = (ip >> 16) << 12 | fop;
            words[5] = 0xffff_0000 | (dp & 0xffff);
            words[6] = (dp >> 16) << 12;
        } else {
            words[3] = f.fip;
            words[4] = fop << 16 | u32::from(f.fcs);
            words[5] = f.fdp;
            words[6] = 0xffff_0000 | u32::from(f.fds);
        }
        for w in words {
            out.extend_from_slice(&w.to_le_bytes());
        }
    } else {
        put16(&mut out, f.fcw);
        put16(&mut out, f.fsw);
        put16(&mut out, tw);
        if real {
            let ip = (u32::from(f.fcs) << 4).wrapping_add(f.fip);
            let dp = (u32::from(f.fds) << 4).wrapping_add(f.fdp);
            put16(&mut out, ip as u16);
            put16(&mut out, ((ip >> 16) as u16 & 0xf) << 12 | fop as u16);
            put16(&mut out, dp as u16);
            put16(&mut out, ((dp >> 16) as u16 & 0xf) << 12);
        } else {
            put16(&mut out, f.fip as u16);
            put16(&mut out, f.fcs);
            put16(&mut out, f.fdp as u16);
            put16(&mut out, f.fds);
        }
    }
    out
}

/// Load an environment image (FLDENV, FRSTOR).
fn load_env(cpu: &mut Cpu, img: &[u8], big: bool) {
    let real = real_format(cpu);
    let u16at = |o: usize| u16::from_le_bytes([img[o], img[o + 1]]);
    let u32at = |o: usize| u32::from_le_bytes([img[o], img[o + 1], img[o + 2], img[o + 3]]);
    let f = &mut cpu.state.fpu;
    if big {
        f.fcw = clean_fcw(u16at(0));
        f.fsw = u16at(4);
        f.set_tag_word(u16at(8));
        if real {
            f.fip = u32::from(u16at(12)) | (u32at(16) >> 12 & 0xffff) << 16;
            f.fop = u16at(16) & 0x7ff;
            f.fdp = u32::from(u16at(20)) | (u32at(24) >> 12 & 0xffff) << 16;
            f.fcs = 0;
            f.fds = 0;
        } else {
            f.fip = u32at(12);
            f.fcs = u16at(16);
            f.fop = u16at(18) & 0x7ff;
            f.fdp = u32at(20);
            f.fds = u16at(24);
        }
    } else {
        f.fcw = clean_fcw(u16at(0));
        f.fsw = u16at(2);
        f.set_tag_word(u16at(4));
        if real {
            f.fip = u32::from(u16at(6)) | u32::from(u16at(8) >> 12) << 16;
            f.fop = u16at(8) & 0x7ff;
            f.fdp = u32::from(u16at(10)) | u32::from(u16at(12) >> 12) << 16;
            f.fcs = 0;
            f.fds = 0;
        } else {
            f.fip = u32::from(u16at(6));
            f.fcs = u16at(8);
            f.fop = 0;
            f.fdp = u32::from(u16at(10));
            f.fds = u16at(12);
        }
    }
}

impl Cpu {
    /// Read `buf.len()` (even) bytes at s:off, after checking the whole
    /// range against the segment.
    pub(crate) fn read_block(&mut self, bus: &mut Bus, s: SegReg, off: u32, buf: &mut [u8]) -> Res<()> {
        self.seg_lin(s, off, buf.len() as u32, Access::Read)?;
        for (k, pair) in buf.chunks_mut(2).enumerate() {
            let v: [u8; 2] = self.read_seg(bus, s, off.wrapping_add(2 * k as u32))?;
            pair.copy_from_slice(&v[..pair.len()]);
        }
        Ok(())
    }

    /// Write `data` (even length) at s:off; nothing is written unless all
    /// of it can be.
    pub(crate) fn write_block(&mut self, bus: &mut Bus, s: SegReg, off: u32, data: &[u8]) -> Res<()> {
        self.probe_write(bus, s, off, data.len() as u32)?;
        for (k, pair) in data.chunks(2).enumerate() {
            self.write_seg(bus, s, off.wrapping_add(2 * k as u32), [pair[0], pair[1]])?;
        }
        Ok(())
    }
}

fn fldenv(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    let big = env32(i);
    let (s, off) = cpu.ea(i);
    let mut img = [0u8; 28];
    let n = if big { 28 } else { 14 };
    cpu.read_block(bus, s, off, &mut img[..n])?;
    load_env(cpu, &img[..n], big);
    reload(cpu, bus);
    Ok(())
}

fn fstenv(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, wait: bool) -> Res<()> {
    enter(cpu, bus, wait)?;
    let img = env_image(cpu, env32(i));
    let (s, off) = cpu.ea(i);
    cpu.write_block(bus, s, off, &img)?;
    // FSTENV then masks every exception (SDM Vol. 2, FSTENV). With all
    // of them masked nothing is pending any more: ES and B clear (as the
    // host CPU shows); the exception flags stay.
    cpu.state.fpu.fcw |= fsw::EXC;
    cpu.state.fpu.update_es();
    Ok(())
}

fn fsave(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, wait: bool) -> Res<()> {
    enter(cpu, bus, wait)?;
    let mut img = env_image(cpu, env32(i));
    for k in 0..8 {
        img.extend_from_slice(&cpu.state.fpu.st(k).to_bytes());
    }
    let (s, off) = cpu.ea(i);
    cpu.write_block(bus, s, off, &img)?;
    cpu.state.fpu.init();
    cpu.set_ferr(bus, false);
    Ok(())
}

fn frstor(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    cpu.fpu_enter(bus)?;
    let big = env32(i);
    let n = if big { 28 } else { 14 };
    let (s, off) = cpu.ea(i);
    let mut img = [0u8; 108];
    cpu.read_block(bus, s, off, &mut img[..n + 80])?;
    load_env(cpu, &img[..n], big);
    for k in 0..8 {
        let mut b = [0u8; 10];
        b.copy_from_slice(&img[n + 10 * k..n + 10 * k + 10]);
        let p = cpu.state.fpu.phys(k);
        cpu.state.fpu.regs[p] = Reg80::from_bytes(b);
    }
    reload(cpu, bus);
    Ok(())
}

/// FXSAVE/FXRSTOR entry: #NM for EM or TS (no pending-exception check),
/// then #GP(0) unless the operand's linear address is 16-byte aligned.
fn fx_enter(cpu: &mut Cpu, i: &Instruction) -> Res<(SegReg, u32)> {
    cpu.fpu_nm()?;
    let (s, off) = cpu.ea(i);
    if cpu.state.seg(s).base.wrapping_add(off) & 15 != 0 {
        return Err(Fault::GP0);
    }
    Ok((s, off))
}

fn fxsave(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let (s, off) = fx_enter(cpu, i)?;
    // Only the x87/MMX part (bytes 0–159) is written: this CPU has no SSE.
    let mut img = [0u8; 512];
    cpu.state.fpu.fxsave(&mut img);
    cpu.probe_write(bus, s, off, 512)?;
    cpu.write_block(bus, s, off, &img[..24])?;
    cpu.write_block(bus, s, off.wrapping_add(32), &img[32..160])
}

fn fxrstor(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let (s, off) = fx_enter(cpu, i)?;
    let mut img = [0u8; 512];
    cpu.read_block(bus, s, off, &mut img)?;
    cpu.state.fpu.fxrstor(&img);
    cpu.state.fpu.fcw = clean_fcw(cpu.state.fpu.fcw);
    reload(cpu, bus);
    Ok(())
}
