//! Settings, read once from the environment (and `.env`) and validated at
//! start. Every error names the variable it is about.

use secrecy::SecretString;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The appid the simulator plays, and so the `aud` of simulator tokens.
pub const SIMULATOR_APPID: &str = "wxsimulator0000000";
/// The app secret the simulator expects; not a secret, it guards nothing.
pub const SIMULATOR_SECRET: &str = "simulator-secret";
/// WeChat's API host.
pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";

/// A bad or missing setting, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it, and what would be right.
    pub message: String,
}

impl ConfigError {
    fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

/// Whom wxauth talks to for code2Session.
#[derive(Debug, Clone)]
pub enum WeChatMode {
    /// Real WeChat, with the mini-program's credentials.
    Production {
        /// `WECHAT_APPID`: the mini-program's appid, the `aud` of its tokens.
        appid: String,
        /// `WECHAT_SECRET`: the app secret; never logged.
        secret: SecretString,
    },
    /// The built-in simulator (SPEC section 6); only on a loopback bind.
    Simulator,
}

/// All of wxauth's settings (SPEC section 2).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `WXAUTH_BIND`: the listen address; port 0 picks a free port.
    pub bind: SocketAddr,
    /// `WECHAT_APPID` and `WECHAT_SECRET`: production or simulator.
    pub wechat: WeChatMode,
    /// `WECHAT_API_BASE`: where code2Session is called, without a trailing
    /// slash. `None` in simulator mode when unset: the server's own `/sim`.
    pub api_base: Option<String>,
    /// `WXAUTH_KEYS_DIR`: the folder of `<kid>.pem` key files.
    pub keys_dir: PathBuf,
    /// `WXAUTH_SIGNING_KID`: the kid that signs; unset, the greatest kid.
    pub signing_kid: Option<String>,
    /// `WXAUTH_ISSUER`: the `iss` claim.
    pub issuer: String,
    /// `WXAUTH_TOKEN_TTL`: token lifetime in seconds.
    pub token_ttl: i64,
    /// `WXAUTH_SESSION_MAX_AGE`: seconds after login that refresh may renew.
    pub session_max_age: i64,
    /// `WXAUTH_LEEWAY`: clock skew allowed on `exp`/`nbf`, seconds.
    pub leeway: i64,
    /// `WXAUTH_KEYS_RELOAD`: seconds between rescans of the key folder.
    pub keys_reload: Duration,
    /// `WXAUTH_UPSTREAM_TIMEOUT`: the limit of one call to WeChat.
    pub upstream_timeout: Duration,
    /// `WXAUTH_MAX_UPSTREAM`: concurrent calls to WeChat before shedding.
    pub max_upstream: usize,
    /// `WXAUTH_SHUTDOWN_TIMEOUT`: seconds in-flight requests get on SIGTERM.
    pub shutdown_timeout: u64,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings from a map; for tests and embedding.
    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| map.get(name).cloned())
    }

    /// Reads the settings through `lookup`. An empty value counts as unset,
    /// so `.env` lines like `WECHAT_APPID=` do what they look like.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let bind = match get("WXAUTH_BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(text) => text.trim().parse().map_err(|_| {
                ConfigError::new(
                    "WXAUTH_BIND",
                    format!(
                        "{text:?} is not an IP address and port such as 127.0.0.1:8080 or [::]:8080"
                    ),
                )
            })?,
        };

        let wechat = match (get("WECHAT_APPID"), get("WECHAT_SECRET")) {
            (Some(appid), Some(secret)) => {
                let appid = appid.trim().to_owned();
                if appid.len() > 64
                    || !appid
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(ConfigError::new(
                        "WECHAT_APPID",
                        "must be the mini-program's appid (letters and digits, such as wx1234567890abcdef)",
                    ));
                }
                WeChatMode::Production {
                    appid,
                    secret: SecretString::from(secret.trim()),
                }
            }
            (None, None) => {
                if !bind.ip().is_loopback() {
                    return Err(ConfigError::new(
                        "WXAUTH_BIND",
                        format!(
                            "{bind} is not a loopback address, and with WECHAT_APPID and WECHAT_SECRET unset \
                             wxauth would run its WeChat simulator, which serves only on loopback. \
                             Set both WECHAT_APPID and WECHAT_SECRET for production, or bind 127.0.0.1"
                        ),
                    ));
                }
                WeChatMode::Simulator
            }
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "WECHAT_SECRET",
                    "is unset while WECHAT_APPID is set: set both for production, or neither for the simulator",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "WECHAT_APPID",
                    "is unset while WECHAT_SECRET is set: set both for production, or neither for the simulator",
                ));
            }
        };

        let api_base = match get("WECHAT_API_BASE") {
            Some(text) => Some(parse_base_url(&text)?),
            None if matches!(wechat, WeChatMode::Simulator) => None,
            None => Some(DEFAULT_API_BASE.to_owned()),
        };

        let signing_kid = match get("WXAUTH_SIGNING_KID") {
            None => None,
            Some(kid) if crate::keyring::is_valid_kid(kid.trim()) => Some(kid.trim().to_owned()),
            Some(_) => {
                return Err(ConfigError::new(
                    "WXAUTH_SIGNING_KID",
                    "must be a kid: 1 to 64 characters of [A-Za-z0-9_-], the stem of a key file",
                ));
            }
        };

        let issuer = get("WXAUTH_ISSUER").unwrap_or_else(|| "wxauth".to_owned());
        if issuer.len() > 256 || issuer.chars().any(char::is_control) {
            return Err(ConfigError::new(
                "WXAUTH_ISSUER",
                "must be at most 256 characters with no control characters",
            ));
        }

        let number =
            |name: &'static str, default: u64, min: u64, max: u64| -> Result<u64, ConfigError> {
                match get(name) {
                    None => Ok(default),
                    Some(text) => match text.trim().parse::<u64>() {
                        Ok(value) if (min..=max).contains(&value) => Ok(value),
                        _ => Err(ConfigError::new(
                            name,
                            format!("{text:?} is not a whole number from {min} to {max}"),
                        )),
                    },
                }
            };

        let token_ttl = number("WXAUTH_TOKEN_TTL", 7200, 60, 86_400)?;
        let session_max_age = number("WXAUTH_SESSION_MAX_AGE", 2_592_000, 60, 31_536_000)?;
        if session_max_age < token_ttl {
            return Err(ConfigError::new(
                "WXAUTH_SESSION_MAX_AGE",
                format!("{session_max_age} is shorter than WXAUTH_TOKEN_TTL ({token_ttl})"),
            ));
        }
        let leeway = number("WXAUTH_LEEWAY", 30, 0, 300)?;
        let keys_reload = number("WXAUTH_KEYS_RELOAD", 30, 1, 86_400)?;
        let upstream_timeout = number("WXAUTH_UPSTREAM_TIMEOUT", 5, 1, 60)?;
        let max_upstream = number("WXAUTH_MAX_UPSTREAM", 256, 1, 100_000)?;
        let shutdown_timeout = number("WXAUTH_SHUTDOWN_TIMEOUT", 30, 0, 3_600)?;

        Ok(Self {
            bind,
            wechat,
            api_base,
            keys_dir: PathBuf::from(get("WXAUTH_KEYS_DIR").unwrap_or_else(|| "keys".to_owned())),
            signing_kid,
            issuer,
            // The bounds above keep these far inside i64 and usize.
            token_ttl: token_ttl as i64,
            session_max_age: session_max_age as i64,
            leeway: leeway as i64,
            keys_reload: Duration::from_secs(keys_reload),
            upstream_timeout: Duration::from_secs(upstream_timeout),
            max_upstream: max_upstream as usize,
            shutdown_timeout,
        })
    }

    /// The `aud` of our tokens: the appid, or the simulator's.
    pub fn appid(&self) -> &str {
        match &self.wechat {
            WeChatMode::Production { appid, .. } => appid,
            WeChatMode::Simulator => SIMULATOR_APPID,
        }
    }

    /// Whether the built-in simulator is serving.
    pub fn is_simulator(&self) -> bool {
        matches!(self.wechat, WeChatMode::Simulator)
    }
}

fn parse_base_url(text: &str) -> Result<String, ConfigError> {
    let trimmed = text.trim().trim_end_matches('/');
    match reqwest::Url::parse(trimmed) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && url.query().is_none()
                && url.fragment().is_none() =>
        {
            Ok(trimmed.to_owned())
        }
        _ => Err(ConfigError::new(
            "WECHAT_API_BASE",
            format!("{text:?} is not an http(s) URL without query, such as {DEFAULT_API_BASE}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_map(&map)
    }

    #[test]
    fn no_configuration_means_simulator_on_loopback_8080() {
        let s = settings(&[]).unwrap();
        assert!(s.is_simulator());
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.api_base, None);
        assert_eq!(s.token_ttl, 7200);
        assert_eq!(s.session_max_age, 2_592_000);
        assert_eq!(s.leeway, 30);
        assert_eq!(s.max_upstream, 256);
        assert_eq!(s.appid(), SIMULATOR_APPID);
    }

    #[test]
    fn production_needs_both_credentials() {
        let e = settings(&[("WECHAT_APPID", "wx1234567890abcdef")]).unwrap_err();
        assert_eq!(e.variable, "WECHAT_SECRET");
        let e = settings(&[("WECHAT_SECRET", "s")]).unwrap_err();
        assert_eq!(e.variable, "WECHAT_APPID");
        let s = settings(&[
            ("WECHAT_APPID", "wx1234567890abcdef"),
            ("WECHAT_SECRET", "s"),
        ])
        .unwrap();
        assert!(!s.is_simulator());
        assert_eq!(s.api_base.as_deref(), Some(DEFAULT_API_BASE));
    }

    #[test]
    fn simulator_refuses_a_non_loopback_bind() {
        let e = settings(&[("WXAUTH_BIND", "0.0.0.0:8080")]).unwrap_err();
        assert_eq!(e.variable, "WXAUTH_BIND");
        assert!(e.message.contains("loopback"));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("WXAUTH_BIND", "localhost"),
            ("WXAUTH_TOKEN_TTL", "two hours"),
            ("WXAUTH_TOKEN_TTL", "0"),
            ("WXAUTH_LEEWAY", "-1"),
            ("WXAUTH_KEYS_RELOAD", "0"),
            ("WXAUTH_UPSTREAM_TIMEOUT", "1.5"),
            ("WXAUTH_MAX_UPSTREAM", "0"),
            ("WXAUTH_SHUTDOWN_TIMEOUT", "forever"),
            ("WXAUTH_SESSION_MAX_AGE", "600"),
            ("WXAUTH_SIGNING_KID", "../etc/passwd"),
            ("WECHAT_API_BASE", "ftp://example.com"),
            ("WXAUTH_ISSUER", "bad\nissuer"),
        ] {
            let e = settings(&[(name, value)]).unwrap_err();
            assert_eq!(e.variable, name, "{name}={value:?}");
            assert!(e.to_string().starts_with(name));
        }
    }

    #[test]
    fn empty_values_count_as_unset_and_base_url_loses_its_slash() {
        let s = settings(&[
            ("WECHAT_APPID", ""),
            ("WECHAT_API_BASE", "http://127.0.0.1:9/"),
        ])
        .unwrap();
        assert!(s.is_simulator());
        assert_eq!(s.api_base.as_deref(), Some("http://127.0.0.1:9"));
    }
}
