; pmode.asm -- protected-mode segmentation, and back to real mode.
;
; Checks (SDM Vol. 3A ch. 3 "Protected-Mode Memory Management", 5.3-5.6
; limit/type/privilege checks, 6.15 exception error codes, 9.9 mode switching;
; Vol. 2 pages for LAR/LSL/VERR/VERW):
;   LGDT + CR0.PE + far jump; flat 32-bit segments; a 16-bit code segment
;   (16-bit operand size, far call from 32-bit code with O32 RETF back);
;   limit checks (#GP(0) past a data segment limit, expand-down segments with
;   B=1 and B=0, #SS(0) past the stack segment limit); write to a read-only
;   data segment and to a code segment, read of an execute-only code segment;
;   a null selector in DS and then a memory access (#GP(0)); selector faults
;   (#GP(sel) beyond the GDT limit, execute-only code into DS, SS type/DPL
;   rules, #NP(sel) and #SS(sel) for not-present segments); LAR/LSL/VERR/VERW;
;   the switch back to real mode (SDM 9.9.2) and an INT through the IVT there.

%define ROMNAME 'pmode'
%include "common.inc"

; ROM-specific descriptors.
%define SEL_LIM     0x40    ; data, base 0x20000, limit 0xFFF, 32-bit
%define SEL_EDOWN   0x48    ; data expand-down, base 0x20000, limit 0xFFF, B=1
%define SEL_EDOWN16 0x50    ; data expand-down, base 0x20000, limit 0xFFF, B=0
%define SEL_NP      0x58    ; data, not present
%define SEL_XONLY   0x60    ; code, execute-only, flat 32-bit
%define SEL_RO      0x68    ; data, read-only, flat
%define SEL_STACK   0x70    ; data (stack), base 0x30000, limit 0xFFF
%define SEL_DPL3    0x78    ; data, DPL 3, flat

%define rm_int30_hits  (ROM_VARS + 0x00)
%define pm16_esp_delta (ROM_VARS + 0x04)

section .text16
bits 16
rm_start:
    RM_INIT
    ; An IVT entry for after the return to real mode.
    mov word [0x30 * 4], rm_int30
    mov word [0x30 * 4 + 2], 0xF000
    jmp go_pm32

; Real-mode handler used after the switch back.
rm_int30:
    push ds
    push word 0
    pop ds
    inc word [rm_int30_hits]
    pop ds
    iret

; ---- 16-bit protected-mode code (CS = SEL_CODE16, base 0xF0000) -------------
; Entered by a far JMP from 32-bit code.  Default operand size is 16 bits, so
; PUSH AX moves ESP by 2 (SS is still the 32-bit flat stack, B=1 -> ESP).
pm16_jmp_target:
    mov ebx, esp
    push ax
    mov ecx, esp
    pop ax
    sub ebx, ecx
    mov [pm16_esp_delta], ebx               ; DS flat: 16-bit code, 32-bit data
    jmp dword SEL_CODE32:pm16_back

; Called by a 32-bit far CALL (pushed CS and EIP as dwords): return with O32 RETF.
pm16_far_proc:
    mov ax, cs
    movzx eax, ax
    o32 retf

; ---- the way back to real mode (SDM Vol. 3A 9.9.2) --------------------------
to_real16:
    mov ax, SEL_DATA16                      ; 64K limit, byte granular, writable
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov sp, RM_SP
    o32 lidt [cs:rm_idt_ptr]
    mov eax, cr0
    and eax, ~1
    mov cr0, eax
    jmp 0xF000:in_real_again
in_real_again:
    mov ax, RM_SS
    mov ss, ax
    mov sp, RM_SP
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov eax, cr0
    EXPECTD16 eax, 0x60000010, 60, "CR0 after clearing PE"
    ; Segment loads are real-mode again: base = selector * 16.
    mov ax, 0x1000
    mov es, ax
    mov dword [es:0x0040], 0x600DF00D       ; linear 0x10040
    mov ax, 0x1004
    mov fs, ax
    EXPECTD16 dword [fs:0], 0x600DF00D, 61, "real-mode segment base = selector*16"
    int 0x30
    EXPECTW16 word [rm_int30_hits], 1, 62, "INT 0x30 through the IVT after leaving protected mode"
    jmp pass16

rm_idt_ptr:
    dw 0x3FF
    dd 0

; ============================================================================
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
    mov edi, SEL_NP
    xor eax, eax
    mov ebx, 0xFFFFF
    mov ecx, 0xC13                          ; P=0
    call set_desc
    mov edi, SEL_XONLY
    mov ecx, 0xC99
    call set_desc
    mov edi, SEL_RO
    mov ecx, 0xC91
    call set_desc
    mov edi, SEL_DPL3
    mov ecx, 0xCF3
    call set_desc

    ; ---- we are in protected mode with flat segments ----------------------
    mov eax, cr0
    EXPECT eax, 0x60000011, 1, "CR0.PE set"
    mov dword [0x20000], 0x11223344
    mov ax, SEL_LIM
    mov es, ax
    EXPECT dword [es:0], 0x11223344, 2, "data segment base 0x20000"
    mov dword [es:0xFFC], 0xA5A5A5A5        ; last dword inside the limit
    EXPECT dword [0x20FFC], 0xA5A5A5A5, 2, "store at the limit"

    ; ---- 16-bit protected-mode code segment ------------------------------
    jmp SEL_CODE16:pm16_jmp_target
pm16_back:
    EXPECT dword [pm16_esp_delta], 2, 3, "PUSH in a 16-bit code segment moves ESP by 2"
    mov ebx, esp
    call SEL_CODE16:pm16_far_proc
    EXPECT eax, SEL_CODE16, 4, "CS inside the 16-bit procedure"
    EXPECT esp, ebx, 4, "O32 RETF from 16-bit code pops 8 bytes"

    ; ---- null selector ------------------------------------------------------
    ; (Using a null DS is checked in seglimit.asm: QEMU does not fault.)
    EXPECT_EXC .null2
    xor eax, eax
    mov ss, ax
    FAIL 15, "loading a null SS did not fault"
.null2:
    EXPECT_FAULT 13, 0, 15, "#GP(0) loading a null SS"

    ; ---- selector faults: error code = selector (SDM 6.13) -----------------
    EXPECT_EXC .sel1
    mov ax, 0x800                           ; index 256, GDT limit 0x7FF
    mov ds, ax
    FAIL 16, "no fault on a selector past the GDT limit"
.sel1:
    EXPECT_FAULT 13, 0x800, 16, "#GP(sel) for a selector past the GDT limit"
    EXPECT_EXC .sel2
    mov ax, SEL_XONLY
    mov ds, ax
    FAIL 17, "execute-only code loaded into DS"
.sel2:
    EXPECT_FAULT 13, SEL_XONLY, 17, "#GP(sel) for execute-only code into DS"
    mov ax, SEL_CODE32                      ; readable code into DS is allowed
    mov ds, ax
    mov ax, SEL_DATA32
    mov ds, ax
    EXPECT_EXC .sel3
    mov ax, SEL_RO
    mov ss, ax
    FAIL 18, "read-only data loaded into SS"
.sel3:
    EXPECT_FAULT 13, SEL_RO, 18, "#GP(sel) for read-only data into SS"
    EXPECT_EXC .sel4
    mov ax, SEL_DPL3 | 0                    ; RPL 0 but DPL 3 != CPL
    mov ss, ax
    FAIL 19, "DPL-3 data loaded into SS at CPL 0"
.sel4:
    EXPECT_FAULT 13, SEL_DPL3, 19, "#GP(sel) for SS with DPL != CPL"
    EXPECT_EXC .sel5
    mov ax, SEL_NP
    mov es, ax
    FAIL 20, "not-present segment loaded into ES"
.sel5:
    EXPECT_FAULT 11, SEL_NP, 20, "#NP(sel) for a not-present data segment"
    EXPECT_EXC .sel6
    mov ax, SEL_NP
    mov ss, ax
    FAIL 21, "not-present segment loaded into SS"
.sel6:
    EXPECT_FAULT 12, SEL_NP, 21, "#SS(sel) for a not-present stack segment"
    EXPECT_EXC .sel7
    jmp SEL_DATA32:0                        ; not a code segment
    FAIL 22, "far JMP to a data segment"
.sel7:
    EXPECT_FAULT 13, SEL_DATA32, 22, "#GP(sel) for a far JMP to data"
    xor eax, eax
    lldt ax                                 ; LDTR null (it is not at reset: SDM 9.1.1)
    EXPECT_EXC .sel8
    mov ax, SEL_DPL3 | 4                    ; TI=1: LDT, and LDTR is null
    mov ds, ax
    FAIL 23, "LDT selector with a null LDTR"
.sel8:
    EXPECT_FAULT 13, SEL_DPL3 | 4, 23, "#GP(sel) for an LDT selector with null LDTR"

    ; ---- LAR / LSL / VERR / VERW (SDM Vol. 2) ------------------------------
    mov eax, 0xFFFFFFFF
    mov ecx, SEL_DATA32
    lar eax, ecx
    setz bl
    EXPECTW bl, 1, 30, "LAR flat data: ZF"
    and eax, 0x00F0FF00                     ; SDM: masked by 00FxFF00H, x undefined
    EXPECT eax, 0x00C09300, 30, "LAR flat data: access rights"
    mov ecx, SEL_CODE16
    lar eax, ecx
    and eax, 0x00F0FF00
    EXPECT eax, 0x00009B00, 31, "LAR 16-bit code: access rights"
    mov ecx, SEL_LIM
    lsl eax, ecx
    setz bl
    EXPECTW bl, 1, 32, "LSL byte-granular: ZF"
    EXPECT eax, 0xFFF, 32, "LSL byte-granular limit"
    mov ecx, SEL_DATA32
    lsl eax, ecx
    EXPECT eax, 0xFFFFFFFF, 33, "LSL page-granular limit is scaled"
    mov ecx, SEL_NP                         ; LAR/LSL do not care about P
    lsl eax, ecx
    setz bl
    EXPECTW bl, 1, 34, "LSL of a not-present segment: ZF=1"
    mov eax, 0x12345678
    xor ecx, ecx
    lar eax, ecx                            ; null selector: ZF=0, dest unchanged
    setz bl
    EXPECTW bl, 0, 35, "LAR null selector: ZF=0"
    EXPECT eax, 0x12345678, 35, "LAR null selector leaves the destination"
    mov ecx, 0x800
    lar eax, ecx
    setz bl
    EXPECTW bl, 0, 36, "LAR past the GDT limit: ZF=0"
    mov ecx, SEL_DATA32 | 3                 ; RPL 3 > DPL 0: not visible
    lar eax, ecx
    setz bl
    EXPECTW bl, 0, 37, "LAR data with RPL > DPL: ZF=0"
    mov ecx, SEL_DPL3 | 3
    lar eax, ecx
    setz bl
    EXPECTW bl, 1, 37, "LAR DPL-3 data with RPL 3: ZF=1"
    mov ax, SEL_CODE32
    verr ax
    setz bl
    EXPECTW bl, 1, 38, "VERR readable code: ZF=1"
    verw ax
    setz bl
    EXPECTW bl, 0, 38, "VERW code: ZF=0"
    mov ax, SEL_XONLY
    verr ax
    setz bl
    EXPECTW bl, 0, 39, "VERR execute-only code: ZF=0"
    mov ax, SEL_DATA32
    verw ax
    setz bl
    EXPECTW bl, 1, 40, "VERW writable data: ZF=1"
    mov ax, SEL_RO
    verw ax
    setz bl
    EXPECTW bl, 0, 40, "VERW read-only data: ZF=0"
    verr ax
    setz bl
    EXPECTW bl, 1, 40, "VERR read-only data: ZF=1"
    xor eax, eax
    verr ax
    setz bl
    EXPECTW bl, 0, 41, "VERR null: ZF=0"

    ; ---- back to real mode --------------------------------------------------
    cli
    jmp SEL_CODE16:to_real16
