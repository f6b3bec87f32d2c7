//! One HTTP exchange with a platform, bounded in every way a peer can
//! stretch it: connect and total timeouts, at most [`MAX_ANSWER_BYTES`]
//! read, at most `WXAUTH_MAX_UPSTREAM` calls in flight across all apps, and
//! "busy" retried at most [`BUSY_RETRIES`] times. Shared by every app's
//! client (one connection pool).

use super::{HasErrcode, PlatformError};
use crate::metrics::Metrics;
use reqwest::{Client, Method};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The most of an answer read; the platforms' answers are a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How often busy (-1) is retried.
const BUSY_RETRIES: u32 = 2;
/// The first backoff after busy; doubled for the second retry.
const BUSY_BACKOFF: Duration = Duration::from_millis(100);

/// The HTTP pool and limits every app's client shares.
#[derive(Clone)]
pub struct Transport {
    http: Client,
    in_flight: Arc<Semaphore>,
    metrics: Metrics,
}

/// One request: where, with what.
pub(super) struct Request<'a> {
    /// The app, for metrics.
    pub app: &'a str,
    pub method: Method,
    pub url: String,
    pub query: &'a [(&'a str, &'a str)],
    pub body: Option<&'a serde_json::Value>,
    /// A form body (`application/x-www-form-urlencoded`) instead of JSON:
    /// Alipay's gateway, Baidu and Kuaishou take one.
    pub form: Option<&'a [(&'a str, &'a str)]>,
    /// An `Authorization: Bearer` credential (Feishu's app access token).
    pub bearer: Option<&'a str>,
}

impl Transport {
    /// Calls limited to `timeout` each, at most `max_in_flight` at once.
    pub fn new(
        timeout: Duration,
        max_in_flight: usize,
        metrics: Metrics,
    ) -> Result<Self, reqwest::Error> {
        let http = Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("wxauth/", env!("CARGO_PKG_VERSION")))
            // The platforms answer in place; a redirect would re-send a body
            // that carries the app secret (stable_token, Douyin's exchange)
            // to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            metrics,
        })
    }

    /// Sends `request` and reads the answer as JSON whatever its content
    /// type, at most [`MAX_ANSWER_BYTES`]. Retries busy (-1); nothing else.
    pub(super) async fn call<T: DeserializeOwned + HasErrcode>(
        &self,
        request: &Request<'_>,
    ) -> Result<T, PlatformError> {
        let _permit = self
            .in_flight
            .try_acquire()
            .map_err(|_| PlatformError::Overloaded)?;
        let endpoint = request.url.rsplit('/').next().unwrap_or_default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = std::time::Instant::now();
            let result = self.attempt::<T>(request).await;
            let outcome = match &result {
                Ok(answer) if answer.errcode() == 0 => "ok",
                Ok(answer) if answer.errcode() == -1 => "busy",
                Ok(_) => "errcode",
                Err(PlatformError::Unavailable(_)) => "unavailable",
                Err(_) => "malformed",
            };
            let elapsed = started.elapsed();
            self.metrics
                .upstream_call(request.app, endpoint, outcome, elapsed.as_secs_f64());
            log::debug!(
                "{endpoint} for {}: {outcome} in {} ms",
                request.app,
                elapsed.as_millis()
            );
            let answer = result?;
            match answer.errcode() {
                -1 if attempt <= BUSY_RETRIES => {
                    tokio::time::sleep(BUSY_BACKOFF * 2u32.pow(attempt - 1)).await;
                }
                -1 => return Err(PlatformError::Busy { attempts: attempt }),
                _ => return Ok(answer),
            }
        }
    }

    /// One HTTP exchange: send, read at most [`MAX_ANSWER_BYTES`], parse.
    async fn attempt<T: DeserializeOwned>(
        &self,
        request: &Request<'_>,
    ) -> Result<T, PlatformError> {
        let mut builder = self
            .http
            .request(request.method.clone(), &request.url)
            .query(request.query);
        if let Some(body) = request.body {
            builder = builder.json(body);
        }
        if let Some(form) = request.form {
            builder = builder.form(form);
        }
        if let Some(token) = request.bearer {
            builder = builder.bearer_auth(token);
        }
        let response = builder.send().await.map_err(|e| {
            // Display of a reqwest error includes the URL, whose query
            // holds the app secret, the code or the access token: drop it.
            PlatformError::Unavailable(e.without_url().to_string())
        })?;
        let status = response.status();
        let body = read_capped(response).await?;
        if !status.is_success() {
            return Err(PlatformError::Malformed(format!("HTTP status {status}")));
        }
        serde_json::from_slice(&body).map_err(|e| {
            PlatformError::Malformed(format!("not the expected JSON ({})", classify(&e)))
        })
    }
}

/// Reads a body up to [`MAX_ANSWER_BYTES`], refusing anything longer.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, PlatformError> {
    if response
        .content_length()
        .is_some_and(|length| length > MAX_ANSWER_BYTES as u64)
    {
        return Err(PlatformError::Malformed("answer too large".into()));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(PlatformError::Malformed("answer too large".into()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => {
                return Err(PlatformError::Unavailable(e.without_url().to_string()));
            }
            Err(e) => {
                return Err(PlatformError::Malformed(format!(
                    "the answer broke off: {}",
                    e.without_url()
                )));
            }
        }
    }
}

/// A short name for a JSON error's category, without echoing input.
fn classify(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Io => "io",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "wrong field types",
        serde_json::error::Category::Eof => "truncated",
    }
}
