//! Calls to WeChat's server API, and what their answers mean.
//!
//! Rules from WeChat's documentation and practice (see FIELD-NOTES): every
//! query value URL-encoded; the answer is JSON served as `text/plain`, so it
//! is parsed whatever its `Content-Type`; unknown fields are ignored; an
//! absent or zero `errcode` is success; `-1` (system busy) is retried at most
//! twice with a short backoff; nothing else is retried, because a code is
//! single-use.

mod access_token;
mod code2session;
mod server_api;
mod user_data;

pub use code2session::Session;
pub use server_api::session_signature;
pub use user_data::{UserDataError, decrypt_user_data, encrypt_user_data};

use crate::clock::SharedClock;
use crate::metrics::Metrics;
use reqwest::{Client, Method};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The most of an answer read from WeChat; its answers are a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How often `-1` (system busy) is retried.
const BUSY_RETRIES: u32 = 2;
/// The first backoff after `-1`; doubled for the second retry.
const BUSY_BACKOFF: Duration = Duration::from_millis(100);

/// What went wrong talking to WeChat.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WeChatError {
    /// 40029: invalid or expired code.
    #[error("WeChat 40029: invalid code")]
    InvalidCode,
    /// 40163: code already used.
    #[error("WeChat 40163: code been used")]
    CodeUsed,
    /// 45011: rate limited.
    #[error("WeChat 45011: rate limited")]
    RateLimited,
    /// 40226: high-risk user blocked.
    #[error("WeChat 40226: user blocked")]
    UserBlocked,
    /// -1 on every attempt.
    #[error("WeChat answered -1 (system busy) {attempts} times")]
    Busy {
        /// How many calls were made.
        attempts: u32,
    },
    /// Any other errcode; most are the operator's mistake.
    #[error("WeChat errcode {errcode}: {cause}")]
    Rejected {
        /// WeChat's errcode.
        errcode: i64,
        /// What it means, for the operator.
        cause: String,
    },
    /// Not a valid answer (not JSON, HTTP error, missing fields, too big).
    #[error("WeChat sent an unusable answer: {0}")]
    Malformed(String),
    /// Unreachable or too slow.
    #[error("WeChat unreachable: {0}")]
    Unavailable(String),
    /// Too many calls in flight already.
    #[error("too many calls to WeChat in flight")]
    Overloaded,
}

/// Maps WeChat's `errcode` (absent counts as 0) to success or the error the
/// SPEC's table names. Codes that are the operator's mistake are logged with
/// their cause and WeChat's `errmsg`, scrubbed of `secrets`: it carries the
/// `rid` WeChat's support asks for, but it is text we do not control.
fn check_errcode(
    api: &str,
    errcode: i64,
    errmsg: Option<&str>,
    secrets: &[&str],
) -> Result<(), WeChatError> {
    match errcode {
        0 => Ok(()),
        40029 => Err(WeChatError::InvalidCode),
        40163 => Err(WeChatError::CodeUsed),
        45011 => Err(WeChatError::RateLimited),
        40226 => Err(WeChatError::UserBlocked),
        errcode => {
            let error = WeChatError::Rejected {
                errcode,
                cause: operator_cause(errcode).to_owned(),
            };
            let errmsg = scrub(errmsg.unwrap_or(""), secrets);
            log::error!("{api} failed: {error} (errmsg: {errmsg:?})");
            Err(error)
        }
    }
}

/// `text` cut to 200 characters, with every occurrence of `secrets` replaced.
fn scrub(text: &str, secrets: &[&str]) -> String {
    // Replace first, then cut, so a secret at the cut cannot leave a prefix.
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "[REDACTED]");
    }
    text.chars().take(200).collect()
}

/// What the operator should check for an errcode that is their mistake.
fn operator_cause(errcode: i64) -> &'static str {
    match errcode {
        40013 => "invalid appid: check WECHAT_APPID",
        40125 => "invalid app secret: check WECHAT_SECRET",
        40164 => "this server's IP is not on the mini-program's API IP whitelist",
        41002 => "appid missing from the request",
        41004 => "app secret missing from the request",
        41008 => "code missing from the request",
        40001 | 42001 => "the access token was refused even after a refresh",
        40003 => "invalid openid",
        _ => "not an errcode wxauth knows",
    }
}

/// A client of WeChat's server API: one pooled HTTP client, one base URL, the
/// app's credentials, and a bound on concurrent calls.
#[derive(Clone)]
pub struct WeChatClient {
    http: Client,
    base: String,
    appid: String,
    secret: SecretString,
    in_flight: Arc<Semaphore>,
    access_token: Arc<access_token::Cache>,
    clock: SharedClock,
    metrics: Metrics,
}

impl WeChatClient {
    /// A client calling `base` (no trailing slash) as `appid`, each call
    /// limited to `timeout`, at most `max_in_flight` calls at once; `clock`
    /// times the cached access token.
    pub fn new(
        base: String,
        appid: String,
        secret: SecretString,
        timeout: Duration,
        max_in_flight: usize,
        clock: SharedClock,
        metrics: Metrics,
    ) -> Result<Self, reqwest::Error> {
        let http = Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("wxauth/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base,
            appid,
            secret,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            access_token: Arc::new(access_token::Cache::default()),
            clock,
            metrics,
        })
    }

    /// Sends one request to `path` with `query` (and a JSON `body` for a
    /// POST), and reads the answer as JSON whatever its content type, at most
    /// [`MAX_ANSWER_BYTES`]. Retries `-1`; nothing else.
    async fn call<T: DeserializeOwned + HasErrcode>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<T, WeChatError> {
        let _permit = self
            .in_flight
            .try_acquire()
            .map_err(|_| WeChatError::Overloaded)?;
        let url = format!("{}{path}", self.base);
        let endpoint = path.rsplit('/').next().unwrap_or(path);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = std::time::Instant::now();
            let result = self.attempt::<T>(method.clone(), &url, query, body).await;
            let outcome = match &result {
                Ok(answer) if answer.errcode() == 0 => "ok",
                Ok(answer) if answer.errcode() == -1 => "busy",
                Ok(_) => "errcode",
                Err(WeChatError::Unavailable(_)) => "unavailable",
                Err(_) => "malformed",
            };
            let elapsed = started.elapsed();
            self.metrics
                .upstream_call(endpoint, outcome, elapsed.as_secs_f64());
            log::debug!("WeChat {endpoint}: {outcome} in {} ms", elapsed.as_millis());
            let answer = result?;
            match answer.errcode() {
                -1 if attempt <= BUSY_RETRIES => {
                    tokio::time::sleep(BUSY_BACKOFF * 2u32.pow(attempt - 1)).await;
                }
                -1 => return Err(WeChatError::Busy { attempts: attempt }),
                _ => return Ok(answer),
            }
        }
    }

    /// One HTTP exchange: send, read at most [`MAX_ANSWER_BYTES`], parse.
    async fn attempt<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<T, WeChatError> {
        let mut request = self.http.request(method, url).query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            // Display of a reqwest error includes the URL, whose query
            // holds the app secret, the code or the access token: drop it.
            WeChatError::Unavailable(e.without_url().to_string())
        })?;
        let status = response.status();
        let body = read_capped(response).await?;
        if !status.is_success() {
            return Err(WeChatError::Malformed(format!("HTTP status {status}")));
        }
        serde_json::from_slice(&body).map_err(|e| {
            WeChatError::Malformed(format!("not the expected JSON ({})", e.classify_name()))
        })
    }

    /// The app secret, for the one query that sends it.
    fn secret(&self) -> &str {
        self.secret.expose_secret()
    }
}

/// Reads a body up to [`MAX_ANSWER_BYTES`], refusing anything longer.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, WeChatError> {
    if response
        .content_length()
        .is_some_and(|length| length > MAX_ANSWER_BYTES as u64)
    {
        return Err(WeChatError::Malformed("answer too large".into()));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(WeChatError::Malformed("answer too large".into()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => {
                return Err(WeChatError::Unavailable(e.without_url().to_string()));
            }
            Err(e) => {
                return Err(WeChatError::Malformed(format!(
                    "the answer broke off: {}",
                    e.without_url()
                )));
            }
        }
    }
}

/// An answer that carries WeChat's `errcode` (absent means 0).
trait HasErrcode {
    fn errcode(&self) -> i64;
}

/// A short name for a JSON error's category, without echoing input.
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "wrong field types",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scrub_removes_secrets_and_bounds_length() {
        assert_eq!(
            super::scrub("bad secret s3cr3t rid: 1", &["s3cr3t", ""]),
            "bad secret [REDACTED] rid: 1"
        );
        assert_eq!(super::scrub(&"x".repeat(500), &[]).len(), 200);
    }
}
