//! Key-file parsing on arbitrary bytes, and on arbitrary DER inside a
//! `PRIVATE KEY` PEM block: never panics.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use wxauth::keyring::KeyGeneration;

fuzz_target!(|data: &[u8]| {
    let _ = KeyGeneration::from_pem("k", Path::new("k.pem"), data);
    let body = base64::engine::general_purpose::STANDARD.encode(data);
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
    let _ = KeyGeneration::from_pem("k", Path::new("k.pem"), pem.as_bytes());
});
