//! Logins and refreshes: the rules of a session, in one place the handlers
//! call. A login exchanges a one-time code with the platform and issues a
//! token; a refresh issues a new token for the same login, signed by the
//! current key, until the login is `WXAUTH_SESSION_MAX_AGE` old.

use crate::apps::{Apps, UnknownApp};
use crate::clock::SharedClock;
use crate::domain::{LoginCode, UserId};
use crate::keyring::SharedKeyring;
use crate::platform::{Platform, PlatformError};
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
    /// A web login's `state` is missing, forged, expired, another app's or
    /// another redirect_uri's.
    #[error(transparent)]
    State(#[from] crate::weblogin::StateError),
    /// `/auth/authorize` refused: not a web app, a scope it does not take,
    /// or a redirect_uri outside the app's list.
    #[error("{0}")]
    Authorize(String),
    /// The user is banned (docs/API.md, "Revocation and bans").
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

/// One login request.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// The one-time code.
    pub code: &'a str,
    /// The app, when the request names one.
    pub appid: Option<&'a str>,
    /// The signed state that came back with the code (web logins).
    pub state: Option<&'a str>,
    /// The redirect_uri the login started with, when the page sends it.
    pub redirect_uri: Option<&'a str>,
}

/// Issues tokens for logins and refreshes.
pub struct Sessions {
    keyring: SharedKeyring,
    issuer: TokenIssuer,
    apps: Arc<Apps>,
    clock: SharedClock,
    max_age: i64,
    revocations: SharedRevocations,
    /// Where `/auth/authorize` sends browsers: WeChat's pages, or the
    /// simulator's (a path on this server).
    authorize_base: String,
}

/// WeChat's authorize pages (the H5 one and the website QR one).
pub const WECHAT_AUTHORIZE_BASE: &str = "https://open.weixin.qq.com";

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
            authorize_base: WECHAT_AUTHORIZE_BASE.to_owned(),
        }
    }

    /// Sends `/auth/authorize`'s browsers to the authorize pages under
    /// `base` instead of WeChat's (the simulator's, `/sim`).
    pub fn with_authorize_base(mut self, base: impl Into<String>) -> Self {
        self.authorize_base = base.into();
        self
    }

    /// Where a web login starts: the URL of WeChat's authorize page (H5) or
    /// QR page (website) for the app `appid`, returning to `redirect_uri`
    /// (which must be under one of the app's `redirect_uris`), with a fresh
    /// signed `state`. Parameters in the order WeChat's guides give them
    /// (its page is known to refuse others), `#wechat_redirect` last.
    pub fn authorize(
        &self,
        appid: Option<&str>,
        redirect_uri: &str,
        scope: Option<&str>,
    ) -> Result<String, SessionError> {
        let app = self.apps.resolve(appid)?;
        let refuse = |message: String| SessionError::Authorize(message);
        let (page, scope) = match (app.platform(), scope) {
            (Platform::WechatH5, None) => ("/connect/oauth2/authorize", "snsapi_userinfo"),
            (Platform::WechatH5, Some(scope @ ("snsapi_base" | "snsapi_userinfo"))) => {
                ("/connect/oauth2/authorize", scope)
            }
            (Platform::WechatWeb, None | Some("snsapi_login")) => {
                ("/connect/qrconnect", "snsapi_login")
            }
            (Platform::WechatH5 | Platform::WechatWeb, Some(_)) => {
                return Err(refuse(format!(
                    "scope must be {} for a {} app",
                    match app.platform() {
                        Platform::WechatH5 => "snsapi_base or snsapi_userinfo",
                        _ => "snsapi_login",
                    },
                    app.platform()
                )));
            }
            (other, _) => {
                return Err(refuse(format!(
                    "{} is a {other} app: /auth/authorize serves wechat_h5 and wechat_web apps",
                    app.appid()
                )));
            }
        };
        let redirect =
            crate::weblogin::check_redirect(app.redirect_uris(), redirect_uri).map_err(refuse)?;
        let keyring = self.keyring.current();
        let state = crate::weblogin::issue_state(
            keyring.signing(),
            app.appid(),
            redirect.as_str(),
            self.clock.now(),
        );
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("appid", app.appid())
            .append_pair("redirect_uri", redirect.as_str())
            .append_pair("response_type", "code")
            .append_pair("scope", scope)
            .append_pair("state", &state)
            .finish();
        Ok(format!(
            "{}{page}?{query}#wechat_redirect",
            self.authorize_base
        ))
    }

    /// Refuses logins of banned users (the openid or unionid the platform
    /// answers with).
    pub fn with_revocations(mut self, revocations: SharedRevocations) -> Self {
        self.revocations = revocations;
        self
    }

    /// A login as `/auth/login` receives it. For the apps whose code comes
    /// back from WeChat's authorize page (`wechat_h5`, `wechat_web`), the
    /// signed `state` is checked first, before the code is spent.
    pub async fn login_with(&self, login: &Login<'_>) -> Result<TokenResponse, SessionError> {
        let app = self.apps.resolve(login.appid)?;
        let code = LoginCode::parse(login.code).map_err(SessionError::BadCode)?;
        if app.platform().needs_state() {
            crate::weblogin::check_state(
                &self.keyring.current(),
                login.state,
                app.appid(),
                login.redirect_uri,
                self.clock.now(),
            )
            .inspect_err(|e| log::debug!("login for {} refused: {e}", app.appid()))?;
        }
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
            session_key: session.session_key.as_ref(),
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
        let session_key = token
            .optional_session_key()
            .map_err(|_| SessionError::Unseal)?;
        let subject = Subject {
            appid: &claims.aud,
            platform: claims.plat,
            openid: &claims.sub,
            unionid: claims.unionid.as_deref(),
            session_key: session_key.as_ref(),
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
