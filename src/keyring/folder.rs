//! The key folder on disk: reading it (every `<kid>.pem`, and the pin file),
//! and writing new keys. Reading follows SPEC section 4's rules, because
//! whoever can write to the folder is not necessarily trusted with the
//! server: only regular files (after symlinks) of at most
//! [`MAX_KEY_FILE`] bytes are read, each within [`READ_WAIT`], so a FIFO, a
//! device or a hung network folder cannot stall a rescan; a key readable by
//! group or others is loaded with a warning.

use super::generate::generate_pem;
use super::key::{KeyAlg, KeyError, KeyGeneration};
use super::{BrokenKeyFile, FileError, KeyringError};
use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
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
    (1..=64).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
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

/// A file read under the folder's rules.
struct FileRead {
    bytes: Vec<u8>,
    /// Modification time, seconds since the epoch.
    modified: Option<i64>,
    /// Readable by group or others.
    shared: bool,
}

/// Reads `path` if it is a regular file (after symlinks) of at most `max`
/// bytes, giving up after [`READ_WAIT`]: the read runs on a thread of its
/// own, so a FIFO, a device or a hung network folder costs that thread, not
/// the rescan.
fn read_file(path: &Path, max: u64) -> Result<FileRead, KeyError> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let owned = path.to_owned();
    std::thread::Builder::new()
        .name("wxauth-key-read".into())
        .spawn(move || {
            let _ = sender.send(read_file_now(&owned, max));
        })
        .map_err(KeyError::Io)?;
    receiver
        .recv_timeout(READ_WAIT)
        .map_err(|_| KeyError::Slow(READ_WAIT))?
}

fn read_file_now(path: &Path, max: u64) -> Result<FileRead, KeyError> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(KeyError::NotAFile);
    }
    if metadata.len() > max {
        return Err(KeyError::TooLarge(max));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Non-blocking: a FIFO swapped in after the check above must not block
    // the open.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, NONBLOCK);
    let file = options.open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(KeyError::NotAFile);
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(KeyError::TooLarge(max));
    }
    let modified = metadata
        .modified()
        .ok()
        .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|age| i64::try_from(age.as_secs()).ok());
    #[cfg(unix)]
    let shared = std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o077 != 0;
    #[cfg(not(unix))]
    let shared = false;
    Ok(FileRead {
        bytes,
        modified,
        shared,
    })
}

/// `O_NONBLOCK` (Linux, and the BSDs' value differs; only used on open).
#[cfg(all(unix, any(target_os = "linux", target_os = "android")))]
const NONBLOCK: i32 = 0o4000;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const NONBLOCK: i32 = 0x0004;

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
