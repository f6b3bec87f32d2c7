//! The simulator (README, "Try it"), mounted only in simulator mode. It plays
//! seven mini-programs, one per platform, and an app for each of WeChat's
//! three web and app login surfaces, on both sides:
//!
//! - [`miniprogram`]: what the mini-program does: `wx.login()` (a code),
//!   the `getPhoneNumber` button, the encrypted user data it is handed;
//! - [`web`]: WeChat's web and app logins: the authorize and QR pages and
//!   the `/sns/oauth2/access_token` exchange;
//! - [`platform`]: the platforms' server APIs, each in its own shape
//!   (WeChat's and QQ's `jscode2session` with errcodes, Douyin's JSON body
//!   with `err_no`), which wxauth reaches through the very clients it uses
//!   in production;
//! - [`alipay`], [`baidu`], [`kuaishou`], [`feishu`]: those platforms'
//!   code exchanges in their own shapes (Alipay's gateway verifies the
//!   request's RSA2 signature and signs its answers with a simulator key).
//!
//! With the platforms' rules: a code works once (40163 after, Douyin 40018)
//! and for five minutes (40029 after); a user has one openid per app and one
//! unionid per platform; each login gets a fresh session_key that replaces
//! the last; user data is encrypted the way the platform encrypts it; the
//! access token of stable_token is the same for every caller until shortly
//! before it expires.

mod alipay;
mod baidu;
mod feishu;
mod kuaishou;
mod miniprogram;
mod platform;
mod routes;
mod web;

pub use alipay::alipay_app_keys;

pub use routes::{BODY_LIMITS, configure};
pub use web::redirect_rules;

use crate::clock::SharedClock;
use crate::config::{SIMULATOR_APPID, SIMULATOR_APPS};
use crate::error::ApiError;
use crate::platform::Platform;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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

/// A simulated user of one app.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AppUser {
    appid: String,
    user: String,
}

struct IssuedCode {
    who: AppUser,
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
    /// Each app user's current session_key (the latest login's).
    session_keys: HashMap<AppUser, String>,
    /// openid -> app user, for the APIs that name users by openid.
    users: HashMap<String, AppUser>,
    access_token: Option<AccessToken>,
    /// Web login codes given with `scope=snsapi_base` (no unionid), and when.
    base_scope_codes: HashMap<String, i64>,
    /// Feishu's app access token (one app).
    feishu_token: Option<AccessToken>,
}

/// The simulator's state.
pub struct Simulator {
    state: Mutex<State>,
    clock: SharedClock,
    /// The simulated Alipay gateway's keys.
    alipay: Option<alipay::GatewayKeys>,
}

impl Simulator {
    /// An empty simulator reading the time from `clock`.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            state: Mutex::new(State::default()),
            clock,
            alipay: alipay::GatewayKeys::load(),
        }
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, ApiError> {
        self.state.lock().map_err(|_| ApiError::Internal)
    }
}

/// The simulator's Feishu app (tokenLoginValidate names no app: the
/// bearer token does).
const SIMULATOR_APPS_FEISHU: &str = "clisimulator000000";

/// The platform of a simulated app, if `appid` is one.
fn platform_of(appid: &str) -> Option<Platform> {
    SIMULATOR_APPS
        .iter()
        .find(|(_, id)| *id == appid)
        .map(|(platform, _)| *platform)
}

/// The simulated app a request names (the WeChat one when it names none).
fn simulated_app(appid: Option<&str>) -> Result<(Platform, String), ApiError> {
    let appid = appid.unwrap_or(SIMULATOR_APPID);
    platform_of(appid)
        .map(|platform| (platform, appid.to_owned()))
        .ok_or_else(|| {
            let known: Vec<&str> = SIMULATOR_APPS.iter().map(|(_, id)| *id).collect();
            ApiError::UnknownApp(format!("the simulator plays {}", known.join(", ")))
        })
}

/// A fresh code for `who` in `codes`, after dropping expired ones.
fn issue_code(
    codes: &mut HashMap<String, IssuedCode>,
    who: AppUser,
    now: i64,
) -> Result<String, ApiError> {
    codes.retain(|_, issued| now - issued.issued_at <= CODE_LIFETIME);
    if codes.len() >= MAX_LIVE_CODES {
        return Err(ApiError::Overloaded);
    }
    let code = hex::encode(rand::random::<[u8; 16]>());
    codes.insert(
        code.clone(),
        IssuedCode {
            who,
            issued_at: now,
            used: false,
        },
    );
    Ok(code)
}

/// Why a code does not redeem.
#[derive(Debug, PartialEq, Eq)]
enum Unredeemable {
    /// Unknown, expired, or issued for another app.
    Invalid,
    /// Redeemed before.
    Used,
}

/// The app user of a code issued for `appid`, once.
fn redeem(
    codes: &mut HashMap<String, IssuedCode>,
    code: &str,
    appid: &str,
    now: i64,
) -> Result<AppUser, Unredeemable> {
    let Some(issued) = codes.get_mut(code) else {
        return Err(Unredeemable::Invalid);
    };
    if now - issued.issued_at > CODE_LIFETIME || issued.who.appid != appid {
        return Err(Unredeemable::Invalid);
    }
    if issued.used {
        return Err(Unredeemable::Used);
    }
    issued.used = true;
    Ok(issued.who.clone())
}

/// The user's openid in the simulator's WeChat app: 28 characters like
/// WeChat's, the same for the same user on every run.
pub fn openid_of(user: &str) -> String {
    app_openid(SIMULATOR_APPID, user)
}

/// The user's openid in the simulated app `appid` (one per app).
pub fn app_openid(appid: &str, user: &str) -> String {
    if appid == SIMULATOR_APPID {
        derived_id("openid", user)
    } else {
        derived_id("openid", &format!("{appid}:{user}"))
    }
}

/// The user's unionid on `platform` (the same across a platform's apps;
/// WeChat's web and app logins share the WeChat mini-program's).
pub fn unionid_of(platform: Platform, user: &str) -> String {
    match platform {
        Platform::Wechat | Platform::WechatH5 | Platform::WechatWeb | Platform::WechatApp => {
            derived_id("unionid", user)
        }
        other => derived_id("unionid", &format!("{other}:{user}")),
    }
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
    format!("o{}", text.get(..27).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openids_and_phones_are_stable_and_distinct() {
        assert_eq!(openid_of("alice"), openid_of("alice"));
        assert_ne!(openid_of("alice"), openid_of("bob"));
        assert_eq!(openid_of("alice").len(), 28);
        assert_eq!(phone_of("alice"), phone_of("alice"));
        assert_eq!(phone_of("alice").len(), 11);
    }

    #[test]
    fn one_openid_per_app_and_one_unionid_per_platform() {
        assert_ne!(app_openid("1109999999", "alice"), openid_of("alice"));
        assert_ne!(
            unionid_of(Platform::Qq, "alice"),
            unionid_of(Platform::Wechat, "alice")
        );
        assert_eq!(app_openid("1109999999", "alice").len(), 28);
    }
}
