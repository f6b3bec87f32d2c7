//! Settings (SPEC section 2), declared once: every variable is a field below
//! with its environment name, default, validation and doc comment, so
//! `wxauth serve --help` documents them all, and nothing else in the crate
//! reads the environment.
//!
//! The environment (and `.env`) is read through [`Settings::from_lookup`],
//! which hands clap every set variable as its flag: an empty value counts as
//! unset (so `.env` lines like `WECHAT_APPID=` do what they look like), and
//! every error names the variable, never clap's flag.

mod apps_file;

use crate::edge::TrustedProxies;
use crate::platform::{AppConfig, Platform};
use clap::{Args, CommandFactory as _, Parser, ValueEnum};
use secrecy::SecretString;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The appid the simulator's WeChat mini-program plays, and so the `aud` of
/// its tokens.
pub const SIMULATOR_APPID: &str = "wxsimulator0000000";
/// The app secret the simulator expects; not a secret, it guards nothing.
pub const SIMULATOR_SECRET: &str = "simulator-secret";
/// `WXAUTH_BIND`'s default.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// WeChat's API host.
pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";

/// A bad or missing setting, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: String,
    /// What is wrong with it, and what would be right.
    pub message: String,
}

impl ConfigError {
    /// An error about `variable`.
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

/// `WXAUTH_SIMULATOR`: when the built-in simulator (SPEC section 6) serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SimulatorSwitch {
    /// When no app is configured, on a loopback bind only.
    #[default]
    Auto,
    /// On any bind, with a warning (a container on a developer's machine).
    On,
    /// Never: no app configured refuses to start.
    Off,
}

/// `WXAUTH_LOG_FORMAT`: how log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// env_logger's text lines.
    #[default]
    Text,
    /// One JSON object a line: `ts`, `level`, `target`, `msg`, request fields.
    Json,
}

/// The three mini-programs the simulator plays (SPEC section 6).
pub const SIMULATOR_APPS: [(Platform, &str); 3] = [
    (Platform::Wechat, SIMULATOR_APPID),
    (Platform::Qq, "1109999999"),
    (Platform::Douyin, "ttsimulator0000000"),
];

/// Whom wxauth talks to for code exchanges, decided once from the settings.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Real platforms, with the mini-programs' credentials.
    Apps(Vec<AppConfig>),
    /// The built-in simulator (SPEC section 6).
    Simulator {
        /// `WECHAT_API_BASE` if set (for the WeChat app); else the server's
        /// own `/sim` routes.
        api_base: Option<String>,
    },
}

/// The logging settings, read before anything else (they decide how the
/// other settings' errors are written).
#[derive(Debug, Clone, Args)]
pub struct LogSettings {
    /// Log filter (env_logger syntax), e.g. `info`, `debug`,
    /// `wxauth=debug,actix_web=info`. No level logs a secret.
    #[arg(
        long = "log",
        env = "RUST_LOG",
        default_value = "info",
        value_name = "FILTER"
    )]
    pub filter: String,
    /// `text` (env_logger's lines) or `json` (one JSON object a line, for
    /// log platforms).
    #[arg(long, env = "WXAUTH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// All of wxauth's settings (SPEC section 2). Read with [`Settings::from_env`].
#[derive(Debug, Clone, Parser)]
#[command(
    name = "wxauth serve",
    about = "Run the server. Every setting comes from the environment (or .env in the working directory)."
)]
pub struct Settings {
    /// Where the server listens.
    #[command(flatten)]
    pub listen: Listen,

    /// The WeChat mini-program's appid (one-app shorthand; set
    /// WECHAT_SECRET too).
    #[arg(long, env = "WECHAT_APPID", value_parser = parse_appid, value_name = "APPID")]
    pub wechat_appid: Option<String>,

    /// The mini-program's app secret; never logged.
    #[arg(long, env = "WECHAT_SECRET", value_parser = parse_secret, hide_env_values = true, value_name = "SECRET")]
    pub wechat_secret: Option<SecretString>,

    /// A TOML file of several mini-programs, of any platform (SPEC section
    /// 8); refuses to start if WECHAT_APPID is set too.
    #[arg(long, env = "WXAUTH_APPS_FILE", value_name = "FILE")]
    pub apps_file: Option<PathBuf>,

    /// `auto`: the simulator when no app is configured, on a loopback bind
    /// only; `on`: on any bind, with a warning; `off`: no app configured
    /// refuses to start.
    #[arg(long, env = "WXAUTH_SIMULATOR", value_enum, default_value_t = SimulatorSwitch::Auto)]
    pub simulator: SimulatorSwitch,

    /// Base URL for code2Session (tests point it at a fake). Default WeChat's
    /// own; in simulator mode this server's /sim routes.
    #[arg(long, env = "WECHAT_API_BASE", value_parser = parse_base_url, value_name = "URL")]
    pub wechat_api_base: Option<String>,

    /// Folder of key files `<kid>.pem` (SPEC section 4).
    #[command(flatten)]
    pub keys: KeySettings,

    /// The `iss` claim of issued tokens, and the one required of presented
    /// ones.
    #[arg(long, env = "WXAUTH_ISSUER", default_value = "wxauth", value_parser = parse_issuer, value_name = "ISS")]
    pub issuer: String,

    /// Token lifetime, seconds (60 to 86400).
    #[arg(long, env = "WXAUTH_TOKEN_TTL", default_value_t = 7200, value_parser = seconds(60, 86_400), value_name = "SECONDS")]
    pub token_ttl: i64,

    /// How long after login /auth/refresh may renew, seconds (60 to
    /// 31536000, at least WXAUTH_TOKEN_TTL).
    #[arg(long, env = "WXAUTH_SESSION_MAX_AGE", default_value_t = 2_592_000, value_parser = seconds(60, 31_536_000), value_name = "SECONDS")]
    pub session_max_age: i64,

    /// Clock skew allowed on exp/nbf/iat, seconds (0 to 300).
    #[arg(long, env = "WXAUTH_LEEWAY", default_value_t = 30, value_parser = seconds(0, 300), value_name = "SECONDS")]
    pub leeway: i64,

    /// Seconds between rescans of the key folder and the revocation file (1
    /// to 86400).
    #[arg(long, env = "WXAUTH_KEYS_RELOAD", default_value_t = 30, value_parser = seconds(1, 86_400), value_name = "SECONDS")]
    pub keys_reload: i64,

    /// Time limit of one call to the platform, seconds (1 to 60).
    #[arg(long, env = "WXAUTH_UPSTREAM_TIMEOUT", default_value_t = 5, value_parser = seconds(1, 60), value_name = "SECONDS")]
    pub upstream_timeout: i64,

    /// Concurrent calls to the platforms; past it logins get 503
    /// `overloaded` (1 to 100000).
    #[arg(long, env = "WXAUTH_MAX_UPSTREAM", default_value_t = 256, value_parser = count(1, 100_000), value_name = "CALLS")]
    pub max_upstream: usize,

    /// Seconds in-flight requests get after SIGTERM (0 to 3600).
    #[arg(long, env = "WXAUTH_SHUTDOWN_TIMEOUT", default_value_t = 30, value_parser = seconds(0, 3_600), value_name = "SECONDS")]
    pub shutdown_timeout: i64,

    /// The protections against clients (SPEC section 10).
    #[command(flatten)]
    pub edge: EdgeSettings,

    /// The revocation and ban list (SPEC section 9).
    #[command(flatten)]
    pub revocations: RevocationsFile,

    /// Logging.
    #[command(flatten)]
    pub log: LogSettings,

    /// The configured apps, read by [`Settings::resolve`] (from the apps
    /// file or the one-app shorthand); empty in simulator mode.
    #[arg(skip)]
    pub apps: Vec<AppConfig>,
}

/// The revocation file (the server's, and the one `wxauth revoke|ban|unban`
/// edit).
#[derive(Debug, Clone, Args)]
pub struct RevocationsFile {
    /// Revocations and bans, one a line (SPEC section 9); reread with the
    /// keys.
    #[arg(
        long = "revocations-file",
        visible_alias = "file",
        env = "WXAUTH_REVOCATIONS_FILE",
        value_name = "FILE"
    )]
    pub file: Option<PathBuf>,
}

/// The listen address (the server's, and the one `wxauth healthcheck` asks).
#[derive(Debug, Clone, Args)]
pub struct Listen {
    /// Listen address, IP and port; port 0 picks a free port.
    #[arg(long, env = "WXAUTH_BIND", default_value = DEFAULT_BIND, value_parser = parse_bind, value_name = "ADDR")]
    pub bind: SocketAddr,
}

/// The key folder (the server's, keygen's and keys').
#[derive(Debug, Clone, Args)]
pub struct KeyFolder {
    /// Folder of key files `<kid>.pem` (PKCS#8: Ed25519, P-256 or RSA
    /// 2048-4096).
    #[arg(
        long = "keys-dir",
        visible_alias = "dir",
        env = "WXAUTH_KEYS_DIR",
        default_value = "keys",
        value_name = "DIR"
    )]
    pub dir: PathBuf,
}

/// The key folder and which key signs (SPEC section 4).
#[derive(Debug, Clone, Args)]
pub struct KeySettings {
    /// The folder.
    #[command(flatten)]
    pub folder: KeyFolder,

    /// Pin the signing key by kid; unset: the kid in DIR/signing-kid, else
    /// the greatest active kid.
    #[arg(long, env = "WXAUTH_SIGNING_KID", value_parser = parse_kid, value_name = "KID")]
    pub signing_kid: Option<String>,

    /// Seconds a newly published key file verifies before it may sign; `0`:
    /// at once (0 to 604800).
    #[arg(long, env = "WXAUTH_KEY_ACTIVATION_DELAY", default_value_t = 600, value_parser = seconds(0, 604_800), value_name = "SECONDS")]
    pub key_activation_delay: i64,
}

impl EdgeSettings {
    /// `WXAUTH_CLIENT_TIMEOUT` as a duration.
    pub fn client_timeout(&self) -> Duration {
        Duration::from_secs(self.client_timeout.unsigned_abs())
    }
}

impl KeySettings {
    /// How the signing key is chosen.
    pub fn signing_rule(&self) -> crate::keyring::SigningRule {
        crate::keyring::SigningRule {
            pin: self.signing_kid.clone(),
            activation_delay: self.key_activation_delay,
        }
    }
}

/// What protects the server from its clients (SPEC section 10).
#[derive(Debug, Clone, Args)]
pub struct EdgeSettings {
    /// Seconds a client has to send a whole request, head and body; then the
    /// connection closes (1 to 3600).
    #[arg(long, env = "WXAUTH_CLIENT_TIMEOUT", default_value_t = 10, value_parser = seconds(1, 3_600), value_name = "SECONDS")]
    pub client_timeout: i64,

    /// Open client connections per process; past it a new one evicts the
    /// connection that has waited on its client longest. The default keeps
    /// a replica under 64 MiB under attack (README.md, "At the edge")
    /// (1 to 1000000).
    #[arg(long, env = "WXAUTH_MAX_CONNECTIONS", default_value_t = 2_000, value_parser = count(1, 1_000_000), value_name = "CONNECTIONS")]
    pub max_connections: usize,

    /// Requests a second per client address to /auth/login, /auth/refresh,
    /// /auth/check and /wx/*, with a burst of 5x; `0`: no limit.
    #[arg(long, env = "WXAUTH_CLIENT_RATE", default_value_t = 20, value_parser = count(0, 1_000_000), value_name = "PER_SECOND")]
    pub client_rate: usize,

    /// Comma-separated addresses or CIDR blocks whose X-Forwarded-For names
    /// the client; `none` trusts no proxy.
    #[arg(long, env = "WXAUTH_TRUSTED_PROXIES", default_value = crate::edge::DEFAULT_TRUSTED_PROXIES, value_parser = parse_trusted_proxies, value_name = "CIDRS")]
    pub trusted_proxies: TrustedProxies,

    /// Signatures a second for the whole process (logins and refreshes,
    /// whatever the client); past it they get 503 `overloaded`; `0`: no
    /// budget.
    #[arg(long, env = "WXAUTH_SIGNATURE_RATE", default_value_t = crate::edge::SIGNATURE_RATE, value_parser = count(0, 1_000_000), value_name = "PER_SECOND")]
    pub signature_rate: usize,
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

    /// Reads the settings through `lookup`, then reads the apps and checks
    /// the rules that tie several variables together.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut settings: Self = parse_env(Self::command(), &lookup)?;
        settings.resolve(&lookup)?;
        Ok(settings)
    }

    /// Reads the apps (their secrets through `lookup`) and checks the rules
    /// that tie several variables together.
    pub fn resolve(&mut self, lookup: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        self.apps = self.configured_apps(lookup)?;
        self.mode()?;
        if self.session_max_age < self.token_ttl {
            return Err(ConfigError::new(
                "WXAUTH_SESSION_MAX_AGE",
                format!(
                    "{} is shorter than WXAUTH_TOKEN_TTL ({})",
                    self.session_max_age, self.token_ttl
                ),
            ));
        }
        Ok(())
    }

    fn configured_apps(
        &self,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<AppConfig>, ConfigError> {
        if self.apps_file.is_some() && self.wechat_appid.is_some() {
            return Err(ConfigError::new(
                "WXAUTH_APPS_FILE",
                "is set and so is WECHAT_APPID: configure the apps in one place (the file, or WECHAT_APPID/WECHAT_SECRET for one WeChat app)",
            ));
        }
        match (&self.apps_file, &self.wechat_appid, &self.wechat_secret) {
            (Some(path), _, _) => apps_file::read_apps_file(path, lookup),
            (None, Some(appid), Some(secret)) => Ok(vec![AppConfig {
                platform: Platform::Wechat,
                appid: appid.clone(),
                secret: secret.clone(),
                api_base: self
                    .wechat_api_base
                    .clone()
                    .unwrap_or_else(|| DEFAULT_API_BASE.to_owned()),
            }]),
            (None, Some(_), None) => Err(ConfigError::new(
                "WECHAT_SECRET",
                "is unset while WECHAT_APPID is set: set both for production, or neither for the simulator",
            )),
            (None, None, Some(_)) => Err(ConfigError::new(
                "WECHAT_APPID",
                "is unset while WECHAT_SECRET is set: set both for production, or neither for the simulator",
            )),
            (None, None, None) => Ok(Vec::new()),
        }
    }

    /// The configured apps, or the simulator if `WXAUTH_SIMULATOR` and the
    /// bind allow it. Checked once by [`Settings::resolve`].
    pub fn mode(&self) -> Result<Mode, ConfigError> {
        if self.apps.is_empty() {
            self.simulator_mode()
        } else {
            Ok(Mode::Apps(self.apps.clone()))
        }
    }

    /// No app configured: the simulator, if `WXAUTH_SIMULATOR` allows it here.
    fn simulator_mode(&self) -> Result<Mode, ConfigError> {
        let simulator = Mode::Simulator {
            api_base: self.wechat_api_base.clone(),
        };
        match self.simulator {
            SimulatorSwitch::On => Ok(simulator),
            SimulatorSwitch::Auto if self.listen.bind.ip().is_loopback() => Ok(simulator),
            SimulatorSwitch::Auto => Err(ConfigError::new(
                "WXAUTH_BIND",
                format!(
                    "{} is not a loopback address, and no app is configured (WECHAT_APPID and WECHAT_SECRET, \
                     or WXAUTH_APPS_FILE), so wxauth would run its simulator, which lets anyone log in as \
                     anyone. Configure an app for production, bind 127.0.0.1, or set WXAUTH_SIMULATOR=on \
                     to serve the simulator on this address anyway",
                    self.listen.bind
                ),
            )),
            SimulatorSwitch::Off => Err(ConfigError::new(
                "WXAUTH_SIMULATOR",
                "is off and no app is configured: set WECHAT_APPID and WECHAT_SECRET, or WXAUTH_APPS_FILE",
            )),
        }
    }

    /// The first app's appid, or the simulator's WeChat one.
    pub fn appid(&self) -> &str {
        self.apps
            .first()
            .map_or(SIMULATOR_APPID, |app| app.appid.as_str())
    }

    /// Every appid served: the `aud`s the guard accepts.
    pub fn appids(&self) -> Vec<&str> {
        if self.apps.is_empty() {
            SIMULATOR_APPS.iter().map(|(_, appid)| *appid).collect()
        } else {
            self.apps.iter().map(|app| app.appid.as_str()).collect()
        }
    }

    /// Whether the built-in simulator is serving.
    pub fn is_simulator(&self) -> bool {
        matches!(self.mode(), Ok(Mode::Simulator { .. }))
    }

    /// `WXAUTH_KEYS_RELOAD` as a duration.
    pub fn keys_reload(&self) -> Duration {
        Duration::from_secs(self.keys_reload.unsigned_abs())
    }

    /// `WXAUTH_UPSTREAM_TIMEOUT` as a duration.
    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_secs(self.upstream_timeout.unsigned_abs())
    }
}

/// Parses the environment into `T` through `command`; see [`with_env`].
pub fn parse_env<T: clap::FromArgMatches>(
    command: clap::Command,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<T, ConfigError> {
    let argv = vec![command.get_name().to_owned()];
    let matches = with_env(command, argv, None, lookup).map_err(|error| match error {
        EnvError::Config(error) => error,
        EnvError::Usage(error) => ConfigError::new("environment", error.kind().to_string()),
    })?;
    T::from_arg_matches(&matches).map_err(|e| ConfigError::new("environment", e.kind().to_string()))
}

/// A command line that did not parse: a bad environment value (named by
/// its variable), or the command line itself (clap's own message, help and
/// version included).
#[derive(Debug)]
pub enum EnvError {
    /// A variable's value is bad.
    Config(ConfigError),
    /// The command line is bad, or asks for help or the version.
    Usage(clap::Error),
}

/// Parses `argv` with `command`, where every argument (of `subcommand`, if
/// given: then `argv[1]` must name it) that has an environment name and a
/// non-empty value in `lookup` is first passed as `--flag=value`; a flag on
/// the command line wins over the environment.
/// clap does the rest (defaults, validation), but never reads the process
/// environment itself: the values come from `lookup` alone, which an empty
/// value leaves unset.
pub fn with_env(
    command: clap::Command,
    mut argv: Vec<String>,
    subcommand: Option<&str>,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<clap::ArgMatches, EnvError> {
    let mut flags = HashMap::new();
    let mut from_env = Vec::new();
    let target = match subcommand {
        Some(name) => command.find_subcommand(name).cloned().unwrap_or_default(),
        None => command.clone(),
    };
    for arg in target.get_arguments() {
        let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        let env = env.to_string_lossy().into_owned();
        flags.insert(format!("--{long}"), env.clone());
        if let Some(value) = lookup(&env).filter(|value| !value.trim().is_empty()) {
            from_env.push(format!("--{long}={}", value.trim()));
        }
    }
    let at = argv.len().min(if subcommand.is_some() { 2 } else { 1 });
    argv.splice(at..at, from_env.iter().cloned());
    let strip = |command: clap::Command| {
        command
            .args_override_self(true)
            .mut_args(|arg| arg.env(None::<&str>))
    };
    let command = match subcommand {
        Some(name) => command.mut_subcommand(name, strip),
        None => strip(command),
    };
    command.try_get_matches_from(argv).map_err(|error| {
        let flag = match error.get(clap::error::ContextKind::InvalidArg) {
            Some(clap::error::ContextValue::String(text)) => text
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        };
        match flags.get(&flag) {
            // The bad value came from the environment (a flag on the command
            // line would have won): name the variable.
            Some(variable) if from_env.iter().any(|f| f.starts_with(&format!("{flag}="))) => {
                let message = std::error::Error::source(&error)
                    .map_or_else(|| error.kind().to_string(), ToString::to_string);
                EnvError::Config(ConfigError::new(variable.clone(), message))
            }
            _ => EnvError::Usage(error),
        }
    })
}

/// An IP address and port.
pub fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        format!("{text:?} is not an IP address and port such as 127.0.0.1:8080 or [::]:8080")
    })
}

/// An appid: WeChat's `wx` + 16 hex, QQ's digits, Douyin's `tt` + 16; all
/// within `[A-Za-z0-9_-]{1,64}`.
pub fn parse_appid(appid: &str) -> Result<String, String> {
    if appid.is_empty()
        || appid.len() > 64
        || !appid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(
            "must be the mini-program's appid (letters and digits, such as wx1234567890abcdef)"
                .into(),
        );
    }
    Ok(appid.to_owned())
}

fn parse_secret(text: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(text))
}

fn parse_kid(kid: &str) -> Result<String, String> {
    if crate::keyring::is_valid_kid(kid) {
        Ok(kid.to_owned())
    } else {
        Err("must be a kid: 1 to 64 characters of [A-Za-z0-9_-], the stem of a key file".into())
    }
}

fn parse_issuer(issuer: &str) -> Result<String, String> {
    if issuer.len() > 256 || issuer.chars().any(char::is_control) {
        return Err("must be at most 256 characters with no control characters".into());
    }
    Ok(issuer.to_owned())
}

fn parse_trusted_proxies(text: &str) -> Result<TrustedProxies, String> {
    text.parse()
}

/// A whole number of seconds from `min` to `max`.
fn seconds(min: i64, max: i64) -> impl Fn(&str) -> Result<i64, String> + Clone {
    move |text| match text.parse::<i64>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(format!(
            "{text:?} is not a whole number from {min} to {max}"
        )),
    }
}

/// A count from `min` to `max`.
fn count(min: usize, max: usize) -> impl Fn(&str) -> Result<usize, String> + Clone {
    move |text| match text.parse::<usize>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(format!(
            "{text:?} is not a whole number from {min} to {max}"
        )),
    }
}

/// An http(s) base URL without query or fragment, its trailing slash dropped.
pub fn parse_base_url(text: &str) -> Result<String, String> {
    let trimmed = text.trim_end_matches('/');
    match reqwest::Url::parse(trimmed) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && url.query().is_none()
                && url.fragment().is_none() =>
        {
            Ok(trimmed.to_owned())
        }
        _ => Err(format!(
            "{text:?} is not an http(s) URL without query, such as {DEFAULT_API_BASE}"
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
        assert_eq!(s.listen.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.keys.folder.dir, PathBuf::from("keys"));
        assert!(matches!(
            s.mode().unwrap(),
            Mode::Simulator { api_base: None }
        ));
        assert_eq!(s.token_ttl, 7200);
        assert_eq!(s.session_max_age, 2_592_000);
        assert_eq!(s.leeway, 30);
        assert_eq!(s.max_upstream, 256);
        assert_eq!(s.keys.key_activation_delay, 600);
        assert_eq!(s.edge.client_timeout, 10);
        assert_eq!(s.edge.max_connections, 2_000);
        assert_eq!(s.edge.client_rate, 20);
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
        assert!(matches!(
            s.mode().unwrap(),
            Mode::Apps(apps) if apps[0].api_base == DEFAULT_API_BASE
        ));
    }

    #[test]
    fn simulator_refuses_a_non_loopback_bind_unless_switched_on() {
        let e = settings(&[("WXAUTH_BIND", "0.0.0.0:8080")]).unwrap_err();
        assert_eq!(e.variable, "WXAUTH_BIND");
        assert!(e.message.contains("loopback"));
        assert!(e.message.contains("WXAUTH_SIMULATOR=on"));
        let s = settings(&[("WXAUTH_BIND", "0.0.0.0:8080"), ("WXAUTH_SIMULATOR", "on")]).unwrap();
        assert!(s.is_simulator());
        let e = settings(&[("WXAUTH_SIMULATOR", "off")]).unwrap_err();
        assert_eq!(e.variable, "WXAUTH_SIMULATOR");
    }

    #[test]
    fn apps_file_and_wechat_appid_exclude_each_other() {
        let e = settings(&[
            ("WXAUTH_APPS_FILE", "apps.toml"),
            ("WECHAT_APPID", "wx1234567890abcdef"),
            ("WECHAT_SECRET", "s"),
        ])
        .unwrap_err();
        assert_eq!(e.variable, "WXAUTH_APPS_FILE");
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
            ("WXAUTH_SIMULATOR", "maybe"),
            ("WXAUTH_LOG_FORMAT", "xml"),
            ("WXAUTH_CLIENT_TIMEOUT", "0"),
            ("WXAUTH_MAX_CONNECTIONS", "0"),
            ("WXAUTH_CLIENT_RATE", "-5"),
            ("WXAUTH_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("WXAUTH_KEY_ACTIVATION_DELAY", "soon"),
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
            ("WXAUTH_TOKEN_TTL", " "),
            ("WECHAT_API_BASE", "http://127.0.0.1:9/"),
        ])
        .unwrap();
        assert!(s.is_simulator());
        assert_eq!(s.token_ttl, 7200);
        assert!(matches!(
            s.mode().unwrap(),
            Mode::Simulator { api_base: Some(base) } if base == "http://127.0.0.1:9"
        ));
    }

    #[test]
    fn help_documents_every_variable_of_the_spec() {
        let help = Settings::command().render_long_help().to_string();
        for variable in [
            "WXAUTH_BIND",
            "WECHAT_APPID",
            "WECHAT_SECRET",
            "WXAUTH_APPS_FILE",
            "WXAUTH_SIMULATOR",
            "WECHAT_API_BASE",
            "WXAUTH_KEYS_DIR",
            "WXAUTH_SIGNING_KID",
            "WXAUTH_KEY_ACTIVATION_DELAY",
            "WXAUTH_REVOCATIONS_FILE",
            "WXAUTH_ISSUER",
            "WXAUTH_TOKEN_TTL",
            "WXAUTH_SESSION_MAX_AGE",
            "WXAUTH_LEEWAY",
            "WXAUTH_KEYS_RELOAD",
            "WXAUTH_UPSTREAM_TIMEOUT",
            "WXAUTH_MAX_UPSTREAM",
            "WXAUTH_SHUTDOWN_TIMEOUT",
            "WXAUTH_CLIENT_TIMEOUT",
            "WXAUTH_MAX_CONNECTIONS",
            "WXAUTH_CLIENT_RATE",
            "WXAUTH_TRUSTED_PROXIES",
            "WXAUTH_LOG_FORMAT",
            "RUST_LOG",
        ] {
            assert!(help.contains(variable), "{variable} missing from --help");
        }
    }
}
