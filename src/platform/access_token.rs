//! The access token for WeChat's server APIs, from `POST /cgi-bin/stable_token`,
//! and Feishu's app access token (`/open-apis/auth/v3/app_access_token/internal`,
//! see [`super::feishu`]), cached the same way.
//!
//! stable_token hands every caller the same token until shortly before it
//! expires, so replicas need no shared cache: each keeps one in memory. One
//! refresh runs at a time however many requests wait (they queue on the
//! lock and then read the fresh token); a 40001/42001 answer drops the token
//! and the call is retried once with a new one. `force_refresh` is never used
//! (WeChat allows it 20 times a day).

use super::errcode::check_errcode;
use super::{AppClient, HasErrcode, PlatformError};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use std::future::Future;
use tokio::sync::Mutex;

/// Refresh this long before WeChat's expiry (or at half the lifetime, if
/// that is sooner), so no call carries a token that dies in flight.
const REFRESH_MARGIN: i64 = 300;
/// The longest lifetime believed, whatever WeChat says (it says 7200).
pub(super) const MAX_LIFETIME: i64 = 7200;

/// The cached token, and the last failure to fetch one.
#[derive(Default)]
pub(super) struct Cache(Mutex<State>);

#[derive(Default)]
struct State {
    token: Option<Cached>,
    /// A fetch that failed, and when: requests that were waiting for it get
    /// the same answer for [`FAIL_FAST`] instead of each fetching in turn
    /// (N waiters would otherwise wait N timeouts).
    failed: Option<(std::time::Duration, PlatformError)>,
}

/// How long a failed fetch answers for the requests that waited on it.
const FAIL_FAST: std::time::Duration = std::time::Duration::from_secs(1);

struct Cached {
    token: SecretString,
    refresh_at: i64,
}

#[derive(Deserialize)]
struct StableToken {
    #[serde(default)]
    errcode: i64,
    errmsg: Option<String>,
    access_token: Option<String>,
    expires_in: Option<i64>,
}

impl HasErrcode for StableToken {
    fn errcode(&self) -> i64 {
        self.errcode
    }
}

/// errcodes that mean the access token itself was refused.
fn token_refused(platform: super::Platform, errcode: i64) -> bool {
    match platform {
        super::Platform::Feishu => super::feishu::token_refused(errcode),
        _ => matches!(errcode, 40001 | 42001),
    }
}

impl AppClient {
    /// The current access token: the cached one, or a fresh one.
    async fn access_token(&self) -> Result<SecretString, PlatformError> {
        let mut state = self.access_token.0.lock().await;
        if let Some(entry) = state.token.as_ref()
            && self.clock.now() < entry.refresh_at
        {
            return Ok(entry.token.clone());
        }
        if let Some((at, error)) = &state.failed
            && self.clock.monotonic().saturating_sub(*at) < FAIL_FAST
        {
            return Err(error.clone());
        }
        let fetched = match self.platform() {
            super::Platform::Feishu => self.fetch_app_access_token().await,
            _ => self.fetch_stable_token().await,
        };
        match fetched {
            Ok((token, expires_in)) => {
                let margin = REFRESH_MARGIN.min(expires_in / 2);
                state.token = Some(Cached {
                    token: token.clone(),
                    refresh_at: self.clock.now().saturating_add(expires_in - margin),
                });
                state.failed = None;
                log::debug!(
                    "fetched a {} access token valid for {expires_in} s",
                    self.platform().display_name()
                );
                Ok(token)
            }
            Err(error) => {
                state.failed = Some((self.clock.monotonic(), error.clone()));
                Err(error)
            }
        }
    }

    /// One `POST /cgi-bin/stable_token`: the token and its lifetime.
    async fn fetch_stable_token(&self) -> Result<(SecretString, i64), PlatformError> {
        let body = json!({
            "grant_type": "client_credential",
            "appid": self.appid(),
            "secret": self.secret(),
            "force_refresh": false,
        });
        let answer: StableToken = self
            .call(Method::POST, "/cgi-bin/stable_token", &[], Some(&body))
            .await?;
        check_errcode(
            "stable_token",
            answer.errcode,
            answer.errmsg.as_deref(),
            &[self.secret()],
        )?;
        let (Some(token), Some(expires_in)) = (answer.access_token, answer.expires_in) else {
            return Err(PlatformError::Malformed(
                "stable_token answer lacks access_token or expires_in".into(),
            ));
        };
        if token.is_empty() || expires_in <= 0 {
            return Err(PlatformError::Malformed(
                "stable_token answer is empty".into(),
            ));
        }
        // WeChat says 7200; never trust an upstream number into arithmetic.
        Ok((SecretString::from(token), expires_in.min(MAX_LIFETIME)))
    }

    /// Drops the cached token if it is still `refused` (another request may
    /// have replaced it already).
    async fn forget_access_token(&self, refused: &SecretString) {
        let mut state = self.access_token.0.lock().await;
        if state
            .token
            .as_ref()
            .is_some_and(|entry| entry.token.expose_secret() == refused.expose_secret())
        {
            state.token = None;
        }
    }

    /// Calls `api` with the access token; on 40001/42001, once more with a
    /// fresh token.
    pub(super) async fn with_access_token<T, F, Fut>(&self, api: F) -> Result<T, PlatformError>
    where
        T: HasErrcode,
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, PlatformError>>,
    {
        let token = self.access_token().await?;
        let answer = api(token.clone()).await?;
        if !token_refused(self.platform(), answer.errcode()) {
            return Ok(answer);
        }
        log::warn!(
            "{} refused the access token (errcode {}): fetching a new one",
            self.platform().display_name(),
            answer.errcode()
        );
        self.forget_access_token(&token).await;
        let token = self.access_token().await?;
        api(token).await
    }
}
