; bench.asm -- compute-bound benchmark ROM for interpreter/translator speed.
;
; In 32-bit protected mode (flat segments, paging off) it runs a loop that mixes
; ALU ops, loads/stores, a near call/ret, push/pop, non-REP string ops and a
; data-dependent branch whose two paths have the same length.  The loop body
; is exactly INSNS_PER_ITER instructions (counted below, on both branch paths),
; so guest MIPS = ITERATIONS * INSNS_PER_ITER / seconds.  String ops are used
; without REP so that "one instruction" is unambiguous.
;
; The result is self-checked against tools/bench_model.py, a Python model of
; the loop written from the SDM instruction definitions.  If you change
; ITERATIONS, rerun the model and update EXPECT_EBX/EXPECT_SUM2 (or leave them:
; the check is only made for the default iteration count).

%define ITERATIONS      16666667        ; ~500 million guest instructions
%define INSNS_PER_ITER  30              ; counted below (instructions 1..30)
%define DEFAULT_ITERATIONS 16666667
%define EXPECT_EBX      0xAE27A92F      ; tools/bench_model.py 16666667
%define EXPECT_SUM2     0x34D53486

%define ROMNAME 'bench'
%include "common.inc"

section .text16
bits 16
rm_start:
    RM_INIT
    jmp go_pm32

section .text32
bits 32

table   equ 0x10000         ; 64 dwords
table2  equ 0x10200         ; 2 dwords written by MOVSD
sum2    equ ROM_VARS

pm_main:
    mov esi, msg_start
    call print32
    mov eax, ITERATIONS
    call print_dec32
    mov esi, msg_x
    call print32
    mov eax, INSNS_PER_ITER
    call print_dec32
    mov esi, msg_eq
    call print32
    mov eax, ITERATIONS * INSNS_PER_ITER
    call print_dec32
    mov esi, msg_insns
    call print32

    ; table[i] = i * 0x01010101 (setup, not counted)
    xor eax, eax
    xor ecx, ecx
.fill:
    mov [table + ecx * 4], eax
    add eax, 0x01010101
    inc ecx
    cmp ecx, 64
    jb .fill

    mov ebp, ITERATIONS
    mov ebx, 0x12345678
    mov dword [sum2], 0
    cld

    align 16
.loop:
    mov eax, ebp                    ; 1
    and eax, 63                     ; 2
    mov edx, [table + eax * 4]      ; 3  load
    add ebx, edx                    ; 4
    rol ebx, 5                      ; 5
    xor ebx, ebp                    ; 6
    lea ecx, [ebx + ebx * 2 + 7]    ; 7
    imul ecx, ecx, 0x2545F491       ; 8
    mov [table + eax * 4], ecx      ; 9  store
    call mix                        ; 10 (mix is 11..14)
    mov esi, table                  ; 15
    mov edi, table2                 ; 16
    movsd                           ; 17
    movsd                           ; 18
    lodsd                           ; 19 eax = table[2]
    add ebx, eax                    ; 20
    test bl, 1                      ; 21
    jz .even                        ; 22
    add ebx, 3                      ; 23 (odd path)
    jmp .join                       ; 24 (odd path)
.even:
    sub ebx, 5                      ; 23 (even path)
    nop                             ; 24 (even path)
.join:
    push ebx                        ; 25
    pop edx                         ; 26
    xor edx, 0x5A5A5A5A             ; 27
    add [sum2], edx                 ; 28 load-op-store
    dec ebp                         ; 29
    jnz .loop                       ; 30

    mov esi, msg_sum
    call print32
    mov eax, ebx
    call print_hex32
    mov al, ' '
    out DEBUGCON, al
    mov eax, [sum2]
    call print_hex32
    mov esi, nl32
    call print32
%if ITERATIONS == DEFAULT_ITERATIONS
    EXPECT ebx, EXPECT_EBX, 1, "checksum EBX"
    EXPECT [sum2], EXPECT_SUM2, 2, "checksum SUM2"
%endif
    jmp pass32

mix:
    shr ecx, 3                      ; 11
    sub ebx, ecx                    ; 12
    adc ebx, 0                      ; 13 adds the borrow of the SUB
    ret                             ; 14

msg_start: db 'bench: ', 0
msg_x:     db ' iterations x ', 0
msg_eq:    db ' instructions = ', 0
msg_insns: db ' guest instructions', 10, 0
msg_sum:   db 'bench: checksum ', 0
