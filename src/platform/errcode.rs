//! What the platforms' error codes mean (docs/API.md, "HTTP API" and "Apps and platforms"
//! table), and how the ones that are the operator's mistake are logged.

use super::{Platform, PlatformError};

/// Maps WeChat's `errcode` (absent counts as 0) to success or the error the
/// docs/API.md's error table names. Codes that are the operator's mistake are logged with
/// their cause and WeChat's `errmsg`, scrubbed of `secrets`: it carries the
/// `rid` WeChat's support asks for, but it is text we do not control.
pub(super) fn check_errcode(
    api: &str,
    errcode: i64,
    errmsg: Option<&str>,
    secrets: &[&str],
) -> Result<(), PlatformError> {
    match errcode {
        0 => Ok(()),
        40029 => Err(PlatformError::InvalidCode),
        40163 => Err(PlatformError::CodeUsed),
        45011 => Err(PlatformError::RateLimited),
        40226 => Err(PlatformError::UserBlocked),
        errcode => {
            let error = PlatformError::Rejected {
                errcode,
                cause: operator_cause(errcode).to_owned(),
            };
            let errmsg = scrub(errmsg.unwrap_or(""), secrets);
            log::error!("{api} failed: {error} (errmsg: {errmsg:?})");
            Err(error)
        }
    }
}

/// `text` cut to 200 characters, with every occurrence of `secrets` replaced.
pub(super) fn scrub(text: &str, secrets: &[&str]) -> String {
    // Replace first, then cut, so a secret at the cut cannot leave a prefix.
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "[REDACTED]");
    }
    text.chars().take(200).collect()
}

/// What the operator should check for an errcode that is their mistake.
fn operator_cause(errcode: i64) -> &'static str {
    match errcode {
        40013 => "invalid appid: check the app's appid",
        40125 => "invalid app secret: check the app's secret",
        40164 => "this server's IP is not on the mini-program's API IP whitelist",
        41002 => "appid missing from the request",
        41004 => "app secret missing from the request",
        41008 => "code missing from the request",
        40001 | 42001 => "the access token was refused even after a refresh",
        40003 => "invalid openid",
        _ => "not an errcode wxauth knows",
    }
}

/// Maps Douyin's `err_no` (docs/API.md, "Apps and platforms"): 0 success, 40018 a bad code;
/// anything else is logged with `err_tips` (scrubbed) as the operator's
/// problem. (-1 is retried before it gets here.)
pub(super) fn check_err_no(
    err_no: i64,
    err_tips: Option<&str>,
    secrets: &[&str],
) -> Result<(), PlatformError> {
    match err_no {
        0 => Ok(()),
        40018 => Err(PlatformError::InvalidCode),
        err_no => {
            let error = PlatformError::Rejected {
                errcode: err_no,
                cause: douyin_cause(err_no).to_owned(),
            };
            let tips = scrub(err_tips.unwrap_or(""), secrets);
            log::error!("Douyin jscode2session failed: {error} (err_tips: {tips:?})");
            Err(error)
        }
    }
}

/// What the operator should check for a Douyin `err_no`.
fn douyin_cause(err_no: i64) -> &'static str {
    match err_no {
        40014 => "bad parameters in the request",
        40015 => "invalid appid: check the app's appid",
        40017 => "invalid secret: check the app's secret",
        _ => "not an err_no wxauth knows",
    }
}

/// The platform's name for the log, where an API's answer is described.
pub(super) fn api_name(platform: Platform, api: &str) -> String {
    format!("{} {api}", platform.display_name())
}

#[cfg(test)]
mod tests {
    #[test]
    fn scrub_removes_secrets_and_bounds_length() {
        assert_eq!(
            super::scrub("bad secret s3cr3t rid: 1", &["s3cr3t", ""]),
            "bad secret [REDACTED] rid: 1"
        );
        assert_eq!(super::scrub(&"x".repeat(500), &[]).len(), 200);
    }
}
