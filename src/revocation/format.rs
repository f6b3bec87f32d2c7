//! The revocation file's format, one entry a line, `#` comments:
//!
//! ```text
//! revoke oAbC123...  2026-11-22T10:00:00Z   # tokens from logins at or before this time
//! ban    oXyZ789...                         # no login, no token, until the line goes
//! ```
//!
//! [`parse_line`] reads one line; [`for_each_line`] streams a reader line by
//! line (never the whole file in memory), which is how the server loads a
//! file of a million entries.

use std::io::BufRead;

/// The longest id accepted (openids and unionids are 28 characters).
pub const MAX_ID_LEN: usize = crate::domain::UserId::MAX_LEN;
/// The longest line read: an id, a time and a comment fit many times over;
/// a longer line is a mistake (or an attempt to make the reader buffer the
/// whole file), and is refused.
pub const MAX_LINE: usize = 4096;

/// One entry of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// `ban ID`: no login, no token.
    Ban(&'a str),
    /// `revoke ID TIME`: tokens from logins at or before TIME (seconds since
    /// the epoch) are refused.
    Revoke(&'a str, i64),
}

impl<'a> Line<'a> {
    /// The id the entry is about.
    pub fn id(&self) -> &'a str {
        match self {
            Self::Ban(id) | Self::Revoke(id, _) => id,
        }
    }
}

/// Why a line does not parse; the file is then kept as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One line: `ban ID`, `revoke ID TIME`, a comment or nothing (`None`).
pub fn parse_line(line: &str) -> Result<Option<Line<'_>>, String> {
    let content = line.split_once('#').map_or(line, |(before, _)| before);
    let mut words = content.split_whitespace();
    let Some(verb) = words.next() else {
        return Ok(None);
    };
    let id = words
        .next()
        .ok_or_else(|| format!("`{verb}` needs an id"))
        .and_then(|id| check_id(id).map_err(|e| e.to_string()))?;
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

/// An id that is not an openid or unionid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an openid or unionid (1 to {MAX_ID_LEN} characters of [A-Za-z0-9_-])")]
pub struct BadId(pub String);

/// An openid or unionid: 1 to [`MAX_ID_LEN`] characters of `[A-Za-z0-9_-]`.
pub fn check_id(id: &str) -> Result<&str, BadId> {
    if crate::domain::UserId::parse(id).is_ok() {
        Ok(id)
    } else {
        // Quoted with its length capped: a test of the file's content is
        // not an echo of it.
        Err(BadId(id.chars().take(MAX_ID_LEN + 1).collect()))
    }
}

/// Reads `reader` line by line, giving each entry to `each` together with
/// every raw line (for a digest of what was read), and stops at the first
/// line that does not parse. Only one line is held at a time.
pub fn for_each_line(
    mut reader: impl BufRead,
    mut raw: impl FnMut(&[u8]),
    mut each: impl FnMut(Line<'_>),
) -> Result<(), ReadLineError> {
    let mut buffer = Vec::with_capacity(256);
    for number in 1usize.. {
        buffer.clear();
        let read = std::io::Read::take(&mut reader, MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buffer)
            .map_err(ReadLineError::Io)?;
        if read == 0 {
            break;
        }
        raw(&buffer);
        if buffer.len() > MAX_LINE {
            return Err(ReadLineError::Parse(ParseError {
                line: number,
                message: format!("is longer than {MAX_LINE} bytes"),
            }));
        }
        let text = std::str::from_utf8(&buffer).map_err(|_| {
            ReadLineError::Parse(ParseError {
                line: number,
                message: "is not UTF-8".to_owned(),
            })
        })?;
        match parse_line(text) {
            Ok(Some(line)) => each(line),
            Ok(None) => {}
            Err(message) => {
                return Err(ReadLineError::Parse(ParseError {
                    line: number,
                    message,
                }));
            }
        }
    }
    Ok(())
}

/// Why streaming the file stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadLineError {
    /// The reader failed.
    #[error("cannot read: {0}")]
    Io(std::io::Error),
    /// A line does not parse.
    #[error(transparent)]
    Parse(ParseError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(text: &str) -> Result<Vec<String>, ReadLineError> {
        let mut seen = Vec::new();
        for_each_line(
            text.as_bytes(),
            |_| {},
            |line| seen.push(format!("{line:?}")),
        )?;
        Ok(seen)
    }

    #[test]
    fn entries_comments_and_blank_lines() {
        let seen = parse_all("# notes\nrevoke oA 2026-11-28T10:00:00Z # why\n\n  ban oB  \nban uC")
            .unwrap();
        assert_eq!(
            seen,
            ["Revoke(\"oA\", 1795860000)", "Ban(\"oB\")", "Ban(\"uC\")"]
        );
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
            ("ban \u{e9}", 1, "not an openid"),
        ] {
            let Err(ReadLineError::Parse(error)) = parse_all(text) else {
                panic!("{text:?} parsed");
            };
            assert_eq!(error.line, line, "{text:?}");
            assert!(error.message.contains(message), "{text:?}: {error}");
        }
        let long = format!("ban oA # {}\n", "x".repeat(MAX_LINE));
        let Err(ReadLineError::Parse(error)) = parse_all(&format!("ban oB\n{long}")) else {
            panic!("a long line parsed");
        };
        assert_eq!((error.line, error.message.contains("longer")), (2, true));
        let Err(ReadLineError::Parse(error)) =
            for_each_line(&b"ban oA\nban \xff\n"[..], |_| {}, |_| {})
        else {
            panic!("not UTF-8 parsed");
        };
        assert_eq!((error.line, error.message.as_str()), (2, "is not UTF-8"));
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("oAbC-_9").is_ok());
        assert!(check_id(&"a".repeat(MAX_ID_LEN)).is_ok());
        assert!(check_id(&"a".repeat(MAX_ID_LEN + 1)).is_err());
        assert!(check_id("").is_err());
        assert!(check_id("o A").is_err());
    }
}
