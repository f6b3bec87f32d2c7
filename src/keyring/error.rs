//! Why a key folder gave no usable key set, and what was wrong with a file
//! in it. Each message names the fix: a key the server cannot read is a
//! matter of owner or mode, never of a new key (which would sign at once
//! and log every user out).

use super::key::KeyError;
use std::fmt;
use std::path::PathBuf;

/// Why no usable key set could be made.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The folder could not be listed.
    #[error(
        "cannot read the key folder {dir}: {source}{fix}",
        dir = .dir.display(),
        fix = if .source.kind() == std::io::ErrorKind::PermissionDenied {
            format!(": fix the folder's owner or mode so that {} may read it", whoami())
        } else {
            String::new()
        }
    )]
    Io {
        /// The folder.
        dir: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The folder holds no usable key.
    #[error(
        "no usable key in {dir}{refused}: create one with `wxauth keygen --dir {dir}` \
         (or `openssl genpkey -algorithm ed25519 -out {dir}/<kid>.pem`)",
        dir = .dir.display(),
        refused = refused_list(.refused)
    )]
    NoKeys {
        /// The folder.
        dir: PathBuf,
        /// The key files that were refused, each with why.
        refused: Vec<String>,
    },
    /// The folder holds key files the server is not allowed to read, and no
    /// key it can: a matter of owner or mode (the container image runs as
    /// uid 65532), not of a new key, which would sign at once and log every
    /// user out.
    #[error(
        "no usable key in {dir}: {files} cannot be read (permission denied): fix the owner \
         or mode so that {who} may read {them} (`chown` to that user, `chmod 600`), and keep \
         the key: a replacement would sign tokens no other replica knows and log every user out",
        dir = .dir.display(),
        files = .files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
        who = whoami(),
        them = if .files.len() == 1 { "it" } else { "them" }
    )]
    Unreadable {
        /// The folder.
        dir: PathBuf,
        /// The key files refused with "permission denied".
        files: Vec<PathBuf>,
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

/// This process's user, as a message names it: `wxauth (uid N)`.
fn whoami() -> String {
    // The owner of /proc/self is the process's effective uid (Linux); no
    // system call needed.
    #[cfg(unix)]
    if let Ok(metadata) = std::fs::metadata("/proc/self") {
        return format!(
            "wxauth (uid {})",
            std::os::unix::fs::MetadataExt::uid(&metadata)
        );
    }
    "the user wxauth runs as".to_owned()
}

impl FileError {
    /// Whether the file was refused because the server may not read it.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, Self::Key(KeyError::Io(e)) if e.kind() == std::io::ErrorKind::PermissionDenied)
    }
}

impl KeyringError {
    /// "No usable key" for `dir`, given the files refused: a file the server
    /// may not read makes it [`KeyringError::Unreadable`].
    pub(super) fn no_keys(dir: &std::path::Path, broken: &[BrokenKeyFile]) -> Self {
        let unreadable: Vec<PathBuf> = broken
            .iter()
            .filter(|file| file.error.is_permission_denied())
            .map(|file| file.path.clone())
            .collect();
        if unreadable.is_empty() {
            Self::NoKeys {
                dir: dir.to_owned(),
                refused: broken
                    .iter()
                    .map(|file| format!("{}: {}", file.path.display(), file.error))
                    .collect(),
            }
        } else {
            Self::Unreadable {
                dir: dir.to_owned(),
                files: unreadable,
            }
        }
    }
}

fn refused_list(refused: &[String]) -> String {
    if refused.is_empty() {
        String::new()
    } else {
        format!(" (refused: {})", refused.join("; "))
    }
}

/// What was wrong with a file in the key folder.
#[derive(Debug)]
pub enum FileError {
    /// A key file that could not be loaded.
    Key(KeyError),
    /// The pin file, or a pin, that could not be followed.
    Pin(String),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(error) if self.is_permission_denied() => {
                write!(
                    f,
                    "{error}: fix its owner or mode so that {} may read it",
                    whoami()
                )
            }
            Self::Key(error) => error.fmt(f),
            Self::Pin(message) => f.write_str(message),
        }
    }
}

/// A file in the key folder that could not be used, and why.
#[derive(Debug)]
pub struct BrokenKeyFile {
    /// The file.
    pub path: PathBuf,
    /// Why it was skipped.
    pub error: FileError,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(kind: std::io::ErrorKind) -> BrokenKeyFile {
        BrokenKeyFile {
            path: PathBuf::from("/keys/20260101T000000Z.pem"),
            error: FileError::Key(KeyError::Io(std::io::Error::from(kind))),
        }
    }

    #[test]
    fn a_key_the_server_may_not_read_names_owner_and_mode_and_never_keygen() {
        let dir = std::path::Path::new("/keys");
        let said = KeyringError::no_keys(dir, &[refused(std::io::ErrorKind::PermissionDenied)])
            .to_string();
        assert!(said.contains("/keys/20260101T000000Z.pem"), "{said}");
        assert!(said.contains("fix the owner or mode"), "{said}");
        assert!(said.contains("wxauth (uid "), "{said}");
        assert!(!said.contains("keygen"), "{said}");
        // Any other refusal: no key to keep, so a new one is the advice.
        let said =
            KeyringError::no_keys(dir, &[refused(std::io::ErrorKind::InvalidData)]).to_string();
        assert!(said.contains("wxauth keygen"), "{said}");
        let said = refused(std::io::ErrorKind::PermissionDenied)
            .error
            .to_string();
        assert!(said.contains("fix its owner or mode"), "{said}");
    }
}
