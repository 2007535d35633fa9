; tasks.asm -- hardware task switching with 32-bit TSSs.
;
; SDM Vol. 3A ch. 7: 7.2.1 (TSS layout), 7.2.2 (TSS descriptor, busy flag B
; in the type: 1001b available, 1011b busy), 7.3 (task switching: what is
; saved and loaded, CR0.TS set), 7.4 (task linking: back link, NT, busy flag
; rules for JMP vs CALL/INT, Table 7-2), 7.2.5 / 6.11 (task gates in the IDT);
; Vol. 2 JMP/CALL/IRET pseudo-code (#GP(TSS selector) when the TSS is busy).
;
;   LTR marks the TSS busy; JMP to a TSS (old task not busy, no link, NT=0,
;   TS set, outgoing state saved in the old TSS, new registers loaded); JMP
;   back; CALL to a TSS (link = caller, NT=1, caller stays busy); IRET with
;   NT=1 returns and clears the callee's busy flag; INT through a task gate
;   behaves like CALL; JMP and CALL to a busy TSS are #GP(selector).

%define ROMNAME 'tasks'
%include "common.inc"

%define TSS_MAIN    0x4000
%define TSS_A       0x4100
%define TSS_B       0x4200
%define TSS_C       0x4300
%define SEL_MAIN    SEL_TSS              ; 0x38
%define SEL_A       0x40
%define SEL_B       0x48
%define SEL_C       0x50

%define TSS_LINK    0x00
%define TSS_CR3     0x1C
%define TSS_EIP     0x20
%define TSS_EFLAGS  0x24
%define TSS_EAX     0x28
%define TSS_ESP     0x38
%define TSS_ES      0x48
%define TSS_CS      0x4C
%define TSS_SS      0x50
%define TSS_DS      0x54
%define TSS_FS      0x58
%define TSS_GS      0x5C

%define NT          0x4000
%define CR0_TS      0x8

; Records written by the tasks.
%define a_tr        (ROM_VARS + 0x00)
%define a_cr0       (ROM_VARS + 0x04)
%define a_eflags    (ROM_VARS + 0x08)
%define a_main_type (ROM_VARS + 0x0C)
%define a_own_type  (ROM_VARS + 0x10)
%define a_saved_eip (ROM_VARS + 0x14)
%define a_saved_eax (ROM_VARS + 0x18)
%define a_eax       (ROM_VARS + 0x1C)
%define a_link      (ROM_VARS + 0x20)
%define b_link      (ROM_VARS + 0x30)
%define b_eflags    (ROM_VARS + 0x34)
%define b_main_type (ROM_VARS + 0x38)
%define b_own_type  (ROM_VARS + 0x3C)
%define b_tr        (ROM_VARS + 0x40)
%define c_link      (ROM_VARS + 0x50)
%define c_eflags    (ROM_VARS + 0x54)
%define c_tr        (ROM_VARS + 0x58)
%define c_runs      (ROM_VARS + 0x5C)

section .text16
bits 16
rm_start:
    RM_INIT
    jmp go_pm32

section .text32
bits 32

; type_of: AL = type field (low nibble of the access byte) of selector EDI.
%macro TYPE_OF 2                            ; dest (r32), selector
    movzx %1, byte [GDT_BASE + %2 + 5]
    and %1, 0x0F
%endmacro

pm_main:
    ; TSS descriptors: 32-bit available TSS (type 9), limit 0x67.
    mov ebx, 0x67
    mov ecx, 0x089
    mov edi, SEL_MAIN
    mov eax, TSS_MAIN
    call set_desc
    mov edi, SEL_A
    mov eax, TSS_A
    call set_desc
    mov edi, SEL_B
    mov eax, TSS_B
    call set_desc
    mov edi, SEL_C
    mov eax, TSS_C
    call set_desc
    ; Task images.
    mov edi, TSS_A
    mov ebx, task_a
    mov ecx, 0x60000
    call init_tss
    mov dword [TSS_A + TSS_EAX], 0xAAAA0001
    mov edi, TSS_B
    mov ebx, task_b
    mov ecx, 0x5F000
    call init_tss
    mov edi, TSS_C
    mov ebx, task_c
    mov ecx, 0x5E000
    call init_tss
    ; Task gate for vector 0x50 (type 5; the offset is unused).
    mov eax, 0x50
    xor ebx, ebx
    mov ecx, SEL_C
    mov edx, 0x85
    call set_gate

    mov ax, SEL_MAIN
    ltr ax
    TYPE_OF eax, SEL_MAIN
    EXPECT eax, 0xB, 1, "LTR marks the TSS busy"

    ; ---- JMP to a TSS --------------------------------------------------------
    clts
    mov eax, 0x12345678
    jmp SEL_A:0
.after_jmp:
    ; Task A jumped back here: our state came back from TSS_MAIN.
    str ax
    EXPECTW ax, SEL_MAIN, 2, "TR after returning to the main task"
    EXPECT [a_tr], SEL_A, 3, "TR inside task A"
    EXPECT [a_eax], 0xAAAA0001, 3, "task A registers loaded from its TSS"
    mov eax, [a_cr0]
    and eax, CR0_TS
    EXPECT eax, CR0_TS, 4, "CR0.TS set by the task switch"
    mov eax, [a_eflags]
    and eax, NT
    EXPECT eax, 0, 5, "JMP to a task: NT clear"
    EXPECT [a_main_type], 0x9, 6, "JMP to a task: the old TSS is no longer busy"
    EXPECT [a_own_type], 0xB, 6, "JMP to a task: the new TSS is busy"
    EXPECT [a_saved_eip], .after_jmp, 7, "outgoing EIP saved in the old TSS"
    EXPECT [a_saved_eax], 0x12345678, 7, "outgoing EAX saved in the old TSS"
    EXPECT [a_link], 0, 7, "JMP does not write the back link"
    TYPE_OF eax, SEL_A
    EXPECT eax, 0x9, 8, "task A not busy after it jumped away"
    TYPE_OF eax, SEL_MAIN
    EXPECT eax, 0xB, 8, "main task busy again"

    ; ---- CALL to a TSS, IRET back ------------------------------------------
    clts
    call SEL_B:0
    EXPECT [b_link], SEL_MAIN, 9, "CALL: back link = caller's TSS"
    mov eax, [b_eflags]
    and eax, NT
    EXPECT eax, NT, 9, "CALL: NT set in the called task"
    EXPECT [b_main_type], 0xB, 10, "CALL: the caller stays busy"
    EXPECT [b_own_type], 0xB, 10, "CALL: the called TSS is busy"
    EXPECT [b_tr], SEL_B, 10, "TR inside task B"
    TYPE_OF eax, SEL_B
    EXPECT eax, 0x9, 11, "IRET from a nested task clears its busy flag"
    pushfd
    pop eax
    and eax, NT
    EXPECT eax, 0, 11, "NT clear in the caller after IRET"
    mov eax, cr0
    and eax, CR0_TS
    EXPECT eax, CR0_TS, 12, "CR0.TS set after IRET's task switch"
    clts

    ; ---- INT through a task gate ---------------------------------------------
    int 0x50
    int 0x50                                ; task C's IRET left it at .again
    EXPECT [c_runs], 2, 13, "task gate: task C ran twice"
    EXPECT [c_link], SEL_MAIN, 13, "task gate: back link = interrupted task"
    mov eax, [c_eflags]
    and eax, NT
    EXPECT eax, NT, 13, "task gate: NT set in the handler task"
    EXPECT [c_tr], SEL_C, 13, "task gate: TR inside task C"
    TYPE_OF eax, SEL_C
    EXPECT eax, 0x9, 13, "task gate: handler TSS not busy after IRET"

    ; ---- busy TSS: #GP(selector) -------------------------------------------
    EXPECT_EXC .busy1
    jmp SEL_MAIN:0                          ; ourselves: busy
    FAIL 14, "JMP to a busy TSS did not fault"
.busy1:
    EXPECT_FAULT 13, SEL_MAIN, 14, "#GP(sel) for JMP to a busy TSS"
    EXPECT_EXC .busy2
    call SEL_MAIN:0
    FAIL 15, "CALL to a busy TSS did not fault"
.busy2:
    EXPECT_FAULT 13, SEL_MAIN, 15, "#GP(sel) for CALL to a busy TSS"
    jmp pass32

; init_tss: EDI = TSS base, EBX = EIP, ECX = ESP; flat ring-0 segments.
init_tss:
    push edi
    push ecx
    xor eax, eax
    mov ecx, 0x68 / 4
    rep stosd
    pop ecx
    pop edi
    mov eax, cr3
    mov [edi + TSS_CR3], eax
    mov [edi + TSS_EIP], ebx
    mov dword [edi + TSS_EFLAGS], 0x00000002
    mov [edi + TSS_ESP], ecx
    mov dword [edi + TSS_CS], SEL_CODE32
    mov eax, SEL_DATA32
    mov [edi + TSS_SS], eax
    mov [edi + TSS_DS], eax
    mov [edi + TSS_ES], eax
    mov [edi + TSS_FS], eax
    mov [edi + TSS_GS], eax
    mov word [edi + 0x66], 0x68             ; no I/O bitmap
    ret

; ---- the tasks -----------------------------------------------------------------
task_a:
    mov [a_eax], eax                        ; loaded from TSS_A
    str ax
    movzx eax, ax
    mov [a_tr], eax
    mov eax, cr0
    mov [a_cr0], eax
    pushfd
    pop dword [a_eflags]
    TYPE_OF eax, SEL_MAIN
    mov [a_main_type], eax
    TYPE_OF eax, SEL_A
    mov [a_own_type], eax
    mov eax, [TSS_MAIN + TSS_EIP]
    mov [a_saved_eip], eax
    mov eax, [TSS_MAIN + TSS_EAX]
    mov [a_saved_eax], eax
    movzx eax, word [TSS_A + TSS_LINK]
    mov [a_link], eax
    jmp SEL_MAIN:0                          ; back (main is not busy now)

task_b:
    movzx eax, word [TSS_B + TSS_LINK]
    mov [b_link], eax
    pushfd
    pop dword [b_eflags]
    TYPE_OF eax, SEL_MAIN
    mov [b_main_type], eax
    TYPE_OF eax, SEL_B
    mov [b_own_type], eax
    str ax
    movzx eax, ax
    mov [b_tr], eax
    iretd                                   ; NT=1: return to the back link

task_c:
.again:
    inc dword [c_runs]
    movzx eax, word [TSS_C + TSS_LINK]
    mov [c_link], eax
    pushfd
    pop dword [c_eflags]
    str ax
    movzx eax, ax
    mov [c_tr], eax
    iretd                                   ; back; the next INT resumes here
    jmp .again
