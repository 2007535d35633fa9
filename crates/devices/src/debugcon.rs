//! A debug console: every byte written to its port goes to a sink (QEMU's
//! `isa-debugcon`; port 0xE9 by convention, 0x402 for SeaBIOS, 0x80 for POST
//! codes). Reads return 0xE9, which is how Bochs-style guests detect it.

use mem::{Port, PortDevice};
use std::fmt;
use std::io::Write;

/// Where the bytes go.
pub enum Sink {
    /// The emulator's standard output.
    Stdout,
    /// A file (or anything else that can be written).
    Writer(Box<dyn Write>),
    /// Kept in memory (tests).
    Buffer(Vec<u8>),
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sink::Stdout => f.write_str("Stdout"),
            Sink::Writer(_) => f.write_str("Writer"),
            Sink::Buffer(b) => write!(f, "Buffer({} bytes)", b.len()),
        }
    }
}

/// The debug console device.
#[derive(Debug)]
pub struct DebugCon {
    sink: Sink,
    /// Bytes that a failed host write could not take (reported once).
    lost: u64,
}

impl DebugCon {
    /// A console writing to `sink`.
    pub fn new(sink: Sink) -> Self {
        Self { sink, lost: 0 }
    }

    /// What a `Buffer` sink has collected.
    pub fn buffer(&self) -> &[u8] {
        match &self.sink {
            Sink::Buffer(b) => b,
            _ => &[],
        }
    }

    /// Flush the sink.
    pub fn flush(&mut self) {
        let _ = match &mut self.sink {
            Sink::Stdout => std::io::stdout().flush(),
            Sink::Writer(w) => w.flush(),
            Sink::Buffer(_) => Ok(()),
        };
    }

    fn put(&mut self, bytes: &[u8]) {
        let r = match &mut self.sink {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                // Line-buffered so guest output interleaves sensibly with ours.
                out.write_all(bytes).and_then(|_| {
                    if bytes.contains(&b'\n') {
                        out.flush()
                    } else {
                        Ok(())
                    }
                })
            }
            Sink::Writer(w) => w.write_all(bytes),
            Sink::Buffer(b) => {
                b.extend_from_slice(bytes);
                Ok(())
            }
        };
        if r.is_err() {
            self.lost += bytes.len() as u64;
            if self.lost == bytes.len() as u64 {
                eprintln!("strachey: debug console output failed; further output is dropped");
            }
        }
    }
}

impl PortDevice for DebugCon {
    fn read(&mut self, _port: Port, data: &mut [u8]) {
        data.fill(0xe9);
    }

    /// A wider write sends its bytes in order (an `out dx, ax` sends two).
    fn write(&mut self, _port: Port, data: &[u8]) {
        let d = data.to_vec();
        self.put(&d);
    }
}

impl Drop for DebugCon {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_bytes() {
        let mut c = DebugCon::new(Sink::Buffer(Vec::new()));
        c.write(Port(0xe9), b"hi");
        c.write(Port(0xe9), b"!");
        let mut r = [0];
        c.read(Port(0xe9), &mut r);
        assert_eq!(c.buffer(), b"hi!");
        assert_eq!(r, [0xe9]);
    }
}
