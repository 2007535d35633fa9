//! Another thread's raise of the attention flag reaches translated code: the
//! translator's thread leaves it at the next block boundary, with the guest
//! state exact, however often and wherever the kick lands.

#![cfg(bt_host)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use cpu::{Bus, Cpu, Exit};
use mem::{Attention, PhysAddr, PhysMemory};

/// An endless loop of two chained blocks, using ECX (which the budget
/// check swaps with the budget):
///
/// ```text
/// 1000: inc eax; add [2000h], eax; add ecx, 3; jmp 100eh   ; forward edge
/// 100e: inc ebx; jmp 1000h                                  ; backward edge
/// ```
///
/// At every block boundary a backward edge reaches, EBX = EAX, ECX = 3·EAX
/// and [2000h] = 1 + 2 + … + EAX.
const LOOP: [u8; 17] = [
    0x40, 0x01, 0x05, 0x00, 0x20, 0x00, 0x00, 0x83, 0xc1, 0x03, 0xeb, 0x02, 0x90, 0x90, 0x43, 0xeb, 0xef,
];

fn machine() -> (Cpu, Bus) {
    let mut bus = Bus::new(PhysMemory::new(4).unwrap());
    bus.mem.write(PhysAddr(0x1000), &LOOP);
    let mut cpu = Cpu::new();
    cpu.state.set_flat32(0);
    cpu.state.eip = 0x1000;
    cpu.state.regs[4] = 0x8000;
    (cpu, bus)
}

/// Checks the loop's invariant at a block boundary.
fn check(cpu: &Cpu, bus: &mut Bus) {
    let [eax, ecx, _, ebx, ..] = cpu.state.regs;
    let mut m = [0u8; 4];
    bus.mem.read(PhysAddr(0x2000), &mut m);
    let sum = (u64::from(eax) * (u64::from(eax) + 1) / 2) as u32;
    assert_eq!(cpu.state.eip, 0x1000, "left at the loop head");
    assert_eq!(ebx, eax, "EBX");
    assert_eq!(ecx, eax.wrapping_mul(3), "ECX");
    assert_eq!(u32::from_le_bytes(m), sum, "the running sum");
}

/// Fails the test (ends the process) if `done` does not come within a
/// minute: a kick that never arrives must not hang the suite.
fn watchdog(what: &'static str) -> mpsc::Sender<()> {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(60)) {
            eprintln!("kick test: {what} did not return within a minute");
            std::process::abort();
        }
    });
    tx
}

#[test]
fn a_stop_from_another_thread_ends_an_endless_translated_loop() {
    let (mut cpu, mut bus) = machine();
    let mut bt = bt::Bt::new(&bus).unwrap();
    // Translate the loop first, so that the run below enters it at once.
    assert_eq!(bt.run(&mut cpu, &mut bus, 1000), Exit::Budget);
    check(&cpu, &mut bus);
    // On a loaded machine the raise may come before this thread has entered
    // translated code; the run loop then sees the stop itself (no kick was
    // needed) and the attempt is made again.
    let mut kicked = false;
    for _attempt in 0..5 {
        bus.attention.clear(Attention::STOP);
        let attention: Attention = bus.attention.clone();
        let raiser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            attention.raise(Attention::STOP);
        });
        let done = watchdog("Bt::run with an unlimited budget");
        let before = bt.stats.executed;
        let exit = bt.run(&mut cpu, &mut bus, u64::MAX);
        let _ = done.send(());
        raiser.join().unwrap();
        check(&cpu, &mut bus);
        if exit == Exit::Stop {
            continue;
        }
        assert_eq!(exit, Exit::Budget, "a kick ends the slice");
        assert!(bt.stats.kicks >= 1, "the kick was taken: {:?}", bt.stats);
        assert!(
            bt.stats.executed - before > 10_000,
            "translated code ran: {:?}",
            bt.stats
        );
        kicked = true;
        break;
    }
    assert!(kicked, "five raises all came before translated code ran");
    // The interpreter sees the stop request at the run loop's next look.
    assert_eq!(bt.run(&mut cpu, &mut bus, 1000), Exit::Stop);
    check(&cpu, &mut bus);
}

#[test]
fn thousands_of_kicks_leave_the_guest_state_exact() {
    let (mut cpu, mut bus) = machine();
    let mut bt = bt::Bt::new(&bus).unwrap();
    let attention: Attention = bus.attention.clone();
    /// Returns from translated code the test waits for.
    const RETURNS: u64 = 1000;
    let returns = Arc::new(AtomicU64::new(0));
    let seen = returns.clone();
    // IRQ with IF clear: nothing to deliver, so each kick only makes the
    // loop leave translated code and come back. Kicks at uneven intervals,
    // so that they land all over the loop's host code, until the loop has
    // come back often enough (on a loaded machine the thread may be off
    // the CPU for a while; a raise then sends no signal or merges with a
    // pending one) or a generous time has passed.
    let raiser = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        let mut k = 0u32;
        while seen.load(Ordering::SeqCst) < RETURNS && start.elapsed() < Duration::from_secs(30) {
            attention.raise(Attention::IRQ);
            for _ in 0..(k * 7919) % 20_000 {
                std::hint::spin_loop();
            }
            k = k.wrapping_add(1);
        }
        attention.raise(Attention::STOP);
    });
    let done = watchdog("the kicked loop");
    loop {
        let exit = bt.run(&mut cpu, &mut bus, u64::MAX);
        returns.fetch_add(1, Ordering::SeqCst);
        check(&cpu, &mut bus);
        if exit == Exit::Stop {
            break;
        }
        assert_eq!(exit, Exit::Budget);
    }
    let _ = done.send(());
    raiser.join().unwrap();
    let returns = returns.load(Ordering::SeqCst);
    eprintln!("{returns} returns, {:?}", bt.stats);
    assert!(returns >= RETURNS, "the loop came back {returns} times");
    assert!(
        bt.stats.kicks >= RETURNS - 1,
        "each return was a kick: {:?}",
        bt.stats
    );
}

#[test]
fn a_raise_on_the_running_thread_itself_sends_no_signal() {
    let (mut cpu, mut bus) = machine();
    let mut bt = bt::Bt::new(&bus).unwrap();
    assert_eq!(bt.run(&mut cpu, &mut bus, 100_000), Exit::Budget);
    bus.attention.raise(Attention::IRQ);
    assert_eq!(bt.run(&mut cpu, &mut bus, 100_000), Exit::Budget);
    assert_eq!(bt.stats.kicks, 0, "{:?}", bt.stats);
    check(&cpu, &mut bus);
}
