//! The WeChat simulator (SPEC section 6), mounted only in simulator mode. It
//! plays the mini-program's `wx.login()` and `getPhoneNumber`, and WeChat's
//! server APIs, with WeChat's rules: a code works once (40163 after) and for
//! five minutes (40029 after); the same user always has the same openid; each
//! login gets a fresh session_key that replaces the last; user data is
//! encrypted the way WeChat encrypts it; the access token of stable_token is
//! the same for every caller until shortly before it expires.

mod routes;

pub use routes::{BODY_LIMITS, configure};

use crate::clock::SharedClock;
use crate::config::{SIMULATOR_APPID, SIMULATOR_SECRET};
use crate::domain::SessionKey;
use crate::error::ApiError;
use crate::wechat::{encrypt_user_data, session_signature};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// How long a code works, as on WeChat.
pub const CODE_LIFETIME: i64 = 300;
/// How long an access token lives, as on WeChat.
pub const ACCESS_TOKEN_LIFETIME: i64 = 7200;
/// The most simulated users remembered; past it new users get `overloaded`.
const MAX_USERS: usize = 100_000;
/// The most live codes kept; past it the simulator answers `overloaded`.
const MAX_LIVE_CODES: usize = 100_000;

struct IssuedCode {
    user: String,
    issued_at: i64,
    used: bool,
}

struct AccessToken {
    token: String,
    expires_at: i64,
}

#[derive(Default)]
struct State {
    login_codes: HashMap<String, IssuedCode>,
    phone_codes: HashMap<String, IssuedCode>,
    /// Each user's current session_key (the latest login's).
    session_keys: HashMap<String, String>,
    /// openid -> user, for the APIs that name users by openid.
    users: HashMap<String, String>,
    access_token: Option<AccessToken>,
}

/// A WeChat answer: `{"errcode", "errmsg"}`.
fn wechat_error(errcode: i64, errmsg: &str) -> Value {
    json!({"errcode": errcode, "errmsg": errmsg})
}

/// The simulator's state.
pub struct Simulator {
    state: Mutex<State>,
    clock: SharedClock,
}

impl Simulator {
    /// An empty simulator reading the time from `clock`.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            state: Mutex::new(State::default()),
            clock,
        }
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, ApiError> {
        self.state.lock().map_err(|_| ApiError::Internal)
    }

    /// `wx.login()` for `user`: a fresh code, and a fresh session_key that
    /// replaces the user's previous one.
    fn login(&self, user: &str) -> Result<String, ApiError> {
        let now = self.clock.now();
        let mut state = self.state()?;
        if state.session_keys.len() >= MAX_USERS && !state.session_keys.contains_key(user) {
            return Err(ApiError::Overloaded);
        }
        let code = issue_code(&mut state.login_codes, user, now)?;
        state
            .session_keys
            .insert(user.to_owned(), STANDARD.encode(rand::random::<[u8; 16]>()));
        state.users.insert(openid_of(user), user.to_owned());
        Ok(code)
    }

    /// `getPhoneNumber` for `user`: a fresh single-use phone code.
    fn phone_code(&self, user: &str) -> Result<String, ApiError> {
        let now = self.clock.now();
        issue_code(&mut self.state()?.phone_codes, user, now)
    }

    /// User data as WeChat gives it to the mini-program: `data` with a
    /// watermark added, encrypted under the user's current session_key.
    fn encrypt(
        &self,
        user: &str,
        mut data: serde_json::Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let session_key = self
            .state()?
            .session_keys
            .get(user)
            .cloned()
            .ok_or_else(|| {
                ApiError::InvalidRequest(
                    "this user has not logged in (POST /sim/login first)".into(),
                )
            })?;
        let session_key = SessionKey::parse(&session_key).map_err(|_| ApiError::Internal)?;
        data.insert(
            "watermark".into(),
            json!({"appid": SIMULATOR_APPID, "timestamp": self.clock.now()}),
        );
        let plaintext = serde_json::to_vec(&data).map_err(|_| ApiError::Internal)?;
        let (encrypted_data, iv) =
            encrypt_user_data(&session_key, &plaintext).ok_or(ApiError::Internal)?;
        Ok(json!({"encryptedData": encrypted_data, "iv": iv}))
    }

    /// code2Session, with WeChat's errcodes.
    fn code2session(&self, query: &HashMap<String, String>) -> Value {
        let param = |name: &str| {
            query
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        if let Some(error) = check_credentials(param("appid"), param("secret")) {
            return error;
        }
        if param("grant_type") != Some("authorization_code") {
            return wechat_error(40002, "invalid grant_type");
        }
        let Some(code) = param("js_code") else {
            return wechat_error(41008, "missing code");
        };
        let now = self.clock.now();
        let Ok(mut state) = self.state.lock() else {
            return wechat_error(-1, "system error");
        };
        let user = match redeem(&mut state.login_codes, code, now) {
            Ok(user) => user,
            Err(error) => return error,
        };
        let session_key = state.session_keys.get(&user).cloned().unwrap_or_default();
        json!({
            "openid": openid_of(&user),
            "session_key": session_key,
            "unionid": derived_id("unionid", &user),
        })
    }

    /// stable_token: the current token, or a new one shortly before expiry.
    fn stable_token(&self, body: &Value) -> Value {
        if body["grant_type"] != "client_credential" {
            return wechat_error(40002, "invalid grant_type");
        }
        if let Some(error) = check_credentials(body["appid"].as_str(), body["secret"].as_str()) {
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
    fn phone_number(&self, access_token: Option<&str>, body: &Value) -> Value {
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
        let user = match redeem(&mut state.phone_codes, code, now) {
            Ok(user) => user,
            Err(error) => return error,
        };
        let phone = phone_of(&user);
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
    fn check_session(&self, query: &HashMap<String, String>) -> Value {
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
            .and_then(|user| state.session_keys.get(user))
            .and_then(|key| SessionKey::parse(key).ok());
        match current {
            Some(key) if query.get("signature") == Some(&session_signature(&key)) => {
                wechat_error(0, "ok")
            }
            _ => wechat_error(87009, "invalid signature"),
        }
    }
}

/// 41002/40013/41004/40125 for missing or wrong app credentials.
fn check_credentials(appid: Option<&str>, secret: Option<&str>) -> Option<Value> {
    match (appid, secret) {
        (None, _) => Some(wechat_error(41002, "appid missing")),
        (Some(appid), _) if appid != SIMULATOR_APPID => Some(wechat_error(40013, "invalid appid")),
        (_, None) => Some(wechat_error(41004, "appsecret missing")),
        (_, Some(secret)) if secret != SIMULATOR_SECRET => {
            Some(wechat_error(40125, "invalid appsecret"))
        }
        _ => None,
    }
}

/// A fresh code for `user` in `codes`, after dropping expired ones.
fn issue_code(
    codes: &mut HashMap<String, IssuedCode>,
    user: &str,
    now: i64,
) -> Result<String, ApiError> {
    codes.retain(|_, issued| now - issued.issued_at <= CODE_LIFETIME);
    if codes.len() >= MAX_LIVE_CODES {
        return Err(ApiError::Overloaded);
    }
    let code = hex(&rand::random::<[u8; 16]>());
    codes.insert(
        code.clone(),
        IssuedCode {
            user: user.to_owned(),
            issued_at: now,
            used: false,
        },
    );
    Ok(code)
}

/// The user of a code, once: 40029 if unknown or expired, 40163 if used.
fn redeem(codes: &mut HashMap<String, IssuedCode>, code: &str, now: i64) -> Result<String, Value> {
    let Some(issued) = codes.get_mut(code) else {
        return Err(wechat_error(40029, "invalid code"));
    };
    if now - issued.issued_at > CODE_LIFETIME {
        return Err(wechat_error(40029, "invalid code"));
    }
    if issued.used {
        return Err(wechat_error(40163, "code been used"));
    }
    issued.used = true;
    Ok(issued.user.clone())
}

/// The user's openid: 28 characters like WeChat's, the same for the same
/// user on every run.
pub fn openid_of(user: &str) -> String {
    derived_id("openid", user)
}

/// The user's phone number: a stable, fictional mainland number.
pub fn phone_of(user: &str) -> String {
    let digest = Sha256::digest(format!("wxauth simulator phone:{user}").as_bytes());
    let digits: String = digest
        .iter()
        .take(8)
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    format!("138{digits}")
}

fn derived_id(kind: &str, user: &str) -> String {
    let digest = Sha256::digest(format!("wxauth simulator {kind}:{user}").as_bytes());
    let text = URL_SAFE_NO_PAD.encode(digest);
    format!("o{}", &text[..27])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

    fn exchange(code: &str) -> HashMap<String, String> {
        query(&[
            ("appid", SIMULATOR_APPID),
            ("secret", SIMULATOR_SECRET),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ])
    }

    #[test]
    fn openids_and_phones_are_stable_and_distinct() {
        assert_eq!(openid_of("alice"), openid_of("alice"));
        assert_ne!(openid_of("alice"), openid_of("bob"));
        assert_eq!(openid_of("alice").len(), 28);
        assert_eq!(phone_of("alice"), phone_of("alice"));
        assert_eq!(phone_of("alice").len(), 11);
    }

    #[test]
    fn wrong_credentials_get_wechat_errcodes() {
        let sim = Simulator::new(Arc::new(ManualClock::new(0)));
        let code = sim.login("alice").unwrap();
        let mut q = exchange(&code);
        q.insert("secret".into(), "wrong".into());
        assert_eq!(sim.code2session(&q)["errcode"], 40125);
        q.insert("appid".into(), "wx0".into());
        assert_eq!(sim.code2session(&q)["errcode"], 40013);
        q.remove("appid");
        assert_eq!(sim.code2session(&q)["errcode"], 41002);
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
