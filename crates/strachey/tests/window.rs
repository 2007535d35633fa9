//! The SDL2 window (`--display sdl`, cargo feature `gui`), tested as a
//! person would use it, on a real X display: `cargo xtask test` runs this
//! file under `xvfb-run -a` (a virtual X server), with `xdotool` to find
//! the window and type, ImageMagick's `import` to photograph the screen,
//! and `python3` (ctypes and libX11) to ask the window to close as a
//! window manager's close button does (`WM_DELETE_WINDOW`; `xdotool
//! windowclose` destroys the window under the client instead, which no
//! real desktop does).
//!
//! The guest is test-roms/boot/keys.img: SeaBIOS boots it, it prints
//! `Type a line: ` through INT 10h (and port 0xE9), echoes keys read
//! through INT 16h until Enter, prints `GOT: …` and `SCAN: …` and exits
//! with 0 through port 0xF4 (status 1).
//!
//! The tests that use the display take turns (one lock): key presses go to
//! whichever window has the focus.

use devices::vga::Frame;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};
use std::time::{Duration, Instant};

/// How long anything on the display may take to happen.
const WAIT: Duration = Duration::from_secs(30);
/// SeaBIOS's light grey (attribute colour 7), in which the guest prints.
const TEXT_GREY: [u8; 3] = [0xAA, 0xAA, 0xAA];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One test at a time on the display.
fn display_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Check that there is an X display and the tools; say how to get them.
fn need_display() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "these tests need an X display: run them under `xvfb-run -a` (as `cargo xtask test` does)"
    );
    for (tool, package) in [
        ("xdotool", "xdotool"),
        ("import", "imagemagick"),
        ("python3", "python3"),
    ] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "{tool} is missing: apt-get install {package} (`cargo xtask test` does)"
        );
    }
}

fn keys_image(dir: &Path) -> PathBuf {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let st = Command::new("sh")
            .arg(root().join("test-roms/boot/build.sh"))
            .status()
            .expect("run test-roms/boot/build.sh");
        assert!(
            st.success(),
            "test-roms/boot/build.sh failed (is nasm installed?)"
        );
    });
    let bios = root().join("firmware/seabios/bios.bin");
    assert!(
        bios.is_file(),
        "{} is missing: run firmware/fetch.sh",
        bios.display()
    );
    let p = dir.join("keys.img");
    std::fs::copy(root().join("test-roms/build/boot/keys.img"), &p).expect("copy keys.img");
    p
}

/// A temporary folder, removed when the test passes.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let d = std::env::temp_dir().join(format!("strachey-window-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A `strachey run --display sdl` process, killed if the test fails.
struct Emulator {
    child: Child,
    /// What the guest wrote to port 0xE9 (stdout; flushed at each newline).
    stdout: Arc<Mutex<String>>,
}

impl Emulator {
    /// Boot keys.img in a window, working in `dir` (screenshots land
    /// there), with the debug console on stdout and the final screen in
    /// `dir/screen.txt`.
    fn start(dir: &Path) -> Self {
        let img = keys_image(dir);
        let mut child = Command::new(env!("CARGO_BIN_EXE_strachey"))
            .args([
                "run",
                "--display",
                "sdl",
                "--no-reboot",
                "--snapshot",
                "--timeout",
                "60",
            ])
            .arg("--hda")
            .arg(&img)
            .args(["--debugcon", "stdio", "--screen-dump", "screen.txt"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start strachey");
        let stdout = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stdout.take().expect("piped stdout");
        let sink = stdout.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self { child, stdout }
    }

    fn output(&self) -> String {
        self.stdout.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Wait until the guest has printed the line `text` on its debug
    /// console.
    fn wait_for_line(&mut self, text: &str) {
        let start = Instant::now();
        while !self.output().contains(text) {
            self.assert_running(&format!("waiting for {text:?}"));
            assert!(
                start.elapsed() < WAIT,
                "the guest did not print {text:?}; it printed {:?}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn assert_running(&mut self, doing: &str) {
        if let Some(st) = self.child.try_wait().expect("wait for strachey") {
            let mut err = String::new();
            if let Some(mut e) = self.child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("strachey ended while {doing}: {st}\n--- stderr\n{err}");
        }
    }

    /// The X window of this process (found by its `_NET_WM_PID`).
    fn window(&mut self) -> String {
        let start = Instant::now();
        loop {
            self.assert_running("waiting for its window");
            let out = Command::new("xdotool")
                .args([
                    "search",
                    "--pid",
                    &self.child.id().to_string(),
                    "--name",
                    "^Strachey",
                ])
                .output()
                .expect("run xdotool");
            if let Some(w) = String::from_utf8_lossy(&out.stdout).lines().next() {
                return w.trim().to_string();
            }
            assert!(start.elapsed() < WAIT, "no window appeared");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait for the process to end; (exit code, stderr, stdout).
    fn wait(mut self) -> (Option<i32>, String, String) {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("wait for strachey") {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                // Let the reader thread take the last of stdout.
                std::thread::sleep(Duration::from_millis(100));
                return (st.code(), err, self.output());
            }
            assert!(start.elapsed() < WAIT, "strachey did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn xdotool(args: &[&str]) -> String {
    let out = Command::new("xdotool").args(args).output().expect("run xdotool");
    assert!(
        out.status.success(),
        "xdotool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Focus `window` and type `keys` (xdotool key names) through XTEST, as
/// a keyboard would.
fn type_keys(window: &str, keys: &[&str]) {
    xdotool(&["windowfocus", "--sync", window]);
    for k in keys {
        xdotool(&["key", "--delay", "30", k]);
    }
}

/// (x, y, width, height) of `window` on the screen.
fn geometry(window: &str) -> (usize, usize, usize, usize) {
    let out = xdotool(&["getwindowgeometry", "--shell", window]);
    let field = |name: &str| -> usize {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {out:?}"))
    };
    (field("X"), field("Y"), field("WIDTH"), field("HEIGHT"))
}

/// A photograph of the whole X screen: (width, height, RGB bytes); also
/// kept as `dir/display.ppm`.
fn photograph_screen(dir: &Path) -> (usize, usize, Vec<u8>) {
    let path = dir.join("display.ppm");
    let st = Command::new("import")
        .args(["-window", "root", "-depth", "8"])
        .arg(format!("ppm:{}", path.display()))
        .status()
        .expect("run import (ImageMagick)");
    assert!(st.success(), "import -window root failed");
    let data = std::fs::read(&path).expect("read the screen photograph");
    parse_ppm(&data)
}

/// A binary PPM (P6, maxval 255).
fn parse_ppm(data: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while data[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !data[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&data[start..i]).into_owned());
    }
    i += 1;
    assert_eq!(fields[0], "P6", "not a binary PPM");
    assert_eq!(fields[3], "255", "not 8 bits per channel");
    let w: usize = fields[1].parse().unwrap();
    let h: usize = fields[2].parse().unwrap();
    assert_eq!(data.len() - i, w * h * 3, "PPM size");
    (w, h, data[i..].to_vec())
}

/// Close `window` as a window manager's close button does: a
/// `WM_DELETE_WINDOW` client message.
fn close_window(dir: &Path, window: &str) {
    let script = dir.join("close.py");
    std::fs::write(&script, CLOSE_PY).unwrap();
    let st = Command::new("python3")
        .arg(&script)
        .arg(window)
        .status()
        .expect("run python3");
    assert!(st.success(), "sending WM_DELETE_WINDOW failed");
}

const CLOSE_PY: &str = r#"
import ctypes, sys
from ctypes import c_int, c_long, c_ulong, c_void_p, c_char_p
x = ctypes.CDLL("libX11.so.6")
x.XOpenDisplay.restype = c_void_p
x.XOpenDisplay.argtypes = [c_char_p]
x.XInternAtom.restype = c_ulong
x.XInternAtom.argtypes = [c_void_p, c_char_p, c_int]
x.XSendEvent.argtypes = [c_void_p, c_ulong, c_int, c_long, c_void_p]
x.XFlush.argtypes = [c_void_p]
x.XCloseDisplay.argtypes = [c_void_p]
class ClientMessage(ctypes.Structure):
    _fields_ = [("type", c_int), ("serial", c_ulong), ("send_event", c_int),
                ("display", c_void_p), ("window", c_ulong), ("message_type", c_ulong),
                ("format", c_int), ("data", c_long * 5)]
class XEvent(ctypes.Union):
    _fields_ = [("xclient", ClientMessage), ("pad", c_long * 24)]
d = x.XOpenDisplay(None)
if not d:
    sys.exit("cannot open the display")
win = int(sys.argv[1])
ev = XEvent()
ev.xclient.type = 33  # ClientMessage
ev.xclient.window = win
ev.xclient.message_type = x.XInternAtom(d, b"WM_PROTOCOLS", 0)
ev.xclient.format = 32
ev.xclient.data[0] = x.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
ev.xclient.data[1] = 0  # CurrentTime
if not x.XSendEvent(d, win, 0, 0, ctypes.byref(ev)):
    sys.exit("XSendEvent failed")
x.XFlush(d)
x.XCloseDisplay(d)
"#;

/// Grey (text) pixels inside `window` on a photograph of the screen,
/// after checking that there are none outside it.
fn grey_pixels(dir: &Path, window: &str) -> usize {
    let (x, y, w, h) = geometry(window);
    let (sw, sh, rgb) = photograph_screen(dir);
    let (mut inside, mut outside) = (0, 0);
    for py in 0..sh {
        for px in 0..sw {
            let i = (py * sw + px) * 3;
            if rgb[i..i + 3] == TEXT_GREY {
                if (x..x + w).contains(&px) && (y..y + h).contains(&py) {
                    inside += 1;
                } else {
                    outside += 1;
                }
            }
        }
    }
    assert_eq!(
        outside,
        0,
        "grey pixels outside the window ({w}×{h} at {x},{y}; see {})",
        dir.join("display.ppm").display()
    );
    inside
}

/// Grey pixels the blinking cursor may add or take away (two scan lines
/// of a 9-dot cell, stretched by 540/400, with room to spare).
const CURSOR_PIXELS: usize = 40;

/// Photograph the screen until the window shows a picture with more than
/// `more_than` grey pixels that stays the same (but for the cursor) for
/// two photographs in a row; returns the last count.
fn settled_grey_pixels(emu: &mut Emulator, dir: &Path, window: &str, more_than: usize) -> usize {
    let start = Instant::now();
    let mut last = usize::MAX;
    loop {
        emu.assert_running("waiting for the window to show the screen");
        let n = grey_pixels(dir, window);
        if n > more_than && n.abs_diff(last) <= CURSOR_PIXELS {
            return n;
        }
        assert!(
            start.elapsed() < WAIT,
            "the window shows {n} grey pixels, expected more than {more_than} (see {})",
            dir.join("display.ppm").display()
        );
        last = n;
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The window shows the guest's screen (grey text on black, nothing grey
/// outside it), the guest reads the keys typed into it, and Ctrl+Alt+S
/// writes a screenshot without passing the S to the guest.
#[test]
fn window_shows_the_screen_and_the_guest_reads_its_keys() {
    need_display();
    let _turn = display_lock();
    let dir = Scratch::new("keys");
    let mut emu = Emulator::start(&dir.0);
    let window = emu.window();
    emu.wait_for_line("Strachey keyboard test");

    let (_, _, w, h) = geometry(&window);
    assert!(
        w >= 720 && h >= 540,
        "window {w}×{h} is smaller than the guest screen"
    );
    // 720×400 text is shown 4:3.
    assert_eq!(w * 3, h * 4, "window {w}×{h} is not 4:3");
    // SeaBIOS's banner and the prompt: hundreds of grey glyph pixels.
    let before = settled_grey_pixels(&mut emu, &dir.0, &window, 1000);
    type_keys(&window, &["h", "e", "l", "l", "o"]);
    // The echo shows up in the window.
    let shown = settled_grey_pixels(&mut emu, &dir.0, &window, before + 100);

    type_keys(&window, &["ctrl+alt+s", "Return"]);
    let (code, stderr, out) = emu.wait();
    assert_eq!(
        code,
        Some(1),
        "the guest should exit with 0 (status 1)\n{out}\n{stderr}"
    );
    assert!(out.contains("GOT: hello"), "the guest read:\n{out}");
    assert!(out.contains("SCAN: 23 12 26 26 18 1C"), "the scan codes:\n{out}");

    let shots: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("strachey-") && n.ends_with(".png"))
        .collect();
    assert_eq!(shots.len(), 1, "one screenshot expected: {shots:?}\n{stderr}");
    let png = std::fs::read(dir.0.join(&shots[0])).unwrap();
    let frame = Frame::from_png(&png).expect("the screenshot is a PNG");
    // The guest's own size: 720×400 (80×25 characters of 9×16 dots).
    assert_eq!((frame.width, frame.height), (720, 400));
    // The window showed that frame stretched to 4:3 (400 lines on 540):
    // as many grey pixels, times 540/400, give or take the blinking
    // cursor.
    let grey = u32::from_be_bytes([0, TEXT_GREY[0], TEXT_GREY[1], TEXT_GREY[2]]);
    let in_frame = frame.pixels.iter().filter(|&&p| p == grey).count();
    let expected = in_frame * 540 / 400;
    assert!(
        shown.abs_diff(expected) <= CURSOR_PIXELS + expected / 50,
        "the window showed {shown} grey pixels, the screenshot's frame has {in_frame} (×1.35 = {expected})"
    );
}

/// A click grabs the mouse (the title says how to let go), Ctrl+Alt+G lets
/// go, and closing the window ends the run cleanly: status 0, and the
/// screen dump written at the end shows what was typed.
#[test]
fn click_grabs_the_mouse_and_closing_the_window_quits() {
    need_display();
    let _turn = display_lock();
    let dir = Scratch::new("close");
    let mut emu = Emulator::start(&dir.0);
    let window = emu.window();
    emu.wait_for_line("Strachey keyboard test");
    let before = settled_grey_pixels(&mut emu, &dir.0, &window, 1000);
    type_keys(&window, &["a", "b"]);
    // The guest has echoed them.
    settled_grey_pixels(&mut emu, &dir.0, &window, before + CURSOR_PIXELS);

    let (x, y, w, h) = geometry(&window);
    xdotool(&["mousemove", &(x + w / 2).to_string(), &(y + h / 2).to_string()]);
    xdotool(&["click", "1"]);
    let title = wait_for_title(&mut emu, &window, |t| t.contains("Ctrl+Alt+G releases the mouse"));
    // The default engine: the translator on x86-64 Linux.
    let engine = if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        "bt"
    } else {
        "interp"
    };
    assert!(
        title.starts_with(&format!("Strachey — {engine}")),
        "title {title:?}"
    );
    type_keys(&window, &["ctrl+alt+g"]);
    wait_for_title(&mut emu, &window, |t| !t.contains("releases the mouse"));

    close_window(&dir.0, &window);
    let (code, stderr, _) = emu.wait();
    assert_eq!(
        code,
        Some(0),
        "closing the window should quit with status 0\n{stderr}"
    );
    let screen = std::fs::read_to_string(dir.0.join("screen.txt")).unwrap_or_default();
    assert!(
        screen.contains("Type a line: ab"),
        "the final screen should show the typed keys (G was the chord's, not the guest's):\n{screen}"
    );
}

/// A key held down repeats from the guest's own keyboard: one make, then
/// after the typematic delay (500 ms, SeaBIOS keeps the defaults) a repeat
/// every 1/10.9 s. The X server's own auto-repeat (which SDL reports as
/// repeated key-downs) is not passed on: with it the count would be well
/// above the range.
#[test]
fn a_held_key_repeats_at_the_guests_typematic_rate() {
    need_display();
    let _turn = display_lock();
    let dir = Scratch::new("repeat");
    let mut emu = Emulator::start(&dir.0);
    let window = emu.window();
    emu.wait_for_line("Strachey keyboard test");
    xdotool(&["windowfocus", "--sync", &window]);
    let start = Instant::now();
    xdotool(&["keydown", "x"]);
    std::thread::sleep(Duration::from_millis(1200));
    xdotool(&["keyup", "x"]);
    let held = start.elapsed().as_secs_f64();
    type_keys(&window, &["Return"]);
    let (code, stderr, out) = emu.wait();
    assert_eq!(
        code,
        Some(1),
        "the guest should exit with 0 (status 1)\n{out}\n{stderr}"
    );
    let got = out
        .lines()
        .find_map(|l| l.strip_prefix("GOT: "))
        .unwrap_or_else(|| panic!("no GOT line:\n{out}"));
    assert!(got.chars().all(|c| c == 'x'), "only x was typed: {got:?}");
    // The press, then one repeat at 500 ms and every 91.7 ms after it, for
    // about as long as the key was down (give or take the time xdotool
    // takes to start).
    let repeats = |secs: f64| 1 + ((secs - 0.5) / (22.0 / 240.0)).max(-1.0).floor() as i64 + 1;
    let (low, high) = (repeats(1.2 - 0.3), repeats(held + 0.3));
    let n = got.len() as i64;
    assert!(
        (low..=high).contains(&n),
        "held {held:.2} s: {n} x's, expected {low}..={high}"
    );
}

fn wait_for_title(emu: &mut Emulator, window: &str, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        emu.assert_running("waiting for the title");
        let t = xdotool(&["getwindowname", window]).trim().to_string();
        if ok(&t) {
            return t;
        }
        assert!(start.elapsed() < WAIT, "the title stayed {t:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Without a display server, `--display sdl` stops at once with an error
/// that names the way out.
#[test]
fn no_display_server_is_a_clear_error() {
    let dir = Scratch::new("nodisplay");
    let img = keys_image(&dir.0);
    let out = Command::new(env!("CARGO_BIN_EXE_strachey"))
        .args([
            "run",
            "--display",
            "sdl",
            "--snapshot",
            "--timeout",
            "20",
            "--hda",
        ])
        .arg(&img)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("SDL_VIDEODRIVER")
        .output()
        .expect("run strachey");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("no display server") && stderr.contains("--display none"),
        "the error should say there is no display and suggest --display none: {stderr}"
    );
    // (SDL itself may complain first, e.g. about XDG_RUNTIME_DIR.)
    assert!(
        stderr
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("strachey: cannot open a window")),
        "the last line should be ours: {stderr}"
    );
}
