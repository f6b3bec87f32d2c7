//! encryptedData decryption on arbitrary input: never panics; whatever it
//! returns is a JSON object watermarked for our appid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxauth::domain::SessionKey;
use wxauth::platform::decrypt_user_data;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (encrypted, iv) = text
        .split_once('|')
        .unwrap_or((text, "r7BXXKkLb8qrSNn05n0qiA=="));
    let key = SessionKey::parse("tiihtNczf5v6AKRyjwEUhQ==").expect("key");
    if let Ok(plaintext) = decrypt_user_data(
        &key,
        encrypted,
        iv,
        "wx4f4bc4dec97d474b",
        "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
    ) {
        let value: serde_json::Value = serde_json::from_slice(&plaintext).expect("json");
        assert_eq!(value["watermark"]["appid"], "wx4f4bc4dec97d474b");
    }
});
