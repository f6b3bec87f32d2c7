//! The key that signs the `state` of WeChat's web logins (`/auth/authorize`),
//! derived from the key file like the sealing key (HKDF-SHA256, RFC 5869,
//! with its own label), so every replica that shares the key folder signs
//! and checks states alike, and nothing is stored.

use aws_lc_rs::{constant_time, hmac};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The HKDF `info` label: distinct from the sealing key's, so the two keys
/// of one file are unrelated; versioned, so a future format derives another.
const HKDF_INFO: &[u8] = b"wxauth oauth state v1";
/// Bytes of HMAC-SHA256 kept: 128 bits, as RFC 2104 section 5 allows
/// (no less than half the hash and 80 bits).
pub const TAG_LEN: usize = 16;

/// HMAC-SHA256 under a key of one generation.
pub struct StateKey(hmac::Key);

impl StateKey {
    /// Derives the state key from the key file's canonical PKCS#8 bytes.
    pub fn derive(ikm: &[u8]) -> Self {
        let mut okm = Zeroizing::new([0u8; 32]);
        // Expanding 32 bytes from SHA-256 cannot fail (the limit is 255 * 32).
        let _ = Hkdf::<Sha256>::new(None, ikm).expand(HKDF_INFO, okm.as_mut_slice());
        Self(hmac::Key::new(hmac::HMAC_SHA256, okm.as_slice()))
    }

    /// The truncated tag of `message`.
    pub fn tag(&self, message: &[u8]) -> [u8; TAG_LEN] {
        let full = hmac::sign(&self.0, message);
        let mut tag = [0u8; TAG_LEN];
        for (out, byte) in tag.iter_mut().zip(full.as_ref()) {
            *out = *byte;
        }
        tag
    }

    /// Whether `tag` is the tag of `message`, compared in constant time.
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        constant_time::verify_slices_are_equal(&self.tag(message), tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_verify_under_their_key_only() {
        let key = StateKey::derive(b"key file bytes");
        let tag = key.tag(b"message");
        assert!(key.verify(b"message", &tag));
        assert!(!key.verify(b"messagf", &tag));
        assert!(!StateKey::derive(b"other file").verify(b"message", &tag));
        assert!(!key.verify(b"message", &tag[..8]));
    }
}
