#!/bin/sh
# Assemble the boot-sector guests into ../build/boot/: disk.img (2 MiB hard
# disk), floppy.img (1.44 MB floppy) and keys.img (1 MiB hard disk). Each
# image is one `nasm -f bin` output, boot sector, code and data included.
set -eu
cd "$(dirname "$0")"
if ! command -v nasm >/dev/null 2>&1; then
    echo "boot/build.sh: nasm not found; install it with: apt-get install nasm" >&2
    exit 1
fi
out=../build/boot
mkdir -p "$out"
status=0
for spec in disk:2097152 floppy:1474560 keys:1048576; do
    name=${spec%%:*}
    want=${spec#*:}
    # Assemble to a temporary name so that a test never sees half an image.
    if nasm -f bin -w+all -I ./ -o "$out/$name.img.$$" "$name.asm"; then
        size=$(wc -c < "$out/$name.img.$$")
        if [ "$size" -ne "$want" ]; then
            echo "boot/build.sh: $name.img is $size bytes, expected $want" >&2
            status=1
        else
            mv "$out/$name.img.$$" "$out/$name.img"
        fi
    else
        echo "boot/build.sh: failed to assemble $name.asm" >&2
        status=1
    fi
    rm -f "$out/$name.img.$$"
done
exit $status
