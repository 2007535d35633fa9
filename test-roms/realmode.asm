; realmode.asm -- real-mode basics, never leaving real mode (A20 untouched).
;
; Checks (SDM Vol. 1 ch. 3-7, Vol. 2 instruction pages, Vol. 3A ch. 9 and 20):
;   reset state (EFLAGS=2, CR0=0x60000010), segment arithmetic and 16-bit
;   offset wrap, BP-based addressing defaulting to SS, 16- and 32-bit
;   arithmetic and flags, 32-bit address-size forms, string ops with REP
;   (forward, backward, REPE/REPNE), stack (PUSH SP, PUSHA/POPA), near/far
;   CALL/RET and RET imm16, INT n / IRET through the IVT, INT3, INTO,
;   #DE from DIV by zero and DIV overflow, #UD (UD2), POPF/PUSHF flag bits.

%define ROMNAME 'realmode'
%include "common.inc"

; Variables written by the real-mode handlers (DS=0 in handlers).
%define rm_vec      (ROM_VARS + 0x00)
%define rm_ip       (ROM_VARS + 0x02)
%define rm_cs       (ROM_VARS + 0x04)
%define rm_flags    (ROM_VARS + 0x06)
%define rm_count    (ROM_VARS + 0x08)
%define rm_resume   (ROM_VARS + 0x0A)
%define rm_inflags  (ROM_VARS + 0x0C)
%define rm_sp       (ROM_VARS + 0x0E)

section .text16
bits 16

rm_start:
    ; Reset state, before anything changes it (SDM Vol. 3A 9.1.1, Table 9-1).
    pushfd                                  ; SS:SP = 0:0 at reset, RAM
    pop edx
    mov ebx, cr0
    RM_INIT                                 ; (clobbers EAX, ECX, ESI, EDI)
    EXPECTD16 edx, 0x00000002, 1, "EFLAGS after reset"
    EXPECTD16 ebx, 0x60000010, 2, "CR0 after reset"

    ; ---- IVT: every vector to rm_unexpected, then the ones we use -------
    xor di, di
    mov cx, 256
.ivt:
    mov word [di], rm_unexpected
    mov word [di + 2], 0xF000
    add di, 4
    loop .ivt
    mov word [0 * 4], rm_vec0
    mov word [3 * 4], rm_vec3
    mov word [4 * 4], rm_vec4
    mov word [6 * 4], rm_vec6
    mov word [0x40 * 4], rm_int40
    ; Vector 0x41 handler runs in another segment (CS=0xEF00: the same ROM
    ; bytes at offsets 0x1000 higher): IVT entries are full far pointers.
    mov word [0x41 * 4], rm_int41 + 0x1000
    mov word [0x41 * 4 + 2], 0xEF00

    ; ---- segment arithmetic: linear = seg*16 + offset --------------------
    mov ax, 0x1000
    mov es, ax
    mov dword [es:0x0010], 0xCAFEBABE       ; linear 0x10010
    mov ax, 0x1001
    mov fs, ax
    EXPECTD16 dword [fs:0x0000], 0xCAFEBABE, 3, "seg 0x1001:0 aliases 0x1000:0x10"
    ; 16-bit effective addresses wrap at 64 KiB: 0xFFF0 + 0x0020 = 0x0010.
    mov bx, 0xFFF0
    mov si, 0x0020
    EXPECTD16 dword [es:bx + si], 0xCAFEBABE, 4, "16-bit EA wraps modulo 64K"
    ; [bp+...] defaults to SS, [bx+...] to DS.
    mov ax, 0x2000
    mov ds, ax
    mov word [0x100], 0x1111               ; DS:0x100 = linear 0x20100
    mov word [ss:0x100], 0x2222            ; SS:0x100 = linear 0x80100
    mov bp, 0x100
    EXPECTW16 word [bp], 0x2222, 5, "[bp] uses SS"
    mov bx, 0x100
    EXPECTW16 word [bx], 0x1111, 5, "[bx] uses DS"
    xor ax, ax
    mov ds, ax

    ; ---- 16-bit arithmetic and flags -------------------------------------
    mov ax, 0xFFFF
    add ax, 1                               ; 0, CF=1 ZF=1 AF=1 PF=1 (SDM Vol. 1 3.4.3.1)
    pushf
    pop dx
    EXPECTW16 ax, 0, 6, "0xFFFF+1"
    and dx, 0x08D5                          ; OF SF ZF AF PF CF
    EXPECTW16 dx, 0x0055, 6, "flags of 0xFFFF+1 (ZF AF PF CF)"
    mov ax, 0x7FFF
    inc ax                                  ; OF=1 SF=1, CF unchanged by INC
    stc
    inc ax                                  ; 0x8001: CF stays 1
    pushf
    pop dx
    and dx, 0x08D5
    EXPECTW16 dx, 0x0081, 7, "INC keeps CF, SF=1 (0x8000+1)"
    mov al, 0x80
    sub al, 1                               ; 0x7F: OF=1 (neg - pos = pos), AF=1
    pushf
    pop dx
    and dx, 0x08D5
    EXPECTW16 dx, 0x0810, 8, "flags of 0x80-1 (OF AF)"
    mov ax, 0x1234
    mov bx, 0x0100
    mul bx                                  ; DX:AX = 0x00123400
    EXPECTW16 dx, 0x0012, 9, "MUL r16 high half"
    EXPECTW16 ax, 0x3400, 9, "MUL r16 low half"
    mov ax, -7
    cwd
    mov bx, 2
    idiv bx                                 ; truncates toward zero: -3 rem -1
    EXPECTW16 ax, 0xFFFD, 10, "IDIV -7/2 quotient"
    EXPECTW16 dx, 0xFFFF, 10, "IDIV -7/2 remainder"

    ; ---- 32-bit operand size in real mode (0x66 prefix) -----------------
    mov eax, 0x89ABCDEF
    mov ebx, 0x76543211
    add eax, ebx                            ; 0x100000000: 0, CF=1
    setc cl
    EXPECTD16 eax, 0, 12, "32-bit ADD wraps"
    EXPECTW16 cl, 1, 12, "32-bit ADD carry"
    mov eax, 0x12345678
    bswap eax
    EXPECTD16 eax, 0x78563412, 13, "BSWAP"
    mov eax, 0x80000000
    mov edx, 0x00000003
    shld edx, eax, 4                        ; edx = 0x38
    EXPECTD16 edx, 0x00000038, 14, "SHLD"
    mov eax, 0x00F00000
    bsf ecx, eax
    EXPECTD16 ecx, 20, 15, "BSF"
    mov eax, 0x10000
    mov ecx, 0x10000
    mul ecx                                 ; EDX:EAX = 2^32
    EXPECTD16 edx, 1, 16, "32-bit MUL high"
    EXPECTD16 eax, 0, 16, "32-bit MUL low"
    movsx eax, byte [cs:byte_m2]
    EXPECTD16 eax, 0xFFFFFFFE, 17, "MOVSX r32, m8"

    ; ---- 32-bit address size (0x67 prefix): EA must stay within 64K -------
    mov ax, 0x1000
    mov es, ax
    mov dword [es:0x0110], 0x55AA55AA
    mov ebx, 0x100
    mov ecx, 4
    EXPECTD16 dword [es:ebx + ecx * 4], 0x55AA55AA, 18, "32-bit addressing [ebx+ecx*4]"
    mov eax, 0x0FFFC
    mov dword [es:eax], 0x01020304          ; last dword of the segment
    EXPECTD16 dword [es:0xFFFC], 0x01020304, 18, "32-bit EA 0xFFFC"

    ; ---- string operations -----------------------------------------------
    ; REP MOVSB forward, DS:SI -> ES:DI, CX counts down to 0.
    mov ax, 0xF000
    mov ds, ax
    mov ax, 0x1000
    mov es, ax
    mov si, str_src
    mov di, 0x200
    mov cx, str_src_end - str_src
    cld
    rep movsb
    EXPECTW16 cx, 0, 19, "REP MOVSB leaves CX=0"
    EXPECTW16 di, 0x200 + str_src_end - str_src, 19, "REP MOVSB advances DI"
    EXPECTD16 dword [es:0x200], 'Stra', 19, "REP MOVSB copied bytes"
    ; REPE CMPSB stops after the first mismatch (position 4: 'c' vs 'x').
    mov si, str_src
    mov di, str_cmp
    push ds
    pop es
    mov cx, 8
    repe cmpsb
    EXPECTW16 cx, 3, 20, "REPE CMPSB remaining count"
    EXPECTW16 si, str_src + 5, 20, "REPE CMPSB SI after mismatch"
    ; REPNE SCASB finds 'h'.
    mov di, str_src
    mov al, 'h'
    mov cx, 100
    repne scasb
    EXPECTW16 di, str_src + 6, 21, "REPNE SCASB DI after match"
    EXPECTW16 cx, 94, 21, "REPNE SCASB remaining count"
    ; REP STOSW backward (DF=1) from ES:0x30E down.
    mov ax, 0x1000
    mov es, ax
    xor ax, ax
    mov ds, ax
    mov di, 0x30E
    mov ax, 0xBEEF
    mov cx, 4
    std
    rep stosw
    cld
    EXPECTW16 di, 0x306, 22, "REP STOSW with DF=1 decrements DI"
    EXPECTD16 dword [es:0x308], 0xBEEFBEEF, 22, "REP STOSW with DF=1 stored"
    EXPECTD16 dword [es:0x30C], 0xBEEFBEEF, 22, "REP STOSW with DF=1 stored (top)"
    ; REP with CX=0 does nothing.
    mov di, 0x400
    mov word [es:0x400], 0x1234
    xor cx, cx
    rep stosw
    EXPECTW16 word [es:0x400], 0x1234, 23, "REP with CX=0 stores nothing"
    EXPECTW16 di, 0x400, 23, "REP with CX=0 leaves DI"
    ; REP MOVSD with a 32-bit operand and 16-bit addressing.
    mov dword [es:0x500], 0x11112222
    mov dword [es:0x504], 0x33334444
    push es
    pop ds
    mov si, 0x500
    mov di, 0x600
    mov cx, 2
    rep movsd
    xor ax, ax
    mov ds, ax
    EXPECTD16 dword [es:0x604], 0x33334444, 24, "REP MOVSD"

    ; ---- stack -------------------------------------------------------------
    mov [rm_sp], sp
    push sp                                 ; 286+: pushes SP before the push
    pop ax
    movzx edx, word [rm_sp]
    EXPECTW16 ax, edx, 25, "PUSH SP pushes the old SP"
    mov ax, 0x1111
    mov cx, 0x2222
    mov dx, 0x3333
    mov bx, 0x4444
    mov bp, 0x5555
    mov si, 0x6666
    mov di, 0x7777
    pusha
    mov bp, sp
    movzx edx, word [rm_sp]
    EXPECTW16 word [ss:bp + 6], edx, 26, "PUSHA stores the original SP"
    EXPECTW16 word [ss:bp + 14], 0x1111, 26, "PUSHA stores AX last-pushed-first"
    mov word [ss:bp + 6], 0xDEAD            ; POPA skips the SP slot
    xor ax, ax
    xor di, di
    popa
    mov bx, sp
    movzx edx, word [rm_sp]
    EXPECTW16 bx, edx, 27, "POPA ignores the stored SP"
    EXPECTW16 di, 0x7777, 27, "POPA restores DI"
    EXPECTW16 ax, 0x1111, 27, "POPA restores AX"

    ; ---- near/far call and return ----------------------------------------
    mov ax, 1
    call near_add                           ; ax += 2
    EXPECTW16 ax, 3, 28, "near CALL/RET"
    call 0xF000:far_add                     ; ax += 5, RETF
    EXPECTW16 ax, 8, 29, "far CALL/RETF"
    push word 0xAAAA
    push word 0xBBBB
    call near_ret4                          ; RET 4 drops both words
    mov bx, sp
    movzx edx, word [rm_sp]
    EXPECTW16 bx, edx, 30, "RET imm16 releases parameters"
    push word 0xCCCC
    call 0xF000:far_ret2                    ; RETF 2
    mov bx, sp
    movzx edx, word [rm_sp]
    EXPECTW16 bx, edx, 30, "RETF imm16 releases parameters"
    mov bx, near_add
    call bx                                 ; indirect near call
    EXPECTW16 ax, 10, 31, "indirect CALL r16"
    mov word [0x500], far_add + 0x100       ; 0xEFF0:far_add+0x100 = same linear
    mov word [0x502], 0xEFF0
    call far [0x500]                        ; indirect far call through memory
    EXPECTW16 ax, 15, 31, "indirect far CALL m16:16 (CS=0xEFF0)"
    jmp 0xF000:.after_jmpf
.after_jmpf:
    ; LOOP and JCXZ
    mov cx, 5
    xor ax, ax
.lp:
    add ax, cx
    loop .lp
    EXPECTW16 ax, 15, 32, "LOOP sum 5..1"
    jcxz .cx_zero
    FAIL16 32, "JCXZ not taken with CX=0"
.cx_zero:

    ; ---- INT n and IRET through the IVT -----------------------------------
    mov word [rm_count], 0
    mov ax, 0x1234
    push word 0x0203                        ; IF=1 CF=1: INT must clear IF in
    popf                                    ; the handler, IRET restore both
    int 0x40                                ; handler: AX = NOT AX
.after_int40:
    cli
    pushf
    pop dx
    EXPECTW16 ax, 0xEDCB, 33, "INT 0x40 handler ran (AX = NOT AX)"
    EXPECTW16 word [rm_vec], 0x40, 33, "INT 0x40 vector"
    EXPECTW16 word [rm_ip], .after_int40, 34, "INT pushes IP of the next instruction"
    EXPECTW16 word [rm_cs], 0xF000, 34, "INT pushes CS"
    EXPECTW16 word [rm_flags], 0x0203, 35, "INT pushes FLAGS (IF CF)"
    EXPECTW16 word [rm_inflags], 0x0003, 35, "handler runs with IF=TF=0"
    and dx, 0x0201
    EXPECTW16 dx, 0x0001, 35, "IRET restores CF (IF cleared again by CLI)"
    int 0x41                                ; handler in CS=0xEF00
    EXPECTW16 ax, 0xEDCC, 36, "INT 0x41 through a far IVT pointer"
    EXPECTW16 word [rm_cs], 0xEF00, 36, "INT 0x41 handler ran with CS=0xEF00"

    ; INT3 (CC) is a trap: IP after the instruction.
    int3
.after_int3:
    EXPECTW16 word [rm_vec], 3, 37, "INT3 vector"
    EXPECTW16 word [rm_ip], .after_int3, 37, "INT3 pushes the IP after it"
    ; INTO with OF=0 does nothing; with OF=1 it traps to vector 4.
    mov word [rm_count], 0
    xor ax, ax                              ; OF=0
    into
    EXPECTW16 word [rm_count], 0, 38, "INTO with OF=0"
    mov al, 0x7F
    add al, 1                               ; OF=1
    into
.after_into:
    EXPECTW16 word [rm_count], 1, 38, "INTO with OF=1 count"
    EXPECTW16 word [rm_vec], 4, 38, "INTO vector"
    EXPECTW16 word [rm_ip], .after_into, 38, "INTO pushes the IP after it"

    ; ---- #DE: a fault, IP points at the DIV (SDM Vol. 3A 6.15, Interrupt 0)
    mov word [rm_count], 0
    mov word [rm_resume], .after_div0
    mov ax, 100
    xor bl, bl
.div0:
    div bl
    FAIL16 39, "DIV by zero did not fault"
.after_div0:
    EXPECTW16 word [rm_count], 1, 39, "#DE count"
    EXPECTW16 word [rm_vec], 0, 39, "#DE vector"
    EXPECTW16 word [rm_ip], .div0, 39, "#DE IP points at the DIV"
    EXPECTW16 ax, 100, 39, "#DE leaves AX unchanged"
    ; Quotient overflow is also #DE: 0x1000 / 2 does not fit in AL.
    mov word [rm_resume], .after_divov
    mov ax, 0x1000
    mov bl, 2
.divov:
    div bl
    FAIL16 40, "DIV overflow did not fault"
.after_divov:
    EXPECTW16 word [rm_vec], 0, 40, "DIV overflow vector"
    EXPECTW16 word [rm_ip], .divov, 40, "DIV overflow IP points at the DIV"
    ; 32-bit IDIV of 0x80000000 by -1 overflows too.
    mov word [rm_resume], .after_idivov
    mov eax, 0x80000000
    cdq
    mov ecx, -1
.idivov:
    idiv ecx
    FAIL16 41, "IDIV 0x80000000/-1 did not fault"
.after_idivov:
    EXPECTW16 word [rm_ip], .idivov, 41, "IDIV overflow IP points at the IDIV"

    ; ---- #UD: UD2 is a fault -------------------------------------------
    mov word [rm_resume], .after_ud2
.ud2:
    ud2
    FAIL16 42, "UD2 did not fault"
.after_ud2:
    EXPECTW16 word [rm_vec], 6, 42, "UD2 vector"
    EXPECTW16 word [rm_ip], .ud2, 42, "#UD IP points at UD2"

    ; ---- PUSHF/POPF flag bits (SDM Vol. 1 3.4.3, Vol. 3A 20.1.?) --------
    ; Bits 1 reads as 1; bits 3, 5, 15 read as 0.  TF (bit 8) and IF (bit 9)
    ; are left clear so no trap or interrupt can happen.
    mov ax, 0xFCFF
    push ax
    popf
    pushf
    pop bx
    push word 0x0002
    popf
    EXPECTW16 bx, 0x7CD7, 43, "POPF 0xFCFF then PUSHF"
    push word 0x0000
    popf
    pushf
    pop bx
    EXPECTW16 bx, 0x0002, 43, "POPF 0 then PUSHF"
    ; 32-bit PUSHFD: VM (17) and RF (16) read as 0 in the image; AC (18) and
    ; ID (21) are writable on a 486+/Pentium-class CPU.
    push dword 0x00240002
    popfd
    pushfd
    pop ebx
    push dword 0x2
    popfd
    EXPECTD16 ebx, 0x00240002, 44, "POPFD sets AC and ID"
    push dword 0x00030002                   ; VM and RF are not changed by POPFD
    popfd
    pushfd
    pop ebx
    push dword 0x2
    popfd
    EXPECTD16 ebx, 0x00000002, 44, "POPFD does not set VM or RF"

    ; SAHF/LAHF: SF ZF AF PF CF from 0xD5; bit 1 reads as 1.
    mov ah, 0xD5
    sahf
    mov ah, 0
    lahf
    shr ax, 8
    EXPECTW16 ax, 0xD7, 11, "SAHF 0xD5 then LAHF"

    jmp pass16

; ---------------------------------------------------------------------------
; Subroutines and handlers.

near_add:
    add ax, 2
    ret
far_add:
    add ax, 5
    retf
near_ret4:
    ret 4
far_ret2:
    retf 2

; rm_vecN: record vector, IP, CS, FLAGS; resume at [rm_resume] when set.
rm_vec0:
    push word 0
    jmp rm_exc_common
rm_vec3:
    push word 3
    jmp rm_exc_common
rm_vec4:
    push word 4
    jmp rm_exc_common
rm_vec6:
    push word 6
    jmp rm_exc_common
rm_int40:
    not ax
    push word 0x40
    jmp rm_exc_common

rm_exc_common:                              ; [sp] = vector, then IP, CS, FLAGS
    push bp
    mov bp, sp
    push ds
    push ax
    pushf
    pop ax
    push ax                                 ; FLAGS as seen inside the handler
    xor ax, ax
    mov ds, ax
    pop word [rm_inflags]
    mov ax, [bp + 2]
    mov [rm_vec], ax
    mov ax, [bp + 4]
    mov [rm_ip], ax
    mov ax, [bp + 6]
    mov [rm_cs], ax
    mov ax, [bp + 8]
    mov [rm_flags], ax
    inc word [rm_count]
    mov ax, [rm_resume]
    test ax, ax
    jz .iret
    mov [bp + 4], ax
    mov word [rm_resume], 0
.iret:
    pop ax
    pop ds
    pop bp
    add sp, 2
    iret

; INT 0x41 runs with CS=0xEF00; its offsets are ours plus 0x1000.
rm_int41:
    push ds
    push word 0
    pop ds
    mov word [rm_cs], cs
    pop ds
    inc ax
    iret

rm_unexpected:
    push bp
    mov bp, sp
    mov si, .msg
    call print16
    mov ax, [bp + 4]
    call print_hex16
    mov al, ':'
    out DEBUGCON, al
    mov ax, [bp + 2]
    call print_hex16
    mov si, nl16
    call print16
    mov al, 0x70
    jmp exit16
.msg: db 'FAIL ', ROMNAME, ': unexpected interrupt, return address ', 0

byte_m2:  db -2
str_src:  db 'Strachey'
str_src_end:
str_cmp:  db 'Strax...'

section .text32
bits 32
pm_main:                                    ; never entered: this ROM stays in real mode
    FAIL 0x7F, "entered protected mode"
