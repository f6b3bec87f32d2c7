//! `GET /auth/verify`: forward authentication for a gateway. A valid token
//! gets 200, an empty body and the identity headers; anything else the
//! guard's own 401; no rate limit.

use crate::helpers::{APPID, OPENID, SESSION_KEY, TOKEN_TTL, UNIONID};
use crate::helpers::{
    app::TestApp, app::assert_problem, app::assert_rejected, app::issued_token, app::spawn_app,
    app::spawn_app_with, app::spawn_simulator, tokens::flip_first,
};
use serde_json::Value;

const IDENTITY: [&str; 4] = [
    "x-auth-subject",
    "x-auth-unionid",
    "x-auth-appid",
    "x-auth-platform",
];

async fn verify_with(app: &TestApp, token: &str) -> reqwest::Response {
    app.get_with_token("/auth/verify", token).await
}

#[tokio::test]
async fn a_valid_token_gets_200_an_empty_body_and_the_identity_headers() {
    let app = spawn_app().await;
    let token = app.login().await;

    let response = verify_with(&app, &token).await;

    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["x-auth-subject"], OPENID);
    assert_eq!(headers["x-auth-unionid"], UNIONID);
    assert_eq!(headers["x-auth-appid"], APPID);
    assert_eq!(headers["x-auth-platform"], "wechat");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_token_without_a_unionid_gets_no_unionid_header() {
    let app = spawn_app().await;
    let token = app.login_as("code-2", OPENID, None, SESSION_KEY).await;

    let response = verify_with(&app, &token).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-auth-subject"], OPENID);
    assert!(response.headers().get("x-auth-unionid").is_none());
}

#[tokio::test]
async fn head_answers_like_get() {
    let app = spawn_app().await;
    let token = app.login().await;

    let response = app
        .client
        .head(app.url("/auth/verify"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-auth-subject"], OPENID);
}

#[tokio::test]
async fn each_platform_is_named_in_x_auth_platform() {
    let app = spawn_simulator().await;
    for (appid, platform) in [
        ("wxsimulator0000000", "wechat"),
        ("1109999999", "qq"),
        ("ttsimulator0000000", "douyin"),
    ] {
        let code = app
            .sim(
                "/sim/login",
                serde_json::json!({"user": "alice", "appid": appid}),
            )
            .await["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let token = issued_token(
            app.post_login(serde_json::json!({"code": code, "appid": appid}))
                .await,
        )
        .await;

        let response = verify_with(&app, &token).await;

        assert_eq!(response.status(), 200, "{appid}");
        assert_eq!(response.headers()["x-auth-appid"], appid);
        assert_eq!(response.headers()["x-auth-platform"], platform);
    }
}

#[tokio::test]
async fn no_token_gets_the_guards_401_without_identity_headers() {
    let app = spawn_app().await;

    let response = app.get("/auth/verify").await;

    for name in IDENTITY {
        assert!(response.headers().get(name).is_none(), "{name}");
    }
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="wxauth""#
    );
    assert_problem(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn a_bad_token_gets_exactly_the_401_the_guard_gives_everywhere() {
    let app = spawn_app().await;
    let token = app.login().await;
    let tampered = flip_first(&token);

    let from_verify = verify_with(&app, &tampered).await;
    let from_me = app.get_me(&tampered).await;

    assert_eq!(from_verify.status(), from_me.status());
    assert_eq!(
        from_verify.headers()["www-authenticate"],
        from_me.headers()["www-authenticate"]
    );
    for name in IDENTITY {
        assert!(from_verify.headers().get(name).is_none(), "{name}");
    }
    let body: Value = from_verify.json().await.unwrap();
    let expected: Value = from_me.json().await.unwrap();
    assert_eq!(body, expected);
    assert_rejected(verify_with(&app, &tampered).await, "tampered").await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app().await;
    let token = app.login().await;
    app.clock.advance(TOKEN_TTL + 60);

    assert_rejected(verify_with(&app, &token).await, "expired").await;
}

#[tokio::test]
async fn identity_headers_the_client_sends_are_not_taken_as_the_identity() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/auth/verify"))
        .header("x-auth-subject", "oSomeoneElse")
        .header("x-auth-appid", APPID)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
    assert!(response.headers().get("x-auth-subject").is_none());
}

#[tokio::test]
async fn verify_is_not_rate_limited() {
    // A rate of 1 a second (burst 5) would refuse the sixth request to a
    // limited route; a gateway asks once per request it serves.
    let app = spawn_app_with(&[("WXAUTH_CLIENT_RATE", "1")]).await;
    let token = app.login().await;

    for i in 0..30 {
        assert_eq!(verify_with(&app, &token).await.status(), 200, "request {i}");
    }
    // The control: the same client on a limited route is refused by now.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(app.refresh(&token).await.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn other_methods_get_405() {
    let app = spawn_app().await;
    let token = app.login().await;

    let response = app
        .post_with_token("/auth/verify", &token, Value::Null)
        .await;

    assert_eq!(response.headers()["allow"], "GET, HEAD");
    assert_problem(response, 405, "method_not_allowed").await;
}
