//! `GET /.well-known/openid-configuration`: served only with
//! `WXAUTH_PUBLIC_URL`, every URL in it built from that setting, never from
//! the request; the public URL is then the tokens' `iss`.

use crate::helpers::{APPID, FIRST_KID, START};
use crate::helpers::{
    app::TestApp, app::assert_problem, app::assert_rejected, app::spawn_app, app::spawn_app_with,
    revocations::publish_key, tokens::JsonEdit, tokens::decode_parts, tokens::eddsa_header,
    tokens::forge, tokens::good_claims,
};
use serde_json::{Value, json};
use wxauth::keyring::KeyAlg;

const PUBLIC_URL: &str = "https://auth.example.com";
const DISCOVERY: &str = "/.well-known/openid-configuration";

async fn spawn_public() -> TestApp {
    spawn_app_with(&[("WXAUTH_PUBLIC_URL", "https://auth.example.com/")]).await
}

#[tokio::test]
async fn without_a_public_url_there_is_no_discovery_document() {
    let app = spawn_app().await;

    assert_problem(app.get(DISCOVERY).await, 404, "not_found").await;
}

#[tokio::test]
async fn the_document_names_the_public_url_its_jwks_and_the_keys_algorithms() {
    let app = spawn_public().await;

    let response = app.get(DISCOVERY).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "issuer": PUBLIC_URL,
            "jwks_uri": "https://auth.example.com/.well-known/jwks.json",
            "id_token_signing_alg_values_supported": ["EdDSA"],
        })
    );
}

#[tokio::test]
async fn every_loaded_keys_algorithm_is_listed_once() {
    let app = spawn_public().await;
    publish_key(
        &app.keys_dir,
        "20260102T000000Z",
        KeyAlg::Es256,
        START - 3600,
    );
    publish_key(
        &app.keys_dir,
        "20260103T000000Z",
        KeyAlg::Rs256,
        START - 3600,
    );
    publish_key(
        &app.keys_dir,
        "20260104T000000Z",
        KeyAlg::Eddsa,
        START - 3600,
    );
    assert!(app.reloader.rescan("test"));

    let body = app.get_json(DISCOVERY).await;

    assert_eq!(
        body["id_token_signing_alg_values_supported"],
        json!(["ES256", "EdDSA", "RS256"])
    );
}

#[tokio::test]
async fn a_forged_host_or_x_forwarded_host_changes_nothing_in_the_document() {
    let app = spawn_public().await;
    let honest = app.get_json(DISCOVERY).await;

    for (name, value) in [
        ("host", "evil.example"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "http"),
        ("forwarded", "host=evil.example;proto=http"),
    ] {
        let response = app
            .client
            .get(app.url(DISCOVERY))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, honest, "{name}: {value}");
        assert!(!body.to_string().contains("evil"), "{name}");
    }
}

#[tokio::test]
async fn the_public_url_is_the_iss_of_issued_tokens_and_the_one_required() {
    let app = spawn_public().await;
    let token = app.login().await;

    let (_, claims) = decode_parts(&token);

    assert_eq!(claims["iss"], PUBLIC_URL);
    assert_eq!(app.get_me(&token).await.status(), 200);
    // A token of the default issuer, signed by our own key, is another
    // issuer's here.
    let other = forge(
        &app.key(FIRST_KID),
        &eddsa_header(FIRST_KID),
        &good_claims(APPID, app.now()),
    );
    assert_rejected(app.get_me(&other).await, "iss wxauth").await;
    let ours = forge(
        &app.key(FIRST_KID),
        &eddsa_header(FIRST_KID),
        &good_claims(APPID, app.now()).with("iss", PUBLIC_URL),
    );
    assert_eq!(app.get_me(&ours).await.status(), 200);
}

#[tokio::test]
async fn the_jwks_uri_path_serves_the_jwk_set() {
    // The document's jwks_uri is the public URL plus this server's own
    // JWK Set path: the same path must answer here.
    let app = spawn_public().await;
    let body = app.get_json(DISCOVERY).await;
    let path = body["jwks_uri"]
        .as_str()
        .unwrap()
        .strip_prefix(PUBLIC_URL)
        .unwrap()
        .to_owned();

    let jwks = app.get_json(&path).await;

    assert_eq!(jwks["keys"][0]["kid"], FIRST_KID);
}
