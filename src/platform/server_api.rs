//! WeChat server APIs called with the access token: the phone number of a
//! `getPhoneNumber` code, and whether a session_key is still current.

use super::errcode::check_errcode;
use super::{AppClient, HasErrcode, PlatformError};
use crate::domain::SessionKey;
use aws_lc_rs::hmac;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

/// checkSessionKey's errcode for "not the user's current session_key".
const NOT_CURRENT_SESSION_KEY: i64 = 87009;

#[derive(Deserialize)]
struct PhoneAnswer {
    #[serde(default)]
    errcode: i64,
    errmsg: Option<String>,
    phone_info: Option<Value>,
}

impl HasErrcode for PhoneAnswer {
    fn errcode(&self) -> i64 {
        self.errcode
    }
}

#[derive(Deserialize)]
struct PlainAnswer {
    #[serde(default)]
    errcode: i64,
    errmsg: Option<String>,
}

impl HasErrcode for PlainAnswer {
    fn errcode(&self) -> i64 {
        self.errcode
    }
}

impl AppClient {
    /// `POST /wxa/business/getuserphonenumber`: the phone number behind a
    /// code from `<button open-type="getPhoneNumber">`, for the user `openid`.
    /// Answers WeChat's `phone_info`, whose watermark must name our appid.
    pub async fn phone_number(&self, code: &str, openid: &str) -> Result<Value, PlatformError> {
        self.require_wechat()?;
        let body = json!({"code": code, "openid": openid});
        let answer: PhoneAnswer = self
            .with_access_token(|token| {
                let body = &body;
                async move {
                    self.call(
                        Method::POST,
                        "/wxa/business/getuserphonenumber",
                        &[("access_token", token.expose_secret())],
                        Some(body),
                    )
                    .await
                }
            })
            .await?;
        check_errcode(
            "getuserphonenumber",
            answer.errcode,
            answer.errmsg.as_deref(),
            &[code, self.secret()],
        )?;
        let info = answer
            .phone_info
            .filter(|info| {
                info.get("phoneNumber")
                    .is_some_and(serde_json::Value::is_string)
            })
            .ok_or_else(|| {
                PlatformError::Malformed("getuserphonenumber answer lacks phone_info".into())
            })?;
        match info
            .pointer("/watermark/appid")
            .and_then(serde_json::Value::as_str)
        {
            Some(appid) if appid != self.appid() => Err(PlatformError::Malformed(
                "getuserphonenumber answer is watermarked for another appid".into(),
            )),
            _ => Ok(info),
        }
    }

    /// `GET /wxa/checksession`: whether `session_key` is still the user's
    /// current one. The signature is HMAC-SHA256 keyed with the session_key's
    /// base64 *text* over the empty message, in lowercase hex.
    pub async fn check_session(
        &self,
        openid: &str,
        session_key: &SessionKey,
    ) -> Result<bool, PlatformError> {
        self.require_wechat()?;
        let signature = session_signature(session_key);
        let answer: PlainAnswer = self
            .with_access_token(|token| {
                let signature = &signature;
                async move {
                    self.call(
                        Method::GET,
                        "/wxa/checksession",
                        &[
                            ("access_token", token.expose_secret()),
                            ("openid", openid),
                            ("signature", signature),
                            ("sig_method", "hmac_sha256"),
                        ],
                        None,
                    )
                    .await
                }
            })
            .await?;
        if answer.errcode == NOT_CURRENT_SESSION_KEY {
            return Ok(false);
        }
        check_errcode(
            "checksession",
            answer.errcode,
            answer.errmsg.as_deref(),
            &[&signature, self.secret()],
        )?;
        Ok(true)
    }
}

/// checkSessionKey's signature of a session_key.
pub fn session_signature(session_key: &SessionKey) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, session_key.expose().as_bytes());
    hex::encode(hmac::sign(&key, b"").as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_signature_keys_hmac_with_the_base64_text() {
        // HMAC-SHA256(key = "tiihtNczf5v6AKRyjwEUhQ==", message = ""), as
        // `printf '' | openssl dgst -sha256 -hmac 'tiihtNczf5v6AKRyjwEUhQ=='`.
        let key = SessionKey::parse("tiihtNczf5v6AKRyjwEUhQ==").unwrap();
        assert_eq!(session_signature(&key), OPENSSL_HMAC);
    }

    const OPENSSL_HMAC: &str = "7154f9f8b4b76b92f541cbf0e37d48840fa06e5e42da92a6f80168a1516a4735";
}
