//! The WeChat simulator (SPEC section 6), mounted only in simulator mode: it
//! plays `wx.login()` at `POST /sim/login` and WeChat's code2Session at
//! `GET /sim/sns/jscode2session`, with WeChat's rules: a code works once
//! (40163 after) and for five minutes (40029 after); the same user always has
//! the same openid; each login gets a fresh session_key.

use crate::clock::SharedClock;
use crate::config::{SIMULATOR_APPID, SIMULATOR_SECRET};
use crate::error::ApiError;
use crate::routes::{AUTH_BODY_LIMIT, JsonObject, json_config, resource};
use actix_web::{HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// How long a code works, as on WeChat.
pub const CODE_LIFETIME: i64 = 300;
/// The most live codes kept; past it `/sim/login` answers `overloaded`.
const MAX_LIVE_CODES: usize = 100_000;

struct IssuedCode {
    user: String,
    issued_at: i64,
    used: bool,
}

#[derive(Default)]
struct State {
    codes: HashMap<String, IssuedCode>,
    /// Each user's current session_key (the latest login's).
    session_keys: HashMap<String, String>,
}

/// The simulator's state: issued codes and each user's current session_key.
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

    /// `wx.login()` for `user`: a fresh code, and a fresh session_key that
    /// replaces the user's previous one.
    fn login(&self, user: &str) -> Result<String, ApiError> {
        let now = self.clock.now();
        let code = hex(&rand::random::<[u8; 16]>());
        let session_key = STANDARD.encode(rand::random::<[u8; 16]>());
        let mut state = self.state.lock().map_err(|_| ApiError::Internal)?;
        state
            .codes
            .retain(|_, issued| now - issued.issued_at <= CODE_LIFETIME);
        if state.codes.len() >= MAX_LIVE_CODES {
            return Err(ApiError::Overloaded);
        }
        state.codes.insert(
            code.clone(),
            IssuedCode {
                user: user.to_owned(),
                issued_at: now,
                used: false,
            },
        );
        state.session_keys.insert(user.to_owned(), session_key);
        Ok(code)
    }

    /// code2Session, with WeChat's errcodes.
    fn code2session(&self, query: &HashMap<String, String>) -> serde_json::Value {
        let param = |name: &str| {
            query
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let error = |errcode: i64, errmsg: &str| json!({"errcode": errcode, "errmsg": errmsg});
        match param("appid") {
            None => return error(41002, "appid missing"),
            Some(appid) if appid != SIMULATOR_APPID => return error(40013, "invalid appid"),
            Some(_) => {}
        }
        match param("secret") {
            None => return error(41004, "appsecret missing"),
            Some(secret) if secret != SIMULATOR_SECRET => return error(40125, "invalid appsecret"),
            Some(_) => {}
        }
        if param("grant_type") != Some("authorization_code") {
            return error(40002, "invalid grant_type");
        }
        let Some(code) = param("js_code") else {
            return error(41008, "missing code");
        };
        let now = self.clock.now();
        let Ok(mut state) = self.state.lock() else {
            return error(-1, "system error");
        };
        let Some(issued) = state.codes.get_mut(code) else {
            return error(40029, "invalid code");
        };
        if now - issued.issued_at > CODE_LIFETIME {
            return error(40029, "invalid code");
        }
        if issued.used {
            return error(40163, "code been used");
        }
        issued.used = true;
        let user = issued.user.clone();
        let session_key = state.session_keys.get(&user).cloned().unwrap_or_default();
        json!({
            "openid": openid_of(&user),
            "session_key": session_key,
            "unionid": derived_id("unionid", &user),
        })
    }
}

/// The user's openid: 28 characters like WeChat's, the same for the same
/// user on every run.
pub fn openid_of(user: &str) -> String {
    derived_id("openid", user)
}

fn derived_id(kind: &str, user: &str) -> String {
    let digest = Sha256::digest(format!("wxauth simulator {kind}:{user}").as_bytes());
    let text = URL_SAFE_NO_PAD.encode(digest);
    format!("o{}", &text[..27])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Deserialize)]
struct SimLogin {
    user: String,
}

/// `POST /sim/login {"user"}` -> `{"code"}`: what `wx.login()` gives the app.
async fn sim_login(
    body: web::Json<JsonObject<SimLogin>>,
    sim: web::Data<Simulator>,
) -> Result<HttpResponse, ApiError> {
    let user = body.0.0.user.as_str();
    if user.is_empty() || user.len() > 64 || user.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest(
            "`user` must be 1 to 64 characters without control characters".into(),
        ));
    }
    let code = sim.login(user)?;
    Ok(HttpResponse::Ok().json(json!({"code": code})))
}

/// `GET /sim/sns/jscode2session`: WeChat's answer, served as `text/plain`
/// with HTTP 200 even for errors, as WeChat does.
async fn jscode2session(
    query: web::Query<HashMap<String, String>>,
    sim: web::Data<Simulator>,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain")
        .body(sim.code2session(&query).to_string())
}

/// Mounts `/sim/*`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/sim")
            .app_data(json_config(AUTH_BODY_LIMIT))
            .service(resource("/login").route(web::post().to(sim_login)))
            .service(resource("/sns/jscode2session").route(web::get().to(jscode2session))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    fn query(code: &str) -> HashMap<String, String> {
        [
            ("appid", SIMULATOR_APPID),
            ("secret", SIMULATOR_SECRET),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn openids_are_stable_and_distinct() {
        assert_eq!(openid_of("alice"), openid_of("alice"));
        assert_ne!(openid_of("alice"), openid_of("bob"));
        assert_eq!(openid_of("alice").len(), 28);
    }

    #[test]
    fn wrong_credentials_get_wechat_errcodes() {
        let sim = Simulator::new(Arc::new(ManualClock::new(0)));
        let code = sim.login("alice").unwrap();
        let mut q = query(&code);
        q.insert("secret".into(), "wrong".into());
        assert_eq!(sim.code2session(&q)["errcode"], 40125);
        q.insert("appid".into(), "wx0".into());
        assert_eq!(sim.code2session(&q)["errcode"], 40013);
        q.remove("appid");
        assert_eq!(sim.code2session(&q)["errcode"], 41002);
    }
}
