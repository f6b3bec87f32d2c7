//! The guard: every failure is the same 401 `invalid_token`, with
//! `WWW-Authenticate` per RFC 6750.

use crate::helpers::tokens::JsonEdit as _;
use crate::helpers::{
    APPID, FIRST_KID, OPENID, START, UNIONID,
    app::{TestApp, assert_problem, assert_rejected, key_folder, spawn_app, spawn_app_on},
    revocations::publish_key,
    tokens::{decode_parts, eddsa_header, foreign_key, forge, good_claims},
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Asserts the uniform answer to a bad token that was sent.
async fn assert_rejected_by_me(app: &TestApp, token: &str) {
    assert_rejected(app.get_me(token).await, token).await;
}

/// Claims as wxauth issues them, at the test clock, for OPENID.
fn claims_now(app: &TestApp) -> Value {
    good_claims(APPID, app.now())
}

#[tokio::test]
async fn me_answers_openid_unionid_exp_appid_and_platform() {
    let app = spawn_app().await;
    let token = app.login().await;

    let response = app.get_me(&token).await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"openid": OPENID, "unionid": UNIONID, "exp": START + 7200,
               "appid": APPID, "platform": "wechat"})
    );
}

#[tokio::test]
async fn a_request_without_a_token_gets_401_without_an_error_attribute() {
    let app = spawn_app().await;

    let response = app.get("/auth/me").await;

    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="wxauth""#
    );
    assert_problem(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn a_forged_token_signed_by_our_key_passes_so_the_forgeries_below_test_their_own_check() {
    // The control for every forged-token test: with nothing changed, the
    // forging helper makes a token the guard accepts.
    let app = spawn_app().await;

    let token = forge(
        &app.key(FIRST_KID),
        &eddsa_header(FIRST_KID),
        &claims_now(&app),
    );

    assert_eq!(app.get_me(&token).await.status(), 200);
}

#[tokio::test]
async fn a_tampered_payload_is_rejected() {
    let app = spawn_app().await;
    let token = app.login().await;
    let parts: Vec<&str> = token.split('.').collect();
    let (_, claims) = decode_parts(&token);
    let claims = claims.with("sub", "oSomeoneElse000000000000000");
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());

    assert_rejected_by_me(&app, &format!("{}.{payload}.{}", parts[0], parts[2])).await;
}

#[tokio::test]
async fn a_foreign_signature_under_our_kid_is_rejected() {
    let app = spawn_app().await;
    let stranger = foreign_key(jsonwebtoken::Algorithm::EdDSA);

    let token = forge(&stranger, &eddsa_header(FIRST_KID), &claims_now(&app));

    assert_rejected_by_me(&app, &token).await;
}

#[tokio::test]
async fn an_unknown_or_missing_kid_is_rejected() {
    let app = spawn_app().await;
    let key = app.key(FIRST_KID);
    let header = eddsa_header(FIRST_KID);

    for header in [
        header.with("kid", "20991231T000000Z"),
        header.without("kid"),
        header.with("kid", 7),
        header.with("kid", "../20260101T000000Z"),
    ] {
        assert_rejected_by_me(&app, &forge(&key, &header, &claims_now(&app))).await;
    }
}

#[tokio::test]
async fn an_expired_token_is_rejected_once_past_the_leeway() {
    let app = spawn_app().await;
    let token = app.login().await;

    app.clock.advance(7200 + 30);
    assert_eq!(
        app.get_me(&token).await.status(),
        200,
        "inside the 30 s leeway"
    );

    app.clock.advance(1);
    assert_rejected_by_me(&app, &token).await;
}

#[tokio::test]
async fn a_token_not_yet_valid_is_rejected() {
    let app = spawn_app().await;
    let key = app.key(FIRST_KID);
    let nbf = claims_now(&app).with("nbf", app.now() + 60);
    let iat = claims_now(&app).with("iat", app.now() + 3600);

    assert_rejected_by_me(&app, &forge(&key, &eddsa_header(FIRST_KID), &nbf)).await;
    assert_rejected_by_me(&app, &forge(&key, &eddsa_header(FIRST_KID), &iat)).await;
}

#[tokio::test]
async fn wrong_or_missing_iss_aud_sub_exp_are_rejected() {
    let app = spawn_app().await;
    let key = app.key(FIRST_KID);
    let changes: [(&str, Value); 9] = [
        ("iss", json!("someone-else")),
        ("aud", json!("wx0000000000000000")),
        ("aud", json!([APPID, "wx0000000000000000"])),
        ("exp", json!("9999999999")),
        ("exp", json!(1.5e300)),
        ("iss", Value::Null),
        ("aud", Value::Null),
        ("sub", Value::Null),
        ("exp", Value::Null),
    ];
    for (claim, value) in changes {
        let claims = if value.is_null() {
            claims_now(&app).without(claim)
        } else {
            claims_now(&app).with(claim, value)
        };
        assert_rejected_by_me(&app, &forge(&key, &eddsa_header(FIRST_KID), &claims)).await;
    }
}

#[tokio::test]
async fn headers_pointing_at_other_keys_or_demanding_extensions_are_rejected() {
    let app = spawn_app().await;
    let key = app.key(FIRST_KID);
    for (name, value) in [
        ("crit", json!(["exp"])),
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("jwk", key.jwk()),
        ("typ", json!("at+jwt")),
    ] {
        let header = eddsa_header(FIRST_KID).with(name, value);
        assert_rejected_by_me(&app, &forge(&key, &header, &claims_now(&app))).await;
    }
}

#[tokio::test]
async fn malformed_tokens_are_rejected() {
    let app = spawn_app().await;
    let token = app.login().await;
    let parts: Vec<&str> = token.split('.').collect();

    for bad in [
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.{}", parts[2]),
        format!("{}..{}", parts[0], parts[2]),
        format!("{token}="),
        token[..token.len() - 4].to_owned(),
        "a.b.c".to_owned(),
        format!("{}.{}.{}", URL_SAFE_NO_PAD.encode("[]"), parts[1], parts[2]),
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode("not json"),
            parts[1],
            parts[2]
        ),
        format!("{}.{}", token, "x".repeat(8 * 1024)),
    ] {
        assert_rejected_by_me(&app, &bad).await;
    }
}

#[tokio::test]
async fn authorization_headers_of_the_wrong_shape_are_rejected() {
    let app = spawn_app().await;
    let token = app.login().await;

    for value in [
        format!("Basic {token}"),
        format!("Bearer{token}"),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Bearer {token} extra"),
        format!("Token {token}"),
    ] {
        let response = app.get_me_with(value).await;
        assert_problem(response, 401, "invalid_token").await;
    }
    // Two Authorization headers are ambiguous, even if one is good.
    let response = app
        .client
        .get(app.url("/auth/me"))
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "invalid_token").await;
    // The scheme is case-insensitive (RFC 9110 section 11.1), and the
    // bearer token may follow more than one space (RFC 6750: 1*SP).
    for value in [format!("bearer {token}"), format!("BEARER   {token}")] {
        let response = app.get_me_with(value).await;
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn a_token_of_another_app_or_issuer_is_rejected() {
    // Same key folder, different appid: tokens must not cross apps.
    let keys = key_folder();
    let ours = spawn_app_on(wiremock::MockServer::start().await, keys.clone(), &[]).await;
    let other_app = spawn_app_on(
        wiremock::MockServer::start().await,
        keys.clone(),
        &[("WECHAT_APPID", "wx0000000000000000")],
    )
    .await;
    let other_issuer = spawn_app_on(
        wiremock::MockServer::start().await,
        keys,
        &[("WXAUTH_ISSUER", "elsewhere")],
    )
    .await;

    let token = ours.login().await;

    assert_rejected_by_me(&other_app, &token).await;
    assert_rejected_by_me(&other_issuer, &token).await;
    assert_eq!(ours.get_me(&token).await.status(), 200);
}

#[tokio::test]
async fn another_actix_service_mounting_the_guard_accepts_our_tokens() {
    use wxauth::guard::Guard;

    // Arrange: wxauth, and a separate service on the same key folder.
    let app = spawn_app().await;
    let guard = Guard::from_dir(&app.keys_dir, "wxauth", APPID, 30).unwrap();
    let port = spawn_guarded_service(guard);
    // That service reads the wall clock: move a real login to it (the sealed
    // session_key stays valid, it is bound to openid and kid only).
    let token = app.reissued_at(&app.login().await, chrono::Utc::now().timestamp());
    let url = format!("http://127.0.0.1:{port}/hello");

    // Act
    let ok = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let missing = app.client.get(&url).send().await.unwrap();
    let forged = app
        .client
        .get(&url)
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), format!("{OPENID} 24"));
    assert_eq!(
        missing.headers()["www-authenticate"],
        r#"Bearer realm="wxauth""#
    );
    assert_problem(missing, 401, "invalid_token").await;
    assert_problem(forged, 401, "invalid_token").await;
}

#[tokio::test]
async fn another_scheme_or_an_empty_bearer_counts_as_no_token_sent() {
    // RFC 6750 section 3.1: no error code when the request used another
    // authentication method or carried no token.
    let app = spawn_app().await;

    for value in ["Basic Zm9vOmJhcg==", "Bearer", "Bearer ", "Digest x"] {
        let response = app.get_me_with(value).await;

        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="wxauth""#,
            "{value:?}"
        );
        assert_problem(response, 401, "invalid_token").await;
    }
}

#[tokio::test]
async fn a_service_using_guard_from_dir_accepts_a_key_published_after_it_started() {
    use wxauth::guard::Guard;
    use wxauth::keyring::KeyAlg;

    // Arrange: the service loads the folder; then a newer key appears and
    // wxauth signs with it.
    let app = spawn_app().await;
    let guard = Guard::from_dir(&app.keys_dir, "wxauth", APPID, 30).unwrap();
    assert!(
        guard.reloader().is_some(),
        "from_dir rescans on unknown kids"
    );
    let port = spawn_guarded_service(guard);
    publish_key(
        &app.keys_dir,
        "20990101T000000Z",
        KeyAlg::Es256,
        START - 600,
    );
    // Signs once the activation delay has passed since wxauth saw it.
    assert!(app.reloader.rescan("test"));
    app.advance(600);
    assert!(app.reloader.rescan("test"));
    let token = app.login().await;
    assert_eq!(decode_parts(&token).0["kid"], "20990101T000000Z");
    let token = app.reissued_at(&token, chrono::Utc::now().timestamp());

    // Act
    let response = app
        .client
        .get(format!("http://127.0.0.1:{port}/hello"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), 200);
}

/// A separate actix-web service mounting `guard` on `GET /hello`, which
/// answers "<openid> <length of the unsealed session_key, or 0>". Its port.
fn spawn_guarded_service(guard: wxauth::guard::Guard) -> u16 {
    use actix_web::{App, HttpResponse, HttpServer, web};
    use wxauth::guard::Authenticated;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new().app_data(web::Data::new(guard.clone())).route(
            "/hello",
            web::get().to(|user: Authenticated| async move {
                let key_len = user.session_key().map(|k| k.expose().len()).unwrap_or(0);
                HttpResponse::Ok().body(format!("{} {key_len}", user.openid()))
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    port
}
