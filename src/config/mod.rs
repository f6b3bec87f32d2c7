//! Settings (docs/API.md, "Configuration"), declared once: every variable
//! is a field below with its environment name, default, value parser and
//! doc comment, so `wxauth serve --help` documents them all, and nothing
//! else in the crate reads the environment. [`Config`] is the settings
//! validated once (the apps read, the mode decided), what the server is
//! built from.
//!
//! The environment (and `.env`) is read through [`with_env`] (by
//! [`Config::from_lookup`] and the command line), which hands clap every set
//! variable as its flag: an empty value counts as unset (so `.env` lines
//! like `WECHAT_APPID=` do what they look like), and every error names the
//! variable, never clap's flag.

mod apps_file;

use crate::domain::{AppId, Kid};
use crate::edge::TrustedProxies;
use crate::platform::{AppConfig, Platform};
use clap::builder::RangedU64ValueParser;
use clap::error::{ContextKind, ContextValue};
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
/// `WXAUTH_ISSUER`'s default when `WXAUTH_PUBLIC_URL` is unset.
pub const DEFAULT_ISSUER: &str = "wxauth";
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

/// `WXAUTH_SIMULATOR`: when the built-in simulator (docs/API.md, "Simulator") serves.
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

/// The apps the simulator plays: one mini-program per platform, and one app
/// per WeChat web and app login surface (README, "Apps and platforms").
pub const SIMULATOR_APPS: [(Platform, &str); 10] = [
    (Platform::Wechat, SIMULATOR_APPID),
    (Platform::Qq, "1109999999"),
    (Platform::Douyin, "ttsimulator0000000"),
    (Platform::Alipay, "2021000000000000"),
    (Platform::Baidu, "bdsimulator0000000"),
    (Platform::Kuaishou, "kssimulator0000000"),
    (Platform::Feishu, "clisimulator000000"),
    // WeChat's web and app logins, one app per surface.
    (Platform::WechatH5, "wxsimh5000000000"),
    (Platform::WechatWeb, "wxsimweb000000000"),
    (Platform::WechatApp, "wxsimapp000000000"),
];

/// Whom wxauth talks to for code exchanges, decided once from the settings.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Real platforms, with the mini-programs' credentials.
    Apps(Vec<AppConfig>),
    /// The built-in simulator (docs/API.md, "Simulator").
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

/// All of wxauth's settings (docs/API.md, "Configuration"), each valid on
/// its own; [`Config::new`] checks them together.
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
    #[arg(long, env = "WECHAT_APPID", value_name = "APPID")]
    pub wechat_appid: Option<AppId>,

    /// The mini-program's app secret; never logged.
    #[arg(long, env = "WECHAT_SECRET", value_parser = parse_secret, hide_env_values = true, value_name = "SECRET")]
    pub wechat_secret: Option<SecretString>,

    /// A TOML file of several mini-programs, of any platform (docs/API.md,
    /// "Apps and platforms"); refuses to start if WECHAT_APPID is set too.
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

    /// Folder of key files `<kid>.pem` (docs/API.md, "Keys and rotation").
    #[command(flatten)]
    pub keys: KeySettings,

    /// The `iss` claim of issued tokens, and the one required of presented
    /// ones.
    #[arg(long, env = "WXAUTH_ISSUER", default_value = DEFAULT_ISSUER, value_parser = parse_issuer, value_name = "ISS")]
    pub issuer: String,

    /// The URL clients and services reach this server at
    /// (`https://auth.example.com`): serves the discovery document at
    /// /.well-known/openid-configuration and is then the default
    /// WXAUTH_ISSUER.
    #[arg(long, env = "WXAUTH_PUBLIC_URL", value_parser = parse_base_url, value_name = "URL")]
    pub public_url: Option<String>,

    /// Token lifetime, seconds (60 to 86400).
    #[arg(long, env = "WXAUTH_TOKEN_TTL", default_value_t = 7200, value_parser = clap::value_parser!(i64).range(60..=86_400), value_name = "SECONDS")]
    pub token_ttl: i64,

    /// How long after login /auth/refresh may renew, seconds (60 to
    /// 31536000, at least WXAUTH_TOKEN_TTL).
    #[arg(long, env = "WXAUTH_SESSION_MAX_AGE", default_value_t = 2_592_000, value_parser = clap::value_parser!(i64).range(60..=31_536_000), value_name = "SECONDS")]
    pub session_max_age: i64,

    /// Clock skew allowed on exp/nbf/iat, seconds (0 to 300).
    #[arg(long, env = "WXAUTH_LEEWAY", default_value_t = 30, value_parser = clap::value_parser!(i64).range(0..=300), value_name = "SECONDS")]
    pub leeway: i64,

    /// Seconds between rescans of the key folder and the revocation file (1
    /// to 86400).
    #[arg(long, env = "WXAUTH_KEYS_RELOAD", default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=86_400), value_name = "SECONDS")]
    pub keys_reload: i64,

    /// Time limit of one call to the platform, seconds (1 to 60).
    #[arg(long, env = "WXAUTH_UPSTREAM_TIMEOUT", default_value_t = 5, value_parser = clap::value_parser!(i64).range(1..=60), value_name = "SECONDS")]
    pub upstream_timeout: i64,

    /// Concurrent calls to the platforms; past it logins get 503
    /// `overloaded` (1 to 100000).
    #[arg(long, env = "WXAUTH_MAX_UPSTREAM", default_value_t = 256, value_parser = RangedU64ValueParser::<usize>::new().range(1..=100_000), value_name = "CALLS")]
    pub max_upstream: usize,

    /// Seconds in-flight requests get after SIGTERM (0 to 3600).
    #[arg(long, env = "WXAUTH_SHUTDOWN_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(i64).range(0..=3_600), value_name = "SECONDS")]
    pub shutdown_timeout: i64,

    /// The protections against clients (docs/API.md, "At the edge").
    #[command(flatten)]
    pub edge: EdgeSettings,

    /// The revocation and ban list (docs/API.md, "Revocation and bans").
    #[command(flatten)]
    pub revocations: RevocationsFile,

    /// Logging.
    #[command(flatten)]
    pub log: LogSettings,
}

/// The revocation file (the server's, and the one `wxauth revoke|ban|unban`
/// edit).
#[derive(Debug, Clone, Args)]
pub struct RevocationsFile {
    /// Revocations and bans, one a line (docs/API.md, "Revocation and bans"); reread with the
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

/// The key folder and which key signs (docs/API.md, "Keys and rotation").
#[derive(Debug, Clone, Args)]
pub struct KeySettings {
    /// The folder.
    #[command(flatten)]
    pub folder: KeyFolder,

    /// Pin the signing key by kid; unset: the kid in DIR/signing-kid, else
    /// the greatest active kid.
    #[arg(long, env = "WXAUTH_SIGNING_KID", value_name = "KID")]
    pub signing_kid: Option<Kid>,

    /// Seconds a newly published key file verifies before it may sign; `0`:
    /// at once (0 to 604800).
    #[arg(long, env = "WXAUTH_KEY_ACTIVATION_DELAY", default_value_t = 600, value_parser = clap::value_parser!(i64).range(0..=604_800), value_name = "SECONDS")]
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
            pin: self.signing_kid.clone().map(Kid::into_string),
            activation_delay: self.key_activation_delay,
        }
    }
}

/// What protects the server from its clients (docs/API.md, "At the edge").
#[derive(Debug, Clone, Args)]
pub struct EdgeSettings {
    /// Seconds a client has to send a whole request, head and body; then the
    /// connection closes (1 to 3600).
    #[arg(long, env = "WXAUTH_CLIENT_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..=3_600), value_name = "SECONDS")]
    pub client_timeout: i64,

    /// Open client connections per process; past it a new one evicts, of
    /// the client address with the most connections, the one that has
    /// waited on its client longest. The default keeps
    /// a replica under 64 MiB under attack (README.md, "At the edge")
    /// (1 to 1000000).
    #[arg(long, env = "WXAUTH_MAX_CONNECTIONS", default_value_t = 2_000, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000), value_name = "CONNECTIONS")]
    pub max_connections: usize,

    /// Requests a second per client address to /auth/login, /auth/refresh,
    /// /auth/check and /wx/*, with a burst of 5x; `0`: no limit.
    #[arg(long, env = "WXAUTH_CLIENT_RATE", default_value_t = 20, value_parser = RangedU64ValueParser::<usize>::new().range(0..=1_000_000), value_name = "PER_SECOND")]
    pub client_rate: usize,

    /// Comma-separated addresses or CIDR blocks whose X-Forwarded-For names
    /// the client; `none` trusts no proxy.
    #[arg(long, env = "WXAUTH_TRUSTED_PROXIES", default_value = crate::edge::DEFAULT_TRUSTED_PROXIES, value_parser = parse_trusted_proxies, value_name = "CIDRS")]
    pub trusted_proxies: TrustedProxies,

    /// Signatures a second for the whole process (logins and refreshes,
    /// whatever the client); past it they get 503 `overloaded`; `0`: no
    /// budget.
    #[arg(long, env = "WXAUTH_SIGNATURE_RATE", default_value_t = crate::edge::SIGNATURE_RATE, value_parser = RangedU64ValueParser::<usize>::new().range(0..=1_000_000), value_name = "PER_SECOND")]
    pub signature_rate: usize,
}

impl Settings {
    /// `WXAUTH_KEYS_RELOAD` as a duration.
    pub fn keys_reload(&self) -> Duration {
        Duration::from_secs(self.keys_reload.unsigned_abs())
    }

    /// `WXAUTH_UPSTREAM_TIMEOUT` as a duration.
    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_secs(self.upstream_timeout.unsigned_abs())
    }

    /// With `WXAUTH_PUBLIC_URL` set, the discovery document names it as the
    /// issuer, and a service configured from that document requires it as
    /// `iss` (OpenID Connect Discovery 1.0 section 4.3): so it is the default
    /// `iss`, and another `WXAUTH_ISSUER` is refused.
    fn issuer_from_public_url(
        &mut self,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let Some(url) = &self.public_url else {
            return Ok(());
        };
        let issuer_set = lookup("WXAUTH_ISSUER").is_some_and(|value| !value.trim().is_empty());
        if !issuer_set && self.issuer == DEFAULT_ISSUER {
            self.issuer.clone_from(url);
        } else if self.issuer != *url {
            return Err(ConfigError::new(
                "WXAUTH_ISSUER",
                format!(
                    "{:?} differs from WXAUTH_PUBLIC_URL ({url}), the issuer the discovery document \
                     names: services configured from it would refuse every token. Leave WXAUTH_ISSUER \
                     unset (it defaults to the public URL), or set it to the public URL",
                    self.issuer
                ),
            ));
        }
        Ok(())
    }

    /// `WXAUTH_SHUTDOWN_TIMEOUT` as a duration.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout.unsigned_abs())
    }

    /// The configured apps (from the apps file or the one-app shorthand),
    /// their secrets read through `lookup`; empty when none is.
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
                appid: appid.to_string(),
                secret: secret.clone(),
                api_base: self
                    .wechat_api_base
                    .clone()
                    .unwrap_or_else(|| DEFAULT_API_BASE.to_owned()),
                redirect_uris: Vec::new(),
                alipay: None,
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
}

/// The server's configuration, validated: built once from the [`Settings`]
/// (with the apps read and every rule that ties several variables together
/// checked), then only read.
#[derive(Debug, Clone)]
pub struct Config {
    /// The settings as declared (each one valid on its own).
    pub settings: Settings,
    /// Whom logins are exchanged with: the configured apps or the simulator.
    pub mode: Mode,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from a map; for tests and embedding.
    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| map.get(name).cloned())
    }

    /// Reads the settings through `lookup`, then validates them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings: Settings = parse_env(Settings::command(), &lookup)?;
        Self::new(settings, &lookup)
    }

    /// Validates `settings`: reads the apps (their secrets through
    /// `lookup`), decides the mode and checks the rules that tie several
    /// variables together.
    pub fn new(
        mut settings: Settings,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        settings.issuer_from_public_url(lookup)?;
        let apps = settings.configured_apps(lookup)?;
        let mode = if apps.is_empty() {
            settings.simulator_mode()?
        } else {
            Mode::Apps(apps)
        };
        if settings.session_max_age < settings.token_ttl {
            return Err(ConfigError::new(
                "WXAUTH_SESSION_MAX_AGE",
                format!(
                    "{} is shorter than WXAUTH_TOKEN_TTL ({})",
                    settings.session_max_age, settings.token_ttl
                ),
            ));
        }
        Ok(Self { settings, mode })
    }

    /// Whether the built-in simulator is serving.
    pub fn is_simulator(&self) -> bool {
        matches!(self.mode, Mode::Simulator { .. })
    }

    /// The first app's appid, or the simulator's WeChat one.
    pub fn appid(&self) -> &str {
        match &self.mode {
            Mode::Apps(apps) => apps
                .first()
                .map_or(SIMULATOR_APPID, |app| app.appid.as_str()),
            Mode::Simulator { .. } => SIMULATOR_APPID,
        }
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
    // Each argument set from the environment, by its id: clap names the
    // argument of an error (ContextKind::InvalidArg) as the argument
    // renders itself, so the variable is found by that rendering.
    let mut from_env: HashMap<String, (String, String)> = HashMap::new();
    let mut flags = Vec::new();
    let mut target = match subcommand {
        Some(name) => command.find_subcommand(name).cloned().unwrap_or_default(),
        None => command.clone(),
    };
    // Built, as clap builds it to parse: an argument renders itself only then.
    target.build();
    for arg in target.get_arguments() {
        let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        let flag = format!("--{long}");
        let given = argv
            .iter()
            .any(|a| *a == flag || a.starts_with(&format!("{flag}=")));
        let env = env.to_string_lossy().into_owned();
        if let Some(value) = lookup(&env).filter(|value| !value.trim().is_empty())
            && !given
        {
            flags.push(format!("{flag}={}", value.trim()));
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            from_env.insert(arg.to_string(), (env, help));
        }
    }
    let given = argv.clone();
    let at = argv.len().min(if subcommand.is_some() { 2 } else { 1 });
    argv.splice(at..at, flags);
    let strip = |command: clap::Command| {
        command
            .args_override_self(true)
            .mut_args(|arg| arg.env(None::<&str>))
    };
    // The top level too, whatever the subcommand: clap reads the top
    // level's own variables (serve's, for `wxauth` alone) even when a
    // subcommand runs, and would refuse an empty one that we count as unset.
    let stripped = match subcommand {
        Some(name) => strip(command.clone()).mut_subcommand(name, strip),
        None => strip(command.clone()),
    };
    stripped.try_get_matches_from(argv).map_err(|error| {
        use clap::error::ErrorKind;
        if matches!(
            error.kind(),
            ErrorKind::DisplayHelp
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                | ErrorKind::DisplayVersion
        ) {
            // Help shows the variables: clap renders it from the command
            // that still declares them.
            return EnvError::Usage(command.try_get_matches_from(given).err().unwrap_or(error));
        }
        let variable = match error.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(arg)) => from_env.get(arg),
            _ => None,
        };
        match variable {
            // The bad value came from the environment (a flag on the command
            // line would have won): name the variable.
            Some((variable, help)) => {
                EnvError::Config(ConfigError::new(variable.clone(), why(&error, help)))
            }
            None => EnvError::Usage(error),
        }
    })
}

/// What is wrong with a value, from clap's error: the value, and either the
/// choices (an enum setting) or the value parser's reason and the setting's
/// `help`.
fn why(error: &clap::Error, help: &str) -> String {
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => format!("{value:?}"),
        _ => "the value".to_owned(),
    };
    let choices = match error.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(choices)) => choices.join(", "),
        _ => String::new(),
    };
    if !choices.is_empty() {
        return format!("{value} is not one of {choices}");
    }
    let reason = std::error::Error::source(error)
        .map_or_else(|| error.kind().to_string(), ToString::to_string);
    // A reason that quotes the value says it all; else the value, and what
    // the setting is.
    if reason.contains(&value) {
        reason
    } else {
        format!("{value} is not accepted: {reason} ({help})")
    }
}

/// An IP address and port.
pub fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        format!("{text:?} is not an IP address and port such as 127.0.0.1:8080 or [::]:8080")
    })
}

/// An appid ([`AppId`]), as the apps file's text.
pub fn parse_appid(appid: &str) -> Result<String, String> {
    AppId::parse(appid)
        .map(AppId::into_string)
        .map_err(|e| e.to_string())
}

fn parse_secret(text: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(text))
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

    fn settings(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_map(&map)
    }

    #[test]
    fn no_configuration_means_simulator_on_loopback_8080() {
        let s = settings(&[]).unwrap();
        assert!(s.is_simulator());
        assert_eq!(s.settings.listen.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.settings.keys.folder.dir, PathBuf::from("keys"));
        assert!(matches!(s.mode.clone(), Mode::Simulator { api_base: None }));
        assert_eq!(s.settings.token_ttl, 7200);
        assert_eq!(s.settings.session_max_age, 2_592_000);
        assert_eq!(s.settings.leeway, 30);
        assert_eq!(s.settings.max_upstream, 256);
        assert_eq!(s.settings.keys.key_activation_delay, 600);
        assert_eq!(s.settings.edge.client_timeout, 10);
        assert_eq!(s.settings.edge.max_connections, 2_000);
        assert_eq!(s.settings.edge.client_rate, 20);
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
            s.mode.clone(),
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
            ("WXAUTH_PUBLIC_URL", "auth.example.com"),
            ("WXAUTH_PUBLIC_URL", "https://auth.example.com/?x=1"),
        ] {
            let e = settings(&[(name, value)]).unwrap_err();
            assert_eq!(e.variable, name, "{name}={value:?}");
            assert!(e.to_string().starts_with(name));
        }
    }

    #[test]
    fn the_public_url_is_the_default_issuer_and_no_other_issuer_goes_with_it() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            (s.settings.issuer.as_str(), s.settings.public_url),
            (DEFAULT_ISSUER, None)
        );
        let s = settings(&[("WXAUTH_PUBLIC_URL", "https://auth.example.com/")]).unwrap();
        assert_eq!(
            s.settings.public_url.as_deref(),
            Some("https://auth.example.com")
        );
        assert_eq!(s.settings.issuer, "https://auth.example.com");
        let s = settings(&[
            ("WXAUTH_PUBLIC_URL", "https://auth.example.com"),
            ("WXAUTH_ISSUER", "https://auth.example.com"),
        ])
        .unwrap();
        assert_eq!(s.settings.issuer, "https://auth.example.com");
        for issuer in ["wxauth", "https://other.example.com"] {
            let e = settings(&[
                ("WXAUTH_PUBLIC_URL", "https://auth.example.com"),
                ("WXAUTH_ISSUER", issuer),
            ])
            .unwrap_err();
            assert_eq!(e.variable, "WXAUTH_ISSUER", "{issuer}");
            assert!(e.message.contains("WXAUTH_PUBLIC_URL"), "{}", e.message);
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
        assert_eq!(s.settings.token_ttl, 7200);
        assert!(matches!(
            s.mode.clone(),
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
            "WXAUTH_PUBLIC_URL",
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
