//! Several mini-programs on three platforms: four apps from an apps file
//! (two WeChat, one QQ, one Douyin), each platform faked on loopback in its
//! own shape; the refusals at start-up of a bad apps file (the real binary);
//! the guard library accepting a set of appids; and the simulator's three
//! apps. One file per area; what several of them use is here.

mod guard;
mod logins;
mod simulator;
mod startup;
mod wechat_apis;
mod which_app;

use crate::helpers::START;
use crate::helpers::expected::encrypt_user_data;
use crate::helpers::tokens::decode_parts;
use serde_json::{Value, json};

/// Another session_key than SESSION_KEY (base64 of 16 bytes 0x11).
const OTHER_SESSION_KEY: &str = "EREREREREREREREREREREQ==";
/// The unionid one user has across the two WeChat apps.
const WECHAT_UNIONID: &str = "oUnion00000000000000000000wx";

/// The claims of `token`, unverified.
fn claims(token: &str) -> Value {
    decode_parts(token).1
}

/// `data` watermarked for `appid`, encrypted under `session_key` the way
/// every platform does it (AES-128-CBC).
fn encrypted_for(appid: &str, session_key: &str, data: &Value) -> Value {
    let mut plaintext = data.clone();
    plaintext["watermark"] = json!({"appid": appid, "timestamp": START});
    let (encrypted_data, iv) = encrypt_user_data(session_key, plaintext.to_string().as_bytes());
    json!({"encryptedData": encrypted_data, "iv": iv})
}

/// The value of the series whose line starts with `series`, 0 if absent.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
