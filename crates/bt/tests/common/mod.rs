//! Lock step of the translator with the interpreter, shared by the test
//! ROMs (`lockstep.rs`) and the random-code fuzzer (`fuzz.rs`): after every
//! translated block (or interpreted instruction) the translator's machine is
//! compared with an interpreter-only machine brought to the same point.

use cpu::{Bus, Cpu, Exit};

/// How a lock-step run ended.
#[derive(Debug)]
pub struct Ended {
    /// Steps taken (translated blocks or interpreted instructions).
    pub steps: u64,
    /// How both machines stopped (`Exit::Budget` if `max_steps` ran out).
    pub exit: Exit,
    /// Transcendental results taken from the host (see
    /// `transcendental_deviation`).
    pub deviations: u32,
    /// The machines stopped being comparable in a repeated string
    /// instruction that the interpreter ran in chunks (`Cpu::rep_chunk`)
    /// and the host at once: the run ended there.
    pub rep_desync: bool,
}

/// Whether the instruction at EIP (flat, unpaged) is a repeated string
/// instruction.
fn at_rep(cpu: &Cpu, bus: &mut Bus) -> bool {
    if cpu.state.paging() {
        return false;
    }
    let mut b = [0u8; 15];
    bus.mem.read(mem::PhysAddr(u64::from(cpu.state.eip)), &mut b);
    let i = iced_x86::Decoder::with_ip(32, &b, 0, iced_x86::DecoderOptions::NONE).decode();
    i.is_string_instruction() && (i.has_rep_prefix() || i.has_repne_prefix())
}

/// Run `b` under `bt` and `a` under the interpreter, both from the same
/// state, comparing after every step; `Err` describes the first
/// difference.
pub fn lockstep(
    a: &mut Cpu,
    abus: &mut Bus,
    b: &mut Cpu,
    bbus: &mut Bus,
    bt: &mut bt::Bt,
    max_steps: u64,
) -> Result<Ended, String> {
    // A budget of one must run one block: compare after every block.
    if !bt.check_every_block {
        bt.check_every_block = true;
        bt.reset();
    }
    let (mut done_native, mut done_interp) = (bt.stats.executed, b.stats.instructions);
    let mut deviations = 0u32;
    for step in 0..max_steps {
        let before = b.state.clone();
        let eb = bt.run(b, bbus, 1);
        if eb != Exit::Budget {
            let ea = a.run(abus, 10_000_000);
            if ea != eb || a.state.regs != b.state.regs {
                if std::env::var_os("LOCKSTEP_TRACE").is_some() {
                    eprintln!("before the last step: {:x?}", before);
                }
                return Err(format!(
                    "step {step}: exits {ea:?} (interp) and {eb:?} (bt), registers {:08x?} and {:08x?}",
                    a.state.regs, b.state.regs
                ));
            }
            return Ok(Ended {
                steps: step,
                exit: eb,
                deviations,
                rep_desync: false,
            });
        }
        // Bring the interpreter to the same place: as many instructions as
        // the translator's machine executed (natively and interpreted).
        let n = (bt.stats.executed - done_native) + (b.stats.instructions - done_interp);
        done_native = bt.stats.executed;
        done_interp = b.stats.instructions;
        if n > 0 {
            let e = a.run(abus, n);
            if e != Exit::Budget {
                if std::env::var_os("LOCKSTEP_TRACE").is_some() {
                    eprintln!("interp state {:x?}\nbt state {:x?}", a.state, b.state);
                }
                return Err(format!("step {step}: the interpreter stopped early ({e:?})"));
            }
        }
        // The interpreter counts each chunk of a long repeated string
        // instruction (`Cpu::rep_chunk`), host code the whole repetition as
        // one: after one, the interpreter may still be behind. Let it catch
        // up a few instructions at a time.
        let mut extra = 0;
        while (a.state.eip != b.state.eip || a.state.regs != b.state.regs)
            && extra < 64
            && a.rep_chunk != u32::MAX
        {
            let (eip, regs) = (a.state.eip, a.state.regs);
            if a.run(abus, 1) != Exit::Budget || (a.state.eip, a.state.regs) == (eip, regs) {
                break;
            }
            extra += 1;
        }
        if let Some(w) = std::env::var("LOCKSTEP_MEM")
            .ok()
            .and_then(|v| u64::from_str_radix(&v, 16).ok())
        {
            let (mut x, mut y) = (vec![0u8; 0x1000], vec![0u8; 0x1000]);
            abus.mem.read(mem::PhysAddr(w & !0xfff), &mut x);
            bbus.mem.read(mem::PhysAddr(w & !0xfff), &mut y);
            if x != y {
                eprintln!("step {step}: page {w:#x} differs");
            }
        }
        if std::env::var("LOCKSTEP_TRACE").is_ok() {
            let mut bytes = [0u8; 15];
            bbus.mem.read(mem::PhysAddr(u64::from(before.eip)), &mut bytes);
            let i =
                iced_x86::Decoder::with_ip(32, &bytes, u64::from(before.eip), iced_x86::DecoderOptions::NONE)
                    .decode();
            // The bytes at the step's start as they are now (code may have
            // rewritten them), and the string registers of both machines.
            eprintln!(
                "  at {:#x} now: {i} (bt: ecx {:#x} esi {:#x} edi {:#x}; interp: ecx {:#x} esi {:#x} edi {:#x})",
                before.eip,
                b.state.regs[1],
                b.state.regs[6],
                b.state.regs[7],
                a.state.regs[1],
                a.state.regs[6],
                a.state.regs[7]
            );
            eprintln!(
                "step {step}: from {:#x} n={n} -> a {:#x} b {:#x} stats {:?}",
                before.eip,
                a.state.eip,
                b.state.eip,
                (bt.stats.executed, bt.stats.fallbacks, bt.stats.faults_segv)
            );
        }
        let differs = a.state.eip != b.state.eip || a.state.regs != b.state.regs;
        if differs && (at_rep(a, abus) || at_rep(b, bbus)) {
            return Ok(Ended {
                steps: step,
                exit: Exit::Budget,
                deviations,
                rep_desync: true,
            });
        }
        if a.state.eip != b.state.eip {
            return Err(format!(
                "step {step} from eip {:#x}: EIPs differ: {:#x} (interp), {:#x} (bt)",
                before.eip, a.state.eip, b.state.eip
            ));
        }
        if a.state.fpu != b.state.fpu && transcendental_deviation(&a.state.fpu, &b.state.fpu) {
            // The host FPU (translated code) and f80 (interpreter) may
            // differ here as crates/testkit/known_deviations_x87.txt lists:
            // take the host's result and go on.
            a.state.fpu = b.state.fpu.clone();
            deviations += 1;
        }
        if a.state.fpu != b.state.fpu {
            return Err(format!(
                "step {step} from eip {:#x}: x87/MMX state differs\n interp {:x?}\n bt     {:x?}",
                before.eip, a.state.fpu, b.state.fpu
            ));
        }
        // The defined flags: arithmetic, DF, IF, TF, IOPL... (0xfd5 plus
        // the system flags above bit 11).
        let defined = !0x2a_u32;
        if a.state.regs != b.state.regs || (a.state.eflags ^ b.state.eflags) & defined != 0 {
            return Err(format!(
                "step {step} from eip {:#x}: state differs\n interp regs {:08x?} flags {:#x}\n bt     regs {:08x?} flags {:#x}",
                before.eip, a.state.regs, a.state.eflags, b.state.regs, b.state.eflags
            ));
        }
    }
    Ok(Ended {
        steps: max_steps,
        exit: Exit::Budget,
        deviations,
        rep_desync: false,
    })
}

/// Whether two x87 states differ only as a transcendental instruction (the
/// last one, by FOP) may make them differ: PE and C1 in the status word,
/// and registers by at most one unit in the last place.
pub fn transcendental_deviation(a: &cpu::fpu::Fpu, b: &cpu::fpu::Fpu) -> bool {
    // F2XM1, FYL2X, FPTAN, FPATAN, FYL2XP1, FSINCOS, FSIN, FCOS.
    const FOPS: [u16; 8] = [0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f9, 0x1fb, 0x1fe, 0x1ff];
    let loose = cpu::fpu::fsw::PE | cpu::fpu::fsw::C1;
    let close = |x: &cpu::fpu::Reg80, y: &cpu::fpu::Reg80| x.se == y.se && x.signif.abs_diff(y.signif) <= 1;
    FOPS.contains(&a.fop)
        && a.fop == b.fop
        && (a.fsw ^ b.fsw) & !loose == 0
        && a.regs.iter().zip(&b.regs).all(|(x, y)| close(x, y))
        && (a.fcw, a.ftw, a.fip, a.fdp) == (b.fcw, b.ftw, b.fip, b.fdp)
}
