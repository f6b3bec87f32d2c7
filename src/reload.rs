//! One reloader for every file the server watches while it runs: the key
//! folder, the revocation file, and whatever comes next. Each implements
//! [`Watched`]; the [`Reloader`] rereads them all every
//! `WXAUTH_KEYS_RELOAD` seconds and on SIGHUP, in the order they were
//! added; [`OnDemand`] lets a request trigger one of them (the key folder,
//! when a token names a kid not loaded) at most once per interval, so
//! clients cannot turn it into a disk read per request.
//!
//! A watched file that fails to reload keeps what it had and says why in
//! the log; the reloader only drives, it decides nothing about any file.

use crate::clock::SharedClock;
use std::sync::Arc;
use std::time::Duration;

/// A file (or folder) reread while the server runs.
pub trait Watched: Send + Sync {
    /// What it is, for logs and for [`Reloader::reload`]: `keys`,
    /// `revocations`.
    fn name(&self) -> &'static str;

    /// Rereads it now (on the caller's thread; it may block on the disk
    /// for a bounded time). On failure it keeps what it had and logs why.
    /// Returns whether the reread succeeded.
    fn reload(&self, cause: &str) -> bool;
}

/// Rereads every watched file on a timer and on SIGHUP.
#[derive(Default)]
pub struct Reloader {
    watched: Vec<Arc<dyn Watched>>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.watched.iter().map(|w| w.name()))
            .finish()
    }
}

impl Reloader {
    /// A reloader watching nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also rereads `item`, after those added before it.
    #[must_use]
    pub fn watch(mut self, item: Arc<dyn Watched>) -> Self {
        self.watched.push(item);
        self
    }

    /// The names of what it watches, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.watched.iter().map(|w| w.name()).collect()
    }

    /// Rereads everything now, in order; whether every reread succeeded.
    /// Blocks: call it off the request workers (as [`Reloader::spawn`] does).
    pub fn reload_all(&self, cause: &str) -> bool {
        // Every one is reread, even after one fails.
        let results: Vec<bool> = self.watched.iter().map(|item| item.reload(cause)).collect();
        results.iter().all(|ok| *ok)
    }

    /// Rereads the one named `name` now; `None` if nothing by that name is
    /// watched.
    pub fn reload(&self, name: &str, cause: &str) -> Option<bool> {
        self.watched
            .iter()
            .find(|item| item.name() == name)
            .map(|item| item.reload(cause))
    }

    /// Rereads everything every `every`, and on SIGHUP (Unix), until the
    /// task is aborted. The rereads run on the blocking pool, off the
    /// request workers, one pass at a time.
    pub fn spawn(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        // Installed here, not in the task: SIGHUP's default action ends the
        // process, so the handler must exist before the server says it runs.
        let mut hangup = Hangup::new();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let cause = tokio::select! {
                    _ = ticker.tick() => "periodic",
                    () = hangup.recv() => "SIGHUP",
                };
                let this = Arc::clone(&this);
                let _ = tokio::task::spawn_blocking(move || this.reload_all(cause)).await;
            }
        })
    }
}

/// Rereads one watched file when a request asks, at most once per
/// interval of the clock's monotonic time.
pub struct OnDemand {
    target: Arc<dyn Watched>,
    clock: SharedClock,
    interval: Duration,
    /// When the last on-demand reread started; held (asynchronously) during
    /// that reread, so concurrent requests wait for it instead of reading
    /// again, without blocking a worker thread.
    last: tokio::sync::Mutex<Option<Duration>>,
}

impl std::fmt::Debug for OnDemand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnDemand")
            .field("target", &self.target.name())
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl OnDemand {
    /// Rereads `target` on demand, at most once per `interval` of `clock`.
    pub fn new(target: Arc<dyn Watched>, clock: SharedClock, interval: Duration) -> Self {
        Self {
            target,
            clock,
            interval,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Rereads now on the blocking pool, unless a reread started less than
    /// the interval ago; a caller arriving during a reread waits for it.
    /// Returns whether this call reread.
    pub async fn trigger(&self, cause: &'static str) -> bool {
        let mut last = self.last.lock().await;
        let now = self.clock.monotonic();
        if last.is_some_and(|at| now.saturating_sub(at) < self.interval) {
            return false;
        }
        *last = Some(now);
        let target = Arc::clone(&self.target);
        let _ = tokio::task::spawn_blocking(move || target.reload(cause)).await;
        true
    }
}

/// SIGHUP as a stream of events; never fires where it cannot be listened to.
struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signal = signal(SignalKind::hangup())
                .map_err(|e| log::warn!("cannot listen for SIGHUP: {e}"))
                .ok();
            Self { signal }
        }
        #[cfg(not(unix))]
        Self {}
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = self.signal.as_mut()
            && signal.recv().await.is_some()
        {
            return;
        }
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counted {
        name: &'static str,
        ok: bool,
        reloads: AtomicUsize,
    }

    impl Watched for Counted {
        fn name(&self) -> &'static str {
            self.name
        }
        fn reload(&self, _cause: &str) -> bool {
            self.reloads.fetch_add(1, Ordering::Relaxed);
            self.ok
        }
    }

    fn counted(name: &'static str, ok: bool) -> Arc<Counted> {
        Arc::new(Counted {
            name,
            ok,
            reloads: AtomicUsize::new(0),
        })
    }

    #[test]
    fn reload_all_rereads_each_even_after_one_fails() {
        let (a, b) = (counted("a", false), counted("b", true));
        let reloader = Reloader::new().watch(a.clone()).watch(b.clone());
        assert_eq!(reloader.names(), ["a", "b"]);
        assert!(!reloader.reload_all("test"), "a failed");
        assert_eq!(a.reloads.load(Ordering::Relaxed), 1);
        assert_eq!(b.reloads.load(Ordering::Relaxed), 1);
        assert_eq!(reloader.reload("b", "test"), Some(true));
        assert_eq!(reloader.reload("c", "test"), None);
        assert_eq!(b.reloads.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn on_demand_rereads_at_most_once_per_interval() {
        let target = counted("keys", true);
        let clock = Arc::new(ManualClock::new(0));
        let on_demand = OnDemand::new(target.clone(), clock.clone(), Duration::from_secs(1));
        assert!(on_demand.trigger("test").await);
        assert!(!on_demand.trigger("test").await, "within the interval");
        clock.advance(1);
        assert!(on_demand.trigger("test").await);
        assert_eq!(target.reloads.load(Ordering::Relaxed), 2);
    }
}
