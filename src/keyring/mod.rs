//! The keys: every `<kid>.pem` in the key folder is one key generation
//! (README, "Keys"). Every loaded key verifies; one signs, as
//! [`signer::choose`] decides: `WXAUTH_SIGNING_KID`, else the kid in the
//! folder's [`PIN_FILE`] (reread on every rescan, so a key is promoted on
//! every replica without a restart), else the greatest *active* kid, a key
//! being active once both its file time and (for a key that appeared while
//! the process runs) its first sighting are `WXAUTH_KEY_ACTIVATION_DELAY`
//! old. So adding a key file publishes it at once and promotes it only
//! after every replica and every JWK Set cache had time to see it.
//!
//! The set is swapped atomically behind [`SharedKeyring`]: readers take the
//! current set without locking and never see a half-loaded one.
//!
//! - [`folder`]: reading the folder (safely) and writing new keys;
//! - [`key`]: one key file parsed, and what is derived from it;
//! - [`signer`]: which key signs, a pure function of what was found;
//! - [`error`]: what went wrong, each message naming the fix;
//! - [`generate`]: new keys; [`jwks`]: the public JWK Set;
//! - [`seal`]: the session_key sealing key of a generation;
//! - [`state_key`]: the key of a generation that signs web logins' `state`;
//! - [`reload`]: rescans while serving.
//! - [`listing`]: the table `wxauth keys` prints;
//! - [`reload`]: the key folder as a [`crate::reload::Watched`] file.

mod error;
mod folder;
mod generate;
mod jwks;
mod key;
pub mod listing;
mod reload;
pub mod seal;
pub mod signer;
pub mod state_key;

pub use error::{BrokenKeyFile, FileError, KeyringError};
pub use folder::{MAX_KEY_FILE, PIN_FILE, READ_WAIT, default_kid, is_valid_kid, write_new_key};
pub use generate::generate_pem;
pub use jwks::render_jwks;
pub use key::{KeyAlg, KeyError, KeyGeneration};
pub use reload::KeyReloader;

use arc_swap::ArcSwap;
use folder::Scan;
use signer::{Candidate, ChoiceError};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// How the signing key is chosen (README, "Keys").
#[derive(Debug, Clone, Default)]
pub struct SigningRule {
    /// `WXAUTH_SIGNING_KID`: this kid signs, whatever else.
    pub pin: Option<String>,
    /// `WXAUTH_KEY_ACTIVATION_DELAY`: seconds a new key file only verifies.
    pub activation_delay: i64,
}

impl SigningRule {
    /// Every key active at once; `pin` (if any) signs.
    pub fn immediate(pin: Option<&str>) -> Self {
        Self {
            pin: pin.map(str::to_owned),
            activation_delay: 0,
        }
    }
}

/// One loaded generation and its state.
#[derive(Debug, Clone)]
pub struct KeyState {
    /// The generation.
    pub key: Arc<KeyGeneration>,
    /// When its file was last modified, seconds since the epoch (None: the
    /// file system does not say; then the key is active at once).
    pub published: Option<i64>,
    /// When this process first saw the key while running (None: it was
    /// there at start).
    pub first_seen: Option<i64>,
    /// Whether it may sign.
    pub active: bool,
}

impl KeyState {
    /// What the signer choice sees of this key.
    fn candidate(&self) -> Candidate {
        Candidate {
            kid: self.key.kid().to_owned(),
            file_time: self.published,
            first_seen: self.first_seen,
            was_active: self.active,
        }
    }

    /// When the key may sign, seconds since the epoch: the later of its
    /// file time and its first sighting, plus the activation delay.
    pub fn active_from(&self, rule: &SigningRule) -> Option<i64> {
        self.candidate().active_from(rule.activation_delay)
    }

    /// Whether its file is dated before the time its kid names (keygen's
    /// kids are creation times): copied keeping an old time, or back-dated.
    pub fn dated_before_its_kid(&self) -> Option<i64> {
        let kid_time = signer::kid_time(self.key.kid())?;
        self.published
            .is_some_and(|at| at < kid_time)
            .then_some(kid_time)
    }
}

/// Loaded generations by kid; a `BTreeMap` so the greatest kid is the last.
type KeyMap = BTreeMap<String, KeyState>;

/// An immutable set of loaded key generations with the one that signs.
#[derive(Debug)]
pub struct Keyring {
    keys: KeyMap,
    signing: Arc<KeyGeneration>,
    /// The key that will sign once active, and when (unless pinned).
    next: Option<(String, i64)>,
    jwks: Vec<u8>,
}

impl Keyring {
    /// Loads every key file of `dir`, every key active at once (no
    /// activation delay). Broken files are returned beside the keyring, for
    /// the caller to log; a folder without a usable key, or a pin naming no
    /// loaded key, is an error.
    pub fn load(dir: &Path, pin: Option<&str>) -> Result<(Self, Vec<BrokenKeyFile>), KeyringError> {
        Self::load_with(
            dir,
            &SigningRule::immediate(pin),
            chrono::Utc::now().timestamp(),
        )
    }

    /// Loads every key file of `dir` under `rule`, at time `now`. At start
    /// nothing was seen before: file times alone decide.
    pub fn load_with(
        dir: &Path,
        rule: &SigningRule,
        now: i64,
    ) -> Result<(Self, Vec<BrokenKeyFile>), KeyringError> {
        let scan = folder::scan(dir)?;
        // WXAUTH_SIGNING_KID wins: the pin file is not even read then.
        let file_pin = if rule.pin.is_some() { None } else { scan.pin? };
        if scan.keys.is_empty() {
            return Err(KeyringError::no_keys(dir, &scan.broken));
        }
        let keys = scan
            .keys
            .into_iter()
            .map(|(kid, (key, published))| {
                let state = KeyState {
                    key,
                    published,
                    first_seen: None,
                    active: false,
                };
                (kid, state)
            })
            .collect();
        Ok((Self::choose(dir, keys, rule, file_pin, now)?, scan.broken))
    }

    /// [`Keyring::rescan_with`], every key active at once.
    pub fn rescan(
        &self,
        dir: &Path,
        pin: Option<&str>,
    ) -> Result<(Self, Vec<BrokenKeyFile>), KeyringError> {
        self.rescan_with(
            dir,
            &SigningRule::immediate(pin),
            chrono::Utc::now().timestamp(),
        )
    }

    /// Rescans `dir` on top of this keyring, at `now`. A key it had keeps
    /// its state (active, first seen); a key new to it is first seen `now`.
    /// A file that fails to load keeps the key this keyring had for its kid;
    /// a file gone from the folder stops verifying. A pin file that is
    /// unreadable or names no loaded key is reported with the broken files
    /// and changes nothing about who signs (the current signer, or the
    /// greatest active kid if it is gone), so it cannot hold up the rest of
    /// the rescan. The result always has a signing key, or the rescan fails
    /// and the caller keeps what it had.
    pub fn rescan_with(
        &self,
        dir: &Path,
        rule: &SigningRule,
        now: i64,
    ) -> Result<(Self, Vec<BrokenKeyFile>), KeyringError> {
        let Scan {
            mut keys,
            mut broken,
            pin: file_pin,
        } = folder::scan(dir)?;
        for file in &broken {
            if let Some(kid) = folder::kid_of(&file.path)
                && let Some(old) = self.keys.get(kid)
            {
                keys.insert(kid.to_owned(), (Arc::clone(&old.key), old.published));
            }
        }
        // An unchanged key keeps its generation object: tokens it verified
        // stay in the verified-token cache, which checks generation identity.
        for (kid, (key, _)) in keys.iter_mut() {
            if let Some(old) = self.keys.get(kid)
                && old.key.same_key(key)
            {
                *key = Arc::clone(&old.key);
            }
        }
        // The environment's pinned key gone from the folder: an operator's
        // mistake; it keeps signing (and verifying) rather than every rescan
        // failing, so new keys still load and deleted ones still go.
        if let Some(kid) = rule.pin.as_deref()
            && !keys.contains_key(kid)
            && let Some(old) = self.keys.get(kid)
        {
            keys.insert(kid.to_owned(), (Arc::clone(&old.key), old.published));
            broken.push(BrokenKeyFile {
                path: dir.join(format!("{kid}.pem")),
                error: FileError::Pin(format!(
                    "WXAUTH_SIGNING_KID={kid} names a file that is gone; its key stays loaded and signing"
                )),
            });
        }
        let keys: KeyMap = keys
            .into_iter()
            .map(|(kid, (key, published))| {
                let before = self
                    .keys
                    .get(&kid)
                    .filter(|old| Arc::ptr_eq(&old.key, &key));
                let state = KeyState {
                    key,
                    published,
                    // A key new to this process (or a new key under a known
                    // kid) counts its activation from now as well.
                    first_seen: before.map_or(Some(now), |old| old.first_seen),
                    active: before.is_some_and(|old| old.active),
                };
                (kid, state)
            })
            .collect();
        let file_pin = if rule.pin.is_some() {
            Ok(None)
        } else {
            file_pin
        };
        let file_pin = match file_pin {
            Ok(Some(kid)) if !keys.contains_key(&kid) => Err(KeyringError::PinnedKidMissing {
                origin: PIN_FILE,
                kid,
                dir: dir.to_owned(),
            }),
            other => other,
        };
        let file_pin = file_pin.unwrap_or_else(|error| {
            broken.push(BrokenKeyFile {
                path: dir.join(PIN_FILE),
                error: FileError::Pin(format!("{error}; the signing key stays as it was")),
            });
            let current = self.signing.kid();
            keys.contains_key(current).then(|| current.to_owned())
        });
        Ok((Self::choose(dir, keys, rule, file_pin, now)?, broken))
    }

    /// Builds the keyring from `keys`, the signer picked by
    /// [`signer::choose`].
    fn choose(
        dir: &Path,
        mut keys: KeyMap,
        rule: &SigningRule,
        file_pin: Option<String>,
        now: i64,
    ) -> Result<Self, KeyringError> {
        let candidates: Vec<Candidate> = keys.values().map(KeyState::candidate).collect();
        let choice = signer::choose(&candidates, rule, file_pin.as_deref(), now).map_err(
            |error| match error {
                ChoiceError::NoKeys => KeyringError::NoKeys {
                    dir: dir.to_owned(),
                    refused: Vec::new(),
                },
                ChoiceError::PinnedKidMissing { origin, kid } => KeyringError::PinnedKidMissing {
                    origin,
                    kid,
                    dir: dir.to_owned(),
                },
            },
        )?;
        for (state, active) in keys.values_mut().zip(&choice.active) {
            state.active = *active;
        }
        let signing = keys
            .get(&choice.signer)
            .map(|state| Arc::clone(&state.key))
            .ok_or_else(|| KeyringError::NoKeys {
                dir: dir.to_owned(),
                refused: Vec::new(),
            })?;
        let jwks = render_jwks(keys.values().map(|state| state.key.as_ref()));
        Ok(Self {
            keys,
            signing,
            next: choice.next,
            jwks,
        })
    }

    /// The generation with this kid, if loaded.
    pub fn get(&self, kid: &str) -> Option<&Arc<KeyGeneration>> {
        self.keys.get(kid).map(|state| &state.key)
    }

    /// The generation that signs new tokens.
    pub fn signing(&self) -> &Arc<KeyGeneration> {
        &self.signing
    }

    /// The kid that will sign next, and from when (seconds since the epoch):
    /// a newer key waiting out its activation delay.
    pub fn next_signing(&self) -> Option<(&str, i64)> {
        self.next.as_ref().map(|(kid, at)| (kid.as_str(), *at))
    }

    /// Every loaded generation, by kid.
    pub fn keys(&self) -> impl Iterator<Item = &Arc<KeyGeneration>> {
        self.keys.values().map(|state| &state.key)
    }

    /// Every loaded generation with its state, by kid.
    pub fn states(&self) -> impl Iterator<Item = &KeyState> {
        self.keys.values()
    }

    /// How many generations are loaded.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no generation is loaded (never true of a built keyring).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The JWK Set (RFC 7517 section 5) of every loaded public key, rendered
    /// once per load.
    pub fn jwks_json(&self) -> &[u8] {
        &self.jwks
    }
}

/// The keyring the server and guards share; swapped whole on each rescan.
#[derive(Debug, Clone)]
pub struct SharedKeyring(Arc<ArcSwap<Keyring>>);

impl SharedKeyring {
    /// Shares `keyring`.
    pub fn new(keyring: Keyring) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(keyring)))
    }

    /// The current key set. Cheap, lock-free; the set stays alive while held.
    pub fn current(&self) -> Arc<Keyring> {
        self.0.load_full()
    }

    /// The current key set without taking a reference count: for a quick
    /// look-up on a hot path (hold it briefly).
    pub fn load(&self) -> arc_swap::Guard<Arc<Keyring>> {
        self.0.load()
    }

    /// Replaces the key set.
    pub fn replace(&self, keyring: Keyring) {
        self.0.store(Arc::new(keyring));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_are_safe_file_stems() {
        assert!(is_valid_kid("20261121T043000Z"));
        assert!(is_valid_kid("a_b-C"));
        assert!(!is_valid_kid(""));
        assert!(!is_valid_kid("../x"));
        assert!(!is_valid_kid("a.b"));
        assert!(!is_valid_kid(&"a".repeat(65)));
    }

    #[test]
    fn greatest_kid_signs_unless_pinned() {
        let dir = tempfile::tempdir().unwrap();
        write_new_key(dir.path(), "20250101T000000Z", KeyAlg::Eddsa).unwrap();
        write_new_key(dir.path(), "20260101T000000Z", KeyAlg::Es256).unwrap();
        let (ring, broken) = Keyring::load(dir.path(), None).unwrap();
        assert!(broken.is_empty());
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.signing().kid(), "20260101T000000Z");
        let (ring, _) = Keyring::load(dir.path(), Some("20250101T000000Z")).unwrap();
        assert_eq!(ring.signing().kid(), "20250101T000000Z");
        assert!(matches!(
            Keyring::load(dir.path(), Some("nope")),
            Err(KeyringError::PinnedKidMissing { .. })
        ));
    }

    #[test]
    fn empty_folder_names_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let error = Keyring::load(dir.path(), None).unwrap_err();
        assert!(error.to_string().contains("wxauth keygen"));
    }

    #[test]
    fn broken_file_keeps_the_key_it_replaced_and_deleted_file_goes() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_new_key(dir.path(), "a", KeyAlg::Eddsa).unwrap();
        let b = write_new_key(dir.path(), "b", KeyAlg::Eddsa).unwrap();
        let (ring, _) = Keyring::load(dir.path(), None).unwrap();
        std::fs::write(&b, "garbage").unwrap();
        let (ring, broken) = ring.rescan(dir.path(), None).unwrap();
        assert_eq!(broken.len(), 1);
        assert_eq!(ring.signing().kid(), "b");
        std::fs::remove_file(&a).unwrap();
        let (ring, _) = ring.rescan(dir.path(), None).unwrap();
        assert!(ring.get("a").is_none());
    }

    #[test]
    fn the_pin_file_picks_the_signer_unless_the_environment_pins() {
        let dir = tempfile::tempdir().unwrap();
        write_new_key(dir.path(), "a", KeyAlg::Eddsa).unwrap();
        write_new_key(dir.path(), "b", KeyAlg::Eddsa).unwrap();
        std::fs::write(dir.path().join(PIN_FILE), "a\n").unwrap();
        let (ring, broken) = Keyring::load(dir.path(), None).unwrap();
        assert!(broken.is_empty(), "the pin file is not a key file");
        assert_eq!(ring.signing().kid(), "a");
        let (ring, _) = Keyring::load(dir.path(), Some("b")).unwrap();
        assert_eq!(ring.signing().kid(), "b");
        // At start a bad pin refuses; on a rescan it is reported and the
        // signer stays, while the rest of the rescan goes through.
        std::fs::write(dir.path().join(PIN_FILE), "zz").unwrap();
        let error = Keyring::load(dir.path(), None).unwrap_err();
        assert!(error.to_string().contains("signing-kid=zz"), "{error}");
        let (ring, _) = Keyring::load(dir.path(), Some("a")).unwrap();
        write_new_key(dir.path(), "c", KeyAlg::Eddsa).unwrap();
        let (ring, broken) = ring.rescan(dir.path(), None).unwrap();
        assert_eq!(ring.signing().kid(), "a");
        assert!(ring.get("c").is_some(), "the new key loaded all the same");
        assert!(broken[0].error.to_string().contains("signing-kid=zz"));
        std::fs::write(dir.path().join(PIN_FILE), "../x").unwrap();
        std::fs::remove_file(dir.path().join("a.pem")).unwrap();
        let (ring, broken) = ring.rescan(dir.path(), None).unwrap();
        assert_eq!(
            ring.signing().kid(),
            "c",
            "its signer gone: the greatest kid"
        );
        assert_eq!(broken.len(), 1);
        assert!(matches!(
            Keyring::load(dir.path(), None),
            Err(KeyringError::BadPinFile { .. })
        ));
    }

    #[test]
    fn a_rescan_keeps_the_generation_of_an_unchanged_key_and_replaces_a_changed_one() {
        let dir = tempfile::tempdir().unwrap();
        write_new_key(dir.path(), "a", KeyAlg::Eddsa).unwrap();
        write_new_key(dir.path(), "b", KeyAlg::Eddsa).unwrap();
        let (ring, _) = Keyring::load(dir.path(), None).unwrap();
        std::fs::remove_file(dir.path().join("b.pem")).unwrap();
        write_new_key(dir.path(), "b", KeyAlg::Eddsa).unwrap();
        let (again, _) = ring.rescan(dir.path(), None).unwrap();
        assert!(
            Arc::ptr_eq(ring.get("a").unwrap(), again.get("a").unwrap()),
            "unchanged: same object"
        );
        assert!(
            !Arc::ptr_eq(ring.get("b").unwrap(), again.get("b").unwrap()),
            "same kid, new key: new object"
        );
    }

    #[test]
    fn the_environment_pin_ignores_the_pin_file_and_survives_its_file_going() {
        let dir = tempfile::tempdir().unwrap();
        write_new_key(dir.path(), "a", KeyAlg::Eddsa).unwrap();
        write_new_key(dir.path(), "b", KeyAlg::Eddsa).unwrap();
        std::fs::write(dir.path().join(PIN_FILE), "not a kid!").unwrap();
        let (ring, _) = Keyring::load(dir.path(), Some("a")).unwrap();
        assert_eq!(ring.signing().kid(), "a");
        std::fs::remove_file(dir.path().join("a.pem")).unwrap();
        std::fs::remove_file(dir.path().join("b.pem")).unwrap();
        write_new_key(dir.path(), "c", KeyAlg::Eddsa).unwrap();
        let (ring, broken) = ring.rescan(dir.path(), Some("a")).unwrap();
        assert_eq!(ring.signing().kid(), "a", "still signing");
        assert!(ring.get("b").is_none(), "a deleted key still goes");
        assert!(ring.get("c").is_some(), "a new key still loads");
        assert!(
            broken
                .iter()
                .any(|f| f.error.to_string().contains("WXAUTH_SIGNING_KID=a"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn keygen_writes_owner_only_files_and_never_overwrites() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = write_new_key(dir.path(), "k", KeyAlg::Eddsa).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(write_new_key(dir.path(), "k", KeyAlg::Eddsa).is_err());
    }

    fn set_age(path: &std::path::Path, seconds: u64) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(seconds))
            .unwrap();
    }

    #[test]
    fn a_new_key_verifies_at_once_and_signs_after_the_activation_delay() {
        let dir = tempfile::tempdir().unwrap();
        let old = write_new_key(dir.path(), "20250101T000000Z", KeyAlg::Eddsa).unwrap();
        set_age(&old, 3600);
        write_new_key(dir.path(), "20260101T000000Z", KeyAlg::Eddsa).unwrap();
        let rule = SigningRule {
            pin: None,
            activation_delay: 600,
        };
        let now = chrono::Utc::now().timestamp();

        let (ring, _) = Keyring::load_with(dir.path(), &rule, now).unwrap();
        assert_eq!(ring.signing().kid(), "20250101T000000Z");
        assert!(ring.get("20260101T000000Z").is_some(), "verifies at once");
        let (next, from) = ring.next_signing().unwrap();
        assert_eq!(next, "20260101T000000Z");
        assert!((now + 590..=now + 610).contains(&from), "{from} vs {now}");

        let (later, _) = ring.rescan_with(dir.path(), &rule, now + 601).unwrap();
        assert_eq!(later.signing().kid(), "20260101T000000Z");
        assert_eq!(later.next_signing(), None);
        // The same moment seen by a replica started then: the same signer.
        let (fresh, _) = Keyring::load_with(dir.path(), &rule, now + 601).unwrap();
        assert_eq!(fresh.signing().kid(), "20260101T000000Z");
    }

    #[test]
    fn a_fresh_folder_signs_at_once_and_a_pin_promotes_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_new_key(dir.path(), "a", KeyAlg::Eddsa).unwrap();
        let b = write_new_key(dir.path(), "b", KeyAlg::Eddsa).unwrap();
        set_age(&a, 20);
        set_age(&b, 10);
        let rule = SigningRule {
            pin: None,
            activation_delay: 600,
        };
        let now = chrono::Utc::now().timestamp();
        let (ring, _) = Keyring::load_with(dir.path(), &rule, now).unwrap();
        assert_eq!(
            ring.signing().kid(),
            "a",
            "no key active: the first published signs, as it did when it was alone"
        );
        assert_eq!(ring.next_signing().map(|(kid, _)| kid), Some("b"));

        set_age(&dir.path().join("a.pem"), 3600);
        write_new_key(dir.path(), "c", KeyAlg::Eddsa).unwrap();
        std::fs::write(dir.path().join(PIN_FILE), "c").unwrap();
        let (ring, _) = ring.rescan_with(dir.path(), &rule, now).unwrap();
        assert_eq!(ring.signing().kid(), "c", "the pin file promotes at once");
        let pinned = SigningRule {
            pin: Some("a".into()),
            activation_delay: 600,
        };
        let (ring, _) = ring.rescan_with(dir.path(), &pinned, now).unwrap();
        assert_eq!(ring.signing().kid(), "a");
        assert_eq!(ring.next_signing(), None, "a pin has no next");
    }

    #[test]
    fn an_active_key_stays_active_when_its_file_is_redated() {
        // A Kubernetes Secret update rewrites every file: the signer must
        // not change because the old key looks new again.
        let dir = tempfile::tempdir().unwrap();
        let a = write_new_key(dir.path(), "a", KeyAlg::Eddsa).unwrap();
        set_age(&a, 3600);
        let rule = SigningRule {
            pin: None,
            activation_delay: 600,
        };
        let now = chrono::Utc::now().timestamp();
        let (ring, _) = Keyring::load_with(dir.path(), &rule, now).unwrap();
        write_new_key(dir.path(), "b", KeyAlg::Eddsa).unwrap();
        set_age(&a, 0);
        let (ring, _) = ring.rescan_with(dir.path(), &rule, now).unwrap();
        assert_eq!(ring.signing().kid(), "a");
        assert_eq!(ring.next_signing().map(|(kid, _)| kid), Some("b"));
    }

    #[cfg(unix)]
    #[test]
    fn fifos_devices_and_huge_files_are_refused_without_stalling_the_scan() {
        let dir = tempfile::tempdir().unwrap();
        write_new_key(dir.path(), "good", KeyAlg::Eddsa).unwrap();
        let fifo = dir.path().join("fifo.pem");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.pem")).unwrap();
        let big = std::fs::File::create(dir.path().join("big.pem")).unwrap();
        big.set_len(300 * 1024 * 1024).unwrap();

        let started = std::time::Instant::now();
        let (ring, broken) = Keyring::load(dir.path(), None).unwrap();

        assert!(started.elapsed() < READ_WAIT, "no file was waited on");
        assert_eq!(ring.len(), 1);
        let reasons: Vec<String> = broken
            .iter()
            .map(|file| format!("{}: {}", file.path.display(), file.error))
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("fifo.pem: is not a regular file"))
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("zero.pem: is not a regular file"))
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("big.pem: is larger than 65536 bytes"))
        );
    }

    #[test]
    fn a_folder_of_refused_keys_names_each_file_and_why() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k.pem"), "not a key").unwrap();
        let error = Keyring::load(dir.path(), None).unwrap_err().to_string();
        assert!(error.contains("k.pem: not a PEM file"), "{error}");
        assert!(error.contains("wxauth keygen"), "{error}");
    }
}
