//! Prometheus metrics (docs/API.md, "HTTP API"), in a registry owned by the app (no
//! global state), served at `/metrics` in the text exposition format.
//!
//! Every label has a small, fixed set of values: outcomes are stable error
//! codes or rejection kinds, never user input.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The metrics of one wxauth process.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    logins: IntCounterVec,
    upstream: HistogramVec,
    verifications: IntCounterVec,
    /// `verifications{result="ok"}`, looked up once: it counts every
    /// guarded request.
    verifications_ok: prometheus::IntCounter,
    keyring_keys: IntGauge,
    keyring_reloads: IntCounterVec,
    signing_key: IntGaugeVec,
    revocations: IntGaugeVec,
    /// The labels of the series `signing_key` holds now.
    signing_labels: std::sync::Arc<std::sync::Mutex<Option<(String, String)>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A fresh registry holding wxauth's metrics.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let logins = IntCounterVec::new(
            Opts::new(
                "wxauth_logins_total",
                "Logins by app (appid; empty when the request named none it could) and outcome: ok or the error code answered.",
            ),
            &["app", "outcome"],
        )?;
        let upstream = HistogramVec::new(
            HistogramOpts::new(
                "wxauth_upstream_request_duration_seconds",
                "Calls to the platforms by app, endpoint and outcome, in seconds.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["app", "endpoint", "outcome"],
        )?;
        let verifications = IntCounterVec::new(
            Opts::new(
                "wxauth_token_verifications_total",
                "Bearer token verifications by result: ok or why the token was refused.",
            ),
            &["result"],
        )?;
        let keyring_keys = IntGauge::new(
            "wxauth_keyring_keys",
            "Key generations loaded (each verifies).",
        )?;
        let keyring_reloads = IntCounterVec::new(
            Opts::new(
                "wxauth_keyring_reloads_total",
                "Rescans of the key folder by result.",
            ),
            &["result"],
        )?;
        let signing_key = IntGaugeVec::new(
            Opts::new(
                "wxauth_signing_key_info",
                "The key that signs new tokens (value 1).",
            ),
            &["kid", "alg"],
        )?;
        let revocations = IntGaugeVec::new(
            Opts::new(
                "wxauth_revocations",
                "Entries of the revocation file by kind: ids revoked, ids banned.",
            ),
            &["kind"],
        )?;
        let build = IntGaugeVec::new(
            Opts::new("wxauth_build_info", "The running build (value 1)."),
            &["version"],
        )?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        registry.register(Box::new(logins.clone()))?;
        registry.register(Box::new(upstream.clone()))?;
        registry.register(Box::new(verifications.clone()))?;
        registry.register(Box::new(keyring_keys.clone()))?;
        registry.register(Box::new(keyring_reloads.clone()))?;
        registry.register(Box::new(signing_key.clone()))?;
        registry.register(Box::new(revocations.clone()))?;
        registry.register(Box::new(build))?;
        let verifications_ok = verifications.with_label_values(&["ok"]);
        Ok(Self {
            registry,
            logins,
            upstream,
            verifications,
            verifications_ok,
            keyring_keys,
            keyring_reloads,
            signing_key,
            revocations,
            signing_labels: std::sync::Arc::default(),
        })
    }

    /// Counts a login of `app` by its outcome (`ok` or an error code).
    pub fn login(&self, app: &str, outcome: &str) {
        self.logins.with_label_values(&[app, outcome]).inc();
    }

    /// Times one call to a platform for `app`.
    pub fn upstream_call(&self, app: &str, endpoint: &str, outcome: &str, seconds: f64) {
        self.upstream
            .with_label_values(&[app, endpoint, outcome])
            .observe(seconds);
    }

    /// Counts a token verification by its result.
    pub fn verification(&self, result: &str) {
        if result == "ok" {
            self.verifications_ok.inc();
        } else {
            self.verifications.with_label_values(&[result]).inc();
        }
    }

    /// Records the key set after a load or rescan.
    pub fn keyring(&self, keys: usize, signing_kid: &str, signing_alg: &str) {
        self.keyring_keys
            .set(i64::try_from(keys).unwrap_or(i64::MAX));
        // Set the new series before removing the old, so a scrape never
        // finds no signing key (nor, rescans being serialised, two).
        self.signing_key
            .with_label_values(&[signing_kid, signing_alg])
            .set(1);
        let mut current = self
            .signing_labels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let new = (signing_kid.to_owned(), signing_alg.to_owned());
        if let Some(old) = current.replace(new.clone())
            && old != new
        {
            let _ = self.signing_key.remove_label_values(&[&old.0, &old.1]);
        }
    }

    /// Records the revocation file's size after a load.
    pub fn revocations(&self, revokes: usize, bans: usize) {
        for (kind, count) in [("revoke", revokes), ("ban", bans)] {
            self.revocations
                .with_label_values(&[kind])
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Counts a rescan by its result (`ok` or `error`).
    pub fn keyring_reload(&self, ok: bool) {
        self.keyring_reloads
            .with_label_values(&[if ok { "ok" } else { "error" }])
            .inc();
    }

    /// The text exposition format (Prometheus 0.0.4).
    pub fn render(&self) -> (String, Vec<u8>) {
        let encoder = TextEncoder::new();
        let mut out = Vec::new();
        let _ = encoder.encode(&self.registry.gather(), &mut out);
        (encoder.format_type().to_owned(), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_metric_is_rendered() {
        let metrics = Metrics::new().unwrap();
        metrics.login("wx1", "ok");
        metrics.upstream_call("wx1", "jscode2session", "ok", 0.02);
        metrics.verification("ok");
        metrics.keyring(2, "k1", "EdDSA");
        metrics.keyring_reload(true);
        let (content_type, body) = metrics.render();
        let text = String::from_utf8(body).unwrap();
        assert!(content_type.starts_with("text/plain; version=0.0.4"));
        for name in [
            "wxauth_logins_total{app=\"wx1\",outcome=\"ok\"} 1",
            "wxauth_upstream_request_duration_seconds_bucket{app=\"wx1\",endpoint=\"jscode2session\",outcome=\"ok\"",
            "wxauth_token_verifications_total{result=\"ok\"} 1",
            "wxauth_keyring_keys 2",
            "wxauth_keyring_reloads_total{result=\"ok\"} 1",
            "wxauth_signing_key_info{alg=\"EdDSA\",kid=\"k1\"} 1",
            "wxauth_build_info{version=",
        ] {
            assert!(text.contains(name), "{name} in {text}");
        }
    }

    #[test]
    fn a_new_signing_key_replaces_the_old_info_series() {
        let metrics = Metrics::new().unwrap();
        metrics.keyring(1, "old", "EdDSA");
        metrics.keyring(2, "new", "ES256");
        let text = String::from_utf8(metrics.render().1).unwrap();
        assert!(!text.contains("kid=\"old\""));
        assert!(text.contains("kid=\"new\""));
    }
}
