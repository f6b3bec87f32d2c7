//! `/healthz` (the process serves) and `/readyz` (it can sign).

use super::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;

/// 200 while the process serves.
pub(super) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when a signing key is loaded, else 503. A built keyring always has
/// one, so this turns 503 only if that invariant is ever broken.
pub(super) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let keyring = state.keyring.current();
    if keyring.is_empty() {
        HttpResponse::ServiceUnavailable().json(json!({"status": "no signing key"}))
    } else {
        let next = keyring
            .next_signing()
            .map(|(kid, from)| json!({"kid": kid, "from": from}));
        HttpResponse::Ok().json(json!({
            "status": "ready",
            "signing_kid": keyring.signing().kid(),
            "next_signing": next,
        }))
    }
}
