//! Several mini-programs on three platforms (docs/API.md, "Apps and platforms"): an apps file
//! (TOML, in a temp folder) naming four apps, each platform faked by its own
//! MockServer, and the fakes' answers in each platform's own shape.

use super::{
    app::{TestApp, issued_token, key_folder, spawn_app_on},
    fakes::{session_answer, wechat_says},
};
use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The shop's WeChat mini-program (the first app in the file).
pub const WX_SHOP: &str = "wx1111111111111111";
/// The mall's WeChat mini-program, under the same open-platform account.
pub const WX_MALL: &str = "wx2222222222222222";
/// A QQ mini-program.
pub const QQ_APP: &str = "1101234567";
/// A Douyin mini-program.
pub const TT_APP: &str = "tt3333333333333333";

/// Each app's secret; the shop's, the mall's and QQ's come from variables,
/// Douyin's from a file.
pub const SHOP_SECRET: &str = "shop-secret-1a2b";
pub const MALL_SECRET: &str = "mall-secret-3c4d";
pub const QQ_SECRET: &str = "qq-secret-5e6f";
pub const TT_SECRET: &str = "tt-secret-7a8b";

/// Each app's platform, as the `plat` claim and /auth/me name it.
pub const FOUR_APPS: [(&str, &str); 4] = [
    (WX_SHOP, "wechat"),
    (WX_MALL, "wechat"),
    (QQ_APP, "qq"),
    (TT_APP, "douyin"),
];

/// The app under test serving four apps, with each platform's fake.
pub struct FourApps {
    /// The server; its `wechat` is the fake WeChat both WeChat apps call.
    pub app: TestApp,
    /// The fake QQ API.
    pub qq: MockServer,
    /// The fake Douyin API.
    pub douyin: MockServer,
    /// The apps file and the Douyin secret file.
    pub files: TempDir,
}

/// The apps file for the four apps: WeChat's two at `wechat`, QQ's at `qq`,
/// Douyin's at `douyin` with its secret in `tt_secret_file`.
pub fn four_apps_toml(wechat: &str, qq: &str, douyin: &str, tt_secret_file: &str) -> String {
    format!(
        r#"# four mini-programs on three platforms
[[app]]
platform = "wechat"
appid = "{WX_SHOP}"
secret_env = "SHOP_WECHAT_SECRET"
api_base = "{wechat}"

[[app]]
platform = "wechat"
appid = "{WX_MALL}"
secret_env = "MALL_WECHAT_SECRET"
api_base = "{wechat}/"

[[app]]
platform = "qq"
appid = "{QQ_APP}"
secret_env = "QQ_SECRET"
api_base = "{qq}"

[[app]]
platform = "douyin"
appid = "{TT_APP}"
secret_file = "{tt_secret_file}"
api_base = "{douyin}"
"#
    )
}

/// The secret variables the four apps' file names, as the settings map
/// (the same lookup as the environment) carries them.
pub const SECRET_VARIABLES: [(&str, &str); 3] = [
    ("SHOP_WECHAT_SECRET", SHOP_SECRET),
    ("MALL_WECHAT_SECRET", MALL_SECRET),
    ("QQ_SECRET", QQ_SECRET),
];

/// The server with the four apps, each platform faked on loopback.
pub async fn spawn_four_apps() -> FourApps {
    spawn_four_apps_with(&[]).await
}

/// The server with the four apps and some settings overridden.
pub async fn spawn_four_apps_with(overrides: &[(&str, &str)]) -> FourApps {
    let wechat = MockServer::start().await;
    let qq = MockServer::start().await;
    let douyin = MockServer::start().await;
    let files = tempfile::tempdir().expect("tempdir");
    let secret_file = files.path().join("douyin-secret");
    // A trailing newline, as `echo secret > file` writes it.
    std::fs::write(&secret_file, format!("{TT_SECRET}\n")).expect("secret file");
    let apps_file = files.path().join("apps.toml");
    std::fs::write(
        &apps_file,
        four_apps_toml(
            &wechat.uri(),
            &qq.uri(),
            &douyin.uri(),
            &secret_file.display().to_string(),
        ),
    )
    .expect("apps file");
    let apps_file = apps_file.display().to_string();
    let mut settings: Vec<(&str, &str)> = vec![
        // The one-app shorthand off: the file configures the apps.
        ("WECHAT_APPID", ""),
        ("WECHAT_SECRET", ""),
        ("WECHAT_API_BASE", ""),
        ("WXAUTH_APPS_FILE", &apps_file),
    ];
    settings.extend_from_slice(&SECRET_VARIABLES);
    settings.extend_from_slice(overrides);
    let app = spawn_app_on(wechat, key_folder(), &settings).await;
    assert_eq!(app.appid, WX_SHOP, "the first app in the file");
    FourApps {
        app,
        qq,
        douyin,
        files,
    }
}

/// Douyin's success answer, as it serves it: `err_no` 0 and the session
/// under `data` (`unionid` an empty string when there is none).
pub fn douyin_session(openid: &str, session_key: &str, unionid: &str) -> Value {
    json!({
        "err_no": 0, "err_tips": "success", "log_id": "202611221200000101",
        "data": {
            "session_key": session_key, "openid": openid,
            "anonymous_openid": "", "unionid": unionid
        }
    })
}

/// A Douyin error answer.
pub fn douyin_error(err_no: i64, err_tips: &str) -> Value {
    json!({"err_no": err_no, "err_tips": err_tips, "log_id": "202611221200000102", "data": {}})
}

/// Douyin's way of answering: HTTP 200, `application/json`.
pub fn douyin_says(body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// WeChat's (and QQ's) code2Session for `appid` with `secret` and `code`.
pub fn jscode2session_for(appid: &str, secret: &str, code: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .and(query_param("appid", appid))
        .and(query_param("secret", secret))
        .and(query_param("js_code", code))
        .and(query_param("grant_type", "authorization_code"))
}

/// Douyin's code exchange for the Douyin app's `code`: a POST with exactly
/// `{"appid","secret","code"}`.
pub fn douyin_jscode2session_for(code: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/api/apps/v2/jscode2session"))
        .and(body_json(
            json!({"appid": TT_APP, "secret": TT_SECRET, "code": code}),
        ))
}

impl FourApps {
    /// The secret and the fake of a WeChat or QQ app.
    fn wechat_like(&self, appid: &str) -> (&'static str, &MockServer) {
        match appid {
            WX_SHOP => (SHOP_SECRET, &self.app.wechat),
            WX_MALL => (MALL_SECRET, &self.app.wechat),
            QQ_APP => (QQ_SECRET, &self.qq),
            other => panic!("{other} is not a WeChat or QQ app here"),
        }
    }

    /// Makes `appid`'s platform answer `code` (sent with the app's own
    /// credentials to its own platform) with a session for `openid`,
    /// exactly once.
    pub async fn platform_answers(
        &self,
        appid: &str,
        code: &str,
        openid: &str,
        session_key: &str,
        unionid: Option<&str>,
    ) {
        if appid == TT_APP {
            douyin_jscode2session_for(code)
                .respond_with(douyin_says(&douyin_session(
                    openid,
                    session_key,
                    unionid.unwrap_or(""),
                )))
                .expect(1)
                .mount(&self.douyin)
                .await;
        } else {
            let (secret, server) = self.wechat_like(appid);
            jscode2session_for(appid, secret, code)
                .respond_with(wechat_says(session_answer(openid, session_key, unionid)))
                .expect(1)
                .mount(server)
                .await;
        }
    }

    /// POST /auth/login `{"code","appid"}`.
    pub async fn login_request(&self, appid: &str, code: &str) -> reqwest::Response {
        self.app
            .post_login(json!({"code": code, "appid": appid}))
            .await
    }

    /// Logs `openid` in to `appid` (its platform answering), the token.
    pub async fn login_to(
        &self,
        appid: &str,
        openid: &str,
        session_key: &str,
        unionid: Option<&str>,
    ) -> String {
        let code = format!("code-for-{appid}-{openid}");
        self.platform_answers(appid, &code, openid, session_key, unionid)
            .await;
        issued_token(self.login_request(appid, &code).await).await
    }
}

/// An openid per app, as the platforms give one user one openid per app.
pub fn openid_in(appid: &str) -> String {
    // 28 characters, like WeChat's.
    format!(
        "o{:0>27}",
        appid.trim_start_matches(|c: char| c.is_alphabetic())
    )
}
