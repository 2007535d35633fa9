;
; seglimit.asm -- protected-mode segment limit and type checks on memory
; accesses (SDM Vol. 3A 5.3 "Limit Checking", 5.4 "Type Checking", 3.4.5.1
; expand-down segments, 6.15 #GP/#SS error codes).
;
; Split from pmode.asm because QEMU's TCG does not check segment limits or
; segment types on data accesses (it only checks them when a selector is
; loaded), so under QEMU this ROM fails at check 5; see README.md.  The
; expected result (expected.txt) is the SDM's: PASS.
;
;   #GP(0) past a data segment limit (dword straddling, byte just past);
;   expand-down segments with B=1 and B=0; #SS(0) for an SS-relative access
;   past the stack segment limit; writes to read-only data and through CS;
;   reads of an execute-only code segment through CS; a memory access through
;   a null DS (#GP(0), SDM 3.4.2).

%define ROMNAME 'seglimit'
%include "common.inc"

%define SEL_LIM     0x40    ; data, base 0x20000, limit 0xFFF, 32-bit
%define SEL_EDOWN   0x48    ; data expand-down, base 0x20000, limit 0xFFF, B=1
%define SEL_EDOWN16 0x50    ; data expand-down, base 0x20000, limit 0xFFF, B=0
%define SEL_XONLY   0x60    ; code, execute-only, flat 32-bit
%define SEL_RO      0x68    ; data, read-only, flat
%define SEL_STACK   0x70    ; data (stack), base 0x30000, limit 0xFFF

section .text16
bits 16
rm_start:
    RM_INIT
    jmp go_pm32

section .text32
bits 32

pm_main:
    ; ---- ROM descriptors ------------------------------------------------
    mov edi, SEL_LIM
    mov eax, 0x20000
    mov ebx, 0xFFF
    mov ecx, 0x493
    call set_desc
    mov edi, SEL_EDOWN
    mov ecx, 0x497
    call set_desc
    mov edi, SEL_EDOWN16
    mov ecx, 0x097
    call set_desc
    mov edi, SEL_STACK
    mov eax, 0x30000
    mov ecx, 0x493
    call set_desc
    xor eax, eax
    mov ebx, 0xFFFFF
    mov edi, SEL_XONLY
    mov ecx, 0xC99
    call set_desc
    mov edi, SEL_RO
    mov ecx, 0xC91
    call set_desc

    ; A store just inside the limit works.
    mov ax, SEL_LIM
    mov es, ax
    mov dword [es:0xFFC], 0xA5A5A5A5
    EXPECT dword [0x20FFC], 0xA5A5A5A5, 2, "store at the limit"

    ; ---- limit checks: #GP(0) (SDM 5.3) -----------------------------------
    mov ax, SEL_LIM
    mov es, ax
    EXPECT_EXC .lim1
.lim1_insn:
    mov eax, [es:0xFFD]                     ; bytes 0xFFD..0x1000: past the limit
    FAIL 5, "no fault past the segment limit"
.lim1:
    EXPECT_FAULT 13, 0, 5, "#GP(0) past the data segment limit"
    EXPECT [exc_eip], .lim1_insn, 5, "#GP is a fault: EIP at the instruction"
    EXPECT_EXC .lim2
    mov ax, SEL_LIM
    mov es, ax
    mov byte [es:0x1000], 1
    FAIL 6, "no fault on a byte store just past the limit"
.lim2:
    EXPECT_FAULT 13, 0, 6, "#GP(0) byte past the limit"

    ; Expand-down, B=1: valid offsets are limit+1 .. 0xFFFFFFFF (SDM 3.4.5.1).
    mov ax, SEL_EDOWN
    mov es, ax
    mov dword [es:0x1000], 0x0BADCAFE       ; linear 0x21000
    EXPECT dword [0x21000], 0x0BADCAFE, 7, "expand-down: offset limit+1 is valid"
    EXPECT_EXC .ed1
    mov ax, SEL_EDOWN
    mov es, ax
    mov eax, [es:0xFFF]
    FAIL 8, "expand-down: no fault at offset == limit"
.ed1:
    EXPECT_FAULT 13, 0, 8, "expand-down: #GP(0) at offset == limit"
    ; Expand-down, B=0: the upper bound is 0xFFFF.
    mov ax, SEL_EDOWN16
    mov es, ax
    mov eax, [es:0xFFFC]
    EXPECT_EXC .ed2
    mov ax, SEL_EDOWN16
    mov es, ax
    mov eax, [es:0xFFFE]                    ; bytes 0xFFFE..0x10001
    FAIL 9, "expand-down B=0: no fault past 0xFFFF"
.ed2:
    EXPECT_FAULT 13, 0, 9, "expand-down B=0: #GP(0) past 0xFFFF"

    ; #SS(0) for an access through SS past its limit (SDM 6.15, Int 12).  The
    ; stack itself stays inside the limit so the exception can be delivered.
    EXPECT_EXC .ss1
    mov ax, SEL_STACK
    mov ss, ax
    mov esp, 0x800
    push dword 0x5151AAAA                   ; inside: linear 0x307FC
    mov ebp, 0x1000
.ss1_insn:
    mov eax, [ebp]                          ; EBP-based: SS, past the limit
    FAIL 10, "no #SS past the stack segment limit"
.ss1:
    EXPECT_FAULT 12, 0, 10, "#SS(0) past the stack limit"
    EXPECT [exc_eip], .ss1_insn, 10, "#SS is a fault"
    EXPECT dword [0x307FC], 0x5151AAAA, 10, "push inside the stack segment"

    ; Writes to read-only data and code segments, reads of execute-only code.
    EXPECT_EXC .ro1
    mov ax, SEL_RO
    mov es, ax
    mov eax, [es:0x20000]                   ; reading is fine
    mov [es:0x20000], eax
    FAIL 11, "no fault writing a read-only segment"
.ro1:
    EXPECT_FAULT 13, 0, 11, "#GP(0) writing a read-only data segment"
    EXPECT_EXC .ro2
    mov [cs:0x20000], eax
    FAIL 12, "no fault writing through CS"
.ro2:
    EXPECT_FAULT 13, 0, 12, "#GP(0) writing through CS"
    ; Execute-only code: far jump into it works, reading through CS faults.
    jmp SEL_XONLY:.in_xonly
.in_xonly:
    EXPECT_EXC .ro3
    mov eax, [cs:0x20000]
    FAIL 13, "no fault reading an execute-only code segment"
.ro3:
    EXPECT_FAULT 13, 0, 13, "#GP(0) reading execute-only code via CS"
    jmp SEL_CODE32:.back_flat
.back_flat:


    ; Loading a null selector into DS is allowed; using it is #GP(0) (SDM 3.4.2).
    EXPECT_EXC .null1
    xor eax, eax
    mov ds, ax
    mov dword [scratch_eax], eax            ; DS is null
    FAIL 14, "no fault using a null DS"
.null1:
    EXPECT_FAULT 13, 0, 14, "#GP(0) using a null DS"

    jmp pass32
