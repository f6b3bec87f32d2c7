//! Baidu smart programs' code exchange: `POST /oauth/jscode2sessionkey`
//! with the form `code`, `client_id` (the app key) and `sk` (the app
//! secret), answered `{"openid","session_key"}` or, as Baidu's OAuth
//! errors are, `{"error","error_description"}` (Baidu's "Session Key"
//! documentation; its error list follows RFC 6749 section 5.2).

use super::errcode::scrub;
use super::{AppClient, HasErrcode, PlatformError, Session};
use crate::domain::LoginCode;
use serde::Deserialize;

/// The answer as Baidu sends it; unknown fields are ignored.
#[derive(Deserialize)]
struct Answer {
    openid: Option<String>,
    session_key: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    #[serde(default)]
    errno: i64,
    errmsg: Option<String>,
}

impl HasErrcode for Answer {
    fn errcode(&self) -> i64 {
        self.errno
    }
}

impl AppClient {
    /// Baidu's code exchange.
    pub(super) async fn baidu_jscode2sessionkey(
        &self,
        code: &LoginCode,
    ) -> Result<Session, PlatformError> {
        let answer: Answer = self
            .post_form(
                "/oauth/jscode2sessionkey",
                &[
                    ("code", code.expose()),
                    ("client_id", self.appid()),
                    ("sk", self.secret()),
                ],
            )
            .await?;
        let secrets = [self.secret(), code.expose()];
        match (answer.error.as_deref(), answer.errno) {
            (None, 0) => {}
            // RFC 6749 section 5.2: the code is invalid, expired or used.
            (Some("invalid_grant"), _) => return Err(PlatformError::InvalidCode),
            (error, errno) => {
                let error_name = error.unwrap_or("");
                let cause = match error_name {
                    "invalid_client" => {
                        "Baidu refused the app key or secret: check appid and the secret"
                    }
                    "unauthorized_client" => "the app may not use this API",
                    _ => "not an error wxauth knows",
                };
                let rejected = PlatformError::Rejected {
                    errcode: errno,
                    cause: format!("Baidu {} ({cause})", scrub(error_name, &secrets)),
                };
                let description = answer.error_description.or(answer.errmsg);
                log::error!(
                    "Baidu jscode2sessionkey for {} failed: {rejected} (description: {:?})",
                    self.appid(),
                    scrub(description.as_deref().unwrap_or(""), &secrets)
                );
                return Err(rejected);
            }
        }
        Session::from_answer(answer.openid, answer.session_key, None)
    }
}
