//! `/auth/login`, `/auth/authorize`, `/auth/refresh`, `/auth/me`,
//! `/auth/check`: check, validate, delegate to [`crate::sessions`].

use super::AppState;
use crate::edge::Edge;
use crate::error::ApiError;
use crate::guard::Authenticated;
use crate::http::JsonObject;
use crate::platform::Platform;
use crate::sessions::Login;
use crate::token::TokenResponse;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, LOCATION, PRAGMA};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub(super) struct LoginRequest {
    code: String,
    #[serde(default)]
    appid: Option<String>,
    /// The signed state that came back with a web login's code.
    #[serde(default)]
    state: Option<String>,
    /// The redirect_uri the web login started with; checked against the
    /// state when sent.
    #[serde(default)]
    redirect_uri: Option<String>,
}

/// The app a login was for, as the login metrics label it: a configured
/// appid, never the request's text (a label per made-up appid would let a
/// client grow the metrics without bound).
struct LoginApp(String);

/// `POST /auth/login {"code","appid"}`: exchange a login code for a token.
pub(super) async fn login(
    request: HttpRequest,
    body: web::Json<JsonObject<LoginRequest>>,
    state: web::Data<AppState>,
    edge: web::Data<Edge>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest {
        code,
        appid,
        state: login_state,
        redirect_uri,
    } = &body.0.0;
    let app = state
        .apps
        .resolve(appid.as_deref())
        .map_or_else(|_| String::new(), |app| app.appid().to_owned());
    request.extensions_mut().insert(LoginApp(app));
    edge.take_signature()?;
    let token = state
        .sessions
        .login_with(&Login {
            code,
            appid: appid.as_deref(),
            state: login_state.as_deref(),
            redirect_uri: redirect_uri.as_deref(),
        })
        .await?;
    Ok(token_response(&token))
}

/// `GET /auth/authorize?appid&redirect_uri[&scope]`: a web login starts
/// here; 302 to WeChat's authorize page (H5) or QR page (website) with a
/// signed `state`.
pub(super) async fn authorize(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut appid = None;
    let mut redirect_uri = None;
    let mut scope = None;
    for (name, value) in url::form_urlencoded::parse(request.query_string().as_bytes()) {
        let slot = match name.as_ref() {
            "appid" => &mut appid,
            "redirect_uri" => &mut redirect_uri,
            "scope" => &mut scope,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(ApiError::InvalidRequest(format!("{name} is given twice")));
        }
    }
    let redirect_uri = redirect_uri
        .filter(|uri| !uri.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest("redirect_uri is missing".into()))?;
    let location = state.sessions.authorize(
        appid.as_deref().filter(|id| !id.is_empty()),
        &redirect_uri,
        scope.as_deref(),
    )?;
    Ok(HttpResponse::Found()
        .insert_header((LOCATION, location))
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .finish())
}

/// `POST /auth/refresh` (Bearer): the same login in a new token.
pub(super) async fn refresh(
    user: Authenticated,
    state: web::Data<AppState>,
    edge: web::Data<Edge>,
) -> Result<HttpResponse, ApiError> {
    edge.take_signature()?;
    let token = state.sessions.refresh(user.token())?;
    Ok(token_response(&token))
}

fn token_response(token: &TokenResponse) -> HttpResponse {
    // RFC 6749 section 5.1: token responses must not be cached.
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((PRAGMA, HeaderValue::from_static("no-cache")))
        .json(token)
}

/// Counts every answer to `POST /auth/login` in `wxauth_logins_total`, by
/// its stable code: the handler's, the body extractor's and the edge's
/// refusals alike, since all of them end up here as an [`ApiError`].
pub fn count_login<B: MessageBody>(
    state: &AppState,
    response: &actix_web::Result<ServiceResponse<B>>,
) {
    let outcome = match response {
        Ok(response) if response.status().is_success() => "ok",
        Ok(response) => response
            .response()
            .error()
            .and_then(|error| error.as_error::<ApiError>())
            .map_or("invalid_request", ApiError::code),
        Err(error) => error
            .as_error::<ApiError>()
            .map_or("invalid_request", ApiError::code),
    };
    let app = match response {
        Ok(response) => response
            .request()
            .extensions()
            .get::<LoginApp>()
            .map(|app| app.0.clone()),
        Err(_) => None,
    }
    // Refused before the handler read the body: the only app, if there is
    // exactly one; else unknown (empty).
    .unwrap_or_else(|| {
        state
            .apps
            .only()
            .map_or_else(String::new, |app| app.appid().to_owned())
    });
    state.metrics.login(&app, outcome);
}

/// Whether `request` is a login, whose answer [`count_login`] counts.
pub fn is_login(request: &ServiceRequest) -> bool {
    // The path the router matches (percent-decoded), as the edge does.
    request.match_info().as_str() == "/auth/login"
}

#[derive(Serialize)]
struct Me<'a> {
    openid: &'a str,
    unionid: Option<&'a str>,
    exp: i64,
    appid: &'a str,
    platform: Platform,
}

/// `GET /auth/me` (Bearer): who the token is for, and for which app.
pub(super) async fn me(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        openid: user.openid(),
        unionid: user.unionid(),
        exp: user.expires_at(),
        appid: user.appid(),
        platform: user.platform(),
    })
}

/// `GET /auth/check` (Bearer): asks WeChat whether the token's session_key
/// is still the user's current one (a newer `wx.login()` replaces it).
pub(super) async fn check(
    user: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let session_key = user.session_key()?;
    let valid = state
        .app_of(&user)?
        .check_session(user.openid(), &session_key)
        .await
        .inspect_err(|e| log::warn!("session check failed upstream: {e}"))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"session_key_valid": valid})))
}
