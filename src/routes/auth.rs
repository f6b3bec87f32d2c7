//! `/auth/login`, `/auth/refresh`, `/auth/me`.

use super::{AppState, JsonObject};
use crate::domain::{LoginCode, WeChatId};
use crate::error::ApiError;
use crate::guard::Authenticated;
use crate::token::{Subject, TokenResponse};
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, PRAGMA};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub(super) struct LoginRequest {
    code: String,
}

/// `POST /auth/login {"code"}`: exchange a `wx.login()` code for a token.
pub(super) async fn login(
    body: Result<web::Json<JsonObject<LoginRequest>>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    // A body refused before the handler still counts as a login attempt.
    let body = body.inspect_err(|e| {
        let code = e
            .as_error::<ApiError>()
            .map_or("invalid_request", ApiError::code);
        state.metrics.login(code);
    })?;
    let result = exchange(&body.0.0.code, &state).await;
    state
        .metrics
        .login(result.as_ref().map_or_else(ApiError::code, |_| "ok"));
    Ok(result?)
}

async fn exchange(code: &str, state: &AppState) -> Result<HttpResponse, ApiError> {
    let code = LoginCode::parse(code).map_err(|m| ApiError::InvalidRequest(m.into()))?;
    let session = state.wechat.code2session(&code).await.map_err(|e| {
        log::warn!("login failed upstream: {e}");
        ApiError::from(e)
    })?;
    let subject = Subject {
        openid: &session.openid,
        unionid: session.unionid.as_ref().map(WeChatId::as_str),
        session_key: &session.session_key,
        auth_time: state.clock.now(),
    };
    issue(state, &subject)
}

/// `POST /auth/refresh` (Bearer): the same login in a new token with a new
/// `exp` and `jti`, signed (and sealed) by the current signing key. Refused
/// once the login is older than `WXAUTH_SESSION_MAX_AGE`.
pub(super) async fn refresh(
    user: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let claims = user.claims();
    if state.clock.now() - claims.auth_time > state.session_max_age {
        return Err(ApiError::SessionExpired);
    }
    let session_key = user.session_key()?;
    let openid =
        WeChatId::parse(&claims.sub).map_err(|_| ApiError::InvalidToken { token_sent: true })?;
    let subject = Subject {
        openid: &openid,
        unionid: claims.unionid.as_deref(),
        session_key: &session_key,
        auth_time: claims.auth_time,
    };
    issue(&state, &subject)
}

fn issue(state: &AppState, subject: &Subject<'_>) -> Result<HttpResponse, ApiError> {
    let token: TokenResponse = state
        .issuer
        .issue(&state.keyring.current(), subject)
        .map_err(|e| {
            log::error!("could not issue a token: {e}");
            ApiError::Internal
        })?;
    // RFC 6749 section 5.1: token responses must not be cached.
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((PRAGMA, HeaderValue::from_static("no-cache")))
        .json(token))
}

#[derive(Serialize)]
struct Me<'a> {
    openid: &'a str,
    unionid: Option<&'a str>,
    exp: i64,
}

/// `GET /auth/me` (Bearer): who the token is for.
pub(super) async fn me(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        openid: user.openid(),
        unionid: user.unionid(),
        exp: user.expires_at(),
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
        .wechat
        .check_session(user.openid(), &session_key)
        .await
        .map_err(|e| {
            log::warn!("session check failed upstream: {e}");
            ApiError::from(e)
        })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"session_key_valid": valid})))
}
