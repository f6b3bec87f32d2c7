//! Messages that name the fix: the problem details a client reads, and what
//! the operator reads at start-up and in the logs.

use crate::helpers::{APPID, FIRST_KID};
use crate::helpers::{
    app::assert_problem, app::spawn_app, app::spawn_simulator, process::Process,
    process::run_wxauth,
};
use serde_json::json;

#[tokio::test]
async fn a_bad_douyin_code_gets_platform_neutral_advice() {
    // Arrange: the simulator serves a Douyin mini-program too.
    let app = spawn_simulator().await;

    // Act
    let response = app
        .post_login(json!({"code": "never-issued", "appid": "ttsimulator0000000"}))
        .await;

    // Assert: no WeChat call named to a Douyin user.
    let body = assert_problem(response, 400, "invalid_code").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(!detail.contains("wx."), "{detail}");
    assert!(detail.contains("login"), "{detail}");
}

/// Runs `wxauth serve` in a fresh folder with `env`, expecting a refusal;
/// returns everything it wrote.
fn refusal(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![("WXAUTH_BIND", "127.0.0.1:0")];
    all.extend_from_slice(env);
    let (code, stdout, stderr) = run_wxauth(dir.path(), &all, &["serve"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    format!("{stdout}{stderr}")
}

#[test]
fn an_enum_setting_echoes_the_bad_value_and_lists_the_choices() {
    let simulator = refusal(&[("WXAUTH_SIMULATOR", "yes")]);
    let format = refusal(&[("WXAUTH_LOG_FORMAT", "xml")]);

    assert!(simulator.contains("WXAUTH_SIMULATOR"), "{simulator}");
    assert!(simulator.contains("\"yes\""), "{simulator}");
    assert!(simulator.contains("auto, on, off"), "{simulator}");
    assert!(format.contains("\"xml\""), "{format}");
    assert!(format.contains("text, json"), "{format}");
}

#[test]
fn a_start_up_error_is_said_once() {
    for env in [
        [("WXAUTH_TOKEN_TTL", "0")],
        [("WECHAT_APPID", APPID)],
        [("WXAUTH_SIMULATOR", "off")],
    ] {
        let output = refusal(&env);
        let variable = env[0].0;
        let times = output.matches(variable).count();
        let lines = output
            .lines()
            .filter(|line| line.contains(variable))
            .count();
        assert_eq!(lines, 1, "{output}");
        assert!(times >= 1, "{output}");
    }
}

#[test]
fn a_single_app_table_says_to_write_double_brackets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("apps.toml");
    std::fs::write(
        &file,
        "[app]\nplatform = \"wechat\"\nappid = \"wx1234567890abcdef\"\nsecret_env = \"S\"\n",
    )
    .unwrap();

    let output = refusal(&[("WXAUTH_APPS_FILE", file.to_str().unwrap()), ("S", "s")]);

    assert!(output.contains("WXAUTH_APPS_FILE"), "{output}");
    assert!(output.contains("[[app]]"), "{output}");
}

#[test]
fn the_start_line_names_every_app_served_with_its_platform() {
    let dir = tempfile::tempdir().unwrap();
    let server = Process::serve(dir.path(), &[("WXAUTH_BIND", "127.0.0.1:0")]);
    server.wait_until_listening().expect("it starts");

    let output = server.stop();

    let line = output
        .lines()
        .find(|line| line.contains("listening on"))
        .unwrap();
    for app in [
        "wxsimulator0000000 (wechat)",
        "1109999999 (qq)",
        "ttsimulator0000000 (douyin)",
    ] {
        assert!(line.contains(app), "{line}");
    }
}

#[test]
fn the_text_access_log_says_each_field_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Process::serve(
        dir.path(),
        &[("WXAUTH_BIND", "127.0.0.1:0"), ("RUST_LOG", "info")],
    );
    let base = server.wait_until_listening().expect("it starts");
    let status = reqwest::blocking::get(format!("{base}/auth/me"))
        .unwrap()
        .status();

    let output = server.stop();

    assert_eq!(status, 401);
    let line = output
        .lines()
        .find(|line| line.contains("wxauth::access"))
        .unwrap_or_else(|| panic!("no access line: {output}"));
    assert!(line.contains("\"GET /auth/me\" 401"), "{line}");
    assert_eq!(line.matches("/auth/me").count(), 1, "{line}");
    assert!(!line.contains("status="), "{line}");
}

#[tokio::test]
async fn readyz_lists_the_apps_served_with_their_platforms() {
    let app = spawn_simulator().await;

    let ready = app.get_json("/readyz").await;

    let mut apps: Vec<(String, String)> = ready["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| {
            (
                app["appid"].as_str().unwrap().to_owned(),
                app["platform"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    apps.sort();
    assert_eq!(
        apps,
        [
            ("1109999999".to_owned(), "qq".to_owned()),
            ("2021000000000000".to_owned(), "alipay".to_owned()),
            ("bdsimulator0000000".to_owned(), "baidu".to_owned()),
            ("clisimulator000000".to_owned(), "feishu".to_owned()),
            ("kssimulator0000000".to_owned(), "kuaishou".to_owned()),
            ("ttsimulator0000000".to_owned(), "douyin".to_owned()),
            ("wxsimapp000000000".to_owned(), "wechat_app".to_owned()),
            ("wxsimh5000000000".to_owned(), "wechat_h5".to_owned()),
            ("wxsimulator0000000".to_owned(), "wechat".to_owned()),
            ("wxsimweb000000000".to_owned(), "wechat_web".to_owned()),
        ]
    );
}

#[tokio::test]
async fn inspect_needs_only_the_key_folder_and_checks_an_audience_when_given() {
    // Arrange: a production token; no app configured where inspect runs.
    let app = spawn_app().await;
    let token = app.reissued_at(&app.login().await, chrono::Utc::now().timestamp());
    let dir = tempfile::tempdir().unwrap();
    let env = [("WXAUTH_KEYS_DIR", app.keys_dir.to_str().unwrap())];

    // Act
    let (any_code, any_out, any_err) = run_wxauth(dir.path(), &env, &["inspect", &token]);
    let (own_code, _, _) = run_wxauth(dir.path(), &env, &["inspect", "--audience", APPID, &token]);
    let (other_code, _, other_err) = run_wxauth(
        dir.path(),
        &env,
        &["inspect", "--audience", "wx0000000000000000", &token],
    );

    // Assert
    assert_eq!(any_code, 0, "{any_out}{any_err}");
    assert!(any_out.contains("status: valid"), "{any_out}");
    assert!(any_out.contains(APPID), "the audience is shown: {any_out}");
    assert_eq!(own_code, 0);
    assert_ne!(other_code, 0);
    assert!(other_err.contains("token refused"), "{other_err}");
}

#[test]
fn wxauth_keys_columns_line_up_under_their_headings() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    wxauth::keyring::write_new_key(&keys, FIRST_KID, wxauth::keyring::KeyAlg::Eddsa).unwrap();
    wxauth::keyring::write_new_key(&keys, "20260102T000000Z", wxauth::keyring::KeyAlg::Rs256)
        .unwrap();

    let (code, stdout, stderr) = run_wxauth(dir.path(), &[], &["keys"]);

    assert_eq!(code, 0, "{stderr}");
    let header = stdout.lines().next().unwrap();
    let role_at = header.find("ROLE").unwrap();
    let file_at = header.find("FILE").unwrap();
    for line in stdout
        .lines()
        .skip(1)
        .filter(|line| line.starts_with("2026"))
    {
        let role = line.get(role_at..).unwrap();
        assert!(
            role.starts_with("signing") || role.starts_with("verify-only"),
            "ROLE at column {role_at}: {stdout}"
        );
        assert!(
            line.get(file_at..).unwrap().starts_with("keys/"),
            "FILE at column {file_at}: {stdout}"
        );
    }
}

#[test]
fn wxauth_serve_counts_an_empty_variable_as_unset_as_compose_passes_them() {
    // Arrange: compose's `${WXAUTH_PUBLIC_URL:-}` and friends: set, empty.
    let dir = tempfile::tempdir().unwrap();
    let empty = [
        "WXAUTH_PUBLIC_URL",
        "WXAUTH_ISSUER",
        "WXAUTH_TOKEN_TTL",
        "WXAUTH_REVOCATIONS_FILE",
        "WXAUTH_SIGNING_KID",
    ];
    let mut env: Vec<(&str, &str)> = empty.iter().map(|name| (*name, "")).collect();
    env.push(("WXAUTH_BIND", "127.0.0.1:0"));

    // Act: the subcommand named, as the image's entrypoint does.
    let server = Process::serve(dir.path(), &env);

    // Assert
    let listening = server.wait_until_listening().is_some();
    let log = server.stop();
    assert!(listening, "{log}");
}
