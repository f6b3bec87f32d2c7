//! Revocations and bans without a store (README, "Revoking and banning"): a
//! text file every replica reads, reread by the [`crate::reload::Reloader`]
//! (timer, SIGHUP) and swapped whole. An id matches a token's `sub`
//! (openid) or its `unionid`. A file that does not parse, or cannot be
//! read, keeps the entries the server had: a ban is never dropped silently.
//!
//! - [`format`]: the file's lines, streamed;
//! - [`list`]: the parsed list, compact (24 bytes an id);
//! - [`shared`]: the list the guard and logins share, and the file as a
//!   watched file;
//! - [`editor`]: what `wxauth revoke|ban|unban` do to the file.

pub mod editor;
pub mod format;
pub mod list;
pub mod shared;

pub use editor::{Edit, Editor, Outcome, edit};
pub use format::{BadId, MAX_ID_LEN, ParseError, check_id};
pub use list::Revocations;
pub use shared::{MAX_FILE, RevocationWatch, SharedRevocations};

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong with the revocation file, for the server or the CLI.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    /// The file could not be read under the servers' rules (missing,
    /// unreadable, not a regular file, above the size cap, too slow).
    #[error("{path}: {source}", path = .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: crate::fs::ReadError,
    },
    /// A line does not parse.
    #[error("{path} does not parse ({source}): fix it first", path = .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Which line, and why.
        source: ParseError,
    },
    /// The id is not an openid or unionid.
    #[error(transparent)]
    BadId(#[from] BadId),
    /// A `revoke` time chrono cannot write.
    #[error("the time {0} is out of range")]
    TimeOutOfRange(i64),
    /// The edit would make the file larger than the servers read.
    #[error(
        "{path} would grow above {max} bytes, which no server loads: nothing was written; \
         remove lines that are no longer needed first",
        path = .path.display()
    )]
    WouldBeTooLarge {
        /// The file.
        path: PathBuf,
        /// The servers' cap.
        max: u64,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock {lock} for editing: {source}", lock = .lock.display())]
    Lock {
        /// The lock file.
        lock: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Something other than a regular file is where the lock file goes.
    #[error(
        "{lock} is not a regular file (the lock of the revocation file): remove it",
        lock = .lock.display()
    )]
    LockNotAFile {
        /// The lock file.
        lock: PathBuf,
    },
    /// Another editor held the lock for the whole wait.
    #[error(
        "another edit of the revocation file holds {lock} (held by {holder}); waited \
         {waited:?}, nothing was written. Look for that process (`fuser -v {lock}`, \
         `ps -p PID`) and try again once it has finished",
        lock = .lock.display(),
        holder = if .holder.is_empty() { "a process that did not say" } else { .holder.as_str() }
    )]
    Locked {
        /// The lock file.
        lock: PathBuf,
        /// How long the editor waited.
        waited: Duration,
        /// What the holder wrote into the lock file: its pid, its command,
        /// since when.
        holder: String,
    },
    /// The new file could not be written.
    #[error("cannot write {path}: {source}", path = .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
