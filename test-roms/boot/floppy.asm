; Floppy boot test: booted by the BIOS from a 1.44 MB floppy image (DL=00h,
; 80 cylinders, 2 heads, 18 sectors). Reads data sectors with INT 13h AH=02h
; (CHS), checks that AH=41h reports no extensions (SeaBIOS has none for
; floppies), writes the last sector with AH=03h, reads it back, prints
; "FLOPPY TEST PASSED" and exits with 0 through port 0xF4. See
; disktest.inc for the image layout.
;
; The reads cover: the last two sectors of a track (LBA 16-17 = C0 H0
; S17-18); head 1 (LBA 18-21 = C0 H1 S1-4); cylinder 41 (LBA 1500 = C41 H1
; S7). The write goes to the last sector (LBA 2879 = C79 H1 S18).

%define MEDIA_TEXT 'floppy'
%define PASS_TEXT 'FLOPPY TEST PASSED'
%define FLOPPY
IMAGE_SECTORS equ 2880

%macro CHS_READS 0
        CHS_READ 16, 2
        CHS_READ 18, 4
        CHS_READ 1500, 1
%endmacro

%macro WRITES 0
        CHS_WRITE 2879, 'STRACHEY WROTE THIS WITH INT 13h AH=03h AT LBA 2879'
%endmacro

%include "disktest.inc"
        STAGE2_END
        DATA_SECTOR 16
        DATA_SECTOR 17
        DATA_SECTOR 18
        DATA_SECTOR 19
        DATA_SECTOR 20
        DATA_SECTOR 21
        DATA_SECTOR 1500
        DATA_SECTOR 2879            ; overwritten with AH=03h
        END_IMAGE
