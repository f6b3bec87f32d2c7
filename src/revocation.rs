//! Revocations and bans without a store (SPEC section 9): a text file every
//! replica reads, reloaded with the keyring (timer, SIGHUP) and swapped whole
//! like it. One entry a line, `#` comments:
//!
//! ```text
//! revoke oAbC123...  2026-11-22T10:00:00Z   # tokens from logins at or before this time
//! ban    oXyZ789...                         # no login, no token, until the line goes
//! ```
//!
//! An id matches a token's `sub` (openid) or its `unionid`. A file that does
//! not parse, or cannot be read, keeps the entries the server had: a ban is
//! never dropped silently. [`edit`] is what `wxauth revoke|ban|unban` use:
//! it keeps every other line and comment, and replaces the file atomically.

use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The largest revocation file read (100,000 entries are about 6 MiB).
pub const MAX_FILE: u64 = 64 * 1024 * 1024;
/// How long one read of the file may take (a hung network folder).
const READ_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// The longest id accepted (openids and unionids are 28 characters).
const MAX_ID_LEN: usize = 128;

/// What the file says of one id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Entry {
    banned: bool,
    /// Tokens from logins at or before this time are refused.
    revoked_until: Option<i64>,
}

/// The parsed file: entries by id.
#[derive(Debug, Default)]
pub struct Revocations {
    entries: HashMap<Box<str>, Entry>,
    revokes: usize,
    bans: usize,
}

/// Why a line does not parse; the file is then kept as it was.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl Revocations {
    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut list = Self::default();
        for (index, line) in text.lines().enumerate() {
            let fail = |message: String| ParseError {
                line: index + 1,
                message,
            };
            let Some(entry) = parse_line(line).map_err(fail)? else {
                continue;
            };
            let slot = list.entries.entry(entry.id().into()).or_default();
            match entry {
                Line::Ban(_) => {
                    list.bans += usize::from(!slot.banned);
                    slot.banned = true;
                }
                Line::Revoke(_, at) => {
                    list.revokes += usize::from(slot.revoked_until.is_none());
                    slot.revoked_until = Some(slot.revoked_until.map_or(at, |old| old.max(at)));
                }
            }
        }
        list.entries.shrink_to_fit();
        Ok(list)
    }

    /// Whether `id` (an openid or a unionid) is banned.
    pub fn is_banned(&self, id: &str) -> bool {
        self.entries.get(id).is_some_and(|entry| entry.banned)
    }

    /// Whether a token of `sub`/`unionid` from a login at `auth_time` is
    /// refused: either id banned, or revoked at or after the login.
    pub fn refuses(&self, sub: &str, unionid: Option<&str>, auth_time: i64) -> bool {
        if self.entries.is_empty() {
            return false;
        }
        [Some(sub), unionid].into_iter().flatten().any(|id| {
            self.entries.get(id).is_some_and(|entry| {
                entry.banned || entry.revoked_until.is_some_and(|until| auth_time <= until)
            })
        })
    }

    /// How many ids have a `revoke` entry.
    pub fn revokes(&self) -> usize {
        self.revokes
    }

    /// How many ids are banned.
    pub fn bans(&self) -> usize {
        self.bans
    }
}

enum Line<'a> {
    Ban(&'a str),
    Revoke(&'a str, i64),
}

impl Line<'_> {
    fn id(&self) -> &str {
        match self {
            Self::Ban(id) | Self::Revoke(id, _) => id,
        }
    }
}

/// One line: `ban ID`, `revoke ID TIME`, a comment or nothing.
fn parse_line(line: &str) -> Result<Option<Line<'_>>, String> {
    let content = line.split_once('#').map_or(line, |(before, _)| before);
    let mut words = content.split_whitespace();
    let Some(verb) = words.next() else {
        return Ok(None);
    };
    let id = words
        .next()
        .ok_or_else(|| format!("`{verb}` needs an id"))
        .and_then(check_id)?;
    let parsed = match verb {
        "ban" => Line::Ban(id),
        "revoke" => {
            let at = words
                .next()
                .ok_or("`revoke` needs a time (RFC 3339, such as 2026-11-22T10:00:00Z)")?;
            let at = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| {
                format!("{at:?} is not an RFC 3339 time such as 2026-11-22T10:00:00Z")
            })?;
            Line::Revoke(id, at.timestamp())
        }
        other => return Err(format!("{other:?} is not `revoke` or `ban`")),
    };
    match words.next() {
        Some(extra) => Err(format!("unexpected {extra:?} (comments start with #)")),
        None => Ok(Some(parsed)),
    }
}

/// An openid or unionid: 1 to 128 characters of `[A-Za-z0-9_-]`.
pub fn check_id(id: &str) -> Result<&str, String> {
    if !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(id)
    } else {
        Err(format!(
            "{id:?} is not an openid or unionid ([A-Za-z0-9_-], at most {MAX_ID_LEN})"
        ))
    }
}

/// The list every guard and login reads; swapped whole on each reload.
#[derive(Clone, Debug)]
pub struct SharedRevocations {
    current: Arc<ArcSwap<Revocations>>,
    file: Option<PathBuf>,
    /// A digest of the text last parsed: an unchanged file is not parsed
    /// again. (Not its modification time and size: two writes of one size
    /// within one tick of the file system's clock look alike.)
    seen: Arc<std::sync::Mutex<Option<u64>>>,
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
    pub fn load(file: &Path) -> Result<Self, String> {
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

    /// Rereads the file if it changed. On any failure the list stays as it
    /// was, and the error says why. Returns whether the list was replaced.
    pub fn reload(&self) -> Result<bool, String> {
        let Some(file) = &self.file else {
            return Ok(false);
        };
        let shown = file.display();
        // Read as key files are (a regular file, bounded in size and time),
        // before taking the lock, so a stuck read holds nothing.
        let read = crate::fs::read_bounded(file, MAX_FILE, READ_WAIT)
            .map_err(|e| format!("{shown}: {e}"))?;
        let text = String::from_utf8(read.bytes).map_err(|_| format!("{shown}: not UTF-8"))?;
        let digest = {
            use std::hash::{Hash as _, Hasher as _};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            text.hash(&mut hasher);
            hasher.finish()
        };
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *seen == Some(digest) {
            return Ok(false);
        }
        let list = Revocations::parse(&text).map_err(|e| format!("{shown}: {e}"))?;
        self.current.store(Arc::new(list));
        *seen = Some(digest);
        Ok(true)
    }
}

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

/// Applies `edit` to the file at `path` (created if missing), keeping every
/// other line and comment; writes a new file beside it and renames it over
/// the old one, so a reader sees the old file or the new, never half of one.
/// Returns what it did, for the operator.
pub fn edit(path: &Path, edit: &Edit) -> Result<String, String> {
    let shown = path.display();
    // One edit at a time: two `wxauth ban`s at once would each rename their
    // copy over the other's, and every ban but one would be lost. The lock
    // is a file of its own, since the list itself is replaced by a rename.
    let lock = lock_path(path);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|e| format!("cannot open the lock file {}: {e}", lock.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {shown} for editing: {e}"))?;
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    // Never write on top of a file the servers could not read.
    Revocations::parse(&old).map_err(|e| format!("{shown} does not parse ({e}): fix it first"))?;
    let mut lines: Vec<String> = old.lines().map(str::to_owned).collect();
    let said = match edit {
        Edit::Revoke { id, at } => {
            check_id(id)?;
            let time = chrono::DateTime::from_timestamp(*at, 0)
                .ok_or("the time is out of range")?
                .format("%Y-%m-%dT%H:%M:%SZ");
            lines.push(format!("revoke {id} {time}"));
            format!("revoked {id}: tokens from logins at or before {time} are refused")
        }
        Edit::Ban(id) => {
            check_id(id)?;
            let banned = Revocations::parse(&old)
                .map(|list| list.is_banned(id))
                .unwrap_or(false);
            if banned {
                format!("{id} is banned already; nothing changed")
            } else {
                lines.push(format!("ban {id}"));
                format!("banned {id}: no login, no token, until `wxauth unban {id}`")
            }
        }
        Edit::Unban(id) => {
            check_id(id)?;
            let before = lines.len();
            lines.retain(
                |line| !matches!(parse_line(line), Ok(Some(Line::Ban(banned))) if banned == id),
            );
            match before - lines.len() {
                0 => format!("{id} was not banned; nothing changed"),
                n => format!(
                    "unbanned {id} ({n} line{} removed)",
                    if n == 1 { "" } else { "s" }
                ),
            }
        }
    };
    let mut text = lines.join("\n");
    text.push('\n');
    write_atomically(path, &text).map_err(|e| format!("cannot write {shown}: {e}"))?;
    Ok(said)
}

/// `.NAME.lock` beside the file `path`.
fn lock_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.lock"))
}

/// Writes `text` to a temporary file beside `path`, syncs it, and renames it
/// over `path`.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let aside = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&aside)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_795_860_000; // 2026-11-28T10:00:00Z

    #[test]
    fn bans_and_revokes_match_sub_or_unionid() {
        let list = Revocations::parse(
            "# operators' notes\nrevoke oA 2026-11-28T10:00:00Z # taken over\nban oB\n\nban uC\n",
        )
        .unwrap();
        assert_eq!((list.revokes(), list.bans()), (1, 2));
        assert!(list.refuses("oA", None, T), "at the time");
        assert!(list.refuses("oA", None, T - 1), "before");
        assert!(!list.refuses("oA", None, T + 1), "a login after is fine");
        assert!(list.refuses("oB", None, T + 1_000_000));
        assert!(list.refuses("oX", Some("uC"), T), "by unionid");
        assert!(!list.refuses("oX", Some("uD"), T));
        assert!(list.is_banned("uC") && !list.is_banned("oA"));
    }

    #[test]
    fn the_latest_revoke_of_an_id_counts() {
        let list = Revocations::parse(
            "revoke oA 2026-11-28T10:00:00Z\nrevoke oA 2026-11-28T11:00:00Z\nrevoke oA 2026-11-28T09:00:00Z\n",
        )
        .unwrap();
        assert_eq!(list.revokes(), 1);
        assert!(list.refuses("oA", None, T + 3600));
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, line, message) in [
            ("ban", 1, "needs an id"),
            ("\nrevoke oA", 2, "needs a time"),
            ("revoke oA yesterday", 1, "RFC 3339"),
            ("kick oA", 1, "is not `revoke` or `ban`"),
            ("ban oA oB", 1, "unexpected"),
            ("ban ../x", 1, "not an openid"),
        ] {
            let error = Revocations::parse(text).unwrap_err();
            assert_eq!(error.line, line, "{text:?}");
            assert!(error.message.contains(message), "{text:?}: {error}");
        }
    }

    #[test]
    fn a_file_that_stops_parsing_keeps_the_list_it_had() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations");
        std::fs::write(&path, "ban oB\n").unwrap();
        let shared = SharedRevocations::load(&path).unwrap();
        std::fs::write(&path, "ban oB\nbanana\n").unwrap();
        assert!(shared.reload().unwrap_err().contains("line 2"));
        assert!(shared.load_current().is_banned("oB"));
        std::fs::remove_file(&path).unwrap();
        assert!(shared.reload().is_err());
        assert!(shared.load_current().is_banned("oB"));
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
        assert!(shared.reload().unwrap_err().contains("not a regular file"));
        assert!(started.elapsed() < READ_WAIT);
        assert!(shared.load_current().is_banned("oB"));
    }

    #[test]
    fn edits_keep_comments_and_unban_removes_every_ban() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations");
        std::fs::write(
            &path,
            "# keep me\nban oB # first\nrevoke oA 2026-11-28T10:00:00Z\nban oB\n",
        )
        .unwrap();

        assert!(
            edit(&path, &Edit::Ban("oB".into()))
                .unwrap()
                .contains("already")
        );
        let said = edit(&path, &Edit::Unban("oB".into())).unwrap();
        assert!(said.contains("2 lines removed"), "{said}");
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
        assert!(edit(&path, &Edit::Ban("../etc".into())).is_err());
        std::fs::write(&path, "garbage\n").unwrap();
        assert!(
            edit(&path, &Edit::Ban("oE".into()))
                .unwrap_err()
                .contains("fix it first")
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "garbage\n");
    }

    #[test]
    fn a_hundred_thousand_entries_are_looked_up_by_hash() {
        let text: String = (0..100_000).map(|n| format!("ban o{n:0>27}\n")).collect();
        let list = Revocations::parse(&text).unwrap();
        assert_eq!(list.bans(), 100_000);
        assert!(list.is_banned(&format!("o{:0>27}", 99_999)));
        assert!(!list.refuses("oNotThere", None, T));
    }
}
