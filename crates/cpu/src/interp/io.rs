//! Port I/O: IN, OUT, and the I/O permission check shared with INS/OUTS
//! (SDM Vol. 1, 19.5: IOPL and the TSS I/O permission bitmap).

use super::ops::W;
use super::Handler;
use crate::fault::{Fault, Res};
use crate::state::reg;
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic, OpKind, Register};
use mem::Port;

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::In => in_,
        Mnemonic::Out => out,
        _ => return None,
    })
}

impl Cpu {
    /// #GP(0) unless the current privilege may access `len` ports at `port`:
    /// always in real mode, when CPL <= IOPL in protected mode, and otherwise
    /// (and always in virtual-8086 mode) only if the TSS bitmap allows it.
    pub(crate) fn check_io(&mut self, bus: &mut Bus, port: u16, len: u32) -> Res<()> {
        if !self.state.protected() || (!self.state.v86() && self.state.cpl <= self.state.iopl()) {
            return Ok(());
        }
        let tr = self.state.tr;
        // Only a 32-bit TSS has a bitmap.
        if tr.attr & 0xf != 0xb && tr.attr & 0xf != 0x9 || tr.limit < 0x67 {
            return Err(Fault::GP0);
        }
        let base = u32::from(self.read_sys_u16(bus, tr.base.wrapping_add(0x66))?);
        let byte = base + u32::from(port) / 8;
        if byte + 1 > tr.limit {
            return Err(Fault::GP0);
        }
        let bits = u32::from(self.read_sys_u16(bus, tr.base.wrapping_add(byte))?);
        let mask = ((1u32 << len) - 1) << (port % 8);
        if bits & mask != 0 {
            return Err(Fault::GP0);
        }
        Ok(())
    }

    /// Read `w` from a port.
    pub(crate) fn port_in(&mut self, bus: &mut Bus, port: u16, w: W) -> u32 {
        let mut b = [0u8; 4];
        bus.io.read(Port(port), &mut b[..w.bytes() as usize]);
        u32::from_le_bytes(b)
    }

    /// Write `w` to a port. Devices may raise attention or change the A20
    /// line, so the block ends after every OUT.
    pub(crate) fn port_out(&mut self, bus: &mut Bus, port: u16, w: W, v: u32) {
        bus.io.write(Port(port), &v.to_le_bytes()[..w.bytes() as usize]);
        self.sync_a20(bus);
        self.end_block = true;
    }
}

fn port_of(cpu: &Cpu, i: &Instruction, n: u32) -> u16 {
    match i.op_kind(n) {
        OpKind::Immediate8 => u16::from(i.immediate8()),
        _ => (cpu.state.regs[reg::EDX] & 0xffff) as u16,
    }
}

fn in_(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let r = i.op0_register();
    let w = super::ops::reg_width(r);
    let port = port_of(cpu, i, 1);
    cpu.check_io(bus, port, w.bytes())?;
    let v = cpu.port_in(bus, port, w);
    cpu.set_reg(r, v);
    Ok(())
}

fn out(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let r = i.op1_register();
    let w = super::ops::reg_width(r);
    let port = port_of(cpu, i, 0);
    cpu.check_io(bus, port, w.bytes())?;
    let v = cpu.reg(r);
    debug_assert!(r != Register::None);
    cpu.port_out(bus, port, w, v);
    Ok(())
}
