//! The Motorola MC146818 real-time clock and its 128 bytes of CMOS RAM, at
//! ports 0x70 (index, bit 7 = NMI mask) and 0x71 (data), interrupting on
//! IRQ8.
//!
//! Implemented (MC146818A datasheet): the time and date registers (0x00–
//! 0x09, plus the century at 0x32 as PC BIOSes keep it) in BCD or binary
//! and in 12- or 24-hour form per register B, the update-in-progress bit in
//! register A (high for the 244 µs before each update), the SET bit (the
//! guest writes the time while updates are held), the divider reset of
//! register A (time stops; the first update follows 500 ms after restart),
//! periodic interrupts at the register A rate (2 Hz–8192 Hz), alarm
//! interrupts with "don't care" bytes (0xC0–0xFF), update-ended interrupts,
//! register C flags cleared on read (which lowers IRQ8), and register D's
//! valid-RAM bit. Reads of port 0x70 return the last byte written there,
//! NMI bit included.
//!
//! Time is the host's wall clock (UTC) when the device is created, or a
//! start time the board chooses, plus the guest [`Clock`] time elapsed
//! since; nothing is ticked. Flags are brought up to date when the guest
//! looks and by [`Timed::advance`] at the deadlines the RTC reports (only
//! while an enabled interrupt could raise IRQ8).
//!
//! The NVRAM helpers fill the bytes a PC BIOS reads the way QEMU's `pc`
//! machine does (memory sizes, boot order, floppy and hard-disk types,
//! equipment byte, CPU count, checksum over 0x10–0x2D).
//!
//! Not implemented: daylight-saving adjustment (register B bit 0 is stored
//! and ignored), the square-wave output pin, time bases other than
//! 32.768 kHz (register A divider values other than the reset ones run the
//! clock normally), and the 2 ms update cycle itself (registers change at
//! the second boundary in one step).

use crate::clock::{Clock, Nanos, Timed};
use crate::irq::IrqLine;
use mem::{Port, PortDevice};
use std::time::{SystemTime, UNIX_EPOCH};

/// Index port: bits 6–0 select a register, bit 7 masks NMI.
pub const INDEX: u16 = 0x70;
/// Data port.
pub const DATA: u16 = 0x71;
/// Index port bit 7: NMI disabled.
pub const NMI_DISABLE: u8 = 0x80;

/// Seconds.
pub const REG_SECONDS: u8 = 0x00;
/// Seconds alarm.
pub const REG_SECONDS_ALARM: u8 = 0x01;
/// Minutes.
pub const REG_MINUTES: u8 = 0x02;
/// Minutes alarm.
pub const REG_MINUTES_ALARM: u8 = 0x03;
/// Hours (bit 7 = PM in 12-hour mode).
pub const REG_HOURS: u8 = 0x04;
/// Hours alarm.
pub const REG_HOURS_ALARM: u8 = 0x05;
/// Day of the week, 1 = Sunday.
pub const REG_DAY_OF_WEEK: u8 = 0x06;
/// Day of the month.
pub const REG_DAY_OF_MONTH: u8 = 0x07;
/// Month.
pub const REG_MONTH: u8 = 0x08;
/// Year within the century.
pub const REG_YEAR: u8 = 0x09;
/// Register A: UIP, divider, rate select.
pub const REG_A: u8 = 0x0A;
/// Register B: SET, interrupt enables, data mode, 24/12.
pub const REG_B: u8 = 0x0B;
/// Register C: interrupt flags (read only, cleared on read).
pub const REG_C: u8 = 0x0C;
/// Register D: valid RAM and time (read only).
pub const REG_D: u8 = 0x0D;

/// Register A: update in progress.
pub const A_UIP: u8 = 0x80;
/// Register A: divider bits 6–5 both set hold the divider in reset.
const A_DIVIDER_RESET: u8 = 0x60;
/// Register A: rate select field.
const A_RATE: u8 = 0x0F;
/// Register B: updates inhibited while the guest sets the time.
pub const B_SET: u8 = 0x80;
/// Register B: periodic interrupt enable.
pub const B_PIE: u8 = 0x40;
/// Register B: alarm interrupt enable.
pub const B_AIE: u8 = 0x20;
/// Register B: update-ended interrupt enable.
pub const B_UIE: u8 = 0x10;
/// Register B: square-wave output enable.
pub const B_SQWE: u8 = 0x08;
/// Register B: binary (not BCD) data mode.
pub const B_DM_BINARY: u8 = 0x04;
/// Register B: 24-hour mode.
pub const B_24H: u8 = 0x02;
/// Register C: IRQ line asserted.
pub const C_IRQF: u8 = 0x80;
/// Register C: periodic flag.
pub const C_PF: u8 = 0x40;
/// Register C: alarm flag.
pub const C_AF: u8 = 0x20;
/// Register C: update-ended flag.
pub const C_UF: u8 = 0x10;
/// Register D: valid RAM and time.
pub const D_VRT: u8 = 0x80;

/// The update-in-progress window before each update.
const UIP_NS: i128 = 244_000;
/// The MC146818's time base on a PC.
const TIME_BASE_HZ: u128 = 32_768;
const NS_PER_SEC: i128 = 1_000_000_000;

/// CMOS 0x0F: shutdown status (IBM AT layout, as QEMU and SeaBIOS use it).
pub const CMOS_SHUTDOWN_STATUS: u8 = 0x0F;
/// CMOS 0x10: floppy drive types (high nibble drive A).
pub const CMOS_FLOPPY_TYPES: u8 = 0x10;
/// CMOS 0x12: hard disk types (high nibble disk 0; 0xF = see 0x19/0x1A).
pub const CMOS_DISK_TYPES: u8 = 0x12;
/// CMOS 0x14: equipment byte.
pub const CMOS_EQUIPMENT: u8 = 0x14;
/// CMOS 0x15/0x16: base memory in KiB.
pub const CMOS_BASE_MEMORY: u8 = 0x15;
/// CMOS 0x17/0x18: memory above 1 MiB in KiB (at most 65535).
pub const CMOS_EXT_MEMORY: u8 = 0x17;
/// CMOS 0x19: disk 0 extended type.
pub const CMOS_DISK0_TYPE: u8 = 0x19;
/// CMOS 0x1A: disk 1 extended type.
pub const CMOS_DISK1_TYPE: u8 = 0x1A;
/// CMOS 0x1B–0x23: disk 0 parameters.
pub const CMOS_DISK0_PARAMS: u8 = 0x1B;
/// CMOS 0x24–0x2C: disk 1 parameters.
pub const CMOS_DISK1_PARAMS: u8 = 0x24;
/// CMOS 0x2E/0x2F: checksum of 0x10–0x2D, high byte first.
pub const CMOS_CHECKSUM: u8 = 0x2E;
/// CMOS 0x30/0x31: memory above 1 MiB in KiB (copy of 0x17/0x18).
pub const CMOS_EXT_MEMORY2: u8 = 0x30;
/// CMOS 0x32: century (BCD or binary, as the clock registers).
pub const CMOS_CENTURY: u8 = 0x32;
/// CMOS 0x34/0x35: memory between 16 MiB and 4 GiB in 64 KiB units.
pub const CMOS_MEMORY_ABOVE_16M: u8 = 0x34;
/// CMOS 0x38: third boot device (high nibble); bit 0 = skip the floppy
/// boot-signature check.
pub const CMOS_BOOT_FLAGS1: u8 = 0x38;
/// CMOS 0x39: ATA translation, two bits per drive.
pub const CMOS_ATA_TRANSLATION: u8 = 0x39;
/// CMOS 0x3D: first (low nibble) and second boot devices.
pub const CMOS_BOOT_FLAGS2: u8 = 0x3D;
/// CMOS 0x5B–0x5D: memory above 4 GiB in 64 KiB units.
pub const CMOS_MEMORY_ABOVE_4G: u8 = 0x5B;
/// CMOS 0x5F: number of CPUs minus one.
pub const CMOS_CPU_COUNT: u8 = 0x5F;

/// A floppy drive type as CMOS 0x10 encodes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloppyType {
    /// No drive.
    None = 0,
    /// 5.25" 360 KB.
    Kb360 = 1,
    /// 5.25" 1.2 MB.
    Mb1_2 = 2,
    /// 3.5" 720 KB.
    Kb720 = 3,
    /// 3.5" 1.44 MB.
    Mb1_44 = 4,
    /// 3.5" 2.88 MB.
    Mb2_88 = 5,
}

/// A boot device as the CMOS boot-order nibbles encode it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootDevice {
    /// Floppy drive A.
    Floppy = 1,
    /// First hard disk.
    HardDisk = 2,
    /// CD-ROM.
    Cdrom = 3,
    /// Network (option ROM).
    Network = 4,
}

/// The BIOS translation of an ATA disk's geometry (CMOS 0x39).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtaTranslation {
    /// Physical CHS.
    None = 0,
    /// LBA-assisted.
    Lba = 1,
    /// Bit-shift ("LARGE").
    Large = 2,
}

/// A hard disk's logical geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskGeometry {
    /// Cylinders.
    pub cylinders: u16,
    /// Heads.
    pub heads: u8,
    /// Sectors per track.
    pub sectors: u8,
}

/// A broken-down UTC time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DateTime {
    year: i64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    /// 1 = Sunday.
    weekday: u8,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1–12).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    // Count from 0000-03-01 so the leap day ends each 400/100/4-year cycle.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl DateTime {
    fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
            // 1970-01-01 was a Thursday (5).
            weekday: ((days + 4).rem_euclid(7) + 1) as u8,
        }
    }

    fn to_unix(self) -> i64 {
        days_from_civil(self.year, i64::from(self.month), i64::from(self.day)) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

fn warn_once_bad_time() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        eprintln!("strachey: RTC: guest wrote an invalid date or time; out-of-range fields were clamped")
    });
}

/// The RTC and its CMOS RAM.
#[derive(Debug)]
pub struct Rtc {
    cmos: [u8; 128],
    /// The last byte written to port 0x70.
    index: u8,
    clock: Clock,
    irq: IrqLine,
    irq_level: bool,
    /// Wall time (ns since the Unix epoch) at guest time `base_clock`.
    base_wall: i128,
    base_clock: Nanos,
    /// The wall time at which the clock stands while its divider is reset.
    frozen: Option<i128>,
    /// Guest time of the last flag update.
    last_sync: Nanos,
    /// The wall second of the last processed update.
    last_sec: i64,
}

impl Rtc {
    /// The ports the RTC claims, as (first, count).
    pub const PORTS: &'static [(u16, u16)] = &[(INDEX, 2)];

    /// An RTC showing the host's current UTC time, interrupting on `irq`.
    pub fn new(clock: Clock, irq: IrqLine) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        Self::with_start_time(clock, irq, now)
    }

    /// An RTC showing `unix_seconds` (UTC, or local time if the board wants
    /// the guest to see local time) at the clock's current time.
    pub fn with_start_time(clock: Clock, irq: IrqLine, unix_seconds: i64) -> Self {
        let now = clock.now();
        let mut rtc = Self {
            cmos: [0; 128],
            index: 0,
            clock,
            irq,
            irq_level: false,
            base_wall: i128::from(unix_seconds) * NS_PER_SEC,
            base_clock: now,
            frozen: None,
            last_sync: now,
            last_sec: unix_seconds,
        };
        // Power-on values as QEMU's mc146818rtc sets them: 32.768 kHz time
        // base, 1024 Hz rate; 24-hour BCD; valid RAM.
        rtc.cmos[usize::from(REG_A)] = 0x26;
        rtc.cmos[usize::from(REG_B)] = B_24H;
        rtc.cmos[usize::from(REG_D)] = D_VRT;
        rtc.regenerate(now);
        rtc
    }

    /// System reset (the chip's RESET pin): the clock and RAM are battery
    /// backed and keep going; PIE, AIE, UIE and SQWE are cleared, and so are
    /// the register C flags, which lowers IRQ8 (MC146818A datasheet, "RESET").
    pub fn reset(&mut self) {
        let now = self.clock.now();
        self.sync(now);
        self.cmos[usize::from(REG_B)] &= !(B_PIE | B_AIE | B_UIE | B_SQWE);
        self.cmos[usize::from(REG_C)] = 0;
        self.update_irq();
    }

    /// Whether the guest has masked NMI (port 0x70 bit 7).
    pub fn nmi_masked(&self) -> bool {
        self.index & NMI_DISABLE != 0
    }

    /// The 128 bytes of CMOS RAM (clock registers as last brought up to date).
    pub fn nvram(&self) -> &[u8; 128] {
        &self.cmos
    }

    /// Set a CMOS byte directly (board set-up; no side effects, no checksum).
    pub fn set_nvram(&mut self, index: u8, value: u8) {
        self.cmos[usize::from(index & 0x7F)] = value;
    }

    fn set_word(&mut self, index: u8, value: u16) {
        let [lo, hi] = value.to_le_bytes();
        self.set_nvram(index, lo);
        self.set_nvram(index + 1, hi);
    }

    /// Recompute the checksum of 0x10–0x2D at 0x2E (high) / 0x2F (low).
    pub fn update_checksum(&mut self) {
        let sum: u16 = self.cmos[0x10..=0x2D].iter().map(|&b| u16::from(b)).sum();
        let [hi, lo] = sum.to_be_bytes();
        self.cmos[usize::from(CMOS_CHECKSUM)] = hi;
        self.cmos[usize::from(CMOS_CHECKSUM) + 1] = lo;
    }

    /// Memory sizes: 640 KiB base memory (0x15/0x16), KiB above 1 MiB
    /// (0x17/0x18 and 0x30/0x31, capped at 65535), 64 KiB units above
    /// 16 MiB (0x34/0x35, capped at 0xFFFF) and above 4 GiB (0x5B–0x5D).
    pub fn set_memory(&mut self, ram_below_4g: u64, ram_above_4g: u64) {
        const MIB: u64 = 1 << 20;
        self.set_word(CMOS_BASE_MEMORY, 640);
        let ext = (ram_below_4g.saturating_sub(MIB) / 1024).min(0xFFFF) as u16;
        self.set_word(CMOS_EXT_MEMORY, ext);
        self.set_word(CMOS_EXT_MEMORY2, ext);
        let above16 = (ram_below_4g.saturating_sub(16 * MIB) >> 16).min(0xFFFF) as u16;
        self.set_word(CMOS_MEMORY_ABOVE_16M, above16);
        let high = (ram_above_4g >> 16).min(0xFF_FFFF) as u32;
        let [a, b, c, _] = high.to_le_bytes();
        self.set_nvram(CMOS_MEMORY_ABOVE_4G, a);
        self.set_nvram(CMOS_MEMORY_ABOVE_4G + 1, b);
        self.set_nvram(CMOS_MEMORY_ABOVE_4G + 2, c);
        self.update_checksum();
    }

    /// Boot order (up to three devices, first first) in 0x3D and 0x38, and
    /// whether the BIOS checks a floppy's boot signature (0x38 bit 0 clear).
    pub fn set_boot_order(&mut self, order: &[BootDevice], check_floppy_signature: bool) {
        let nib = |i: usize| order.get(i).map_or(0, |&d| d as u8);
        self.set_nvram(CMOS_BOOT_FLAGS2, nib(1) << 4 | nib(0));
        self.set_nvram(CMOS_BOOT_FLAGS1, nib(2) << 4 | u8::from(!check_floppy_signature));
    }

    /// Floppy drive types (0x10).
    pub fn set_floppy_types(&mut self, a: FloppyType, b: FloppyType) {
        self.set_nvram(CMOS_FLOPPY_TYPES, (a as u8) << 4 | b as u8);
        self.update_checksum();
    }

    /// The equipment byte (0x14): floppy drives (bit 0, count − 1 in bits
    /// 7–6), maths coprocessor (bit 1), PS/2 mouse (bit 2); display bits
    /// 5–4 are 00 (EGA/VGA).
    pub fn set_equipment(&mut self, floppies: u8, fpu: bool, ps2_mouse: bool) {
        let mut v = u8::from(fpu) << 1 | u8::from(ps2_mouse) << 2;
        if floppies > 0 {
            v |= 1 | (floppies.min(4) - 1) << 6;
        }
        self.set_nvram(CMOS_EQUIPMENT, v);
        self.update_checksum();
    }

    /// ATA disk `unit` (0–3: primary master, primary slave, secondary
    /// master, secondary slave): its translation bits in 0x39 and, for
    /// units 0 and 1, the type nibble in 0x12, the extended type 47 in
    /// 0x19/0x1A and the parameter block (cylinders, heads, write
    /// precompensation 0xFFFF, control byte, landing zone, sectors) at
    /// 0x1B/0x24. `None` removes the disk.
    pub fn set_hard_disk(&mut self, unit: u8, disk: Option<(DiskGeometry, AtaTranslation)>) {
        if unit > 3 {
            return;
        }
        let shift = unit * 2;
        let tr = disk.map_or(0, |(_, t)| t as u8);
        let v = self.cmos[usize::from(CMOS_ATA_TRANSLATION)] & !(3 << shift) | tr << shift;
        self.set_nvram(CMOS_ATA_TRANSLATION, v);
        if unit < 2 {
            let (nibble, type_reg, params) = if unit == 0 {
                (0xF0, CMOS_DISK0_TYPE, CMOS_DISK0_PARAMS)
            } else {
                (0x0F, CMOS_DISK1_TYPE, CMOS_DISK1_PARAMS)
            };
            let mut types = self.cmos[usize::from(CMOS_DISK_TYPES)] & !nibble;
            match disk {
                Some((g, _)) => {
                    types |= nibble;
                    self.set_nvram(type_reg, 47);
                    let [cl, ch] = g.cylinders.to_le_bytes();
                    let block = [
                        cl,
                        ch,
                        g.heads,
                        0xFF,
                        0xFF,
                        0xC0 | u8::from(g.heads > 8) << 3,
                        cl,
                        ch,
                        g.sectors,
                    ];
                    for (i, b) in block.into_iter().enumerate() {
                        self.set_nvram(params + i as u8, b);
                    }
                }
                None => {
                    self.set_nvram(type_reg, 0);
                    for i in 0..9 {
                        self.set_nvram(params + i, 0);
                    }
                }
            }
            self.set_nvram(CMOS_DISK_TYPES, types);
        }
        self.update_checksum();
    }

    /// Number of CPUs (0x5F holds the count minus one).
    pub fn set_cpu_count(&mut self, cpus: u8) {
        self.set_nvram(CMOS_CPU_COUNT, cpus.saturating_sub(1));
    }

    // ---- time ----

    fn reg(&self, r: u8) -> u8 {
        self.cmos[usize::from(r)]
    }

    fn divider_reset(&self) -> bool {
        self.reg(REG_A) & A_DIVIDER_RESET == A_DIVIDER_RESET
    }

    /// Whether the clock registers follow time (not held by SET, divider
    /// running).
    fn updating(&self) -> bool {
        self.reg(REG_B) & B_SET == 0 && self.frozen.is_none()
    }

    fn wall(&self, now: Nanos) -> i128 {
        self.frozen
            .unwrap_or_else(|| self.base_wall + i128::from(now) - i128::from(self.base_clock))
    }

    fn wall_sec(&self, now: Nanos) -> i64 {
        self.wall(now).div_euclid(NS_PER_SEC) as i64
    }

    /// Move the clock to wall time `w` at guest time `now`.
    fn set_wall(&mut self, w: i128, now: Nanos) {
        if self.frozen.is_some() {
            self.frozen = Some(w);
        } else {
            self.base_wall = w;
            self.base_clock = now;
        }
        self.last_sec = w.div_euclid(NS_PER_SEC) as i64;
    }

    fn binary(&self) -> bool {
        self.reg(REG_B) & B_DM_BINARY != 0
    }

    fn encode(&self, v: u8) -> u8 {
        if self.binary() {
            v
        } else {
            ((v / 10) << 4) | (v % 10)
        }
    }

    fn decode(&self, v: u8) -> u8 {
        if self.binary() {
            v
        } else {
            (v >> 4).wrapping_mul(10).wrapping_add(v & 0xF)
        }
    }

    fn encode_hour(&self, h: u8) -> u8 {
        if self.reg(REG_B) & B_24H != 0 {
            self.encode(h)
        } else {
            let h12 = if h.is_multiple_of(12) { 12 } else { h % 12 };
            self.encode(h12) | if h >= 12 { 0x80 } else { 0 }
        }
    }

    fn decode_hour(&self, v: u8) -> u8 {
        if self.reg(REG_B) & B_24H != 0 {
            self.decode(v)
        } else {
            self.decode(v & 0x7F) % 12 + if v & 0x80 != 0 { 12 } else { 0 }
        }
    }

    /// Write the clock registers from the current time.
    fn regenerate(&mut self, now: Nanos) {
        let t = DateTime::from_unix(self.wall_sec(now));
        let year = t.year.rem_euclid(10_000);
        let regs = [
            (REG_SECONDS, self.encode(t.second)),
            (REG_MINUTES, self.encode(t.minute)),
            (REG_HOURS, self.encode_hour(t.hour)),
            (REG_DAY_OF_WEEK, self.encode(t.weekday)),
            (REG_DAY_OF_MONTH, self.encode(t.day)),
            (REG_MONTH, self.encode(t.month)),
            (REG_YEAR, self.encode((year % 100) as u8)),
            (CMOS_CENTURY, self.encode((year / 100) as u8)),
        ];
        for (r, v) in regs {
            self.cmos[usize::from(r)] = v;
        }
    }

    /// The time the clock registers hold, in Unix seconds.
    fn registers_time(&self) -> i64 {
        let field = |r: u8, lo: u8, hi: u8| {
            let v = self.decode(self.reg(r));
            if !(lo..=hi).contains(&v) {
                warn_once_bad_time();
            }
            v.clamp(lo, hi)
        };
        let hour = self.decode_hour(self.reg(REG_HOURS));
        if hour > 23 {
            warn_once_bad_time();
        }
        let t = DateTime {
            year: i64::from(field(CMOS_CENTURY, 0, 99)) * 100 + i64::from(field(REG_YEAR, 0, 99)),
            month: field(REG_MONTH, 1, 12),
            day: field(REG_DAY_OF_MONTH, 1, 31),
            hour: hour.min(23),
            minute: field(REG_MINUTES, 0, 59),
            second: field(REG_SECONDS, 0, 59),
            weekday: 0,
        };
        t.to_unix()
    }

    /// Take the time from the registers, keeping the divider's phase
    /// within the second.
    fn load_registers(&mut self, now: Nanos) {
        let frac = self.wall(now).rem_euclid(NS_PER_SEC);
        let w = i128::from(self.registers_time()) * NS_PER_SEC + frac;
        self.set_wall(w, now);
    }

    /// log2 of the periodic interrupt period in 32.768 kHz cycles.
    fn periodic_shift(&self) -> Option<u32> {
        match self.reg(REG_A) & A_RATE {
            0 => None,
            // Rates 1 and 2 repeat rates 8 and 9 with a 32.768 kHz base.
            r @ 1..=2 => Some(u32::from(r) + 6),
            r => Some(u32::from(r) - 1),
        }
        .filter(|_| !self.divider_reset())
    }

    fn alarm_matches(&self, sec: i64) -> bool {
        let t = DateTime::from_unix(sec);
        [
            (REG_SECONDS_ALARM, self.encode(t.second)),
            (REG_MINUTES_ALARM, self.encode(t.minute)),
            (REG_HOURS_ALARM, self.encode_hour(t.hour)),
        ]
        .into_iter()
        .all(|(r, v)| {
            let a = self.reg(r);
            a & 0xC0 == 0xC0 || a == v
        })
    }

    /// Bring the flags up to guest time `now` and drive IRQ8.
    fn sync(&mut self, now: Nanos) {
        let mut flags = 0;
        if let Some(shift) = self.periodic_shift() {
            if time_base_cycles(now) >> shift > time_base_cycles(self.last_sync) >> shift {
                flags |= C_PF;
            }
        }
        let sec = self.wall_sec(now);
        if self.updating() && sec > self.last_sec {
            flags |= C_UF;
            // A day covers every alarm pattern.
            let first = (self.last_sec + 1).max(sec - 86_399);
            if (first..=sec).any(|s| self.alarm_matches(s)) {
                flags |= C_AF;
            }
        }
        self.last_sec = sec;
        self.last_sync = self.last_sync.max(now);
        self.cmos[usize::from(REG_C)] |= flags;
        self.update_irq();
    }

    fn update_irq(&mut self) {
        let b = self.reg(REG_B);
        let c = self.reg(REG_C);
        let level = c & b & (C_PF | C_AF | C_UF) != 0;
        if level {
            self.cmos[usize::from(REG_C)] |= C_IRQF;
        } else {
            self.cmos[usize::from(REG_C)] &= !C_IRQF;
        }
        if level != self.irq_level {
            self.irq_level = level;
            self.irq.set(level);
        }
    }

    fn read_register(&mut self, r: u8, now: Nanos) -> u8 {
        match r {
            REG_SECONDS | REG_MINUTES | REG_HOURS | REG_DAY_OF_WEEK | REG_DAY_OF_MONTH | REG_MONTH
            | REG_YEAR | CMOS_CENTURY => {
                if self.reg(REG_B) & B_SET == 0 {
                    self.regenerate(now);
                }
                self.reg(r)
            }
            REG_A => {
                let w = self.wall(now);
                let uip = self.updating() && w.rem_euclid(NS_PER_SEC) >= NS_PER_SEC - UIP_NS;
                self.reg(REG_A) | if uip { A_UIP } else { 0 }
            }
            REG_C => {
                let v = self.reg(REG_C);
                self.cmos[usize::from(REG_C)] = 0;
                self.update_irq();
                v
            }
            REG_D => D_VRT,
            _ => self.reg(r),
        }
    }

    fn write_register(&mut self, r: u8, v: u8, now: Nanos) {
        match r {
            REG_SECONDS | REG_MINUTES | REG_HOURS | REG_DAY_OF_WEEK | REG_DAY_OF_MONTH | REG_MONTH
            | REG_YEAR | CMOS_CENTURY => {
                if self.reg(REG_B) & B_SET != 0 {
                    self.cmos[usize::from(r)] = v;
                } else {
                    self.regenerate(now);
                    self.cmos[usize::from(r)] = v;
                    self.load_registers(now);
                }
            }
            REG_A => {
                let was_reset = self.divider_reset();
                self.cmos[usize::from(REG_A)] = v & !A_UIP;
                match (was_reset, self.divider_reset()) {
                    (false, true) => self.frozen = Some(self.wall(now)),
                    (true, false) => {
                        // The first update comes 500 ms after the divider
                        // leaves reset (MC146818A datasheet, "Divider
                        // Control").
                        let f = self.frozen.take().unwrap_or_else(|| self.wall(now));
                        let w = f.div_euclid(NS_PER_SEC) * NS_PER_SEC + NS_PER_SEC / 2;
                        self.set_wall(w, now);
                    }
                    _ => {}
                }
            }
            REG_B => {
                let old = self.reg(REG_B);
                if v & B_SET != 0 && old & B_SET == 0 {
                    // Updates stop: the registers keep the time of now.
                    self.regenerate(now);
                }
                // Setting SET clears UIE (MC146818A datasheet, register B).
                self.cmos[usize::from(REG_B)] = if v & B_SET != 0 { v & !B_UIE } else { v };
                if v & B_SET == 0 && old & B_SET != 0 {
                    self.load_registers(now);
                }
                self.update_irq();
            }
            REG_C | REG_D => {}
            _ => self.cmos[usize::from(r)] = v,
        }
    }
}

/// 32.768 kHz cycles since guest time zero.
fn time_base_cycles(ns: Nanos) -> u64 {
    (u128::from(ns) * TIME_BASE_HZ / 1_000_000_000) as u64
}

/// The first guest nanosecond at which `cycles` have elapsed.
fn cycles_to_ns(cycles: u64) -> Nanos {
    (u128::from(cycles) * 1_000_000_000).div_ceil(TIME_BASE_HZ) as Nanos
}

impl PortDevice for Rtc {
    fn read(&mut self, port: Port, data: &mut [u8]) {
        let now = self.clock.now();
        self.sync(now);
        for (i, b) in data.iter_mut().enumerate() {
            *b = match port.0.wrapping_add(i as u16) {
                INDEX => self.index,
                DATA => self.read_register(self.index & 0x7F, now),
                _ => 0xFF,
            };
        }
    }

    fn write(&mut self, port: Port, data: &[u8]) {
        let now = self.clock.now();
        self.sync(now);
        for (i, &b) in data.iter().enumerate() {
            match port.0.wrapping_add(i as u16) {
                INDEX => self.index = b,
                DATA => self.write_register(self.index & 0x7F, b, now),
                _ => {}
            }
        }
    }
}

impl Timed for Rtc {
    /// The next periodic or update event that could raise IRQ8; none while
    /// IRQ8 is already asserted (register C has not been read).
    fn next_deadline(&self) -> Option<Nanos> {
        if self.irq_level {
            return None;
        }
        let b = self.reg(REG_B);
        let periodic = self
            .periodic_shift()
            .filter(|_| b & B_PIE != 0)
            .map(|s| cycles_to_ns(((time_base_cycles(self.last_sync) >> s) + 1) << s));
        let update = (b & (B_UIE | B_AIE) != 0 && self.updating()).then(|| {
            let w = i128::from(self.last_sec + 1) * NS_PER_SEC;
            (i128::from(self.base_clock) + w - self.base_wall).max(0) as Nanos
        });
        match (periodic, update) {
            (Some(p), Some(u)) => Some(p.min(u)),
            (p, u) => p.or(u),
        }
    }

    fn advance(&mut self, now: Nanos) {
        self.sync(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::IrqSink;
    use mem::Shared;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Records every level change of every line.
    #[derive(Default)]
    struct Recorder(Vec<(u8, bool)>);
    impl IrqSink for Recorder {
        fn set_irq(&mut self, line: u8, level: bool) {
            self.0.push((line, level));
        }
    }

    /// 2024-02-29 23:59:58 UTC.
    const LEAP_EVE: i64 = 1_709_251_198;

    fn setup(start: i64) -> (Rtc, Clock, Rc<RefCell<Recorder>>) {
        let clock = Clock::manual();
        let rec = Rc::new(RefCell::new(Recorder::default()));
        let sink: Shared<dyn IrqSink> = rec.clone();
        (
            Rtc::with_start_time(clock.clone(), IrqLine::new(sink, 8), start),
            clock,
            rec,
        )
    }

    fn cmos_read(r: &mut Rtc, reg: u8) -> u8 {
        // SeaBIOS sets bit 7 (NMI off) on every index write.
        r.write(Port(0x70), &[reg | 0x80]);
        let mut b = [0];
        r.read(Port(0x71), &mut b);
        b[0]
    }

    fn cmos_write(r: &mut Rtc, reg: u8, v: u8) {
        r.write(Port(0x70), &[reg | 0x80]);
        r.write(Port(0x71), &[v]);
    }

    fn time(r: &mut Rtc) -> [u8; 8] {
        [0x32, 9, 8, 7, 6, 4, 2, 0].map(|reg| cmos_read(r, reg))
    }

    #[test]
    fn calendar_round_trips() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 2, 29) * 86_400, 951_782_400);
        for d in (-800_000..800_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(dd)), d);
        }
        let t = DateTime::from_unix(4_102_444_799);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2099, 12, 31, 23, 59, 59)
        );
    }

    #[test]
    fn bcd_time_rolls_over_a_leap_day() {
        let (mut r, clock, _) = setup(LEAP_EVE);
        // century, year, month, day, weekday (Thursday = 5), h, m, s
        assert_eq!(time(&mut r), [0x20, 0x24, 0x02, 0x29, 0x05, 0x23, 0x59, 0x58]);
        clock.advance(2_000_000_000);
        assert_eq!(time(&mut r), [0x20, 0x24, 0x03, 0x01, 0x06, 0x00, 0x00, 0x00]);
    }

    #[test]
    fn binary_and_12_hour_modes() {
        let (mut r, clock, _) = setup(LEAP_EVE);
        cmos_write(&mut r, REG_B, B_DM_BINARY);
        assert_eq!(cmos_read(&mut r, REG_HOURS), 0x80 | 11);
        assert_eq!(cmos_read(&mut r, REG_MINUTES), 59);
        assert_eq!(cmos_read(&mut r, CMOS_CENTURY), 20);
        clock.advance(2_000_000_000);
        assert_eq!(cmos_read(&mut r, REG_HOURS), 12, "midnight is 12 AM");
        cmos_write(&mut r, REG_B, B_DM_BINARY | B_24H);
        assert_eq!(cmos_read(&mut r, REG_HOURS), 0);
    }

    #[test]
    fn seabios_setup_and_register_d() {
        let (mut r, _, rec) = setup(LEAP_EVE);
        cmos_write(&mut r, REG_A, 0x26);
        let b = cmos_read(&mut r, REG_B);
        cmos_write(&mut r, REG_B, (b & 1) | 2);
        cmos_read(&mut r, REG_C);
        assert_eq!(cmos_read(&mut r, REG_D), 0x80);
        assert_eq!(cmos_read(&mut r, REG_A), 0x26);
        assert!(rec.borrow().0.is_empty());
        // Port 0x70 reads back what was written, NMI bit included.
        let mut v = [0];
        r.read(Port(0x70), &mut v);
        assert_eq!(v[0], 0x8A);
        assert!(r.nmi_masked());
    }

    #[test]
    fn periodic_interrupt_at_1024_hz() {
        let (mut r, clock, rec) = setup(LEAP_EVE);
        cmos_write(&mut r, REG_A, 0x26);
        assert_eq!(r.next_deadline(), None, "no deadline without PIE");
        cmos_write(&mut r, REG_B, B_24H | B_PIE);
        let mut count = 0;
        let mut last = 0;
        while let Some(d) = r.next_deadline() {
            if d > 1_000_000_000 {
                break;
            }
            assert!(d > last);
            if count > 0 {
                // 976.5625 µs apart, to the nanosecond.
                assert!((976_562..=976_563).contains(&(d - last)), "{}", d - last);
            }
            last = d;
            clock.set(d);
            r.advance(d);
            assert_eq!(*rec.borrow().0.last().unwrap(), (8, true));
            assert_eq!(r.next_deadline(), None, "IRQ8 stays high until C is read");
            // The interrupt handler reads register C.
            // (The last event, at one second, also ends an update: UF.)
            assert_eq!(cmos_read(&mut r, REG_C) & !C_UF, C_IRQF | C_PF);
            assert_eq!(*rec.borrow().0.last().unwrap(), (8, false));
            count += 1;
        }
        assert_eq!(count, 1024);
    }

    #[test]
    fn flags_without_enables_and_c_clears_on_read() {
        let (mut r, clock, rec) = setup(LEAP_EVE);
        clock.advance(1_500_000_000);
        // PF (1024 Hz) and UF (a second went by) are set; no IRQF.
        assert_eq!(cmos_read(&mut r, REG_C), C_PF | C_UF);
        assert_eq!(cmos_read(&mut r, REG_C), 0);
        assert!(rec.borrow().0.is_empty());
        // Enabling UIE with UF pending raises IRQ8 at once.
        clock.advance(1_000_000_000);
        cmos_write(&mut r, REG_B, B_24H | B_UIE);
        assert_eq!(*rec.borrow().0.last().unwrap(), (8, true));
        // The clock passed 00:00:00, which the zeroed alarm bytes match.
        assert_eq!(cmos_read(&mut r, REG_C), C_IRQF | C_PF | C_AF | C_UF);
        assert_eq!(*rec.borrow().0.last().unwrap(), (8, false));
    }

    #[test]
    fn update_ended_interrupt_and_uip() {
        let (mut r, clock, rec) = setup(LEAP_EVE);
        cmos_write(&mut r, REG_A, 0x20); // no periodic rate
        cmos_write(&mut r, REG_B, B_24H | B_UIE);
        assert_eq!(r.next_deadline(), Some(1_000_000_000));
        clock.set(1_000_000_000 - 244_001);
        assert_eq!(cmos_read(&mut r, REG_A) & A_UIP, 0);
        clock.set(1_000_000_000 - 244_000);
        assert_eq!(cmos_read(&mut r, REG_A) & A_UIP, A_UIP);
        clock.set(1_000_000_000);
        r.advance(1_000_000_000);
        assert_eq!(*rec.borrow().0.last().unwrap(), (8, true));
        assert_eq!(cmos_read(&mut r, REG_A) & A_UIP, 0);
        assert_eq!(cmos_read(&mut r, REG_SECONDS), 0x59);
        assert_eq!(cmos_read(&mut r, REG_C), C_IRQF | C_UF);
        assert_eq!(r.next_deadline(), Some(2_000_000_000));
    }

    #[test]
    fn alarm_with_dont_care_hours() {
        let (mut r, clock, rec) = setup(LEAP_EVE);
        cmos_write(&mut r, REG_A, 0x20);
        cmos_write(&mut r, REG_SECONDS_ALARM, 0x05);
        cmos_write(&mut r, REG_MINUTES_ALARM, 0x00);
        cmos_write(&mut r, REG_HOURS_ALARM, 0xC0);
        cmos_write(&mut r, REG_B, B_24H | B_AIE);
        // 23:59:58 → 00:00:05 is 7 seconds away.
        let mut fired = None;
        while let Some(d) = r.next_deadline() {
            clock.set(d);
            r.advance(d);
            if r.irq_level {
                fired = Some(d);
                break;
            }
        }
        assert_eq!(fired, Some(7_000_000_000));
        assert_eq!(rec.borrow().0, vec![(8, true)]);
        assert_eq!(cmos_read(&mut r, REG_C), C_IRQF | C_AF | C_UF);
    }

    #[test]
    fn guest_sets_the_time_with_set_bit() {
        let (mut r, clock, _) = setup(LEAP_EVE);
        clock.set(300_000_000);
        cmos_write(&mut r, REG_B, B_24H | B_SET | B_UIE);
        assert_eq!(cmos_read(&mut r, REG_B), B_24H | B_SET, "SET clears UIE");
        for (reg, v) in [
            (0x32, 0x19),
            (9, 0x99),
            (8, 0x12),
            (7, 0x31),
            (4, 0x23),
            (2, 0x59),
            (0, 0x50),
        ] {
            cmos_write(&mut r, reg, v);
        }
        clock.set(5_000_000_000);
        // Held while SET.
        assert_eq!(cmos_read(&mut r, REG_SECONDS), 0x50);
        cmos_write(&mut r, REG_B, B_24H);
        clock.set(15_000_000_000);
        // 1999-12-31 23:59:50 + 10 s, on a Saturday.
        assert_eq!(time(&mut r), [0x20, 0x00, 0x01, 0x01, 0x07, 0x00, 0x00, 0x00]);
        // A write without SET takes effect at once.
        cmos_write(&mut r, REG_MINUTES, 0x30);
        clock.set(16_000_000_000);
        assert_eq!(cmos_read(&mut r, REG_MINUTES), 0x30);
        assert_eq!(cmos_read(&mut r, REG_SECONDS), 0x01);
    }

    #[test]
    fn reset_keeps_time_and_drops_irq8() {
        let (mut r, clock, rec) = setup(LEAP_EVE);
        cmos_write(&mut r, REG_B, B_24H | B_PIE);
        clock.advance(1_000_000);
        r.advance(clock.now());
        assert_eq!(*rec.borrow().0.last().unwrap(), (8, true));
        cmos_write(&mut r, 0x40, 0x12);
        r.reset();
        assert_eq!(*rec.borrow().0.last().unwrap(), (8, false));
        assert_eq!(cmos_read(&mut r, REG_B), B_24H);
        assert_eq!(cmos_read(&mut r, 0x40), 0x12);
        assert_eq!(cmos_read(&mut r, REG_SECONDS), 0x58);
    }

    #[test]
    fn divider_reset_stops_time() {
        let (mut r, clock, _) = setup(LEAP_EVE);
        cmos_write(&mut r, REG_A, 0x70);
        clock.set(10_000_000_000);
        assert_eq!(cmos_read(&mut r, REG_SECONDS), 0x58);
        cmos_write(&mut r, REG_A, 0x26);
        clock.set(10_499_999_999);
        assert_eq!(cmos_read(&mut r, REG_SECONDS), 0x58);
        clock.set(10_500_000_000);
        assert_eq!(cmos_read(&mut r, REG_SECONDS), 0x59);
    }

    #[test]
    fn nvram_round_trip_and_garbage_time_does_not_panic() {
        let (mut r, _, _) = setup(LEAP_EVE);
        cmos_write(&mut r, 0x40, 0xA5);
        assert_eq!(cmos_read(&mut r, 0x40), 0xA5);
        cmos_write(&mut r, 0x7F, 0x5A);
        assert_eq!(cmos_read(&mut r, 0xFF), 0x5A);
        cmos_write(&mut r, REG_MONTH, 0xFF);
        cmos_write(&mut r, REG_HOURS, 0xFF);
        cmos_read(&mut r, REG_YEAR);
        // Register C and D are read-only.
        cmos_write(&mut r, REG_D, 0);
        assert_eq!(cmos_read(&mut r, REG_D), 0x80);
    }

    #[test]
    fn qemu_style_nvram() {
        let (mut r, _, _) = setup(LEAP_EVE);
        r.set_memory(32 << 20, 0);
        r.set_boot_order(
            &[BootDevice::HardDisk, BootDevice::Floppy, BootDevice::Cdrom],
            true,
        );
        r.set_floppy_types(FloppyType::Mb1_44, FloppyType::None);
        r.set_equipment(1, true, true);
        r.set_hard_disk(
            0,
            Some((
                DiskGeometry {
                    cylinders: 1024,
                    heads: 16,
                    sectors: 63,
                },
                AtaTranslation::Lba,
            )),
        );
        r.set_hard_disk(
            2,
            Some((
                DiskGeometry {
                    cylinders: 1,
                    heads: 1,
                    sectors: 1,
                },
                AtaTranslation::Large,
            )),
        );
        r.set_cpu_count(1);
        let n = *r.nvram();
        assert_eq!(&n[0x15..=0x18], &[0x80, 0x02, 0x00, 0x7C]);
        assert_eq!(&n[0x30..=0x31], &[0x00, 0x7C]);
        assert_eq!(&n[0x34..=0x35], &[0x00, 0x01]);
        assert_eq!(n[0x3D], 0x12);
        assert_eq!(n[0x38], 0x30);
        assert_eq!(n[0x10], 0x40);
        assert_eq!(n[0x14], 0x07);
        assert_eq!(n[0x12], 0xF0);
        assert_eq!(n[0x19], 47);
        assert_eq!(
            &n[0x1B..=0x23],
            &[0x00, 0x04, 16, 0xFF, 0xFF, 0xC8, 0x00, 0x04, 63]
        );
        assert_eq!(n[0x39], 0x21);
        assert_eq!(n[0x5F], 0);
        let sum: u16 = n[0x10..=0x2D].iter().map(|&b| u16::from(b)).sum();
        assert_eq!(u16::from_be_bytes([n[0x2E], n[0x2F]]), sum);
        // Over 4 GiB of RAM: 0x5B-0x5D in 64 KiB units, 0x34/0x35 capped.
        r.set_memory(0xE000_0000, 1 << 32);
        let n = *r.nvram();
        assert_eq!(&n[0x5B..=0x5D], &[0x00, 0x00, 0x01]);
        assert_eq!(&n[0x34..=0x35], &[0x00, 0xDF]);
        assert_eq!(&n[0x17..=0x18], &[0xFF, 0xFF]);
        // The guest sees the century through the data port.
        assert_eq!(cmos_read(&mut r, CMOS_CENTURY), 0x20);
    }
}
