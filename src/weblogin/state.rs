//! The signed `state` of a web login. `/auth/authorize` makes it, WeChat
//! hands it back unchanged with the code, and `/auth/login` checks it: it
//! proves that this server sent the browser to WeChat for this app, for this
//! redirect_uri, less than ten minutes ago (RFC 6749 section 10.12, RFC 9700
//! section 4.7). Nothing is stored: the state carries its expiry and a hash of
//! the redirect_uri, under an HMAC keyed from the key folder
//! ([`crate::keyring::state_key`]), so any replica sharing the key files
//! checks what any other made.
//!
//! WeChat takes `state` as `[a-zA-Z0-9]`, at most 128 bytes (its web
//! authorization guide): the state is lowercase hex of 41 bytes, 82
//! characters: a version, the expiry (seconds, big-endian), 8 bytes of
//! SHA-256 of the redirect_uri, 8 random bytes, and 16 bytes of
//! HMAC-SHA256 over the appid and all of that.

use crate::keyring::state_key::TAG_LEN;
use crate::keyring::{KeyGeneration, Keyring};
use sha2::{Digest, Sha256};

/// How long a state is good for, seconds: WeChat's code itself lives five
/// minutes; the user may take a while on the authorize page first.
pub const STATE_LIFETIME: i64 = 600;
const VERSION: u8 = 1;
const HASH_LEN: usize = 8;
const NONCE_LEN: usize = 8;
/// Version, expiry, redirect hash, nonce: what the tag covers.
const BODY_LEN: usize = 1 + 8 + HASH_LEN + NONCE_LEN;
const STATE_LEN: usize = BODY_LEN + TAG_LEN;

/// Why a state was refused (all of them are `invalid_state` to the client).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// No state, where the app's logins need one.
    #[error("this app's logins need the `state` that came back with the code")]
    Missing,
    /// Not a state this server makes.
    #[error("the state is malformed")]
    Malformed,
    /// No loaded key made it for this app: forged, or another app's.
    #[error("the state was not made by this server for this app")]
    Forged,
    /// Made more than ten minutes ago.
    #[error("the state has expired: start the login again")]
    Expired,
    /// Made for another redirect_uri than the one the login names.
    #[error("the state was made for another redirect_uri")]
    OtherRedirect,
}

/// A fresh state for a login of `appid` returning to `redirect_uri` (as
/// parsed and normalised), signed with `key`, made at `now`.
pub fn issue_state(key: &KeyGeneration, appid: &str, redirect_uri: &str, now: i64) -> String {
    let mut state = Vec::with_capacity(STATE_LEN);
    state.push(VERSION);
    state.extend_from_slice(&now.saturating_add(STATE_LIFETIME).to_be_bytes());
    state.extend_from_slice(&redirect_hash(redirect_uri));
    state.extend_from_slice(&rand::random::<[u8; NONCE_LEN]>());
    let tag = key.state_key().tag(&signed_message(appid, &state));
    state.extend_from_slice(&tag);
    hex::encode(state)
}

/// Checks `state` for a login of `appid` at `now`: made by one of the
/// keyring's keys for this app, not expired, and, when the login names its
/// `redirect_uri`, made for that one.
pub fn check_state(
    keyring: &Keyring,
    state: Option<&str>,
    appid: &str,
    redirect_uri: Option<&str>,
    now: i64,
) -> Result<(), StateError> {
    let state = state.filter(|s| !s.is_empty()).ok_or(StateError::Missing)?;
    if state.len() != STATE_LEN * 2 {
        return Err(StateError::Malformed);
    }
    let bytes = hex::decode(state).map_err(|_| StateError::Malformed)?;
    let (body, tag) = bytes.split_at(BODY_LEN);
    if body.first() != Some(&VERSION) {
        return Err(StateError::Malformed);
    }
    let message = signed_message(appid, body);
    // A few keys are loaded at most; the tag names none of them, so that
    // the state stays short.
    if !keyring
        .keys()
        .any(|key| key.state_key().verify(&message, tag))
    {
        return Err(StateError::Forged);
    }
    let expiry = body
        .get(1..9)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(i64::from_be_bytes)
        .ok_or(StateError::Malformed)?;
    if now > expiry {
        return Err(StateError::Expired);
    }
    if let Some(redirect_uri) = redirect_uri {
        let normalised = url::Url::parse(redirect_uri).map_err(|_| StateError::OtherRedirect)?;
        if body.get(9..9 + HASH_LEN) != Some(&redirect_hash(normalised.as_str())[..]) {
            return Err(StateError::OtherRedirect);
        }
    }
    Ok(())
}

/// The appid, a NUL (appids are `[A-Za-z0-9_-]`), and the state's body.
fn signed_message(appid: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(appid.len() + 1 + body.len());
    message.extend_from_slice(appid.as_bytes());
    message.push(0);
    message.extend_from_slice(body);
    message
}

fn redirect_hash(redirect_uri: &str) -> [u8; HASH_LEN] {
    let digest = Sha256::digest(redirect_uri.as_bytes());
    let mut hash = [0u8; HASH_LEN];
    for (out, byte) in hash.iter_mut().zip(digest.iter()) {
        *out = *byte;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::{KeyAlg, write_new_key};

    const REDIRECT: &str = "https://good.example.com/cb";

    fn keyring(kids: &[&str]) -> (tempfile::TempDir, Keyring) {
        let dir = tempfile::tempdir().unwrap();
        for kid in kids {
            write_new_key(dir.path(), kid, KeyAlg::Eddsa).unwrap();
        }
        let (keyring, _) = Keyring::load(dir.path(), None).unwrap();
        (dir, keyring)
    }

    #[test]
    fn a_state_checks_for_its_app_and_redirect_for_ten_minutes() {
        let (_dir, keyring) = keyring(&["k1"]);
        let state = issue_state(keyring.signing(), "wxh5", REDIRECT, 1000);
        assert_eq!(state.len(), 82);
        assert!(state.chars().all(|c| c.is_ascii_alphanumeric()));
        let check = |state: &str, appid, redirect, now| {
            check_state(&keyring, Some(state), appid, redirect, now)
        };
        assert_eq!(check(&state, "wxh5", Some(REDIRECT), 1000 + 600), Ok(()));
        assert_eq!(check(&state, "wxh5", None, 1000), Ok(()));
        assert_eq!(
            check(
                &state,
                "wxh5",
                Some("https://GOOD.example.com:443/cb"),
                1000
            ),
            Ok(()),
            "compared as parsed"
        );
        assert_eq!(
            check(&state, "wxh5", None, 1000 + 601),
            Err(StateError::Expired)
        );
        assert_eq!(check(&state, "wxweb", None, 1000), Err(StateError::Forged));
        assert_eq!(
            check(&state, "wxh5", Some("https://good.example.com/other"), 1000),
            Err(StateError::OtherRedirect)
        );
        assert_eq!(
            check_state(&keyring, None, "wxh5", None, 1000),
            Err(StateError::Missing)
        );
    }

    #[test]
    fn a_changed_byte_or_another_key_folder_forges_nothing() {
        let (_dir, keyring) = keyring(&["k1"]);
        let (_other_dir, other) = keyring_of_other();
        let state = issue_state(keyring.signing(), "wxh5", REDIRECT, 1000);
        let mut bytes = hex::decode(&state).unwrap();
        for index in [1, 9, 17, 25, 40] {
            bytes[index] ^= 1;
            assert_eq!(
                check_state(&keyring, Some(&hex::encode(&bytes)), "wxh5", None, 1000),
                Err(StateError::Forged),
                "byte {index}"
            );
            bytes[index] ^= 1;
        }
        assert_eq!(
            check_state(&other, Some(&state), "wxh5", None, 1000),
            Err(StateError::Forged)
        );
        for bad in [
            "",
            "zz",
            &"0".repeat(82),
            &state[..80],
            &format!("{state}00"),
        ] {
            assert!(check_state(&keyring, Some(bad), "wxh5", None, 1000).is_err());
        }
    }

    #[test]
    fn every_loaded_key_checks_so_a_rotation_keeps_states_valid() {
        let (dir, old) = keyring(&["k1"]);
        let state = issue_state(old.signing(), "wxh5", REDIRECT, 1000);
        write_new_key(dir.path(), "k2", KeyAlg::Es256).unwrap();
        let (both, _) = Keyring::load(dir.path(), Some("k2")).unwrap();
        assert_eq!(both.signing().kid(), "k2");
        assert_eq!(check_state(&both, Some(&state), "wxh5", None, 1000), Ok(()));
    }

    fn keyring_of_other() -> (tempfile::TempDir, Keyring) {
        keyring(&["k1"])
    }
}
