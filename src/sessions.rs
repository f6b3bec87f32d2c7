//! Logins and refreshes: the rules of a session, in one place the handlers
//! call. A login exchanges a one-time code with the platform and issues a
//! token; a refresh issues a new token for the same login, signed by the
//! current key, until the login is `WXAUTH_SESSION_MAX_AGE` old.

use crate::apps::{Apps, UnknownApp};
use crate::clock::SharedClock;
use crate::domain::{LoginCode, UserId};
use crate::keyring::SharedKeyring;
use crate::platform::PlatformError;
use crate::revocation::SharedRevocations;
use crate::token::{IssueError, Subject, TokenIssuer, TokenResponse, VerifiedToken};
use std::sync::Arc;

/// Why a login or refresh did not give a token.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The request's code is not a code.
    #[error("{0}")]
    BadCode(&'static str),
    /// The request names no app served here.
    #[error(transparent)]
    UnknownApp(#[from] UnknownApp),
    /// The platform refused the code, or could not be asked.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// The user is banned (SPEC section 9).
    #[error("the user is banned")]
    Banned,
    /// The login is older than `WXAUTH_SESSION_MAX_AGE`.
    #[error("the login is older than the session's maximum age")]
    Expired,
    /// The token's seal does not open (not one of ours after all).
    #[error("the token's sealed session_key does not open")]
    Unseal,
    /// A token could not be made (the system RNG, or signing, failed).
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// Issues tokens for logins and refreshes.
pub struct Sessions {
    keyring: SharedKeyring,
    issuer: TokenIssuer,
    apps: Arc<Apps>,
    clock: SharedClock,
    max_age: i64,
    revocations: SharedRevocations,
}

impl Sessions {
    /// Sessions signed from `keyring`, logins exchanged with the platform of
    /// each of `apps`, refreshable for `max_age` seconds after login.
    pub fn new(
        keyring: SharedKeyring,
        issuer: TokenIssuer,
        apps: Arc<Apps>,
        clock: SharedClock,
        max_age: i64,
    ) -> Self {
        Self {
            keyring,
            issuer,
            apps,
            clock,
            max_age,
            revocations: SharedRevocations::none(),
        }
    }

    /// Refuses logins of banned users (the openid or unionid the platform
    /// answers with).
    pub fn with_revocations(mut self, revocations: SharedRevocations) -> Self {
        self.revocations = revocations;
        self
    }

    /// Exchanges a login code for a token of the app `appid` (or of the
    /// only app, when the request names none).
    pub async fn login(
        &self,
        code: &str,
        appid: Option<&str>,
    ) -> Result<TokenResponse, SessionError> {
        let app = self.apps.resolve(appid)?;
        let code = LoginCode::parse(code).map_err(SessionError::BadCode)?;
        let session = app.code2session(&code).await.inspect_err(|e| {
            log::warn!("login for {} failed upstream: {e}", app.appid());
        })?;
        {
            let list = self.revocations.load_current();
            let banned = |id: Option<&UserId>| id.is_some_and(|id| list.is_banned(id.as_str()));
            if banned(Some(&session.openid)) || banned(session.unionid.as_ref()) {
                return Err(SessionError::Banned);
            }
        }
        let subject = Subject {
            appid: app.appid(),
            platform: app.platform(),
            openid: session.openid.as_str(),
            unionid: session.unionid.as_ref().map(UserId::as_str),
            session_key: &session.session_key,
            auth_time: self.clock.now(),
        };
        self.issue(&subject)
    }

    /// The same login in a new token with a new `exp` and `jti`, signed (and
    /// sealed) by the current signing key; refused once the login is older
    /// than the maximum age.
    pub fn refresh(&self, token: &VerifiedToken) -> Result<TokenResponse, SessionError> {
        let claims = &token.claims;
        // A token we signed has a sane auth_time, but the arithmetic must not
        // overflow whatever a verified token carries.
        let age = self.clock.now().saturating_sub(claims.auth_time);
        if age > self.max_age {
            return Err(SessionError::Expired);
        }
        let session_key = token.session_key().map_err(|_| SessionError::Unseal)?;
        let subject = Subject {
            appid: &claims.aud,
            platform: claims.plat,
            openid: &claims.sub,
            unionid: claims.unionid.as_deref(),
            session_key: &session_key,
            auth_time: claims.auth_time,
        };
        self.issue(&subject)
    }

    fn issue(&self, subject: &Subject<'_>) -> Result<TokenResponse, SessionError> {
        self.issuer
            .issue(&self.keyring.current(), subject)
            .inspect_err(|e| log::error!("could not issue a token: {e}"))
            .map_err(SessionError::from)
    }
}
