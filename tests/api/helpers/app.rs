//! The app under test: spawned in-process on a port-0 bind with a fake
//! WeChat, a manual clock and a key folder; its requests and its answers.

use super::{
    APPID, FIRST_KID, OPENID, SECRET, SESSION_KEY, START, UNIONID, fakes::session_answer,
    revocations::publish_key,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tempfile::TempDir;
use wiremock::MockServer;
use wxauth::clock::{Clock, ManualClock};
use wxauth::config::Config;
use wxauth::keyring::{KeyAlg, KeyReloader};
use wxauth::startup::Application;

/// A running app with its fake WeChat, clock and key folder.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub wechat: MockServer,
    pub clock: Arc<ManualClock>,
    pub keys_dir: PathBuf,
    /// The appid the app runs as (the `aud` of its tokens).
    pub appid: String,
    /// The app's key rescanner: tests call `rescan` to act as a timer tick.
    pub reloader: Arc<KeyReloader>,
    /// What rereads every watched file (keys, revocations): one timer tick.
    pub watched: Arc<wxauth::reload::Reloader>,
    _keys: Arc<TempDir>,
}

/// A fresh key folder holding one Ed25519 key, `FIRST_KID`.
/// Its key is dated a day before the test clock's START, so it is active
/// whatever the real date (file times are real, the clock is not).
pub fn key_folder() -> Arc<TempDir> {
    let dir = tempfile::tempdir().expect("tempdir");
    publish_key(dir.path(), FIRST_KID, KeyAlg::Eddsa, START - 86_400);
    Arc::new(dir)
}

/// The app in production mode against a fresh fake WeChat and key folder.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// The app with some settings overridden.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_on(MockServer::start().await, key_folder(), overrides).await
}

/// The app on a given fake WeChat and key folder (two apps may share both).
pub async fn spawn_app_on(
    wechat: MockServer,
    keys: Arc<TempDir>,
    overrides: &[(&str, &str)],
) -> TestApp {
    let mut env: HashMap<String, String> = [
        ("WXAUTH_BIND", "127.0.0.1:0".to_owned()),
        ("WECHAT_APPID", APPID.to_owned()),
        ("WECHAT_SECRET", SECRET.to_owned()),
        ("WECHAT_API_BASE", wechat.uri()),
        ("WXAUTH_KEYS_DIR", keys.path().display().to_string()),
        ("WXAUTH_UPSTREAM_TIMEOUT", "2".to_owned()),
        // Rescans happen when a test says so, unless it sets a period.
        ("WXAUTH_KEYS_RELOAD", "86400".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (name, value) in overrides {
        env.insert((*name).to_owned(), (*value).to_owned());
    }
    env.retain(|_, value| !value.is_empty());
    let settings = Config::from_map(&env).expect("test settings");
    let appid = settings.appid().to_owned();
    let clock = Arc::new(ManualClock::new(START));
    let app = Application::build(settings, clock.clone())
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let reloader = app.key_reloader();
    let watched = app.reloader();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        // Bounded: a request the server never answers fails the test
        // instead of hanging it (the longest wait a test sets up, an
        // upstream timeout, is 30 s).
        client: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("client"),
        wechat,
        clock,
        keys_dir: keys.path().to_owned(),
        appid,
        reloader,
        watched,
        _keys: keys,
    }
}

/// The settings that turn production mode off: no WeChat credentials.
pub const SIMULATOR_MODE: [(&str, &str); 3] = [
    ("WECHAT_APPID", ""),
    ("WECHAT_SECRET", ""),
    ("WECHAT_API_BASE", ""),
];

/// The app in simulator mode (no WeChat credentials).
pub async fn spawn_simulator() -> TestApp {
    spawn_app_with(&SIMULATOR_MODE).await
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// GET `path`, without a token.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// GET `path` with `token` as the bearer token.
    pub async fn get_with_token(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// POST `body` as JSON to `path`, without a token.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// POST `body` as JSON to `path` with `token` as the bearer token.
    pub async fn post_with_token(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// GET `path`, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json().await.expect("json")
    }

    pub async fn post_login(&self, body: Value) -> reqwest::Response {
        self.post_json("/auth/login", &body).await
    }

    /// Logs in as OPENID (with UNIONID) and returns the token.
    pub async fn login(&self) -> String {
        self.login_as("code-1", OPENID, Some(UNIONID), SESSION_KEY)
            .await
    }

    pub async fn login_as(
        &self,
        code: &str,
        openid: &str,
        unionid: Option<&str>,
        session_key: &str,
    ) -> String {
        self.wechat_answers(code, session_answer(openid, session_key, unionid), 1)
            .await;
        issued_token(self.post_login(json!({"code": code})).await).await
    }

    pub async fn get_me(&self, token: &str) -> reqwest::Response {
        self.get_with_token("/auth/me", token).await
    }

    /// GET /auth/me with this exact `Authorization` value.
    pub async fn get_me_with(&self, authorization: impl AsRef<str>) -> reqwest::Response {
        self.client
            .get(self.url("/auth/me"))
            .header("authorization", authorization.as_ref())
            .send()
            .await
            .expect("request")
    }

    pub async fn refresh(&self, token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/auth/refresh"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// Refreshes `token`, which must succeed; the new token.
    pub async fn refreshed(&self, token: &str) -> String {
        issued_token(self.refresh(token).await).await
    }

    /// POST to a simulator route, which must answer 200; its JSON.
    pub async fn sim(&self, path: &str, body: Value) -> Value {
        let response = self.post_json(path, &body).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.expect("json")
    }

    /// A code from the simulator's wx.login() for `user`.
    pub async fn sim_code(&self, user: &str) -> String {
        let body = self.sim("/sim/login", json!({ "user": user })).await;
        body["code"].as_str().expect("code").to_owned()
    }

    /// Logs `user` in through the simulator; the token.
    pub async fn sim_token(&self, user: &str) -> String {
        let code = self.sim_code(user).await;
        issued_token(self.post_login(json!({ "code": code })).await).await
    }

    /// Starts `count` logins with distinct codes, without waiting for them.
    pub fn spawn_logins(
        &self,
        count: usize,
    ) -> Vec<tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>> {
        (0..count)
            .map(|i| {
                let request = self
                    .client
                    .post(self.url("/auth/login"))
                    .json(&json!({ "code": format!("c{i}") }));
                tokio::spawn(async move { request.send().await })
            })
            .collect()
    }

    /// The kids in this app's JWK Set.
    pub async fn jwks_kids(&self) -> Vec<String> {
        let set = self.get_json("/.well-known/jwks.json").await;
        set["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["kid"].as_str().expect("kid").to_owned())
            .collect()
    }

    /// The kid this app signs with now, as /readyz reports it.
    pub async fn signing_kid(&self) -> String {
        let body = self.get_json("/readyz").await;
        body["signing_kid"]
            .as_str()
            .expect("signing_kid")
            .to_owned()
    }

    /// Asserts that /healthz answers 200.
    pub async fn assert_serving(&self) {
        assert_eq!(self.get("/healthz").await.status(), 200, "still serving");
    }
}

/// The token of a login or refresh answer, which must be a success: 200,
/// not cached, `token_type` Bearer.
pub async fn issued_token(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200, "a token is issued");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    body["access_token"].as_str().expect("token").to_owned()
}

/// Asserts a problem+json answer with `status` and `code`; returns the body.
pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["code"], code, "code in {body}");
    assert_eq!(body["status"], status);
    for field in ["type", "title", "detail"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }
    body
}

/// Asserts the guard's uniform answer to a bad token that was sent: 401
/// `invalid_token` with `error="invalid_token"` in `WWW-Authenticate`, and
/// no hint of which check failed. `what` names the case in a failure.
pub async fn assert_rejected(response: reqwest::Response, what: &str) {
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .map(|v| v.as_bytes()),
        Some(&br#"Bearer realm="wxauth", error="invalid_token""#[..]),
        "{what}"
    );
    assert_eq!(response.status(), 401, "{what}");
    let body = assert_problem(response, 401, "invalid_token").await;
    assert_eq!(
        body["detail"], "a valid bearer token is required",
        "no hint of which check failed: {what}"
    );
}
