//! GET /metrics: the metrics docs/API.md names, counting real traffic.

use crate::helpers::{
    FIRST_KID, START,
    app::{TestApp, spawn_app},
    revocations::publish_key,
};
use serde_json::json;
use wxauth::keyring::KeyAlg;

async fn metrics(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "Prometheus text format"
    );
    response.text().await.unwrap()
}

/// The value of the series whose line starts with `series`.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

#[tokio::test]
async fn metrics_count_logins_upstream_calls_verifications_and_keys() {
    // Arrange
    let app = spawn_app().await;
    app.wechat_answers(
        "bad",
        json!({"errcode": 40029, "errmsg": "invalid code"}),
        1,
    )
    .await;

    // Act: one good and one bad login, two good and one bad verification,
    // and a rescan that finds a new key.
    let token = app.login().await;
    app.post_login(json!({"code": "bad"})).await;
    app.get_me(&token).await;
    app.get_me(&token).await;
    app.get_me(&format!("{token}x")).await;
    // Refused before any handler logic: still counted.
    app.client
        .post(app.url("/auth/login"))
        .header("content-type", "application/json")
        .body("nope")
        .send()
        .await
        .unwrap();
    app.client.get(app.url("/auth/me")).send().await.unwrap();
    app.get_me_with(format!("Bearer {token} extra")).await;
    publish_key(
        &app.keys_dir,
        "20990101T000000Z",
        KeyAlg::Es256,
        START - 600,
    );
    // It signs once the activation delay has passed since it was seen.
    app.reloader.rescan("test");
    app.advance(600);
    app.reloader.rescan("test");
    let text = metrics(&app).await;

    // Assert
    assert_eq!(
        value(
            &text,
            r#"wxauth_logins_total{app="wx1234567890abcdef",outcome="ok"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"wxauth_logins_total{app="wx1234567890abcdef",outcome="invalid_code"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"wxauth_logins_total{app="wx1234567890abcdef",outcome="invalid_request"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"wxauth_token_verifications_total{result="missing"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"wxauth_token_verifications_total{result="bad_authorization"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"wxauth_upstream_request_duration_seconds_count{app="wx1234567890abcdef",endpoint="jscode2session",outcome="ok"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"wxauth_upstream_request_duration_seconds_count{app="wx1234567890abcdef",endpoint="jscode2session",outcome="errcode"}"#
        ),
        1.0
    );
    assert_eq!(
        value(&text, r#"wxauth_token_verifications_total{result="ok"}"#),
        2.0
    );
    assert_eq!(
        value(
            &text,
            r#"wxauth_token_verifications_total{result="invalid"}"#
        ),
        1.0
    );
    assert_eq!(value(&text, "wxauth_keyring_keys"), 2.0);
    assert_eq!(
        value(&text, r#"wxauth_keyring_reloads_total{result="ok"}"#),
        2.0
    );
    assert_eq!(
        value(
            &text,
            r#"wxauth_signing_key_info{alg="ES256",kid="20990101T000000Z"}"#
        ),
        1.0
    );
    assert!(
        !text.contains(&format!("kid=\"{FIRST_KID}\"")),
        "the old signing series is gone"
    );
    assert!(text.contains("wxauth_build_info{version=\""));
}
