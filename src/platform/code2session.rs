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

/// The answer of WeChat's two code exchanges (`/sns/jscode2session` and
/// `/sns/oauth2/access_token`) as WeChat sends it; unknown fields (the web
/// logins' user access token, its refresh token, `expires_in`) are ignored
/// and never held.
#[derive(Deserialize)]
pub(super) struct Answer {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: Option<String>,
    pub(super) openid: Option<String>,
    pub(super) session_key: Option<String>,
    pub(super) unionid: Option<String>,
    /// 1 when the user is a "snapshot page" virtual account: WeChat shows
    /// an H5 page it judged to ask for userinfo too early in a read-only
    /// snapshot, and the openid and unionid there are not the user's.
    #[serde(default)]
    pub(super) is_snapshotuser: i64,
}

impl HasErrcode for Answer {
    fn errcode(&self) -> i64 {
        self.errcode
    }
}

impl AppClient {
    /// WeChat's (and QQ's) code exchange.
    pub(super) async fn jscode2session(&self, code: &LoginCode) -> Result<Session, PlatformError> {
        let answer = self
            .wechat_exchange("/sns/jscode2session", "js_code", "code2Session", code)
            .await?;
        Session::from_answer(answer.openid, answer.session_key, answer.unionid)
    }

    /// Exchanges `code` (sent as `code_field`) at WeChat's `path`, and
    /// checks the answer's errcode under the API name `api`.
    pub(super) async fn wechat_exchange(
        &self,
        path: &str,
        code_field: &str,
        api: &str,
        code: &LoginCode,
    ) -> Result<Answer, PlatformError> {
        let answer: Answer = self
            .call(
                reqwest::Method::GET,
                path,
                &[
                    ("appid", self.appid()),
                    ("secret", self.secret()),
                    (code_field, code.expose()),
                    ("grant_type", "authorization_code"),
                ],
                None,
            )
            .await?;
        check_errcode(
            &api_name(self.platform(), api),
            answer.errcode,
            answer.errmsg.as_deref(),
            &[self.secret(), code.expose()],
        )?;
        Ok(answer)
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
        let openid = parse_openid(openid, malformed)?;
        let session_key = session_key.ok_or_else(|| malformed("lacks session_key"))?;
        let session_key = SessionKey::parse(&session_key)
            .map_err(|_| malformed("has a malformed session_key"))?;
        Ok(Self {
            openid,
            session_key: Some(session_key),
            unionid: parse_unionid(unionid.as_deref(), malformed)?,
        })
    }

    /// The session of a login that has no session_key (WeChat's web and app
    /// logins), its ids checked as [`Session::from_answer`] does; `answer`
    /// names the answer in messages.
    pub(super) fn without_session_key(
        answer: &str,
        openid: Option<String>,
        unionid: Option<String>,
    ) -> Result<Self, PlatformError> {
        let malformed = |what: &str| PlatformError::Malformed(format!("{answer} {what}"));
        Ok(Self {
            openid: parse_openid(openid, malformed)?,
            session_key: None,
            unionid: parse_unionid(unionid.as_deref(), malformed)?,
        })
    }
}

/// The answer's openid, which must be there.
fn parse_openid(
    openid: Option<String>,
    malformed: impl Fn(&str) -> PlatformError,
) -> Result<UserId, PlatformError> {
    let openid = openid.ok_or_else(|| malformed("lacks openid"))?;
    UserId::parse(&openid).map_err(|_| malformed("has a malformed openid"))
}

/// The answer's unionid; empty (Douyin sends one) is none.
fn parse_unionid(
    unionid: Option<&str>,
    malformed: impl Fn(&str) -> PlatformError,
) -> Result<Option<UserId>, PlatformError> {
    match unionid {
        None | Some("") => Ok(None),
        Some(id) => UserId::parse(id)
            .map(Some)
            .map_err(|_| malformed("has a malformed unionid")),
    }
}
