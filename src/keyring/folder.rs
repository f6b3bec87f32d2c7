//! The key folder on disk: reading it (every `<kid>.pem`, and the pin file),
//! and writing new keys. Reading follows the rules of docs/API.md, "Keys and rotation", because
//! whoever can write to the folder is not necessarily trusted with the
//! server: only regular files (after symlinks) of at most
//! [`MAX_KEY_FILE`] bytes are read, each within [`READ_WAIT`], so a FIFO, a
//! device or a hung network folder cannot stall a rescan; a key readable by
//! group or others is loaded with a warning.

use super::generate::generate_pem;
use super::key::{KeyAlg, KeyError, KeyGeneration};
use super::{BrokenKeyFile, FileError, KeyringError};
use crate::fs::{FileRead, ReadError};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The file in the key folder that pins the signing kid (one line, the kid).
pub const PIN_FILE: &str = "signing-kid";
/// The largest key file read; an RSA-4096 PEM is about 3.3 KiB.
pub const MAX_KEY_FILE: u64 = 64 * 1024;
/// How long one file may take to read before it is given up on.
pub const READ_WAIT: Duration = Duration::from_secs(2);

/// Whether `kid` is a valid key id: 1 to 64 characters of `[A-Za-z0-9_-]`,
/// so it is safe as a file stem and in a JWT header.
pub fn is_valid_kid(kid: &str) -> bool {
    crate::domain::Kid::parse(kid).is_ok()
}

/// The kid a key file's path names, if it names one.
pub(super) fn kid_of(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    let kid = name.strip_suffix(".pem")?;
    is_valid_kid(kid).then_some(kid)
}

/// What one pass over the folder found.
pub(super) struct Scan {
    /// Each loaded generation with its file's modification time.
    pub(super) keys: BTreeMap<String, (Arc<KeyGeneration>, Option<i64>)>,
    pub(super) broken: Vec<BrokenKeyFile>,
    /// The kid in the pin file, if there is one; an error if it is bad.
    pub(super) pin: Result<Option<String>, KeyringError>,
}

/// Reads every `<kid>.pem` in `dir`, and the pin file. Dot files (such as the
/// `..data` links of a Kubernetes Secret volume) and `README.md` are passed
/// over quietly; other files are passed over with a warning.
pub(super) fn scan(dir: &Path) -> Result<Scan, KeyringError> {
    let io_error = |source| KeyringError::Io {
        dir: dir.to_owned(),
        source,
    };
    let mut keys = BTreeMap::new();
    let mut broken = Vec::new();
    let entries = match crate::fs::list_bounded(dir, READ_WAIT) {
        // A folder that does not exist holds no keys; say so, naming keygen.
        Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Scan {
                keys,
                broken,
                pin: Ok(None),
            });
        }
        Err(ReadError::Io(e)) => return Err(io_error(e)),
        Err(other) => return Err(io_error(std::io::Error::other(other.to_string()))),
        Ok(entries) => entries,
    };
    for (path, name) in entries {
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
        let loaded = read_file(&path, MAX_KEY_FILE).and_then(|file| {
            if file.shared {
                log::warn!(
                    "key file {} is readable by group or others: chmod 600 it",
                    path.display()
                );
            }
            let key = KeyGeneration::from_pem(kid, &path, &file.bytes)?;
            Ok((Arc::new(key), file.modified))
        });
        match loaded {
            Ok(found) => {
                keys.insert(kid.to_owned(), found);
            }
            Err(error) => broken.push(BrokenKeyFile {
                path,
                error: FileError::Key(error),
            }),
        }
    }
    let pin_path = dir.join(PIN_FILE);
    let pin = match read_file(&pin_path, 1024) {
        Ok(file) => match std::str::from_utf8(&file.bytes).map(str::trim) {
            Ok(kid) if is_valid_kid(kid) => Ok(Some(kid.to_owned())),
            _ => Err(KeyringError::BadPinFile { path: pin_path }),
        },
        Err(KeyError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(_) => Err(KeyringError::BadPinFile { path: pin_path }),
    };
    Ok(Scan { keys, broken, pin })
}

/// Reads `path` under the folder's rules (see [`crate::fs`]).
fn read_file(path: &Path, max: u64) -> Result<FileRead, KeyError> {
    crate::fs::read_bounded(path, max, READ_WAIT).map_err(KeyError::from)
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
