//! Sealing WeChat's session_key inside a token (the `sk` claim).
//!
//! XChaCha20-Poly1305 under a key derived with HKDF-SHA256 (RFC 5869) from the
//! key file that signs the token, so one file is one generation. The openid
//! and the kid are the associated data: a sealed `sk` moved into another
//! user's token, or presented under another kid, does not open. The nonce is
//! 24 random bytes, fresh per token; `sk` is base64url(nonce || ciphertext+tag).

use crate::domain::SessionKey;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The HKDF `info` label: fixed, so the same file always gives the same key,
/// and versioned, so a future format derives a different one.
const HKDF_INFO: &[u8] = b"wxauth session_key seal v1";
const NONCE_LEN: usize = 24;
/// The longest `sk` accepted for unsealing: nonce, a 16-byte key and the tag,
/// with room to spare. Anything longer is not ours.
const MAX_SEALED_LEN: usize = 256;

/// Why a seal could not be opened or made. Deliberately without detail.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The sealed text is malformed, or does not authenticate.
    #[error("the sealed session_key does not open")]
    Open,
    /// The system random generator failed.
    #[error("the system random generator failed")]
    Random,
}

/// The key that seals session_keys for one key generation.
pub struct SealingKey(XChaCha20Poly1305);

impl SealingKey {
    /// Derives the sealing key from the key file's PKCS#8 DER bytes.
    pub fn derive(ikm: &[u8]) -> Self {
        // The derived bytes are wiped when dropped; the cipher keeps its own
        // copy for as long as the key generation is loaded.
        let mut okm = Zeroizing::new([0u8; 32]);
        // Expanding 32 bytes from SHA-256 cannot fail (the limit is 255 * 32).
        let _ = Hkdf::<Sha256>::new(None, ikm).expand(HKDF_INFO, okm.as_mut_slice());
        Self(XChaCha20Poly1305::new(&(*okm).into()))
    }

    /// Seals `session_key` for the user `openid` in tokens of key `kid`.
    pub fn seal(
        &self,
        openid: &str,
        kid: &str,
        session_key: &SessionKey,
    ) -> Result<String, SealError> {
        let raw = Zeroizing::new(
            STANDARD
                .decode(session_key.expose())
                .map_err(|_| SealError::Open)?,
        );
        let nonce = XNonce::try_generate().map_err(|_| SealError::Random)?;
        let aad = associated_data(openid, kid);
        let sealed = self
            .0
            .encrypt(
                &nonce,
                Payload {
                    msg: &raw,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Open)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a sealed session_key of user `openid` under key `kid`.
    pub fn unseal(&self, openid: &str, kid: &str, sealed: &str) -> Result<SessionKey, SealError> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(SealError::Open);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| SealError::Open)?;
        if bytes.len() <= NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SealError::Open)?;
        let aad = associated_data(openid, kid);
        let raw = Zeroizing::new(
            self.0
                .decrypt(
                    &nonce,
                    Payload {
                        msg: ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| SealError::Open)?,
        );
        SessionKey::parse(&STANDARD.encode(raw.as_slice())).map_err(|_| SealError::Open)
    }
}

/// openid and kid, NUL-separated: neither may contain NUL (both are
/// `[A-Za-z0-9_-]`), so the encoding is unambiguous.
fn associated_data(openid: &str, kid: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(openid.len() + kid.len() + 1);
    aad.extend_from_slice(openid.as_bytes());
    aad.push(0);
    aad.extend_from_slice(kid.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session_key() -> SessionKey {
        SessionKey::parse("tiihtNczf5v6AKRyjwEUhQ==").unwrap()
    }

    #[test]
    fn seal_round_trips_and_uses_a_fresh_nonce() {
        let key = SealingKey::derive(b"key file bytes");
        let a = key.seal("openid1", "kid1", &session_key()).unwrap();
        let b = key.seal("openid1", "kid1", &session_key()).unwrap();
        assert_ne!(a, b);
        let opened = key.unseal("openid1", "kid1", &a).unwrap();
        assert_eq!(opened.expose(), session_key().expose());
        assert!(!a.contains("tiih"));
    }

    #[test]
    fn seal_is_bound_to_openid_kid_and_key() {
        let key = SealingKey::derive(b"key file bytes");
        let sealed = key.seal("openid1", "kid1", &session_key()).unwrap();
        assert!(key.unseal("openid2", "kid1", &sealed).is_err());
        assert!(key.unseal("openid1", "kid2", &sealed).is_err());
        assert!(
            SealingKey::derive(b"other file")
                .unseal("openid1", "kid1", &sealed)
                .is_err()
        );
    }

    #[test]
    fn tampered_or_malformed_seals_do_not_open() {
        let key = SealingKey::derive(b"key file bytes");
        let sealed = key.seal("o", "k", &session_key()).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for index in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[index] ^= 1;
            assert!(
                key.unseal("o", "k", &URL_SAFE_NO_PAD.encode(&bytes))
                    .is_err()
            );
            bytes[index] ^= 1;
        }
        for bad in ["", "!!!", "AAAA", &"A".repeat(300)] {
            assert!(key.unseal("o", "k", bad).is_err());
        }
    }
}
