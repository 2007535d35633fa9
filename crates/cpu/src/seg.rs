//! Segment register loads (SDM Vol. 3A, 3.4.3 and 5.4-5.8).

use crate::fault::{Fault, Res};
use crate::state::{attr, SegReg, Segment};
use crate::{Bus, Cpu};
use iced_x86::Register;

impl Cpu {
    /// Load a data or stack segment register (`MOV Sreg`, `POP Sreg`,
    /// `LDS`...): real-mode and virtual-8086 semantics here, protected mode
    /// with every check in `load_seg_protected`.
    pub(crate) fn load_seg(&mut self, bus: &mut Bus, s: SegReg, sel: u16) -> Res<()> {
        if self.state.real() {
            // Real mode changes only selector and base; limit and access
            // rights stay as they were ("unreal mode" relies on that).
            let seg = &mut self.state.segs[s as usize];
            seg.selector = sel;
            seg.base = u32::from(sel) << 4;
            seg.valid = true;
            return Ok(());
        }
        if self.state.v86() {
            let dpl3 = 3 << 5;
            let a = if s == SegReg::Cs {
                attr::CODE_RX
            } else {
                attr::DATA_RW
            };
            self.state.segs[s as usize] = Segment::real(sel, 0xffff, a | dpl3);
            return Ok(());
        }
        self.load_seg_protected(bus, s, sel)
    }

    /// `MOV Sreg, r/m16` and `POP Sreg`: CS cannot be the destination; a
    /// load of SS inhibits interrupts for one instruction.
    pub(crate) fn mov_to_seg(&mut self, bus: &mut Bus, r: Register, sel: u16) -> Res<()> {
        let s = super::interp::ops::seg_of(r);
        if s == SegReg::Cs {
            return Err(Fault::UD);
        }
        self.load_seg(bus, s, sel)?;
        if s == SegReg::Ss {
            self.state.intr_shadow = true;
            self.end_block = true;
        }
        Ok(())
    }

    /// Protected-mode load of a data or stack segment register.
    pub(crate) fn load_seg_protected(&mut self, _bus: &mut Bus, _s: SegReg, sel: u16) -> Res<()> {
        // Written with the rest of protected mode in `desc`.
        Err(Fault::sel(crate::vector::GP, sel))
    }
}
