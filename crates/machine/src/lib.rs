//! The board: a PC built from a [`Config`] — memory, firmware, the chipset
//! and devices, wired to the CPU — and the main loop that runs it and turns
//! CPU exits and device events into an [`Outcome`].
//!
//! The board is what QEMU calls `-M pc` with an i440FX: the devices SeaBIOS
//! expects (see `docs/devices.md`), at their usual ports and IRQs:
//!
//! | device | ports | IRQ |
//! |---|---|---|
//! | 8259 PIC pair + ELCR | 0x20, 0xA0, 0x4D0 | — |
//! | 8254 PIT, port 0x61 | 0x40–0x43, 0x61 | 0 |
//! | 8042 + PS/2 keyboard, mouse | 0x60, 0x64 | 1, 12 |
//! | RTC/CMOS | 0x70–0x71 | 8 |
//! | COM1, COM2 | 0x3F8, 0x2F8 | 4, 3 |
//! | 8237 DMA | 0x00–0x0F, 0x81–0x8F, 0xC0–0xDF | — |
//! | floppy controller | 0x3F0–0x3F5, 0x3F7 | 6 |
//! | IDE primary, secondary | 0x1F0, 0x3F6; 0x170, 0x376 | 14, 15 |
//! | VGA (PCI 00:02.0) | 0x3B4–0x3DA, 0x1CE; 0xA0000 window | — |
//! | PCI config, reset control | 0xCF8, 0xCFC, 0xCF9 | — |
//! | fw_cfg | 0x510, 0x511, 0x514–0x51B | — |
//! | port 0x92 (A20, reset) | 0x92 | — |
//! | x87 error latch (FERR# → IRQ13) | 0xF0 | 13 |
//! | debug exit | 0xF4 | — |
//!
//! Time comes from the host clock; timers (PIT, RTC, UARTs, the keyboard's
//! typematic repeat) are brought up to date between slices of guest
//! instructions, and a halted CPU sleeps until the next timer deadline.

#![forbid(unsafe_code)]

pub use bt;
use cpu::{Bus, Cpu, Exit, InterruptController};
use devices::disk::DiskImage;
use devices::dma8237::{self, Dma8237};
use devices::fdc::{self, Fdc};
use devices::fwcfg::{FwCfg, FwCfgBuilder};
use devices::i8042::{self, I8042};
use devices::ide::{self, Ide};
use devices::pci::{I440fx, PciBus, PciIntxRouter, Piix3, Piix3Ide, ResetControl};
use devices::pic::Pic;
use devices::pit::Pit;
use devices::ps2kbd::Key;
use devices::rtc::{AtaTranslation, BootDevice, DiskGeometry, Rtc};
use devices::sysctl::{self, ResetSignal, SysCtl};
use devices::uart::{self, SerialBackend, Uart};
use devices::vga::{self, Capture, Frame, FrameCapture, FrameError, PlainWindow, Vga};
use devices::{Clock, DebugCon, DebugExit, IrqLine, IrqSink, Sink, Timed};
use mem::{Attention, MmioDevice, PhysAddr, PhysMemory, Port, PortDevice, Shared};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Instructions per slice of the run loop between timer checks.
const SLICE: u64 = 1 << 16;
/// Where PCI memory BARs may be placed (below the I/O APIC page, as SeaBIOS
/// assigns them).
const PCI_HOLE_END: u64 = 0xFEC0_0000;
/// Where the BIOS loads and starts the boot sector.
const BOOT_SECTOR: u32 = 0x7c00;
/// Time between typed keys for `--keys`.
const KEY_INTERVAL: Duration = Duration::from_millis(20);

/// Which execution engine runs guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The reference interpreter.
    Interp,
    /// The binary translator (x86-64 Linux hosts), falling back to the
    /// interpreter for what it does not translate.
    Bt,
}

impl Engine {
    /// The binary translator where this build has it (x86-64 Linux
    /// hosts), the interpreter elsewhere.
    pub const DEFAULT: Engine = if bt::AVAILABLE { Engine::Bt } else { Engine::Interp };
}

/// One debug console: a port and where its bytes go.
#[derive(Debug)]
pub struct DebugConSpec {
    /// The port it listens on.
    pub port: u16,
    /// Where the bytes go.
    pub sink: Sink,
}

/// What the BIOS should boot first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootFrom {
    /// The first hard disk, then the floppy (QEMU's default `-boot c`).
    HardDisk,
    /// The floppy, then the hard disk (`-boot a`).
    Floppy,
}

/// Everything needed to build a machine.
pub struct Config {
    /// RAM in MiB.
    pub ram_mib: u64,
    /// The BIOS image (mapped at the top of 4 GiB).
    pub bios: Vec<u8>,
    /// The VGA BIOS image, exposed through the VGA's PCI ROM BAR.
    pub vga_bios: Option<Vec<u8>>,
    /// Engine.
    pub engine: Engine,
    /// IDE primary master and slave.
    pub hda: Option<DiskImage>,
    /// IDE primary slave.
    pub hdb: Option<DiskImage>,
    /// Floppy drive A.
    pub fda: Option<DiskImage>,
    /// Boot order.
    pub boot: BootFrom,
    /// Host side of COM1 (COM2 is connected to nothing).
    pub serial: Box<dyn SerialBackend>,
    /// Debug consoles.
    pub debugcons: Vec<DebugConSpec>,
    /// On a triple fault or reset request, stop instead of resetting.
    pub no_reboot: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("ram_mib", &self.ram_mib)
            .field("bios", &self.bios.len())
            .field("vga_bios", &self.vga_bios.as_ref().map(Vec::len))
            .field("boot", &self.boot)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A board with `bios` and nothing attached: 32 MiB, no disks, serial
    /// to nowhere, debug console on 0xE9 to `sink`.
    pub fn minimal(bios: Vec<u8>, sink: Sink) -> Self {
        Self {
            ram_mib: 32,
            bios,
            vga_bios: None,
            engine: Engine::DEFAULT,
            hda: None,
            hdb: None,
            fda: None,
            boot: BootFrom::HardDisk,
            serial: Box::new(uart::NullBackend),
            debugcons: vec![DebugConSpec { port: 0xe9, sink }],
            no_reboot: true,
        }
    }
}

/// Errors building a machine.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Memory could not be set up (size, ROM size, host memory).
    #[error(transparent)]
    Mem(#[from] mem::MemError),
    /// Two devices claim the same port.
    #[error("port conflict: {0}")]
    Ports(String),
    /// A disk image was refused.
    #[error(transparent)]
    Disk(#[from] devices::disk::DiskError),
    /// Board wiring failed (a bug, reported rather than panicking).
    #[error("board: {0}")]
    Board(String),
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The guest wrote this value to the debug-exit port.
    DebugExit(u8),
    /// Triple fault with `no_reboot`.
    TripleFault,
    /// The guest asked for a reset with `no_reboot`.
    Reset,
    /// The CPU halted where nothing can wake it.
    DeadHalt,
    /// The wall-clock limit passed.
    Timeout,
    /// The user (or the host side) asked to stop.
    Quit,
    /// Another thread asked to stop through a [`Stopper`] (the command
    /// line does on SIGINT and SIGTERM).
    Interrupted,
}

/// Asks a running [`Machine`] to stop, from any thread: the run ends with
/// [`Outcome::Interrupted`] at the CPU's next look at the attention flag
/// (translated code is kicked out of its loop at once), with disks flushed
/// as at any other end.
#[derive(Clone, Debug)]
pub struct Stopper {
    attention: Attention,
    requested: Arc<AtomicBool>,
}

impl Stopper {
    /// Ask the machine to stop.
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.attention.raise(Attention::STOP);
    }
}

/// The CPU's view of the 8259 pair.
struct PicIntc(Shared<Pic>);

impl InterruptController for PicIntc {
    fn pending(&self) -> bool {
        self.0.borrow().pending()
    }
    fn acknowledge(&mut self) -> u8 {
        self.0.borrow_mut().acknowledge()
    }
    /// FERR# (an unmasked x87 exception with CR0.NE=0) drives IRQ13, as on
    /// a PC; the PIC raises the attention flag itself.
    fn ferr(&mut self, asserted: bool) {
        self.0.borrow_mut().set_irq(13, asserted);
    }
}

/// Port F0h: a write clears the FPU's error latch (IRQ13), as the PC/AT's
/// coprocessor-busy latch did.
struct FpuErrorLatch(Shared<Pic>);

impl PortDevice for FpuErrorLatch {
    fn read(&mut self, _port: Port, data: &mut [u8]) {
        data.fill(0xff);
    }
    fn write(&mut self, _port: Port, _data: &[u8]) {
        self.0.borrow_mut().set_irq(13, false);
    }
}

/// The PCI memory hole: routes accesses to whichever BAR window of the VGA
/// holds the address (the only PCI device with memory BARs so far).
struct PciHole(Shared<Vga>);

impl MmioDevice for PciHole {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let addr = HOLE_BASE.with(|b| b.get()) + offset;
        let hit = self.0.borrow().pci_window_at(addr);
        match hit {
            Some((w, off)) => self.0.borrow_mut().pci_read(w, off, data),
            None => data.fill(0xff),
        }
    }
    fn write(&mut self, offset: u64, data: &[u8]) {
        let addr = HOLE_BASE.with(|b| b.get()) + offset;
        let hit = self.0.borrow().pci_window_at(addr);
        if let Some((w, off)) = hit {
            self.0.borrow_mut().pci_write(w, off, data);
        }
    }
}

thread_local! {
    /// Start of the PCI hole (per vCPU thread; one machine per thread).
    static HOLE_BASE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The VGA's plain windows that this board routes to the card (see
/// [`Machine::vga_plain_windows`]).
fn routed_windows(vga: &Vga, ram: u64) -> Vec<PlainWindow> {
    let routed = [
        vga::LEGACY_WINDOW..vga::LEGACY_WINDOW + vga::LEGACY_WINDOW_SIZE,
        pci_hole_base(ram)..PCI_HOLE_END,
    ];
    vga.plain_windows()
        .into_iter()
        .filter(|w| {
            routed
                .iter()
                .any(|r| r.start <= w.guest && w.guest + w.len <= r.end)
        })
        .collect()
}

/// The VGA's memory as the binary translator maps it.
struct VgaVideo {
    vga: Shared<Vga>,
    ram: u64,
}

impl bt::VideoMemory for VgaVideo {
    fn fd(&self) -> i32 {
        self.vga.borrow().vram_fd()
    }
    fn windows(&self) -> Vec<(u64, u64, u64)> {
        routed_windows(&self.vga.borrow(), self.ram)
            .into_iter()
            .map(|w| (w.guest, w.vram_offset, w.len))
            .collect()
    }
    fn generation(&self) -> u64 {
        self.vga.borrow().windows_generation()
    }
    fn dirty_epoch(&self) -> u64 {
        self.vga.borrow().dirty_epoch()
    }
    fn mark_dirty(&mut self, offset: u64, len: u64) {
        self.vga.borrow_mut().mark_vram_dirty(offset, len);
    }
}

/// Where the PCI memory hole starts with `ram` bytes of RAM: the next
/// 256 MiB boundary, at least 256 MiB (it ends at [`PCI_HOLE_END`]).
fn pci_hole_base(ram: u64) -> u64 {
    ram.max(0x1000_0000).next_multiple_of(0x1000_0000)
}

fn shared<T>(t: T) -> Shared<T> {
    Rc::new(RefCell::new(t))
}

/// The devices the board keeps handles to.
struct Devices {
    pic: Shared<Pic>,
    pit: Shared<Pit>,
    rtc: Shared<Rtc>,
    kbd: Shared<I8042>,
    sysctl: Shared<SysCtl>,
    com1: Shared<Uart>,
    com2: Shared<Uart>,
    host: Shared<I440fx>,
    piix3: Shared<Piix3>,
    piix3_ide: Shared<Piix3Ide>,
    reset_ctl: Shared<ResetControl>,
    fwcfg: Shared<FwCfg>,
    dma: Shared<Dma8237>,
    fdc: Shared<Fdc>,
    ide: Shared<Ide>,
    vga: Shared<Vga>,
    debug_exit: Shared<DebugExit>,
    consoles: Vec<Shared<DebugCon>>,
}

/// The machine.
pub struct Machine {
    /// The CPU.
    pub cpu: Cpu,
    /// Memory, ports, interrupt line.
    pub bus: Bus,
    /// The translator, with `Engine::Bt`.
    pub bt: Option<bt::Bt>,
    dev: Devices,
    clock: Clock,
    reset: ResetSignal,
    no_reboot: bool,
    keys: VecDeque<(Key, bool)>,
    next_key: Option<Instant>,
    /// Time spent in `run`.
    pub elapsed: Duration,
    /// Resets (triple faults and reset requests) so far.
    pub resets: u64,
    /// The frame-capture test port, once enabled.
    capture: Option<Shared<FrameCapture>>,
    /// Set by a [`Stopper`].
    stop_requested: Arc<AtomicBool>,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("cpu", &self.cpu)
            .field("bus", &self.bus)
            .finish()
    }
}

fn register(bus: &mut Bus, ranges: &[(u16, u16)], dev: Shared<dyn PortDevice>) -> Result<(), BuildError> {
    for &(first, count) in ranges {
        bus.io
            .register(Port(first), count, dev.clone())
            .map_err(BuildError::Ports)?;
    }
    Ok(())
}

impl Machine {
    /// Build the board described by `cfg`.
    ///
    /// # Errors
    /// Bad memory or ROM sizes, host memory exhaustion, port conflicts, a
    /// disk image the board cannot use.
    pub fn new(cfg: Config) -> Result<Self, BuildError> {
        let mut mem = PhysMemory::new(cfg.ram_mib)?;
        mem.load_bios(&cfg.bios)?;
        let ram = mem.ram_size();
        let shadow = mem.shadow_control();
        let dma_mem = mem.dma();
        let a20 = mem.a20_line();
        let mut bus = Bus::new(mem);
        let att = bus.attention.clone();
        let clock = Clock::host();
        let reset = ResetSignal::new(att.clone());

        let pic = shared(Pic::new(att.clone()));
        let sink: Shared<dyn IrqSink> = pic.clone();
        let irq = |n: u8| IrqLine::new(sink.clone(), n);
        register(&mut bus, Pic::PORTS, pic.clone())?;
        bus.intc = Some(Box::new(PicIntc(pic.clone())));
        register(&mut bus, &[(0xf0, 1)], shared(FpuErrorLatch(pic.clone())))?;

        let pit = shared(Pit::new(clock.clone(), irq(0)));
        register(&mut bus, Pit::PORTS, pit.clone())?;
        let rtc = shared(Rtc::new(clock.clone(), irq(8)));
        register(&mut bus, Rtc::PORTS, rtc.clone())?;
        let kbd = shared(I8042::new(
            clock.clone(),
            irq(1),
            irq(12),
            a20.clone(),
            reset.clone(),
        ));
        register(&mut bus, i8042::PORTS, kbd.clone())?;
        let sysctl = shared(SysCtl::new(a20, reset.clone()));
        register(&mut bus, sysctl::PORTS, sysctl.clone())?;
        let com1 = shared(Uart::new(irq(uart::COM1_IRQ), clock.clone(), cfg.serial));
        let (p, n) = uart::ports(uart::COM1);
        register(&mut bus, &[(p, n)], com1.clone())?;
        let com2 = shared(Uart::new(
            irq(uart::COM2_IRQ),
            clock.clone(),
            Box::new(uart::NullBackend),
        ));
        let (p, n) = uart::ports(uart::COM2);
        register(&mut bus, &[(p, n)], com2.clone())?;

        let dma = shared(Dma8237::new(dma_mem.clone()));
        register(&mut bus, dma8237::PORTS, dma.clone())?;
        let fdc = shared(Fdc::new(irq(6), dma.clone()));
        register(&mut bus, fdc::PORTS, fdc.clone())?;
        let ide = shared(Ide::new(irq(14), irq(15)));
        register(&mut bus, ide::PORTS, ide.clone())?;

        // PCI: host bridge, PIIX3 (ISA bridge + IDE), VGA.
        let mut pci = PciBus::new();
        let host = shared(I440fx::new(shadow));
        let router = PciIntxRouter::new(sink.clone());
        let piix3 = shared(Piix3::new(router));
        let piix3_ide = shared(Piix3Ide::new());
        let vga = shared(Vga::new(clock.clone(), cfg.vga_bios).map_err(mem::MemError::from)?);
        let pe = |e: devices::pci::PciError| BuildError::Board(e.to_string());
        pci.attach(0, 0, host.clone()).map_err(pe)?;
        pci.attach(1, 0, piix3.clone()).map_err(pe)?;
        pci.attach(1, 1, piix3_ide.clone()).map_err(pe)?;
        pci.attach(2, 0, vga.clone()).map_err(pe)?;
        register(&mut bus, PciBus::PORTS, shared(pci))?;
        let reset_ctl = shared(ResetControl::new(reset.clone()));
        register(&mut bus, ResetControl::PORTS, reset_ctl.clone())?;
        register(&mut bus, Vga::PORTS, vga.clone())?;
        bus.mem
            .add_mmio(PhysAddr(vga::LEGACY_WINDOW), vga::LEGACY_WINDOW_SIZE, vga.clone())?;
        let hole_base = pci_hole_base(ram);
        HOLE_BASE.with(|b| b.set(hole_base));
        bus.mem.add_mmio(
            PhysAddr(hole_base),
            PCI_HOLE_END - hole_base,
            shared(PciHole(vga.clone())),
        )?;

        // Disks.
        let mut fdc_count = 0;
        if let Some(img) = cfg.fda {
            fdc.borrow_mut().insert(0, img)?;
            fdc_count = 1;
        }
        for (unit, img) in [cfg.hda, cfg.hdb].into_iter().enumerate() {
            if let Some(img) = img {
                ide.borrow_mut().attach(0, unit, img)?;
            }
        }

        // CMOS as QEMU fills it (SEABIOS.md §3, §7).
        {
            let mut r = rtc.borrow_mut();
            r.set_memory(ram, 0);
            let order = match cfg.boot {
                BootFrom::HardDisk => [BootDevice::HardDisk, BootDevice::Floppy, BootDevice::Cdrom],
                BootFrom::Floppy => [BootDevice::Floppy, BootDevice::HardDisk, BootDevice::Cdrom],
            };
            r.set_boot_order(&order, true);
            r.set_nvram(0x10, fdc.borrow().cmos_drive_types());
            r.set_equipment(fdc_count, false, true);
            for unit in 0..2u8 {
                let g = ide.borrow().geometry(0, usize::from(unit));
                r.set_hard_disk(
                    unit,
                    g.map(|g| {
                        (
                            DiskGeometry {
                                cylinders: g.cylinders,
                                heads: g.heads,
                                sectors: g.sectors,
                            },
                            AtaTranslation::Lba,
                        )
                    }),
                );
            }
            r.set_cpu_count(1);
            r.update_checksum();
        }

        // fw_cfg as QEMU provides it: no boot menu, wait for ever after a
        // failed boot (as QEMU does).
        let mut fb = FwCfgBuilder::new();
        fb.ram_size(ram)
            .cpu_count(1)
            .boot_menu(false)
            .nographic(false)
            .e820_ram(ram);
        fb.boot_fail_wait(u32::MAX)
            .map_err(|e| BuildError::Board(e.to_string()))?;
        let fwcfg = shared(fb.build(Some(dma_mem)));
        register(&mut bus, FwCfg::PORTS, fwcfg.clone())?;

        let debug_exit = shared(DebugExit::new(att.clone()));
        bus.io
            .register(Port(0xf4), 1, debug_exit.clone())
            .map_err(BuildError::Ports)?;
        let mut consoles = Vec::new();
        for spec in cfg.debugcons {
            let con = shared(DebugCon::new(spec.sink));
            bus.io
                .register(Port(spec.port), 1, con.clone())
                .map_err(BuildError::Ports)?;
            consoles.push(con);
        }
        let bt = match cfg.engine {
            Engine::Interp => None,
            Engine::Bt => {
                let mut bt =
                    bt::Bt::new(&bus).map_err(|e| BuildError::Board(format!("binary translator: {e}")))?;
                bt.set_video(Box::new(VgaVideo {
                    vga: vga.clone(),
                    ram: bus.mem.ram_size(),
                }));
                Some(bt)
            }
        };
        Ok(Self {
            cpu: Cpu::new(),
            bus,
            bt,
            dev: Devices {
                pic,
                pit,
                rtc,
                kbd,
                sysctl,
                com1,
                com2,
                host,
                piix3,
                piix3_ide,
                reset_ctl,
                fwcfg,
                dma,
                fdc,
                ide,
                vga,
                debug_exit,
                consoles,
            },
            clock,
            reset,
            no_reboot: cfg.no_reboot,
            keys: VecDeque::new(),
            next_key: None,
            elapsed: Duration::ZERO,
            resets: 0,
            capture: None,
            stop_requested: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A handle that stops the run from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            attention: self.bus.attention.clone(),
            requested: self.stop_requested.clone(),
        }
    }

    /// What debug console `n` collected (for `Sink::Buffer` consoles).
    pub fn console_output(&self, n: usize) -> Vec<u8> {
        self.dev
            .consoles
            .get(n)
            .map(|c| c.borrow().buffer().to_vec())
            .unwrap_or_default()
    }

    /// The VGA device (text screen, display state; and, for the binary
    /// translator, its video memory: [`Vga::vram_fd`],
    /// [`Vga::windows_generation`], [`Vga::mark_vram_dirty`],
    /// [`Vga::dirty_epoch`]).
    pub fn vga(&self) -> &Shared<Vga> {
        &self.dev.vga
    }

    /// The VGA's plain windows ([`Vga::plain_windows`]) that this board
    /// routes to the card: the legacy window (A0000–BFFFF always goes to
    /// the VGA here) and a linear framebuffer inside the PCI hole, where
    /// the board sends accesses to the VGA's BARs. A BAR the guest placed
    /// elsewhere is not reachable, so it is left out. Changes only when
    /// [`Vga::windows_generation`] does.
    pub fn vga_plain_windows(&self) -> Vec<PlainWindow> {
        routed_windows(&self.dev.vga.borrow(), self.bus.mem.ram_size())
    }

    /// The picture on the screen now, as the window shows it (redrawn only
    /// where video memory or the display registers changed since the last
    /// call).
    pub fn frame(&self) -> Frame {
        self.dev.vga.borrow_mut().frame().clone()
    }

    /// Write the picture on the screen now to `path` as PNG.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn screenshot(&self, path: &std::path::Path) -> Result<(), FrameError> {
        self.dev.vga.borrow_mut().frame().write_png(path)
    }

    /// Attach the frame-capture test port ([`vga::FRAME_CAPTURE_PORT`]): each
    /// guest write to it records the frame on the screen, tagged with the
    /// byte written (see `devices::vga::capture`). Idempotent.
    ///
    /// # Errors
    /// The port is taken.
    pub fn enable_frame_capture(&mut self) -> Result<(), BuildError> {
        if self.capture.is_none() {
            let dev = shared(FrameCapture::new(self.dev.vga.clone()));
            self.bus
                .io
                .register(Port(vga::FRAME_CAPTURE_PORT), 1, dev.clone())
                .map_err(BuildError::Ports)?;
            self.capture = Some(dev);
        }
        Ok(())
    }

    /// The frames the guest asked to capture since the last call, oldest
    /// first (empty unless [`Machine::enable_frame_capture`] was called).
    pub fn take_captures(&mut self) -> Vec<Capture> {
        self.capture
            .as_ref()
            .map(|c| c.borrow_mut().take())
            .unwrap_or_default()
    }

    /// The keyboard controller (to inject keys).
    pub fn keyboard(&self) -> &Shared<I8042> {
        &self.dev.kbd
    }

    /// The final text screen as UTF-8, one line per row, if the display is
    /// in a text mode.
    pub fn screen_text(&self) -> Option<String> {
        self.dev.vga.borrow().text_dump()
    }

    /// Type `text` on the keyboard once the guest's boot sector has started
    /// (the CPU reached 0000:7C00) and the keyboard is enabled (see
    /// `--keys`). Keys typed during the BIOS's POST could be lost, as on a
    /// real PC. Characters without a key are ignored.
    pub fn type_text(&mut self, text: &str) {
        self.keys.extend(text.bytes().filter_map(Key::from_ascii));
        self.cpu.watch = Some(BOOT_SECTOR);
    }

    /// Press and release `key` now (with Shift around it if `shift`).
    pub fn tap(&self, key: Key, shift: bool) {
        let mut k = self.dev.kbd.borrow_mut();
        if shift {
            k.press(Key::ShiftLeft);
        }
        k.press(key);
        k.release(key);
        if shift {
            k.release(Key::ShiftLeft);
        }
    }

    fn feed_keys(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let ready = self.cpu.watch_hit && {
            let k = self.dev.kbd.borrow();
            k.keyboard().scanning() && k.ctr() & 1 != 0
        };
        let now = Instant::now();
        if !ready || self.next_key.is_some_and(|t| now < t) {
            return;
        }
        if let Some((key, shift)) = self.keys.pop_front() {
            self.tap(key, shift);
        }
        self.next_key = Some(now + KEY_INTERVAL);
    }

    /// Bring the timers up to date; returns the next deadline (guest ns).
    fn service_timers(&mut self) -> Option<u64> {
        let now = self.clock.now();
        let timed: [Shared<dyn Timed>; 5] = [
            self.dev.pit.clone(),
            self.dev.rtc.clone(),
            self.dev.com1.clone(),
            self.dev.com2.clone(),
            // Typematic repeat of a held key.
            self.dev.kbd.clone(),
        ];
        let mut next: Option<u64> = None;
        for t in timed {
            let mut t = t.borrow_mut();
            if t.next_deadline().is_some_and(|d| d <= now) {
                t.advance(now);
            }
            if let Some(d) = t.next_deadline() {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
        }
        next
    }

    /// Reset the machine: CPU and devices back to power-on state (RAM and
    /// disks keep their contents).
    pub fn reset(&mut self) {
        self.resets += 1;
        self.cpu.reset();
        let d = &self.dev;
        d.pic.borrow_mut().reset();
        d.pit.borrow_mut().reset();
        d.rtc.borrow_mut().reset();
        d.kbd.borrow_mut().reset();
        d.sysctl.borrow_mut().reset();
        d.com1.borrow_mut().reset();
        d.com2.borrow_mut().reset();
        d.host.borrow_mut().reset();
        d.piix3.borrow_mut().reset();
        d.piix3_ide.borrow_mut().reset();
        d.reset_ctl.borrow_mut().reset();
        d.fwcfg.borrow_mut().reset();
        d.dma.borrow_mut().reset();
        d.fdc.borrow_mut().hardware_reset();
        d.ide.borrow_mut().reset();
        self.bus.mem.a20_line().set(true);
    }

    /// Flush disks and consoles (at exit).
    pub fn flush(&mut self) {
        self.dev.ide.borrow_mut().flush();
        self.dev.fdc.borrow_mut().flush();
        self.dev.com1.borrow_mut().flush();
        for c in &self.dev.consoles {
            c.borrow_mut().flush();
        }
    }

    /// Run until the guest ends the run or `timeout` passes.
    pub fn run(&mut self, timeout: Option<Duration>) -> Outcome {
        self.run_with(timeout, |_| true)
    }

    /// [`Machine::run`] with a callback between slices (a live display,
    /// host input); the run stops with [`Outcome::Quit`] when it returns
    /// false.
    pub fn run_with(
        &mut self,
        timeout: Option<Duration>,
        mut tick: impl FnMut(&mut Machine) -> bool,
    ) -> Outcome {
        let start = Instant::now();
        let outcome = loop {
            if timeout.is_some_and(|t| start.elapsed() >= t) {
                break Outcome::Timeout;
            }
            if !tick(self) {
                break Outcome::Quit;
            }
            if self.stop_requested.swap(false, Ordering::SeqCst) {
                self.bus.attention.clear(Attention::STOP);
                break Outcome::Interrupted;
            }
            let deadline = self.service_timers();
            self.feed_keys();
            let exit = match self.bt.as_mut() {
                Some(bt) => bt.run(&mut self.cpu, &mut self.bus, SLICE),
                None => self.cpu.run(&mut self.bus, SLICE),
            };
            match exit {
                Exit::Budget => {}
                Exit::Stop => {
                    if let Some(v) = self.dev.debug_exit.borrow().code() {
                        break Outcome::DebugExit(v);
                    }
                    self.bus.attention.clear(Attention::STOP);
                    if self.reset.take() {
                        if self.no_reboot {
                            break Outcome::Reset;
                        }
                        self.reset();
                    }
                }
                Exit::TripleFault => {
                    if self.no_reboot {
                        break Outcome::TripleFault;
                    }
                    self.reset();
                }
                Exit::DeadHalt => break Outcome::DeadHalt,
                Exit::Halted => {
                    // Sleep until the next timer event (or a little while,
                    // for host input), unless something is already pending.
                    if self.bus.attention.get() == 0 {
                        let now = self.clock.now();
                        let wait = deadline
                            .map_or(1_000_000, |d| d.saturating_sub(now))
                            .min(1_000_000);
                        if wait > 0 {
                            std::thread::sleep(Duration::from_nanos(wait));
                        }
                    }
                }
            }
        };
        self.flush();
        self.elapsed += start.elapsed();
        outcome
    }
}
