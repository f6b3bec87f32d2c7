//! Douyin's code exchange: `POST /api/apps/v2/jscode2session` with a JSON
//! body `{"appid","secret","code"}`, answered
//! `{"err_no","err_tips","data":{"session_key","openid","anonymous_openid","unionid"}}`
//! (as public SDKs call it; see the README's platform table). `err_no` -1
//! is busy (retried), 40018 a bad code.

use super::errcode::check_err_no;
use super::{AppClient, HasErrcode, PlatformError, Session};
use crate::domain::LoginCode;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

/// The answer as Douyin sends it; unknown fields are ignored.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    err_no: i64,
    #[serde(default)]
    err_tips: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    openid: Option<String>,
    session_key: Option<String>,
    unionid: Option<String>,
}

impl HasErrcode for Answer {
    fn errcode(&self) -> i64 {
        self.err_no
    }
}

impl AppClient {
    /// Douyin's code exchange.
    pub(super) async fn douyin_jscode2session(
        &self,
        code: &LoginCode,
    ) -> Result<Session, PlatformError> {
        let body = json!({"appid": self.appid(), "secret": self.secret(), "code": code.expose()});
        let answer: Answer = self
            .call(
                Method::POST,
                "/api/apps/v2/jscode2session",
                &[],
                Some(&body),
            )
            .await?;
        check_err_no(
            answer.err_no,
            answer.err_tips.as_deref(),
            &[self.secret(), code.expose()],
        )?;
        let data = answer
            .data
            .ok_or_else(|| PlatformError::Malformed("code exchange answer lacks data".into()))?;
        // An `anonymousCode` (a device id, for users not logged in to Douyin)
        // exchanges for an anonymous_openid and an empty openid: the client
        // sent the wrong code; no token is issued for a device.
        if data.openid.as_deref() == Some("") {
            return Err(PlatformError::InvalidCode);
        }
        Session::from_answer(data.openid, data.session_key, data.unionid)
    }
}
