//! Translator vs interpreter on small programs.

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
