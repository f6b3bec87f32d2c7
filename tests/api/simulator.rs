//! Simulator mode: /sim/login and /sim/sns/jscode2session behave as WeChat.

use crate::helpers::{
    START,
    app::{SIMULATOR_MODE, assert_problem, spawn_app, spawn_app_on, spawn_simulator},
    expected::{SIM_WECHAT_APPID, simulated_openid},
    tokens::{decode_parts, unseal},
};
use serde_json::{Value, json};

#[tokio::test]
async fn a_simulated_login_yields_a_token_for_the_simulators_appid() {
    let app = spawn_simulator().await;

    let token = app.sim_token("alice").await;

    let me: Value = app.get_me(&token).await.json().await.unwrap();
    assert_eq!(me["openid"], simulated_openid(SIM_WECHAT_APPID, "alice"));
    assert_eq!(decode_parts(&token).1["aud"], SIM_WECHAT_APPID);
}

#[tokio::test]
async fn a_simulated_code_works_once() {
    let app = spawn_simulator().await;
    let code = app.sim_code("alice").await;
    assert_eq!(app.post_login(json!({ "code": code })).await.status(), 200);

    let again = app.post_login(json!({ "code": code })).await;

    assert_problem(again, 400, "code_used").await;
}

#[tokio::test]
async fn a_simulated_code_expires_after_five_minutes() {
    let app = spawn_simulator().await;
    let fresh = app.sim_code("alice").await;
    let stale = app.sim_code("alice").await;

    app.clock.advance(300);
    assert_eq!(
        app.post_login(json!({ "code": fresh })).await.status(),
        200,
        "at 5 minutes it still works"
    );
    app.clock.advance(1);
    let response = app.post_login(json!({ "code": stale })).await;

    assert_problem(response, 400, "invalid_code").await;
}

#[tokio::test]
async fn an_unknown_code_is_invalid() {
    let app = spawn_simulator().await;

    let response = app
        .post_login(json!({"code": "0123456789abcdef0123456789abcdef"}))
        .await;

    assert_problem(response, 400, "invalid_code").await;
}

#[tokio::test]
async fn the_same_user_keeps_an_openid_and_gets_a_fresh_session_key_each_login() {
    let app = spawn_simulator().await;

    let first = app.sim_token("alice").await;
    let second = app.sim_token("alice").await;
    let bob = app.sim_token("bob").await;

    let (_, a) = decode_parts(&first);
    let (_, b) = decode_parts(&second);
    assert_eq!(a["sub"], b["sub"]);
    assert_ne!(a["sub"], decode_parts(&bob).1["sub"]);
    let key = |token: &str| unseal(&app.keys_dir, SIM_WECHAT_APPID, token, START);
    assert_ne!(key(&first), key(&second));
}

#[tokio::test]
async fn sim_login_refuses_a_bad_user() {
    let app = spawn_simulator().await;

    for body in [
        json!({"user": ""}),
        json!({"user": "a".repeat(65)}),
        json!({}),
        json!({"user": 1}),
    ] {
        let response = app.post_json("/sim/login", &body).await;
        assert_problem(response, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn the_sim_routes_do_not_exist_in_production_mode() {
    let app = spawn_app().await;

    let login = app.post_json("/sim/login", &json!({"user": "a"})).await;
    let exchange = app.get("/sim/sns/jscode2session").await;

    assert_problem(login, 404, "not_found").await;
    assert_problem(exchange, 404, "not_found").await;
}

#[tokio::test]
async fn a_fresh_simulator_folder_gets_a_development_key() {
    let empty = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_app_on(
        wiremock::MockServer::start().await,
        empty.clone(),
        &SIMULATOR_MODE,
    )
    .await;

    let token = app.sim_token("alice").await;

    let files: Vec<_> = std::fs::read_dir(empty.path()).unwrap().collect();
    assert_eq!(files.len(), 1);
    assert_eq!(decode_parts(&token).0["alg"], "EdDSA");
}
