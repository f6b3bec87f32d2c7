//! The token's header and claims, exactly docs/API.md, "The token".

use crate::helpers::{
    APPID, FIRST_KID, OPENID, SESSION_KEY, START, UNIONID,
    app::{key_folder, spawn_app, spawn_app_on},
    tokens::decode_parts,
};
use serde_json::json;
use wxauth::keyring::{KeyAlg, write_new_key};

#[tokio::test]
async fn token_header_names_alg_typ_and_the_signing_kid() {
    let app = spawn_app().await;

    let token = app.login().await;

    let (header, _) = decode_parts(&token);
    assert_eq!(
        header,
        json!({"alg": "EdDSA", "typ": "JWT", "kid": FIRST_KID})
    );
}

#[tokio::test]
async fn token_claims_are_those_of_the_spec() {
    let app = spawn_app().await;

    let token = app.login().await;

    let (_, claims) = decode_parts(&token);
    assert_eq!(claims["iss"], "wxauth");
    assert_eq!(claims["aud"], APPID);
    assert_eq!(claims["sub"], OPENID);
    assert_eq!(claims["plat"], "wechat");
    assert_eq!(claims["iat"], START);
    assert_eq!(claims["exp"], START + 7200);
    assert_eq!(claims["auth_time"], START);
    assert_eq!(claims["unionid"], UNIONID);
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
    let keys: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut keys = keys;
    keys.sort();
    assert_eq!(
        keys,
        [
            "aud",
            "auth_time",
            "exp",
            "iat",
            "iss",
            "jti",
            "plat",
            "sk",
            "sub",
            "unionid"
        ]
    );
}

#[tokio::test]
async fn unionid_is_absent_when_wechat_returned_none_and_jti_differs_per_token() {
    let app = spawn_app().await;

    let first = app.login_as("c1", OPENID, None, SESSION_KEY).await;
    let second = app.login_as("c2", OPENID, None, SESSION_KEY).await;

    let (_, a) = decode_parts(&first);
    let (_, b) = decode_parts(&second);
    assert!(a.get("unionid").is_none());
    assert_ne!(a["jti"], b["jti"]);
    let me: serde_json::Value = app.get_me(&first).await.json().await.unwrap();
    assert_eq!(
        me,
        json!({"openid": OPENID, "unionid": null, "exp": START + 7200,
               "appid": APPID, "platform": "wechat"})
    );
}

#[tokio::test]
async fn sealed_session_key_is_not_readable_in_the_token_and_differs_per_token() {
    let app = spawn_app().await;

    let first = app.login_as("c1", OPENID, None, SESSION_KEY).await;
    let second = app.login_as("c2", OPENID, None, SESSION_KEY).await;

    let (_, a) = decode_parts(&first);
    let (_, b) = decode_parts(&second);
    assert_ne!(a["sk"], b["sk"], "a fresh nonce per token");
    let hex_key: String = base64_decode(SESSION_KEY)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for token in [&first, &second] {
        assert!(!token.contains(SESSION_KEY));
        let payload = decode_parts(token).1.to_string();
        assert!(!payload.contains(SESSION_KEY) && !payload.contains(&hex_key));
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[tokio::test]
async fn every_supported_algorithm_signs_and_verifies() {
    for (alg, name) in [
        (KeyAlg::Eddsa, "EdDSA"),
        (KeyAlg::Es256, "ES256"),
        (KeyAlg::Rs256, "RS256"),
    ] {
        // Arrange: a folder whose greatest kid is of `alg`.
        let keys = key_folder();
        write_new_key(keys.path(), "20990101T000000Z", alg).unwrap();
        let app = spawn_app_on(wiremock::MockServer::start().await, keys, &[]).await;

        // Act
        let token = app.login().await;

        // Assert
        let (header, _) = decode_parts(&token);
        assert_eq!(header["alg"], name);
        assert_eq!(header["kid"], "20990101T000000Z");
        assert_eq!(app.get_me(&token).await.status(), 200);
        assert_eq!(app.refresh(&token).await.status(), 200);
    }
}

#[tokio::test]
async fn openssl_genpkey_keys_are_accepted() {
    // Skip quietly only where openssl is missing; CI installs it.
    let keys = tempfile::tempdir().unwrap();
    for (kid, args) in [
        ("a-ed", vec!["-algorithm", "ed25519"]),
        (
            "b-ec",
            vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        ),
        (
            "c-rsa",
            vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        ),
    ] {
        let out = keys.path().join(format!("{kid}.pem"));
        let status = std::process::Command::new("openssl")
            .arg("genpkey")
            .args(args)
            .arg("-out")
            .arg(&out)
            .status();
        match status {
            Ok(status) => assert!(status.success()),
            Err(_) => {
                eprintln!("openssl not installed: skipping");
                return;
            }
        }
    }
    for pin in ["a-ed", "b-ec", "c-rsa"] {
        let app = spawn_app_on(
            wiremock::MockServer::start().await,
            std::sync::Arc::new(tempfile::tempdir().unwrap()),
            &[
                ("WXAUTH_KEYS_DIR", &keys.path().display().to_string()),
                ("WXAUTH_SIGNING_KID", pin),
            ],
        )
        .await;

        let token = app.login().await;

        assert_eq!(decode_parts(&token).0["kid"], pin);
        assert_eq!(app.get_me(&token).await.status(), 200);
    }
}
