; native/cbench.asm -- the translator benchmark's workload (../workload.inc)
; as a static Linux i386 program: it runs the workload at CPL 3 and writes
; "cbench: checksum XXXXXXXX" to stdout, as the ROM (../cbench.asm) does.
;
;   nasm -f elf32 -I .. -o cbench.o cbench.asm && ld -m elf_i386 -o cbench cbench.o
;
; (test-roms/build.sh does this into build/cbench-native.)  Its data area
; is .bss; the ROM's is fixed RAM, so only the absolute addresses in the
; instructions differ.

%define SYS_EXIT    1               ; Linux i386 system call numbers
%define SYS_WRITE   4

section .bss align=4096
wl_data: resb 0x63000               ; WL_DATA_SIZE (checked below)

section .text
bits 32
global _start

_start:
    call workload
    mov edi, line + line_hex        ; EAX as 8 hex digits into the line
    mov ecx, 8
.digit:
    rol eax, 4
    mov edx, eax
    and edx, 0xF
    mov dl, [hexdigits + edx]
    mov [edi], dl
    inc edi
    dec ecx
    jnz .digit
    mov eax, SYS_WRITE
    mov ebx, 1                      ; stdout
    mov ecx, line
    mov edx, line_len
    int 0x80
    mov eax, SYS_EXIT
    xor ebx, ebx
    int 0x80

%include "workload.inc"

%if WL_DATA_SIZE != 0x63000
%error "resize wl_data to WL_DATA_SIZE"
%endif

section .rodata
hexdigits: db '0123456789ABCDEF'

section .data
line:     db 'cbench: checksum XXXXXXXX', 10
line_len  equ $ - line
line_hex  equ 17
