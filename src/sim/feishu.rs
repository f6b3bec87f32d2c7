//! The simulated Feishu open platform: `app_access_token/internal` (one
//! token, the same for every caller until shortly before it expires) and
//! the gadget's `tokenLoginValidate`, which wants it as a bearer token.

use super::{
    ACCESS_TOKEN_LIFETIME, AccessToken, Simulator, app_openid, platform_of, redeem, unionid_of,
};
use crate::config::SIMULATOR_SECRET;
use crate::platform::Platform;
use serde_json::{Value, json};

fn feishu_error(code: i64, msg: &str) -> Value {
    json!({"code": code, "msg": msg})
}

impl Simulator {
    pub(super) fn feishu_app_access_token(&self, body: &Value) -> Value {
        let appid = body["app_id"].as_str().unwrap_or("");
        if platform_of(appid) != Some(Platform::Feishu) {
            return feishu_error(10003, "invalid app_id");
        }
        if body["app_secret"].as_str() != Some(SIMULATOR_SECRET) {
            return feishu_error(10014, "app secret invalid");
        }
        let now = self.clock.now();
        let Ok(mut state) = self.state.lock() else {
            return feishu_error(-1, "busy");
        };
        let current = state
            .feishu_token
            .as_ref()
            .filter(|t| t.expires_at - now > 300);
        let token = match current {
            Some(token) => token,
            None => state.feishu_token.insert(AccessToken {
                token: format!("t-{}", hex::encode(rand::random::<[u8; 16]>())),
                expires_at: now + ACCESS_TOKEN_LIFETIME,
            }),
        };
        json!({"code": 0, "msg": "ok", "app_access_token": token.token, "expire": token.expires_at - now})
    }

    pub(super) fn feishu_token_login_validate(&self, bearer: Option<&str>, body: &Value) -> Value {
        let now = self.clock.now();
        let Ok(mut state) = self.state.lock() else {
            return feishu_error(-1, "busy");
        };
        let live = state
            .feishu_token
            .as_ref()
            .is_some_and(|t| Some(t.token.as_str()) == bearer && now < t.expires_at);
        if !live {
            return feishu_error(10202, "access token invalid");
        }
        let appid = super::SIMULATOR_APPS_FEISHU;
        let code = body["code"].as_str().unwrap_or("");
        match redeem(&mut state.login_codes, code, appid, now) {
            Ok(who) => json!({
                "code": 0,
                "msg": "success",
                "data": {
                    "open_id": app_openid(appid, &who.user),
                    "employee_id": "",
                    // Deprecated by Feishu, and not the open platform's
                    // Union ID: the client must ignore it.
                    "union_id": unionid_of(Platform::Feishu, &who.user),
                    "session_key": state.session_keys.get(&who).cloned().unwrap_or_default(),
                    "tenant_key": "simulator",
                    "access_token": format!("u-{}", hex::encode(rand::random::<[u8; 8]>())),
                    "expires_in": now + ACCESS_TOKEN_LIFETIME,
                    "refresh_token": format!("ur-{}", hex::encode(rand::random::<[u8; 8]>())),
                }
            }),
            Err(_) => feishu_error(10213, "code appid not match"),
        }
    }
}
