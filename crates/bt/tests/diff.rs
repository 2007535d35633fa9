//! Translator vs interpreter on small programs.

#![cfg(bt_host)]

use cpu::{Bus, Cpu};
use mem::{PhysAddr, PhysMemory};

fn machine(code: &[u8]) -> (Cpu, Bus) {
    let mut bus = Bus::new(PhysMemory::new(4).unwrap());
    bus.mem.write(PhysAddr(0x1000), code);
    let mut cpu = Cpu::new();
    cpu.state.set_flat32(0);
    cpu.state.eip = 0x1000;
    cpu.state.regs[4] = 0x8000;
    (cpu, bus)
}

fn run_both(code: &[u8], budget: u64) -> (Cpu, Cpu) {
    let (mut a, mut abus) = machine(code);
    let ea = a.run(&mut abus, budget);
    let (mut b, mut bbus) = machine(code);
    let mut bt = bt::Bt::new(&bbus).unwrap();
    let eb = bt.run(&mut b, &mut bbus, budget);
    eprintln!("interp {ea:?}, bt {eb:?}, bt stats {:?}", bt.stats);
    let (mut ma, mut mb) = (vec![0u8; 0x10000], vec![0u8; 0x10000]);
    abus.mem.read(PhysAddr(0), &mut ma);
    bbus.mem.read(PhysAddr(0), &mut mb);
    assert!(ma == mb, "memory below 64 KiB differs");
    (a, b)
}

#[test]
fn straight_line_alu() {
    // mov eax, 5; mov ebx, 7; add eax, ebx; push eax; pop ecx; cli; hlt
    let code = [
        0xb8, 5, 0, 0, 0, 0xbb, 7, 0, 0, 0, 0x01, 0xd8, 0x50, 0x59, 0xfa, 0xf4,
    ];
    let (a, b) = run_both(&code, 100);
    assert_eq!(a.state.regs, b.state.regs);
    assert_eq!(a.state.eip, b.state.eip);
    assert_eq!(a.state.eflags, b.state.eflags);
}

#[test]
fn loops_calls_and_memory() {
    // 1000: mov ecx, 1000
    // 1005: xor eax, eax
    // 1007: call 0x1020
    // 100c: dec ecx
    // 100d: jnz 0x1007
    // 100f: mov [0x3000], eax
    // 1014: cli; hlt
    // 1020: add eax, ecx; mov [0x2000+ecx*4], eax; imul eax, eax, 3; ret
    let mut code = vec![0u8; 0x40];
    let a = [
        0xb9, 0xe8, 0x03, 0, 0, 0x31, 0xc0, 0xe8, 0x14, 0, 0, 0, 0x49, 0x75, 0xf8, 0xa3, 0, 0x30, 0, 0, 0xfa,
        0xf4,
    ];
    code[..a.len()].copy_from_slice(&a);
    let f = [
        0x01, 0xc8, 0x89, 0x04, 0x8d, 0, 0x20, 0, 0, 0x6b, 0xc0, 0x03, 0xc3,
    ];
    code[0x20..0x20 + f.len()].copy_from_slice(&f);
    let (a, b) = run_both(&code, 1_000_000);
    assert_eq!(a.state.regs, b.state.regs);
    assert_eq!(a.state.eip, b.state.eip);
    assert_eq!(a.state.eflags, b.state.eflags);
}

/// Assemble 32-bit code at 0x1000.
fn asm(f: impl FnOnce(&mut iced_x86::code_asm::CodeAssembler) -> Result<(), iced_x86::IcedError>) -> Vec<u8> {
    let mut a = iced_x86::code_asm::CodeAssembler::new(32).unwrap();
    f(&mut a).unwrap();
    a.assemble(0x1000).unwrap()
}

#[test]
fn x87_and_mmx_agree() {
    use iced_x86::code_asm::*;
    let code = asm(|a| {
        a.fninit()?;
        a.mov(dword_ptr(0x3004), 7)?;
        a.mov(ecx, 300)?;
        let mut top = a.create_label();
        a.set_label(&mut top)?;
        a.fld1()?;
        a.fldpi()?;
        a.fmul_2(st0, st1)?;
        a.fst(dword_ptr(0x3000))?;
        a.fild(dword_ptr(0x3004))?;
        a.faddp(st1, st0)?;
        a.fsqrt()?;
        a.fcomi(st0, st1)?;
        a.fcmovb(st0, st1)?;
        a.fistp(dword_ptr(0x3008))?;
        a.fstp(qword_ptr(0x3010))?;
        a.fnstsw(ax)?;
        a.add(dword_ptr(0x3004), ecx)?;
        a.movq(mm0, qword_ptr(0x3010))?;
        a.movq(mm1, qword_ptr(0x3000))?;
        a.paddw(mm0, mm1)?;
        a.pmaddwd(mm1, mm0)?;
        a.movq(qword_ptr(0x3018), mm1)?;
        a.emms()?;
        a.dec(ecx)?;
        a.jnz(top)?;
        // 0/0 with IE masked: the indefinite; then a stack underflow.
        a.fldz()?;
        a.fldz()?;
        a.fdivp(st1, st0)?;
        a.fstp(st1)?;
        a.fnstsw(ax)?;
        a.cli()?;
        a.hlt()
    });
    let (a, b) = run_both(&code, 100_000);
    assert_eq!(a.state.regs, b.state.regs);
    assert_eq!(a.state.eip, b.state.eip);
    assert_eq!(a.state.eflags, b.state.eflags);
    assert_eq!(a.state.fpu, b.state.fpu);
}

/// Run `code` under both engines with CR0 adjusted by `cr0`, and compare
/// everything, the FPU included.
fn both_with_cr0(code: &[u8], cr0: impl Fn(u32) -> u32) {
    let (mut a, mut abus) = machine(code);
    a.state.cr0 = cr0(a.state.cr0);
    let ea = a.run(&mut abus, 10_000);
    let (mut b, mut bbus) = machine(code);
    b.state.cr0 = cr0(b.state.cr0);
    let mut bt = bt::Bt::new(&bbus).unwrap();
    let eb = bt.run(&mut b, &mut bbus, 10_000);
    eprintln!("interp {ea:?}, bt {eb:?}, bt stats {:?}", bt.stats);
    assert_eq!(ea, eb);
    assert_eq!(a.state.regs, b.state.regs);
    assert_eq!(a.state.eip, b.state.eip);
    assert_eq!(a.state.fpu, b.state.fpu);
}

#[test]
fn unmasked_x87_exceptions_and_nm_agree() {
    use iced_x86::code_asm::*;
    let code = asm(|a| {
        a.fninit()?;
        a.mov(word_ptr(0x3000), 0x037b)?; // ZM clear
        a.fldcw(word_ptr(0x3000))?;
        a.fld1()?;
        a.fldz()?;
        a.fdivp(st1, st0)?; // #Z unmasked: ES set, nothing stored
        a.mov(eax, 1)?;
        a.fld1()?; // a waiting instruction: #MF (NE=1) or FERR# (NE=0)
        a.fnstsw(ax)?;
        a.cli()?;
        a.hlt()
    });
    // NE=1: #MF, and with no IDT a triple fault at the FLD1.
    both_with_cr0(&code, |c| c | cpu::cr0::NE);
    // NE=0: FERR# and on.
    both_with_cr0(&code, |c| c & !cpu::cr0::NE);
    // TS=1: #NM at the first x87 instruction.
    both_with_cr0(&code, |c| c | cpu::cr0::TS);
}

#[test]
fn segments_with_bases_agree() {
    use iced_x86::code_asm::*;
    let code = asm(|a| {
        a.mov(ecx, 200)?;
        let mut top = a.create_label();
        a.set_label(&mut top)?;
        a.mov(eax, dword_ptr(ecx * 4 + 0x100).fs())?;
        a.add(dword_ptr(ecx * 4 + 0x800).gs(), eax)?;
        a.add(dword_ptr(ecx * 4 + 0x400), ecx)?; // DS, base 0x3000
        a.fild(dword_ptr(ecx * 4 + 0x400))?;
        a.fistp(dword_ptr(ecx * 4 + 0x200).fs())?;
        a.lea(edx, ptr(ecx * 8 + 0x10).fs())?;
        a.push(edx)?;
        a.pop(edx)?;
        // PUSH/POP m32 through segments with bases.
        a.push(ecx)?;
        a.pop(dword_ptr(ecx * 4 + 0x600))?; // DS
        a.push(dword_ptr(ecx * 4 + 0x400))?;
        a.pop(dword_ptr(ecx * 4 + 0x1000).fs())?;
        a.push(dword_ptr(ecx * 4 + 0x100).gs())?;
        a.pop(eax)?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.cli()?;
        a.hlt()
    });
    let setup = |cpu: &mut Cpu| {
        let mut f = cpu.state.segs[cpu::SegReg::Ds as usize];
        f.base = 0x2000;
        cpu.state.segs[cpu::SegReg::Fs as usize] = f;
        let mut g = f;
        g.base = 0xffff_f000; // wraps around 4 GiB
        cpu.state.segs[cpu::SegReg::Gs as usize] = g;
        cpu.state.segs[cpu::SegReg::Ds as usize].base = 0x3000;
    };
    let (mut a, mut abus) = machine(&code);
    setup(&mut a);
    let ea = a.run(&mut abus, 100_000);
    let (mut b, mut bbus) = machine(&code);
    setup(&mut b);
    let mut bt = bt::Bt::new(&bbus).unwrap();
    let eb = bt.run(&mut b, &mut bbus, 100_000);
    eprintln!("interp {ea:?}, bt {eb:?}, bt stats {:?}", bt.stats);
    assert_eq!(ea, eb);
    assert_eq!(a.state.regs, b.state.regs);
    assert_eq!(a.state.eip, b.state.eip);
    assert_eq!(a.state.fpu, b.state.fpu);
    let mut ma = vec![0u8; 0x8000];
    let mut mb = vec![0u8; 0x8000];
    abus.mem.read(PhysAddr(0), &mut ma);
    bbus.mem.read(PhysAddr(0), &mut mb);
    assert!(ma == mb, "memory differs");
    assert!(bt.stats.executed > 1000, "the loop ran translated");
}

#[test]
fn stack_forms_agree() {
    use iced_x86::code_asm::*;
    let code = asm(|a| {
        let mut f = a.create_label();
        let mut top = a.create_label();
        a.mov(ecx, 100)?;
        a.mov(dword_ptr(0x3000), 0x1234)?;
        a.set_label(&mut top)?;
        a.pushad()?;
        a.mov(eax, 7)?;
        a.push(dword_ptr(0x3000))?;
        a.push(esp)?;
        a.push(dword_ptr(esp + 4))?;
        a.pop(dword_ptr(0x3004 + 0x10))?;
        a.pop(dword_ptr(ebx * 2 + 0x3100))?;
        a.add(esp, 4)?;
        a.push(ecx)?;
        a.push(eax)?;
        a.call(f)?;
        a.popad()?;
        a.add(dword_ptr(0x3000), ecx)?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.cli()?;
        a.hlt()?;
        // f(x, y): a frame, a result, ret 8
        a.set_label(&mut f)?;
        a.push(ebp)?;
        a.mov(ebp, esp)?;
        a.sub(esp, 16)?;
        a.mov(eax, dword_ptr(ebp + 8))?;
        a.add(eax, dword_ptr(ebp + 12))?;
        a.mov(dword_ptr(ebp - 4), eax)?;
        a.leave()?;
        a.ret_1(8)
    });
    let (a, b) = run_both(&code, 100_000);
    assert_eq!(a.state.regs, b.state.regs);
    assert_eq!(a.state.eip, b.state.eip);
    assert_eq!(a.state.eflags, b.state.eflags);
}

#[test]
fn code_that_rewrites_itself_continuously_agrees() {
    use iced_x86::code_asm::*;
    // A loop whose body adds an immediate that the loop itself increments
    // every iteration (the write hits the running block), and that also
    // writes data next to its code on the same page.
    let code = asm(|a| {
        let mut top = a.create_label();
        a.mov(ecx, 3000)?;
        a.xor(eax, eax)?;
        a.set_label(&mut top)?;
        a.add(eax, 0x1234_5678)?; // 05 imm32 at 0x1007: the immediate at 0x1008
        a.mov(dword_ptr(0x1f00), ecx)?; // data on the code page
        a.lea(edx, ptr(0x1000))?;
        a.inc(dword_ptr(edx + 8))?; // the ADD's immediate
        a.dec(ecx)?;
        a.jnz(top)?;
        a.cli()?;
        a.hlt()
    });
    // The ADD must sit where the test pokes it.
    assert_eq!(&code[7..8], &[0x05]);
    let (a, b) = run_both(&code, 1_000_000);
    assert_eq!(a.state.regs, b.state.regs);
    assert_eq!(a.state.eip, b.state.eip);
    assert_eq!(a.state.eflags, b.state.eflags);
    // The sum of 0x12345678 + 0, + 1, ... + 2999 (the immediate grows by
    // one every iteration).
    let want = (0..3000u32).fold(0u32, |s, k| s.wrapping_add(0x1234_5678 + k));
    assert_eq!(a.state.regs[0], want);
}

#[test]
fn code_that_faults_in_every_instruction_agrees() {
    use iced_x86::code_asm::*;
    // Reads and writes of unmapped memory (no RAM at 0xE0000000) in a loop:
    // every access faults in the host until the instructions are
    // retranslated as callouts.
    let code = asm(|a| {
        let mut top = a.create_label();
        a.mov(ecx, 5000)?;
        a.mov(esi, 0xe000_0000u32)?;
        a.set_label(&mut top)?;
        a.mov(eax, dword_ptr(esi))?;
        a.mov(dword_ptr(esi + ecx * 4), eax)?;
        a.add(edx, dword_ptr(esi + 8))?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.cli()?;
        a.hlt()
    });
    let (mut b, mut bbus) = machine(&code);
    let mut bt = bt::Bt::new(&bbus).unwrap();
    bt.run(&mut b, &mut bbus, 1_000_000);
    let (a, b2) = run_both(&code, 1_000_000);
    assert_eq!(a.state.regs, b2.state.regs);
    assert_eq!(a.state.eip, b2.state.eip);
    // Retranslated: a few host faults per instruction, not one per access.
    let faults = bt.stats.faults_segv;
    assert!(bt.stats.retranslations >= 3, "{:?}", bt.stats);
    assert!(faults < 100, "{faults} host faults for 15,000 accesses");
    assert_eq!(b.state.regs, a.state.regs);
}

#[test]
fn a_full_code_cache_is_flushed_and_refilled() {
    use iced_x86::code_asm::*;
    // Code that rewrites itself every iteration makes a new block each
    // time: with a small cache, it fills up and is flushed many times.
    let code = asm(|a| {
        let mut top = a.create_label();
        a.mov(ecx, 20_000)?;
        a.xor(eax, eax)?;
        a.set_label(&mut top)?;
        a.add(eax, 0x1234_5678)?; // the immediate at 0x1008
        a.lea(edx, ptr(0x1000))?;
        a.inc(dword_ptr(edx + 8))?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.cli()?;
        a.hlt()
    });
    let (mut a, mut abus) = machine(&code);
    let ea = a.run(&mut abus, 10_000_000);
    let (mut b, mut bbus) = machine(&code);
    let mut bt = bt::Bt::with_cache_size(&bbus, 256 << 10).unwrap();
    let eb = bt.run(&mut b, &mut bbus, 10_000_000);
    assert_eq!(ea, eb);
    assert_eq!(a.state.regs, b.state.regs);
    assert_eq!(a.state.eip, b.state.eip);
    assert!(bt.stats.flushes >= 3, "{:?}", bt.stats);
}
