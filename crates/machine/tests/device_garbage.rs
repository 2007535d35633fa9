//! A guest that programs devices wrongly gets what the hardware would do,
//! never a host panic: random port and MMIO accesses of every width to every
//! device on the board, interleaved with time passing. `STRACHEY_DEVICE_CASES`
//! sets the number of accesses (default 200,000).

use devices::Sink;
use machine::{Config, Machine};
use mem::{PhysAddr, Port};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The ports the board's devices decode.
const PORTS: &[(u16, u16)] = &[
    (0x00, 0x20),
    (0x20, 2),
    (0x40, 4),
    (0x60, 5),
    (0x70, 2),
    (0x80, 0x10),
    (0x92, 1),
    (0xa0, 2),
    (0xc0, 0x20),
    (0x170, 8),
    (0x1ce, 2),
    (0x1f0, 8),
    (0x2f8, 8),
    (0x376, 1),
    (0x3b4, 2),
    (0x3ba, 1),
    (0x3c0, 0x20),
    (0x3f0, 8),
    (0x3f6, 1),
    (0x3f8, 8),
    (0x4d0, 2),
    (0x510, 2),
    (0x514, 8),
    (0xcf8, 8),
];

#[test]
fn random_device_programming_never_panics() {
    let n: u64 = std::env::var("STRACHEY_DEVICE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    // A ROM that just halts; the devices are driven from here.
    let mut rom = vec![0xf4u8; 0x10000];
    rom[0xfff0] = 0xf4;
    let mut cfg = Config::minimal(rom, Sink::Buffer(Vec::new()));
    cfg.fda = Some(devices::disk::DiskImage::from_bytes(
        "fd",
        vec![0xe5; 1_474_560],
        devices::disk::DiskMode::Snapshot,
    ));
    cfg.hda = Some(devices::disk::DiskImage::from_bytes(
        "hd",
        vec![0; 4 << 20],
        devices::disk::DiskMode::Snapshot,
    ));
    let mut m = Machine::new(cfg).expect("board");
    let mut rng = Rng(0xdead_beef_1234_5678);
    for i in 0..n {
        let r = rng.next();
        let (first, count) = PORTS[(r % PORTS.len() as u64) as usize];
        let port = Port(first + ((r >> 8) % u64::from(count)) as u16);
        let width = [1usize, 1, 2, 4][((r >> 16) & 3) as usize];
        let value = (rng.next() as u32).to_le_bytes();
        if r >> 63 == 0 {
            m.bus.io.write(port, &value[..width]);
        } else {
            let mut b = [0u8; 4];
            m.bus.io.read(port, &mut b[..width]);
        }
        if i % 64 == 0 {
            // VGA memory window and the PCI hole.
            let a = 0xa0000 + (rng.next() % 0x20000);
            m.bus.mem.write(PhysAddr(a), &value[..width]);
            let mut b = [0u8; 4];
            m.bus.mem.read(
                PhysAddr(0xfd00_0000 + (rng.next() % 0x0300_0000)),
                &mut b[..width],
            );
        }
        if i % 1024 == 0 {
            // Let time pass and the CPU take whatever interrupts arrive.
            let _ = m.run(Some(std::time::Duration::from_micros(200)));
        }
    }
    println!(
        "device garbage: {n} accesses, {} unclaimed",
        m.bus.io.unclaimed_accesses()
    );
}
