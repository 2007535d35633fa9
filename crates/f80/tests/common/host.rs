//! The host x87 as the oracle: each wrapper loads `b` then `a` (so ST(0) = a,
//! ST(1) = b), runs one instruction under the given control word, reads the
//! status word with FNSTSW and clears the exceptions with FNCLEX *before*
//! anything that waits (so an unmasked exception never traps), then stores
//! ST(0) and ST(1) under the caller's control word and empties the stack with FNINIT.

use std::arch::asm;

/// What one instruction left: ST(0), ST(1) (after the instruction), the
/// status word, and the memory operand buffer.
#[derive(Clone, Copy, Debug)]
pub struct HostOut {
    pub st0: [u8; 10],
    pub st1: [u8; 10],
    pub sw: u16,
    pub mem: [u8; 10],
}

macro_rules! host_op {
    ($name:ident, $op:literal) => {
        pub fn $name(cw: u16, a: [u8; 10], b: [u8; 10], mem: [u8; 10]) -> HostOut {
            let mut o = HostOut { st0: [0; 10], st1: [0; 10], sw: 0, mem };
            let mut save = 0u16;
            let sw: u16;
            // SAFETY: the asm only touches the x87 state and the buffers
            // passed by pointer (all live locals of at least 10 bytes); it
            // leaves the x87 stack empty and restores the caller's control
            // word, as the x86-64 ABI requires, and never unmasks an
            // exception while one is pending.
            unsafe {
                asm!(
                    "fnstcw word ptr [{save}]",
                    "fnclex",
                    "fldcw word ptr [{cw}]",
                    "fld tbyte ptr [{b}]",
                    "fld tbyte ptr [{a}]",
                    $op,
                    "fnstsw ax",
                    "fnclex",
                    "fldcw word ptr [{save}]",
                    "# {m}",
                    "fstp tbyte ptr [{o0}]",
                    "fstp tbyte ptr [{o1}]",
                    "fninit",
                    "fldcw word ptr [{save}]",
                    save = in(reg) &mut save,
                    cw = in(reg) &cw,
                    a = in(reg) a.as_ptr(),
                    b = in(reg) b.as_ptr(),
                    m = in(reg) o.mem.as_mut_ptr(),
                    o0 = in(reg) o.st0.as_mut_ptr(),
                    o1 = in(reg) o.st1.as_mut_ptr(),
                    out("ax") sw,
                    out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                    out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                    options(nostack),
                );
            }
            o.sw = sw;
            o
        }
    };
}

host_op!(fadd, "fadd st(0), st(1)");
host_op!(fsub, "fsub st(0), st(1)");
host_op!(fmul, "fmul st(0), st(1)");
host_op!(fdiv, "fdiv st(0), st(1)");
host_op!(fsqrt, "fsqrt");
host_op!(fadd_m32, "fadd dword ptr [{m}]");
host_op!(fmul_m64, "fmul qword ptr [{m}]");
host_op!(fdivr_m32, "fdivr dword ptr [{m}]");
host_op!(fcom, "fcom st(1)");
host_op!(fucom, "fucom st(1)");
host_op!(fcom_m32, "fcom dword ptr [{m}]");
host_op!(fucom_m64_like, "fucom st(1)");
host_op!(ftst, "ftst");
host_op!(fld_m32, "fld dword ptr [{m}]");
host_op!(fld_m64, "fld qword ptr [{m}]");
host_op!(fst_m32, "fst dword ptr [{m}]");
host_op!(fst_m64, "fst qword ptr [{m}]");
host_op!(fist_m16, "fist word ptr [{m}]");
host_op!(fist_m32, "fist dword ptr [{m}]");
host_op!(fistp_m64, "fistp qword ptr [{m}]");
host_op!(fisttp_m16, "fisttp word ptr [{m}]");
host_op!(fisttp_m32, "fisttp dword ptr [{m}]");
host_op!(fisttp_m64, "fisttp qword ptr [{m}]");
host_op!(fbld, "fbld tbyte ptr [{m}]");
host_op!(fbstp, "fbstp tbyte ptr [{m}]");
host_op!(frndint, "frndint");
host_op!(fscale, "fscale");
host_op!(fxtract, "fxtract");
host_op!(fprem, "fprem");
host_op!(fprem1, "fprem1");
host_op!(f2xm1, "f2xm1");
host_op!(fyl2x, "fyl2x");
host_op!(fyl2xp1, "fyl2xp1");
host_op!(fptan, "fptan");
host_op!(fpatan, "fpatan");
host_op!(fsin, "fsin");
host_op!(fcos, "fcos");
host_op!(fsincos, "fsincos");
