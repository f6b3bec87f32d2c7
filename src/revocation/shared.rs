//! The list every guard and login reads, swapped whole on each reload, and
//! the revocation file as a watched file ([`crate::reload::Watched`]).
//!
//! A reload first reads the file once for its SHA-256 (and line count),
//! holding nothing but the digest: an unchanged file ends there. A changed
//! one is streamed into a new list beside the old (never the file's text
//! in memory), and the digest of what was parsed is kept. A file that
//! cannot be read, or does not parse, keeps the list the server had.

use super::RevocationError;
use super::format::ReadLineError;
use super::list::Revocations;
use crate::fs::{OpenedFile, ReadError};
use crate::metrics::Metrics;
use crate::reload::Watched;
use arc_swap::ArcSwap;
use sha2::{Digest as _, Sha256};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The largest revocation file read (a million entries are about 60 MiB).
pub const MAX_FILE: u64 = 64 * 1024 * 1024;
/// How long one read of the file may take (a hung network folder).
pub const READ_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// SHA-256 of a file's bytes.
type FileDigest = [u8; 32];

/// The list every guard and login reads; swapped whole on each reload.
#[derive(Clone, Debug)]
pub struct SharedRevocations {
    current: Arc<ArcSwap<Revocations>>,
    file: Option<PathBuf>,
    /// The digest of the bytes last parsed: an unchanged file is not parsed
    /// again. (Not its modification time and size: two writes of one size
    /// within one tick of the file system's clock look alike.)
    seen: Arc<std::sync::Mutex<Option<FileDigest>>>,
}

impl SharedRevocations {
    /// No file: nothing is refused.
    pub fn none() -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(Revocations::default())),
            file: None,
            seen: Arc::default(),
        }
    }

    /// Loads `file` at start: a file that is missing, unreadable or does not
    /// parse is an error then (the operator is there to see it).
    pub fn load(file: &Path) -> Result<Self, RevocationError> {
        let shared = Self {
            current: Arc::new(ArcSwap::from_pointee(Revocations::default())),
            file: Some(file.to_owned()),
            seen: Arc::default(),
        };
        shared.reload()?;
        Ok(shared)
    }

    /// The current list.
    pub fn load_current(&self) -> arc_swap::Guard<Arc<Revocations>> {
        self.current.load()
    }

    /// The file, if there is one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Rereads the file if it changed. On any failure the list stays as it
    /// was, and the error says why. Returns whether the list was replaced.
    pub fn reload(&self) -> Result<bool, RevocationError> {
        let Some(file) = &self.file else {
            return Ok(false);
        };
        // One reload at a time: the digest and the list change together.
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (digest, lines) = read_file(file, digest_of)?;
        if *seen == Some(digest) {
            return Ok(false);
        }
        let (list, digest) = read_file(file, move |opened| {
            let mut hasher = Sha256::new();
            let mut opened = opened;
            let list = Revocations::read_with_capacity(
                BufReader::with_capacity(64 * 1024, &mut opened.reader),
                lines,
                |raw| hasher.update(raw),
            )
            .map_err(|error| match error {
                ReadLineError::Io(e) => Failure::Read(ReadError::Io(e)),
                ReadLineError::Parse(e) => Failure::Parse(e),
            })?;
            opened.check_size().map_err(Failure::Read)?;
            Ok((list, FileDigest::from(hasher.finalize())))
        })?;
        self.current.store(Arc::new(list));
        *seen = Some(digest);
        Ok(true)
    }
}

/// What went wrong on the reading thread; named with the path after.
enum Failure {
    Read(ReadError),
    Parse(super::ParseError),
}

impl From<ReadError> for Failure {
    fn from(error: ReadError) -> Self {
        Self::Read(error)
    }
}

/// Runs `work` on `file` under the server's rules for files it does not
/// control (a regular file, at most [`MAX_FILE`], within [`READ_WAIT`]).
fn read_file<T: Send + 'static>(
    file: &Path,
    work: impl FnOnce(OpenedFile) -> Result<T, Failure> + Send + 'static,
) -> Result<T, RevocationError> {
    crate::fs::with_file_bounded(file, MAX_FILE, READ_WAIT, work).map_err(|failure| {
        let path = file.to_owned();
        match failure {
            Failure::Read(source) => RevocationError::Read { path, source },
            Failure::Parse(source) => RevocationError::Parse { path, source },
        }
    })
}

/// The file's SHA-256 and its line count, read in blocks.
fn digest_of(mut opened: OpenedFile) -> Result<(FileDigest, usize), Failure> {
    let mut hasher = Sha256::new();
    let mut lines = 0;
    let mut reader = BufReader::with_capacity(64 * 1024, &mut opened.reader);
    loop {
        let block = reader.fill_buf().map_err(ReadError::Io)?;
        if block.is_empty() {
            break;
        }
        hasher.update(block);
        lines += block.iter().filter(|b| **b == b'\n').count();
        let used = block.len();
        reader.consume(used);
    }
    drop(reader);
    opened.check_size()?;
    // A last line without a newline is a line too.
    Ok((FileDigest::from(hasher.finalize()), lines + 1))
}

/// The revocation file as a watched file: reread on the timer and SIGHUP,
/// its counts in the metrics.
#[derive(Debug)]
pub struct RevocationWatch {
    list: SharedRevocations,
    metrics: Option<Metrics>,
}

impl RevocationWatch {
    /// Watches `list`'s file.
    pub fn new(list: SharedRevocations) -> Self {
        Self {
            list,
            metrics: None,
        }
    }

    /// Records the counts in `metrics` (`wxauth_revocations`), from now on.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self.record();
        self
    }

    fn record(&self) {
        if let Some(metrics) = &self.metrics {
            let list = self.list.load_current();
            metrics.revocations(list.revokes(), list.bans());
        }
    }
}

impl Watched for RevocationWatch {
    fn name(&self) -> &'static str {
        "revocations"
    }

    fn reload(&self, cause: &str) -> bool {
        let ok = match self.list.reload() {
            Ok(true) => {
                let list = self.list.load_current();
                log::info!(
                    "revocations reloaded ({cause}): {} revoked, {} banned",
                    list.revokes(),
                    list.bans()
                );
                true
            }
            Ok(false) => true,
            Err(error) => {
                log::error!("revocations ({cause}): {error}; keeping the entries loaded before");
                false
            }
        };
        self.record();
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_stops_parsing_keeps_the_list_it_had() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations");
        std::fs::write(&path, "ban oB\n").unwrap();
        let shared = SharedRevocations::load(&path).unwrap();
        std::fs::write(&path, "ban oB\nbanana\n").unwrap();
        assert!(shared.reload().unwrap_err().to_string().contains("line 2"));
        assert!(shared.load_current().is_banned("oB"));
        std::fs::remove_file(&path).unwrap();
        assert!(shared.reload().is_err());
        assert!(shared.load_current().is_banned("oB"));
    }

    #[test]
    fn an_unchanged_file_is_not_parsed_again_and_any_change_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations");
        std::fs::write(&path, "ban oA\n").unwrap();
        let shared = SharedRevocations::load(&path).unwrap();
        let before = Arc::as_ptr(&shared.load_current());
        assert!(!shared.reload().unwrap(), "unchanged");
        assert_eq!(Arc::as_ptr(&shared.load_current()), before);
        // Same size, same time as far as a coarse clock goes: the digest
        // tells them apart.
        std::fs::write(&path, "ban oB\n").unwrap();
        assert!(shared.reload().unwrap());
        assert!(shared.load_current().is_banned("oB"));
        assert!(!shared.load_current().is_banned("oA"));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_in_place_of_the_file_is_refused_at_once_and_keeps_the_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations");
        std::fs::write(&path, "ban oB\n").unwrap();
        let shared = SharedRevocations::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&path)
                .status()
                .unwrap()
                .success()
        );
        let started = std::time::Instant::now();
        let error = shared.reload().unwrap_err().to_string();
        assert!(error.contains("not a regular file"), "{error}");
        assert!(started.elapsed() < READ_WAIT);
        assert!(shared.load_current().is_banned("oB"));
    }
}
