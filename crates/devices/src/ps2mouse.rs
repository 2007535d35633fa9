//! A PS/2 mouse on the 8042's auxiliary port, with the Microsoft
//! IntelliMouse wheel extension and the IntelliMouse Explorer 5-button one.
//!
//! Implemented (IBM PS/2 technical reference, auxiliary device commands):
//! reset `FF` (→ `FA AA 00`), resend `FE`, set defaults `F6`, disable `F5`
//! and enable `F4` streaming, sample rate `F3 xx`, identify `F2`, remote
//! mode `F0`, wrap (echo) mode `EE`/`EC`, read data `EB`, stream mode `EA`,
//! status request `E9` (three status bytes), resolution `E8 xx`, scaling
//! 2:1 `E7` and 1:1 `E6`. Identify answers 00; after the sample-rate knock
//! 200, 100, 80 it answers 03 (IntelliMouse: 4-byte packets with a wheel
//! byte), and after 200, 200, 80 from there 04 (Explorer: wheel in the low
//! nibble of byte 4, buttons 4 and 5 in bits 4 and 5). Motion accumulates
//! between packets; large moves are split over several packets.
//!
//! Not implemented: sample-rate timing (a packet goes out per host event,
//! not per sample period) and resolution scaling of host motion (host
//! deltas are sent as counts unchanged).

use std::collections::VecDeque;

/// Acknowledge.
pub const ACK: u8 = 0xfa;
/// Resend / unknown command.
pub const RESEND: u8 = 0xfe;
/// Self-test passed (after reset).
pub const BAT_OK: u8 = 0xaa;

mod cmd {
    pub const SCALING_1_1: u8 = 0xe6;
    pub const SCALING_2_1: u8 = 0xe7;
    pub const SET_RESOLUTION: u8 = 0xe8;
    pub const STATUS: u8 = 0xe9;
    pub const STREAM_MODE: u8 = 0xea;
    pub const READ_DATA: u8 = 0xeb;
    pub const RESET_WRAP: u8 = 0xec;
    pub const WRAP_MODE: u8 = 0xee;
    pub const REMOTE_MODE: u8 = 0xf0;
    pub const IDENTIFY: u8 = 0xf2;
    pub const SAMPLE_RATE: u8 = 0xf3;
    pub const ENABLE: u8 = 0xf4;
    pub const DISABLE: u8 = 0xf5;
    pub const SET_DEFAULT: u8 = 0xf6;
    pub const RESEND: u8 = 0xfe;
    pub const RESET: u8 = 0xff;
}

/// Device IDs reported by `F2`.
const ID_PS2: u8 = 0x00;
const ID_INTELLIMOUSE: u8 = 0x03;
const ID_EXPLORER: u8 = 0x04;

/// Host button bits for [`Ps2Mouse::motion`].
pub mod buttons {
    /// Left button.
    pub const LEFT: u8 = 1 << 0;
    /// Right button.
    pub const RIGHT: u8 = 1 << 1;
    /// Middle button.
    pub const MIDDLE: u8 = 1 << 2;
    /// Fourth (side/back) button; reported only in Explorer mode.
    pub const BUTTON4: u8 = 1 << 3;
    /// Fifth (side/forward) button; reported only in Explorer mode.
    pub const BUTTON5: u8 = 1 << 4;
}

const QUEUE_CAP: usize = 256;
const DEFAULT_RATE: u8 = 100;
const DEFAULT_RESOLUTION: u8 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    SampleRate,
    Resolution,
}

/// The mouse.
#[derive(Debug)]
pub struct Ps2Mouse {
    queue: VecDeque<u8>,
    id: u8,
    streaming: bool,
    remote: bool,
    wrap: bool,
    scaling21: bool,
    rate: u8,
    resolution: u8,
    /// The last three sample rates set (oldest first), for the ID knock.
    rates: [u8; 3],
    pending: Option<Pending>,
    buttons: u8,
    /// Motion not yet reported; PS/2 y grows upwards.
    dx: i32,
    dy: i32,
    dz: i32,
    last: u8,
}

impl Default for Ps2Mouse {
    fn default() -> Self {
        Self::new()
    }
}

/// PS/2 2:1 scaling (IBM technical reference table): small moves are
/// damped, large ones doubled.
fn scale21(d: i32) -> i32 {
    let s = d.signum();
    match d.abs() {
        0 => 0,
        1 | 2 => s,
        3 => 3 * s,
        4 => 6 * s,
        5 => 9 * s,
        a => 2 * a * s,
    }
}

impl Ps2Mouse {
    /// A mouse after power-on: stream mode, reporting disabled, ID 00.
    pub fn new() -> Self {
        Self {
            queue: VecDeque::new(),
            id: ID_PS2,
            streaming: false,
            remote: false,
            wrap: false,
            scaling21: false,
            rate: DEFAULT_RATE,
            resolution: DEFAULT_RESOLUTION,
            rates: [0; 3],
            pending: None,
            buttons: 0,
            dx: 0,
            dy: 0,
            dz: 0,
            last: 0,
        }
    }

    /// Power-on reset (nothing queued).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// The device ID the guest would read (0, 3 or 4).
    pub fn id(&self) -> u8 {
        self.id
    }

    /// Whether stream reporting is enabled.
    pub fn streaming(&self) -> bool {
        self.streaming
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

    fn packet_len(&self) -> usize {
        if self.id == ID_PS2 {
            3
        } else {
            4
        }
    }

    fn defaults(&mut self) {
        self.rate = DEFAULT_RATE;
        self.resolution = DEFAULT_RESOLUTION;
        self.scaling21 = false;
        self.streaming = false;
        self.remote = false;
        self.pending = None;
    }

    /// Host motion: `dx` right, `dy` down (screen direction), `dz` wheel
    /// clicks towards the user (as a PS/2 wheel counts them), `buttons` the
    /// state of every button (bits from [`buttons`]).
    pub fn motion(&mut self, dx: i32, dy: i32, dz: i32, buttons: u8) {
        let changed = buttons != self.buttons;
        self.buttons = buttons;
        self.dx = self.dx.saturating_add(dx);
        self.dy = self.dy.saturating_sub(dy);
        self.dz = self.dz.saturating_add(dz);
        if !self.streaming || self.remote || self.wrap {
            return;
        }
        // Send until the motion is used up (a few packets at most); leave
        // the rest for later when the queue is full.
        let mut first = true;
        for _ in 0..8 {
            let moving = self.dx != 0 || self.dy != 0 || self.dz != 0;
            if !(moving || (first && changed)) {
                break;
            }
            if self.queue.len() + self.packet_len() > QUEUE_CAP {
                break;
            }
            self.send_packet(self.scaling21);
            first = false;
        }
    }

    /// Queue one movement packet, taking what fits of the pending motion.
    fn send_packet(&mut self, scale: bool) {
        let dx = self.dx.clamp(-256, 255);
        let dy = self.dy.clamp(-256, 255);
        self.dx -= dx;
        self.dy -= dy;
        let (mut x, mut y) = (dx, dy);
        if scale {
            x = scale21(x);
            y = scale21(y);
        }
        let (ox, oy) = (!(-256..=255).contains(&x), !(-256..=255).contains(&y));
        let x = x.clamp(-256, 255);
        let y = y.clamp(-256, 255);
        let b = self.buttons;
        let b0 = (b & 7)
            | 0x08
            | (u8::from(x < 0) << 4)
            | (u8::from(y < 0) << 5)
            | (u8::from(ox) << 6)
            | (u8::from(oy) << 7);
        self.send(b0);
        self.send(x as u8);
        self.send(y as u8);
        match self.id {
            ID_INTELLIMOUSE => {
                let z = self.dz.clamp(-128, 127);
                self.dz -= z;
                self.send(z as i8 as u8);
            }
            ID_EXPLORER => {
                let z = self.dz.clamp(-8, 7);
                self.dz -= z;
                let extra = (b >> 3) & 3;
                self.send(((z as u8) & 0x0f) | (extra << 4));
            }
            _ => self.dz = 0,
        }
    }

    /// A byte from the guest (through the controller's `D4` command).
    pub fn write(&mut self, b: u8) {
        if self.wrap && b != cmd::RESET_WRAP && b != cmd::RESET {
            self.send(b);
            return;
        }
        if let Some(p) = self.pending.take() {
            self.argument(p, b);
            return;
        }
        if b != cmd::RESEND && b != cmd::READ_DATA {
            // Any other command clears the movement counters (Read Data
            // reports them first).
            (self.dx, self.dy, self.dz) = (0, 0, 0);
        }
        match b {
            cmd::SCALING_1_1 => {
                self.scaling21 = false;
                self.send(ACK);
            }
            cmd::SCALING_2_1 => {
                self.scaling21 = true;
                self.send(ACK);
            }
            cmd::SET_RESOLUTION => {
                self.pending = Some(Pending::Resolution);
                self.send(ACK);
            }
            cmd::STATUS => {
                self.send(ACK);
                let s = (u8::from(self.remote) << 6)
                    | (u8::from(self.streaming) << 5)
                    | (u8::from(self.scaling21) << 4)
                    | (u8::from(self.buttons & buttons::LEFT != 0) << 2)
                    | (u8::from(self.buttons & buttons::MIDDLE != 0) << 1)
                    | u8::from(self.buttons & buttons::RIGHT != 0);
                self.send(s);
                self.send(self.resolution);
                self.send(self.rate);
            }
            cmd::STREAM_MODE => {
                self.remote = false;
                self.send(ACK);
            }
            cmd::READ_DATA => {
                self.send(ACK);
                self.send_packet(false);
            }
            cmd::RESET_WRAP => {
                self.wrap = false;
                self.send(ACK);
            }
            cmd::WRAP_MODE => {
                self.wrap = true;
                self.send(ACK);
            }
            cmd::REMOTE_MODE => {
                self.remote = true;
                self.send(ACK);
            }
            cmd::IDENTIFY => {
                self.send(ACK);
                self.send(self.id);
            }
            cmd::SAMPLE_RATE => {
                self.pending = Some(Pending::SampleRate);
                self.send(ACK);
            }
            cmd::ENABLE => {
                self.streaming = true;
                self.send(ACK);
            }
            cmd::DISABLE => {
                self.streaming = false;
                self.send(ACK);
            }
            cmd::SET_DEFAULT => {
                self.defaults();
                self.send(ACK);
            }
            cmd::RESEND => {
                let l = self.last;
                self.send(l);
            }
            cmd::RESET => {
                *self = Self::new();
                self.send(ACK);
                self.send(BAT_OK);
                self.send(ID_PS2);
            }
            _ => self.send(RESEND),
        }
    }

    fn argument(&mut self, p: Pending, b: u8) {
        match p {
            Pending::SampleRate => {
                self.rate = b;
                self.rates = [self.rates[1], self.rates[2], b];
                match self.rates {
                    [200, 100, 80] if self.id == ID_PS2 => self.id = ID_INTELLIMOUSE,
                    [200, 200, 80] if self.id == ID_INTELLIMOUSE => self.id = ID_EXPLORER,
                    _ => {}
                }
            }
            Pending::Resolution => self.resolution = b & 3,
        }
        self.send(ACK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(m: &mut Ps2Mouse) -> Vec<u8> {
        std::iter::from_fn(|| m.pop()).collect()
    }

    #[test]
    fn reset_identify_and_knock() {
        let mut m = Ps2Mouse::new();
        m.write(0xff);
        assert_eq!(drain(&mut m), [ACK, BAT_OK, 0x00]);
        m.write(0xf2);
        assert_eq!(drain(&mut m), [ACK, 0x00]);
        for r in [200, 100, 80] {
            m.write(0xf3);
            m.write(r);
        }
        m.write(0xf2);
        assert_eq!(drain(&mut m), [ACK, ACK, ACK, ACK, ACK, ACK, ACK, 0x03]);
        for r in [200, 200, 80] {
            m.write(0xf3);
            m.write(r);
        }
        m.write(0xf2);
        assert_eq!(drain(&mut m).last(), Some(&0x04));
        m.write(0xe9);
        assert_eq!(drain(&mut m), [ACK, 0x00, 2, 80]);
        m.write(0xff);
        assert_eq!(drain(&mut m), [ACK, BAT_OK, 0x00]);
        assert_eq!(m.id(), 0);
    }

    #[test]
    fn packets() {
        let mut m = Ps2Mouse::new();
        m.motion(5, 5, 0, 0);
        assert!(!m.has_data(), "not streaming yet");
        m.write(0xf4);
        assert_eq!(drain(&mut m), [ACK]);
        // Motion before enabling was dropped by the command; up is +y.
        m.motion(1, -3, 0, buttons::LEFT);
        assert_eq!(drain(&mut m), [0x09, 1, 3]);
        m.motion(-300, 0, 0, 0);
        assert_eq!(drain(&mut m), [0x18, 0x00, 0x00, 0x18, 0xd4, 0x00]);
        for r in [200, 100, 80] {
            m.write(0xf3);
            m.write(r);
        }
        drain(&mut m);
        m.motion(0, 0, -2, buttons::RIGHT);
        assert_eq!(drain(&mut m), [0x0a, 0, 0, 0xfe]);
        // Remote mode: motion waits for Read Data.
        m.write(0xf0);
        m.motion(2, 0, 0, 0);
        assert_eq!(drain(&mut m), [ACK]);
        m.write(0xeb);
        assert_eq!(drain(&mut m), [ACK, 0x08, 2, 0, 0]);
        m.write(0xea);
        drain(&mut m);
        // Wrap mode echoes.
        m.write(0xee);
        m.write(0x12);
        m.write(0xec);
        assert_eq!(drain(&mut m), [ACK, 0x12, ACK]);
    }
}
