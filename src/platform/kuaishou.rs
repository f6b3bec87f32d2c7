//! Kuaishou's code exchange: `POST /oauth2/mp/code2session` with the form
//! `app_id`, `app_secret`, `js_code`, answered
//! `{"result":1,"open_id","session_key"}`; any other `result` is an error,
//! with `error` and `error_msg` (Kuaishou's mini-program server docs,
//! "code2Session" and "接口调用凭证": 100200100 bad parameters, 100200101
//! bad app_id or app_secret). Kuaishou's open platform is OAuth 2, whose
//! error for a bad, expired or used code is `invalid_grant` (RFC 6749
//! section 5.2).

use super::errcode::scrub;
use super::{AppClient, HasErrcode, PlatformError, Session};
use crate::domain::LoginCode;
use serde::Deserialize;

/// `result` on success.
const OK: i64 = 1;

/// The answer as Kuaishou sends it; unknown fields are ignored.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    result: i64,
    error: Option<String>,
    error_msg: Option<String>,
    open_id: Option<String>,
    session_key: Option<String>,
}

impl HasErrcode for Answer {
    /// 0 for success (`result` 1 on Kuaishou), else non-zero: the result
    /// itself, or 2 for an answer that has none.
    fn errcode(&self) -> i64 {
        match self.result {
            OK => 0,
            0 => 2,
            other => other,
        }
    }
}

impl AppClient {
    /// Kuaishou's code exchange.
    pub(super) async fn kuaishou_code2session(
        &self,
        code: &LoginCode,
    ) -> Result<Session, PlatformError> {
        let answer: Answer = self
            .post_form(
                "/oauth2/mp/code2session",
                &[
                    ("app_id", self.appid()),
                    ("app_secret", self.secret()),
                    ("js_code", code.expose()),
                ],
            )
            .await?;
        if answer.result == OK {
            return Session::from_answer(answer.open_id, answer.session_key, None);
        }
        if answer.error.as_deref() == Some("invalid_grant") {
            return Err(PlatformError::InvalidCode);
        }
        let secrets = [self.secret(), code.expose()];
        let cause = match answer.result {
            100200100 => "bad parameters in the request",
            100200101 => "Kuaishou refused app_id or app_secret: check the app's appid and secret",
            _ => "not a result wxauth knows",
        };
        let error = PlatformError::Rejected {
            errcode: answer.result,
            cause: format!(
                "Kuaishou {} ({cause})",
                scrub(answer.error.as_deref().unwrap_or(""), &secrets)
            ),
        };
        log::error!(
            "Kuaishou code2session for {} failed: {error} (error_msg: {:?})",
            self.appid(),
            scrub(answer.error_msg.as_deref().unwrap_or(""), &secrets)
        );
        Err(error)
    }
}
