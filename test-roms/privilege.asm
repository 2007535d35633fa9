; privilege.asm -- privilege levels, gates, IOPL and the I/O permission bitmap.
;
; SDM Vol. 3A 5.5-5.8 (privilege checks, call gates, 5.8.5 stack switching
; and parameter copying), 5.8.7 (SYSENTER/SYSEXIT), 6.12.1 (interrupt
; procedure with a stack switch: the new stack holds SS, ESP, EFLAGS, CS, EIP),
; 6.13 (error code for an IDT gate: vector*8+2), 7.2.1 (TSS: ESP0/SS0), Vol. 1
; 19.5 (I/O permission bitmap), and the Vol. 2 pages of IRET, RET, CLI, POPF.
;
;   IRET to ring 3 (CS/SS RPL 3, DS nulled because its DPL < CPL), RETF to ring
;   3, INT from ring 3 through a DPL-3 trap gate (ring-0 stack from TSS.ESP0,
;   frame SS:ESP, EFLAGS, CS:EIP), a 32-bit call gate with 2 parameters copied
;   and RETF 8 back, #GP(vector*8+2) for INT through a DPL-0 gate, CLI at
;   IOPL 0 (#GP(0)) and at IOPL 3 (allowed), POPF at CPL 3 leaving IF/IOPL
;   unchanged, IN allowed / refused by the I/O bitmap, SYSENTER/SYSEXIT.

%define ROMNAME 'privilege'
%include "common.inc"

%define TSS1        0x4000
%define IOPB_OFF    0x68
%define TSS_LIMIT   (IOPB_OFF + 32)          ; bitmap for ports 0..0xFF + 0xFF byte
%define SEL_CGATE   0x48                     ; call gate, DPL 3
%define SEL_CGATE_R3 0x4B
%define R3_STACK    0x70000

%define r3_cs       (ROM_VARS + 0x00)
%define r3_ss       (ROM_VARS + 0x04)
%define r3_ds       (ROM_VARS + 0x08)
%define r3_esp      (ROM_VARS + 0x0C)
%define r3_flags    (ROM_VARS + 0x10)
%define cg_frame    (ROM_VARS + 0x20)        ; 6 dwords seen by the call-gate target
%define cg_esp      (ROM_VARS + 0x38)
%define cg_cs       (ROM_VARS + 0x3C)
%define se_cs       (ROM_VARS + 0x40)
%define se_ss       (ROM_VARS + 0x44)
%define se_esp      (ROM_VARS + 0x48)

section .text16
bits 16
rm_start:
    RM_INIT
    jmp go_pm32

section .text32
bits 32

pm_main:
    ; TSS with ESP0/SS0 and an I/O bitmap allowing only port 0xE9.
    mov edi, SEL_TSS
    mov eax, TSS1
    mov ebx, TSS_LIMIT
    mov ecx, 0x089
    call set_desc
    mov dword [TSS1 + 4], STACK_TOP         ; ESP0
    mov dword [TSS1 + 8], SEL_DATA32        ; SS0
    mov word [TSS1 + 0x66], IOPB_OFF        ; I/O map base
    mov edi, TSS1 + IOPB_OFF
    mov al, 0xFF
    mov ecx, 33
    rep stosb
    and byte [TSS1 + IOPB_OFF + 0xE9 / 8], ~(1 << (0xE9 % 8))
    mov ax, SEL_TSS
    ltr ax

    ; INT 0x80: DPL-3 trap gate to the recording stub (ring 3 -> ring 0).
    mov eax, 0x80
    mov ebx, exc_stubs + 0x80 * 16
    mov ecx, SEL_CODE32
    mov edx, 0xEF
    call set_gate
    ; INT 0x81 keeps its DPL-0 interrupt gate.

    ; Call gate: 32-bit (type 0xC), DPL 3, 2 dword parameters, to cg_target.
    mov edi, GDT_BASE + SEL_CGATE
    mov eax, cg_target
    mov [edi], ax
    mov word [edi + 2], SEL_CODE32
    mov byte [edi + 4], 2
    mov byte [edi + 5], 0xEC
    shr eax, 16
    mov [edi + 6], ax

    ; ---- IRET to ring 3, INT 0x80 back ------------------------------------
    EXPECT_EXC .back1
    push dword SEL_DATA32_R3                ; SS
    push dword R3_STACK                     ; ESP
    push dword 0x00000002                   ; EFLAGS: IOPL 0
    push dword SEL_CODE32_R3                ; CS
    push dword r3_observe                   ; EIP
    iretd
.back1:
    EXPECT [r3_cs], SEL_CODE32_R3, 1, "IRET to ring 3: CS"
    EXPECT [r3_ss], SEL_DATA32_R3, 1, "IRET to ring 3: SS"
    EXPECT [r3_esp], R3_STACK, 1, "IRET to ring 3: ESP"
    EXPECT [r3_ds], 0, 2, "IRET to ring 3 nulls DS (DPL 0 < CPL 3)"
    EXPECT [exc_vector], 0x80, 3, "INT 0x80 from ring 3"
    EXPECT [exc_eip], r3_observe.int_end, 3, "INT 0x80 frame: EIP after the INT"
    EXPECT [exc_cs], SEL_CODE32_R3, 3, "INT 0x80 frame: CS"
    EXPECT [exc_eflags], 0x00000002, 3, "INT 0x80 frame: EFLAGS"
    EXPECT [exc_esp], R3_STACK, 3, "INT 0x80 frame: ring-3 ESP"
    EXPECT [exc_ss], SEL_DATA32_R3, 3, "INT 0x80 frame: ring-3 SS"
    EXPECT [exc_frame_addr], STACK_TOP - 20, 4, "ring-0 stack comes from TSS.ESP0"

    ; ---- RETF to ring 3 ------------------------------------------------------
    EXPECT_EXC .back2
    push dword SEL_DATA32_R3
    push dword R3_STACK - 0x1000
    push dword SEL_CODE32_R3
    push dword r3_observe
    retf
.back2:
    EXPECT [r3_cs], SEL_CODE32_R3, 5, "RETF to ring 3: CS"
    EXPECT [r3_esp], R3_STACK - 0x1000, 5, "RETF to ring 3: ESP"
    EXPECT [r3_ds], 0, 5, "RETF to ring 3 nulls DS"
    EXPECT [exc_esp], R3_STACK - 0x1000, 5, "INT 0x80 frame after RETF: ring-3 ESP"

    ; ---- call gate with parameter copying ------------------------------------
    EXPECT_EXC .back3
    mov ebx, r3_callgate
    call to_ring3
.back3:
    EXPECT [cg_cs], SEL_CODE32, 6, "call gate target runs with CS from the gate"
    EXPECT [cg_esp], STACK_TOP - 24, 6, "call gate: new stack from TSS.ESP0 (6 dwords)"
    EXPECT [cg_frame + 0], r3_callgate.ret, 7, "call gate frame: EIP"
    EXPECT [cg_frame + 4], SEL_CODE32_R3, 7, "call gate frame: CS"
    EXPECT [cg_frame + 8], 0x2222, 7, "call gate frame: parameter at the old ESP"
    EXPECT [cg_frame + 12], 0x1111, 7, "call gate frame: parameter at the old ESP+4"
    EXPECT [cg_frame + 16], R3_STACK - 8, 7, "call gate frame: old ESP"
    EXPECT [cg_frame + 20], SEL_DATA32_R3, 7, "call gate frame: old SS"
    EXPECT [r3_esp], R3_STACK, 8, "RETF 8 to ring 3 releases the parameters"
    EXPECT [r3_cs], SEL_CODE32_R3, 8, "RETF 8 back in ring 3"

    ; ---- INT through a DPL-0 gate from ring 3: #GP(vector*8+2) -----------------
    EXPECT_EXC .back4
    mov ebx, r3_int81
    call to_ring3
.back4:
    EXPECT_FAULT 13, 0x81 * 8 + 2, 9, "#GP(vector*8+2) for INT 0x81 (DPL 0) from ring 3"
    EXPECT [exc_eip], r3_int81.insn, 9, "#GP: EIP at the INT"

    ; ---- IOPL-sensitive instructions ----------------------------------------
    EXPECT_EXC .back5
    mov ebx, r3_cli
    call to_ring3
.back5:
    EXPECT_FAULT 13, 0, 10, "CLI at CPL 3 with IOPL 0: #GP(0)"
    EXPECT [exc_eip], r3_cli.insn, 10, "#GP: EIP at the CLI"
    ; POPF at CPL 3 and IOPL 0: IF and IOPL are silently left alone.
    EXPECT_EXC .back6
    mov ebx, r3_popf
    call to_ring3
.back6:
    EXPECT [exc_vector], 0x80, 11, "POPF at CPL 3 does not fault"
    EXPECT [r3_flags], 0x00000002, 11, "POPF at CPL 3 changes neither IF nor IOPL"
    ; IOPL 3: CLI/STI are allowed in ring 3.
    EXPECT_EXC .back7
    push dword SEL_DATA32_R3
    push dword R3_STACK
    push dword 0x00003002                   ; IOPL 3
    push dword SEL_CODE32_R3
    push dword r3_sti_cli
    iretd
.back7:
    EXPECT [exc_vector], 0x80, 12, "STI/CLI at CPL 3 with IOPL 3 do not fault"
    EXPECT [r3_flags], 0x00003202, 12, "STI at IOPL 3 set IF"
    EXPECT [exc_eflags], 0x00003002, 12, "CLI at IOPL 3 cleared IF"

    ; ---- I/O permission bitmap (IOPL 0 < CPL 3) ------------------------------
    EXPECT_EXC .back8
    mov ebx, r3_in_ok
    call to_ring3
.back8:
    EXPECT [exc_vector], 0x80, 13, "IN from port 0xE9 allowed by the bitmap"
    EXPECT_EXC .back9
    mov ebx, r3_in_refused
    call to_ring3
.back9:
    EXPECT_FAULT 13, 0, 14, "IN from port 0x80 refused by the bitmap: #GP(0)"
    EXPECT [exc_eip], r3_in_refused.insn, 14, "#GP at the IN"
    EXPECT_EXC .back10
    mov ebx, r3_in_word
    call to_ring3
.back10:
    EXPECT_FAULT 13, 0, 15, "IN AX from 0xE9 needs the bit of 0xEA too: #GP(0)"

    ; ---- SYSENTER / SYSEXIT (if CPUID.1:EDX.SEP) ------------------------------
    mov eax, 1
    cpuid
    test edx, 1 << 11
    jz .no_sep
    ; IA32_SYSENTER_CS = 0x18: SYSENTER loads CS 0x18 / SS 0x20 as flat ring-0
    ; segments; SYSEXIT loads CS 0x2B (CS+16|3) and SS 0x33 (CS+24|3).
    mov ecx, 0x174
    mov eax, 0x18
    xor edx, edx
    wrmsr
    mov ecx, 0x175
    mov eax, STACK_TOP - 0x800
    wrmsr
    mov ecx, 0x176
    mov eax, sysenter_target
    wrmsr
    EXPECT_EXC .back11
    mov ebx, r3_sysenter
    call to_ring3
.back11:
    EXPECT [se_cs], 0x18, 16, "SYSENTER: CS = IA32_SYSENTER_CS"
    EXPECT [se_ss], 0x20, 16, "SYSENTER: SS = IA32_SYSENTER_CS + 8"
    EXPECT [se_esp], STACK_TOP - 0x800, 16, "SYSENTER: ESP = IA32_SYSENTER_ESP"
    EXPECT [r3_cs], 0x2B, 17, "SYSEXIT: CS = IA32_SYSENTER_CS + 16 | 3"
    EXPECT [r3_ss], 0x33, 17, "SYSEXIT: SS = IA32_SYSENTER_CS + 24 | 3"
    EXPECT [r3_esp], R3_STACK - 0x100, 17, "SYSEXIT: ESP = ECX"
    EXPECT [exc_eip], r3_sysenter.int_end, 17, "SYSEXIT: EIP = EDX"
    jmp pass32
.no_sep:
    mov esi, msg_no_sep
    call print32
    jmp pass32

msg_no_sep: db 'privilege: CPUID reports no SYSENTER/SYSEXIT; not checked', 10, 0

; to_ring3: IRETD to ring 3 at EBX, ring-3 stack R3_STACK, IOPL 0.
to_ring3:
    push dword SEL_DATA32_R3
    push dword R3_STACK
    push dword 0x00000002
    push dword SEL_CODE32_R3
    push ebx
    iretd

; Call-gate target (ring 0): record the new stack and return with RETF 8.
cg_target:
    mov [cg_esp], esp                       ; DS = ring-3 flat data: usable at CPL 0
    push eax
    mov eax, [esp + 4]
    mov [cg_frame + 0], eax
    mov eax, [esp + 8]
    mov [cg_frame + 4], eax
    mov eax, [esp + 12]
    mov [cg_frame + 8], eax
    mov eax, [esp + 16]
    mov [cg_frame + 12], eax
    mov eax, [esp + 20]
    mov [cg_frame + 16], eax
    mov eax, [esp + 24]
    mov [cg_frame + 20], eax
    mov ax, cs
    movzx eax, ax
    mov [cg_cs], eax
    pop eax
    retf 8

; SYSENTER target: CPL 0, CS=0x18 (flat, from the MSR), SS=0x20.
sysenter_target:
    mov ax, ss
    movzx eax, ax
    mov [se_ss], eax                        ; DS is the ring-3 flat selector
    mov ax, cs
    movzx eax, ax
    mov [se_cs], eax
    mov [se_esp], esp
    mov edx, r3_sysenter.back               ; SYSEXIT: EIP = EDX, ESP = ECX
    mov ecx, R3_STACK - 0x100
    sysexit

; ---- ring-3 code ---------------------------------------------------------
; r3_observe: record CS, SS, DS (before reloading it), ESP; INT 0x80 back.
r3_observe:
    mov ax, ds
    mov bx, SEL_DATA32_R3
    mov ds, bx
    movzx eax, ax
    mov [r3_ds], eax
    mov ax, cs
    movzx eax, ax
    mov [r3_cs], eax
    mov ax, ss
    movzx eax, ax
    mov [r3_ss], eax
    mov [r3_esp], esp
.int:
    int 0x80
.int_end:

r3_callgate:
    mov ax, SEL_DATA32_R3
    mov ds, ax
    push dword 0x1111
    push dword 0x2222
    call SEL_CGATE_R3:0                     ; the offset is ignored for a gate
.ret:
    mov [r3_esp], esp
    mov ax, cs
    movzx eax, ax
    mov [r3_cs], eax
    int 0x80

r3_int81:
.insn:
    int 0x81

r3_cli:
.insn:
    cli
    int 0x80

r3_popf:
    mov ax, SEL_DATA32_R3
    mov ds, ax
    push dword 0x00003202                   ; try to set IOPL 3 and IF
    popfd
    pushfd
    pop dword [r3_flags]
    int 0x80

r3_sti_cli:
    mov ax, SEL_DATA32_R3
    mov ds, ax
    sti
    pushfd
    pop dword [r3_flags]
    cli
    int 0x80

r3_in_ok:
    in al, 0xE9
    int 0x80

r3_in_refused:
.insn:
    in al, 0x80
    int 0x80

r3_in_word:
    mov dx, 0xE9
    in ax, dx
    int 0x80

r3_sysenter:
    mov ax, SEL_DATA32_R3
    mov ds, ax
    sysenter
.back:
    mov ax, cs
    movzx eax, ax
    mov [r3_cs], eax
    mov ax, ss
    movzx eax, ax
    mov [r3_ss], eax
    mov [r3_esp], esp
.int:
    int 0x80
.int_end:
