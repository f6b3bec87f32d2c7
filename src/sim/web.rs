//! WeChat's web and app logins, simulated: the authorize page an official
//! account's H5 page or a website sends the browser to
//! (`/sim/connect/oauth2/authorize`, `/sim/connect/qrconnect`), which sends
//! it back to the redirect_uri with a code and the state, and the code
//! exchange `/sim/sns/oauth2/access_token`. A person has one openid per app
//! and one unionid across the WeChat mini-program and the three surfaces,
//! as under one open platform account; with `scope=snsapi_base` the
//! exchange gives no unionid, as WeChat's does.

use super::{AppUser, CODE_LIFETIME, Simulator, app_openid, issue_code, platform_of, unionid_of};
use crate::error::ApiError;
use crate::platform::Platform;
use crate::weblogin::{RedirectRule, check_redirect};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::HashMap;
use url::Host;

/// The redirect URIs the simulator's H5 and website apps accept: any page
/// on `http://127.0.0.1` or `http://localhost`, any port (a static server
/// beside `cargo run`).
pub fn redirect_rules() -> Vec<RedirectRule> {
    vec![
        RedirectRule::any_port("http", Host::Ipv4(std::net::Ipv4Addr::LOCALHOST)),
        RedirectRule::any_port("http", Host::Domain("localhost".to_owned())),
    ]
}

/// The longest `state` WeChat's authorize pages take (its web authorization
/// guide: `[a-zA-Z0-9]`, at most 128 bytes).
const MAX_STATE: usize = 128;

/// What the authorize page does.
pub(super) enum Authorized {
    /// No `user` yet: the page asking who logs in.
    Page(String),
    /// Back to the redirect_uri with a code (and the state).
    Redirect(String),
}

impl Simulator {
    /// The authorize page (`page`: the H5 one for `wechat_h5` apps, the QR
    /// one for `wechat_web` apps): with a `user`, a code for that person.
    pub(super) fn authorize(
        &self,
        surface: Platform,
        query: &HashMap<String, String>,
    ) -> Result<Authorized, ApiError> {
        let param = |name: &str| {
            query
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let appid = param("appid")
            .filter(|appid| platform_of(appid) == Some(surface))
            .ok_or_else(|| {
                ApiError::UnknownApp(format!(
                    "this page serves the simulator's {surface} app only"
                ))
            })?;
        if param("response_type") != Some("code") {
            return Err(ApiError::InvalidRequest(
                "response_type must be code".into(),
            ));
        }
        let redirect = check_redirect(&redirect_rules(), param("redirect_uri").unwrap_or(""))
            .map_err(ApiError::InvalidRequest)?;
        if let Some(login_state) = param("state")
            && (login_state.len() > MAX_STATE
                || !login_state.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(ApiError::InvalidRequest(format!(
                "state must be [a-zA-Z0-9], at most {MAX_STATE} bytes, as WeChat takes it"
            )));
        }
        let Some(user) = param("user") else {
            return Ok(Authorized::Page(page(query)));
        };
        let user = super::routes::check_user(user)?;
        let now = self.clock.now();
        let who = AppUser {
            appid: appid.to_owned(),
            user: user.to_owned(),
        };
        let mut state = self.state()?;
        let code = issue_code(&mut state.login_codes, who, now)?;
        let base_scope = param("scope") == Some("snsapi_base");
        state
            .base_scope_codes
            .retain(|_, issued| now - *issued <= CODE_LIFETIME);
        if base_scope {
            state.base_scope_codes.insert(code.clone(), now);
        }
        let mut back = redirect;
        {
            let mut pairs = back.query_pairs_mut();
            pairs.append_pair("code", &code);
            if let Some(login_state) = param("state") {
                pairs.append_pair("state", login_state);
            }
        }
        Ok(Authorized::Redirect(back.into()))
    }

    /// `/sns/oauth2/access_token`, with WeChat's errcodes.
    pub(super) fn oauth2_access_token(&self, query: &HashMap<String, String>) -> Value {
        self.wechat_exchange(
            query,
            Platform::is_web_surface,
            "code",
            |state, who, code| {
                let base = state.base_scope_codes.remove(code).is_some();
                // WeChat gives the unionid with snsapi_userinfo only.
                let unionid = (!base).then(|| unionid_of(Platform::Wechat, &who.user));
                let mut answer = json!({
                    "access_token": URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>()),
                    "expires_in": 7200,
                    "refresh_token": URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>()),
                    "openid": app_openid(&who.appid, &who.user),
                    "scope": if base { "snsapi_base" } else { "snsapi_userinfo" },
                    "unionid": unionid,
                });
                if let Some(fields) = answer.as_object_mut() {
                    fields.retain(|_, value| !value.is_null());
                }
                answer
            },
        )
    }
}

/// The page that asks who logs in: a form that comes back here with every
/// parameter and a `user`.
fn page(query: &HashMap<String, String>) -> String {
    let mut hidden = String::new();
    let mut names: Vec<&String> = query.keys().filter(|name| *name != "user").collect();
    names.sort();
    for name in names {
        let value = query.get(name).map(String::as_str).unwrap_or_default();
        hidden.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape(name),
            escape(value)
        ));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>WeChat login (simulated)</title></head>\n<body>\n\
         <h1>WeChat login (simulated)</h1>\n\
         <p>WeChat would ask the user here. Who logs in?</p>\n\
         <form method=\"get\">\n{hidden}\
         <label>user <input name=\"user\" value=\"alice\" required maxlength=\"64\"></label>\n\
         <button type=\"submit\" id=\"allow\">Allow</button>\n</form>\n</body></html>\n"
    )
}

/// Text safe inside an HTML attribute value or element.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::config::SIMULATOR_SECRET;
    use std::sync::Arc;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_page_escapes_what_it_echoes() {
        let html = page(&query(&[("state", "\"><script>x</script>")]));
        assert!(!html.contains("<script>x"));
        assert!(html.contains("&quot;&gt;&lt;script&gt;"));
    }

    #[test]
    fn a_code_from_the_page_exchanges_once_for_the_persons_ids() {
        let sim = Simulator::new(Arc::new(ManualClock::new(0)));
        let authorize = query(&[
            ("appid", "wxsimh5000000000"),
            ("redirect_uri", "http://localhost:5500/cb?x=1"),
            ("response_type", "code"),
            ("scope", "snsapi_userinfo"),
            ("state", "abc"),
            ("user", "alice"),
        ]);
        let Ok(Authorized::Redirect(back)) = sim.authorize(Platform::WechatH5, &authorize) else {
            panic!("redirects back");
        };
        let back = url::Url::parse(&back).unwrap();
        let pairs: HashMap<String, String> = back.query_pairs().into_owned().collect();
        assert_eq!(pairs["x"], "1");
        assert_eq!(pairs["state"], "abc");
        let exchange = query(&[
            ("appid", "wxsimh5000000000"),
            ("secret", SIMULATOR_SECRET),
            ("code", &pairs["code"]),
            ("grant_type", "authorization_code"),
        ]);
        let answer = sim.oauth2_access_token(&exchange);
        assert_eq!(answer["openid"], app_openid("wxsimh5000000000", "alice"));
        assert_eq!(answer["unionid"], unionid_of(Platform::Wechat, "alice"));
        assert_eq!(sim.oauth2_access_token(&exchange)["errcode"], 40163);
        assert!(matches!(
            sim.authorize(Platform::WechatWeb, &authorize),
            Err(ApiError::UnknownApp(_))
        ));
    }

    #[test]
    fn a_silent_snsapi_base_login_gives_the_openid_only() {
        let sim = Simulator::new(Arc::new(ManualClock::new(0)));
        let authorize = query(&[
            ("appid", "wxsimh5000000000"),
            ("redirect_uri", "http://127.0.0.1:5500/"),
            ("response_type", "code"),
            ("scope", "snsapi_base"),
            ("user", "alice"),
        ]);
        let Ok(Authorized::Redirect(back)) = sim.authorize(Platform::WechatH5, &authorize) else {
            panic!("redirects back");
        };
        let back = url::Url::parse(&back).unwrap();
        let code = back.query_pairs().find(|(k, _)| k == "code").unwrap().1;
        let answer = sim.oauth2_access_token(&query(&[
            ("appid", "wxsimh5000000000"),
            ("secret", SIMULATOR_SECRET),
            ("code", &code),
            ("grant_type", "authorization_code"),
        ]));
        assert_eq!(answer["scope"], "snsapi_base");
        assert_eq!(answer["openid"], app_openid("wxsimh5000000000", "alice"));
        assert!(answer.get("unionid").is_none(), "{answer}");
    }
}
