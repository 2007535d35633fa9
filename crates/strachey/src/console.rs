//! The live text console: the guest's VGA text screen drawn in the host
//! terminal, and keys typed in the terminal sent to the guest's PS/2
//! keyboard — what QEMU's `-display curses` does, for `--display none` with
//! a terminal on stdout.
//!
//! What it does:
//! - puts the terminal into raw mode (no echo, no line editing, ^C and ^Z
//!   are keys for the guest; output processing is left on) and onto the
//!   alternate screen, and puts everything back on drop, including the
//!   drop while a panic unwinds (a panic hook restores the terminal first,
//!   so that the message lands on the main screen). SIGTERM, SIGHUP,
//!   SIGINT and SIGQUIT sent from outside become a [`ConsoleEvent::Quit`]
//!   (seen by a thread through `signal-hook`), so the run ends normally and
//!   the drop restores the terminal; a second one before that restores it
//!   and ends the process as the signal would have. Nothing restores it on
//!   `process::exit`, which skips destructors: the emulator never exits
//!   while the console is open;
//! - draws the text screen with ANSI escapes: the attribute's 16 colours
//!   (foreground in bits 0–3, background in 4–6, bit 7 blink or bright
//!   background as the attribute controller's blink bit says), as ANSI
//!   colours or, when `$COLORTERM` says the terminal has them, as 24-bit
//!   colours through the guest's palette; code page 437 as Unicode;
//!   only the rows that changed since the last frame are sent; the terminal
//!   cursor sits at the guest's cursor, hidden when the guest disables it;
//!   a terminal smaller than the guest screen shows its top-left corner, a
//!   larger one shows the screen at its top-left with a help line below;
//! - reads the terminal's input without blocking and turns bytes and xterm
//!   escape sequences into PC keys on a US layout: printable ASCII (with
//!   Shift where the character needs it), Enter, Tab, Backspace, Escape (a
//!   lone ESC after [`ESC_DELAY`]), Ctrl+letter, Alt+key (ESC prefix),
//!   arrows, Home/End/PgUp/PgDn/Insert/Delete and F1–F12 with xterm's
//!   modifier parameters;
//! - the quit chord Ctrl-] q ([`ConsoleEvent::Quit`]); Ctrl-] Ctrl-] sends
//!   one Ctrl-] to the guest.
//!
//! What it does not do: no mouse; no graphics modes (they show a one-line
//! notice pointing at `--display sdl`); no key-up timing (a terminal only
//! reports characters, so every key is a press followed at once by a
//! release, and keys that produce no character — Shift alone, Caps Lock —
//! never reach the guest); no layouts other than US; non-ASCII input is
//! dropped. Code page 437 glyphs that a terminal draws double-width (some
//! fonts do for ☺ or ♥) shift the rest of their row.
//!
//! The pure parts — colours ([`attr_sgr`]), the frame differ
//! ([`Renderer`]), the input parser ([`InputParser`]) and the cursor rules
//! ([`cursor_visible`]) — take and return plain values so they are tested
//! without a terminal; [`Console`] only adds the terminal I/O.

use devices::ps2kbd::Key;
use devices::vga::{cp437_to_char, Cell, DisplayMode, TextScreen, Vga};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::termios::{
    isatty, tcgetattr, tcgetwinsize, tcsetattr, ControlModes, InputModes, LocalModes, OptionalActions,
    SpecialCodeIndex, Termios,
};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

/// How long a lone ESC waits for the rest of an escape sequence before it
/// counts as the Escape key (vim's `ttimeoutlen` is 100 ms; a sequence from
/// a local terminal arrives in one read).
pub const ESC_DELAY: Duration = Duration::from_millis(50);

/// The help line drawn below the guest screen when there is room.
pub const HELP: &str = "Ctrl-] q: quit   Ctrl-] Ctrl-]: send Ctrl-]";

// ---- Events -----------------------------------------------------------------

/// What the terminal's input means for the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleEvent {
    /// A key stroke: press the modifiers, then the key, then release them
    /// in reverse order ([`ConsoleEvent::strokes`] lists exactly that).
    Key {
        /// The key, by its position on a US keyboard.
        key: Key,
        /// Hold Shift.
        shift: bool,
        /// Hold Ctrl.
        ctrl: bool,
        /// Hold Alt.
        alt: bool,
    },
    /// The user typed the quit chord (Ctrl-] q), or the process was sent
    /// SIGTERM, SIGHUP, SIGINT or SIGQUIT while the console was open.
    Quit,
}

impl ConsoleEvent {
    fn key(key: Key) -> Self {
        ConsoleEvent::Key {
            key,
            shift: false,
            ctrl: false,
            alt: false,
        }
    }

    fn shifted(key: Key, shift: bool) -> Self {
        ConsoleEvent::Key {
            key,
            shift,
            ctrl: false,
            alt: false,
        }
    }

    fn ctrl(key: Key) -> Self {
        ConsoleEvent::Key {
            key,
            shift: false,
            ctrl: true,
            alt: false,
        }
    }

    /// The key presses (`true`) and releases (`false`) that type this
    /// event: modifiers down (Ctrl, Alt, Shift), the key down and up, the
    /// modifiers up in reverse order. Empty for [`ConsoleEvent::Quit`].
    pub fn strokes(&self) -> Vec<(Key, bool)> {
        let ConsoleEvent::Key {
            key,
            shift,
            ctrl,
            alt,
        } = *self
        else {
            return Vec::new();
        };
        let mods: Vec<Key> = [
            (ctrl, Key::ControlLeft),
            (alt, Key::AltLeft),
            (shift, Key::ShiftLeft),
        ]
        .into_iter()
        .filter_map(|(on, k)| on.then_some(k))
        .collect();
        let mut v: Vec<(Key, bool)> = mods.iter().map(|&k| (k, true)).collect();
        v.push((key, true));
        v.push((key, false));
        v.extend(mods.iter().rev().map(|&k| (k, false)));
        v
    }
}

// ---- Colours ----------------------------------------------------------------

/// How colours are sent to the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorMode {
    /// The 16 ANSI colours (SGR 30–37/90–97, 40–47/100–107): every terminal
    /// has them, but shows them in its own shades.
    Ansi16,
    /// 24-bit colours (SGR 38;2 / 48;2) from the guest's palette and DAC.
    TrueColor,
}

impl ColorMode {
    /// 24-bit when `$COLORTERM` is `truecolor` or `24bit` (the convention
    /// terminals that have them follow), else the 16 ANSI colours.
    pub fn from_env() -> Self {
        match std::env::var("COLORTERM").as_deref() {
            Ok("truecolor") | Ok("24bit") => ColorMode::TrueColor,
            _ => ColorMode::Ansi16,
        }
    }
}

/// VGA colour index (blue = bit 0, green = 1, red = 2) to ANSI index
/// (red = bit 0, green = 1, blue = 2).
const VGA_TO_ANSI: [u8; 8] = [0, 4, 2, 6, 1, 5, 3, 7];

/// The SGR sequence that draws cells of attribute `attr`. With `blink` set
/// (attribute controller mode bit 3) bit 7 blinks and the background is
/// bits 4–6; without it bit 7 picks the bright backgrounds 8–15.
/// `palette` is used in [`ColorMode::TrueColor`] only.
pub fn attr_sgr(attr: u8, blink: bool, mode: ColorMode, palette: &[[u8; 3]; 16]) -> String {
    let fg = attr & 0x0F;
    let (bg, blinking) = if blink {
        ((attr >> 4) & 0x07, attr & 0x80 != 0)
    } else {
        (attr >> 4, false)
    };
    let mut s = String::from("\x1b[0;");
    match mode {
        ColorMode::Ansi16 => {
            let ansi = |c: u8| VGA_TO_ANSI[usize::from(c & 7)];
            let fg_code = if fg & 8 != 0 { 90 } else { 30 } + ansi(fg);
            let bg_code = if bg & 8 != 0 { 100 } else { 40 } + ansi(bg);
            let _ = write!(s, "{fg_code};{bg_code}");
        }
        ColorMode::TrueColor => {
            let [fr, fg_, fb] = palette[usize::from(fg)];
            let [br, bg_, bb] = palette[usize::from(bg)];
            let _ = write!(s, "38;2;{fr};{fg_};{fb};48;2;{br};{bg_};{bb}");
        }
    }
    if blinking {
        s.push_str(";5");
    }
    s.push('m');
    s
}

// ---- Cursor -----------------------------------------------------------------

/// Whether the guest's cursor is shown: the CRTC must have it enabled
/// (cursor start register bit 5 clear — `TextScreen` has no cursor
/// otherwise), on the screen, and with a start scan line no later than its
/// end and inside the character cell (a start past the end draws nothing on
/// a VGA).
pub fn cursor_visible(screen: &TextScreen) -> bool {
    screen
        .cursor
        .is_some_and(|c| c.start <= c.end && c.start < screen.char_height.max(1))
}

/// The DECSCUSR shape for the guest's cursor: a block when it starts in the
/// upper half of the cell, else an underline (both steady: the terminal's
/// own blink would not follow the VGA's).
fn cursor_shape(screen: &TextScreen) -> u8 {
    match screen.cursor {
        Some(c) if u16::from(c.start) * 2 < u16::from(screen.char_height) => 2,
        _ => 4,
    }
}

// ---- Frames -----------------------------------------------------------------

/// A text frame as last sent.
#[derive(Clone, Debug, PartialEq)]
struct Frame {
    cols: usize,
    rows: usize,
    cells: Vec<Cell>,
    blink: bool,
    palette: [[u8; 3]; 16],
    /// Row, column and shape of the visible cursor.
    cursor: Option<(usize, usize, u8)>,
}

/// What the terminal shows.
#[derive(Clone, Debug, PartialEq)]
enum Shown {
    /// Unknown (first frame, after a resize): redraw everything.
    Nothing,
    Text(Frame),
    Notice(String),
}

/// Turns frames into the escape sequences that bring the terminal from the
/// last frame to this one. Pure: it writes nothing itself.
#[derive(Debug)]
pub struct Renderer {
    colors: ColorMode,
    /// Terminal (columns, rows) the last frame was drawn for.
    term: (usize, usize),
    shown: Shown,
}

impl Renderer {
    /// A renderer that has drawn nothing yet.
    pub fn new(colors: ColorMode) -> Self {
        Renderer {
            colors,
            term: (0, 0),
            shown: Shown::Nothing,
        }
    }

    /// Forget what the terminal shows, so the next frame redraws it all.
    pub fn invalidate(&mut self) {
        self.shown = Shown::Nothing;
    }

    /// The output that shows `screen` on a terminal of `term` = (columns,
    /// rows), given what the last call drew. Empty when nothing changed.
    pub fn text(&mut self, screen: &TextScreen, term: (usize, usize)) -> String {
        let mut out = String::new();
        let prev = match &self.shown {
            Shown::Text(f)
                if self.term == term
                    && f.cols == screen.cols
                    && f.rows == screen.rows
                    && f.blink == screen.blink
                    && (self.colors == ColorMode::Ansi16 || f.palette == screen.palette) =>
            {
                Some(f)
            }
            _ => None,
        };
        let (tcols, trows) = term;
        let vis_rows = screen.rows.min(trows);
        let vis_cols = screen.cols.min(tcols);

        let mut body = String::new();
        if prev.is_none() {
            body.push_str("\x1b[0m\x1b[2J");
        }
        for r in 0..vis_rows {
            let row = screen.row(r);
            if prev.is_some_and(|f| &f.cells[r * f.cols..(r + 1) * f.cols] == row) {
                continue;
            }
            let _ = write!(body, "\x1b[{};1H", r + 1);
            let mut attr = None;
            for cell in &row[..vis_cols] {
                if attr != Some(cell.attr) {
                    body.push_str(&attr_sgr(cell.attr, screen.blink, self.colors, &screen.palette));
                    attr = Some(cell.attr);
                }
                body.push(cp437_to_char(cell.ch));
            }
            body.push_str("\x1b[0m");
        }
        // The help line goes right below the screen; it only changes when
        // the whole screen is redrawn.
        if prev.is_none() && trows > screen.rows {
            draw_status(&mut body, screen.rows, tcols);
        }

        let cursor = screen
            .cursor
            .filter(|c| cursor_visible(screen) && c.row < vis_rows && c.col < vis_cols)
            .map(|c| (c.row, c.col, cursor_shape(screen)));
        let old_cursor = prev.map(|f| f.cursor);
        if !body.is_empty() {
            // Hide the cursor while drawing so it does not flicker across.
            out.push_str("\x1b[?25l");
            out.push_str(&body);
        }
        if !body.is_empty() || old_cursor != Some(cursor) {
            match cursor {
                Some((r, c, shape)) => {
                    let _ = write!(out, "\x1b[{};{}H\x1b[{shape} q\x1b[?25h", r + 1, c + 1);
                }
                None => out.push_str("\x1b[?25l"),
            }
        }

        self.term = term;
        self.shown = Shown::Text(Frame {
            cols: screen.cols,
            rows: screen.rows,
            cells: screen.cells.clone(),
            blink: screen.blink,
            palette: screen.palette,
            cursor,
        });
        out
    }

    /// The output that shows a one-line `notice` (for modes the console
    /// cannot draw) at the top-left, with the help line below it. Empty
    /// when it is already shown.
    pub fn notice(&mut self, notice: &str, term: (usize, usize)) -> String {
        if self.term == term && self.shown == Shown::Notice(notice.to_string()) {
            return String::new();
        }
        let (tcols, trows) = term;
        let mut out = String::from("\x1b[?25l\x1b[0m\x1b[2J\x1b[1;1H");
        out.extend(notice.chars().take(tcols));
        if trows > 1 {
            draw_status(&mut out, 1, tcols);
        }
        self.term = term;
        self.shown = Shown::Notice(notice.to_string());
        out
    }
}

/// Draw the help line on 0-based row `row`, in reverse video, clipped to
/// `cols` columns.
fn draw_status(out: &mut String, row: usize, cols: usize) {
    let _ = write!(out, "\x1b[{};1H\x1b[0;7m", row + 1);
    out.extend(HELP.chars().take(cols));
    out.push_str("\x1b[0m");
}

/// The one-line notice for a display mode the console cannot draw, or
/// `None` for text mode.
pub fn mode_notice(mode: DisplayMode) -> Option<String> {
    match mode {
        DisplayMode::Text { .. } => None,
        DisplayMode::Blank => Some(String::new()),
        DisplayMode::Graphics { width, height } => Some(format!(
            "[graphics mode {width}x{height} \u{2014} use --display sdl]"
        )),
        DisplayMode::Vbe { width, height, bpp } => Some(format!(
            "[VBE mode {width}x{height}x{bpp} \u{2014} use --display sdl]"
        )),
    }
}

// ---- Input ------------------------------------------------------------------

/// The key and Shift state that type printable ASCII `c` on a US layout.
pub fn ascii_key(c: u8) -> Option<(Key, bool)> {
    use Key::*;
    const LETTERS: [Key; 26] = [
        A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V, W, X, Y, Z,
    ];
    const DIGITS: [Key; 10] = [
        Digit0, Digit1, Digit2, Digit3, Digit4, Digit5, Digit6, Digit7, Digit8, Digit9,
    ];
    Some(match c {
        b'a'..=b'z' => (LETTERS[usize::from(c - b'a')], false),
        b'A'..=b'Z' => (LETTERS[usize::from(c - b'A')], true),
        b'0'..=b'9' => (DIGITS[usize::from(c - b'0')], false),
        b' ' => (Space, false),
        b'!' => (Digit1, true),
        b'@' => (Digit2, true),
        b'#' => (Digit3, true),
        b'$' => (Digit4, true),
        b'%' => (Digit5, true),
        b'^' => (Digit6, true),
        b'&' => (Digit7, true),
        b'*' => (Digit8, true),
        b'(' => (Digit9, true),
        b')' => (Digit0, true),
        b'-' => (Minus, false),
        b'_' => (Minus, true),
        b'=' => (Equal, false),
        b'+' => (Equal, true),
        b'[' => (BracketLeft, false),
        b'{' => (BracketLeft, true),
        b']' => (BracketRight, false),
        b'}' => (BracketRight, true),
        b'\\' => (Backslash, false),
        b'|' => (Backslash, true),
        b';' => (Semicolon, false),
        b':' => (Semicolon, true),
        b'\'' => (Quote, false),
        b'"' => (Quote, true),
        b'`' => (Backquote, false),
        b'~' => (Backquote, true),
        b',' => (Comma, false),
        b'<' => (Comma, true),
        b'.' => (Period, false),
        b'>' => (Period, true),
        b'/' => (Slash, false),
        b'?' => (Slash, true),
        _ => return None,
    })
}

/// The key a single byte types, or `None` for bytes with no key (non-ASCII).
fn byte_key(b: u8) -> Option<ConsoleEvent> {
    use Key::*;
    const LETTERS: [Key; 26] = [
        A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V, W, X, Y, Z,
    ];
    Some(match b {
        // Raw mode leaves CR as CR; LF comes from pasted text.
        b'\r' | b'\n' => ConsoleEvent::key(Enter),
        b'\t' => ConsoleEvent::key(Tab),
        // DEL is what terminals send for Backspace; some send ^H.
        0x7F | 0x08 => ConsoleEvent::key(Backspace),
        0x1B => ConsoleEvent::key(Escape),
        0x00 => ConsoleEvent::ctrl(Space),
        0x01..=0x1A => ConsoleEvent::ctrl(LETTERS[usize::from(b - 1)]),
        0x1C => ConsoleEvent::ctrl(Backslash),
        0x1D => ConsoleEvent::ctrl(BracketRight),
        0x1E => ConsoleEvent::Key {
            key: Digit6,
            shift: true,
            ctrl: true,
            alt: false,
        },
        0x1F => ConsoleEvent::Key {
            key: Minus,
            shift: true,
            ctrl: true,
            alt: false,
        },
        0x20..=0x7E => {
            let (key, shift) = ascii_key(b)?;
            ConsoleEvent::shifted(key, shift)
        }
        _ => return None,
    })
}

/// The result of looking at the start of the input buffer.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// `n` bytes were used; they type this event (or nothing).
    Done(usize, Option<ConsoleEvent>),
    /// An escape sequence has started but not ended.
    NeedMore,
}

/// The longest escape sequence kept waiting for its end; longer ones are
/// garbage and dropped.
const MAX_SEQUENCE: usize = 32;

/// xterm's modifier parameter (1 + Shift 1, Alt 2, Ctrl 4, Meta 8) applied
/// to `key`.
fn with_modifier(key: Key, param: Option<u32>) -> ConsoleEvent {
    let m = param.unwrap_or(1).saturating_sub(1);
    ConsoleEvent::Key {
        key,
        shift: m & 1 != 0,
        alt: m & 2 != 0 || m & 8 != 0,
        ctrl: m & 4 != 0,
    }
}

/// A finished CSI sequence: `params` are the bytes between `ESC [` and the
/// final byte.
fn csi_key(params: &[u8], fin: u8) -> Option<ConsoleEvent> {
    use Key::*;
    // Private parameters (`?`, `<`, `>`, `=`) are reports (mouse, device
    // attributes) the console never asked for.
    if params.first().is_some_and(|b| (0x3C..=0x3F).contains(b)) {
        return None;
    }
    let text = std::str::from_utf8(params).ok()?;
    let mut nums = text.split(';').map(|p| p.parse::<u32>().ok());
    let first = nums.next().flatten();
    let modifier = nums.next().flatten();
    let key = match fin {
        b'A' => ArrowUp,
        b'B' => ArrowDown,
        b'C' => ArrowRight,
        b'D' => ArrowLeft,
        b'H' => Home,
        b'F' => End,
        b'E' => Numpad5,
        b'P' => F1,
        b'Q' => F2,
        b'R' => F3,
        b'S' => F4,
        b'Z' => {
            return Some(ConsoleEvent::shifted(Tab, true));
        }
        b'~' => match first? {
            1 | 7 => Home,
            2 => Insert,
            3 => Delete,
            4 | 8 => End,
            5 => PageUp,
            6 => PageDown,
            11 => F1,
            12 => F2,
            13 => F3,
            14 => F4,
            15 => F5,
            17 => F6,
            18 => F7,
            19 => F8,
            20 => F9,
            21 => F10,
            23 => F11,
            24 => F12,
            _ => return None,
        },
        _ => return None,
    };
    Some(with_modifier(key, modifier))
}

/// Look at the start of `buf` (not empty). `timed_out`: no more bytes came
/// for [`ESC_DELAY`], so a sequence that has not ended never will.
fn step(buf: &[u8], timed_out: bool) -> Step {
    use Key::*;
    if buf[0] != 0x1B {
        return Step::Done(1, byte_key(buf[0]));
    }
    let Some(&second) = buf.get(1) else {
        return if timed_out {
            Step::Done(1, Some(ConsoleEvent::key(Escape)))
        } else {
            Step::NeedMore
        };
    };
    // An incomplete sequence that timed out was Alt + the second byte.
    let alt = |n: usize| {
        let ev = byte_key(second).map(|ev| match ev {
            ConsoleEvent::Key { key, shift, ctrl, .. } => ConsoleEvent::Key {
                key,
                shift,
                ctrl,
                alt: true,
            },
            q => q,
        });
        Step::Done(n, ev)
    };
    match second {
        b'[' => {
            // The Linux console's F1–F5: ESC [ [ A..E.
            if buf.get(2) == Some(&b'[') {
                return match buf.get(3) {
                    Some(&c @ b'A'..=b'E') => Step::Done(
                        4,
                        Some(ConsoleEvent::key([F1, F2, F3, F4, F5][usize::from(c - b'A')])),
                    ),
                    Some(_) => Step::Done(4, None),
                    None if timed_out => alt(2),
                    None => Step::NeedMore,
                };
            }
            // Parameter bytes 0x30–0x3F, intermediates 0x20–0x2F, then a
            // final byte 0x40–0x7E (ECMA-48 5.4).
            match buf[2..].iter().position(|b| !(0x20..=0x3F).contains(b)) {
                Some(i) => {
                    let fin = buf[2 + i];
                    if (0x40..=0x7E).contains(&fin) {
                        Step::Done(3 + i, csi_key(&buf[2..2 + i], fin))
                    } else {
                        // Not a sequence after all: drop what was read.
                        Step::Done(2 + i, None)
                    }
                }
                None if buf.len() >= MAX_SEQUENCE => Step::Done(buf.len(), None),
                None if timed_out => alt(2),
                None => Step::NeedMore,
            }
        }
        b'O' => {
            // SS3: application-mode cursor keys and F1–F4, perhaps with a
            // modifier digit (ESC O 5 P).
            match buf[2..].iter().position(|b| !b.is_ascii_digit()) {
                Some(i) => {
                    let fin = buf[2 + i];
                    let modifier = std::str::from_utf8(&buf[2..2 + i])
                        .ok()
                        .and_then(|s| s.parse().ok());
                    let key = match fin {
                        b'A' => Some(ArrowUp),
                        b'B' => Some(ArrowDown),
                        b'C' => Some(ArrowRight),
                        b'D' => Some(ArrowLeft),
                        b'H' => Some(Home),
                        b'F' => Some(End),
                        b'E' => Some(Numpad5),
                        b'P' => Some(F1),
                        b'Q' => Some(F2),
                        b'R' => Some(F3),
                        b'S' => Some(F4),
                        b'M' => Some(NumpadEnter),
                        _ => None,
                    };
                    Step::Done(3 + i, key.map(|k| with_modifier(k, modifier)))
                }
                None if buf.len() >= MAX_SEQUENCE => Step::Done(buf.len(), None),
                None if timed_out => alt(2),
                None => Step::NeedMore,
            }
        }
        // ESC ESC: the first is the Escape key (the second may start an
        // Alt+arrow sequence).
        0x1B => Step::Done(1, Some(ConsoleEvent::key(Escape))),
        _ => alt(2),
    }
}

/// Terminal input bytes to key events, keeping an unfinished escape
/// sequence across reads, and the quit chord.
#[derive(Debug, Default)]
pub struct InputParser {
    buf: Vec<u8>,
    /// Ctrl-] was typed: the next key is a command.
    chord: bool,
}

impl InputParser {
    /// A parser with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add bytes read from the terminal; the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<ConsoleEvent> {
        self.buf.extend_from_slice(bytes);
        self.drain(false)
    }

    /// No more bytes came for [`ESC_DELAY`]: resolve what is pending (a lone
    /// ESC is the Escape key, an unfinished sequence is Alt + its second
    /// byte and the rest plain keys).
    pub fn timeout(&mut self) -> Vec<ConsoleEvent> {
        self.drain(true)
    }

    /// An escape sequence is waiting for more bytes.
    pub fn pending(&self) -> bool {
        !self.buf.is_empty()
    }

    fn drain(&mut self, timed_out: bool) -> Vec<ConsoleEvent> {
        let mut events = Vec::new();
        let mut i = 0;
        while i < self.buf.len() {
            match step(&self.buf[i..], timed_out) {
                Step::Done(n, ev) => {
                    i += n;
                    if let Some(ev) = ev.and_then(|ev| self.chord(ev)) {
                        events.push(ev);
                    }
                }
                Step::NeedMore => break,
            }
        }
        self.buf.drain(..i);
        events
    }

    /// Apply the quit chord: Ctrl-] then q (or x, with or without Ctrl)
    /// quits, Ctrl-] twice sends Ctrl-], anything else after Ctrl-] is
    /// dropped.
    fn chord(&mut self, ev: ConsoleEvent) -> Option<ConsoleEvent> {
        let prefix = ConsoleEvent::ctrl(Key::BracketRight);
        if self.chord {
            self.chord = false;
            return match ev {
                ConsoleEvent::Key {
                    key: Key::Q | Key::X,
                    alt: false,
                    ..
                } => Some(ConsoleEvent::Quit),
                e if e == prefix => Some(prefix),
                _ => None,
            };
        }
        if ev == prefix {
            self.chord = true;
            return None;
        }
        Some(ev)
    }
}

// ---- The terminal -----------------------------------------------------------

/// Alternate screen, autowrap off (a character in the last column must not
/// scroll), cursor hidden, screen cleared.
const ENTER: &str = "\x1b[?1049h\x1b[?7l\x1b[?25l\x1b[0m\x1b[2J\x1b[H";
/// Colours reset, default cursor shape, cursor shown, autowrap on, main
/// screen back.
const LEAVE: &str = "\x1b[0m\x1b[0 q\x1b[?25h\x1b[?7h\x1b[?1049l";

/// The signals that ask the process to end and that the console turns into
/// [`ConsoleEvent::Quit`] while it is open.
const TERMINATE_SIGNALS: [i32; 4] = [SIGTERM, SIGHUP, SIGINT, SIGQUIT];

/// A console is active: the terminal needs restoring. Swapped to false by
/// whoever restores first (drop, the panic hook or the signal watcher).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The terminal settings to restore, taken when the console opened.
static ORIGINAL: Mutex<Option<Termios>> = Mutex::new(None);
/// One of [`TERMINATE_SIGNALS`] arrived while a console was open; set by
/// the signal watcher, read by [`Console::poll_keys`].
static TERMINATE: AtomicBool = AtomicBool::new(false);
static HOOKS: Once = Once::new();

/// Put the terminal back as it was.
fn restore_terminal() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    // Straight to the descriptor rather than through `Stdout`, whose lock
    // another thread may hold when this runs from the panic hook or the
    // signal watcher. A failed write leaves the terminal no worse than
    // before.
    let mut leave = LEAVE.as_bytes();
    while !leave.is_empty() {
        match rustix::io::write(std::io::stdout(), leave) {
            Ok(n) if n > 0 => leave = &leave[n..],
            Err(rustix::io::Errno::INTR) => {}
            _ => break,
        }
    }
    let original = ORIGINAL.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(t) = original {
        let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, &t);
    }
}

/// What the signal watcher does with terminate signal `sig`: the first
/// while a console is open is a request for [`Console::poll_keys`] to
/// answer; a second (the machine has not stopped yet), or one with no
/// console open, restores the terminal and ends the process as the
/// signal's default action would.
fn on_terminate_signal(sig: i32) {
    if ACTIVE.load(Ordering::SeqCst) && !TERMINATE.swap(true, Ordering::SeqCst) {
        return;
    }
    restore_terminal();
    let _ = signal_hook::low_level::emulate_default_handler(sig);
}

/// Restore the terminal on a panic, before the message is printed so that
/// it lands on the main screen (dropping the console while unwinding would
/// be too late: the message would go to the alternate screen and vanish
/// with it); and watch for the terminate signals on a thread of their own
/// (`signal-hook`'s handler only writes to a pipe; the thread does the
/// rest outside signal context). Installed once per process.
fn install_hooks() {
    HOOKS.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        // Failing to register or to start the thread only loses this
        // safety net.
        if let Ok(mut signals) = Signals::new(TERMINATE_SIGNALS) {
            let _ = std::thread::Builder::new()
                .name("console-signals".into())
                .spawn(move || signals.forever().for_each(on_terminate_signal));
        }
    });
}

/// The terminal's (columns, rows), or 80×25 when it does not say.
fn terminal_size() -> (usize, usize) {
    match tcgetwinsize(std::io::stdout()) {
        Ok(ws) if ws.ws_col > 0 && ws.ws_row > 0 => (usize::from(ws.ws_col), usize::from(ws.ws_row)),
        _ => (80, 25),
    }
}

/// The raw mode the console reads keys in: as `cfmakeraw`, but keeping
/// output processing (OPOST, so a newline written by anyone still returns
/// the carriage), and reads return at once with whatever is there.
fn raw_mode(original: &Termios) -> Termios {
    let mut raw = original.clone();
    raw.input_modes &= !(InputModes::IGNBRK
        | InputModes::BRKINT
        | InputModes::PARMRK
        | InputModes::ISTRIP
        | InputModes::INLCR
        | InputModes::IGNCR
        | InputModes::ICRNL
        | InputModes::IXON);
    raw.local_modes &=
        !(LocalModes::ECHO | LocalModes::ECHONL | LocalModes::ICANON | LocalModes::ISIG | LocalModes::IEXTEN);
    raw.control_modes &= !(ControlModes::CSIZE | ControlModes::PARENB);
    raw.control_modes |= ControlModes::CS8;
    raw.special_codes[SpecialCodeIndex::VMIN] = 0;
    raw.special_codes[SpecialCodeIndex::VTIME] = 0;
    raw
}

/// What was last drawn, to draw again after the terminal is resized.
#[derive(Debug)]
enum Last {
    Nothing,
    Text(TextScreen),
    Notice(String),
}

/// The live console on the process's terminal. Only one may be open at a
/// time. Dropping it restores the terminal.
#[derive(Debug)]
pub struct Console {
    renderer: Renderer,
    parser: InputParser,
    /// stdin is the terminal, in raw mode: keys can be read.
    input: bool,
    /// When the last input byte arrived (for [`ESC_DELAY`]).
    last_input: Instant,
    size: (usize, usize),
    last: Last,
}

impl Console {
    /// Take over the terminal: `Ok(None)` when stdout is not a terminal (the
    /// caller runs without a live display). Keys are read only when stdin is
    /// a terminal too.
    pub fn open() -> Result<Option<Console>, String> {
        if !isatty(std::io::stdout()) {
            return Ok(None);
        }
        if ACTIVE.load(Ordering::SeqCst) {
            return Err("the terminal console is already open".into());
        }
        let input = isatty(std::io::stdin());
        install_hooks();
        TERMINATE.store(false, Ordering::SeqCst);
        if input {
            let original =
                tcgetattr(std::io::stdin()).map_err(|e| format!("cannot read the terminal settings: {e}"))?;
            let raw = raw_mode(&original);
            *ORIGINAL.lock().unwrap_or_else(PoisonError::into_inner) = Some(original);
            tcsetattr(std::io::stdin(), OptionalActions::Now, &raw)
                .map_err(|e| format!("cannot set the terminal to raw mode: {e}"))?;
        }
        ACTIVE.store(true, Ordering::SeqCst);
        let console = Console {
            renderer: Renderer::new(ColorMode::from_env()),
            parser: InputParser::new(),
            input,
            last_input: Instant::now(),
            size: terminal_size(),
            last: Last::Nothing,
        };
        write_out(ENTER);
        Ok(Some(console))
    }

    /// Draw the guest's text screen, sending only what changed since the
    /// last frame.
    pub fn render(&mut self, screen: &TextScreen) {
        if !ACTIVE.load(Ordering::SeqCst) {
            return;
        }
        self.size = terminal_size();
        let out = self.renderer.text(screen, self.size);
        self.last = Last::Text(screen.clone());
        write_out(&out);
    }

    /// Draw a one-line notice instead of a screen (graphics modes).
    pub fn render_notice(&mut self, notice: &str) {
        if !ACTIVE.load(Ordering::SeqCst) {
            return;
        }
        self.size = terminal_size();
        let out = self.renderer.notice(notice, self.size);
        self.last = Last::Notice(notice.to_string());
        write_out(&out);
    }

    /// Draw whatever the card shows: its text screen, or a notice for
    /// graphics and VBE modes, or an empty screen when video is off.
    pub fn render_vga(&mut self, vga: &Vga) {
        match mode_notice(vga.mode()) {
            None => match vga.text_screen() {
                Some(screen) => self.render(&screen),
                None => self.render_notice(""),
            },
            Some(notice) => self.render_notice(&notice),
        }
    }

    /// Read the keys typed since the last call, without blocking. Also
    /// redraws the last frame when the terminal was resized.
    ///
    /// Once the process has been sent SIGTERM, SIGHUP, SIGINT or SIGQUIT
    /// this returns just [`ConsoleEvent::Quit`], at every call: the caller
    /// ends the run and drops the console, which restores the terminal. A
    /// second such signal before that restores the terminal and ends the
    /// process at once, as the signal's default action would.
    pub fn poll_keys(&mut self) -> Vec<ConsoleEvent> {
        if !ACTIVE.load(Ordering::SeqCst) {
            return Vec::new();
        }
        if TERMINATE.load(Ordering::SeqCst) {
            return vec![ConsoleEvent::Quit];
        }
        let size = terminal_size();
        if size != self.size {
            self.size = size;
            self.renderer.invalidate();
            match std::mem::replace(&mut self.last, Last::Nothing) {
                Last::Nothing => {}
                Last::Text(screen) => self.render(&screen),
                Last::Notice(notice) => self.render_notice(&notice),
            }
        }
        if !self.input {
            return Vec::new();
        }
        let mut events = Vec::new();
        let mut buf = [0u8; 256];
        let stdin = std::io::stdin();
        // A zero timeout: poll never blocks.
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
            let ready = poll(&mut fds, Some(&now)).unwrap_or(0);
            if ready == 0 || !fds[0].revents().contains(PollFlags::IN) {
                break;
            }
            let n = match rustix::io::read(&stdin, &mut buf) {
                Ok(n) if n > 0 => n,
                _ => break,
            };
            self.last_input = Instant::now();
            events.extend(self.parser.feed(&buf[..n]));
            if n < buf.len() {
                break;
            }
        }
        if self.parser.pending() && self.last_input.elapsed() >= ESC_DELAY {
            events.extend(self.parser.timeout());
        }
        events
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = std::io::stdout().flush();
        restore_terminal();
    }
}

/// Write to the terminal; errors (a hung-up terminal) are ignored, as there
/// is nowhere left to show them.
fn write_out(s: &str) {
    if s.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use devices::vga::Cursor;

    fn screen(cols: usize, rows: usize) -> TextScreen {
        TextScreen {
            cols,
            rows,
            cells: vec![Cell { ch: b' ', attr: 0x07 }; cols * rows],
            cursor: Some(Cursor {
                row: 0,
                col: 0,
                start: 14,
                end: 15,
            }),
            start_address: 0,
            char_height: 16,
            blink: true,
            palette: [[0; 3]; 16],
        }
    }

    fn put(s: &mut TextScreen, row: usize, col: usize, text: &str, attr: u8) {
        for (i, b) in text.bytes().enumerate() {
            s.cells[row * s.cols + col + i] = Cell { ch: b, attr };
        }
    }

    /// Row numbers (1-based) drawn: a move to `ESC [ r ; 1 H` followed by
    /// colours (a cursor placement is followed by its shape instead).
    fn rows_drawn(out: &str) -> Vec<usize> {
        let parts: Vec<&str> = out.split("\x1b[").collect();
        parts
            .windows(2)
            .filter(|w| w[1].starts_with("0;"))
            .filter_map(|w| w[0].strip_suffix(";1H")?.parse().ok())
            .collect()
    }

    fn key(key: Key) -> ConsoleEvent {
        ConsoleEvent::key(key)
    }

    fn shift(key: Key) -> ConsoleEvent {
        ConsoleEvent::shifted(key, true)
    }

    fn ctrl(key: Key) -> ConsoleEvent {
        ConsoleEvent::ctrl(key)
    }

    fn with(key: Key, shift: bool, ctrl: bool, alt: bool) -> ConsoleEvent {
        ConsoleEvent::Key {
            key,
            shift,
            ctrl,
            alt,
        }
    }

    // ---- colours ----

    #[test]
    fn attribute_colours_ansi() {
        let p = [[0; 3]; 16];
        // Light grey on black.
        assert_eq!(attr_sgr(0x07, true, ColorMode::Ansi16, &p), "\x1b[0;37;40m");
        // Bright white (15) on blue (1): ANSI blue is 4.
        assert_eq!(attr_sgr(0x1F, true, ColorMode::Ansi16, &p), "\x1b[0;97;44m");
        // Red (4) on cyan (3): ANSI red 1, cyan 6; brown (6) is ANSI yellow.
        assert_eq!(attr_sgr(0x34, true, ColorMode::Ansi16, &p), "\x1b[0;31;46m");
        assert_eq!(attr_sgr(0x06, true, ColorMode::Ansi16, &p), "\x1b[0;33;40m");
        // Bit 7 blinks when the blink bit is set...
        assert_eq!(attr_sgr(0x8E, true, ColorMode::Ansi16, &p), "\x1b[0;93;40;5m");
        // ...and is a bright background otherwise.
        assert_eq!(attr_sgr(0x8E, false, ColorMode::Ansi16, &p), "\x1b[0;93;100m");
        assert_eq!(attr_sgr(0xF0, false, ColorMode::Ansi16, &p), "\x1b[0;30;107m");
    }

    #[test]
    fn attribute_colours_truecolor_use_the_palette() {
        let mut p = [[0; 3]; 16];
        p[1] = [0, 0, 170];
        p[14] = [255, 255, 85];
        assert_eq!(
            attr_sgr(0x1E, true, ColorMode::TrueColor, &p),
            "\x1b[0;38;2;255;255;85;48;2;0;0;170m"
        );
        assert_eq!(
            attr_sgr(0x9E, true, ColorMode::TrueColor, &p),
            "\x1b[0;38;2;255;255;85;48;2;0;0;170;5m"
        );
    }

    // ---- frames ----

    #[test]
    fn first_frame_clears_and_draws_every_row_and_the_help_line() {
        let mut r = Renderer::new(ColorMode::Ansi16);
        let mut s = screen(80, 25);
        put(&mut s, 0, 0, "Hello", 0x07);
        let out = r.text(&s, (80, 30));
        assert!(out.contains("\x1b[2J"));
        assert_eq!(rows_drawn(&out), (1..=26).collect::<Vec<_>>());
        assert!(out.contains("Hello"));
        assert!(out.contains(HELP));
    }

    #[test]
    fn only_changed_rows_are_redrawn() {
        let mut r = Renderer::new(ColorMode::Ansi16);
        let mut s = screen(80, 25);
        r.text(&s, (80, 25));
        // Nothing changed: nothing sent.
        assert_eq!(r.text(&s, (80, 25)), "");
        put(&mut s, 3, 10, "abc", 0x1F);
        put(&mut s, 17, 0, "x", 0x07);
        let out = r.text(&s, (80, 25));
        assert!(!out.contains("\x1b[2J"));
        assert_eq!(rows_drawn(&out), vec![4, 18]);
        assert!(out.contains("\x1b[0;97;44mabc"));
        // An attribute change alone counts.
        s.cells[5 * 80].attr = 0x70;
        assert_eq!(rows_drawn(&r.text(&s, (80, 25))), vec![6]);
    }

    #[test]
    fn geometry_or_terminal_changes_redraw_everything() {
        let mut r = Renderer::new(ColorMode::Ansi16);
        let s = screen(80, 25);
        r.text(&s, (80, 25));
        assert!(r.text(&s, (100, 40)).contains("\x1b[2J"));
        assert!(r.text(&screen(80, 50), (100, 40)).contains("\x1b[2J"));
        let mut blinkless = screen(80, 50);
        blinkless.blink = false;
        assert!(r.text(&blinkless, (100, 40)).contains("\x1b[2J"));
        r.invalidate();
        assert!(r.text(&blinkless, (100, 40)).contains("\x1b[2J"));
    }

    #[test]
    fn small_terminal_clips_rows_and_columns() {
        let mut r = Renderer::new(ColorMode::Ansi16);
        let mut s = screen(80, 25);
        put(&mut s, 0, 0, &"0123456789".repeat(8), 0x07);
        s.cursor = Some(Cursor {
            row: 24,
            col: 0,
            start: 14,
            end: 15,
        });
        let out = r.text(&s, (40, 10));
        assert_eq!(rows_drawn(&out), (1..=10).collect::<Vec<_>>());
        assert!(out.contains(&"0123456789".repeat(4)));
        assert!(!out.contains(&"0123456789".repeat(5)));
        // No room for the help line, and the cursor is off the terminal.
        assert!(!out.contains(HELP));
        assert!(out.ends_with("\x1b[?25l"));
    }

    #[test]
    fn help_line_is_clipped_to_the_terminal_width() {
        let mut r = Renderer::new(ColorMode::Ansi16);
        let out = r.text(&screen(10, 2), (12, 3));
        assert!(out.contains(&format!("\x1b[3;1H\x1b[0;7m{}\x1b[0m", &HELP[..12])));
    }

    #[test]
    fn cp437_is_translated() {
        let mut r = Renderer::new(ColorMode::Ansi16);
        let mut s = screen(4, 1);
        s.cells[0].ch = 0xC9; // ╔
        s.cells[1].ch = 0x01; // ☺
        s.cells[2].ch = 0x00; // blank
        let out = r.text(&s, (4, 1));
        assert!(out.contains("╔☺  "));
        // No raw control characters reach the terminal except ESC.
        assert!(!out.bytes().any(|b| b < 0x20 && b != 0x1B));
    }

    // ---- cursor ----

    #[test]
    fn cursor_visibility_rules() {
        let mut s = screen(80, 25);
        assert!(cursor_visible(&s));
        // Disabled (start register bit 5): TextScreen has no cursor.
        s.cursor = None;
        assert!(!cursor_visible(&s));
        // Start after end: nothing drawn.
        s.cursor = Some(Cursor {
            row: 1,
            col: 1,
            start: 15,
            end: 14,
        });
        assert!(!cursor_visible(&s));
        // Start beyond the character cell.
        s.cursor = Some(Cursor {
            row: 1,
            col: 1,
            start: 20,
            end: 25,
        });
        assert!(!cursor_visible(&s));
        // A full block.
        s.cursor = Some(Cursor {
            row: 1,
            col: 1,
            start: 0,
            end: 15,
        });
        assert!(cursor_visible(&s));
        assert_eq!(cursor_shape(&s), 2);
    }

    #[test]
    fn cursor_is_placed_moved_and_hidden() {
        let mut r = Renderer::new(ColorMode::Ansi16);
        let mut s = screen(80, 25);
        s.cursor = Some(Cursor {
            row: 4,
            col: 9,
            start: 14,
            end: 15,
        });
        assert!(r.text(&s, (80, 25)).ends_with("\x1b[5;10H\x1b[4 q\x1b[?25h"));
        // Only the cursor moved: no rows, just the move.
        s.cursor = Some(Cursor {
            row: 5,
            col: 0,
            start: 14,
            end: 15,
        });
        assert_eq!(r.text(&s, (80, 25)), "\x1b[6;1H\x1b[4 q\x1b[?25h");
        s.cursor.as_mut().unwrap().start = 15;
        s.cursor.as_mut().unwrap().end = 3;
        assert_eq!(r.text(&s, (80, 25)), "\x1b[?25l");
        assert_eq!(r.text(&s, (80, 25)), "");
    }

    // ---- notices ----

    #[test]
    fn graphics_modes_show_a_notice_once() {
        let n = mode_notice(DisplayMode::Graphics {
            width: 640,
            height: 480,
        })
        .unwrap();
        assert_eq!(n, "[graphics mode 640x480 \u{2014} use --display sdl]");
        assert_eq!(mode_notice(DisplayMode::Text { cols: 80, rows: 25 }), None);
        let mut r = Renderer::new(ColorMode::Ansi16);
        r.text(&screen(80, 25), (80, 25));
        let out = r.notice(&n, (80, 25));
        assert!(out.contains("\x1b[2J") && out.contains(&n) && out.contains(HELP));
        assert_eq!(r.notice(&n, (80, 25)), "");
        // Back to text: everything is redrawn.
        assert!(r.text(&screen(80, 25), (80, 25)).contains("\x1b[2J"));
    }

    // ---- input ----

    #[test]
    fn printable_ascii_types_us_keys() {
        let mut p = InputParser::new();
        assert_eq!(
            p.feed(b"aA1! ~/?"),
            vec![
                key(Key::A),
                shift(Key::A),
                key(Key::Digit1),
                shift(Key::Digit1),
                key(Key::Space),
                shift(Key::Backquote),
                key(Key::Slash),
                shift(Key::Slash),
            ]
        );
        // Every printable character has a key.
        assert!((0x20..=0x7E).all(|c| ascii_key(c).is_some()));
    }

    #[test]
    fn control_bytes() {
        let mut p = InputParser::new();
        assert_eq!(
            p.feed(b"\r\t\x7f\x08\x01\x03\x1a"),
            vec![
                key(Key::Enter),
                key(Key::Tab),
                key(Key::Backspace),
                key(Key::Backspace),
                ctrl(Key::A),
                ctrl(Key::C),
                ctrl(Key::Z),
            ]
        );
    }

    #[test]
    fn cursor_and_editing_keys() {
        let mut p = InputParser::new();
        let ev = p.feed(
            b"\x1b[A\x1b[B\x1b[C\x1b[D\x1bOA\x1b[H\x1b[F\x1b[1~\x1b[4~\x1b[2~\x1b[3~\x1b[5~\x1b[6~\x1b[Z",
        );
        assert_eq!(
            ev,
            vec![
                key(Key::ArrowUp),
                key(Key::ArrowDown),
                key(Key::ArrowRight),
                key(Key::ArrowLeft),
                key(Key::ArrowUp),
                key(Key::Home),
                key(Key::End),
                key(Key::Home),
                key(Key::End),
                key(Key::Insert),
                key(Key::Delete),
                key(Key::PageUp),
                key(Key::PageDown),
                shift(Key::Tab),
            ]
        );
    }

    #[test]
    fn function_keys() {
        use Key::*;
        let mut p = InputParser::new();
        let ev = p.feed(
            b"\x1bOP\x1bOQ\x1bOR\x1bOS\x1b[15~\x1b[17~\x1b[18~\x1b[19~\x1b[20~\x1b[21~\x1b[23~\x1b[24~\x1b[11~\x1b[[A\x1b[[E",
        );
        assert_eq!(
            ev,
            [F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12, F1, F1, F5]
                .map(key)
                .to_vec()
        );
    }

    #[test]
    fn xterm_modifiers() {
        let mut p = InputParser::new();
        assert_eq!(
            p.feed(b"\x1b[1;5C\x1b[1;2A\x1b[3;3~\x1b[1;6P\x1b[15;2~"),
            vec![
                with(Key::ArrowRight, false, true, false),
                with(Key::ArrowUp, true, false, false),
                with(Key::Delete, false, false, true),
                with(Key::F1, true, true, false),
                with(Key::F5, true, false, false),
            ]
        );
    }

    #[test]
    fn alt_prefix() {
        let mut p = InputParser::new();
        assert_eq!(
            p.feed(b"\x1bx\x1bX"),
            vec![with(Key::X, false, false, true), with(Key::X, true, false, true)]
        );
    }

    #[test]
    fn lone_escape_waits_for_the_timeout() {
        let mut p = InputParser::new();
        assert_eq!(p.feed(b"\x1b"), vec![]);
        assert!(p.pending());
        assert_eq!(p.timeout(), vec![key(Key::Escape)]);
        assert!(!p.pending());
        // ESC ESC: the first is a key at once.
        assert_eq!(p.feed(b"\x1b\x1b"), vec![key(Key::Escape)]);
        assert_eq!(p.timeout(), vec![key(Key::Escape)]);
    }

    #[test]
    fn sequences_split_across_reads() {
        let mut p = InputParser::new();
        assert_eq!(p.feed(b"a\x1b"), vec![key(Key::A)]);
        assert_eq!(p.feed(b"["), vec![]);
        assert_eq!(p.feed(b"1"), vec![]);
        assert_eq!(p.feed(b"5"), vec![]);
        assert_eq!(p.feed(b"~b"), vec![key(Key::F5), key(Key::B)]);
        assert_eq!(p.feed(b"\x1bO"), vec![]);
        assert_eq!(p.feed(b"S"), vec![key(Key::F4)]);
        assert!(!p.pending());
    }

    #[test]
    fn unfinished_sequence_times_out_as_alt() {
        let mut p = InputParser::new();
        assert_eq!(p.feed(b"\x1b["), vec![]);
        assert_eq!(p.timeout(), vec![with(Key::BracketLeft, false, false, true)]);
        assert_eq!(p.feed(b"\x1bO"), vec![]);
        assert_eq!(p.timeout(), vec![with(Key::O, true, false, true)]);
    }

    #[test]
    fn unknown_and_private_sequences_are_dropped() {
        let mut p = InputParser::new();
        // A mouse report, a device attributes reply, an unknown final byte,
        // bracketed-paste markers, UTF-8.
        assert_eq!(
            p.feed(b"\x1b[<0;10;5M\x1b[?62;c\x1b[5x\x1b[200~q\x1b[201~\xc3\xa9"),
            vec![key(Key::Q)]
        );
        assert!(!p.pending());
        // Garbage that never ends does not grow without bound.
        p.feed(b"\x1b[");
        p.feed(&[b'1'; 40]);
        assert!(!p.pending());
    }

    #[test]
    fn quit_chord() {
        let mut p = InputParser::new();
        assert_eq!(p.feed(b"\x1dq"), vec![ConsoleEvent::Quit]);
        assert_eq!(p.feed(b"\x1d"), vec![]);
        assert_eq!(p.feed(b"Q"), vec![ConsoleEvent::Quit]);
        // Still holding Ctrl.
        assert_eq!(p.feed(b"\x1d\x11"), vec![ConsoleEvent::Quit]);
        // Twice sends one Ctrl-] to the guest.
        assert_eq!(p.feed(b"\x1d\x1dz"), vec![ctrl(Key::BracketRight), key(Key::Z)]);
        // Anything else after the prefix is swallowed.
        assert_eq!(p.feed(b"\x1daq"), vec![key(Key::Q)]);
    }

    #[test]
    fn strokes_press_modifiers_around_the_key() {
        assert_eq!(
            with(Key::Delete, false, true, true).strokes(),
            vec![
                (Key::ControlLeft, true),
                (Key::AltLeft, true),
                (Key::Delete, true),
                (Key::Delete, false),
                (Key::AltLeft, false),
                (Key::ControlLeft, false),
            ]
        );
        assert_eq!(
            shift(Key::A).strokes(),
            vec![
                (Key::ShiftLeft, true),
                (Key::A, true),
                (Key::A, false),
                (Key::ShiftLeft, false)
            ]
        );
        assert_eq!(ConsoleEvent::Quit.strokes(), vec![]);
    }
}
