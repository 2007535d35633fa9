; paging.asm -- 32-bit (non-PAE) paging.
;
; SDM Vol. 3A ch. 4: 4.3 (32-bit paging, Tables 4-5..4-6: PDE/PTE formats,
; PS with CR4.PSE), 4.6 (access rights, CR0.WP), 4.7 (page-fault error code:
; P=bit 0, W/R=bit 1, U/S=bit 2; CR2), 4.8 (accessed and dirty flags), 4.10
; (INVLPG, MOV to CR3, global pages with CR4.PGE, and that changing CR4.PGE
; flushes everything).
;
; Only "after INVLPG / CR3 reload / CR4.PGE toggle the new mapping IS seen" is
; tested, never that a stale translation survives (that is allowed, not
; required).
;
; Physical layout: page directory 0x20000, PT0 0x21000 (identity 0-4 MiB with
; 4 KiB pages, user RW), PT2 0x22000 (linear 0x00800000-0x00BFFFFF), test
; frames 0x30000-0x35000, ring-3 stack below 0x70000.
;   linear 0x00800000 -> 0x30000 user RW          (alias)
;   linear 0x00801000 -> 0x31000 user read-only
;   linear 0x00802000 -> 0x32000 supervisor RW
;   linear 0x00803000    not present
;   linear 0x00804000 -> 0x34000 global, user RW
;   linear 0x00C00000 -> 4 MiB page at physical 0 (CR4.PSE)
;   linear 0x01000000    PDE not present

%define ROMNAME 'paging'
%include "common.inc"

%define PD      0x20000
%define PT0     0x21000
%define PT2     0x22000
%define TSS1    0x4000

%define P       0x001
%define RW      0x002
%define US      0x004
%define ACC     0x020
%define DIRTY   0x040
%define PS      0x080
%define GLOBAL  0x100

%define CR0_PG  0x80000000
%define CR0_WP  0x00010000
%define CR4_PSE 0x10
%define CR4_PGE 0x80

%define LIN_ALIAS   0x00800000
%define LIN_RO      0x00801000
%define LIN_SUP     0x00802000
%define LIN_NP      0x00803000
%define LIN_GLOBAL  0x00804000
%define LIN_BIG     0x00C00000
%define LIN_NOPDE   0x01000000

section .text16
bits 16
rm_start:
    RM_INIT
    jmp go_pm32

section .text32
bits 32

pm_main:
    ; A TSS for the ring-3 checks: SS0:ESP0 = flat data : STACK_TOP.
    mov edi, SEL_TSS
    mov eax, TSS1
    mov ebx, 0x67
    mov ecx, 0x089
    call set_desc
    mov dword [TSS1 + 4], STACK_TOP         ; ESP0
    mov dword [TSS1 + 8], SEL_DATA32        ; SS0
    mov ax, SEL_TSS
    ltr ax

    ; ---- page tables ------------------------------------------------------
    mov edi, PD                             ; clear PD, PT0, PT2
    xor eax, eax
    mov ecx, 3 * 1024
    rep stosd
    mov edi, PT0                            ; identity, user RW
    mov eax, P | RW | US
    mov ecx, 1024
.fill:
    stosd
    add eax, 0x1000
    loop .fill
    mov dword [PD + 0 * 4], PT0 | P | RW | US
    mov dword [PD + 2 * 4], PT2 | P | RW | US
    mov dword [PD + 3 * 4], 0x00000000 | PS | P | RW | US
    mov dword [PT2 + 0 * 4], 0x30000 | P | RW | US
    mov dword [PT2 + 1 * 4], 0x31000 | P | US
    mov dword [PT2 + 2 * 4], 0x32000 | P | RW
    mov dword [PT2 + 4 * 4], 0x34000 | P | RW | US | GLOBAL
    ; Recognisable contents in the frames.
    mov dword [0x30000], 0x30303030
    mov dword [0x31000], 0x31313131
    mov dword [0x31004], 0xFEEDFACE
    mov dword [0x32000], 0x32323232
    mov dword [0x33000], 0x33333333
    mov dword [0x34000], 0x34343434
    mov dword [0x35000], 0x35353535

    mov eax, PD
    mov cr3, eax
    mov eax, cr4
    or eax, CR4_PSE
    mov cr4, eax
    mov eax, cr0
    or eax, CR0_PG
    mov cr0, eax                            ; identity-mapped: execution continues
    jmp .paged
.paged:
    mov eax, cr0
    EXPECT eax, 0xE0000011, 1, "CR0 with PG set"
    EXPECT dword [0x34000], 0x34343434, 1, "identity mapping"

    ; ---- aliases ----------------------------------------------------------
    EXPECT dword [LIN_ALIAS], 0x30303030, 2, "4 KiB alias 0x00800000 -> 0x30000"
    mov dword [LIN_ALIAS + 4], 0xA11A5ED0
    EXPECT dword [0x30004], 0xA11A5ED0, 2, "write through the alias reaches the frame"
    EXPECT dword [LIN_BIG + 0x31000], 0x31313131, 3, "4 MiB page 0x00C00000 -> 0"
    mov dword [LIN_BIG + 0x35004], 0xB16B16B1
    EXPECT dword [0x35004], 0xB16B16B1, 3, "write through the 4 MiB page"

    ; ---- accessed and dirty bits (SDM 4.8) ----------------------------------
    and dword [PT2 + 0 * 4], ~(ACC | DIRTY)
    and dword [PD + 2 * 4], ~ACC
    invlpg [LIN_ALIAS]
    mov eax, [LIN_ALIAS]
    mov eax, [PT2 + 0 * 4]
    and eax, ACC | DIRTY
    EXPECT eax, ACC, 4, "read sets A, not D, in the PTE"
    mov eax, [PD + 2 * 4]
    and eax, ACC
    EXPECT eax, ACC, 4, "read sets A in the PDE"
    mov dword [LIN_ALIAS + 8], 1
    mov eax, [PT2 + 0 * 4]
    and eax, ACC | DIRTY
    EXPECT eax, ACC | DIRTY, 5, "write sets D in the PTE"
    mov eax, [PD + 2 * 4]
    and eax, DIRTY
    EXPECT eax, 0, 5, "D in a PDE that maps a page table is not set"
    ; 4 MiB page: A and D live in the PDE.
    and dword [PD + 3 * 4], ~(ACC | DIRTY)
    invlpg [LIN_BIG]
    mov eax, [LIN_BIG + 0x35000]
    mov eax, [PD + 3 * 4]
    and eax, ACC | DIRTY
    EXPECT eax, ACC, 6, "4 MiB page read sets A only"
    mov [LIN_BIG + 0x35008], eax
    mov eax, [PD + 3 * 4]
    and eax, ACC | DIRTY
    EXPECT eax, ACC | DIRTY, 6, "4 MiB page write sets D"

    ; ---- #PF error codes and CR2 (SDM 4.7) ---------------------------------
    EXPECT_EXC .pf1
.pf1_insn:
    mov eax, [LIN_NP + 0x10]
    FAIL 7, "read of a not-present page did not fault"
.pf1:
    EXPECT_FAULT 14, 0, 7, "#PF supervisor read, not present"
    mov eax, cr2
    EXPECT eax, LIN_NP + 0x10, 7, "CR2 = faulting linear address"
    EXPECT [exc_eip], .pf1_insn, 7, "#PF is a fault: EIP at the instruction"
    EXPECT_EXC .pf2
    mov dword [LIN_NOPDE + 0x123], 0
    FAIL 8, "write through a not-present PDE did not fault"
.pf2:
    EXPECT_FAULT 14, 2, 8, "#PF supervisor write, not present (PDE)"
    mov eax, cr2
    EXPECT eax, LIN_NOPDE + 0x123, 8, "CR2 for the PDE fault"
    ; CR0.WP=0: supervisor writes ignore R/W.
    mov dword [LIN_RO], 0x0510AD00
    EXPECT dword [0x31000], 0x0510AD00, 9, "WP=0: supervisor write to a read-only page"
    mov eax, cr0
    or eax, CR0_WP
    mov cr0, eax
    EXPECT_EXC .pf3
    mov dword [LIN_RO + 4], 0
    FAIL 10, "WP=1: supervisor write to a read-only page did not fault"
.pf3:
    EXPECT_FAULT 14, P | 2, 10, "#PF WP=1 supervisor write, read-only"
    mov eax, cr2
    EXPECT eax, LIN_RO + 4, 10, "CR2 for the WP fault"
    EXPECT dword [0x31004], 0xFEEDFACE, 10, "the faulting write did not happen (frame unchanged)"
    ; A read-only PDE makes its whole table read-only (for WP=1 supervisor).
    and dword [PD + 2 * 4], ~RW
    invlpg [LIN_ALIAS]
    EXPECT_EXC .pf4
    mov dword [LIN_ALIAS], 0
    FAIL 11, "write under a read-only PDE did not fault"
.pf4:
    or dword [PD + 2 * 4], RW
    invlpg [LIN_ALIAS]
    EXPECT_FAULT 14, P | 2, 11, "#PF write under a read-only PDE"

    ; ---- user-mode accesses (CPL 3) -----------------------------------------
    EXPECT_EXC .pf5
    mov ebx, r3_read_sup
    jmp to_ring3
.pf5:
    EXPECT_FAULT 14, P | US, 12, "#PF user read of a supervisor page"
    mov eax, cr2
    EXPECT eax, LIN_SUP, 12, "CR2 for the user read"
    EXPECT [exc_cs], SEL_CODE32_R3, 12, "the fault came from ring 3"
    EXPECT_EXC .pf6
    mov ebx, r3_write_ro
    jmp to_ring3
.pf6:
    EXPECT_FAULT 14, P | 2 | US, 13, "#PF user write of a read-only page"
    EXPECT_EXC .pf7
    mov ebx, r3_read_np
    jmp to_ring3
.pf7:
    EXPECT_FAULT 14, US, 14, "#PF user read, not present"
    EXPECT_EXC .pf8
    mov ebx, r3_write_ok
    jmp to_ring3
.pf8:
    ; r3_write_ok ends with INT3 (a DPL-0 gate: #GP) to come back.
    EXPECT dword [0x30010], 0x0005E700, 15, "user write to a user RW page"
    EXPECT [exc_vector], 13, 15, "back from ring 3 via #GP"
    ; U/S=0 in the PDE makes every page under it supervisor-only.
    and dword [PD + 2 * 4], ~US
    invlpg [LIN_ALIAS]
    EXPECT_EXC .pf9
    mov ebx, r3_read_alias
    jmp to_ring3
.pf9:
    or dword [PD + 2 * 4], US
    invlpg [LIN_ALIAS]
    EXPECT_FAULT 14, P | US, 16, "#PF user read under a supervisor PDE"

    ; ---- INVLPG and CR3 reload: the new mapping is seen ---------------------
    mov eax, [LIN_ALIAS]                    ; make sure it is cached
    mov dword [PT2 + 0 * 4], 0x32000 | P | RW | US
    invlpg [LIN_ALIAS]
    EXPECT dword [LIN_ALIAS], 0x32323232, 17, "after INVLPG the new PTE is used"
    mov dword [PT2 + 0 * 4], 0x33000 | P | RW | US
    mov eax, cr3
    mov cr3, eax
    EXPECT dword [LIN_ALIAS], 0x33333333, 18, "after a CR3 reload the new PTE is used"
    ; A present -> not present change, then INVLPG: #PF.
    mov dword [PT2 + 0 * 4], 0
    invlpg [LIN_ALIAS]
    EXPECT_EXC .pf10
    mov eax, [LIN_ALIAS]
    FAIL 19, "no fault after unmapping and INVLPG"
.pf10:
    EXPECT_FAULT 14, 0, 19, "#PF after unmapping and INVLPG"
    mov dword [PT2 + 0 * 4], 0x30000 | P | RW | US
    invlpg [LIN_ALIAS]

    ; ---- global pages (CR4.PGE) -----------------------------------------------
    mov eax, cr4
    or eax, CR4_PGE
    mov cr4, eax
    EXPECT dword [LIN_GLOBAL], 0x34343434, 20, "global page readable"
    mov dword [PT2 + 4 * 4], 0x35000 | P | RW | US | GLOBAL
    invlpg [LIN_GLOBAL]                     ; INVLPG also drops global entries
    EXPECT dword [LIN_GLOBAL], 0x35353535, 20, "after INVLPG the new global PTE is used"
    mov dword [PT2 + 4 * 4], 0x33000 | P | RW | US | GLOBAL
    mov eax, cr4
    and eax, ~CR4_PGE                       ; clearing PGE flushes all, globals too
    mov cr4, eax
    or eax, CR4_PGE
    mov cr4, eax
    EXPECT dword [LIN_GLOBAL], 0x33333333, 21, "after toggling CR4.PGE the new global PTE is used"

    ; ---- paging off again -------------------------------------------------------
    mov eax, cr0
    and eax, ~(CR0_PG | CR0_WP)
    mov cr0, eax
    jmp .unpaged
.unpaged:
    mov eax, cr0
    EXPECT eax, 0x60000011, 22, "CR0 with PG and WP clear again"
    EXPECT dword [0x31000], 0x0510AD00, 22, "paging off: physical addressing"
    jmp pass32

; to_ring3: IRETD to ring 3 at EBX with a ring-3 stack (SDM 6.12.1: the frame
; is EIP, CS, EFLAGS, ESP, SS).
to_ring3:
    push dword SEL_DATA32_R3
    push dword 0x70000
    push dword 0x00000002
    push dword SEL_CODE32_R3
    push ebx
    iretd

; Ring-3 snippets.  DS was nulled by the IRET to CPL 3 (its DPL 0 < CPL), so
; each one loads a ring-3 data selector first.
r3_read_sup:
    mov ax, SEL_DATA32_R3
    mov ds, ax
    mov eax, [LIN_SUP]
    int3
r3_write_ro:
    mov ax, SEL_DATA32_R3
    mov ds, ax
    mov dword [LIN_RO], 0
    int3
r3_read_np:
    mov ax, SEL_DATA32_R3
    mov ds, ax
    mov eax, [LIN_NP]
    int3
r3_write_ok:
    mov ax, SEL_DATA32_R3
    mov ds, ax
    mov dword [LIN_ALIAS + 0x10], 0x0005E700
    int3                                    ; gate DPL 0 < CPL 3: #GP(3*8+2)
r3_read_alias:
    mov ax, SEL_DATA32_R3
    mov ds, ax
    mov eax, [LIN_ALIAS]
    int3
