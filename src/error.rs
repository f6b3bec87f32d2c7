//! The one error type at the HTTP boundary. Its [`ResponseError`] impl is the
//! only place that decides a status, a stable `code` and the headers that go
//! with them; the answer is `application/problem+json` (RFC 9457).

use crate::platform::PlatformError;
use crate::sessions::SessionError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Seconds a client is told to wait after WeChat's rate limit (45011: 100
/// calls per user per minute).
pub const PLATFORM_RETRY_AFTER: u64 = 60;
/// Seconds a client is told to wait when wxauth sheds a login.
const OVERLOAD_RETRY_AFTER: u32 = 1;

/// Everything a request can fail with, as the client sees it. The variants are
/// the stable codes of SPEC section 3, plus `not_found` and
/// `method_not_allowed` for requests that match no route.
#[derive(thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON, a missing, empty or mistyped field, bad base64.
    #[error("{0}")]
    InvalidRequest(String),
    /// The body is larger than the route allows.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The route's limit in bytes.
        limit: usize,
    },
    /// WeChat 40029: the code is wrong or older than five minutes.
    #[error(
        "the code is invalid or expired: get a new one (wx.login() for /auth/login, \
         the getPhoneNumber button for /wx/phone)"
    )]
    InvalidCode,
    /// WeChat 40163: the code was already exchanged.
    #[error(
        "the code was already used: get a new one (wx.login() for /auth/login, \
         the getPhoneNumber button for /wx/phone)"
    )]
    CodeUsed,
    /// WeChat 45011: too many logins for this user.
    #[error("WeChat is rate limiting this user: retry after the Retry-After delay")]
    RateLimited,
    /// This client is past `WXAUTH_CLIENT_RATE` (SPEC section 10).
    #[error("too many requests from this address: retry after the Retry-After delay")]
    ClientRateLimited {
        /// Seconds until the client may send again.
        retry_after: u64,
    },
    /// The request names no mini-program served here, or none while several
    /// are (SPEC section 8).
    #[error("{0}")]
    UnknownApp(String),
    /// `/wx/phone` or `/auth/check` with a token of a QQ or Douyin app, or
    /// a session_key route with a token of WeChat's web or app logins.
    #[error("{0} logins have no such API here")]
    UnsupportedPlatform(&'static str),
    /// A web login's `state` is missing, forged, expired, or made for
    /// another app or redirect_uri (README "One person, every surface").
    #[error("{0}")]
    InvalidState(String),
    /// The request body has a `Content-Encoding`: bodies are never
    /// decompressed (SPEC section 10).
    #[error("request bodies must not be compressed (no Content-Encoding)")]
    UnsupportedMediaType,

    /// WeChat 40226 (a high-risk account), or a user banned here.
    #[error("this user may not log in")]
    UserBlocked,
    /// WeChat answered with an error wxauth cannot recover from, or with
    /// something that is not a valid answer.
    #[error("WeChat answered with an error; the server log names the cause")]
    UpstreamError,
    /// WeChat could not be reached in time.
    #[error("WeChat could not be reached in time")]
    UpstreamUnavailable,
    /// Too many calls to WeChat are in flight.
    #[error("the server is busy: retry after the Retry-After delay")]
    Overloaded,
    /// The bearer token is missing or is not one of ours. Every reason gives
    /// the same answer; the reason itself goes to a debug log only.
    #[error("a valid bearer token is required")]
    InvalidToken {
        /// Whether the request carried a token at all (RFC 6750 section 3.1:
        /// no `error` attribute when it did not).
        token_sent: bool,
    },
    /// The login behind the token is older than `WXAUTH_SESSION_MAX_AGE`.
    #[error("the session is too old to refresh: log in again")]
    SessionExpired,
    /// The data does not decrypt, parse or match with this session_key.
    #[error("{0}")]
    DecryptFailed(String),
    /// No route has this path.
    #[error("no such resource")]
    NotFound,
    /// The route exists but not with this method.
    #[error("this method is not allowed here (allowed: {allow})")]
    MethodNotAllowed {
        /// The methods the route allows, for the `Allow` header.
        allow: &'static str,
    },
    /// A fault of the server itself (the system RNG failed, a key would not
    /// sign). Logged where it happens; never expected.
    #[error("the server could not complete the request")]
    Internal,
}

/// Only the stable code: actix logs every error answer as `Error in
/// response: {:?}` at DEBUG, and a detail may quote the request.
impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiError({})", self.code())
    }
}

impl ApiError {
    /// The stable, machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::InvalidCode => "invalid_code",
            Self::CodeUsed => "code_used",
            Self::RateLimited | Self::ClientRateLimited { .. } => "rate_limited",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::UnknownApp(_) => "unknown_app",
            Self::UnsupportedPlatform(_) => "unsupported_platform",
            Self::InvalidState(_) => "invalid_state",
            Self::UserBlocked => "user_blocked",
            Self::UpstreamError => "upstream_error",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::Overloaded => "overloaded",
            Self::InvalidToken { .. } => "invalid_token",
            Self::SessionExpired => "session_expired",
            Self::DecryptFailed(_) => "decrypt_failed",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Internal => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "Invalid request",
            Self::PayloadTooLarge { .. } => "Payload too large",
            Self::InvalidCode => "Invalid code",
            Self::CodeUsed => "Code already used",
            Self::RateLimited => "Rate limited by WeChat",
            Self::ClientRateLimited { .. } => "Rate limited",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::UnknownApp(_) => "Unknown app",
            Self::UnsupportedPlatform(_) => "Unsupported platform",
            Self::InvalidState(_) => "Invalid state",
            Self::UserBlocked => "User blocked",
            Self::UpstreamError => "WeChat error",
            Self::UpstreamUnavailable => "WeChat unavailable",
            Self::Overloaded => "Overloaded",
            Self::InvalidToken { .. } => "Invalid token",
            Self::SessionExpired => "Session expired",
            Self::DecryptFailed(_) => "Decryption failed",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed { .. } => "Method not allowed",
            Self::Internal => "Internal error",
        }
    }
}

/// The body of an error answer (RFC 9457 section 3) with our `code` extension.
#[derive(Serialize)]
struct Problem<'a> {
    /// A tag URI (RFC 4151): it names the problem type and is not meant to be
    /// dereferenced (RFC 9457 section 3.1.1 allows non-resolvable URIs).
    #[serde(rename = "type")]
    type_: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_)
            | Self::InvalidCode
            | Self::CodeUsed
            | Self::UnknownApp(_)
            | Self::UnsupportedPlatform(_)
            | Self::InvalidState(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited | Self::ClientRateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::UserBlocked => StatusCode::FORBIDDEN,
            Self::UpstreamError => StatusCode::BAD_GATEWAY,
            Self::UpstreamUnavailable => StatusCode::GATEWAY_TIMEOUT,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::InvalidToken { .. } | Self::SessionExpired => StatusCode::UNAUTHORIZED,
            Self::DecryptFailed(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let code = self.code();
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        match self {
            Self::RateLimited => {
                response.insert_header((header::RETRY_AFTER, PLATFORM_RETRY_AFTER));
            }
            Self::ClientRateLimited { retry_after } => {
                response.insert_header((header::RETRY_AFTER, *retry_after));
            }
            Self::Overloaded => {
                response.insert_header((header::RETRY_AFTER, OVERLOAD_RETRY_AFTER));
            }
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, *allow));
            }
            // RFC 6750 section 3: a 401 names the scheme and realm; it adds
            // `error="invalid_token"` only when the request carried a token.
            Self::InvalidToken { token_sent: false } => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="wxauth""#),
                ));
            }
            Self::InvalidToken { token_sent: true } | Self::SessionExpired => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="wxauth", error="invalid_token""#),
                ));
            }
            _ => {}
        }
        response.json(Problem {
            type_: format!("tag:wxauth,2026:problem:{code}"),
            title: self.title(),
            status: status.as_u16(),
            detail: self.to_string(),
            code,
        })
    }
}

/// The platform's answers, as the client sees them (SPEC section 3's table).
impl From<PlatformError> for ApiError {
    fn from(error: PlatformError) -> Self {
        match error {
            PlatformError::InvalidCode => Self::InvalidCode,
            PlatformError::CodeUsed => Self::CodeUsed,
            PlatformError::RateLimited => Self::RateLimited,
            PlatformError::UserBlocked => Self::UserBlocked,
            PlatformError::Busy { .. }
            | PlatformError::Rejected { .. }
            | PlatformError::Malformed(_) => Self::UpstreamError,
            PlatformError::Unavailable(_) => Self::UpstreamUnavailable,
            PlatformError::Overloaded => Self::Overloaded,
            PlatformError::Unsupported(platform) => {
                Self::UnsupportedPlatform(platform.display_name())
            }
        }
    }
}

/// A login or refresh that gave no token.
impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::BadCode(message) => Self::InvalidRequest(message.into()),
            SessionError::UnknownApp(error) => Self::UnknownApp(error.to_string()),
            SessionError::Platform(error) => error.into(),
            SessionError::State(error) => Self::InvalidState(error.to_string()),
            SessionError::Authorize(message) => Self::InvalidRequest(message),
            SessionError::Banned => Self::UserBlocked,
            SessionError::Expired => Self::SessionExpired,
            SessionError::Unseal => Self::InvalidToken { token_sent: true },
            SessionError::Issue(_) => Self::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[test]
    fn debug_shows_the_code_and_nothing_from_the_request() {
        let error = ApiError::InvalidRequest("quoting s3cr3t-code".into());
        assert_eq!(format!("{error:?}"), "ApiError(invalid_request)");
    }

    #[actix_web::test]
    async fn problem_body_carries_status_code_and_type() {
        let response = ApiError::CodeUsed.error_response();
        assert_eq!(response.status(), 400);
        let body = to_bytes(response.into_body()).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], "code_used");
        assert_eq!(json["status"], 400);
        assert_eq!(json["type"], "tag:wxauth,2026:problem:code_used");
    }
}
