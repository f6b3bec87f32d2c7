//! Property tests (proptest, stable toolchain, run by `cargo test`): the
//! same four surfaces the cargo-fuzz targets in fuzz/ explore, with fewer
//! cases, so every CI run fuzzes a little.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)] // test code: a failed unwrap is a failed test

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use wxauth::clock::ManualClock;
use wxauth::domain::{SessionKey, UserId};
use wxauth::keyring::seal::SealingKey;
use wxauth::keyring::{KeyAlg, KeyGeneration, Keyring, SharedKeyring, write_new_key};
use wxauth::platform::{decrypt_user_data, encrypt_user_data};
use wxauth::token::{Subject, TokenIssuer, TokenPolicy, TokenVerifier};

const NOW: i64 = 1_800_000_000;

/// A verifier over one key of each algorithm, and a good token of each.
fn fixture() -> &'static (TokenVerifier, Vec<String>) {
    static FIXTURE: OnceLock<(TokenVerifier, Vec<String>)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        for (kid, alg) in [
            ("a-ed", KeyAlg::Eddsa),
            ("b-ec", KeyAlg::Es256),
            ("c-rs", KeyAlg::Rs256),
        ] {
            write_new_key(&dir, kid, alg).unwrap();
        }
        let clock = Arc::new(ManualClock::new(NOW));
        let policy = TokenPolicy::new("wxauth", "wx1", 30);
        let issuer = TokenIssuer::new("wxauth", 7200, clock.clone());
        let openid = UserId::parse("oGZUI0egBJY1zhBYw2KhdUfwVJJE").unwrap();
        let session_key = SessionKey::parse("tiihtNczf5v6AKRyjwEUhQ==").unwrap();
        let subject = Subject {
            appid: "wx1",
            platform: wxauth::platform::Platform::Wechat,
            openid: openid.as_str(),
            unionid: None,
            session_key: Some(&session_key),
            auth_time: NOW,
        };
        let tokens = ["a-ed", "b-ec", "c-rs"]
            .iter()
            .map(|pin| {
                let (ring, _) = Keyring::load(&dir, Some(pin)).unwrap();
                issuer.issue(&ring, &subject).unwrap().access_token
            })
            .collect();
        let (ring, _) = Keyring::load(&dir, None).unwrap();
        (
            TokenVerifier::new(SharedKeyring::new(ring), policy, clock),
            tokens,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_verifies(text in ".{0,600}") {
        let (verifier, _) = fixture();
        prop_assert!(verifier.verify(&text).is_err());
    }

    #[test]
    fn arbitrary_three_part_tokens_never_verify(
        header in prop::sample::select(vec![
            r#"{"alg":"EdDSA","kid":"a-ed"}"#, r#"{"alg":"ES256","kid":"b-ec"}"#,
            r#"{"alg":"RS256","kid":"c-rs"}"#, r#"{"alg":"none","kid":"a-ed"}"#,
            r#"{"alg":"HS256","kid":"a-ed"}"#,
        ]),
        payload in prop::collection::vec(any::<u8>(), 0..400),
        signature in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let (verifier, _) = fixture();
        let token = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(signature));
        prop_assert!(verifier.verify(&token).is_err());
    }

    #[test]
    fn a_real_token_with_any_one_character_changed_never_verifies(which in 0usize..3, at in any::<prop::sample::Index>(), with in "[A-Za-z0-9_.-]") {
        let (verifier, tokens) = fixture();
        let token = &tokens[which];
        prop_assert!(verifier.verify(token).is_ok());
        let index = at.index(token.len());
        let mut changed = token.clone();
        changed.replace_range(index..=index, &with);
        prop_assume!(changed != *token);
        prop_assert!(verifier.verify(&changed).is_err(), "{} at {}", with, index);
    }

    #[test]
    fn seals_open_only_for_their_openid_and_kid(
        raw in any::<[u8; 16]>(),
        openid in "[A-Za-z0-9_-]{1,40}",
        other in "[A-Za-z0-9_-]{1,40}",
        ikm in prop::collection::vec(any::<u8>(), 1..64),
    ) {
        let key = SealingKey::derive(&ikm);
        let session_key = SessionKey::parse(&STANDARD.encode(raw)).unwrap();
        let sealed = key.seal(&openid, "kid", &session_key).unwrap();
        let opened = key.unseal(&openid, "kid", &sealed).unwrap();
        prop_assert_eq!(opened.expose(), session_key.expose());
        if other != openid {
            prop_assert!(key.unseal(&other, "kid", &sealed).is_err());
        }
        prop_assert!(key.unseal(&openid, "kid2", &sealed).is_err());
    }

    #[test]
    fn arbitrary_seals_never_open(sealed in ".{0,300}") {
        let key = SealingKey::derive(b"key");
        prop_assert!(key.unseal("o", "k", &sealed).is_err());
    }

    #[test]
    fn user_data_round_trips_and_arbitrary_input_never_panics(
        nick in ".{0,40}",
        raw in any::<[u8; 16]>(),
        junk_data in ".{0,200}",
        junk_iv in ".{0,40}",
    ) {
        let session_key = SessionKey::parse(&STANDARD.encode(raw)).unwrap();
        let plaintext = serde_json::to_vec(&serde_json::json!({"nickName": nick, "watermark": {"appid": "wx1", "timestamp": 1}})).unwrap();
        let (data, iv) = encrypt_user_data(&session_key, &plaintext).unwrap();
        prop_assert_eq!(decrypt_user_data(&session_key, &data, &iv, "wx1", "o").unwrap(), plaintext);
        let _ = decrypt_user_data(&session_key, &junk_data, &junk_iv, "wx1", "o");
        let _ = decrypt_user_data(&session_key, &junk_data, &iv, "wx1", "o");
    }

    #[test]
    fn key_files_of_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = KeyGeneration::from_pem("k", Path::new("k.pem"), &bytes);
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", STANDARD.encode(&bytes));
        prop_assert!(KeyGeneration::from_pem("k", Path::new("k.pem"), pem.as_bytes()).is_err());
    }
}
