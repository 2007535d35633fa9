//! The run loop through the public API: self-modifying code, interrupt
//! acceptance with the STI and MOV SS shadows, HLT, triple faults.

use cpu::{Bus, Cpu, Exit, InterruptController};
use mem::{Attention, PhysAddr, PhysMemory};
use std::cell::Cell;
use std::rc::Rc;

/// A machine in real mode with `code` at 0000:1000 and SS:SP = 0000:8000.
fn real_mode(code: &[u8]) -> (Cpu, Bus) {
    let mut bus = Bus::new(PhysMemory::new(2).unwrap());
    bus.mem.write(PhysAddr(0x1000), code);
    let mut cpu = Cpu::new();
    for s in &mut cpu.state.segs {
        s.selector = 0;
        s.base = 0;
    }
    cpu.state.eip = 0x1000;
    cpu.state.regs[cpu::reg::ESP] = 0x8000;
    (cpu, bus)
}

#[test]
fn self_modifying_code_is_seen() {
    // 1000: mov byte [0x1008], 0x42   ; patch the immediate of the mov below
    // 1005: nop
    // 1006: nop
    // 1007: mov al, 0x00              ; becomes mov al, 0x42
    // 1009: cli
    // 100a: hlt
    let code = [0xc6, 0x06, 0x08, 0x10, 0x42, 0x90, 0x90, 0xb0, 0x00, 0xfa, 0xf4];
    let (mut cpu, mut bus) = real_mode(&code);
    assert_eq!(cpu.run(&mut bus, 100), Exit::DeadHalt);
    assert_eq!(cpu.state.regs[0] & 0xff, 0x42, "the patched instruction ran");
    assert!(cpu.stats.smc_invalidations >= 1);

    // Run it again after patching from outside through the bus, as DMA would.
    let (mut cpu, mut bus) = real_mode(&code);
    cpu.state.eip = 0x1007;
    assert_eq!(cpu.run(&mut bus, 100), Exit::DeadHalt);
    assert_eq!(cpu.state.regs[0] & 0xff, 0x00);
    bus.mem.write(PhysAddr(0x1008), &[0x77]);
    cpu.state.eip = 0x1007;
    cpu.state.halted = false;
    assert_eq!(cpu.run(&mut bus, 100), Exit::DeadHalt);
    assert_eq!(
        cpu.state.regs[0] & 0xff,
        0x77,
        "a write from outside drops the decoded block"
    );
}

/// An interrupt controller with one level-triggered request.
struct Line {
    asserted: Rc<Cell<bool>>,
    vector: u8,
    acks: Rc<Cell<u32>>,
}

impl InterruptController for Line {
    fn pending(&self) -> bool {
        self.asserted.get()
    }
    fn acknowledge(&mut self) -> u8 {
        self.asserted.set(false);
        self.acks.set(self.acks.get() + 1);
        self.vector
    }
}

fn with_line(bus: &mut Bus, vector: u8) -> (Rc<Cell<bool>>, Rc<Cell<u32>>) {
    let asserted = Rc::new(Cell::new(false));
    let acks = Rc::new(Cell::new(0));
    bus.intc = Some(Box::new(Line {
        asserted: asserted.clone(),
        vector,
        acks: acks.clone(),
    }));
    (asserted, acks)
}

fn raise(bus: &Bus, line: &Cell<bool>) {
    line.set(true);
    bus.attention.raise(Attention::IRQ);
}

#[test]
fn sti_shadow_delays_the_interrupt_by_one_instruction() {
    // Vector 0x20 -> 0000:2000: inc bx; iret
    // 1000: sti
    // 1001: inc ax          ; runs before the interrupt (STI shadow)
    // 1002: inc cx          ; interrupt taken before this one
    // 1003: cli
    // 1004: hlt
    let (mut cpu, mut bus) = real_mode(&[0xfb, 0x40, 0x41, 0xfa, 0xf4]);
    bus.mem.write(PhysAddr(0x20 * 4), &[0x00, 0x20, 0x00, 0x00]);
    bus.mem.write(PhysAddr(0x2000), &[0x43, 0xcf]);
    let (line, acks) = with_line(&mut bus, 0x20);
    raise(&bus, &line);
    // STI alone: the shadow covers the next instruction.
    assert_eq!(cpu.run(&mut bus, 1), Exit::Budget);
    assert_eq!(acks.get(), 0, "not taken right after STI");
    assert_eq!(cpu.run(&mut bus, 1), Exit::Budget);
    assert_eq!(cpu.state.regs[0] & 0xffff, 1, "inc ax ran inside the shadow");
    assert_eq!(acks.get(), 0);
    assert_eq!(cpu.run(&mut bus, 100), Exit::DeadHalt);
    assert_eq!(acks.get(), 1);
    assert_eq!(cpu.state.regs[3] & 0xffff, 1, "handler ran");
    assert_eq!(cpu.state.regs[1] & 0xffff, 1, "and returned to inc cx");
}

#[test]
fn hlt_wakes_on_interrupt_and_masked_requests_wait() {
    // 1000: sti ; 1001: hlt ; 1002: cli ; 1003: hlt
    let (mut cpu, mut bus) = real_mode(&[0xfb, 0xf4, 0xfa, 0xf4]);
    bus.mem.write(PhysAddr(0x21 * 4), &[0x00, 0x20, 0x00, 0x00]);
    bus.mem.write(PhysAddr(0x2000), &[0x43, 0xcf]); // inc bx; iret
    let (line, acks) = with_line(&mut bus, 0x21);
    assert_eq!(
        cpu.run(&mut bus, 100),
        Exit::Halted,
        "HLT with IF=1 waits for the board"
    );
    raise(&bus, &line);
    assert_eq!(
        cpu.run(&mut bus, 100),
        Exit::DeadHalt,
        "woken, handled, then cli; hlt"
    );
    assert_eq!(acks.get(), 1);
    assert_eq!(cpu.state.regs[3] & 0xffff, 1);
    assert_eq!(cpu.state.eip, 0x1004);

    // With IF=0 a request stays pending and the flag stays up.
    let (mut cpu, mut bus) = real_mode(&[0x90, 0x90, 0xfa, 0xf4]);
    let (line, acks) = with_line(&mut bus, 0x21);
    raise(&bus, &line);
    assert_eq!(cpu.run(&mut bus, 100), Exit::DeadHalt);
    assert_eq!(acks.get(), 0);
    assert_ne!(bus.attention.get() & Attention::IRQ, 0);
}

#[test]
fn mov_ss_shadow_holds_off_interrupts() {
    // 1000: sti; nop ; 1002: mov ss, ax ; 1004: mov sp, 0x7000 ; 1007: cli; hlt
    let (mut cpu, mut bus) = real_mode(&[0xfb, 0x90, 0x8e, 0xd0, 0xbc, 0x00, 0x70, 0xfa, 0xf4]);
    bus.mem.write(PhysAddr(0x22 * 4), &[0x00, 0x20, 0x00, 0x00]);
    bus.mem.write(PhysAddr(0x2000), &[0x89, 0xe3, 0xcf]); // mov bx, sp; iret
    let (line, acks) = with_line(&mut bus, 0x22);
    assert_eq!(cpu.run(&mut bus, 3), Exit::Budget); // sti; nop; mov ss, ax
    raise(&bus, &line);
    assert_eq!(cpu.run(&mut bus, 1), Exit::Budget); // mov sp, 0x7000 (in the shadow)
    assert_eq!(acks.get(), 0);
    assert_eq!(cpu.state.eip, 0x1007);
    assert_eq!(cpu.run(&mut bus, 100), Exit::DeadHalt);
    assert_eq!(acks.get(), 1);
    // The handler saw the new SP, minus the 6-byte frame.
    assert_eq!(cpu.state.regs[3] & 0xffff, 0x7000 - 6);
}

#[test]
fn triple_fault_is_reported() {
    // lidt with limit 0, then int3: #GP -> #DF -> shutdown.
    let (mut cpu, mut bus) = real_mode(&[0x0f, 0x01, 0x1e, 0x00, 0x30, 0xcc]);
    bus.mem.write(PhysAddr(0x3000), &[0; 6]);
    assert_eq!(cpu.run(&mut bus, 100), Exit::TripleFault);
}

#[test]
fn xlat_in_both_address_sizes() {
    // 1000: mov bx, 0x2000 ; mov al, 3 ; xlatb ; cli ; hlt
    let (mut cpu, mut bus) = real_mode(&[0xbb, 0x00, 0x20, 0xb0, 0x03, 0xd7, 0xfa, 0xf4]);
    bus.mem.write(PhysAddr(0x2000), &[10, 11, 12, 13]);
    assert_eq!(cpu.run(&mut bus, 100), Exit::DeadHalt);
    assert_eq!(cpu.state.regs[0] & 0xff, 13);
    // a32 form: 67 d7 uses EBX.
    let (mut cpu, mut bus) = real_mode(&[
        0x66, 0xbb, 0x00, 0x20, 0x00, 0x00, 0xb0, 0x01, 0x67, 0xd7, 0xfa, 0xf4,
    ]);
    bus.mem.write(PhysAddr(0x2000), &[10, 11, 12, 13]);
    assert_eq!(cpu.run(&mut bus, 100), Exit::DeadHalt);
    assert_eq!(cpu.state.regs[0] & 0xff, 11);
}
