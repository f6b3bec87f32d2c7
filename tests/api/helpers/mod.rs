//! spawn_app(), the fake WeChat, and tools to read and forge tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tempfile::TempDir;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};
use wxauth::clock::{Clock, ManualClock};
use wxauth::config::Settings;
use wxauth::keyring::{KeyAlg, KeyGeneration, KeyReloader, write_new_key};
use wxauth::startup::Application;

pub const APPID: &str = "wx1234567890abcdef";
pub const SECRET: &str = "test-app-secret-7f3a9c";
/// Where every test's clock starts: 2027-01-15, seconds since the epoch.
pub const START: i64 = 1_800_000_000;
pub const FIRST_KID: &str = "20260101T000000Z";
/// A session_key as WeChat sends it (base64 of 16 bytes).
pub const SESSION_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
pub const OPENID: &str = "oGZUI0egBJY1zhBYw2KhdUfwVJJE";
pub const UNIONID: &str = "ocMvos6NjeKLIBqg5Mr9QjxrP1FA";

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
    _keys: Arc<TempDir>,
}

/// A fresh key folder holding one Ed25519 key, `FIRST_KID`.
pub fn key_folder() -> Arc<TempDir> {
    let dir = tempfile::tempdir().expect("tempdir");
    write_new_key(dir.path(), FIRST_KID, KeyAlg::Eddsa).expect("keygen");
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
    let settings = Settings::from_map(&env).expect("test settings");
    let appid = settings.appid().to_owned();
    let clock = Arc::new(ManualClock::new(START));
    let app = Application::build(settings, clock.clone())
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let reloader = app.key_reloader();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        wechat,
        clock,
        keys_dir: keys.path().to_owned(),
        appid,
        reloader,
        _keys: keys,
    }
}

/// The app in simulator mode (no WeChat credentials).
pub async fn spawn_simulator() -> TestApp {
    spawn_app_with(&[
        ("WECHAT_APPID", ""),
        ("WECHAT_SECRET", ""),
        ("WECHAT_API_BASE", ""),
    ])
    .await
}

/// code2Session's success answer, as WeChat serves it.
pub fn session_answer(openid: &str, session_key: &str, unionid: Option<&str>) -> Value {
    let mut answer = json!({"openid": openid, "session_key": session_key});
    if let Some(unionid) = unionid {
        answer["unionid"] = json!(unionid);
    }
    answer
}

/// WeChat's way of answering: HTTP 200, JSON body, `text/plain`.
pub fn wechat_says(body: impl ToString) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "text/plain")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Makes the fake WeChat answer `body` for `code` (with our credentials),
    /// exactly `times` times.
    pub async fn wechat_answers(&self, code: &str, body: Value, times: u64) {
        Mock::given(method("GET"))
            .and(path("/sns/jscode2session"))
            .and(query_param("appid", self.appid.as_str()))
            .and(query_param("secret", SECRET))
            .and(query_param("js_code", code))
            .and(query_param("grant_type", "authorization_code"))
            .respond_with(wechat_says(body))
            .expect(times)
            .mount(&self.wechat)
            .await;
    }

    pub async fn post_login(&self, body: Value) -> reqwest::Response {
        self.client
            .post(self.url("/auth/login"))
            .json(&body)
            .send()
            .await
            .expect("request")
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
        let response = self.post_login(json!({"code": code})).await;
        assert_eq!(response.status(), 200, "login should succeed");
        let body: Value = response.json().await.expect("json");
        body["access_token"].as_str().expect("token").to_owned()
    }

    pub async fn get_me(&self, token: &str) -> reqwest::Response {
        self.client
            .get(self.url("/auth/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
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

    /// The key generation of `kid` in this app's folder, as the test's own
    /// copy (for forging tokens signed with our key).
    pub fn key(&self, kid: &str) -> KeyGeneration {
        load_key(&self.keys_dir, kid)
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// A token signed by this app's key for OPENID with a dummy seal: good
    /// for routes that only verify (not for those that unseal).
    pub fn guard_only_token(&self) -> String {
        forge(
            &self.key(FIRST_KID),
            &json!({"alg": "EdDSA", "typ": "JWT", "kid": FIRST_KID}),
            &json!({"iss": "wxauth", "aud": self.appid, "sub": OPENID, "iat": self.now(),
                    "exp": self.now() + 7200, "jti": "j", "auth_time": self.now(), "sk": "x"}),
        )
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

    /// GET `path`, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        response.json().await.expect("json")
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
}

/// Opens the sealed session_key of `token` (for `audience`) with the key
/// files of `dir` at time `now`, as only wxauth can.
pub fn unseal(dir: &Path, audience: &str, token: &str, now: i64) -> String {
    let (keyring, _) = wxauth::keyring::Keyring::load(dir, None).expect("keys");
    let policy = wxauth::token::TokenPolicy::new("wxauth", audience, 30);
    let clock = Arc::new(ManualClock::new(now));
    let verifier = wxauth::token::TokenVerifier::new(
        wxauth::keyring::SharedKeyring::new(keyring),
        policy,
        clock,
    );
    let verified = verifier.verify(token).expect("token verifies");
    verified
        .session_key()
        .expect("seal opens")
        .expose()
        .to_owned()
}

pub fn load_key(dir: &Path, kid: &str) -> KeyGeneration {
    let path = dir.join(format!("{kid}.pem"));
    let text = std::fs::read(&path).expect("key file");
    KeyGeneration::from_pem(kid, &path, &text).expect("key parses")
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

/// The header and claims of a compact JWS, unverified.
pub fn decode_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part = || {
        let bytes = URL_SAFE_NO_PAD
            .decode(parts.next().expect("part"))
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("json")
    };
    (part(), part())
}

/// A token with any header and claims, signed by `key` with its own
/// algorithm: what an attacker holding our key, or a test, can make.
pub fn forge(key: &KeyGeneration, header: &Value, claims: &Value) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        key.encoding_key(),
        key.alg().algorithm(),
    )
    .expect("sign");
    format!("{message}.{signature}")
}

/// A new key of `alg` that is not in any app's folder.
pub fn foreign_key(kid: &str, alg: KeyAlg) -> KeyGeneration {
    let pem = wxauth::keyring::generate_pem(alg).expect("keygen");
    KeyGeneration::from_pem(kid, Path::new("foreign.pem"), pem.as_bytes()).expect("parse")
}

/// The `wxauth` binary as a child process, with its stderr collected.
pub struct Process {
    child: std::process::Child,
    output: Arc<std::sync::Mutex<String>>,
    lines: std::sync::mpsc::Receiver<String>,
}

/// Runs `wxauth args` in `dir` with exactly `env` (plus PATH), to completion;
/// returns (exit code, stdout, stderr). A `.env` in `dir` is read, as in use.
pub fn run_wxauth(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wxauth"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .expect("run wxauth");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The real binary in production mode against the fake WeChat at
/// `wechat_uri`, in a fresh folder holding one key (`FIRST_KID`), with
/// `extra` settings; the folder lives as long as the returned TempDir.
pub fn serve_production_binary(wechat_uri: &str, extra: &[(&str, &str)]) -> (TempDir, Process) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_new_key(&dir.path().join("keys"), FIRST_KID, KeyAlg::Eddsa).expect("keygen");
    let mut env = vec![
        ("WXAUTH_BIND", "127.0.0.1:0"),
        ("WECHAT_APPID", APPID),
        ("WECHAT_SECRET", SECRET),
        ("WECHAT_API_BASE", wechat_uri),
    ];
    env.extend_from_slice(extra);
    let process = Process::serve(dir.path(), &env);
    (dir, process)
}

impl Process {
    /// Starts `wxauth serve` in `dir` with exactly `env` (plus PATH).
    pub fn serve(dir: &Path, env: &[(&str, &str)]) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wxauth"))
            .arg("serve")
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn wxauth");
        let stderr = child.stderr.take().expect("stderr");
        let output = Arc::new(std::sync::Mutex::new(String::new()));
        let (sender, lines) = std::sync::mpsc::channel();
        let sink = output.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = sender.send(line);
            }
        });
        Self {
            child,
            output,
            lines,
        }
    }

    /// The base URL, from the "listening on" line; None if the process ends
    /// first. The bound is generous: it only catches a hung start.
    pub fn wait_until_listening(&self) -> Option<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some(rest) = line.split("listening on ").nth(1) {
                return rest.split_whitespace().next().map(str::to_owned);
            }
        }
        None
    }

    /// Stops the process (SIGKILL is enough: nothing is flushed late, every
    /// log line is written as it happens) and returns all it logged.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The reader thread ends at EOF; give it the pipe's last lines.
        while self
            .lines
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_ok()
        {}
        self.output.lock().unwrap().clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit on its own; its code and all it logged.
    pub fn wait(mut self) -> (i32, String) {
        let status = self.child.wait().expect("wait");
        while self
            .lines
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_ok()
        {}
        (
            status.code().unwrap_or(-1),
            self.output.lock().unwrap().clone(),
        )
    }
}
