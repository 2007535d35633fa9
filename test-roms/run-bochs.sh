#!/bin/sh
# Run the test ROMs under Bochs (a second peer: unlike QEMU's TCG it checks
# segment limits and types on every access).  Needs `apt-get install bochs
# bochsbios bochs-term` (Debian's Bochs has its debugger built in: the ROMs end
# with `xchg bx, bx`, Bochs' magic breakpoint, and the debugger reads `q`).
# Bochs has no isa-debug-exit, so the verdict is the PASS/FAIL line on 0xE9.
# Usage: ./run-bochs.sh [NAME...]
set -u
cd "$(dirname "$0")"
./build.sh || exit 1
[ $# -gt 0 ] || set -- $(awk '!/^#/ && NF {print $1}' expected.txt)
vgabios=/usr/share/seabios/vgabios-isavga.bin   # Bochs insists on a VGA ROM
fails=0
for name in "$@"; do
    rc=$(mktemp)
    cat > "$rc" <<EOT
megs: 16
romimage: file=build/$name.bin, address=0xffff0000
vgaromimage: file=$vgabios
cpu: model=p2_klamath, count=1
port_e9_hack: enabled=1
magic_break: enabled=1
display_library: term
log: /dev/null
panic: action=fatal
EOT
    last=$(printf 'c\nq\n' | timeout 120 bochs -q -f "$rc" 2>&1 | tr -d '\r' | grep -a -E '^(PASS|FAIL) ' | tail -n 1)
    rm -f "$rc"
    case "$last" in
        "PASS $name") echo "ok   $name: $last" ;;
        *) echo "FAIL $name: ${last:-no verdict}"; fails=$((fails + 1)) ;;
    esac
done
[ $fails -eq 0 ]
