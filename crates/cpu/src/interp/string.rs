//! String instructions: MOVS, CMPS, SCAS, LODS, STOS, INS, OUTS, with REP,
//! REPE and REPNE, both address sizes and both directions.
//!
//! A repeated instruction runs in chunks: after `Cpu::rep_chunk` iterations it leaves
//! EIP on itself so that the run loop can take interrupts and count time,
//! and it is re-executed from the registers it left. A fault in iteration k
//! leaves the registers as iterations 0..k left them, which is what the SDM
//! requires for restarting (Vol. 2, REP).

use super::arith::sub_flags;
use super::ops::W;
use super::Handler;
use crate::fault::Res;
use crate::state::{flags, reg, SegReg};
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Movsb | Mnemonic::Movsw | Mnemonic::Movsd => movs,
        Mnemonic::Cmpsb | Mnemonic::Cmpsw | Mnemonic::Cmpsd => cmps,
        Mnemonic::Scasb | Mnemonic::Scasw | Mnemonic::Scasd => scas,
        Mnemonic::Lodsb | Mnemonic::Lodsw | Mnemonic::Lodsd => lods,
        Mnemonic::Stosb | Mnemonic::Stosw | Mnemonic::Stosd => stos,
        Mnemonic::Insb | Mnemonic::Insw | Mnemonic::Insd => ins,
        Mnemonic::Outsb | Mnemonic::Outsw | Mnemonic::Outsd => outs,
        _ => return None,
    })
}

/// Element width, address size and source segment of a string instruction.
struct Str {
    w: W,
    a32: bool,
    src: SegReg,
}

fn decode(cpu: &Cpu) -> Str {
    let p = &cpu.cur;
    Str {
        w: W::from_bytes(u32::from(p.str_bytes)),
        a32: !p.addr16,
        src: SegReg::ALL[p.seg as usize],
    }
}

impl Cpu {
    fn idx(&self, r: usize, a32: bool) -> u32 {
        if a32 {
            self.state.regs[r]
        } else {
            self.state.regs[r] & 0xffff
        }
    }

    /// Advance ESI/EDI (or SI/DI) by one element in the direction of DF.
    fn step_idx(&mut self, r: usize, s: &Str) {
        let d = if self.state.eflags & flags::DF != 0 {
            s.w.bytes().wrapping_neg()
        } else {
            s.w.bytes()
        };
        let v = self.state.regs[r].wrapping_add(d);
        self.state.regs[r] = if s.a32 {
            v
        } else {
            (self.state.regs[r] & 0xffff_0000) | (v & 0xffff)
        };
    }

    fn count(&self, s: &Str) -> u32 {
        self.idx(reg::ECX, s.a32)
    }

    fn dec_count(&mut self, s: &Str) {
        let v = self.state.regs[reg::ECX].wrapping_sub(1);
        self.state.regs[reg::ECX] = if s.a32 {
            v
        } else {
            (self.state.regs[reg::ECX] & 0xffff_0000) | (v & 0xffff)
        };
    }
}

/// Run `body` once, or under REP as described in the module documentation.
/// `cond` is Some(zf_wanted) for REPE/REPNE on CMPS/SCAS.
#[inline]
fn repeat(
    cpu: &mut Cpu,
    bus: &mut Bus,
    i: &Instruction,
    s: &Str,
    compares: bool,
    mut body: impl FnMut(&mut Cpu, &mut Bus) -> Res<()>,
) -> Res<()> {
    let rep = i.has_rep_prefix() || i.has_repne_prefix();
    if !rep {
        return body(cpu, bus);
    }
    for _ in 0..cpu.rep_chunk {
        if cpu.count(s) == 0 {
            return Ok(());
        }
        body(cpu, bus)?;
        cpu.dec_count(s);
        if compares {
            let zf = cpu.state.eflags & flags::ZF != 0;
            if (i.has_repe_prefix() && !zf) || (i.has_repne_prefix() && zf) {
                return Ok(());
            }
        }
    }
    if cpu.count(s) != 0 {
        // Not finished: execute this instruction again.
        cpu.state.eip = i.ip32();
    }
    Ok(())
}

/// The 32-bit-address fast paths of MOVS, LODS and STOS: the same
/// iterations as the generic code, with the element size a constant.
mod fast32 {
    use crate::fault::Res;
    use crate::state::{flags, reg, SegReg};
    use crate::{Bus, Cpu};
    use iced_x86::{Instruction, Mnemonic};

    #[inline(always)]
    fn delta<const N: usize>(cpu: &Cpu) -> u32 {
        if cpu.state.eflags & flags::DF != 0 {
            (N as u32).wrapping_neg()
        } else {
            N as u32
        }
    }

    #[inline(always)]
    fn one<const N: usize>(cpu: &mut Cpu, bus: &mut Bus, m: Mnemonic) -> Res<()> {
        let d = delta::<N>(cpu);
        match m {
            Mnemonic::Movsb | Mnemonic::Movsw | Mnemonic::Movsd => {
                let (si, di) = (cpu.state.regs[reg::ESI], cpu.state.regs[reg::EDI]);
                let src = SegReg::ALL[cpu.cur.seg as usize];
                let v = cpu.read_seg::<N>(bus, src, si)?;
                cpu.write_seg::<N>(bus, SegReg::Es, di, v)?;
                cpu.state.regs[reg::ESI] = si.wrapping_add(d);
                cpu.state.regs[reg::EDI] = di.wrapping_add(d);
            }
            Mnemonic::Lodsb | Mnemonic::Lodsw | Mnemonic::Lodsd => {
                let si = cpu.state.regs[reg::ESI];
                let src = SegReg::ALL[cpu.cur.seg as usize];
                let v = cpu.read_seg::<N>(bus, src, si)?;
                let eax = &mut cpu.state.regs[reg::EAX];
                let mut b = eax.to_le_bytes();
                b[..N].copy_from_slice(&v);
                *eax = u32::from_le_bytes(b);
                cpu.state.regs[reg::ESI] = si.wrapping_add(d);
            }
            _ => {
                let di = cpu.state.regs[reg::EDI];
                let mut v = [0u8; N];
                v.copy_from_slice(&cpu.state.regs[reg::EAX].to_le_bytes()[..N]);
                cpu.write_seg::<N>(bus, SegReg::Es, di, v)?;
                cpu.state.regs[reg::EDI] = di.wrapping_add(d);
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn run<const N: usize>(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
        let m = i.mnemonic();
        if !i.has_rep_prefix() {
            return one::<N>(cpu, bus, m);
        }
        for _ in 0..cpu.rep_chunk {
            if cpu.state.regs[reg::ECX] == 0 {
                return Ok(());
            }
            one::<N>(cpu, bus, m)?;
            cpu.state.regs[reg::ECX] -= 1;
        }
        if cpu.state.regs[reg::ECX] != 0 {
            cpu.state.eip = i.ip32();
        }
        Ok(())
    }

    /// Run `i` if it has the fast form (32-bit addressing, no REPNE).
    #[inline(always)]
    pub(super) fn try_run(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Option<Res<()>> {
        if cpu.cur.addr16 || i.has_repne_prefix() {
            return None;
        }
        Some(match cpu.cur.str_bytes {
            1 => run::<1>(cpu, bus, i),
            2 => run::<2>(cpu, bus, i),
            _ => run::<4>(cpu, bus, i),
        })
    }
}

fn movs(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if let Some(r) = fast32::try_run(cpu, bus, i) {
        return r;
    }
    let s = decode(cpu);
    repeat(cpu, bus, i, &s, false, |c, b| {
        let v = c.read_mem(b, s.src, c.idx(reg::ESI, s.a32), s.w)?;
        c.write_mem(b, SegReg::Es, c.idx(reg::EDI, s.a32), s.w, v)?;
        c.step_idx(reg::ESI, &s);
        c.step_idx(reg::EDI, &s);
        Ok(())
    })
}

fn cmps(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let s = decode(cpu);
    repeat(cpu, bus, i, &s, true, |c, b| {
        let a = c.read_mem(b, s.src, c.idx(reg::ESI, s.a32), s.w)?;
        let d = c.read_mem(b, SegReg::Es, c.idx(reg::EDI, s.a32), s.w)?;
        let (_, f) = sub_flags(a, d, 0, s.w);
        c.set_arith(f);
        c.step_idx(reg::ESI, &s);
        c.step_idx(reg::EDI, &s);
        Ok(())
    })
}

fn scas(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let s = decode(cpu);
    repeat(cpu, bus, i, &s, true, |c, b| {
        let d = c.read_mem(b, SegReg::Es, c.idx(reg::EDI, s.a32), s.w)?;
        let (_, f) = sub_flags(c.state.regs[reg::EAX], d, 0, s.w);
        c.set_arith(f);
        c.step_idx(reg::EDI, &s);
        Ok(())
    })
}

fn lods(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if let Some(r) = fast32::try_run(cpu, bus, i) {
        return r;
    }
    let s = decode(cpu);
    repeat(cpu, bus, i, &s, false, |c, b| {
        let v = c.read_mem(b, s.src, c.idx(reg::ESI, s.a32), s.w)?;
        let m = s.w.mask();
        c.state.regs[reg::EAX] = (c.state.regs[reg::EAX] & !m) | v;
        c.step_idx(reg::ESI, &s);
        Ok(())
    })
}

fn stos(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if let Some(r) = fast32::try_run(cpu, bus, i) {
        return r;
    }
    let s = decode(cpu);
    repeat(cpu, bus, i, &s, false, |c, b| {
        let v = c.state.regs[reg::EAX] & s.w.mask();
        c.write_mem(b, SegReg::Es, c.idx(reg::EDI, s.a32), s.w, v)?;
        c.step_idx(reg::EDI, &s);
        Ok(())
    })
}

fn ins(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let s = decode(cpu);
    let port = (cpu.state.regs[reg::EDX] & 0xffff) as u16;
    cpu.check_io(bus, port, s.w.bytes())?;
    repeat(cpu, bus, i, &s, false, |c, b| {
        let di = c.idx(reg::EDI, s.a32);
        // The destination is checked before the port is read, so that a
        // fault does not lose the port's data.
        c.probe_write(b, SegReg::Es, di, s.w.bytes())?;
        let v = c.port_in(b, port, s.w);
        c.write_mem(b, SegReg::Es, di, s.w, v)?;
        c.step_idx(reg::EDI, &s);
        Ok(())
    })
}

fn outs(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let s = decode(cpu);
    let port = (cpu.state.regs[reg::EDX] & 0xffff) as u16;
    cpu.check_io(bus, port, s.w.bytes())?;
    repeat(cpu, bus, i, &s, false, |c, b| {
        let v = c.read_mem(b, s.src, c.idx(reg::ESI, s.a32), s.w)?;
        c.port_out(b, port, s.w, v);
        c.step_idx(reg::ESI, &s);
        Ok(())
    })
}
