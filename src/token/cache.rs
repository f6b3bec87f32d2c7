//! A bounded cache of verified tokens, so the guard verifies a signature
//! once per token rather than once per request.
//!
//! It changes no answer: entries are keyed on the whole token, only tokens
//! that passed every check are stored, and every hit is checked again for
//! what can change without the token changing: the time (`exp`, `nbf`,
//! `iat` against the clock) and the key (the kid must still name the very
//! key generation that verified it, so a retired key stops working at
//! once, and its entries are dropped as they are met).

use super::verify::VerifiedToken;
use quick_cache::sync::Cache;

/// How many verified tokens are kept. At about 1.5 KiB an entry (token and
/// claims), a full cache is some 24 MiB.
pub const CACHE_CAPACITY: usize = 16_384;

/// Verified tokens by their text.
pub struct VerifiedCache(Cache<Box<str>, VerifiedToken>);

impl VerifiedCache {
    /// An empty cache of at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        Self(Cache::new(capacity))
    }

    /// The verified token for `token`, if cached.
    pub fn get(&self, token: &str) -> Option<VerifiedToken> {
        self.0.get(token)
    }

    /// Remembers a token that passed every check.
    pub fn insert(&self, token: &str, verified: VerifiedToken) {
        self.0.insert(token.into(), verified);
    }

    /// Forgets a token (its key left the keyring).
    pub fn remove(&self, token: &str) {
        self.0.remove(token);
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
