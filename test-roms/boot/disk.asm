; Hard-disk boot test: booted by the BIOS from a 2 MiB hard-disk image
; (DL=80h). Reads data sectors with INT 13h AH=02h (CHS) and AH=42h (LBA),
; writes one sector with AH=03h and one with AH=43h, reads them back, prints
; "DISK TEST PASSED" and exits with 0 through port 0xF4. See disktest.inc
; for the image layout; tests/boot.rs checks the written sectors in the file.
;
; With the QEMU/Bochs geometry of a 4096-sector disk (16 heads, 63 sectors,
; 4 cylinders) the reads cover: a 4-sector read in track 0; a 4-sector read
; across the head 0 -> head 1 boundary (LBA 61-64); cylinder 1 (LBA 1500);
; the AH=42h reads LBA 3000-3001 and the last sector (4095), past the
; cylinders AH=08h reports.

%define MEDIA_TEXT 'hard disk'
%define PASS_TEXT 'DISK TEST PASSED'
IMAGE_SECTORS equ 4096

%macro CHS_READS 0
        CHS_READ 16, 4
        CHS_READ 61, 4
        CHS_READ 1500, 1
%endmacro

%macro EXT_READS 0
        EXT_READ 3000, 2
        EXT_READ 4095, 1
%endmacro

%macro WRITES 0
        CHS_WRITE 2000, 'STRACHEY WROTE THIS WITH INT 13h AH=03h AT LBA 2000'
        EXT_WRITE 4000, 'STRACHEY WROTE THIS WITH INT 13h AH=43h AT LBA 4000'
%endmacro

%include "disktest.inc"
        STAGE2_END
        DATA_SECTOR 16
        DATA_SECTOR 17
        DATA_SECTOR 18
        DATA_SECTOR 19
        DATA_SECTOR 61
        DATA_SECTOR 62
        DATA_SECTOR 63
        DATA_SECTOR 64
        DATA_SECTOR 1500
        DATA_SECTOR 2000            ; overwritten with AH=03h
        DATA_SECTOR 3000
        DATA_SECTOR 3001
        DATA_SECTOR 4000            ; overwritten with AH=43h
        DATA_SECTOR 4095
        END_IMAGE
