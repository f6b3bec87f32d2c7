//! No secret in any log line at any level: the real binary at
//! RUST_LOG=trace, a whole login and its failures, then a search of all it
//! wrote for every secret that passed through it.

use crate::helpers::{
    APPID, FIRST_KID, OPENID, SECRET, SESSION_KEY, UNIONID,
    expected::{encrypt_user_data, session_signature},
    fakes::{session_answer, wechat_says},
    process::serve_production_binary,
    tokens::decode_parts,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer};

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_login_at_trace_level_logs_no_secret() {
    whole_login_at_trace_level_logs_no_secret("text").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn in_json_every_line_is_an_object_with_its_fields_and_no_secret() {
    whole_login_at_trace_level_logs_no_secret("json").await;
}

/// Every line of a JSON log: an object with `ts` (RFC 3339), `level`,
/// `target` and `msg`, and the access log's request fields. Returns the
/// messages, one a line, for the content checks.
fn json_messages(log: &str) -> String {
    let mut messages = String::new();
    let mut access_lines = 0;
    for line in log.lines() {
        let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let ts = value["ts"].as_str().expect("ts");
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
        for field in ["level", "target", "msg"] {
            assert!(value[field].is_string(), "{field} in {line}");
        }
        if value["target"] == "wxauth::access" {
            access_lines += 1;
            assert!(value["method"].is_string(), "{line}");
            let path = value["path"].as_str().expect("path");
            assert!(!path.contains('?'), "no query string: {line}");
            assert!(value["status"].is_u64(), "{line}");
            assert!(value["duration_ms"].is_number(), "{line}");
            assert_eq!(value["client"], "127.0.0.1", "{line}");
        }
        messages.push_str(&format!(
            "{} {}\n",
            value["level"].as_str().unwrap_or_default(),
            value["msg"].as_str().unwrap_or_default()
        ));
    }
    assert!(access_lines > 10, "the access log is there: {access_lines}");
    messages
}

async fn whole_login_at_trace_level_logs_no_secret(format: &str) {
    // Arrange: a fake WeChat, a key, and the binary in production mode.
    let wechat = MockServer::start().await;
    let good_code = "0a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P";
    let bad_code = "BADc0de5ecret00000000000000000000";
    let operator_code = "OPERc0de5ecret0000000000000000000";
    let used_code = "USEDc0de5ecret0000000000000000000";
    for (code, answer) in [
        (
            good_code,
            session_answer(OPENID, SESSION_KEY, Some(UNIONID)),
        ),
        (
            bad_code,
            json!({"errcode": 40029, "errmsg": format!("invalid code {bad_code}")}),
        ),
        (
            operator_code,
            json!({"errcode": 40125, "errmsg": format!("invalid appsecret {SECRET}, rid: 42")}),
        ),
        (
            used_code,
            json!({"errcode": 40163, "errmsg": "code been used"}),
        ),
    ] {
        Mock::given(method("GET"))
            .and(query_param("js_code", code))
            .respond_with(wechat_says(answer))
            .mount(&wechat)
            .await;
    }
    let access_token = "ACCESS-t0ken-5ecret-0123456789";
    let phone_code = "PH0NEc0de5ecret000000000000000000";
    let phone_number = "13912345678";
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/cgi-bin/stable_token"))
        .respond_with(wechat_says(
            json!({"access_token": access_token, "expires_in": 7200}),
        ))
        .mount(&wechat)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/wxa/business/getuserphonenumber"))
        .respond_with(wechat_says(json!({"errcode": 0, "phone_info": {
            "phoneNumber": phone_number, "purePhoneNumber": phone_number, "countryCode": "86",
            "watermark": {"appid": APPID, "timestamp": 1}}})))
        .mount(&wechat)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path("/wxa/checksession"))
        .respond_with(wechat_says(
            json!({"errcode": 87009, "errmsg": "invalid signature"}),
        ))
        .mount(&wechat)
        .await;
    let (dir, server) = serve_production_binary(
        &wechat.uri(),
        &[("RUST_LOG", "trace"), ("WXAUTH_LOG_FORMAT", format)],
    );
    let key_file =
        std::fs::read_to_string(dir.path().join("keys").join(format!("{FIRST_KID}.pem"))).unwrap();
    let base = server.wait_until_listening().expect("listening");
    let client = reqwest::Client::new();

    // Act: success and failure on every endpoint of the login path.
    let login: Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"code": good_code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let me = client
        .get(format!("{base}/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let refreshed: Value = client
        .post(format!("{base}/auth/refresh"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token2 = refreshed["access_token"].as_str().unwrap().to_owned();
    // Each failure answered as its own kind, so that each went the way that
    // logs what the platform said (not refused earlier for another reason).
    for (code, expected) in [
        (bad_code, "invalid_code"),
        (operator_code, "upstream_error"),
        (used_code, "code_used"),
    ] {
        let failed: Value = client
            .post(format!("{base}/auth/login?js_code={code}&secret={SECRET}"))
            .json(&json!({ "code": code }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(failed["code"], expected, "{failed}");
    }
    let phone = client
        .post(format!("{base}/wx/phone"))
        .bearer_auth(&token2)
        .json(&json!({ "code": phone_code }))
        .send()
        .await
        .unwrap();
    assert_eq!(phone.status(), 200);
    let check = client
        .get(format!("{base}/auth/check"))
        .bearer_auth(&token2)
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200);
    // User data under our session_key (a foreign watermark: refused, logged).
    let (sealed, iv) = encrypt_user_data(
        SESSION_KEY,
        br#"{"nickName":"PRIVATE-NICKNAME","watermark":{"appid":"wxOther"}}"#,
    );
    let decrypt = client
        .post(format!("{base}/wx/decrypt"))
        .bearer_auth(&token2)
        .json(&json!({"encryptedData": sealed, "iv": iv}))
        .send()
        .await
        .unwrap();
    assert_eq!(decrypt.status(), 422);
    // Bodies of the wrong shape quoting a code: the answer and every log
    // line (actix logs error answers at DEBUG) must not repeat it.
    let shaped_code = "SHAPEc0de5ecret000000000000000000";
    for body in [
        json!(shaped_code),
        json!({ "code": [shaped_code] }),
        json!({ "code": { "x": shaped_code } }),
    ] {
        let failed = client
            .post(format!("{base}/auth/login"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(failed.status(), 400);
        assert!(!failed.text().await.unwrap().contains(shaped_code));
    }
    // The public endpoints, and a refresh that fails.
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json", "/nope"] {
        client.get(format!("{base}{path}")).send().await.unwrap();
        client.head(format!("{base}{path}")).send().await.unwrap();
    }
    let failed_refresh = client
        .post(format!("{base}/auth/refresh"))
        .bearer_auth(format!("{token2}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(failed_refresh.status(), 401);
    let tampered = format!("{token}x");
    let rejected = client
        .get(format!("{base}/auth/me"))
        .bearer_auth(&tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 401);
    client
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let log = server.stop();
    let messages = if format == "json" {
        json_messages(&log)
    } else {
        log.clone()
    };

    // Assert: the log is real (it saw the requests, at trace level) ...
    assert!(messages.contains("\"POST /auth/login\" 200"), "{log}");
    assert!(messages.contains("TRACE"), "trace level was on");
    assert!(
        messages.contains("40125"),
        "the operator error is logged: {log}"
    );
    assert!(messages.contains("\"POST /wx/phone\" 200"), "{log}");
    // ... and holds none of the secrets.
    let raw_key = STANDARD.decode(SESSION_KEY).unwrap();
    let hex_key: String = raw_key.iter().map(|b| format!("{b:02x}")).collect();
    let mut secrets = vec![
        SECRET.to_owned(),
        good_code.to_owned(),
        bad_code.to_owned(),
        operator_code.to_owned(),
        used_code.to_owned(),
        shaped_code.to_owned(),
        access_token.to_owned(),
        phone_code.to_owned(),
        phone_number.to_owned(),
        "PRIVATE-NICKNAME".to_owned(),
        sealed.clone(),
        session_signature(SESSION_KEY),
        SESSION_KEY.to_owned(),
        SESSION_KEY.trim_end_matches('=').to_owned(),
        hex_key.clone(),
        hex_key.to_uppercase(),
    ];
    for t in [&token, &token2] {
        secrets.push(t.clone());
        let (_, claims) = decode_parts(t);
        secrets.push(claims["sk"].as_str().unwrap().to_owned());
        secrets.push(t.rsplit('.').next().unwrap().to_owned());
        secrets.push(t.split('.').nth(1).unwrap().to_owned());
    }
    for line in key_file.lines().filter(|l| !l.starts_with("-----")) {
        secrets.push(line.to_owned());
    }
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the log holds a secret ({} chars)",
            secret.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_write_no_error_line_at_warn() {
    use std::io::{Read as _, Write as _};
    let wechat = MockServer::start().await;
    let (_dir, server) =
        serve_production_binary(&wechat.uri(), &[("RUST_LOG", "warn,wxauth::cli=info")]);
    let base = server.wait_until_listening().expect("listening");
    let address = base.trim_start_matches("http://").to_owned();

    tokio::task::spawn_blocking(move || {
        for garbage in [
            &b"GARBAGE\r\n\r\n"[..],
            b"GET / HTTP/9.9\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00",
        ] {
            let mut stream = std::net::TcpStream::connect(&address).unwrap();
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            stream.write_all(garbage).unwrap();
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
        }
    })
    .await
    .unwrap();
    let log = server.stop();

    assert!(!log.contains("ERROR"), "{log}");
}
