//! The apps file (`WXAUTH_APPS_FILE`, docs/API.md "Apps and platforms"): TOML, read once at
//! start and validated completely; every problem names the app and the
//! field. Secrets come only from an environment variable or a file, and are
//! held in a type that never prints them.

use super::{ConfigError, parse_appid, parse_base_url};
use crate::platform::{AlipayKeys, AppConfig, Platform};
use crate::weblogin::RedirectRule;
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
    redirect_uris: Option<Vec<String>>,
    /// Alipay: the app's private key (PKCS#8 or PKCS#1 PEM), instead of a
    /// secret.
    private_key_env: Option<String>,
    private_key_file: Option<PathBuf>,
    /// Alipay: Alipay's public key, which its answers verify with.
    alipay_public_key_env: Option<String>,
    alipay_public_key_file: Option<PathBuf>,
    /// Alipay: the content (AES) key, for `my.getPhoneNumber`; optional.
    aes_key_env: Option<String>,
    aes_key_file: Option<PathBuf>,
}

/// The largest key file read.
const MAX_KEY_FILE: u64 = 16 * 1024;

/// A value from an environment variable or a file, exactly one of them
/// (`env_field`/`file_field` name them in errors); `Ok(None)` when neither.
fn env_or_file(
    lookup: &impl Fn(&str) -> Option<String>,
    (env_field, variable): (&str, Option<String>),
    (file_field, file): (&str, Option<PathBuf>),
    max: u64,
) -> Result<Option<SecretString>, (String, String)> {
    match (variable, file) {
        (Some(variable), None) => lookup(&variable)
            .filter(|value| !value.trim().is_empty())
            .map(|value| Some(SecretString::from(value.trim())))
            .ok_or_else(|| {
                (
                    env_field.to_owned(),
                    format!("the variable {variable} is unset or empty"),
                )
            }),
        (None, Some(path)) => {
            let bytes = read_small_file(&path, max).map_err(|e| {
                (
                    file_field.to_owned(),
                    format!("{} cannot be read: {e}", path.display()),
                )
            })?;
            String::from_utf8(bytes)
                .ok()
                .filter(|text| !text.trim().is_empty())
                .map(|text| Some(SecretString::from(text.trim())))
                .ok_or_else(|| {
                    (
                        file_field.to_owned(),
                        format!("{} is empty or not text", path.display()),
                    )
                })
        }
        (Some(_), Some(_)) => Err((
            env_field.to_owned(),
            format!("and {file_field} are both set: give exactly one"),
        )),
        (None, None) => Ok(None),
    }
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
                    "is missing (wechat, qq, douyin, alipay, baidu, kuaishou, feishu, wechat_h5, wechat_web or wechat_app)".into(),
                )
            })?
            .parse()
            .map_err(|e| named(&appid, "platform", e))?;
        let alipay_fields = [
            app.private_key_env.is_some() || app.private_key_file.is_some(),
            app.alipay_public_key_env.is_some() || app.alipay_public_key_file.is_some(),
            app.aes_key_env.is_some() || app.aes_key_file.is_some(),
        ];
        let field_error = |(field, problem): (String, String)| named(&appid, &field, problem);
        let (secret, alipay) = if platform == Platform::Alipay {
            if app.secret_env.is_some() || app.secret_file.is_some() {
                return Err(named(&appid, "secret_env", "an Alipay app has no secret: give private_key_env or private_key_file, and alipay_public_key_env or alipay_public_key_file".into()));
            }
            let private_key = env_or_file(
                lookup,
                ("private_key_env", app.private_key_env),
                ("private_key_file", app.private_key_file),
                MAX_KEY_FILE,
            )
            .map_err(field_error)?
            .ok_or_else(|| named(&appid, "private_key_env", "is missing: give private_key_env or private_key_file (the app's RSA private key, PKCS#8 or PKCS#1 PEM)".into()))?;
            let public_key = env_or_file(
                lookup,
                ("alipay_public_key_env", app.alipay_public_key_env),
                ("alipay_public_key_file", app.alipay_public_key_file),
                MAX_KEY_FILE,
            )
            .map_err(field_error)?
            .ok_or_else(|| named(&appid, "alipay_public_key_env", "is missing: give alipay_public_key_env or alipay_public_key_file (Alipay's public key, from the app's key settings)".into()))?;
            let content_key = env_or_file(
                lookup,
                ("aes_key_env", app.aes_key_env),
                ("aes_key_file", app.aes_key_file),
                MAX_SECRET_FILE,
            )
            .map_err(field_error)?;
            use secrecy::ExposeSecret as _;
            let keys = AlipayKeys::parse(
                private_key.expose_secret(),
                public_key.expose_secret(),
                content_key.as_ref().map(|k| k.expose_secret()),
            )
            .map_err(|e| {
                let field = match e {
                    crate::platform::AlipayKeyError::PrivateKey => "private_key",
                    crate::platform::AlipayKeyError::PublicKey => "alipay_public_key",
                    crate::platform::AlipayKeyError::ContentKey => "aes_key",
                };
                named(&appid, field, e.to_string())
            })?;
            (SecretString::from(""), Some(std::sync::Arc::new(keys)))
        } else {
            if alipay_fields.iter().any(|set| *set) {
                return Err(named(
                    &appid,
                    "private_key_env",
                    "private_key_*, alipay_public_key_* and aes_key_* are for Alipay apps only"
                        .into(),
                ));
            }
            let secret = env_or_file(
                lookup,
                ("secret_env", app.secret_env),
                ("secret_file", app.secret_file),
                MAX_SECRET_FILE,
            )
            .map_err(field_error)?
            .ok_or_else(|| named(&appid, "secret_env", "is missing: give secret_env or secret_file (a secret is never written in this file)".into()))?;
            (secret, None)
        };
        let api_base = match app.api_base {
            Some(base) => parse_base_url(&base).map_err(|e| named(&appid, "api_base", e))?,
            None => platform.default_api_base().to_owned(),
        };
        let redirect_uris = match (platform.needs_state(), app.redirect_uris) {
            (true, Some(uris)) if !uris.is_empty() => uris
                .iter()
                .map(|uri| RedirectRule::parse(uri))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| named(&appid, "redirect_uris", e))?,
            (true, _) => {
                return Err(named(
                    &appid,
                    "redirect_uris",
                    format!(
                        "is missing: a {platform} app lists the URLs its login page may be sent back to"
                    ),
                ));
            }
            (false, None) => Vec::new(),
            (false, Some(_)) => {
                return Err(named(
                    &appid,
                    "redirect_uris",
                    format!("is for wechat_h5 and wechat_web apps, not {platform}"),
                ));
            }
        };
        apps.push(AppConfig {
            platform,
            appid,
            secret,
            api_base,
            redirect_uris,
            alipay,
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
    fn web_apps_need_their_redirect_uris_and_only_they_take_them() {
        let apps = read(
            "[[app]]\nplatform = \"wechat_h5\"\nappid = \"wxh5\"\nsecret_env = \"S\"\n\
             redirect_uris = [\"https://shop.example.com/login\"]\n\
             [[app]]\nplatform = \"wechat_app\"\nappid = \"wxapp\"\nsecret_env = \"S\"\n",
            &[("S", "x")],
        )
        .unwrap();
        assert_eq!(apps[0].platform, Platform::WechatH5);
        assert_eq!(apps[0].api_base, "https://api.weixin.qq.com");
        assert_eq!(apps[0].redirect_uris.len(), 1);
        assert!(apps[1].redirect_uris.is_empty());
        for (toml, expected) in [
            (
                "platform = \"wechat_web\"\nappid = \"wxweb\"\nsecret_env = \"S\"",
                "app 1 (wxweb): redirect_uris: is missing",
            ),
            (
                "platform = \"wechat_h5\"\nappid = \"wxh5\"\nsecret_env = \"S\"\nredirect_uris = []",
                "app 1 (wxh5): redirect_uris: is missing",
            ),
            (
                "platform = \"wechat_h5\"\nappid = \"wxh5\"\nsecret_env = \"S\"\nredirect_uris = [\"shop.example.com/login\"]",
                "app 1 (wxh5): redirect_uris: \"shop.example.com/login\" is not a URL",
            ),
            (
                "platform = \"wechat\"\nappid = \"wx1\"\nsecret_env = \"S\"\nredirect_uris = [\"https://a.example.com/\"]",
                "app 1 (wx1): redirect_uris: is for wechat_h5 and wechat_web apps, not wechat",
            ),
        ] {
            let error = read(&format!("[[app]]\n{toml}\n"), &[("S", "x")]).unwrap_err();
            assert!(
                error.message.contains(expected),
                "{expected:?} not in {:?}",
                error.message
            );
        }
    }

    #[test]
    fn an_alipay_app_names_its_keys_instead_of_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("app.pem");
        std::fs::write(&private, include_str!("../sim/alipay/app-private.pem")).unwrap();
        let toml = |extra: &str| {
            format!(
                "[[app]]\nplatform = \"alipay\"\nappid = \"2021000000000001\"\nprivate_key_file = \"{}\"\n{extra}\n",
                private.display()
            )
        };
        let public = include_str!("../sim/alipay/gateway-public.pem");
        let apps = read(
            &toml("alipay_public_key_env = \"ALIPAY_PUB\"\naes_key_env = \"AES\""),
            &[("ALIPAY_PUB", public), ("AES", "aa4BtZ4tspm2wnXLb1ThQA==")],
        )
        .unwrap();
        assert_eq!(apps[0].platform, Platform::Alipay);
        assert_eq!(apps[0].api_base, "https://openapi.alipay.com");
        assert!(apps[0].alipay.is_some());
        assert!(!format!("{:?}", apps).contains("BEGIN"), "keys never print");
        for (body, env, expected) in [
            (toml(""), vec![], "app 1 (2021000000000001): alipay_public_key_env: is missing"),
            (
                toml("alipay_public_key_env = \"P\""),
                vec![("P", "bm90IGEga2V5")],
                "alipay_public_key: not an RSA public key",
            ),
            (
                toml("alipay_public_key_env = \"P\"\naes_key_env = \"A\""),
                vec![("P", public), ("A", "AAAA")],
                "aes_key: not an AES key",
            ),
            (
                toml("alipay_public_key_env = \"P\"\nsecret_env = \"S\""),
                vec![("P", public), ("S", "x")],
                "an Alipay app has no secret",
            ),
            (
                "[[app]]\nplatform = \"baidu\"\nappid = \"bd1\"\nsecret_env = \"S\"\naes_key_env = \"A\"\n".into(),
                vec![("S", "x"), ("A", "x")],
                "are for Alipay apps only",
            ),
        ] {
            let error = read(&body, &env).unwrap_err();
            assert!(error.message.contains(expected), "{expected:?} not in {:?}", error.message);
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
