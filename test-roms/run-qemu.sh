#!/bin/sh
# Run the test ROMs under QEMU (a peer, not an oracle) and compare each exit
# status with expected.txt.  Usage: ./run-qemu.sh [NAME...]
set -u
cd "$(dirname "$0")"
./build.sh || exit 1
[ $# -gt 0 ] || set -- $(awk '!/^#/ && NF {print $1}' expected.txt)
fails=0
for name in "$@"; do
    want=$(awk -v n="$name" '$1 == n {print $2}' expected.txt)
    out=$(timeout 120 qemu-system-i386 -display none -bios "build/$name.bin" -m 16 \
        -device isa-debug-exit,iobase=0xf4,iosize=1 -debugcon stdio -no-reboot -nodefaults)
    got=$?
    last=$(printf '%s\n' "$out" | tail -n 1)
    if [ "$got" = "$want" ]; then
        echo "ok   $name (exit $got): $last"
    else
        echo "FAIL $name (exit $got, expected $want): $last"
        fails=$((fails + 1))
    fi
done
[ $fails -eq 0 ]
