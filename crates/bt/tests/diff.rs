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
    let (a, b, _) = run_both_with(code, budget, |_, _| {});
    (a, b)
}

/// `code` under the interpreter and under the translator, each machine
/// prepared by `setup`: the exits and the memory below 64 KiB must agree.
/// Returns the interpreter's CPU, the translator's and the translator.
fn run_both_with(code: &[u8], budget: u64, setup: impl Fn(&mut Cpu, &mut Bus)) -> (Cpu, Cpu, bt::Bt) {
    let (mut a, mut abus) = machine(code);
    setup(&mut a, &mut abus);
    let ea = a.run(&mut abus, budget);
    let (mut b, mut bbus) = machine(code);
    setup(&mut b, &mut bbus);
    let mut bt = bt::Bt::new(&bbus).unwrap();
    let eb = bt.run(&mut b, &mut bbus, budget);
    eprintln!("interp {ea:?}, bt {eb:?}, bt stats {:?}", bt.stats);
    assert_eq!(ea, eb, "exits");
    let (mut ma, mut mb) = (vec![0u8; 0x10000], vec![0u8; 0x10000]);
    abus.mem.read(PhysAddr(0), &mut ma);
    bbus.mem.read(PhysAddr(0), &mut mb);
    assert!(ma == mb, "memory below 64 KiB differs");
    (a, b, bt)
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
    let (a, b, _) = run_both_with(code, 10_000, |c, _| c.state.cr0 = cr0(c.state.cr0));
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
    let setup = |cpu: &mut Cpu, _: &mut Bus| {
        let mut f = cpu.state.segs[cpu::SegReg::Ds as usize];
        f.base = 0x2000;
        cpu.state.segs[cpu::SegReg::Fs as usize] = f;
        let mut g = f;
        g.base = 0xffff_f000; // wraps around 4 GiB
        cpu.state.segs[cpu::SegReg::Gs as usize] = g;
        cpu.state.segs[cpu::SegReg::Ds as usize].base = 0x3000;
    };
    let (a, b, bt) = run_both_with(&code, 100_000, setup);
    assert_eq!(a.state.regs, b.state.regs);
    assert_eq!(a.state.eip, b.state.eip);
    assert_eq!(a.state.fpu, b.state.fpu);
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

/// Segments with limits below 4 GiB: a loop walks accesses of several
/// sizes through DS, ES and SS across their limits; each access beyond a
/// limit raises #GP or #SS, whose handler (through a real GDT and IDT)
/// counts it in ESI and resumes at the address the code left in EDI. Both
/// engines must agree on everything, the translator must run the loop as
/// host code, and only the accesses beyond a limit may go to the
/// interpreter.
#[test]
fn segment_limits_agree() {
    use iced_x86::code_asm::*;
    const HANDLER: u32 = 0x1800;
    // Two passes: the resume addresses (MOV EDI, imm32, a fixed size) are
    // taken from the first.
    let program = |resume: [u32; 6]| {
        let mut a = CodeAssembler::new(32).unwrap();
        let mut next = [(); 6].map(|_| a.create_label());
        let mut go = |a: &mut CodeAssembler| -> Result<(), iced_x86::IcedError> {
            a.xor(esi, esi)?;
            a.xor(ebp, ebp)?;
            a.mov(ecx, 0x1fe0)?;
            let mut top = a.create_label();
            a.set_label(&mut top)?;
            a.mov(edi, resume[0])?;
            a.mov(eax, dword_ptr(ecx))?; // DS, limit 0x1fff
            a.set_label(&mut next[0])?;
            a.mov(edi, resume[1])?;
            a.add(word_ptr(ecx + 1).es(), ax)?; // ES, limit 0x1ffd
            a.set_label(&mut next[1])?;
            a.mov(edi, resume[2])?;
            a.push(dword_ptr(ecx + 2))?;
            a.pop(dword_ptr(ecx + 3).es())?;
            a.set_label(&mut next[2])?;
            a.mov(edi, resume[3])?;
            a.fild(dword_ptr(ecx + 4))?;
            a.fistp(qword_ptr(ecx - 4).es())?;
            a.set_label(&mut next[3])?;
            a.mov(edi, resume[4])?;
            a.movzx(edx, byte_ptr(ecx + 0x1c))?;
            a.add(ebp, edx)?;
            a.set_label(&mut next[4])?;
            a.mov(edi, resume[5])?;
            a.mov(dword_ptr(ebx + ecx * 2 - 0x2000).ss(), ecx)?; // SS, limit 0x2fff
            a.set_label(&mut next[5])?;
            a.inc(ecx)?;
            a.cmp(ecx, 0x2010)?;
            a.jb(top)?;
            a.cli()?;
            a.hlt()
        };
        go(&mut a).unwrap();
        let r = a
            .assemble_options(
                0x1000,
                iced_x86::BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
            )
            .unwrap();
        let ips = next.map(|l| r.label_ip(&l).unwrap() as u32);
        (r.inner.code_buffer, ips)
    };
    let (_, resume) = program([0x1000; 6]);
    let (code, again) = program(resume);
    assert_eq!(resume, again);
    // The handler: drop the error code, resume at EDI, count in ESI.
    let handler = [0x83, 0xc4, 0x04, 0x89, 0x3c, 0x24, 0x46, 0xcf];
    let setup = |cpu: &mut Cpu, bus: &mut Bus| {
        bus.mem.write(PhysAddr(u64::from(HANDLER)), &handler);
        // GDT at 0x500: null, flat code (0x08), flat data (0x10).
        let gdt: [u64; 3] = [0, 0x00cf_9a00_0000_ffff, 0x00cf_9200_0000_ffff];
        let gdt: Vec<u8> = gdt.iter().flat_map(|d| d.to_le_bytes()).collect();
        bus.mem.write(PhysAddr(0x500), &gdt);
        cpu.state.gdtr = cpu::TableReg {
            base: 0x500,
            limit: 23,
        };
        // IDT at 0x600: #SS (12) and #GP (13) to the handler.
        let gate =
            (u64::from(HANDLER >> 16) << 48) | (0x8e00u64 << 32) | (8u64 << 16) | u64::from(HANDLER & 0xffff);
        for v in [12u64, 13] {
            bus.mem.write(PhysAddr(0x600 + 8 * v), &gate.to_le_bytes());
        }
        cpu.state.idtr = cpu::TableReg {
            base: 0x600,
            limit: 14 * 8 - 1,
        };
        let seg = |cpu: &mut Cpu, r: cpu::SegReg, base: u32, limit: u32| {
            let s = &mut cpu.state.segs[r as usize];
            s.base = base;
            s.limit = limit;
        };
        seg(cpu, cpu::SegReg::Ds, 0x3000, 0x1fff);
        seg(cpu, cpu::SegReg::Es, 0x6000, 0x1ffd);
        seg(cpu, cpu::SegReg::Ss, 0, 0x2fff);
        cpu.state.regs[4] = 0x2f00; // ESP, below SS's limit, off the code's page
        cpu.state.regs[3] = 0x1000; // EBX
    };
    let (a, b, bt) = run_both_with(&code, 1_000_000, setup);
    assert_eq!(a.state.regs, b.state.regs);
    assert_eq!(a.state.eip, b.state.eip);
    assert_eq!(a.state.eflags, b.state.eflags);
    assert_eq!(a.state.fpu, b.state.fpu);
    let faults = u64::from(b.state.regs[6]);
    assert!(faults > 50, "accesses beyond the limits faulted: {faults}");
    assert!(bt.stats.executed > 300, "the loop ran translated: {:?}", bt.stats);
    // Stack instructions (SS has a limit) and the handler's are callouts;
    // of the loop's checked accesses exactly those beyond a limit are: the
    // checks are neither too lax (the engines would differ) nor too strict.
    let beyond = |first: u32, size: u32, limit: u32| {
        (0x1fe0..0x2010u32)
            .filter(|c| c + first + size - 1 > limit)
            .count() as u64
    };
    let checked = |m: iced_x86::Mnemonic| bt.stats.callouts.get(&m).copied().unwrap_or(0);
    use iced_x86::Mnemonic as M;
    // MOV EAX, [ECX] and MOV [EBX+ECX*2-2000h], ECX (as an offset of 2·ECX - 1000h).
    let mov = beyond(0, 4, 0x1fff)
        + (0x1fe0..0x2010u32)
            .filter(|c| 2 * c - 0x1000 + 3 > 0x2fff)
            .count() as u64;
    assert_eq!(checked(M::Mov), mov);
    assert_eq!(checked(M::Add), beyond(1, 2, 0x1ffd));
    assert_eq!(checked(M::Movzx), beyond(0x1c, 1, 0x1fff));
    assert_eq!(checked(M::Fild), beyond(4, 4, 0x1fff));
    assert_eq!(
        checked(M::Fistp),
        0,
        "FISTP is reached only when FILD passed, and then within ES's limit"
    );
}

/// Code the interpreter decoded (here: real-mode code, which the translator
/// leaves to it) on a page no block is translated from, rewritten by
/// translated code's own stores: the interpreter must see the new bytes.
#[test]
fn translated_stores_into_code_only_the_interpreter_ran_are_seen() {
    // 0x3000 (real mode): mov al, imm8; hlt
    // 0x1000 (flat 32-bit): mov byte [0x3001], 0x42; hlt
    let code32 = [0xc6, 0x05, 0x01, 0x30, 0x00, 0x00, 0x42, 0xf4];
    let code16 = [0xb0, 0x11, 0xf4];
    let run = |translated: bool| {
        let (mut cpu, mut bus) = machine(&code32);
        bus.mem.write(PhysAddr(0x3000), &code16);
        let mut bt = bt::Bt::new(&bus).unwrap();
        let mut go = |cpu: &mut Cpu, bus: &mut Bus| {
            if translated {
                bt.run(cpu, bus, 100)
            } else {
                cpu.run(bus, 100)
            }
        };
        let protected = cpu.state.clone();
        let real = |cpu: &mut Cpu| {
            cpu.state.cr0 &= !1;
            for s in &mut cpu.state.segs {
                *s = cpu::Segment::real(0, 0xffff, s.attr);
            }
            cpu.state.eip = 0x3000;
            cpu.state.halted = false;
        };
        real(&mut cpu);
        go(&mut cpu, &mut bus);
        assert_eq!(cpu.state.regs[0] & 0xff, 0x11);
        let mut p = protected.clone();
        p.halted = false;
        cpu.state = p;
        go(&mut cpu, &mut bus);
        real(&mut cpu);
        go(&mut cpu, &mut bus);
        cpu.state.regs[0] & 0xff
    };
    assert_eq!(run(false), 0x42, "the interpreter alone");
    assert_eq!(run(true), 0x42, "with the translator");
}

/// The interpreter writes a page (its TLB then holds a writable entry for
/// it), the translator translates code on that page, and the interpreter
/// (a string instruction it runs for the translator) rewrites that code:
/// the write must be seen, not pass through the stale TLB entry unseen.
#[test]
fn interpreter_stores_into_code_translated_after_they_began_are_seen() {
    use iced_x86::code_asm::*;
    let code = asm(|a| {
        // Strings are left to the interpreter (DS has a limit, below).
        a.mov(edi, 0x2800)?;
        a.mov(ecx, 16)?;
        a.mov(al, 0x90)?;
        a.rep().stosb()?; // the interpreter writes page 0x2000
        a.call(0x2100u64)?; // translated there: mov eax, 0x11; ret
        a.mov(ebx, eax)?;
        a.mov(edi, 0x2101)?;
        a.mov(ecx, 1)?;
        a.mov(al, 0x42)?;
        a.rep().stosb()?; // mov eax, 0x42
        a.call(0x2100u64)?;
        a.cli()?;
        a.hlt()
    });
    let callee = [0xb8, 0x11, 0, 0, 0, 0xc3];
    let run = |translated: bool| {
        let (mut cpu, mut bus) = machine(&code);
        bus.mem.write(PhysAddr(0x2100), &callee);
        cpu.state.segs[cpu::SegReg::Ds as usize].limit = 0xffff_fffe;
        if translated {
            let mut bt = bt::Bt::new(&bus).unwrap();
            bt.run(&mut cpu, &mut bus, 10_000);
            assert!(bt.stats.executed > 0);
        } else {
            cpu.run(&mut bus, 10_000);
        }
        (cpu.state.regs[3], cpu.state.regs[0])
    };
    assert_eq!(run(false), (0x11, 0x42), "the interpreter alone");
    assert_eq!(run(true), (0x11, 0x42), "with the translator");
}

/// FDP and FDS are those of the last x87 instruction with a memory operand,
/// also when instructions without one follow in the same block (the fuzzer
/// found the translator losing them).
#[test]
fn x87_data_pointer_survives_later_register_instructions() {
    use iced_x86::code_asm::*;
    let code = asm(|a| {
        a.fninit()?; // exceptions masked
        a.mov(ebx, 0x3d6)?;
        a.fild(dword_ptr(ebx))?;
        a.fld1()?;
        a.fscale()?;
        a.fadd_2(st0, st1)?;
        a.cli()?;
        a.hlt()
    });
    let (a, b, bt) = run_both_with(&code, 1000, |_, _| {});
    assert_eq!(a.state.fpu.fdp, 0x3d6);
    assert_eq!(a.state.fpu, b.state.fpu);
    assert!(
        bt.stats.executed >= 5,
        "the x87 code ran translated: {:?}",
        bt.stats
    );
}

/// PUSHAD whose frame wraps below address 0 raises #SS before writing
/// anything; the translated form must not leave part of the frame behind
/// (the fuzzer found it writing EAX's slot first).
#[test]
fn pushad_that_wraps_below_zero_writes_nothing() {
    use iced_x86::code_asm::*;
    let code = asm(|a| {
        a.mov(eax, 0x1122_3344)?;
        a.mov(esp, 5)?;
        a.pushad()?;
        a.cli()?;
        a.hlt()
    });
    let (a, b, bt) = run_both_with(&code, 1000, |_, _| {});
    assert_eq!(a.state.regs, b.state.regs);
    assert!(bt.stats.executed > 0, "{:?}", bt.stats);
}
