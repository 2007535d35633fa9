#!/usr/bin/env python3
"""Peer check of Strachey's VGA renderer against QEMU's.

For each picture N of gfx.asm, builds the ROM with -DSTOP_AT=N (it halts
after drawing picture N), runs it under qemu-system-i386 with the std VGA,
takes QEMU's `screendump`, and compares it with Strachey's capture of the
same picture (PNG files from `STRACHEY_GFX_DUMP=DIR cargo test -p strachey
--release --test gfx`). QEMU draws the monitor's resolution (mode 13h as
640x400, mode X as 640x480), so its picture is sampled down by the integer
ratio of the sizes. Text pictures differ where QEMU's cursor or blink phase
differs from the captured one.

Usage: tools/qemu-screens.py DIR    (DIR holds gfx-1.png ... gfx-8.png)
"""
import os, socket, struct, subprocess, sys, tempfile, time, zlib

def read_png(path):
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    pos, idat, w, h = 8, b'', 0, 0
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, depth, colour = struct.unpack('>IIBB', body[:10])
            assert (depth, colour) == (8, 2), 'RGB8 only'
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    raw, stride, bpp = zlib.decompress(idat), w * 3, 3
    out, prev = [], bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        out.append(bytes(line))
        prev = line
    return w, h, out

def read_ppm(path):
    data = open(path, 'rb').read()
    parts = data.split(maxsplit=4)
    assert parts[0] == b'P6'
    w, h = int(parts[1]), int(parts[2])
    pix = parts[4]
    return w, h, [pix[y * w * 3:(y + 1) * w * 3] for y in range(h)]

def qemu_screen(n, tmp):
    rom = os.path.join(tmp, f'gfx-stop{n}.bin')
    subprocess.run(['nasm', '-f', 'bin', '-DQEMU_QUIRKS', f'-DSTOP_AT={n}', '-I', './', '-o', rom, 'gfx.asm'], check=True)
    sock = os.path.join(tmp, 'mon.sock')
    q = subprocess.Popen(['qemu-system-i386', '-display', 'none', '-bios', rom, '-m', '16', '-nodefaults',
                          '-device', 'VGA', '-monitor', f'unix:{sock},server,nowait', '-no-reboot'])
    try:
        time.sleep(3)
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.settimeout(5)
        ppm = os.path.join(tmp, f'qemu-{n}.ppm')
        for cmd in (f'screendump {ppm}', 'quit'):
            time.sleep(0.5)
            s.sendall(cmd.encode() + b'\n')
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
        s.close()
        q.wait(timeout=10)
    finally:
        if q.poll() is None:
            q.kill()
    return read_ppm(ppm)

def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
    ours_dir = sys.argv[1]
    worst = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(1, 9):
            w, h, ours = read_png(os.path.join(ours_dir, f'gfx-{n}.png'))
            qw, qh, theirs = qemu_screen(n, tmp)
            if qw % w or qh % h:
                print(f'picture {n}: sizes {w}x{h} (ours) and {qw}x{qh} (QEMU) are not integer multiples')
                worst = max(worst, 1)
                continue
            sx, sy = qw // w, qh // h
            # Colours are compared on their top 6 bits: the DAC's components
            # are 6-bit, and QEMU widens them to 8 bits differently
            # (v << 2 | (v & 1) * 3 against our v << 2 | v >> 4).
            six = lambda b: bytes(c >> 2 for c in b)
            diff = sum(1 for y in range(h) for x in range(w)
                       if six(ours[y][x * 3:x * 3 + 3]) != six(theirs[y * sy][x * sx * 3:x * sx * 3 + 3]))
            print(f'picture {n}: ours {w}x{h}, QEMU {qw}x{qh}: {diff} of {w * h} pixels differ')
            worst = max(worst, diff)
    return 0 if worst == 0 else 1

if __name__ == '__main__':
    sys.exit(main())
