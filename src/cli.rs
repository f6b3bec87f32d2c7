//! The command line: `serve` (the default), `keygen`, `keys`, `inspect`.

use crate::clock::{SharedClock, SystemClock};
use crate::config::{
    self, Config, EnvError, KeyFolder, KeySettings, Listen, LogSettings, Mode, RevocationsFile,
    Settings,
};
use crate::domain::{AppId, Kid, UserId};
use crate::keyring::{self, KeyAlg, Keyring, SharedKeyring};
use crate::revocation::Edit;
use crate::startup::Application;
use crate::token::{TokenPolicy, TokenVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args as _, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use std::io::Read as _;
use std::sync::Arc;

/// wxauth: a stateless login server for mini-programs.
///
/// Configuration comes from the environment and from a `.env` file in the
/// working directory; `wxauth serve --help` lists every variable.
#[derive(Debug, Parser)]
#[command(name = "wxauth", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The server's settings when no subcommand is given (`wxauth` is
    /// `wxauth serve`).
    #[command(flatten, next_help_heading = "Server settings (wxauth serve)")]
    pub serve: Settings,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default). Every setting comes from the
    /// environment (or .env in the working directory), or from the flag of
    /// the same name.
    Serve(Box<Settings>),
    /// Write a new key generation DIR/<kid>.pem (mode 0600) and print its kid.
    Keygen {
        /// The key's algorithm: eddsa, es256 or rs256.
        #[arg(long, default_value = "eddsa", value_parser = clap::value_parser!(KeyAlg))]
        alg: KeyAlg,
        /// The key folder.
        #[command(flatten)]
        folder: KeyFolder,
        /// The kid (file stem); default the UTC time YYYYMMDDTHHMMSSZ, so
        /// newer keys sort later and sign.
        #[arg(long)]
        kid: Option<Kid>,
        /// Write nothing (and exit 0) when the folder already holds a key
        /// file: a first-start job that needs no shell (the container
        /// image has none).
        #[arg(long)]
        if_none: bool,
    },
    /// List the keys: kid, alg, whether it signs, file.
    Keys {
        /// The key folder and the signing pin.
        #[command(flatten)]
        keys: KeySettings,
    },
    /// Verify a token against the key files and print its header and claims
    /// (never the session_key). Pass `-` to read the token from stdin, which
    /// keeps it out of shell history.
    Inspect {
        /// The token, or `-` for stdin.
        token: String,
        /// The key folder.
        #[command(flatten)]
        folder: KeyFolder,
        /// The `aud` the token must have (an appid); unset: any, shown.
        #[arg(long, value_name = "APPID")]
        audience: Option<AppId>,
        /// The `iss` the token must have.
        #[arg(
            long,
            env = "WXAUTH_ISSUER",
            default_value = "wxauth",
            value_name = "ISS"
        )]
        issuer: String,
        /// Clock skew allowed on exp/nbf/iat, seconds.
        #[arg(long, env = "WXAUTH_LEEWAY", default_value_t = 30, value_parser = clap::value_parser!(i64).range(0..=300), value_name = "SECONDS")]
        leeway: i64,
    },
    /// Revoke a user's tokens: those from logins at or before TIME (default
    /// now) stop working on every replica at its next rescan; the user logs
    /// in again. ID is an openid or a unionid.
    Revoke {
        /// The openid or unionid.
        id: UserId,
        /// RFC 3339, such as 2026-11-22T10:00:00Z; default now.
        #[arg(long)]
        at: Option<String>,
        /// The file.
        #[command(flatten)]
        revocations: RevocationsFile,
    },
    /// Ban a user: no login, no token, until `wxauth unban ID`.
    Ban {
        /// The openid or unionid.
        id: UserId,
        /// The file.
        #[command(flatten)]
        revocations: RevocationsFile,
    },
    /// Lift every ban of a user.
    Unban {
        /// The openid or unionid.
        id: UserId,
        /// The file.
        #[command(flatten)]
        revocations: RevocationsFile,
    },
    /// Ask the server on this machine whether it serves: GET /healthz on
    /// loopback at WXAUTH_BIND's port. Exit 0 (silently) or 1; for a
    /// container's HEALTHCHECK, which has no curl.
    Healthcheck {
        /// The server's listen address.
        #[command(flatten)]
        listen: Listen,
    },
}

/// Parses the command line `args` (with the program name first), taking
/// every setting the chosen subcommand has from `lookup` (the environment)
/// unless a flag gives it. `wxauth` alone is `wxauth serve` (clap's
/// `args_conflicts_with_subcommands`: the top level carries serve's
/// settings).
pub fn parse(args: Vec<String>, lookup: &impl Fn(&str) -> Option<String>) -> Result<Cli, EnvError> {
    let command = Cli::command();
    let subcommand = args
        .get(1)
        .filter(|name| command.find_subcommand(name).is_some())
        .cloned();
    let matches = config::with_env(command, args, subcommand.as_deref(), lookup)?;
    Cli::from_arg_matches(&matches).map_err(EnvError::Usage)
}

/// Reads `.env` from the working directory, if there is one. A line that
/// does not parse stops the program: dotenvy stops at it, so every setting
/// after it would silently be missing. The line's text is never shown (it
/// may hold the app secret), only its number.
pub fn load_dotenv() -> Result<(), String> {
    // Only the working directory's: `dotenvy::dotenv()` would also search
    // every parent folder up to /, where anyone with write access to a
    // shared folder could plant settings (WECHAT_API_BASE, which receives
    // the app secret).
    match dotenvy::from_path(".env") {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(dotenvy::Error::LineParse(text, _)) => {
            let first = text.lines().next().unwrap_or_default();
            let number = std::fs::read_to_string(".env")
                .ok()
                .and_then(|content| content.lines().position(|line| line == first))
                .map_or_else(String::new, |index| format!(" line {}", index + 1));
            Err(format!(
                ".env:{number} cannot be parsed (its text is not shown: it may hold a secret)"
            ))
        }
        Err(dotenvy::Error::Io(e)) => Err(format!(".env cannot be read: {e}")),
        Err(_) => Err(".env cannot be read".to_owned()),
    }
}

/// Starts the logger from `RUST_LOG` (default `info`) and
/// `WXAUTH_LOG_FORMAT`, refusing a filter it cannot parse rather than
/// serving with a half-understood one.
pub fn init_logging() -> Result<(), String> {
    let lookup = |name: &str| std::env::var(name).ok();
    let settings: LogSettings = config::parse_env(
        LogSettings::augment_args(clap::Command::new("wxauth")),
        &lookup,
    )
    .map_err(|e| e.to_string())?;
    crate::logging::init(&settings)
}

/// Runs the parsed command, reading what the settings name (the apps'
/// secrets) through `lookup`; returns the process exit code.
pub async fn run(cli: Cli, lookup: &impl Fn(&str) -> Option<String>) -> i32 {
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(Box::new(cli.serve)));
    let result = match command {
        Command::Serve(settings) => match Config::new(*settings, lookup) {
            Ok(config) => serve(config).await,
            Err(error) => Err(error.to_string()),
        },
        Command::Keygen {
            alg,
            folder,
            kid,
            if_none,
        } => {
            if if_none && holds_a_key(&folder.dir) {
                eprintln!(
                    "{} holds a key already: nothing written",
                    folder.dir.display()
                );
                Ok(0)
            } else {
                keygen(alg, &folder, kid)
            }
        }
        Command::Keys { keys } => list_keys(&keys),
        Command::Inspect {
            token,
            folder,
            audience,
            issuer,
            leeway,
        } => inspect(&token, &folder, audience.as_ref(), &issuer, leeway),
        Command::Healthcheck { listen } => healthcheck(&listen).await,
        Command::Revoke {
            id,
            at,
            revocations,
        } => revoke(id.into_string(), at.as_deref(), &revocations),
        Command::Ban { id, revocations } => {
            edit_revocations(&revocations, &Edit::Ban(id.into_string()))
        }
        Command::Unban { id, revocations } => {
            edit_revocations(&revocations, &Edit::Unban(id.into_string()))
        }
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            report(&message);
            1
        }
    }
}

/// Says why wxauth stops, once: as a log line when the logger writes
/// errors (so a JSON log stays JSON), else on stderr.
pub fn report(message: &str) {
    if log::log_enabled!(log::Level::Error) {
        log::error!("{message}");
    } else {
        eprintln!("wxauth: {message}");
    }
}

async fn serve(config: Config) -> Result<i32, String> {
    let simulator = config.is_simulator();
    let bind = config.settings.listen.bind;
    if simulator && !bind.ip().is_loopback() {
        log::warn!(
            "WXAUTH_SIMULATOR=on on {bind}: anyone who reaches this port can log in as anyone. \
             Never expose it beyond a developer's machine"
        );
    }
    let apps = served_apps(&config);
    let clock: SharedClock = Arc::new(SystemClock);
    let app = Application::build(config, clock)
        .await
        .map_err(|e| e.to_string())?;
    let base = format!("http://{}", app.local_addr());
    log::info!(
        "wxauth listening on {base} ({} mode, signing kid {}, apps: {apps})",
        if simulator { "simulator" } else { "production" },
        app.signing_kid()
    );
    if simulator {
        log::info!(
            "try it:\n  \
             CODE=$(curl -s -X POST {base}/sim/login -H 'Content-Type: application/json' -d '{{\"user\":\"alice\"}}' | sed 's/.*\"code\":\"\\([^\"]*\\)\".*/\\1/')\n  \
             TOKEN=$(curl -s -X POST {base}/auth/login -H 'Content-Type: application/json' -d \"{{\\\"code\\\":\\\"$CODE\\\"}}\" | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n  \
             curl -s {base}/auth/me -H \"Authorization: Bearer $TOKEN\""
        );
        log::info!(
            "a WeChat H5 login in a browser: python3 -m http.server 5500 --bind 127.0.0.1 \
             --directory examples/h5, then open http://127.0.0.1:5500/?wxauth={base}"
        );
    }
    app.run_until_stopped().await.map_err(|e| e.to_string())?;
    log::info!("wxauth stopped");
    Ok(0)
}

/// Whether `dir` holds a key file (`*.pem`), loadable or not.
fn holds_a_key(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.path().extension().is_some_and(|ext| ext == "pem"))
    })
}

/// The apps served, as the start line lists them: `appid (platform)`.
fn served_apps(config: &Config) -> String {
    let apps: Vec<String> = match &config.mode {
        Mode::Apps(apps) => apps
            .iter()
            .map(|app| format!("{} ({})", app.appid, app.platform))
            .collect(),
        Mode::Simulator { .. } => config::SIMULATOR_APPS
            .iter()
            .map(|(platform, appid)| format!("{appid} ({platform})"))
            .collect(),
    };
    apps.join(", ")
}

fn keygen(alg: KeyAlg, folder: &KeyFolder, kid: Option<Kid>) -> Result<i32, String> {
    let dir = &folder.dir;
    let kid = kid.map_or_else(
        || keyring::default_kid(chrono::Utc::now()),
        Kid::into_string,
    );
    let path = keyring::write_new_key(dir, &kid, alg).map_err(|e| {
        format!(
            "cannot write {}: {e}",
            dir.join(format!("{kid}.pem")).display()
        )
    })?;
    eprintln!("wrote {} ({alg})", path.display());
    println!("{kid}");
    Ok(0)
}

fn list_keys(keys: &KeySettings) -> Result<i32, String> {
    let rule = keys.signing_rule();
    let now = chrono::Utc::now().timestamp();
    let (keyring, broken) =
        Keyring::load_with(&keys.folder.dir, &rule, now).map_err(|e| e.to_string())?;
    print!("{}", keyring::listing::render(&keyring, &broken, &rule));
    Ok(0)
}

fn inspect(
    token: &str,
    folder: &KeyFolder,
    audience: Option<&AppId>,
    issuer: &str,
    leeway: i64,
) -> Result<i32, String> {
    let token = if token == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the token from stdin: {e}"))?;
        text.trim().to_owned()
    } else {
        token.to_owned()
    };
    let (keyring, _) = Keyring::load(&folder.dir, None).map_err(|e| e.to_string())?;
    // No expected audience: the token's own (unverified) `aud` is accepted,
    // and shown with the claims.
    let audience = match audience {
        Some(appid) => appid.to_string(),
        None => part(&token, 1)
            .and_then(|claims| {
                claims
                    .get("aud")
                    .and_then(|aud| aud.as_str().map(str::to_owned))
            })
            .unwrap_or_default(),
    };
    let policy = TokenPolicy::new(issuer, &audience, leeway);
    let verifier = TokenVerifier::new(SharedKeyring::new(keyring), policy, Arc::new(SystemClock));
    let verified = verifier
        .verify_signed(&token)
        .map_err(|reason| format!("token refused: {reason}"))?;
    // The header as the token carries it (verification parsed it already).
    let header = part(&token, 0).unwrap_or_default();
    let mut claims = serde_json::to_value(&*verified.claims).map_err(|e| e.to_string())?;
    // WeChat's web and app logins carry no sealed session_key at all.
    if let Some(sealed) = claims.get_mut("sk") {
        *sealed = serde_json::json!("<sealed session_key, not shown>");
    }
    let pretty =
        |value: &serde_json::Value| serde_json::to_string_pretty(value).unwrap_or_default();
    println!("header: {}", pretty(&header));
    println!("claims: {}", pretty(&claims));
    match verifier.check_time(&verified.claims) {
        Ok(()) => {
            println!("status: valid (signature, issuer, audience and time)");
            Ok(0)
        }
        Err(reason) => {
            println!("status: signature valid, but {reason}");
            Ok(1)
        }
    }
}

/// Part `index` of a JWS compact token, decoded as JSON (not verified).
fn part(token: &str, index: usize) -> Option<serde_json::Value> {
    let text = token.split('.').nth(index)?;
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn revoke(id: String, at: Option<&str>, revocations: &RevocationsFile) -> Result<i32, String> {
    let now = chrono::Utc::now().timestamp();
    let at = match at {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|_| {
                format!("--at {text:?} is not an RFC 3339 time such as 2026-11-22T10:00:00Z")
            })?
            .timestamp(),
        None => now,
    };
    // A revoke in the future refuses every login until then (each gets a
    // token refused at once): almost always a mistake for `ban`. Said, and
    // done as asked (a test clock, a planned cut-off).
    if at > now {
        eprintln!(
            "warning: --at is in the future: until then this user's new logins get tokens that are \
             refused at once; to refuse a user until further notice, `wxauth ban {id}`"
        );
    }
    edit_revocations(revocations, &Edit::Revoke { id, at })
}

fn edit_revocations(revocations: &RevocationsFile, edit: &Edit) -> Result<i32, String> {
    let file = revocations.file.as_deref().ok_or(
        "WXAUTH_REVOCATIONS_FILE is unset: set it (or --file) to the file the servers read",
    )?;
    let outcome = crate::revocation::edit(file, edit).map_err(|e| e.to_string())?;
    println!("{}", outcome.said);
    if let Some(note) = outcome.replicas_note(file) {
        eprintln!("{note}");
    }
    Ok(0)
}

/// How long `wxauth healthcheck` waits for the answer.
const HEALTHCHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

async fn healthcheck(listen: &Listen) -> Result<i32, String> {
    // The server listens on the wildcard in a container; ask it on loopback
    // of the same family.
    let ip = match listen.bind.ip() {
        ip if ip.is_unspecified() && ip.is_ipv6() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        ip => ip,
    };
    let url = format!(
        "http://{}/healthz",
        std::net::SocketAddr::new(ip, listen.bind.port())
    );
    let answer = reqwest::Client::builder()
        .timeout(HEALTHCHECK_TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?
        .get(&url)
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => Ok(0),
        Ok(response) => Err(format!("{url} answered {}", response.status())),
        Err(e) => Err(format!("{url}: {}", e.without_url())),
    }
}
