//! `GET /sns/jscode2session`: a `wx.login()` code for the user's openid and
//! session_key.

use super::{HasErrcode, WeChatClient, WeChatError, check_errcode};
use crate::domain::{LoginCode, SessionKey, WeChatId};
use serde::Deserialize;

/// What one successful code2Session established.
#[derive(Debug)]
pub struct Session {
    /// The user's openid.
    pub openid: WeChatId,
    /// WeChat's session_key for this login.
    pub session_key: SessionKey,
    /// The unionid, when the app is bound to an Open Platform account.
    pub unionid: Option<WeChatId>,
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

impl WeChatClient {
    /// Exchanges a login code (one call; only `-1` is retried).
    pub async fn code2session(&self, code: &LoginCode) -> Result<Session, WeChatError> {
        let answer: Answer = self
            .call(
                reqwest::Method::GET,
                "/sns/jscode2session",
                &[
                    ("appid", &self.appid),
                    ("secret", self.secret()),
                    ("js_code", code.expose()),
                    ("grant_type", "authorization_code"),
                ],
                None,
            )
            .await?;
        check_errcode(
            "code2Session",
            answer.errcode,
            answer.errmsg.as_deref(),
            &[self.secret(), code.expose()],
        )?;
        let malformed = |what: &str| WeChatError::Malformed(format!("code2Session answer {what}"));
        let openid = answer.openid.ok_or_else(|| malformed("lacks openid"))?;
        let openid = WeChatId::parse(&openid).map_err(|_| malformed("has a malformed openid"))?;
        let session_key = answer
            .session_key
            .ok_or_else(|| malformed("lacks session_key"))?;
        let session_key = SessionKey::parse(&session_key)
            .map_err(|_| malformed("has a malformed session_key"))?;
        let unionid = match answer.unionid.as_deref() {
            None | Some("") => None,
            Some(id) => {
                Some(WeChatId::parse(id).map_err(|_| malformed("has a malformed unionid"))?)
            }
        };
        Ok(Session {
            openid,
            session_key,
            unionid,
        })
    }
}
