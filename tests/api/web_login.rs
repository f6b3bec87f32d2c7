//! WeChat's web and app logins (README "One person, every surface"): an
//! official account's H5 pages, a website's QR login and a mobile app, each
//! exchanging its code at `/sns/oauth2/access_token`; `/auth/authorize` with
//! a signed state and no open redirect; one unionid with the mini-program.

use crate::helpers::{APPID, SECRET, START, TOKEN_TTL, UNIONID};
use crate::helpers::{
    app::SIMULATOR_MODE, app::TestApp, app::assert_problem, app::assert_rejected,
    app::issued_token, app::key_folder, app::spawn_app_on, app::spawn_app_with,
    app::spawn_simulator, fakes::wechat_says, revocations::RevocationFile, tokens::decode_parts,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer};

const H5: &str = "wxh5aaaaaaaaaaaaaa";
const WEB: &str = "wxwebbbbbbbbbbbbbb";
const MOBILE: &str = "wxappcccccccccccccc";
const H5_SECRET: &str = "h5-secret-9d8c";
const WEB_SECRET: &str = "web-secret-7b6a";
const MOBILE_SECRET: &str = "app-secret-5f4e";
const CALLBACK: &str = "https://shop.example.com/login/callback";
const WEB_CALLBACK: &str = "https://www.shop.example.com/wechat";
/// The person's openid in each web app (WeChat gives one per app).
const WEB_OPENID: &str = "oWebOpenid0000000000000000001";

/// The app serving the WeChat mini-program (the one-app shorthand's APPID
/// would not mix with a file: the file names it too) and one app of each
/// web surface, all against one fake WeChat.
struct WebApps {
    app: TestApp,
    /// A client that does not follow redirects.
    browser: reqwest::Client,
    _files: tempfile::TempDir,
}

async fn spawn_web_apps(extra: &[(&str, &str)]) -> WebApps {
    let wechat = MockServer::start().await;
    let files = tempfile::tempdir().unwrap();
    let apps_file = files.path().join("apps.toml");
    let base = wechat.uri();
    std::fs::write(
        &apps_file,
        format!(
            r#"[[app]]
platform = "wechat"
appid = "{APPID}"
secret_env = "MP_SECRET"
api_base = "{base}"

[[app]]
platform = "wechat_h5"
appid = "{H5}"
secret_env = "H5_SECRET"
api_base = "{base}"
redirect_uris = ["{CALLBACK}", "https://m.shop.example.com/"]

[[app]]
platform = "wechat_web"
appid = "{WEB}"
secret_env = "WEB_SECRET"
api_base = "{base}"
redirect_uris = ["{WEB_CALLBACK}"]

[[app]]
platform = "wechat_app"
appid = "{MOBILE}"
secret_env = "MOBILE_SECRET"
api_base = "{base}"
"#
        ),
    )
    .unwrap();
    let apps_file = apps_file.display().to_string();
    let mut settings = vec![
        ("WECHAT_APPID", ""),
        ("WECHAT_SECRET", ""),
        ("WECHAT_API_BASE", ""),
        ("WXAUTH_APPS_FILE", apps_file.as_str()),
        ("MP_SECRET", SECRET),
        ("H5_SECRET", H5_SECRET),
        ("WEB_SECRET", WEB_SECRET),
        ("MOBILE_SECRET", MOBILE_SECRET),
    ];
    settings.extend_from_slice(extra);
    WebApps {
        app: spawn_app_on(wechat, key_folder(), &settings).await,
        browser: no_redirects(),
        _files: files,
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The fake `/sns/oauth2/access_token` of `appid`, answering `answer` to
/// `code` exactly `times` times.
async fn oauth2_answers(
    wechat: &MockServer,
    appid: &str,
    secret: &str,
    code: &str,
    answer: Value,
    times: u64,
) {
    Mock::given(method("GET"))
        .and(path("/sns/oauth2/access_token"))
        .and(query_param("appid", appid))
        .and(query_param("secret", secret))
        .and(query_param("code", code))
        .and(query_param("grant_type", "authorization_code"))
        .respond_with(wechat_says(answer))
        .expect(times)
        .mount(wechat)
        .await;
}

/// WeChat's answer: a user access token wxauth ignores, the ids.
fn oauth2_answer(openid: &str, unionid: Option<&str>, scope: &str) -> Value {
    let mut answer = json!({
        "access_token": "user-access-token-not-kept",
        "expires_in": 7200,
        "refresh_token": "refresh-token-not-kept",
        "openid": openid,
        "scope": scope,
    });
    if let Some(unionid) = unionid {
        answer["unionid"] = json!(unionid);
    }
    answer
}

/// The query of a URL (after `?`, before `#`), decoded.
fn query_of(location: &str) -> HashMap<String, String> {
    let url = url::Url::parse(location)
        .or_else(|_| {
            url::Url::parse("http://relative.invalid")
                .unwrap()
                .join(location)
        })
        .unwrap();
    url.query_pairs().into_owned().collect()
}

impl WebApps {
    /// GET /auth/authorize with these query pairs, not followed.
    async fn authorize(&self, pairs: &[(&str, &str)]) -> reqwest::Response {
        self.browser
            .get(self.app.url("/auth/authorize"))
            .query(pairs)
            .send()
            .await
            .unwrap()
    }

    /// A state for a login of `appid` returning to `redirect_uri`.
    async fn state_for(&self, appid: &str, redirect_uri: &str) -> String {
        let response = self
            .authorize(&[("appid", appid), ("redirect_uri", redirect_uri)])
            .await;
        assert_eq!(response.status(), 302);
        query_of(response.headers()["location"].to_str().unwrap())["state"].clone()
    }
}

#[tokio::test]
async fn an_h5_login_goes_through_wechats_authorize_page_and_gives_a_token_without_session_key() {
    let web = spawn_web_apps(&[]).await;

    // The page sends the browser to /auth/authorize ...
    let response = web
        .authorize(&[
            ("appid", H5),
            (
                "redirect_uri",
                "https://shop.example.com/login/callback?next=%2Fcart",
            ),
        ])
        .await;

    // ... which sends it on to WeChat's authorize page, parameters in
    // WeChat's order, `#wechat_redirect` last, with a signed state.
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!(
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid={H5}&redirect_uri=https%3A%2F%2Fshop.example.com%2Flogin%2Fcallback%3Fnext%3D%252Fcart&response_type=code&scope=snsapi_userinfo&state="
        )),
        "{location}"
    );
    assert!(location.ends_with("#wechat_redirect"), "{location}");
    let state = query_of(&location)["state"].clone();
    assert!(state.len() <= 128 && state.chars().all(|c| c.is_ascii_alphanumeric()));

    // WeChat sends the browser back with a code and the state; the page
    // posts them to /auth/login.
    oauth2_answers(
        &web.app.wechat,
        H5,
        H5_SECRET,
        "h5-code-1",
        oauth2_answer(WEB_OPENID, Some(UNIONID), "snsapi_userinfo"),
        1,
    )
    .await;
    let token = issued_token(
        web.app
            .post_login(json!({"code": "h5-code-1", "appid": H5, "state": state,
                "redirect_uri": "https://shop.example.com/login/callback?next=%2Fcart"}))
            .await,
    )
    .await;

    let me: Value = web.app.get_me(&token).await.json().await.unwrap();
    assert_eq!(
        me,
        json!({"openid": WEB_OPENID, "unionid": UNIONID, "exp": START + TOKEN_TTL,
            "appid": H5, "platform": "wechat_h5"})
    );
    let claims = decode_parts(&token).1;
    assert_eq!(claims["plat"], "wechat_h5");
    assert!(
        claims.get("sk").is_none(),
        "no session_key sealed: {claims}"
    );
}

#[tokio::test]
async fn a_website_login_goes_through_the_qr_page_and_an_app_login_needs_no_state() {
    let web = spawn_web_apps(&[]).await;

    let response = web
        .authorize(&[
            ("appid", WEB),
            ("redirect_uri", WEB_CALLBACK),
            ("scope", "snsapi_login"),
        ])
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!(
            "https://open.weixin.qq.com/connect/qrconnect?appid={WEB}&redirect_uri=https%3A%2F%2Fwww.shop.example.com%2Fwechat&response_type=code&scope=snsapi_login&state="
        )),
        "{location}"
    );
    let state = query_of(&location)["state"].clone();
    oauth2_answers(
        &web.app.wechat,
        WEB,
        WEB_SECRET,
        "web-code",
        oauth2_answer(WEB_OPENID, Some(UNIONID), "snsapi_login"),
        1,
    )
    .await;
    let token = issued_token(
        web.app
            .post_login(json!({"code": "web-code", "appid": WEB, "state": state}))
            .await,
    )
    .await;
    assert_eq!(decode_parts(&token).1["plat"], "wechat_web");

    // The mobile app's SDK hands the app a code: no authorize page, no state.
    oauth2_answers(
        &web.app.wechat,
        MOBILE,
        MOBILE_SECRET,
        "app-code",
        oauth2_answer(WEB_OPENID, Some(UNIONID), "snsapi_userinfo"),
        1,
    )
    .await;
    let token = issued_token(
        web.app
            .post_login(json!({"code": "app-code", "appid": MOBILE}))
            .await,
    )
    .await;
    let me: Value = web.app.get_me(&token).await.json().await.unwrap();
    assert_eq!(me["platform"], "wechat_app");
    assert_eq!(me["unionid"], UNIONID);
    assert_problem(
        web.authorize(&[("appid", MOBILE), ("redirect_uri", CALLBACK)])
            .await,
        400,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn a_web_token_refreshes_but_the_session_key_routes_answer_unsupported_platform() {
    let web = spawn_web_apps(&[]).await;
    oauth2_answers(
        &web.app.wechat,
        MOBILE,
        MOBILE_SECRET,
        "app-code",
        oauth2_answer(WEB_OPENID, None, "snsapi_userinfo"),
        1,
    )
    .await;
    let token = issued_token(
        web.app
            .post_login(json!({"code": "app-code", "appid": MOBILE}))
            .await,
    )
    .await;

    let renewed = web.app.refreshed(&token).await;
    let claims = decode_parts(&renewed).1;
    assert_eq!(claims["plat"], "wechat_app");
    assert_eq!(claims["aud"], MOBILE);
    assert!(claims.get("sk").is_none());

    for response in [
        web.app.get_with_token("/auth/check", &renewed).await,
        web.app
            .post_with_token(
                "/wx/decrypt",
                &renewed,
                json!({"encryptedData": "AAAA", "iv": "AAAAAAAAAAAAAAAAAAAAAA=="}),
            )
            .await,
        web.app
            .post_with_token("/wx/phone", &renewed, json!({"code": "phone-code"}))
            .await,
    ] {
        assert_problem(response, 400, "unsupported_platform").await;
    }
}

#[tokio::test]
async fn a_missing_forged_expired_other_app_or_other_redirect_state_is_refused_before_the_code_is_spent()
 {
    let web = spawn_web_apps(&[]).await;
    // No exchange at all: each refusal comes before WeChat is asked.
    Mock::given(path("/sns/oauth2/access_token"))
        .and(query_param("code", "h5-code"))
        .respond_with(wechat_says(oauth2_answer(
            WEB_OPENID,
            Some(UNIONID),
            "snsapi_userinfo",
        )))
        .expect(0)
        .mount(&web.app.wechat)
        .await;
    let state = web.state_for(H5, CALLBACK).await;
    let web_state = web.state_for(WEB, WEB_CALLBACK).await;
    let mut flipped = hex_bytes(&state);
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let mut later = hex_bytes(&state);
    later[8] ^= 0x10; // the expiry, pushed out: the tag no longer matches

    let login_with = |code: &str, state: Value, redirect: Value| json!({"code": code, "appid": H5, "state": state, "redirect_uri": redirect});
    let login = |state: Value, redirect: Value| login_with("h5-code", state, redirect);
    for (what, body) in [
        ("missing", json!({"code": "h5-code", "appid": H5})),
        ("empty", login(json!(""), Value::Null)),
        (
            "forged: a tag bit",
            login(json!(to_hex(&flipped)), Value::Null),
        ),
        (
            "forged: a later expiry",
            login(json!(to_hex(&later)), Value::Null),
        ),
        ("forged: made up", login(json!("0".repeat(82)), Value::Null)),
        ("not hex", login(json!("state"), Value::Null)),
        ("another app's", login(json!(web_state), Value::Null)),
        (
            "another redirect's",
            login(json!(state), json!("https://m.shop.example.com/x")),
        ),
    ] {
        let body = assert_problem(web.app.post_login(body).await, 400, "invalid_state").await;
        assert!(body["detail"].is_string(), "{what}");
    }

    // Expired: ten minutes on the test clock, then one second more.
    web.app.clock.advance(600);
    oauth2_answers(
        &web.app.wechat,
        H5,
        H5_SECRET,
        "in-time",
        oauth2_answer(WEB_OPENID, Some(UNIONID), "snsapi_userinfo"),
        1,
    )
    .await;
    let in_time = login_with("in-time", json!(state), json!(CALLBACK));
    issued_token(web.app.post_login(in_time).await).await;
    web.app.clock.advance(1);
    let stale = web.state_for(H5, CALLBACK).await;
    web.app.clock.advance(601);
    assert_problem(
        web.app.post_login(login(json!(stale), Value::Null)).await,
        400,
        "invalid_state",
    )
    .await;
}

fn hex_bytes(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_redirect_uri_outside_the_apps_list_is_refused_never_redirected_to() {
    let web = spawn_web_apps(&[]).await;

    for candidate in [
        "https://evil.example.net/login/callback",
        "https://shop.example.com.evil.example.net/login/callback",
        "https://shop.example.com@evil.example.net/login/callback",
        "https://user:pw@shop.example.com/login/callback",
        "//evil.example.net/login/callback",
        "/login/callback",
        "https://shop.example.com/login/callbackx",
        "https://shop.example.com/login/callback/../../admin",
        "https://shop.example.com/login/%2e%2e/admin",
        "http://shop.example.com/login/callback",
        "https://shop.example.com:8443/login/callback",
        "https://shop.example.com/login/callback#x",
        "https://shop.example.com\\@evil.example.net/login/callback",
        "javascript:alert(1)//https://shop.example.com/login/callback",
        "https://m.shop.example.com.evil.example.net/",
        WEB_CALLBACK,
    ] {
        let response = web
            .authorize(&[("appid", H5), ("redirect_uri", candidate)])
            .await;
        assert!(response.headers().get("location").is_none(), "{candidate}");
        assert_problem(response, 400, "invalid_request").await;
    }
    // Allowed: the exact URL, below it, any page of the other prefix.
    for allowed in [
        CALLBACK,
        "https://shop.example.com/login/callback/step2",
        "https://SHOP.example.com:443/login/callback?x=1",
        "https://m.shop.example.com/any/page",
    ] {
        let response = web
            .authorize(&[("appid", H5), ("redirect_uri", allowed)])
            .await;
        assert_eq!(response.status(), 302, "{allowed}");
    }
    for bad in [
        vec![("appid", H5)],
        vec![
            ("appid", H5),
            ("redirect_uri", CALLBACK),
            ("scope", "snsapi_login"),
        ],
        vec![
            ("appid", WEB),
            ("redirect_uri", WEB_CALLBACK),
            ("scope", "snsapi_userinfo"),
        ],
        vec![("appid", APPID), ("redirect_uri", CALLBACK)],
        vec![
            ("appid", H5),
            ("redirect_uri", CALLBACK),
            ("redirect_uri", "https://evil.example.net/"),
        ],
    ] {
        assert_problem(web.authorize(&bad).await, 400, "invalid_request").await;
    }
    assert_problem(
        web.authorize(&[("appid", "wxnotours00000000"), ("redirect_uri", CALLBACK)])
            .await,
        400,
        "unknown_app",
    )
    .await;
}

/// A server behind the redirect_uri may decode `%2F` (nginx does, before it
/// resolves `..`), read `\\` as `/`, or `..;` as `..` (Tomcat): a path the
/// prefix check saw below the callback would be served from outside it.
#[tokio::test]
async fn a_redirect_uri_hiding_a_dot_dot_from_the_prefix_check_is_refused() {
    let web = spawn_web_apps(&[]).await;
    for candidate in [
        "https://shop.example.com/login/callback/..%2F..%2Fuploads/evil.html",
        "https://shop.example.com/login/callback/..%2f..%2fuploads/evil.html",
        "https://shop.example.com/login/callback/..%5C..%5Cuploads/evil.html",
        "https://shop.example.com/login/callback/%2e%2e%2F%2e%2e%2Fuploads/evil.html",
        "https://shop.example.com/login/callback/.%2E/.%2E/uploads/evil.html",
        "https://shop.example.com/login/callback/..;/..;/uploads/evil.html",
    ] {
        let response = web
            .authorize(&[("appid", H5), ("redirect_uri", candidate)])
            .await;
        assert!(response.headers().get("location").is_none(), "{candidate}");
        assert_problem(response, 400, "invalid_request").await;
    }
    let response = web
        .authorize(&[
            ("appid", H5),
            (
                "redirect_uri",
                "https://shop.example.com/login/callback/step.2?next=%2Fhome",
            ),
        ])
        .await;
    assert_eq!(
        response.status(),
        302,
        "a dot in a name, an encoded slash in the query"
    );
}

/// WeChat appends its own `code` and `state` to the redirect_uri: one that
/// already carries them gives the page two of each, and most parsers
/// (`URLSearchParams.get`, PHP, Express) read the first, the link's author's.
#[tokio::test]
async fn a_redirect_uri_carrying_its_own_code_or_state_is_refused() {
    let web = spawn_web_apps(&[]).await;
    for candidate in [
        "https://shop.example.com/login/callback?code=0123456789abcdef",
        "https://shop.example.com/login/callback?n=1&state=01ab",
        "https://shop.example.com/login/callback?c%6Fde=0123456789abcdef",
        "https://shop.example.com/login/callback?code",
    ] {
        let response = web
            .authorize(&[("appid", H5), ("redirect_uri", candidate)])
            .await;
        assert!(response.headers().get("location").is_none(), "{candidate}");
        assert_problem(response, 400, "invalid_request").await;
    }
    let response = web
        .authorize(&[
            ("appid", H5),
            (
                "redirect_uri",
                "https://shop.example.com/login/callback?n=1&codes=2&next=state",
            ),
        ])
        .await;
    assert_eq!(response.status(), 302);
}

#[tokio::test]
async fn a_state_made_by_one_replica_is_checked_by_another_sharing_the_key_folder() {
    let keys = key_folder();
    let wechat = MockServer::start().await;
    let files = tempfile::tempdir().unwrap();
    let apps_file = files.path().join("apps.toml");
    std::fs::write(
        &apps_file,
        format!(
            "[[app]]\nplatform = \"wechat_h5\"\nappid = \"{H5}\"\nsecret_env = \"H5_SECRET\"\napi_base = \"{}\"\nredirect_uris = [\"{CALLBACK}\"]\n",
            wechat.uri()
        ),
    )
    .unwrap();
    let apps_file = apps_file.display().to_string();
    let settings = [
        ("WECHAT_APPID", ""),
        ("WECHAT_SECRET", ""),
        ("WECHAT_API_BASE", ""),
        ("WXAUTH_APPS_FILE", apps_file.as_str()),
        ("H5_SECRET", H5_SECRET),
    ];
    let a = spawn_app_on(MockServer::start().await, keys.clone(), &settings).await;
    let b = spawn_app_on(wechat, keys, &settings).await;
    let response = no_redirects()
        .get(a.url("/auth/authorize"))
        .query(&[("appid", H5), ("redirect_uri", CALLBACK)])
        .send()
        .await
        .unwrap();
    let state = query_of(response.headers()["location"].to_str().unwrap())["state"].clone();
    oauth2_answers(
        &b.wechat,
        H5,
        H5_SECRET,
        "h5-code",
        oauth2_answer(WEB_OPENID, Some(UNIONID), "snsapi_userinfo"),
        1,
    )
    .await;

    let response = b
        .post_login(
            json!({"code": "h5-code", "appid": H5, "state": state, "redirect_uri": CALLBACK}),
        )
        .await;

    issued_token(response).await;
}

#[tokio::test]
async fn wechats_errcodes_and_snapshot_users_map_as_for_mini_programs() {
    let web = spawn_web_apps(&[]).await;
    for (code, answer, status, expected) in [
        (
            "c1",
            json!({"errcode": 40029, "errmsg": "invalid code"}),
            400,
            "invalid_code",
        ),
        (
            "c2",
            json!({"errcode": 40163, "errmsg": "code been used"}),
            400,
            "code_used",
        ),
        (
            "c3",
            json!({"errcode": 40125, "errmsg": "invalid appsecret"}),
            502,
            "upstream_error",
        ),
        (
            "c4",
            json!({"openid": WEB_OPENID, "scope": "snsapi_userinfo", "is_snapshotuser": 1}),
            403,
            "user_blocked",
        ),
        (
            "c5",
            json!({"scope": "snsapi_userinfo"}),
            502,
            "upstream_error",
        ),
    ] {
        oauth2_answers(&web.app.wechat, MOBILE, MOBILE_SECRET, code, answer, 1).await;
        let response = web
            .app
            .post_login(json!({"code": code, "appid": MOBILE}))
            .await;
        assert_problem(response, status, expected).await;
    }
}

/// The simulator's authorize page, followed as a browser would: the
/// `Location` of /auth/authorize (relative in simulator mode), with a user.
async fn simulated_web_login(app: &TestApp, appid: &str, redirect_uri: &str, user: &str) -> String {
    let browser = no_redirects();
    let response = browser
        .get(app.url("/auth/authorize"))
        .query(&[("appid", appid), ("redirect_uri", redirect_uri)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/sim/connect/"), "{location}");
    // Without a user, the page asks who logs in.
    let page = browser.get(app.url(&location)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("name=\"user\""));
    let location = location.replace("#wechat_redirect", "");
    let back = browser
        .get(app.url(&format!("{location}&user={user}")))
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302);
    let back = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(redirect_uri), "{back}");
    let pairs = query_of(&back);
    issued_token(
        app.post_login(
            json!({"code": pairs["code"], "appid": appid, "state": pairs["state"],
            "redirect_uri": redirect_uri}),
        )
        .await,
    )
    .await
}

/// WeChat's authorize pages take a `state` of `[a-zA-Z0-9]`, at most 128
/// bytes (its web authorization guide); the simulator holds pages to the
/// same, so a state wxauth could not send to WeChat fails under the
/// simulator too.
#[tokio::test]
async fn the_simulators_authorize_pages_take_the_state_wechat_takes_only() {
    let app = spawn_simulator().await;
    let browser = no_redirects();
    let long = "a".repeat(128);
    for (page, appid) in [
        ("/sim/connect/oauth2/authorize", "wxsimh5000000000"),
        ("/sim/connect/qrconnect", "wxsimweb000000000"),
    ] {
        let ask = |state: &str, user: Option<&str>| {
            let mut pairs = vec![
                ("appid", appid.to_owned()),
                ("redirect_uri", "http://127.0.0.1:5500/".to_owned()),
                ("response_type", "code".to_owned()),
                ("state", state.to_owned()),
            ];
            if let Some(user) = user {
                pairs.push(("user", user.to_owned()));
            }
            browser.get(app.url(page)).query(&pairs).send()
        };
        for bad in [
            "ab-cd",
            "ab_cd",
            "a b",
            "a%26code%3Dx",
            "\u{4e2d}",
            &"a".repeat(129),
        ] {
            for user in [None, Some("alice")] {
                let response = ask(bad, user).await.unwrap();
                assert!(response.headers().get("location").is_none(), "{page} {bad}");
                assert_problem(response, 400, "invalid_request").await;
            }
        }
        let back = ask(&long, Some("alice")).await.unwrap();
        assert_eq!(back.status(), 302, "{page}");
        let back = back.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(query_of(&back)["state"], long);
    }
}

#[tokio::test]
async fn the_simulator_plays_every_surface_with_one_unionid_per_person() {
    let app = spawn_simulator().await;
    let mini_program: Value = app
        .get_me(&app.sim_token("alice").await)
        .await
        .json()
        .await
        .unwrap();

    let h5 = simulated_web_login(
        &app,
        "wxsimh5000000000",
        "http://127.0.0.1:5500/index.html",
        "alice",
    )
    .await;
    let site =
        simulated_web_login(&app, "wxsimweb000000000", "http://localhost:3000/", "alice").await;
    let code = app
        .sim(
            "/sim/login",
            json!({"user": "alice", "appid": "wxsimapp000000000"}),
        )
        .await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let mobile = issued_token(
        app.post_login(json!({"code": code, "appid": "wxsimapp000000000"}))
            .await,
    )
    .await;

    for (token, surface, appid) in [
        (&h5, "wechat_h5", "wxsimh5000000000"),
        (&site, "wechat_web", "wxsimweb000000000"),
        (&mobile, "wechat_app", "wxsimapp000000000"),
    ] {
        let me: Value = app.get_me(token).await.json().await.unwrap();
        assert_eq!(me["platform"], surface);
        assert_eq!(me["unionid"], mini_program["unionid"], "{surface}");
        assert_eq!(me["openid"], wxauth::sim::app_openid(appid, "alice"));
        assert_ne!(me["openid"], mini_program["openid"], "one openid per app");
    }
    let bob = simulated_web_login(&app, "wxsimh5000000000", "http://127.0.0.1:5500/", "bob").await;
    let bob: Value = app.get_me(&bob).await.json().await.unwrap();
    assert_ne!(bob["unionid"], mini_program["unionid"]);

    // The simulator refuses redirects off loopback, as /auth/authorize does.
    let response = no_redirects()
        .get(app.url("/auth/authorize"))
        .query(&[
            ("appid", "wxsimh5000000000"),
            ("redirect_uri", "http://127.0.0.1.evil.example.net/"),
        ])
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn a_ban_of_the_unionid_refuses_the_mini_program_and_the_web_login_of_that_person() {
    let file = RevocationFile::new("");
    let app = spawn_app_with(&[
        SIMULATOR_MODE[0],
        SIMULATOR_MODE[1],
        SIMULATOR_MODE[2],
        file.setting(),
    ])
    .await;
    let mini_program = app.sim_token("alice").await;
    let h5 = simulated_web_login(&app, "wxsimh5000000000", "http://127.0.0.1:5500/", "alice").await;
    let unionid = decode_parts(&h5).1["unionid"].as_str().unwrap().to_owned();
    assert_eq!(decode_parts(&mini_program).1["unionid"], unionid.as_str());

    file.write(&format!("ban {unionid}\n"));
    app.reload_revocations();

    assert_rejected(app.get_me(&mini_program).await, "mini-program token").await;
    assert_rejected(app.get_me(&h5).await, "h5 token").await;
    assert_rejected(app.refresh(&h5).await, "h5 refresh").await;
    let code = app.sim_code("alice").await;
    assert_problem(
        app.post_login(json!({"code": code})).await,
        403,
        "user_blocked",
    )
    .await;
    let browser = no_redirects();
    let location = browser
        .get(app.url("/auth/authorize"))
        .query(&[
            ("appid", "wxsimh5000000000"),
            ("redirect_uri", "http://127.0.0.1:5500/"),
        ])
        .send()
        .await
        .unwrap()
        .headers()["location"]
        .to_str()
        .unwrap()
        .replace("#wechat_redirect", "");
    let back = browser
        .get(app.url(&format!("{location}&user=alice")))
        .send()
        .await
        .unwrap();
    let pairs = query_of(back.headers()["location"].to_str().unwrap());
    let response = app
        .post_login(
            json!({"code": pairs["code"], "appid": "wxsimh5000000000", "state": pairs["state"]}),
        )
        .await;
    assert_problem(response, 403, "user_blocked").await;
    // Another person is untouched.
    simulated_web_login(&app, "wxsimh5000000000", "http://127.0.0.1:5500/", "bob").await;
}

#[tokio::test]
async fn a_login_page_of_a_web_app_may_call_wxauth_from_its_origin_and_no_other_page_may() {
    let web = spawn_web_apps(&[]).await;
    let preflight = |origin: &'static str, path: &'static str| {
        web.browser
            .request(reqwest::Method::OPTIONS, web.app.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };

    // The origin of an H5 app's redirect_uri: its preflight is answered,
    // and so is the login itself.
    let response = preflight("https://shop.example.com", "/auth/login")
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://shop.example.com"
    );
    assert_eq!(headers["access-control-allow-methods"], "GET, POST");
    assert_eq!(
        headers["access-control-allow-headers"],
        "Authorization, Content-Type"
    );
    assert!(headers.get("access-control-allow-credentials").is_none());
    let response = web
        .browser
        .post(web.app.url("/auth/login"))
        .header("origin", "https://m.shop.example.com")
        .json(&json!({"code": "x", "appid": H5}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://m.shop.example.com"
    );
    assert_eq!(response.headers()["vary"], "Origin");
    assert_problem(response, 400, "invalid_state").await;

    // Any other origin, or a path outside /auth and /wx, gets no CORS
    // header: the browser keeps the answer from the page.
    for (origin, path) in [
        ("https://evil.example.net", "/auth/login"),
        ("https://shop.example.com.evil.example.net", "/auth/login"),
        ("http://shop.example.com", "/auth/login"),
        ("https://shop.example.com:8443", "/auth/login"),
        ("null", "/auth/login"),
        ("https://shop.example.com", "/metrics"),
    ] {
        let response = preflight(origin, path).await.unwrap();
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{origin} {path}"
        );
    }
    let response = web
        .browser
        .get(web.app.url("/auth/me"))
        .header("origin", "https://evil.example.net")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn in_simulator_mode_pages_on_loopback_may_call_wxauth() {
    let app = spawn_simulator().await;
    for origin in ["http://127.0.0.1:5500", "http://localhost:3000"] {
        let response = no_redirects()
            .request(reqwest::Method::OPTIONS, app.url("/auth/me"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["access-control-allow-origin"], origin);
    }
    let response = no_redirects()
        .request(reqwest::Method::OPTIONS, app.url("/auth/me"))
        .header("origin", "http://192.0.2.1:5500")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
