//! Golden translation listings: the host code for a fixed set of guest
//! instructions (one of each translation class), compared with
//! `tests/golden/listings.txt` so that a change in generated code shows in
//! review. `STRACHEY_BLESS=1` accepts the new output.

use iced_x86::code_asm::*;

type Asm = fn(&mut CodeAssembler) -> Result<(), iced_x86::IcedError>;

/// (what it shows, the guest code); translated in the usual mode: flat
/// segments, x87 on the host FPU, FS and GS unusable.
const CASES: &[(&str, Asm)] = &[
    ("identity: register ALU", |a| a.add(eax, ebx)),
    ("identity: memory operand through GS", |a| {
        a.mov(edx, dword_ptr(eax * 4 + 0x10000))
    }),
    ("identity: absolute address", |a| a.mov(dword_ptr(0x3000), ecx)),
    ("identity: guest ESP is r12d", |a| a.lea(eax, ptr(esp + 8))),
    ("identity: short INC becomes the r/m form", |a| a.inc(eax)),
    ("identity: locked read-modify-write", |a| {
        a.lock().xadd(dword_ptr(ebx), ecx)
    }),
    ("identity: CMPXCHG8B", |a| a.cmpxchg8b(qword_ptr(esi))),
    ("stack: PUSH register", |a| a.push(eax)),
    ("stack: PUSH immediate", |a| a.push(0x1234_5678)),
    ("stack: POP register", |a| a.pop(ecx)),
    ("stack: POP ESP", |a| a.pop(esp)),
    ("stack: PUSH from memory", |a| a.push(dword_ptr(esp + 8))),
    ("stack: PUSHAD (stores, then ESP)", |a| a.pushad()),
    ("stack: POPAD (loads, then ESP)", |a| a.popad()),
    ("stack: LEAVE", |a| a.leave()),
    ("string: REP MOVSD on rebased RSI/RDI", |a| a.rep().movsd()),
    ("string: REPNE SCASB", |a| a.repne().scasb()),
    ("string: LODSB without REP: moves, DF known from the mode", |a| {
        a.lodsb()
    }),
    ("string: CMPSD without REP", |a| a.cmpsd()),
    ("flags: STD ends the block (DF is part of the mode)", |a| {
        a.std()?;
        a.nop()
    }),
    ("control: JMP rel32 (chainable exit)", |a| {
        let mut l = a.create_label();
        a.jmp(l)?;
        a.nop()?;
        a.set_label(&mut l)?;
        a.nop()
    }),
    ("control: Jcc (two chainable exits)", |a| {
        let mut l = a.create_label();
        a.jne(l)?;
        a.nop()?;
        a.set_label(&mut l)?;
        a.nop()
    }),
    ("control: CALL rel32", |a| {
        let mut l = a.create_label();
        a.call(l)?;
        a.set_label(&mut l)?;
        a.nop()
    }),
    ("control: RET through the indirect-branch table", |a| a.ret()),
    ("control: RET imm16", |a| a.ret_1(8)),
    ("control: LOOP (flag-neutral: LEA and JRCXZ)", |a| {
        let mut l = a.create_label();
        a.set_label(&mut l)?;
        a.loop_(l)
    }),
    ("control: indirect JMP through memory", |a| {
        a.jmp(dword_ptr(ebx + 8))
    }),
    ("control: indirect CALL through a register", |a| a.call(eax)),
    ("x87: FLD from memory (FPU load check, guest FIP/FOP/FDP)", |a| {
        a.fld(qword_ptr(ebx))
    }),
    ("x87: register arithmetic", |a| a.fmul_2(st0, st3)),
    ("x87: FNSTSW AX (a control instruction)", |a| a.fnstsw(ax)),
    ("MMX: PADDW", |a| a.paddw(mm0, qword_ptr(edi))),
    ("fallback: a run ends before a sensitive instruction", |a| {
        a.mov(eax, 1)?;
        a.out(0x80, al)
    }),
    (
        "fallback: FS-relative access while FS is not a 4 GiB data segment",
        |a| {
            a.xor(eax, eax)?;
            a.mov(eax, dword_ptr(0).fs())
        },
    ),
];

/// Cases translated in other modes: (what, mode bits, the guest code).
const MODE_CASES: &[(&str, u8, Asm)] = &[
    (
        "segment base: FS-relative access adds FS's base at run time",
        bt::MODE_FPU | bt::MODE_FS,
        |a| a.mov(eax, dword_ptr(ebx + 0x10).fs()),
    ),
    (
        "segment base: DS with a base other than 0",
        bt::MODE_FPU | bt::MODE_DS_BASE,
        |a| a.add(dword_ptr(esi + ecx * 2), edx),
    ),
    (
        "segment base: SS with a base other than 0 leaves PUSH to the interpreter",
        bt::MODE_FPU | bt::MODE_SS_BASE,
        |a| {
            a.mov(eax, dword_ptr(ebp - 8))?;
            a.push(eax)
        },
    ),
    (
        "segment limit: each access checked against its segment's limit",
        bt::MODE_FPU | bt::MODE_LIMITS,
        |a| {
            a.mov(eax, dword_ptr(esi + 4))?;
            a.add(word_ptr(edi).es(), ax)
        },
    ),
    (
        "segment limit: with a base, the offset is checked before the base is added",
        bt::MODE_FPU | bt::MODE_LIMITS | bt::MODE_DS_BASE,
        |a| a.mov(dword_ptr(ebx + ecx * 4), edx),
    ),
    (
        "segment limit: string instructions are left to the interpreter",
        bt::MODE_FPU | bt::MODE_LIMITS,
        |a| a.rep().movsd(),
    ),
    (
        "x87 with CR0.TS or CR0.EM set: left to the interpreter (#NM)",
        0,
        |a| a.fld1(),
    ),
    (
        "string: STOSD without REP with DF set",
        bt::MODE_FPU | bt::MODE_DF,
        |a| a.stosd(),
    ),
];

fn render() -> String {
    let mut out = String::new();
    let all = CASES
        .iter()
        .map(|(w, f)| (*w, bt::MODE_FPU, *f))
        .chain(MODE_CASES.iter().copied());
    for (what, mode, f) in all {
        let mut a = CodeAssembler::new(32).unwrap();
        f(&mut a).unwrap();
        // A sensitive instruction after each case ends the block.
        a.cli().unwrap();
        let bytes = a.assemble(0x1000).unwrap();
        out.push_str(&format!("## {what}\n"));
        match bt::listing_at_fixed_addresses(&bytes, 0x1000, mode) {
            Some(l) => out.push_str(&l),
            None => out.push_str("left to the interpreter\n"),
        }
        out.push('\n');
    }
    out
}

#[test]
fn translations_match_the_golden_listings() {
    let path = format!("{}/tests/golden/listings.txt", env!("CARGO_MANIFEST_DIR"));
    let now = render();
    if std::env::var_os("STRACHEY_BLESS").is_some() {
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != now {
        let first = want
            .lines()
            .zip(now.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(now.lines().count()));
        panic!(
            "the translation differs from {path} from line {} on:\n  stored: {:?}\n  now:    {:?}\n(STRACHEY_BLESS=1 accepts the new listings)",
            first + 1,
            want.lines().nth(first),
            now.lines().nth(first)
        );
    }
}
