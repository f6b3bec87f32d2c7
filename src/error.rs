//! The one error type at the HTTP boundary. Its [`ResponseError`] impl is the
//! only place that decides a status, a stable `code` and the headers that go
//! with them; the answer is `application/problem+json` (RFC 9457).

use crate::platform::PlatformError;
use crate::sessions::SessionError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Seconds a client is told to wait after a platform's rate limit (WeChat
/// 45011: 100 calls per user per minute).
pub const PLATFORM_RETRY_AFTER: u64 = 60;
/// Seconds a client is told to wait when wxauth sheds a login or refresh.
const OVERLOAD_RETRY_AFTER: u32 = 1;

/// Everything a request can fail with, as the client sees it. The variants
/// carry the stable codes of docs/API.md ("Errors"), including `not_found`
/// and `method_not_allowed` for requests that match no route.
#[derive(thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON, a missing, empty or mistyped field, bad base64; an
    /// `/auth/authorize` it cannot serve (not a web app, another scope, a
    /// redirect_uri outside the app's list).
    #[error("{0}")]
    InvalidRequest(String),
    /// The body is larger than the route allows.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The route's limit in bytes.
        limit: usize,
    },
    /// The platform says the code is wrong or expired (WeChat 40029).
    #[error(
        "the code is invalid or expired: get a new one from the mini-program's login \
         call (for /wx/phone, from the getPhoneNumber button)"
    )]
    InvalidCode,
    /// The platform says the code was already exchanged (WeChat 40163).
    #[error(
        "the code was already used: get a new one from the mini-program's login \
         call (for /wx/phone, from the getPhoneNumber button)"
    )]
    CodeUsed,
    /// The platform is rate limiting this user (WeChat 45011: 100 calls per
    /// user per minute). Not [`ApiError::ClientRateLimited`], wxauth's own.
    #[error("the platform is rate limiting this user: retry after the Retry-After delay")]
    PlatformRateLimited,
    /// This client is past `WXAUTH_CLIENT_RATE` (docs/API.md, "At the edge").
    #[error("too many requests from this address: retry after the Retry-After delay")]
    ClientRateLimited {
        /// Seconds until the client may send again.
        retry_after: u64,
    },
    /// The request names no mini-program served here, or none while several
    /// are (docs/API.md, "Apps and platforms").
    #[error("{0}")]
    UnknownApp(String),
    /// `/wx/phone` or `/auth/check` with a token of another platform than
    /// WeChat's mini-programs, or a session_key route with a token that has
    /// none (WeChat's web and app logins, Alipay, Feishu).
    #[error("{0} logins have no such API here")]
    UnsupportedPlatform(&'static str),
    /// A web login's `state` is missing, forged, expired, or made for
    /// another app or redirect_uri (README "One person, every surface").
    #[error("{0}")]
    InvalidState(String),
    /// The request body has a `Content-Encoding`: bodies are never
    /// decompressed (docs/API.md, "At the edge").
    #[error("request bodies must not be compressed (no Content-Encoding)")]
    UnsupportedMediaType,

    /// The platform blocks the user (WeChat 40226, a high-risk account), or
    /// the user is banned here.
    #[error("this user may not log in")]
    UserBlocked,
    /// The platform answered with an error wxauth cannot recover from, or
    /// with something that is not a valid answer.
    #[error("the platform answered with an error; the server log names the cause")]
    UpstreamError,
    /// The platform could not be reached in time.
    #[error("the platform could not be reached in time")]
    UpstreamUnavailable,
    /// Too many calls to the platforms are in flight, or the process's
    /// signature budget (`WXAUTH_SIGNATURE_RATE`) is spent for this second.
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

/// One row of the error table: what a client sees of an [`ApiError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable, machine-readable `code` (docs/API.md, "Errors").
    pub code: &'static str,
    /// The problem's `title` (RFC 9457 section 3.1.3): the same for every
    /// answer of this type.
    pub title: &'static str,
}

const fn row(status: StatusCode, code: &'static str, title: &'static str) -> ProblemType {
    ProblemType {
        status,
        code,
        title,
    }
}

impl ApiError {
    /// The error table: status, stable code and title of every variant, in
    /// one place. The `detail` is the variant's `Display`.
    pub fn problem_type(&self) -> ProblemType {
        use StatusCode as S;
        match self {
            Self::InvalidRequest(_) => row(S::BAD_REQUEST, "invalid_request", "Invalid request"),
            Self::UnknownApp(_) => row(S::BAD_REQUEST, "unknown_app", "Unknown app"),
            Self::UnsupportedPlatform(_) => row(
                S::BAD_REQUEST,
                "unsupported_platform",
                "Unsupported platform",
            ),
            Self::InvalidState(_) => row(S::BAD_REQUEST, "invalid_state", "Invalid state"),
            Self::InvalidCode => row(S::BAD_REQUEST, "invalid_code", "Invalid code"),
            Self::CodeUsed => row(S::BAD_REQUEST, "code_used", "Code already used"),
            Self::PayloadTooLarge { .. } => row(
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
            ),
            Self::UnsupportedMediaType => row(
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            Self::PlatformRateLimited => row(
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                "Rate limited by the platform",
            ),
            Self::ClientRateLimited { .. } => {
                row(S::TOO_MANY_REQUESTS, "rate_limited", "Rate limited")
            }
            Self::UserBlocked => row(S::FORBIDDEN, "user_blocked", "User blocked"),
            Self::UpstreamError => row(S::BAD_GATEWAY, "upstream_error", "Platform error"),
            Self::UpstreamUnavailable => row(
                S::GATEWAY_TIMEOUT,
                "upstream_unavailable",
                "Platform unavailable",
            ),
            Self::Overloaded => row(S::SERVICE_UNAVAILABLE, "overloaded", "Overloaded"),
            Self::InvalidToken { .. } => row(S::UNAUTHORIZED, "invalid_token", "Invalid token"),
            Self::SessionExpired => row(S::UNAUTHORIZED, "session_expired", "Session expired"),
            Self::DecryptFailed(_) => row(
                S::UNPROCESSABLE_ENTITY,
                "decrypt_failed",
                "Decryption failed",
            ),
            Self::NotFound => row(S::NOT_FOUND, "not_found", "Not found"),
            Self::MethodNotAllowed { .. } => row(
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            Self::Internal => row(S::INTERNAL_SERVER_ERROR, "internal_error", "Internal error"),
        }
    }

    /// The stable, machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        self.problem_type().code
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
        self.problem_type().status
    }

    fn error_response(&self) -> HttpResponse {
        let ProblemType {
            status,
            code,
            title,
        } = self.problem_type();
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        match self {
            Self::PlatformRateLimited => {
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
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            code,
        })
    }
}

/// The platform's answers, as the client sees them (docs/API.md, "Errors").
impl From<PlatformError> for ApiError {
    fn from(error: PlatformError) -> Self {
        match error {
            PlatformError::InvalidCode => Self::InvalidCode,
            PlatformError::CodeUsed => Self::CodeUsed,
            PlatformError::RateLimited => Self::PlatformRateLimited,
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
