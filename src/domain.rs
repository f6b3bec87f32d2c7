//! Newtypes for the values that cross wxauth's boundaries, each with a
//! `parse()` (or `FromStr`, which is what clap uses as the value parser of
//! a setting or argument) that is the only way to make one, so a value that
//! got past the edge is known to be well formed.
//!
//! The ids ([`Kid`], [`AppId`], [`UserId`]) share one alphabet,
//! `[A-Za-z0-9_-]`: safe as a file stem, in a JWT header, in a URL and in
//! the revocation file's lines.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::str::FromStr;

/// The longest `code` from `wx.login()` accepted (WeChat's are 32 characters).
const MAX_CODE_LEN: usize = 128;
/// The longest openid or unionid accepted (WeChat's are 28 characters).
const MAX_ID_LEN: usize = 128;

/// Checks a one-time code: 1 to 128 printable ASCII characters without
/// spaces. The platforms' codes are 32 characters of `[0-9A-Za-z]` or so;
/// the bound keeps a hostile client from making us forward megabytes
/// upstream.
fn check_code(code: &str) -> Result<SecretString, &'static str> {
    if code.is_empty() {
        return Err("`code` must not be empty");
    }
    if code.len() > MAX_CODE_LEN {
        return Err("`code` is longer than 128 characters");
    }
    if !code.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("`code` must be printable ASCII without spaces");
    }
    Ok(SecretString::from(code))
}

/// The one-time login code a mini-program got from its platform's login
/// call (`wx.login()`, `qq.login()`, `tt.login()`). A secret: it is never
/// logged, and its `Debug` says so.
pub struct LoginCode(SecretString);

impl LoginCode {
    /// Accepts 1 to 128 printable ASCII characters without spaces.
    pub fn parse(code: &str) -> Result<Self, &'static str> {
        check_code(code).map(Self)
    }

    /// The code itself, for the one place that sends it to the platform.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for LoginCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginCode([REDACTED])")
    }
}

/// The one-time code of WeChat's `getPhoneNumber` button (not a login
/// code: it is exchanged for the phone number, once). A secret like
/// [`LoginCode`], with the same bounds.
pub struct PhoneCode(SecretString);

impl PhoneCode {
    /// Accepts 1 to 128 printable ASCII characters without spaces.
    pub fn parse(code: &str) -> Result<Self, &'static str> {
        check_code(code).map(Self)
    }

    /// The code itself, for the one place that sends it to WeChat.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for PhoneCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhoneCode([REDACTED])")
    }
}

/// Why a text is not an id of the kind asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not {what}: 1 to {max} characters of [A-Za-z0-9_-]")]
pub struct IdError {
    /// The text refused (an id is not secret).
    pub text: String,
    /// What was expected, such as "a kid".
    pub what: &'static str,
    /// The longest accepted.
    pub max: usize,
}

/// Whether `text` is 1 to `max` characters of `[A-Za-z0-9_-]`.
fn is_id(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Declares an id newtype of the `[A-Za-z0-9_-]` alphabet.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $max:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The longest accepted.
            pub const MAX_LEN: usize = $max;

            /// Accepts 1 to `MAX_LEN` characters of `[A-Za-z0-9_-]`.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                if is_id(text, $max) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(IdError {
                        text: text.to_owned(),
                        what: $what,
                        max: $max,
                    })
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::parse(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A key id: the stem of a key file `<kid>.pem` and the `kid` of the
    /// tokens it signs (RFC 7515 section 4.1.4).
    Kid,
    64,
    "a kid (the stem of a key file)"
);

id_type!(
    /// A mini-program's appid: WeChat's `wx` + 16 hex, QQ's digits,
    /// Douyin's `tt` + 16; the `aud` of its tokens.
    AppId,
    64,
    "a mini-program's appid (such as wx1234567890abcdef)"
);

id_type!(
    /// A user of a platform: an `openid` (per app) or a `unionid` (per
    /// developer account), of any platform; also what the revocation file
    /// names. Not secret, but never logged in full either.
    UserId,
    MAX_ID_LEN,
    "an openid or unionid"
);

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
    fn user_id_accepts_only_its_alphabet() {
        assert!(UserId::parse("oGZUI0egBJY1zhBYw2KhdUfwVJJE").is_ok());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a/b").is_err());
        assert!(UserId::parse(&"a".repeat(128)).is_ok());
        assert!(UserId::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn kid_and_appid_stop_at_64_and_say_what_they_wanted() {
        for (text, ok) in [
            ("20261121T043000Z", true),
            ("a_b-C", true),
            ("", false),
            ("../x", false),
            ("a.b", false),
            ("a b", false),
        ] {
            assert_eq!(text.parse::<Kid>().is_ok(), ok, "{text:?}");
            assert_eq!(text.parse::<AppId>().is_ok(), ok, "{text:?}");
        }
        assert!(Kid::parse(&"a".repeat(64)).is_ok());
        assert!(Kid::parse(&"a".repeat(65)).is_err());
        assert!(AppId::parse(&"a".repeat(65)).is_err());
        let error = Kid::parse("a.b").unwrap_err().to_string();
        assert!(error.contains("\"a.b\" is not a kid"), "{error}");
        assert!(error.contains("[A-Za-z0-9_-]"), "{error}");
    }

    #[test]
    fn phone_code_has_the_login_code_bounds_and_hides_itself() {
        assert!(PhoneCode::parse("").is_err());
        assert!(PhoneCode::parse(&"a".repeat(129)).is_err());
        let code = PhoneCode::parse("secretcode").unwrap();
        assert!(!format!("{code:?}").contains("secretcode"));
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
