//! `GET /sns/jscode2session` (WeChat, and QQ, whose API is the same): a
//! login code for the user's openid and session_key.

use super::errcode::{api_name, check_errcode};
use super::{AppClient, HasErrcode, PlatformError};
use crate::domain::{LoginCode, SessionKey, UserId};
use serde::Deserialize;

/// What one successful code exchange established.
#[derive(Debug)]
pub struct Session {
    /// The user's openid.
    pub openid: UserId,
    /// The platform's session_key for this login; none for WeChat's web
    /// and app logins, Alipay and Feishu (see their modules).
    pub session_key: Option<SessionKey>,
    /// The unionid, when the app is bound to an Open Platform account.
    pub unionid: Option<UserId>,
}

/// The answer as WeChat sends it; unknown fields are ignored.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: Option<String>,
    openid: Option<String>,
    session_key: Option<String>,
    unionid: Option<String>,
}

impl HasErrcode for Answer {
    fn errcode(&self) -> i64 {
        self.errcode
    }
}

impl AppClient {
    /// WeChat's (and QQ's) code exchange.
    pub(super) async fn jscode2session(&self, code: &LoginCode) -> Result<Session, PlatformError> {
        let answer: Answer = self
            .call(
                reqwest::Method::GET,
                "/sns/jscode2session",
                &[
                    ("appid", self.appid()),
                    ("secret", self.secret()),
                    ("js_code", code.expose()),
                    ("grant_type", "authorization_code"),
                ],
                None,
            )
            .await?;
        check_errcode(
            &api_name(self.platform(), "code2Session"),
            answer.errcode,
            answer.errmsg.as_deref(),
            &[self.secret(), code.expose()],
        )?;
        Session::from_answer(answer.openid, answer.session_key, answer.unionid)
    }
}

impl Session {
    /// The session in a platform's answer, each field checked; an empty
    /// unionid (Douyin sends one) is no unionid.
    pub(super) fn from_answer(
        openid: Option<String>,
        session_key: Option<String>,
        unionid: Option<String>,
    ) -> Result<Self, PlatformError> {
        let malformed =
            |what: &str| PlatformError::Malformed(format!("code exchange answer {what}"));
        let openid = openid.ok_or_else(|| malformed("lacks openid"))?;
        let openid = UserId::parse(&openid).map_err(|_| malformed("has a malformed openid"))?;
        let session_key = session_key.ok_or_else(|| malformed("lacks session_key"))?;
        let session_key = SessionKey::parse(&session_key)
            .map_err(|_| malformed("has a malformed session_key"))?;
        let unionid = match unionid.as_deref() {
            None | Some("") => None,
            Some(id) => Some(UserId::parse(id).map_err(|_| malformed("has a malformed unionid"))?),
        };
        Ok(Self {
            openid,
            session_key: Some(session_key),
            unionid,
        })
    }
}
