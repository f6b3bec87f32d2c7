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
fn bounded<T: Send + 'static, E: From<ReadError> + Send + 'static>(
    path: &Path,
    wait: Duration,
    work: impl FnOnce(&Path) -> Result<T, E> + Send + 'static,
) -> Result<T, E> {
    let key = path.to_owned();
    if !in_flight()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key.clone())
    {
        return Err(ReadError::Slow(wait).into());
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
        return Err(ReadError::Io(e).into());
    }
    receiver
        .recv_timeout(wait)
        .map_err(|_| E::from(ReadError::Slow(wait)))?
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

/// A regular file opened under these rules, for a caller that streams it.
#[derive(Debug)]
pub struct OpenedFile {
    /// The file, read at most up to the size cap (one byte more tells that
    /// it grew past it: see [`OpenedFile::check_size`]).
    pub reader: std::io::Take<std::fs::File>,
    /// Its modification time, seconds since the epoch.
    pub modified: Option<i64>,
    max: u64,
}

impl OpenedFile {
    /// Whether the reader gave more than the cap (the file grew after it was
    /// opened): call when done reading.
    pub fn check_size(&self) -> Result<(), ReadError> {
        if self.reader.limit() == 0 {
            Err(ReadError::TooLarge(self.max))
        } else {
            Ok(())
        }
    }
}

/// Opens `path` if it is a regular file of at most `max` bytes, and runs
/// `work` on it, all within `wait` (on a thread of its own, as
/// [`read_bounded`]): for files streamed rather than read whole.
pub fn with_file_bounded<T, E>(
    path: &Path,
    max: u64,
    wait: Duration,
    work: impl FnOnce(OpenedFile) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<ReadError> + Send + 'static,
{
    bounded(path, wait, move |path| {
        let (file, metadata) = open_regular(path, max)?;
        work(OpenedFile {
            reader: file.take(max + 1),
            modified: modified(&metadata),
            max,
        })
    })
}

/// Opens `path` for reading if it is a regular file of at most `max` bytes,
/// without ever blocking on the open.
fn open_regular(path: &Path, max: u64) -> Result<(std::fs::File, std::fs::Metadata), ReadError> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(ReadError::NotAFile);
    }
    if metadata.len() > max {
        return Err(ReadError::TooLarge(max));
    }
    let file = open_nonblocking(std::fs::OpenOptions::new().read(true), path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(ReadError::NotAFile);
    }
    if metadata.len() > max {
        return Err(ReadError::TooLarge(max));
    }
    Ok((file, metadata))
}

/// Opens `path` with `options` and `O_NONBLOCK` (Unix): a FIFO swapped in
/// after a check cannot block the open (POSIX `open`, `O_NONBLOCK`). The
/// flag is the platform's own, from `libc`.
pub fn open_nonblocking(
    options: &mut std::fs::OpenOptions,
    path: &Path,
) -> io::Result<std::fs::File> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NONBLOCK);
    options.open(path)
}

fn modified(metadata: &std::fs::Metadata) -> Option<i64> {
    metadata
        .modified()
        .ok()
        .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|age| i64::try_from(age.as_secs()).ok())
}

fn read_now(path: &Path, max: u64) -> Result<FileRead, ReadError> {
    let (file, metadata) = open_regular(path, max)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge(max));
    }
    let modified = modified(&metadata);
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
