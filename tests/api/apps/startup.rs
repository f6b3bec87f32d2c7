//! Start-up refusals of a bad apps file (the real binary).

use crate::helpers::{
    APPID, FIRST_KID, SECRET,
    apps::{QQ_APP, QQ_SECRET, SHOP_SECRET, TT_APP, TT_SECRET, WX_SHOP},
    process::Process,
};

/// A folder holding a key (`keys/`) and `apps.toml` with `toml`, where the
/// binary can start.
fn apps_folder(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    wxauth::keyring::write_new_key(
        &dir.path().join("keys"),
        FIRST_KID,
        wxauth::keyring::KeyAlg::Eddsa,
    )
    .unwrap();
    std::fs::write(dir.path().join("apps.toml"), toml).unwrap();
    dir
}

/// One `[[app]]` table.
fn app_table(platform: &str, appid: &str, secret: &str) -> String {
    format!("[[app]]\nplatform = \"{platform}\"\nappid = \"{appid}\"\n{secret}\n\n")
}

/// The environment of the binary in `dir` with its apps file, the secret
/// variables set, and `extra`.
fn apps_env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("WXAUTH_BIND", "127.0.0.1:0"),
        ("WXAUTH_APPS_FILE", "apps.toml"),
        ("SHOP_WECHAT_SECRET", SHOP_SECRET),
        ("QQ_SECRET", QQ_SECRET),
    ];
    env.extend_from_slice(extra);
    env
}

#[test]
fn a_good_apps_file_starts_the_binary_so_the_refusals_below_are_each_files_own_fault() {
    // The control: the files below differ from this one in one thing each.
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), TT_SECRET).unwrap();
    let dir = apps_folder(&format!(
        "{}{}{}",
        app_table("wechat", WX_SHOP, "secret_env = \"SHOP_WECHAT_SECRET\""),
        app_table("qq", QQ_APP, "secret_env = \"QQ_SECRET\""),
        app_table(
            "douyin",
            TT_APP,
            &format!("secret_file = \"{}\"", secret.path().display())
        ),
    ));

    let process = Process::serve(dir.path(), &apps_env(&[]));
    let listening = process.wait_until_listening();
    let output = process.stop();

    assert!(listening.is_some(), "{output}");
    for secret in [SHOP_SECRET, QQ_SECRET, TT_SECRET] {
        assert!(!output.contains(secret), "a secret was logged: {output}");
    }
}

#[test]
fn a_bad_apps_file_refuses_to_start_naming_the_app_and_the_problem() {
    let shop = app_table("wechat", WX_SHOP, "secret_env = \"SHOP_WECHAT_SECRET\"");
    for (what, toml, expected) in [
        (
            "a duplicate appid",
            format!(
                "{shop}{}",
                app_table("qq", WX_SHOP, "secret_env = \"QQ_SECRET\"")
            ),
            format!("app 2 ({WX_SHOP}): appid: appears twice"),
        ),
        (
            "an unknown platform",
            format!(
                "{shop}{}",
                app_table("line", "2021000000000000", "secret_env = \"QQ_SECRET\"")
            ),
            "app 2 (2021000000000000): platform: \"line\" is not a platform".to_owned(),
        ),
        (
            "a secret variable that is unset",
            format!(
                "{shop}{}",
                app_table("qq", QQ_APP, "secret_env = \"NOT_SET_ANYWHERE\"")
            ),
            format!("app 2 ({QQ_APP}): secret_env: the variable NOT_SET_ANYWHERE is unset"),
        ),
        (
            "a secret file that cannot be read",
            format!(
                "{shop}{}",
                app_table(
                    "douyin",
                    TT_APP,
                    "secret_file = \"/nonexistent/wxauth/douyin-secret\""
                )
            ),
            format!(
                "app 2 ({TT_APP}): secret_file: /nonexistent/wxauth/douyin-secret cannot be read"
            ),
        ),
    ] {
        // Arrange
        let dir = apps_folder(&toml);

        // Act
        let (code, output) = Process::serve(dir.path(), &apps_env(&[])).wait();

        // Assert
        assert_ne!(code, 0, "{what}: must refuse to start: {output}");
        assert!(output.contains("WXAUTH_APPS_FILE"), "{what}: {output}");
        assert!(
            output.contains(&expected),
            "{what}: {expected:?} in {output}"
        );
        assert!(!output.contains("listening on"), "{what}: {output}");
        for secret in [SHOP_SECRET, QQ_SECRET] {
            assert!(!output.contains(secret), "{what}: a secret was logged");
        }
    }
}

#[test]
fn an_apps_file_and_wechat_appid_together_refuse_to_start_naming_both() {
    let dir = apps_folder(&app_table(
        "wechat",
        WX_SHOP,
        "secret_env = \"SHOP_WECHAT_SECRET\"",
    ));

    let (code, output) = Process::serve(
        dir.path(),
        &apps_env(&[("WECHAT_APPID", APPID), ("WECHAT_SECRET", SECRET)]),
    )
    .wait();

    assert_ne!(code, 0, "must refuse to start: {output}");
    assert!(output.contains("WXAUTH_APPS_FILE"), "{output}");
    assert!(output.contains("WECHAT_APPID"), "{output}");
    assert!(!output.contains(SECRET), "{output}");
}

#[test]
fn a_secret_written_into_the_apps_file_refuses_to_start_without_echoing_it() {
    let dir = apps_folder(&format!(
        "{}secret = \"hunter2-in-the-file\"\n",
        app_table("wechat", WX_SHOP, "secret_env = \"SHOP_WECHAT_SECRET\"")
    ));

    let (code, output) = Process::serve(dir.path(), &apps_env(&[])).wait();

    assert_ne!(code, 0, "must refuse to start: {output}");
    assert!(output.contains("WXAUTH_APPS_FILE"), "{output}");
    assert!(output.contains("secret"), "{output}");
    assert!(!output.contains("hunter2"), "{output}");
}
