//! The floppy disk controller: an Intel 82077AA in PC/AT mode at
//! 0x3F0–0x3F5 and 0x3F7, interrupting on IRQ 6 and moving data over 8237
//! DMA channel 2, with up to two 3.5"/5.25" drives.
//!
//! Implemented (82077AA datasheet, 290166): the digital output register
//! (reset, drive select, DMA/IRQ gate; motor bits are stored but drives spin
//! at once), main status, data-rate select (software reset, rate), the
//! configuration control and digital input registers (the disk-change line),
//! the command / execution / result phases of the FIFO, and the commands
//! SPECIFY, SENSE DRIVE STATUS, RECALIBRATE, SENSE INTERRUPT STATUS (with
//! the four post-reset polling interrupts), SEEK, RELATIVE SEEK, READ ID,
//! READ DATA, WRITE DATA, FORMAT TRACK, VERSION, DUMPREG, CONFIGURE
//! (implied seek), LOCK and PERPENDICULAR MODE. Transfers honour multi-track,
//! EOT, terminal count from the DMA controller, the data rate against the
//! media, the drive's head position against the sector ID, write protection,
//! and report ST0–ST2 and C, H, R, N as the datasheet's table of result
//! values prescribes. Non-DMA (PIO) mode, chosen with SPECIFY's ND bit,
//! transfers through the FIFO with an interrupt per byte.
//!
//! Commands complete as soon as they are issued (no seek, rotation or
//! transfer time). If DMA channel 2 is masked when a transfer starts, the
//! controller waits (as the real one would, with DRQ raised) and retries on
//! every later access to its ports. Not implemented: READ TRACK, VERIFY,
//! READ/WRITE DELETED DATA and the SCAN commands (they are rejected as
//! invalid), the PS/2 and Model 30 register modes (status registers A and B
//! read 0xFF as in AT mode), FIFO thresholds, the overrun condition,
//! non-standard formats (FORMAT TRACK writes only IDs that match the image's
//! geometry), and drives 2 and 3.

use crate::disk::{DataRate, DiskError, DiskImage, FloppyGeometry};
use crate::dma8237::{Dma8237, FLOPPY_CHANNEL};
use crate::irq::IrqLine;
use mem::{Port, PortDevice, Shared};

/// Status register A (PS/2 only), the base of the controller's ports.
pub const PORT_BASE: u16 = 0x3F0;
/// Digital output register.
const DOR: u16 = 0x3F2;
/// Tape drive register.
const TDR: u16 = 0x3F3;
/// Main status register (read) / data-rate select register (write).
const MSR_DSR: u16 = 0x3F4;
/// Data FIFO.
const FIFO: u16 = 0x3F5;
/// Digital input register (read) / configuration control register (write).
pub const PORT_DIR_CCR: u16 = 0x3F7;
/// The port ranges to claim: (first, count). 0x3F6 belongs to the primary
/// IDE channel.
pub const PORTS: &[(u16, u16)] = &[(PORT_BASE, 6), (PORT_DIR_CCR, 1)];
/// The ISA interrupt line.
pub const IRQ: u8 = 6;

// DOR bits.
const DOR_SELECT: u8 = 0x03;
const DOR_NRESET: u8 = 0x04;
const DOR_DMA_GATE: u8 = 0x08;

// MSR bits.
const MSR_RQM: u8 = 0x80;
const MSR_DIO: u8 = 0x40;
const MSR_NDM: u8 = 0x20;
const MSR_CB: u8 = 0x10;

// DSR bits.
const DSR_SW_RESET: u8 = 0x80;

// DIR bit 7: the selected drive's disk-change line.
const DIR_DSKCHG: u8 = 0x80;

// ST0.
const ST0_ABNORMAL: u8 = 0x40;
const ST0_INVALID: u8 = 0x80;
const ST0_READY_CHANGED: u8 = 0xC0;
const ST0_SEEK_END: u8 = 0x20;
const ST0_EQUIP_CHECK: u8 = 0x10;
// ST1.
const ST1_END_OF_CYL: u8 = 0x80;
const ST1_DATA_ERROR: u8 = 0x20;
const ST1_NO_DATA: u8 = 0x04;
const ST1_NOT_WRITABLE: u8 = 0x02;
const ST1_MISSING_AM: u8 = 0x01;
// ST2.
const ST2_DATA_ERROR: u8 = 0x20;
const ST2_WRONG_CYL: u8 = 0x10;
const ST2_BAD_CYL: u8 = 0x02;
// ST3 bits that read 1 on the 82077AA (ready, two-sided).
const ST3_FIXED: u8 = 0x28;
const ST3_TRACK0: u8 = 0x10;
const ST3_WRITE_PROTECTED: u8 = 0x40;

/// VERSION's answer: an enhanced controller (82077AA).
const VERSION_82077: u8 = 0x90;
/// CONFIGURE defaults: FIFO disabled, polling enabled, threshold 1.
const CONFIG_DEFAULT: u8 = 0x20;
const CONFIG_EIS: u8 = 0x40;
/// Furthest a drive's head goes.
const MAX_TRACK: u8 = 83;
/// Size code of a 512-byte sector.
const N_512: u8 = 2;

/// One command, by its opcode pattern (82077AA datasheet, table 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Specify,
    SenseDrive,
    Recalibrate,
    SenseInt,
    Dumpreg,
    Seek,
    RelativeSeek,
    Version,
    Perpendicular,
    Configure,
    Lock,
    Read,
    Write,
    ReadId,
    Format,
    Invalid,
}

impl Cmd {
    fn decode(b: u8) -> Self {
        match b {
            0x03 => Cmd::Specify,
            0x04 => Cmd::SenseDrive,
            0x07 => Cmd::Recalibrate,
            0x08 => Cmd::SenseInt,
            0x0E => Cmd::Dumpreg,
            0x0F => Cmd::Seek,
            0x10 => Cmd::Version,
            0x12 => Cmd::Perpendicular,
            0x13 => Cmd::Configure,
            0x14 | 0x94 => Cmd::Lock,
            _ if b & 0x1F == 0x06 => Cmd::Read,
            _ if b & 0x3F == 0x05 => Cmd::Write,
            _ if b & 0xBF == 0x0A => Cmd::ReadId,
            _ if b & 0xBF == 0x0D => Cmd::Format,
            _ if b & 0xBF == 0x8F => Cmd::RelativeSeek,
            _ => Cmd::Invalid,
        }
    }

    /// Command bytes including the opcode.
    fn len(self) -> usize {
        match self {
            Cmd::SenseInt | Cmd::Dumpreg | Cmd::Version | Cmd::Lock | Cmd::Invalid => 1,
            Cmd::SenseDrive | Cmd::Recalibrate | Cmd::Perpendicular | Cmd::ReadId => 2,
            Cmd::Specify | Cmd::Seek | Cmd::RelativeSeek => 3,
            Cmd::Configure => 4,
            Cmd::Format => 6,
            Cmd::Read | Cmd::Write => 9,
        }
    }
}

#[derive(Debug, Default)]
struct Drive {
    media: Option<(DiskImage, FloppyGeometry)>,
    /// A drive is cabled (it answers RECALIBRATE) once media was inserted.
    connected: bool,
    /// Physical head position.
    track: u8,
    /// The sector ID passing under the head next (for READ ID).
    next_sector: u8,
    /// The disk-change line: set at power-on and on media change, cleared
    /// by a step pulse with a disk in the drive.
    changed: bool,
}

impl Drive {
    fn step_to(&mut self, track: u8) {
        let t = track.min(MAX_TRACK);
        if self.media.is_some() {
            self.changed = false;
        }
        self.track = t;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Read,
    Write,
    Format,
}

/// A data command in its execution phase.
#[derive(Debug)]
struct Xfer {
    op: Op,
    mt: bool,
    ds: usize,
    hds: u8,
    c: u8,
    h: u8,
    r: u8,
    n: u8,
    eot: u8,
    /// FORMAT: sectors still to format and the fill byte.
    fmt_left: u8,
    filler: u8,
    /// PIO mode: the sector (or ID) being moved through the FIFO.
    buf: Vec<u8>,
    pos: usize,
    /// PIO mode: `buf` holds data ready for the host (or room for it).
    loaded: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a command byte.
    Idle,
    /// Collecting command bytes.
    Command,
    /// Executing a data command.
    Execution,
    /// Result bytes to read.
    Result,
}

/// What a finished sector loop ends with.
enum End {
    /// Terminal count or end of a FORMAT.
    Normal,
    /// EOT reached without terminal count.
    EndOfCylinder,
}

/// The floppy controller and its two drives.
#[derive(Debug)]
pub struct Fdc {
    irq: IrqLine,
    dma: Shared<Dma8237>,
    drives: [Drive; 2],
    dor: u8,
    tdr: u8,
    rate: DataRate,
    phase: Phase,
    cmd: Vec<u8>,
    result: Vec<u8>,
    result_pos: usize,
    xfer: Option<Xfer>,
    int_pending: bool,
    irq_level: bool,
    /// SENSE INTERRUPT answers still owed after a reset (polling).
    reset_sense: u8,
    /// Seek/recalibrate completion status per drive, for SENSE INTERRUPT.
    seek_status: [Option<u8>; 4],
    /// The controller's present-cylinder registers.
    pcn: [u8; 4],
    specify: [u8; 2],
    config: u8,
    pretrk: u8,
    locked: bool,
    perpendicular: u8,
    last_eot: u8,
    warned: bool,
}

impl Fdc {
    /// A controller interrupting on `irq` and transferring over channel 2
    /// of `dma`, with no drives, in the power-on state (held in reset until
    /// the guest sets DOR bit 2).
    pub fn new(irq: IrqLine, dma: Shared<Dma8237>) -> Self {
        Self {
            irq,
            dma,
            drives: [Drive::default(), Drive::default()],
            dor: 0,
            tdr: 0,
            rate: DataRate::K500,
            phase: Phase::Idle,
            cmd: Vec::new(),
            result: Vec::new(),
            result_pos: 0,
            xfer: None,
            int_pending: false,
            irq_level: false,
            reset_sense: 0,
            seek_status: [None; 4],
            pcn: [0; 4],
            specify: [0; 2],
            config: CONFIG_DEFAULT,
            pretrk: 0,
            locked: false,
            perpendicular: 0,
            last_eot: 0,
            warned: false,
        }
    }

    /// Put `image` in drive `unit` (0 = A:, 1 = B:). The drive counts as
    /// installed from then on, and its disk-change line is raised.
    ///
    /// # Errors
    /// The image size is no floppy format.
    pub fn insert(&mut self, unit: usize, image: DiskImage) -> Result<(), DiskError> {
        let g = image.floppy_geometry()?;
        let d = &mut self.drives[unit & 1];
        d.media = Some((image, g));
        d.connected = true;
        d.changed = true;
        d.next_sector = 1;
        Ok(())
    }

    /// Take the disk out of drive `unit`, raising its disk-change line.
    pub fn eject(&mut self, unit: usize) -> Option<DiskImage> {
        let d = &mut self.drives[unit & 1];
        d.changed = true;
        d.media.take().map(|(img, _)| img)
    }

    /// The format of the disk in drive `unit`.
    pub fn geometry(&self, unit: usize) -> Option<FloppyGeometry> {
        self.drives[unit & 1].media.as_ref().map(|(_, g)| *g)
    }

    /// The value for CMOS register 0x10: drive A's type in the high nibble,
    /// drive B's in the low (0 = none).
    pub fn cmos_drive_types(&self) -> u8 {
        let t = |u: usize| self.geometry(u).map_or(0, |g| g.cmos_type);
        t(0) << 4 | t(1)
    }

    /// A hardware reset (the machine's reset line): DOR cleared, which
    /// holds the controller in reset until the guest releases it. Drives
    /// keep their heads and disks.
    pub fn hardware_reset(&mut self) {
        self.dor = 0;
        self.tdr = 0;
        self.rate = DataRate::K500;
        self.locked = false;
        self.specify = [0; 2];
        self.reset();
    }

    /// Make written data durable.
    pub fn flush(&mut self) {
        for d in &mut self.drives {
            if let Some((img, _)) = &mut d.media {
                if let Err(e) = img.flush() {
                    eprintln!("strachey: floppy: could not flush {}: {e}", img.path().display());
                }
            }
        }
    }

    fn warn(&mut self, msg: &str) {
        if !self.warned {
            self.warned = true;
            eprintln!("strachey: floppy: {msg} (further floppy warnings suppressed)");
        }
    }

    fn in_reset(&self) -> bool {
        self.dor & DOR_NRESET == 0
    }

    fn non_dma(&self) -> bool {
        self.specify[1] & 1 != 0
    }

    fn update_irq(&mut self) {
        let level = self.int_pending && self.dor & DOR_DMA_GATE != 0 && !self.in_reset();
        if level != self.irq_level {
            self.irq_level = level;
            self.irq.set(level);
        }
    }

    fn set_int(&mut self, on: bool) {
        self.int_pending = on;
        self.update_irq();
    }

    /// Controller reset (DOR bit 2 low, or DSR bit 7): back to idle, with
    /// the present-cylinder registers and the unlocked CONFIGURE state
    /// cleared (82077AA datasheet, 5.3 "Reset").
    fn reset(&mut self) {
        self.phase = Phase::Idle;
        self.cmd.clear();
        self.result.clear();
        self.xfer = None;
        self.seek_status = [None; 4];
        self.pcn = [0; 4];
        self.reset_sense = 0;
        self.perpendicular &= 0x3C; // the drive bits survive, GAP/WGATE do not
        if !self.locked {
            self.config = CONFIG_DEFAULT;
            self.pretrk = 0;
        } else {
            self.config &= !CONFIG_EIS;
        }
        self.set_int(false);
    }

    /// Leaving reset with polling enabled: "ready changed" for all four
    /// drives, one SENSE INTERRUPT each.
    fn leave_reset(&mut self) {
        self.reset_sense = 4;
        self.set_int(true);
    }

    fn msr(&mut self) -> u8 {
        if self.in_reset() {
            return 0;
        }
        self.pump();
        match self.phase {
            Phase::Idle | Phase::Command => MSR_RQM | if self.phase == Phase::Command { MSR_CB } else { 0 },
            Phase::Result => MSR_RQM | MSR_DIO | MSR_CB,
            Phase::Execution => match &self.xfer {
                Some(x) if self.non_dma() && x.loaded => {
                    let dio = if x.op == Op::Read { MSR_DIO } else { 0 };
                    MSR_RQM | MSR_NDM | MSR_CB | dio
                }
                Some(_) if self.non_dma() => MSR_NDM | MSR_CB,
                _ => MSR_CB,
            },
        }
    }

    fn dir(&self) -> u8 {
        match self.drives.get(usize::from(self.dor & DOR_SELECT)) {
            Some(d) if !d.changed && d.media.is_some() => 0,
            _ => DIR_DSKCHG,
        }
    }

    fn write_fifo(&mut self, v: u8) {
        if self.in_reset() {
            return;
        }
        match self.phase {
            Phase::Idle => {
                self.cmd.clear();
                self.cmd.push(v);
                self.phase = Phase::Command;
                // Any other command gives up the post-reset polling
                // statuses not yet sensed.
                if Cmd::decode(v) != Cmd::SenseInt && self.reset_sense > 0 {
                    self.reset_sense = 0;
                    self.set_int(self.seek_status.iter().any(Option::is_some));
                }
            }
            Phase::Command => self.cmd.push(v),
            Phase::Execution => {
                self.pio_write(v);
                return;
            }
            Phase::Result => {
                self.warn("command byte written while results were pending; ignored");
                return;
            }
        }
        let cmd = Cmd::decode(self.cmd[0]);
        if self.cmd.len() >= cmd.len() {
            self.execute(cmd);
        }
    }

    fn read_fifo(&mut self) -> u8 {
        if self.in_reset() {
            return 0;
        }
        match self.phase {
            Phase::Result => {
                if self.result_pos == 0 {
                    // Reading the first result byte clears the interrupt.
                    self.set_int(false);
                }
                let b = self.result.get(self.result_pos).copied().unwrap_or(0);
                self.result_pos += 1;
                if self.result_pos >= self.result.len() {
                    self.phase = Phase::Idle;
                    self.result.clear();
                }
                b
            }
            Phase::Execution => self.pio_read(),
            _ => 0,
        }
    }

    fn results(&mut self, bytes: &[u8], interrupt: bool) {
        self.result.clear();
        self.result.extend_from_slice(bytes);
        self.result_pos = 0;
        self.phase = if bytes.is_empty() {
            Phase::Idle
        } else {
            Phase::Result
        };
        if interrupt {
            self.set_int(true);
        }
    }

    fn execute(&mut self, cmd: Cmd) {
        let c = std::mem::take(&mut self.cmd);
        let ds = usize::from(c.get(1).copied().unwrap_or(0) & 3);
        match cmd {
            Cmd::Invalid => {
                self.warn(&format!("unsupported command {:#04x}", c[0]));
                self.results(&[ST0_INVALID], false);
            }
            Cmd::Specify => {
                self.specify = [c[1], c[2]];
                self.results(&[], false);
            }
            Cmd::SenseDrive => {
                let hds = (c[1] >> 2) & 1;
                let mut st3 = ST3_FIXED | hds << 2 | ds as u8;
                if let Some(d) = self.drives.get(ds) {
                    if d.track == 0 {
                        st3 |= ST3_TRACK0;
                    }
                    if d.media.as_ref().is_none_or(|(img, _)| img.is_read_only()) {
                        st3 |= ST3_WRITE_PROTECTED;
                    }
                }
                self.results(&[st3], false);
            }
            Cmd::Recalibrate => {
                let mut st0 = ST0_SEEK_END | ds as u8;
                match self.drives.get_mut(ds) {
                    Some(d) if d.connected => d.step_to(0),
                    // No track-0 signal after the maximum number of steps.
                    _ => st0 |= ST0_ABNORMAL | ST0_EQUIP_CHECK,
                }
                self.pcn[ds] = 0;
                self.seek_done(ds, st0);
            }
            Cmd::Seek | Cmd::RelativeSeek => {
                let hds = (c[1] >> 2) & 1;
                let target = if cmd == Cmd::Seek {
                    c[2]
                } else if c[0] & 0x40 != 0 {
                    self.pcn[ds].saturating_add(c[2])
                } else {
                    self.pcn[ds].saturating_sub(c[2])
                };
                let steps = i16::from(target) - i16::from(self.pcn[ds]);
                if let Some(d) = self.drives.get_mut(ds) {
                    if steps != 0 {
                        let t = (i16::from(d.track) + steps).clamp(0, i16::from(MAX_TRACK));
                        d.step_to(t as u8);
                    }
                }
                self.pcn[ds] = target;
                self.seek_done(ds, ST0_SEEK_END | hds << 2 | ds as u8);
            }
            Cmd::SenseInt => {
                if self.reset_sense > 0 {
                    let d = 4 - self.reset_sense;
                    self.reset_sense -= 1;
                    let pcn = self.pcn[usize::from(d)];
                    self.set_int(false);
                    self.results(&[ST0_READY_CHANGED | d, pcn], false);
                } else if let Some(d) = self.seek_status.iter().position(Option::is_some) {
                    let st0 = self.seek_status[d].take().unwrap_or(0);
                    self.set_int(false);
                    self.results(&[st0, self.pcn[d]], false);
                } else {
                    self.results(&[ST0_INVALID], false);
                }
            }
            Cmd::Version => self.results(&[VERSION_82077], false),
            Cmd::Dumpreg => {
                let p = self.pcn;
                let r = [
                    p[0],
                    p[1],
                    p[2],
                    p[3],
                    self.specify[0],
                    self.specify[1],
                    self.last_eot,
                    u8::from(self.locked) << 7 | self.perpendicular & 0x3F,
                    self.config,
                    self.pretrk,
                ];
                self.results(&r, false);
            }
            Cmd::Configure => {
                self.config = c[2] & 0x7F;
                self.pretrk = c[3];
                self.results(&[], false);
            }
            Cmd::Lock => {
                self.locked = c[0] & 0x80 != 0;
                self.results(&[u8::from(self.locked) << 4], false);
            }
            Cmd::Perpendicular => {
                // OW (bit 7) gates whether the drive bits are updated.
                if c[1] & 0x80 != 0 {
                    self.perpendicular = c[1] & 0x3F;
                } else {
                    self.perpendicular = (self.perpendicular & 0x3C) | (c[1] & 0x03);
                }
                self.results(&[], false);
            }
            Cmd::ReadId => self.read_id(ds, (c[1] >> 2) & 1),
            Cmd::Read | Cmd::Write => {
                self.last_eot = c[6];
                let x = Xfer {
                    op: if cmd == Cmd::Read { Op::Read } else { Op::Write },
                    mt: c[0] & 0x80 != 0,
                    ds,
                    hds: (c[1] >> 2) & 1,
                    c: c[2],
                    h: c[3],
                    r: c[4],
                    n: c[5],
                    eot: c[6],
                    fmt_left: 0,
                    filler: 0,
                    buf: Vec::new(),
                    pos: 0,
                    loaded: false,
                };
                self.start(x);
            }
            Cmd::Format => {
                let x = Xfer {
                    op: Op::Format,
                    mt: false,
                    ds,
                    hds: (c[1] >> 2) & 1,
                    c: 0,
                    h: 0,
                    r: 0,
                    n: c[2],
                    eot: c[3],
                    fmt_left: c[3],
                    filler: c[5],
                    buf: Vec::new(),
                    pos: 0,
                    loaded: false,
                };
                self.start(x);
            }
        }
    }

    fn seek_done(&mut self, ds: usize, st0: u8) {
        self.seek_status[ds] = Some(st0);
        self.results(&[], true);
    }

    /// The drive and its media, if it can be read at the current rate and
    /// head position; otherwise the ST1 bits of the failure (no address
    /// mark: nothing readable passes under the head).
    fn readable(&self, ds: usize, hds: u8) -> Result<FloppyGeometry, u8> {
        let d = self.drives.get(ds).ok_or(ST1_MISSING_AM)?;
        let (_, g) = d.media.as_ref().ok_or(ST1_MISSING_AM)?;
        if !g.readable_at(self.rate) || d.track >= g.cylinders || hds >= g.heads {
            return Err(ST1_MISSING_AM);
        }
        Ok(*g)
    }

    fn read_id(&mut self, ds: usize, hds: u8) {
        let st0_base = hds << 2 | ds as u8;
        match self.readable(ds, hds) {
            Ok(g) => {
                let d = &mut self.drives[ds];
                let r = d.next_sector.clamp(1, g.sectors);
                d.next_sector = r % g.sectors + 1;
                let track = d.track;
                self.results(&[st0_base, 0, 0, track, hds, r, N_512], true);
            }
            Err(st1) => self.results(&[ST0_ABNORMAL | st0_base, st1, 0, 0, hds, 1, N_512], true),
        }
    }

    fn start(&mut self, x: Xfer) {
        let (ds, hds) = (x.ds, x.hds);
        if self.config & CONFIG_EIS != 0 && x.op != Op::Format {
            // Implied seek (CONFIGURE EIS): seek to the command's cylinder.
            if let Some(d) = self.drives.get_mut(ds) {
                if d.track != x.c {
                    d.step_to(x.c);
                }
            }
            self.pcn[ds] = x.c;
        }
        if let Err(st1) = self.readable(ds, hds) {
            self.finish_err(&x, st1, 0);
            return;
        }
        if x.op != Op::Read
            && self.drives[ds]
                .media
                .as_ref()
                .is_some_and(|(img, _)| img.is_read_only())
        {
            self.finish_err(&x, ST1_NOT_WRITABLE, 0);
            return;
        }
        self.xfer = Some(x);
        self.phase = Phase::Execution;
        self.pump();
    }

    fn finish(&mut self, x: &Xfer, st0_ic: u8, st1: u8, st2: u8) {
        let st0 = st0_ic | x.hds << 2 | x.ds as u8;
        self.xfer = None;
        self.results(&[st0, st1, st2, x.c, x.h, x.r, x.n], true);
    }

    fn finish_err(&mut self, x: &Xfer, st1: u8, st2: u8) {
        self.finish(x, ST0_ABNORMAL, st1, st2);
    }

    /// The image offset of the sector the transfer addresses next, or the
    /// ST1/ST2 bits of why no such sector is found on the track.
    fn locate(&self, x: &Xfer) -> Result<u64, (u8, u8)> {
        let g = self.readable(x.ds, x.hds).map_err(|st1| (st1, 0))?;
        let track = self.drives[x.ds].track;
        if x.c != track {
            let st2 = if x.c == 0xFF { ST2_BAD_CYL } else { ST2_WRONG_CYL };
            return Err((ST1_NO_DATA, st2));
        }
        if x.h != x.hds || x.r == 0 || x.r > g.sectors || x.n != N_512 {
            return Err((ST1_NO_DATA, 0));
        }
        let lba = (u64::from(track) * u64::from(g.heads) + u64::from(x.hds)) * u64::from(g.sectors)
            + u64::from(x.r - 1);
        Ok(lba * 512)
    }

    /// Advance past a finished sector. `tc`: the DMA controller signalled
    /// terminal count. Returns how the command ends, or None to go on.
    /// The ID left in `x` is what the result phase reports (82077AA
    /// datasheet, table "Result phase values after termination").
    fn next_sector(&mut self, x: &mut Xfer, tc: bool) -> Option<End> {
        let spt = self.readable(x.ds, x.hds).map_or(1, |g| g.sectors);
        self.drives[x.ds].next_sector = x.r % spt + 1;
        let at_eot = x.r == x.eot;
        if !at_eot {
            x.r = x.r.wrapping_add(1);
            return tc.then_some(End::Normal);
        }
        x.r = 1;
        if x.mt && x.hds == 0 {
            // On to side 1 of the same cylinder (ST0 keeps the head of the
            // last sector transferred if the command ends here).
            x.h ^= 1;
            if tc {
                return Some(End::Normal);
            }
            x.hds = 1;
            return None;
        }
        if x.mt {
            x.h ^= 1;
        }
        x.c = x.c.wrapping_add(1);
        Some(if tc { End::Normal } else { End::EndOfCylinder })
    }

    fn end(&mut self, x: &Xfer, end: End) {
        match end {
            End::Normal => self.finish(x, 0, 0, 0),
            End::EndOfCylinder => self.finish_err(x, ST1_END_OF_CYL, 0),
        }
    }

    fn image(&mut self, ds: usize) -> Option<&mut DiskImage> {
        self.drives[ds].media.as_mut().map(|(img, _)| img)
    }

    /// Run the execution phase as far as it can go now.
    fn pump(&mut self) {
        if self.phase != Phase::Execution {
            return;
        }
        let Some(mut x) = self.xfer.take() else {
            return;
        };
        if self.non_dma() {
            self.pio_load(x);
            return;
        }
        loop {
            let ready = self.dor & DOR_DMA_GATE != 0 && self.dma.borrow().channel_ready(FLOPPY_CHANNEL);
            if !ready {
                self.xfer = Some(x);
                return;
            }
            if x.op == Op::Format {
                let mut id = [0u8; 4];
                let t = self.dma.borrow_mut().read_memory(FLOPPY_CHANNEL, &mut id);
                self.format_sector(&x, id);
                x.fmt_left = x.fmt_left.saturating_sub(1);
                x.c = id[0];
                x.h = id[1];
                x.r = id[2];
                x.n = id[3];
                if x.fmt_left == 0 || t.terminal_count {
                    self.finish(&x, 0, 0, 0);
                    return;
                }
                continue;
            }
            let off = match self.locate(&x) {
                Ok(o) => o,
                Err((st1, st2)) => {
                    self.finish_err(&x, st1, st2);
                    return;
                }
            };
            let mut sector = [0u8; 512];
            let tc = if x.op == Op::Read {
                if self
                    .image(x.ds)
                    .is_none_or(|img| img.read_at(off, &mut sector).is_err())
                {
                    self.finish_err(&x, ST1_DATA_ERROR, ST2_DATA_ERROR);
                    return;
                }
                self.dma
                    .borrow_mut()
                    .write_memory(FLOPPY_CHANNEL, &sector)
                    .terminal_count
            } else {
                // A write cut short by terminal count pads the sector with
                // zeros.
                let t = self.dma.borrow_mut().read_memory(FLOPPY_CHANNEL, &mut sector);
                sector[t.bytes..].fill(0);
                if self
                    .image(x.ds)
                    .is_none_or(|img| img.write_at(off, &sector).is_err())
                {
                    self.finish_err(&x, ST1_DATA_ERROR, 0);
                    return;
                }
                t.terminal_count
            };
            if let Some(end) = self.next_sector(&mut x, tc) {
                self.end(&x, end);
                return;
            }
        }
    }

    /// FORMAT TRACK: fill the sector whose ID the host supplied.
    fn format_sector(&mut self, x: &Xfer, id: [u8; 4]) {
        let probe = Xfer {
            op: Op::Format,
            mt: false,
            ds: x.ds,
            hds: x.hds,
            c: id[0],
            h: id[1],
            r: id[2],
            n: id[3],
            eot: 0,
            fmt_left: 0,
            filler: 0,
            buf: Vec::new(),
            pos: 0,
            loaded: false,
        };
        match self.locate(&probe) {
            Ok(off) => {
                let fill = [x.filler; 512];
                if let Some(img) = self.image(x.ds) {
                    if img.write_at(off, &fill).is_err() {
                        self.warn("FORMAT TRACK could not write the image");
                    }
                }
            }
            Err(_) => self.warn(&format!(
                "FORMAT TRACK with sector ID {id:02x?} that the image's geometry cannot hold; ignored"
            )),
        }
    }

    /// Non-DMA mode: get the next sector (or ID slot) ready in the FIFO.
    fn pio_load(&mut self, mut x: Xfer) {
        if !x.loaded {
            match x.op {
                Op::Format => x.buf = vec![0; 4],
                Op::Write => x.buf = vec![0; 512],
                Op::Read => {
                    let off = match self.locate(&x) {
                        Ok(o) => o,
                        Err((st1, st2)) => return self.finish_err(&x, st1, st2),
                    };
                    let mut s = vec![0u8; 512];
                    if self
                        .image(x.ds)
                        .is_none_or(|img| img.read_at(off, &mut s).is_err())
                    {
                        return self.finish_err(&x, ST1_DATA_ERROR, ST2_DATA_ERROR);
                    }
                    x.buf = s;
                }
            }
            if x.op == Op::Write {
                if let Err((st1, st2)) = self.locate(&x) {
                    return self.finish_err(&x, st1, st2);
                }
            }
            x.pos = 0;
            x.loaded = true;
            // In non-DMA mode INT signals each byte the FIFO wants moved.
            self.set_int(false);
            self.set_int(true);
        }
        self.xfer = Some(x);
    }

    fn pio_read(&mut self) -> u8 {
        self.pump();
        let non_dma = self.non_dma();
        let Some(x) = self.xfer.as_mut() else {
            return 0;
        };
        if !non_dma || x.op != Op::Read || !x.loaded {
            return 0;
        }
        let b = x.buf[x.pos];
        x.pos += 1;
        if x.pos < x.buf.len() {
            self.set_int(false);
            self.set_int(true);
            return b;
        }
        let mut x = self.xfer.take().unwrap_or_else(|| unreachable!());
        x.loaded = false;
        match self.next_sector(&mut x, false) {
            Some(end) => self.end(&x, end),
            None => {
                self.xfer = Some(x);
                self.pump();
            }
        }
        b
    }

    fn pio_write(&mut self, v: u8) {
        self.pump();
        let non_dma = self.non_dma();
        let Some(x) = self.xfer.as_mut() else {
            return;
        };
        if !non_dma || x.op == Op::Read || !x.loaded {
            return;
        }
        x.buf[x.pos] = v;
        x.pos += 1;
        if x.pos < x.buf.len() {
            self.set_int(false);
            self.set_int(true);
            return;
        }
        let mut x = self.xfer.take().unwrap_or_else(|| unreachable!());
        x.loaded = false;
        if x.op == Op::Format {
            let id = [x.buf[0], x.buf[1], x.buf[2], x.buf[3]];
            self.format_sector(&x, id);
            x.fmt_left = x.fmt_left.saturating_sub(1);
            (x.c, x.h, x.r, x.n) = (id[0], id[1], id[2], id[3]);
            if x.fmt_left == 0 {
                return self.finish(&x, 0, 0, 0);
            }
        } else {
            let written = self
                .locate(&x)
                .ok()
                .and_then(|off| self.image(x.ds).map(|img| img.write_at(off, &x.buf).is_ok()));
            if written != Some(true) {
                return self.finish_err(&x, ST1_DATA_ERROR, 0);
            }
            if let Some(end) = self.next_sector(&mut x, false) {
                return self.end(&x, end);
            }
        }
        self.xfer = Some(x);
        self.pump();
    }
}

impl PortDevice for Fdc {
    fn read(&mut self, port: Port, data: &mut [u8]) {
        for (k, b) in data.iter_mut().enumerate() {
            *b = match port.0.wrapping_add(k as u16) {
                DOR => self.dor,
                TDR => self.tdr & 3,
                MSR_DSR => self.msr(),
                FIFO => self.read_fifo(),
                PORT_DIR_CCR => self.dir(),
                // Status registers A and B exist only in PS/2 modes.
                _ => 0xFF,
            };
        }
    }

    fn write(&mut self, port: Port, data: &[u8]) {
        for (k, &v) in data.iter().enumerate() {
            match port.0.wrapping_add(k as u16) {
                DOR => {
                    let was_reset = self.in_reset();
                    self.dor = v;
                    if !was_reset && self.in_reset() {
                        self.reset();
                    } else if was_reset && !self.in_reset() {
                        self.leave_reset();
                    }
                    self.update_irq();
                    self.pump();
                }
                TDR => self.tdr = v,
                MSR_DSR => {
                    self.rate = rate_from(v);
                    if v & DSR_SW_RESET != 0 && !self.in_reset() {
                        self.reset();
                        self.leave_reset();
                    }
                }
                FIFO => self.write_fifo(v),
                PORT_DIR_CCR => self.rate = rate_from(v),
                _ => {}
            }
        }
    }
}

fn rate_from(v: u8) -> DataRate {
    match v & 3 {
        0 => DataRate::K500,
        1 => DataRate::K300,
        2 => DataRate::K250,
        _ => DataRate::M1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::DiskMode;
    use crate::irq::IrqSink;
    use mem::{PhysAddr, PhysMemory};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Records the level of each interrupt line.
    #[derive(Default)]
    struct Levels(Vec<bool>);
    impl IrqSink for Levels {
        fn set_irq(&mut self, line: u8, level: bool) {
            assert_eq!(line, IRQ);
            self.0.push(level);
        }
    }

    struct Rig {
        mem: PhysMemory,
        dma: Shared<Dma8237>,
        fdc: Fdc,
        irq: Rc<RefCell<Levels>>,
    }

    /// Sector `lba` of the test image starts with its number.
    fn image(size: usize) -> Vec<u8> {
        let mut v = vec![0u8; size];
        for (lba, s) in v.chunks_mut(512).enumerate() {
            s[..4].copy_from_slice(&(lba as u32).to_le_bytes());
            s[4..].fill(lba as u8 ^ 0x5A);
        }
        v
    }

    fn sector(lba: u32) -> Vec<u8> {
        image((lba as usize + 1) * 512)[lba as usize * 512..].to_vec()
    }

    impl Rig {
        fn new(mode: DiskMode) -> Self {
            let mem = PhysMemory::new(2).unwrap();
            let dma = Rc::new(RefCell::new(Dma8237::new(mem.dma())));
            let irq = Rc::new(RefCell::new(Levels::default()));
            let mut fdc = Fdc::new(IrqLine::new(irq.clone(), IRQ), dma.clone());
            fdc.insert(0, DiskImage::from_bytes("a.img", image(1_474_560), mode))
                .unwrap();
            Rig { mem, dma, fdc, irq }
        }
        fn out(&mut self, port: u16, v: u8) {
            self.fdc.write(Port(port), &[v]);
        }
        fn inb(&mut self, port: u16) -> u8 {
            let mut b = [0];
            self.fdc.read(Port(port), &mut b);
            b[0]
        }
        fn irq(&self) -> bool {
            self.irq.borrow().0.last().copied().unwrap_or(false)
        }
        /// SeaBIOS's `floppy_pio`: each byte only when MSR says RQM and
        /// not DIO; then the results while MSR says RQM and DIO.
        fn command(&mut self, bytes: &[u8]) {
            for &b in bytes {
                assert_eq!(
                    self.inb(MSR_DSR) & (MSR_RQM | MSR_DIO),
                    MSR_RQM,
                    "ready for {b:#x}"
                );
                self.out(FIFO, b);
            }
        }
        fn results(&mut self) -> Vec<u8> {
            let mut r = Vec::new();
            while self.inb(MSR_DSR) & (MSR_RQM | MSR_DIO) == MSR_RQM | MSR_DIO {
                r.push(self.inb(FIFO));
                assert!(r.len() <= 16);
            }
            assert_eq!(self.inb(MSR_DSR), MSR_RQM, "idle after the results");
            r
        }
        fn dma_setup(&mut self, addr: u32, count: u16, mode: u8) {
            let mut d = self.dma.borrow_mut();
            for (p, v) in [
                (0x0A, 0x06),
                (0x0C, 0),
                (0x04, addr as u8),
                (0x04, (addr >> 8) as u8),
                (0x0C, 0),
                (0x05, (count - 1) as u8),
                (0x05, ((count - 1) >> 8) as u8),
                (0x0B, mode),
                (0x81, (addr >> 16) as u8),
                (0x0A, 0x02),
            ] {
                d.write(Port(p), &[v]);
            }
        }
        /// SEABIOS.md §7: reset, four SENSE INTERRUPTs, recalibrate.
        fn bring_up(&mut self) {
            self.out(DOR, 0x08);
            assert!(!self.irq());
            self.out(DOR, 0x0C);
            assert!(self.irq(), "leaving reset interrupts");
            for d in 0..4 {
                self.command(&[0x08]);
                assert_eq!(self.results(), vec![0xC0 | d, 0]);
                assert!(!self.irq());
            }
            self.out(DOR, 0x1C);
            self.command(&[0x07, 0x00]);
            assert!(self.irq());
            assert_eq!(self.inb(MSR_DSR), MSR_RQM, "no result phase after RECALIBRATE");
            self.command(&[0x08]);
            assert_eq!(self.results(), vec![0x20, 0]);
            assert!(!self.irq());
        }
        fn read_mem(&mut self, addr: u64, n: usize) -> Vec<u8> {
            let mut v = vec![0; n];
            self.mem.read(PhysAddr(addr), &mut v);
            v
        }
    }

    #[test]
    fn seabios_boot_sector_read() {
        let mut r = Rig::new(DiskMode::Snapshot);
        assert_eq!(r.fdc.cmos_drive_types(), 0x40);
        r.bring_up();
        r.out(PORT_DIR_CCR, 0);
        r.command(&[0x4A, 0x00]);
        assert!(r.irq());
        assert_eq!(r.results(), vec![0, 0, 0, 0, 0, 1, 2]);
        assert!(!r.irq(), "reading the result clears the interrupt");
        r.command(&[0x03, 0xAF, 0x02]);
        assert_eq!(r.inb(MSR_DSR), MSR_RQM);
        r.dma_setup(0x7C00, 512, 0x46);
        r.command(&[0xE6, 0x00, 0x00, 0x00, 0x01, 0x02, 0x01, 0x1B, 0xFF]);
        assert!(r.irq());
        // TC at EOT of side 0 with MT: next ID is side 1, sector 1.
        assert_eq!(r.results(), vec![0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02]);
        assert_eq!(r.read_mem(0x7C00, 512), sector(0));
        assert_eq!(r.dma.borrow_mut().read_le_status() & 0x04, 0x04);
    }

    impl Dma8237 {
        fn read_le_status(&mut self) -> u8 {
            let mut b = [0];
            self.read(Port(0x08), &mut b);
            b[0]
        }
    }

    #[test]
    fn multitrack_read_across_sides() {
        let mut r = Rig::new(DiskMode::Snapshot);
        r.bring_up();
        r.command(&[0x0F, 0x00, 0x02]);
        r.command(&[0x08]);
        assert_eq!(r.results(), vec![0x20, 2]);
        // C2 H0 R17..18, then C2 H1 R1..2: four sectors, TC ends it.
        r.dma_setup(0x10000, 4 * 512, 0x46);
        r.command(&[0xE6, 0x00, 2, 0, 17, 2, 18, 0x1B, 0xFF]);
        assert_eq!(r.results(), vec![0x04, 0, 0, 2, 1, 3, 2]);
        let first = (2 * 2) * 18 + 16;
        for i in 0..2u32 {
            assert_eq!(r.read_mem(0x10000 + 512 * u64::from(i), 512), sector(first + i));
        }
        let side1 = (2 * 2 + 1) * 18;
        for i in 0..2u32 {
            assert_eq!(r.read_mem(0x10400 + 512 * u64::from(i), 512), sector(side1 + i));
        }
    }

    #[test]
    fn eot_without_terminal_count_is_end_of_cylinder() {
        let mut r = Rig::new(DiskMode::Snapshot);
        r.bring_up();
        r.dma_setup(0x20000, 8 * 512, 0x46);
        // No MT: reads R1..R2 of side 0 and stops at EOT without TC.
        r.command(&[0x46, 0x00, 0, 0, 1, 2, 2, 0x1B, 0xFF]);
        assert_eq!(r.results(), vec![0x40, 0x80, 0, 1, 0, 1, 2]);
        assert_eq!(r.read_mem(0x20200, 512), sector(1));
    }

    #[test]
    fn wrong_cylinder_missing_sector_and_rate() {
        let mut r = Rig::new(DiskMode::Snapshot);
        r.bring_up();
        r.dma_setup(0x20000, 512, 0x46);
        // The head is on cylinder 0: an ID asking for cylinder 3 is not found.
        r.command(&[0x46, 0x00, 3, 0, 1, 2, 1, 0x1B, 0xFF]);
        assert_eq!(r.results(), vec![0x40, 0x04, 0x10, 3, 0, 1, 2]);
        // Sector 19 does not exist on a 1.44 MB track.
        r.command(&[0x46, 0x00, 0, 0, 19, 2, 19, 0x1B, 0xFF]);
        assert_eq!(r.results()[..3], [0x40, 0x04, 0x00]);
        // At 250 kbit/s nothing on HD media can be read.
        r.out(PORT_DIR_CCR, 2);
        r.command(&[0x4A, 0x00]);
        assert_eq!(r.results()[..3], [0x40, 0x01, 0x00]);
        // Implied seek (CONFIGURE EIS) finds cylinder 3 by itself.
        r.out(PORT_DIR_CCR, 0);
        r.command(&[0x13, 0x00, 0x40 | 0x20, 0x00]);
        r.dma_setup(0x20000, 512, 0x46);
        r.command(&[0x46, 0x00, 3, 0, 1, 2, 1, 0x1B, 0xFF]);
        assert_eq!(r.results(), vec![0x00, 0, 0, 4, 0, 1, 2]);
        assert_eq!(r.read_mem(0x20000, 512), sector(3 * 36));
    }

    #[test]
    fn write_then_read_back_and_disk_change() {
        let mut r = Rig::new(DiskMode::ReadWrite);
        assert_eq!(r.inb(PORT_DIR_CCR) & DIR_DSKCHG, DIR_DSKCHG, "set at power-on");
        r.bring_up();
        assert_eq!(
            r.inb(PORT_DIR_CCR) & DIR_DSKCHG,
            0,
            "a step with a disk clears it"
        );
        r.command(&[0x0F, 0x00, 1]);
        r.command(&[0x08]);
        assert_eq!(r.results(), vec![0x20, 1]);
        r.command(&[0x04, 0x00]);
        assert_eq!(r.results(), vec![0x28]);
        let data: Vec<u8> = (0..1024).map(|i| (i * 3) as u8).collect();
        r.mem.write(PhysAddr(0x30000), &data);
        r.dma_setup(0x30000, 1024, 0x4A);
        r.command(&[0xC5, 0x00, 1, 0, 5, 2, 18, 0x1B, 0xFF]);
        assert_eq!(r.results(), vec![0x00, 0, 0, 1, 0, 7, 2]);
        let img = r.fdc.eject(0).unwrap();
        let off = (2 * 18 + 4) * 512;
        assert_eq!(&img.memory().unwrap()[off..off + 1024], &data[..]);
        assert_eq!(r.inb(PORT_DIR_CCR) & DIR_DSKCHG, DIR_DSKCHG);
        // With no disk a read finds no address mark.
        r.dma_setup(0x30000, 512, 0x46);
        r.command(&[0xE6, 0x00, 1, 0, 5, 2, 18, 0x1B, 0xFF]);
        assert_eq!(r.results()[..2], [0x40, 0x01]);
    }

    #[test]
    fn write_protected_disk() {
        let mut r = Rig::new(DiskMode::ReadOnly);
        r.bring_up();
        r.command(&[0x04, 0x00]);
        assert_eq!(r.results(), vec![0x28 | 0x10 | 0x40]);
        r.dma_setup(0x30000, 512, 0x4A);
        r.command(&[0xC5, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF]);
        assert_eq!(r.results()[..3], [0x40, 0x02, 0]);
    }

    #[test]
    fn masked_dma_waits_for_the_channel() {
        let mut r = Rig::new(DiskMode::Snapshot);
        r.bring_up();
        r.dma_setup(0x40000, 512, 0x46);
        r.dma.borrow_mut().write(Port(0x0A), &[0x06]);
        r.command(&[0xE6, 0x00, 0, 0, 3, 2, 3, 0x1B, 0xFF]);
        assert!(!r.irq());
        assert_eq!(r.inb(MSR_DSR), MSR_CB, "busy, executing");
        r.dma.borrow_mut().write(Port(0x0A), &[0x02]);
        assert_eq!(r.inb(MSR_DSR), MSR_RQM | MSR_DIO | MSR_CB);
        assert!(r.irq());
        assert_eq!(r.results(), vec![0x00, 0, 0, 0, 1, 1, 2]);
        assert_eq!(r.read_mem(0x40000, 512), sector(2));
    }

    #[test]
    fn pio_mode_read_and_write() {
        let mut r = Rig::new(DiskMode::Snapshot);
        r.bring_up();
        r.command(&[0x03, 0xAF, 0x03]); // ND: non-DMA
        r.command(&[0x46, 0x04, 0, 1, 4, 2, 4, 0x1B, 0xFF]);
        let mut got = Vec::new();
        while r.inb(MSR_DSR) & (MSR_RQM | MSR_NDM) == MSR_RQM | MSR_NDM {
            assert!(r.irq(), "INT asks for each byte");
            got.push(r.inb(FIFO));
        }
        assert_eq!(got, sector(18 + 3));
        // No TC without DMA: the command ends at EOT.
        assert_eq!(r.results(), vec![0x44, 0x80, 0, 1, 1, 1, 2]);

        r.command(&[0x45, 0x00, 0, 0, 9, 2, 9, 0x1B, 0xFF]);
        let mut n = 0;
        while r.inb(MSR_DSR) == MSR_RQM | MSR_NDM | MSR_CB {
            r.out(FIFO, 0xEE);
            n += 1;
        }
        assert_eq!(n, 512);
        assert_eq!(r.results()[..2], [0x40, 0x80]);
        let img = r.fdc.eject(0).unwrap();
        assert!(img.memory().unwrap()[8 * 512..9 * 512].iter().all(|&b| b == 0xEE));
    }

    #[test]
    fn format_track() {
        let mut r = Rig::new(DiskMode::Snapshot);
        r.bring_up();
        let ids: Vec<u8> = (1..=18u8).flat_map(|s| [0, 1, s, 2]).collect();
        r.mem.write(PhysAddr(0x5000), &ids);
        r.dma_setup(0x5000, 18 * 4, 0x4A);
        r.command(&[0x4D, 0x04, 0x02, 18, 0x6C, 0xF6]);
        assert_eq!(r.results()[..3], [0x04, 0, 0]);
        let img = r.fdc.eject(0).unwrap();
        let track = &img.memory().unwrap()[18 * 512..36 * 512];
        assert!(track.iter().all(|&b| b == 0xF6));
        assert_eq!(img.memory().unwrap()[36 * 512..36 * 512 + 4], [36, 0, 0, 0]);
    }

    #[test]
    fn identification_and_housekeeping() {
        let mut r = Rig::new(DiskMode::Snapshot);
        // Held in reset at power-on: the MSR is not ready.
        assert_eq!(r.inb(MSR_DSR), 0);
        r.bring_up();
        r.command(&[0x10]);
        assert_eq!(r.results(), vec![0x90]);
        r.command(&[0x13, 0x00, 0x57, 0x00]);
        r.command(&[0x94]);
        assert_eq!(r.results(), vec![0x10]);
        r.command(&[0x12, 0x80 | 0x04]);
        r.command(&[0x0E]);
        assert_eq!(r.results(), vec![0, 0, 0, 0, 0, 0, 0, 0x80 | 0x04, 0x57, 0]);
        // A DSR software reset interrupts; LOCK kept the FIFO settings.
        r.out(MSR_DSR, 0x80);
        assert!(r.irq());
        r.command(&[0x08]);
        assert_eq!(r.results(), vec![0xC0, 0]);
        r.command(&[0x14]);
        assert_eq!(r.results(), vec![0x00]);
        // Invalid opcodes and a SENSE INTERRUPT with nothing pending.
        r.command(&[0x1F]);
        assert_eq!(r.results(), vec![0x80]);
        r.command(&[0x08]);
        assert_eq!(r.results(), vec![0x80]);
        // RECALIBRATE of a drive that is not there: equipment check.
        r.command(&[0x07, 0x01]);
        r.command(&[0x08]);
        assert_eq!(r.results(), vec![0x71, 0]);
        // IRQ only with the DOR's DMA gate open.
        r.out(DOR, 0x14);
        r.command(&[0x07, 0x00]);
        assert!(!r.irq());
        r.out(DOR, 0x1C);
        assert!(r.irq());
        assert_eq!(r.inb(0x3F0), 0xFF);
    }
}
