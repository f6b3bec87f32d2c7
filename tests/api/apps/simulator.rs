//! The simulator's three apps.

use super::claims;
use crate::helpers::{
    app::{assert_problem, issued_token, key_folder, spawn_app_on, spawn_simulator},
    expected::simulated_openid,
    fakes::{code2session, wechat_says},
};
use serde_json::{Value, json};
use wiremock::MockServer;

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
        assert_eq!(me["openid"], simulated_openid(appid, "alice"));
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
