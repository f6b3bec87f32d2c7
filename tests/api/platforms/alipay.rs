//! Alipay: `alipay.system.oauth.token` through a fake gateway that checks
//! the request's RSA2 signature and signs its answers, the way Alipay does.

use super::{file_in, spawn_one};
use crate::helpers::{app::TestApp, app::assert_problem, app::issued_token, tokens::decode_parts};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};
use wxauth::platform::{
    alipay_private_key, alipay_public_key, alipay_seal_response, alipay_sign,
    alipay_signing_content, alipay_verify,
};

const APPID: &str = "2021004100000001";
const APP_PRIVATE: &str = include_str!("../../../src/sim/alipay/app-private.pem");
const APP_PUBLIC: &str = include_str!("../../../src/sim/alipay/app-public.pem");
const GATEWAY_PRIVATE: &str = include_str!("../../../src/sim/alipay/gateway-private.pem");
const GATEWAY_PUBLIC: &str = include_str!("../../../src/sim/alipay/gateway-public.pem");
const CONTENT_KEY: &str = "aa4BtZ4tspm2wnXLb1ThQA==";
const OPEN_ID: &str = "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5";

/// Matches a gateway request signed by the test app's private key, for
/// `alipay.system.oauth.token` with `code`.
struct SignedRequest {
    code: &'static str,
}

impl wiremock::Match for SignedRequest {
    fn matches(&self, request: &Request) -> bool {
        let params: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&request.body).unwrap_or_default();
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let public = alipay_public_key(APP_PUBLIC).unwrap();
        get("app_id") == Some(APPID)
            && get("method") == Some("alipay.system.oauth.token")
            && get("grant_type") == Some("authorization_code")
            && get("sign_type") == Some("RSA2")
            && get("code") == Some(self.code)
            && alipay_verify(
                &public,
                alipay_signing_content(&pairs).as_bytes(),
                get("sign").unwrap_or(""),
            )
    }
}

/// The gateway's answer: `{"<name>": object, "sign"}`, signed by `key`
/// (Alipay's private key, unless a test forges it) over the object's text.
fn signed(name: &str, object: &Value, key_pem: &str) -> String {
    let text = object.to_string();
    let key = alipay_private_key(key_pem).unwrap();
    let sign = alipay_sign(&key, text.as_bytes()).unwrap();
    format!("{{\"{name}\":{text},\"sign\":\"{sign}\"}}")
}

fn success(object: &Value) -> String {
    signed(
        "alipay_system_oauth_token_response",
        object,
        GATEWAY_PRIVATE,
    )
}

fn error(code: &str, sub_code: &str) -> String {
    signed(
        "error_response",
        &json!({"code": code, "msg": "Invalid Arguments", "sub_code": sub_code, "sub_msg": "x"}),
        GATEWAY_PRIVATE,
    )
}

fn gateway_says(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/html;charset=utf-8")
}

/// The server with one Alipay app whose keys are in files (and, with
/// `content_key`, its AES key in a variable).
async fn spawn_alipay(gateway: &MockServer, content_key: bool) -> (TestApp, tempfile::TempDir) {
    let keys = tempfile::tempdir().unwrap();
    let private = file_in(keys.path(), "app.pem", APP_PRIVATE);
    let public = file_in(keys.path(), "alipay.pem", GATEWAY_PUBLIC);
    let mut extra =
        format!("private_key_file = \"{private}\"\nalipay_public_key_file = \"{public}\"\n");
    if content_key {
        extra.push_str("aes_key_env = \"ALIPAY_AES\"\n");
    }
    let (app, files) = spawn_one(
        "alipay",
        APPID,
        gateway,
        &extra,
        &[("ALIPAY_AES", CONTENT_KEY)],
    )
    .await;
    drop(keys); // read at start
    (app, files)
}

async fn gateway_answers(gateway: &MockServer, code: &'static str, body: String, times: u64) {
    Mock::given(method("POST"))
        .and(path("/gateway.do"))
        .and(SignedRequest { code })
        .respond_with(gateway_says(body))
        .expect(times)
        .mount(gateway)
        .await;
}

#[tokio::test]
async fn a_signed_request_gets_a_token_whose_sub_is_the_open_id() {
    let gateway = MockServer::start().await;
    let (app, _files) = spawn_alipay(&gateway, false).await;
    gateway_answers(
        &gateway,
        "auth-code-1",
        success(&json!({"open_id": OPEN_ID, "access_token": "a", "expires_in": 3600})),
        1,
    )
    .await;

    let token = issued_token(app.post_login(json!({"code": "auth-code-1"})).await).await;

    let claims = decode_parts(&token).1;
    assert_eq!(claims["sub"], OPEN_ID);
    assert_eq!(claims["aud"], APPID);
    assert_eq!(claims["plat"], "alipay");
    assert!(claims.get("sk").is_none(), "Alipay gives no session_key");
    let me: Value = app.get_me(&token).await.json().await.unwrap();
    assert_eq!(me["platform"], "alipay");
    let renewed = app.refreshed(&token).await;
    assert_eq!(decode_parts(&renewed).1["sub"], OPEN_ID);
}

#[tokio::test]
async fn an_older_app_gets_user_id_as_the_sub() {
    let gateway = MockServer::start().await;
    let (app, _files) = spawn_alipay(&gateway, false).await;
    gateway_answers(
        &gateway,
        "auth-code-2",
        success(&json!({"user_id": "2088102150477652", "access_token": "a"})),
        1,
    )
    .await;

    let token = issued_token(app.post_login(json!({"code": "auth-code-2"})).await).await;

    assert_eq!(decode_parts(&token).1["sub"], "2088102150477652");
}

#[tokio::test]
async fn an_invalid_auth_code_is_invalid_code_and_other_errors_are_upstream_errors() {
    let gateway = MockServer::start().await;
    let (app, _files) = spawn_alipay(&gateway, false).await;
    gateway_answers(&gateway, "bad", error("40002", "isv.code-invalid"), 1).await;
    gateway_answers(&gateway, "sig", error("40002", "isv.invalid-signature"), 1).await;
    gateway_answers(
        &gateway,
        "perm",
        error("40006", "isv.insufficient-isv-permissions"),
        1,
    )
    .await;

    assert_problem(
        app.post_login(json!({"code": "bad"})).await,
        400,
        "invalid_code",
    )
    .await;
    assert_problem(
        app.post_login(json!({"code": "sig"})).await,
        502,
        "upstream_error",
    )
    .await;
    assert_problem(
        app.post_login(json!({"code": "perm"})).await,
        502,
        "upstream_error",
    )
    .await;
}

#[tokio::test]
async fn an_answer_with_a_forged_missing_or_broken_signature_is_never_trusted() {
    let gateway = MockServer::start().await;
    let (app, _files) = spawn_alipay(&gateway, false).await;
    let object = json!({"open_id": OPEN_ID, "access_token": "a"});
    // Signed by a key that is not Alipay's.
    let forged = signed("alipay_system_oauth_token_response", &object, APP_PRIVATE);
    gateway_answers(&gateway, "forged", forged, 1).await;
    // No signature at all.
    let unsigned = format!("{{\"alipay_system_oauth_token_response\":{object}}}");
    gateway_answers(&gateway, "unsigned", unsigned, 1).await;
    // Alipay's signature, but someone changed the open_id after it.
    let altered = success(&object).replace(OPEN_ID, "0000000000attacker");
    gateway_answers(&gateway, "altered", altered, 1).await;
    // An error answer that does not verify is not believed either.
    let forged_error = signed(
        "error_response",
        &json!({"code": "40002", "sub_code": "isv.code-invalid"}),
        APP_PRIVATE,
    );
    gateway_answers(&gateway, "forged-error", forged_error, 1).await;

    for code in ["forged", "unsigned", "altered", "forged-error"] {
        assert_problem(
            app.post_login(json!({ "code": code })).await,
            502,
            "upstream_error",
        )
        .await;
    }
}

#[tokio::test]
async fn the_gateways_unsigned_error_response_is_read_as_the_error_it_is() {
    let gateway = MockServer::start().await;
    let (app, _files) = spawn_alipay(&gateway, false).await;
    let unsigned = |sub_code: &str| {
        format!(
            r#"{{"error_response":{{"code":"40002","msg":"Invalid Arguments","sub_code":"{sub_code}","sub_msg":"x"}}}}"#
        )
    };
    gateway_answers(&gateway, "used", unsigned("isv.code-invalid"), 1).await;
    gateway_answers(&gateway, "appid", unsigned("isv.invalid-app-id"), 1).await;

    assert_problem(
        app.post_login(json!({"code": "used"})).await,
        400,
        "invalid_code",
    )
    .await;
    assert_problem(
        app.post_login(json!({"code": "appid"})).await,
        502,
        "upstream_error",
    )
    .await;
}

#[tokio::test]
async fn service_unavailable_is_retried_twice_then_upstream_error() {
    let gateway = MockServer::start().await;
    let (app, _files) = spawn_alipay(&gateway, false).await;
    let busy = error("20000", "isp.unknow-error");
    Mock::given(method("POST"))
        .and(path("/gateway.do"))
        .and(SignedRequest {
            code: "busy-then-ok",
        })
        .respond_with(gateway_says(busy.clone()))
        .up_to_n_times(2)
        .expect(2)
        .mount(&gateway)
        .await;
    gateway_answers(
        &gateway,
        "busy-then-ok",
        success(&json!({"open_id": OPEN_ID})),
        1,
    )
    .await;
    gateway_answers(&gateway, "always-busy", busy, 3).await;

    assert_eq!(
        app.post_login(json!({"code": "busy-then-ok"}))
            .await
            .status(),
        200
    );
    assert_problem(
        app.post_login(json!({"code": "always-busy"})).await,
        502,
        "upstream_error",
    )
    .await;
}

#[tokio::test]
async fn the_phone_number_decrypts_with_the_content_key_and_needs_alipays_signature() {
    let gateway = MockServer::start().await;
    let (app, _files) = spawn_alipay(&gateway, true).await;
    gateway_answers(&gateway, "c", success(&json!({"open_id": OPEN_ID})), 1).await;
    let token = issued_token(app.post_login(json!({"code": "c"})).await).await;
    let gateway_key = alipay_private_key(GATEWAY_PRIVATE).unwrap();
    let plaintext = br#"{"code":"10000","msg":"Success","mobile":"13800000000"}"#;
    let response = alipay_seal_response(&gateway_key, CONTENT_KEY, plaintext).unwrap();

    let answer = app
        .post_with_token("/wx/decrypt", &token, json!({ "response": response }))
        .await;

    assert_eq!(answer.status(), 200);
    assert_eq!(answer.bytes().await.unwrap(), &plaintext[..]);
    // Signed by someone else: refused.
    let app_key = alipay_private_key(APP_PRIVATE).unwrap();
    let forged = alipay_seal_response(&app_key, CONTENT_KEY, plaintext).unwrap();
    let refused = app
        .post_with_token("/wx/decrypt", &token, json!({ "response": forged }))
        .await;
    assert_problem(refused, 422, "decrypt_failed").await;
    let malformed = app
        .post_with_token(
            "/wx/decrypt",
            &token,
            json!({"encryptedData": "x", "iv": "y"}),
        )
        .await;
    assert_problem(malformed, 400, "invalid_request").await;
}

#[tokio::test]
async fn without_a_content_key_decrypt_phone_and_check_are_unsupported() {
    let gateway = MockServer::start().await;
    let (app, _files) = spawn_alipay(&gateway, false).await;
    gateway_answers(&gateway, "c", success(&json!({"open_id": OPEN_ID})), 1).await;
    let token = issued_token(app.post_login(json!({"code": "c"})).await).await;

    let decrypt = app
        .post_with_token("/wx/decrypt", &token, json!({"response": "{}"}))
        .await;
    assert_problem(decrypt, 400, "unsupported_platform").await;
    let phone = app
        .post_with_token("/wx/phone", &token, json!({"code": "p"}))
        .await;
    assert_problem(phone, 400, "unsupported_platform").await;
    assert_problem(
        app.get_with_token("/auth/check", &token).await,
        400,
        "unsupported_platform",
    )
    .await;
}
