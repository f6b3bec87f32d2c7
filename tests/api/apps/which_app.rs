//! Which app: unknown_app, and tokens of apps this server does not serve.

use crate::helpers::tokens::JsonEdit as _;
use crate::helpers::{
    FIRST_KID, OPENID, SESSION_KEY, START,
    app::{assert_problem, assert_rejected, spawn_app_on},
    apps::{FOUR_APPS, douyin_says, douyin_session, spawn_four_apps},
    fakes::{code2session, session_answer, wechat_says},
    tokens::{eddsa_header, forge, good_claims},
};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

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
