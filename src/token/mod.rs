//! The token: its claims (docs/API.md, "The token"), how it is issued, and how it is
//! verified. The session_key rides inside it, sealed by the signing key's
//! generation (see [`crate::keyring::seal`]).

mod cache;
mod verify;

pub use cache::{CACHE_CAPACITY, VerifiedCache};

pub use verify::{MAX_TOKEN_LEN, Rejection, TokenPolicy, TokenVerifier, VerifiedToken};

use crate::clock::SharedClock;
use crate::domain::SessionKey;
use crate::keyring::{KeyGeneration, Keyring};
use crate::platform::Platform;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use serde::{Deserialize, Serialize};

/// Installs jsonwebtoken's aws-lc-rs provider for the process. With both
/// crypto features enabled (another crate in a service embedding the guard
/// may turn on `rust_crypto`) jsonwebtoken would compile and then panic on
/// first use; an explicit provider rules that out. Idempotent.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is what we want.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

/// The claims of a wxauth token (docs/API.md, "The token"; RFC 7519 section 4.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: `WXAUTH_ISSUER`.
    pub iss: String,
    /// Audience: the mini-program's appid.
    pub aud: String,
    /// Subject: the user's openid.
    pub sub: String,
    /// The mini-program's platform (docs/API.md, "Apps and platforms"); tokens from before
    /// there were several read as WeChat's.
    #[serde(default)]
    pub plat: Platform,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Not before; wxauth never issues it but checks it when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// A random token id.
    pub jti: String,
    /// When the user logged in with a `wx.login()` code; kept across refreshes.
    pub auth_time: i64,
    /// The user's unionid, when WeChat returned one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
    /// The sealed session_key (see [`crate::keyring::seal`]); only wxauth
    /// can open it. Absent where the login gave none (WeChat's web and app
    /// logins, Alipay, Feishu).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sk: Option<String>,
}

/// The body of a successful `/auth/login` or `/auth/refresh` (the shape of
/// RFC 6749 section 5.1).
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

/// Why a token could not be issued. Both causes are faults of the machine,
/// not of the request.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// Sealing failed (the system RNG).
    #[error("sealing the session_key failed: {0}")]
    Seal(#[from] crate::keyring::seal::SealError),
    /// Signing failed.
    #[error("signing the token failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// Who a token is for: what one login established.
#[derive(Debug)]
pub struct Subject<'a> {
    /// The mini-program (the `aud`).
    pub appid: &'a str,
    /// Its platform (the `plat`).
    pub platform: Platform,
    /// The user's openid.
    pub openid: &'a str,
    /// The user's unionid, when WeChat returned one.
    pub unionid: Option<&'a str>,
    /// The platform's session_key for this login, where it gives one.
    pub session_key: Option<&'a SessionKey>,
    /// When the login happened.
    pub auth_time: i64,
}

/// Makes tokens: claims, seal, signature with the current signing key.
#[derive(Clone)]
pub struct TokenIssuer {
    issuer: String,
    ttl: i64,
    clock: SharedClock,
}

impl TokenIssuer {
    /// An issuer of tokens living `ttl` seconds.
    pub fn new(issuer: impl Into<String>, ttl: i64, clock: SharedClock) -> Self {
        Self {
            issuer: issuer.into(),
            ttl,
            clock,
        }
    }

    /// Issues a token for `subject`, signed and sealed by the keyring's
    /// signing key.
    pub fn issue(
        &self,
        keyring: &Keyring,
        subject: &Subject<'_>,
    ) -> Result<TokenResponse, IssueError> {
        let key: &KeyGeneration = keyring.signing();
        let now = self.clock.now();
        let openid = subject.openid;
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: subject.appid.to_owned(),
            sub: openid.to_owned(),
            plat: subject.platform,
            iat: now,
            exp: now + self.ttl,
            nbf: None,
            jti: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
            auth_time: subject.auth_time,
            unionid: subject.unionid.map(str::to_owned),
            sk: subject
                .session_key
                .map(|session_key| key.sealing_key().seal(openid, key.kid(), session_key))
                .transpose()?,
        };
        let mut header = Header::new(key.alg().algorithm());
        header.kid = Some(key.kid().to_owned());
        let access_token = jsonwebtoken::encode(&header, &claims, key.encoding_key())?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: self.ttl,
        })
    }
}
