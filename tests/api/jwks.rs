//! GET /.well-known/jwks.json: what services behind wxauth verify with.

use crate::helpers::{
    APPID, FIRST_KID, OPENID,
    app::{key_folder, spawn_app, spawn_app_on},
    tokens::decode_parts,
};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;
use wxauth::keyring::{KeyAlg, write_new_key};

#[tokio::test]
async fn jwks_publishes_every_public_key_with_kid_alg_and_use_and_is_cacheable() {
    let keys = key_folder();
    write_new_key(keys.path(), "b-es", KeyAlg::Es256).unwrap();
    write_new_key(keys.path(), "c-rs", KeyAlg::Rs256).unwrap();
    let app = spawn_app_on(wiremock::MockServer::start().await, keys, &[]).await;

    let response = app.get("/.well-known/jwks.json").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let body: Value = response.json().await.unwrap();
    let keys = body["keys"].as_array().unwrap();
    let summary: Vec<(String, String, String)> = keys
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().into(),
                k["alg"].as_str().unwrap().into(),
                k["use"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (FIRST_KID.into(), "EdDSA".into(), "sig".into()),
            ("b-es".into(), "ES256".into(), "sig".into()),
            ("c-rs".into(), "RS256".into(), "sig".into()),
        ]
    );
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                key.get(private).is_none(),
                "{private} must not be published"
            );
        }
    }
}

#[tokio::test]
async fn a_service_verifies_our_tokens_with_the_published_jwks_alone() {
    let app = spawn_app().await;
    let token = app.login().await;

    let set: JwkSet = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();

    let kid = decode_parts(&token).0["kid"].as_str().unwrap().to_owned();
    let jwk = set.find(&kid).expect("the token's kid is published");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[APPID]);
    validation.set_issuer(&["wxauth"]);
    validation.validate_exp = false; // the test clock is not the wall clock
    let data = jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap();
    assert_eq!(data.claims["sub"], OPENID);
}

#[tokio::test]
async fn the_published_ed25519_key_is_the_public_half_of_the_key_file() {
    let app = spawn_app().await;

    let body: Value = app.get_json("/.well-known/jwks.json").await;

    // The test derives the public key from the file with openssl, so that
    // the forgeries built on it (hostile.rs) use the key the server has.
    let ours = app.key(FIRST_KID).jwk();
    assert_eq!(body["keys"][0]["kid"], FIRST_KID);
    assert_eq!(body["keys"][0]["crv"], "Ed25519");
    assert_eq!(body["keys"][0]["x"], ours["x"]);
}
