//! Verifying a token: every check of docs/API.md, "The token", in an order that does
//! the cheap, attacker-controlled parsing before any cryptography, and never
//! lets the token choose its algorithm (the key does, RFC 8725 section 3.1).

use super::{Claims, VerifiedCache};
use crate::clock::SharedClock;
use crate::domain::SessionKey;
use crate::keyring::{KeyAlg, KeyGeneration, SharedKeyring};
use crate::revocation::SharedRevocations;
use jsonwebtoken::Validation;
use std::sync::Arc;

/// The longest token accepted. Ours are under 1 KiB (RS256 with a 4096-bit
/// key stays under 2 KiB); the cap stops a 128 KiB header from reaching the
/// base64 and JSON decoders.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Why a token was refused. For the debug log only: clients get one uniform
/// 401, so an attacker learns nothing about which check failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("token longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    /// Not three non-empty base64url segments with a JSON object header.
    #[error("token is not a compact JWS")]
    Malformed,
    /// The header carries `crit`, `jku`, `jwk`, `x5u` or `x5c`.
    #[error("header carries a parameter wxauth refuses (crit, jku, jwk, x5u, x5c)")]
    ForbiddenHeader,
    /// The header's `typ` is present and not `JWT`.
    #[error("header typ is not JWT")]
    WrongType,
    /// The header has no `kid`, or one that is not loaded.
    #[error("unknown or missing kid")]
    UnknownKid,
    /// The header's `alg` is not the key's own.
    #[error("alg does not match the key's algorithm")]
    WrongAlg,
    /// The signature does not verify, or a required claim is missing or
    /// wrong (`iss`, `aud`, `sub`, types).
    #[error("signature or claims invalid: {0:?}")]
    Invalid(jsonwebtoken::errors::ErrorKind),
    /// `exp` is past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// The sealed session_key does not open.
    #[error("sealed session_key does not open")]
    Unseal,
    /// The user is banned, or revoked since this login (docs/API.md, "Revocation and bans").
    #[error("revoked or banned")]
    Revoked,
}

impl Rejection {
    /// A short, stable name of the reason, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TooLong => "too_long",
            Self::Malformed => "malformed",
            Self::ForbiddenHeader => "forbidden_header",
            Self::WrongType => "wrong_type",
            Self::UnknownKid => "unknown_kid",
            Self::WrongAlg => "wrong_alg",
            Self::Invalid(_) => "invalid",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Unseal => "unseal",
            Self::Revoked => "revoked",
        }
    }
}

/// What a token must say to be accepted.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// The required `iss`.
    pub issuer: String,
    /// The accepted `aud`s: the configured appids.
    pub audiences: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, seconds.
    pub leeway: i64,
}

impl TokenPolicy {
    /// Tokens of `issuer` for `audience`, with `leeway` seconds of skew.
    pub fn new(issuer: &str, audience: &str, leeway: i64) -> Self {
        Self::for_apps(issuer, [audience], leeway)
    }

    /// Tokens of `issuer` for any of `audiences` (several mini-programs).
    pub fn for_apps<'a>(
        issuer: &str,
        audiences: impl IntoIterator<Item = &'a str>,
        leeway: i64,
    ) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audiences: audiences.into_iter().map(str::to_owned).collect(),
            leeway,
        }
    }
}

/// A token whose signature and claims checked out. Cheap to clone.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// Its header's algorithm.
    pub alg: KeyAlg,
    /// Its claims.
    pub claims: Arc<Claims>,
    key: Arc<KeyGeneration>,
}

impl VerifiedToken {
    /// The kid that signed (and sealed) the token.
    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    /// Opens the sealed session_key. Only wxauth (holding the key file) can.
    /// A token without one (a WeChat web or app login) does not open.
    pub fn session_key(&self) -> Result<SessionKey, Rejection> {
        let sealed = self.claims.sk.as_deref().ok_or(Rejection::Unseal)?;
        self.key
            .sealing_key()
            .unseal(&self.claims.sub, self.key.kid(), sealed)
            .map_err(|_| Rejection::Unseal)
    }

    /// The sealed session_key opened, or `None` where the token carries
    /// none (a platform that gives none).
    pub fn optional_session_key(&self) -> Result<Option<SessionKey>, Rejection> {
        match self.claims.sk {
            Some(_) => self.session_key().map(Some),
            None => Ok(None),
        }
    }
}

/// One `Validation` per algorithm, each allowing only its own (RFC 8725
/// section 3.1).
struct Validations {
    eddsa: Validation,
    es256: Validation,
    rs256: Validation,
}

impl Validations {
    fn of(&self, alg: KeyAlg) -> &Validation {
        match alg {
            KeyAlg::Eddsa => &self.eddsa,
            KeyAlg::Es256 => &self.es256,
            KeyAlg::Rs256 => &self.rs256,
        }
    }
}

/// Verifies tokens against a shared keyring, optionally remembering the
/// ones that passed (see [`VerifiedCache`]).
#[derive(Clone)]
pub struct TokenVerifier {
    keyring: SharedKeyring,
    policy: TokenPolicy,
    clock: SharedClock,
    validations: Arc<Validations>,
    cache: Option<Arc<VerifiedCache>>,
    revocations: SharedRevocations,
}

impl TokenVerifier {
    /// A verifier for `policy` over `keyring`, reading the time from `clock`.
    pub fn new(keyring: SharedKeyring, policy: TokenPolicy, clock: SharedClock) -> Self {
        super::install_crypto_provider();
        let validation = |alg: KeyAlg| {
            let mut v = Validation::new(alg.algorithm());
            v.set_issuer(&[&policy.issuer]);
            v.set_audience(&policy.audiences);
            v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            // Time is checked below against the injected clock.
            v.validate_exp = false;
            v.validate_nbf = false;
            v
        };
        let validations = Arc::new(Validations {
            eddsa: validation(KeyAlg::Eddsa),
            es256: validation(KeyAlg::Es256),
            rs256: validation(KeyAlg::Rs256),
        });
        Self {
            keyring,
            policy,
            clock,
            validations,
            cache: None,
            revocations: SharedRevocations::none(),
        }
    }

    /// Refuses tokens the revocation list refuses, cached or not.
    pub fn with_revocations(mut self, revocations: SharedRevocations) -> Self {
        self.revocations = revocations;
        self
    }

    /// The revocation list this verifier honours.
    pub fn revocations(&self) -> &SharedRevocations {
        &self.revocations
    }

    /// Remembers up to `capacity` verified tokens (the guard's fast path).
    pub fn with_cache(mut self, capacity: usize) -> Self {
        self.cache = Some(Arc::new(VerifiedCache::new(capacity)));
        self
    }

    /// How many tokens the cache holds (0 without a cache).
    pub fn cached(&self) -> usize {
        self.cache.as_ref().map_or(0, |cache| cache.len())
    }

    /// The keyring this verifier reads.
    pub fn keyring(&self) -> &SharedKeyring {
        &self.keyring
    }

    /// The verifier's clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Every check: structure, header, key, signature, claims and time. A
    /// cached token skips the signature but not the time, and only while
    /// its kid still names the key generation that verified it.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, Rejection> {
        if let Some(hit) = self.cached_hit(token) {
            self.check_time(&hit.claims)?;
            self.check_revocations(&hit.claims)?;
            return Ok(hit);
        }
        let verified = self.verify_signed(token)?;
        self.check_time(&verified.claims)?;
        self.check_revocations(&verified.claims)?;
        if let Some(cache) = &self.cache {
            cache.insert(token, verified.clone());
        }
        Ok(verified)
    }

    /// The revocation list's word on the token's user and login.
    pub fn check_revocations(&self, claims: &Claims) -> Result<(), Rejection> {
        if self.revocations.load_current().refuses(
            &claims.sub,
            claims.unionid.as_deref(),
            claims.auth_time,
        ) {
            Err(Rejection::Revoked)
        } else {
            Ok(())
        }
    }

    /// The cached verification of `token`, if there is one and its kid still
    /// names the very key generation that verified it; a stale entry is
    /// dropped.
    fn cached_hit(&self, token: &str) -> Option<VerifiedToken> {
        let cache = self.cache.as_ref()?;
        let hit = cache.get(token)?;
        let keyring = self.keyring.load();
        if keyring
            .get(hit.key.kid())
            .is_some_and(|key| Arc::ptr_eq(key, &hit.key))
        {
            Some(hit)
        } else {
            cache.remove(token);
            None
        }
    }

    /// Every check but time: for `wxauth inspect`, which shows expired tokens.
    pub fn verify_signed(&self, token: &str) -> Result<VerifiedToken, Rejection> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Rejection::TooLong);
        }
        let mut segments = token.split('.');
        let (Some(_), Some(_), Some(_), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(Rejection::Malformed);
        };
        // jsonwebtoken's parse: serde refuses duplicated names, so
        // `{"alg":"EdDSA","alg":"none"}` is malformed, and so is an alg it
        // does not know.
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        if header.crit.is_some()
            || header.jku.is_some()
            || header.jwk.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
        {
            return Err(Rejection::ForbiddenHeader);
        }
        // RFC 7519 section 5.1: "JWT" is the recommended value, compared
        // case-insensitively.
        if header
            .typ
            .as_deref()
            .is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT"))
        {
            return Err(Rejection::WrongType);
        }
        let keyring = self.keyring.current();
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| keyring.get(kid))
            .ok_or(Rejection::UnknownKid)?;
        if header.alg != key.alg().algorithm() {
            return Err(Rejection::WrongAlg);
        }
        let validation = self.validations.of(key.alg());
        let data = jsonwebtoken::decode::<Claims>(token, key.decoding_key(), validation)
            .map_err(|e| Rejection::Invalid(e.into_kind()))?;
        Ok(VerifiedToken {
            alg: key.alg(),
            claims: Arc::new(data.claims),
            key: Arc::clone(key),
        })
    }

    /// `exp` (required), `nbf` (when present) and `iat` against the clock,
    /// each with the leeway (RFC 7519 sections 4.1.4, 4.1.5).
    pub fn check_time(&self, claims: &Claims) -> Result<(), Rejection> {
        let now = self.clock.now();
        let leeway = self.policy.leeway;
        if now > claims.exp.saturating_add(leeway) {
            return Err(Rejection::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| now.saturating_add(leeway) < nbf)
            || now.saturating_add(leeway) < claims.iat
        {
            return Err(Rejection::NotYetValid);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::keyring::{Keyring, write_new_key};

    fn verifier() -> (tempfile::TempDir, TokenVerifier) {
        let dir = tempfile::tempdir().unwrap();
        write_new_key(dir.path(), "k", KeyAlg::Eddsa).unwrap();
        let (ring, _) = Keyring::load(dir.path(), None).unwrap();
        let policy = TokenPolicy::new("wxauth", "wx1", 30);
        let verifier = TokenVerifier::new(
            SharedKeyring::new(ring),
            policy,
            Arc::new(ManualClock::new(0)),
        );
        (dir, verifier)
    }

    fn token(dir: &std::path::Path, clock: SharedClock) -> String {
        let (ring, _) = Keyring::load(dir, None).unwrap();
        let issuer = crate::token::TokenIssuer::new("wxauth", 7200, clock);
        let openid = crate::domain::UserId::parse("o1").unwrap();
        let session_key = SessionKey::parse("tiihtNczf5v6AKRyjwEUhQ==").unwrap();
        let subject = crate::token::Subject {
            appid: "wx1",
            platform: crate::platform::Platform::Wechat,
            openid: openid.as_str(),
            unionid: None,
            session_key: Some(&session_key),
            auth_time: 0,
        };
        issuer.issue(&ring, &subject).unwrap().access_token
    }

    #[test]
    fn a_cached_token_is_checked_again_for_time_and_key() {
        let dir = tempfile::tempdir().unwrap();
        write_new_key(dir.path(), "k", KeyAlg::Eddsa).unwrap();
        let clock = Arc::new(ManualClock::new(0));
        let (ring, _) = Keyring::load(dir.path(), None).unwrap();
        let shared = SharedKeyring::new(ring);
        let policy = TokenPolicy::new("wxauth", "wx1", 30);
        let verifier = TokenVerifier::new(shared.clone(), policy, clock.clone()).with_cache(16);
        let token = token(dir.path(), clock.clone());

        // A miss verifies and remembers; a hit answers the same.
        assert_eq!(verifier.verify(&token).unwrap().claims.sub, "o1");
        assert_eq!(verifier.cached(), 1);
        assert_eq!(verifier.verify(&token).unwrap().claims.sub, "o1");

        // The same key reloaded (a new generation object): verified afresh.
        shared.replace(Keyring::load(dir.path(), None).unwrap().0);
        assert!(verifier.verify(&token).is_ok());

        // Time moves on: a cached token expires like any other.
        clock.advance(7200 + 31);
        assert_eq!(verifier.verify(&token).unwrap_err(), Rejection::Expired);
        clock.advance(-(7200 + 31));

        // Its key retired: refused at once, though cached.
        write_new_key(dir.path(), "other", KeyAlg::Eddsa).unwrap();
        std::fs::remove_file(dir.path().join("k.pem")).unwrap();
        shared.replace(Keyring::load(dir.path(), None).unwrap().0);
        assert_eq!(verifier.verify(&token).unwrap_err(), Rejection::UnknownKid);
    }

    #[test]
    fn a_200_kb_token_is_refused_by_length_before_any_decoding() {
        let (_dir, verifier) = verifier();
        let huge = format!("{}.{}.{}", "e".repeat(100), "A".repeat(200 * 1024), "s");
        assert_eq!(verifier.verify(&huge).unwrap_err(), Rejection::TooLong);
        let at_cap = format!("{}.{}.x", "!".repeat(10), "A".repeat(MAX_TOKEN_LEN - 13));
        assert_eq!(at_cap.len(), MAX_TOKEN_LEN);
        assert_eq!(verifier.verify(&at_cap).unwrap_err(), Rejection::Malformed);
    }
}
