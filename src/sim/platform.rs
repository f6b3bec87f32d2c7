//! The platforms' server side: each platform's code exchange in its own
//! shape and vocabulary, and WeChat's access-token APIs.

use super::{
    ACCESS_TOKEN_LIFETIME, AccessToken, AppUser, Simulator, State, Unredeemable, app_openid,
    phone_of, platform_of, redeem, unionid_of,
};
use crate::config::{SIMULATOR_APPID, SIMULATOR_SECRET};
use crate::domain::SessionKey;
use crate::platform::{Platform, session_signature};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::HashMap;

/// A WeChat (or QQ) answer: `{"errcode", "errmsg"}`.
fn wechat_error(errcode: i64, errmsg: &str) -> Value {
    json!({"errcode": errcode, "errmsg": errmsg})
}

/// A Douyin answer: `{"err_no", "err_tips"}`.
fn douyin_error(err_no: i64, err_tips: &str) -> Value {
    json!({"err_no": err_no, "err_tips": err_tips, "log_id": "simulator", "data": {}})
}

impl Simulator {
    /// WeChat's (or QQ's, `platform`) `jscode2session`, with its errcodes.
    pub(super) fn code2session(
        &self,
        platform: Platform,
        query: &HashMap<String, String>,
    ) -> Value {
        self.wechat_exchange(
            query,
            |p| p == platform,
            "js_code",
            |state, who, _| {
                json!({
                    "openid": app_openid(&who.appid, &who.user),
                    "session_key": state.session_keys.get(&who).cloned().unwrap_or_default(),
                    "unionid": unionid_of(platform, &who.user),
                })
            },
        )
    }

    /// WeChat's code exchanges (`jscode2session`, `/sns/oauth2/access_token`)
    /// up to the answer: the app's credentials (an app of a platform
    /// `served` accepts), the grant type and the code (the query's
    /// `code_field`) checked with WeChat's errcodes, and the code redeemed;
    /// `answer` makes the success from the state, the user and the code.
    pub(super) fn wechat_exchange(
        &self,
        query: &HashMap<String, String>,
        served: impl Fn(Platform) -> bool,
        code_field: &str,
        answer: impl FnOnce(&mut State, AppUser, &str) -> Value,
    ) -> Value {
        let param = |name: &str| {
            query
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        if let Some(error) = check_credentials(served, param("appid"), param("secret")) {
            return error;
        }
        if param("grant_type") != Some("authorization_code") {
            return wechat_error(40002, "invalid grant_type");
        }
        let (Some(appid), Some(code)) = (param("appid"), param(code_field)) else {
            return wechat_error(41008, "missing code");
        };
        let now = self.clock.now();
        let Ok(mut state) = self.state.lock() else {
            return wechat_error(-1, "system error");
        };
        match redeem(&mut state.login_codes, code, appid, now) {
            Ok(who) => answer(&mut state, who, code),
            Err(Unredeemable::Invalid) => wechat_error(40029, "invalid code"),
            Err(Unredeemable::Used) => wechat_error(40163, "code been used"),
        }
    }

    /// Douyin's `jscode2session`: a JSON body, `err_no` answers.
    pub(super) fn douyin_code2session(&self, body: &Value) -> Value {
        let (Some(appid), Some(secret), Some(code)) = (
            body["appid"].as_str(),
            body["secret"].as_str(),
            body["code"].as_str(),
        ) else {
            return douyin_error(40014, "bad params");
        };
        if platform_of(appid) != Some(Platform::Douyin) {
            return douyin_error(40015, "bad appid");
        }
        if secret != SIMULATOR_SECRET {
            return douyin_error(40017, "bad secret");
        }
        let now = self.clock.now();
        let Ok(mut state) = self.state.lock() else {
            return douyin_error(-1, "system error");
        };
        match redeem(&mut state.login_codes, code, appid, now) {
            Ok(who) => json!({
                "err_no": 0,
                "err_tips": "success",
                "log_id": "simulator",
                "data": {
                    "session_key": state.session_keys.get(&who).cloned().unwrap_or_default(),
                    "openid": app_openid(appid, &who.user),
                    "anonymous_openid": "",
                    "unionid": unionid_of(Platform::Douyin, &who.user),
                }
            }),
            Err(_) => douyin_error(40018, "bad code"),
        }
    }

    /// stable_token: the current token, or a new one shortly before expiry.
    pub(super) fn stable_token(&self, body: &Value) -> Value {
        if body["grant_type"] != "client_credential" {
            return wechat_error(40002, "invalid grant_type");
        }
        if let Some(error) = check_credentials(
            |p| p == Platform::Wechat,
            body["appid"].as_str(),
            body["secret"].as_str(),
        ) {
            return error;
        }
        let now = self.clock.now();
        let Ok(mut state) = self.state.lock() else {
            return wechat_error(-1, "system error");
        };
        let current = state
            .access_token
            .as_ref()
            .filter(|t| t.expires_at - now > 300 && body["force_refresh"] != true);
        let token = match current {
            Some(token) => token,
            None => state.access_token.insert(AccessToken {
                token: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
                expires_at: now + ACCESS_TOKEN_LIFETIME,
            }),
        };
        json!({"access_token": token.token, "expires_in": token.expires_at - now})
    }

    /// 40001 unless `token` is the live access token.
    fn check_access_token(&self, state: &State, token: Option<&str>) -> Option<Value> {
        let live = state
            .access_token
            .as_ref()
            .is_some_and(|t| Some(t.token.as_str()) == token && self.clock.now() < t.expires_at);
        (!live).then(|| {
            wechat_error(
                40001,
                "invalid credential, access_token is invalid or not latest",
            )
        })
    }

    /// getuserphonenumber: the phone of the user a phone code was issued to.
    pub(super) fn phone_number(&self, access_token: Option<&str>, body: &Value) -> Value {
        let now = self.clock.now();
        let Ok(mut state) = self.state.lock() else {
            return wechat_error(-1, "system error");
        };
        if let Some(error) = self.check_access_token(&state, access_token) {
            return error;
        }
        let Some(code) = body["code"].as_str() else {
            return wechat_error(41008, "missing code");
        };
        let who = match redeem(&mut state.phone_codes, code, SIMULATOR_APPID, now) {
            Ok(who) => who,
            Err(Unredeemable::Invalid) => return wechat_error(40029, "invalid code"),
            Err(Unredeemable::Used) => return wechat_error(40163, "code been used"),
        };
        let phone = phone_of(&who.user);
        json!({
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": phone,
                "purePhoneNumber": phone,
                "countryCode": "86",
                "watermark": {"timestamp": now, "appid": SIMULATOR_APPID},
            }
        })
    }

    /// checksession: 0 when the signature is of the user's current
    /// session_key, 87009 when not.
    pub(super) fn check_session(&self, query: &HashMap<String, String>) -> Value {
        let Ok(state) = self.state.lock() else {
            return wechat_error(-1, "system error");
        };
        if let Some(error) =
            self.check_access_token(&state, query.get("access_token").map(String::as_str))
        {
            return error;
        }
        if query.get("sig_method").map(String::as_str) != Some("hmac_sha256") {
            return wechat_error(40097, "invalid args");
        }
        let current = query
            .get("openid")
            .and_then(|openid| state.users.get(openid))
            .and_then(|who| state.session_keys.get(who))
            .and_then(|key| SessionKey::parse(key).ok());
        match current {
            Some(key) if query.get("signature") == Some(&session_signature(&key)) => {
                wechat_error(0, "ok")
            }
            _ => wechat_error(87009, "invalid signature"),
        }
    }
}

/// 41002/40013/41004/40125 for missing or wrong app credentials: the appid
/// must be a simulated app of a platform `served` accepts.
fn check_credentials(
    served: impl Fn(Platform) -> bool,
    appid: Option<&str>,
    secret: Option<&str>,
) -> Option<Value> {
    match (appid, secret) {
        (None, _) => Some(wechat_error(41002, "appid missing")),
        (Some(appid), _) if !platform_of(appid).is_some_and(&served) => {
            Some(wechat_error(40013, "invalid appid"))
        }
        (_, None) => Some(wechat_error(41004, "appsecret missing")),
        (_, Some(secret)) if secret != SIMULATOR_SECRET => {
            Some(wechat_error(40125, "invalid appsecret"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn exchange(appid: &str, code: &str) -> HashMap<String, String> {
        query(&[
            ("appid", appid),
            ("secret", SIMULATOR_SECRET),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ])
    }

    #[test]
    fn wrong_credentials_get_wechat_errcodes() {
        let sim = Simulator::new(Arc::new(ManualClock::new(0)));
        let code = sim.login("alice", None).unwrap();
        let mut q = exchange(SIMULATOR_APPID, &code);
        q.insert("secret".into(), "wrong".into());
        assert_eq!(sim.code2session(Platform::Wechat, &q)["errcode"], 40125);
        q.insert("appid".into(), "wx0".into());
        assert_eq!(sim.code2session(Platform::Wechat, &q)["errcode"], 40013);
        q.remove("appid");
        assert_eq!(sim.code2session(Platform::Wechat, &q)["errcode"], 41002);
    }

    #[test]
    fn a_code_works_for_its_own_app_once() {
        let sim = Simulator::new(Arc::new(ManualClock::new(0)));
        let code = sim.login("alice", Some("1109999999")).unwrap();
        assert_eq!(
            sim.code2session(Platform::Wechat, &exchange(SIMULATOR_APPID, &code))["errcode"],
            40029,
            "not the WeChat app's code"
        );
        let answer = sim.code2session(Platform::Qq, &exchange("1109999999", &code));
        assert_eq!(answer["openid"], app_openid("1109999999", "alice"));
        assert_eq!(
            sim.code2session(Platform::Qq, &exchange("1109999999", &code))["errcode"],
            40163
        );
    }

    #[test]
    fn douyin_answers_in_its_own_shape() {
        let sim = Simulator::new(Arc::new(ManualClock::new(0)));
        let code = sim.login("alice", Some("ttsimulator0000000")).unwrap();
        let body = |code: &str| json!({"appid": "ttsimulator0000000", "secret": SIMULATOR_SECRET, "code": code});
        let answer = sim.douyin_code2session(&body(&code));
        assert_eq!(answer["err_no"], 0);
        assert_eq!(
            answer["data"]["openid"],
            app_openid("ttsimulator0000000", "alice")
        );
        assert_eq!(sim.douyin_code2session(&body(&code))["err_no"], 40018);
        assert_eq!(
            sim.douyin_code2session(&json!({"appid": "ttsimulator0000000"}))["err_no"],
            40014
        );
    }

    #[test]
    fn stable_token_is_the_same_until_shortly_before_expiry() {
        let clock = Arc::new(ManualClock::new(0));
        let sim = Simulator::new(clock.clone());
        let body = json!({"grant_type": "client_credential", "appid": SIMULATOR_APPID, "secret": SIMULATOR_SECRET});
        let first = sim.stable_token(&body);
        clock.advance(6000);
        assert_eq!(
            sim.stable_token(&body)["access_token"],
            first["access_token"]
        );
        assert_eq!(sim.stable_token(&body)["expires_in"], 1200);
        clock.advance(1000);
        assert_ne!(
            sim.stable_token(&body)["access_token"],
            first["access_token"]
        );
        let wrong =
            json!({"grant_type": "client_credential", "appid": SIMULATOR_APPID, "secret": "x"});
        assert_eq!(sim.stable_token(&wrong)["errcode"], 40125);
    }
}
