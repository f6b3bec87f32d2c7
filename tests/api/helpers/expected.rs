//! Expected values derived by the tests themselves, never by the code under
//! test: the simulator's ids from their rule, and user data encrypted by
//! `openssl enc` as the platforms describe it.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// The simulator's WeChat app (README.md, "Try it").
pub const SIM_WECHAT_APPID: &str = "wxsimulator0000000";

/// The simulator's rule for an id: `o` and the first 27 characters of the
/// base64url SHA-256 of `wxauth simulator <kind>:<name>`.
fn simulated_id(kind: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("wxauth simulator {kind}:{name}").as_bytes());
    format!("o{}", &URL_SAFE_NO_PAD.encode(digest)[..27])
}

/// The openid the simulator gives `user` in `appid`: one per app; in its
/// WeChat app the name alone, elsewhere `<appid>:<user>`.
pub fn simulated_openid(appid: &str, user: &str) -> String {
    if appid == SIM_WECHAT_APPID {
        simulated_id("openid", user)
    } else {
        simulated_id("openid", &format!("{appid}:{user}"))
    }
}

/// The phone number the simulator gives `user`: 138 and eight digits, each
/// a byte of SHA-256(`wxauth simulator phone:<user>`) modulo 10.
pub fn simulated_phone(user: &str) -> String {
    let digest = Sha256::digest(format!("wxauth simulator phone:{user}").as_bytes());
    let digits: String = digest[..8]
        .iter()
        .map(|byte| char::from(b'0' + byte % 10))
        .collect();
    format!("138{digits}")
}

/// `plaintext` encrypted as the platforms encrypt user data (AES-128-CBC,
/// PKCS#7 padding, the base64 session_key as the key), by `openssl enc`;
/// returns (encryptedData, iv), both base64.
pub fn encrypt_user_data(session_key: &str, plaintext: &[u8]) -> (String, String) {
    use std::io::Write as _;
    let key = STANDARD.decode(session_key).expect("session_key is base64");
    let iv: [u8; 16] = rand::random();
    let mut child = std::process::Command::new("openssl")
        .args(["enc", "-aes-128-cbc", "-nosalt", "-K"])
        .arg(hex::encode(key))
        .arg("-iv")
        .arg(hex::encode(iv))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(plaintext)
        .expect("write the plaintext");
    let output = child.wait_with_output().expect("openssl enc");
    assert!(output.status.success(), "openssl enc -aes-128-cbc");
    (STANDARD.encode(output.stdout), STANDARD.encode(iv))
}

/// The `signature` WeChat's checkSessionKey takes: HMAC-SHA256 of the empty
/// string keyed with the session_key as sent (its base64 text), in hex; by
/// `openssl dgst -hmac`.
pub fn session_signature(session_key: &str) -> String {
    let output = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hex", "-hmac", session_key])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl");
    assert!(output.status.success(), "openssl dgst -hmac");
    let text = String::from_utf8(output.stdout).expect("openssl prints text");
    let hex = text.split_whitespace().last().expect("a digest").to_owned();
    assert_eq!(hex.len(), 64, "{text}");
    hex
}
