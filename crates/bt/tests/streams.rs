//! Random instruction streams under the translator and the interpreter from
//! the same state: registers, flags, the data window, where execution
//! stopped and how (including faults inside translated code: #DE, #GP, #UD,
//! accesses outside RAM) must agree. Streams are built from the host-oracle
//! instruction forms (`testkit::gen`). `STRACHEY_BT_STREAMS=N` runs more.

#![cfg(bt_host)]

use cpu::{Bus, Cpu};
use mem::{PhysAddr, PhysMemory};
use testkit::{forms, generate, Rng, DATA_BASE, DATA_SIZE};

const CODE: u32 = 0x0010_0000;

/// A fresh CPU on `bus` (reused between streams: creating a translator
/// reserves 8 GiB of address space and a code cache, too slow per stream).
fn machine(bus: &mut Bus, code: &[u8], regs: [u32; 8], eflags: u32, data: &[u8]) -> Cpu {
    bus.mem.write(PhysAddr(u64::from(CODE)), &[0; 4096]);
    bus.mem.write(PhysAddr(u64::from(CODE)), code);
    bus.mem.write(PhysAddr(u64::from(DATA_BASE)), data);
    // These writes replaced the last stream's code: not the guest's doing.
    bus.mem.take_smc_pages();
    let mut cpu = Cpu::new();
    cpu.state.set_flat32(0);
    cpu.state.regs = regs;
    // Keep REP counts small (the stream mixes forms with one state).
    cpu.state.regs[1] &= 0x3f;
    // A stack inside RAM, away from code and data.
    cpu.state.regs[4] = 0x0030_0000;
    cpu.state.eflags = (eflags & !cpu::flags::IF) | cpu::flags::FIXED1;
    cpu.state.eip = CODE;
    // No IDT: any exception ends in a triple fault, in both engines alike.
    cpu.state.idtr = cpu::TableReg { base: 0, limit: 0 };
    cpu
}

#[test]
fn random_streams_agree() {
    let n: u64 = std::env::var("STRACHEY_BT_STREAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let forms: Vec<_> = forms().into_iter().filter(|f| f.group != "trap").collect();
    let mut rng = Rng::new(0xb7);
    let mut abus = Bus::new(PhysMemory::new(8).unwrap());
    let mut bbus = Bus::new(PhysMemory::new(8).unwrap());
    let mut bt = bt::Bt::new(&bbus).unwrap();
    let (mut exits, mut mismatches) = (std::collections::BTreeMap::new(), Vec::new());
    for s in 0..n {
        // A stream of 1..12 instructions from random forms, the state of
        // the first; then `cli; hlt`.
        let len = 1 + (s % 12);
        let first = generate(&forms[(s as usize * 7919) % forms.len()], s, &mut rng);
        let mut code = first.bytes.clone();
        for k in 1..len {
            let f = &forms[((s * 31 + k * 17) as usize) % forms.len()];
            code.extend_from_slice(&generate(f, s * 100 + k, &mut rng).bytes);
        }
        code.extend_from_slice(&[0xfa, 0xf4]);
        if std::env::var("STRACHEY_BT_STREAM_SHOW")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            == Some(s)
        {
            let mut d =
                iced_x86::Decoder::with_ip(32, &code, u64::from(CODE), iced_x86::DecoderOptions::NONE);
            for i in d.iter() {
                println!("{:#x}: {i}", i.ip());
            }
            println!(
                "regs {:08x?} eflags {:#x}",
                first.before.regs, first.before.eflags
            );
        }
        let mut data = first.before.mem.clone();
        data.resize(DATA_SIZE, 0);
        let mut a = machine(&mut abus, &code, first.before.regs, first.before.eflags, &data);
        let ea = a.run(&mut abus, 20_000);
        bt.reset();
        let mut b = machine(&mut bbus, &code, first.before.regs, first.before.eflags, &data);
        let eb = bt.run(&mut b, &mut bbus, 20_000);
        // A stream that writes over its own code is left out: where a REP
        // that overwrites itself is split (by a fault in translated code,
        // by the interpreter's chunks, by an interrupt on real hardware)
        // decides what runs next.
        if !a.take_smc_log().is_empty() {
            *exits.entry("self-modifying (skipped)".into()).or_insert(0u64) += 1;
            // The two machines' memories may now differ: start afresh.
            (abus, bbus) = (
                Bus::new(PhysMemory::new(8).unwrap()),
                Bus::new(PhysMemory::new(8).unwrap()),
            );
            bt = bt::Bt::new(&bbus).unwrap();
            continue;
        }
        // A stream that loops for ever stops where each engine's budget
        // (instructions, blocks) runs out: only its not finishing counts.
        if ea == cpu::Exit::Budget && eb == cpu::Exit::Budget {
            *exits.entry("still running (budget)".into()).or_insert(0u64) += 1;
            (abus, bbus) = (
                Bus::new(PhysMemory::new(8).unwrap()),
                Bus::new(PhysMemory::new(8).unwrap()),
            );
            bt = bt::Bt::new(&bbus).unwrap();
            continue;
        }
        *exits.entry(format!("{ea:?}")).or_insert(0u64) += 1;
        let mut da = vec![0; DATA_SIZE];
        abus.mem.read(PhysAddr(u64::from(DATA_BASE)), &mut da);
        let mut db = vec![0; DATA_SIZE];
        bbus.mem.read(PhysAddr(u64::from(DATA_BASE)), &mut db);
        let fl = cpu::flags::ARITH | cpu::flags::DF;
        if ea != eb
            || a.state.regs != b.state.regs
            || a.state.eip != b.state.eip
            || a.state.eflags & fl != b.state.eflags & fl
            || da != db
        {
            mismatches.push(format!(
                "stream {s} ({}...): interp {ea:?} eip {:#x} regs {:08x?} fl {:#x} | bt {eb:?} eip {:#x} regs {:08x?} fl {:#x} | data {}",
                first.disassembly(),
                a.state.eip,
                a.state.regs,
                a.state.eflags & fl,
                b.state.eip,
                b.state.regs,
                b.state.eflags & fl,
                if da == db { "same" } else { "differs" }
            ));
        }
    }
    println!(
        "bt streams: {n} streams, exits {exits:?}, {} mismatches",
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{}",
        mismatches.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
    );
}
