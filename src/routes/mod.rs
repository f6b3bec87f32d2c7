//! Thin HTTP handlers: check, validate, delegate. The work happens below
//! them (sessions, guard, platform, keyring); the status of every refusal
//! is decided by [`crate::error`]'s table.

mod auth;
pub mod cors;
pub use auth::{count_login, is_login};
mod discovery;
mod health;
mod jwks;
mod metrics;
pub mod openapi;
pub mod verify;
mod wx;

use crate::apps::Apps;
use crate::edge::{AUTH_BODY_LIMIT, DECRYPT_BODY_LIMIT};
use crate::error::ApiError;
use crate::http::{get_or_head, json_config, resource};
use crate::keyring::SharedKeyring;
use crate::sessions::Sessions;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use std::sync::Arc;

/// What the handlers share.
pub struct AppState {
    /// The current keys.
    pub keyring: SharedKeyring,
    /// Logins and refreshes.
    pub sessions: Sessions,
    /// The apps served, for the user-data routes.
    pub apps: Arc<Apps>,
    /// The process's metrics.
    pub metrics: crate::metrics::Metrics,
    /// `WXAUTH_PUBLIC_URL`: the discovery document is served when set.
    pub public_url: Option<String>,
}

impl AppState {
    /// The client of the app a token is for. The guard accepts only served
    /// appids, so this fails only if the configuration changed under it.
    pub fn app_of(
        &self,
        user: &crate::guard::Authenticated,
    ) -> Result<&crate::platform::AppClient, ApiError> {
        self.apps
            .get(user.appid())
            .ok_or_else(|| ApiError::UnknownApp("the token's app is not served here".into()))
    }
}

/// The body limits of the public routes that take more than
/// [`AUTH_BODY_LIMIT`], for the edge to enforce on bytes received.
pub const BODY_LIMITS: &[(&str, usize)] = &[("/wx/decrypt", DECRYPT_BODY_LIMIT)];

/// Middleware: counts every answer to `POST /auth/login` ([`count_login`]),
/// the edge's refusals included when it runs outside the edge.
pub async fn count_logins<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let state = is_login(&req)
        .then(|| req.app_data::<web::Data<AppState>>().cloned())
        .flatten();
    let response = next.call(req).await;
    if let Some(state) = state {
        count_login(&state, &response);
    }
    response
}

/// The answer for paths no route has.
pub async fn not_found(_req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// Mounts the public routes (everything but the simulator).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/auth")
            .app_data(json_config(AUTH_BODY_LIMIT))
            .service(resource("/login", "POST").route(web::post().to(auth::login)))
            .service(resource("/authorize", "GET").route(web::get().to(auth::authorize)))
            .service(resource("/refresh", "POST").route(web::post().to(auth::refresh)))
            .service(resource("/me", "GET, HEAD").route(get_or_head().to(auth::me)))
            .service(resource("/check", "GET, HEAD").route(get_or_head().to(auth::check)))
            .service(resource("/verify", "GET, HEAD").route(get_or_head().to(verify::verify))),
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
    .service(
        resource("/.well-known/openid-configuration", "GET, HEAD")
            .route(get_or_head().to(discovery::openid_configuration)),
    )
    .service(resource("/healthz", "GET, HEAD").route(get_or_head().to(health::healthz)))
    .service(resource("/readyz", "GET, HEAD").route(get_or_head().to(health::readyz)))
    .service(resource("/metrics", "GET, HEAD").route(get_or_head().to(metrics::metrics)))
    .service(resource("/openapi.json", "GET, HEAD").route(get_or_head().to(openapi::openapi)));
}
