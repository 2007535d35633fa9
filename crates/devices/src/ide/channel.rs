//! One IDE channel: a master and a slave position sharing one task file,
//! one device control register and one interrupt line.
//!
//! Register semantics follow ATA/ATAPI-6 (T13/1410D): writes to the command
//! block reach both devices; reads come from the selected device; a
//! selected device that is not there reads 0 in its status registers while
//! device 0 echoes the shared task file for it; a channel with no device at
//! all floats (all ones), which is how firmware tells that nothing is
//! cabled. The task file is kept once per channel (both devices latch the
//! same writes; the one that executes a command updates it).

use super::ata::{AtaDisk, MAX_MULTIPLE};
use crate::irq::IrqLine;

// Command block registers, by offset from the channel's base port.
pub(super) const REG_DATA: u16 = 0;
const REG_ERROR_FEATURES: u16 = 1;
const REG_COUNT: u16 = 2;
const REG_LBA_LOW: u16 = 3;
const REG_LBA_MID: u16 = 4;
const REG_LBA_HIGH: u16 = 5;
const REG_DEVICE: u16 = 6;
const REG_STATUS_COMMAND: u16 = 7;

// Status register bits (ATA-6, 7.15).
const BSY: u8 = 0x80;
const DRDY: u8 = 0x40;
const DF: u8 = 0x20;
/// Device seek complete (obsolete; QEMU and old drives keep it set).
const DSC: u8 = 0x10;
const DRQ: u8 = 0x08;
const ERR: u8 = 0x01;

// Error register bits.
const UNC: u8 = 0x40;
const IDNF: u8 = 0x10;
const ABRT: u8 = 0x04;
/// EXECUTE DEVICE DIAGNOSTIC / reset: device 0 passed (and device 1 passed
/// or is absent).
const DIAG_PASSED: u8 = 0x01;

// Device register bits.
const DEV_LBA: u8 = 0x40;
const DEV_DEV1: u8 = 0x10;

// Device control register bits.
const CTL_NIEN: u8 = 0x02;
const CTL_SRST: u8 = 0x04;
const CTL_HOB: u8 = 0x80;

// Commands (ATA-6 and earlier for the obsolete ones).
const CMD_NOP: u8 = 0x00;
const CMD_DEVICE_RESET: u8 = 0x08;
const CMD_RECALIBRATE: u8 = 0x10; // 0x10–0x1F
const CMD_READ_SECTORS: u8 = 0x20;
const CMD_READ_SECTORS_NORETRY: u8 = 0x21;
const CMD_READ_SECTORS_EXT: u8 = 0x24;
const CMD_READ_MULTIPLE_EXT: u8 = 0x29;
const CMD_WRITE_SECTORS: u8 = 0x30;
const CMD_WRITE_SECTORS_NORETRY: u8 = 0x31;
const CMD_WRITE_SECTORS_EXT: u8 = 0x34;
const CMD_WRITE_MULTIPLE_EXT: u8 = 0x39;
const CMD_READ_VERIFY: u8 = 0x40;
const CMD_READ_VERIFY_NORETRY: u8 = 0x41;
const CMD_READ_VERIFY_EXT: u8 = 0x42;
const CMD_SEEK: u8 = 0x70; // 0x70–0x7F
const CMD_EXECUTE_DIAGNOSTIC: u8 = 0x90;
const CMD_INITIALIZE_PARAMETERS: u8 = 0x91;
const CMD_STANDBY_IMMEDIATE_OLD: u8 = 0x94;
const CMD_IDLE_IMMEDIATE_OLD: u8 = 0x95;
const CMD_STANDBY_OLD: u8 = 0x96;
const CMD_IDLE_OLD: u8 = 0x97;
const CMD_CHECK_POWER_MODE_OLD: u8 = 0x98;
const CMD_SLEEP_OLD: u8 = 0x99;
const CMD_PACKET: u8 = 0xA0;
const CMD_IDENTIFY_PACKET: u8 = 0xA1;
const CMD_READ_MULTIPLE: u8 = 0xC4;
const CMD_WRITE_MULTIPLE: u8 = 0xC5;
const CMD_SET_MULTIPLE: u8 = 0xC6;
const CMD_STANDBY_IMMEDIATE: u8 = 0xE0;
const CMD_IDLE_IMMEDIATE: u8 = 0xE1;
const CMD_STANDBY: u8 = 0xE2;
const CMD_IDLE: u8 = 0xE3;
const CMD_CHECK_POWER_MODE: u8 = 0xE5;
const CMD_SLEEP: u8 = 0xE6;
const CMD_FLUSH_CACHE: u8 = 0xE7;
const CMD_FLUSH_CACHE_EXT: u8 = 0xEA;
const CMD_IDENTIFY: u8 = 0xEC;
const CMD_SET_FEATURES: u8 = 0xEF;

// SET FEATURES subcommands.
const FEAT_WRITE_CACHE_ON: u8 = 0x02;
const FEAT_TRANSFER_MODE: u8 = 0x03;
const FEAT_READ_AHEAD_OFF: u8 = 0x55;
const FEAT_REVERT_OFF: u8 = 0x66;
const FEAT_WRITE_CACHE_OFF: u8 = 0x82;
const FEAT_READ_AHEAD_ON: u8 = 0xAA;
const FEAT_REVERT_ON: u8 = 0xCC;

const SECTOR: usize = 512;

/// How the command addressed the disk; results are written back the same
/// way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Addr {
    Chs,
    Lba28,
    Lba48,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Identify,
    Read,
    Write,
}

/// A PIO data transfer in progress.
#[derive(Debug)]
struct Xfer {
    unit: usize,
    kind: Kind,
    addr: Addr,
    /// Next sector to move between the buffer and the disk.
    lba: u64,
    /// Sectors not yet moved through the buffer.
    remaining: u64,
    /// Sectors per DRQ block.
    block: u64,
}

/// One IDE channel.
#[derive(Debug)]
pub struct Channel {
    irq: IrqLine,
    pub(super) units: [Option<AtaDisk>; 2],
    // Task file: [current, previous] (the previous byte is what LBA48
    // reads back with HOB set).
    features: [u8; 2],
    count: [u8; 2],
    lba: [[u8; 2]; 3],
    device: u8,
    control: u8,
    status: [u8; 2],
    error: [u8; 2],
    pending: [bool; 2],
    irq_level: bool,
    xfer: Option<Xfer>,
    buf: Vec<u8>,
    pos: usize,
    warned: bool,
}

impl Channel {
    /// An empty channel interrupting on `irq`.
    pub fn new(irq: IrqLine) -> Self {
        Self {
            irq,
            units: [None, None],
            features: [0; 2],
            count: [1, 0],
            lba: [[1, 0], [0, 0], [0, 0]],
            device: 0,
            control: 0,
            status: [DRDY | DSC; 2],
            error: [DIAG_PASSED; 2],
            pending: [false; 2],
            irq_level: false,
            xfer: None,
            buf: Vec::new(),
            pos: 0,
            warned: false,
        }
    }

    /// Whether no device is cabled to this channel (the bus floats).
    pub fn is_empty(&self) -> bool {
        self.units.iter().all(Option::is_none)
    }

    fn warn(&mut self, msg: &str) {
        if !self.warned {
            self.warned = true;
            eprintln!("strachey: IDE: {msg} (further warnings for this channel suppressed)");
        }
    }

    fn selected(&self) -> usize {
        usize::from(self.device & DEV_DEV1 != 0)
    }

    fn update_irq(&mut self) {
        let sel = self.selected();
        let level = self.units[sel].is_some() && self.pending[sel] && self.control & CTL_NIEN == 0;
        if level != self.irq_level {
            self.irq_level = level;
            self.irq.set(level);
        }
    }

    fn interrupt(&mut self, unit: usize) {
        self.pending[unit] = true;
        self.update_irq();
    }

    fn complete(&mut self, unit: usize) {
        self.status[unit] = DRDY | DSC;
        self.interrupt(unit);
    }

    fn fail(&mut self, unit: usize, error: u8) {
        self.xfer = None;
        self.status[unit] = DRDY | ERR;
        self.error[unit] = error;
        self.interrupt(unit);
    }

    fn abort(&mut self, unit: usize) {
        self.fail(unit, ABRT);
    }

    fn set_signature(&mut self) {
        self.count[0] = 1;
        self.lba[0][0] = 1;
        self.lba[1][0] = 0;
        self.lba[2][0] = 0;
    }

    // ---- register access -------------------------------------------------

    /// Read command block register `reg` (not the data register).
    pub(super) fn read_reg(&mut self, reg: u16) -> u8 {
        if self.is_empty() {
            return 0xFF;
        }
        let sel = self.selected();
        let hob = usize::from(self.control & CTL_HOB != 0);
        match reg {
            REG_ERROR_FEATURES => {
                if self.units[sel].is_some() {
                    self.error[sel]
                } else {
                    0
                }
            }
            REG_COUNT => self.count[hob],
            REG_LBA_LOW => self.lba[0][hob],
            REG_LBA_MID => self.lba[1][hob],
            REG_LBA_HIGH => self.lba[2][hob],
            REG_DEVICE => self.device,
            REG_STATUS_COMMAND => {
                if self.units[sel].is_none() {
                    return 0;
                }
                // Reading Status acknowledges the interrupt.
                self.pending[sel] = false;
                self.update_irq();
                self.status[sel]
            }
            _ => 0xFF,
        }
    }

    /// Alternate Status: Status without acknowledging anything.
    pub(super) fn read_alt_status(&self) -> u8 {
        if self.is_empty() {
            return 0xFF;
        }
        let sel = self.selected();
        if self.units[sel].is_some() {
            self.status[sel]
        } else {
            0
        }
    }

    /// Write command block register `reg` (not the data register).
    pub(super) fn write_reg(&mut self, reg: u16, v: u8) {
        if self.is_empty() {
            return;
        }
        let push = |r: &mut [u8; 2]| {
            r[1] = r[0];
            r[0] = v;
        };
        match reg {
            REG_ERROR_FEATURES => push(&mut self.features),
            REG_COUNT => push(&mut self.count),
            REG_LBA_LOW => push(&mut self.lba[0]),
            REG_LBA_MID => push(&mut self.lba[1]),
            REG_LBA_HIGH => push(&mut self.lba[2]),
            REG_DEVICE => {
                self.device = v;
                self.update_irq();
            }
            REG_STATUS_COMMAND => {
                self.command(v);
                return;
            }
            _ => {}
        }
        // A write to any command block register clears HOB (ATA-6, 7.9).
        self.control &= !CTL_HOB;
    }

    /// Device Control: nIEN, SRST, HOB.
    pub(super) fn write_control(&mut self, v: u8) {
        if self.is_empty() {
            return;
        }
        let old = self.control;
        self.control = v;
        if v & CTL_SRST != 0 && old & CTL_SRST == 0 {
            // Software reset asserted: both devices go busy.
            self.xfer = None;
            self.status = [BSY; 2];
            self.pending = [false; 2];
        } else if v & CTL_SRST == 0 && old & CTL_SRST != 0 {
            self.finish_reset();
        }
        self.update_irq();
    }

    /// The end of a software reset or EXECUTE DEVICE DIAGNOSTIC: the
    /// signature of an ATA device in the task file, device 0 selected,
    /// diagnostic code "passed" (ATA-6, 9.1 and 9.10).
    fn finish_reset(&mut self) {
        self.set_signature();
        self.device = 0;
        for u in 0..2 {
            self.status[u] = if self.units[u].is_some() { DRDY | DSC } else { 0 };
            self.error[u] = DIAG_PASSED;
        }
    }

    /// Read `out.len()` bytes (2 or 4; 1 takes a whole word) from the data
    /// register.
    pub(super) fn read_data(&mut self, out: &mut [u8]) {
        if self.is_empty() {
            out.fill(0xFF);
            return;
        }
        if out.len() == 1 {
            self.warn("8-bit read of the data register; a word was transferred");
        }
        for chunk in out.chunks_mut(2) {
            let w = self.read_word();
            chunk.copy_from_slice(&w.to_le_bytes()[..chunk.len()]);
        }
    }

    /// Write `data` (2 or 4 bytes) to the data register.
    pub(super) fn write_data(&mut self, data: &[u8]) {
        if self.is_empty() {
            return;
        }
        if data.len() == 1 {
            self.warn("8-bit write of the data register; a word was transferred");
        }
        for chunk in data.chunks(2) {
            let w = u16::from(chunk[0]) | u16::from(chunk.get(1).copied().unwrap_or(0)) << 8;
            self.write_word(w);
        }
    }

    fn read_word(&mut self) -> u16 {
        match &self.xfer {
            Some(x) if x.kind != Kind::Write && self.pos + 2 <= self.buf.len() => {}
            _ => return 0xFFFF,
        }
        let w = u16::from_le_bytes([self.buf[self.pos], self.buf[self.pos + 1]]);
        self.pos += 2;
        if self.pos >= self.buf.len() {
            self.block_done();
        }
        w
    }

    fn write_word(&mut self, w: u16) {
        if !matches!(&self.xfer, Some(x) if x.kind == Kind::Write) {
            return;
        }
        self.buf[self.pos..self.pos + 2].copy_from_slice(&w.to_le_bytes());
        self.pos += 2;
        if self.pos >= self.buf.len() {
            self.block_done();
        }
    }

    // ---- commands -------------------------------------------------------

    fn command(&mut self, cmd: u8) {
        let unit = self.selected();
        if cmd == CMD_EXECUTE_DIAGNOSTIC {
            // Executed by both devices whichever is selected.
            self.xfer = None;
            self.finish_reset();
            let u = if self.units[0].is_some() { 0 } else { 1 };
            self.interrupt(u);
            return;
        }
        if self.units[unit].is_none() || self.status[unit] & BSY != 0 {
            return;
        }
        // Writing a command acknowledges any pending interrupt.
        self.pending[unit] = false;
        self.xfer = None;
        self.error[unit] = 0;
        self.status[unit] = DRDY | DSC;
        match cmd {
            CMD_IDENTIFY => {
                self.buf = self.disk(unit).identify(unit).to_vec();
                self.start_pio(Xfer {
                    unit,
                    kind: Kind::Identify,
                    addr: Addr::Lba28,
                    lba: 0,
                    remaining: 0,
                    block: 1,
                });
            }
            CMD_READ_SECTORS | CMD_READ_SECTORS_NORETRY => self.start_rw(unit, Kind::Read, false, false),
            CMD_READ_SECTORS_EXT => self.start_rw(unit, Kind::Read, true, false),
            CMD_READ_MULTIPLE => self.start_rw(unit, Kind::Read, false, true),
            CMD_READ_MULTIPLE_EXT => self.start_rw(unit, Kind::Read, true, true),
            CMD_WRITE_SECTORS | CMD_WRITE_SECTORS_NORETRY => self.start_rw(unit, Kind::Write, false, false),
            CMD_WRITE_SECTORS_EXT => self.start_rw(unit, Kind::Write, true, false),
            CMD_WRITE_MULTIPLE => self.start_rw(unit, Kind::Write, false, true),
            CMD_WRITE_MULTIPLE_EXT => self.start_rw(unit, Kind::Write, true, true),
            CMD_READ_VERIFY | CMD_READ_VERIFY_NORETRY | CMD_READ_VERIFY_EXT => {
                if let Some((addr, lba, n)) = self.target(unit, cmd == CMD_READ_VERIFY_EXT) {
                    self.set_tf_address(unit, addr, lba + n - 1);
                    self.set_tf_count(addr, 0);
                    self.complete(unit);
                }
            }
            _ if cmd & 0xF0 == CMD_RECALIBRATE => {
                let addr = if self.device & DEV_LBA != 0 {
                    Addr::Lba28
                } else {
                    Addr::Chs
                };
                self.set_tf_address(unit, addr, 0);
                self.complete(unit);
            }
            _ if cmd & 0xF0 == CMD_SEEK => {
                if self.target(unit, false).is_some() {
                    self.complete(unit);
                }
            }
            CMD_SET_MULTIPLE => {
                let n = self.count[0];
                if n > MAX_MULTIPLE || (n != 0 && !n.is_power_of_two()) {
                    self.abort(unit);
                } else {
                    self.disk_mut(unit).multiple = n;
                    self.complete(unit);
                }
            }
            CMD_INITIALIZE_PARAMETERS => {
                let heads = (self.device & 0x0F) + 1;
                let spt = self.count[0];
                if self.disk_mut(unit).set_translation(heads, spt) {
                    self.complete(unit);
                } else {
                    self.abort(unit);
                }
            }
            CMD_SET_FEATURES => self.set_features(unit),
            CMD_FLUSH_CACHE | CMD_FLUSH_CACHE_EXT => {
                if let Err(e) = self.disk_mut(unit).image.flush() {
                    self.warn(&format!("flushing the disk image failed: {e}"));
                    self.fail(unit, ABRT);
                    self.status[unit] |= DF;
                } else {
                    self.complete(unit);
                }
            }
            CMD_CHECK_POWER_MODE | CMD_CHECK_POWER_MODE_OLD => {
                // Always active or idle.
                self.count[0] = 0xFF;
                self.complete(unit);
            }
            CMD_STANDBY_IMMEDIATE
            | CMD_IDLE_IMMEDIATE
            | CMD_STANDBY
            | CMD_IDLE
            | CMD_SLEEP
            | CMD_STANDBY_IMMEDIATE_OLD
            | CMD_IDLE_IMMEDIATE_OLD
            | CMD_STANDBY_OLD
            | CMD_IDLE_OLD
            | CMD_SLEEP_OLD => self.complete(unit),
            CMD_IDENTIFY_PACKET => {
                // Not a packet device: abort and show the ATA signature so
                // the host knows what it is talking to.
                self.set_signature();
                self.abort(unit);
            }
            CMD_NOP | CMD_DEVICE_RESET | CMD_PACKET => self.abort(unit),
            _ => {
                self.warn(&format!("unsupported ATA command {cmd:#04x} aborted"));
                self.abort(unit);
            }
        }
    }

    fn set_features(&mut self, unit: usize) {
        let ok = match self.features[0] {
            FEAT_TRANSFER_MODE => {
                // PIO default (0x00, 0x01) or PIO mode 0–4 with flow
                // control (0x08–0x0C); no DMA mode is advertised.
                matches!(self.count[0], 0x00 | 0x01 | 0x08..=0x0C)
            }
            FEAT_WRITE_CACHE_ON | FEAT_WRITE_CACHE_OFF => {
                self.disk_mut(unit).write_cache = self.features[0] == FEAT_WRITE_CACHE_ON;
                true
            }
            FEAT_READ_AHEAD_ON | FEAT_READ_AHEAD_OFF | FEAT_REVERT_ON | FEAT_REVERT_OFF => true,
            _ => false,
        };
        if ok {
            self.complete(unit);
        } else {
            self.abort(unit);
        }
    }

    fn disk(&self, unit: usize) -> &AtaDisk {
        self.units[unit]
            .as_ref()
            .unwrap_or_else(|| unreachable!("commands run only on present units"))
    }

    fn disk_mut(&mut self, unit: usize) -> &mut AtaDisk {
        self.units[unit]
            .as_mut()
            .unwrap_or_else(|| unreachable!("commands run only on present units"))
    }

    /// The addressing, first sector and sector count of a media access
    /// command, checked against the disk; on failure the command has been
    /// ended with IDNF.
    fn target(&mut self, unit: usize, ext: bool) -> Option<(Addr, u64, u64)> {
        let (addr, lba, n) = if ext {
            let b = |r: [u8; 2]| (u64::from(r[1]) << 24) | u64::from(r[0]);
            let lba = b(self.lba[0]) | b(self.lba[1]) << 8 | b(self.lba[2]) << 16;
            let n = u64::from(self.count[1]) << 8 | u64::from(self.count[0]);
            (Addr::Lba48, lba, if n == 0 { 65536 } else { n })
        } else {
            let n = if self.count[0] == 0 {
                256
            } else {
                u64::from(self.count[0])
            };
            if self.device & DEV_LBA != 0 {
                let lba = u64::from(self.device & 0x0F) << 24
                    | u64::from(self.lba[2][0]) << 16
                    | u64::from(self.lba[1][0]) << 8
                    | u64::from(self.lba[0][0]);
                (Addr::Lba28, lba, n)
            } else {
                let c = u16::from(self.lba[2][0]) << 8 | u16::from(self.lba[1][0]);
                match self.disk(unit).chs_to_lba(c, self.device & 0x0F, self.lba[0][0]) {
                    Some(lba) => (Addr::Chs, lba, n),
                    None => {
                        self.fail(unit, IDNF);
                        return None;
                    }
                }
            }
        };
        if lba + n > self.disk(unit).sectors() {
            self.fail(unit, IDNF);
            return None;
        }
        Some((addr, lba, n))
    }

    fn start_rw(&mut self, unit: usize, kind: Kind, ext: bool, multiple: bool) {
        let block = if multiple {
            match self.disk(unit).multiple {
                0 => return self.abort(unit),
                m => u64::from(m),
            }
        } else {
            1
        };
        let Some((addr, lba, n)) = self.target(unit, ext) else {
            return;
        };
        self.start_pio(Xfer {
            unit,
            kind,
            addr,
            lba,
            remaining: n,
            block,
        });
    }

    /// Begin the data phase of `x` (for IDENTIFY, `self.buf` holds the
    /// data already).
    fn start_pio(&mut self, x: Xfer) {
        let (unit, kind) = (x.unit, x.kind);
        self.xfer = Some(x);
        match kind {
            Kind::Identify => {
                self.pos = 0;
                self.status[unit] = DRDY | DSC | DRQ;
                self.interrupt(unit);
            }
            Kind::Read => self.load_read_block(),
            // PIO data-out: the first block is asked for without an
            // interrupt (ATA-6, 9.8).
            Kind::Write => self.want_write_block(),
        }
    }

    /// Read the next DRQ block from the disk and offer it to the host.
    fn load_read_block(&mut self) {
        let Some(x) = self.xfer.as_ref() else {
            return;
        };
        let (unit, addr, lba) = (x.unit, x.addr, x.lba);
        let n = x.block.min(x.remaining);
        let mut buf = vec![0u8; n as usize * SECTOR];
        if let Err(e) = self.disk_mut(unit).image.read_sectors(lba, &mut buf) {
            self.warn(&format!("reading the disk image failed: {e}"));
            self.set_tf_address(unit, addr, lba);
            return self.fail(unit, UNC);
        }
        if let Some(x) = self.xfer.as_mut() {
            x.lba += n;
            x.remaining -= n;
        }
        self.set_tf_address(unit, addr, lba + n - 1);
        self.set_tf_count(addr, self.xfer.as_ref().map_or(0, |x| x.remaining));
        self.buf = buf;
        self.pos = 0;
        self.status[unit] = DRDY | DSC | DRQ;
        self.interrupt(unit);
    }

    /// Make room for the next DRQ block of a write.
    fn want_write_block(&mut self) {
        let Some(x) = self.xfer.as_ref() else {
            return;
        };
        let n = x.block.min(x.remaining);
        self.buf = vec![0u8; n as usize * SECTOR];
        self.pos = 0;
        self.status[x.unit] = DRDY | DSC | DRQ;
    }

    /// The host has moved a whole DRQ block.
    fn block_done(&mut self) {
        let Some(x) = self.xfer.as_ref() else {
            return;
        };
        let (unit, kind, addr, lba, left) = (x.unit, x.kind, x.addr, x.lba, x.remaining);
        match kind {
            Kind::Identify => {
                self.xfer = None;
                self.status[unit] = DRDY | DSC;
            }
            Kind::Read => {
                if left == 0 {
                    // The last block was read: no further interrupt.
                    self.xfer = None;
                    self.status[unit] = DRDY | DSC;
                } else {
                    self.load_read_block();
                }
            }
            Kind::Write => {
                let n = (self.buf.len() / SECTOR) as u64;
                let buf = std::mem::take(&mut self.buf);
                if let Err(e) = self.disk_mut(unit).image.write_sectors(lba, &buf) {
                    self.warn(&format!("writing the disk image failed: {e}"));
                    self.set_tf_address(unit, addr, lba);
                    self.fail(unit, ABRT);
                    self.status[unit] |= DF;
                    return;
                }
                let remaining = left - n;
                if let Some(x) = self.xfer.as_mut() {
                    x.lba += n;
                    x.remaining = remaining;
                }
                self.set_tf_address(unit, addr, lba + n - 1);
                self.set_tf_count(addr, remaining);
                if remaining == 0 {
                    self.xfer = None;
                    self.complete(unit);
                } else {
                    self.want_write_block();
                    self.interrupt(unit);
                }
            }
        }
    }

    /// Leave `lba` in the task file the way the command addressed it (the
    /// last sector transferred, or the one in error).
    fn set_tf_address(&mut self, unit: usize, addr: Addr, lba: u64) {
        match addr {
            Addr::Lba48 => {
                for (i, r) in self.lba.iter_mut().enumerate() {
                    *r = [(lba >> (8 * i)) as u8, (lba >> (24 + 8 * i)) as u8];
                }
            }
            Addr::Lba28 => {
                for (i, r) in self.lba.iter_mut().enumerate() {
                    r[0] = (lba >> (8 * i)) as u8;
                }
                self.device = (self.device & 0xF0) | ((lba >> 24) as u8 & 0x0F);
            }
            Addr::Chs => {
                let (c, h, s) = self.disk(unit).lba_to_chs(lba);
                self.lba[0][0] = s;
                self.lba[1][0] = c as u8;
                self.lba[2][0] = (c >> 8) as u8;
                self.device = (self.device & 0xF0) | (h & 0x0F);
            }
        }
    }

    fn set_tf_count(&mut self, addr: Addr, n: u64) {
        self.count[0] = n as u8;
        if addr == Addr::Lba48 {
            self.count[1] = (n >> 8) as u8;
        }
    }

    /// Back to the power-on state (a hardware reset of both devices).
    pub(super) fn reset(&mut self) {
        self.control = 0;
        self.xfer = None;
        self.pending = [false; 2];
        for d in self.units.iter_mut().flatten() {
            d.reset_translation();
            d.multiple = MAX_MULTIPLE;
        }
        self.finish_reset();
        self.update_irq();
    }
}
