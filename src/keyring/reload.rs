//! The key folder as a watched file ([`crate::reload::Watched`]): the
//! [`crate::reload::Reloader`] rescans it every `WXAUTH_KEYS_RELOAD`
//! seconds and on SIGHUP, and [`KeyReloader::on_demand`] when a token names
//! a kid that is not loaded (at most once a second, so forged kids cannot
//! turn into a disk scan per request). A rescan that fails keeps the keys
//! the server had.

use super::{Keyring, SharedKeyring, SigningRule};
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::reload::{OnDemand, Watched};
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
    rescans: AtomicU64,
    failures: AtomicU64,
    metrics: Option<Metrics>,
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
            rescans: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            metrics: None,
            scanning: std::sync::Mutex::new(()),
        }
    }

    /// Records rescans and the key set in `metrics`, starting with the
    /// current set.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        record_keyring(&metrics, &self.keyring.current());
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

    /// The unknown-kid trigger: rescans when a token names a kid not
    /// loaded, unless such a rescan started less than
    /// [`ON_DEMAND_INTERVAL`] ago (a caller arriving during one waits for
    /// it). The scan runs on the blocking pool, so a slow disk (a network
    /// folder) never stalls a request worker.
    pub fn on_demand(self: &Arc<Self>) -> OnDemand {
        OnDemand::new(
            Arc::clone(self) as Arc<dyn Watched>,
            self.clock.clone(),
            ON_DEMAND_INTERVAL,
        )
    }
}

impl Watched for KeyReloader {
    fn name(&self) -> &'static str {
        "keys"
    }

    fn reload(&self, cause: &str) -> bool {
        self.rescan(cause)
    }
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
