//! The two bus traits every device implements, and port-I/O dispatch.

use crate::addr::Port;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

/// A device shared between the bus that dispatches to it and the board that
/// wires it up. Devices are only touched from the vCPU thread, so a
/// `RefCell` is enough; devices hold no locks of their own.
pub type Shared<T> = Rc<RefCell<T>>;

/// A device on the I/O port bus. `data.len()` is the access width (1, 2 or
/// 4); `port` is the port the guest addressed (not an offset), so one device
/// can serve scattered ports.
pub trait PortDevice {
    /// Guest `IN`: fill `data`.
    fn read(&mut self, port: Port, data: &mut [u8]);
    /// Guest `OUT`.
    fn write(&mut self, port: Port, data: &[u8]);
}

/// A memory-mapped device. `offset` is relative to the start of the region
/// it was registered at; `data.len()` is the access width (1, 2, 4 or 8).
pub trait MmioDevice {
    /// Guest load.
    fn read(&mut self, offset: u64, data: &mut [u8]);
    /// Guest store.
    fn write(&mut self, offset: u64, data: &[u8]);
}

/// Port-I/O dispatch: a map from port ranges to devices. Registration
/// rejects overlapping ranges. Unclaimed ports read as all ones and ignore
/// writes, as on a PC's ISA bus.
#[derive(Default)]
pub struct PortBus {
    /// Keyed by first port; value is (last port inclusive, device).
    ranges: BTreeMap<u16, (u16, Shared<dyn PortDevice>)>,
    /// Accesses to ports nobody claimed (for diagnostics).
    unclaimed: u64,
}

impl fmt::Debug for PortBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ranges: Vec<_> = self
            .ranges
            .iter()
            .map(|(a, (b, _))| format!("{a:#x}..={b:#x}"))
            .collect();
        f.debug_struct("PortBus").field("ranges", &ranges).finish()
    }
}

impl PortBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// Claim `count` ports starting at `first` for `dev`.
    ///
    /// # Errors
    /// The range is empty, runs past 0xFFFF, or overlaps one already claimed.
    pub fn register(&mut self, first: Port, count: u16, dev: Shared<dyn PortDevice>) -> Result<(), String> {
        if count == 0 {
            return Err(format!("empty port range at {first}"));
        }
        let last = first
            .0
            .checked_add(count - 1)
            .ok_or_else(|| format!("port range at {first} runs past 0xffff"))?;
        if let Some((&a, (b, _))) = self.ranges.range(..=last).next_back() {
            if *b >= first.0 {
                return Err(format!(
                    "ports {first}..={last:#06x} overlap ports {a:#06x}..={b:#06x}"
                ));
            }
        }
        self.ranges.insert(first.0, (last, dev));
        Ok(())
    }

    fn find(&self, port: Port) -> Option<&Shared<dyn PortDevice>> {
        let (_, (last, dev)) = self.ranges.range(..=port.0).next_back()?;
        (port.0 <= *last).then_some(dev)
    }

    /// Guest `IN` of `data.len()` bytes.
    pub fn read(&mut self, port: Port, data: &mut [u8]) {
        match self.find(port) {
            Some(dev) => dev.borrow_mut().read(port, data),
            None => {
                self.unclaimed += 1;
                data.fill(0xff);
            }
        }
    }

    /// Guest `OUT` of `data.len()` bytes.
    pub fn write(&mut self, port: Port, data: &[u8]) {
        match self.find(port) {
            Some(dev) => dev.borrow_mut().write(port, data),
            None => self.unclaimed += 1,
        }
    }

    /// Number of accesses to unclaimed ports so far.
    pub fn unclaimed_accesses(&self) -> u64 {
        self.unclaimed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(u8);
    impl PortDevice for Echo {
        fn read(&mut self, _port: Port, data: &mut [u8]) {
            data.fill(self.0);
        }
        fn write(&mut self, _port: Port, data: &[u8]) {
            self.0 = data[0];
        }
    }

    #[test]
    fn dispatch_and_overlap() {
        let mut bus = PortBus::new();
        let dev: Shared<dyn PortDevice> = Rc::new(RefCell::new(Echo(7)));
        bus.register(Port(0x60), 5, dev.clone()).unwrap();
        assert!(bus.register(Port(0x64), 1, dev.clone()).is_err());
        assert!(bus.register(Port(0x5f), 2, dev.clone()).is_err());
        bus.register(Port(0x65), 1, dev).unwrap();
        let mut b = [0u8; 2];
        bus.read(Port(0x62), &mut b);
        assert_eq!(b, [7, 7]);
        bus.write(Port(0x64), &[9]);
        bus.read(Port(0x60), &mut b[..1]);
        assert_eq!(b[0], 9);
        bus.read(Port(0x70), &mut b);
        assert_eq!(b, [0xff, 0xff]);
        assert_eq!(bus.unclaimed_accesses(), 1);
    }
}
