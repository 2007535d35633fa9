//! Bit instructions: BT, BTS, BTR, BTC, BSF, BSR, BSWAP (SDM Vol. 2A).
//!
//! BT* with a register bit offset and a memory operand address a bit string
//! of any length: the signed offset selects the word/dword at
//! `ea + (width/8) * (offset >> log2(width))` (wrapping to the address
//! size) and the bit `offset mod width` within it. With an immediate offset,
//! or a register operand, the offset is taken modulo the width.
//!
//! Undefined flags keep their values, as on the development host (AMD Zen)
//! and in Bochs for BT*: BT* change CF only, BSF/BSR change ZF only. BSF/BSR
//! with a zero source set ZF and leave the destination unchanged (Intel and
//! AMD both do; the SDM calls the destination undefined).
//! BSWAP of a 16-bit register (undefined) clears the low word, as the host
//! and Bochs do.

use super::ops::{op_width, reg_width, W};
use super::Handler;
use crate::fault::Res;
use crate::state::flags;
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic, OpKind, Register};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Bt => |c, b, i| bt(c, b, i, None),
        Mnemonic::Bts => |c, b, i| bt(c, b, i, Some(|v, m| v | m)),
        Mnemonic::Btr => |c, b, i| bt(c, b, i, Some(|v, m| v & !m)),
        Mnemonic::Btc => |c, b, i| bt(c, b, i, Some(|v, m| v ^ m)),
        Mnemonic::Bsf => |c, b, i| bitscan(c, b, i, true),
        Mnemonic::Bsr => |c, b, i| bitscan(c, b, i, false),
        Mnemonic::Bswap => bswap,
        _ => return None,
    })
}

/// Whether the memory operand uses 16-bit addressing.
fn addr16(i: &Instruction) -> bool {
    let (base, index) = (i.memory_base(), i.memory_index());
    if base != Register::None {
        reg_width(base) == W::W
    } else if index != Register::None {
        reg_width(index) == W::W
    } else {
        i.memory_displ_size() == 2
    }
}

/// BT, or BTS/BTR/BTC when `f` (old value, bit mask) -> new value is given.
fn bt(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, f: Option<fn(u32, u32) -> u32>) -> Res<()> {
    let w = op_width(i, 0);
    let n = w.bits();
    let off = cpu.read_op(bus, i, 1)?;
    let mask = 1u32 << (off & (n - 1));
    let cf = if i.op0_kind() == OpKind::Memory {
        let (s, mut ea) = cpu.ea(i);
        if i.op1_kind() == OpKind::Register {
            let units = (w.sext(off) as i32) >> n.trailing_zeros();
            ea = ea.wrapping_add((units as u32).wrapping_mul(w.bytes()));
            if addr16(i) {
                ea &= 0xffff;
            }
        }
        match f {
            None => cpu.read_mem(bus, s, ea, w)? & mask,
            Some(f) => {
                let v = cpu.read_mem_rmw(bus, s, ea, w)?;
                cpu.write_mem(bus, s, ea, w, f(v, mask))?;
                v & mask
            }
        }
    } else {
        let r = i.op0_register();
        let v = cpu.reg(r);
        if let Some(f) = f {
            cpu.set_reg(r, f(v, mask));
        }
        v & mask
    };
    cpu.state.eflags = (cpu.state.eflags & !flags::CF) | u32::from(cf != 0);
    Ok(())
}

/// BSF (`forward`) or BSR.
fn bitscan(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction, forward: bool) -> Res<()> {
    let w = op_width(i, 0);
    let src = cpu.read_op(bus, i, 1)? & w.mask();
    if src == 0 {
        cpu.state.eflags |= flags::ZF;
        return Ok(());
    }
    let idx = if forward {
        src.trailing_zeros()
    } else {
        31 - src.leading_zeros()
    };
    cpu.set_reg(i.op0_register(), idx);
    cpu.state.eflags &= !flags::ZF;
    Ok(())
}

/// BSWAP r32; with a 16-bit operand the low word becomes 0.
fn bswap(cpu: &mut Cpu, _bus: &mut Bus, i: &Instruction) -> Res<()> {
    let r = i.op0_register();
    let v = cpu.reg(r);
    let out = if reg_width(r) == W::D { v.swap_bytes() } else { 0 };
    cpu.set_reg(r, out);
    Ok(())
}
