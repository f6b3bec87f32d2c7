//! New keys, as `wxauth keygen` writes them.

use super::key::{KeyAlg, KeyError};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};

/// Generates a new private key of `alg` as PKCS#8 PEM text.
pub fn generate_pem(alg: KeyAlg) -> Result<String, KeyError> {
    let rng = SystemRandom::new();
    let der: Vec<u8> = match alg {
        // PKCS#8 v1, as `openssl genpkey` writes it, so every tool reads it.
        KeyAlg::Eddsa => Ed25519KeyPair::generate_pkcs8v1(&rng)
            .map_err(|_| KeyError::Generate)?
            .as_ref()
            .to_vec(),
        KeyAlg::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Generate)?
            .as_ref()
            .to_vec(),
        KeyAlg::Rs256 => aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048)
            .and_then(|pair| pair.as_der())
            .map_err(|_| KeyError::Generate)?
            .as_ref()
            .to_vec(),
    };
    Ok(pem::encode(&pem::Pem::new("PRIVATE KEY", der)))
}
