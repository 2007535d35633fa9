//! The IDE/ATA controller: two legacy channels (primary at 0x1F0–0x1F7 and
//! 0x3F6 on IRQ 14, secondary at 0x170–0x177 and 0x376 on IRQ 15), each
//! with a master and a slave position, holding ATA hard disks.
//!
//! Implemented (ATA/ATAPI-6, T13/1410D, and the obsolete commands older
//! guests still issue): the task file with LBA48's HOB read-back, device
//! control (nIEN, SRST, HOB), alternate status, the post-reset and
//! post-diagnostic signature, PIO data transfers in 16-bit words (32-bit
//! accesses move two words), CHS (with the translation INITIALIZE DEVICE
//! PARAMETERS sets), LBA28 and LBA48 addressing, and the commands IDENTIFY
//! DEVICE, READ/WRITE SECTORS (with and without retry), READ/WRITE MULTIPLE,
//! SET MULTIPLE MODE, READ/WRITE SECTORS EXT and MULTIPLE EXT, READ VERIFY
//! (and EXT), SEEK, RECALIBRATE, SET FEATURES (PIO transfer modes, write
//! cache, read look-ahead, revert to defaults), INITIALIZE DEVICE
//! PARAMETERS, IDLE/STANDBY/SLEEP (and IMMEDIATE), CHECK POWER MODE, FLUSH
//! CACHE (and EXT), EXECUTE DEVICE DIAGNOSTIC; IDENTIFY PACKET DEVICE,
//! PACKET, DEVICE RESET and NOP abort as on an ATA disk, and so does any
//! other command. Interrupts follow the selected device and nIEN; reading
//! Status acknowledges them. An absent slave reads 0 in Status; a channel
//! with nothing on it reads all ones.
//!
//! Commands complete at once (no BSY time). Not implemented: ATAPI
//! (CD-ROM) devices, bus-master DMA (the PCI function and BAR4 belong to the
//! board; IDENTIFY advertises no DMA mode), SMART, security, HPA, and
//! per-device copies of the task file (both devices share one).

mod ata;
mod channel;
#[cfg(test)]
mod tests;

pub use ata::AtaDisk;
pub use channel::Channel;

use crate::disk::{ChsGeometry, DiskError, DiskImage};
use crate::irq::IrqLine;
use mem::{Port, PortDevice};

/// Command block base ports of the primary and secondary channels.
pub const CMD_BASE: [u16; 2] = [0x1F0, 0x170];
/// Control block ports (Alternate Status / Device Control).
pub const CTL_PORT: [u16; 2] = [0x3F6, 0x376];
/// The ISA interrupt lines of the two channels.
pub const IRQS: [u8; 2] = [14, 15];
/// The port ranges to claim: (first, count). 0x3F7 and 0x377 are not ours
/// (0x3F7 is the floppy controller's).
pub const PORTS: &[(u16, u16)] = &[(0x1F0, 8), (0x3F6, 1), (0x170, 8), (0x376, 1)];

/// Where a port lands.
enum Target {
    Command(usize, u16),
    Control(usize),
    None,
}

fn decode(port: u16) -> Target {
    for ch in 0..2 {
        if (CMD_BASE[ch]..CMD_BASE[ch] + 8).contains(&port) {
            return Target::Command(ch, port - CMD_BASE[ch]);
        }
        if port == CTL_PORT[ch] {
            return Target::Control(ch);
        }
    }
    Target::None
}

/// The two-channel IDE controller.
#[derive(Debug)]
pub struct Ide {
    channels: [Channel; 2],
}

impl Ide {
    /// A controller with empty channels interrupting on `primary` (IRQ 14)
    /// and `secondary` (IRQ 15).
    pub fn new(primary: IrqLine, secondary: IrqLine) -> Self {
        Self {
            channels: [Channel::new(primary), Channel::new(secondary)],
        }
    }

    /// Put a hard disk backed by `image` at `channel` (0 primary, 1
    /// secondary), `unit` (0 master, 1 slave).
    ///
    /// # Errors
    /// The image is not a whole number of sectors, or too large.
    pub fn attach(&mut self, channel: usize, unit: usize, image: DiskImage) -> Result<(), DiskError> {
        let mut disk = AtaDisk::new(image)?;
        disk.serial = format!("STRACHEY-HD{}", channel * 2 + unit);
        self.channels[channel & 1].units[unit & 1] = Some(disk);
        Ok(())
    }

    /// Take the disk out of a position.
    pub fn detach(&mut self, channel: usize, unit: usize) -> Option<AtaDisk> {
        self.channels[channel & 1].units[unit & 1].take()
    }

    /// The disk at a position.
    pub fn disk(&self, channel: usize, unit: usize) -> Option<&AtaDisk> {
        self.channels[channel & 1].units[unit & 1].as_ref()
    }

    /// The default CHS geometry of the disk at a position (for CMOS).
    pub fn geometry(&self, channel: usize, unit: usize) -> Option<ChsGeometry> {
        self.disk(channel, unit).map(AtaDisk::geometry)
    }

    /// One channel (for a later bus-master DMA engine).
    pub fn channel_mut(&mut self, channel: usize) -> &mut Channel {
        &mut self.channels[channel & 1]
    }

    /// Make every disk's written data durable.
    pub fn flush(&mut self) {
        for ch in &mut self.channels {
            for d in ch.units.iter_mut().flatten() {
                if let Err(e) = d.image.flush() {
                    eprintln!("strachey: IDE: could not flush {}: {e}", d.image.path().display());
                }
            }
        }
    }

    /// A hardware reset (power-on state of both channels).
    pub fn reset(&mut self) {
        for ch in &mut self.channels {
            ch.reset();
        }
    }
}

impl PortDevice for Ide {
    fn read(&mut self, port: Port, data: &mut [u8]) {
        match decode(port.0) {
            Target::Command(ch, channel::REG_DATA) => self.channels[ch].read_data(data),
            _ => {
                // Other registers are bytes; a wider access reads the
                // following ports too.
                for (k, b) in data.iter_mut().enumerate() {
                    *b = match decode(port.0.wrapping_add(k as u16)) {
                        Target::Command(ch, reg) if reg != channel::REG_DATA => {
                            self.channels[ch].read_reg(reg)
                        }
                        Target::Control(ch) => self.channels[ch].read_alt_status(),
                        _ => 0xFF,
                    };
                }
            }
        }
    }

    fn write(&mut self, port: Port, data: &[u8]) {
        match decode(port.0) {
            Target::Command(ch, channel::REG_DATA) => self.channels[ch].write_data(data),
            _ => {
                for (k, &v) in data.iter().enumerate() {
                    match decode(port.0.wrapping_add(k as u16)) {
                        Target::Command(ch, reg) if reg != channel::REG_DATA => {
                            self.channels[ch].write_reg(reg, v)
                        }
                        Target::Control(ch) => self.channels[ch].write_control(v),
                        _ => {}
                    }
                }
            }
        }
    }
}
