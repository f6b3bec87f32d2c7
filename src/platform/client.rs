//! One configured mini-program's client: its platform, appid, secret and
//! API base, over the shared [`Transport`]. The one interface every platform
//! is reached through: [`AppClient::code2session`] picks the platform's own
//! code exchange.

use super::access_token;
use super::transport::{Request, Transport};
use super::{HasErrcode, Platform, PlatformError, Session};
use crate::clock::SharedClock;
use crate::domain::LoginCode;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;

/// A mini-program as configured (README, "Apps and platforms").
#[derive(Clone)]
pub struct AppConfig {
    /// Its platform.
    pub platform: Platform,
    /// Its appid: the `aud` of its tokens.
    pub appid: String,
    /// Its app secret; never logged.
    pub secret: SecretString,
    /// Where its platform's API is called, without a trailing slash.
    pub api_base: String,
    /// Where the login page of a `wechat_h5` or `wechat_web` app may send
    /// the browser back to (`/auth/authorize`); empty for the others.
    pub redirect_uris: Vec<crate::weblogin::RedirectRule>,
    /// An Alipay app's keys (its private key, Alipay's public key, its
    /// content key); `None` for every other platform.
    pub alipay: Option<Arc<super::AlipayKeys>>,
}

impl fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppConfig")
            .field("platform", &self.platform)
            .field("appid", &self.appid)
            .field("secret", &"[REDACTED]")
            .field("api_base", &self.api_base)
            .field("redirect_uris", &self.redirect_uris)
            .field("alipay", &self.alipay.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// A client of one mini-program's platform API.
#[derive(Clone)]
pub struct AppClient {
    config: Arc<AppConfig>,
    transport: Transport,
    /// This app's own access token (WeChat's stable_token), in memory.
    pub(super) access_token: Arc<access_token::Cache>,
    pub(super) clock: SharedClock,
}

impl fmt::Debug for AppClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppClient {
    /// The client of `config`, over `transport`; `clock` times its access
    /// token.
    pub fn new(config: AppConfig, transport: Transport, clock: SharedClock) -> Self {
        Self {
            config: Arc::new(config),
            transport,
            access_token: Arc::new(access_token::Cache::default()),
            clock,
        }
    }

    /// The app's appid.
    pub fn appid(&self) -> &str {
        &self.config.appid
    }

    /// The app's platform.
    pub fn platform(&self) -> Platform {
        self.config.platform
    }

    /// Where the app's login page may have the browser sent back to.
    pub fn redirect_uris(&self) -> &[crate::weblogin::RedirectRule] {
        &self.config.redirect_uris
    }

    /// Exchanges a login code for the user's session with the app's
    /// platform (one call; only "busy" is retried).
    pub async fn code2session(&self, code: &LoginCode) -> Result<Session, PlatformError> {
        match self.platform() {
            // QQ's API is WeChat's, at another host.
            Platform::Wechat | Platform::Qq => self.jscode2session(code).await,
            Platform::Douyin => self.douyin_jscode2session(code).await,
            Platform::WechatH5 | Platform::WechatWeb | Platform::WechatApp => {
                self.oauth2_access_token(code).await
            }
            Platform::Alipay => self.alipay_oauth_token(code).await,
            Platform::Baidu => self.baidu_jscode2sessionkey(code).await,
            Platform::Kuaishou => self.kuaishou_code2session(code).await,
            Platform::Feishu => self.feishu_token_login_validate(code).await,
        }
    }

    /// Fails unless the app is a WeChat one (the APIs that need an access
    /// token exist there only).
    pub(super) fn require_wechat(&self) -> Result<(), PlatformError> {
        match self.platform() {
            Platform::Wechat => Ok(()),
            other => Err(PlatformError::Unsupported(other)),
        }
    }

    /// Calls `path` of the app's API base.
    pub(super) async fn call<T: DeserializeOwned + HasErrcode>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<T, PlatformError> {
        self.transport
            .call(&Request {
                app: self.appid(),
                method,
                url: format!("{}{path}", self.config.api_base),
                query,
                body,
                form: None,
                bearer: None,
            })
            .await
    }

    /// Posts the form `form` to `path` of the app's API base.
    pub(super) async fn post_form<T: DeserializeOwned + HasErrcode>(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<T, PlatformError> {
        self.transport
            .call(&Request {
                app: self.appid(),
                method: Method::POST,
                url: format!("{}{path}", self.config.api_base),
                query: &[],
                body: None,
                form: Some(form),
                bearer: None,
            })
            .await
    }

    /// Posts the JSON `body` to `path` with `Authorization: Bearer <token>`.
    pub(super) async fn post_json_bearer<T: DeserializeOwned + HasErrcode>(
        &self,
        path: &str,
        body: &serde_json::Value,
        token: &str,
    ) -> Result<T, PlatformError> {
        self.transport
            .call(&Request {
                app: self.appid(),
                method: Method::POST,
                url: format!("{}{path}", self.config.api_base),
                query: &[],
                body: Some(body),
                form: None,
                bearer: Some(token),
            })
            .await
    }

    /// The app's Alipay keys, when it is an Alipay app with keys.
    pub(super) fn alipay_keys(&self) -> Result<&super::AlipayKeys, PlatformError> {
        self.config
            .alipay
            .as_deref()
            .ok_or(PlatformError::Unsupported(self.platform()))
    }

    /// The app secret, for the one request field that carries it.
    pub(super) fn secret(&self) -> &str {
        self.config.secret.expose_secret()
    }
}
