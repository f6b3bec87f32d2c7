//! The apps file (`WXAUTH_APPS_FILE`, docs/API.md "Apps and platforms"): TOML, read once at
//! start and validated completely; every problem names the app and the
//! field. Secrets come only from an environment variable or a file, and are
//! held in a type that never prints them.

use super::{ConfigError, parse_appid, parse_base_url};
use crate::platform::{AppConfig, Platform};
use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The variable that names the file, for errors.
const VARIABLE: &str = "WXAUTH_APPS_FILE";
/// The largest apps file read.
const MAX_APPS_FILE: u64 = 1024 * 1024;
/// How long one read may take (a hung network folder).
const READ_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// The largest secret file read.
const MAX_SECRET_FILE: u64 = 4 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppsFile {
    #[serde(default)]
    app: Vec<FileApp>,
}

/// One `[[app]]` as written; every field optional here so that a missing
/// one gets our message, naming the app.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileApp {
    platform: Option<String>,
    appid: Option<String>,
    secret_env: Option<String>,
    secret_file: Option<PathBuf>,
    api_base: Option<String>,
}

/// Reads and checks the apps file at `path`, with secret variables read
/// through `lookup`.
pub fn read_apps_file(
    path: &Path,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<AppConfig>, ConfigError> {
    let fail =
        |message: String| ConfigError::new(VARIABLE, format!("{}: {message}", path.display()));
    let text =
        read_small_file(path, MAX_APPS_FILE).map_err(|e| fail(format!("cannot be read: {e}")))?;
    let text = String::from_utf8(text).map_err(|_| fail("is not UTF-8".into()))?;
    // `[app]` parses as one table where an array of tables is expected;
    // serde would say only "invalid type: map, expected a sequence".
    if let Ok(table) = toml::from_str::<toml::Table>(&text)
        && table.get("app").is_some_and(toml::Value::is_table)
    {
        return Err(fail(
            "[app] is a single table: write each mini-program as an [[app]] table \
             (double brackets), one per app"
                .into(),
        ));
    }
    // toml's own Display quotes the offending line, which could hold a
    // secret someone wrote into the file: only its message and line number.
    let file: AppsFile = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|span| {
                text.get(..span.start)
                    .map_or(0, |head| head.lines().count().max(1))
            })
            .unwrap_or(0);
        fail(format!("line {line}: {}", e.message().trim()))
    })?;
    if file.app.is_empty() {
        return Err(fail(
            "names no app: add an [[app]] table per mini-program".into(),
        ));
    }
    let mut apps: Vec<AppConfig> = Vec::with_capacity(file.app.len());
    for (index, app) in file.app.into_iter().enumerate() {
        let number = index + 1;
        let named = |appid: &str, field: &str, problem: String| {
            let who = if appid.is_empty() {
                format!("app {number}")
            } else {
                format!("app {number} ({appid})")
            };
            fail(format!("{who}: {field}: {problem}"))
        };
        let appid = app
            .appid
            .ok_or_else(|| named("", "appid", "is missing".into()))?;
        let appid = parse_appid(&appid).map_err(|e| named("", "appid", e))?;
        if apps.iter().any(|other| other.appid == appid) {
            return Err(named(
                &appid,
                "appid",
                "appears twice: appids are unique".into(),
            ));
        }
        let platform: Platform = app
            .platform
            .ok_or_else(|| {
                named(
                    &appid,
                    "platform",
                    "is missing (wechat, qq or douyin)".into(),
                )
            })?
            .parse()
            .map_err(|e| named(&appid, "platform", e))?;
        let secret = match (app.secret_env, app.secret_file) {
            (Some(variable), None) => lookup(&variable)
                .filter(|value| !value.trim().is_empty())
                .map(|value| SecretString::from(value.trim()))
                .ok_or_else(|| {
                    named(
                        &appid,
                        "secret_env",
                        format!("the variable {variable} is unset or empty"),
                    )
                })?,
            (None, Some(secret_file)) => {
                let bytes = read_small_file(&secret_file, MAX_SECRET_FILE).map_err(|e| {
                    named(
                        &appid,
                        "secret_file",
                        format!("{} cannot be read: {e}", secret_file.display()),
                    )
                })?;
                let text = String::from_utf8(bytes)
                    .ok()
                    .filter(|text| !text.trim().is_empty())
                    .ok_or_else(|| {
                        named(
                            &appid,
                            "secret_file",
                            format!("{} is empty or not text", secret_file.display()),
                        )
                    })?;
                SecretString::from(text.trim())
            }
            (Some(_), Some(_)) => {
                return Err(named(
                    &appid,
                    "secret_env",
                    "and secret_file are both set: give exactly one".into(),
                ));
            }
            (None, None) => {
                return Err(named(&appid, "secret_env", "is missing: give secret_env or secret_file (a secret is never written in this file)".into()));
            }
        };
        let api_base = match app.api_base {
            Some(base) => parse_base_url(&base).map_err(|e| named(&appid, "api_base", e))?,
            None => platform.default_api_base().to_owned(),
        };
        apps.push(AppConfig {
            platform,
            appid,
            secret,
            api_base,
        });
    }
    Ok(apps)
}

/// Reads a regular file of at most `max` bytes, as every file of an
/// operator's folder is read (see [`crate::fs`]).
fn read_small_file(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    match crate::fs::read_bounded(path, max, READ_WAIT) {
        Ok(file) => Ok(file.bytes),
        Err(crate::fs::ReadError::Io(e)) => Err(e.to_string()),
        Err(other) => Err(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(toml: &str, env: &[(&str, &str)]) -> Result<Vec<AppConfig>, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("apps.toml");
        std::fs::write(&path, toml).unwrap();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        read_apps_file(&path, &|name| env.get(name).cloned())
    }

    #[test]
    fn apps_of_three_platforms_are_read_with_their_defaults() {
        let apps = read(
            r#"
[[app]]
platform = "wechat"
appid = "wx1234567890abcdef"
secret_env = "SHOP"
[[app]]
platform = "qq"
appid = "1109876543"
secret_env = "QQ"
[[app]]
platform = "douyin"
appid = "tt1234567890abcdef"
secret_env = "TT"
api_base = "http://127.0.0.1:9/"
"#,
            &[("SHOP", "s1"), ("QQ", "s2"), ("TT", "s3")],
        )
        .unwrap();
        assert_eq!(apps.len(), 3);
        assert_eq!(apps[0].api_base, "https://api.weixin.qq.com");
        assert_eq!(apps[1].platform, Platform::Qq);
        assert_eq!(apps[1].api_base, "https://api.q.qq.com");
        assert_eq!(apps[2].api_base, "http://127.0.0.1:9");
        assert!(!format!("{:?}", apps).contains("s1"), "secrets never print");
    }

    #[test]
    fn every_problem_names_the_app_and_the_field() {
        let one = |body: &str| format!("[[app]]\n{body}\n");
        for (toml, env, expected) in [
            (
                one("platform = \"wechat\"\nsecret_env = \"S\""),
                vec![("S", "x")],
                "app 1: appid: is missing",
            ),
            (
                one("platform = \"line\"\nappid = \"wx1\"\nsecret_env = \"S\""),
                vec![("S", "x")],
                "app 1 (wx1): platform: \"line\" is not a platform",
            ),
            (
                one("platform = \"qq\"\nappid = \"q1\"\nsecret_env = \"S\""),
                vec![],
                "app 1 (q1): secret_env: the variable S is unset",
            ),
            (
                one("platform = \"qq\"\nappid = \"q1\"\nsecret_file = \"/nonexistent/secret\""),
                vec![],
                "app 1 (q1): secret_file: /nonexistent/secret cannot be read",
            ),
            (
                one("platform = \"qq\"\nappid = \"q1\""),
                vec![],
                "app 1 (q1): secret_env: is missing",
            ),
            (
                one(
                    "platform = \"qq\"\nappid = \"q1\"\nsecret_env = \"S\"\napi_base = \"ftp://x\"",
                ),
                vec![("S", "x")],
                "app 1 (q1): api_base:",
            ),
            (
                format!(
                    "{}{}",
                    one("platform = \"qq\"\nappid = \"q1\"\nsecret_env = \"S\""),
                    one("platform = \"wechat\"\nappid = \"q1\"\nsecret_env = \"S\"")
                ),
                vec![("S", "x")],
                "app 2 (q1): appid: appears twice",
            ),
            (
                one("platform = \"qq\"\nappid = \"q1\"\nsecret = \"hunter2\""),
                vec![],
                "line 3: unknown field `secret`",
            ),
            (String::new(), vec![], "names no app"),
        ] {
            let error = read(&toml, &env).unwrap_err();
            assert_eq!(error.variable, VARIABLE);
            assert!(
                error.message.contains(expected),
                "{expected:?} not in {:?}",
                error.message
            );
            assert!(!error.message.contains("hunter2"), "{}", error.message);
        }
    }

    #[test]
    fn a_secret_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cret\n").unwrap();
        let apps = read(
            &format!(
                "[[app]]\nplatform = \"douyin\"\nappid = \"tt1\"\nsecret_file = \"{}\"\n",
                secret.display()
            ),
            &[],
        )
        .unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&apps[0].secret),
            "s3cret"
        );
    }
}
