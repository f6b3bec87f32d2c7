//! Feishu (Lark) gadgets' code exchange: `POST /open-apis/mina/v2/tokenLoginValidate`
//! `{"code"}` with `Authorization: Bearer <app_access_token>`, answered
//! `{"code":0,"msg","data":{"open_id","session_key","tenant_key",...}}`
//! (Feishu's "code2session" documentation). The app access token comes from
//! `POST /open-apis/auth/v3/app_access_token/internal` `{"app_id","app_secret"}`
//! (`{"code":0,"app_access_token","expire"}`), cached per app like WeChat's
//! (see [`super::access_token`]).
//!
//! Feishu's documentation says `data.union_id` is deprecated and is *not*
//! the open platform's Union ID: wxauth does not carry it. Its
//! `session_key` is not an AES key (the documented sample is 30 hex
//! characters) and Feishu documents no user-data decryption for gadgets, so
//! no session_key is sealed and `/wx/decrypt` answers `unsupported_platform`.

use super::errcode::scrub;
use super::{AppClient, HasErrcode, PlatformError, Session};
use crate::domain::{LoginCode, UserId};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

/// tokenLoginValidate: "access token invalid".
const ACCESS_TOKEN_INVALID: i64 = 10202;
/// tokenLoginValidate: "code appid not match": the code is not this app's,
/// or was used, or expired.
const CODE_NOT_MATCH: i64 = 10213;
/// tokenLoginValidate: "user to app has no visibility".
const NOT_VISIBLE: i64 = 10228;

/// Codes that mean the app access token itself was refused: tokenLoginValidate's
/// own, and the open platform's "invalid access token" (99991663) and
/// "missing access token" (99991661).
pub(super) fn token_refused(code: i64) -> bool {
    matches!(code, ACCESS_TOKEN_INVALID | 99991661 | 99991663)
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    code: i64,
    msg: Option<String>,
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    open_id: Option<String>,
}

impl HasErrcode for Answer {
    fn errcode(&self) -> i64 {
        self.code
    }
}

#[derive(Deserialize)]
struct AppAccessToken {
    #[serde(default)]
    code: i64,
    msg: Option<String>,
    app_access_token: Option<String>,
    expire: Option<i64>,
}

impl HasErrcode for AppAccessToken {
    fn errcode(&self) -> i64 {
        self.code
    }
}

impl AppClient {
    /// Feishu's code exchange.
    pub(super) async fn feishu_token_login_validate(
        &self,
        code: &LoginCode,
    ) -> Result<Session, PlatformError> {
        let body = json!({"code": code.expose()});
        let answer: Answer = self
            .with_access_token(|token| {
                let body = &body;
                async move {
                    self.post_json_bearer(
                        "/open-apis/mina/v2/tokenLoginValidate",
                        body,
                        token.expose_secret(),
                    )
                    .await
                }
            })
            .await?;
        match answer.code {
            0 => {}
            CODE_NOT_MATCH => return Err(PlatformError::InvalidCode),
            NOT_VISIBLE => return Err(PlatformError::UserBlocked),
            other => {
                let cause = if token_refused(other) {
                    "the app access token was refused even after a refresh"
                } else {
                    "not a code wxauth knows"
                };
                let error = PlatformError::Rejected {
                    errcode: other,
                    cause: cause.into(),
                };
                log::error!(
                    "Feishu tokenLoginValidate for {} failed: {error} (msg: {:?})",
                    self.appid(),
                    scrub(answer.msg.as_deref().unwrap_or(""), &[code.expose()])
                );
                return Err(error);
            }
        }
        let open_id = answer.data.and_then(|data| data.open_id).ok_or_else(|| {
            PlatformError::Malformed("tokenLoginValidate answer lacks open_id".into())
        })?;
        let openid = UserId::parse(&open_id).map_err(|_| {
            PlatformError::Malformed("tokenLoginValidate answer has a malformed open_id".into())
        })?;
        Ok(Session {
            openid,
            session_key: None,
            unionid: None,
        })
    }

    /// One `POST /open-apis/auth/v3/app_access_token/internal`: the token
    /// and its lifetime.
    pub(super) async fn fetch_app_access_token(
        &self,
    ) -> Result<(SecretString, i64), PlatformError> {
        let body = json!({"app_id": self.appid(), "app_secret": self.secret()});
        let answer: AppAccessToken = self
            .call(
                reqwest::Method::POST,
                "/open-apis/auth/v3/app_access_token/internal",
                &[],
                Some(&body),
            )
            .await?;
        if answer.code != 0 {
            let error = PlatformError::Rejected {
                errcode: answer.code,
                cause: "Feishu refused app_id or app_secret: check the app's appid and secret"
                    .into(),
            };
            log::error!(
                "Feishu app_access_token for {} failed: {error} (msg: {:?})",
                self.appid(),
                scrub(answer.msg.as_deref().unwrap_or(""), &[self.secret()])
            );
            return Err(error);
        }
        match (answer.app_access_token, answer.expire) {
            (Some(token), Some(expire)) if !token.is_empty() && expire > 0 => Ok((
                SecretString::from(token),
                expire.min(super::access_token::MAX_LIFETIME),
            )),
            _ => Err(PlatformError::Malformed(
                "app_access_token answer lacks app_access_token or expire".into(),
            )),
        }
    }
}
