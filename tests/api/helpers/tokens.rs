//! Tokens read, forged and unsealed: what a service behind wxauth, an
//! attacker holding a key, or wxauth itself can do with one.

use super::{FIRST_KID, OPENID, TOKEN_TTL, TestApp};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use wxauth::clock::ManualClock;
use wxauth::keyring::{KeyAlg, KeyGeneration};

/// A JWS header as wxauth writes it for the Ed25519 key `kid`.
pub fn eddsa_header(kid: &str) -> Value {
    json!({"alg": "EdDSA", "typ": "JWT", "kid": kid})
}

/// Claims as wxauth issues them for OPENID, to `aud` at `now`, with a dummy
/// seal (`"sk": "x"`): good for routes that only verify, not for those that
/// unseal. Change them with `with` and `without`.
pub fn good_claims(aud: &str, now: i64) -> Value {
    json!({
        "iss": "wxauth", "aud": aud, "sub": OPENID, "iat": now, "exp": now + TOKEN_TTL,
        "jti": "j", "auth_time": now, "sk": "x"
    })
}

/// Edits of a JSON object (a header or claims) that leave the original be.
pub trait JsonEdit {
    /// The object with `name` set to `value`.
    fn with(&self, name: &str, value: impl Into<Value>) -> Value;
    /// The object without `name`.
    fn without(&self, name: &str) -> Value;
}

impl JsonEdit for Value {
    fn with(&self, name: &str, value: impl Into<Value>) -> Value {
        let mut edited = self.clone();
        edited[name] = value.into();
        edited
    }

    fn without(&self, name: &str) -> Value {
        let mut edited = self.clone();
        edited.as_object_mut().expect("an object").remove(name);
        edited
    }
}

/// `claims` issued at `iat` instead, expiring a token lifetime later.
pub fn issued_at(claims: &Value, iat: i64) -> Value {
    claims.with("iat", iat).with("exp", iat + TOKEN_TTL)
}

impl TestApp {
    /// The key generation of `kid` in this app's folder, as the test's own
    /// copy (for forging tokens signed with our key).
    pub fn key(&self, kid: &str) -> KeyGeneration {
        load_key(&self.keys_dir, kid)
    }

    /// A token signed by this app's key for OPENID with a dummy seal: good
    /// for routes that only verify (not for those that unseal).
    pub fn guard_only_token(&self) -> String {
        forge(
            &self.key(FIRST_KID),
            &eddsa_header(FIRST_KID),
            &good_claims(&self.appid, self.now()),
        )
    }

    /// `token` signed again by this app's key of its kid, issued at `iat`
    /// (for code that reads the wall clock, not the test's).
    pub fn reissued_at(&self, token: &str, iat: i64) -> String {
        let (header, claims) = decode_parts(token);
        let kid = header["kid"].as_str().expect("kid");
        forge(&self.key(kid), &header, &issued_at(&claims, iat))
    }
}

/// Opens the sealed session_key of `token` (for `audience`) with the key
/// files of `dir` at time `now`, as only wxauth can.
pub fn unseal(dir: &Path, audience: &str, token: &str, now: i64) -> String {
    let (keyring, _) = wxauth::keyring::Keyring::load(dir, None).expect("keys");
    let policy = wxauth::token::TokenPolicy::new("wxauth", audience, 30);
    let clock = Arc::new(ManualClock::new(now));
    let verifier = wxauth::token::TokenVerifier::new(
        wxauth::keyring::SharedKeyring::new(keyring),
        policy,
        clock,
    );
    let verified = verifier.verify(token).expect("token verifies");
    verified
        .session_key()
        .expect("seal opens")
        .expose()
        .to_owned()
}

pub fn load_key(dir: &Path, kid: &str) -> KeyGeneration {
    let path = dir.join(format!("{kid}.pem"));
    let text = std::fs::read(&path).expect("key file");
    KeyGeneration::from_pem(kid, &path, &text).expect("key parses")
}

/// A new key of `alg` that is not in any app's folder.
pub fn foreign_key(kid: &str, alg: KeyAlg) -> KeyGeneration {
    let pem = wxauth::keyring::generate_pem(alg).expect("keygen");
    KeyGeneration::from_pem(kid, Path::new("foreign.pem"), pem.as_bytes()).expect("parse")
}

/// The header and claims of a compact JWS, unverified.
pub fn decode_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part = || {
        let bytes = URL_SAFE_NO_PAD
            .decode(parts.next().expect("part"))
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("json")
    };
    (part(), part())
}

/// A token with any header and claims, signed by `key` with its own
/// algorithm: what an attacker holding our key, or a test, can make.
pub fn forge(key: &KeyGeneration, header: &Value, claims: &Value) -> String {
    sign(
        key,
        &format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        ),
    )
}

/// `message` (`header.payload`, any bytes) with `key`'s signature appended.
pub fn sign(key: &KeyGeneration, message: &str) -> String {
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        key.encoding_key(),
        key.alg().algorithm(),
    )
    .expect("sign");
    format!("{message}.{signature}")
}

/// `text` with its first character changed (to `B` if it was `A`, else `A`).
pub fn flip_first(text: &str) -> String {
    let mut chars = text.chars();
    let first = if chars.next() == Some('A') { 'B' } else { 'A' };
    std::iter::once(first).chain(chars).collect()
}
