//! Revocations and bans (README, "Revoking and banning"): one file every
//! replica rereads refuses tokens (cached or not), refreshes and logins;
//! the CLI edits it; a broken file never drops a ban.

use crate::helpers::{
    APPID, OPENID, SESSION_KEY, START, UNIONID,
    app::{
        TestApp, assert_problem, assert_rejected, issued_token, key_folder, spawn_app_on,
        spawn_app_with,
    },
    fakes::any_code_logs_in,
    process::{run_wxauth, serve_production_binary},
    revocations::{
        REVOCATIONS_VAR, RevocationFile, rfc3339, series_value, set_file_time, spawn_guard_service,
    },
    tokens::decode_parts,
};
use std::sync::Arc;
use wiremock::MockServer;

/// Another user, never revoked or banned.
const OTHER_OPENID: &str = "oOtherUser00000000000000000A";
/// A second openid (of another mini-program) of the user with UNIONID.
const SECOND_OPENID: &str = "oSecondAppOpenid00000000000B";

/// Two replicas sharing one key folder and the revocation file `file`.
async fn two_replicas(file: &RevocationFile) -> (TestApp, TestApp) {
    let keys = key_folder();
    let a = spawn_app_on(MockServer::start().await, keys.clone(), &[file.setting()]).await;
    let b = spawn_app_on(MockServer::start().await, keys, &[file.setting()]).await;
    (a, b)
}

/// `token` answers 200 on /auth/me of both replicas (and so is cached).
async fn accepted_by_both(a: &TestApp, b: &TestApp, token: &str) {
    for (name, app) in [("a", a), ("b", b)] {
        assert_eq!(app.get_me(token).await.status(), 200, "replica {name}");
    }
}

/// `token` gets the uniform 401 on /auth/me and /auth/refresh of both.
async fn refused_by_both(a: &TestApp, b: &TestApp, token: &str) {
    for (name, app) in [("a", a), ("b", b)] {
        assert_rejected(app.get_me(token).await, &format!("/auth/me on {name}")).await;
        assert_rejected(
            app.refresh(token).await,
            &format!("/auth/refresh on {name}"),
        )
        .await;
    }
}

#[tokio::test]
async fn a_revoke_refuses_a_token_cached_on_both_replicas_and_its_refresh_and_the_user_logs_in_again()
 {
    // Arrange: a token both replicas have verified (and cached), and one of
    // another user.
    let file = RevocationFile::new("# operators' notes\n");
    let (a, b) = two_replicas(&file).await;
    let token = a.login().await;
    let other = b.login_as("code-o", OTHER_OPENID, None, SESSION_KEY).await;
    accepted_by_both(&a, &b, &token).await;
    assert_eq!(decode_parts(&token).1["auth_time"], START);

    // Act: the operator revokes the user's logins up to now; each replica
    // rereads the file at its next rescan.
    file.write(&format!(
        "# operators' notes\nrevoke {OPENID} {}  # phone stolen\n",
        rfc3339(START)
    ));
    a.reload_revocations();
    b.reload_revocations();

    // Assert: refused everywhere, cached or not; nobody else is touched.
    refused_by_both(&a, &b, &token).await;
    accepted_by_both(&a, &b, &other).await;

    // The user logs in again a minute later, on either replica.
    a.advance(60);
    b.advance(60);
    let again = b
        .login_as("code-2", OPENID, Some(UNIONID), SESSION_KEY)
        .await;
    assert_eq!(decode_parts(&again).1["auth_time"], START + 60);
    accepted_by_both(&a, &b, &again).await;
    let renewed = a.refreshed(&again).await;
    accepted_by_both(&a, &b, &renewed).await;
    assert_rejected(a.get_me(&token).await, "the old token stays refused").await;
}

#[tokio::test]
async fn a_revoke_refuses_logins_at_or_before_its_time_and_none_after() {
    let file = RevocationFile::new("");
    let app = spawn_app_with(&[file.setting()]).await;
    let at_start = app.login().await;
    app.advance(1);
    let a_second_later = app.login_as("code-2", OPENID, None, SESSION_KEY).await;

    file.write(&format!("revoke {OPENID} {}\n", rfc3339(START)));
    app.reload_revocations();

    assert_rejected(app.get_me(&at_start).await, "a login at the time").await;
    assert_eq!(
        app.get_me(&a_second_later).await.status(),
        200,
        "a login after the time"
    );
}

#[tokio::test]
async fn a_revoke_time_with_an_offset_means_the_same_instant() {
    // An operator in Beijing writes local time: START is 16:00 at +08:00.
    let file = RevocationFile::new("");
    let app = spawn_app_with(&[file.setting()]).await;
    let token = app.login().await;

    file.write(&format!("revoke {OPENID} 2027-01-15T16:00:00+08:00\n"));
    app.reload_revocations();
    assert_rejected(app.get_me(&token).await, "at the instant").await;

    file.write(&format!("revoke {OPENID} 2027-01-15T15:59:59+08:00\n"));
    app.reload_revocations();
    assert_eq!(app.get_me(&token).await.status(), 200, "a second before");
}

#[tokio::test]
async fn a_refresh_keeps_the_login_time_so_a_renewed_token_is_revoked_too() {
    let file = RevocationFile::new("");
    let app = spawn_app_with(&[file.setting()]).await;
    let token = app.login().await;
    app.advance(600);
    let renewed = app.refreshed(&token).await;

    file.write(&format!("revoke {OPENID} {}\n", rfc3339(START)));
    app.reload_revocations();

    assert_rejected(app.get_me(&renewed).await, "renewed after the login").await;
    assert_rejected(app.refresh(&renewed).await, "and not renewable").await;
}

#[tokio::test]
async fn a_ban_by_openid_refuses_tokens_and_logins_on_both_replicas_until_the_line_goes() {
    // Arrange
    let file = RevocationFile::new("");
    let (a, b) = two_replicas(&file).await;
    let token = a.login().await;
    accepted_by_both(&a, &b, &token).await;

    // Act
    file.write(&format!("ban {OPENID}   # abuse report 4711\n"));
    a.reload_revocations();
    b.reload_revocations();

    // Assert: tokens and logins refused, an advancing clock changes nothing.
    refused_by_both(&a, &b, &token).await;
    a.advance(3600);
    b.advance(3600);
    for (code, app) in [("code-a", &a), ("code-b", &b)] {
        let refused = app.login_attempt(code, OPENID, Some(UNIONID)).await;
        assert_problem(refused, 403, "user_blocked").await;
    }
    let other = a.login_as("code-o", OTHER_OPENID, None, SESSION_KEY).await;
    accepted_by_both(&a, &b, &other).await;

    // The line goes: the user is back, old token and new logins alike.
    file.write("");
    a.reload_revocations();
    b.reload_revocations();
    accepted_by_both(&a, &b, &token).await;
    let back = b
        .login_as("code-2", OPENID, Some(UNIONID), SESSION_KEY)
        .await;
    accepted_by_both(&a, &b, &back).await;
}

#[tokio::test]
async fn a_ban_by_unionid_refuses_every_openid_of_the_user() {
    // Arrange: the user has a token; a user without a unionid has one too.
    let file = RevocationFile::new("");
    let (a, b) = two_replicas(&file).await;
    let token = a.login().await; // OPENID with UNIONID
    let other = a.login_as("code-o", OTHER_OPENID, None, SESSION_KEY).await;

    // Act
    file.write(&format!("ban {UNIONID}\n"));
    a.reload_revocations();
    b.reload_revocations();

    // Assert: the token, and a login under any openid with that unionid.
    refused_by_both(&a, &b, &token).await;
    let refused = b
        .login_attempt("code-2", SECOND_OPENID, Some(UNIONID))
        .await;
    assert_problem(refused, 403, "user_blocked").await;
    accepted_by_both(&a, &b, &other).await;
    let unrelated = b
        .login_as(
            "code-3",
            SECOND_OPENID,
            Some("oUnrelatedUnionid00000000000"),
            SESSION_KEY,
        )
        .await;
    accepted_by_both(&a, &b, &unrelated).await;
}

#[tokio::test]
async fn a_file_that_stops_parsing_or_goes_missing_keeps_the_bans() {
    // Arrange: a ban in force.
    let file = RevocationFile::new(&format!("ban {OPENID}\n"));
    let app = spawn_app_with(&[file.setting()]).await;
    let token = app.guard_only_token();
    assert_rejected(app.get_me(&token).await, "banned at start").await;

    // Act and assert: garbage, a half-written line, the file gone, a folder
    // in its place; the ban holds through each.
    for (n, (what, text)) in [
        ("garbage", Some("banana\n".to_owned())),
        (
            "a bad line after the ban",
            Some(format!("ban {OPENID}\nban\n")),
        ),
        ("a bad time", Some("revoke oX yesterday\n".to_owned())),
        ("no file", None),
    ]
    .into_iter()
    .enumerate()
    {
        match text {
            Some(text) => file.write(&text),
            None => std::fs::remove_file(file.path()).unwrap(),
        }
        app.reload_revocations();
        assert_rejected(app.get_me(&token).await, what).await;
        let refused = app.login_attempt(&format!("code-{n}"), OPENID, None).await;
        assert_problem(refused, 403, "user_blocked").await;
    }
    std::fs::create_dir(file.path()).unwrap();
    app.reload_revocations();
    assert_rejected(app.get_me(&token).await, "a folder").await;
    let text = app.metrics_text().await;
    assert_eq!(
        series_value(&text, r#"wxauth_revocations{kind="ban"}"#),
        Some(1.0),
        "{text}"
    );

    // A good file again: it counts.
    std::fs::remove_dir(file.path()).unwrap();
    file.write("# nobody\n");
    app.reload_revocations();
    assert_eq!(app.get_me(&token).await.status(), 200);
}

#[tokio::test]
async fn a_rewrite_that_keeps_the_size_and_the_time_is_still_reread() {
    // Two writes within one tick of the file system's clock (or on one with
    // whole-second times) and the same length: the second must count. Here
    // the times are set equal on purpose.
    let file = RevocationFile::new("");
    let app = spawn_app_with(&[file.setting()]).await;
    let token = app.guard_only_token(); // OPENID's
    let same_time = START + 5;
    std::fs::write(file.path(), format!("ban {OTHER_OPENID}\n")).unwrap();
    set_file_time(file.path(), same_time);
    app.reload_revocations();
    assert_eq!(app.get_me(&token).await.status(), 200);

    std::fs::write(file.path(), format!("ban {OPENID}\n")).unwrap();
    set_file_time(file.path(), same_time);
    app.reload_revocations();

    assert_rejected(app.get_me(&token).await, "the new ban applies").await;
}

#[tokio::test]
async fn metrics_count_revocations_bans_and_tokens_refused_by_them() {
    // Arrange: two bans, one id revoked twice, and comments.
    let file = RevocationFile::new(&format!(
        "# list\nban {OPENID}\nban {UNIONID} # by unionid\nban {OPENID}\n\
         revoke {OTHER_OPENID} {}\nrevoke {OTHER_OPENID} {}\n",
        rfc3339(START - 60),
        rfc3339(START - 30)
    ));
    let app = spawn_app_with(&[file.setting()]).await;
    let text = app.metrics_text().await;
    assert_eq!(
        series_value(&text, r#"wxauth_revocations{kind="ban"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        series_value(&text, r#"wxauth_revocations{kind="revoke"}"#),
        Some(1.0),
        "{text}"
    );

    // Act: a banned token twice, a good one once, and the list changed.
    let banned = app.guard_only_token();
    app.get_me(&banned).await;
    app.get_me(&banned).await;
    let fine = app
        .login_as("code-o", SECOND_OPENID, None, SESSION_KEY)
        .await;
    assert_eq!(app.get_me(&fine).await.status(), 200);
    file.write(&format!("ban {OPENID}\n"));
    app.reload_revocations();

    // Assert
    let text = app.metrics_text().await;
    assert_eq!(
        series_value(
            &text,
            r#"wxauth_token_verifications_total{result="revoked"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        series_value(&text, r#"wxauth_revocations{kind="ban"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        series_value(&text, r#"wxauth_revocations{kind="revoke"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        series_value(
            &text,
            r#"wxauth_logins_total{app="wx1234567890abcdef",outcome="ok"}"#
        ),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn a_banned_login_counts_as_user_blocked() {
    let file = RevocationFile::new(&format!("ban {OPENID}\n"));
    let app = spawn_app_with(&[file.setting()]).await;

    let refused = app.login_attempt("code-1", OPENID, None).await;

    assert_problem(refused, 403, "user_blocked").await;
    let text = app.metrics_text().await;
    assert_eq!(
        series_value(
            &text,
            r#"wxauth_logins_total{app="wx1234567890abcdef",outcome="user_blocked"}"#
        ),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn a_hundred_thousand_entries_load_at_start_and_a_banned_id_among_them_is_refused() {
    // Arrange: 100,000 lines, bans and revokes, with OPENID's ban among
    // them (in place of a revoke).
    let mut text = String::with_capacity(6 * 1024 * 1024);
    for n in 0..100_000 {
        if n == 54_321 {
            text.push_str(&format!("ban {OPENID}\n"));
        } else if n % 2 == 0 {
            text.push_str(&format!("ban o{n:0>27}\n"));
        } else {
            text.push_str(&format!("revoke o{n:0>27} {}\n", rfc3339(START)));
        }
    }
    let file = RevocationFile::new(&text);

    // Act
    let app = spawn_app_with(&[file.setting()]).await;

    // Assert
    assert_rejected(app.get_me(&app.guard_only_token()).await, "banned").await;
    let refused = app.login_attempt("code-1", OPENID, None).await;
    assert_problem(refused, 403, "user_blocked").await;
    let fine = app
        .login_as("code-2", OTHER_OPENID, None, SESSION_KEY)
        .await;
    assert_eq!(app.get_me(&fine).await.status(), 200);
    let metrics = app.metrics_text().await;
    assert_eq!(
        series_value(&metrics, r#"wxauth_revocations{kind="ban"}"#),
        Some(50_001.0)
    );
    assert_eq!(
        series_value(&metrics, r#"wxauth_revocations{kind="revoke"}"#),
        Some(49_999.0)
    );
}

#[tokio::test]
async fn the_periodic_rescan_rereads_the_revocation_file() {
    // The timer itself, not a test calling the reloader: bounded far above
    // the one-second period.
    let file = RevocationFile::new("");
    let app = spawn_app_with(&[file.setting(), ("WXAUTH_KEYS_RELOAD", "1")]).await;
    let token = app.login().await;
    assert_eq!(app.get_me(&token).await.status(), 200);

    file.write(&format!("ban {OPENID}\n"));

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while app.get_me(&token).await.status() == 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "no periodic reread within 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_rejected(app.get_me(&token).await, "banned by the timer").await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn sighup_makes_the_binary_reread_the_revocation_file() {
    // Arrange: the real binary (real clock) with a token of OPENID.
    let wechat = MockServer::start().await;
    any_code_logs_in().mount(&wechat).await;
    let file = RevocationFile::new("");
    let (_dir, server) = serve_production_binary(
        &wechat.uri(),
        &[file.setting(), ("WXAUTH_KEYS_RELOAD", "86400")],
    );
    let base = server.wait_until_listening().expect("listening");
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"code": "code-1"}))
        .send()
        .await
        .unwrap();
    let token = issued_token(login).await;
    let me = || {
        http.get(format!("{base}/auth/me"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(me().await.unwrap().status(), 200);

    // Act
    file.write(&format!("ban {OPENID}\nban {UNIONID}\n"));
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // Assert: refused once the signal is handled (bounded far above it).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while me().await.unwrap().status() == 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "no reread after SIGHUP"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_rejected(me().await.unwrap(), "banned after SIGHUP").await;
    let log = server.stop();
    assert!(
        log.contains("revocations reloaded (SIGHUP): 0 revoked, 2 banned"),
        "{log}"
    );
}

#[test]
fn start_up_with_a_revocation_file_that_does_not_parse_or_cannot_be_read_refuses_naming_the_variable()
 {
    let garbage = RevocationFile::new("ban oA\nkick oB\n");
    let folder = RevocationFile::new("");
    std::fs::remove_file(folder.path()).unwrap();
    std::fs::create_dir(folder.path()).unwrap();
    let missing = folder.path().with_file_name("missing");

    for (what, path, says) in [
        ("garbage", garbage.path().to_owned(), "line 2"),
        ("a folder", folder.path().to_owned(), "not a regular file"),
        ("missing", missing, "No such file"),
    ] {
        let wechat = "http://127.0.0.1:9"; // never called
        let (_dir, server) =
            serve_production_binary(wechat, &[(REVOCATIONS_VAR, path.to_str().unwrap())]);
        let (code, output) = server.wait();

        assert_ne!(code, 0, "{what}: must refuse to start: {output}");
        assert!(output.contains(REVOCATIONS_VAR), "{what}: {output}");
        assert!(output.contains(says), "{what}: {output}");
        assert!(!output.contains("listening on"), "{what}: {output}");
    }
}

// The CLI: `wxauth revoke|ban|unban` through the real binary.

/// `wxauth args` with WXAUTH_REVOCATIONS_FILE=`file`; (code, stdout, stderr).
fn cli(file: &RevocationFile, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    run_wxauth(dir.path(), &[file.setting()], args)
}

/// The file parses as the servers parse it; its (revokes, bans).
fn parses(file: &RevocationFile) -> (usize, usize) {
    let list = wxauth::revocation::Revocations::parse(&file.read())
        .unwrap_or_else(|e| panic!("the file parses: {e}\n{}", file.read()));
    (list.revokes(), list.bans())
}

#[tokio::test]
async fn the_cli_bans_revokes_and_unbans_and_the_replicas_follow() {
    // Arrange: a file with the operators' comments, and two replicas.
    let file = RevocationFile::new("# wxauth revocations\n# owner: ops\n\n");
    let (a, b) = two_replicas(&file).await;
    let token = a.login().await;
    accepted_by_both(&a, &b, &token).await;

    // Ban.
    let (code, stdout, stderr) = cli(&file, &["ban", OPENID]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("banned {OPENID}")), "{stdout}");
    assert_eq!(parses(&file), (0, 1));
    assert!(
        file.read()
            .starts_with("# wxauth revocations\n# owner: ops\n\n")
    );
    a.reload_revocations();
    b.reload_revocations();
    refused_by_both(&a, &b, &token).await;
    let refused = b.login_attempt("code-2", OPENID, None).await;
    assert_problem(refused, 403, "user_blocked").await;

    // Banning again changes nothing; a second ban line added by hand, and
    // one by unionid, then unban: every ban of the id goes, nothing else.
    let (code, stdout, _) = cli(&file, &["ban", OPENID]);
    assert_eq!(code, 0);
    assert!(stdout.contains("already"), "{stdout}");
    file.write(&format!(
        "{}ban {OPENID}  # again\nban {UNIONID}\n",
        file.read()
    ));
    let (code, stdout, stderr) = cli(&file, &["unban", OPENID]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("2 lines removed"), "{stdout}");
    assert_eq!(
        file.read(),
        format!("# wxauth revocations\n# owner: ops\n\nban {UNIONID}\n")
    );
    let (code, _, _) = cli(&file, &["unban", UNIONID]);
    assert_eq!(code, 0);
    assert_eq!(parses(&file), (0, 0));
    a.reload_revocations();
    b.reload_revocations();
    accepted_by_both(&a, &b, &token).await;

    // Revoke at a given time (the test clock's now; the default is the
    // real now, which is before it).
    let (code, stdout, stderr) = cli(&file, &["revoke", OPENID, "--at", &rfc3339(START)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("revoked {OPENID}")), "{stdout}");
    assert!(
        file.read()
            .contains(&format!("revoke {OPENID} {}", rfc3339(START))),
        "{}",
        file.read()
    );
    assert_eq!(parses(&file), (1, 0));
    a.reload_revocations();
    b.reload_revocations();
    refused_by_both(&a, &b, &token).await;
    a.advance(1);
    let again = a.login_as("code-3", OPENID, None, SESSION_KEY).await;
    accepted_by_both(&a, &b, &again).await;
}

#[test]
fn the_cli_revoke_without_a_time_revokes_up_to_now() {
    let file = RevocationFile::new("");
    let before = chrono::Utc::now().timestamp();

    let (code, _, stderr) = cli(&file, &["revoke", OPENID]);

    assert_eq!(code, 0, "{stderr}");
    let after = chrono::Utc::now().timestamp();
    let list = wxauth::revocation::Revocations::parse(&file.read()).unwrap();
    assert!(list.refuses(OPENID, None, before), "{}", file.read());
    assert!(!list.refuses(OPENID, None, after + 1), "{}", file.read());
}

#[cfg(unix)]
#[test]
fn the_cli_replaces_the_file_by_a_rename_keeping_its_permissions_and_leaves_nothing_aside() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let file = RevocationFile::new("# shared with the replicas\n");
    std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::metadata(file.path()).unwrap();

    let (code, _, stderr) = cli(&file, &["ban", OPENID]);

    assert_eq!(code, 0, "{stderr}");
    let after = std::fs::metadata(file.path()).unwrap();
    assert_ne!(
        before.ino(),
        after.ino(),
        "a new file renamed over the old, not the old one rewritten in place"
    );
    assert_eq!(after.permissions().mode() & 0o777, 0o644);
    let folder: Vec<_> = std::fs::read_dir(file.path().parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(folder.contains(&"revocations".to_owned()), "{folder:?}");
    assert!(
        !folder.iter().any(|name| name.contains("tmp")),
        "no temporary file left: {folder:?}"
    );
    assert_eq!(parses(&file), (0, 1));
}

#[test]
fn concurrent_cli_edits_lose_no_ban() {
    // Operators (or a script with xargs -P) banning several users at once:
    // each edit must land, none renamed over another's.
    let file = RevocationFile::new("# many hands\n");
    let ids: Vec<String> = (0..20).map(|n| format!("oConcurrent{n:0>17}")).collect();

    let children: Vec<_> = ids
        .iter()
        .map(|id| {
            std::process::Command::new(env!("CARGO_BIN_EXE_wxauth"))
                .args(["ban", id])
                .env_clear()
                .env(REVOCATIONS_VAR, file.value())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn wxauth")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }

    let list = wxauth::revocation::Revocations::parse(&file.read()).unwrap();
    let lost: Vec<&String> = ids.iter().filter(|id| !list.is_banned(id)).collect();
    assert!(lost.is_empty(), "{} bans lost: {lost:?}", lost.len());
    assert!(file.read().starts_with("# many hands\n"));
}

#[test]
fn the_cli_refuses_to_edit_a_file_that_does_not_parse_and_leaves_it_as_it_was() {
    let file = RevocationFile::new("ban oA\nbanana\n");

    for args in [
        &["ban", OPENID][..],
        &["unban", "oA"],
        &["revoke", OPENID, "--at", "2027-01-15T08:00:00Z"],
    ] {
        let (code, _, stderr) = cli(&file, args);

        assert_ne!(code, 0, "{args:?}");
        assert!(stderr.contains("line 2"), "{args:?}: {stderr}");
        assert!(stderr.contains("fix it first"), "{args:?}: {stderr}");
        assert_eq!(file.read(), "ban oA\nbanana\n", "{args:?}");
    }
}

#[test]
fn the_cli_refuses_bad_ids_bad_times_and_no_file() {
    let file = RevocationFile::new("# empty\n");

    for args in [
        &["ban", "../etc/passwd"][..],
        &["ban", "o A"],
        &["revoke", OPENID, "--at", "yesterday"],
        &["ban", &"o".repeat(129)],
    ] {
        let (code, _, stderr) = cli(&file, args);
        assert_ne!(code, 0, "{args:?}");
        assert!(!stderr.is_empty(), "{args:?}: says why");
        assert_eq!(file.read(), "# empty\n", "{args:?}: unchanged");
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run_wxauth(dir.path(), &[], &["ban", OPENID]);
    assert_ne!(code, 0);
    assert!(stderr.contains(REVOCATIONS_VAR), "{stderr}");

    // --file names it too, and a missing file is created.
    let new = dir.path().join("new-list");
    let (code, _, stderr) = run_wxauth(
        dir.path(),
        &[],
        &["ban", OPENID, "--file", new.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&new).unwrap(),
        format!("ban {OPENID}\n")
    );
}

// The library's guard honours the file too (README, "Using the guard").

#[tokio::test]
async fn a_service_mounting_the_guard_from_config_refuses_a_banned_users_token() {
    use wxauth::guard::{Guard, GuardConfig};

    // Arrange: wxauth and a separate service sharing keys and the file.
    let file = RevocationFile::new("# none yet\n");
    let app = spawn_app_with(&[file.setting()]).await;
    let guard = Guard::from_config(&GuardConfig {
        dir: &app.keys_dir,
        issuer: "wxauth",
        appids: vec![APPID],
        leeway: 30,
        revocations: Some(file.path()),
    })
    .unwrap();
    let reloader = Arc::clone(guard.reloader().expect("a reloader"));
    let url = format!("{}/hello", spawn_guard_service(guard));
    // That service reads the wall clock: move real logins to it.
    let now = chrono::Utc::now().timestamp();
    let token = app.reissued_at(&app.login().await, now);
    let other = app.reissued_at(
        &app.login_as("code-o", OTHER_OPENID, None, SESSION_KEY)
            .await,
        now,
    );
    let call = |token: String| {
        let request = app.client.get(&url).bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    let ok = call(token.clone()).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), OPENID);

    // Act: a ban by unionid, reread as the service's timer would.
    file.write(&format!("ban {UNIONID}\n"));
    reloader.reload_all("test");

    // Assert
    assert_rejected(call(token.clone()).await, "banned, at the guard").await;
    assert_eq!(call(other).await.status(), 200);
    file.write("");
    reloader.reload_all("test");
    assert_eq!(call(token).await.status(), 200, "unbanned");
}

#[test]
fn a_guard_from_config_refuses_a_revocation_file_that_does_not_parse() {
    use wxauth::guard::{Guard, GuardConfig};
    let keys = key_folder();
    let file = RevocationFile::new("ban\n");

    let result = Guard::from_config(&GuardConfig {
        dir: keys.path(),
        issuer: "wxauth",
        appids: vec![APPID],
        leeway: 30,
        revocations: Some(file.path()),
    });

    let Err(error) = result else {
        panic!("a guard over a broken file must not be built");
    };
    assert!(error.to_string().contains("line 1"), "{error}");
}

// The CLI refuses what the servers would, and never waits without a bound.

/// Runs `command` to completion within `limit`, killing it and failing the
/// test if it takes longer; (exit code, stdout, stderr, time taken).
pub fn run_bounded(
    command: &mut std::process::Command,
    limit: std::time::Duration,
) -> (i32, String, String, std::time::Duration) {
    use std::io::Read as _;
    let started = std::time::Instant::now();
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn wxauth");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wxauth did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let took = started.elapsed();
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code().unwrap_or(-1), stdout, stderr, took)
}

/// `wxauth args` on `file` (a path), bounded in time.
fn cli_bounded(
    file: &std::path::Path,
    args: &[&str],
    limit: std::time::Duration,
) -> (i32, String, String, std::time::Duration) {
    let dir = tempfile::tempdir().unwrap();
    run_bounded(
        std::process::Command::new(env!("CARGO_BIN_EXE_wxauth"))
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env(REVOCATIONS_VAR, file),
        limit,
    )
}

const APPLIES: &str = "every replica applies it";

#[test]
fn the_cli_says_every_replica_applies_it_only_when_the_file_changed() {
    let file = RevocationFile::new("# list\n");

    let (code, stdout, stderr) = cli(&file, &["ban", OPENID]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("banned"), "{stdout}");
    assert!(stderr.contains(APPLIES), "{stderr}");

    for args in [&["ban", OPENID][..], &["unban", OTHER_OPENID]] {
        let (code, stdout, stderr) = cli(&file, args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(stdout.contains("nothing changed"), "{args:?}: {stdout}");
        assert!(!stderr.contains(APPLIES), "{args:?}: {stderr}");
    }
}

#[test]
fn the_cli_refuses_a_file_above_the_servers_cap_which_no_server_loads() {
    // Valid lines, but more of them than any server reads.
    let file = RevocationFile::new("# list\n");
    let line = format!("# {}\n", "x".repeat(1021));
    let text = line.repeat(usize::try_from(wxauth::revocation::MAX_FILE).unwrap() / 1024 + 1);
    std::fs::write(file.path(), &text).unwrap();

    let (code, _, stderr, _) = cli_bounded(
        file.path(),
        &["ban", OPENID],
        std::time::Duration::from_secs(30),
    );

    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("is larger than 67108864 bytes"), "{stderr}");
    assert!(!stderr.contains(APPLIES), "{stderr}");
    assert_eq!(
        std::fs::metadata(file.path()).unwrap().len(),
        text.len() as u64
    );
}

#[cfg(unix)]
#[test]
fn the_cli_never_blocks_on_a_fifo_in_place_of_the_file_or_of_its_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revocations");
    let lock = dir.path().join(".revocations.lock");
    for fifo in [&path, &lock] {
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&lock);
        let made = std::process::Command::new("mkfifo")
            .arg(fifo)
            .status()
            .unwrap();
        assert!(made.success());

        let (code, _, stderr, took) =
            cli_bounded(&path, &["ban", OPENID], std::time::Duration::from_secs(10));

        assert_ne!(code, 0, "{fifo:?}: {stderr}");
        assert!(
            stderr.contains("is not a regular file"),
            "{fifo:?}: {stderr}"
        );
        assert!(
            took < std::time::Duration::from_secs(5),
            "{fifo:?}: {took:?}"
        );
    }
}

#[test]
fn the_cli_waits_ten_seconds_at_most_for_another_editors_lock_then_says_who_holds_it() {
    // Arrange: another editor holds the lock (this test, as it would).
    let file = RevocationFile::new("# list\n");
    let lock_path = file.path().with_file_name(".revocations.lock");
    std::fs::write(
        &lock_path,
        "pid 4242 (wxauth ban), since 2027-01-15T08:00:00Z",
    )
    .unwrap();
    let lock = std::fs::File::open(&lock_path).unwrap();
    lock.lock().unwrap();

    // Act
    let (code, _, stderr, took) = cli_bounded(
        file.path(),
        &["ban", OPENID],
        std::time::Duration::from_secs(30),
    );

    // Assert: ten seconds (generous above, for a loaded machine), then a
    // message naming the holder and how to find it, and nothing written.
    assert_ne!(code, 0, "{stderr}");
    assert!(took >= std::time::Duration::from_secs(10), "{took:?}");
    assert!(took < std::time::Duration::from_secs(25), "{took:?}");
    assert!(stderr.contains("waited 10s"), "{stderr}");
    assert!(stderr.contains("pid 4242 (wxauth ban)"), "{stderr}");
    assert!(stderr.contains("fuser -v"), "{stderr}");
    assert_eq!(file.read(), "# list\n");
    drop(lock);
    let (code, _, stderr) = cli(&file, &["ban", OPENID]);
    assert_eq!(code, 0, "once released: {stderr}");
}
