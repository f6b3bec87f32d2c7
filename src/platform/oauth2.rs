//! WeChat's web and app logins:
//! `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`,
//! the one code exchange of an official account's H5 pages (web
//! authorization), a website app's QR login and a mobile app's SDK login
//! (developers.weixin.qq.com/doc/service/api/webdev/access/api_snsaccesstoken
//! and the open platform's website and mobile app login guides). The answer
//! carries `openid`, `scope`, an `unionid` when the app is bound to an open
//! platform account (for H5, only with `scope=snsapi_userinfo`), and a user
//! `access_token`/`refresh_token` wxauth does not keep; no session_key.
//! Errors are WeChat's `errcode`s, as for code2Session: the call and its
//! answer are code2session.rs's, only the snapshot-user refusal is here.

use super::{AppClient, PlatformError, Session};
use crate::domain::LoginCode;

impl AppClient {
    /// The code exchange of WeChat's H5, website and mobile app logins.
    pub(super) async fn oauth2_access_token(
        &self,
        code: &LoginCode,
    ) -> Result<Session, PlatformError> {
        let answer = self
            .wechat_exchange(
                "/sns/oauth2/access_token",
                "code",
                "oauth2/access_token",
                code,
            )
            .await?;
        if answer.is_snapshotuser == 1 {
            // No token for a virtual account: the user taps "use the full
            // service" and the page starts the login again.
            return Err(PlatformError::UserBlocked);
        }
        Session::without_session_key("oauth2 answer", answer.openid, answer.unionid)
    }
}
