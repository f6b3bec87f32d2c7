//! Reading files from folders whose content the server does not control
//! (the key folder, the revocation file): only regular files (after
//! symlinks), at most a given size, each read (and each folder listing) on
//! a thread of its own given a bounded wait. A FIFO, a device or a hung
//! network folder costs one stuck thread, not the caller; and a path whose
//! read is still stuck is not read again until it returns, so a caller that
//! retries (a rescan a second, forced by clients with unknown kids) cannot
//! pile up threads.

use std::collections::BTreeSet;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// A file read under these rules.
#[derive(Debug)]
pub struct FileRead {
    /// Its content.
    pub bytes: Vec<u8>,
    /// Its modification time, seconds since the epoch.
    pub modified: Option<i64>,
    /// Whether group or others may read it.
    pub shared: bool,
}

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file system said no.
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    /// Not a regular file (after symlinks): a FIFO, a device, a folder.
    #[error("is not a regular file")]
    NotAFile,
    /// Larger than allowed.
    #[error("is larger than {0} bytes")]
    TooLarge(u64),
    /// The read did not finish in time (or an earlier one still has not).
    #[error("could not be read within {0:?}")]
    Slow(Duration),
}

/// Paths whose read (or listing) is under way on its own thread.
fn in_flight() -> &'static Mutex<BTreeSet<PathBuf>> {
    static PATHS: OnceLock<Mutex<BTreeSet<PathBuf>>> = OnceLock::new();
    PATHS.get_or_init(Mutex::default)
}

/// Runs `work` on a thread of its own and waits `wait` for it; refuses at
/// once while an earlier `work` on `path` is still running.
fn bounded<T: Send + 'static>(
    path: &Path,
    wait: Duration,
    work: impl FnOnce(&Path) -> Result<T, ReadError> + Send + 'static,
) -> Result<T, ReadError> {
    let key = path.to_owned();
    if !in_flight()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key.clone())
    {
        return Err(ReadError::Slow(wait));
    }
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("wxauth-file-read".into())
        .spawn(move || {
            let result = work(&key);
            in_flight()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
            let _ = sender.send(result);
        });
    if let Err(e) = spawned {
        in_flight()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(path);
        return Err(ReadError::Io(e));
    }
    receiver
        .recv_timeout(wait)
        .map_err(|_| ReadError::Slow(wait))?
}

/// Reads `path` if it is a regular file of at most `max` bytes, within
/// `wait`.
pub fn read_bounded(path: &Path, max: u64, wait: Duration) -> Result<FileRead, ReadError> {
    bounded(path, wait, move |path| read_now(path, max))
}

/// The entries of `dir` (path and file name), listed within `wait`.
pub fn list_bounded(dir: &Path, wait: Duration) -> Result<Vec<(PathBuf, String)>, ReadError> {
    bounded(dir, wait, |dir| {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            entries.push((
                entry.path(),
                entry.file_name().to_string_lossy().into_owned(),
            ));
        }
        Ok(entries)
    })
}

fn read_now(path: &Path, max: u64) -> Result<FileRead, ReadError> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(ReadError::NotAFile);
    }
    if metadata.len() > max {
        return Err(ReadError::TooLarge(max));
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
        return Err(ReadError::NotAFile);
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge(max));
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

/// `O_NONBLOCK` (Linux; the BSDs' value differs; only used on open).
#[cfg(all(unix, any(target_os = "linux", target_os = "android")))]
const NONBLOCK: i32 = 0o4000;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const NONBLOCK: i32 = 0x0004;

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_stuck_read_is_not_started_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "x").unwrap();
        // Hold the path as if a read of it were stuck.
        in_flight().lock().unwrap().insert(path.clone());
        let error = read_bounded(&path, 10, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(error, ReadError::Slow(_)), "{error}");
        in_flight().lock().unwrap().remove(&path);
        assert_eq!(
            read_bounded(&path, 10, Duration::from_secs(1))
                .unwrap()
                .bytes,
            b"x"
        );
        assert!(matches!(
            read_bounded(&path, 0, Duration::from_secs(1)),
            Err(ReadError::TooLarge(0))
        ));
    }
}
