; demo.asm -- the built-in Strachey demo ROM.
;
; Prints a banner in real mode, switches to 32-bit protected mode, computes the
; first 30 primes and an ASCII-art Mandelbrot set with 12-bit fixed-point
; integer arithmetic, says goodbye and exits with code 0 (exit status 1).
; The prime list is also checked (sum of the first 30 primes = 1593), so the
; demo doubles as a smoke test.

%define ROMNAME 'demo'
%include "common.inc"

section .text16
bits 16
rm_start:
    RM_INIT
    mov si, banner
    call print16
    jmp go_pm32

banner:
    db 'Strachey demo ROM: hello from the reset vector (real mode, CS=F000).', 10
    db 'Switching to 32-bit protected mode...', 10, 0

section .text32
bits 32

%define NPRIMES 30
%define FIX     12                  ; fixed point: 1.0 = 1 << 12
%define WIDTH   64
%define HEIGHT  24
%define MAXIT   32

pm_main:
    mov esi, msg_pm
    call print32

    ; ---- the first NPRIMES primes, by trial division --------------------
    mov esi, msg_primes
    call print32
    xor edi, edi                    ; primes found
    xor ebp, ebp                    ; their sum
    mov ebx, 2                      ; candidate
.candidate:
    mov ecx, 2
.trial:
    mov eax, ecx
    mul ecx
    cmp eax, ebx
    ja .prime                       ; divisor^2 > candidate: prime
    mov eax, ebx
    xor edx, edx
    div ecx
    test edx, edx
    jz .next                        ; divisible: composite
    inc ecx
    jmp .trial
.prime:
    mov eax, ebx
    call print_dec32
    mov al, ' '
    out DEBUGCON, al
    add ebp, ebx
    inc edi
.next:
    inc ebx
    cmp edi, NPRIMES
    jb .candidate
    mov esi, nl32
    call print32
    EXPECT ebp, 1593, 1, "sum of the first 30 primes"

    ; ---- Mandelbrot ------------------------------------------------------
    mov esi, msg_mandel
    call print32
    xor ebp, ebp                    ; row
.row:
    ; ci = -1.2 + row * 2.4 / HEIGHT
    mov eax, ebp
    imul eax, (24 << FIX) / 10 / HEIGHT
    sub eax, (12 << FIX) / 10
    mov [ci], eax
    xor edi, edi                    ; column
.col:
    ; cr = -2.1 + col * 2.8 / WIDTH
    mov eax, edi
    imul eax, (28 << FIX) / 10 / WIDTH
    sub eax, (21 << FIX) / 10
    mov [cr], eax
    xor ebx, ebx                    ; zr
    xor ecx, ecx                    ; zi
    xor esi, esi                    ; iteration
.iter:
    mov eax, ebx
    imul eax, ebx
    sar eax, FIX                    ; zr^2
    mov edx, ecx
    imul edx, ecx
    sar edx, FIX                    ; zi^2
    push eax
    add eax, edx
    cmp eax, 4 << FIX
    pop eax
    jg .escaped
    sub eax, edx
    add eax, [cr]                   ; new zr = zr^2 - zi^2 + cr
    imul ecx, ebx
    sar ecx, FIX - 1                ; 2 * zr * zi
    add ecx, [ci]
    mov ebx, eax
    inc esi
    cmp esi, MAXIT
    jb .iter
    mov al, ' '                     ; inside the set
    jmp .plot
.escaped:
    mov eax, esi
    shr eax, 2                      ; 0..7
    mov al, [shades + eax]
.plot:
    out DEBUGCON, al
    inc edi
    cmp edi, WIDTH
    jb .col
    mov al, 10
    out DEBUGCON, al
    inc ebp
    cmp ebp, HEIGHT
    jb .row

    mov esi, msg_bye
    call print32
    jmp pass32

cr equ ROM_VARS
ci equ ROM_VARS + 4

shades:     db '.,:-=+*#'
msg_pm:     db 'Now in 32-bit protected mode with flat segments.', 10, 0
msg_primes: db 'The first 30 primes: ', 0
msg_mandel: db 'The Mandelbrot set, in 12-bit fixed point:', 10, 0
msg_bye:    db 'Goodbye from the Strachey demo ROM.', 10, 0
