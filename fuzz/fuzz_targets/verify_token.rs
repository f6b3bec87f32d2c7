//! Token verification on arbitrary input: never panics, never accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use wxauth::clock::ManualClock;
use wxauth::keyring::{KeyAlg, KeyGeneration, Keyring, SharedKeyring};
use wxauth::token::{TokenPolicy, TokenVerifier};

fn verifier() -> &'static TokenVerifier {
    static VERIFIER: OnceLock<TokenVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("wxauth-fuzz-keys-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        for (kid, alg) in [
            ("ed", KeyAlg::Eddsa),
            ("ec", KeyAlg::Es256),
            ("rs", KeyAlg::Rs256),
        ] {
            let path = dir.join(format!("{kid}.pem"));
            if !path.exists() {
                let pem = wxauth::keyring::generate_pem(alg).expect("keygen");
                std::fs::write(&path, pem).expect("write key");
                let _ = KeyGeneration::from_pem(kid, &path, &std::fs::read(&path).expect("read"));
            }
        }
        let (keyring, _) = Keyring::load(&dir, None).expect("keys");
        let policy = TokenPolicy::new("wxauth", "wx1", 30);
        TokenVerifier::new(
            SharedKeyring::new(keyring),
            policy,
            Arc::new(ManualClock::new(1_800_000_000)),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        // Nobody without our keys can make a token that verifies.
        assert!(verifier().verify(token).is_err());
        assert!(verifier().verify_signed(token).is_err());
    }
});
