//! Tokens read, forged and unsealed: what a service behind wxauth, an
//! attacker holding a key, or wxauth itself can do with one.

use super::{FIRST_KID, OPENID, TOKEN_TTL, app::TestApp};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use wxauth::clock::ManualClock;

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
    /// The private key `kid` of this app's folder, read by the test itself
    /// (for forging tokens signed with our key).
    pub fn key(&self, kid: &str) -> TestKey {
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

/// A private key as the test holds it: jsonwebtoken's own `EncodingKey`
/// made from the PEM file, with the algorithm read from the key's PKCS#8
/// algorithm identifier, so that a forged token owes nothing to wxauth's
/// key type.
pub struct TestKey {
    alg: Algorithm,
    key: EncodingKey,
    pem: Vec<u8>,
}

impl TestKey {
    /// The key in PKCS#8 PEM `text`, signing with the algorithm its
    /// identifier names (RFC 8410 Ed25519, RFC 5480 P-256, RFC 8017 RSA).
    pub fn from_pem(text: &[u8]) -> Self {
        let der = pem::parse(text).expect("PEM").into_contents();
        let has = |oid: &[u8]| der.windows(oid.len()).any(|window| window == oid);
        // The DER of the OIDs 1.3.101.112, 1.2.840.10045.2.1 and
        // 1.2.840.113549.1.1.1.
        let (alg, key) = if has(&[0x06, 0x03, 0x2b, 0x65, 0x70]) {
            (Algorithm::EdDSA, EncodingKey::from_ed_pem(text))
        } else if has(&[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]) {
            (Algorithm::ES256, EncodingKey::from_ec_pem(text))
        } else if has(&[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
        ]) {
            (Algorithm::RS256, EncodingKey::from_rsa_pem(text))
        } else {
            panic!("a key of no algorithm we sign with");
        };
        Self {
            alg,
            key: key.expect("jsonwebtoken reads the key"),
            pem: text.to_vec(),
        }
    }

    /// The JWS algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public half of an Ed25519 key as a JWK (RFC 8037 section 2),
    /// by `openssl pkey -pubout`: the last 32 bytes of its DER.
    pub fn jwk(&self) -> Value {
        use std::io::Write as _;
        assert_eq!(self.alg, Algorithm::EdDSA, "a JWK of Ed25519 keys only");
        let mut child = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-outform", "DER"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("openssl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&self.pem)
            .expect("write the key");
        let output = child.wait_with_output().expect("openssl pkey");
        assert!(output.status.success(), "openssl pkey -pubout");
        let der = output.stdout;
        json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(&der[der.len() - 32..])})
    }
}

/// The key file `<kid>.pem` of `dir`, read by the test.
pub fn load_key(dir: &Path, kid: &str) -> TestKey {
    let path = dir.join(format!("{kid}.pem"));
    TestKey::from_pem(&std::fs::read(&path).expect("key file"))
}

/// A new key for `alg`, made by `openssl genpkey`, that is in no app's
/// folder.
pub fn foreign_key(alg: Algorithm) -> TestKey {
    let args: &[&str] = match alg {
        Algorithm::EdDSA => &["-algorithm", "ed25519"],
        Algorithm::ES256 => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        Algorithm::RS256 => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        other => panic!("no foreign key for {other:?}"),
    };
    let output = std::process::Command::new("openssl")
        .arg("genpkey")
        .args(args)
        .output()
        .expect("openssl");
    assert!(output.status.success(), "openssl genpkey {args:?}");
    let key = TestKey::from_pem(&output.stdout);
    assert_eq!(key.alg(), alg);
    key
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
pub fn forge(key: &TestKey, header: &Value, claims: &Value) -> String {
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
pub fn sign(key: &TestKey, message: &str) -> String {
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key.key, key.alg).expect("sign");
    format!("{message}.{signature}")
}

/// `text` with its first character changed (to `B` if it was `A`, else `A`).
pub fn flip_first(text: &str) -> String {
    let mut chars = text.chars();
    let first = if chars.next() == Some('A') { 'B' } else { 'A' };
    std::iter::once(first).chain(chars).collect()
}
