//! Another actix-web service trusting wxauth's tokens: it loads the same key
//! folder, accepts the appids it is given, honours the same revocation file,
//! and mounts the guard. Run it beside wxauth (simulator mode):
//!
//! ```sh
//! cargo run --release &                                   # wxauth on :8080
//! cargo run --example guarded_service                     # this on :9000
//! curl -s localhost:9000/hello -H "Authorization: Bearer $TOKEN"
//! # only two of the simulator's apps, the QQ one refused:
//! cargo run --example guarded_service -- wxsimulator0000000 ttsimulator0000000
//! ```
//!
//! Settings:
//! - the appids to accept: the command line's arguments, else
//!   `GUARD_APPIDS` (comma-separated), else the simulator's three apps;
//! - `WXAUTH_KEYS_DIR` (default `keys`), `WXAUTH_ISSUER` (default
//!   `wxauth`), `WXAUTH_LEEWAY` (default 30): as wxauth's;
//! - `WXAUTH_REVOCATIONS_FILE` (optional): wxauth's revocation file, reread
//!   with the key folder every `WXAUTH_KEYS_RELOAD` seconds (default 30) and
//!   on SIGHUP.

use actix_web::{App, HttpResponse, HttpServer, web};
use std::path::PathBuf;
use std::time::Duration;
use wxauth::config::SIMULATOR_APPS;
use wxauth::error::ApiError;
use wxauth::guard::{Authenticated, Guard, GuardConfig};

/// Any handler that takes `Authenticated` runs only for a valid token of one
/// of the accepted apps.
async fn hello(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "hello": user.openid(),
        "unionid": user.unionid(),
        "appid": user.appid(),
        "platform": user.platform(),
    }))
}

/// The session_key is opened only when a handler asks for it (here, to show
/// that this service holds the key files; a service that only verifies needs
/// just the JWK Set).
async fn session(user: Authenticated) -> Result<HttpResponse, ApiError> {
    let key = user.session_key()?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"session_key_bytes": key.expose().len()})))
}

/// A variable's value, if set and not empty.
fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// A whole number of seconds from a variable, or `default`.
fn seconds(name: &str, default: u64) -> std::io::Result<u64> {
    var(name).map_or(Ok(default), |value| {
        value
            .trim()
            .parse()
            .map_err(|_| std::io::Error::other(format!("{name}: {value:?} is not a number")))
    })
}

/// The appids to accept: the arguments, else `GUARD_APPIDS`, else the
/// simulator's.
fn appids() -> Vec<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.is_empty() {
        return args;
    }
    match var("GUARD_APPIDS") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|appid| !appid.is_empty())
            .map(str::to_owned)
            .collect(),
        None => SIMULATOR_APPS
            .iter()
            .map(|(_, appid)| (*appid).to_owned())
            .collect(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let dir = PathBuf::from(var("WXAUTH_KEYS_DIR").unwrap_or_else(|| "keys".into()));
    let issuer = var("WXAUTH_ISSUER").unwrap_or_else(|| "wxauth".into());
    let revocations = var("WXAUTH_REVOCATIONS_FILE").map(PathBuf::from);
    let leeway = i64::try_from(seconds("WXAUTH_LEEWAY", 30)?).map_err(std::io::Error::other)?;
    let reload = Duration::from_secs(seconds("WXAUTH_KEYS_RELOAD", 30)?.max(1));
    let appids = appids();
    if appids.is_empty() {
        return Err(std::io::Error::other("no appid to accept"));
    }

    let guard = Guard::from_config(&GuardConfig {
        dir: &dir,
        issuer: &issuer,
        appids: appids.iter().map(String::as_str).collect(),
        leeway,
        revocations: revocations.as_deref(),
    })
    .map_err(std::io::Error::other)?;
    // Rescan the key folder (and the revocation file) periodically and on
    // SIGHUP, as wxauth does; tokens naming a new kid trigger one anyway.
    let _rescans = guard.reloader().map(|reloader| reloader.spawn(reload));

    log::info!(
        "guarded service on http://127.0.0.1:9000 (GET /hello, GET /session), accepting {}",
        appids.join(", ")
    );
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(guard.clone()))
            .route("/hello", web::get().to(hello))
            .route("/session", web::get().to(session))
    })
    .bind("127.0.0.1:9000")?
    .run()
    .await
}
