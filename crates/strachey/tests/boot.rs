//! Boot smoke tests: `strachey run` boots Debian's SeaBIOS (firmware/seabios/,
//! fetched by firmware/fetch.sh) with real devices, and SeaBIOS boots the
//! guests in test-roms/boot/ from the IDE disk or the floppy. The guests
//! print on the VGA text screen through INT 10h, read and write sectors
//! through INT 13h, read keys through INT 16h and exit through port 0xF4;
//! the tests read the screen dump (`--screen-dump`), the exit status and
//! the image files afterwards.
//!
//! The images are assembled by test-roms/boot/build.sh (nasm, which
//! `cargo xtask test` installs). Every run works on copies in a temporary
//! folder. When a run fails, the message carries the screen, stderr and the
//! tail of SeaBIOS's log (port 0x402).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

const SECTOR: usize = 512;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn build_images() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let st = Command::new("sh")
            .arg(root().join("test-roms/boot/build.sh"))
            .status()
            .expect("run test-roms/boot/build.sh");
        assert!(
            st.success(),
            "test-roms/boot/build.sh failed (is nasm installed? `cargo xtask test` installs it)"
        );
    });
}

/// firmware/seabios/bios.bin, after checking that SeaBIOS and its VGA BIOS
/// are there.
fn seabios() -> PathBuf {
    let dir = root().join("firmware/seabios");
    for f in ["bios.bin", "vgabios-stdvga.bin"] {
        assert!(
            dir.join(f).is_file(),
            "{} is missing: run firmware/fetch.sh to fetch SeaBIOS from Debian",
            dir.join(f).display()
        );
    }
    dir.join("bios.bin")
}

/// A fresh, empty temporary folder for one test, removed when the test
/// passes (kept for a look when it fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let d = std::env::temp_dir().join(format!("strachey-boot-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Copy test-roms/build/boot/NAME into `dir`.
fn image(dir: &Path, name: &str) -> PathBuf {
    build_images();
    let p = dir.join(name);
    std::fs::copy(root().join("test-roms/build/boot").join(name), &p)
        .unwrap_or_else(|e| panic!("copy {name}: {e}"));
    p
}

struct Run {
    code: Option<i32>,
    screen: String,
    stderr: String,
    log: String,
}

impl Run {
    /// Everything worth seeing when an assertion fails.
    fn describe(&self) -> String {
        let log_tail: Vec<&str> = self.log.lines().rev().take(30).collect();
        let log_tail: Vec<&str> = log_tail.into_iter().rev().collect();
        format!(
            "exit status {:?}\n--- screen\n{}\n--- stderr\n{}\n--- SeaBIOS log (port 0x402), last lines\n{}",
            self.code,
            self.screen,
            self.stderr,
            log_tail.join("\n")
        )
    }
}

/// `strachey run --display none --screen-dump --no-reboot` with SeaBIOS's
/// log captured from port 0x402, in `dir`.
fn run(dir: &Path, timeout: u32, args: &[&str]) -> Run {
    let screen = dir.join("screen.txt");
    let log = dir.join("seabios.log");
    let _ = std::fs::remove_file(&screen);
    let _ = std::fs::remove_file(&log);
    let out = Command::new(env!("CARGO_BIN_EXE_strachey"))
        .arg("run")
        .args(["--display", "none", "--no-reboot", "--timeout"])
        .arg(timeout.to_string())
        .arg("--screen-dump")
        .arg(&screen)
        .arg("--debugcon")
        .arg(format!("0x402=file:{}", log.display()))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run strachey");
    Run {
        code: out.status.code(),
        screen: std::fs::read_to_string(&screen).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        log: String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned(),
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// The sector disktest.inc writes: the text NUL-padded to 64 bytes, then
/// offset ^ 0xA5.
fn written_sector(text: &str) -> Vec<u8> {
    let mut s = vec![0u8; SECTOR];
    s[..text.len()].copy_from_slice(text.as_bytes());
    for (i, b) in s.iter_mut().enumerate().skip(64) {
        *b = (i as u8) ^ 0xA5;
    }
    s
}

/// The data sector disktest.inc's DATA_SECTOR lays out for `lba`.
fn data_sector(lba: u32) -> Vec<u8> {
    let mut s = vec![0u8; SECTOR];
    let text = format!("STRACHEY DATA {lba}");
    s[..text.len()].copy_from_slice(text.as_bytes());
    s[48..52].copy_from_slice(&lba.to_le_bytes());
    for (i, b) in s.iter_mut().enumerate().skip(52) {
        *b = (i as u32 + lba) as u8;
    }
    s
}

/// Check that `after` is `before` with exactly the sectors `writes` (LBA,
/// text) replaced by what the guest writes there.
fn assert_writes(before: &[u8], after: &[u8], writes: &[(usize, &str)], run: &Run) {
    assert_eq!(
        before.len(),
        after.len(),
        "the image changed size\n{}",
        run.describe()
    );
    let mut expected = before.to_vec();
    for &(lba, text) in writes {
        let at = lba * SECTOR;
        assert_eq!(
            &before[at..at + SECTOR],
            &data_sector(lba as u32)[..],
            "the image as built should hold data sector {lba}"
        );
        let got = &after[at..at + SECTOR];
        assert!(
            got == &written_sector(text)[..],
            "sector {lba} (file offset {at:#x}) should hold {text:?}, holds {:?}...\n{}",
            String::from_utf8_lossy(&got[..64]),
            run.describe()
        );
        expected[at..at + SECTOR].copy_from_slice(&written_sector(text));
    }
    if let Some(i) = (0..after.len()).find(|&i| after[i] != expected[i]) {
        panic!(
            "the guest changed sector {} (byte {i:#x}) which it never writes\n{}",
            i / SECTOR,
            run.describe()
        );
    }
}

const HD_WRITES: [(usize, &str); 2] = [
    (2000, "STRACHEY WROTE THIS WITH INT 13h AH=03h AT LBA 2000"),
    (4000, "STRACHEY WROTE THIS WITH INT 13h AH=43h AT LBA 4000"),
];

const FLOPPY_WRITES: [(usize, &str); 1] = [(2879, "STRACHEY WROTE THIS WITH INT 13h AH=03h AT LBA 2879")];

#[test]
fn no_disk_no_bootable_device() {
    let bios = seabios();
    let dir = Scratch::new("nodisk");
    // SeaBIOS prints the message and waits 60 s before it reboots.
    let r = run(&dir, 20, &["--bios", path_str(&bios)]);
    let seen = r.screen.contains("No bootable device") || r.log.contains("No bootable device");
    assert!(
        seen,
        "no \"No bootable device\" on the screen or in the log\n{}",
        r.describe()
    );
    assert_eq!(
        r.code,
        Some(8),
        "SeaBIOS waits, so the run ends by timeout\n{}",
        r.describe()
    );
}

#[test]
fn hard_disk_boot_reads_and_writes() {
    let bios = seabios();
    let dir = Scratch::new("hd");
    let img = image(&dir, "disk.img");
    let before = std::fs::read(&img).unwrap();
    let r = run(&dir, 60, &["--bios", path_str(&bios), "--hda", path_str(&img)]);
    assert!(
        r.screen.contains("Strachey boot test: hard disk, DL=80h"),
        "no banner on the screen\n{}",
        r.describe()
    );
    assert!(r.screen.contains("DISK TEST PASSED"), "{}", r.describe());
    assert_eq!(
        r.code,
        Some(1),
        "the guest writes 0 to port 0xf4\n{}",
        r.describe()
    );
    let after = std::fs::read(&img).unwrap();
    assert_writes(&before, &after, &HD_WRITES, &r);
}

#[test]
fn hard_disk_snapshot_leaves_the_image_alone() {
    let bios = seabios();
    let dir = Scratch::new("hd-snapshot");
    let img = image(&dir, "disk.img");
    let before = std::fs::read(&img).unwrap();
    let r = run(
        &dir,
        60,
        &["--bios", path_str(&bios), "--hda", path_str(&img), "--snapshot"],
    );
    // The guest reads back what it wrote, so the overlay must serve it.
    assert!(r.screen.contains("DISK TEST PASSED"), "{}", r.describe());
    assert_eq!(r.code, Some(1), "{}", r.describe());
    assert!(
        std::fs::read(&img).unwrap() == before,
        "--snapshot: the image changed\n{}",
        r.describe()
    );
}

#[test]
fn floppy_boot_reads_and_writes() {
    let bios = seabios();
    let dir = Scratch::new("fd");
    let img = image(&dir, "floppy.img");
    let before = std::fs::read(&img).unwrap();
    let r = run(
        &dir,
        60,
        &["--bios", path_str(&bios), "--fda", path_str(&img), "--boot", "a"],
    );
    assert!(
        r.screen.contains("Strachey boot test: floppy, DL=00h"),
        "no banner on the screen\n{}",
        r.describe()
    );
    assert!(r.screen.contains("FLOPPY TEST PASSED"), "{}", r.describe());
    assert_eq!(r.code, Some(1), "{}", r.describe());
    let after = std::fs::read(&img).unwrap();
    assert_writes(&before, &after, &FLOPPY_WRITES, &r);
}

#[test]
fn keyboard_reaches_int16() {
    let bios = seabios();
    let dir = Scratch::new("keys");
    let img = image(&dir, "keys.img");
    // As typed in a shell: backslash-n is Enter.
    let r = run(
        &dir,
        60,
        &[
            "--bios",
            path_str(&bios),
            "--hda",
            path_str(&img),
            "--keys",
            "hello\\n",
        ],
    );
    assert!(r.screen.contains("GOT: hello"), "{}", r.describe());
    // INT 16h returns set-1 scan codes (the 8042 translates set 2).
    assert!(
        r.screen.contains("SCAN: 23 12 26 26 18 1C"),
        "wrong scan codes from INT 16h\n{}",
        r.describe()
    );
    assert_eq!(r.code, Some(1), "{}", r.describe());
}

/// Exit status 2 and one line on stderr that names `named`.
fn assert_bad_input(r: &Run, named: &Path) {
    assert_eq!(r.code, Some(2), "{}", r.describe());
    let err = r.stderr.trim_end();
    assert_eq!(err.lines().count(), 1, "want a one-line error, got:\n{err}");
    assert!(
        err.contains(path_str(named)),
        "the error should name {}: {err}",
        named.display()
    );
}

#[test]
fn bad_input_is_refused_before_booting() {
    let bios = seabios();
    let dir = Scratch::new("bad");
    let bios_arg = path_str(&bios);

    let missing = dir.join("missing.img");
    let r = run(&dir, 60, &["--bios", bios_arg, "--hda", path_str(&missing)]);
    assert_bad_input(&r, &missing);
    assert!(!missing.exists(), "a missing image must not be created");

    let folder = dir.join("folder.img");
    std::fs::create_dir(&folder).unwrap();
    let r = run(&dir, 60, &["--bios", bios_arg, "--hda", path_str(&folder)]);
    assert_bad_input(&r, &folder);

    let odd = dir.join("odd-floppy.img");
    let odd_bytes: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
    std::fs::write(&odd, &odd_bytes).unwrap();
    let r = run(
        &dir,
        60,
        &["--bios", bios_arg, "--fda", path_str(&odd), "--boot", "a"],
    );
    assert_bad_input(&r, &odd);
    assert!(
        std::fs::read(&odd).unwrap() == odd_bytes,
        "the odd floppy image changed"
    );

    let hd = image(&dir, "disk.img");
    let hd_bytes = std::fs::read(&hd).unwrap();
    let no_bios = dir.join("no-bios.bin");
    let r = run(&dir, 60, &["--bios", path_str(&no_bios), "--hda", path_str(&hd)]);
    assert_bad_input(&r, &no_bios);
    assert!(std::fs::read(&hd).unwrap() == hd_bytes, "the disk image changed");
}
