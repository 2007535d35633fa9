#!/bin/sh
# Assemble every test ROM (*.asm; *.inc files are includes) into build/NAME.bin.
# Each ROM is a raw 64 KiB image that starts at the reset vector.
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
    if nasm -f bin -w+all -I ./ -o "build/$name.bin" "$src"; then
        size=$(wc -c < "build/$name.bin")
        if [ "$size" -ne 65536 ]; then
            echo "build.sh: build/$name.bin is $size bytes, expected 65536" >&2
            status=1
        fi
    else
        echo "build.sh: failed to assemble $src" >&2
        status=1
    fi
done
# The translator benchmark's workload as a native Linux i386 program
# (benches/translator.rs); skipped without GNU ld (binutils).
if command -v ld >/dev/null 2>&1; then
    if ! { nasm -f elf32 -w+all -I ./ -o build/cbench-native.o native/cbench.asm &&
        ld -m elf_i386 -o build/cbench-native build/cbench-native.o; }; then
        echo "build.sh: failed to build build/cbench-native" >&2
        status=1
    fi
fi
exit $status
