//! Thin HTTP handlers: check, validate, delegate. Wiring and body limits are
//! here too, so every route's limits sit in one place.

mod auth;
mod health;
mod jwks;
mod metrics;
pub mod openapi;
mod wx;

use crate::clock::SharedClock;
use crate::error::ApiError;
use crate::keyring::SharedKeyring;
use crate::token::TokenIssuer;
use crate::wechat::WeChatClient;
use actix_web::error::JsonPayloadError;
use actix_web::{HttpRequest, HttpResponse, Resource, guard, web};
use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::marker::PhantomData;

/// Body limit on `/auth/*` and everything else but `/wx/decrypt` (SPEC section 3).
pub const AUTH_BODY_LIMIT: usize = 4 * 1024;
/// Body limit on `/wx/decrypt` (SPEC section 3).
pub const DECRYPT_BODY_LIMIT: usize = 64 * 1024;

/// What the handlers share.
pub struct AppState {
    /// The current keys.
    pub keyring: SharedKeyring,
    /// Makes tokens.
    pub issuer: TokenIssuer,
    /// Talks to WeChat (or the simulator).
    pub wechat: WeChatClient,
    /// The time.
    pub clock: SharedClock,
    /// `WXAUTH_SESSION_MAX_AGE`.
    pub session_max_age: i64,
    /// The appid user data must be watermarked for.
    pub appid: String,
    /// The process's metrics.
    pub metrics: crate::metrics::Metrics,
}

/// The body limit for a request path.
pub fn body_limit(path: &str) -> usize {
    if path == "/wx/decrypt" || path == "/sim/encrypt" {
        DECRYPT_BODY_LIMIT
    } else {
        AUTH_BODY_LIMIT
    }
}

/// A JSON extractor configuration with `limit` whose every failure is our
/// problem+json: 413 past the limit, 400 for the rest.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|error, _req| json_error(error).into())
}

fn json_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::PayloadTooLarge { limit }
        }
        JsonPayloadError::ContentType => {
            ApiError::InvalidRequest("Content-Type must be application/json".into())
        }
        // A missing field is named (the name is ours); any other data error
        // is described without serde's message, which quotes the value.
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            let message = e.to_string();
            match message.split_once(" at line ") {
                Some((missing, _)) if missing.starts_with("missing field `") => {
                    ApiError::InvalidRequest(format!("invalid body: {missing}"))
                }
                _ => ApiError::InvalidRequest(format!(
                    "invalid body: a field is missing, empty or of the wrong type, or the body is not an object (line {}, column {})",
                    e.line(),
                    e.column()
                )),
            }
        }
        JsonPayloadError::Deserialize(e) => ApiError::InvalidRequest(format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        )),
        _ => ApiError::InvalidRequest("the body could not be read".into()),
    }
}

/// A route for GET that answers HEAD too (RFC 9110 section 9.3.2: HEAD is
/// GET without the body; load balancers' health checks use it). actix-http
/// leaves the body out of HEAD answers.
pub fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// A resource whose other methods get a 405 problem naming the methods it
/// allows (RFC 9110 section 15.5.6 requires the `Allow` header).
pub fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow })
    }))
}

/// The answer for paths no route has.
pub async fn not_found(_req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// A request body that must be a JSON object. serde lets a struct also
/// deserialize from an array (`["c"]` as `{"code": "c"}`); our API takes
/// objects only, so anything else is `invalid_request`.
pub struct JsonObject<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOnly<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(ObjectOnly(PhantomData))
            .map(JsonObject)
    }
}

/// Mounts the public routes (everything but the simulator).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/auth")
            .app_data(json_config(AUTH_BODY_LIMIT))
            .service(resource("/login", "POST").route(web::post().to(auth::login)))
            .service(resource("/refresh", "POST").route(web::post().to(auth::refresh)))
            .service(resource("/me", "GET, HEAD").route(get_or_head().to(auth::me)))
            .service(resource("/check", "GET, HEAD").route(get_or_head().to(auth::check))),
    )
    .service(
        web::scope("/wx")
            .service(
                resource("/decrypt", "POST")
                    .app_data(json_config(DECRYPT_BODY_LIMIT))
                    .route(web::post().to(wx::decrypt)),
            )
            .service(
                resource("/phone", "POST")
                    .app_data(json_config(AUTH_BODY_LIMIT))
                    .route(web::post().to(wx::phone)),
            ),
    )
    .service(resource("/.well-known/jwks.json", "GET, HEAD").route(get_or_head().to(jwks::jwks)))
    .service(resource("/healthz", "GET, HEAD").route(get_or_head().to(health::healthz)))
    .service(resource("/readyz", "GET, HEAD").route(get_or_head().to(health::readyz)))
    .service(resource("/metrics", "GET, HEAD").route(get_or_head().to(metrics::metrics)))
    .service(resource("/openapi.json", "GET, HEAD").route(get_or_head().to(openapi::openapi)));
}
