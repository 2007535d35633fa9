//! The desktop window (`--display sdl`, cargo feature `gui`): the guest's
//! screen in an SDL2 window, host keyboard and mouse to the guest's PS/2
//! devices, screenshots while running.
//!
//! What it does:
//! - shows the frame the VGA renderer draws, scaled to the window with the
//!   shape the guest meant: every VGA mode (text, planar, chain 4) filled a
//!   4:3 tube whatever its pixel count, so 720×400 text is shown 720×540 and
//!   320×200 is shown 4:3; Bochs VBE modes have square pixels. The picture
//!   is an integer multiple of that shape when it fits the window (so a
//!   640×480 or 1024×768 mode is pixel-exact at any size that holds it),
//!   else the largest size with the right aspect; nearest-neighbour
//!   scaling, black bars around. The window is resized to fit a new mode
//!   (the smallest multiple at least 640 pixels wide that fits the desktop)
//!   and may be resized by hand;
//! - asks the VGA renderer ([`devices::vga::Vga::update_frame`]) for the
//!   picture every [`FRAME_INTERVAL`] (about 60 Hz, which also paces the
//!   cursor and text blink the renderer draws from guest time); the
//!   renderer redraws only what changed and names the lines, and only
//!   those are uploaded to the texture; nothing is presented when nothing
//!   changed;
//! - turns host key presses and releases into PS/2 key presses and
//!   releases on the 8042 by *position* (SDL scancodes, so the guest's own
//!   keyboard layout applies, as on a real PC), extended keys included: one
//!   make on press, one break on release. The host's own key repeat is
//!   ignored: the PS/2 keyboard repeats a held key by itself, on the guest
//!   clock, at the delay and rate the guest chose (`F3`). Keys held when
//!   the window loses focus are released (which also ends their repeat);
//! - grabs the mouse on a click in the window (that click is not passed
//!   on) and then sends relative motion, buttons and the wheel to the PS/2
//!   mouse; [`GRAB_CHORD`] (Ctrl+Alt+G) grabs or releases it;
//! - [`SCREENSHOT_CHORD`] (Ctrl+Alt+S) writes the current frame as
//!   `strachey-YYYYMMDD-HHMMSS.png` (UTC) into
//!   [`WindowOptions::screenshot_dir`];
//! - the title bar reads "Strachey — ENGINE — N MIPS", updated every
//!   [`TITLE_INTERVAL`], with a hint while the mouse is grabbed;
//! - closing the window ends the run with [`Outcome::Quit`]; the machine's
//!   run loop flushes the disk images on the way out. SDL turns SIGINT and
//!   SIGTERM into the same quit.
//!
//! What it does not do (yet): no menu or status bar, no full screen, no
//! clipboard, no absolute pointing device (the guest's mouse cursor and the
//! host's are not synchronised, hence the grab), no keyboard LEDs shown.
//! The speed in the title counts the instructions the interpreter retired
//! (`cpu.stats.instructions`); blocks run by the binary translator are not
//! in it yet.
//!
//! Without a display server SDL would fall back to an invisible
//! "offscreen" driver; [`run_window`] refuses that with an error that
//! points at `--display none`, unless `SDL_VIDEODRIVER` asks for such a
//! driver on purpose.

use devices::ps2kbd::Key;
use devices::ps2mouse::buttons;
use devices::vga::{DisplayMode, Frame, Vga};
use machine::{Machine, Outcome};
use sdl2::event::{Event, WindowEvent};
use sdl2::keyboard::{Mod, Scancode};
use sdl2::mouse::{MouseButton, MouseWheelDirection};
use sdl2::pixels::PixelFormatEnum;
use sdl2::rect::Rect;
use sdl2::render::{Texture, TextureCreator, WindowCanvas};
use sdl2::video::WindowContext;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Grabs or releases the mouse (and the keyboard).
pub const GRAB_CHORD: &str = "Ctrl+Alt+G";
/// Writes a screenshot.
pub const SCREENSHOT_CHORD: &str = "Ctrl+Alt+S";
/// The shortest time between two redraws (about 60 Hz).
pub const FRAME_INTERVAL: Duration = Duration::from_millis(16);
/// How often the title's speed is updated.
pub const TITLE_INTERVAL: Duration = Duration::from_secs(1);
/// How often host events are read while the guest runs. The run loop
/// calls back every slice of guest instructions (well under a
/// millisecond); asking the window system that often would cost speed.
const POLL_INTERVAL: Duration = Duration::from_millis(4);
/// Narrowest initial width for the picture: small modes (320×200) are
/// scaled up to at least this.
const MIN_WIDTH: u32 = 640;
/// Desktop size assumed when SDL cannot tell.
const FALLBACK_DESKTOP: (u32, u32) = (1280, 1024);

/// How to run the window.
#[derive(Clone, Debug)]
pub struct WindowOptions {
    /// Stop after this much wall-clock time (`--timeout`).
    pub timeout: Option<Duration>,
    /// The engine's name, for the title bar.
    pub engine: String,
    /// Where [`SCREENSHOT_CHORD`] writes its PNG files.
    pub screenshot_dir: PathBuf,
}

impl Default for WindowOptions {
    fn default() -> Self {
        Self {
            timeout: None,
            engine: "interp".into(),
            screenshot_dir: PathBuf::from("."),
        }
    }
}

/// Run `machine` in a window until the guest ends the run, the timeout
/// passes, or the user closes the window ([`Outcome::Quit`]).
///
/// # Errors
/// No display server (the message suggests `--display none`), or SDL
/// failing to make the window or its renderer.
pub fn run_window(machine: &mut Machine, opts: &WindowOptions) -> Result<Outcome, String> {
    let sdl = sdl2::init().map_err(|e| no_display(&e))?;
    let video = sdl.video().map_err(|e| no_display(&e))?;
    let driver = video.current_video_driver();
    if matches!(driver, "offscreen" | "dummy" | "evdev") && std::env::var_os("SDL_VIDEODRIVER").is_none() {
        return Err(no_display(&format!("SDL found only its {driver:?} video driver")));
    }
    // Nearest-neighbour scaling: guest pixels stay sharp.
    sdl2::hint::set("SDL_RENDER_SCALE_QUALITY", "nearest");
    let desktop = video
        .desktop_display_mode(0)
        .ok()
        .and_then(|d| Some((u32::try_from(d.w).ok()?, u32::try_from(d.h).ok()?)))
        .unwrap_or(FALLBACK_DESKTOP);

    let shape = {
        let mut vga = machine.vga().borrow_mut();
        let square = square_pixels(&vga);
        let f = vga.frame();
        display_shape(f.width, f.height, square)
    };
    let (w, h) = window_size(shape, desktop);
    let window = video
        .window(&title(&opts.engine, None, false), w, h)
        .position_centered()
        .resizable()
        .build()
        .map_err(|e| format!("cannot open the window: {e}"))?;
    let canvas = window
        .into_canvas()
        .build()
        .map_err(|e| format!("cannot draw in the window: {e}"))?;
    let creator = canvas.texture_creator();
    let mut screen = Screen {
        canvas,
        creator: &creator,
        texture: None,
        bytes: Vec::new(),
        shape,
        desktop,
        last_draw: Instant::now() - FRAME_INTERVAL,
    };
    screen.draw(machine, true)?;
    let mut events = sdl.event_pump()?;
    let mouse = sdl.mouse();
    let mut input = Input::default();
    let mut failure: Option<String> = None;
    let mut next_poll = Instant::now();
    let mut speed = Speed::new(machine.cpu.stats.instructions);

    let outcome = machine.run_with(opts.timeout, |m| {
        let now = Instant::now();
        if now < next_poll {
            return true;
        }
        next_poll = now + POLL_INTERVAL;
        let mut redraw = false;
        for ev in events.poll_iter() {
            match input.handle(&ev, m) {
                Action::None => {}
                Action::Quit => return false,
                Action::Redraw => redraw = true,
                Action::Grab(on) => {
                    let w = screen.canvas.window_mut();
                    w.set_mouse_grab(on);
                    w.set_keyboard_grab(on);
                    mouse.set_relative_mouse_mode(on);
                    let t = title(&opts.engine, speed.mips, on);
                    let _ = w.set_title(&t);
                }
                Action::Screenshot => {
                    let mut vga = m.vga().borrow_mut();
                    match save_screenshot(vga.frame(), &opts.screenshot_dir, SystemTime::now()) {
                        Ok(p) => eprintln!("strachey: {SCREENSHOT_CHORD}: wrote {}", p.display()),
                        Err(e) => eprintln!("strachey: screenshot failed: {e}"),
                    }
                }
            }
        }
        if let Err(e) = screen.draw(m, redraw) {
            failure = Some(e);
            return false;
        }
        if let Some(mips) = speed.sample(m.cpu.stats.instructions, now) {
            let t = title(&opts.engine, Some(mips), input.grabbed);
            let _ = screen.canvas.window_mut().set_title(&t);
        }
        true
    });
    mouse.set_relative_mouse_mode(false);
    match failure {
        Some(e) => Err(e),
        None => Ok(outcome),
    }
}

/// The error for "no window system", with the way out.
fn no_display(why: &str) -> String {
    format!(
        "cannot open a window: no display server ({why}; DISPLAY={:?}, WAYLAND_DISPLAY={:?}); \
         use --display none to run without a window (the text screen then shows in the terminal), \
         or run under a display server (e.g. xvfb-run -a strachey ...)",
        std::env::var("DISPLAY").unwrap_or_default(),
        std::env::var("WAYLAND_DISPLAY").unwrap_or_default(),
    )
}

/// "Strachey — interp — 123.4 MIPS", plus the grab hint.
fn title(engine: &str, mips: Option<f64>, grabbed: bool) -> String {
    let mut t = format!("Strachey — {engine}");
    if let Some(mips) = mips {
        t.push_str(&format!(" — {mips:.1} MIPS"));
    }
    if grabbed {
        t.push_str(&format!(" — {GRAB_CHORD} releases the mouse"));
    }
    t
}

/// Guest instructions per second, sampled every [`TITLE_INTERVAL`].
struct Speed {
    since: Instant,
    instructions: u64,
    mips: Option<f64>,
}

impl Speed {
    fn new(instructions: u64) -> Self {
        Self {
            since: Instant::now(),
            instructions,
            mips: None,
        }
    }

    /// A new reading when a whole interval has passed.
    fn sample(&mut self, instructions: u64, now: Instant) -> Option<f64> {
        let dt = now.duration_since(self.since);
        if dt < TITLE_INTERVAL {
            return None;
        }
        let mips = instructions.saturating_sub(self.instructions) as f64 / dt.as_secs_f64() / 1e6;
        self.since = now;
        self.instructions = instructions;
        self.mips = Some(mips);
        self.mips
    }
}

// ---- Picture ----------------------------------------------------------------

/// The window's drawing state.
struct Screen<'a> {
    canvas: WindowCanvas,
    creator: &'a TextureCreator<WindowContext>,
    /// The guest frame at its own size (made anew when the size changes).
    texture: Option<Texture<'a>>,
    /// The frame in the texture's pixel format (`RGB888`: the frame's
    /// `0x00RRGGBB` words in host byte order).
    bytes: Vec<u8>,
    /// The frame's shape on the host (see [`display_shape`]).
    shape: (u32, u32),
    desktop: (u32, u32),
    last_draw: Instant,
}

impl Screen<'_> {
    /// Bring the picture up to date (at most every [`FRAME_INTERVAL`]:
    /// the renderer redraws only what changed, and only those lines are
    /// uploaded) and show it if it changed or the window needs it
    /// (`force`: exposed, resized).
    fn draw(&mut self, m: &Machine, force: bool) -> Result<(), String> {
        if !force && self.last_draw.elapsed() < FRAME_INTERVAL {
            return Ok(());
        }
        let mut vga = m.vga().borrow_mut();
        let changed = vga.update_frame();
        let square = square_pixels(&vga);
        let frame = vga.frame();
        let (fw, fh) = (frame.width, frame.height);
        let pitch = fw as usize * 4;
        let stale = self.texture.as_ref().is_none_or(|t| {
            let q = t.query();
            (q.width, q.height) != (fw, fh)
        });
        if stale {
            // A new mode: a texture of its size, and a window of its shape.
            self.texture = Some(
                self.creator
                    .create_texture_streaming(PixelFormatEnum::RGB888, fw, fh)
                    .map_err(|e| format!("window: cannot make a {fw}×{fh} texture: {e}"))?,
            );
            let shape = display_shape(fw, fh, square);
            if shape != self.shape {
                self.shape = shape;
                let (w, h) = window_size(shape, self.desktop);
                let _ = self.canvas.window_mut().set_size(w, h);
            }
        }
        let Some(texture) = self.texture.as_mut() else {
            return Ok(());
        };
        let lines = if stale { Some(0..fh) } else { changed };
        if let Some(lines) = &lines {
            let (first, last) = (lines.start.min(fh), lines.end.min(fh));
            self.bytes.resize(pitch * fh as usize, 0);
            let rows = &frame.pixels[first as usize * fw as usize..last as usize * fw as usize];
            let out = &mut self.bytes[first as usize * pitch..last as usize * pitch];
            for (o, p) in out.chunks_exact_mut(4).zip(rows) {
                o.copy_from_slice(&p.to_ne_bytes());
            }
            if last > first {
                texture
                    .update(Rect::new(0, first as i32, fw, last - first), out, pitch)
                    .map_err(|e| format!("window: texture update: {e}"))?;
            }
        }
        drop(vga);
        if lines.is_none() && !force {
            return Ok(());
        }
        let (ow, oh) = self.canvas.output_size()?;
        let (x, y, w, h) = place(self.shape, (ow, oh));
        self.canvas.set_draw_color(sdl2::pixels::Color::BLACK);
        self.canvas.clear();
        self.canvas.copy(texture, None, Some(Rect::new(x, y, w, h)))?;
        self.canvas.present();
        self.last_draw = Instant::now();
        Ok(())
    }
}

/// Bochs VBE modes have square pixels; VGA modes fill a 4:3 screen.
fn square_pixels(vga: &Vga) -> bool {
    matches!(vga.mode(), DisplayMode::Vbe { .. })
}

/// A `width`×`height` frame's size on the host at scale 1: VGA modes are
/// 4:3 (the width kept, the height stretched or squeezed), VBE modes
/// (`square`) keep their pixels square.
fn display_shape(width: u32, height: u32, square: bool) -> (u32, u32) {
    let (w, h) = (width.max(1), height.max(1));
    if square {
        (w, h)
    } else {
        (w, (w * 3 / 4).max(1))
    }
}

/// The initial window for `shape` on a `desktop`: the smallest integer
/// multiple at least [`MIN_WIDTH`] wide, reduced until it fits 90 % of the
/// desktop (never below one; a mode larger than the desktop is shown
/// scaled down by [`place`]).
fn window_size(shape: (u32, u32), desktop: (u32, u32)) -> (u32, u32) {
    let (sw, sh) = (shape.0.max(1), shape.1.max(1));
    let (dw, dh) = (desktop.0 * 9 / 10, desktop.1 * 9 / 10);
    let mut k = MIN_WIDTH.div_ceil(sw).max(1);
    while k > 1 && (k * sw > dw || k * sh > dh) {
        k -= 1;
    }
    if k * sw > dw || k * sh > dh {
        // Larger than the desktop: the biggest size with the right shape.
        let s = (f64::from(dw) / f64::from(sw)).min(f64::from(dh) / f64::from(sh));
        return (
            ((f64::from(sw) * s) as u32).max(1),
            ((f64::from(sh) * s) as u32).max(1),
        );
    }
    (k * sw, k * sh)
}

/// Where the picture of `shape` goes in an `out`-sized window: the largest
/// integer multiple of the shape that fits, else the largest size with its
/// aspect; centred. (x, y, width, height).
fn place(shape: (u32, u32), out: (u32, u32)) -> (i32, i32, u32, u32) {
    let (sw, sh) = (shape.0.max(1), shape.1.max(1));
    let (ow, oh) = (out.0.max(1), out.1.max(1));
    let k = (ow / sw).min(oh / sh);
    let (w, h) = if k >= 1 {
        (k * sw, k * sh)
    } else {
        let s = (f64::from(ow) / f64::from(sw)).min(f64::from(oh) / f64::from(sh));
        (
            ((f64::from(sw) * s) as u32).max(1),
            ((f64::from(sh) * s) as u32).max(1),
        )
    };
    (((ow - w.min(ow)) / 2) as i32, ((oh - h.min(oh)) / 2) as i32, w, h)
}

// ---- Input ------------------------------------------------------------------

/// What an event asks of the window.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Action {
    None,
    Quit,
    Redraw,
    /// Grab (true) or release the mouse.
    Grab(bool),
    Screenshot,
}

/// Keyboard and mouse state between events.
#[derive(Debug, Default)]
struct Input {
    /// Guest keys held down (released on focus loss).
    held: HashSet<Key>,
    /// Host keys used by a chord: their release is not passed on.
    swallowed: HashSet<Scancode>,
    grabbed: bool,
    /// PS/2 button bits held.
    buttons: u8,
}

impl Input {
    fn handle(&mut self, ev: &Event, m: &Machine) -> Action {
        let kbd = m.keyboard();
        match *ev {
            Event::Quit { .. } => Action::Quit,
            Event::Window { win_event, .. } => match win_event {
                WindowEvent::Close => Action::Quit,
                WindowEvent::FocusLost => {
                    let mut k = kbd.borrow_mut();
                    for key in self.held.drain() {
                        k.release(key);
                    }
                    self.swallowed.clear();
                    if self.buttons != 0 {
                        self.buttons = 0;
                        k.mouse_motion(0, 0, 0);
                    }
                    if self.grabbed {
                        self.grabbed = false;
                        return Action::Grab(false);
                    }
                    Action::None
                }
                WindowEvent::Exposed
                | WindowEvent::Resized(..)
                | WindowEvent::SizeChanged(..)
                | WindowEvent::Shown
                | WindowEvent::Restored
                | WindowEvent::Maximized => Action::Redraw,
                _ => Action::None,
            },
            Event::KeyDown {
                scancode: Some(sc),
                keymod,
                repeat,
                ..
            } => {
                if chord(keymod) && matches!(sc, Scancode::G | Scancode::S) {
                    self.swallowed.insert(sc);
                    if repeat {
                        return Action::None;
                    }
                    if sc == Scancode::S {
                        return Action::Screenshot;
                    }
                    self.grabbed = !self.grabbed;
                    if !self.grabbed && self.buttons != 0 {
                        self.buttons = 0;
                        kbd.borrow_mut().mouse_motion(0, 0, 0);
                    }
                    return Action::Grab(self.grabbed);
                }
                if self.swallowed.contains(&sc) {
                    return Action::None;
                }
                // The host's auto-repeat is not passed on: the guest's
                // keyboard repeats held keys itself (typematic).
                if repeat {
                    return Action::None;
                }
                if let Some(key) = key_for(sc) {
                    self.held.insert(key);
                    kbd.borrow_mut().press(key);
                }
                Action::None
            }
            Event::KeyUp {
                scancode: Some(sc), ..
            } => {
                if self.swallowed.remove(&sc) {
                    return Action::None;
                }
                if let Some(key) = key_for(sc) {
                    if self.held.remove(&key) {
                        kbd.borrow_mut().release(key);
                    }
                }
                Action::None
            }
            Event::MouseButtonDown { mouse_btn, .. } => {
                if !self.grabbed {
                    // The click that grabs is not the guest's.
                    self.grabbed = true;
                    return Action::Grab(true);
                }
                self.buttons |= button_bit(mouse_btn);
                kbd.borrow_mut().mouse_motion(0, 0, self.buttons);
                Action::None
            }
            Event::MouseButtonUp { mouse_btn, .. } => {
                let bit = button_bit(mouse_btn);
                if self.grabbed && self.buttons & bit != 0 {
                    self.buttons &= !bit;
                    kbd.borrow_mut().mouse_motion(0, 0, self.buttons);
                }
                Action::None
            }
            Event::MouseMotion { xrel, yrel, .. } if self.grabbed => {
                kbd.borrow_mut().mouse_motion(xrel, yrel, self.buttons);
                Action::None
            }
            Event::MouseWheel { y, direction, .. } if self.grabbed => {
                // SDL: positive y is away from the user; PS/2 counts
                // clicks towards the user.
                let y = if direction == MouseWheelDirection::Flipped {
                    -y
                } else {
                    y
                };
                if y != 0 {
                    kbd.borrow_mut().mouse_wheel(-y, self.buttons);
                }
                Action::None
            }
            _ => Action::None,
        }
    }
}

/// Ctrl and Alt (either side) are both down.
fn chord(m: Mod) -> bool {
    m.intersects(Mod::LCTRLMOD | Mod::RCTRLMOD) && m.intersects(Mod::LALTMOD | Mod::RALTMOD)
}

fn button_bit(b: MouseButton) -> u8 {
    match b {
        MouseButton::Left => buttons::LEFT,
        MouseButton::Right => buttons::RIGHT,
        MouseButton::Middle => buttons::MIDDLE,
        MouseButton::X1 => buttons::BUTTON4,
        MouseButton::X2 => buttons::BUTTON5,
        MouseButton::Unknown => 0,
    }
}

/// The PC key at the position of SDL scancode `sc` (USB HID usage), if
/// there is one. `NonUsHash` (the ISO key left of Enter) shares the PS/2
/// code of the US backslash key, as on real keyboards.
fn key_for(sc: Scancode) -> Option<Key> {
    use Scancode as S;
    Some(match sc {
        S::A => Key::A,
        S::B => Key::B,
        S::C => Key::C,
        S::D => Key::D,
        S::E => Key::E,
        S::F => Key::F,
        S::G => Key::G,
        S::H => Key::H,
        S::I => Key::I,
        S::J => Key::J,
        S::K => Key::K,
        S::L => Key::L,
        S::M => Key::M,
        S::N => Key::N,
        S::O => Key::O,
        S::P => Key::P,
        S::Q => Key::Q,
        S::R => Key::R,
        S::S => Key::S,
        S::T => Key::T,
        S::U => Key::U,
        S::V => Key::V,
        S::W => Key::W,
        S::X => Key::X,
        S::Y => Key::Y,
        S::Z => Key::Z,
        S::Num1 => Key::Digit1,
        S::Num2 => Key::Digit2,
        S::Num3 => Key::Digit3,
        S::Num4 => Key::Digit4,
        S::Num5 => Key::Digit5,
        S::Num6 => Key::Digit6,
        S::Num7 => Key::Digit7,
        S::Num8 => Key::Digit8,
        S::Num9 => Key::Digit9,
        S::Num0 => Key::Digit0,
        S::Return => Key::Enter,
        S::Escape => Key::Escape,
        S::Backspace => Key::Backspace,
        S::Tab => Key::Tab,
        S::Space => Key::Space,
        S::Minus => Key::Minus,
        S::Equals => Key::Equal,
        S::LeftBracket => Key::BracketLeft,
        S::RightBracket => Key::BracketRight,
        S::Backslash | S::NonUsHash => Key::Backslash,
        S::Semicolon => Key::Semicolon,
        S::Apostrophe => Key::Quote,
        S::Grave => Key::Backquote,
        S::Comma => Key::Comma,
        S::Period => Key::Period,
        S::Slash => Key::Slash,
        S::CapsLock => Key::CapsLock,
        S::F1 => Key::F1,
        S::F2 => Key::F2,
        S::F3 => Key::F3,
        S::F4 => Key::F4,
        S::F5 => Key::F5,
        S::F6 => Key::F6,
        S::F7 => Key::F7,
        S::F8 => Key::F8,
        S::F9 => Key::F9,
        S::F10 => Key::F10,
        S::F11 => Key::F11,
        S::F12 => Key::F12,
        S::PrintScreen | S::SysReq => Key::PrintScreen,
        S::ScrollLock => Key::ScrollLock,
        S::Pause => Key::Pause,
        S::Insert => Key::Insert,
        S::Home => Key::Home,
        S::PageUp => Key::PageUp,
        S::Delete => Key::Delete,
        S::End => Key::End,
        S::PageDown => Key::PageDown,
        S::Right => Key::ArrowRight,
        S::Left => Key::ArrowLeft,
        S::Down => Key::ArrowDown,
        S::Up => Key::ArrowUp,
        S::NumLockClear => Key::NumLock,
        S::KpDivide => Key::NumpadDivide,
        S::KpMultiply => Key::NumpadMultiply,
        S::KpMinus => Key::NumpadSubtract,
        S::KpPlus => Key::NumpadAdd,
        S::KpEnter => Key::NumpadEnter,
        S::Kp1 => Key::Numpad1,
        S::Kp2 => Key::Numpad2,
        S::Kp3 => Key::Numpad3,
        S::Kp4 => Key::Numpad4,
        S::Kp5 => Key::Numpad5,
        S::Kp6 => Key::Numpad6,
        S::Kp7 => Key::Numpad7,
        S::Kp8 => Key::Numpad8,
        S::Kp9 => Key::Numpad9,
        S::Kp0 => Key::Numpad0,
        S::KpPeriod => Key::NumpadDecimal,
        S::NonUsBackslash => Key::IntlBackslash,
        S::Application | S::Menu => Key::ContextMenu,
        S::Power => Key::Power,
        S::Sleep => Key::Sleep,
        S::LCtrl => Key::ControlLeft,
        S::LShift => Key::ShiftLeft,
        S::LAlt => Key::AltLeft,
        S::LGui => Key::MetaLeft,
        S::RCtrl => Key::ControlRight,
        S::RShift => Key::ShiftRight,
        S::RAlt => Key::AltRight,
        S::RGui => Key::MetaRight,
        _ => return None,
    })
}

// ---- Screenshots --------------------------------------------------------------

/// `strachey-YYYYMMDD-HHMMSS.png` for `t` (UTC).
fn screenshot_name(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, mo, d) = civil_from_days(days as i64);
    format!(
        "strachey-{y:04}{mo:02}{d:02}-{:02}{:02}{:02}.png",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Write `frame` as a PNG named after `now` in `dir` (with `-2`, `-3`…
/// when that name is taken); returns its path.
fn save_screenshot(frame: &Frame, dir: &Path, now: SystemTime) -> Result<PathBuf, String> {
    let name = screenshot_name(now);
    let stem = name.trim_end_matches(".png");
    let mut path = dir.join(&name);
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem}-{n}.png"));
        n += 1;
    }
    frame
        .write_png(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vga_modes_are_four_by_three_vbe_square() {
        assert_eq!(display_shape(720, 400, false), (720, 540));
        assert_eq!(display_shape(320, 200, false), (320, 240));
        assert_eq!(display_shape(640, 480, false), (640, 480));
        assert_eq!(display_shape(1280, 800, true), (1280, 800));
    }

    #[test]
    fn window_size_scales_small_modes_and_fits_the_desktop() {
        let desk = (1920, 1080);
        assert_eq!(window_size((720, 540), desk), (720, 540));
        assert_eq!(window_size((320, 240), desk), (640, 480));
        assert_eq!(window_size((640, 480), desk), (640, 480));
        assert_eq!(window_size((1024, 768), desk), (1024, 768));
        // Larger than 90 % of the desktop: scaled down with its shape.
        let (w, h) = window_size((1920, 1440), desk);
        assert!(w <= 1728 && h <= 972 && (w * 3 / 4).abs_diff(h) <= 1, "{w}×{h}");
    }

    #[test]
    fn place_prefers_integer_multiples_then_keeps_the_aspect() {
        assert_eq!(place((640, 480), (640, 480)), (0, 0, 640, 480));
        assert_eq!(place((640, 480), (1300, 1000)), (10, 20, 1280, 960));
        // Not a multiple: the largest integer one, centred.
        assert_eq!(place((640, 480), (1000, 800)), (180, 160, 640, 480));
        // Smaller than the shape: the aspect is kept.
        assert_eq!(place((640, 480), (320, 480)), (0, 120, 320, 240));
    }

    #[test]
    fn keys_map_by_position_with_extended_keys() {
        assert_eq!(key_for(Scancode::A), Some(Key::A));
        assert_eq!(key_for(Scancode::Return), Some(Key::Enter));
        assert_eq!(key_for(Scancode::KpEnter), Some(Key::NumpadEnter));
        assert_eq!(key_for(Scancode::RCtrl), Some(Key::ControlRight));
        assert_eq!(key_for(Scancode::Up), Some(Key::ArrowUp));
        assert_eq!(key_for(Scancode::NonUsBackslash), Some(Key::IntlBackslash));
        assert_eq!(key_for(Scancode::F13), None);
    }

    #[test]
    fn chord_needs_ctrl_and_alt() {
        assert!(chord(Mod::LCTRLMOD | Mod::LALTMOD));
        assert!(chord(Mod::RCTRLMOD | Mod::RALTMOD | Mod::NUMMOD));
        assert!(!chord(Mod::LCTRLMOD));
        assert!(!chord(Mod::LALTMOD | Mod::LSHIFTMOD));
    }

    #[test]
    fn screenshot_names_are_utc_timestamps() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(screenshot_name(t), "strachey-20231114-221320.png");
        assert_eq!(
            screenshot_name(SystemTime::UNIX_EPOCH),
            "strachey-19700101-000000.png"
        );
    }
}
