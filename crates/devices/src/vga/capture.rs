//! A test device: a guest write to [`FRAME_CAPTURE_PORT`] records the
//! picture on the screen at that instant, tagged with the byte written.
//!
//! The graphics test ROM (`test-roms/gfx.asm`) draws a pattern, writes its
//! number here and goes on to the next; the test then compares each
//! recorded frame with the image it computes from the same pattern rules.
//! The capture happens inside the `out` instruction, so the guest needs no
//! handshake and cannot race the host. On a board without the device (or
//! under QEMU) the write goes nowhere and the ROM runs on unchanged. A
//! read returns how many frames were recorded (saturating at 0xFF), so a
//! guest can tell the device is there; an absent port reads 0xFF.
//!
//! The board registers it only on request (`Machine::enable_frame_capture`),
//! and it keeps at most [`MAX_CAPTURES`] frames, so a guest cannot make the
//! host hoard memory.

use super::frame::Frame;
use super::render::Blink;
use super::Vga;
use mem::{Port, PortDevice, Shared};
use std::fmt;

/// The port. Unused by the PC and by QEMU's `-M pc` (it sits in the ISA
/// alias range of nothing the board has).
pub const FRAME_CAPTURE_PORT: u16 = 0x4E8;
/// Frames kept; later requests are dropped.
pub const MAX_CAPTURES: usize = 64;

/// One recorded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    /// The byte the guest wrote.
    pub tag: u8,
    /// The picture.
    pub frame: Frame,
    /// Its blink phase (whether the cursor and blinking text were showing).
    pub blink: Blink,
}

/// The capture port.
pub struct FrameCapture {
    vga: Shared<Vga>,
    captures: Vec<Capture>,
}

impl fmt::Debug for FrameCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameCapture")
            .field("captures", &self.captures.len())
            .finish()
    }
}

impl FrameCapture {
    /// A capture port drawing from `vga`.
    pub fn new(vga: Shared<Vga>) -> Self {
        Self {
            vga,
            captures: Vec::new(),
        }
    }

    /// The frames recorded so far, oldest first; the list is emptied.
    pub fn take(&mut self) -> Vec<Capture> {
        std::mem::take(&mut self.captures)
    }
}

impl PortDevice for FrameCapture {
    fn read(&mut self, _port: Port, data: &mut [u8]) {
        data.fill(0);
        if let Some(b) = data.first_mut() {
            *b = self.captures.len().min(0xFF) as u8;
        }
    }

    fn write(&mut self, _port: Port, data: &[u8]) {
        if self.captures.len() >= MAX_CAPTURES {
            return;
        }
        let mut vga = self.vga.borrow_mut();
        let frame = vga.frame().clone();
        self.captures.push(Capture {
            tag: data.first().copied().unwrap_or(0),
            frame,
            blink: vga.frame_blink(),
        });
    }
}
