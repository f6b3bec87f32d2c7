//! The simulated Kuaishou `POST /oauth2/mp/code2session`: the form
//! `app_id`, `app_secret`, `js_code`; `{"result":1,"open_id","session_key"}`
//! or an error `result` with `error` and `error_msg`.

use super::{Simulator, app_openid, platform_of, redeem};
use crate::config::SIMULATOR_SECRET;
use crate::platform::Platform;
use serde_json::{Value, json};
use std::collections::HashMap;

impl Simulator {
    pub(super) fn kuaishou_code2session(&self, params: &HashMap<String, String>) -> Value {
        let param = |name: &str| params.get(name).map(String::as_str).unwrap_or("");
        let appid = param("app_id");
        if appid.is_empty() || param("js_code").is_empty() {
            return json!({"result": 100200100, "error": "invalid_request", "error_msg": "missing parameters"});
        }
        if platform_of(appid) != Some(Platform::Kuaishou) || param("app_secret") != SIMULATOR_SECRET
        {
            return json!({"result": 100200101, "error": "invalid_client", "error_msg": "app_id or app_secret"});
        }
        let now = self.clock.now();
        let Ok(mut state) = self.state.lock() else {
            return json!({"result": -1, "error": "server_error", "error_msg": "busy"});
        };
        match redeem(&mut state.login_codes, param("js_code"), appid, now) {
            Ok(who) => json!({
                "result": 1,
                "open_id": app_openid(appid, &who.user),
                "session_key": state.session_keys.get(&who).cloned().unwrap_or_default(),
            }),
            Err(_) => {
                json!({"result": 100200102, "error": "invalid_grant", "error_msg": "invalid js_code"})
            }
        }
    }
}
