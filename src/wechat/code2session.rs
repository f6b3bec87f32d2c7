//! `GET /sns/jscode2session`: a `wx.login()` code for the user's openid and
//! session_key.

use super::{HasErrcode, WeChatClient, WeChatError, operator_cause};
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
            .get_json(
                "/sns/jscode2session",
                &[
                    ("appid", &self.appid),
                    ("secret", self.secret()),
                    ("js_code", code.expose()),
                    ("grant_type", "authorization_code"),
                ],
            )
            .await?;
        match answer.errcode {
            0 => {}
            40029 => return Err(WeChatError::InvalidCode),
            40163 => return Err(WeChatError::CodeUsed),
            45011 => return Err(WeChatError::RateLimited),
            40226 => return Err(WeChatError::UserBlocked),
            errcode => {
                let error = WeChatError::Rejected {
                    errcode,
                    cause: operator_cause(errcode).to_owned(),
                };
                // An operator error. WeChat's errmsg carries the `rid` its
                // support asks for; it is text we do not control, so it is
                // cut short and scrubbed of our secret and the code.
                let errmsg = scrub(
                    answer.errmsg.as_deref().unwrap_or(""),
                    &[self.secret(), code.expose()],
                );
                log::error!("code2Session failed: {error} (errmsg: {errmsg:?})");
                return Err(error);
            }
        }
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

/// `text` cut to 200 characters, with every occurrence of `secrets` replaced.
fn scrub(text: &str, secrets: &[&str]) -> String {
    // Replace first, then cut, so a secret at the cut cannot leave a prefix.
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "[REDACTED]");
    }
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn scrub_removes_secrets_and_bounds_length() {
        assert_eq!(
            super::scrub("bad secret s3cr3t rid: 1", &["s3cr3t", ""]),
            "bad secret [REDACTED] rid: 1"
        );
        assert_eq!(super::scrub(&"x".repeat(500), &[]).len(), 200);
    }
}
