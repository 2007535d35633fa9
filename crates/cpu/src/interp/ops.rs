//! Operand access for instruction handlers: registers, effective addresses,
//! memory operands, immediates, and the flag arithmetic shared by groups.

use crate::fault::Res;
use crate::state::{flags, SegReg};
use crate::{Bus, Cpu};
use iced_x86::{Instruction, MemorySize, OpKind, Register};

/// Operand width: byte, word, doubleword (`W::W` is the SDM's "word").
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum W {
    /// 8 bits.
    B,
    /// 16 bits.
    W,
    /// 32 bits.
    D,
}

impl W {
    #[inline]
    pub fn bits(self) -> u32 {
        match self {
            W::B => 8,
            W::W => 16,
            W::D => 32,
        }
    }
    #[inline]
    pub fn bytes(self) -> u32 {
        self.bits() / 8
    }
    #[inline]
    pub fn mask(self) -> u32 {
        match self {
            W::B => 0xff,
            W::W => 0xffff,
            W::D => 0xffff_ffff,
        }
    }
    #[inline]
    pub fn sign(self) -> u32 {
        1 << (self.bits() - 1)
    }
    /// Sign-extend a value of this width to 32 bits.
    #[inline]
    pub fn sext(self, v: u32) -> u32 {
        match self {
            W::B => v as u8 as i8 as i32 as u32,
            W::W => v as u16 as i16 as i32 as u32,
            W::D => v,
        }
    }
    pub fn from_bytes(n: u32) -> W {
        match n {
            1 => W::B,
            2 => W::W,
            _ => W::D,
        }
    }
}

/// Parity flag of the low byte (PF=1 for an even number of set bits).
#[inline(always)]
pub(crate) fn parity(v: u32) -> u32 {
    let x = (v ^ (v >> 4)) & 0xf;
    if (0x9669u32 >> x) & 1 != 0 {
        flags::PF
    } else {
        0
    }
}

/// SF, ZF and PF of a result.
#[inline(always)]
pub(crate) fn szp(r: u32, w: W) -> u32 {
    let r = r & w.mask();
    let mut f = parity(r);
    if r == 0 {
        f |= flags::ZF;
    }
    if r & w.sign() != 0 {
        f |= flags::SF;
    }
    f
}

/// Register file index and kind of an iced register.
#[derive(Clone, Copy)]
enum RegRef {
    Low8(usize),
    High8(usize),
    R16(usize),
    R32(usize),
    Seg(SegReg),
}

#[inline]
fn reg_ref(r: Register) -> RegRef {
    let n = r as usize;
    let al = Register::AL as usize;
    let ax = Register::AX as usize;
    let eax = Register::EAX as usize;
    let es = Register::ES as usize;
    if (eax..eax + 8).contains(&n) {
        RegRef::R32(n - eax)
    } else if (ax..ax + 8).contains(&n) {
        RegRef::R16(n - ax)
    } else if (al..al + 4).contains(&n) {
        RegRef::Low8(n - al)
    } else if (al + 4..al + 8).contains(&n) {
        RegRef::High8(n - al - 4)
    } else if (es..es + 6).contains(&n) {
        RegRef::Seg(SegReg::ALL[n - es])
    } else {
        unreachable!("register {r:?} is not a 32-bit guest general or segment register")
    }
}

/// Width of a register.
#[inline]
pub(crate) fn reg_width(r: Register) -> W {
    match reg_ref(r) {
        RegRef::Low8(_) | RegRef::High8(_) => W::B,
        RegRef::R16(_) | RegRef::Seg(_) => W::W,
        RegRef::R32(_) => W::D,
    }
}

/// Width of operand `n`.
#[inline]
pub(crate) fn op_width(i: &Instruction, n: u32) -> W {
    match i.op_kind(n) {
        OpKind::Register => reg_width(i.op_register(n)),
        OpKind::Immediate8 => W::B,
        OpKind::Immediate16 | OpKind::Immediate8to16 => W::W,
        _ => W::from_bytes(i.memory_size().size() as u32),
    }
}

/// An operand, resolved once at decode time so that handlers need not
/// re-derive it from iced's encoding on every execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Opd {
    /// A 32-bit general register.
    R32(u8),
    /// A 16-bit general register.
    R16(u8),
    /// AL, CL, DL, BL.
    R8L(u8),
    /// AH, CH, DH, BH.
    R8H(u8),
    /// The memory operand described by [`Pre`].
    Mem,
    /// The immediate in [`Pre::imm`].
    Imm,
    /// Anything else: handled through iced's accessors.
    #[default]
    Other,
}

/// Register index meaning "no register" in [`Pre`].
const NOREG: u8 = 0xff;

/// Decode-time summary of an instruction's first two operands and its
/// memory operand.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pre {
    /// Operands 0 and 1.
    pub op: [Opd; 2],
    /// Immediate value (already sign-extended as the instruction defines).
    pub imm: u32,
    /// Displacement of the memory operand.
    pub disp: u32,
    /// Base register index, or `NOREG`.
    pub base: u8,
    /// Index register index, or `NOREG`.
    pub index: u8,
    /// log2 of the index scale.
    pub shift: u8,
    /// Segment of the memory operand.
    pub seg: u8,
    /// 16-bit addressing.
    pub addr16: bool,
    /// Size of the memory operand in bytes (1, 2, 4; 0 if other).
    pub mem_bytes: u8,
    /// The EA fields above describe the instruction's memory operand (also
    /// for LEA and wide operands, whose `mem_bytes` is 0).
    pub has_ea: bool,
    /// String instructions: element size in bytes (0 for others); `seg`
    /// is then the source segment and `addr16` the address size.
    pub str_bytes: u8,
}

impl Pre {
    /// Summarise `i`.
    pub(crate) fn of(i: &Instruction) -> Pre {
        let mut p = Pre {
            base: NOREG,
            index: NOREG,
            ..Pre::default()
        };
        for n in 0..i.op_count().min(2) {
            p.op[n as usize] = match i.op_kind(n) {
                OpKind::Register => match i.op_register(n) {
                    r if r.is_gpr32() => Opd::R32((r as usize - Register::EAX as usize) as u8),
                    r if r.is_gpr16() => Opd::R16((r as usize - Register::AX as usize) as u8),
                    r if r.is_gpr8() && (r as usize) < Register::AL as usize + 4 => {
                        Opd::R8L((r as usize - Register::AL as usize) as u8)
                    }
                    r if r.is_gpr8() && (r as usize) < Register::AL as usize + 8 => {
                        Opd::R8H((r as usize - Register::AL as usize - 4) as u8)
                    }
                    _ => Opd::Other,
                },
                OpKind::Memory => Opd::Mem,
                k @ (OpKind::Immediate8
                | OpKind::Immediate16
                | OpKind::Immediate32
                | OpKind::Immediate8to16
                | OpKind::Immediate8to32
                | OpKind::Immediate8_2nd
                | OpKind::NearBranch16
                | OpKind::NearBranch32) => {
                    p.imm = imm(i, k);
                    Opd::Imm
                }
                _ => Opd::Other,
            };
        }
        let string = (0..i.op_count()).any(|n| {
            matches!(
                i.op_kind(n),
                OpKind::MemorySegSI | OpKind::MemorySegESI | OpKind::MemoryESDI | OpKind::MemoryESEDI
            )
        });
        if string {
            p.str_bytes = i.memory_size().size() as u8;
            p.seg = seg_of(i.memory_segment()) as u8;
            p.addr16 = !(0..i.op_count())
                .any(|n| matches!(i.op_kind(n), OpKind::MemorySegESI | OpKind::MemoryESEDI));
        }
        // XLAT's memory operand has AL as its "index": only operands built
        // from 16- and 32-bit registers are summarised.
        let plain = |r: Register| r == Register::None || r.is_gpr16() || r.is_gpr32();
        if (0..i.op_count()).any(|n| i.op_kind(n) == OpKind::Memory)
            && plain(i.memory_base())
            && plain(i.memory_index())
        {
            p.has_ea = true;
            let size = i.memory_size().size();
            p.mem_bytes = if matches!(size, 1 | 2 | 4) { size as u8 } else { 0 };
            if p.mem_bytes == 0 {
                // Wider or odd memory operands use the generic path.
                p.op = p.op.map(|o| if o == Opd::Mem { Opd::Other } else { o });
            }
            p.disp = i.memory_displacement32();
            let gpr = |r: Register| -> u8 {
                if r == Register::None {
                    NOREG
                } else if r.is_gpr32() {
                    (r as usize - Register::EAX as usize) as u8
                } else {
                    (r as usize - Register::AX as usize) as u8
                }
            };
            p.base = gpr(i.memory_base());
            p.index = gpr(i.memory_index());
            p.shift = i.memory_index_scale().trailing_zeros() as u8;
            p.seg = seg_of(i.memory_segment()) as u8;
            p.addr16 = if p.base == NOREG && p.index == NOREG {
                i.memory_displ_size() == 2
            } else {
                i.memory_base().is_gpr16() || i.memory_index().is_gpr16()
            };
        }
        if !p.has_ea {
            p.op = p.op.map(|o| if o == Opd::Mem { Opd::Other } else { o });
        }
        p
    }
}

impl Cpu {
    /// Width of operand 0, from the decode-time summary when it has it.
    #[inline(always)]
    pub(crate) fn width0(&self, i: &Instruction) -> W {
        match self.cur.op[0] {
            Opd::R32(_) => W::D,
            Opd::R16(_) => W::W,
            Opd::R8L(_) | Opd::R8H(_) => W::B,
            Opd::Mem => W::from_bytes(u32::from(self.cur.mem_bytes)),
            _ => op_width(i, 0),
        }
    }

    /// Read a general or segment register, zero-extended.
    #[inline]
    pub(crate) fn reg(&self, r: Register) -> u32 {
        match reg_ref(r) {
            RegRef::R32(n) => self.state.regs[n],
            RegRef::R16(n) => self.state.regs[n] & 0xffff,
            RegRef::Low8(n) => self.state.regs[n] & 0xff,
            RegRef::High8(n) => (self.state.regs[n] >> 8) & 0xff,
            RegRef::Seg(s) => u32::from(self.state.seg(s).selector),
        }
    }

    /// Write a general register (only the register's own bits change).
    #[inline]
    pub(crate) fn set_reg(&mut self, r: Register, v: u32) {
        match reg_ref(r) {
            RegRef::R32(n) => self.state.regs[n] = v,
            RegRef::R16(n) => self.state.regs[n] = (self.state.regs[n] & 0xffff_0000) | (v & 0xffff),
            RegRef::Low8(n) => self.state.regs[n] = (self.state.regs[n] & 0xffff_ff00) | (v & 0xff),
            RegRef::High8(n) => self.state.regs[n] = (self.state.regs[n] & 0xffff_00ff) | ((v & 0xff) << 8),
            RegRef::Seg(_) => unreachable!("segment registers are loaded through load_seg"),
        }
    }

    /// Effective address (offset within the segment) and segment of the
    /// instruction's memory operand, with 16- or 32-bit wrap-around.
    #[inline]
    pub(crate) fn ea(&self, i: &Instruction) -> (SegReg, u32) {
        if self.cur.has_ea {
            return self.ea_pre();
        }
        self.ea_slow(i)
    }

    /// Effective address from the decode-time summary.
    #[inline]
    pub(crate) fn ea_pre(&self) -> (SegReg, u32) {
        let p = &self.cur;
        let mut a = p.disp;
        if p.base != NOREG {
            a = a.wrapping_add(self.state.regs[p.base as usize]);
        }
        if p.index != NOREG {
            a = a.wrapping_add(self.state.regs[p.index as usize] << p.shift);
        }
        if p.addr16 {
            a &= 0xffff;
        }
        (SegReg::ALL[p.seg as usize], a)
    }

    fn ea_slow(&self, i: &Instruction) -> (SegReg, u32) {
        let base = i.memory_base();
        let index = i.memory_index();
        let mut a = i.memory_displacement32();
        let mut addr16 = false;
        if base != Register::None {
            addr16 = reg_width(base) == W::W;
            a = a.wrapping_add(self.reg(base));
        }
        if index != Register::None {
            addr16 = reg_width(index) == W::W;
            a = a.wrapping_add(self.reg(index).wrapping_mul(i.memory_index_scale()));
        }
        if base == Register::None && index == Register::None {
            addr16 = i.memory_displ_size() == 2;
        }
        if addr16 {
            a &= 0xffff;
        }
        (seg_of(i.memory_segment()), a)
    }

    /// Read memory of width `w` at seg:off.
    #[inline]
    pub(crate) fn read_mem(&mut self, bus: &mut Bus, s: SegReg, off: u32, w: W) -> Res<u32> {
        Ok(match w {
            W::B => u32::from(self.read_seg::<1>(bus, s, off)?[0]),
            W::W => u32::from(u16::from_le_bytes(self.read_seg(bus, s, off)?)),
            W::D => u32::from_le_bytes(self.read_seg(bus, s, off)?),
        })
    }

    /// Read memory of width `w` at seg:off, checking write access too.
    #[inline]
    pub(crate) fn read_mem_rmw(&mut self, bus: &mut Bus, s: SegReg, off: u32, w: W) -> Res<u32> {
        Ok(match w {
            W::B => u32::from(self.read_seg_rmw::<1>(bus, s, off)?[0]),
            W::W => u32::from(u16::from_le_bytes(self.read_seg_rmw(bus, s, off)?)),
            W::D => u32::from_le_bytes(self.read_seg_rmw(bus, s, off)?),
        })
    }

    /// Write memory of width `w` at seg:off.
    #[inline]
    pub(crate) fn write_mem(&mut self, bus: &mut Bus, s: SegReg, off: u32, w: W, v: u32) -> Res<()> {
        match w {
            W::B => self.write_seg(bus, s, off, [v as u8]),
            W::W => self.write_seg(bus, s, off, (v as u16).to_le_bytes()),
            W::D => self.write_seg(bus, s, off, v.to_le_bytes()),
        }
    }

    /// Read operand `n` (register, memory or immediate), zero-extended.
    #[inline]
    pub(crate) fn read_op(&mut self, bus: &mut Bus, i: &Instruction, n: u32) -> Res<u32> {
        if n < 2 {
            match self.cur.op[n as usize] {
                Opd::R32(r) => return Ok(self.state.regs[r as usize]),
                Opd::R16(r) => return Ok(self.state.regs[r as usize] & 0xffff),
                Opd::R8L(r) => return Ok(self.state.regs[r as usize] & 0xff),
                Opd::R8H(r) => return Ok((self.state.regs[r as usize] >> 8) & 0xff),
                Opd::Imm => return Ok(self.cur.imm),
                Opd::Mem => {
                    let (s, off) = self.ea_pre();
                    return self.read_mem(bus, s, off, W::from_bytes(u32::from(self.cur.mem_bytes)));
                }
                Opd::Other => {}
            }
        }
        self.read_op_slow(bus, i, n)
    }

    fn read_op_slow(&mut self, bus: &mut Bus, i: &Instruction, n: u32) -> Res<u32> {
        match i.op_kind(n) {
            OpKind::Register => Ok(self.reg(i.op_register(n))),
            OpKind::Memory => {
                let (s, off) = self.ea(i);
                let w = W::from_bytes(i.memory_size().size() as u32);
                self.read_mem(bus, s, off, w)
            }
            k => Ok(imm(i, k)),
        }
    }

    /// Read operand `n` that will be written back (memory: checks write access).
    #[inline]
    pub(crate) fn read_op_rmw(&mut self, bus: &mut Bus, i: &Instruction, n: u32) -> Res<u32> {
        if n < 2 && self.cur.op[n as usize] == Opd::Mem {
            let (s, off) = self.ea_pre();
            return self.read_mem_rmw(bus, s, off, W::from_bytes(u32::from(self.cur.mem_bytes)));
        }
        match i.op_kind(n) {
            OpKind::Memory => {
                let (s, off) = self.ea(i);
                let w = W::from_bytes(i.memory_size().size() as u32);
                self.read_mem_rmw(bus, s, off, w)
            }
            _ => self.read_op(bus, i, n),
        }
    }

    /// Write operand `n` (register or memory).
    #[inline]
    pub(crate) fn write_op(&mut self, bus: &mut Bus, i: &Instruction, n: u32, v: u32) -> Res<()> {
        if n < 2 {
            let regs = &mut self.state.regs;
            match self.cur.op[n as usize] {
                Opd::R32(r) => {
                    regs[r as usize] = v;
                    return Ok(());
                }
                Opd::R16(r) => {
                    let r = &mut regs[r as usize];
                    *r = (*r & 0xffff_0000) | (v & 0xffff);
                    return Ok(());
                }
                Opd::R8L(r) => {
                    let r = &mut regs[r as usize];
                    *r = (*r & 0xffff_ff00) | (v & 0xff);
                    return Ok(());
                }
                Opd::R8H(r) => {
                    let r = &mut regs[r as usize];
                    *r = (*r & 0xffff_00ff) | ((v & 0xff) << 8);
                    return Ok(());
                }
                Opd::Mem => {
                    let (s, off) = self.ea_pre();
                    return self.write_mem(bus, s, off, W::from_bytes(u32::from(self.cur.mem_bytes)), v);
                }
                Opd::Imm | Opd::Other => {}
            }
        }
        match i.op_kind(n) {
            OpKind::Register => {
                self.set_reg(i.op_register(n), v);
                Ok(())
            }
            OpKind::Memory => {
                let (s, off) = self.ea(i);
                let w = W::from_bytes(i.memory_size().size() as u32);
                self.write_mem(bus, s, off, w, v)
            }
            k => unreachable!("cannot write operand kind {k:?}"),
        }
    }

    /// Replace the arithmetic flags with `f`.
    #[inline]
    pub(crate) fn set_arith(&mut self, f: u32) {
        self.state.eflags = (self.state.eflags & !flags::ARITH) | (f & flags::ARITH);
    }

    /// Current carry flag as 0/1.
    #[inline]
    pub(crate) fn cf(&self) -> u32 {
        self.state.eflags & flags::CF
    }
}

/// Segment register of an iced segment register.
#[inline]
pub(crate) fn seg_of(r: Register) -> SegReg {
    match r {
        Register::ES => SegReg::Es,
        Register::CS => SegReg::Cs,
        Register::SS => SegReg::Ss,
        Register::FS => SegReg::Fs,
        Register::GS => SegReg::Gs,
        _ => SegReg::Ds,
    }
}

/// Value of an immediate operand, sign-extended to its operand width as the
/// instruction defines it.
#[inline]
pub(crate) fn imm(i: &Instruction, k: OpKind) -> u32 {
    match k {
        OpKind::Immediate8 => u32::from(i.immediate8()),
        OpKind::Immediate16 => u32::from(i.immediate16()),
        OpKind::Immediate32 => i.immediate32(),
        OpKind::Immediate8to16 => i.immediate8to16() as u16 as u32,
        OpKind::Immediate8to32 => i.immediate8to32() as u32,
        OpKind::Immediate8_2nd => u32::from(i.immediate8_2nd()),
        OpKind::NearBranch16 => u32::from(i.near_branch16()),
        OpKind::NearBranch32 => i.near_branch32(),
        k => unreachable!("operand kind {k:?} is not an immediate"),
    }
}

/// Whether a memory operand is a far pointer (m16:16 or m16:32).
#[allow(dead_code)]
pub(crate) fn is_far_ptr(i: &Instruction) -> bool {
    matches!(i.memory_size(), MemorySize::SegPtr16 | MemorySize::SegPtr32)
}
