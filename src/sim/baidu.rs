//! The simulated Baidu `POST /oauth/jscode2sessionkey`: the form `code`,
//! `client_id`, `sk`; `{"openid","session_key"}` or an OAuth error.

use super::{Simulator, app_openid, platform_of, redeem};
use crate::config::SIMULATOR_SECRET;
use crate::platform::Platform;
use serde_json::{Value, json};
use std::collections::HashMap;

fn oauth_error(error: &str, description: &str) -> Value {
    json!({"error": error, "error_description": description})
}

impl Simulator {
    pub(super) fn baidu_code2session(&self, params: &HashMap<String, String>) -> Value {
        let param = |name: &str| params.get(name).map(String::as_str).unwrap_or("");
        let appid = param("client_id");
        if platform_of(appid) != Some(Platform::Baidu) || param("sk") != SIMULATOR_SECRET {
            return oauth_error("invalid_client", "unknown client id or wrong secret");
        }
        let now = self.clock.now();
        let Ok(mut state) = self.state.lock() else {
            return oauth_error("temporarily_unavailable", "try again");
        };
        match redeem(&mut state.login_codes, param("code"), appid, now) {
            Ok(who) => json!({
                "openid": app_openid(appid, &who.user),
                "session_key": state.session_keys.get(&who).cloned().unwrap_or_default(),
            }),
            Err(_) => oauth_error("invalid_grant", "invalid authorization code"),
        }
    }
}
