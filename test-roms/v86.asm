; v86.asm -- virtual-8086 mode (no VME: CR4.VME = CR4.PVI = 0).
;
; SDM Vol. 3A ch. 20: 20.2.1 (entering v86 by IRET with EFLAGS.VM; the frame
; carries ES, DS, FS, GS), 20.2.7 and Table 20-2 (sensitive instructions:
; CLI, STI, PUSHF, POPF, INT n, IRET raise #GP(0) when IOPL < 3), 20.2.8.1
; (IN/OUT in v86 are checked against the I/O permission bitmap only),
; 20.3.1.1 and Figure 20-4 (an interrupt from v86 to a ring-0 handler: the
; stack holds GS, FS, DS, ES, SS, ESP, EFLAGS, CS, EIP and the data segment
; registers are loaded with null), 20.3.1.2 (returning with IRET).
;
; Phase 1, IOPL 0: a small #GP monitor emulates CLI, STI, PUSHF, POPF with a
;   virtual IF, reflects INT n through the real-mode IVT (at linear 0) and
;   emulates the handler's IRET, emulates IN/OUT refused by the I/O bitmap,
;   and treats HLT as "leave v86".
; Phase 2, IOPL 3: CLI/STI/PUSHF/POPF run directly; INT 0x41 goes through
;   the protected-mode IDT (a DPL-3 gate) to a ring-0 handler that checks
;   its frame and the nulled segment registers, then IRETs back to v86.

%define ROMNAME 'v86'
%include "common.inc"

%define TSS1        0x4000
%define V86_SS      0x7000
%define V86_SP      0xFFF0

%define VM          0x00020000

; Variables (v86 code reaches them with DS=0; ring 0 with flat DS).
%define vif         (ROM_VARS + 0x00)   ; the monitor's virtual IF (0/1)
%define n_cli       (ROM_VARS + 0x04)
%define n_sti       (ROM_VARS + 0x08)
%define n_pushf     (ROM_VARS + 0x0C)
%define n_popf      (ROM_VARS + 0x10)
%define n_int       (ROM_VARS + 0x14)
%define n_iret      (ROM_VARS + 0x18)
%define n_in        (ROM_VARS + 0x1C)
%define n_out       (ROM_VARS + 0x20)
%define out_val     (ROM_VARS + 0x24)
%define gp_err      (ROM_VARS + 0x28)
%define v_flags1    (ROM_VARS + 0x30)   ; written by v86 code (words)
%define v_flags2    (ROM_VARS + 0x32)
%define v_int40     (ROM_VARS + 0x34)
%define v_in        (ROM_VARS + 0x36)
%define v_lin       (ROM_VARS + 0x38)
%define v_flags3    (ROM_VARS + 0x3A)
%define v_flags4    (ROM_VARS + 0x3C)
%define v_es        (ROM_VARS + 0x3E)
%define v_fs        (ROM_VARS + 0x40)
%define v_gs        (ROM_VARS + 0x42)
%define v_after41   (ROM_VARS + 0x44)
%define v_eax32     (ROM_VARS + 0x48)
%define i41_frame   (ROM_VARS + 0x60)   ; 9 dwords
%define i41_segs    (ROM_VARS + 0x90)   ; DS, ES, FS, GS in the handler (dwords)
%define i41_esp     (ROM_VARS + 0xA0)
%define i41_eflags  (ROM_VARS + 0xA4)
%define v86_resume  (ROM_VARS + 0xB0)
%define v86_resume_esp (ROM_VARS + 0xB4)

section .text16
bits 16
rm_start:
    RM_INIT
    ; Real-mode IVT entry used by the v86 code (reflected by the monitor).
    mov word [0x40 * 4], v86_int40
    mov word [0x40 * 4 + 2], 0xF000
    jmp go_pm32

; ---- v86 code, phase 1 (IOPL 0): every sensitive instruction traps ---------
v86_phase1:
    xor ax, ax
    mov ds, ax                              ; segment loads are fine in v86
    cli                                     ; monitor: VIF = 0
    sti                                     ; monitor: VIF = 1
    pushf                                   ; monitor pushes FLAGS with VIF
    pop ax
    mov [v_flags1], ax
    push word 0x0000
    popf                                    ; monitor: VIF = 0
    pushf
    pop ax
    mov [v_flags2], ax
    int 0x40                                ; reflected through the IVT
    in al, 0x42                             ; refused by the bitmap: emulated
    mov [v_in], al
    mov al, 0x77
    out 0x43, al                            ; emulated
    ; Real-mode style addressing: 0x1000:0x0020 is linear 0x10020.
    mov ax, 0x1000
    mov es, ax
    mov word [es:0x0020], 0xBEAD
    mov ax, word [es:0x20]
    mov [v_lin], ax
    mov eax, 0x12345678                     ; 32-bit operand in v86
    ror eax, 8
    mov [v_eax32], eax
    hlt                                     ; privileged: #GP, monitor ends phase 1

v86_int40:                                  ; a real-mode style handler
    push ds
    push word 0
    pop ds
    mov word [v_int40], 0x4040
    pop ds
    iret                                    ; IOPL 0: emulated by the monitor

; ---- v86 code, phase 2 (IOPL 3) ---------------------------------------------
v86_phase2:
    xor ax, ax
    mov ds, ax
    sti                                     ; runs directly
    pushf
    pop ax
    mov [v_flags3], ax
    cli                                     ; runs directly
    push word 0x0002                        ; POPF at IOPL 3 in v86 cannot
    popf                                    ; change IOPL (SDM Vol. 2 POPF)
    pushf
    pop ax
    mov [v_flags4], ax
    mov ax, 0x1234
    mov es, ax
    mov ax, 0x2345
    mov fs, ax
    mov ax, 0x3456
    mov gs, ax
    int 0x41                                ; protected-mode IDT, ring-0 handler
.after41:
    mov [v_es], es
    mov [v_fs], fs
    mov [v_gs], gs
    mov word [v_after41], 0x4141
    hlt                                     ; #GP even at IOPL 3: ends phase 2

; ============================================================================
section .text32
bits 32

pm_main:
    ; TSS: ring-0 stack for exceptions/interrupts from v86; the I/O map base
    ; points past the TSS limit, so every port is refused in v86.
    mov edi, SEL_TSS
    mov eax, TSS1
    mov ebx, 0x67
    mov ecx, 0x089
    call set_desc
    mov dword [TSS1 + 4], STACK_TOP
    mov dword [TSS1 + 8], SEL_DATA32
    mov word [TSS1 + 0x66], 0x68
    mov ax, SEL_TSS
    ltr ax
    ; #GP -> the monitor; INT 0x41 -> DPL-3 interrupt gate to ring-0 code.
    mov eax, 13
    mov ebx, v86_monitor
    mov ecx, SEL_CODE32
    mov edx, 0x8E
    call set_gate
    mov eax, 0x41
    mov ebx, pm_int41
    mov edx, 0xEE
    call set_gate

    ; ---- phase 1: IOPL 0 --------------------------------------------------
    mov dword [vif], 1
    mov dword [v86_resume], .phase1_done
    mov [v86_resume_esp], esp
    push dword 0                            ; GS
    push dword 0                            ; FS
    push dword 0                            ; DS
    push dword 0                            ; ES
    push dword V86_SS                       ; SS
    push dword V86_SP                       ; ESP
    push dword VM | 0x0002                  ; EFLAGS: VM, IOPL 0
    push dword 0xF000                       ; CS
    push dword v86_phase1                   ; EIP (offset in .text16)
    iretd
.phase1_done:
    EXPECT [gp_err], 0, 1, "#GP error code for sensitive v86 instructions"
    EXPECT [n_cli], 1, 2, "CLI at IOPL 0 trapped"
    EXPECT [n_sti], 1, 2, "STI at IOPL 0 trapped"
    EXPECT [n_pushf], 2, 3, "PUSHF at IOPL 0 trapped"
    EXPECT [n_popf], 1, 3, "POPF at IOPL 0 trapped"
    mov ax, [v_flags1]
    and eax, 0x3200                         ; IOPL and IF
    EXPECT eax, 0x0200, 4, "emulated PUSHF shows VIF=1"
    EXPECTW word [v_flags2], 0x0002, 4, "emulated POPF cleared VIF"
    EXPECT [n_int], 1, 5, "INT n at IOPL 0 trapped"
    EXPECT [n_iret], 1, 5, "IRET at IOPL 0 trapped"
    EXPECTW word [v_int40], 0x4040, 5, "INT 0x40 reflected to the IVT handler"
    EXPECT [n_in], 1, 6, "IN refused by the bitmap trapped"
    EXPECTW word [v_in], 0x5A, 6, "emulated IN result"
    EXPECT [n_out], 1, 6, "OUT refused by the bitmap trapped"
    EXPECT [out_val], 0x4377, 6, "emulated OUT port and value"
    EXPECTW word [v_lin], 0xBEAD, 7, "v86 segment arithmetic"
    EXPECT dword [0x10020], 0xBEAD, 7, "v86 segment 0x1000:0x20 is linear 0x10020"
    EXPECT [v_eax32], 0x78123456, 7, "32-bit operand in v86"

    ; ---- phase 2: IOPL 3 --------------------------------------------------
    mov dword [n_cli], 0
    mov dword [n_sti], 0
    mov dword [n_pushf], 0
    mov dword [n_popf], 0
    mov dword [n_int], 0
    mov dword [v86_resume], .phase2_done
    mov [v86_resume_esp], esp
    push dword 0x5555                       ; GS (replaced by the v86 code)
    push dword 0x6666                       ; FS
    push dword 0                            ; DS
    push dword 0x7777                       ; ES
    push dword V86_SS
    push dword V86_SP
    push dword VM | 0x3002                  ; EFLAGS: VM, IOPL 3
    push dword 0xF000
    push dword v86_phase2
    iretd
.phase2_done:
    mov eax, [n_cli]
    add eax, [n_sti]
    add eax, [n_pushf]
    add eax, [n_popf]
    add eax, [n_int]
    EXPECT eax, 0, 8, "IOPL 3: CLI/STI/PUSHF/POPF/INT did not trap"
    mov ax, [v_flags3]
    and eax, 0x3200
    EXPECT eax, 0x3200, 9, "IOPL 3: STI set IF, PUSHF shows IF and IOPL"
    EXPECTW word [v_flags4], 0x3002, 9, "IOPL 3: CLI cleared IF, POPF kept IOPL"
    EXPECT [i41_segs + 0], 0, 10, "INT from v86: DS null in the handler"
    EXPECT [i41_segs + 4], 0, 10, "INT from v86: ES null in the handler"
    EXPECT [i41_segs + 8], 0, 10, "INT from v86: FS null in the handler"
    EXPECT [i41_segs + 12], 0, 10, "INT from v86: GS null in the handler"
    EXPECT [i41_frame + 0], v86_phase2.after41, 11, "v86 INT frame: EIP"
    EXPECT [i41_frame + 4], 0xF000, 11, "v86 INT frame: CS"
    EXPECT [i41_frame + 8], VM | 0x3002, 11, "v86 INT frame: EFLAGS with VM"
    EXPECT [i41_frame + 12], V86_SP, 11, "v86 INT frame: ESP"
    EXPECT [i41_frame + 16], V86_SS, 11, "v86 INT frame: SS"
    EXPECT [i41_frame + 20], 0x1234, 12, "v86 INT frame: ES"
    EXPECT [i41_frame + 24], 0, 12, "v86 INT frame: DS"
    EXPECT [i41_frame + 28], 0x2345, 12, "v86 INT frame: FS"
    EXPECT [i41_frame + 32], 0x3456, 12, "v86 INT frame: GS"
    EXPECT [i41_esp], STACK_TOP - 36, 13, "v86 INT: ring-0 stack from TSS.ESP0, 9 dwords"
    mov eax, [i41_eflags]
    and eax, VM | 0x0200
    EXPECT eax, 0, 13, "handler runs with VM=0 and IF=0 (interrupt gate)"
    EXPECTW word [v_es], 0x1234, 14, "IRET to v86 restores ES"
    EXPECTW word [v_fs], 0x2345, 14, "IRET to v86 restores FS"
    EXPECTW word [v_gs], 0x3456, 14, "IRET to v86 restores GS"
    EXPECTW word [v_after41], 0x4141, 14, "v86 code continued after INT 0x41"
    jmp pass32

; ---- the ring-0 handler for INT 0x41 from v86 (IOPL 3) -----------------------
; DS/ES/FS/GS are null here: use SS (TSS.SS0 = flat data) for every access.
pm_int41:
    push eax
    mov ax, ds
    movzx eax, ax
    mov [ss:i41_segs + 0], eax
    mov ax, es
    movzx eax, ax
    mov [ss:i41_segs + 4], eax
    mov ax, fs
    movzx eax, ax
    mov [ss:i41_segs + 8], eax
    mov ax, gs
    movzx eax, ax
    mov [ss:i41_segs + 12], eax
    lea eax, [esp + 4]
    mov [ss:i41_esp], eax
    pushfd
    pop eax
    mov [ss:i41_eflags], eax
%assign i 0
%rep 9
    mov eax, [esp + 4 + i * 4]
    mov [ss:i41_frame + i * 4], eax
%assign i i + 1
%endrep
    pop eax
    iretd                                   ; VM=1 in the image: back to v86

; ---- the #GP monitor ------------------------------------------------------------
; Frame: [ebp+4] error code, +8 EIP, +12 CS, +16 EFLAGS, +20 ESP, +24 SS,
; +28 ES, +32 DS, +36 FS, +40 GS.  Saved EAX (PUSHAD) is at [ebp-4].
v86_monitor:
    push ebp
    mov ebp, esp
    pushad
    mov ax, SEL_DATA32
    mov ds, ax
    mov es, ax
    test dword [ebp + 16], VM
    jz .not_v86
    mov eax, [ebp + 4]
    mov [gp_err], eax
    movzx esi, word [ebp + 12]              ; linear CS:IP
    shl esi, 4
    movzx eax, word [ebp + 8]
    add esi, eax
    mov al, [esi]
    cmp al, 0xFA
    je .cli
    cmp al, 0xFB
    je .sti
    cmp al, 0x9C
    je .pushf
    cmp al, 0x9D
    je .popf
    cmp al, 0xCD
    je .int
    cmp al, 0xCF
    je .iret
    cmp al, 0xE4
    je .in
    cmp al, 0xE6
    je .out
    cmp al, 0xF4
    je .hlt
    FAIL 0x60, "v86 monitor: unexpected #GP in v86"
.not_v86:
    FAIL 0x61, "v86 monitor: #GP outside v86"

.cli:
    mov dword [vif], 0
    inc dword [n_cli]
    jmp .skip1
.sti:
    mov dword [vif], 1
    inc dword [n_sti]
    jmp .skip1
.pushf:
    call flags_image
    call push16
    inc dword [n_pushf]
    jmp .skip1
.popf:
    call pop16
    call set_flags
    inc dword [n_popf]
    jmp .skip1
.int:
    movzx ebx, byte [esi + 1]               ; vector
    call flags_image
    call push16                             ; FLAGS
    mov ax, [ebp + 12]
    call push16                             ; CS
    mov ax, [ebp + 8]
    add ax, 2
    call push16                             ; IP after INT n
    mov dword [vif], 0
    and dword [ebp + 16], ~0x100            ; TF
    mov ax, [ebx * 4]                       ; IVT at linear 0
    mov [ebp + 8], ax
    mov ax, [ebx * 4 + 2]
    mov [ebp + 12], ax
    inc dword [n_int]
    jmp .resume
.iret:
    call pop16
    mov [ebp + 8], ax                       ; IP
    call pop16
    mov [ebp + 12], ax                      ; CS
    call pop16
    call set_flags
    inc dword [n_iret]
    jmp .resume
.in:                                        ; IN AL, imm8: a fake device
    mov byte [ebp - 4], 0x5A
    inc dword [n_in]
    jmp .skip2
.out:                                       ; OUT imm8, AL: record port:value
    movzx eax, byte [esi + 1]
    shl eax, 8
    mov al, [ebp - 4]
    mov [out_val], eax
    inc dword [n_out]
    jmp .skip2
.hlt:
    mov ecx, [v86_resume]
    mov esp, [v86_resume_esp]
    mov ax, SEL_DATA32
    mov fs, ax
    mov gs, ax
    jmp ecx

.skip2:
    inc word [ebp + 8]
.skip1:
    inc word [ebp + 8]
.resume:
    popad
    pop ebp
    add esp, 4                              ; error code
    iretd

; flags_image: AX = the 16-bit FLAGS the guest should see (virtual IF, IOPL 0).
flags_image:
    mov eax, [ebp + 16]
    and eax, 0x0DD5                         ; arithmetic flags, TF, DF, OF
    or eax, 0x0002
    cmp dword [vif], 0
    je .done
    or eax, 0x0200
.done:
    ret

; set_flags: AX = a FLAGS image popped by the guest.
set_flags:
    push eax
    and eax, 0x0CD5                         ; arithmetic flags, DF, OF
    and dword [ebp + 16], ~0x0CD5
    or [ebp + 16], eax
    pop eax
    shr eax, 9
    and eax, 1
    mov [vif], eax
    ret

; push16 / pop16: AX to / from the v86 stack (SS:SP, 16-bit SP).
push16:
    sub word [ebp + 20], 2
    movzx edi, word [ebp + 24]
    shl edi, 4
    movzx ecx, word [ebp + 20]
    mov [edi + ecx], ax
    ret
pop16:
    movzx edi, word [ebp + 24]
    shl edi, 4
    movzx ecx, word [ebp + 20]
    mov ax, [edi + ecx]
    add word [ebp + 20], 2
    ret
