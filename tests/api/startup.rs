//! The real binary's start-up: refusals name what is wrong; a fresh clone
//! with no configuration serves simulated logins.

use crate::helpers::{APPID, SECRET, process::Process};
use std::path::Path;

fn start_and_expect_refusal(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    start_in_and_expect_refusal(dir.path(), env)
}

/// Starts the binary in `dir`, which must refuse to start; all it said.
fn start_in_and_expect_refusal(dir: &Path, env: &[(&str, &str)]) -> String {
    let (code, output) = Process::serve(dir, env).wait();
    assert_ne!(code, 0, "must refuse to start: {output}");
    output
}

/// Starts the binary in `dir` and stops it once it listens: its address,
/// if it did listen, and all it said.
fn start_and_stop(dir: &Path, env: &[(&str, &str)]) -> (Option<String>, String) {
    let process = Process::serve(dir, env);
    let listening = process.wait_until_listening();
    (listening, process.stop())
}

#[test]
fn a_non_loopback_bind_without_credentials_refuses_to_start() {
    let output = start_and_expect_refusal(&[("WXAUTH_BIND", "0.0.0.0:0")]);

    assert!(output.contains("WXAUTH_BIND"), "{output}");
    assert!(output.contains("loopback"), "{output}");
}

#[test]
fn one_credential_without_the_other_refuses_to_start() {
    let output =
        start_and_expect_refusal(&[("WXAUTH_BIND", "127.0.0.1:0"), ("WECHAT_APPID", APPID)]);
    assert!(output.contains("WECHAT_SECRET"), "{output}");

    let output =
        start_and_expect_refusal(&[("WXAUTH_BIND", "127.0.0.1:0"), ("WECHAT_SECRET", SECRET)]);
    assert!(output.contains("WECHAT_APPID"), "{output}");
}

#[test]
fn production_without_a_key_file_refuses_and_names_keygen() {
    let output = start_and_expect_refusal(&[
        ("WXAUTH_BIND", "127.0.0.1:0"),
        ("WECHAT_APPID", APPID),
        ("WECHAT_SECRET", SECRET),
    ]);

    assert!(output.contains("wxauth keygen"), "{output}");
    assert!(!output.contains(SECRET), "{output}");
}

#[test]
fn a_bad_value_stops_the_server_naming_the_variable() {
    for (name, value) in [
        ("WXAUTH_TOKEN_TTL", "two hours"),
        ("WXAUTH_LEEWAY", "-5"),
        ("WXAUTH_MAX_UPSTREAM", "0"),
        ("WXAUTH_BIND", "nowhere"),
        ("WECHAT_API_BASE", "not a url"),
    ] {
        let output = start_and_expect_refusal(&[("WXAUTH_BIND", "127.0.0.1:0"), (name, value)]);
        assert!(output.contains(name), "{name}: {output}");
    }
}

#[test]
fn a_pinned_kid_without_its_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    wxauth::keyring::write_new_key(
        &dir.path().join("keys"),
        "k1",
        wxauth::keyring::KeyAlg::Eddsa,
    )
    .unwrap();

    let output = start_in_and_expect_refusal(
        dir.path(),
        &[("WXAUTH_BIND", "127.0.0.1:0"), ("WXAUTH_SIGNING_KID", "k2")],
    );

    assert!(output.contains("WXAUTH_SIGNING_KID=k2"), "{output}");
}

#[test]
fn with_no_configuration_the_binary_serves_simulated_logins_and_says_how() {
    // Arrange: an empty folder, as a fresh clone's working directory.
    let dir = tempfile::tempdir().unwrap();
    let server = Process::serve(dir.path(), &[("WXAUTH_BIND", "127.0.0.1:0")]);
    let base = server.wait_until_listening().expect("listening");

    // Act: the walk-through, with a blocking client.
    let client = reqwest::blocking::Client::new();
    let code: serde_json::Value = client
        .post(format!("{base}/sim/login"))
        .json(&serde_json::json!({"user": "alice"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let login = client
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"code": code["code"]}))
        .send()
        .unwrap();

    // Assert
    assert_eq!(login.status(), 200);
    let output = server.stop();
    assert!(output.contains("simulator mode"), "{output}");
    assert!(
        output.contains("curl"),
        "a curl walk-through is logged: {output}"
    );
    let keys: Vec<_> = std::fs::read_dir(dir.path().join("keys"))
        .unwrap()
        .collect();
    assert_eq!(keys.len(), 1, "a development key was generated into keys/");
}

#[test]
fn a_dotenv_file_in_the_working_directory_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "WXAUTH_TOKEN_TTL=not-a-number\n").unwrap();

    let output = start_in_and_expect_refusal(dir.path(), &[("WXAUTH_BIND", "127.0.0.1:0")]);

    assert!(output.contains("WXAUTH_TOKEN_TTL"), "{output}");
}

#[test]
fn a_dotenv_file_in_a_parent_folder_is_never_read() {
    // Planted one level up (a shared folder): it would send the app secret
    // to another host.
    let parent = tempfile::tempdir().unwrap();
    std::fs::write(
        parent.path().join(".env"),
        "WECHAT_API_BASE=http://attacker.invalid\nWXAUTH_TOKEN_TTL=not-a-number\n",
    )
    .unwrap();
    let dir = parent.path().join("app");
    std::fs::create_dir(&dir).unwrap();

    let (listening, output) = start_and_stop(&dir, &[("WXAUTH_BIND", "127.0.0.1:0")]);

    assert!(listening.is_some(), "the planted .env was read: {output}");
    assert!(!output.contains("attacker"), "{output}");
}

#[test]
fn the_simulator_on_a_public_bind_needs_wxauth_simulator_on_and_warns() {
    let output =
        start_and_expect_refusal(&[("WXAUTH_BIND", "0.0.0.0:0"), ("WXAUTH_SIMULATOR", "auto")]);
    assert!(output.contains("WXAUTH_SIMULATOR=on"), "{output}");
    let output = start_and_expect_refusal(&[("WXAUTH_SIMULATOR", "off")]);
    assert!(output.contains("WXAUTH_SIMULATOR"), "{output}");

    let dir = tempfile::tempdir().unwrap();
    let (listening, output) = start_and_stop(
        dir.path(),
        &[("WXAUTH_BIND", "0.0.0.0:0"), ("WXAUTH_SIMULATOR", "on")],
    );
    assert!(listening.is_some(), "{output}");
    assert!(
        output.contains("anyone who reaches this port can log in as anyone"),
        "{output}"
    );
}

#[test]
fn a_dotenv_line_that_does_not_parse_stops_start_without_showing_it() {
    // dotenvy stops at a bad line, so the settings after it would be lost
    // (here: the credentials, which would start the simulator instead).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "WXAUTH_BIND=127.0.0.1:0\nWECHAT_SECRET=\"s3cr3t-in-dotenv\nWECHAT_APPID=wx1234567890abcdef\n",
    )
    .unwrap();

    let output = start_in_and_expect_refusal(dir.path(), &[]);

    assert!(output.contains(".env: line 2"), "{output}");
    assert!(!output.contains("s3cr3t"), "{output}");
}

#[test]
fn a_rust_log_that_does_not_parse_stops_start_naming_it() {
    let output = start_and_expect_refusal(&[
        ("WXAUTH_BIND", "127.0.0.1:0"),
        ("RUST_LOG", "info,wxauth=loud"),
    ]);

    assert!(output.contains("RUST_LOG"), "{output}");
}
