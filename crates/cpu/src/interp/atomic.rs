//! Atomic read-modify-write instructions: XADD, CMPXCHG, CMPXCHG8B (SDM
//! Vol. 2A/2B). The interpreter runs one instruction at a time, so atomicity
//! is free; what matters is the order of accesses: every memory destination
//! is written (CMPXCHG writes the old value back when the comparison fails),
//! so a read-only destination faults either way, and registers are only
//! changed after that write succeeded.

use super::arith::{add_flags, sub_flags};
use super::ops::op_width;
use super::Handler;
use crate::fault::{Fault, Res};
use crate::state::{flags, reg};
use crate::{Bus, Cpu};
use iced_x86::{Instruction, Mnemonic, OpKind, Register};

pub(super) fn lookup(m: Mnemonic) -> Option<Handler> {
    Some(match m {
        Mnemonic::Xadd => xadd,
        Mnemonic::Cmpxchg => cmpxchg,
        Mnemonic::Cmpxchg8b => cmpxchg8b,
        _ => return None,
    })
}

/// XADD dest, src: TEMP = dest + src; src = dest; dest = TEMP. Flags of the
/// addition. With the same register twice, the sum wins.
fn xadd(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = op_width(i, 0);
    let d = cpu.read_op_rmw(bus, i, 0)?;
    let s = cpu.reg(i.op1_register());
    let (r, f) = add_flags(d, s, 0, w);
    if i.op0_kind() == OpKind::Memory {
        cpu.write_op(bus, i, 0, r)?;
        cpu.set_reg(i.op1_register(), d);
    } else {
        cpu.set_reg(i.op1_register(), d);
        cpu.write_op(bus, i, 0, r)?;
    }
    cpu.set_arith(f);
    Ok(())
}

/// CMPXCHG dest, src: compare the accumulator with dest (flags as CMP); if
/// equal dest = src, else the accumulator = dest (and dest is rewritten
/// with its own value).
fn cmpxchg(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    let w = op_width(i, 0);
    let acc = match w {
        super::ops::W::B => Register::AL,
        super::ops::W::W => Register::AX,
        super::ops::W::D => Register::EAX,
    };
    let d = cpu.read_op_rmw(bus, i, 0)?;
    let a = cpu.reg(acc);
    let (_, f) = sub_flags(a, d, 0, w);
    if f & flags::ZF != 0 {
        let s = cpu.reg(i.op1_register());
        cpu.write_op(bus, i, 0, s)?;
    } else {
        cpu.write_op(bus, i, 0, d)?;
        cpu.set_reg(acc, d);
    }
    cpu.set_arith(f);
    Ok(())
}

/// CMPXCHG8B m64: compare EDX:EAX with m64; if equal ZF = 1 and
/// m64 = ECX:EBX, else ZF = 0 and EDX:EAX = m64 (the old value is written
/// back). Only ZF changes. The register form is #UD.
fn cmpxchg8b(cpu: &mut Cpu, bus: &mut Bus, i: &Instruction) -> Res<()> {
    if i.op0_kind() != OpKind::Memory {
        return Err(Fault::UD);
    }
    let (s, off) = cpu.ea(i);
    let m = u64::from_le_bytes(cpu.read_seg_rmw::<8>(bus, s, off)?);
    let r = &cpu.state.regs;
    let cur = u64::from(r[reg::EDX]) << 32 | u64::from(r[reg::EAX]);
    if m == cur {
        let new = u64::from(r[reg::ECX]) << 32 | u64::from(r[reg::EBX]);
        cpu.write_seg(bus, s, off, new.to_le_bytes())?;
        cpu.state.eflags |= flags::ZF;
    } else {
        cpu.write_seg(bus, s, off, m.to_le_bytes())?;
        cpu.state.regs[reg::EAX] = m as u32;
        cpu.state.regs[reg::EDX] = (m >> 32) as u32;
        cpu.state.eflags &= !flags::ZF;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::shift::table::*;
    use crate::desc::testenv::Env;
    use crate::fault::Fault;

    #[test]
    #[rustfmt::skip]
    fn exchange_and_add() {
        run(&[
            // xadd eax, ecx
            Row { code: &[0x0f, 0xc1, 0xc8], regs: &[(EAX, 1), (ECX, 2)], want: &[(EAX, 3), (ECX, 1)], want_flags: P, ..Row::DEF },
            // xadd eax, eax: the sum wins
            Row { code: &[0x0f, 0xc1, 0xc0], regs: &[(EAX, 0x8000_0000)], want: &[(EAX, 0)], want_flags: C | Z | P | O, ..Row::DEF },
            // xadd [0x6000], al
            Row { code: &[0x0f, 0xc0, 0x05, 0x00, 0x60, 0x00, 0x00], regs: &[(EAX, 0x01)], mem: &[(DATA, 0x5555_55ff)], want: &[(EAX, 0xff)], want_mem: &[(DATA, 0x5555_5500)], want_flags: C | Z | P | A, ..Row::DEF },
            // lock xadd [0x6000], ecx
            Row { code: &[0xf0, 0x0f, 0xc1, 0x0d, 0x00, 0x60, 0x00, 0x00], regs: &[(ECX, 5)], mem: &[(DATA, 7)], want: &[(ECX, 7)], want_mem: &[(DATA, 12)], want_flags: P, ..Row::DEF },
            // lock xadd eax, ecx: LOCK needs a memory destination, #UD
            Row { code: &[0xf0, 0x0f, 0xc1, 0xc8], fault: Some(Fault::UD), ..Row::DEF },
            // xadd ah, al
            Row { code: &[0x0f, 0xc0, 0xc4], regs: &[(EAX, 0x0302)], want: &[(EAX, 0x0503)], want_flags: P, ..Row::DEF },
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn compare_and_exchange() {
        run(&[
            // cmpxchg ecx, edx: equal, ECX = EDX
            Row { code: &[0x0f, 0xb1, 0xd1], regs: &[(EAX, 5), (ECX, 5), (EDX, 9)], want: &[(ECX, 9)], want_flags: Z | P, ..Row::DEF },
            // cmpxchg ecx, edx: different, EAX = ECX; flags of CMP EAX, ECX
            Row { code: &[0x0f, 0xb1, 0xd1], regs: &[(EAX, 4), (ECX, 5), (EDX, 9)], want: &[(EAX, 5)], want_flags: C | S | P | A, ..Row::DEF },
            // cmpxchg [0x6000], bl: equal
            Row { code: &[0x0f, 0xb0, 0x1d, 0x00, 0x60, 0x00, 0x00], regs: &[(EAX, 0x11), (EBX, 0x22)], mem: &[(DATA, 0xaaaa_aa11)], want_mem: &[(DATA, 0xaaaa_aa22)], want_flags: Z | P, ..Row::DEF },
            // cmpxchg [0x6000], bx: different
            Row { code: &[0x66, 0x0f, 0xb1, 0x1d, 0x00, 0x60, 0x00, 0x00], regs: &[(EAX, 0xffff_0001), (EBX, 0x22)], mem: &[(DATA, 0xaaaa_0002)], want: &[(EAX, 0xffff_0002)], want_mem: &[(DATA, 0xaaaa_0002)], want_flags: C | S | P | A, ..Row::DEF },
            // cmpxchg8b [0x6000]: equal, m64 = ECX:EBX, only ZF changes
            Row { code: &[0x0f, 0xc7, 0x0d, 0x00, 0x60, 0x00, 0x00], regs: &[(EAX, 0x2222_2222), (EDX, 0x1111_1111), (EBX, 0x4444_4444), (ECX, 0x3333_3333)], flags: C | S, mem: &[(DATA, 0x2222_2222), (DATA + 4, 0x1111_1111)], want_mem: &[(DATA, 0x4444_4444), (DATA + 4, 0x3333_3333)], want_flags: C | S | Z, ..Row::DEF },
            // cmpxchg8b [0x6000]: different, EDX:EAX = m64
            Row { code: &[0x0f, 0xc7, 0x0d, 0x00, 0x60, 0x00, 0x00], regs: &[(EAX, 0), (EDX, 0x1111_1111)], flags: Z | C, mem: &[(DATA, 0x2222_2222), (DATA + 4, 0x1111_1111)], want: &[(EAX, 0x2222_2222)], want_mem: &[(DATA, 0x2222_2222), (DATA + 4, 0x1111_1111)], want_flags: C, ..Row::DEF },
            // cmpxchg8b with a register operand (0F C7 C8): #UD
            Row { code: &[0x0f, 0xc7, 0xc8], fault: Some(Fault::UD), ..Row::DEF },
        ]);
    }

    /// The destination is written even when the comparison fails, so a
    /// read-only destination faults either way and the accumulator stays.
    #[test]
    fn failed_compare_still_writes() {
        for (code, eax) in [
            // cmpxchg [0x6000], ecx (comparison fails)
            (&[0x0f, 0xb1, 0x0d, 0x00, 0x60, 0x00, 0x00][..], 1u32),
            // cmpxchg8b [0x6000] (comparison fails)
            (&[0x0f, 0xc7, 0x0d, 0x00, 0x60, 0x00, 0x00], 1),
            // xadd [0x6000], ecx
            (&[0x0f, 0xc1, 0x0d, 0x00, 0x60, 0x00, 0x00], 1),
        ] {
            let mut e = Env::new();
            read_only_ds(&mut e);
            e.w32(DATA, 7);
            e.cpu.state.regs[EAX] = eax;
            e.code(code);
            assert_eq!(e.step(), Err(Fault::GP0), "{code:02x?}");
            assert_eq!(e.cpu.state.regs[EAX], eax);
            assert_eq!(e.r32(DATA), 7);
        }
    }
}
