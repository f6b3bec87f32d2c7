//! Feishu: `tokenLoginValidate` with the app access token, cached per app
//! and refreshed once when refused.

use super::{PLATFORM_SECRET, spawn_one};
use crate::helpers::{app::assert_problem, app::issued_token, tokens::decode_parts};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APPID: &str = "cli_a1b2c3d4e5f6a7b8";
const OPEN_ID: &str = "ou_194fcfc5e4b78db556a040ff5e42c0";

async fn app_access_token(fake: &MockServer, token: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path("/open-apis/auth/v3/app_access_token/internal"))
        .and(body_json(
            json!({"app_id": APPID, "app_secret": PLATFORM_SECRET}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"code": 0, "msg": "ok", "app_access_token": token, "expire": 7200}),
        ))
        .up_to_n_times(1)
        .expect(times)
        .mount(fake)
        .await;
}

async fn validate_answers(fake: &MockServer, token: &str, code: &str, body: Value, times: u64) {
    Mock::given(method("POST"))
        .and(path("/open-apis/mina/v2/tokenLoginValidate"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .and(body_json(json!({ "code": code })))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(times)
        .mount(fake)
        .await;
}

fn session(open_id: &str) -> Value {
    json!({"code": 0, "msg": "success", "data": {
        "open_id": open_id, "union_id": "ou_deprecated_not_a_unionid",
        "session_key": "e3aeb7df000c835365c630dac91bcf", "tenant_key": "2c5914ac018f97"
    }})
}

#[tokio::test]
async fn logins_share_one_cached_app_access_token_and_carry_no_union_id() {
    let fake = MockServer::start().await;
    let (app, _files) = spawn_one("feishu", APPID, &fake, "", &[]).await;
    app_access_token(&fake, "t-one", 1).await;
    validate_answers(&fake, "t-one", "c1", session(OPEN_ID), 1).await;
    validate_answers(&fake, "t-one", "c2", session(OPEN_ID), 1).await;

    let first = issued_token(app.post_login(json!({"code": "c1"})).await).await;
    let second = issued_token(app.post_login(json!({"code": "c2"})).await).await;

    for token in [&first, &second] {
        let claims = decode_parts(token).1;
        assert_eq!(claims["sub"], OPEN_ID);
        assert_eq!(claims["plat"], "feishu");
        assert!(
            claims.get("unionid").is_none(),
            "Feishu's union_id is deprecated"
        );
        assert!(claims.get("sk").is_none());
    }
    let decrypt = app
        .post_with_token(
            "/wx/decrypt",
            &first,
            json!({"encryptedData": "AAAA", "iv": "AAAA"}),
        )
        .await;
    assert_problem(decrypt, 400, "unsupported_platform").await;
}

#[tokio::test]
async fn a_refused_app_access_token_is_refreshed_once() {
    let fake = MockServer::start().await;
    let (app, _files) = spawn_one("feishu", APPID, &fake, "", &[]).await;
    app_access_token(&fake, "t-old", 1).await;
    validate_answers(
        &fake,
        "t-old",
        "c1",
        json!({"code": 10202, "msg": "access token invalid"}),
        1,
    )
    .await;
    app_access_token(&fake, "t-new", 1).await;
    validate_answers(&fake, "t-new", "c1", session(OPEN_ID), 1).await;

    assert_eq!(app.post_login(json!({"code": "c1"})).await.status(), 200);
}

#[tokio::test]
async fn code_and_visibility_errors_map_and_the_rest_is_upstream_error() {
    let fake = MockServer::start().await;
    let (app, _files) = spawn_one("feishu", APPID, &fake, "", &[]).await;
    app_access_token(&fake, "t", 1).await;
    let says = |code: i64| json!({"code": code, "msg": "x"});
    validate_answers(&fake, "t", "used", says(10213), 1).await;
    validate_answers(&fake, "t", "hidden", says(10228), 1).await;
    validate_answers(&fake, "t", "odd", says(99999), 1).await;

    assert_problem(
        app.post_login(json!({"code": "used"})).await,
        400,
        "invalid_code",
    )
    .await;
    assert_problem(
        app.post_login(json!({"code": "hidden"})).await,
        403,
        "user_blocked",
    )
    .await;
    assert_problem(
        app.post_login(json!({"code": "odd"})).await,
        502,
        "upstream_error",
    )
    .await;
}
