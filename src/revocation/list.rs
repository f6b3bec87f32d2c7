//! The parsed list, compact: one fixed-size entry per id, sorted. An entry
//! is 24 bytes (the first 16 bytes of the id's SHA-256, and the time tokens
//! are refused until), plus at most 4 bytes of index (where each bucket of
//! digests starts), so 100,000 ids take 2.7 MB and a million 26 MB,
//! whatever the ids' lengths, and building it needs no more than the
//! entries themselves (the file is streamed). A look-up hashes the id and
//! searches one bucket of about one entry. A false match needs two ids
//! with the same 128-bit SHA-256 prefix, which no one can produce on
//! purpose (and the platforms, not users, choose ids).

use super::format::{Line, ParseError, ReadLineError, for_each_line};
use sha2::{Digest as _, Sha256};
use std::io::BufRead;

/// `until` of a banned id: refused whatever the login time.
const BANNED: i64 = i64::MAX;

/// One id's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// The first 16 bytes of SHA-256 of the id.
    id: [u8; 16],
    /// Tokens from logins at or before this time are refused; [`BANNED`]:
    /// every token and login.
    until: i64,
}

/// The bucket of a digest: its top `bits` bits.
fn bucket(id: &[u8; 16], bits: u32) -> usize {
    let top = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
    top.checked_shr(32 - bits).unwrap_or(0) as usize
}

fn digest(id: &str) -> [u8; 16] {
    let full = Sha256::digest(id.as_bytes());
    let mut out = [0; 16];
    for (to, from) in out.iter_mut().zip(full.iter()) {
        *to = *from;
    }
    out
}

/// The revocation list: which ids are banned, and which logins revoked.
#[derive(Debug, Default)]
pub struct Revocations {
    /// Sorted by id, one per id.
    entries: Box<[Entry]>,
    /// Where each bucket of ids starts in `entries`, by the top `bits` bits
    /// of the id's digest (one more at the end: the length), so a look-up
    /// searches a bucket of one or two entries instead of the whole slice,
    /// touching one or two cache lines instead of seventeen.
    buckets: Box<[u32]>,
    bits: u32,
    revokes: usize,
    bans: usize,
}

/// Collects entries, then sorts and merges them into a [`Revocations`].
#[derive(Debug, Default)]
pub struct Builder {
    entries: Vec<Entry>,
}

impl Builder {
    /// A builder with room for `lines` entries (an estimate; it grows).
    pub fn with_capacity(lines: usize) -> Self {
        Self {
            entries: Vec::with_capacity(lines),
        }
    }

    /// Adds one line's entry.
    pub fn add(&mut self, line: Line<'_>) {
        let until = match line {
            Line::Ban(_) => BANNED,
            Line::Revoke(_, at) => at,
        };
        self.entries.push(Entry {
            id: digest(line.id()),
            until,
        });
    }

    /// The list: one entry per id, its latest revoke or its ban. Sorts and
    /// merges in place: no second copy of the entries is made.
    pub fn build(mut self) -> Revocations {
        let entries = &mut self.entries;
        entries.sort_unstable_by(|a, b| a.id.cmp(&b.id).then(a.until.cmp(&b.until)));
        let (mut revokes, mut bans) = (0, 0);
        for group in entries.chunk_by(|a, b| a.id == b.id) {
            bans += usize::from(group.iter().any(|e| e.until == BANNED));
            revokes += usize::from(group.iter().any(|e| e.until != BANNED));
        }
        // Within an id the greatest `until` (a ban, else the latest revoke)
        // sorts last: keep it.
        entries.dedup_by(|later, kept| {
            let same = later.id == kept.id;
            if same {
                kept.until = later.until;
            }
            same
        });
        let entries = std::mem::take(entries).into_boxed_slice();
        // About one entry a bucket: 4 bytes an id at most.
        let bits = entries.len().checked_ilog2().unwrap_or(0).min(24);
        let mut buckets = vec![0u32; (1usize << bits) + 1];
        for (slot, start) in buckets.iter_mut().enumerate() {
            let first = entries.partition_point(|entry| bucket(&entry.id, bits) < slot);
            *start = u32::try_from(first).unwrap_or(u32::MAX);
        }
        Revocations {
            entries,
            buckets: buckets.into_boxed_slice(),
            bits,
            revokes,
            bans,
        }
    }
}

impl Revocations {
    /// Parses a whole text (tests, the CLI's check of a file it edits).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Self::read(text.as_bytes(), |_| {}).map_err(|error| match error {
            ReadLineError::Parse(error) => error,
            ReadLineError::Io(e) => ParseError {
                line: 0,
                message: e.to_string(),
            },
        })
    }

    /// Streams `reader` into a list, giving every raw line to `raw` (for a
    /// digest of what was read); stops at the first line that does not
    /// parse.
    pub fn read(reader: impl BufRead, raw: impl FnMut(&[u8])) -> Result<Self, ReadLineError> {
        Self::read_with_capacity(reader, 0, raw)
    }

    /// [`Revocations::read`], with room for `lines` entries reserved at
    /// once (the line count of the file: no growth by doubling, whose
    /// old and new buffers would be alive together).
    pub fn read_with_capacity(
        reader: impl BufRead,
        lines: usize,
        raw: impl FnMut(&[u8]),
    ) -> Result<Self, ReadLineError> {
        let mut builder = Builder::with_capacity(lines);
        for_each_line(reader, raw, |line| builder.add(line))?;
        Ok(builder.build())
    }

    /// Whether `id` (an openid or a unionid) is banned.
    pub fn is_banned(&self, id: &str) -> bool {
        self.find(id).is_some_and(|entry| entry.until == BANNED)
    }

    /// Whether a token of `sub`/`unionid` from a login at `auth_time` is
    /// refused: either id banned, or revoked at or after the login.
    pub fn refuses(&self, sub: &str, unionid: Option<&str>, auth_time: i64) -> bool {
        if self.entries.is_empty() {
            return false;
        }
        [Some(sub), unionid]
            .into_iter()
            .flatten()
            .any(|id| self.find(id).is_some_and(|entry| auth_time <= entry.until))
    }

    fn find(&self, id: &str) -> Option<&Entry> {
        if self.entries.is_empty() {
            return None;
        }
        let id = digest(id);
        let slot = bucket(&id, self.bits);
        let range = |at: usize| self.buckets.get(at).map(|&n| n as usize);
        let within = self.entries.get(range(slot)?..range(slot + 1)?)?;
        within
            .binary_search_by(|entry| entry.id.cmp(&id))
            .ok()
            .and_then(|at| within.get(at))
    }

    /// How many ids have a `revoke` entry.
    pub fn revokes(&self) -> usize {
        self.revokes
    }

    /// How many ids are banned.
    pub fn bans(&self) -> usize {
        self.bans
    }

    /// How many ids have an entry.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no id has an entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bytes the entries and their index take.
    pub fn size_of_entries(&self) -> usize {
        std::mem::size_of_val::<[Entry]>(&self.entries)
            + std::mem::size_of_val::<[u32]>(&self.buckets)
    }
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
    fn the_latest_revoke_of_an_id_counts_and_a_ban_beats_a_revoke() {
        let list = Revocations::parse(
            "revoke oA 2026-11-28T10:00:00Z\nrevoke oA 2026-11-28T11:00:00Z\n\
             revoke oA 2026-11-28T09:00:00Z\nrevoke oB 2026-11-28T09:00:00Z\nban oB\nban oB\n",
        )
        .unwrap();
        assert_eq!((list.revokes(), list.bans(), list.len()), (2, 1, 2));
        assert!(list.refuses("oA", None, T + 3600));
        assert!(!list.refuses("oA", None, T + 3601));
        assert!(list.refuses("oB", None, T + 1_000_000), "banned");
    }

    #[test]
    fn a_hundred_thousand_entries_take_24_bytes_each_and_an_index_of_a_quarter_of_that() {
        let text: String = (0..100_000).map(|n| format!("ban o{n:0>27}\n")).collect();
        let list = Revocations::parse(&text).unwrap();
        assert_eq!(list.bans(), 100_000);
        assert_eq!(list.size_of_entries(), 2_400_000 + 4 * 65_537);
        for n in (0..100_000).step_by(997) {
            assert!(list.is_banned(&format!("o{n:0>27}")), "{n}");
        }
        assert!(list.is_banned(&format!("o{:0>27}", 99_999)));
        assert!(list.is_banned(&format!("o{:0>27}", 0)));
        assert!(!list.refuses("oNotThere", None, T));
    }
}
