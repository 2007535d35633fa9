//! Architectural state of an i686-class CPU.
//!
//! `#[repr(C)]` so that generated code can read it with `offset_of!`.

/// EFLAGS bits (Intel SDM Vol. 1, 3.4.3).
pub mod flags {
    /// Carry.
    pub const CF: u32 = 1 << 0;
    /// Always one.
    pub const FIXED1: u32 = 1 << 1;
    /// Parity of the low byte.
    pub const PF: u32 = 1 << 2;
    /// Auxiliary (BCD) carry.
    pub const AF: u32 = 1 << 4;
    /// Zero.
    pub const ZF: u32 = 1 << 6;
    /// Sign.
    pub const SF: u32 = 1 << 7;
    /// Trap (single step).
    pub const TF: u32 = 1 << 8;
    /// Interrupt enable.
    pub const IF: u32 = 1 << 9;
    /// Direction.
    pub const DF: u32 = 1 << 10;
    /// Overflow.
    pub const OF: u32 = 1 << 11;
    /// I/O privilege level (two bits).
    pub const IOPL: u32 = 3 << 12;
    /// Nested task.
    pub const NT: u32 = 1 << 14;
    /// Resume.
    pub const RF: u32 = 1 << 16;
    /// Virtual-8086 mode.
    pub const VM: u32 = 1 << 17;
    /// Alignment check.
    pub const AC: u32 = 1 << 18;
    /// Virtual interrupt flag (VME/PVI).
    pub const VIF: u32 = 1 << 19;
    /// Virtual interrupt pending.
    pub const VIP: u32 = 1 << 20;
    /// CPUID available (toggleable).
    pub const ID: u32 = 1 << 21;
    /// The six arithmetic status flags.
    pub const ARITH: u32 = CF | PF | AF | ZF | SF | OF;
    /// Every bit software can ever see set on an i686.
    pub const VALID: u32 = ARITH | FIXED1 | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;
}

/// CR0 bits (SDM Vol. 3A, 2.5).
pub mod cr0 {
    /// Protection enable.
    pub const PE: u32 = 1 << 0;
    /// Monitor coprocessor.
    pub const MP: u32 = 1 << 1;
    /// Emulation (no x87).
    pub const EM: u32 = 1 << 2;
    /// Task switched.
    pub const TS: u32 = 1 << 3;
    /// Extension type (always 1 on a 486+).
    pub const ET: u32 = 1 << 4;
    /// Numeric error reporting.
    pub const NE: u32 = 1 << 5;
    /// Supervisor write protect.
    pub const WP: u32 = 1 << 16;
    /// Alignment mask.
    pub const AM: u32 = 1 << 18;
    /// Not write-through.
    pub const NW: u32 = 1 << 29;
    /// Cache disable.
    pub const CD: u32 = 1 << 30;
    /// Paging.
    pub const PG: u32 = 1 << 31;
}

/// CR4 bits (SDM Vol. 3A, 2.5).
pub mod cr4 {
    /// Virtual-8086 mode extensions.
    pub const VME: u32 = 1 << 0;
    /// Protected-mode virtual interrupts.
    pub const PVI: u32 = 1 << 1;
    /// Time stamp disable (RDTSC privileged).
    pub const TSD: u32 = 1 << 2;
    /// Debugging extensions.
    pub const DE: u32 = 1 << 3;
    /// Page size extensions (4 MiB pages).
    pub const PSE: u32 = 1 << 4;
    /// Physical address extension (not implemented).
    pub const PAE: u32 = 1 << 5;
    /// Machine check enable.
    pub const MCE: u32 = 1 << 6;
    /// Page global enable.
    pub const PGE: u32 = 1 << 7;
    /// Performance counter enable.
    pub const PCE: u32 = 1 << 8;
    /// The bits this CPU accepts in CR4.
    pub const SUPPORTED: u32 = VME | PVI | TSD | DE | PSE | PGE | PCE;
}

/// Segment registers, in instruction-encoding order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SegReg {
    /// Extra segment.
    Es = 0,
    /// Code segment.
    Cs = 1,
    /// Stack segment.
    Ss = 2,
    /// Data segment.
    Ds = 3,
    /// FS.
    Fs = 4,
    /// GS.
    Gs = 5,
}

impl SegReg {
    /// All six, in encoding order.
    pub const ALL: [SegReg; 6] = [
        SegReg::Es,
        SegReg::Cs,
        SegReg::Ss,
        SegReg::Ds,
        SegReg::Fs,
        SegReg::Gs,
    ];
    /// Assembler name.
    pub fn name(self) -> &'static str {
        ["es", "cs", "ss", "ds", "fs", "gs"][self as usize]
    }
}

/// General registers, in encoding order.
pub mod reg {
    /// Accumulator.
    pub const EAX: usize = 0;
    /// Counter.
    pub const ECX: usize = 1;
    /// Data.
    pub const EDX: usize = 2;
    /// Base.
    pub const EBX: usize = 3;
    /// Stack pointer.
    pub const ESP: usize = 4;
    /// Frame pointer.
    pub const EBP: usize = 5;
    /// Source index.
    pub const ESI: usize = 6;
    /// Destination index.
    pub const EDI: usize = 7;
}

/// A segment register with its hidden descriptor cache (SDM Vol. 3A, 3.4.3).
///
/// `attr` uses the VMX access-rights layout: bits 0–3 type, 4 S, 5–6 DPL,
/// 7 P, 12 AVL, 14 D/B, 15 G. `limit` is already expanded to bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Segment {
    /// Visible selector.
    pub selector: u16,
    /// Access rights (see above).
    pub attr: u16,
    /// Linear base address.
    pub base: u32,
    /// Byte-granular limit.
    pub limit: u32,
    /// False after a null selector was loaded in protected mode: any access
    /// through it raises #GP(0).
    pub valid: bool,
}

/// Access-rights bits of [`Segment::attr`].
pub mod attr {
    /// Accessed (type bit 0).
    pub const ACCESSED: u16 = 1 << 0;
    /// Data: writable. Code: readable. (type bit 1)
    pub const RW: u16 = 1 << 1;
    /// Data: expand-down. Code: conforming. (type bit 2)
    pub const DC: u16 = 1 << 2;
    /// Code segment (type bit 3).
    pub const CODE: u16 = 1 << 3;
    /// Code/data (1) or system (0) descriptor.
    pub const S: u16 = 1 << 4;
    /// Present.
    pub const P: u16 = 1 << 7;
    /// Available for software.
    pub const AVL: u16 = 1 << 12;
    /// Default operation size / big.
    pub const DB: u16 = 1 << 14;
    /// Granularity (limit in 4 KiB units).
    pub const G: u16 = 1 << 15;
    /// A present, writable, accessed data segment (real-mode reset value).
    pub const DATA_RW: u16 = P | S | RW | ACCESSED;
    /// A present, readable, accessed code segment.
    pub const CODE_RX: u16 = P | S | CODE | RW | ACCESSED;
}

impl Segment {
    /// Descriptor privilege level.
    pub fn dpl(&self) -> u8 {
        ((self.attr >> 5) & 3) as u8
    }
    /// D/B bit: 32-bit default size.
    pub fn big(&self) -> bool {
        self.attr & attr::DB != 0
    }
    /// A segment as loaded in real or virtual-8086 mode: base = selector*16,
    /// the given limit and attributes.
    pub fn real(selector: u16, limit: u32, attr: u16) -> Self {
        Self {
            selector,
            attr,
            base: u32::from(selector) << 4,
            limit,
            valid: true,
        }
    }
}

/// GDTR/IDTR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub struct TableReg {
    /// Linear base address.
    pub base: u32,
    /// Limit in bytes (a 16-bit quantity).
    pub limit: u32,
}

/// Model-specific registers this CPU implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Msrs {
    /// IA32_SYSENTER_CS (0x174).
    pub sysenter_cs: u32,
    /// IA32_SYSENTER_ESP (0x175).
    pub sysenter_esp: u32,
    /// IA32_SYSENTER_EIP (0x176).
    pub sysenter_eip: u32,
    /// IA32_APIC_BASE (0x1B).
    pub apic_base: u64,
    /// Added to the host-derived cycle count to give the guest TSC; WRMSR to
    /// IA32_TIME_STAMP_COUNTER (0x10) adjusts it.
    pub tsc_offset: u64,
}

/// The whole architectural state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct CpuState {
    /// EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI.
    pub regs: [u32; 8],
    /// Instruction pointer (offset into CS).
    pub eip: u32,
    /// EFLAGS, including the virtual/system bits.
    pub eflags: u32,
    /// ES, CS, SS, DS, FS, GS.
    pub segs: [Segment; 6],
    /// Local descriptor table register.
    pub ldtr: Segment,
    /// Task register.
    pub tr: Segment,
    /// Global descriptor table register.
    pub gdtr: TableReg,
    /// Interrupt descriptor table register.
    pub idtr: TableReg,
    /// CR0.
    pub cr0: u32,
    /// CR2 (last page-fault address).
    pub cr2: u32,
    /// CR3 (page directory base).
    pub cr3: u32,
    /// CR4.
    pub cr4: u32,
    /// DR0–DR7 (DR4/DR5 alias DR6/DR7).
    pub dr: [u32; 8],
    /// Current privilege level.
    pub cpl: u8,
    /// Halted until the next interrupt.
    pub halted: bool,
    /// Interrupts are inhibited for one instruction (after STI, MOV SS, POP SS).
    pub intr_shadow: bool,
    /// MSRs.
    pub msr: Msrs,
    /// The x87 FPU and MMX registers.
    pub fpu: crate::fpu::Fpu,
}

impl Default for CpuState {
    fn default() -> Self {
        Self::reset()
    }
}

impl CpuState {
    /// The state after RESET (SDM Vol. 3A, 9.1.1, table 9-1): real mode,
    /// CS = F000 with base FFFF0000, EIP = FFF0.
    pub fn reset() -> Self {
        let data = Segment::real(0, 0xffff, attr::DATA_RW);
        let mut cs = Segment::real(0xf000, 0xffff, attr::CODE_RX);
        cs.base = 0xffff_0000;
        let mut regs = [0u32; 8];
        // EDX holds the processor signature after reset: family 6, model 3, stepping 3.
        regs[reg::EDX] = 0x0633;
        Self {
            regs,
            eip: 0xfff0,
            eflags: flags::FIXED1,
            segs: [data, cs, data, data, data, data],
            ldtr: Segment {
                attr: 0x82 | attr::P,
                limit: 0xffff,
                valid: true,
                ..Default::default()
            },
            tr: Segment {
                attr: 0x8b | attr::P,
                limit: 0xffff,
                valid: true,
                ..Default::default()
            },
            gdtr: TableReg {
                base: 0,
                limit: 0xffff,
            },
            idtr: TableReg {
                base: 0,
                limit: 0xffff,
            },
            cr0: cr0::ET | cr0::CD | cr0::NW,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            dr: [0, 0, 0, 0, 0xffff_0ff0, 0x400, 0xffff_0ff0, 0x400],
            cpl: 0,
            halted: false,
            intr_shadow: false,
            msr: Msrs {
                apic_base: 0xfee0_0900,
                ..Default::default()
            },
            fpu: crate::fpu::Fpu::reset(),
        }
    }

    /// A segment register.
    #[inline]
    pub fn seg(&self, s: SegReg) -> &Segment {
        &self.segs[s as usize]
    }

    /// Protected mode (CR0.PE), including virtual-8086 mode.
    #[inline]
    pub fn protected(&self) -> bool {
        self.cr0 & cr0::PE != 0
    }

    /// Virtual-8086 mode.
    #[inline]
    pub fn v86(&self) -> bool {
        self.eflags & flags::VM != 0
    }

    /// Real-address mode.
    #[inline]
    pub fn real(&self) -> bool {
        !self.protected()
    }

    /// Paging enabled.
    #[inline]
    pub fn paging(&self) -> bool {
        self.cr0 & cr0::PG != 0 && self.protected()
    }

    /// I/O privilege level.
    #[inline]
    pub fn iopl(&self) -> u8 {
        ((self.eflags >> 12) & 3) as u8
    }

    /// Whether CS is a 32-bit segment (and not in virtual-8086 mode).
    #[inline]
    pub fn code32(&self) -> bool {
        self.segs[SegReg::Cs as usize].big() && !self.v86()
    }

    /// Whether SS is a 32-bit stack (ESP rather than SP).
    #[inline]
    pub fn stack32(&self) -> bool {
        self.segs[SegReg::Ss as usize].big() && !self.v86()
    }

    /// Set up flat 32-bit protected mode at `cpl` (0 or 3): every segment
    /// has base 0 and a 4 GiB limit. Used by tests and the host-CPU oracle.
    pub fn set_flat32(&mut self, cpl: u8) {
        let dpl = u16::from(cpl & 3) << 5;
        let code = Segment {
            selector: 0x08 | u16::from(cpl & 3),
            attr: attr::CODE_RX | attr::DB | attr::G | dpl,
            base: 0,
            limit: 0xffff_ffff,
            valid: true,
        };
        let data = Segment {
            selector: 0x10 | u16::from(cpl & 3),
            attr: attr::DATA_RW | attr::DB | attr::G | dpl,
            ..code
        };
        self.cr0 |= cr0::PE;
        self.eflags &= !flags::VM;
        self.segs = [data, code, data, data, data, data];
        self.cpl = cpl & 3;
    }
}
