//! One key generation: a PKCS#8 PEM private key file `<kid>.pem`, and all that
//! is derived from it (signing key, public JWK, session_key sealing key).

use super::seal::SealingKey;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair,
    RsaPublicKeyComponents,
};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use sha2::Digest as _;
use std::fmt;
use std::path::{Path, PathBuf};

/// The RSA moduli accepted, in bits: at least 2048 (RFC 7518 section
/// 3.3), at most 4096 (each verification costs the server more with the
/// size, and a client can ask for as many as it likes).
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;
/// The one RSA public exponent accepted: 65537 (F4), big-endian.
const RSA_EXPONENT: &[u8] = &[0x01, 0x00, 0x01];

/// The algorithm of a key, which is the only algorithm its tokens may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    /// Ed25519 (`EdDSA`, RFC 8037): small, fast, the default.
    Eddsa,
    /// ECDSA on P-256 with SHA-256 (`ES256`).
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`RS256`), 2048-bit keys from keygen.
    Rs256,
}

impl KeyAlg {
    /// The JOSE `alg` name (RFC 7518, RFC 8037).
    pub fn jose_name(self) -> &'static str {
        match self {
            Self::Eddsa => "EdDSA",
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    /// The jsonwebtoken algorithm.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::Eddsa => Algorithm::EdDSA,
            Self::Es256 => Algorithm::ES256,
            Self::Rs256 => Algorithm::RS256,
        }
    }
}

impl std::str::FromStr for KeyAlg {
    type Err = String;

    /// `eddsa`, `es256` or `rs256`, in any case (the JOSE names work too).
    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "eddsa" => Ok(Self::Eddsa),
            "es256" => Ok(Self::Es256),
            "rs256" => Ok(Self::Rs256),
            _ => Err(format!(
                "{text:?} is not an algorithm: use eddsa, es256 or rs256"
            )),
        }
    }
}

impl From<crate::fs::ReadError> for KeyError {
    fn from(error: crate::fs::ReadError) -> Self {
        match error {
            crate::fs::ReadError::Io(e) => Self::Io(e),
            crate::fs::ReadError::NotAFile => Self::NotAFile,
            crate::fs::ReadError::TooLarge(max) => Self::TooLarge(max),
            crate::fs::ReadError::Slow(wait) => Self::Slow(wait),
        }
    }
}

impl fmt::Display for KeyAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.jose_name())
    }
}

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// Not a regular file (after symlinks): a FIFO, a device, a folder.
    #[error("is not a regular file")]
    NotAFile,
    /// Larger than any key file.
    #[error("is larger than {0} bytes: not a key file")]
    TooLarge(u64),
    /// The read did not finish in time (a hung network folder).
    #[error("could not be read within {0:?}")]
    Slow(std::time::Duration),
    /// The file is not PEM.
    #[error("not a PEM file")]
    NotPem,
    /// The file is PEM, but not an unencrypted PKCS#8 private key.
    #[error(
        "holds a {0:?} PEM block; wxauth needs an unencrypted PKCS#8 private key \
         (BEGIN PRIVATE KEY), as `openssl genpkey` and `wxauth keygen` write"
    )]
    NotPkcs8(String),
    /// The key is PKCS#8 but of a kind wxauth does not sign with.
    #[error("is not an Ed25519, P-256 or RSA (2048 bits or more) PKCS#8 private key")]
    Unsupported,
    /// The RSA key is shorter than 2048 or longer than 4096 bits (a long
    /// key makes every verification a CPU lever for clients).
    #[error("is an RSA key of {0} bits; 2048 to 4096 are accepted")]
    RsaSize(usize),
    /// The RSA public exponent is not 65537.
    #[error("is an RSA key whose public exponent is not 65537")]
    RsaExponent,
    /// Key generation failed in the crypto library.
    #[error("the crypto library could not generate or encode a key")]
    Generate,
}

/// A loaded key generation: it signs (when it is the signing key), verifies,
/// publishes its public half as a JWK, and seals session_keys.
pub struct KeyGeneration {
    kid: String,
    alg: KeyAlg,
    path: PathBuf,
    encoding: EncodingKey,
    decoding: DecodingKey,
    sealing: SealingKey,
    state: super::state_key::StateKey,
    jwk: Jwk,
    /// SHA-256 of the canonical key: equal for the same key however encoded.
    fingerprint: [u8; 32],
}

impl fmt::Debug for KeyGeneration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyGeneration")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl KeyGeneration {
    /// Parses the PEM text of `path`, whose stem `kid` names the generation.
    /// The algorithm is read from the key itself.
    pub fn from_pem(kid: &str, path: &Path, pem_text: &[u8]) -> Result<Self, KeyError> {
        let block = pem::parse(pem_text).map_err(|_| KeyError::NotPem)?;
        if block.tag() != "PRIVATE KEY" {
            return Err(KeyError::NotPkcs8(block.tag().to_owned()));
        }
        let der = block.contents();
        // The sealing key is derived from aws-lc's canonical PKCS#8 v1
        // encoding of the parsed key, not from the file's bytes: the same key
        // re-encoded (`openssl pkey`, v1 or v2) must open the same seals, or
        // a harmless re-encoding would log everyone out.
        let (alg, encoding, decoding, canonical) = if let Ok(pair) = Ed25519KeyPair::from_pkcs8(der)
        {
            let public = pair.public_key().as_ref();
            let canonical = pair
                .to_pkcs8v1()
                .map_err(|_| KeyError::Unsupported)?
                .as_ref()
                .to_vec();
            (
                KeyAlg::Eddsa,
                EncodingKey::from_ed_der(der),
                DecodingKey::from_ed_der(public),
                canonical,
            )
        } else if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            // An uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
            let point = pair.public_key().as_ref();
            if point.len() != 65 {
                return Err(KeyError::Unsupported);
            }
            let canonical = pair
                .to_pkcs8v1()
                .map_err(|_| KeyError::Unsupported)?
                .as_ref()
                .to_vec();
            (
                KeyAlg::Es256,
                EncodingKey::from_ec_der(der),
                DecodingKey::from_ec_der(point),
                canonical,
            )
        } else if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
            let bits = pair.public_modulus_len() * 8;
            if !RSA_BITS.contains(&bits) {
                return Err(KeyError::RsaSize(bits));
            }
            let parts = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
            let exponent = parts
                .e
                .iter()
                .skip_while(|b| **b == 0)
                .copied()
                .collect::<Vec<_>>();
            if exponent != RSA_EXPONENT {
                return Err(KeyError::RsaExponent);
            }
            let canonical = pair
                .as_der()
                .map_err(|_| KeyError::Unsupported)?
                .as_ref()
                .to_vec();
            (
                KeyAlg::Rs256,
                EncodingKey::from_rsa_pem(pem_text).map_err(|_| KeyError::Unsupported)?,
                DecodingKey::from_rsa_raw_components(&parts.n, &parts.e),
                canonical,
            )
        } else {
            return Err(KeyError::Unsupported);
        };
        // From the public key (jsonwebtoken's from_encoding_key fails on
        // PKCS#8 v2 Ed25519 keys); kid and use set here.
        let mut jwk = Jwk::from_decoding_key(&decoding, Some(alg.algorithm()))
            .map_err(|_| KeyError::Unsupported)?;
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            path: path.to_owned(),
            encoding,
            decoding,
            sealing: SealingKey::derive(&canonical),
            state: super::state_key::StateKey::derive(&canonical),
            fingerprint: sha2::Sha256::digest(&canonical).into(),
            jwk,
        })
    }

    /// The key id: the file's stem.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key's algorithm.
    pub fn alg(&self) -> KeyAlg {
        self.alg
    }

    /// The file the key was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The private key, for signing.
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The public key, for verifying.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The key that seals session_keys into tokens this generation signs.
    pub fn sealing_key(&self) -> &SealingKey {
        &self.sealing
    }

    /// The key that signs web logins' `state` (`/auth/authorize`).
    pub fn state_key(&self) -> &super::state_key::StateKey {
        &self.state
    }

    /// Whether `other` holds the same key under the same kid (however its
    /// file is encoded).
    pub fn same_key(&self, other: &KeyGeneration) -> bool {
        self.kid == other.kid && self.fingerprint == other.fingerprint
    }

    /// The public JWK (RFC 7517) with `kid`, `alg` and `use: sig`.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::generate_pem;
    use aws_lc_rs::rand::SystemRandom;

    #[test]
    fn generated_keys_load_back_with_their_algorithm() {
        for alg in [KeyAlg::Eddsa, KeyAlg::Es256, KeyAlg::Rs256] {
            let pem = generate_pem(alg).unwrap();
            let key = KeyGeneration::from_pem("k1", Path::new("k1.pem"), pem.as_bytes()).unwrap();
            assert_eq!(key.alg(), alg);
            let jwk = serde_json::to_value(key.jwk()).unwrap();
            assert_eq!(jwk["alg"], alg.jose_name());
            assert_eq!(jwk["kid"], "k1");
            assert_eq!(jwk["use"], "sig");
            assert!(
                jwk.get("d").is_none(),
                "a JWK must not carry the private key"
            );
        }
    }

    #[test]
    fn the_same_key_in_another_encoding_opens_the_same_seals() {
        use crate::domain::SessionKey;
        // PKCS#8 v2 (with the public key) and v1 of one Ed25519 key.
        let v2 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let v1 = Ed25519KeyPair::from_pkcs8(v2.as_ref())
            .unwrap()
            .to_pkcs8v1()
            .unwrap();
        assert_ne!(v1.as_ref(), v2.as_ref(), "two encodings");
        let pem = |der: &[u8]| pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec()));
        let a =
            KeyGeneration::from_pem("k", Path::new("k.pem"), pem(v2.as_ref()).as_bytes()).unwrap();
        let b =
            KeyGeneration::from_pem("k", Path::new("k.pem"), pem(v1.as_ref()).as_bytes()).unwrap();
        let key = SessionKey::parse("tiihtNczf5v6AKRyjwEUhQ==").unwrap();
        let sealed = a.sealing_key().seal("o1", "k", &key).unwrap();
        assert_eq!(
            b.sealing_key().unseal("o1", "k", &sealed).unwrap().expose(),
            key.expose()
        );
    }

    #[test]
    fn non_pkcs8_and_garbage_files_are_refused() {
        let sec1 = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        assert!(matches!(
            KeyGeneration::from_pem("k", Path::new("k.pem"), sec1.as_bytes()),
            Err(KeyError::NotPkcs8(_))
        ));
        assert!(matches!(
            KeyGeneration::from_pem("k", Path::new("k.pem"), b"hello"),
            Err(KeyError::NotPem)
        ));
        let junk = pem::encode(&pem::Pem::new("PRIVATE KEY", vec![1, 2, 3]));
        assert!(matches!(
            KeyGeneration::from_pem("k", Path::new("k.pem"), junk.as_bytes()),
            Err(KeyError::Unsupported)
        ));
    }
}
