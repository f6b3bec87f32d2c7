//! `GET /.well-known/jwks.json`: the public half of every loaded key.

use super::AppState;
use actix_web::http::header::{CACHE_CONTROL, ContentType};
use actix_web::{HttpResponse, web};

/// How long services behind wxauth may cache the JWK Set. A new key verifies
/// on wxauth at once but on such services only after this long, which is why
/// the rotation runbook waits this long before a new key signs.
pub const JWKS_MAX_AGE: u32 = 300;

/// The JWK Set (RFC 7517 section 5), rendered once per key load.
pub(super) async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let keyring = state.keyring.current();
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .insert_header((CACHE_CONTROL, format!("public, max-age={JWKS_MAX_AGE}")))
        .body(keyring.jwks_json().to_vec())
}
