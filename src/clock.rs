//! Time as a parameter.
//!
//! Token expiry, session max age, key activation and the simulator's code
//! lifetime read the wall clock through a [`Clock`] handed to them, and
//! intervals ("one rescan a second", "a failed fetch answers for a second")
//! read its monotonic side, never `now()` scattered around, so tests move
//! time forward instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A source of the current time, in whole seconds since the Unix epoch (the
/// unit of JWT `NumericDate`, RFC 7519 section 2).
pub trait Clock: Send + Sync + 'static {
    /// The current time in seconds since the Unix epoch.
    fn now(&self) -> i64;

    /// Time elapsed since some fixed point, never going back (unlike the
    /// wall clock, which an operator or NTP may set back): for intervals.
    fn monotonic(&self) -> Duration;
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

    fn monotonic(&self) -> Duration {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        EPOCH.get_or_init(Instant::now).elapsed()
    }
}

/// A clock that moves only when told to; for tests and benchmarks.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
    /// Milliseconds moved forward in all, for the monotonic side.
    elapsed_ms: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `start` seconds since the epoch.
    pub fn new(start: i64) -> Self {
        Self {
            now: AtomicI64::new(start),
            elapsed_ms: AtomicI64::new(0),
        }
    }

    /// Moves the clock forward by `seconds` (backward when negative; the
    /// monotonic side moves forward only).
    pub fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
        if seconds > 0 {
            self.elapsed_ms
                .fetch_add(seconds.saturating_mul(1000), Ordering::SeqCst);
        }
    }

    /// Moves only the monotonic side forward, by `millis`.
    pub fn advance_ms(&self, millis: i64) {
        self.elapsed_ms.fetch_add(millis.max(0), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn monotonic(&self) -> Duration {
        Duration::from_millis(self.elapsed_ms.load(Ordering::SeqCst).unsigned_abs())
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
