//! Another actix-web service trusting wxauth's tokens: it loads the same key
//! folder and mounts the guard. Run it beside wxauth (simulator mode):
//!
//! ```sh
//! cargo run --release &                                   # wxauth on :8080
//! cargo run --example guarded_service                     # this on :9000
//! curl -s localhost:9000/hello -H "Authorization: Bearer $TOKEN"
//! ```
//!
//! Settings: WXAUTH_KEYS_DIR (default keys), WXAUTH_ISSUER (default wxauth),
//! WECHAT_APPID (default: the simulator's appid).

use actix_web::{App, HttpResponse, HttpServer, web};
use wxauth::error::ApiError;
use wxauth::guard::{Authenticated, Guard};

/// Any handler that takes `Authenticated` runs only for a valid token.
async fn hello(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "hello": user.openid(),
        "unionid": user.unionid(),
    }))
}

/// The session_key is opened only when a handler asks for it (here, to show
/// that this service holds the key files; a service that only verifies needs
/// just the JWK Set).
async fn session(user: Authenticated) -> Result<HttpResponse, ApiError> {
    let key = user.session_key()?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"session_key_bytes": key.expose().len()})))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let dir = std::env::var("WXAUTH_KEYS_DIR").unwrap_or_else(|_| "keys".into());
    let issuer = std::env::var("WXAUTH_ISSUER").unwrap_or_else(|_| "wxauth".into());
    let appid =
        std::env::var("WECHAT_APPID").unwrap_or_else(|_| wxauth::config::SIMULATOR_APPID.into());
    let guard =
        Guard::from_dir(dir.as_ref(), &issuer, &appid, 30).map_err(std::io::Error::other)?;
    log::info!("guarded service on http://127.0.0.1:9000 (GET /hello, GET /session)");
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
