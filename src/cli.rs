//! The command line: `serve` (the default), `keygen`, `keys`, `inspect`.

use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::keyring::{self, KeyAlg, Keyring, SharedKeyring};
use crate::startup::Application;
use crate::token::{TokenPolicy, TokenVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Parser, Subcommand};
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

/// wxauth: a stateless login server for WeChat mini-programs.
///
/// Configuration comes from the environment and from a `.env` file in the
/// working directory; see README.md and .env.example.
#[derive(Debug, Parser)]
#[command(name = "wxauth", version)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Write a new key generation DIR/<kid>.pem (mode 0600) and print its kid.
    Keygen {
        /// The key's algorithm.
        #[arg(long, value_enum, default_value = "eddsa")]
        alg: KeyAlg,
        /// The key folder.
        #[arg(long, env = "WXAUTH_KEYS_DIR", default_value = "keys")]
        dir: PathBuf,
        /// The kid (file stem); default the UTC time YYYYMMDDTHHMMSSZ, so
        /// newer keys sort later and sign.
        #[arg(long)]
        kid: Option<String>,
    },
    /// List the keys: kid, alg, whether it signs, file.
    Keys {
        /// The key folder.
        #[arg(long, env = "WXAUTH_KEYS_DIR", default_value = "keys")]
        dir: PathBuf,
    },
    /// Verify a token against the key files and print its header and claims
    /// (never the session_key). Pass `-` to read the token from stdin, which
    /// keeps it out of shell history.
    Inspect {
        /// The token, or `-` for stdin.
        token: String,
    },
}

/// Reads `.env` from the working directory, if there is one. A line that
/// does not parse stops the program: dotenvy stops at it, so every setting
/// after it would silently be missing. The line's text is never shown (it
/// may hold the app secret), only its number.
pub fn load_dotenv() -> Result<(), String> {
    match dotenvy::dotenv() {
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

/// Starts env_logger with `RUST_LOG` (default `info`), refusing a filter it
/// cannot parse rather than serving with a half-understood one.
pub fn init_logging() -> Result<(), String> {
    let spec = std::env::var("RUST_LOG").unwrap_or_default();
    let spec = if spec.trim().is_empty() {
        "info".to_owned()
    } else {
        spec
    };
    env_filter::Builder::new().try_parse(&spec).map_err(|e| {
        format!(
            "RUST_LOG: {spec:?} is not a log filter ({e}); e.g. info or wxauth=debug,actix_web=info"
        )
    })?;
    env_logger::Builder::new().parse_filters(&spec).init();
    Ok(())
}

/// Runs the parsed command; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Keygen { alg, dir, kid } => keygen(alg, dir, kid),
        Command::Keys { dir } => keys(dir),
        Command::Inspect { token } => inspect(&token),
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

async fn serve() -> Result<i32, String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    let simulator = settings.is_simulator();
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

fn keygen(alg: KeyAlg, dir: PathBuf, kid: Option<String>) -> Result<i32, String> {
    let kid = kid.unwrap_or_else(|| keyring::default_kid(chrono::Utc::now()));
    let path = keyring::write_new_key(&dir, &kid, alg).map_err(|e| {
        format!(
            "cannot write {}: {e}",
            dir.join(format!("{kid}.pem")).display()
        )
    })?;
    eprintln!("wrote {} ({alg})", path.display());
    println!("{kid}");
    Ok(0)
}

fn keys(dir: PathBuf) -> Result<i32, String> {
    let pin = std::env::var("WXAUTH_SIGNING_KID")
        .ok()
        .filter(|kid| !kid.is_empty());
    let (keyring, broken) = Keyring::load(&dir, pin.as_deref()).map_err(|e| e.to_string())?;
    println!("{:<24} {:<6} {:<11} FILE", "KID", "ALG", "ROLE");
    for key in keyring.keys() {
        let role = if key.kid() == keyring.signing().kid() {
            "signing"
        } else {
            "verify-only"
        };
        println!(
            "{:<24} {:<6} {:<11} {}",
            key.kid(),
            key.alg(),
            role,
            key.path().display()
        );
    }
    for file in &broken {
        println!(
            "{:<24} {:<6} {:<11} {} ({})",
            "-",
            "-",
            "broken",
            file.path.display(),
            file.error
        );
    }
    Ok(0)
}

fn inspect(token: &str) -> Result<i32, String> {
    let token = if token == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the token from stdin: {e}"))?;
        text.trim().to_owned()
    } else {
        token.to_owned()
    };
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    let (keyring, _) = Keyring::load(&settings.keys_dir, settings.signing_kid.as_deref())
        .map_err(|e| e.to_string())?;
    let policy = TokenPolicy {
        issuer: settings.issuer.clone(),
        audience: settings.appid().to_owned(),
        leeway: settings.leeway,
    };
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
