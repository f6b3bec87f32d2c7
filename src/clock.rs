//! Time as a parameter.
//!
//! Token expiry, session max age and the simulator's code lifetime all read the
//! time through a [`Clock`] handed to them, never through `now()` scattered
//! around, so tests move time forward instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time, in whole seconds since the Unix epoch (the
/// unit of JWT `NumericDate`, RFC 7519 section 2).
pub trait Clock: Send + Sync + 'static {
    /// The current time in seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// The clock a [`Clock`] trait object is shared as.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }
}

/// A clock that moves only when told to; for tests and benchmarks.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `start` seconds since the epoch.
    pub fn new(start: i64) -> Self {
        Self(AtomicI64::new(start))
    }

    /// Moves the clock forward by `seconds` (backward when negative).
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now(), 1_000);
        clock.advance(7_200);
        assert_eq!(clock.now(), 8_200);
    }
}
