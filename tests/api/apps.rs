//! Several mini-programs on three platforms (SPEC sections 5-8, issue 12):
//! four apps from an apps file (two WeChat, one QQ, one Douyin), each
//! platform faked on loopback in its own shape; the refusals at start-up of
//! a bad apps file (the real binary); the guard library accepting a set of
//! appids; and the simulator's three apps.

use crate::helpers::*;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer};
use wxauth::domain::SessionKey;

/// Another session_key than SESSION_KEY (base64 of 16 bytes 0x11).
const OTHER_SESSION_KEY: &str = "EREREREREREREREREREREQ==";
/// The unionid one user has across the two WeChat apps.
const WECHAT_UNIONID: &str = "oUnion00000000000000000000wx";

/// The claims of `token`, unverified.
fn claims(token: &str) -> Value {
    decode_parts(token).1
}

/// `data` watermarked for `appid`, encrypted under `session_key` the way
/// every platform does it (AES-128-CBC).
fn encrypted_for(appid: &str, session_key: &str, data: &Value) -> Value {
    let mut plaintext = data.clone();
    plaintext["watermark"] = json!({"appid": appid, "timestamp": START});
    let (encrypted_data, iv) = wxauth::platform::encrypt_user_data(
        &SessionKey::parse(session_key).unwrap(),
        plaintext.to_string().as_bytes(),
    )
    .unwrap();
    json!({"encryptedData": encrypted_data, "iv": iv})
}

/// The value of the series whose line starts with `series`, 0 if absent.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------------
// Logins, one per app
// ---------------------------------------------------------------------

#[tokio::test]
async fn each_of_four_apps_logs_in_at_its_own_platform_with_its_own_aud_plat_and_openid() {
    // Arrange: each platform answers only the request of its own app, with
    // that app's own secret (the mocks expect exactly one call each).
    let apps = spawn_four_apps().await;

    for (appid, platform) in FOUR_APPS {
        // Act
        let openid = openid_in(appid);
        let token = apps.login_to(appid, &openid, SESSION_KEY, None).await;

        // Assert: the token and /auth/me name the app and its platform.
        let claims = claims(&token);
        assert_eq!(claims["aud"], appid, "{appid}");
        assert_eq!(claims["plat"], platform, "{appid}");
        assert_eq!(claims["sub"], openid.as_str(), "{appid}");
        let me: Value = apps.app.get_me(&token).await.json().await.unwrap();
        assert_eq!(
            me,
            json!({"openid": openid, "unionid": null, "exp": START + TOKEN_TTL,
                   "appid": appid, "platform": platform}),
            "{appid}"
        );
    }
    // Each fake saw only its own apps' exchanges: the QQ and Douyin codes
    // never reached WeChat (MockServer verifies `expect` on drop too).
    assert_eq!(apps.app.wechat.received_requests().await.unwrap().len(), 2);
    assert_eq!(apps.qq.received_requests().await.unwrap().len(), 1);
    assert_eq!(apps.douyin.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_douyin_exchange_is_a_json_post_of_appid_secret_and_code() {
    let apps = spawn_four_apps().await;
    let code = "tt+code/with=odd&chars";

    apps.platform_answers(TT_APP, code, &openid_in(TT_APP), SESSION_KEY, None)
        .await;
    let response = apps.login_request(TT_APP, code).await;

    assert_eq!(response.status(), 200);
    let requests = apps.douyin.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/api/apps/v2/jscode2session");
    assert_eq!(request.url.query(), None, "the secret is not in the URL");
    assert!(
        request.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({"appid": TT_APP, "secret": TT_SECRET, "code": code})
    );
}

#[tokio::test]
async fn one_user_has_one_unionid_across_the_wechat_apps_and_one_openid_per_app() {
    // Arrange: WeChat gives the user an openid per app and one unionid.
    let apps = spawn_four_apps().await;

    // Act
    let shop = apps
        .login_to(
            WX_SHOP,
            &openid_in(WX_SHOP),
            SESSION_KEY,
            Some(WECHAT_UNIONID),
        )
        .await;
    let mall = apps
        .login_to(
            WX_MALL,
            &openid_in(WX_MALL),
            OTHER_SESSION_KEY,
            Some(WECHAT_UNIONID),
        )
        .await;

    // Assert
    let shop_me: Value = apps.app.get_me(&shop).await.json().await.unwrap();
    let mall_me: Value = apps.app.get_me(&mall).await.json().await.unwrap();
    assert_eq!(shop_me["unionid"], WECHAT_UNIONID);
    assert_eq!(mall_me["unionid"], WECHAT_UNIONID);
    assert_ne!(shop_me["openid"], mall_me["openid"]);
    assert_eq!(claims(&shop)["unionid"], WECHAT_UNIONID);
    assert_eq!(claims(&mall)["unionid"], WECHAT_UNIONID);
    assert_eq!(
        (shop_me["appid"].as_str(), mall_me["appid"].as_str()),
        (Some(WX_SHOP), Some(WX_MALL))
    );
}

#[tokio::test]
async fn douyins_empty_unionid_is_no_unionid_and_a_real_one_is_kept() {
    let apps = spawn_four_apps().await;

    let without = apps
        .login_to(TT_APP, &openid_in(TT_APP), SESSION_KEY, Some(""))
        .await;
    let with = apps
        .login_to(
            TT_APP,
            "oDouyinUser000000000000000002",
            SESSION_KEY,
            Some("oDouyinUnion0000000000000001"),
        )
        .await;

    assert!(
        claims(&without).get("unionid").is_none(),
        "no unionid claim: {}",
        claims(&without)
    );
    let me: Value = apps.app.get_me(&without).await.json().await.unwrap();
    assert_eq!(me["unionid"], Value::Null);
    let me: Value = apps.app.get_me(&with).await.json().await.unwrap();
    assert_eq!(me["unionid"], "oDouyinUnion0000000000000001");
}

#[tokio::test]
async fn douyins_err_no_maps_to_the_stable_codes_without_retrying() {
    for (err_no, status, code) in [
        (40018, 400, "invalid_code"),
        (40014, 502, "upstream_error"),
        (40015, 502, "upstream_error"),
        (40017, 502, "upstream_error"),
        (12345, 502, "upstream_error"),
    ] {
        // Arrange: answered once, never retried (a code is single-use).
        let apps = spawn_four_apps().await;
        douyin_jscode2session_for("c")
            .respond_with(douyin_says(&douyin_error(err_no, "some tips")))
            .expect(1)
            .mount(&apps.douyin)
            .await;

        // Act
        let response = apps.login_request(TT_APP, "c").await;

        // Assert
        assert_problem(response, status, code).await;
        apps.douyin.verify().await;
    }
}

#[tokio::test]
async fn a_douyin_anonymous_code_is_invalid_code_not_a_platform_fault() {
    // Arrange: what Douyin answers for tt.login()'s anonymousCode: an
    // anonymous_openid and an empty openid.
    let apps = spawn_four_apps().await;
    let mut answer = douyin_session("", SESSION_KEY, "");
    answer["data"]["anonymous_openid"] = serde_json::json!("aDevice0000000000000000000001");
    douyin_jscode2session_for("anon")
        .respond_with(douyin_says(&answer))
        .expect(1)
        .mount(&apps.douyin)
        .await;

    // Act
    let response = apps.login_request(TT_APP, "anon").await;

    // Assert: the client's mistake (400), not an operator error (502).
    assert_problem(response, 400, "invalid_code").await;
}

#[tokio::test]
async fn douyin_busy_is_retried_and_the_login_succeeds_when_it_clears() {
    // Arrange: err_no -1 once, then the session.
    let apps = spawn_four_apps().await;
    douyin_jscode2session_for("c")
        .respond_with(douyin_says(&douyin_error(-1, "system busy")))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&apps.douyin)
        .await;
    douyin_jscode2session_for("c")
        .respond_with(douyin_says(&douyin_session(
            &openid_in(TT_APP),
            SESSION_KEY,
            "",
        )))
        .expect(1)
        .mount(&apps.douyin)
        .await;

    // Act
    let token = issued_token(apps.login_request(TT_APP, "c").await).await;

    // Assert
    assert_eq!(claims(&token)["plat"], "douyin");
    apps.douyin.verify().await;
}

#[tokio::test]
async fn douyin_busy_on_every_attempt_is_upstream_error_after_two_retries() {
    let apps = spawn_four_apps().await;
    douyin_jscode2session_for("c")
        .respond_with(douyin_says(&douyin_error(-1, "system busy")))
        .expect(3)
        .mount(&apps.douyin)
        .await;

    let response = apps.login_request(TT_APP, "c").await;

    assert_problem(response, 502, "upstream_error").await;
    apps.douyin.verify().await;
}

#[tokio::test]
async fn qq_errcodes_map_as_wechats() {
    for (errcode, status, code) in [
        (40029, 400, "invalid_code"),
        (40163, 400, "code_used"),
        (45011, 429, "rate_limited"),
        (40226, 403, "user_blocked"),
        (40125, 502, "upstream_error"),
    ] {
        let apps = spawn_four_apps().await;
        jscode2session_for(QQ_APP, QQ_SECRET, "c")
            .respond_with(wechat_says(json!({"errcode": errcode, "errmsg": "x"})))
            .expect(1)
            .mount(&apps.qq)
            .await;

        let response = apps.login_request(QQ_APP, "c").await;

        assert_problem(response, status, code).await;
    }
}

// ---------------------------------------------------------------------
// Which app: unknown_app, and tokens of apps not served
// ---------------------------------------------------------------------

#[tokio::test]
async fn a_login_naming_no_app_or_an_app_not_served_is_unknown_app_and_asks_no_platform() {
    // Arrange: every platform would answer any code, but must not be asked.
    let apps = spawn_four_apps().await;
    for server in [&apps.app.wechat, &apps.qq] {
        code2session(wechat_says(session_answer(OPENID, SESSION_KEY, None)))
            .expect(0)
            .mount(server)
            .await;
    }
    Mock::given(method("POST"))
        .respond_with(douyin_says(&douyin_session(OPENID, SESSION_KEY, "")))
        .expect(0)
        .mount(&apps.douyin)
        .await;

    for body in [
        // Several apps are served: a login must name one.
        json!({"code": "c"}),
        json!({"code": "c", "appid": null}),
        // Not an app served here (a real-looking one, and nonsense).
        json!({"code": "c", "appid": "wx9999999999999999"}),
        json!({"code": "c", "appid": "1109999999"}),
        json!({"code": "c", "appid": ""}),
        json!({"code": "c", "appid": "../../etc"}),
    ] {
        // Act
        let response = apps.app.post_login(body.clone()).await;

        // Assert
        assert_problem(response, 400, "unknown_app").await;
    }
}

#[tokio::test]
async fn a_login_whose_appid_is_not_a_string_is_invalid_request() {
    let apps = spawn_four_apps().await;

    let response = apps
        .app
        .post_login(json!({"code": "c", "appid": 1_101_234_567}))
        .await;

    assert_problem(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn a_token_for_an_appid_this_server_does_not_serve_is_refused() {
    // Arrange: tokens signed with our own key, one for a served app (the
    // control) and some for appids not served here.
    let apps = spawn_four_apps().await;
    let key = apps.app.key(FIRST_KID);
    let token_for = |aud: &str, plat: &str| {
        forge(
            &key,
            &eddsa_header(FIRST_KID),
            &good_claims(aud, START).with("plat", plat),
        )
    };

    // Act and assert
    for (aud, plat) in FOUR_APPS {
        assert_eq!(
            apps.app.get_me(&token_for(aud, plat)).await.status(),
            200,
            "a served app: {aud}"
        );
    }
    for (aud, plat) in [
        ("wx9999999999999999", "wechat"),
        ("1109999999", "qq"),
        ("ttsimulator0000000", "douyin"),
        ("", "wechat"),
    ] {
        let token = token_for(aud, plat);
        assert_rejected(apps.app.get_me(&token).await, aud).await;
        assert_rejected(apps.app.refresh(&token).await, aud).await;
    }
}

#[tokio::test]
async fn a_token_of_a_one_app_server_on_the_same_keys_is_refused_unless_its_app_is_served() {
    // Arrange: a one-app server (APPID) and the four-app server share a key
    // folder; the one-app server's token is for an app the other does not
    // serve.
    let apps = spawn_four_apps().await;
    let keys = std::sync::Arc::new(tempfile::tempdir().unwrap());
    for entry in std::fs::read_dir(&apps.app.keys_dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), keys.path().join(entry.file_name())).unwrap();
    }
    let single = spawn_app_on(MockServer::start().await, keys, &[]).await;

    // Act
    let token = single.login().await;

    // Assert
    assert_eq!(single.get_me(&token).await.status(), 200, "the control");
    assert_rejected(apps.app.get_me(&token).await, "aud not served").await;
}

// ---------------------------------------------------------------------
// WeChat-only APIs, user data, refresh
// ---------------------------------------------------------------------

#[tokio::test]
async fn phone_and_check_with_a_qq_or_douyin_token_are_unsupported_platform() {
    // Arrange: no platform may be asked for an access token or a phone.
    let apps = spawn_four_apps().await;
    let qq = apps
        .login_to(QQ_APP, &openid_in(QQ_APP), SESSION_KEY, None)
        .await;
    let tt = apps
        .login_to(TT_APP, &openid_in(TT_APP), SESSION_KEY, None)
        .await;
    for server in [&apps.app.wechat, &apps.qq, &apps.douyin] {
        stable_token(wechat_says(access_token_answer("AT")))
            .expect(0)
            .mount(server)
            .await;
        phone_api(wechat_says(json!({"errcode": 0})))
            .expect(0)
            .mount(server)
            .await;
        Mock::given(path("/wxa/checksession"))
            .respond_with(wechat_says(json!({"errcode": 0})))
            .expect(0)
            .mount(server)
            .await;
    }

    for (token, platform) in [(&qq, "QQ"), (&tt, "Douyin")] {
        // Act
        let phone = apps
            .app
            .post_with_token("/wx/phone", token, json!({"code": "p"}))
            .await;
        let check = apps.app.get_with_token("/auth/check", token).await;

        // Assert
        let body = assert_problem(phone, 400, "unsupported_platform").await;
        assert!(
            body["detail"].as_str().unwrap().contains(platform),
            "{body}"
        );
        assert_problem(check, 400, "unsupported_platform").await;
    }
}

#[tokio::test]
async fn decrypt_works_for_every_platform_and_refuses_another_apps_watermark() {
    // Arrange: a login per app, each with its own session_key.
    let apps = spawn_four_apps().await;
    let keys = [
        SESSION_KEY,
        OTHER_SESSION_KEY,
        "IiIiIiIiIiIiIiIiIiIiIg==",
        "MzMzMzMzMzMzMzMzMzMzMw==",
    ];
    let mut tokens = Vec::new();
    for ((appid, _), key) in FOUR_APPS.iter().zip(keys) {
        tokens.push(apps.login_to(appid, &openid_in(appid), key, None).await);
    }

    for (i, ((appid, _), key)) in FOUR_APPS.iter().zip(keys).enumerate() {
        let token = &tokens[i];
        let (other_appid, _) = FOUR_APPS[(i + 1) % FOUR_APPS.len()];

        // Act: data for this app, and data under the same key but
        // watermarked for the next app.
        let ours = encrypted_for(appid, key, &json!({"nickName": format!("user of {appid}")}));
        let theirs = encrypted_for(other_appid, key, &json!({"nickName": "x"}));
        let ok = apps.app.post_with_token("/wx/decrypt", token, ours).await;
        let refused = apps.app.post_with_token("/wx/decrypt", token, theirs).await;

        // Assert
        assert_eq!(ok.status(), 200, "{appid}");
        let data: Value = ok.json().await.unwrap();
        assert_eq!(data["nickName"], format!("user of {appid}"));
        assert_eq!(data["watermark"]["appid"], *appid);
        let body = assert_problem(refused, 422, "decrypt_failed").await;
        assert!(
            body["detail"].as_str().unwrap().contains("watermark"),
            "{appid}: {body}"
        );
    }
}

#[tokio::test]
async fn refresh_keeps_each_apps_aud_plat_openid_and_unionid() {
    let apps = spawn_four_apps().await;

    for (appid, platform) in FOUR_APPS {
        let unionid = format!("oUnion{appid:0>22}");
        let token = apps
            .login_to(appid, &openid_in(appid), SESSION_KEY, Some(&unionid))
            .await;
        apps.app.clock.advance(60);

        let renewed = apps.app.refreshed(&token).await;

        let (before, after) = (claims(&token), claims(&renewed));
        assert_eq!(after["aud"], appid);
        assert_eq!(after["plat"], platform);
        for claim in ["sub", "unionid", "auth_time"] {
            assert_eq!(after[claim], before[claim], "{appid}: {claim}");
        }
        assert!(after["exp"].as_i64() > before["exp"].as_i64(), "{appid}");
        let me: Value = apps.app.get_me(&renewed).await.json().await.unwrap();
        assert_eq!(
            (me["appid"].as_str(), me["platform"].as_str()),
            (Some(appid), Some(platform))
        );
        // The renewed token still opens its seal for its own app's data.
        let data = encrypted_for(appid, SESSION_KEY, &json!({"n": 1}));
        let decrypted = apps
            .app
            .post_with_token("/wx/decrypt", &renewed, data)
            .await;
        assert_eq!(decrypted.status(), 200, "{appid}");
    }
}

#[tokio::test]
async fn each_wechat_app_gets_and_uses_its_own_access_token() {
    // Arrange: stable_token answers each WeChat app (its appid and secret)
    // with its own token, once; the phone API answers each token with a
    // phone watermarked for that app.
    let apps = spawn_four_apps().await;
    let wechat = &apps.app.wechat;
    for (appid, secret, token) in [
        (WX_SHOP, SHOP_SECRET, "AT-SHOP"),
        (WX_MALL, MALL_SECRET, "AT-MALL"),
    ] {
        Mock::given(method("POST"))
            .and(path("/cgi-bin/stable_token"))
            .and(body_partial_json(
                json!({"grant_type": "client_credential", "appid": appid, "secret": secret}),
            ))
            .respond_with(wechat_says(access_token_answer(token)))
            .expect(1)
            .mount(wechat)
            .await;
        Mock::given(method("POST"))
            .and(path("/wxa/business/getuserphonenumber"))
            .and(query_param("access_token", token))
            .respond_with(wechat_says(
                json!({"errcode": 0, "errmsg": "ok", "phone_info": {
                    "phoneNumber": format!("+86 {token}"), "purePhoneNumber": "13800138000",
                    "countryCode": "86", "watermark": {"timestamp": 1, "appid": appid}
                }}),
            ))
            .expect(2)
            .mount(wechat)
            .await;
    }
    let shop = apps
        .login_to(WX_SHOP, &openid_in(WX_SHOP), SESSION_KEY, None)
        .await;
    let mall = apps
        .login_to(WX_MALL, &openid_in(WX_MALL), SESSION_KEY, None)
        .await;

    // Act: two phone numbers per app (the second from the cached token).
    let mut numbers = Vec::new();
    for token in [&shop, &mall, &shop, &mall] {
        let response = apps
            .app
            .post_with_token("/wx/phone", token, json!({"code": "p"}))
            .await;
        assert_eq!(response.status(), 200);
        let info: Value = response.json().await.unwrap();
        numbers.push(info["phoneNumber"].as_str().unwrap().to_owned());
    }

    // Assert: each app asked with its own token, fetched once.
    assert_eq!(
        numbers,
        ["+86 AT-SHOP", "+86 AT-MALL", "+86 AT-SHOP", "+86 AT-MALL"]
    );
    wechat.verify().await;
}

#[tokio::test]
async fn a_phone_watermarked_for_the_other_wechat_app_is_refused() {
    let apps = spawn_four_apps().await;
    stable_token(wechat_says(access_token_answer("AT")))
        .mount(&apps.app.wechat)
        .await;
    phone_api(wechat_says(
        json!({"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": "+86 13800138000", "purePhoneNumber": "13800138000",
            "countryCode": "86", "watermark": {"timestamp": 1, "appid": WX_MALL}
        }}),
    ))
    .mount(&apps.app.wechat)
    .await;
    let shop = apps
        .login_to(WX_SHOP, &openid_in(WX_SHOP), SESSION_KEY, None)
        .await;

    let response = apps
        .app
        .post_with_token("/wx/phone", &shop, json!({"code": "p"}))
        .await;

    assert_problem(response, 502, "upstream_error").await;
}

#[tokio::test]
async fn metrics_count_logins_and_platform_calls_per_app() {
    // Arrange: one good login per app; one bad code on Douyin; one busy
    // answer on QQ before its session.
    let apps = spawn_four_apps().await;
    jscode2session_for(QQ_APP, QQ_SECRET, "busy")
        .respond_with(wechat_says(json!({"errcode": -1, "errmsg": "busy"})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&apps.qq)
        .await;
    jscode2session_for(QQ_APP, QQ_SECRET, "busy")
        .respond_with(wechat_says(session_answer(
            &openid_in(QQ_APP),
            SESSION_KEY,
            None,
        )))
        .mount(&apps.qq)
        .await;
    douyin_jscode2session_for("bad")
        .respond_with(douyin_says(&douyin_error(40018, "bad code")))
        .mount(&apps.douyin)
        .await;

    // Act
    for (appid, _) in [FOUR_APPS[0], FOUR_APPS[1], FOUR_APPS[3]] {
        apps.login_to(appid, &openid_in(appid), SESSION_KEY, None)
            .await;
    }
    issued_token(apps.login_request(QQ_APP, "busy").await).await;
    assert_problem(apps.login_request(TT_APP, "bad").await, 400, "invalid_code").await;
    let text = apps.app.get("/metrics").await.text().await.unwrap();

    // Assert
    for (appid, _) in FOUR_APPS {
        assert_eq!(
            metric(
                &text,
                &format!(r#"wxauth_logins_total{{app="{appid}",outcome="ok"}}"#)
            ),
            1.0,
            "{appid}:\n{text}"
        );
        assert!(
            metric(
                &text,
                &format!(
                    r#"wxauth_upstream_request_duration_seconds_count{{app="{appid}",endpoint="jscode2session",outcome="ok"}}"#
                )
            ) >= 1.0,
            "{appid}:\n{text}"
        );
    }
    assert_eq!(
        metric(
            &text,
            &format!(r#"wxauth_logins_total{{app="{TT_APP}",outcome="invalid_code"}}"#)
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            &format!(
                r#"wxauth_upstream_request_duration_seconds_count{{app="{QQ_APP}",endpoint="jscode2session",outcome="busy"}}"#
            )
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            &format!(
                r#"wxauth_upstream_request_duration_seconds_count{{app="{TT_APP}",endpoint="jscode2session",outcome="errcode"}}"#
            )
        ),
        1.0,
        "{text}"
    );
    // No other app was charged with those failures.
    for appid in [WX_SHOP, WX_MALL, QQ_APP] {
        assert_eq!(
            metric(
                &text,
                &format!(r#"wxauth_logins_total{{app="{appid}",outcome="invalid_code"}}"#)
            ),
            0.0,
            "{appid}"
        );
    }
}

#[tokio::test]
async fn a_login_past_the_client_rate_is_rate_limited_with_retry_after_before_any_platform_call() {
    // Arrange: a rate of 1 a second, so a burst of 5.
    let apps = spawn_four_apps_with(&[("WXAUTH_CLIENT_RATE", "1")]).await;
    jscode2session_for(QQ_APP, QQ_SECRET, "c")
        .respond_with(wechat_says(
            json!({"errcode": 40029, "errmsg": "invalid code"}),
        ))
        .expect(5)
        .mount(&apps.qq)
        .await;

    // Act
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(apps.login_request(QQ_APP, "c").await.status().as_u16());
    }
    let limited = apps.login_request(QQ_APP, "c").await;

    // Assert
    assert_eq!(statuses, [400; 5]);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry_after), "{retry_after}");
    assert_problem(limited, 429, "rate_limited").await;
    apps.qq.verify().await;
}

// ---------------------------------------------------------------------
// Start-up refusals of a bad apps file (the real binary)
// ---------------------------------------------------------------------

/// A folder holding a key (`keys/`) and `apps.toml` with `toml`, where the
/// binary can start.
fn apps_folder(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    wxauth::keyring::write_new_key(
        &dir.path().join("keys"),
        FIRST_KID,
        wxauth::keyring::KeyAlg::Eddsa,
    )
    .unwrap();
    std::fs::write(dir.path().join("apps.toml"), toml).unwrap();
    dir
}

/// One `[[app]]` table.
fn app_table(platform: &str, appid: &str, secret: &str) -> String {
    format!("[[app]]\nplatform = \"{platform}\"\nappid = \"{appid}\"\n{secret}\n\n")
}

/// The environment of the binary in `dir` with its apps file, the secret
/// variables set, and `extra`.
fn apps_env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("WXAUTH_BIND", "127.0.0.1:0"),
        ("WXAUTH_APPS_FILE", "apps.toml"),
        ("SHOP_WECHAT_SECRET", SHOP_SECRET),
        ("QQ_SECRET", QQ_SECRET),
    ];
    env.extend_from_slice(extra);
    env
}

#[test]
fn a_good_apps_file_starts_the_binary_so_the_refusals_below_are_each_files_own_fault() {
    // The control: the files below differ from this one in one thing each.
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), TT_SECRET).unwrap();
    let dir = apps_folder(&format!(
        "{}{}{}",
        app_table("wechat", WX_SHOP, "secret_env = \"SHOP_WECHAT_SECRET\""),
        app_table("qq", QQ_APP, "secret_env = \"QQ_SECRET\""),
        app_table(
            "douyin",
            TT_APP,
            &format!("secret_file = \"{}\"", secret.path().display())
        ),
    ));

    let process = Process::serve(dir.path(), &apps_env(&[]));
    let listening = process.wait_until_listening();
    let output = process.stop();

    assert!(listening.is_some(), "{output}");
    for secret in [SHOP_SECRET, QQ_SECRET, TT_SECRET] {
        assert!(!output.contains(secret), "a secret was logged: {output}");
    }
}

#[test]
fn a_bad_apps_file_refuses_to_start_naming_the_app_and_the_problem() {
    let shop = app_table("wechat", WX_SHOP, "secret_env = \"SHOP_WECHAT_SECRET\"");
    for (what, toml, expected) in [
        (
            "a duplicate appid",
            format!(
                "{shop}{}",
                app_table("qq", WX_SHOP, "secret_env = \"QQ_SECRET\"")
            ),
            format!("app 2 ({WX_SHOP}): appid: appears twice"),
        ),
        (
            "an unknown platform",
            format!(
                "{shop}{}",
                app_table("line", "2021000000000000", "secret_env = \"QQ_SECRET\"")
            ),
            "app 2 (2021000000000000): platform: \"line\" is not a platform".to_owned(),
        ),
        (
            "a secret variable that is unset",
            format!(
                "{shop}{}",
                app_table("qq", QQ_APP, "secret_env = \"NOT_SET_ANYWHERE\"")
            ),
            format!("app 2 ({QQ_APP}): secret_env: the variable NOT_SET_ANYWHERE is unset"),
        ),
        (
            "a secret file that cannot be read",
            format!(
                "{shop}{}",
                app_table(
                    "douyin",
                    TT_APP,
                    "secret_file = \"/nonexistent/wxauth/douyin-secret\""
                )
            ),
            format!(
                "app 2 ({TT_APP}): secret_file: /nonexistent/wxauth/douyin-secret cannot be read"
            ),
        ),
    ] {
        // Arrange
        let dir = apps_folder(&toml);

        // Act
        let (code, output) = Process::serve(dir.path(), &apps_env(&[])).wait();

        // Assert
        assert_ne!(code, 0, "{what}: must refuse to start: {output}");
        assert!(output.contains("WXAUTH_APPS_FILE"), "{what}: {output}");
        assert!(
            output.contains(&expected),
            "{what}: {expected:?} in {output}"
        );
        assert!(!output.contains("listening on"), "{what}: {output}");
        for secret in [SHOP_SECRET, QQ_SECRET] {
            assert!(!output.contains(secret), "{what}: a secret was logged");
        }
    }
}

#[test]
fn an_apps_file_and_wechat_appid_together_refuse_to_start_naming_both() {
    let dir = apps_folder(&app_table(
        "wechat",
        WX_SHOP,
        "secret_env = \"SHOP_WECHAT_SECRET\"",
    ));

    let (code, output) = Process::serve(
        dir.path(),
        &apps_env(&[("WECHAT_APPID", APPID), ("WECHAT_SECRET", SECRET)]),
    )
    .wait();

    assert_ne!(code, 0, "must refuse to start: {output}");
    assert!(output.contains("WXAUTH_APPS_FILE"), "{output}");
    assert!(output.contains("WECHAT_APPID"), "{output}");
    assert!(!output.contains(SECRET), "{output}");
}

#[test]
fn a_secret_written_into_the_apps_file_refuses_to_start_without_echoing_it() {
    let dir = apps_folder(&format!(
        "{}secret = \"hunter2-in-the-file\"\n",
        app_table("wechat", WX_SHOP, "secret_env = \"SHOP_WECHAT_SECRET\"")
    ));

    let (code, output) = Process::serve(dir.path(), &apps_env(&[])).wait();

    assert_ne!(code, 0, "must refuse to start: {output}");
    assert!(output.contains("WXAUTH_APPS_FILE"), "{output}");
    assert!(output.contains("secret"), "{output}");
    assert!(!output.contains("hunter2"), "{output}");
}

// ---------------------------------------------------------------------
// The guard library: a service accepting a set of appids
// ---------------------------------------------------------------------

/// A separate actix-web service mounting `guard` on `GET /whoami`, which
/// answers "<appid> <platform> <openid>". Its URL.
fn spawn_service(guard: wxauth::guard::Guard) -> String {
    use actix_web::{App, HttpResponse, HttpServer, web};
    use wxauth::guard::Authenticated;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new().app_data(web::Data::new(guard.clone())).route(
            "/whoami",
            web::get().to(|user: Authenticated| async move {
                HttpResponse::Ok().body(format!(
                    "{} {} {}",
                    user.appid(),
                    user.platform(),
                    user.openid()
                ))
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}/whoami")
}

#[tokio::test]
async fn a_service_mounting_guard_from_config_accepts_both_its_appids_and_refuses_a_third() {
    use wxauth::guard::{Guard, GuardConfig};

    // Arrange: wxauth serving four apps; a service accepting two of them.
    let apps = spawn_four_apps().await;
    let guard = Guard::from_config(&GuardConfig {
        dir: &apps.app.keys_dir,
        issuer: "wxauth",
        appids: vec![WX_SHOP, TT_APP],
        leeway: 30,
        revocations: None,
    })
    .unwrap();
    let url = spawn_service(guard);
    // The service reads the wall clock: real logins, re-signed as of now.
    let now = chrono::Utc::now().timestamp();
    let mut tokens = Vec::new();
    for appid in [WX_SHOP, TT_APP, QQ_APP] {
        let token = apps
            .login_to(appid, &openid_in(appid), SESSION_KEY, None)
            .await;
        tokens.push(apps.app.reissued_at(&token, now));
    }
    let get = |token: &str| apps.app.client.get(&url).bearer_auth(token).send();

    // Act
    let shop = get(&tokens[0]).await.unwrap();
    let douyin = get(&tokens[1]).await.unwrap();
    let qq = get(&tokens[2]).await.unwrap();

    // Assert
    assert_eq!(shop.status(), 200);
    assert_eq!(
        shop.text().await.unwrap(),
        format!("{WX_SHOP} wechat {}", openid_in(WX_SHOP))
    );
    assert_eq!(douyin.status(), 200);
    assert_eq!(
        douyin.text().await.unwrap(),
        format!("{TT_APP} douyin {}", openid_in(TT_APP))
    );
    assert_rejected(qq, "an appid the service does not accept").await;
}

#[tokio::test]
async fn a_service_mounting_guard_from_config_honours_the_revocation_file() {
    use wxauth::guard::{Guard, GuardConfig};

    // Arrange: the mall's user is banned by openid.
    let apps = spawn_four_apps().await;
    let revocations = apps.files.path().join("revocations");
    std::fs::write(
        &revocations,
        format!("# banned\nban {}\n", openid_in(WX_MALL)),
    )
    .unwrap();
    let guard = Guard::from_config(&GuardConfig {
        dir: &apps.app.keys_dir,
        issuer: "wxauth",
        appids: vec![WX_SHOP, WX_MALL],
        leeway: 30,
        revocations: Some(&revocations),
    })
    .unwrap();
    let url = spawn_service(guard);
    let now = chrono::Utc::now().timestamp();
    let shop = apps
        .login_to(WX_SHOP, &openid_in(WX_SHOP), SESSION_KEY, None)
        .await;
    let mall = apps
        .login_to(WX_MALL, &openid_in(WX_MALL), SESSION_KEY, None)
        .await;
    let (shop, mall) = (
        apps.app.reissued_at(&shop, now),
        apps.app.reissued_at(&mall, now),
    );

    // Act
    let allowed = apps.app.client.get(&url).bearer_auth(&shop).send().await;
    let banned = apps.app.client.get(&url).bearer_auth(&mall).send().await;

    // Assert
    assert_eq!(allowed.unwrap().status(), 200);
    assert_rejected(banned.unwrap(), "a banned openid").await;
}

#[test]
fn guard_from_config_refuses_a_revocation_file_it_cannot_read() {
    use wxauth::guard::{Guard, GuardConfig, GuardError};
    let keys = key_folder();

    let result = Guard::from_config(&GuardConfig {
        dir: keys.path(),
        issuer: "wxauth",
        appids: vec![WX_SHOP, WX_MALL],
        leeway: 30,
        revocations: Some(std::path::Path::new("/nonexistent/revocations")),
    });

    assert!(matches!(result, Err(GuardError::Revocations(_))));
}

// ---------------------------------------------------------------------
// The simulator's three apps
// ---------------------------------------------------------------------

/// The simulator's apps: WeChat (the default), QQ, Douyin.
const SIMULATED: [(&str, &str); 3] = [
    ("wxsimulator0000000", "wechat"),
    ("1109999999", "qq"),
    ("ttsimulator0000000", "douyin"),
];

#[tokio::test]
async fn the_simulator_plays_three_apps_one_per_platform() {
    let app = spawn_simulator().await;
    let mut openids = Vec::new();

    for (appid, platform) in SIMULATED {
        // Act: the mini-program's login, then wxauth's.
        let code = app
            .sim("/sim/login", json!({"user": "alice", "appid": appid}))
            .await;
        let token = issued_token(
            app.post_login(json!({"code": code["code"], "appid": appid}))
                .await,
        )
        .await;

        // Assert
        let me: Value = app.get_me(&token).await.json().await.unwrap();
        assert_eq!(me["appid"], appid);
        assert_eq!(me["platform"], platform);
        assert_eq!(me["openid"], wxauth::sim::app_openid(appid, "alice"));
        assert!(me["unionid"].is_string(), "{me}");
        let claims = claims(&token);
        assert_eq!(
            (claims["aud"].as_str(), claims["plat"].as_str()),
            (Some(appid), Some(platform))
        );
        openids.push(me["openid"].as_str().unwrap().to_owned());

        // User data made by the simulator for this app decrypts with this
        // app's token.
        let sealed = app
            .sim(
                "/sim/encrypt",
                json!({"user": "alice", "appid": appid, "data": {"nickName": "Alice"}}),
            )
            .await;
        let decrypted = app.post_with_token("/wx/decrypt", &token, sealed).await;
        assert_eq!(decrypted.status(), 200, "{appid}");
        let data: Value = decrypted.json().await.unwrap();
        assert_eq!(data["nickName"], "Alice");
        assert_eq!(data["watermark"]["appid"], appid);
    }
    let distinct: std::collections::HashSet<&String> = openids.iter().collect();
    assert_eq!(distinct.len(), 3, "one openid per app: {openids:?}");
}

#[tokio::test]
async fn a_simulated_login_naming_no_appid_is_the_wechat_apps() {
    let app = spawn_simulator().await;

    let token = app.sim_token("alice").await;

    let me: Value = app.get_me(&token).await.json().await.unwrap();
    assert_eq!(me["appid"], "wxsimulator0000000");
    assert_eq!(me["platform"], "wechat");
}

#[tokio::test]
async fn a_simulated_code_of_one_app_does_not_log_in_to_another() {
    let app = spawn_simulator().await;
    let code = app
        .sim(
            "/sim/login",
            json!({"user": "alice", "appid": "1109999999"}),
        )
        .await;

    let as_wechat = app
        .post_login(json!({"code": code["code"], "appid": "wxsimulator0000000"}))
        .await;
    let as_douyin = app
        .post_login(json!({"code": code["code"], "appid": "ttsimulator0000000"}))
        .await;

    assert_problem(as_wechat, 400, "invalid_code").await;
    assert_problem(as_douyin, 400, "invalid_code").await;
}

#[tokio::test]
async fn simulated_data_of_one_app_is_refused_by_another_apps_token() {
    // Alice logs in to the QQ app and the WeChat app; data for the QQ app
    // does not decrypt with the WeChat token (another session_key), and
    // its watermark names the QQ app.
    let app = spawn_simulator().await;
    let wechat = app.sim_token("alice").await;
    let code = app
        .sim(
            "/sim/login",
            json!({"user": "alice", "appid": "1109999999"}),
        )
        .await;
    issued_token(
        app.post_login(json!({"code": code["code"], "appid": "1109999999"}))
            .await,
    )
    .await;
    let sealed = app
        .sim(
            "/sim/encrypt",
            json!({"user": "alice", "appid": "1109999999", "data": {"n": 1}}),
        )
        .await;

    let response = app.post_with_token("/wx/decrypt", &wechat, sealed).await;

    assert_problem(response, 422, "decrypt_failed").await;
}

#[tokio::test]
async fn the_simulators_phone_code_is_wechats_alone() {
    let app = &spawn_simulator().await;
    let ask = |path: &'static str, appid: &'static str| async move {
        app.post_json(path, &json!({"user": "alice", "appid": appid}))
            .await
    };

    let qq = ask("/sim/phone-code", "1109999999").await;
    let douyin = ask("/sim/phone-code", "ttsimulator0000000").await;
    let wechat = ask("/sim/phone-code", "wxsimulator0000000").await;
    let unknown = ask("/sim/login", "wx9999999999999999").await;

    assert_problem(qq, 400, "unsupported_platform").await;
    assert_problem(douyin, 400, "unsupported_platform").await;
    assert_eq!(wechat.status(), 200);
    assert_problem(unknown, 400, "unknown_app").await;
}

#[tokio::test]
async fn the_simulators_qq_and_douyin_tokens_get_unsupported_platform_on_phone_and_check() {
    let app = spawn_simulator().await;

    for appid in ["1109999999", "ttsimulator0000000"] {
        let code = app
            .sim("/sim/login", json!({"user": "alice", "appid": appid}))
            .await;
        let token = issued_token(
            app.post_login(json!({"code": code["code"], "appid": appid}))
                .await,
        )
        .await;

        let phone = app
            .post_with_token("/wx/phone", &token, json!({"code": "p"}))
            .await;
        let check = app.get_with_token("/auth/check", &token).await;

        assert_problem(phone, 400, "unsupported_platform").await;
        assert_problem(check, 400, "unsupported_platform").await;
    }
}

#[tokio::test]
async fn in_simulator_mode_wechat_api_base_moves_the_wechat_app_only() {
    // Simulator mode with WECHAT_API_BASE pointing at a fake: the WeChat
    // app goes there, the QQ and Douyin apps still to the simulator.
    let fake = MockServer::start().await;
    code2session(wechat_says(
        json!({"errcode": 40029, "errmsg": "invalid code"}),
    ))
    .expect(1)
    .mount(&fake)
    .await;
    let app = spawn_app_on(
        MockServer::start().await,
        key_folder(),
        &[
            ("WECHAT_APPID", ""),
            ("WECHAT_SECRET", ""),
            ("WECHAT_API_BASE", &fake.uri()),
        ],
    )
    .await;
    let code = app
        .sim(
            "/sim/login",
            json!({"user": "alice", "appid": "ttsimulator0000000"}),
        )
        .await;

    let wechat = app.post_login(json!({"code": "whatever"})).await;
    let douyin = app
        .post_login(json!({"code": code["code"], "appid": "ttsimulator0000000"}))
        .await;

    assert_problem(wechat, 400, "invalid_code").await;
    assert_eq!(douyin.status(), 200);
}
