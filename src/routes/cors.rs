//! CORS for WeChat's web logins: the page a login returns to usually lives
//! on another origin than wxauth (`https://shop.example.com` calling
//! `https://auth.example.com`), and a browser lets it read wxauth's answers
//! only if wxauth says so (the Fetch standard's CORS protocol). The rule is
//! the smallest that serves that page: only the origins of the `wechat_h5`
//! and `wechat_web` apps' `redirect_uris` (in simulator mode, loopback on
//! any port), only `/auth/*` and `/wx/*`, only GET and POST with
//! `Authorization` and `Content-Type`, and no credentials (tokens travel
//! in `Authorization`, never in cookies). Any other origin gets no CORS
//! header, so its page cannot read an answer.

use crate::apps::Apps;
use crate::weblogin::RedirectRule;
use actix_web::Error;
use actix_web::HttpResponse;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;

/// Seconds a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE: &str = "600";

/// The origins that may call wxauth from a page.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    rules: Vec<RedirectRule>,
}

impl Cors {
    /// The origins of every web app's `redirect_uris`.
    pub fn for_apps(apps: &Apps) -> Self {
        Self {
            rules: apps
                .clients()
                .flat_map(|app| app.redirect_uris().iter().cloned())
                .collect(),
        }
    }

    /// The request's `Origin`, when it is allowed here for this path.
    fn allowed_origin(&self, request: &ServiceRequest) -> Option<HeaderValue> {
        if self.rules.is_empty() {
            return None;
        }
        let path = request.path();
        if !(path.starts_with("/auth/") || path.starts_with("/wx/")) {
            return None;
        }
        let origin = request.headers().get(header::ORIGIN)?;
        let url = url::Url::parse(origin.to_str().ok()?).ok()?;
        // An origin is scheme, host and port alone (RFC 6454 section 6.1).
        if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
            return None;
        }
        self.rules
            .iter()
            .any(|rule| rule.allows_origin(&url))
            .then(|| origin.clone())
    }
}

/// The CORS middleware (mounted with `from_fn`, outside the login count and
/// the edge, so a preflight is neither a login nor rate limited): answers an
/// allowed origin's preflight itself, and adds the CORS headers to the
/// answers it may read; everything else passes as is.
pub async fn cors<B: MessageBody + 'static>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let origin = request
        .app_data::<web::Data<Cors>>()
        .and_then(|cors| cors.allowed_origin(&request));
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    match origin {
        Some(origin) if preflight => {
            let mut answer = HttpResponse::build(StatusCode::NO_CONTENT);
            answer
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "Authorization, Content-Type",
                ))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE))
                .insert_header((header::VARY, "Origin"));
            Ok(request.into_response(answer.finish()))
        }
        origin => {
            let mut response = next.call(request).await?.map_into_boxed_body();
            if let Some(origin) = origin {
                let headers = response.headers_mut();
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                headers.append(header::VARY, HeaderValue::from_static("Origin"));
            }
            Ok(response)
        }
    }
}
