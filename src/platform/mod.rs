//! The platforms' server APIs (README, "Apps and platforms"): WeChat, QQ,
//! Douyin, Alipay, Baidu, Kuaishou and Feishu, one client per configured
//! mini-program behind one interface ([`AppClient`]), all sharing one
//! transport ([`Transport`]: the HTTP pool, the timeouts, the cap on calls
//! in flight, the busy retries).
//!
//! Rules from the platforms' documentation and practice (the README's
//! platform table names the sources): every query value URL-encoded; the
//! answer is JSON whatever its `Content-Type` (WeChat serves `text/plain`);
//! unknown fields are ignored;
//! an absent or zero error code is success; "busy" (`-1`; Alipay's `20000`)
//! is retried at most twice with a short backoff; nothing else is retried,
//! because a code is single-use.
//!
//! - [`errcode`]: what each platform's error codes mean;
//! - [`transport`]: one HTTP exchange, bounded, with the busy retries;
//! - [`client`]: one mini-program's client; `code2session` (WeChat and QQ)
//!   and `douyin` (Douyin's code exchange), `access_token`, `server_api`
//!   (phone number, session check: WeChat mini-programs only), `user_data`
//!   (decryption, every platform), `oauth2` (WeChat's H5, website and app
//!   logins);
//! - `alipay`, `baidu`, `kuaishou`, `feishu`: those platforms' code
//!   exchanges, each in its own shape (the README's platform table names the
//!   documentation each follows).

mod access_token;
mod alipay;
mod baidu;
mod client;
mod code2session;
mod douyin;
mod errcode;
mod feishu;
mod kuaishou;
mod oauth2;
mod server_api;
mod transport;
mod user_data;

pub use alipay::{
    AlipayKeyError, AlipayKeys, alipay_seal_response, alipay_sign, alipay_verify,
    parse_private_key as alipay_private_key, parse_public_key as alipay_public_key,
    signing_content as alipay_signing_content,
};
pub use client::{AppClient, AppConfig};
pub use code2session::Session;
pub use server_api::session_signature;
pub use transport::Transport;
pub use user_data::{
    UserDataError, baidu_encrypt_user_data, decrypt_baidu, decrypt_for, decrypt_user_data,
    encrypt_user_data,
};

use serde::{Deserialize, Serialize};
use std::fmt;

/// The platform a mini-program runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// WeChat (`wx.login()`).
    #[default]
    Wechat,
    /// QQ (`qq.login()`): WeChat's API at another host.
    Qq,
    /// Douyin (`tt.login()`): its own API shape.
    Douyin,
    /// A WeChat official account's H5 pages (web authorization, README
    /// "One person, every surface"): a code from WeChat's authorize page.
    #[serde(rename = "wechat_h5")]
    WechatH5,
    /// A website app of WeChat's open platform: a code from the QR login.
    #[serde(rename = "wechat_web")]
    WechatWeb,
    /// A mobile app of WeChat's open platform: a code from the app SDK.
    #[serde(rename = "wechat_app")]
    WechatApp,
    /// Alipay (`my.getAuthCode()`): the OpenAPI gateway, RSA2-signed.
    Alipay,
    /// Baidu smart programs (`swan.getLoginCode()`).
    Baidu,
    /// Kuaishou (`ks.login()`).
    Kuaishou,
    /// Feishu/Lark gadgets (`tt.login()` in Feishu): an app access token.
    Feishu,
}

impl Platform {
    /// Every platform.
    pub const ALL: [Self; 10] = [
        Self::Wechat,
        Self::Qq,
        Self::Douyin,
        Self::Alipay,
        Self::Baidu,
        Self::Kuaishou,
        Self::Feishu,
        Self::WechatH5,
        Self::WechatWeb,
        Self::WechatApp,
    ];

    /// The name used in configuration, tokens (`plat`) and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wechat => "wechat",
            Self::Qq => "qq",
            Self::Douyin => "douyin",
            Self::WechatH5 => "wechat_h5",
            Self::WechatWeb => "wechat_web",
            Self::WechatApp => "wechat_app",
            Self::Alipay => "alipay",
            Self::Baidu => "baidu",
            Self::Kuaishou => "kuaishou",
            Self::Feishu => "feishu",
        }
    }

    /// The platform's own API host.
    pub fn default_api_base(self) -> &'static str {
        match self {
            Self::Wechat | Self::WechatH5 | Self::WechatWeb | Self::WechatApp => {
                "https://api.weixin.qq.com"
            }
            Self::Qq => "https://api.q.qq.com",
            Self::Douyin => "https://developer.toutiao.com",
            Self::Alipay => "https://openapi.alipay.com",
            Self::Baidu => "https://spapi.baidu.com",
            Self::Kuaishou => "https://open.kuaishou.com",
            Self::Feishu => "https://open.feishu.cn",
        }
    }

    /// The platform's name for people.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Wechat => "WeChat",
            Self::Qq => "QQ",
            Self::Douyin => "Douyin",
            Self::WechatH5 => "WeChat H5",
            Self::WechatWeb => "WeChat website",
            Self::WechatApp => "WeChat mobile app",
            Self::Alipay => "Alipay",
            Self::Baidu => "Baidu",
            Self::Kuaishou => "Kuaishou",
            Self::Feishu => "Feishu",
        }
    }
}

impl Platform {
    /// WeChat's web and app logins (README "One person, every surface"):
    /// a code exchanged at `/sns/oauth2/access_token`, no session_key.
    pub fn is_web_surface(self) -> bool {
        matches!(self, Self::WechatH5 | Self::WechatWeb | Self::WechatApp)
    }

    /// The surfaces whose code comes from a page WeChat redirects back from
    /// (`/auth/authorize`), so whose login needs a signed `state`.
    pub fn needs_state(self) -> bool {
        matches!(self, Self::WechatH5 | Self::WechatWeb)
    }

    /// Every platform's name, for messages.
    fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Platform {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|platform| platform.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not a platform: use {}", Self::names()))
    }
}

/// What went wrong talking to a platform.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlatformError {
    /// The code is invalid or expired (WeChat/QQ 40029, Douyin 40018).
    #[error("invalid code")]
    InvalidCode,
    /// WeChat/QQ 40163: code already used.
    #[error("code been used")]
    CodeUsed,
    /// WeChat/QQ 45011: rate limited.
    #[error("rate limited by the platform")]
    RateLimited,
    /// WeChat/QQ 40226: high-risk user blocked.
    #[error("user blocked by the platform")]
    UserBlocked,
    /// Busy (-1) on every attempt.
    #[error("the platform answered busy (-1) {attempts} times")]
    Busy {
        /// How many calls were made.
        attempts: u32,
    },
    /// Any other error code; most are the operator's mistake.
    #[error("errcode {errcode}: {cause}")]
    Rejected {
        /// The platform's code.
        errcode: i64,
        /// What it means, for the operator.
        cause: String,
    },
    /// Not a valid answer (not JSON, HTTP error, missing fields, too big).
    #[error("unusable answer: {0}")]
    Malformed(String),
    /// Unreachable or too slow.
    #[error("unreachable: {0}")]
    Unavailable(String),
    /// Too many calls in flight already.
    #[error("too many calls to the platforms in flight")]
    Overloaded,
    /// The app's platform has no such API: the phone number and session
    /// check exist for WeChat mini-programs only, and Alipay's gateway
    /// calls need an Alipay app's keys.
    #[error("{0} has no such API")]
    Unsupported(Platform),
}

/// An answer that carries the platform's error code (absent means 0).
trait HasErrcode {
    fn errcode(&self) -> i64;
}
