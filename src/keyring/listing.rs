//! The table `wxauth keys` prints: one row a key (kid, alg, role, active
//! since or from when, file), one a refused file, then the next signer and
//! the warnings an operator should act on. Columns are as wide as their
//! widest cell, so a pending key's `from <time>` or a long kid keeps them
//! aligned.

use super::{BrokenKeyFile, Keyring, SigningRule};

/// The table for `keyring` (and the files refused beside it) under `rule`.
pub fn render(keyring: &Keyring, broken: &[BrokenKeyFile], rule: &SigningRule) -> String {
    let mut rows: Vec<[String; 5]> =
        vec![["KID", "ALG", "ROLE", "ACTIVE", "FILE"].map(String::from)];
    let mut warnings = Vec::new();
    for state in keyring.states() {
        let key = &state.key;
        let role = if key.kid() == keyring.signing().kid() {
            "signing"
        } else {
            "verify-only"
        };
        let active = match state.active_from(rule) {
            _ if state.active => "yes".to_owned(),
            Some(from) => format!("from {}", utc(from)),
            None => "no".to_owned(),
        };
        rows.push([
            key.kid().to_owned(),
            key.alg().to_string(),
            role.to_owned(),
            active,
            key.path().display().to_string(),
        ]);
        if let (Some(kid_time), Some(file_time)) = (state.dated_before_its_kid(), state.published) {
            warnings.push(format!(
                "warning: {} is dated {}, before its kid's time {}: it was copied keeping an \
                 older time (cp -p, rsync -a, tar x) or back-dated, so a replica that starts now \
                 may let it sign before every replica and JWK Set cache has it. Copy key files \
                 without keeping their times (touch it now), or pin the signing key",
                key.path().display(),
                utc(file_time),
                utc(kid_time)
            ));
        }
    }
    for file in broken {
        rows.push([
            "-".to_owned(),
            "-".to_owned(),
            "broken".to_owned(),
            "-".to_owned(),
            format!("{} ({})", file.path.display(), file.error),
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line.push_str(&format!("{cell:<width$} "));
        }
        if let Some(last) = row.last() {
            line.push_str(last);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    match keyring.next_signing() {
        Some((kid, from)) => out.push_str(&format!("next: {kid} signs from {}\n", utc(from))),
        None => out.push_str("next: none waiting\n"),
    }
    for warning in warnings {
        out.push_str(&warning);
        out.push('\n');
    }
    out
}

/// Seconds since the epoch as RFC 3339 UTC.
fn utc(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map_or_else(
        || seconds.to_string(),
        |at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::{KeyAlg, write_new_key};

    fn set_time(path: &std::path::Path, at: i64) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(at as u64))
            .unwrap();
    }

    #[test]
    fn a_pending_key_keeps_the_columns_aligned() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000;
        let old = write_new_key(dir.path(), "20260101T000000Z", KeyAlg::Eddsa).unwrap();
        set_time(&old, now - 86_400);
        let new = write_new_key(dir.path(), "20270115T075900Z", KeyAlg::Es256).unwrap();
        set_time(&new, now - 60);
        let rule = SigningRule {
            pin: None,
            activation_delay: 600,
        };
        let (ring, broken) = Keyring::load_with(dir.path(), &rule, now).unwrap();

        let table = render(&ring, &broken, &rule);

        let lines: Vec<&str> = table.lines().collect();
        let file_column = |line: &str| line.find(dir.path().to_str().unwrap());
        assert!(lines[2].contains("from 2027-01-15T08:09:00Z"), "{table}");
        assert_eq!(file_column(lines[1]), file_column(lines[2]), "{table}");
        assert_eq!(
            lines[0].find("FILE"),
            file_column(lines[1]),
            "the header too:\n{table}"
        );
        assert!(lines[3].starts_with("next: 20270115T075900Z signs from"));
        assert!(!table.contains("warning"), "{table}");
    }

    #[test]
    fn a_file_dated_before_its_kid_is_warned_of() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000;
        let copied = write_new_key(dir.path(), "20270115T075900Z", KeyAlg::Eddsa).unwrap();
        set_time(&copied, now - 86_400);
        let rule = SigningRule {
            pin: None,
            activation_delay: 600,
        };
        let (ring, broken) = Keyring::load_with(dir.path(), &rule, now).unwrap();

        let table = render(&ring, &broken, &rule);

        assert!(
            table.contains(
                "20270115T075900Z.pem is dated 2027-01-14T08:00:00Z, before its kid's time \
                 2027-01-15T07:59:00Z"
            ),
            "{table}"
        );
        assert!(table.contains("touch it now), or pin"), "{table}");
    }
}
