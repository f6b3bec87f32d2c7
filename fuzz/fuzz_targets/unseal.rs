//! Unsealing arbitrary `sk` values: never panics, never opens; and a real
//! seal with any byte changed never opens.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use wxauth::domain::SessionKey;
use wxauth::keyring::seal::SealingKey;

fuzz_target!(|data: &[u8]| {
    let key = SealingKey::derive(b"fuzz key file");
    let (openid, rest) = data.split_at(data.len().min(8));
    let openid = URL_SAFE_NO_PAD.encode(openid);
    // Arbitrary text as the sealed value.
    if let Ok(sealed) = std::str::from_utf8(rest) {
        assert!(key.unseal(&openid, "k", sealed).is_err());
    }
    // A real seal, one byte changed at a fuzzer-chosen place.
    let session_key = SessionKey::parse("tiihtNczf5v6AKRyjwEUhQ==").expect("key");
    let sealed = key.seal(&openid, "k", &session_key).expect("seal");
    assert!(key.unseal(&openid, "k", &sealed).is_ok());
    if let Some((&at, &with)) = rest.first().zip(rest.get(1)) {
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).expect("base64");
        let index = usize::from(at) % bytes.len();
        let flip = with | 1;
        bytes[index] ^= flip;
        assert!(
            key.unseal(&openid, "k", &URL_SAFE_NO_PAD.encode(&bytes))
                .is_err()
        );
    }
});
