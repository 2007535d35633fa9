//! Disk images: the host side of the IDE disks and floppy drives.
//!
//! A [`DiskImage`] is a raw image — the guest's sectors laid end to end in a
//! host file — opened in one of three [`DiskMode`]s:
//!
//! - **read-write**: guest writes reach the file (through the host page
//!   cache at once; [`DiskImage::flush`] and dropping the image make them
//!   durable with `fdatasync`);
//! - **snapshot**: the file is opened read-only and guest writes go to an
//!   in-memory overlay of 512-byte blocks, so the file stays byte for byte
//!   what it was, its modification time included;
//! - **read-only**: the file is opened read-only and guest writes fail (a
//!   write-protected floppy; an IDE disk aborts the command).
//!
//! Opening validates the image and says what is wrong in one sentence that
//! names the file: missing, a directory, unreadable, empty, a hard disk that
//! is not whole sectors, a floppy whose size is no known format.
//! [`ChsGeometry::for_hard_disk`] derives the BIOS-visible CHS geometry of a
//! hard disk as QEMU and Bochs do; [`FloppyGeometry::for_size`] derives a
//! floppy's format from its size.
//!
//! Not implemented: image formats other than raw (qcow2, VHD, ...), and
//! sharing one image between two devices.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The sector size of every disk Strachey emulates.
pub const SECTOR_SIZE: usize = 512;
const SECTOR: u64 = SECTOR_SIZE as u64;

/// The largest disk LBA48 can address (2^48 sectors).
const MAX_SECTORS: u64 = 1 << 48;

/// How guest writes reach the image file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskMode {
    /// Writes go to the file.
    ReadWrite,
    /// Writes go to an in-memory overlay; the file is never written.
    Snapshot,
    /// Writes are refused (write-protected media).
    ReadOnly,
}

/// Why an image cannot be used. Messages are sentences naming the file.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// No such file.
    #[error("disk image {} does not exist", .path.display())]
    NotFound {
        /// The image path.
        path: PathBuf,
    },
    /// The path names a directory.
    #[error("disk image {} is a directory, not a file", .path.display())]
    Directory {
        /// The image path.
        path: PathBuf,
    },
    /// The file exists but cannot be opened as asked.
    #[error("disk image {} cannot be opened{}: {source}", .path.display(),
            if *.write { " for writing (snapshot mode runs it without writing)" } else { "" })]
    Open {
        /// The image path.
        path: PathBuf,
        /// Whether it was opened for writing.
        write: bool,
        /// What the host said.
        source: io::Error,
    },
    /// The file is empty.
    #[error("disk image {} is empty", .path.display())]
    Empty {
        /// The image path.
        path: PathBuf,
    },
    /// A hard disk image that is not a whole number of sectors.
    #[error("hard disk image {} is {size} bytes, which is not a whole number of 512-byte sectors \
             (truncated?)", .path.display())]
    NotWholeSectors {
        /// The image path.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// A hard disk image larger than LBA48 can address.
    #[error("hard disk image {} is {size} bytes, larger than an ATA disk can be (128 PiB)",
            .path.display())]
    TooLarge {
        /// The image path.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// A floppy image of no known format.
    #[error("floppy image {} is {size} bytes; a floppy image must be 360 KiB, 720 KiB, 1.2 MB, \
             1.44 MB, 1.68 MB (DMF) or 2.88 MB", .path.display())]
    FloppySize {
        /// The image path.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
}

/// Where the bytes live.
enum Backend {
    File(File),
    /// In memory (tests, and images built by the emulator itself).
    Memory(Vec<u8>),
}

/// A raw disk image. Reads and writes take byte offsets and lengths that
/// are normally whole sectors.
pub struct DiskImage {
    path: PathBuf,
    backend: Backend,
    mode: DiskMode,
    len: u64,
    /// Snapshot mode: blocks written by the guest, by block number.
    overlay: HashMap<u64, Box<[u8; SECTOR_SIZE]>>,
    /// Read-write mode: data written since the last flush.
    dirty: bool,
}

impl fmt::Debug for DiskImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskImage")
            .field("path", &self.path)
            .field("mode", &self.mode)
            .field("len", &self.len)
            .field("overlay_blocks", &self.overlay.len())
            .finish()
    }
}

impl DiskImage {
    /// Open `path` in `mode`, checking only that it is a non-empty file.
    /// Use [`DiskImage::open_hard_disk`] or [`DiskImage::open_floppy`] for
    /// the checks of a particular kind of drive.
    ///
    /// # Errors
    /// Missing, a directory, unopenable or empty.
    pub fn open(path: impl AsRef<Path>, mode: DiskMode) -> Result<Self, DiskError> {
        let path = path.as_ref().to_path_buf();
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(DiskError::NotFound { path }),
            Err(source) => {
                return Err(DiskError::Open {
                    path,
                    write: false,
                    source,
                })
            }
        };
        if meta.is_dir() {
            return Err(DiskError::Directory { path });
        }
        let write = mode == DiskMode::ReadWrite;
        let file = match OpenOptions::new().read(true).write(write).open(&path) {
            Ok(f) => f,
            Err(source) => return Err(DiskError::Open { path, write, source }),
        };
        // Size from the open file (a block device reports 0 in metadata).
        let len = match file.metadata() {
            Ok(m) if m.len() > 0 => m.len(),
            _ => {
                let mut f = &file;
                io::Seek::seek(&mut f, io::SeekFrom::End(0)).map_err(|source| DiskError::Open {
                    path: path.clone(),
                    write,
                    source,
                })?
            }
        };
        if len == 0 {
            return Err(DiskError::Empty { path });
        }
        // Prove it is readable now rather than at the guest's first read.
        let mut probe = [0u8; 1];
        if let Err(source) = file.read_exact_at(&mut probe, 0) {
            return Err(DiskError::Open {
                path,
                write: false,
                source,
            });
        }
        Ok(Self {
            path,
            backend: Backend::File(file),
            mode,
            len,
            overlay: HashMap::new(),
            dirty: false,
        })
    }

    /// Open a hard disk image: a whole number of 512-byte sectors.
    ///
    /// # Errors
    /// As [`DiskImage::open`], plus a size that is not whole sectors or is
    /// beyond LBA48.
    pub fn open_hard_disk(path: impl AsRef<Path>, mode: DiskMode) -> Result<Self, DiskError> {
        let img = Self::open(path, mode)?;
        img.check_hard_disk()?;
        Ok(img)
    }

    /// Open a floppy image: one of the sizes [`FloppyGeometry::for_size`]
    /// knows.
    ///
    /// # Errors
    /// As [`DiskImage::open`], plus a size that is no floppy format.
    pub fn open_floppy(path: impl AsRef<Path>, mode: DiskMode) -> Result<Self, DiskError> {
        let img = Self::open(path, mode)?;
        img.floppy_geometry()?;
        Ok(img)
    }

    /// An image held in memory (`name` is used in messages). Snapshot mode
    /// behaves like read-write here; read-only refuses writes.
    pub fn from_bytes(name: &str, data: Vec<u8>, mode: DiskMode) -> Self {
        Self {
            path: PathBuf::from(name),
            len: data.len() as u64,
            backend: Backend::Memory(data),
            mode,
            overlay: HashMap::new(),
            dirty: false,
        }
    }

    /// Check this image can be a hard disk.
    ///
    /// # Errors
    /// Empty, not whole sectors, or too large.
    pub fn check_hard_disk(&self) -> Result<(), DiskError> {
        let path = self.path.clone();
        let size = self.len;
        if size == 0 {
            Err(DiskError::Empty { path })
        } else if !size.is_multiple_of(SECTOR) {
            Err(DiskError::NotWholeSectors { path, size })
        } else if size / SECTOR > MAX_SECTORS {
            Err(DiskError::TooLarge { path, size })
        } else {
            Ok(())
        }
    }

    /// The floppy format of this image.
    ///
    /// # Errors
    /// The size is no known floppy format.
    pub fn floppy_geometry(&self) -> Result<FloppyGeometry, DiskError> {
        FloppyGeometry::for_size(self.len).ok_or_else(|| DiskError::FloppySize {
            path: self.path.clone(),
            size: self.len,
        })
    }

    /// The path (or name) of the image.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mode it was opened in.
    pub fn mode(&self) -> DiskMode {
        self.mode
    }

    /// Whether guest writes are refused.
    pub fn is_read_only(&self) -> bool {
        self.mode == DiskMode::ReadOnly
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the image has no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size in whole 512-byte sectors.
    pub fn sectors(&self) -> u64 {
        self.len / SECTOR
    }

    fn check_range(&self, offset: u64, n: usize) -> io::Result<()> {
        match offset.checked_add(n as u64) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "access at byte {offset} runs past the end of {}",
                    self.path.display()
                ),
            )),
        }
    }

    fn read_backend(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        match &self.backend {
            Backend::File(f) => f.read_exact_at(buf, offset),
            Backend::Memory(v) => {
                buf.copy_from_slice(&v[offset as usize..offset as usize + buf.len()]);
                Ok(())
            }
        }
    }

    /// Read `buf.len()` bytes at byte `offset`.
    ///
    /// # Errors
    /// The range runs past the end, or the host read failed.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.check_range(offset, buf.len())?;
        if self.overlay.is_empty() {
            return self.read_backend(offset, buf);
        }
        let mut done = 0;
        while done < buf.len() {
            let pos = offset + done as u64;
            let block = pos / SECTOR;
            let within = (pos % SECTOR) as usize;
            let n = (SECTOR_SIZE - within).min(buf.len() - done);
            match self.overlay.get(&block) {
                Some(b) => buf[done..done + n].copy_from_slice(&b[within..within + n]),
                None => self.read_backend(pos, &mut buf[done..done + n])?,
            }
            done += n;
        }
        Ok(())
    }

    /// Write `buf` at byte `offset`.
    ///
    /// # Errors
    /// The image is read-only, the range runs past the end, or the host
    /// write failed.
    pub fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.check_range(offset, buf.len())?;
        match (self.mode, &mut self.backend) {
            (DiskMode::ReadOnly, _) => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("disk image {} is read-only", self.path.display()),
            )),
            (_, Backend::Memory(v)) => {
                v[offset as usize..offset as usize + buf.len()].copy_from_slice(buf);
                Ok(())
            }
            (DiskMode::ReadWrite, Backend::File(f)) => {
                f.write_all_at(buf, offset)?;
                self.dirty = true;
                Ok(())
            }
            (DiskMode::Snapshot, Backend::File(_)) => {
                let mut done = 0;
                while done < buf.len() {
                    let pos = offset + done as u64;
                    let block = pos / SECTOR;
                    let within = (pos % SECTOR) as usize;
                    let n = (SECTOR_SIZE - within).min(buf.len() - done);
                    if !self.overlay.contains_key(&block) {
                        let mut b = Box::new([0u8; SECTOR_SIZE]);
                        // A partial block at the end of an odd-sized file
                        // keeps zeros past the end; they are never read.
                        let avail = (self.len - block * SECTOR).min(SECTOR) as usize;
                        if n < SECTOR_SIZE {
                            self.read_backend(block * SECTOR, &mut b[..avail])?;
                        }
                        self.overlay.insert(block, b);
                    }
                    if let Some(b) = self.overlay.get_mut(&block) {
                        b[within..within + n].copy_from_slice(&buf[done..done + n]);
                    }
                    done += n;
                }
                Ok(())
            }
        }
    }

    /// Read whole sectors starting at `lba` (`buf.len()` a multiple of 512).
    ///
    /// # Errors
    /// As [`DiskImage::read_at`].
    pub fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read_at(lba * SECTOR, buf)
    }

    /// Write whole sectors starting at `lba`.
    ///
    /// # Errors
    /// As [`DiskImage::write_at`].
    pub fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> io::Result<()> {
        self.write_at(lba * SECTOR, buf)
    }

    /// Make written data durable (read-write files only; a no-op otherwise).
    ///
    /// # Errors
    /// The host could not sync the file.
    pub fn flush(&mut self) -> io::Result<()> {
        if let (true, Backend::File(f)) = (self.dirty, &self.backend) {
            f.sync_data()?;
            self.dirty = false;
        }
        Ok(())
    }

    /// The bytes of an in-memory image (tests).
    pub fn memory(&self) -> Option<&[u8]> {
        match &self.backend {
            Backend::Memory(v) => Some(v),
            Backend::File(_) => None,
        }
    }
}

impl Drop for DiskImage {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            eprintln!(
                "strachey: could not flush disk image {}: {e}",
                self.path.display()
            );
        }
    }
}

/// A hard disk's cylinder/head/sector geometry as the BIOS sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChsGeometry {
    /// Cylinders (1..=16383).
    pub cylinders: u16,
    /// Heads (1..=16).
    pub heads: u8,
    /// Sectors per track (1..=63).
    pub sectors: u8,
}

impl ChsGeometry {
    /// The geometry QEMU and Bochs give a disk of `total` sectors with no
    /// geometry of its own: 16 heads, 63 sectors per track, and as many
    /// cylinders as fit, at least 1 and at most 16383 (the ATA limit;
    /// sectors beyond it are reached through LBA only).
    pub fn for_hard_disk(total: u64) -> Self {
        let cylinders = (total / (16 * 63)).clamp(1, 16383) as u16;
        Self {
            cylinders,
            heads: 16,
            sectors: 63,
        }
    }

    /// Sectors the geometry covers.
    pub fn capacity(&self) -> u64 {
        u64::from(self.cylinders) * u64::from(self.heads) * u64::from(self.sectors)
    }
}

/// A floppy controller data rate (82077AA datasheet, DSR/CCR bits 1:0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataRate {
    /// 500 kbit/s (HD media): code 0.
    K500 = 0,
    /// 300 kbit/s (DD 5.25" media in an HD drive): code 1.
    K300 = 1,
    /// 250 kbit/s (DD media): code 2.
    K250 = 2,
    /// 1 Mbit/s (ED media): code 3.
    M1 = 3,
}

/// A floppy format, derived from the image size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloppyGeometry {
    /// Cylinders (tracks per side).
    pub cylinders: u8,
    /// Heads (sides).
    pub heads: u8,
    /// Sectors per track.
    pub sectors: u8,
    /// The data rate the media is recorded at.
    pub rate: DataRate,
    /// The drive type for CMOS register 0x10 (1 = 360 KiB, 2 = 1.2 MB,
    /// 3 = 720 KiB, 4 = 1.44 MB, 5 = 2.88 MB).
    pub cmos_type: u8,
}

impl FloppyGeometry {
    /// The format of an image of `size` bytes, if it is one.
    pub fn for_size(size: u64) -> Option<Self> {
        let g = |cylinders, sectors, rate, cmos_type| Self {
            cylinders,
            heads: 2,
            sectors,
            rate,
            cmos_type,
        };
        Some(match size {
            368_640 => g(40, 9, DataRate::K250, 1),
            737_280 => g(80, 9, DataRate::K250, 3),
            1_228_800 => g(80, 15, DataRate::K500, 2),
            1_474_560 => g(80, 18, DataRate::K500, 4),
            1_720_320 => g(80, 21, DataRate::K500, 4),
            2_949_120 => g(80, 36, DataRate::M1, 5),
            _ => return None,
        })
    }

    /// Whether a controller set to `rate` can read this media. 360 KiB
    /// media read at 300 kbit/s in a 1.2 MB drive as well as at 250.
    pub fn readable_at(&self, rate: DataRate) -> bool {
        rate == self.rate || (self.cylinders == 40 && rate == DataRate::K300)
    }

    /// Total sectors.
    pub fn total_sectors(&self) -> u64 {
        u64::from(self.cylinders) * u64::from(self.heads) * u64::from(self.sectors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("strachey-disk-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 512) as u8).collect()
    }

    #[test]
    fn read_write_reaches_the_file() {
        let dir = temp("rw");
        let p = dir.join("hd.img");
        std::fs::write(&p, pattern(4096)).unwrap();
        let mut d = DiskImage::open_hard_disk(&p, DiskMode::ReadWrite).unwrap();
        assert_eq!(d.sectors(), 8);
        d.write_sectors(3, &[0xAB; 512]).unwrap();
        d.flush().unwrap();
        drop(d);
        let bytes = std::fs::read(&p).unwrap();
        assert!(bytes[1536..2048].iter().all(|&b| b == 0xAB));
        assert_eq!(bytes[..1536], pattern(4096)[..1536]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn snapshot_leaves_file_untouched() {
        let dir = temp("snap");
        let p = dir.join("hd.img");
        let orig = pattern(8192);
        std::fs::write(&p, &orig).unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();

        let mut d = DiskImage::open_hard_disk(&p, DiskMode::Snapshot).unwrap();
        d.write_sectors(1, &[0x11; 1024]).unwrap();
        d.write_at(5 * 512 + 100, &[0x22; 10]).unwrap();
        let mut b = vec![0u8; 8192];
        d.read_at(0, &mut b).unwrap();
        assert!(b[512..1536].iter().all(|&x| x == 0x11));
        assert_eq!(b[5 * 512..5 * 512 + 100], orig[5 * 512..5 * 512 + 100]);
        assert!(b[5 * 512 + 100..5 * 512 + 110].iter().all(|&x| x == 0x22));
        assert_eq!(b[5 * 512 + 110..], orig[5 * 512 + 110..]);
        d.flush().unwrap();
        drop(d);

        assert_eq!(std::fs::read(&p).unwrap(), orig);
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), mtime);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn read_only_refuses_writes() {
        let mut d = DiskImage::from_bytes("ro", vec![0; 1024], DiskMode::ReadOnly);
        assert!(d.write_sectors(0, &[1; 512]).is_err());
        assert!(d.read_sectors(2, &mut [0; 512]).is_err(), "past the end");
    }

    #[test]
    fn errors_name_the_file_in_a_sentence() {
        let dir = temp("err");
        let missing = dir.join("nope.img");
        let e = DiskImage::open(&missing, DiskMode::ReadWrite).unwrap_err();
        assert!(matches!(e, DiskError::NotFound { .. }));
        assert_eq!(
            e.to_string(),
            format!("disk image {} does not exist", missing.display())
        );

        let e = DiskImage::open(&dir, DiskMode::Snapshot).unwrap_err();
        assert!(e.to_string().ends_with("is a directory, not a file"), "{e}");

        let empty = dir.join("empty.img");
        std::fs::write(&empty, b"").unwrap();
        let e = DiskImage::open_floppy(&empty, DiskMode::Snapshot).unwrap_err();
        assert!(matches!(e, DiskError::Empty { .. }), "{e}");

        let odd = dir.join("odd.img");
        std::fs::write(&odd, vec![0; 1000]).unwrap();
        let e = DiskImage::open_hard_disk(&odd, DiskMode::Snapshot).unwrap_err();
        assert!(e
            .to_string()
            .contains("1000 bytes, which is not a whole number of 512-byte sectors"));
        let e = DiskImage::open_floppy(&odd, DiskMode::Snapshot).unwrap_err();
        assert!(e
            .to_string()
            .starts_with(&format!("floppy image {} is 1000 bytes;", odd.display())));

        let fl = dir.join("fd.img");
        std::fs::write(&fl, vec![0; 1_474_560]).unwrap();
        let d = DiskImage::open_floppy(&fl, DiskMode::Snapshot).unwrap();
        let g = d.floppy_geometry().unwrap();
        assert_eq!((g.cylinders, g.heads, g.sectors, g.cmos_type), (80, 2, 18, 4));
        assert!(!e.to_string().contains('\n'));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unreadable_file_is_reported() {
        // Root can read anything; the check only means something for others.
        let dir = temp("perm");
        let p = dir.join("locked.img");
        std::fs::write(&p, vec![0; 512]).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
        if File::open(&p).is_err() {
            let e = DiskImage::open(&p, DiskMode::Snapshot).unwrap_err();
            assert!(e
                .to_string()
                .starts_with(&format!("disk image {} cannot be opened:", p.display())));
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
        if OpenOptions::new().write(true).open(&p).is_err() {
            let e = DiskImage::open(&p, DiskMode::ReadWrite).unwrap_err();
            assert!(e.to_string().contains("cannot be opened for writing"), "{e}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn chs_geometry_like_qemu() {
        // 10 MiB: 20480 sectors / 1008 = 20 cylinders.
        assert_eq!(
            ChsGeometry::for_hard_disk(20480),
            ChsGeometry {
                cylinders: 20,
                heads: 16,
                sectors: 63
            }
        );
        assert_eq!(ChsGeometry::for_hard_disk(100).cylinders, 1);
        // 20 GiB: capped at 16383 cylinders.
        assert_eq!(ChsGeometry::for_hard_disk(20 << 21).cylinders, 16383);
        assert_eq!(FloppyGeometry::for_size(2_949_120).unwrap().sectors, 36);
        assert!(FloppyGeometry::for_size(1_474_561).is_none());
    }
}
