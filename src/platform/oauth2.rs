//! WeChat's web and app logins: `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`,
//! the one code exchange of an official account's H5 pages (web
//! authorization), a website app's QR login and a mobile app's SDK login
//! (developers.weixin.qq.com/doc/service/api/webdev/access/api_snsaccesstoken
//! and the open platform's website and mobile app login guides). The answer
//! carries `openid`, `scope`, an `unionid` when the app is bound to an open
//! platform account (for H5, only with `scope=snsapi_userinfo`), and a user
//! `access_token`/`refresh_token` wxauth does not keep; no session_key.
//! Errors are WeChat's `errcode`s, as for code2Session.

use super::errcode::{api_name, check_errcode};
use super::{AppClient, HasErrcode, PlatformError, Session};
use crate::domain::{LoginCode, UserId};
use serde::Deserialize;

/// The answer as WeChat sends it; unknown fields (the user access token,
/// its refresh token, `expires_in`) are ignored and never held.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: Option<String>,
    openid: Option<String>,
    unionid: Option<String>,
    /// 1 when the user is a "snapshot page" virtual account: WeChat shows
    /// an H5 page it judged to ask for userinfo too early in a read-only
    /// snapshot, and the openid and unionid there are not the user's.
    #[serde(default)]
    is_snapshotuser: i64,
}

impl HasErrcode for Answer {
    fn errcode(&self) -> i64 {
        self.errcode
    }
}

impl AppClient {
    /// The code exchange of WeChat's H5, website and mobile app logins.
    pub(super) async fn oauth2_access_token(
        &self,
        code: &LoginCode,
    ) -> Result<Session, PlatformError> {
        let answer: Answer = self
            .call(
                reqwest::Method::GET,
                "/sns/oauth2/access_token",
                &[
                    ("appid", self.appid()),
                    ("secret", self.secret()),
                    ("code", code.expose()),
                    ("grant_type", "authorization_code"),
                ],
                None,
            )
            .await?;
        check_errcode(
            &api_name(self.platform(), "oauth2/access_token"),
            answer.errcode,
            answer.errmsg.as_deref(),
            &[self.secret(), code.expose()],
        )?;
        if answer.is_snapshotuser == 1 {
            // No token for a virtual account: the user taps "use the full
            // service" and the page starts the login again.
            return Err(PlatformError::UserBlocked);
        }
        let malformed = |what: &str| PlatformError::Malformed(format!("oauth2 answer {what}"));
        let openid = answer.openid.ok_or_else(|| malformed("lacks openid"))?;
        let openid = UserId::parse(&openid).map_err(|_| malformed("has a malformed openid"))?;
        let unionid = match answer.unionid.as_deref() {
            None | Some("") => None,
            Some(id) => Some(UserId::parse(id).map_err(|_| malformed("has a malformed unionid"))?),
        };
        Ok(Session {
            openid,
            session_key: None,
            unionid,
        })
    }
}
