//! The JWK Set (RFC 7517 section 5) of the loaded keys' public halves, as
//! `/.well-known/jwks.json` serves it.

use super::key::KeyGeneration;
use jsonwebtoken::jwk::JwkSet;

/// The JWK Set of `keys`, as JSON bytes; rendered once per load.
pub fn render_jwks<'a>(keys: impl Iterator<Item = &'a KeyGeneration>) -> Vec<u8> {
    let set = JwkSet {
        keys: keys.map(|key| key.jwk().clone()).collect(),
    };
    // A set of public JWKs always serializes; an empty set is the safe
    // fallback (nothing verifies against it), and is logged.
    serde_json::to_vec(&set).unwrap_or_else(|e| {
        log::error!("could not render the JWK Set: {e}");
        br#"{"keys":[]}"#.to_vec()
    })
}
