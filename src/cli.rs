//! The command line: `serve` (the default), `keygen`, `keys`, `inspect`.

use crate::clock::{SharedClock, SystemClock};
use crate::config::{
    self, EnvError, KeyFolder, KeySettings, Listen, LogSettings, RevocationsFile, Settings,
};
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
#[command(name = "wxauth", version)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Command,
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
        kid: Option<String>,
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
        /// The server's settings (issuer, appid, keys).
        #[command(flatten)]
        settings: Box<Settings>,
    },
    /// Revoke a user's tokens: those from logins at or before TIME (default
    /// now) stop working on every replica at its next rescan; the user logs
    /// in again. ID is an openid or a unionid.
    Revoke {
        /// The openid or unionid.
        id: String,
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
        id: String,
        /// The file.
        #[command(flatten)]
        revocations: RevocationsFile,
    },
    /// Lift every ban of a user.
    Unban {
        /// The openid or unionid.
        id: String,
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
/// unless a flag gives it. `wxauth` alone is `wxauth serve`.
pub fn parse(
    mut args: Vec<String>,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Cli, EnvError> {
    let command = Cli::command();
    let first = args.get(1).cloned();
    let subcommand = match first.as_deref() {
        None => {
            args.push("serve".to_owned());
            Some("serve".to_owned())
        }
        Some(name) if command.find_subcommand(name).is_some() => Some(name.to_owned()),
        // Flags with no subcommand: `wxauth --version`, `wxauth --bind ...`.
        Some(flag)
            if flag.starts_with('-') && !matches!(flag, "-h" | "--help" | "-V" | "--version") =>
        {
            args.insert(1, "serve".to_owned());
            Some("serve".to_owned())
        }
        Some(_) => None,
    };
    // Help shows the variables, so it is rendered from the command that
    // still knows them.
    // Only as a flag, or as the subcommand position (`wxauth help`): an id
    // or a value that reads "help" is not a request for help.
    let asks_help = args
        .iter()
        .skip(1)
        .any(|arg| matches!(arg.as_str(), "-h" | "--help"))
        || args.get(1).is_some_and(|arg| arg == "help");
    if asks_help {
        return Err(EnvError::Usage(
            command
                .try_get_matches_from(&args)
                .err()
                .unwrap_or_else(|| clap::Error::new(clap::error::ErrorKind::DisplayHelp)),
        ));
    }
    let matches = config::with_env(command, args, subcommand.as_deref(), lookup)?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(EnvError::Usage)?;
    // The server's settings are read whole: the apps (and their secrets) too.
    match &mut cli.command {
        Command::Serve(settings) | Command::Inspect { settings, .. } => {
            settings.resolve(lookup).map_err(EnvError::Config)?;
        }
        Command::Keygen { .. }
        | Command::Keys { .. }
        | Command::Healthcheck { .. }
        | Command::Revoke { .. }
        | Command::Ban { .. }
        | Command::Unban { .. } => {}
    }
    Ok(cli)
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

/// Runs the parsed command; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Serve(settings) => serve(*settings).await,
        Command::Keygen { alg, folder, kid } => keygen(alg, &folder, kid),
        Command::Keys { keys } => list_keys(&keys),
        Command::Inspect { token, settings } => inspect(&token, &settings),
        Command::Healthcheck { listen } => healthcheck(&listen).await,
        Command::Revoke {
            id,
            at,
            revocations,
        } => revoke(id, at.as_deref(), &revocations),
        Command::Ban { id, revocations } => edit_revocations(&revocations, &Edit::Ban(id)),
        Command::Unban { id, revocations } => edit_revocations(&revocations, &Edit::Unban(id)),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            log::error!("{message}");
            eprintln!("wxauth: {message}");
            1
        }
    }
}

async fn serve(settings: Settings) -> Result<i32, String> {
    let simulator = settings.is_simulator();
    if simulator && !settings.listen.bind.ip().is_loopback() {
        log::warn!(
            "WXAUTH_SIMULATOR=on on {}: anyone who reaches this port can log in as anyone. \
             Never expose it beyond a developer's machine",
            settings.listen.bind
        );
    }
    let clock: SharedClock = Arc::new(SystemClock);
    let app = Application::build(settings, clock)
        .await
        .map_err(|e| e.to_string())?;
    let base = format!("http://{}", app.local_addr());
    log::info!(
        "wxauth listening on {base} ({} mode, signing kid {})",
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
    }
    app.run_until_stopped().await.map_err(|e| e.to_string())?;
    log::info!("wxauth stopped");
    Ok(0)
}

fn keygen(alg: KeyAlg, folder: &KeyFolder, kid: Option<String>) -> Result<i32, String> {
    let dir = &folder.dir;
    let kid = kid.unwrap_or_else(|| keyring::default_kid(chrono::Utc::now()));
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

fn inspect(token: &str, settings: &Settings) -> Result<i32, String> {
    let token = if token == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the token from stdin: {e}"))?;
        text.trim().to_owned()
    } else {
        token.to_owned()
    };
    let (keyring, _) = Keyring::load(
        &settings.keys.folder.dir,
        settings.keys.signing_kid.as_deref(),
    )
    .map_err(|e| e.to_string())?;
    let policy = TokenPolicy::for_apps(&settings.issuer, settings.appids(), settings.leeway);
    let verifier = TokenVerifier::new(SharedKeyring::new(keyring), policy, Arc::new(SystemClock));
    let verified = verifier
        .verify_signed(&token)
        .map_err(|reason| format!("token refused: {reason}"))?;
    // The header as the token carries it (verification parsed it already).
    let header: serde_json::Value = token
        .split('.')
        .next()
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let mut claims = serde_json::to_value(&*verified.claims).map_err(|e| e.to_string())?;
    if let Some(fields) = claims.as_object_mut() {
        fields.insert(
            "sk".into(),
            serde_json::json!("<sealed session_key, not shown>"),
        );
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
