//! Interrupt and exception delivery (SDM Vol. 3A, chapter 6; real mode:
//! 20.1.4).

use crate::fault::{Fault, Res};
use crate::state::{flags, SegReg};
use crate::{Bus, Cpu};

/// Where an event comes from: decides the gate DPL check and the return
/// address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The INTR line (a PIC).
    External,
    /// `INT n`, `INT3`, `INTO`: the gate's DPL is checked against CPL, and
    /// in virtual-8086 mode IOPL applies.
    Software,
    /// A fault or abort raised by an instruction: EIP points at it.
    Fault,
    /// A trap (#DB after an instruction): EIP points after it.
    Trap,
}

impl Cpu {
    /// Deliver interrupt `v` (EIP already holds the return address).
    pub(crate) fn interrupt(&mut self, bus: &mut Bus, v: u8, error: Option<u32>, src: Source) -> Res<()> {
        self.state.halted = false;
        if self.state.real() {
            return self.interrupt_real(bus, v);
        }
        self.interrupt_protected(bus, v, error, src)
    }

    /// Real mode: through the IVT at IDTR.base; pushes FLAGS, CS, IP.
    fn interrupt_real(&mut self, bus: &mut Bus, v: u8) -> Res<()> {
        let entry = u32::from(v) * 4;
        if entry + 3 > self.state.idtr.limit {
            return Err(Fault::GP0);
        }
        let base = self.state.idtr.base;
        let ip = self.read_sys_u16(bus, base.wrapping_add(entry))?;
        let cs = self.read_sys_u16(bus, base.wrapping_add(entry + 2))?;
        // Three pushes; check the lowest one first so nothing is committed
        // on a stack fault.
        let sp = self.sp_add(6u32.wrapping_neg());
        self.probe_write(bus, SegReg::Ss, sp, 6)?;
        let fl = self.state.eflags & 0xffff;
        let old_cs = u32::from(self.state.seg(SegReg::Cs).selector);
        let eip = self.state.eip & 0xffff;
        use crate::interp::ops::W;
        self.push(bus, fl, W::W)?;
        self.push(bus, old_cs, W::W)?;
        self.push(bus, eip, W::W)?;
        self.state.eflags &= !(flags::IF | flags::TF | flags::AC | flags::RF);
        self.load_seg(bus, SegReg::Cs, cs)?;
        self.state.eip = u32::from(ip);
        Ok(())
    }

    /// Protected and virtual-8086 mode delivery through the IDT.
    pub(crate) fn interrupt_protected(
        &mut self,
        _bus: &mut Bus,
        _v: u8,
        _error: Option<u32>,
        _src: Source,
    ) -> Res<()> {
        Err(Fault::GP0)
    }
}
