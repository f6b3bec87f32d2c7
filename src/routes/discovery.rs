//! `GET /.well-known/openid-configuration`: where a resource server
//! configured with an issuer URI (Spring Security's `issuer-uri`, APISIX,
//! any OpenID Connect Discovery 1.0 client) finds the keys by itself.

use super::AppState;
use super::jwks::JWKS_MAX_AGE;
use crate::error::ApiError;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpResponse, web};
use serde::Serialize;

/// The discovery document (OpenID Connect Discovery 1.0 section 3): the
/// parts a resource server verifying tokens reads. wxauth is no OpenID
/// provider (`/auth/authorize` only starts WeChat's web logins; it is no
/// OpenID authorization endpoint), so it lists nothing else.
#[derive(Serialize)]
struct Configuration<'a> {
    /// `WXAUTH_PUBLIC_URL`, exactly the `iss` of the tokens (section 4.3).
    issuer: &'a str,
    /// The JWK Set under the same public URL.
    jwks_uri: String,
    /// The algorithms of the loaded keys.
    id_token_signing_alg_values_supported: Vec<&'static str>,
}

/// Served only when `WXAUTH_PUBLIC_URL` is set (else 404). Every URL in it is
/// built from that setting, never from the request's `Host` or
/// `X-Forwarded-Host`, which any client can forge (a cache in front would
/// then hand the forged document to everyone).
pub(super) async fn openid_configuration(
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let issuer = state.public_url.as_deref().ok_or(ApiError::NotFound)?;
    let keyring = state.keyring.current();
    let mut algs: Vec<&'static str> = keyring.keys().map(|key| key.alg().jose_name()).collect();
    algs.sort_unstable();
    algs.dedup();
    let configuration = Configuration {
        issuer,
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        id_token_signing_alg_values_supported: algs,
    };
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, format!("public, max-age={JWKS_MAX_AGE}")))
        .json(configuration))
}
