//! What protects the server from its clients (README.md, "At the edge"),
//! in one place: each connection wrapped so that pipelining cannot pile up
//! requests, every request must arrive and every answer be taken within
//! `WXAUTH_CLIENT_TIMEOUT`, and the bytes held for clients stay under one
//! process-wide budget ([`EdgeIo`], [`Connections`]); the connection table
//! (`WXAUTH_MAX_CONNECTIONS`), where a newcomer evicts, of the client
//! address with the most connections, the one that has waited on its
//! client longest; body limits that count the bytes
//! received; no decompression; a rate limit per client address on the
//! routes that call a platform or sign, and a process-wide budget of
//! signatures a second.
//!
//! Every refusal here happens before a handler runs, so before any call to a
//! platform and before any signature is made; the signature budget alone is
//! taken by the login and refresh handlers ([`Edge::take_signature`]), once
//! the request is whole and checked.

mod answer;
mod body;
mod client;
mod conn;
mod rate;
mod table;

pub use body::LimitedBody;
pub use client::{DEFAULT_TRUSTED_PROXIES, TrustedProxies};
pub use conn::{BACKLOG, ConnShared, Connections, EdgeIo, MAX_HEAD, SEND_BUFFER, set_backlog};
pub use rate::{BURST_FACTOR, ClientLimiter, MAX_TRACKED, SignatureBudget, retry_after_secs};
pub use table::BUDGET;

use crate::clock::{SharedClock, SystemClock};
use crate::error::ApiError;
use actix_web::HttpMessage as _;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::middleware::Next;
use actix_web::web;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Body limit on `/auth/*` and every route not listed otherwise (docs/API.md,
/// "Errors").
pub const AUTH_BODY_LIMIT: usize = 4 * 1024;
/// Body limit on `/wx/decrypt` (docs/API.md, "Errors").
pub const DECRYPT_BODY_LIMIT: usize = 64 * 1024;
/// Signatures a second for the whole process (logins and refreshes), past
/// which they get 503 `overloaded`: about half of what two cores sign with
/// RS256-2048, far above what EdDSA needs; see BENCHMARKS.md.
pub const SIGNATURE_RATE: usize = 1_000;

/// The routes each client may call only `WXAUTH_CLIENT_RATE` times a second:
/// those that call a platform or sign. Verify-only routes are not limited.
fn is_rate_limited(path: &str) -> bool {
    matches!(path, "/auth/login" | "/auth/refresh" | "/auth/check") || path.starts_with("/wx/")
}

/// The body limit of `path` among `limits` (those over
/// [`AUTH_BODY_LIMIT`]).
fn body_limit(limits: &[(&'static str, usize)], path: &str) -> usize {
    limits
        .iter()
        .find(|(route, _)| *route == path)
        .map_or(AUTH_BODY_LIMIT, |(_, limit)| *limit)
}

/// The client address a request is counted under (see
/// [`TrustedProxies::client`]); in the request's extensions once the edge
/// has seen it, for the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The edge's rules, shared by every worker.
pub struct Edge {
    /// Path -> body limit, for paths over [`AUTH_BODY_LIMIT`].
    limits: Vec<(&'static str, usize)>,
    /// `WXAUTH_CLIENT_TIMEOUT`.
    pub client_timeout: Duration,
    trusted: TrustedProxies,
    rate: usize,
    limiter: ClientLimiter,
    signature_rate: usize,
    signatures: SignatureBudget,
    clock: SharedClock,
}

impl Edge {
    /// The edge: every request within `client_timeout`, `rate` requests a
    /// second per client (0: no limit) as told by `trusted` proxies, and
    /// `limits` for the routes whose body may be larger than
    /// [`AUTH_BODY_LIMIT`]. Logins and refreshes together get
    /// [`SIGNATURE_RATE`] signatures a second.
    pub fn new(
        client_timeout: Duration,
        rate: usize,
        trusted: TrustedProxies,
        limits: Vec<(&'static str, usize)>,
    ) -> Self {
        let clock: SharedClock = Arc::new(SystemClock);
        Self {
            limits,
            client_timeout,
            trusted,
            rate,
            limiter: ClientLimiter::with_clock(rate, clock.clone()),
            signature_rate: SIGNATURE_RATE,
            signatures: SignatureBudget::new(SIGNATURE_RATE, clock.clone()),
            clock,
        }
    }

    /// The same edge, its rates read from `clock` (tests move it).
    #[must_use]
    pub fn with_clock(self, clock: SharedClock) -> Self {
        Self {
            limiter: ClientLimiter::with_clock(self.rate, clock.clone()),
            signatures: SignatureBudget::new(self.signature_rate, clock.clone()),
            clock,
            ..self
        }
    }

    /// The same edge with `per_second` signatures a second (0: no budget;
    /// `WXAUTH_SIGNATURE_RATE`).
    #[must_use]
    pub fn with_signature_rate(self, per_second: usize) -> Self {
        Self {
            signature_rate: per_second,
            signatures: SignatureBudget::new(per_second, self.clock.clone()),
            ..self
        }
    }

    /// The body limit of `path`.
    pub fn body_limit(&self, path: &str) -> usize {
        body_limit(&self.limits, path)
    }

    /// The rate limiter (for its periodic clean-up).
    pub fn limiter(&self) -> &ClientLimiter {
        &self.limiter
    }

    /// The client behind `req`.
    pub fn client(&self, req: &ServiceRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted.contains(peer) {
            // The common case when wxauth faces clients itself: no header
            // work on the hot path.
            return Some(peer);
        }
        // Lossy, not `to_str`: a client's own non-ASCII bytes in the line a
        // proxy appends to must not make the whole line (and the address the
        // proxy added) disappear.
        let forwarded: Vec<String> = req
            .headers()
            .get_all("x-forwarded-for")
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        Some(
            self.trusted
                .client(peer, forwarded.iter().map(String::as_str)),
        )
    }

    /// Checks a request before anything reads it: refuses a compressed body
    /// (415), a declared length over the route's limit (413), and a client
    /// past its rate (429); then replaces the body with one that stops at
    /// the limit.
    pub fn screen(&self, req: &mut ServiceRequest) -> Result<(), ApiError> {
        if let Some(connection) = req.conn_data::<std::rc::Rc<ConnShared>>() {
            connection.request_started();
        }
        let client = self.client(req);
        if let Some(client) = client {
            req.extensions_mut().insert(ClientAddr(client));
        }
        // RFC 9110 section 8.4: `identity` is no encoding at all; and only a
        // request that has a body has a body to refuse.
        let has_body = req.headers().contains_key(TRANSFER_ENCODING)
            || req
                .headers()
                .get(CONTENT_LENGTH)
                .is_some_and(|length| length.as_bytes() != b"0");
        if has_body
            && req
                .headers()
                .get_all(CONTENT_ENCODING)
                .any(|value| !value.as_bytes().eq_ignore_ascii_case(b"identity"))
        {
            return Err(ApiError::UnsupportedMediaType);
        }
        // The path as the router will match it (percent-decoded): the raw
        // `/auth/%6cogin` routes to /auth/login and must be limited as it.
        let path = req.match_info().as_str();
        let limit = self.body_limit(path);
        let rate_limited = is_rate_limited(path);
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        if declared.is_some_and(|length| length > limit) {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        if rate_limited
            && let Some(client) = client
            && let Err(wait) = self.limiter.check(client)
        {
            return Err(ApiError::ClientRateLimited {
                retry_after: retry_after_secs(wait),
            });
        }
        let body = LimitedBody::new(req.parts_mut().1.take(), limit);
        req.set_payload(Payload::Stream {
            payload: Box::pin(body),
        });
        Ok(())
    }
}

impl Edge {
    /// Takes one signature from the process-wide budget, or refuses with
    /// 503 `overloaded`. The login and refresh handlers call it once the
    /// request is whole and checked (the body parsed, the token verified),
    /// right before the work that signs: a request that never finishes, or
    /// is refused for its body or its token, spends nothing, so unfinished
    /// logins from many addresses cannot starve everyone's logins.
    pub fn take_signature(&self) -> Result<(), ApiError> {
        self.signatures.take().map_err(|_| ApiError::Overloaded)
    }
}

/// Middleware: [`Edge::screen`] on every request before routing (the `Edge`
/// is the app's data); a refusal is an [`ApiError`] answer like any other.
pub async fn screen<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let refused = match req.app_data::<web::Data<Edge>>().cloned() {
        Some(edge) => edge.screen(&mut req).err(),
        None => {
            log::error!("the edge is not mounted: every request is refused");
            Some(ApiError::Internal)
        }
    };
    match refused {
        None => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        Some(error) => Ok(req.error_response(error).map_into_right_body()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_routes_that_call_a_platform_or_sign_are_limited_and_no_others() {
        for path in [
            "/auth/login",
            "/auth/refresh",
            "/auth/check",
            "/wx/decrypt",
            "/wx/phone",
        ] {
            assert!(is_rate_limited(path), "{path}");
        }
        for path in [
            "/auth/me",
            "/healthz",
            "/.well-known/jwks.json",
            "/sim/login",
            "/auth/loginx",
        ] {
            assert!(!is_rate_limited(path), "{path}");
        }
    }
}
