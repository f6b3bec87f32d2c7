//! `/healthz` (the process serves) and `/readyz` (it can sign).

use super::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;

/// 200 while the process serves.
pub(super) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when a signing key is loaded, else 503. A built keyring always has
/// one, so this turns 503 only if that invariant is ever broken. Says which
/// key signs, which one signs next and from when (RFC 3339 UTC, as
/// `wxauth keys` prints it), and the apps served with their platforms.
pub(super) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let keyring = state.keyring.current();
    if keyring.is_empty() {
        HttpResponse::ServiceUnavailable().json(json!({"status": "no signing key"}))
    } else {
        let next = keyring
            .next_signing()
            .map(|(kid, from)| json!({"kid": kid, "from": utc(from)}));
        let apps: Vec<_> = state
            .apps
            .appids()
            .filter_map(|appid| state.apps.get(appid))
            .map(|app| json!({"appid": app.appid(), "platform": app.platform()}))
            .collect();
        HttpResponse::Ok().json(json!({
            "status": "ready",
            "signing_kid": keyring.signing().kid(),
            "next_signing": next,
            "apps": apps,
        }))
    }
}

/// Seconds since the epoch as RFC 3339 UTC (`2026-11-22T10:00:00Z`).
fn utc(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map_or_else(
        || seconds.to_string(),
        |at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}
