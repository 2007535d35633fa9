#!/usr/bin/env python3
"""Reference model of bench.asm's loop, written from the instruction
definitions in the Intel SDM Vol. 2 (not from running any emulator).

Prints the expected final EBX and SUM2 for a number of iterations, so that
bench.asm can check its own result.  Usage: bench_model.py [ITERATIONS]
"""
import sys

M = 0xFFFFFFFF


def run(iterations):
    table = [(i * 0x01010101) & M for i in range(64)]
    ebx = 0x12345678
    sum2 = 0
    for ebp in range(iterations, 0, -1):
        eax = ebp & 63                          # mov eax, ebp / and eax, 63
        ebx = (ebx + table[eax]) & M            # mov edx, [table+eax*4] / add ebx, edx
        ebx = ((ebx << 5) | (ebx >> 27)) & M    # rol ebx, 5
        ebx ^= ebp                              # xor ebx, ebp
        ecx = (ebx * 3 + 7) & M                 # lea ecx, [ebx+ebx*2+7]
        ecx = (ecx * 0x2545F491) & M            # imul ecx, ecx, 0x2545F491
        table[eax] = ecx                        # mov [table+eax*4], ecx
        ecx >>= 3                               # mix: shr ecx, 3
        borrow = 1 if ebx < ecx else 0          # sub ebx, ecx (CF = borrow)
        ebx = (ebx - ecx + borrow) & M          # adc ebx, 0
        ebx = (ebx + table[2]) & M              # movsd x2, lodsd / add ebx, eax
        if ebx & 1:                             # test bl, 1 / jz
            ebx = (ebx + 3) & M
        else:
            ebx = (ebx - 5) & M
        sum2 = (sum2 + (ebx ^ 0x5A5A5A5A)) & M  # push/pop/xor/add [sum2], edx
    return ebx, sum2


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 16666667
    ebx, sum2 = run(n)
    print(f"%define EXPECT_EBX  0x{ebx:08X}")
    print(f"%define EXPECT_SUM2 0x{sum2:08X}")
