#!/bin/sh
# Assemble every test ROM (*.asm; *.inc files are includes) into build/NAME.bin.
# Each ROM is a raw 64 KiB image that starts at the reset vector. Outputs are
# written under a temporary name and renamed, so that a test reading a ROM
# while another run of this script rebuilds it never sees a partial file.
set -eu
cd "$(dirname "$0")"
if ! command -v nasm >/dev/null 2>&1; then
    echo "build.sh: nasm not found; install it with: apt-get install nasm" >&2
    exit 1
fi
mkdir -p build
status=0
for src in *.asm; do
    name=${src%.asm}
    tmp="build/$name.bin.$$"
    if nasm -f bin -w+all -I ./ -o "$tmp" "$src"; then
        size=$(wc -c < "$tmp")
        if [ "$size" -ne 65536 ]; then
            echo "build.sh: build/$name.bin is $size bytes, expected 65536" >&2
            status=1
            rm -f "$tmp"
        else
            mv -f "$tmp" "build/$name.bin"
        fi
    else
        rm -f "$tmp"
        echo "build.sh: failed to assemble $src" >&2
        status=1
    fi
done
# The translator benchmark's workload as a native Linux i386 program
# (benches/translator.rs); skipped without GNU ld (binutils).
if command -v ld >/dev/null 2>&1; then
    if ! { nasm -f elf32 -w+all -I ./ -o "build/cbench-native.o.$$" native/cbench.asm &&
        ld -m elf_i386 -o "build/cbench-native.$$" "build/cbench-native.o.$$" &&
        mv -f "build/cbench-native.$$" build/cbench-native; }; then
        rm -f "build/cbench-native.$$"
        echo "build.sh: failed to build build/cbench-native" >&2
        status=1
    fi
    rm -f "build/cbench-native.o.$$"
fi
exit $status
