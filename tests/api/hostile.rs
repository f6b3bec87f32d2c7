//! Hostile tokens and hostile requests: every one gets a clear 4xx
//! problem+json (401 `invalid_token` for tokens), none a 500, and the server
//! keeps serving.

use crate::helpers::tokens::JsonEdit as _;
use crate::helpers::{
    FIRST_KID, START,
    app::{TestApp, assert_problem, assert_rejected, spawn_app},
    tokens::{decode_parts, eddsa_header, flip_first, foreign_key, forge, sign},
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

fn b64(value: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(value)
}

/// header.payload.signature from raw JSON texts and a raw signature.
fn raw(header: &str, payload: &str, signature: &str) -> String {
    format!("{}.{}.{signature}", b64(header), b64(payload))
}

/// HMAC-SHA256 over `message` keyed with `key`: the "alg confusion" forgery.
fn hs256(key: &[u8], message: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    b64(aws_lc_rs::hmac::sign(&key, message.as_bytes()))
}

/// `sk` (a sealed session_key) with its byte `at(length)` changed.
fn sk_byte_flipped(sk: &str, at: fn(usize) -> usize) -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(sk).unwrap();
    let index = at(bytes.len());
    bytes[index] ^= 1;
    b64(bytes)
}

/// Every forged or broken token, with what it tries.
fn hostile_tokens(app: &TestApp, good: &str) -> Vec<(String, String)> {
    let key = app.key(FIRST_KID);
    let (header, claims) = decode_parts(good);
    let parts: Vec<&str> = good.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    let signed = |header: &Value, claims: &Value| forge(&key, header, claims);
    let with = |name: &str, value: Value| signed(&header, &claims.with(name, value));
    let without = |name: &str| signed(&header, &claims.without(name));
    let with_header = |name: &str, value: Value| signed(&header.with(name, value), &claims);
    // Claims changed after signing: our header and signature kept.
    let unsigned = |claims: Value| format!("{h}.{}.{s}", b64(claims.to_string()));
    // A header of its own on the real claims, with `signature`.
    let labelled =
        |header: Value, signature: &str| raw(&header.to_string(), &claims.to_string(), signature);
    let public_jwk = key.jwk().to_string();
    let public_x = key.jwk()["x"].as_str().unwrap().to_owned();
    let message = |alg: &str| {
        format!(
            "{}.{p}",
            b64(eddsa_header(FIRST_KID).with("alg", alg).to_string())
        )
    };
    let sk = claims["sk"].as_str().unwrap();

    let fixed = vec![
        // alg "none" in every spelling, with and without a signature.
        (
            "alg none",
            labelled(json!({"alg": "none", "kid": FIRST_KID}), ""),
        ),
        (
            "alg None",
            labelled(json!({"alg": "None", "kid": FIRST_KID}), ""),
        ),
        (
            "alg NONE",
            labelled(json!({"alg": "NONE", "kid": FIRST_KID}), ""),
        ),
        (
            "alg nOnE with our signature",
            labelled(json!({"alg": "nOnE", "kid": FIRST_KID}), s),
        ),
        (
            "alg empty",
            labelled(json!({"alg": "", "kid": FIRST_KID}), s),
        ),
        ("alg missing", labelled(json!({"kid": FIRST_KID}), s)),
        // HS256 keyed with our public key (as JWK text and as raw x).
        (
            "HS256 keyed with the public JWK",
            format!(
                "{}.{}",
                message("HS256"),
                hs256(public_jwk.as_bytes(), &message("HS256"))
            ),
        ),
        (
            "HS256 keyed with the public x",
            format!(
                "{}.{}",
                message("HS256"),
                hs256(public_x.as_bytes(), &message("HS256"))
            ),
        ),
        (
            "HS256 keyed with the raw public key",
            format!(
                "{}.{}",
                message("HS256"),
                hs256(
                    &URL_SAFE_NO_PAD.decode(&public_x).unwrap(),
                    &message("HS256")
                )
            ),
        ),
        // Every other algorithm family, signed by a real key of that family.
        (
            "ES256 under our kid",
            forge(
                &foreign_key(Algorithm::ES256),
                &eddsa_header(FIRST_KID).with("alg", "ES256"),
                &claims,
            ),
        ),
        (
            "RS256 under our kid",
            forge(
                &foreign_key(Algorithm::RS256),
                &eddsa_header(FIRST_KID).with("alg", "RS256"),
                &claims,
            ),
        ),
        (
            "foreign EdDSA key under our kid",
            forge(&foreign_key(Algorithm::EdDSA), &header, &claims),
        ),
        // The signature flipped, truncated, empty, padded.
        ("signature flipped", format!("{h}.{p}.{}", flip_first(s))),
        (
            "signature truncated",
            format!("{h}.{p}.{}", &s[..s.len() - 2]),
        ),
        ("signature empty", format!("{h}.{p}.")),
        ("signature padded", format!("{h}.{p}.{s}==")),
        (
            "signature with a space inside",
            format!("{h}.{p}.{} {}", &s[..10], &s[10..]),
        ),
        // The sealed session_key tampered inside a real token (no re-signing).
        (
            "sk nonce changed",
            unsigned(claims.with("sk", sk_byte_flipped(sk, |_| 0))),
        ),
        (
            "sk tag changed",
            unsigned(claims.with("sk", sk_byte_flipped(sk, |len| len - 1))),
        ),
        // Claims changed after signing.
        ("sub changed", unsigned(claims.with("sub", "oAttacker"))),
        (
            "exp changed",
            unsigned(claims.with("exp", 9_999_999_999i64)),
        ),
        // exp, iat, nbf: missing, string, float, negative, huge.
        ("exp missing", without("exp")),
        ("exp string", with("exp", json!(claims["exp"].to_string()))),
        (
            "exp float",
            with("exp", json!(claims["exp"].as_f64().unwrap() + 0.5)),
        ),
        ("exp negative", with("exp", json!(-1))),
        ("exp huge", with("exp", json!(1e300))),
        ("exp past", with("exp", json!(START - 3600))),
        ("iat string", with("iat", json!("now"))),
        ("iat future", with("iat", json!(START + 86_400))),
        ("iat huge", with("iat", json!(u64::MAX))),
        ("nbf future", with("nbf", json!(START + 3600))),
        ("nbf string", with("nbf", json!("later"))),
        ("nbf float", with("nbf", json!(1.5))),
        // iss, aud, sub: missing or wrong.
        ("iss missing", without("iss")),
        ("iss wrong", with("iss", json!("evil"))),
        ("aud missing", without("aud")),
        ("aud wrong", with("aud", json!("wx0000000000000000"))),
        ("aud number", with("aud", json!(1))),
        ("sub missing", without("sub")),
        ("sub number", with("sub", json!(42))),
        // kid: unknown, numeric, oversized, path-like, missing.
        ("kid unknown", with_header("kid", json!("20991231T000000Z"))),
        ("kid numeric", with_header("kid", json!(20260101))),
        ("kid oversized", with_header("kid", json!("k".repeat(5000)))),
        (
            "kid path-like",
            with_header("kid", json!(format!("../../{FIRST_KID}"))),
        ),
        (
            "kid absolute path",
            with_header("kid", json!("/etc/passwd")),
        ),
        ("kid null", with_header("kid", Value::Null)),
        // Headers pointing elsewhere or demanding extensions.
        (
            "jku",
            with_header("jku", json!("https://attacker.example/jwks")),
        ),
        (
            "x5u",
            with_header("x5u", json!("https://attacker.example/x509")),
        ),
        ("jwk", with_header("jwk", key.jwk())),
        ("x5c", with_header("x5c", json!(["MIIB"]))),
        ("crit", with_header("crit", json!(["b64"]))),
        (
            "b64 false with crit",
            signed(
                &header.with("b64", false).with("crit", json!(["b64"])),
                &claims,
            ),
        ),
        ("typ JWE", with_header("typ", json!("JWE"))),
        // Segments and encodings.
        ("two segments", format!("{h}.{p}")),
        ("four segments", format!("{h}.{p}.{s}.{s}")),
        ("five segments (JWE shape)", format!("{h}.{p}.{s}.{s}.{s}")),
        ("empty token", String::new()),
        ("dots only", "..".to_owned()),
        ("non-base64 header", format!("!!!.{p}.{s}")),
        (
            "standard base64 header",
            format!(
                "{}.{p}.{s}",
                base64::engine::general_purpose::STANDARD.encode(header.to_string())
            ),
        ),
        ("non-JSON header", format!("{}.{p}.{s}", b64("not json"))),
        ("array header", format!("{}.{p}.{s}", b64("[1,2]"))),
        ("string header", format!("{}.{p}.{s}", b64("\"EdDSA\""))),
        (
            "non-JSON payload, signed",
            sign(&key, &format!("{h}.{}", b64("not json"))),
        ),
        (
            "array payload, signed",
            sign(&key, &format!("{h}.{}", b64("[1]"))),
        ),
        // Duplicated names: the parser must not pick the friendly one.
        (
            "duplicated alg",
            raw(
                &format!(r#"{{"alg":"none","alg":"EdDSA","typ":"JWT","kid":"{FIRST_KID}"}}"#),
                &claims.to_string(),
                s,
            ),
        ),
        ("duplicated sub, signed", {
            let payload = claims
                .to_string()
                .replacen('{', r#"{"sub":"oAttacker","#, 1);
            sign(&key, &format!("{h}.{}", b64(&payload)))
        }),
        // Size (a token that makes the request head pass 16 KiB never
        // reaches the guard: see the test below).
        ("12 KB token", format!("{h}.{}.{s}", "A".repeat(12 * 1024))),
        ("4 KB + 1 token", format!("{h}.{}.{s}", "A".repeat(4097))),
    ];
    let mut tokens: Vec<(String, String)> = fixed
        .into_iter()
        .map(|(what, token)| (what.to_owned(), token))
        .collect();
    // Alg confusion: our own signature relabelled with another alg, and the
    // same header with no signature at all.
    for alg in ["none", "None", "HS256", "RS256", "ES256", "PS256", "ES384"] {
        tokens.push((
            format!("{alg} label on our signature"),
            format!("{}.{s}", message(alg)),
        ));
        tokens.push((
            format!("{alg} label without a signature"),
            format!("{}.", message(alg)),
        ));
    }
    tokens
}

/// Sends every hostile token to `path` (GET /auth/me only verifies, POST
/// /auth/refresh also unseals): each gets the same 401, and the server
/// keeps serving.
async fn every_hostile_token_is_refused_on(path: &str) {
    // Arrange
    let app = spawn_app().await;
    let good = app.login().await;
    let tokens = hostile_tokens(&app, &good);
    assert!(tokens.len() >= 30, "{} tokens", tokens.len());

    for (what, token) in &tokens {
        // Act
        let response = if path == "/auth/me" {
            app.get_me(token).await
        } else {
            app.refresh(token).await
        };

        // Assert: an empty bearer counts as no token sent (RFC 6750 3.1),
        // so its WWW-Authenticate names no error.
        let what = format!("{what} on {path}");
        if token.is_empty() {
            assert_eq!(response.status(), 401, "{what}");
            let body = assert_problem(response, 401, "invalid_token").await;
            assert_eq!(body["detail"], "a valid bearer token is required", "{what}");
        } else {
            assert_rejected(response, &what).await;
        }
    }
    // The server is still fine, and the good token still works.
    assert_eq!(app.get_me(&good).await.status(), 200);
    app.assert_serving().await;
}

#[tokio::test]
async fn every_hostile_token_gets_the_same_401_and_the_server_keeps_serving() {
    every_hostile_token_is_refused_on("/auth/me").await;
}

#[tokio::test]
async fn every_hostile_token_gets_the_same_401_where_the_session_key_is_unsealed() {
    every_hostile_token_is_refused_on("/auth/refresh").await;
}

/// Writes `request` on a fresh connection to `app` while reading what the
/// server sends until it closes (write errors ignored: the server may stop
/// reading early); what was received, bounded by 20 s.
async fn send_and_read_until_closed(app: &TestApp, request: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address = app.address.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        writer
    });
    let mut received = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        let mut buffer = [0u8; 4096];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server neither answered nor closed in 20 s"
    );
    drop(writing.await);
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn a_token_past_the_head_limit_is_stopped_before_the_guard_and_the_server_keeps_serving() {
    // The edge refuses a request head over 16 KiB with a 431 and closes the
    // connection (a partial head is what a slow client makes the server
    // hold), so such a token never reaches the guard (whose own 4 KiB cap
    // is unit-tested with a 200 KB token).
    let app = spawn_app().await;
    let good = app.login().await;
    for size in [20 * 1024, 100 * 1024, 200 * 1024] {
        let huge = format!("{good}{}", "A".repeat(size));

        // A raw connection that reads while it writes: the server answers
        // once it has 16 KiB and closes, so the rest of the head may fail
        // to send; the answer must still be the 431.
        let head =
            format!("GET /auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {huge}\r\n\r\n");
        let answer = send_and_read_until_closed(&app, head.into_bytes()).await;

        assert!(
            answer.starts_with("HTTP/1.1 431"),
            "{size}: {:?}",
            answer.lines().next()
        );
    }
    let fresh = reqwest::Client::new();
    let after = fresh
        .get(app.url("/auth/me"))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
}

#[tokio::test]
async fn a_sealed_session_key_tampered_or_from_elsewhere_does_not_unseal() {
    // Signed by our key, so only the seal is wrong: /auth/me (which never
    // unseals) answers, everything that needs the session_key refuses.
    let app = spawn_app().await;
    let good = app.login().await;
    let other = app
        .login_as(
            "c2",
            "oOther00000000000000000000000",
            None,
            "AAAAAAAAAAAAAAAAAAAAAA==",
        )
        .await;
    let (header, claims) = decode_parts(&good);
    let key = app.key(FIRST_KID);
    let sk = claims["sk"].as_str().unwrap();
    let variants = [
        ("another user's", decode_parts(&other).1["sk"].clone()),
        ("nonce changed", json!(sk_byte_flipped(sk, |_| 0))),
        ("tag changed", json!(sk_byte_flipped(sk, |len| len - 1))),
        ("empty", json!("")),
        ("not base64", json!("!!!")),
        ("a number", json!(7)),
    ];
    for (what, sealed) in variants {
        let token = forge(&key, &header, &claims.with("sk", sealed));

        let refresh = app.refresh(&token).await;

        assert_eq!(refresh.status(), 401, "{what}");
        assert_problem(refresh, 401, "invalid_token").await;
    }
}

#[tokio::test]
async fn hostile_requests_get_clear_4xx_problems() {
    let app = spawn_app().await;
    let token = app.login().await;
    let send = |method: reqwest::Method, path: &str| app.client.request(method, app.url(path));

    // Wrong methods.
    for (method, path) in [
        (reqwest::Method::GET, "/auth/login"),
        (reqwest::Method::PUT, "/auth/refresh"),
        (reqwest::Method::POST, "/auth/me"),
        (reqwest::Method::DELETE, "/wx/decrypt"),
        (reqwest::Method::PATCH, "/.well-known/jwks.json"),
    ] {
        let response = send(method.clone(), path).send().await.unwrap();
        assert_problem(response, 405, "method_not_allowed").await;
    }

    // Wrong, missing and lying content types; truncated, nested, NUL, bad UTF-8.
    let bodies: Vec<(Option<&str>, Vec<u8>)> = vec![
        (None, br#"{"code":"c"}"#.to_vec()),
        (Some("text/plain"), br#"{"code":"c"}"#.to_vec()),
        (
            Some("application/x-www-form-urlencoded"),
            b"code=c".to_vec(),
        ),
        (Some("multipart/form-data; boundary=x"), b"--x--".to_vec()),
        (Some("application/json"), br#"{"code":"c"#.to_vec()),
        (Some("application/json"), b"".to_vec()),
        // Nested deeper than serde_json's recursion limit, inside the 4 KiB.
        (
            Some("application/json"),
            format!("{}{}", "[".repeat(2000), "]".repeat(2000)).into_bytes(),
        ),
        (Some("application/json"), br#"{"code":"a\u0000b"}"#.to_vec()),
        (
            Some("application/json"),
            b"{\"code\":\"\xff\xfe\"}".to_vec(),
        ),
        (Some("application/json"), vec![0u8; 100]),
    ];
    for (content_type, body) in bodies {
        let mut request = send(reqwest::Method::POST, "/auth/login").body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        assert!(
            (400..500).contains(&status),
            "{content_type:?} {:?}: {status}",
            String::from_utf8_lossy(&body)
        );
        assert_problem(response, status, "invalid_request").await;
    }

    // Huge bodies, declared or streamed.
    let huge = vec![b'a'; 2 * 1024 * 1024];
    for path in ["/auth/login", "/wx/decrypt", "/auth/me", "/nope"] {
        let response = send(reqwest::Method::POST, path)
            .header("content-type", "application/json")
            .body(huge.clone())
            .send()
            .await
            .unwrap();
        assert_problem(response, 413, "payload_too_large").await;
    }

    // Authorization in every wrong shape.
    let shapes = [
        format!("Basic {token}"),
        format!("Digest {token}"),
        format!("Bearer{token}"),
        format!("Bearer\t{token}"),
        format!("Bearer {token} {token}"),
        format!("Bearer \"{token}\""),
        "Bearer".to_owned(),
        String::new(),
        token.clone(),
    ];
    for shape in shapes {
        let response = app.get_me_with(shape.clone()).await;
        assert_eq!(response.status(), 401, "{shape:?}");
        assert_problem(response, 401, "invalid_token").await;
    }
    let response = app
        .client
        .get(app.url("/auth/me"))
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", "Bearer x")
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "invalid_token").await;
    let response = app
        .client
        .get(app.url("/auth/me"))
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "invalid_token").await;

    // Still serving.
    assert_eq!(app.get_me(&token).await.status(), 200);
}
