//! The PC/AT's pair of Intel 8237A DMA controllers and their page registers.
//!
//! DMA1 (ports 0x00–0x0F) serves the 8-bit channels 0–3; DMA2 (ports
//! 0xC0–0xDF, one register every second port because the AT wires its
//! address lines A1–A4) serves the 16-bit channels 4–7, channel 4 being the
//! cascade from DMA1. The 74LS612 page registers at 0x81–0x8F supply address
//! bits 23:16 (8237A datasheet; IBM PC/AT Technical Reference, "DMA
//! Controller"). Port 0x80 sits among the page registers but is left to the
//! board for the POST code display.
//!
//! Implemented: address and count registers through the byte-pointer
//! flip-flop, the command (controller disable only), mode, request, single
//! and all-mask registers, status with terminal-count bits cleared on read,
//! master clear and clear mask; transfers in increment and decrement mode,
//! verify, read and write transfer types, auto-initialisation, terminal
//! count (which masks the channel unless it auto-initialises), 64 KiB
//! (8-bit) and 128 KiB (16-bit) address wrap within a page.
//!
//! A device does not raise DREQ and wait: it calls
//! [`Dma8237::write_memory`] or [`Dma8237::read_memory`] with the bytes of a
//! burst, and the controller moves as many as the channel's count allows
//! right away, so single, demand and block modes behave alike. Not
//! implemented: memory-to-memory transfers (channels 0/1, command bit 0),
//! timing and priority, the cascade (DMA1 works whether or not channel 4 is
//! unmasked), the EISA high page registers.

use mem::{Dma, PhysAddr, Port, PortDevice};

/// First DMA1 port, and how many it decodes (8237A registers 0–15).
pub const DMA1_BASE: u16 = 0x00;
/// First DMA2 port; registers are at every second port (AT wiring).
pub const DMA2_BASE: u16 = 0xC0;
/// First page register claimed (0x80 is the POST port, not ours).
pub const PAGE_BASE: u16 = 0x81;
/// The port ranges to claim: (first, count).
pub const PORTS: &[(u16, u16)] = &[(DMA1_BASE, 16), (PAGE_BASE, 15), (DMA2_BASE, 32)];

/// The page register port of each channel (PC/AT Technical Reference).
const PAGE_PORT: [u16; 8] = [0x87, 0x83, 0x81, 0x82, 0x8F, 0x8B, 0x89, 0x8A];

// 8237A register numbers (address lines A3:A0).
const REG_STATUS_COMMAND: u8 = 8;
const REG_REQUEST: u8 = 9;
const REG_SINGLE_MASK: u8 = 10;
const REG_MODE: u8 = 11;
const REG_CLEAR_FLIP_FLOP: u8 = 12;
const REG_TEMP_MASTER_CLEAR: u8 = 13;
const REG_CLEAR_MASK: u8 = 14;
const REG_ALL_MASK: u8 = 15;

/// Command register bit 2: controller disable.
const CMD_DISABLE: u8 = 1 << 2;

// Mode register fields.
const MODE_TYPE_MASK: u8 = 3 << 2;
const MODE_TYPE_VERIFY: u8 = 0 << 2;
const MODE_TYPE_WRITE: u8 = 1 << 2;
const MODE_TYPE_READ: u8 = 2 << 2;
const MODE_AUTOINIT: u8 = 1 << 4;
const MODE_DECREMENT: u8 = 1 << 5;
const MODE_CASCADE: u8 = 3 << 6;

/// The DMA channel the floppy controller uses.
pub const FLOPPY_CHANNEL: usize = 2;

/// What one transfer call moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DmaTransfer {
    /// Bytes transferred (a whole number of words on a 16-bit channel).
    pub bytes: usize,
    /// The channel reached terminal count (the TC line pulsed).
    pub terminal_count: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct Channel {
    base_addr: u16,
    base_count: u16,
    addr: u16,
    count: u16,
    mode: u8,
}

#[derive(Clone, Debug)]
struct Controller {
    ch: [Channel; 4],
    /// Byte pointer flip-flop: false = next access is the low byte.
    high_byte: bool,
    command: u8,
    /// Bits 3:0 terminal count reached, bits 7:4 request pending.
    status: u8,
    request: u8,
    mask: u8,
    temp: u8,
}

impl Controller {
    fn new() -> Self {
        Self {
            ch: [Channel::default(); 4],
            high_byte: false,
            command: 0,
            status: 0,
            request: 0,
            mask: 0x0F,
            temp: 0,
        }
    }

    fn master_clear(&mut self) {
        self.high_byte = false;
        self.command = 0;
        self.status = 0;
        self.request = 0;
        self.temp = 0;
        self.mask = 0x0F;
    }

    fn read(&mut self, reg: u8) -> u8 {
        match reg {
            0..=7 => {
                let c = &self.ch[usize::from(reg >> 1)];
                let v = if reg & 1 == 0 { c.addr } else { c.count };
                let b = if self.high_byte { (v >> 8) as u8 } else { v as u8 };
                self.high_byte = !self.high_byte;
                b
            }
            REG_STATUS_COMMAND => {
                let s = self.status | (self.request << 4);
                self.status &= 0xF0;
                s
            }
            REG_TEMP_MASTER_CLEAR => self.temp,
            // Write-only on the 8237A; later chipsets (PIIX) read the mask.
            REG_ALL_MASK => 0xF0 | self.mask,
            _ => 0xFF,
        }
    }

    fn write(&mut self, reg: u8, v: u8) {
        match reg {
            0..=7 => {
                let c = &mut self.ch[usize::from(reg >> 1)];
                let (base, cur) = if reg & 1 == 0 {
                    (&mut c.base_addr, &mut c.addr)
                } else {
                    (&mut c.base_count, &mut c.count)
                };
                *base = if self.high_byte {
                    (*base & 0x00FF) | (u16::from(v) << 8)
                } else {
                    (*base & 0xFF00) | u16::from(v)
                };
                *cur = *base;
                self.high_byte = !self.high_byte;
            }
            REG_STATUS_COMMAND => self.command = v,
            REG_REQUEST => {
                let bit = 1 << (v & 3);
                if v & 4 != 0 {
                    self.request |= bit;
                } else {
                    self.request &= !bit;
                }
            }
            REG_SINGLE_MASK => {
                let bit = 1 << (v & 3);
                if v & 4 != 0 {
                    self.mask |= bit;
                } else {
                    self.mask &= !bit;
                }
            }
            REG_MODE => self.ch[usize::from(v & 3)].mode = v & 0xFC,
            REG_CLEAR_FLIP_FLOP => self.high_byte = false,
            REG_TEMP_MASTER_CLEAR => self.master_clear(),
            REG_CLEAR_MASK => self.mask = 0,
            REG_ALL_MASK => self.mask = v & 0x0F,
            _ => {}
        }
    }
}

/// What a transfer does with memory.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// Device to memory (an 8237 "write transfer").
    ToMemory,
    /// Memory to device (a "read transfer").
    FromMemory,
}

/// The two 8237A controllers and the page registers.
#[derive(Debug)]
pub struct Dma8237 {
    ctrl: [Controller; 2],
    /// Page registers 0x80–0x8F by low nibble (entry 0 unused).
    pages: [u8; 16],
    mem: Dma,
    warned: bool,
}

impl Dma8237 {
    /// A controller pair moving data through `mem`, in the power-on state
    /// (all channels masked).
    pub fn new(mem: Dma) -> Self {
        Self {
            ctrl: [Controller::new(), Controller::new()],
            pages: [0; 16],
            mem,
            warned: false,
        }
    }

    /// Back to the power-on state (a master clear of both controllers).
    pub fn reset(&mut self) {
        for c in &mut self.ctrl {
            c.master_clear();
        }
    }

    fn warn(&mut self, msg: &str) {
        if !self.warned {
            self.warned = true;
            eprintln!("strachey: 8237 DMA: {msg} (further DMA warnings suppressed)");
        }
    }

    /// Whether `channel` would accept a transfer now: the controller is
    /// enabled, the channel unmasked and not in cascade mode.
    pub fn channel_ready(&self, channel: usize) -> bool {
        let c = &self.ctrl[channel / 4];
        let i = channel % 4;
        c.command & CMD_DISABLE == 0 && c.mask & (1 << i) == 0 && c.ch[i].mode & MODE_CASCADE != MODE_CASCADE
    }

    /// The physical address `channel` will access next.
    pub fn current_address(&self, channel: usize) -> PhysAddr {
        let page = u64::from(self.pages[usize::from(PAGE_PORT[channel] & 0xF)]);
        let addr = u64::from(self.ctrl[channel / 4].ch[channel % 4].addr);
        PhysAddr(if channel < 4 {
            page << 16 | addr
        } else {
            (page & 0xFE) << 16 | addr << 1
        })
    }

    /// Bytes `channel` will still transfer before terminal count.
    pub fn remaining(&self, channel: usize) -> usize {
        let units = usize::from(self.ctrl[channel / 4].ch[channel % 4].count) + 1;
        if channel < 4 {
            units
        } else {
            units * 2
        }
    }

    /// A device hands `data` to memory over `channel` (e.g. the floppy
    /// controller's READ DATA). Moves at most what the count allows.
    pub fn write_memory(&mut self, channel: usize, data: &[u8]) -> DmaTransfer {
        let mut d = data.to_vec();
        self.transfer(channel, Dir::ToMemory, &mut d)
    }

    /// A device takes `buf.len()` bytes from memory over `channel` (e.g.
    /// WRITE DATA). Bytes not transferred are left as they were.
    pub fn read_memory(&mut self, channel: usize, buf: &mut [u8]) -> DmaTransfer {
        self.transfer(channel, Dir::FromMemory, buf)
    }

    fn transfer(&mut self, channel: usize, dir: Dir, buf: &mut [u8]) -> DmaTransfer {
        let mut out = DmaTransfer::default();
        if channel >= 8 || !self.channel_ready(channel) {
            return out;
        }
        let wide = channel >= 4;
        let unit = if wide { 2 } else { 1 };
        let i = channel % 4;
        let mode = self.ctrl[channel / 4].ch[i].mode;
        let kind = mode & MODE_TYPE_MASK;
        let touch_memory = match (kind, dir) {
            (MODE_TYPE_WRITE, Dir::ToMemory) | (MODE_TYPE_READ, Dir::FromMemory) => true,
            (MODE_TYPE_VERIFY, _) => false,
            _ => {
                self.warn(&format!(
                    "channel {channel} is programmed for the other direction (mode {mode:#04x}); \
                     memory is left alone"
                ));
                if dir == Dir::FromMemory {
                    buf.fill(0xFF);
                }
                false
            }
        };
        let page = u64::from(self.pages[usize::from(PAGE_PORT[channel] & 0xF)]);
        let units = buf.len() / unit;
        let mut done = 0;
        while done < units {
            let c = &mut self.ctrl[channel / 4].ch[i];
            // A run of units at consecutive addresses: up to terminal count
            // and, when incrementing, up to the end of the page.
            let left = units - done;
            let to_tc = usize::from(c.count) + 1;
            let run = if mode & MODE_DECREMENT != 0 {
                1
            } else {
                left.min(to_tc).min(0x10000 - usize::from(c.addr))
            };
            let phys = if wide {
                (page & 0xFE) << 16 | u64::from(c.addr) << 1
            } else {
                page << 16 | u64::from(c.addr)
            };
            let bytes = &mut buf[done * unit..(done + run) * unit];
            if mode & MODE_DECREMENT != 0 {
                c.addr = c.addr.wrapping_sub(1);
            } else {
                c.addr = c.addr.wrapping_add(run as u16);
            }
            // The count runs from N-1 down past zero: terminal count.
            c.count = c.count.wrapping_sub(run as u16);
            let tc = run == to_tc;
            if tc {
                // Terminal count (8237A datasheet, "Auto-initialize"):
                // reload, or mask the channel.
                if mode & MODE_AUTOINIT != 0 {
                    c.addr = c.base_addr;
                    c.count = c.base_count;
                } else {
                    self.ctrl[channel / 4].mask |= 1 << i;
                }
                self.ctrl[channel / 4].status |= 1 << i;
            }
            if touch_memory {
                match dir {
                    Dir::ToMemory => self.mem.write(PhysAddr(phys), bytes),
                    Dir::FromMemory => self.mem.read(PhysAddr(phys), bytes),
                }
            }
            done += run;
            if tc {
                out.terminal_count = true;
                break;
            }
        }
        out.bytes = done * unit;
        out
    }
}

impl PortDevice for Dma8237 {
    fn read(&mut self, port: Port, data: &mut [u8]) {
        for (k, b) in data.iter_mut().enumerate() {
            let p = port.0.wrapping_add(k as u16);
            *b = match p {
                0x00..=0x0F => self.ctrl[0].read(p as u8),
                0x81..=0x8F => self.pages[usize::from(p & 0xF)],
                0xC0..=0xDF => self.ctrl[1].read(((p - DMA2_BASE) >> 1) as u8),
                _ => 0xFF,
            };
        }
    }

    fn write(&mut self, port: Port, data: &[u8]) {
        for (k, &v) in data.iter().enumerate() {
            let p = port.0.wrapping_add(k as u16);
            match p {
                0x00..=0x0F => self.ctrl[0].write(p as u8, v),
                0x81..=0x8F => self.pages[usize::from(p & 0xF)] = v,
                0xC0..=0xDF => self.ctrl[1].write(((p - DMA2_BASE) >> 1) as u8, v),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mem::PhysMemory;

    fn out(d: &mut Dma8237, port: u16, v: u8) {
        d.write(Port(port), &[v]);
    }
    fn inb(d: &mut Dma8237, port: u16) -> u8 {
        let mut b = [0];
        d.read(Port(port), &mut b);
        b[0]
    }

    /// SeaBIOS's `dma_floppy` (src/hw/dma.c).
    fn program_floppy(d: &mut Dma8237, addr: u32, count: u16, mode: u8) {
        out(d, 0x0A, 0x06);
        out(d, 0x0C, 0);
        out(d, 0x04, addr as u8);
        out(d, 0x04, (addr >> 8) as u8);
        out(d, 0x0C, 0);
        out(d, 0x05, (count - 1) as u8);
        out(d, 0x05, ((count - 1) >> 8) as u8);
        out(d, 0x0B, mode);
        out(d, 0x81, (addr >> 16) as u8);
        out(d, 0x0A, 0x02);
    }

    fn seabios_reset(d: &mut Dma8237) {
        out(d, 0x0D, 0);
        out(d, 0xDA, 0);
        out(d, 0xD6, 0xC0);
        out(d, 0xD4, 0);
    }

    #[test]
    fn seabios_floppy_read_transfer() {
        let mut m = PhysMemory::new(2).unwrap();
        let mut d = Dma8237::new(m.dma());
        seabios_reset(&mut d);
        assert!(!d.channel_ready(2), "master clear masks every channel");
        assert!(!d.channel_ready(4), "channel 4 is in cascade mode");
        program_floppy(&mut d, 0x17C00, 1024, 0x46);
        assert!(d.channel_ready(2));
        assert_eq!(d.current_address(2), PhysAddr(0x17C00));
        let data: Vec<u8> = (0..1024).map(|i| i as u8).collect();
        let t = d.write_memory(2, &data[..512]);
        assert_eq!(
            t,
            DmaTransfer {
                bytes: 512,
                terminal_count: false
            }
        );
        let t = d.write_memory(2, &data[512..]);
        assert_eq!(
            t,
            DmaTransfer {
                bytes: 512,
                terminal_count: true
            }
        );
        let mut back = vec![0; 1024];
        m.read(PhysAddr(0x17C00), &mut back);
        assert_eq!(back, data);
        // TC without auto-init masks the channel and shows in status once.
        assert!(!d.channel_ready(2));
        assert_eq!(inb(&mut d, 0x08) & 0x0F, 0x04);
        assert_eq!(inb(&mut d, 0x08) & 0x0F, 0);
        assert_eq!(d.write_memory(2, &data).bytes, 0);
        // Current address and count read back through the flip-flop.
        out(&mut d, 0x0C, 0);
        assert_eq!((inb(&mut d, 0x04), inb(&mut d, 0x04)), (0x00, 0x80));
        assert_eq!((inb(&mut d, 0x05), inb(&mut d, 0x05)), (0xFF, 0xFF));
    }

    #[test]
    fn read_transfer_autoinit_and_verify() {
        let mut m = PhysMemory::new(2).unwrap();
        m.write(PhysAddr(0x2000), b"abcd");
        let mut d = Dma8237::new(m.dma());
        program_floppy(&mut d, 0x2000, 4, 0x5A); // read, auto-init
        let mut buf = [0u8; 6];
        let t = d.read_memory(2, &mut buf);
        assert_eq!(
            t,
            DmaTransfer {
                bytes: 4,
                terminal_count: true
            }
        );
        assert_eq!(&buf[..4], b"abcd");
        assert!(d.channel_ready(2), "auto-init keeps the channel unmasked");
        assert_eq!(d.current_address(2), PhysAddr(0x2000));
        // Verify mode moves nothing but counts.
        out(&mut d, 0x0B, 0x42);
        let t = d.write_memory(2, b"zz");
        assert_eq!(t.bytes, 2);
        let mut b = [0u8; 2];
        m.read(PhysAddr(0x2000), &mut b);
        assert_eq!(&b, b"ab");
    }

    #[test]
    fn wide_channel_and_page_wrap() {
        let mut m = PhysMemory::new(4).unwrap();
        let mut d = Dma8237::new(m.dma());
        seabios_reset(&mut d);
        // Channel 5: word address 0x8000 in page 2 -> 0x20000 + 0x10000.
        out(&mut d, 0xD8, 0); // clear flip-flop
        out(&mut d, 0xC4, 0x00);
        out(&mut d, 0xC4, 0x80);
        out(&mut d, 0xC6, 1); // 2 words
        out(&mut d, 0xC6, 0);
        out(&mut d, 0xD6, 0x45); // single, write, channel 5
        out(&mut d, 0x8B, 0x02);
        out(&mut d, 0xD4, 0x01);
        assert_eq!(d.current_address(5), PhysAddr(0x30000));
        let t = d.write_memory(5, &[1, 2, 3, 4, 5, 6]);
        assert_eq!(
            t,
            DmaTransfer {
                bytes: 4,
                terminal_count: true
            }
        );
        let mut b = [0u8; 4];
        m.read(PhysAddr(0x30000), &mut b);
        assert_eq!(b, [1, 2, 3, 4]);
        // An 8-bit channel wraps within its 64 KiB page.
        program_floppy(&mut d, 0x1FFFE, 4, 0x46);
        assert_eq!(d.write_memory(2, &[9, 8, 7, 6]).bytes, 4);
        m.read(PhysAddr(0x1FFFE), &mut b[..2]);
        assert_eq!(&b[..2], &[9, 8]);
        m.read(PhysAddr(0x10000), &mut b[..2]);
        assert_eq!(&b[..2], &[7, 6]);
        // Page registers read back; port 0x80 is not ours.
        assert_eq!(inb(&mut d, 0x81), 0x01);
        assert!(PORTS.iter().all(|&(a, n)| !(a..a + n).contains(&0x80)));
    }

    #[test]
    fn disabled_controller_and_masks() {
        let m = PhysMemory::new(1).unwrap();
        let mut d = Dma8237::new(m.dma());
        program_floppy(&mut d, 0x1000, 16, 0x46);
        out(&mut d, 0x08, CMD_DISABLE);
        assert_eq!(d.write_memory(2, &[0; 4]).bytes, 0);
        out(&mut d, 0x08, 0);
        out(&mut d, 0x0F, 0x0F);
        assert_eq!(inb(&mut d, 0x0F) & 0x0F, 0x0F);
        out(&mut d, 0x0E, 0);
        assert!(d.channel_ready(2));
        out(&mut d, 0x09, 0x06);
        assert_eq!(inb(&mut d, 0x08) & 0xF0, 0x40, "software request shows in status");
    }
}
