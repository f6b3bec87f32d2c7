//! POST /auth/refresh: same login, new token; bounded by the session max age.

use crate::helpers::tokens::JsonEdit as _;
use crate::helpers::{
    APPID, FIRST_KID, SESSION_KEY, START,
    app::{assert_problem, key_folder, spawn_app, spawn_app_on, spawn_app_with},
    revocations::publish_key,
    tokens::{decode_parts, flip_first, forge, unseal},
};
use wxauth::keyring::KeyAlg;

#[tokio::test]
async fn refresh_renews_exp_and_jti_and_keeps_the_login() {
    // Arrange
    let app = spawn_app().await;
    let token = app.login().await;
    app.clock.advance(3600);

    // Act
    let renewed = app.refreshed(&token).await;

    // Assert
    let (_, old) = decode_parts(&token);
    let (_, new) = decode_parts(&renewed);
    assert_eq!(new["exp"], START + 3600 + 7200);
    assert_eq!(new["iat"], START + 3600);
    assert_ne!(new["jti"], old["jti"]);
    for same in ["sub", "unionid", "auth_time", "iss", "aud"] {
        assert_eq!(new[same], old[same], "{same}");
    }
    assert_ne!(new["sk"], old["sk"], "resealed with a fresh nonce");
    assert_eq!(
        unseal(&app.keys_dir, APPID, &renewed, app.now()),
        SESSION_KEY
    );
}

#[tokio::test]
async fn refresh_is_signed_and_sealed_by_the_current_signing_key() {
    // Arrange: a token signed by the first key, then a newer key that
    // another replica (started later) signs with.
    let keys = key_folder();
    let old_replica = spawn_app_on(wiremock::MockServer::start().await, keys.clone(), &[]).await;
    let token = old_replica.login().await;
    publish_key(keys.path(), "20270101T000000Z", KeyAlg::Es256, START - 600);
    let new_replica = spawn_app_on(wiremock::MockServer::start().await, keys.clone(), &[]).await;

    // Act
    let renewed = new_replica.refreshed(&token).await;

    // Assert
    let (header, _) = decode_parts(&renewed);
    assert_eq!(header["kid"], "20270101T000000Z");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(unseal(keys.path(), APPID, &renewed, START), SESSION_KEY);
}

#[tokio::test]
async fn refresh_past_the_session_max_age_answers_session_expired() {
    // Arrange: sessions of four hours, tokens of two.
    let app = spawn_app_with(&[("WXAUTH_SESSION_MAX_AGE", "14400")]).await;
    let mut token = app.login().await;

    // Act: keep refreshing before each token expires.
    for _ in 0..2 {
        app.clock.advance(7000);
        token = app.refreshed(&token).await;
    }
    app.clock.advance(7000);
    let response = app.refresh(&token).await;

    // Assert: the token itself is still valid, the session is not.
    assert_eq!(app.get_me(&token).await.status(), 200);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="wxauth", error="invalid_token""#
    );
    assert_problem(response, 401, "session_expired").await;
}

#[tokio::test]
async fn refresh_of_an_expired_or_missing_token_is_invalid_token() {
    let app = spawn_app().await;
    let token = app.login().await;
    app.clock.advance(7200 + 31);

    assert_problem(app.refresh(&token).await, 401, "invalid_token").await;
    let response = app
        .client
        .post(app.url("/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn a_sealed_session_key_moved_into_another_users_token_does_not_unseal() {
    // Arrange: alice's sealed sk, inside bob's claims, signed with our key
    // (the worst case: an attacker holding a signing key but no seal).
    let app = spawn_app().await;
    let alice = app
        .login_as("ca", "oAlice000000000000000000000", None, SESSION_KEY)
        .await;
    let bob = app
        .login_as(
            "cb",
            "oBob00000000000000000000000",
            None,
            "AAAAAAAAAAAAAAAAAAAAAA==",
        )
        .await;
    let (header, claims) = decode_parts(&bob);
    let claims = claims.with("sk", decode_parts(&alice).1["sk"].clone());
    let spliced = forge(&app.key(FIRST_KID), &header, &claims);

    // Act
    let me = app.get_me(&spliced).await;
    let refresh = app.refresh(&spliced).await;

    // Assert: the signature is ours so /auth/me (which never unseals)
    // answers, but nothing that needs the session_key does.
    assert_eq!(me.status(), 200);
    assert_problem(refresh, 401, "invalid_token").await;
    assert_eq!(
        app.refresh(&bob).await.status(),
        200,
        "the control: bob's own token refreshes"
    );
}

#[tokio::test]
async fn a_sealed_session_key_with_a_changed_byte_or_another_kid_does_not_unseal() {
    let keys = key_folder();
    publish_key(keys.path(), "20270101T000000Z", KeyAlg::Eddsa, START - 600);
    let app = spawn_app_on(
        wiremock::MockServer::start().await,
        keys,
        &[("WXAUTH_SIGNING_KID", FIRST_KID)],
    )
    .await;
    let token = app.login().await;
    let (header, claims) = decode_parts(&token);

    // The same claims signed by the other loaded key: the seal names FIRST_KID.
    let other_header = header.with("kid", "20270101T000000Z");
    let other_kid = forge(&app.key("20270101T000000Z"), &other_header, &claims);
    assert_problem(app.refresh(&other_kid).await, 401, "invalid_token").await;

    // A changed character of the seal.
    let tampered = claims.with("sk", flip_first(claims["sk"].as_str().unwrap()));
    let tampered = forge(&app.key(FIRST_KID), &header, &tampered);
    assert_problem(app.refresh(&tampered).await, 401, "invalid_token").await;
}
