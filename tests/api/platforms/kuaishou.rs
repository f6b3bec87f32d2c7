//! Kuaishou: `POST /oauth2/mp/code2session` with a form, `result` 1 for
//! success, and WeChat's user-data scheme without a watermark.

use super::{PLATFORM_SECRET, spawn_one};
use crate::helpers::{SESSION_KEY, app::assert_problem, app::issued_token, tokens::decode_parts};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use wxauth::domain::SessionKey;
use wxauth::platform::encrypt_user_data;

const APPID: &str = "ks671599001707360032";
const OPEN_ID: &str = "f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6";

async fn kuaishou_answers(fake: &MockServer, code: &str, body: Value, times: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth2/mp/code2session"))
        .and(body_string_contains(format!("app_id={APPID}")))
        .and(body_string_contains(format!(
            "app_secret={PLATFORM_SECRET}"
        )))
        .and(body_string_contains(format!("js_code={code}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(times)
        .mount(fake)
        .await;
}

#[tokio::test]
async fn result_one_gets_a_token_and_user_data_decrypts() {
    let fake = MockServer::start().await;
    let (app, _files) = spawn_one("kuaishou", APPID, &fake, "", &[]).await;
    kuaishou_answers(
        &fake,
        "c1",
        json!({"result": 1, "open_id": OPEN_ID, "session_key": SESSION_KEY}),
        1,
    )
    .await;

    let token = issued_token(app.post_login(json!({"code": "c1"})).await).await;

    assert_eq!(decode_parts(&token).1["plat"], "kuaishou");
    assert_eq!(decode_parts(&token).1["sub"], OPEN_ID);
    let key = SessionKey::parse(SESSION_KEY).unwrap();
    let text = format!(r#"{{"openId":"{OPEN_ID}","phoneNumber":"13800000000"}}"#);
    let (data, iv) = encrypt_user_data(&key, text.as_bytes()).unwrap();
    let answer = app
        .post_with_token(
            "/wx/decrypt",
            &token,
            json!({"encryptedData": data, "iv": iv}),
        )
        .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), text);
}

#[tokio::test]
async fn invalid_grant_is_invalid_code_and_other_results_are_upstream_errors() {
    let fake = MockServer::start().await;
    let (app, _files) = spawn_one("kuaishou", APPID, &fake, "", &[]).await;
    kuaishou_answers(
        &fake,
        "used",
        json!({"result": 100200102, "error": "invalid_grant", "error_msg": "x"}),
        1,
    )
    .await;
    kuaishou_answers(
        &fake,
        "secret",
        json!({"result": 100200101, "error": "invalid_client", "error_msg": "x"}),
        1,
    )
    .await;
    kuaishou_answers(&fake, "params", json!({"result": 100200100}), 1).await;

    assert_problem(
        app.post_login(json!({"code": "used"})).await,
        400,
        "invalid_code",
    )
    .await;
    for code in ["secret", "params"] {
        assert_problem(
            app.post_login(json!({ "code": code })).await,
            502,
            "upstream_error",
        )
        .await;
    }
}
