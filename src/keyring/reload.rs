//! Rescanning the key folder while serving: every `WXAUTH_KEYS_RELOAD`
//! seconds, on SIGHUP, and when a token names a kid that is not loaded (at
//! most once a second, so forged kids cannot turn into a disk scan per
//! request). A rescan that fails keeps the keys the server had.

use super::{Keyring, SharedKeyring, SigningRule};
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::revocation::SharedRevocations;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The least time between two rescans caused by unknown kids.
pub const ON_DEMAND_INTERVAL: Duration = Duration::from_secs(1);

/// Rescans one folder into one [`SharedKeyring`].
pub struct KeyReloader {
    keyring: SharedKeyring,
    dir: PathBuf,
    rule: SigningRule,
    clock: SharedClock,
    /// When the last on-demand rescan started; held (asynchronously) during
    /// that rescan, so concurrent requests wait for it instead of scanning
    /// again, without blocking a worker thread.
    last_on_demand: tokio::sync::Mutex<Option<Duration>>,
    rescans: AtomicU64,
    failures: AtomicU64,
    metrics: Option<Metrics>,
    /// The revocation list, reloaded with the keys on the timer and SIGHUP.
    revocations: Option<SharedRevocations>,
    /// One rescan at a time (timer, SIGHUP, unknown kids): otherwise an
    /// older scan finishing last could bring back a key deleted since.
    scanning: std::sync::Mutex<()>,
}

impl std::fmt::Debug for KeyReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyReloader")
            .field("dir", &self.dir)
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

impl KeyReloader {
    /// A reloader of `dir` into `keyring`, choosing the signer by `rule` at
    /// `clock`'s time.
    pub fn new(
        keyring: SharedKeyring,
        dir: PathBuf,
        rule: SigningRule,
        clock: SharedClock,
    ) -> Self {
        Self {
            keyring,
            dir,
            rule,
            clock,
            last_on_demand: tokio::sync::Mutex::new(None),
            rescans: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            metrics: None,
            revocations: None,
            scanning: std::sync::Mutex::new(()),
        }
    }

    /// Also rereads `revocations`' file on every periodic and SIGHUP rescan
    /// (not on unknown kids, which any client can cause).
    pub fn with_revocations(mut self, revocations: SharedRevocations) -> Self {
        if let Some(metrics) = &self.metrics {
            record_revocations(metrics, &revocations);
        }
        self.revocations = Some(revocations);
        self
    }

    /// Rereads the revocation file, if there is one; a file that cannot be
    /// read or parsed keeps the list the server had, and is logged.
    pub fn reload_revocations(&self, cause: &str) {
        let Some(revocations) = &self.revocations else {
            return;
        };
        match revocations.reload() {
            Ok(true) => {
                let list = revocations.load_current();
                log::info!(
                    "revocations reloaded ({cause}): {} revoked, {} banned",
                    list.revokes(),
                    list.bans()
                );
            }
            Ok(false) => {}
            Err(error) => {
                log::error!("revocations ({cause}): {error}; keeping the entries loaded before");
            }
        }
        if let Some(metrics) = &self.metrics {
            record_revocations(metrics, revocations);
        }
    }

    /// Records rescans and the key set in `metrics`, starting with the
    /// current set.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        record_keyring(&metrics, &self.keyring.current());
        if let Some(revocations) = &self.revocations {
            record_revocations(&metrics, revocations);
        }
        self.metrics = Some(metrics);
        self
    }

    /// How many rescans ran (successful or not).
    pub fn rescans(&self) -> u64 {
        self.rescans.load(Ordering::Relaxed)
    }

    /// How many rescans failed and kept the previous keys.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Rescans now and swaps the new set in; on failure keeps the old one.
    /// Returns whether the set was replaced.
    pub fn rescan(&self, cause: &str) -> bool {
        // Runs on the blocking pool (or in tests), never on a request worker.
        let _one_at_a_time = self
            .scanning
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.rescans.fetch_add(1, Ordering::Relaxed);
        let old = self.keyring.current();
        match old.rescan_with(&self.dir, &self.rule, self.clock.now()) {
            Ok((new, broken)) => {
                for file in &broken {
                    log::error!(
                        "key rescan ({cause}): skipping {}: {} (keeping the key it held, if any)",
                        file.path.display(),
                        file.error
                    );
                }
                log_changes(&old, &new, cause);
                if let Some(metrics) = &self.metrics {
                    metrics.keyring_reload(true);
                    record_keyring(metrics, &new);
                }
                self.keyring.replace(new);
                true
            }
            Err(error) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                if let Some(metrics) = &self.metrics {
                    metrics.keyring_reload(false);
                }
                log::error!("key rescan ({cause}) failed, keeping the loaded keys: {error}");
                false
            }
        }
    }

    /// Rescans because a token named an unknown kid, unless such a rescan
    /// started less than [`ON_DEMAND_INTERVAL`] ago. A caller that arrives
    /// during a rescan waits for it. The scan runs on the blocking pool, so a
    /// slow disk (a network folder) never stalls a request worker. Afterwards
    /// the caller looks the kid up again either way.
    pub async fn rescan_for_unknown_kid(self: &Arc<Self>) {
        let mut last = self.last_on_demand.lock().await;
        let now = self.clock.monotonic();
        if last.is_some_and(|at| now.saturating_sub(at) < ON_DEMAND_INTERVAL) {
            return;
        }
        *last = Some(now);
        let this = Arc::clone(self);
        let _ =
            tokio::task::spawn_blocking(move || this.rescan("a token named an unknown kid")).await;
    }

    /// Rescans every `every`, and on SIGHUP (Unix), until the task is
    /// aborted. The scans run on the blocking pool, off the request workers.
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
                let _ = tokio::task::spawn_blocking(move || {
                    this.rescan(cause);
                    this.reload_revocations(cause);
                })
                .await;
            }
        })
    }
}

fn record_revocations(metrics: &Metrics, revocations: &SharedRevocations) {
    let list = revocations.load_current();
    metrics.revocations(list.revokes(), list.bans());
}

fn record_keyring(metrics: &Metrics, keyring: &Keyring) {
    let signing = keyring.signing();
    metrics.keyring(keyring.len(), signing.kid(), signing.alg().jose_name());
}

/// Logs what a rescan changed: kids added and removed, a new signing key.
fn log_changes(old: &Keyring, new: &Keyring, cause: &str) {
    let kids = |ring: &Keyring| {
        ring.keys()
            .map(|k| k.kid().to_owned())
            .collect::<BTreeSet<_>>()
    };
    let (before, after) = (kids(old), kids(new));
    for kid in after.difference(&before) {
        log::info!("key rescan ({cause}): loaded {kid}");
    }
    for kid in before.difference(&after) {
        log::info!("key rescan ({cause}): removed {kid}; tokens it signed no longer verify");
    }
    if old.signing().kid() != new.signing().kid() {
        log::info!(
            "key rescan ({cause}): {} signs now (was {})",
            new.signing().kid(),
            old.signing().kid()
        );
    }
    log::debug!("key rescan ({cause}): {} keys", after.len());
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
