//! The mini-program's side: what `wx.login()` (`qq.login()`, `tt.login()`)
//! and the `getPhoneNumber` button give the app, and the encrypted user data
//! the platform hands it.

use super::{AppUser, MAX_USERS, Simulator, issue_code, simulated_app};
use crate::domain::SessionKey;
use crate::error::ApiError;
use crate::platform::{Platform, baidu_encrypt_user_data, encrypt_user_data};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

impl Simulator {
    /// A login of `user` in the simulated app `appid` (the WeChat one when
    /// none): a fresh code, and a fresh session_key that replaces the user's
    /// previous one in that app.
    pub(super) fn login(&self, user: &str, appid: Option<&str>) -> Result<String, ApiError> {
        let (platform, appid) = simulated_app(appid)?;
        let now = self.clock.now();
        let who = AppUser {
            appid,
            user: user.to_owned(),
        };
        let mut state = self.state()?;
        if state.session_keys.len() >= MAX_USERS && !state.session_keys.contains_key(&who) {
            return Err(ApiError::Overloaded);
        }
        let code = issue_code(&mut state.login_codes, who.clone(), now)?;
        // Baidu's session_key is an AES-192 key; Feishu's is not a key at
        // all (its documentation's sample is 30 hex characters).
        let session_key = match platform {
            Platform::Baidu => STANDARD.encode(rand::random::<[u8; 24]>()),
            Platform::Feishu => hex::encode(rand::random::<[u8; 15]>()),
            _ => STANDARD.encode(rand::random::<[u8; 16]>()),
        };
        state.session_keys.insert(who.clone(), session_key);
        state.users.insert(super::app_openid(&who.appid, user), who);
        Ok(code)
    }

    /// The `getPhoneNumber` button for `user`: a fresh single-use phone code
    /// (WeChat apps only, as on the platforms).
    pub(super) fn phone_code(&self, user: &str, appid: Option<&str>) -> Result<String, ApiError> {
        let (platform, appid) = simulated_app(appid)?;
        if platform != Platform::Wechat {
            return Err(ApiError::UnsupportedPlatform(platform.display_name()));
        }
        let now = self.clock.now();
        let who = AppUser {
            appid,
            user: user.to_owned(),
        };
        issue_code(&mut self.state()?.phone_codes, who, now)
    }

    /// User data as the platform gives it to the mini-program: `data` with
    /// a watermark of the app added, encrypted under the user's current
    /// session_key in that app.
    pub(super) fn encrypt(
        &self,
        user: &str,
        appid: Option<&str>,
        mut data: serde_json::Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let (platform, appid) = simulated_app(appid)?;
        let who = AppUser {
            appid,
            user: user.to_owned(),
        };
        match platform {
            Platform::Alipay => return self.alipay_phone_response(&data),
            Platform::Feishu => {
                return Err(ApiError::UnsupportedPlatform(platform.display_name()));
            }
            _ => {}
        }
        let session_key = self
            .state()?
            .session_keys
            .get(&who)
            .cloned()
            .ok_or_else(|| {
                ApiError::InvalidRequest(
                    "this user has not logged in to this app (POST /sim/login first)".into(),
                )
            })?;
        let session_key = SessionKey::parse(&session_key).map_err(|_| ApiError::Internal)?;
        if platform == Platform::Baidu {
            // Baidu names the app by its key inside the plaintext, not by a
            // watermark.
            data.insert("openid".into(), super::app_openid(&who.appid, user).into());
            let content = serde_json::to_vec(&data).map_err(|_| ApiError::Internal)?;
            let (encrypted_data, iv) = baidu_encrypt_user_data(&session_key, &content, &who.appid)
                .ok_or(ApiError::Internal)?;
            return Ok(json!({"encryptedData": encrypted_data, "iv": iv}));
        }
        if platform == Platform::Kuaishou {
            // Kuaishou's user data carries no watermark.
            let plaintext = serde_json::to_vec(&data).map_err(|_| ApiError::Internal)?;
            let (encrypted_data, iv) =
                encrypt_user_data(&session_key, &plaintext).ok_or(ApiError::Internal)?;
            return Ok(json!({"encryptedData": encrypted_data, "iv": iv}));
        }
        data.insert(
            "watermark".into(),
            json!({"appid": who.appid, "timestamp": self.clock.now()}),
        );
        let plaintext = serde_json::to_vec(&data).map_err(|_| ApiError::Internal)?;
        let (encrypted_data, iv) =
            encrypt_user_data(&session_key, &plaintext).ok_or(ApiError::Internal)?;
        Ok(json!({"encryptedData": encrypted_data, "iv": iv}))
    }
}
