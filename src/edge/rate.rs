//! The per-client rate limit (SPEC section 10): each client address gets
//! `WXAUTH_CLIENT_RATE` requests a second to the routes that call a platform
//! or sign, with a burst of five times that. A GCRA limiter per address
//! (governor); IPv6 clients are keyed by their /64, the block one customer
//! gets, so cycling addresses inside it gains nothing.

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

/// The burst allowed above the steady rate, as a multiple of it.
pub const BURST_FACTOR: u32 = 5;

type Limiter<C> =
    RateLimiter<IpAddr, DashMapStateStore<IpAddr>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Per-address limits; `None` inside when the limit is off (rate 0).
pub struct ClientLimiter<C: Clock = DefaultClock> {
    limiter: Option<Limiter<C>>,
    clock: C,
}

impl ClientLimiter {
    /// `rate` requests a second per client, burst `5 * rate`; 0: no limit.
    pub fn new(rate: usize) -> Self {
        Self::with_clock(rate, DefaultClock::default())
    }
}

impl<C: Clock + Clone> ClientLimiter<C> {
    /// As [`ClientLimiter::new`], reading time from `clock` (tests).
    pub fn with_clock(rate: usize, clock: C) -> Self {
        let rate = u32::try_from(rate).unwrap_or(u32::MAX);
        let limiter = NonZeroU32::new(rate).map(|per_second| {
            let burst = NonZeroU32::new(rate.saturating_mul(BURST_FACTOR)).unwrap_or(per_second);
            let quota = Quota::per_second(per_second).allow_burst(burst);
            RateLimiter::dashmap_with_clock(quota, clock.clone())
        });
        Self { limiter, clock }
    }

    /// Takes one request from `client`'s allowance; when it has none left,
    /// how long until it has one again (for `Retry-After`).
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter
            .check_key(&key(client))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets clients whose allowance is full again; run now and then so
    /// the table holds only recent clients.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// How many clients are tracked.
    pub fn tracked(&self) -> usize {
        self.limiter.as_ref().map_or(0, RateLimiter::len)
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
    use governor::clock::FakeRelativeClock;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_for_the_rate() {
        let clock = FakeRelativeClock::default();
        let limiter = ClientLimiter::with_clock(2, clock.clone());
        for _ in 0..10 {
            assert!(limiter.check(ip("203.0.113.7")).is_ok());
        }
        let wait = limiter.check(ip("203.0.113.7")).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Another client is not affected.
        assert!(limiter.check(ip("203.0.113.8")).is_ok());
        clock.advance(Duration::from_millis(500));
        assert!(limiter.check(ip("203.0.113.7")).is_ok());
        assert!(limiter.check(ip("203.0.113.7")).is_err());
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let limiter = ClientLimiter::with_clock(1, FakeRelativeClock::default());
        for n in 0..5 {
            assert!(limiter.check(ip(&format!("2001:db8::{n}"))).is_ok());
        }
        assert!(limiter.check(ip("2001:db8::ffff:1")).is_err());
        assert!(limiter.check(ip("2001:db8:0:1::1")).is_ok());
    }

    #[test]
    fn rate_zero_means_no_limit() {
        let limiter = ClientLimiter::with_clock(0, FakeRelativeClock::default());
        for _ in 0..1000 {
            assert!(limiter.check(ip("203.0.113.7")).is_ok());
        }
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let limiter = ClientLimiter::with_clock(1, clock.clone());
        limiter.check(ip("203.0.113.7")).unwrap();
        assert_eq!(limiter.tracked(), 1);
        clock.advance(Duration::from_secs(10));
        limiter.forget_idle();
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
