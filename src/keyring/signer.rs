//! Which key signs: a pure function of the candidates (what the folder
//! holds, and what this process saw of it), the rule and the time, so every
//! case of the rotation rules (README, "Keys" and "Key rotation") is a row
//! of a table in the tests below.
//!
//! - A pin signs: `WXAUTH_SIGNING_KID`, else the pin file's kid.
//! - Else the greatest *active* kid. A key is active once its file time is
//!   `WXAUTH_KEY_ACTIVATION_DELAY` old and, for a key this process first saw
//!   while running, once that sighting is too: a file time can lie (`cp -p`,
//!   `rsync -a`, `tar x` and `touch -d` keep or set an old one), the moment
//!   a replica saw a key cannot. Once active, a key stays active for the
//!   life of the process (a Kubernetes Secret update re-dates every file).
//! - Where no key is active, the key published first signs, judged by the
//!   earlier of its file time and its kid's timestamp (keygen's kids are
//!   creation times), so an old key whose file was rewritten still wins over
//!   a new one; on a tie, the least kid.
//! - The next signer: of the kids greater than the signer's that are not
//!   active, the first to become active (the greater kid on a tie).

use super::SigningRule;
use super::folder::PIN_FILE;

/// One loaded key as the choice sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its kid.
    pub kid: String,
    /// Its file's modification time, seconds since the epoch (None: the file
    /// system does not say).
    pub file_time: Option<i64>,
    /// When this process first saw it while running, seconds since the
    /// epoch; None for the keys it found at start (it had seen nothing then,
    /// so their file times alone decide).
    pub first_seen: Option<i64>,
    /// Whether it was active in this process before (the same key).
    pub was_active: bool,
}

impl Candidate {
    /// A key found at start: its file time alone decides.
    pub fn at_start(kid: &str, file_time: Option<i64>) -> Self {
        Self {
            kid: kid.to_owned(),
            file_time,
            first_seen: None,
            was_active: false,
        }
    }

    /// When the activation delay lets it sign (the later of its file time and
    /// its first sighting, plus the delay); None when neither is known.
    pub fn active_from(&self, delay: i64) -> Option<i64> {
        [self.file_time, self.first_seen]
            .into_iter()
            .flatten()
            .max()
            .map(|at| at.saturating_add(delay))
    }

    /// When it was published as far as anyone can tell: the earlier of its
    /// file time and its kid's timestamp.
    pub fn published(&self) -> Option<i64> {
        [self.file_time, kid_time(&self.kid)]
            .into_iter()
            .flatten()
            .min()
    }
}

/// The timestamp a kid of keygen's default form (`YYYYMMDDTHHMMSSZ`, UTC)
/// names, seconds since the epoch; None for any other kid.
pub fn kid_time(kid: &str) -> Option<i64> {
    if kid.len() != 16 {
        return None;
    }
    chrono::NaiveDateTime::parse_from_str(kid, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|at| at.and_utc().timestamp())
}

/// What [`choose`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The kid that signs.
    pub signer: String,
    /// Whether each candidate (in the order given) is active.
    pub active: Vec<bool>,
    /// The kid that signs next, and from when (None when pinned).
    pub next: Option<(String, i64)>,
}

/// Why no key can sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    /// No candidate at all.
    #[error("no key")]
    NoKeys,
    /// A pin names no candidate.
    #[error("{origin}={kid} names no usable key file")]
    PinnedKidMissing {
        /// `WXAUTH_SIGNING_KID` or the pin file.
        origin: &'static str,
        /// The pinned kid.
        kid: String,
    },
}

/// Picks the signing key among `candidates` under `rule` and the pin file's
/// kid (`file_pin`, ignored when `rule` pins), at `now`.
pub fn choose(
    candidates: &[Candidate],
    rule: &SigningRule,
    file_pin: Option<&str>,
    now: i64,
) -> Result<Choice, ChoiceError> {
    let delay = rule.activation_delay;
    let mut active: Vec<bool> = candidates
        .iter()
        .map(|c| c.was_active || c.active_from(delay).is_none_or(|at| at <= now))
        .collect();
    if !active.contains(&true) {
        // A fresh folder (or every active key gone): the first published
        // signs, as it did on a replica that started when it was alone.
        let first = candidates
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| (a.published(), &a.kid).cmp(&(b.published(), &b.kid)))
            .map(|(index, _)| index);
        if let Some(slot) = first.and_then(|index| active.get_mut(index)) {
            *slot = true;
        }
    }
    let pin = match (rule.pin.as_deref(), file_pin) {
        (Some(kid), _) => Some(("WXAUTH_SIGNING_KID", kid)),
        (None, Some(kid)) => Some((PIN_FILE, kid)),
        (None, None) => None,
    };
    let signer = match pin {
        Some((origin, kid)) => candidates.iter().find(|c| c.kid == kid).ok_or_else(|| {
            ChoiceError::PinnedKidMissing {
                origin,
                kid: kid.to_owned(),
            }
        })?,
        None => candidates
            .iter()
            .zip(&active)
            .filter(|(_, active)| **active)
            .map(|(c, _)| c)
            .max_by(|a, b| a.kid.cmp(&b.kid))
            .ok_or(ChoiceError::NoKeys)?,
    };
    let next = match pin {
        Some(_) => None,
        None => candidates
            .iter()
            .zip(&active)
            .filter(|(c, active)| !**active && c.kid > signer.kid)
            .filter_map(|(c, _)| Some((c.active_from(delay)?, &c.kid)))
            .min_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
            .map(|(at, kid)| (kid.clone(), at)),
    };
    Ok(Choice {
        signer: signer.kid.clone(),
        active,
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000; // 2027-01-15T08:00:00Z
    const DELAY: i64 = 600;
    /// keygen kids: creation times.
    const OLD: &str = "20260101T000000Z"; // long before NOW
    const NEW: &str = "20270115T075900Z"; // NOW - 60
    const NEWER: &str = "20270115T075950Z"; // NOW - 10

    /// A key found at start with its file `age` seconds old.
    fn start(kid: &str, age: i64) -> Candidate {
        Candidate::at_start(kid, Some(NOW - age))
    }

    /// A key first seen while running, `seen` seconds ago, file `age` old.
    fn seen(kid: &str, age: i64, seen: i64) -> Candidate {
        Candidate {
            first_seen: Some(NOW - seen),
            ..start(kid, age)
        }
    }

    fn was_active(candidate: Candidate) -> Candidate {
        Candidate {
            was_active: true,
            ..candidate
        }
    }

    fn rule(pin: Option<&str>) -> SigningRule {
        SigningRule {
            pin: pin.map(str::to_owned),
            activation_delay: DELAY,
        }
    }

    #[test]
    fn the_rules_as_a_table() {
        struct Case {
            what: &'static str,
            keys: Vec<Candidate>,
            pin: Option<&'static str>,
            file_pin: Option<&'static str>,
            signer: &'static str,
            next: Option<(&'static str, i64)>,
        }
        let cases = [
            Case {
                what: "the greatest active kid signs",
                keys: vec![start(OLD, 86_400), start(NEW, 86_400)],
                pin: None,
                file_pin: None,
                signer: NEW,
                next: None,
            },
            Case {
                what: "a young key at start waits out the delay from its file time",
                keys: vec![start(OLD, 86_400), start(NEW, 60)],
                pin: None,
                file_pin: None,
                signer: OLD,
                next: Some((NEW, NOW - 60 + DELAY)),
            },
            Case {
                what: "a key exactly the delay old signs",
                keys: vec![start(OLD, 86_400), start(NEW, DELAY)],
                pin: None,
                file_pin: None,
                signer: NEW,
                next: None,
            },
            Case {
                what: "a back-dated file seen while running waits from its sighting",
                keys: vec![was_active(start(OLD, 86_400)), seen(NEW, 86_400, 0)],
                pin: None,
                file_pin: None,
                signer: OLD,
                next: Some((NEW, NOW + DELAY)),
            },
            Case {
                what: "... until the delay has passed since the sighting",
                keys: vec![was_active(start(OLD, 86_400)), seen(NEW, 86_400, DELAY)],
                pin: None,
                file_pin: None,
                signer: NEW,
                next: None,
            },
            Case {
                what: "a new file seen while running waits for the later of both",
                keys: vec![was_active(start(OLD, 86_400)), seen(NEW, 100, 300)],
                pin: None,
                file_pin: None,
                signer: OLD,
                next: Some((NEW, NOW - 100 + DELAY)),
            },
            Case {
                what: "an active key stays active when its file is re-dated",
                keys: vec![was_active(start(OLD, 0)), seen(NEW, 0, 0)],
                pin: None,
                file_pin: None,
                signer: OLD,
                next: Some((NEW, NOW + DELAY)),
            },
            Case {
                what: "none active: a fresh folder's only key signs at once",
                keys: vec![start(NEW, 1)],
                pin: None,
                file_pin: None,
                signer: NEW,
                next: None,
            },
            Case {
                what: "none active: the first published signs, the later one is next",
                keys: vec![start(OLD, 300), start(NEW, 100)],
                pin: None,
                file_pin: None,
                signer: OLD,
                next: Some((NEW, NOW - 100 + DELAY)),
            },
            Case {
                what: "none active, the old key's file rewritten after the new one's: \
                       the old kid's time still makes it the first published",
                keys: vec![start(OLD, 10), start(NEW, 60)],
                pin: None,
                file_pin: None,
                signer: OLD,
                next: Some((NEW, NOW - 60 + DELAY)),
            },
            Case {
                what: "none active, kids that name no time: the earlier file",
                keys: vec![start("a", 10), start("b", 60)],
                pin: None,
                file_pin: None,
                signer: "b",
                next: None,
            },
            Case {
                what: "none active, published at the same moment: the least kid",
                keys: vec![start("a", 1), start("b", 1)],
                pin: None,
                file_pin: None,
                signer: "a",
                next: Some(("b", NOW - 1 + DELAY)),
            },
            Case {
                what: "a file time the file system does not give: active at once",
                keys: vec![start(OLD, 86_400), Candidate::at_start(NEW, None)],
                pin: None,
                file_pin: None,
                signer: NEW,
                next: None,
            },
            Case {
                what: "a waiting key with a smaller kid is never next",
                keys: vec![start(OLD, 60), start(NEW, 86_400)],
                pin: None,
                file_pin: None,
                signer: NEW,
                next: None,
            },
            Case {
                what: "two waiting: the first to become active is next",
                keys: vec![start(OLD, 86_400), start(NEW, 60), start(NEWER, 10)],
                pin: None,
                file_pin: None,
                signer: OLD,
                next: Some((NEW, NOW - 60 + DELAY)),
            },
            Case {
                what: "two waiting that become active together: the greater kid is next",
                keys: vec![start(OLD, 86_400), start(NEW, 60), start(NEWER, 60)],
                pin: None,
                file_pin: None,
                signer: OLD,
                next: Some((NEWER, NOW - 60 + DELAY)),
            },
            Case {
                what: "the pin file promotes at once, and nothing is next",
                keys: vec![start(OLD, 86_400), seen(NEW, 0, 0)],
                pin: None,
                file_pin: Some(NEW),
                signer: NEW,
                next: None,
            },
            Case {
                what: "WXAUTH_SIGNING_KID wins over the pin file",
                keys: vec![start(OLD, 86_400), start(NEW, 86_400)],
                pin: Some(OLD),
                file_pin: Some(NEW),
                signer: OLD,
                next: None,
            },
        ];
        for case in cases {
            let choice = choose(&case.keys, &rule(case.pin), case.file_pin, NOW)
                .unwrap_or_else(|e| panic!("{}: {e}", case.what));
            assert_eq!(choice.signer, case.signer, "{}", case.what);
            assert_eq!(
                choice.next,
                case.next.map(|(kid, at)| (kid.to_owned(), at)),
                "{}",
                case.what
            );
            let signer = case.keys.iter().position(|c| c.kid == case.signer).unwrap();
            assert!(
                case.pin.is_some() || case.file_pin.is_some() || choice.active[signer],
                "{}: an unpinned signer is active",
                case.what
            );
        }
    }

    #[test]
    fn a_pin_naming_no_key_and_no_key_at_all_are_errors() {
        assert_eq!(
            choose(&[start(OLD, 1)], &rule(Some("zz")), None, NOW),
            Err(ChoiceError::PinnedKidMissing {
                origin: "WXAUTH_SIGNING_KID",
                kid: "zz".into()
            })
        );
        assert_eq!(
            choose(&[start(OLD, 1)], &rule(None), Some("zz"), NOW),
            Err(ChoiceError::PinnedKidMissing {
                origin: PIN_FILE,
                kid: "zz".into()
            })
        );
        assert_eq!(
            choose(&[], &rule(None), None, NOW),
            Err(ChoiceError::NoKeys)
        );
    }

    #[test]
    fn kid_times_are_read_from_keygen_kids_only() {
        assert_eq!(kid_time(NEW), Some(NOW - 60));
        assert_eq!(kid_time("k2"), None);
        assert_eq!(kid_time("20271315T000000Z"), None, "no 13th month");
        assert_eq!(kid_time("20270115T075900Z-x"), None);
    }
}
