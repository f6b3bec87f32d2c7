//! The sealed session_key at work: /wx/decrypt, /wx/phone, /auth/check, and
//! the access token behind the last two.

use crate::helpers::{
    APPID, OPENID, SECRET, SESSION_KEY, START,
    app::{TestApp, assert_problem, spawn_app, spawn_app_with, spawn_simulator},
    expected::{SIM_WECHAT_APPID, simulated_phone},
    fakes::{access_token_answer, phone_api, stable_token, wechat_says},
};
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

/// WeChat's published decryption sample ("开放数据校验与解密").
const SAMPLE_APPID: &str = "wx4f4bc4dec97d474b";
const SAMPLE_IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
const SAMPLE_ENCRYPTED_DATA: &str = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==";
const SAMPLE_PLAINTEXT: &str = r#"{"openId":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0","unionId":"ocMvos6NjeKLIBqg5Mr9QjxrP1FA","watermark":{"timestamp":1477314187,"appid":"wx4f4bc4dec97d474b"}}"#;

impl TestApp {
    /// POST /wx/phone with a phone code, as the mini-program would.
    async fn ask_phone(&self, token: &str) -> reqwest::Response {
        self.post_with_token("/wx/phone", token, json!({"code": "p"}))
            .await
    }

    /// Makes getuserphonenumber answer `answer`, `times` times, to calls
    /// carrying the access token `at`.
    async fn phone_api_answers(&self, at: &str, answer: Value, times: u64) {
        Mock::given(method("POST"))
            .and(path("/wxa/business/getuserphonenumber"))
            .and(query_param("access_token", at))
            .respond_with(wechat_says(answer))
            .expect(times)
            .mount(&self.wechat)
            .await;
    }

    /// Makes the fake WeChat hand out `token` from stable_token, `times` times.
    async fn stable_token_gives(&self, token: &str, times: u64) {
        Mock::given(method("POST"))
            .and(path("/cgi-bin/stable_token"))
            .and(body_partial_json(
                json!({"grant_type": "client_credential", "appid": APPID, "secret": SECRET}),
            ))
            .respond_with(wechat_says(access_token_answer(token)))
            .up_to_n_times(times)
            .expect(times)
            .mount(&self.wechat)
            .await;
    }
}

fn phone_answer(appid: &str) -> Value {
    json!({"errcode": 0, "errmsg": "ok", "phone_info": {
        "phoneNumber": "+86 13800138000", "purePhoneNumber": "13800138000", "countryCode": "86",
        "watermark": {"timestamp": 1700000000, "appid": appid}
    }})
}

#[tokio::test]
async fn wechats_published_sample_decrypts_byte_for_byte() {
    // Arrange: the sample's appid, and a login that got the sample's key.
    let app = spawn_app_with(&[("WECHAT_APPID", SAMPLE_APPID)]).await;
    let token = app.login_as("c", OPENID, None, SESSION_KEY).await;

    // Act
    let response = app
        .post_with_token(
            "/wx/decrypt",
            &token,
            json!({"encryptedData": SAMPLE_ENCRYPTED_DATA, "iv": SAMPLE_IV}),
        )
        .await;

    // Assert
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.text().await.unwrap(), SAMPLE_PLAINTEXT);
}

#[tokio::test]
async fn a_foreign_watermark_is_refused_with_decrypt_failed() {
    // Our appid is not the sample's.
    let app = spawn_app().await;
    let token = app.login().await;

    let response = app
        .post_with_token(
            "/wx/decrypt",
            &token,
            json!({"encryptedData": SAMPLE_ENCRYPTED_DATA, "iv": SAMPLE_IV}),
        )
        .await;

    let body = assert_problem(response, 422, "decrypt_failed").await;
    assert!(body["detail"].as_str().unwrap().contains("watermark"));
}

#[tokio::test]
async fn data_of_another_user_is_refused_with_decrypt_failed() {
    let app = spawn_app_with(&[("WECHAT_APPID", SAMPLE_APPID)]).await;
    let token = app
        .login_as("c", "oSomeoneElse000000000000000", None, SESSION_KEY)
        .await;

    let response = app
        .post_with_token(
            "/wx/decrypt",
            &token,
            json!({"encryptedData": SAMPLE_ENCRYPTED_DATA, "iv": SAMPLE_IV}),
        )
        .await;

    assert_problem(response, 422, "decrypt_failed").await;
}

#[tokio::test]
async fn data_from_the_simulator_round_trips() {
    let app = spawn_simulator().await;
    let token = app.sim_token("alice").await;
    let sealed = app
        .sim(
            "/sim/encrypt",
            json!({"user": "alice", "data": {"nickName": "Alice", "tags": ["a", "b"]}}),
        )
        .await;

    let response = app.post_with_token("/wx/decrypt", &token, sealed).await;

    assert_eq!(response.status(), 200);
    let data: Value = response.json().await.unwrap();
    assert_eq!(data["nickName"], "Alice");
    assert_eq!(data["tags"], json!(["a", "b"]));
    assert_eq!(data["watermark"]["appid"], SIM_WECHAT_APPID);
    assert_eq!(data["watermark"]["timestamp"], START);
}

#[tokio::test]
async fn a_token_from_an_older_login_cannot_decrypt_data_made_under_a_newer_session_key() {
    // Arrange: alice logs in, then logs in again (a new session_key), and
    // WeChat hands the app data encrypted under the newer key.
    let app = spawn_simulator().await;
    let older = app.sim_token("alice").await;
    let newer = app.sim_token("alice").await;
    let sealed = app
        .sim("/sim/encrypt", json!({"user": "alice", "data": {"x": 1}}))
        .await;

    // Act
    let refused = app
        .post_with_token("/wx/decrypt", &older, sealed.clone())
        .await;
    let accepted = app.post_with_token("/wx/decrypt", &newer, sealed).await;

    // Assert: a distinct, actionable error.
    let body = assert_problem(refused, 422, "decrypt_failed").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("wx.login()") && detail.contains("log in again"),
        "{detail}"
    );
    assert_eq!(accepted.status(), 200);
}

#[tokio::test]
async fn malformed_decrypt_requests_are_invalid_request() {
    let app = spawn_app().await;
    let token = app.login().await;

    for body in [
        json!({"encryptedData": "not base64!", "iv": SAMPLE_IV}),
        json!({"encryptedData": "AAAA", "iv": SAMPLE_IV}),
        json!({"encryptedData": "", "iv": SAMPLE_IV}),
        json!({"encryptedData": SAMPLE_ENCRYPTED_DATA, "iv": "AAAA"}),
        json!({"encryptedData": SAMPLE_ENCRYPTED_DATA}),
        json!({"iv": SAMPLE_IV}),
        json!({"encryptedData": 1, "iv": SAMPLE_IV}),
        json!([SAMPLE_ENCRYPTED_DATA, SAMPLE_IV]),
    ] {
        let response = app
            .post_with_token("/wx/decrypt", &token, body.clone())
            .await;
        assert_eq!(response.status(), 400, "{body}");
        assert_problem(response, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn decrypt_takes_bodies_up_to_64_kib_and_no_more() {
    let app = spawn_app().await;
    let token = app.login().await;
    // 40 KiB of ciphertext (53 KiB as base64): over the 4 KiB of /auth,
    // under the 64 of /wx/decrypt.
    let big = base64_of(&vec![0u8; 40 * 1024]);
    let too_big = base64_of(&vec![0u8; 64 * 1024]);

    let within = app
        .post_with_token(
            "/wx/decrypt",
            &token,
            json!({"encryptedData": big, "iv": SAMPLE_IV}),
        )
        .await;
    let over = app
        .post_with_token(
            "/wx/decrypt",
            &token,
            json!({"encryptedData": too_big, "iv": SAMPLE_IV}),
        )
        .await;

    assert_problem(within, 422, "decrypt_failed").await;
    assert_problem(over, 413, "payload_too_large").await;
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn the_wx_and_check_routes_need_a_token() {
    let app = spawn_app().await;

    for (path, body) in [
        ("/wx/decrypt", json!({"encryptedData": "A", "iv": "A"})),
        ("/wx/phone", json!({"code": "c"})),
    ] {
        let response = app.post_json(path, &body).await;
        assert_problem(response, 401, "invalid_token").await;
    }
    let response = app.get("/auth/check").await;
    assert_problem(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn phone_answers_phone_info_for_the_callers_openid() {
    let app = spawn_app().await;
    let token = app.login().await;
    app.stable_token_gives("at-1", 1).await;
    Mock::given(method("POST"))
        .and(path("/wxa/business/getuserphonenumber"))
        .and(query_param("access_token", "at-1"))
        .and(body_partial_json(
            json!({"code": "phone-code", "openid": OPENID}),
        ))
        .respond_with(wechat_says(phone_answer(APPID)))
        .expect(1)
        .mount(&app.wechat)
        .await;

    let response = app
        .post_with_token("/wx/phone", &token, json!({"code": "phone-code"}))
        .await;

    assert_eq!(response.status(), 200);
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["purePhoneNumber"], "13800138000");
    assert_eq!(info["countryCode"], "86");
}

#[tokio::test]
async fn fifty_concurrent_phone_calls_cause_one_stable_token_call() {
    // Arrange: stable_token is slow, so all fifty wait on the first fetch.
    let app = spawn_app().await;
    let token = app.login().await;
    stable_token(wechat_says(access_token_answer("at-1")).set_delay(Duration::from_millis(300)))
        .expect(1)
        .mount(&app.wechat)
        .await;
    app.phone_api_answers("at-1", phone_answer(APPID), 50).await;

    // Act
    let calls = (0..50)
        .map(|i| app.post_with_token("/wx/phone", &token, json!({ "code": format!("p{i}") })));
    let responses = futures_util::future::join_all(calls).await;

    // Assert (and `expect(1)` is verified when the fake WeChat drops)
    assert!(responses.iter().all(|r| r.status() == 200));
}

#[tokio::test]
async fn a_40001_answer_causes_one_refresh_and_a_retried_call() {
    let app = spawn_app().await;
    let token = app.login().await;
    app.stable_token_gives("at-old", 1).await;
    app.stable_token_gives("at-new", 1).await;
    let refused = json!({"errcode": 40001, "errmsg": "invalid credential"});
    app.phone_api_answers("at-old", refused, 1).await;
    app.phone_api_answers("at-new", phone_answer(APPID), 1)
        .await;

    let response = app.ask_phone(&token).await;

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_access_token_is_refreshed_shortly_before_it_expires() {
    let app = spawn_app().await;
    let token = app.login().await;
    app.stable_token_gives("at-1", 1).await;
    app.stable_token_gives("at-2", 1).await;
    for at in ["at-1", "at-2"] {
        app.phone_api_answers(at, phone_answer(APPID), 2).await;
    }

    // Two calls on the first token; then, five minutes before its expiry,
    // two more on a new one. (The wxauth token itself is renewed on the way.)
    let mut token = token;
    for step in 0..4 {
        if step == 2 {
            app.clock.advance(7200 - 300);
            token = app.refreshed(&token).await;
        }
        let response = app.ask_phone(&token).await;
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn phone_maps_wechat_errors_to_the_table() {
    let cases: [(Value, u16, &str); 6] = [
        (
            json!({"errcode": 40029, "errmsg": "invalid code"}),
            400,
            "invalid_code",
        ),
        (
            json!({"errcode": 45011, "errmsg": "api minute-quota reach limit"}),
            429,
            "rate_limited",
        ),
        (
            json!({"errcode": 40013, "errmsg": "invalid appid"}),
            502,
            "upstream_error",
        ),
        (json!({"errcode": 0, "errmsg": "ok"}), 502, "upstream_error"),
        (phone_answer("wx0000000000000000"), 502, "upstream_error"),
        (
            json!({"errcode": 40001, "errmsg": "invalid credential"}),
            502,
            "upstream_error",
        ),
    ];
    for (answer, status, code) in cases {
        let app = spawn_app().await;
        let token = app.login().await;
        stable_token(wechat_says(access_token_answer("at")))
            .mount(&app.wechat)
            .await;
        phone_api(wechat_says(answer)).mount(&app.wechat).await;

        let response = app.ask_phone(&token).await;

        assert_problem(response, status, code).await;
    }
}

#[tokio::test]
async fn a_stable_token_failure_is_upstream_error() {
    let app = spawn_app().await;
    let token = app.login().await;
    stable_token(wechat_says(
        json!({"errcode": 40125, "errmsg": "invalid appsecret"}),
    ))
    .expect(1)
    .mount(&app.wechat)
    .await;

    let response = app.ask_phone(&token).await;

    assert_problem(response, 502, "upstream_error").await;
}

#[tokio::test]
async fn check_signs_the_session_key_and_reads_87009_as_not_current() {
    // HMAC-SHA256 keyed with the session_key's base64 text over "", as
    // `printf '' | openssl dgst -sha256 -hmac 'tiihtNczf5v6AKRyjwEUhQ=='`.
    let signature = "7154f9f8b4b76b92f541cbf0e37d48840fa06e5e42da92a6f80168a1516a4735";
    for (errcode, valid) in [(0, true), (87009, false)] {
        let app = spawn_app().await;
        let token = app.login().await;
        app.stable_token_gives("at", 1).await;
        Mock::given(method("GET"))
            .and(path("/wxa/checksession"))
            .and(query_param("access_token", "at"))
            .and(query_param("openid", OPENID))
            .and(query_param("signature", signature))
            .and(query_param("sig_method", "hmac_sha256"))
            .respond_with(wechat_says(json!({"errcode": errcode, "errmsg": "x"})))
            .expect(1)
            .mount(&app.wechat)
            .await;

        let response = app.get_with_token("/auth/check", &token).await;

        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "session_key_valid": valid }));
    }
}

#[tokio::test]
async fn check_turns_false_after_a_newer_login() {
    let app = spawn_simulator().await;
    let token = app.sim_token("alice").await;
    let check = async |token: &str| {
        let response = app.get_with_token("/auth/check", token).await;
        response.json::<Value>().await.unwrap()["session_key_valid"].clone()
    };
    assert_eq!(check(&token).await, true);

    app.sim("/sim/login", json!({"user": "alice"})).await;

    assert_eq!(check(&token).await, false);
}

#[tokio::test]
async fn the_simulator_serves_the_phone_walk_through_and_codes_work_once() {
    let app = spawn_simulator().await;
    let token = app.sim_token("alice").await;
    let code = app.sim("/sim/phone-code", json!({"user": "alice"})).await;

    let first = app.post_with_token("/wx/phone", &token, code.clone()).await;
    let again = app.post_with_token("/wx/phone", &token, code).await;

    assert_eq!(first.status(), 200);
    let info: Value = first.json().await.unwrap();
    assert_eq!(info["purePhoneNumber"], simulated_phone("alice"));
    assert_eq!(info["watermark"]["appid"], SIM_WECHAT_APPID);
    assert_problem(again, 400, "code_used").await;
}

#[tokio::test]
async fn sim_encrypt_refuses_a_user_who_never_logged_in() {
    let app = spawn_simulator().await;

    let response = app
        .post_json("/sim/encrypt", &json!({"user": "nobody", "data": {}}))
        .await;

    assert_problem(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn a_slow_phone_call_is_upstream_unavailable() {
    let app = spawn_app_with(&[("WXAUTH_UPSTREAM_TIMEOUT", "1")]).await;
    let token = app.login().await;
    app.stable_token_gives("at", 1).await;
    phone_api(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&app.wechat)
        .await;

    let response = app.ask_phone(&token).await;

    assert_problem(response, 504, "upstream_unavailable").await;
}

#[tokio::test]
async fn a_huge_expires_in_from_wechat_is_clamped_not_overflowed() {
    let app = spawn_app().await;
    let token = app.login().await;
    stable_token(wechat_says(
        json!({"access_token": "at", "expires_in": i64::MAX}),
    ))
    .expect(2)
    .mount(&app.wechat)
    .await;
    app.phone_api_answers("at", phone_answer(APPID), 2).await;

    let first = app
        .post_with_token("/wx/phone", &token, json!({"code": "p1"}))
        .await;
    // Believed for at most 7200 s: past that a new token is fetched.
    app.clock.advance(7200);
    let renewed = app.refreshed(&token).await;
    let second = app
        .post_with_token("/wx/phone", &renewed, json!({"code": "p2"}))
        .await;

    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 200);
}

#[tokio::test]
async fn requests_waiting_on_a_failed_access_token_fetch_share_its_failure() {
    // stable_token hangs past the timeout: the four requests queued behind
    // the first fetch get its answer instead of each fetching (and timing
    // out) in turn.
    let app = spawn_app_with(&[("WXAUTH_UPSTREAM_TIMEOUT", "1")]).await;
    let token = app.login().await;
    stable_token(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .expect(1)
        .mount(&app.wechat)
        .await;

    let calls = (0..5)
        .map(|i| app.post_with_token("/wx/phone", &token, json!({ "code": format!("p{i}") })));
    let responses = futures_util::future::join_all(calls).await;

    for response in responses {
        assert_problem(response, 504, "upstream_unavailable").await;
    }
}
