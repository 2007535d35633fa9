//! Guest time.
//!
//! Devices that count time (PIT, RTC, UART baud timing) read it from a
//! [`Clock`] at the moment of an access, and tell the board when they next
//! need attention ([`Timed::next_deadline`]); the board calls
//! [`Timed::advance`] when that time has come.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

/// Nanoseconds of guest time.
pub type Nanos = u64;

/// A source of guest time. Cloning shares it.
#[derive(Clone, Debug)]
pub struct Clock(Rc<Inner>);

#[derive(Debug)]
enum Inner {
    /// The host's monotonic clock since the machine started.
    Host(Instant),
    /// Set by hand (tests, and later the deterministic instruction-count
    /// clock).
    Manual(Cell<Nanos>),
}

impl Clock {
    /// Guest time follows the host clock.
    pub fn host() -> Self {
        Self(Rc::new(Inner::Host(Instant::now())))
    }

    /// Guest time moves only when [`Clock::set`] says so.
    pub fn manual() -> Self {
        Self(Rc::new(Inner::Manual(Cell::new(0))))
    }

    /// Current guest time.
    pub fn now(&self) -> Nanos {
        match &*self.0 {
            Inner::Host(t) => t.elapsed().as_nanos() as Nanos,
            Inner::Manual(c) => c.get(),
        }
    }

    /// Set the time of a manual clock (time never goes backwards; ignored
    /// for the host clock).
    pub fn set(&self, t: Nanos) {
        if let Inner::Manual(c) = &*self.0 {
            c.set(c.get().max(t));
        }
    }

    /// Advance a manual clock by `d`.
    pub fn advance(&self, d: Nanos) {
        self.set(self.now() + d);
    }
}

/// A device with time-driven behaviour.
pub trait Timed {
    /// The guest time at which the device next needs [`Timed::advance`]
    /// (e.g. the next PIT output edge), if any.
    fn next_deadline(&self) -> Option<Nanos>;
    /// Bring the device up to time `now`: fire what was due.
    fn advance(&mut self, now: Nanos);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_monotonic_and_shared() {
        let c = Clock::manual();
        let d = c.clone();
        c.set(100);
        d.advance(50);
        assert_eq!(c.now(), 150);
        c.set(10);
        assert_eq!(c.now(), 150);
        let h = Clock::host();
        let a = h.now();
        assert!(h.now() >= a);
    }
}
