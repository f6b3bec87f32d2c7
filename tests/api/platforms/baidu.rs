//! Baidu: `POST /oauth/jscode2sessionkey` with a form, OAuth-style errors,
//! and its own user-data scheme (AES-192, the app key inside).

use super::{PLATFORM_SECRET, spawn_one};
use crate::helpers::{app::assert_problem, app::issued_token, tokens::decode_parts};
use base64::Engine as _;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use wxauth::domain::SessionKey;
use wxauth::platform::baidu_encrypt_user_data;

const APPKEY: &str = "MnCOwPbxrGqkN0MTGMbJ9bMztWEEPDuF";
const OPENID: &str = "k8mVvTyW4u7l6IpR1dzWWqVpLy";

fn session_key() -> String {
    base64::engine::general_purpose::STANDARD.encode([3u8; 24])
}

async fn baidu_answers(fake: &MockServer, code: &str, body: Value, times: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth/jscode2sessionkey"))
        .and(body_string_contains(format!("code={code}&")))
        .and(body_string_contains(format!("client_id={APPKEY}")))
        .and(body_string_contains(format!("sk={PLATFORM_SECRET}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(times)
        .mount(fake)
        .await;
}

#[tokio::test]
async fn a_code_gets_a_token_and_user_data_decrypts_the_baidu_way() {
    let fake = MockServer::start().await;
    let (app, _files) = spawn_one("baidu", APPKEY, &fake, "", &[]).await;
    baidu_answers(
        &fake,
        "c1",
        json!({"openid": OPENID, "session_key": session_key()}),
        1,
    )
    .await;

    let token = issued_token(app.post_login(json!({"code": "c1"})).await).await;

    let claims = decode_parts(&token).1;
    assert_eq!(claims["sub"], OPENID);
    assert_eq!(claims["plat"], "baidu");
    let key = SessionKey::parse(&session_key()).unwrap();
    let content = format!(r#"{{"openid":"{OPENID}","mobile":"13800000000"}}"#);
    let (data, iv) = baidu_encrypt_user_data(&key, content.as_bytes(), APPKEY).unwrap();
    let answer = app
        .post_with_token(
            "/wx/decrypt",
            &token,
            json!({"encryptedData": data, "iv": iv}),
        )
        .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), content);
    let (other, iv) = baidu_encrypt_user_data(&key, content.as_bytes(), "another-app").unwrap();
    let refused = app
        .post_with_token(
            "/wx/decrypt",
            &token,
            json!({"encryptedData": other, "iv": iv}),
        )
        .await;
    assert_problem(refused, 422, "decrypt_failed").await;
}

#[tokio::test]
async fn invalid_grant_is_invalid_code_and_other_errors_are_upstream_errors() {
    let fake = MockServer::start().await;
    let (app, _files) = spawn_one("baidu", APPKEY, &fake, "", &[]).await;
    let oauth_error = |error: &str| json!({"error": error, "error_description": "x"});
    baidu_answers(&fake, "used", oauth_error("invalid_grant"), 1).await;
    baidu_answers(&fake, "client", oauth_error("invalid_client"), 1).await;
    baidu_answers(&fake, "errno", json!({"errno": 400, "errmsg": "x"}), 1).await;
    baidu_answers(&fake, "nokey", json!({"openid": OPENID}), 1).await;

    assert_problem(
        app.post_login(json!({"code": "used"})).await,
        400,
        "invalid_code",
    )
    .await;
    for code in ["client", "errno", "nokey"] {
        assert_problem(
            app.post_login(json!({ "code": code })).await,
            502,
            "upstream_error",
        )
        .await;
    }
}
