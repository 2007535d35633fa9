; Keyboard boot test: a one-sector program on a 1 MiB hard-disk image. It
; prints a prompt, reads keys with INT 16h AH=00h until Enter, echoing each
; character with INT 10h, then prints
;   GOT: <the characters>
;   SCAN: <the scan code (AH) of each key, Enter included, in hex>
; and exits with 0 through port 0xF4. Keys without an ASCII code (AL = 0 or
; E0h: arrows, F-keys) are listed in SCAN but not in GOT. More than
; LINE_MAX keys fail with exit code 1 (status 3).
;
; With the text "hello\n" typed on a PS/2 keyboard behind an 8042 that
; translates to scan code set 1 (as on every PC), the lines are
;   GOT: hello
;   SCAN: 23 12 26 26 18 1C

        bits 16
        cpu 386
        org 0x7C00

%include "macros.inc"

LINE            equ 0x0600          ; the characters, NUL-terminated
SCANS           equ 0x0700          ; their scan codes
LINE_MAX        equ 32
IMAGE_SECTORS   equ 2048

start:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        jmp 0:.go
.go:
        sti
        cld
        PRINT 13, 10, 'Strachey keyboard test', 13, 10, 'Type a line: '
        mov di, LINE
        mov bp, SCANS
.key:
        mov ah, 0x00                ; INT 16h AH=00h: wait for a key
        int 0x16
        cmp bp, SCANS + LINE_MAX
        jb .room
        FAIL 1, 'too many keys'
.room:
        mov [bp], ah
        inc bp
        cmp al, 13                  ; Enter
        je .done
        test al, al
        jz .key
        cmp al, 0xE0
        je .key
        stosb
        call putc
        jmp .key
.done:
        mov byte [di], 0
        PRINT 13, 10, 'GOT: '
        mov si, LINE
        call puts
        PRINT 13, 10, 'SCAN:'
        mov bx, SCANS               ; (PRINT uses SI)
.scan:
        PRINT ' '
        mov al, [bx]
        call print_hex8
        inc bx
        cmp bx, bp
        jb .scan
        PRINT 13, 10
        mov al, 0
        jmp exit

%include "lib.inc"

%if ($ - $$) > 510
%error "the program does not fit in the boot sector"
%endif
        times 510 - ($ - $$) db 0
        dw 0xAA55
        times IMAGE_SECTORS * 512 - ($ - $$) db 0
