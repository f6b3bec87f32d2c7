//! POST /auth/login: the code exchange and every error WeChat can cause.

use crate::helpers::{
    OPENID, SESSION_KEY, UNIONID,
    app::{assert_problem, spawn_app, spawn_app_with},
    fakes::{code2session, session_answer, wechat_says},
};
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn login_answers_a_bearer_token_response_that_is_not_cached() {
    // Arrange
    let app = spawn_app().await;
    app.wechat_answers("code-1", session_answer(OPENID, SESSION_KEY, None), 1)
        .await;

    // Act
    let response = app.post_login(json!({"code": "code-1"})).await;

    // Assert
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 7200);
    assert_eq!(body.as_object().unwrap().len(), 3);
    assert_eq!(
        app.get_me(body["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn login_url_encodes_the_code() {
    // A code with the characters that break an unencoded query string.
    let app = spawn_app().await;
    let code = "a+b/c=d&e%f#g";
    app.wechat_answers(code, session_answer(OPENID, SESSION_KEY, None), 1)
        .await;

    let response = app.post_login(json!({ "code": code })).await;

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn login_reads_json_served_as_text_plain_with_unknown_fields_and_errcode_zero() {
    let app = spawn_app().await;
    let answer = json!({
        "errcode": 0, "errmsg": "ok", "openid": OPENID, "session_key": SESSION_KEY,
        "unionid": UNIONID, "a_field_wechat_added_later": {"x": [1, 2]}
    });
    app.wechat_answers("code-1", answer, 1).await;

    let response = app.post_login(json!({"code": "code-1"})).await;

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn login_maps_each_wechat_user_errcode_to_its_stable_code() {
    for (errcode, status, code) in [
        (40029, 400, "invalid_code"),
        (40163, 400, "code_used"),
        (45011, 429, "rate_limited"),
        (40226, 403, "user_blocked"),
    ] {
        // Arrange: each errcode is answered once, and never retried.
        let app = spawn_app().await;
        app.wechat_answers("c", json!({"errcode": errcode, "errmsg": "x"}), 1)
            .await;

        // Act
        let response = app.post_login(json!({"code": "c"})).await;

        // Assert
        let retry_after = response.headers().get("retry-after").cloned();
        assert_problem(response, status, code).await;
        if errcode == 45011 {
            assert_eq!(retry_after.unwrap(), "60");
        }
    }
}

#[tokio::test]
async fn login_maps_operator_errcodes_to_upstream_error_without_retrying() {
    for errcode in [40013, 40125, 40164, 41002, 41004, 41008, 99999] {
        let app = spawn_app().await;
        app.wechat_answers("c", json!({"errcode": errcode, "errmsg": "rid: 1"}), 1)
            .await;

        let response = app.post_login(json!({"code": "c"})).await;

        assert_problem(response, 502, "upstream_error").await;
    }
}

#[tokio::test]
async fn login_retries_wechat_busy_twice_then_answers_upstream_error() {
    let app = spawn_app().await;
    app.wechat_answers("c", json!({"errcode": -1, "errmsg": "system error"}), 3)
        .await;

    let response = app.post_login(json!({"code": "c"})).await;

    assert_problem(response, 502, "upstream_error").await;
    // MockServer verifies `expect(3)` on drop: exactly two retries.
}

#[tokio::test]
async fn login_succeeds_when_wechat_busy_clears_on_retry() {
    let app = spawn_app().await;
    code2session(wechat_says(json!({"errcode": -1, "errmsg": "busy"})))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&app.wechat)
        .await;
    app.wechat_answers("c", session_answer(OPENID, SESSION_KEY, None), 1)
        .await;

    let response = app.post_login(json!({"code": "c"})).await;

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn login_maps_unusable_answers_to_upstream_error() {
    let answers = [
        ResponseTemplate::new(200).set_body_raw("<html>busy</html>", "text/html"),
        ResponseTemplate::new(500).set_body_raw("{}", "application/json"),
        wechat_says(json!({"session_key": SESSION_KEY})),
        wechat_says(json!({"openid": OPENID})),
        wechat_says(json!({"openid": OPENID, "session_key": "not base64"})),
        wechat_says(json!({"openid": "bad/openid", "session_key": SESSION_KEY})),
        wechat_says(json!({"openid": OPENID, "session_key": SESSION_KEY, "unionid": "a b"})),
        wechat_says(json!({"errcode": "40029"})),
        wechat_says("[1, 2]"),
        ResponseTemplate::new(200).set_body_raw(vec![b'x'; 200 * 1024], "text/plain"),
    ];
    for answer in answers {
        let app = spawn_app().await;
        code2session(answer).expect(1).mount(&app.wechat).await;

        let response = app.post_login(json!({"code": "c"})).await;

        assert_problem(response, 502, "upstream_error").await;
    }
}

#[tokio::test]
async fn login_maps_a_wechat_slower_than_the_timeout_to_upstream_unavailable() {
    let app = spawn_app_with(&[("WXAUTH_UPSTREAM_TIMEOUT", "1")]).await;
    Mock::given(method("GET"))
        .respond_with(
            wechat_says(session_answer(OPENID, SESSION_KEY, None))
                .set_delay(Duration::from_secs(5)),
        )
        .expect(1)
        .mount(&app.wechat)
        .await;

    let response = app.post_login(json!({"code": "c"})).await;

    assert_problem(response, 504, "upstream_unavailable").await;
}

#[tokio::test]
async fn login_maps_a_refused_connection_to_upstream_unavailable() {
    // A port that was just free: nothing listens on it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(&[("WECHAT_API_BASE", &base)]).await;

    let response = app.post_login(json!({"code": "c"})).await;

    assert_problem(response, 504, "upstream_unavailable").await;
}

#[tokio::test]
async fn login_past_max_upstream_calls_in_flight_is_shed_with_overloaded() {
    // Arrange: one call allowed in flight, and WeChat holds it for a while.
    let app = spawn_app_with(&[
        ("WXAUTH_MAX_UPSTREAM", "1"),
        ("WXAUTH_UPSTREAM_TIMEOUT", "10"),
    ])
    .await;
    Mock::given(method("GET"))
        .and(query_param("js_code", "slow"))
        .respond_with(
            wechat_says(session_answer(OPENID, SESSION_KEY, None))
                .set_delay(Duration::from_secs(2)),
        )
        .expect(1)
        .mount(&app.wechat)
        .await;
    let client = app.client.clone();
    let url = app.url("/auth/login");
    let first =
        tokio::spawn(async move { client.post(url).json(&json!({"code": "slow"})).send().await });
    // Wait (by condition, not by luck, bounded) until the first call
    // reached WeChat.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app
        .wechat
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the first login never reached WeChat"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Act
    let second = app.post_login(json!({"code": "fast"})).await;

    // Assert: shed at once, and the first login still completes.
    let retry_after = second.headers().get("retry-after").cloned();
    assert_problem(second, 503, "overloaded").await;
    assert_eq!(retry_after.unwrap(), "1");
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
}

#[tokio::test]
async fn login_refuses_malformed_bodies_without_calling_wechat() {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .respond_with(wechat_says("{}"))
        .expect(0)
        .mount(&app.wechat)
        .await;
    let bodies: [(&str, &str); 9] = [
        ("not json", "application/json"),
        ("{\"code\": ", "application/json"),
        ("{}", "application/json"),
        ("{\"code\": \"\"}", "application/json"),
        ("{\"code\": 42}", "application/json"),
        ("{\"code\": null}", "application/json"),
        ("{\"code\": \"has space\"}", "application/json"),
        ("[\"code\"]", "application/json"),
        ("{\"code\": \"c\"}", "text/plain"),
    ];
    for (body, content_type) in bodies {
        let response = app
            .client
            .post(app.url("/auth/login"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), 400, "{body} as {content_type}");
        assert_problem(response, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn login_with_a_code_longer_than_128_characters_is_invalid_request() {
    let app = spawn_app().await;

    let response = app.post_login(json!({"code": "c".repeat(129)})).await;

    assert_problem(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn a_redirect_from_the_platform_is_not_followed() {
    // A redirect would re-send the request (and a body holding the app
    // secret, on the POST APIs) to wherever it points.
    use wiremock::matchers::{method, path};
    let app = spawn_app().await;
    wiremock::Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .respond_with(
            wiremock::ResponseTemplate::new(307)
                .insert_header("location", format!("{}/elsewhere", app.wechat.uri())),
        )
        .expect(1)
        .mount(&app.wechat)
        .await;
    wiremock::Mock::given(path("/elsewhere"))
        .respond_with(wechat_says(session_answer(OPENID, SESSION_KEY, None)))
        .expect(0)
        .mount(&app.wechat)
        .await;

    let response = app.post_login(serde_json::json!({"code": "c"})).await;

    assert_problem(response, 502, "upstream_error").await;
}
