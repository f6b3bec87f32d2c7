//! The guard: an actix-web extractor that lets a handler run only for a
//! request with a valid wxauth token. It is the library's public face; any
//! actix-web service can mount it with a keyring loaded from the same folder:
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer, Responder};
//! use wxauth::guard::{Authenticated, Guard};
//!
//! async fn hello(user: Authenticated) -> impl Responder {
//!     format!("hello {}", user.openid())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = Guard::from_dir("keys".as_ref(), "wxauth", "wx1234567890abcdef", 30)?;
//! HttpServer::new(move || {
//!     App::new()
//!         .app_data(web::Data::new(guard.clone()))
//!         .route("/hello", web::get().to(hello))
//! })
//! .bind("127.0.0.1:9000")?
//! .run()
//! .await?;
//! # Ok(())
//! # }
//! ```

use crate::clock::{SharedClock, SystemClock};
use crate::domain::SessionKey;
use crate::error::ApiError;
use crate::keyring::{KeyReloader, Keyring, KeyringError, SharedKeyring, SigningRule};
use crate::metrics::Metrics;
use crate::reload::{OnDemand, Reloader};
use crate::revocation::{RevocationError, RevocationWatch, SharedRevocations};
use crate::token::{Claims, Rejection, TokenPolicy, TokenVerifier, VerifiedToken};
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::{Either, LocalBoxFuture};
use std::future::{Ready, ready};
use std::path::Path;
use std::sync::Arc;

/// What a service's guard accepts: see [`Guard::from_config`].
#[derive(Debug, Clone)]
pub struct GuardConfig<'a> {
    /// The key folder wxauth signs from (mounted read-only, typically).
    pub dir: &'a Path,
    /// wxauth's `WXAUTH_ISSUER`.
    pub issuer: &'a str,
    /// The appids whose tokens this service accepts.
    pub appids: Vec<&'a str>,
    /// Clock skew allowed, seconds.
    pub leeway: i64,
    /// wxauth's `WXAUTH_REVOCATIONS_FILE`, if it has one.
    pub revocations: Option<&'a Path>,
}

/// Why a guard could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The key folder.
    #[error(transparent)]
    Keys(#[from] KeyringError),
    /// The revocation file.
    #[error("revocation file: {0}")]
    Revocations(#[from] RevocationError),
}

/// What the [`Authenticated`] extractor verifies with. Register it as
/// `web::Data<Guard>` (`App::app_data(web::Data::new(guard))`).
#[derive(Clone)]
pub struct Guard {
    verifier: TokenVerifier,
    /// Rescans the key folder when a token names an unknown kid.
    on_unknown_kid: Option<Arc<OnDemand>>,
    /// Rereads every watched file (keys, revocations) once spawned.
    reloader: Option<Arc<Reloader>>,
    metrics: Option<Metrics>,
}

impl Guard {
    /// A guard over an existing verifier, with a fixed key set.
    pub fn new(verifier: TokenVerifier) -> Self {
        Self {
            verifier,
            on_unknown_kid: None,
            reloader: None,
            metrics: None,
        }
    }

    /// A guard that rescans the key folder (through `keys`, which must
    /// feed the verifier's keyring) when a token names an unknown kid; its
    /// [`Guard::reloader`] rescans it on a timer and SIGHUP once spawned.
    pub fn with_reloader(verifier: TokenVerifier, keys: Arc<KeyReloader>) -> Self {
        let reloader = Reloader::new().watch(keys.clone());
        Self {
            verifier,
            on_unknown_kid: Some(Arc::new(keys.on_demand())),
            reloader: Some(Arc::new(reloader)),
            metrics: None,
        }
    }

    /// Rereads the watched files through `reloader` (which should watch the
    /// key folder and every file the verifier reads) on a timer and SIGHUP.
    pub fn with_watched(mut self, reloader: Arc<Reloader>) -> Self {
        self.reloader = Some(reloader);
        self
    }

    /// Counts every verification in `metrics`
    /// (`wxauth_token_verifications_total`).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The reloader of every file this guard reads, if it has one: call
    /// [`Reloader::spawn`] on it to reread them periodically and on SIGHUP.
    pub fn reloader(&self) -> Option<&Arc<Reloader>> {
        self.reloader.as_ref()
    }

    /// A guard for a service behind wxauth: loads the key folder and accepts
    /// tokens of `issuer` for `appid`, with `leeway` seconds of skew. A token
    /// with a kid not yet loaded makes it rescan the folder (at most once a
    /// second); for periodic rescans too, `guard.reloader()` gives the
    /// [`Reloader`] to `spawn`.
    pub fn from_dir(
        dir: &Path,
        issuer: &str,
        appid: &str,
        leeway: i64,
    ) -> Result<Self, KeyringError> {
        Self::build(
            dir,
            TokenPolicy::new(issuer, appid, leeway),
            SharedRevocations::none(),
        )
    }

    /// A guard for a service behind wxauth that serves several
    /// mini-programs and honours the revocation file (README, "Revoking
    /// and banning"): accepts tokens of `config.issuer` for any of
    /// `config.appids`, refuses those the revocation list refuses (the file
    /// is reread with every periodic rescan and on SIGHUP, once
    /// `guard.reloader()` is spawned).
    pub fn from_config(config: &GuardConfig<'_>) -> Result<Self, GuardError> {
        let revocations = match config.revocations {
            Some(file) => SharedRevocations::load(file)?,
            None => SharedRevocations::none(),
        };
        let policy =
            TokenPolicy::for_apps(config.issuer, config.appids.iter().copied(), config.leeway);
        Ok(Self::build(config.dir, policy, revocations)?)
    }

    fn build(
        dir: &Path,
        policy: TokenPolicy,
        revocations: SharedRevocations,
    ) -> Result<Self, KeyringError> {
        let (keyring, broken) = Keyring::load(dir, None)?;
        for file in broken {
            log::error!("skipping key file {}: {}", file.path.display(), file.error);
        }
        let clock: SharedClock = Arc::new(SystemClock);
        let keyring = SharedKeyring::new(keyring);
        let keys = Arc::new(KeyReloader::new(
            keyring.clone(),
            dir.to_owned(),
            SigningRule::default(),
            clock.clone(),
        ));
        let reloader = Reloader::new()
            .watch(keys.clone())
            .watch(Arc::new(RevocationWatch::new(revocations.clone())));
        let verifier = TokenVerifier::new(keyring, policy, clock)
            .with_cache(crate::token::CACHE_CAPACITY)
            .with_revocations(revocations);
        Ok(Self::with_reloader(verifier, keys).with_watched(Arc::new(reloader)))
    }

    /// The verifier behind this guard.
    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    /// Counts and logs a verification's result, and maps a refusal to the
    /// uniform 401.
    fn finish(
        &self,
        verified: Result<VerifiedToken, Rejection>,
    ) -> Result<Authenticated, ApiError> {
        if let Some(metrics) = &self.metrics {
            metrics.verification(verified.as_ref().map_or_else(Rejection::kind, |_| "ok"));
        }
        verified
            .map(|token| Authenticated { token })
            .map_err(|reason| {
                // The reason stays on the server (and never the token itself).
                log::debug!("rejected a bearer token: {reason}");
                ApiError::InvalidToken { token_sent: true }
            })
    }
}

/// A request's verified token. Taking it as a handler argument makes the
/// handler run only for valid tokens; every failure is one uniform 401
/// `invalid_token` with `WWW-Authenticate` (RFC 6750 section 3).
#[derive(Debug, Clone)]
pub struct Authenticated {
    token: VerifiedToken,
}

impl Authenticated {
    /// The user's openid (the `sub` claim).
    pub fn openid(&self) -> &str {
        &self.token.claims.sub
    }

    /// The user's unionid, when WeChat returned one at login.
    pub fn unionid(&self) -> Option<&str> {
        self.token.claims.unionid.as_deref()
    }

    /// The mini-program the token is for (its `aud`).
    pub fn appid(&self) -> &str {
        &self.token.claims.aud
    }

    /// The mini-program's platform (its `plat`).
    pub fn platform(&self) -> crate::platform::Platform {
        self.token.claims.plat
    }

    /// When the token expires, seconds since the epoch.
    pub fn expires_at(&self) -> i64 {
        self.token.claims.exp
    }

    /// All claims of the token.
    pub fn claims(&self) -> &Claims {
        &self.token.claims
    }

    /// The verified token.
    pub fn token(&self) -> &VerifiedToken {
        &self.token
    }

    /// Opens the sealed session_key, on demand only. A seal that does not open
    /// (moved from another user's token, tampered) is an invalid token; a
    /// token without one (WeChat's web and app logins, or a platform that
    /// gives none, such as Alipay) is `unsupported_platform` for the routes
    /// that need it.
    pub fn session_key(&self) -> Result<SessionKey, ApiError> {
        if self.token.claims.sk.is_none() {
            return Err(ApiError::UnsupportedPlatform(
                self.platform().display_name(),
            ));
        }
        self.token.session_key().map_err(|reason: Rejection| {
            log::debug!("rejected a bearer token: {reason}");
            ApiError::InvalidToken { token_sent: true }
        })
    }
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    /// Ready at once, but for a token naming a kid not loaded yet, which
    /// waits for a rescan of the key folder (at most once a second).
    type Future = Either<
        Ready<Result<Self, Self::Error>>,
        LocalBoxFuture<'static, Result<Self, Self::Error>>,
    >;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let Some(guard) = req.app_data::<web::Data<Guard>>() else {
            log::error!(
                "Authenticated used on a route without web::Data<Guard>: refusing every request"
            );
            // A wiring bug, not the client's: say so, loudly.
            return Either::Left(ready(Err(ApiError::Internal)));
        };
        let token = match bearer_token(req) {
            Ok(token) => token,
            Err(error) => {
                if let Some(metrics) = &guard.metrics {
                    let sent = matches!(error, ApiError::InvalidToken { token_sent: true });
                    metrics.verification(if sent { "bad_authorization" } else { "missing" });
                }
                return Either::Left(ready(Err(error)));
            }
        };
        match (guard.verifier.verify(token), &guard.on_unknown_kid) {
            // Maybe a key published since the last rescan (rotation across
            // replicas); the trigger bounds how often this reaches the disk.
            (Err(Rejection::UnknownKid), Some(rescan)) => {
                let (guard, rescan, token) = (guard.clone(), Arc::clone(rescan), token.to_owned());
                Either::Right(Box::pin(async move {
                    rescan.trigger("a token named an unknown kid").await;
                    guard.finish(guard.verifier.verify(&token))
                }))
            }
            (verified, _) => Either::Left(ready(guard.finish(verified))),
        }
    }
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 section 2.1). The
/// scheme is case-insensitive (RFC 9110 section 11.1); the token must match
/// `b64token`. Two `Authorization` headers are refused as ambiguous. Another
/// scheme, or `Bearer` with nothing after it, counts as no token sent, so the
/// answer carries no `error` attribute (RFC 6750 section 3.1).
fn bearer_token(req: &HttpRequest) -> Result<&str, ApiError> {
    let none_sent = || ApiError::InvalidToken { token_sent: false };
    let bad_token = || ApiError::InvalidToken { token_sent: true };
    let mut values = req.headers().get_all(AUTHORIZATION);
    let value = match (values.next(), values.next()) {
        (None, _) => return Err(none_sent()),
        (Some(value), None) => value,
        (Some(_), Some(_)) => return Err(bad_token()),
    };
    let value = value.to_str().map_err(|_| bad_token())?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err(none_sent());
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(none_sent());
    }
    let body = token.trim_end_matches('=');
    let b64token = !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    if b64token {
        Ok(token)
    } else {
        Err(bad_token())
    }
}
