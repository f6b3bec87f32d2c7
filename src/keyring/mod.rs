//! The key folder: every `<kid>.pem` in it is one key generation. Every loaded
//! key verifies; one signs: `WXAUTH_SIGNING_KID`, or else the greatest kid
//! (so a kid that is a UTC timestamp makes the newest key sign).
//!
//! The signing key may also be pinned at run time by a one-line file
//! [`PIN_FILE`] in the folder, which every rescan reads, so a key is promoted
//! on every replica without a restart. `WXAUTH_SIGNING_KID`, when set, wins.
//!
//! The set is swapped atomically behind [`SharedKeyring`]: readers take the
//! current set without locking and never see a half-loaded one.

mod key;
mod reload;
pub mod seal;

pub use key::{KeyAlg, KeyError, KeyGeneration, generate_pem};
pub use reload::KeyReloader;

/// The file in the key folder that pins the signing kid (one line, the kid).
pub const PIN_FILE: &str = "signing-kid";

use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Whether `kid` is a valid key id: 1 to 64 characters of `[A-Za-z0-9_-]`,
/// so it is safe as a file stem and in a JWT header.
pub fn is_valid_kid(kid: &str) -> bool {
    (1..=64).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Why no usable key set could be made.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The folder could not be listed.
    #[error("cannot read the key folder {dir}: {source}")]
    Io {
        /// The folder.
        dir: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The folder holds no usable key.
    #[error(
        "no usable key in {dir}: create one with `wxauth keygen --dir {dir}` \
         (or `openssl genpkey -algorithm ed25519 -out {dir}/<kid>.pem`)",
        dir = .dir.display()
    )]
    NoKeys {
        /// The folder.
        dir: PathBuf,
    },
    /// The pin names a key that is not loaded.
    #[error("{origin}={kid} names no usable key file in {dir}", dir = .dir.display())]
    PinnedKidMissing {
        /// Where the pin came from: `WXAUTH_SIGNING_KID` or the pin file.
        origin: &'static str,
        /// The pinned kid.
        kid: String,
        /// The folder.
        dir: PathBuf,
    },
    /// The pin file does not hold a kid.
    #[error("{path} must hold one kid (1 to 64 characters of [A-Za-z0-9_-])", path = .path.display())]
    BadPinFile {
        /// The pin file.
        path: PathBuf,
    },
}

/// A file in the key folder that could not be loaded, and why.
#[derive(Debug)]
pub struct BrokenKeyFile {
    /// The file.
    pub path: PathBuf,
    /// Why it was skipped.
    pub error: KeyError,
}

/// Loaded generations by kid; a `BTreeMap` so the greatest kid is the last.
type KeyMap = BTreeMap<String, Arc<KeyGeneration>>;

/// An immutable set of loaded key generations with the one that signs.
#[derive(Debug)]
pub struct Keyring {
    keys: KeyMap,
    signing: Arc<KeyGeneration>,
    jwks: Vec<u8>,
}

impl Keyring {
    /// Loads every key file of `dir`. Broken files are returned beside the
    /// keyring, for the caller to log; a folder without a usable key, or a pin
    /// naming no loaded key, is an error.
    pub fn load(dir: &Path, pin: Option<&str>) -> Result<(Self, Vec<BrokenKeyFile>), KeyringError> {
        let scan = scan(dir)?;
        // WXAUTH_SIGNING_KID wins: the pin file is not even read then.
        let file_pin = if pin.is_some() { None } else { scan.pin? };
        Ok((Self::from_keys(dir, scan.keys, pin, file_pin)?, scan.broken))
    }

    /// Rescans `dir` on top of this keyring. A file that fails to load keeps
    /// the key this keyring had for its kid; a file gone from the folder stops
    /// verifying. A pin file that is unreadable or names no loaded key is
    /// reported with the broken files and changes nothing about who signs
    /// (the current signer, or the greatest kid if it is gone), so it cannot
    /// hold up the rest of the rescan. The result always has a signing key,
    /// or the rescan fails and the caller keeps what it had.
    pub fn rescan(
        &self,
        dir: &Path,
        pin: Option<&str>,
    ) -> Result<(Self, Vec<BrokenKeyFile>), KeyringError> {
        let Scan {
            mut keys,
            mut broken,
            pin: file_pin,
        } = scan(dir)?;
        for file in &broken {
            if let Some(kid) = kid_of(&file.path)
                && let Some(old) = self.keys.get(kid)
            {
                keys.insert(kid.to_owned(), Arc::clone(old));
            }
        }
        // An unchanged key keeps its generation object: tokens it verified
        // stay in the verified-token cache, which checks generation identity.
        for (kid, key) in keys.iter_mut() {
            if let Some(old) = self.keys.get(kid)
                && old.same_key(key)
            {
                *key = Arc::clone(old);
            }
        }
        // The environment's pinned key gone from the folder: an operator's
        // mistake; it keeps signing (and verifying) rather than every rescan
        // failing, so new keys still load and deleted ones still go.
        if let Some(kid) = pin
            && !keys.contains_key(kid)
            && let Some(old) = self.keys.get(kid)
        {
            keys.insert(kid.to_owned(), Arc::clone(old));
            broken.push(BrokenKeyFile {
                path: dir.join(format!("{kid}.pem")),
                error: KeyError::Pin(format!(
                    "WXAUTH_SIGNING_KID={kid} names a file that is gone; its key stays loaded and signing"
                )),
            });
        }
        let file_pin = if pin.is_some() { Ok(None) } else { file_pin };
        let file_pin = match file_pin {
            Ok(Some(kid)) if !keys.contains_key(&kid) => Err(KeyringError::PinnedKidMissing {
                origin: PIN_FILE,
                kid,
                dir: dir.to_owned(),
            }),
            other => other,
        };
        let file_pin = match file_pin {
            Ok(file_pin) => file_pin,
            Err(error) => {
                broken.push(BrokenKeyFile {
                    path: dir.join(PIN_FILE),
                    error: KeyError::Pin(format!("{error}; the signing key stays as it was")),
                });
                let current = self.signing.kid();
                keys.contains_key(current).then(|| current.to_owned())
            }
        };
        Ok((Self::from_keys(dir, keys, pin, file_pin)?, broken))
    }

    /// Picks the signing key: the `WXAUTH_SIGNING_KID` pin, else the pin
    /// file's, else the greatest kid.
    fn from_keys(
        dir: &Path,
        keys: KeyMap,
        env_pin: Option<&str>,
        file_pin: Option<String>,
    ) -> Result<Self, KeyringError> {
        let pin = match (env_pin, file_pin.as_deref()) {
            (Some(kid), _) => Some(("WXAUTH_SIGNING_KID", kid)),
            (None, Some(kid)) => Some((PIN_FILE, kid)),
            (None, None) => None,
        };
        let signing = match pin {
            Some((origin, kid)) => keys
                .get(kid)
                .ok_or_else(|| KeyringError::PinnedKidMissing {
                    origin,
                    kid: kid.to_owned(),
                    dir: dir.to_owned(),
                })?,
            None => keys
                .values()
                .next_back()
                .ok_or_else(|| KeyringError::NoKeys {
                    dir: dir.to_owned(),
                })?,
        };
        let signing = Arc::clone(signing);
        let jwks = render_jwks(keys.values().map(|key| key.as_ref()));
        Ok(Self {
            keys,
            signing,
            jwks,
        })
    }

    /// The generation with this kid, if loaded.
    pub fn get(&self, kid: &str) -> Option<&Arc<KeyGeneration>> {
        self.keys.get(kid)
    }

    /// The generation that signs new tokens.
    pub fn signing(&self) -> &Arc<KeyGeneration> {
        &self.signing
    }

    /// Every loaded generation, by kid.
    pub fn keys(&self) -> impl Iterator<Item = &Arc<KeyGeneration>> {
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

/// The JWK Set (RFC 7517 section 5) of `keys`, as JSON bytes. Rendered once
/// per load; `/.well-known/jwks.json` serves the bytes.
pub fn render_jwks<'a>(keys: impl Iterator<Item = &'a KeyGeneration>) -> Vec<u8> {
    let set = serde_json::json!({ "keys": keys.map(KeyGeneration::jwk).collect::<Vec<_>>() });
    serde_json::to_vec(&set).unwrap_or_default()
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

fn kid_of(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    let kid = name.strip_suffix(".pem")?;
    is_valid_kid(kid).then_some(kid)
}

/// What one pass over the folder found.
struct Scan {
    keys: KeyMap,
    broken: Vec<BrokenKeyFile>,
    /// The kid in the pin file, if there is one; an error if it is bad.
    pin: Result<Option<String>, KeyringError>,
}

/// Reads every `<kid>.pem` in `dir`, and the pin file. Dot files (such as the
/// `..data` links of a Kubernetes Secret volume) and `README.md` are passed
/// over quietly; other files are passed over with a warning.
fn scan(dir: &Path) -> Result<Scan, KeyringError> {
    let io_error = |source| KeyringError::Io {
        dir: dir.to_owned(),
        source,
    };
    let mut keys = BTreeMap::new();
    let mut broken = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        // A folder that does not exist holds no keys; say so, naming keygen.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Scan {
                keys,
                broken,
                pin: Ok(None),
            });
        }
        other => other.map_err(io_error)?,
    };
    for entry in entries {
        let entry = entry.map_err(io_error)?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "README.md" || name == PIN_FILE {
            continue;
        }
        let Some(kid) = kid_of(&path) else {
            log::warn!(
                "ignoring {}: key files are named <kid>.pem with a kid of 1 to 64 [A-Za-z0-9_-]",
                path.display()
            );
            continue;
        };
        // `read` follows symlinks, which is how Secret volumes present files.
        let loaded = std::fs::read(&path)
            .map_err(KeyError::from)
            .and_then(|text| KeyGeneration::from_pem(kid, &path, &text));
        match loaded {
            Ok(key) => {
                keys.insert(kid.to_owned(), Arc::new(key));
            }
            Err(error) => broken.push(BrokenKeyFile { path, error }),
        }
    }
    let pin_path = dir.join(PIN_FILE);
    let pin = match std::fs::read_to_string(&pin_path) {
        Ok(text) if is_valid_kid(text.trim()) => Ok(Some(text.trim().to_owned())),
        Ok(_) => Err(KeyringError::BadPinFile { path: pin_path }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(io_error(source)),
    };
    Ok(Scan { keys, broken, pin })
}

/// Writes a new key of `alg` as `dir/<kid>.pem`, readable by its owner only
/// (mode 0600), creating `dir` if needed. Refuses to overwrite a file.
pub fn write_new_key(dir: &Path, kid: &str, alg: KeyAlg) -> Result<PathBuf, std::io::Error> {
    if !is_valid_kid(kid) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{kid:?} is not a kid: use 1 to 64 characters of [A-Za-z0-9_-]"),
        ));
    }
    let pem = generate_pem(alg).map_err(std::io::Error::other)?;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{kid}.pem"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok(path)
}

/// The default kid: the UTC time as `YYYYMMDDTHHMMSSZ`, so newer sorts later.
pub fn default_kid(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
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
}
