; cbench.asm -- the translator benchmark's workload (workload.inc) as a ROM.
;
; In 32-bit flat protected mode (paging off) it calls the workload once and
; prints "cbench: checksum XXXXXXXX" to port 0xE9, then PASS.  The same
; workload runs natively as a Linux i386 program (native/cbench.asm); the
; benchmark (benches/translator.rs) runs both, the two Strachey engines and
; QEMU, and checks that all four print the same checksum.  Assemble with
; -DWL_ROUNDS=N for another size (the default is in workload.inc).

%define ROMNAME 'cbench'
%include "common.inc"

section .text16
bits 16
rm_start:
    RM_INIT
    jmp go_pm32

section .text32
bits 32

wl_data equ 0x10000                 ; RAM scratch, 0x10000-0x72FFF (common.inc)
%include "workload.inc"

pm_main:
    mov esi, msg_rounds
    call print32
    mov eax, WL_ROUNDS
    call print_dec32
    mov esi, nl32
    call print32
    call workload
    mov esi, msg_sum
    call print32
    call print_hex32
    mov esi, nl32
    call print32
    jmp pass32

msg_rounds: db 'cbench: rounds ', 0
msg_sum:    db 'cbench: checksum ', 0

%if wl_data + WL_DATA_SIZE > STACK_TOP - 0x1000
%error "workload data overlaps the stack"
%endif
