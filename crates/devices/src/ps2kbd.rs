//! A PS/2 (MF2) keyboard, as seen from the 8042 controller's keyboard port.
//!
//! Implemented: the command set of the IBM PS/2 keyboard (IBM PS/2 Hardware
//! Interface Technical Reference, "Keyboard and Auxiliary Device
//! Controller", keyboard commands): reset `FF` (→ `FA AA`), resend `FE`,
//! set defaults `F6`, default-disable `F5`, enable `F4`, typematic rate
//! `F3 xx`, identify `F2` (→ `FA AB 83`), scancode set `F0 xx` (get/set of
//! sets 1, 2 and 3), echo `EE`, LEDs `ED xx`, and the set-3 key types
//! `F7`–`FA` (all keys) and `FB`–`FD` (listed keys); unknown commands
//! answer `FE`. Key presses and releases from the host ([`Key`]) become
//! make/break codes in the current set: set 2 with `E0` prefixes and `F0`
//! break prefixes, the PrintScreen and Pause sequences (and their
//! Alt/Ctrl/Shift variants: SysRq `84`, Break `E0 7E`), set 1 as the 8042
//! would translate set 2, and set 3 (one code per key, `F0` break prefix,
//! no break code for keys whose type is "make" or "typematic").
//!
//! Typematic repeat is the keyboard's own, on the guest clock: the last key
//! pressed (and only it; releasing it stops the repeat even while others
//! are held) sends its make code again after the typematic delay and then
//! at the typematic rate (`F3`; power-on 500 ms and 10.9 characters/s),
//! `E0` prefix included. In sets 1 and 2 every key repeats except Pause
//! (and Ctrl+Pause, Break); in set 3 the key's type decides. The board
//! learns when the next repeat is due through [`Timed`]. Repeats are
//! dropped while more than [`REPEAT_ROOM`] bytes wait to be read, as a
//! real keyboard's 16-byte buffer would, so a guest that stops reading does
//! not find a backlog of repeats.
//!
//! Not implemented: the set-3 power-on key types of a real keyboard (here
//! every key is typematic make/break in set 3 until the guest says
//! otherwise, except Pause, which is make/break), the "fake shift" codes
//! real keyboards wrap around the grey navigation keys (`E0 12` / `E0 F0
//! 12`; Linux and DOS ignore them), and transmission timing: responses are
//! queued at once.

use crate::clock::{Clock, Nanos, Timed};
use std::collections::VecDeque;

/// Acknowledge.
pub const ACK: u8 = 0xfa;
/// Resend request (also "unknown command").
pub const RESEND: u8 = 0xfe;
/// Basic assurance test passed (after reset).
pub const BAT_OK: u8 = 0xaa;
/// Echo reply.
pub const ECHO: u8 = 0xee;

/// Keyboard commands (IBM PS/2 technical reference, keyboard commands).
mod cmd {
    pub const SET_LEDS: u8 = 0xed;
    pub const ECHO: u8 = 0xee;
    pub const SCANCODE_SET: u8 = 0xf0;
    pub const IDENTIFY: u8 = 0xf2;
    pub const TYPEMATIC: u8 = 0xf3;
    pub const ENABLE: u8 = 0xf4;
    pub const DEFAULT_DISABLE: u8 = 0xf5;
    pub const SET_DEFAULT: u8 = 0xf6;
    pub const ALL_TYPEMATIC: u8 = 0xf7;
    pub const ALL_MAKE_BREAK: u8 = 0xf8;
    pub const ALL_MAKE: u8 = 0xf9;
    pub const ALL_TYPEMATIC_MAKE_BREAK: u8 = 0xfa;
    pub const KEY_TYPEMATIC: u8 = 0xfb;
    pub const KEY_MAKE_BREAK: u8 = 0xfc;
    pub const KEY_MAKE: u8 = 0xfd;
    pub const RESEND: u8 = 0xfe;
    pub const RESET: u8 = 0xff;
}

/// The MF2 keyboard's identification bytes (after `FA`).
pub const ID: [u8; 2] = [0xab, 0x83];
/// Power-on typematic setting: 10.9 characters/s, 500 ms delay.
const DEFAULT_TYPEMATIC: u8 = 0x2b;
/// Bytes the keyboard will buffer. A real keyboard holds 16; a larger queue
/// keeps host events (pasted text) from being dropped while the guest is slow.
const QUEUE_CAP: usize = 256;
/// A typematic repeat is sent only if the queue then holds at most this
/// many bytes: the real keyboard's buffer size. Host key events may use the
/// rest of [`QUEUE_CAP`]; repeats never pile up beyond a real keyboard's.
pub const REPEAT_ROOM: usize = 16;

/// The delay before the first repeat for typematic byte `t` (bits 6:5:
/// 250, 500, 750 or 1000 ms, IBM PS/2 technical reference, "Set
/// Typematic Rate/Delay").
pub fn typematic_delay(t: u8) -> Nanos {
    (u64::from((t >> 5) & 3) + 1) * 250_000_000
}

/// The time between repeats for typematic byte `t`: bits 2:0 are A, bits
/// 4:3 are B, and the period is (8 + A) × 2^B × 1/240 s (the reference
/// rounds 1/240 s to 4.17 ms), from 30.0 characters/s (`00`) down to 2.0
/// (`1F`); 10.9 for the default `0B`.
pub fn typematic_period(t: u8) -> Nanos {
    let a = u64::from(t & 7);
    let b = (t >> 3) & 3;
    ((8 + a) << b) * 1_000_000_000 / 240
}

/// Set-3 key types (IBM PS/2 technical reference, commands `F7`–`FD`):
/// whether a key repeats and whether it sends a break code. A make code is
/// always sent.
mod key_type {
    /// The key repeats while held.
    pub const TYPEMATIC: u8 = 1 << 0;
    /// The key sends a break code on release.
    pub const BREAK: u8 = 1 << 1;
    /// `F9` / `FD`: make code only.
    pub const MAKE: u8 = 0;
    /// `F8` / `FC`: make and break codes, no repeat.
    pub const MAKE_BREAK: u8 = BREAK;
    /// `FA`: make, repeat, break.
    pub const ALL: u8 = TYPEMATIC | BREAK;
}

/// The keys of a PC/AT (104/105-key) keyboard plus the ACPI power keys,
/// named by their position on a US layout.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Escape,
    F1,
    F2,
    F3,
    F4,
    F5,
    F6,
    F7,
    F8,
    F9,
    F10,
    F11,
    F12,
    PrintScreen,
    ScrollLock,
    Pause,
    Backquote,
    Digit1,
    Digit2,
    Digit3,
    Digit4,
    Digit5,
    Digit6,
    Digit7,
    Digit8,
    Digit9,
    Digit0,
    Minus,
    Equal,
    Backspace,
    Tab,
    Q,
    W,
    E,
    R,
    T,
    Y,
    U,
    I,
    O,
    P,
    BracketLeft,
    BracketRight,
    Backslash,
    CapsLock,
    A,
    S,
    D,
    F,
    G,
    H,
    J,
    K,
    L,
    Semicolon,
    Quote,
    Enter,
    ShiftLeft,
    /// The extra key left of Z on ISO (102/105-key) keyboards.
    IntlBackslash,
    Z,
    X,
    C,
    V,
    B,
    N,
    M,
    Comma,
    Period,
    Slash,
    ShiftRight,
    ControlLeft,
    MetaLeft,
    AltLeft,
    Space,
    AltRight,
    MetaRight,
    ContextMenu,
    ControlRight,
    Insert,
    Home,
    PageUp,
    Delete,
    End,
    PageDown,
    ArrowUp,
    ArrowLeft,
    ArrowDown,
    ArrowRight,
    NumLock,
    NumpadDivide,
    NumpadMultiply,
    NumpadSubtract,
    Numpad7,
    Numpad8,
    Numpad9,
    NumpadAdd,
    Numpad4,
    Numpad5,
    Numpad6,
    Numpad1,
    Numpad2,
    Numpad3,
    NumpadEnter,
    Numpad0,
    NumpadDecimal,
    Power,
    Sleep,
    Wake,
}

/// One key's codes: set 2 (`E0`-prefixed when `ext`) and set 3 (0 = none).
struct Codes {
    ext: bool,
    set2: u8,
    set3: u8,
}

const fn c(set2: u8, set3: u8) -> Codes {
    Codes {
        ext: false,
        set2,
        set3,
    }
}
const fn e(set2: u8, set3: u8) -> Codes {
    Codes {
        ext: true,
        set2,
        set3,
    }
}

impl Key {
    /// Set-2 and set-3 codes (IBM PS/2 technical reference, keyboard
    /// scan-code tables; set 1 is derived through the 8042 translation).
    /// PrintScreen and Pause are special-cased in [`make_codes`].
    fn codes(self) -> Codes {
        use Key::*;
        match self {
            Escape => c(0x76, 0x08),
            F1 => c(0x05, 0x07),
            F2 => c(0x06, 0x0f),
            F3 => c(0x04, 0x17),
            F4 => c(0x0c, 0x1f),
            F5 => c(0x03, 0x27),
            F6 => c(0x0b, 0x2f),
            F7 => c(0x83, 0x37),
            F8 => c(0x0a, 0x3f),
            F9 => c(0x01, 0x47),
            F10 => c(0x09, 0x4f),
            F11 => c(0x78, 0x56),
            F12 => c(0x07, 0x5e),
            PrintScreen => e(0x7c, 0x57),
            ScrollLock => c(0x7e, 0x5f),
            Pause => c(0x77, 0x62),
            Backquote => c(0x0e, 0x0e),
            Digit1 => c(0x16, 0x16),
            Digit2 => c(0x1e, 0x1e),
            Digit3 => c(0x26, 0x26),
            Digit4 => c(0x25, 0x25),
            Digit5 => c(0x2e, 0x2e),
            Digit6 => c(0x36, 0x36),
            Digit7 => c(0x3d, 0x3d),
            Digit8 => c(0x3e, 0x3e),
            Digit9 => c(0x46, 0x46),
            Digit0 => c(0x45, 0x45),
            Minus => c(0x4e, 0x4e),
            Equal => c(0x55, 0x55),
            Backspace => c(0x66, 0x66),
            Tab => c(0x0d, 0x0d),
            Q => c(0x15, 0x15),
            W => c(0x1d, 0x1d),
            E => c(0x24, 0x24),
            R => c(0x2d, 0x2d),
            T => c(0x2c, 0x2c),
            Y => c(0x35, 0x35),
            U => c(0x3c, 0x3c),
            I => c(0x43, 0x43),
            O => c(0x44, 0x44),
            P => c(0x4d, 0x4d),
            BracketLeft => c(0x54, 0x54),
            BracketRight => c(0x5b, 0x5b),
            Backslash => c(0x5d, 0x5d),
            CapsLock => c(0x58, 0x14),
            A => c(0x1c, 0x1c),
            S => c(0x1b, 0x1b),
            D => c(0x23, 0x23),
            F => c(0x2b, 0x2b),
            G => c(0x34, 0x34),
            H => c(0x33, 0x33),
            J => c(0x3b, 0x3b),
            K => c(0x42, 0x42),
            L => c(0x4b, 0x4b),
            Semicolon => c(0x4c, 0x4c),
            Quote => c(0x52, 0x52),
            Enter => c(0x5a, 0x5a),
            ShiftLeft => c(0x12, 0x12),
            IntlBackslash => c(0x61, 0x13),
            Z => c(0x1a, 0x1a),
            X => c(0x22, 0x22),
            C => c(0x21, 0x21),
            V => c(0x2a, 0x2a),
            B => c(0x32, 0x32),
            N => c(0x31, 0x31),
            M => c(0x3a, 0x3a),
            Comma => c(0x41, 0x41),
            Period => c(0x49, 0x49),
            Slash => c(0x4a, 0x4a),
            ShiftRight => c(0x59, 0x59),
            ControlLeft => c(0x14, 0x11),
            MetaLeft => e(0x1f, 0x8b),
            AltLeft => c(0x11, 0x19),
            Space => c(0x29, 0x29),
            AltRight => e(0x11, 0x39),
            MetaRight => e(0x27, 0x8c),
            ContextMenu => e(0x2f, 0x8d),
            ControlRight => e(0x14, 0x58),
            Insert => e(0x70, 0x67),
            Home => e(0x6c, 0x6e),
            PageUp => e(0x7d, 0x6f),
            Delete => e(0x71, 0x64),
            End => e(0x69, 0x65),
            PageDown => e(0x7a, 0x6d),
            ArrowUp => e(0x75, 0x63),
            ArrowLeft => e(0x6b, 0x61),
            ArrowDown => e(0x72, 0x60),
            ArrowRight => e(0x74, 0x6a),
            NumLock => c(0x77, 0x76),
            NumpadDivide => e(0x4a, 0x77),
            NumpadMultiply => c(0x7c, 0x7e),
            NumpadSubtract => c(0x7b, 0x84),
            Numpad7 => c(0x6c, 0x6c),
            Numpad8 => c(0x75, 0x75),
            Numpad9 => c(0x7d, 0x7d),
            NumpadAdd => c(0x79, 0x7c),
            Numpad4 => c(0x6b, 0x6b),
            Numpad5 => c(0x73, 0x73),
            Numpad6 => c(0x74, 0x74),
            Numpad1 => c(0x69, 0x69),
            Numpad2 => c(0x72, 0x72),
            Numpad3 => c(0x7a, 0x7a),
            NumpadEnter => e(0x5a, 0x79),
            Numpad0 => c(0x70, 0x70),
            NumpadDecimal => c(0x71, 0x71),
            Power => e(0x37, 0),
            Sleep => e(0x3f, 0),
            Wake => e(0x5e, 0),
        }
    }
}

/// The 8042's set-2 → set-1 translation table for codes 0x00–0x7F (IBM
/// PS/2 technical reference, "scan code translation"). Codes 0x80 and up
/// pass through, except 0x83 (F7) and 0x84 (SysRq); `F0` is not in the
/// table: it makes the next code a break (bit 7 set).
#[rustfmt::skip]
const XLATE: [u8; 128] = [
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
];

/// The 8042's set-2 → set-1 translator: stateful because `F0` modifies the
/// byte after it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Translator {
    break_pending: bool,
}

impl Translator {
    /// Feed one byte from the keyboard; returns what the host sees, or
    /// `None` for a swallowed `F0` prefix.
    pub fn feed(&mut self, b: u8) -> Option<u8> {
        if b == 0xf0 {
            self.break_pending = true;
            return None;
        }
        let t = match b {
            0x00..=0x7f => XLATE[usize::from(b)],
            0x83 => 0x41,
            0x84 => 0x54,
            _ => b,
        };
        let t = if std::mem::take(&mut self.break_pending) {
            t | 0x80
        } else {
            t
        };
        Some(t)
    }

    /// Forget a pending `F0` (translation switched on or off).
    pub fn reset(&mut self) {
        self.break_pending = false;
    }
}

/// Modifier state the keyboard itself tracks: PrintScreen and Pause send
/// different codes while Alt, Ctrl or Shift is held.
#[derive(Clone, Copy, Debug, Default)]
struct Modifiers {
    alt: u8,
    ctrl: u8,
    shift: u8,
}

impl Modifiers {
    fn update(&mut self, key: Key, down: bool) {
        let slot = match key {
            Key::AltLeft => (&mut self.alt, 1),
            Key::AltRight => (&mut self.alt, 2),
            Key::ControlLeft => (&mut self.ctrl, 1),
            Key::ControlRight => (&mut self.ctrl, 2),
            Key::ShiftLeft => (&mut self.shift, 1),
            Key::ShiftRight => (&mut self.shift, 2),
            _ => return,
        };
        if down {
            *slot.0 |= slot.1;
        } else {
            *slot.0 &= !slot.1;
        }
    }
}

/// The set-2 bytes for a press (`down`) or release of `key`.
fn set2_sequence(key: Key, down: bool, m: Modifiers) -> Vec<u8> {
    match key {
        Key::PrintScreen if m.alt != 0 => {
            // Alt+PrintScreen is the SysRq key: one plain code.
            if down {
                vec![0x84]
            } else {
                vec![0xf0, 0x84]
            }
        }
        Key::PrintScreen if m.ctrl != 0 || m.shift != 0 => {
            if down {
                vec![0xe0, 0x7c]
            } else {
                vec![0xe0, 0xf0, 0x7c]
            }
        }
        Key::PrintScreen => {
            if down {
                vec![0xe0, 0x12, 0xe0, 0x7c]
            } else {
                vec![0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12]
            }
        }
        // Pause has no break code; Ctrl+Pause is Break, which has one.
        Key::Pause if m.ctrl != 0 => {
            if down {
                vec![0xe0, 0x7e, 0xe0, 0xf0, 0x7e]
            } else {
                vec![]
            }
        }
        Key::Pause => {
            if down {
                vec![0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77]
            } else {
                vec![]
            }
        }
        _ => {
            let k = key.codes();
            let mut v = Vec::with_capacity(3);
            if k.ext {
                v.push(0xe0);
            }
            if !down {
                v.push(0xf0);
            }
            v.push(k.set2);
            v
        }
    }
}

/// The bytes a keyboard in scancode `set` (1, 2 or 3) sends for `key`.
pub fn make_codes(key: Key, down: bool, set: u8) -> Vec<u8> {
    make_codes_with(key, down, set, Modifiers::default())
}

fn make_codes_with(key: Key, down: bool, set: u8, m: Modifiers) -> Vec<u8> {
    match set {
        1 => {
            let mut t = Translator::default();
            set2_sequence(key, down, m)
                .into_iter()
                .filter_map(|b| t.feed(b))
                .collect()
        }
        3 => match key.codes().set3 {
            0 => Vec::new(),
            k if down => vec![k],
            k => vec![0xf0, k],
        },
        _ => set2_sequence(key, down, m),
    }
}

/// The key type the set-all command `c` (`F7`–`FA`) gives every key.
fn all_type(c: u8) -> u8 {
    match c {
        cmd::ALL_TYPEMATIC => key_type::TYPEMATIC,
        cmd::ALL_MAKE_BREAK => key_type::MAKE_BREAK,
        cmd::ALL_MAKE => key_type::MAKE,
        _ => key_type::ALL,
    }
}

/// The key type the per-key command `c` (`FB`–`FD`) gives its keys.
fn key_list_type(c: u8) -> u8 {
    match c {
        cmd::KEY_TYPEMATIC => key_type::TYPEMATIC,
        cmd::KEY_MAKE_BREAK => key_type::MAKE_BREAK,
        _ => key_type::MAKE,
    }
}

/// A command waiting for its argument byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    Leds,
    Typematic,
    ScancodeSet,
    /// `FB`/`FC`/`FD`: a list of set-3 keys to give this type, ended by
    /// the next command.
    KeyList(u8),
}

/// The key that repeats and when it next does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Repeat {
    key: Key,
    due: Nanos,
}

/// Set-3 key types after power-on, `F5` and `F6`: every key typematic
/// make/break, except Pause, which keyboards do not repeat.
fn default_key_types() -> [u8; 256] {
    let mut t = [key_type::ALL; 256];
    t[usize::from(Key::Pause.codes().set3)] = key_type::MAKE_BREAK;
    t
}

/// The keyboard.
#[derive(Debug)]
pub struct Ps2Keyboard {
    clock: Clock,
    queue: VecDeque<u8>,
    set: u8,
    scanning: bool,
    pending: Option<Pending>,
    leds: u8,
    typematic: u8,
    /// The last byte sent, for `FE` (resend).
    last: u8,
    mods: Modifiers,
    /// Set when a key sequence was dropped because the queue was full.
    overrun: bool,
    /// The last key pressed, while it is held and repeats.
    repeat: Option<Repeat>,
    /// Set-3 type of each set-3 key code ([`key_type`] bits).
    key_types: [u8; 256],
}

impl Ps2Keyboard {
    /// A keyboard after power-on (set 2, scanning, nothing queued), timing
    /// its typematic repeat on `clock`.
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            queue: VecDeque::new(),
            set: 2,
            scanning: true,
            pending: None,
            leds: 0,
            typematic: DEFAULT_TYPEMATIC,
            last: 0,
            mods: Modifiers::default(),
            overrun: false,
            repeat: None,
            key_types: default_key_types(),
        }
    }

    /// Power-on reset (no BAT code is queued; the board resets quietly).
    pub fn reset(&mut self) {
        *self = Self::new(self.clock.clone());
    }

    /// The typematic byte last set by `F3` (bits 4:0 rate, 6:5 delay).
    pub fn typematic(&self) -> u8 {
        self.typematic
    }

    /// The key repeating now, if any.
    pub fn repeating(&self) -> Option<Key> {
        self.repeat.map(|r| r.key)
    }

    /// The current scancode set (1, 2 or 3).
    pub fn scancode_set(&self) -> u8 {
        self.set
    }

    /// The LED state last set by the guest (bit 0 Scroll, 1 Num, 2 Caps).
    pub fn leds(&self) -> u8 {
        self.leds
    }

    /// Whether the guest has scanning enabled.
    pub fn scanning(&self) -> bool {
        self.scanning
    }

    /// Whether a byte is waiting to go to the controller.
    pub fn has_data(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Take the next byte for the controller.
    pub fn pop(&mut self) -> Option<u8> {
        self.queue.pop_front()
    }

    fn send(&mut self, b: u8) {
        if self.queue.len() < QUEUE_CAP {
            self.queue.push_back(b);
            self.last = b;
        }
    }

    fn defaults(&mut self) {
        self.typematic = DEFAULT_TYPEMATIC;
        self.leds = 0;
        self.pending = None;
        self.key_types = default_key_types();
        self.repeat = None;
    }

    /// The set-3 type of `key` (0 for keys without a set-3 code).
    fn key_type(&self, key: Key) -> u8 {
        match key.codes().set3 {
            0 => key_type::MAKE,
            c => self.key_types[usize::from(c)],
        }
    }

    /// Whether `key` repeats while held, in the current set.
    fn repeats(&self, key: Key) -> bool {
        match self.set {
            3 => self.key_type(key) & key_type::TYPEMATIC != 0,
            _ => key != Key::Pause,
        }
    }

    /// A key went down on the host.
    pub fn press(&mut self, key: Key) {
        self.key_event(key, true);
    }

    /// A key came up on the host.
    pub fn release(&mut self, key: Key) {
        self.key_event(key, false);
    }

    fn key_event(&mut self, key: Key, down: bool) {
        // Modifier state is tracked even while scanning is off, as the
        // keyboard's own matrix would.
        let mods = self.mods;
        self.mods.update(key, down);
        // Only the last key pressed repeats; releasing it ends the repeat
        // even if other keys are still down.
        if !down && self.repeat.is_some_and(|r| r.key == key) {
            self.repeat = None;
        }
        if !self.scanning {
            return;
        }
        if down {
            self.repeat = self.repeats(key).then(|| Repeat {
                key,
                due: self.clock.now() + typematic_delay(self.typematic),
            });
        }
        if self.set == 3 && !down && self.key_type(key) & key_type::BREAK == 0 {
            return;
        }
        let bytes = make_codes_with(key, down, self.set, mods);
        if bytes.is_empty() {
            return;
        }
        if self.queue.len() + bytes.len() > QUEUE_CAP {
            // Buffer overrun: real keyboards send an overrun code (00 in
            // sets 2 and 3, FF in set 1) in place of the lost keys.
            if !self.overrun && self.queue.len() < QUEUE_CAP {
                self.queue.push_back(if self.set == 1 { 0xff } else { 0x00 });
            }
            self.overrun = true;
            return;
        }
        self.overrun = false;
        self.queue.extend(bytes.iter().copied());
        self.last = *bytes.last().unwrap_or(&0);
    }

    /// A byte from the host (the guest, through the controller).
    pub fn write(&mut self, b: u8) {
        if let Some(p) = self.pending {
            // A byte with bit 7 set where an argument is expected is a new
            // command (set-3 key lists end at the next command byte).
            let is_cmd = if matches!(p, Pending::KeyList(_)) {
                b >= cmd::SET_LEDS
            } else {
                b & 0x80 != 0
            };
            if !is_cmd {
                self.argument(p, b);
                return;
            }
            self.pending = None;
        }
        self.command(b);
    }

    fn argument(&mut self, p: Pending, b: u8) {
        match p {
            Pending::Leds => {
                self.leds = b & 7;
                self.pending = None;
                self.send(ACK);
            }
            Pending::Typematic => {
                self.typematic = b & 0x7f;
                self.pending = None;
                self.send(ACK);
            }
            Pending::ScancodeSet => {
                self.pending = None;
                match b {
                    0 => {
                        self.send(ACK);
                        let s = self.set;
                        self.send(s);
                    }
                    1..=3 => {
                        self.set = b;
                        self.send(ACK);
                    }
                    _ => self.send(RESEND),
                }
            }
            Pending::KeyList(t) => {
                self.key_types[usize::from(b)] = t;
                self.send(ACK);
            }
        }
    }

    fn command(&mut self, b: u8) {
        match b {
            cmd::SET_LEDS => {
                self.pending = Some(Pending::Leds);
                self.send(ACK);
            }
            cmd::ECHO => self.send(ECHO),
            cmd::SCANCODE_SET => {
                self.pending = Some(Pending::ScancodeSet);
                self.send(ACK);
            }
            cmd::IDENTIFY => {
                self.send(ACK);
                self.send(ID[0]);
                self.send(ID[1]);
            }
            cmd::TYPEMATIC => {
                self.pending = Some(Pending::Typematic);
                self.send(ACK);
            }
            cmd::ENABLE => {
                // Enable also forgets the last typematic key.
                self.queue.clear();
                self.repeat = None;
                self.scanning = true;
                self.send(ACK);
            }
            cmd::DEFAULT_DISABLE => {
                self.queue.clear();
                self.defaults();
                self.scanning = false;
                self.send(ACK);
            }
            cmd::SET_DEFAULT => {
                self.queue.clear();
                self.defaults();
                self.scanning = true;
                self.send(ACK);
            }
            cmd::ALL_TYPEMATIC | cmd::ALL_MAKE_BREAK | cmd::ALL_MAKE | cmd::ALL_TYPEMATIC_MAKE_BREAK => {
                // The types apply in set 3 only, but may be set in any set.
                self.key_types = [all_type(b); 256];
                self.send(ACK);
            }
            cmd::KEY_TYPEMATIC | cmd::KEY_MAKE_BREAK | cmd::KEY_MAKE => {
                self.pending = Some(Pending::KeyList(key_list_type(b)));
                self.send(ACK);
            }
            cmd::RESEND => {
                let l = self.last;
                self.send(l);
            }
            cmd::RESET => {
                self.queue.clear();
                self.defaults();
                self.set = 2;
                self.scanning = true;
                self.send(ACK);
                self.send(BAT_OK);
            }
            _ => self.send(RESEND),
        }
    }
}

impl Timed for Ps2Keyboard {
    fn next_deadline(&self) -> Option<Nanos> {
        self.repeat.map(|r| r.due)
    }

    /// Send the held key's make code again if its repeat is due.
    fn advance(&mut self, now: Nanos) {
        let Some(r) = self.repeat else { return };
        if now < r.due {
            return;
        }
        if !self.repeats(r.key) {
            // The set or the key's set-3 type changed while it was held.
            self.repeat = None;
            return;
        }
        let bytes = make_codes_with(r.key, true, self.set, self.mods);
        if self.queue.len() + bytes.len() <= REPEAT_ROOM {
            self.queue.extend(bytes.iter().copied());
            self.last = bytes.last().copied().unwrap_or(self.last);
        }
        // A board that looks late (a busy host) gets one repeat, not a
        // burst of the ones it missed.
        let period = typematic_period(self.typematic);
        let due = if r.due + period > now {
            r.due + period
        } else {
            now + period
        };
        self.repeat = Some(Repeat { due, ..r });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(k: &mut Ps2Keyboard) -> Vec<u8> {
        std::iter::from_fn(|| k.pop()).collect()
    }

    #[test]
    fn set2_and_set1_codes() {
        assert_eq!(make_codes(Key::A, true, 2), [0x1c]);
        assert_eq!(make_codes(Key::A, false, 2), [0xf0, 0x1c]);
        assert_eq!(make_codes(Key::A, true, 1), [0x1e]);
        assert_eq!(make_codes(Key::A, false, 1), [0x9e]);
        assert_eq!(make_codes(Key::ArrowUp, true, 2), [0xe0, 0x75]);
        assert_eq!(make_codes(Key::ArrowUp, false, 2), [0xe0, 0xf0, 0x75]);
        assert_eq!(make_codes(Key::ArrowUp, false, 1), [0xe0, 0xc8]);
        assert_eq!(make_codes(Key::F7, true, 1), [0x41]);
        assert_eq!(make_codes(Key::Escape, true, 1), [0x01]);
        assert_eq!(make_codes(Key::Enter, true, 1), [0x1c]);
        assert_eq!(make_codes(Key::NumpadEnter, true, 1), [0xe0, 0x1c]);
        assert_eq!(make_codes(Key::MetaLeft, true, 1), [0xe0, 0x5b]);
        assert_eq!(make_codes(Key::Space, true, 3), [0x29]);
        assert_eq!(make_codes(Key::ControlRight, false, 3), [0xf0, 0x58]);
    }

    #[test]
    fn print_screen_and_pause() {
        assert_eq!(make_codes(Key::PrintScreen, true, 2), [0xe0, 0x12, 0xe0, 0x7c]);
        assert_eq!(
            make_codes(Key::PrintScreen, false, 2),
            [0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12]
        );
        assert_eq!(make_codes(Key::PrintScreen, true, 1), [0xe0, 0x2a, 0xe0, 0x37]);
        assert_eq!(make_codes(Key::PrintScreen, false, 1), [0xe0, 0xb7, 0xe0, 0xaa]);
        assert_eq!(
            make_codes(Key::Pause, true, 2),
            [0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77]
        );
        assert_eq!(
            make_codes(Key::Pause, true, 1),
            [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5]
        );
        assert!(make_codes(Key::Pause, false, 2).is_empty());

        let mut k = Ps2Keyboard::new(Clock::manual());
        k.press(Key::AltLeft);
        k.press(Key::PrintScreen);
        k.release(Key::PrintScreen);
        k.release(Key::AltLeft);
        k.press(Key::ControlLeft);
        k.press(Key::Pause);
        assert_eq!(
            drain(&mut k),
            [0x11, 0x84, 0xf0, 0x84, 0xf0, 0x11, 0x14, 0xe0, 0x7e, 0xe0, 0xf0, 0x7e]
        );
    }

    #[test]
    fn commands() {
        let mut k = Ps2Keyboard::new(Clock::manual());
        k.write(0xff);
        assert_eq!(drain(&mut k), [ACK, BAT_OK]);
        k.write(0xf2);
        assert_eq!(drain(&mut k), [ACK, 0xab, 0x83]);
        k.write(0xee);
        assert_eq!(drain(&mut k), [ECHO]);
        k.write(0xf0);
        k.write(3);
        k.write(0xf0);
        k.write(0);
        assert_eq!(drain(&mut k), [ACK, ACK, ACK, ACK, 3]);
        k.write(0xed);
        k.write(0x02);
        assert_eq!(drain(&mut k), [ACK, ACK]);
        assert_eq!(k.leds(), 2);
        // ED followed by a command: the LED byte never came.
        k.write(0xed);
        assert_eq!(drain(&mut k), [ACK]);
        k.write(0xf4);
        assert_eq!(drain(&mut k), [ACK]);
        assert_eq!(k.leds(), 2);
        k.write(0xfe);
        assert_eq!(drain(&mut k), [ACK]);
        k.write(0x42);
        assert_eq!(drain(&mut k), [RESEND]);
        k.write(0xf5);
        assert_eq!(drain(&mut k), [ACK]);
        k.press(Key::A);
        assert!(!k.has_data(), "scanning disabled");
        k.write(0xf4);
        k.press(Key::A);
        assert_eq!(drain(&mut k), [ACK, 0x1c], "set 3 make code of A");
    }

    const MS: Nanos = 1_000_000;
    /// The default period: 22/240 s (10.9 characters/s).
    const DEFAULT_PERIOD: Nanos = 91_666_666;

    fn keyboard() -> (Ps2Keyboard, Clock) {
        let clock = Clock::manual();
        (Ps2Keyboard::new(clock.clone()), clock)
    }

    /// Run the keyboard as the board does (advance at each deadline) until
    /// `end`; the times of the repeats and what each sent.
    fn run_until(k: &mut Ps2Keyboard, clock: &Clock, end: Nanos) -> Vec<(Nanos, Vec<u8>)> {
        let mut got = Vec::new();
        while let Some(d) = k.next_deadline().filter(|&d| d <= end) {
            clock.set(d);
            k.advance(d);
            let bytes = drain(k);
            if !bytes.is_empty() {
                got.push((d, bytes));
            }
        }
        clock.set(end);
        got
    }

    /// The times at which repeats arrive, from the press at `start`.
    fn expected(start: Nanos, delay: Nanos, period: Nanos, n: u64) -> Vec<Nanos> {
        (0..n).map(|i| start + delay + i * period).collect()
    }

    fn times(got: &[(Nanos, Vec<u8>)]) -> Vec<Nanos> {
        got.iter().map(|g| g.0).collect()
    }

    #[test]
    fn typematic_table() {
        assert_eq!(typematic_delay(DEFAULT_TYPEMATIC), 500 * MS);
        assert_eq!(typematic_period(DEFAULT_TYPEMATIC), DEFAULT_PERIOD);
        assert_eq!(typematic_delay(0x00), 250 * MS);
        assert_eq!(typematic_delay(0x60), 1000 * MS);
        // 30.0 and 2.0 characters/s at the ends of the table.
        assert_eq!(typematic_period(0x00), 33_333_333);
        assert_eq!(typematic_period(0x1f), 500 * MS);
    }

    #[test]
    fn held_key_repeats_after_the_delay_at_the_rate() {
        let (mut k, clock) = keyboard();
        clock.set(1000 * MS);
        k.press(Key::A);
        assert_eq!(drain(&mut k), [0x1c]);
        assert_eq!(k.next_deadline(), Some(1500 * MS));
        k.advance(1499 * MS);
        assert!(!k.has_data(), "nothing before the delay");
        let got = run_until(&mut k, &clock, 2000 * MS);
        assert_eq!(times(&got), expected(1000 * MS, 500 * MS, DEFAULT_PERIOD, 6));
        assert!(
            got.iter().all(|g| g.1 == [0x1c]),
            "repeats are make codes: {got:x?}"
        );
        k.release(Key::A);
        assert_eq!(drain(&mut k), [0xf0, 0x1c], "one break");
        assert_eq!(k.next_deadline(), None);
        assert!(run_until(&mut k, &clock, 5000 * MS).is_empty());
    }

    #[test]
    fn f3_sets_delay_and_rate() {
        let (mut k, clock) = keyboard();
        k.write(cmd::TYPEMATIC);
        k.write(0x00); // 250 ms, 30 characters/s
        assert_eq!(drain(&mut k), [ACK, ACK]);
        assert_eq!(k.typematic(), 0x00);
        k.press(Key::Space);
        drain(&mut k);
        let got = run_until(&mut k, &clock, 400 * MS);
        assert_eq!(times(&got), expected(0, 250 * MS, 33_333_333, 5));
        k.release(Key::Space);

        k.write(cmd::TYPEMATIC);
        k.write(0x7f); // 1 s, 2 characters/s
        drain(&mut k);
        k.press(Key::Space);
        drain(&mut k);
        let got = run_until(&mut k, &clock, 2500 * MS);
        assert_eq!(times(&got), expected(400 * MS, 1000 * MS, 500 * MS, 3));

        // F6 and FF restore the defaults.
        k.write(cmd::SET_DEFAULT);
        assert_eq!(k.typematic(), DEFAULT_TYPEMATIC);
        k.write(cmd::TYPEMATIC);
        k.write(0x00);
        k.write(cmd::RESET);
        assert_eq!(k.typematic(), DEFAULT_TYPEMATIC);
    }

    #[test]
    fn only_the_last_key_pressed_repeats() {
        let (mut k, clock) = keyboard();
        k.press(Key::A);
        clock.set(300 * MS);
        k.press(Key::B);
        assert_eq!(drain(&mut k), [0x1c, 0x32]);
        assert_eq!(k.repeating(), Some(Key::B));
        // B's delay counts from its own press.
        let got = run_until(&mut k, &clock, 900 * MS);
        assert_eq!(times(&got), expected(300 * MS, 500 * MS, DEFAULT_PERIOD, 2));
        assert!(got.iter().all(|g| g.1 == [0x32]));
        // Releasing A (not the repeating key) changes nothing.
        k.release(Key::A);
        assert_eq!(drain(&mut k), [0xf0, 0x1c]);
        assert_eq!(k.repeating(), Some(Key::B));
        // A pressed again while B is held takes the repeat over; B's
        // release then changes nothing.
        k.press(Key::A);
        assert_eq!(k.repeating(), Some(Key::A));
        k.release(Key::B);
        assert_eq!(k.repeating(), Some(Key::A), "B was not the last key");
        // B pressed and released while A is held: A is still down, but
        // the repeat stopped with B and does not go back to A.
        k.press(Key::B);
        k.release(Key::B);
        assert_eq!(k.repeating(), None, "A is held, but B was pressed after it");
        drain(&mut k);
        assert!(run_until(&mut k, &clock, 3000 * MS).is_empty());
    }

    #[test]
    fn extended_keys_repeat_with_their_prefix_and_pause_does_not() {
        let (mut k, clock) = keyboard();
        k.press(Key::ArrowUp);
        assert_eq!(drain(&mut k), [0xe0, 0x75]);
        let got = run_until(&mut k, &clock, 550 * MS);
        assert_eq!(got, [(500 * MS, vec![0xe0, 0x75])]);
        k.release(Key::ArrowUp);
        k.press(Key::Pause);
        assert_eq!(k.repeating(), None);
        k.press(Key::ControlLeft);
        k.press(Key::Pause); // Break
        assert_eq!(k.repeating(), None);
        k.write(cmd::SCANCODE_SET);
        k.write(1);
        k.release(Key::ControlLeft);
        k.press(Key::NumpadEnter);
        drain(&mut k);
        let got = run_until(&mut k, &clock, 1100 * MS);
        assert_eq!(got, [(1050 * MS, vec![0xe0, 0x1c])], "set 1");
    }

    #[test]
    fn disabled_scanning_stops_repeats() {
        let (mut k, clock) = keyboard();
        k.press(Key::A);
        k.write(cmd::DEFAULT_DISABLE);
        assert_eq!(drain(&mut k), [ACK]);
        assert_eq!(k.next_deadline(), None);
        assert!(run_until(&mut k, &clock, 2000 * MS).is_empty());
        // Enable does not bring back the old key; a new press repeats.
        k.write(cmd::ENABLE);
        assert_eq!(k.repeating(), None);
        k.press(Key::A);
        assert_eq!(k.repeating(), Some(Key::A));
        // Enable while the key is held also forgets it.
        k.write(cmd::ENABLE);
        assert_eq!(k.repeating(), None);
    }

    #[test]
    fn set3_key_types() {
        let (mut k, clock) = keyboard();
        k.write(cmd::SCANCODE_SET);
        k.write(3);
        drain(&mut k);
        // Default here: typematic make/break.
        k.press(Key::A);
        assert_eq!(drain(&mut k), [0x1c]);
        let got = run_until(&mut k, &clock, 550 * MS);
        assert_eq!(got, [(500 * MS, vec![0x1c])]);
        k.release(Key::A);
        assert_eq!(drain(&mut k), [0xf0, 0x1c]);

        // F8: all make/break, no repeat.
        k.write(cmd::ALL_MAKE_BREAK);
        k.press(Key::A);
        assert_eq!(k.repeating(), None);
        assert!(run_until(&mut k, &clock, 2000 * MS).is_empty());
        k.release(Key::A);
        assert_eq!(drain(&mut k), [ACK, 0x1c, 0xf0, 0x1c]);

        // F9: all make only.
        k.write(cmd::ALL_MAKE);
        k.press(Key::A);
        k.release(Key::A);
        assert_eq!(drain(&mut k), [ACK, 0x1c]);
        assert_eq!(k.repeating(), None);

        // F7: all typematic (make and repeats, no break).
        k.write(cmd::ALL_TYPEMATIC);
        k.press(Key::A);
        assert_eq!(drain(&mut k), [ACK, 0x1c]);
        let got = run_until(&mut k, &clock, 2550 * MS);
        assert_eq!(times(&got), [2500 * MS]);
        k.release(Key::A);
        assert!(!k.has_data());

        // FA: all typematic make/break; FC makes one key make/break.
        k.write(cmd::ALL_TYPEMATIC_MAKE_BREAK);
        k.write(cmd::KEY_MAKE_BREAK);
        k.write(0x1c); // A
        assert_eq!(drain(&mut k), [ACK, ACK, ACK]);
        k.write(cmd::ENABLE); // ends the list
        assert_eq!(drain(&mut k), [ACK]);
        k.press(Key::A);
        assert_eq!(k.repeating(), None);
        k.press(Key::B);
        assert_eq!(k.repeating(), Some(Key::B));

        // A key type change while the key is held stops its repeat.
        k.write(cmd::ALL_MAKE_BREAK);
        assert_eq!(drain(&mut k), [0x1c, 0x32, ACK]);
        assert!(run_until(&mut k, &clock, 5000 * MS).is_empty());
        assert_eq!(k.repeating(), None);

        // The set-3 types do not apply in set 2.
        k.write(cmd::SCANCODE_SET);
        k.write(2);
        k.press(Key::C);
        assert_eq!(k.repeating(), Some(Key::C));
    }

    #[test]
    fn repeats_do_not_pile_up_when_the_guest_does_not_read() {
        let (mut k, clock) = keyboard();
        k.press(Key::ArrowLeft);
        // Ten seconds of repeats, nobody reading.
        while let Some(d) = k.next_deadline().filter(|&d| d <= 10_000 * MS) {
            clock.set(d);
            k.advance(d);
        }
        let got = drain(&mut k);
        assert_eq!(got.len(), REPEAT_ROOM, "{got:x?}");
        assert!(got.chunks(2).all(|c| c == [0xe0, 0x6b]));
        // A key event still gets through (host events may use more room).
        k.press(Key::A);
        assert_eq!(drain(&mut k), [0x1c]);
    }

    #[test]
    fn a_late_board_gets_one_repeat_not_a_burst() {
        let (mut k, clock) = keyboard();
        k.press(Key::A);
        drain(&mut k);
        clock.set(3000 * MS);
        k.advance(3000 * MS);
        assert_eq!(drain(&mut k), [0x1c]);
        assert_eq!(k.next_deadline(), Some(3000 * MS + DEFAULT_PERIOD));
    }
}

impl Key {
    /// The key (and whether Shift is held) that types ASCII `c` on a US
    /// layout: for `--keys` and terminal input. `\n` and `\r` are Enter,
    /// `\t` Tab, `\x08`/`\x7f` Backspace, `\x1b` Escape.
    pub fn from_ascii(c: u8) -> Option<(Key, bool)> {
        const LETTERS: [Key; 26] = [
            Key::A,
            Key::B,
            Key::C,
            Key::D,
            Key::E,
            Key::F,
            Key::G,
            Key::H,
            Key::I,
            Key::J,
            Key::K,
            Key::L,
            Key::M,
            Key::N,
            Key::O,
            Key::P,
            Key::Q,
            Key::R,
            Key::S,
            Key::T,
            Key::U,
            Key::V,
            Key::W,
            Key::X,
            Key::Y,
            Key::Z,
        ];
        const DIGITS: [Key; 10] = [
            Key::Digit0,
            Key::Digit1,
            Key::Digit2,
            Key::Digit3,
            Key::Digit4,
            Key::Digit5,
            Key::Digit6,
            Key::Digit7,
            Key::Digit8,
            Key::Digit9,
        ];
        Some(match c {
            b'a'..=b'z' => (LETTERS[usize::from(c - b'a')], false),
            b'A'..=b'Z' => (LETTERS[usize::from(c - b'A')], true),
            b'0'..=b'9' => (DIGITS[usize::from(c - b'0')], false),
            b')' => (Key::Digit0, true),
            b'!' => (Key::Digit1, true),
            b'@' => (Key::Digit2, true),
            b'#' => (Key::Digit3, true),
            b'$' => (Key::Digit4, true),
            b'%' => (Key::Digit5, true),
            b'^' => (Key::Digit6, true),
            b'&' => (Key::Digit7, true),
            b'*' => (Key::Digit8, true),
            b'(' => (Key::Digit9, true),
            b' ' => (Key::Space, false),
            b'\n' | b'\r' => (Key::Enter, false),
            b'\t' => (Key::Tab, false),
            0x08 | 0x7f => (Key::Backspace, false),
            0x1b => (Key::Escape, false),
            b'-' => (Key::Minus, false),
            b'_' => (Key::Minus, true),
            b'=' => (Key::Equal, false),
            b'+' => (Key::Equal, true),
            b'[' => (Key::BracketLeft, false),
            b'{' => (Key::BracketLeft, true),
            b']' => (Key::BracketRight, false),
            b'}' => (Key::BracketRight, true),
            b'\\' => (Key::Backslash, false),
            b'|' => (Key::Backslash, true),
            b';' => (Key::Semicolon, false),
            b':' => (Key::Semicolon, true),
            b'\'' => (Key::Quote, false),
            b'"' => (Key::Quote, true),
            b'`' => (Key::Backquote, false),
            b'~' => (Key::Backquote, true),
            b',' => (Key::Comma, false),
            b'<' => (Key::Comma, true),
            b'.' => (Key::Period, false),
            b'>' => (Key::Period, true),
            b'/' => (Key::Slash, false),
            b'?' => (Key::Slash, true),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod ascii_tests {
    use super::Key;

    #[test]
    fn ascii_maps_to_us_layout_keys() {
        assert_eq!(Key::from_ascii(b'a'), Some((Key::A, false)));
        assert_eq!(Key::from_ascii(b'Q'), Some((Key::Q, true)));
        assert_eq!(Key::from_ascii(b'!'), Some((Key::Digit1, true)));
        assert_eq!(Key::from_ascii(b'\n'), Some((Key::Enter, false)));
        assert_eq!(Key::from_ascii(b'?'), Some((Key::Slash, true)));
        assert_eq!(Key::from_ascii(0x80), None);
        for c in 0x20u8..0x7f {
            assert!(Key::from_ascii(c).is_some(), "printable {c:#x} has a key");
        }
    }
}
