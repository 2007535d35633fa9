//! QEMU's `isa-debug-exit`: a write of `v` ends the run with process exit
//! status `(v << 1) | 1`, so a guest can report success or failure to the
//! host. Only the low byte of the value counts, as with a one-byte port.

use mem::{Attention, Port, PortDevice};

/// The debug-exit device.
#[derive(Debug)]
pub struct DebugExit {
    attention: Attention,
    code: Option<u8>,
}

impl DebugExit {
    /// A device that raises [`Attention::STOP`] on `attention` when written.
    pub fn new(attention: Attention) -> Self {
        Self {
            attention,
            code: None,
        }
    }

    /// The value the guest wrote, if it did.
    pub fn code(&self) -> Option<u8> {
        self.code
    }

    /// The process exit status the write asks for.
    pub fn exit_status(v: u8) -> i32 {
        (i32::from(v) << 1) | 1
    }
}

impl PortDevice for DebugExit {
    fn read(&mut self, _port: Port, data: &mut [u8]) {
        data.fill(0xff);
    }

    fn write(&mut self, _port: Port, data: &[u8]) {
        if self.code.is_none() {
            self.code = Some(data[0]);
        }
        self.attention.raise(Attention::STOP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_requests_stop() {
        let att = Attention::new();
        let mut d = DebugExit::new(att.clone());
        assert_eq!(d.code(), None);
        d.write(Port(0xf4), &[3, 0]);
        assert_eq!(d.code(), Some(3));
        assert_ne!(att.get() & Attention::STOP, 0);
        assert_eq!(DebugExit::exit_status(3), 7);
    }
}
