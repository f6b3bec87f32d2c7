//! Rates: the per-client limit and the process-wide signature budget.
//!
//! Each client address gets `WXAUTH_CLIENT_RATE` requests a second to the
//! routes that call a platform or sign, with a burst of five times that
//! (README.md, "At the edge"). IPv6 clients are keyed by their /64, the
//! block one customer gets, so cycling addresses inside it gains nothing.
//!
//! Both are GCRA (the generic cell rate algorithm of ITU-T I.371): per key,
//! one number, the theoretical arrival time of the next request. Time comes
//! from the injected [`Clock`]'s monotonic side, so tests move it forward
//! instead of sleeping.
//!
//! The per-client table is bounded: at [`MAX_TRACKED`] addresses, those whose
//! allowance is full again are forgotten (they lose nothing), and if that
//! frees too little, half of the rest are. A flood of distinct addresses
//! (rotated through a trusted proxy's `X-Forwarded-For`) therefore costs a
//! fixed amount of memory, and what such a flood may still get (a fresh
//! burst per address) is bounded by the signature budget instead.

use crate::clock::{Clock, SharedClock, SystemClock};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The burst allowed above the steady rate, as a multiple of it.
pub const BURST_FACTOR: u32 = 5;
/// Client addresses tracked at most (about 40 bytes each).
pub const MAX_TRACKED: usize = 65_536;

/// One GCRA cell: `rate` a second with bursts of `burst`.
#[derive(Debug, Clone, Copy)]
struct Quota {
    /// Nanoseconds between two requests at the steady rate.
    interval: u64,
    /// How far ahead of now the arrival time may run: `burst * interval`.
    tolerance: u64,
}

impl Quota {
    fn new(rate: u32, burst: u32) -> Option<Self> {
        let interval = 1_000_000_000 / u64::from(rate.max(1));
        (rate > 0).then_some(Self {
            interval,
            tolerance: interval.saturating_mul(u64::from(burst.max(1))),
        })
    }

    /// Takes one cell at `now` from the key whose arrival time is `tat`;
    /// the new arrival time, or how long to wait.
    fn take(self, tat: u64, now: u64) -> Result<u64, Duration> {
        let next = tat.max(now).saturating_add(self.interval);
        let ahead = next - now;
        if ahead > self.tolerance {
            Err(Duration::from_nanos(ahead - self.tolerance))
        } else {
            Ok(next)
        }
    }
}

fn nanos(clock: &dyn Clock) -> u64 {
    u64::try_from(clock.monotonic().as_nanos()).unwrap_or(u64::MAX)
}

/// Per-address limits; the limit is off at rate 0.
pub struct ClientLimiter {
    quota: Option<Quota>,
    clock: SharedClock,
    table: Mutex<HashMap<IpAddr, u64>>,
    capacity: usize,
}

impl ClientLimiter {
    /// `rate` requests a second per client, burst `5 * rate`; 0: no limit.
    pub fn new(rate: usize) -> Self {
        Self::with_clock(rate, Arc::new(SystemClock))
    }

    /// As [`ClientLimiter::new`], reading time from `clock`.
    pub fn with_clock(rate: usize, clock: SharedClock) -> Self {
        Self::bounded(rate, clock, MAX_TRACKED)
    }

    fn bounded(rate: usize, clock: SharedClock, capacity: usize) -> Self {
        let rate = u32::try_from(rate).unwrap_or(u32::MAX);
        Self {
            quota: Quota::new(rate, rate.saturating_mul(BURST_FACTOR)),
            clock,
            table: Mutex::new(HashMap::new()),
            capacity: capacity.max(2),
        }
    }

    /// Takes one request from `client`'s allowance; when it has none left,
    /// how long until it has one again (for `Retry-After`).
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        let Some(quota) = self.quota else {
            return Ok(());
        };
        let now = nanos(&*self.clock);
        let key = key(client);
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let tat = table.get(&key).copied().unwrap_or(now);
        let next = quota.take(tat, now)?;
        if table.len() >= self.capacity && !table.contains_key(&key) {
            table.retain(|_, tat| *tat > now);
            if table.len() >= self.capacity - self.capacity / 8 {
                // Still nearly full of clients inside their burst: forget
                // every other one (each may then burst once more).
                let mut keep = false;
                table.retain(|_, _| {
                    keep = !keep;
                    keep
                });
            }
        }
        table.insert(key, next);
        Ok(())
    }

    /// Forgets clients whose allowance is full again; run now and then so
    /// the table holds only recent clients.
    pub fn forget_idle(&self) {
        let now = nanos(&*self.clock);
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table.retain(|_, tat| *tat > now);
        if table.is_empty() {
            table.shrink_to_fit();
        }
    }

    /// How many clients are tracked.
    pub fn tracked(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The process-wide budget of signatures a second (logins and refreshes),
/// whatever the client: what address rotation cannot get around. Its burst
/// is one second's worth.
pub struct SignatureBudget {
    quota: Option<Quota>,
    clock: SharedClock,
    tat: Mutex<u64>,
}

impl SignatureBudget {
    /// `per_second` signatures a second; 0: no budget.
    pub fn new(per_second: usize, clock: SharedClock) -> Self {
        let rate = u32::try_from(per_second).unwrap_or(u32::MAX);
        Self {
            quota: Quota::new(rate, rate),
            clock,
            tat: Mutex::new(0),
        }
    }

    /// Takes one signature from the budget, or says how long to wait.
    pub fn take(&self) -> Result<(), Duration> {
        let Some(quota) = self.quota else {
            return Ok(());
        };
        let now = nanos(&*self.clock);
        let mut tat = self.tat.lock().unwrap_or_else(PoisonError::into_inner);
        *tat = quota.take(*tat, now)?;
        Ok(())
    }
}

/// The limiter's key for an address: IPv4 as it is, IPv6 by its /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// Seconds for `Retry-After` (RFC 9110 section 10.2.3): whole, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.as_secs() == 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn clock() -> Arc<ManualClock> {
        let clock = Arc::new(ManualClock::new(0));
        // Start away from zero, as a real monotonic clock would.
        clock.advance_ms(60_000);
        clock
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_for_the_rate() {
        let clock = clock();
        let limiter = ClientLimiter::with_clock(2, clock.clone());
        for _ in 0..10 {
            assert!(limiter.check(ip("203.0.113.7")).is_ok());
        }
        let wait = limiter.check(ip("203.0.113.7")).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Another client is not affected.
        assert!(limiter.check(ip("203.0.113.8")).is_ok());
        clock.advance_ms(500);
        assert!(limiter.check(ip("203.0.113.7")).is_ok());
        assert!(limiter.check(ip("203.0.113.7")).is_err());
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let limiter = ClientLimiter::with_clock(1, clock());
        for n in 0..5 {
            assert!(limiter.check(ip(&format!("2001:db8::{n}"))).is_ok());
        }
        assert!(limiter.check(ip("2001:db8::ffff:1")).is_err());
        assert!(limiter.check(ip("2001:db8:0:1::1")).is_ok());
    }

    #[test]
    fn rate_zero_means_no_limit() {
        let limiter = ClientLimiter::with_clock(0, clock());
        for _ in 0..1000 {
            assert!(limiter.check(ip("203.0.113.7")).is_ok());
        }
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let clock = clock();
        let limiter = ClientLimiter::with_clock(1, clock.clone());
        limiter.check(ip("203.0.113.7")).unwrap();
        assert_eq!(limiter.tracked(), 1);
        clock.advance_ms(10_000);
        limiter.forget_idle();
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn the_table_stays_bounded_whatever_the_number_of_addresses() {
        let limiter = ClientLimiter::bounded(1, clock(), 1024);
        for n in 0..100_000u32 {
            let address = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            assert!(limiter.check(address).is_ok());
            assert!(limiter.tracked() <= 1024, "{} tracked", limiter.tracked());
        }
        // A client inside its burst right now is still limited.
        for _ in 0..5 {
            let _ = limiter.check(ip("203.0.113.7"));
        }
        assert!(limiter.check(ip("203.0.113.7")).is_err());
    }

    #[test]
    fn the_signature_budget_holds_whatever_the_address() {
        let clock = clock();
        let budget = SignatureBudget::new(100, clock.clone());
        for _ in 0..100 {
            assert!(budget.take().is_ok());
        }
        assert_eq!(budget.take().unwrap_err(), Duration::from_millis(10));
        clock.advance_ms(10);
        assert!(budget.take().is_ok());
        assert!(budget.take().is_err());
        let off = SignatureBudget::new(0, clock);
        for _ in 0..10_000 {
            assert!(off.take().is_ok());
        }
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
