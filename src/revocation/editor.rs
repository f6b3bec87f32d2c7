//! What `wxauth revoke|ban|unban` do to the file: one edit at a time (a
//! lock file beside it, waited for at most [`LOCK_WAIT`]), every other line
//! and comment kept, the new file written beside the old and renamed over
//! it, so a reader sees the old file or the new, never half of one.
//!
//! The editor refuses what the servers would refuse (a file that does not
//! parse, one above [`MAX_FILE`], an id that is not `[A-Za-z0-9_-]{1,128}`),
//! and never blocks on a FIFO, whether in place of the file, of the lock,
//! or of the file it writes aside. After writing, it reads the file back
//! as a server does, so "every replica applies it" is said only when a
//! server would load it.

use super::format::{Line, check_id, parse_line};
use super::shared::{MAX_FILE, READ_WAIT, SharedRevocations};
use super::{RevocationError, Revocations};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long an edit waits for another editor's lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);
/// How often the lock is tried while waiting.
const LOCK_RETRY: Duration = Duration::from_millis(50);

/// What `wxauth revoke|ban|unban` do to the file.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Refuse tokens from logins at or before `at` (seconds since the epoch).
    Revoke {
        /// The id.
        id: String,
        /// The time.
        at: i64,
    },
    /// Refuse every token and login of the id.
    Ban(String),
    /// Remove every ban of the id.
    Unban(String),
}

impl Edit {
    fn id(&self) -> &str {
        match self {
            Self::Revoke { id, .. } | Self::Ban(id) | Self::Unban(id) => id,
        }
    }
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// For the operator: what changed, or why nothing did.
    pub said: String,
    /// Whether the file was rewritten (and a server loads it as written).
    pub changed: bool,
}

impl Outcome {
    /// What the operator should know about the replicas: said only when the
    /// file changed (and was read back as a server reads it).
    pub fn replicas_note(&self, path: &Path) -> Option<String> {
        self.changed.then(|| {
            format!(
                "{}: every replica applies it at its next rescan (WXAUTH_KEYS_RELOAD, or SIGHUP)",
                path.display()
            )
        })
    }
}

/// The file's editor.
#[derive(Debug, Clone)]
pub struct Editor {
    path: PathBuf,
    lock_wait: Duration,
}

impl Editor {
    /// The editor of the file at `path` (created if missing).
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            lock_wait: LOCK_WAIT,
        }
    }

    /// Waits `wait` for another editor's lock instead of [`LOCK_WAIT`].
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// Applies `edit`, keeping every other line and comment.
    pub fn apply(&self, edit: &Edit) -> Result<Outcome, RevocationError> {
        // Refused before anything is touched: the servers would refuse it.
        check_id(edit.id())?;
        let _lock = self.lock()?;
        let old = self.read_current()?;
        let list = Revocations::parse(&old).map_err(|source| RevocationError::Parse {
            path: self.path.clone(),
            source,
        })?;
        let mut lines: Vec<&str> = old.lines().collect();
        let added;
        let said = match edit {
            Edit::Revoke { id, at } => {
                let time = chrono::DateTime::from_timestamp(*at, 0)
                    .ok_or(RevocationError::TimeOutOfRange(*at))?
                    .format("%Y-%m-%dT%H:%M:%SZ");
                added = format!("revoke {id} {time}");
                lines.push(&added);
                format!("revoked {id}: tokens from logins at or before {time} are refused")
            }
            Edit::Ban(id) if list.is_banned(id) => {
                return Ok(Outcome {
                    said: format!("{id} is banned already; nothing changed"),
                    changed: false,
                });
            }
            Edit::Ban(id) => {
                added = format!("ban {id}");
                lines.push(&added);
                format!("banned {id}: no login, no token, until `wxauth unban {id}`")
            }
            Edit::Unban(id) => {
                let before = lines.len();
                lines.retain(
                    |line| !matches!(parse_line(line), Ok(Some(Line::Ban(banned))) if banned == id),
                );
                match before - lines.len() {
                    0 => {
                        return Ok(Outcome {
                            said: format!("{id} was not banned; nothing changed"),
                            changed: false,
                        });
                    }
                    n => format!(
                        "unbanned {id} ({n} line{} removed)",
                        if n == 1 { "" } else { "s" }
                    ),
                }
            }
        };
        let mut text = lines.join("\n");
        text.push('\n');
        if text.len() as u64 > MAX_FILE {
            return Err(RevocationError::WouldBeTooLarge {
                path: self.path.clone(),
                max: MAX_FILE,
            });
        }
        self.write_atomically(&text)
            .map_err(|source| RevocationError::Write {
                path: self.path.clone(),
                source,
            })?;
        // Read back as a server reads it: what the replicas will apply.
        SharedRevocations::load(&self.path)?;
        Ok(Outcome {
            said,
            changed: true,
        })
    }

    /// The file's text, read under the servers' rules (a regular file of at
    /// most [`MAX_FILE`], within a bounded wait); empty if it is missing.
    fn read_current(&self) -> Result<String, RevocationError> {
        let read = match crate::fs::read_bounded(&self.path, MAX_FILE, READ_WAIT) {
            Ok(read) => read,
            Err(crate::fs::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(String::new());
            }
            Err(source) => {
                return Err(RevocationError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        String::from_utf8(read.bytes).map_err(|_| RevocationError::Parse {
            path: self.path.clone(),
            source: super::ParseError {
                line: 0,
                message: "is not UTF-8".to_owned(),
            },
        })
    }

    /// Takes the lock file `.NAME.lock` beside the file (the file itself is
    /// replaced by a rename, so it cannot hold a lock), waiting at most the
    /// lock wait for another editor; then writes who holds it into it.
    fn lock(&self) -> Result<std::fs::File, RevocationError> {
        let path = lock_path(&self.path);
        let lock_error = |source| RevocationError::Lock {
            lock: path.clone(),
            source,
        };
        match std::fs::metadata(&path) {
            Ok(metadata) if !metadata.is_file() => {
                return Err(RevocationError::LockNotAFile { lock: path });
            }
            _ => {}
        }
        let mut file = crate::fs::open_nonblocking(
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true),
            &path,
        )
        .map_err(lock_error)?;
        if !file.metadata().map_err(lock_error)?.is_file() {
            return Err(RevocationError::LockNotAFile { lock: path });
        }
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < self.lock_wait => {
                    std::thread::sleep(LOCK_RETRY);
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = (&file).take(512).read_to_string(&mut holder);
                    return Err(RevocationError::Locked {
                        lock: path,
                        waited: self.lock_wait,
                        holder: holder.trim().to_owned(),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(lock_error(e)),
            }
        }
        // Who to look for, for the next editor that has to wait.
        let said = format!(
            "pid {} (wxauth {}), since {}",
            std::process::id(),
            std::env::args().skip(1).take(1).collect::<String>(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(said.as_bytes()));
        Ok(file)
    }

    /// Writes `text` to a new file beside the file, syncs it, and renames it
    /// over the file.
    fn write_atomically(&self, text: &str) -> std::io::Result<()> {
        let path = &self.path;
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let aside = dir.join(format!(".{}.{}.tmp", file_name(path), std::process::id()));
        // A leftover (or a FIFO planted there) goes; then a file of our own.
        match std::fs::remove_file(&aside) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let result = (|| {
            let mut file = crate::fs::open_nonblocking(
                std::fs::OpenOptions::new().write(true).create_new(true),
                &aside,
            )?;
            // Keep the old file's permissions (a ConfigMap or 0644 file alike).
            if let Ok(metadata) = std::fs::metadata(path) {
                file.set_permissions(metadata.permissions())?;
            }
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&aside, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&aside);
        }
        result
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `.NAME.lock` beside the file `path`.
pub fn lock_path(path: &Path) -> PathBuf {
    path.with_file_name(format!(".{}.lock", file_name(path)))
}

/// Applies `edit` to the file at `path` with the default lock wait.
pub fn edit(path: &Path, edit: &Edit) -> Result<Outcome, RevocationError> {
    Editor::new(path).apply(edit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_795_860_000; // 2026-11-28T10:00:00Z

    #[test]
    fn edits_keep_comments_and_unban_removes_every_ban() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations");
        std::fs::write(
            &path,
            "# keep me\nban oB # first\nrevoke oA 2026-11-28T10:00:00Z\nban oB\n",
        )
        .unwrap();

        let again = edit(&path, &Edit::Ban("oB".into())).unwrap();
        assert!(again.said.contains("already") && !again.changed);
        let said = edit(&path, &Edit::Unban("oB".into())).unwrap();
        assert!(
            said.said.contains("2 lines removed") && said.changed,
            "{said:?}"
        );
        assert!(!edit(&path, &Edit::Unban("oB".into())).unwrap().changed);
        edit(&path, &Edit::Ban("uC".into())).unwrap();
        edit(
            &path,
            &Edit::Revoke {
                id: "oD".into(),
                at: T,
            },
        )
        .unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "# keep me\nrevoke oA 2026-11-28T10:00:00Z\nban uC\nrevoke oD 2026-11-28T10:00:00Z\n"
        );
        std::fs::write(&path, "garbage\n").unwrap();
        let error = edit(&path, &Edit::Ban("oE".into())).unwrap_err();
        assert!(error.to_string().contains("fix it first"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "garbage\n");
    }

    #[test]
    fn ids_the_servers_would_refuse_are_refused_before_the_file_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations");
        for id in ["../etc", "o A", "", &"a".repeat(129)] {
            let error = edit(&path, &Edit::Ban(id.to_owned())).unwrap_err();
            assert!(
                matches!(error, RevocationError::BadId(_)),
                "{id:?}: {error}"
            );
        }
        assert!(!path.exists(), "nothing was written");
        assert!(!lock_path(&path).exists(), "not even the lock");
    }

    #[test]
    fn a_held_lock_is_waited_for_then_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations");
        let held = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(&path))
            .unwrap();
        held.lock().unwrap();
        std::fs::write(lock_path(&path), "pid 4242 (wxauth ban), since then").unwrap();

        let started = Instant::now();
        let error = Editor::new(&path)
            .lock_wait(Duration::from_millis(200))
            .apply(&Edit::Ban("oA".into()))
            .unwrap_err();

        assert!(started.elapsed() >= Duration::from_millis(200));
        let said = error.to_string();
        assert!(said.contains("waited 200ms"), "{said}");
        assert!(said.contains("pid 4242 (wxauth ban)"), "{said}");
        drop(held);
        assert!(edit(&path, &Edit::Ban("oA".into())).unwrap().changed);
    }

    #[test]
    fn a_file_above_the_servers_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_FILE + 1).unwrap();
        let error = edit(&path, &Edit::Ban("oA".into())).unwrap_err();
        assert!(error.to_string().contains("larger than"), "{error}");
    }

    #[test]
    fn an_edit_that_would_grow_the_file_past_the_cap_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations");
        let line = format!("#{}\n", "x".repeat(1022));
        let mut text = line.repeat(usize::try_from(MAX_FILE).unwrap() / 1024 - 1);
        text.push_str(&format!("#{}\n", "x".repeat(1020)));
        assert_eq!(text.len() as u64, MAX_FILE - 2);
        std::fs::write(&path, &text).unwrap();

        let error = edit(&path, &Edit::Ban("oA".into())).unwrap_err();

        assert!(
            matches!(error, RevocationError::WouldBeTooLarge { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("no server loads"), "{error}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), MAX_FILE - 2);
    }

    #[cfg(unix)]
    #[test]
    fn fifos_in_place_of_the_file_or_the_lock_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations");
        let mkfifo = |at: &Path| {
            assert!(
                std::process::Command::new("mkfifo")
                    .arg(at)
                    .status()
                    .unwrap()
                    .success()
            );
        };
        mkfifo(&path);
        let started = Instant::now();
        let error = edit(&path, &Edit::Ban("oA".into())).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        std::fs::remove_file(&path).unwrap();
        let _ = std::fs::remove_file(lock_path(&path));
        mkfifo(&lock_path(&path));
        let error = edit(&path, &Edit::Ban("oA".into())).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
