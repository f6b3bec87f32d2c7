//! Newtypes for the values that cross wxauth's boundaries, each with a
//! `parse()` that is the only way to make one, so a value that got past the
//! edge is known to be well formed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// The longest `code` from `wx.login()` accepted (WeChat's are 32 characters).
const MAX_CODE_LEN: usize = 128;
/// The longest openid or unionid accepted (WeChat's are 28 characters).
const MAX_ID_LEN: usize = 128;

/// The one-time code a mini-program got from `wx.login()`. A secret: it is
/// never logged, and its `Debug` says so.
pub struct LoginCode(SecretString);

impl LoginCode {
    /// Accepts 1 to 128 printable ASCII characters without spaces. WeChat's
    /// codes are 32 characters of `[0-9A-Za-z]`; the bound keeps a hostile
    /// client from making us forward megabytes upstream.
    pub fn parse(code: &str) -> Result<Self, &'static str> {
        if code.is_empty() {
            return Err("`code` must not be empty");
        }
        if code.len() > MAX_CODE_LEN {
            return Err("`code` is longer than 128 characters");
        }
        if !code.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("`code` must be printable ASCII without spaces");
        }
        Ok(Self(SecretString::from(code)))
    }

    /// The code itself, for the one place that sends it to WeChat.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for LoginCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginCode([REDACTED])")
    }
}

/// A WeChat user identifier: an `openid` (per app) or a `unionid` (per
/// developer account). Not secret, but never logged in full either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeChatId(String);

impl WeChatId {
    /// Accepts 1 to 128 characters of `[A-Za-z0-9_-]`, the alphabet WeChat
    /// uses for openids and unionids.
    pub fn parse(id: &str) -> Result<Self, &'static str> {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Err("an id must be 1 to 128 characters");
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err("an id must be made of [A-Za-z0-9_-]");
        }
        Ok(Self(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WeChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A platform's `session_key`: base64 of 16 bytes (WeChat, QQ, Douyin,
/// Kuaishou: the AES-128 key of the user's `encryptedData`) or 24 bytes
/// (Baidu: an AES-192 key). A secret: never logged, sealed inside tokens.
#[derive(Clone)]
pub struct SessionKey(SecretString);

impl SessionKey {
    /// Accepts the base64 text the platform sends, which must decode to 16
    /// or 24 bytes (the AES-128 or AES-192 key it is used as).
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        match STANDARD.decode(text) {
            Ok(bytes) if bytes.len() == 16 || bytes.len() == 24 => {
                Ok(Self(SecretString::from(text)))
            }
            Ok(_) => Err("session_key does not decode to 16 or 24 bytes"),
            Err(_) => Err("session_key is not base64"),
        }
    }

    /// The base64 text, as WeChat sent it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_code_rejects_empty_long_and_spaced_codes() {
        assert!(LoginCode::parse("").is_err());
        assert!(LoginCode::parse(&"a".repeat(129)).is_err());
        assert!(LoginCode::parse("a b").is_err());
        assert!(LoginCode::parse("a\0b").is_err());
        assert!(LoginCode::parse("081Kq4Ga1MSox41ufFGa1elpIW2Kq4GS").is_ok());
    }

    #[test]
    fn login_code_debug_hides_the_code() {
        let code = LoginCode::parse("secretcode").unwrap();
        assert!(!format!("{code:?}").contains("secretcode"));
    }

    #[test]
    fn wechat_id_accepts_only_its_alphabet() {
        assert!(WeChatId::parse("oGZUI0egBJY1zhBYw2KhdUfwVJJE").is_ok());
        assert!(WeChatId::parse("").is_err());
        assert!(WeChatId::parse("a/b").is_err());
        assert!(WeChatId::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn session_key_must_be_base64_of_16_bytes() {
        assert!(SessionKey::parse("tiihtNczf5v6AKRyjwEUhQ==").is_ok());
        assert!(SessionKey::parse("not base64!").is_err());
        assert!(SessionKey::parse("AAAA").is_err());
        let key = SessionKey::parse("tiihtNczf5v6AKRyjwEUhQ==").unwrap();
        assert!(!format!("{key:?}").contains("tiih"));
    }
}
