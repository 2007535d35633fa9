#!/usr/bin/env bash
# Obtain SeaBIOS (bios.bin) and its std-VGA BIOS (vgabios-stdvga.bin) from
# Debian's `seabios` package into firmware/seabios/ (git-ignored).
#
# Idempotent: when both files are present and match the SHA256SUMS written
# by the last fetch, nothing is downloaded. Any failure prints one line on
# stderr naming what is missing and exits non-zero.
#
# Usage: firmware/fetch.sh [--force]
set -euo pipefail

PACKAGE=seabios
FILES=(bios.bin vgabios-stdvga.bin)
SRC_DIR=usr/share/seabios
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEST="$HERE/seabios"

die() {
    echo "firmware/fetch.sh: $*" >&2
    exit 1
}

# Whether DEST holds every file, each matching the checksum recorded when it
# was fetched, and each shaped like what it claims to be.
intact() {
    [[ -f "$DEST/SHA256SUMS" ]] || return 1
    for f in "${FILES[@]}"; do
        [[ -s "$DEST/$f" ]] || return 1
        grep -q "  $f\$" "$DEST/SHA256SUMS" || return 1
    done
    (cd "$DEST" && sha256sum --quiet --check SHA256SUMS >/dev/null 2>&1) || return 1
    # bios.bin is the 128 KiB build (SEABIOS.md section 0); an option ROM
    # starts with the 0x55 0xAA signature.
    [[ $(stat -c %s "$DEST/bios.bin") -eq 131072 ]] || return 1
    [[ $(head -c 2 "$DEST/vgabios-stdvga.bin" | od -An -tx1 | tr -d ' ') == 55aa ]] || return 1
}

if [[ "${1:-}" != --force ]] && intact; then
    echo "firmware/fetch.sh: $DEST is up to date ($(cat "$DEST/VERSION" 2>/dev/null || echo unknown version))"
    exit 0
fi

for tool in apt-get dpkg dpkg-deb sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool '$tool' (a Debian-based host is needed)"
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# `apt-get download` needs no root and installs nothing; it fails when the
# package lists have never been fetched, so say so instead of guessing.
if ! (cd "$TMP" && apt-get download -q "$PACKAGE" >"$TMP/apt.log" 2>&1); then
    die "could not download Debian package '$PACKAGE' (run 'apt-get update' first?): $(tail -n 1 "$TMP/apt.log")"
fi
DEB=$(ls "$TMP"/"$PACKAGE"_*.deb 2>/dev/null | head -n 1)
[[ -n "$DEB" ]] || die "apt-get download produced no ${PACKAGE}_*.deb"
VERSION=$(dpkg-deb -f "$DEB" Version)

dpkg -x "$DEB" "$TMP/root" || die "could not unpack $(basename "$DEB")"
for f in "${FILES[@]}"; do
    [[ -s "$TMP/root/$SRC_DIR/$f" ]] || die "package $PACKAGE $VERSION has no /$SRC_DIR/$f"
done

mkdir -p "$DEST"
for f in "${FILES[@]}"; do
    cp "$TMP/root/$SRC_DIR/$f" "$DEST/$f"
done
cp "$TMP/root/usr/share/doc/$PACKAGE/copyright" "$DEST/copyright" 2>/dev/null || true
echo "$PACKAGE $VERSION" >"$DEST/VERSION"
(cd "$DEST" && sha256sum "${FILES[@]}" >SHA256SUMS)

intact || die "fetched files in $DEST failed the integrity check (bios.bin 128 KiB, vgabios 0x55AA)"
echo "firmware/fetch.sh: fetched ${FILES[*]} from $PACKAGE $VERSION into $DEST"
