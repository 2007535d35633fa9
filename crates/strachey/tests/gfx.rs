//! The graphics test ROM (`test-roms/gfx.asm`) runs on the board with the
//! frame-capture port attached; every picture it draws (text, mode 12h,
//! mode 13h, mode X, VBE 640×480×32) is compared pixel for pixel with the
//! image computed here from the ROM's pattern rules (written down in the
//! ROM's header), not with stored images. On a mismatch both pictures are
//! written as PNG next to the test binary's temporary files.
//!
//! The ROM is assembled by `test-roms/build.sh` (nasm, which `cargo xtask
//! test` installs). With `STRACHEY_GFX_DUMP=DIR` set, every captured
//! picture is also written to `DIR/gfx-N.png` to look at.

use devices::vga::{Blink, Capture, Frame};
use devices::Sink;
use machine::{Config, Machine, Outcome};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Assemble the ROMs and run gfx.bin to its exit; the machine and what the
/// capture port recorded.
fn run_gfx() -> (Machine, Vec<Capture>) {
    // Once per test process (the tests here run in parallel).
    static BUILT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let built = *BUILT.get_or_init(|| {
        Command::new("sh")
            .arg(root().join("test-roms/build.sh"))
            .status()
            .expect("run test-roms/build.sh")
            .success()
    });
    assert!(
        built,
        "test-roms/build.sh failed (is nasm installed? `cargo xtask test` installs it)"
    );
    let bios = std::fs::read(root().join("test-roms/build/gfx.bin")).expect("read gfx.bin");
    let mut m = Machine::new(Config::minimal(bios, Sink::Buffer(Vec::new()))).expect("build the machine");
    m.enable_frame_capture().expect("frame capture port");
    let outcome = m.run(Some(Duration::from_secs(120)));
    let log = String::from_utf8_lossy(&m.console_output(0)).into_owned();
    assert_eq!(outcome, Outcome::DebugExit(0), "gfx ROM did not pass:\n{log}");
    assert!(log.contains("PASS gfx"), "{log}");
    let captures = m.take_captures();
    (m, captures)
}

// ---- The ROM's rules ------------------------------------------------------

/// DAC entry `i` (6-bit components).
fn dac6(i: u8) -> [u8; 3] {
    [i >> 2, i.wrapping_mul(3) & 0x3F, 0x3F - (i >> 2)]
}

/// A 6-bit DAC colour as a frame pixel (6 → 8 bits by repeating the top
/// bits, as the card's DAC output does).
fn px(c: [u8; 3]) -> u32 {
    let e = |x: u8| u32::from((x << 2) | (x >> 4));
    e(c[0]) << 16 | e(c[1]) << 8 | e(c[2])
}

/// Attribute colour `k` (0–15): palette entry 4k + 3, then the DAC.
fn attr_colour(k: u8) -> u32 {
    px(dac6(4 * (k & 15) + 3))
}

/// Font map 0 or 1, character `c`, row `y`.
fn glyph(map: u8, c: u8, y: u32) -> u8 {
    let g = c ^ (17 * y) as u8;
    if map == 1 {
        !g
    } else {
        g
    }
}

/// Text cell `i`: (character, attribute).
fn cell(i: u32) -> (u8, u8) {
    (i as u8, ((i * 29) >> 3) as u8)
}

const CURSOR_AT: u32 = 490;

fn image(width: u32, height: u32, f: impl Fn(u32, u32) -> u32) -> Frame {
    let mut fr = Frame::new(width, height);
    for y in 0..height {
        for x in 0..width {
            fr.pixels[(y * width + x) as usize] = f(x, y);
        }
    }
    fr
}

/// Picture 1: 9×16 cells, start address 80, no blink, line graphics.
fn text_9x16(blink: Blink) -> Frame {
    image(720, 400, |x, y| {
        let (scan, dot) = (y % 16, x % 9);
        let i = 80 + y / 16 * 80 + x / 9;
        let (ch, attr) = cell(i);
        let mut g = glyph(0, ch, scan);
        let mut forced = false;
        if i == CURSOR_AT && (13..=15).contains(&scan) && blink.cursor {
            g = 0xFF;
            forced = true;
        }
        let on = if dot < 8 {
            g >> (7 - dot) & 1 != 0
        } else {
            (forced || (0xC0..=0xDF).contains(&ch)) && g & 1 != 0
        };
        attr_colour(if on { attr & 15 } else { attr >> 4 })
    })
}

/// Picture 2: 8×8 cells, fonts A/B, blink, panning 2 above the split after
/// scan line 199, the part below from address 0.
fn text_8x8_split(blink: Blink) -> Frame {
    image(640, 400, |x, y| {
        let (x, y, base) = if y <= 199 { (x + 2, y, 80) } else { (x, y - 200, 0) };
        let scan = y % 8;
        let i = base + y / 8 * 80 + x / 8;
        let (ch, attr) = cell(i);
        let mut g = glyph(attr >> 3 & 1, ch, scan);
        if attr & 0x80 != 0 && !blink.text {
            g = 0;
        }
        if i == CURSOR_AT && (6..=7).contains(&scan) && blink.cursor {
            g = 0xFF;
        }
        attr_colour(if g >> (7 - x % 8) & 1 != 0 {
            attr & 15
        } else {
            attr >> 4 & 7
        })
    })
}

/// The mode 12h picture's colour at (x, y) of video memory.
fn pattern12(x: u32, y: u32) -> u8 {
    if y >= 480 {
        return 0;
    }
    if x == y + 80 {
        return ((y >> 4) as u8 + 8) & 15;
    }
    let bar = (x / 40) as u8;
    if (400..440).contains(&y) && (320..384).contains(&x) {
        bar ^ 5
    } else {
        bar
    }
}

/// Picture 4: picture 3 from start address 40 * 80 + 2 panned by 3, split
/// after scan line 299.
fn mode12_split(x: u32, y: u32) -> u32 {
    attr_colour(if y <= 299 {
        let l = 40 * 640 + 16 + 3 + y * 640 + x;
        pattern12(l % 640, l / 640)
    } else {
        pattern12(x, y - 300)
    })
}

/// The VBE picture at virtual pixel (x, y).
fn pattern32(x: u32, y: u32) -> u32 {
    (x & 0xFF) << 16 | (y & 0xFF) << 8 | ((x + y) >> 2 & 0xFF)
}

/// The expected picture for capture `c`.
fn expected(c: &Capture) -> Frame {
    match c.tag {
        1 => text_9x16(c.blink),
        2 => text_8x8_split(c.blink),
        3 => image(640, 480, |x, y| attr_colour(pattern12(x, y))),
        4 => image(640, 480, mode12_split),
        5 => image(320, 200, |x, y| px(dac6((x + 2 * y) as u8))),
        6 => image(320, 240, |x, y| px(dac6((x ^ y) as u8))),
        7 => image(640, 480, pattern32),
        8 => image(640, 480, |x, y| pattern32(x + 16, y + 8)),
        t => panic!("unexpected capture tag {t}"),
    }
}

/// Where a mismatch's pictures go.
fn dump(name: &str, f: &Frame) -> PathBuf {
    let p = std::env::temp_dir().join(format!("strachey-gfx-{}-{name}.png", std::process::id()));
    f.write_png(&p).expect("write PNG");
    p
}

#[test]
fn gfx_rom_pictures_match_the_pattern_rules() {
    let (mut m, captures) = run_gfx();
    let tags: Vec<u8> = captures.iter().map(|c| c.tag).collect();
    assert_eq!(tags, (1..=8).collect::<Vec<u8>>(), "one capture per picture");
    let mut bad = Vec::new();
    if let Some(dir) = std::env::var_os("STRACHEY_GFX_DUMP") {
        for c in &captures {
            c.frame
                .write_png(&Path::new(&dir).join(format!("gfx-{}.png", c.tag)))
                .expect("write PNG");
        }
    }
    for c in &captures {
        let want = expected(c);
        let got = &c.frame;
        let verdict = if (got.width, got.height) != (want.width, want.height) {
            Some(format!(
                "size {}x{}, want {}x{}",
                got.width, got.height, want.width, want.height
            ))
        } else {
            got.pixels
                .iter()
                .zip(&want.pixels)
                .position(|(a, b)| a != b)
                .map(|i| {
                    let (x, y) = (i as u32 % want.width, i as u32 / want.width);
                    format!(
                        "{} pixels differ, first at ({x}, {y}): got {:06X}, want {:06X}",
                        got.pixels
                            .iter()
                            .zip(&want.pixels)
                            .filter(|(a, b)| a != b)
                            .count(),
                        got.pixels[i],
                        want.pixels[i]
                    )
                })
        };
        println!(
            "picture {} ({}x{}, {:?}): {}",
            c.tag,
            got.width,
            got.height,
            c.blink,
            verdict.as_deref().unwrap_or("ok")
        );
        if let Some(v) = verdict {
            let (g, w) = (
                dump(&format!("{}-got", c.tag), got),
                dump(&format!("{}-want", c.tag), &want),
            );
            bad.push(format!(
                "picture {}: {v} (see {} and {})",
                c.tag,
                g.display(),
                w.display()
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));

    // The final frame: unchanged since the last capture, and a screenshot
    // of it decodes (with the png crate) to the same pixels.
    assert_eq!(
        m.vga().borrow_mut().update_frame(),
        None,
        "nothing changed after the last capture"
    );
    let last = &captures.last().unwrap().frame;
    assert_eq!(&m.frame(), last);
    let path = std::env::temp_dir().join(format!("strachey-gfx-{}-final.png", std::process::id()));
    m.screenshot(&path).expect("screenshot");
    let decoded = Frame::from_png(&std::fs::read(&path).unwrap()).expect("decode the screenshot");
    std::fs::remove_file(&path).ok();
    assert_eq!(&decoded, last, "PNG round trip");
    assert!(m.take_captures().is_empty());
}

/// With the overscan border on (`--vga-border`), the final picture is the
/// same one framed by 8 pixels on each side in the overscan colour.
#[test]
fn overscan_border_frames_the_picture() {
    let (m, captures) = run_gfx();
    let last = captures.last().expect("captures").frame.clone();
    m.vga().borrow_mut().set_overscan_border(true);
    let framed = m.frame();
    assert_eq!(
        (framed.width, framed.height),
        (last.width + 16, last.height + 16),
        "8 pixels each side"
    );
    for y in 0..last.height {
        let inner = &framed.pixels[((y + 8) * framed.width + 8) as usize..][..last.width as usize];
        assert_eq!(
            inner,
            &last.pixels[(y * last.width) as usize..][..last.width as usize]
        );
    }
    let corner = framed.pixels[0];
    assert!(
        framed.pixels[..framed.width as usize]
            .iter()
            .all(|&p| p == corner),
        "the top border is one colour"
    );
}
