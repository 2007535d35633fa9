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

#[cfg(test)]
mod tests {
    use super::super::shift::table::*;

    #[test]
    #[rustfmt::skip]
    fn bit_test_and_modify() {
        run(&[
            // bt eax, ecx: register offsets are taken mod 32; only CF changes
            Row { code: &[0x0f, 0xa3, 0xc8], regs: &[(EAX, 0x100), (ECX, 40)], flags: Z | S | O, want_flags: Z | S | O | C, ..Row::DEF },
            // bts eax, 31
            Row { code: &[0x0f, 0xba, 0xe8, 0x1f], regs: &[(EAX, 0)], flags: C, want: &[(EAX, 0x8000_0000)], ..Row::DEF },
            // btr ax, cx: offset 19 mod 16 = 3
            Row { code: &[0x66, 0x0f, 0xb3, 0xc8], regs: &[(EAX, 0xffff), (ECX, 0x13)], want: &[(EAX, 0xfff7)], want_flags: C, ..Row::DEF },
            // btc eax, 0
            Row { code: &[0x0f, 0xba, 0xf8, 0x00], regs: &[(EAX, 1)], flags: P, want: &[(EAX, 0)], want_flags: P | C, ..Row::DEF },
            // bt dword [0x6004], ecx with ECX = -1: bit 31 of the dword at 0x6000
            Row { code: &[0x0f, 0xa3, 0x0d, 0x04, 0x60, 0x00, 0x00], regs: &[(ECX, 0xffff_ffff)], mem: &[(DATA, 0x8000_0000)], want_flags: C, ..Row::DEF },
            // bts dword [0x6000], ecx with ECX = 37: bit 5 of the dword at 0x6004
            Row { code: &[0x0f, 0xab, 0x0d, 0x00, 0x60, 0x00, 0x00], regs: &[(ECX, 37)], flags: C, mem: &[(DATA, 0), (DATA + 4, 0)], want_mem: &[(DATA, 0), (DATA + 4, 0x20)], ..Row::DEF },
            // btc word [0x6004], cx with CX = -16: bit 0 of the word at 0x6002
            Row { code: &[0x66, 0x0f, 0xbb, 0x0d, 0x04, 0x60, 0x00, 0x00], regs: &[(ECX, 0x1234_fff0)], mem: &[(DATA, 0x0001_0000)], want_mem: &[(DATA, 0)], want_flags: C, ..Row::DEF },
            // bt dword [0x6000], 33: immediate offsets are taken mod 32
            Row { code: &[0x0f, 0xba, 0x25, 0x00, 0x60, 0x00, 0x00, 0x21], mem: &[(DATA, 2), (DATA + 4, 0)], want_flags: C, ..Row::DEF },
            // bt [bx], eax (16-bit addressing): 0xfffc + 8 wraps to 0x0004
            Row { code: &[0x67, 0x0f, 0xa3, 0x07], regs: &[(EBX, 0xfffc), (EAX, 64)], mem: &[(0x4, 1), (0x1_0004, 0)], want_flags: C, ..Row::DEF },
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn bit_scan_and_bswap() {
        run(&[
            // bsf eax, ecx: only ZF changes
            Row { code: &[0x0f, 0xbc, 0xc1], regs: &[(ECX, 0xf0)], flags: Z | C, want: &[(EAX, 4)], want_flags: C, ..Row::DEF },
            // bsr eax, ecx
            Row { code: &[0x0f, 0xbd, 0xc1], regs: &[(ECX, 0xf0)], want: &[(EAX, 7)], ..Row::DEF },
            // bsf eax, ecx with ECX = 0: ZF = 1, EAX unchanged
            Row { code: &[0x0f, 0xbc, 0xc1], regs: &[(EAX, 0x1234), (ECX, 0)], flags: C, want_flags: C | Z, ..Row::DEF },
            // bsr ax, cx: the upper half of EAX is kept
            Row { code: &[0x66, 0x0f, 0xbd, 0xc1], regs: &[(EAX, 0xabcd_0000), (ECX, 0xffff_8000)], want: &[(EAX, 0xabcd_000f)], ..Row::DEF },
            // bsf ecx, [0x6000]
            Row { code: &[0x0f, 0xbc, 0x0d, 0x00, 0x60, 0x00, 0x00], mem: &[(DATA, 0x8000_0000)], want: &[(ECX, 31)], ..Row::DEF },
            // bswap eax
            Row { code: &[0x0f, 0xc8], regs: &[(EAX, 0x1234_5678)], want: &[(EAX, 0x7856_3412)], ..Row::DEF },
            // bswap bx with a 16-bit operand: the low word becomes 0
            Row { code: &[0x66, 0x0f, 0xcb], regs: &[(EBX, 0x1234_5678)], want: &[(EBX, 0x1234_0000)], ..Row::DEF },
        ]);
    }
}
