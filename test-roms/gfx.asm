; gfx.asm -- graphics test ROM: draws known patterns in text mode, mode 12h
; (planar), mode 13h (chain 4), mode X (unchained) and a Bochs VBE 32-bit
; mode, programming the VGA registers directly (no BIOS runs).
;
; After each picture it writes the picture's number to the frame-capture
; port 0x4E8: under Strachey with frame capture enabled, the host records
; the frame on the screen at that instant (devices::vga::capture), and
; crates/strachey/tests/gfx.rs compares it pixel for pixel with the image it
; computes from the rules below. Elsewhere (QEMU, or Strachey without the
; port) the write goes nowhere. The ROM also checks what it can see itself
; (video memory read back through the read modes, the DAC, the VBE ID, the
; linear framebuffer found through PCI and the banked window), so it passes
; or fails under QEMU (`run-qemu.sh gfx`, which adds `-device VGA`) too.
;
; The pictures (the test reimplements these rules):
;   DAC entry i (6-bit):  (i >> 2, 3i & 63, 63 - (i >> 2))
;   attribute palette k:  4k + 3
;   font map 0, row y of character c:  c ^ (17y & 0xFF); map 1: its complement
;   text cell i (0..4095, at B8000 + 2i):  character i & 0xFF,
;                                          attribute (29i >> 3) & 0xFF
;   1: 80x25, 9x16 cells, start address 80, cursor at 490 on scan lines
;      13-15, blink off (bit 7 = bright background), line graphics on
;   2: as 1 with 8-dot cells 8 lines high (80x50), fonts A = map 1 and
;      B = map 0, blink on, pel panning 2, line compare 199 (the lines below
;      from address 0, unpanned), cursor on scan lines 6-7
;   3: mode 12h: 16 bars 40 pixels wide (colour x / 40), a box x 320-383,
;      y 400-439 XORed with colour 5 through set/reset, a diagonal x = y + 80
;      of colour ((y >> 4) + 8) & 15; memory past line 479 is 0
;   4: as 3 with start address 40*80 + 2, pel panning 3, line compare 299
;      and the lines below it unpanned (attribute mode bit 5)
;   5: mode 13h: pixel (x, y) = (x + 2y) & 0xFF
;   6: mode X, 320x240 unchained: pixel (x, y) = (x ^ y) & 0xFF
;   7: VBE 640x480x32, virtual width 704, pixel (x, y) =
;      R x & 0xFF, G y & 0xFF, B ((x + y) >> 2) & 0xFF, for 704 x 488 pixels
;   8: as 7 with display offsets x 16, y 8

%define ROMNAME 'gfx'
%include "common.inc"

%define CAPTURE_PORT    0x4E8
%define LFB_BASE        0xFD000000      ; where the ROM puts BAR0 (SeaBIOS does too)
%define VGA_PCI_ID      0x11111234      ; device 1111, vendor 1234 (std VGA)
%define VIRT_WIDTH      704
%define VIRT_HEIGHT     488
%define CURSOR_AT       490             ; 80 + 5 * 80 + 10

section .text16
bits 16

rm_start:
    RM_INIT
    jmp go_pm32

section .text32
bits 32

; ---- register access (16-bit OUTs write the index, then the data) ----------

%macro SEQ 2
    mov dx, 0x3C4
    mov ax, ((%2) << 8) | (%1)
    out dx, ax
%endmacro

%macro GC 2
    mov dx, 0x3CE
    mov ax, ((%2) << 8) | (%1)
    out dx, ax
%endmacro

%macro CRTC 2
    mov dx, 0x3D4
    mov ax, ((%2) << 8) | (%1)
    out dx, ax
%endmacro

; ATTR index, value: the index includes 0x20 to keep the screen on.
%macro ATTR 2
    mov dx, 0x3DA
    in al, dx
    mov dx, 0x3C0
    mov al, %1
    out dx, al
    mov al, %2
    out dx, al
%endmacro

%macro DISPI 2
    mov dx, 0x1CE
    mov ax, %1
    out dx, ax
    mov dx, 0x1CF
    mov ax, %2
    out dx, ax
%endmacro

%macro CAPTURE 1
    mov dx, CAPTURE_PORT
    mov al, %1
    out dx, al
%ifdef STOP_AT
  %if STOP_AT == %1
    cli                             ; tools/qemu-screens.py: stay on picture N
  %%stop:
    hlt
    jmp %%stop
  %endif
%endif
%endmacro

; PCI_READ reg: EAX = config dword `reg` of the VGA (device in [vga_dev]).
%macro PCI_READ 1
    mov eax, [vga_dev]
    or eax, %1
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
%endmacro

%macro PCI_WRITE 2
    mov eax, [vga_dev]
    or eax, %1
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    mov eax, %2
    out dx, eax
%endmacro

%define vga_dev (ROM_VARS + 0)

pm_main:
    mov esi, msg_start
    call print32

    ; ======== 1, 2: text ====================================================
    mov esi, mode3_regs
    call set_mode
    call load_dac
    call set_palette16
    call load_fonts
    mov edi, 0xB8000
    xor ecx, ecx
.text_fill:
    mov eax, ecx
    imul eax, eax, 29
    shr eax, 3
    mov ah, al
    mov al, cl
    stosw
    inc ecx
    cmp ecx, 4096
    jb .text_fill
    movzx eax, word [0xB8000 + 2 * 300]
    EXPECT eax, 0x3F2C, 1, "text cell 300 (character, attribute)"
    mov dx, 0x3C7                   ; DAC entry 100 reads back
    mov al, 100
    out dx, al
    mov dx, 0x3C9
    xor eax, eax
    in al, dx
    shl eax, 8
    in al, dx
    shl eax, 8
    in al, dx
    EXPECT eax, 0x192C26, 2, "DAC entry 100"
    CRTC 0x0C, 0
    CRTC 0x0D, 80
    CRTC 0x0A, 0x0D
    CRTC 0x0B, 0x0F
    CRTC 0x0E, CURSOR_AT >> 8
    CRTC 0x0F, CURSOR_AT & 0xFF
    CAPTURE 1

    SEQ 0x01, 0x01                  ; 8-dot characters
    SEQ 0x03, 0x04                  ; font A = map 1, font B = map 0
    CRTC 0x09, 0x07                 ; 8 scan lines, line compare bit 9 clear
    CRTC 0x07, 0x0F                 ; line compare bit 8 clear
    CRTC 0x18, 199
    CRTC 0x0A, 0x06
    CRTC 0x0B, 0x07
    ATTR 0x30, 0x2C                 ; pan compatibility, blink, line graphics
    ATTR 0x33, 0x02
    CAPTURE 2

    ; ======== 3, 4: mode 12h ================================================
    mov esi, mode12_regs
    call set_mode
    call set_palette16
    SEQ 0x02, 0x0F                  ; clear all four planes (write mode 0)
    GC 0x01, 0x00
    GC 0x03, 0x00
    GC 0x05, 0x00
    GC 0x08, 0xFF
    mov edi, 0xA0000
    mov ecx, 0x10000 / 4
    xor eax, eax
    rep stosd
    GC 0x05, 0x02                   ; bars: write mode 2, one colour per byte
    mov edi, 0xA0000
    xor ebx, ebx                    ; y
.bar_line:
    xor ecx, ecx                    ; byte in line
.bar_byte:
    mov eax, ecx
    mov dl, 5
    div dl                          ; al = byte / 5 = x / 40
    stosb
    inc ecx
    cmp ecx, 80
    jb .bar_byte
    inc ebx
    cmp ebx, 480
    jb .bar_line
    GC 0x00, 0x05                   ; box: set/reset colour 5, XOR
    GC 0x01, 0x0F
    GC 0x03, 0x18
    GC 0x05, 0x00
    mov ebx, 400
.box_line:
    imul edi, ebx, 80
    add edi, 0xA0000 + 40
    mov ecx, 8
.box_byte:
    mov al, [edi]                   ; load the latches
    stosb
    loop .box_byte
    inc ebx
    cmp ebx, 440
    jb .box_line
    GC 0x01, 0x00
    GC 0x03, 0x00
    GC 0x05, 0x02                   ; diagonal: write mode 2 through the bit mask
    xor ebx, ebx
.diag:
    lea ecx, [ebx + 80]             ; x
    mov ah, 0x80
    and cl, 7
    shr ah, cl
    mov al, 0x08
    mov dx, 0x3CE
    out dx, ax
    lea ecx, [ebx + 80]
    shr ecx, 3
    imul edi, ebx, 80
    lea edi, [edi + ecx + 0xA0000]
    mov al, [edi]
    mov eax, ebx
    shr eax, 4
    add eax, 8
    and eax, 15
    mov [edi], al
    inc ebx
    cmp ebx, 480
    jb .diag
    GC 0x08, 0xFF
    GC 0x05, 0x08                   ; read mode 1: bar 7 matches colour 7
    GC 0x02, 0x07
    GC 0x07, 0x0F
    movzx eax, byte [0xA0000 + 10 * 80 + 35]
    EXPECT eax, 0xFF, 3, "read mode 1, colour 7 in bar 7"
    GC 0x02, 0x06
    movzx eax, byte [0xA0000 + 10 * 80 + 35]
    EXPECT eax, 0x00, 4, "read mode 1, colour 6 in bar 7"
    GC 0x05, 0x00                   ; read mode 0, plane 1 under the diagonal
    GC 0x04, 0x01
    movzx eax, byte [0xA0000 + 100 * 80 + 22]
    EXPECT eax, 0x08, 5, "plane 1 at the diagonal, line 100"
    GC 0x04, 0x02
    movzx eax, byte [0xA0000 + 420 * 80 + 41]
    EXPECT eax, 0xFF, 6, "plane 2 in the XORed box (bar 8 ^ 5)"
    GC 0x04, 0x00
    CAPTURE 3

    CRTC 0x0C, (40 * 80 + 2) >> 8
    CRTC 0x0D, (40 * 80 + 2) & 0xFF
    CRTC 0x18, 299 & 0xFF           ; bit 8 is already set in the overflow
    CRTC 0x09, 0x00                 ; bit 9 clear
    ATTR 0x33, 0x03
    ATTR 0x30, 0x21
    CAPTURE 4

    ; ======== 5: mode 13h ===================================================
    mov esi, mode13_regs
    call set_mode
    mov edi, 0xA0000
    xor ebx, ebx                    ; y
.m13_line:
    xor ecx, ecx                    ; x
.m13_px:
    lea eax, [ecx + ebx * 2]
    stosb
    inc ecx
    cmp ecx, 320
    jb .m13_px
    inc ebx
    cmp ebx, 200
    jb .m13_line
    movzx eax, byte [0xA0000 + 3 * 320 + 5]
    EXPECT eax, 11, 7, "mode 13h pixel (5, 3)"
    CAPTURE 5

    ; ======== 6: mode X =====================================================
    mov esi, modex_regs
    call set_mode
    xor ebp, ebp                    ; plane
.mx_plane:
    mov ecx, ebp
    mov ah, 1
    shl ah, cl
    mov al, 0x02
    mov dx, 0x3C4
    out dx, ax
    mov edi, 0xA0000
    xor ebx, ebx                    ; y
.mx_line:
    xor ecx, ecx                    ; byte k: x = 4k + plane
.mx_px:
    lea eax, [ecx * 4 + ebp]
    xor eax, ebx
    stosb
    inc ecx
    cmp ecx, 80
    jb .mx_px
    inc ebx
    cmp ebx, 240
    jb .mx_line
    inc ebp
    cmp ebp, 4
    jb .mx_plane
    GC 0x04, 0x02
    movzx eax, byte [0xA0000 + 10 * 80 + 7]
    EXPECT eax, 30 ^ 10, 8, "mode X pixel (30, 10) in plane 2"
    GC 0x04, 0x00
    CAPTURE 6

    ; ======== 7, 8: Bochs VBE 640x480x32 through the PCI BAR ================
    mov dword [vga_dev], 0x80000000
.pci_scan:
    PCI_READ 0
    cmp eax, VGA_PCI_ID
    je .pci_found
    add dword [vga_dev], 1 << 11
    cmp dword [vga_dev], 0x80000000 + (32 << 11)
    jb .pci_scan
    FAIL 9, "no std VGA (1234:1111) on PCI bus 0"
.pci_found:
    PCI_WRITE 0x10, LFB_BASE
    PCI_READ 0x10
    and eax, 0xFFFFFFF0
    EXPECT eax, LFB_BASE, 10, "BAR0 holds the framebuffer address"
    PCI_READ 0x04
    or eax, 0x03                    ; memory and I/O decode
    and eax, 0xFFFF
    mov ebx, eax
    PCI_WRITE 0x04, ebx
    DISPI 0, 0xB0C5
    in ax, dx
    movzx eax, ax
    EXPECT eax, 0xB0C5, 11, "dispi ID"
    DISPI 4, 0x00
    DISPI 1, 640
    DISPI 2, 480
    DISPI 3, 32
    DISPI 4, 0x41                   ; enabled, linear framebuffer
    DISPI 6, VIRT_WIDTH
    mov edi, LFB_BASE
    xor ebx, ebx                    ; y
.vbe_line:
    xor ecx, ecx                    ; x
.vbe_px:
    lea eax, [ecx + ebx]
    shr eax, 2
    movzx eax, al                   ; blue
    mov edx, ebx
    mov ah, dl                      ; green
    mov edx, ecx
    and edx, 0xFF
    shl edx, 16
    or eax, edx                     ; red
    stosd
    inc ecx
    cmp ecx, VIRT_WIDTH
    jb .vbe_px
    inc ebx
    cmp ebx, VIRT_HEIGHT
    jb .vbe_line
    mov eax, [LFB_BASE + (50 * VIRT_WIDTH + 100) * 4]
    EXPECT eax, 0x00643225, 12, "LFB pixel (100, 50)"
    SEQ 0x04, 0x0E                  ; the banked window at A0000, chained
    GC 0x06, 0x05
    mov eax, [0xA0000 + (1 * VIRT_WIDTH + 3) * 4]
    EXPECT eax, 0x00030101, 13, "bank 0 pixel (3, 1)"
    DISPI 5, 1
    mov eax, [0xA0000]
    EXPECT eax, 0x00C01735, 14, "bank 1 pixel (192, 23)"
    DISPI 5, 0
    CAPTURE 7
    DISPI 8, 16
    DISPI 9, 8
    CAPTURE 8

    jmp pass32

; ---- helpers ---------------------------------------------------------------

; set_mode: ESI = misc, sequencer 1-4, CRTC 0-24, graphics 0-8, attribute
; 0-20. The screen is blanked (palette address source clear) while the
; registers load, and the CRTC's write protection is lifted first.
set_mode:
    mov dx, 0x3DA
    in al, dx
    mov dx, 0x3C0
    xor al, al
    out dx, al
    lodsb
    mov dx, 0x3C2
    out dx, al
    SEQ 0x00, 0x01
    mov ecx, 1
.seq:
    lodsb
    mov ah, al
    mov al, cl
    mov dx, 0x3C4
    out dx, ax
    inc ecx
    cmp ecx, 5
    jb .seq
    SEQ 0x00, 0x03
    CRTC 0x11, 0x00
    xor ecx, ecx
.crtc:
    lodsb
    mov ah, al
    mov al, cl
    mov dx, 0x3D4
    out dx, ax
    inc ecx
    cmp ecx, 25
    jb .crtc
    xor ecx, ecx
.gc:
    lodsb
    mov ah, al
    mov al, cl
    mov dx, 0x3CE
    out dx, ax
    inc ecx
    cmp ecx, 9
    jb .gc
    mov dx, 0x3DA
    in al, dx
    mov dx, 0x3C0
    xor ecx, ecx
.attr:
    mov al, cl
    out dx, al
    lodsb
    out dx, al
    inc ecx
    cmp ecx, 21
    jb .attr
    mov al, 0x20                    ; palette address source: screen on
    out dx, al
    ret

; set_palette16: attribute palette entry k = 4k + 3.
set_palette16:
    mov dx, 0x3DA
    in al, dx
    mov dx, 0x3C0
    xor ecx, ecx
.entry:
    mov al, cl
    out dx, al
    lea eax, [ecx * 4 + 3]
    out dx, al
    inc ecx
    cmp ecx, 16
    jb .entry
    mov al, 0x20
    out dx, al
    ret

; load_dac: entry i = (i >> 2, 3i & 63, 63 - (i >> 2)).
load_dac:
    mov dx, 0x3C8
    xor al, al
    out dx, al
    mov dx, 0x3C9
    xor ecx, ecx
.entry:
    mov ebx, ecx
    shr ebx, 2
    mov al, bl
    out dx, al
    lea eax, [ecx + ecx * 2]
    and al, 0x3F
    out dx, al
    mov al, 63
    sub al, bl
    out dx, al
    inc ecx
    cmp ecx, 256
    jb .entry
    ret

; load_fonts: plane 2, map 0 at offset 0 (row y of c = c ^ 17y) and map 1
; at 0x4000 (the complement), 32 rows per character.
load_fonts:
    SEQ 0x02, 0x04
    SEQ 0x04, 0x07
    GC 0x04, 0x02
    GC 0x05, 0x00
    GC 0x06, 0x04
    xor ecx, ecx
.row:
    mov eax, ecx
    and eax, 31
    imul eax, eax, 0x11
    mov ebx, ecx
    shr ebx, 5
    xor eax, ebx
    mov [0xA0000 + ecx], al
    not al
    mov [0xA4000 + ecx], al
    inc ecx
    cmp ecx, 256 * 32
    jb .row
    SEQ 0x02, 0x03
    SEQ 0x04, 0x02
    GC 0x04, 0x00
    GC 0x05, 0x10
    GC 0x06, 0x0E
    ret

msg_start: db 'gfx: text, mode 12h, mode 13h, mode X, VBE 640x480x32', 10, 0

; Register sets (IBM VGA BIOS parameter tables), attribute controller with
; this ROM's mode control values.
mode3_regs:
    db 0x67                                         ; misc
    db 0x00, 0x03, 0x00, 0x02                       ; sequencer 1-4
    db 0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E
    db 0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF
    db 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x0F, 0xFF
    db 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B
    db 0x0C, 0x0D, 0x0E, 0x0F, 0x04, 0x00, 0x0F, 0x08, 0x00

mode12_regs:
    db 0xE3
    db 0x01, 0x0F, 0x00, 0x06
    db 0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0x0B, 0x3E, 0x00, 0x40, 0x00, 0x00
    db 0x00, 0x00, 0x00, 0x00, 0xEA, 0x8C, 0xDF, 0x28, 0x00, 0xE7, 0x04, 0xE3, 0xFF
    db 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF
    db 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B
    db 0x0C, 0x0D, 0x0E, 0x0F, 0x01, 0x00, 0x0F, 0x00, 0x00

mode13_regs:
    db 0x63
    db 0x01, 0x0F, 0x00, 0x0E
    db 0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x41, 0x00, 0x00
    db 0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3, 0xFF
    db 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0F, 0xFF
    db 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B
    db 0x0C, 0x0D, 0x0E, 0x0F, 0x41, 0x00, 0x0F, 0x00, 0x00

; Mode X (Abrash): mode 13h unchained, 480 scan lines of which each logical
; line takes two, byte addressing.
modex_regs:
    db 0xE3
    db 0x01, 0x0F, 0x00, 0x06
    db 0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0x0D, 0x3E, 0x00, 0x41, 0x00, 0x00
    db 0x00, 0x00, 0x00, 0x00, 0xEA, 0xAC, 0xDF, 0x28, 0x00, 0xE7, 0x06, 0xE3, 0xFF
    db 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0F, 0xFF
    db 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B
    db 0x0C, 0x0D, 0x0E, 0x0F, 0x41, 0x00, 0x0F, 0x00, 0x00
