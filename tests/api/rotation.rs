//! Key rotation across replicas (README, "Key rotation"): publish,
//! promote, retire, each seen by every replica after a rescan, with nobody
//! logged out; and what `wxauth keys` tells the operator.

use crate::helpers::tokens::JsonEdit as _;
use crate::helpers::{
    APPID, FIRST_KID, OPENID, SESSION_KEY, START,
    app::{TestApp, assert_problem, key_folder, spawn_app, spawn_app_on},
    fakes::any_code_logs_in,
    process::Process,
    revocations::publish_key,
    tokens::{decode_parts, eddsa_header, forge, good_claims},
};
use crate::helpers::{SECRET, process::run_wxauth, revocations::set_file_time};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wiremock::MockServer;
use wxauth::keyring::{KeyAlg, PIN_FILE, write_new_key};

const NEW_KID: &str = "20270101T000000Z";

/// Two replicas on one key folder and one fake WeChat.
async fn two_replicas(keys: Arc<tempfile::TempDir>) -> (TestApp, TestApp) {
    let a = spawn_app_on(MockServer::start().await, keys.clone(), &[]).await;
    let b = spawn_app_on(MockServer::start().await, keys, &[]).await;
    (a, b)
}

fn rescan_both(a: &TestApp, b: &TestApp) {
    assert!(a.reloader.rescan("test"));
    assert!(b.reloader.rescan("test"));
}

#[tokio::test]
async fn two_replicas_on_one_folder_accept_each_others_tokens() {
    let (a, b) = two_replicas(key_folder()).await;

    let from_a = a.login().await;
    let from_b = b.login_as("code-b", OPENID, None, SESSION_KEY).await;

    assert_eq!(b.get_me(&from_a).await.status(), 200);
    assert_eq!(a.get_me(&from_b).await.status(), 200);
    assert_eq!(b.refresh(&from_a).await.status(), 200);
}

#[tokio::test]
async fn publish_promote_by_pin_and_retire_are_seen_by_both_replicas() {
    // Arrange: both replicas sign with the first key, pinned by the pin file.
    let keys = key_folder();
    std::fs::write(keys.path().join(PIN_FILE), FIRST_KID).unwrap();
    let (a, b) = two_replicas(keys.clone()).await;
    let old_token = a.login().await;

    // Publish: the new key verifies everywhere, the old one still signs.
    write_new_key(keys.path(), NEW_KID, KeyAlg::Es256).unwrap();
    rescan_both(&a, &b);
    for app in [&a, &b] {
        assert_eq!(app.jwks_kids().await, [FIRST_KID, NEW_KID]);
        assert_eq!(app.signing_kid().await, FIRST_KID);
    }

    // Promote: the pin moves, both replicas sign with the new key.
    std::fs::write(keys.path().join(PIN_FILE), format!("{NEW_KID}\n")).unwrap();
    rescan_both(&a, &b);
    for app in [&a, &b] {
        assert_eq!(app.signing_kid().await, NEW_KID);
        assert_eq!(
            app.get_me(&old_token).await.status(),
            200,
            "old tokens keep working"
        );
    }
    let renewed = b.refreshed(&old_token).await;
    assert_eq!(decode_parts(&renewed).0["kid"], NEW_KID);

    // Retire: the old file goes; its tokens stop, the renewed one works.
    std::fs::remove_file(keys.path().join(format!("{FIRST_KID}.pem"))).unwrap();
    rescan_both(&a, &b);
    for app in [&a, &b] {
        assert_eq!(app.jwks_kids().await, [NEW_KID]);
        assert_problem(app.get_me(&old_token).await, 401, "invalid_token").await;
        assert_eq!(app.get_me(&renewed).await.status(), 200);
    }
}

#[tokio::test]
async fn a_key_with_a_greater_kid_signs_after_a_rescan_once_its_activation_delay_is_out_and_old_tokens_keep_verifying()
 {
    let keys = key_folder();
    let (a, b) = two_replicas(keys.clone()).await;
    let old_token = a.login().await;

    // Published the (default) activation delay ago, on the test clock's
    // timeline (activation.rs tests the wait itself): a running replica
    // also waits that long from when it first saw the key.
    publish_key(keys.path(), NEW_KID, KeyAlg::Eddsa, START - 600);
    rescan_both(&a, &b);
    for app in [&a, &b] {
        assert_eq!(app.signing_kid().await, FIRST_KID, "seen just now");
        app.advance(600);
    }
    rescan_both(&a, &b);

    for app in [&a, &b] {
        assert_eq!(app.signing_kid().await, NEW_KID);
        assert_eq!(app.get_me(&old_token).await.status(), 200);
    }
}

#[tokio::test]
async fn a_token_from_a_key_this_replica_has_not_loaded_yet_verifies_through_an_on_demand_rescan() {
    // Replica A has rescanned and signs with the new key; B has not.
    let keys = key_folder();
    let (a, b) = two_replicas(keys.clone()).await;
    publish_key(keys.path(), NEW_KID, KeyAlg::Eddsa, START - 600);
    assert!(a.reloader.rescan("test"));
    a.advance(600);
    b.advance(600);
    assert!(a.reloader.rescan("test"));
    let token = a.login().await;
    assert_eq!(decode_parts(&token).0["kid"], NEW_KID);
    let before = b.reloader.rescans();

    let response = b.get_me(&token).await;

    assert_eq!(response.status(), 200);
    assert_eq!(b.reloader.rescans(), before + 1);
}

#[tokio::test]
async fn a_broken_file_dropped_into_the_folder_changes_nothing() {
    let keys = key_folder();
    let app = spawn_app_on(MockServer::start().await, keys.clone(), &[]).await;
    let token = app.login().await;

    // A garbage file that would sort last, and the loaded key overwritten.
    std::fs::write(keys.path().join("99999999T999999Z.pem"), "not a key").unwrap();
    std::fs::write(
        keys.path().join(format!("{FIRST_KID}.pem")),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::write(keys.path().join("notes.txt"), "ignored").unwrap();
    assert!(app.reloader.rescan("test"));

    assert_eq!(app.jwks_kids().await, [FIRST_KID]);
    assert_eq!(app.signing_kid().await, FIRST_KID);
    assert_eq!(app.get_me(&token).await.status(), 200);
    assert_eq!(app.refresh(&token).await.status(), 200);
}

#[tokio::test]
async fn a_rescan_never_leaves_the_server_without_a_signing_key() {
    let keys = key_folder();
    let app = spawn_app_on(MockServer::start().await, keys.clone(), &[]).await;
    let token = app.login().await;

    // Every key file deleted, then a pin naming nothing.
    std::fs::remove_file(keys.path().join(format!("{FIRST_KID}.pem"))).unwrap();
    assert!(!app.reloader.rescan("test"), "the rescan fails ...");
    std::fs::write(keys.path().join(PIN_FILE), "nothing").unwrap();
    assert!(!app.reloader.rescan("test"));

    // ... and the server keeps what it had.
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(app.get_me(&token).await.status(), 200);
    assert_eq!(app.reloader.failures(), 2);
}

#[tokio::test]
async fn unknown_kids_cause_at_most_one_rescan_per_second() {
    // Arrange: many forged tokens, each with a different unknown kid.
    let app = spawn_app().await;
    let key = app.key(FIRST_KID);
    let claims = good_claims(APPID, START).with("exp", START + 60);
    let tokens: Vec<String> = (0..200)
        .map(|i| forge(&key, &eddsa_header(&format!("forged{i}")), &claims))
        .collect();
    let before = app.reloader.rescans();
    let started = Instant::now();

    // Act: all at once, in batches.
    for batch in tokens.chunks(50) {
        let calls = batch.iter().map(|token| app.get_me(token));
        for response in futures_util::future::join_all(calls).await {
            assert_eq!(response.status(), 401);
        }
    }

    // Assert: at least one rescan, and no more than one per second begun.
    let scans = app.reloader.rescans() - before;
    let allowed = started.elapsed().as_secs() + 1;
    assert!(scans >= 1, "an unknown kid triggers a rescan");
    assert!(
        scans <= allowed,
        "{scans} rescans in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_folder_is_rescanned_every_keys_reload_seconds() {
    let keys = key_folder();
    // No activation delay: this is about the timer (a file's time may be
    // anything while the timer reads it).
    let app = spawn_app_on(
        MockServer::start().await,
        keys.clone(),
        &[
            ("WXAUTH_KEYS_RELOAD", "1"),
            ("WXAUTH_KEY_ACTIVATION_DELAY", "0"),
        ],
    )
    .await;

    write_new_key(keys.path(), NEW_KID, KeyAlg::Eddsa).unwrap();

    // Wait for the condition, bounded far above the one-second period.
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.jwks_kids().await.len() < 2 {
        assert!(Instant::now() < deadline, "no periodic rescan within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.signing_kid().await, NEW_KID);
}

#[cfg(unix)]
#[tokio::test]
async fn a_kubernetes_secret_volume_swapped_at_once_is_followed() {
    // The layout a Secret volume has: files are symlinks into ..data, and
    // ..data is a symlink swapped atomically to a new timestamped folder.
    use std::os::unix::fs::symlink;
    let mount = Arc::new(tempfile::tempdir().unwrap());
    let root = mount.path();
    std::fs::create_dir(root.join("..2026_01")).unwrap();
    write_new_key(&root.join("..2026_01"), FIRST_KID, KeyAlg::Eddsa).unwrap();
    symlink("..2026_01", root.join("..data")).unwrap();
    symlink(
        format!("..data/{FIRST_KID}.pem"),
        root.join(format!("{FIRST_KID}.pem")),
    )
    .unwrap();
    let app = spawn_app_on(MockServer::start().await, mount.clone(), &[]).await;
    let token = app.login().await;

    // The Secret gains a key: new folder, new top-level link, ..data swapped.
    std::fs::create_dir(root.join("..2026_02")).unwrap();
    std::fs::copy(
        root.join("..2026_01").join(format!("{FIRST_KID}.pem")),
        root.join("..2026_02").join(format!("{FIRST_KID}.pem")),
    )
    .unwrap();
    publish_key(&root.join("..2026_02"), NEW_KID, KeyAlg::Eddsa, START - 600);
    symlink("..2026_02", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    symlink(
        format!("..data/{NEW_KID}.pem"),
        root.join(format!("{NEW_KID}.pem")),
    )
    .unwrap();
    std::fs::remove_dir_all(root.join("..2026_01")).unwrap();
    assert!(app.reloader.rescan("test"));
    app.advance(600);
    assert!(app.reloader.rescan("test"));

    assert_eq!(app.jwks_kids().await, [FIRST_KID, NEW_KID]);
    assert_eq!(app.signing_kid().await, NEW_KID);
    assert_eq!(app.get_me(&token).await.status(), 200);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn sighup_makes_the_binary_rescan() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    write_new_key(&keys, FIRST_KID, KeyAlg::Eddsa).unwrap();
    let server = Process::serve(
        dir.path(),
        &[
            ("WXAUTH_BIND", "127.0.0.1:0"),
            ("WXAUTH_KEYS_RELOAD", "86400"),
        ],
    );
    let base = server.wait_until_listening().expect("listening");
    write_new_key(&keys, NEW_KID, KeyAlg::Eddsa).unwrap();

    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let set: serde_json::Value = reqwest::get(format!("{base}/.well-known/jwks.json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if set["keys"].as_array().unwrap().len() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no rescan after SIGHUP");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = server.stop();
    assert!(log.contains("SIGHUP"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_rotations_under_concurrent_traffic_fail_no_request() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    // Arrange: two replicas behind a "load balancer" (clients alternate),
    // a WeChat that accepts any code, and the pin file naming the signer.
    let keys = key_folder();
    std::fs::write(keys.path().join(PIN_FILE), FIRST_KID).unwrap();
    let wechat = MockServer::start().await;
    any_code_logs_in().mount(&wechat).await;
    // Six clients share one loopback address: the per-client rate limit
    // would answer 429 whenever a slow machine stretches the run, and this
    // test is about rotation, not the limiter.
    let unlimited = ("WXAUTH_CLIENT_RATE", "0");
    let a = spawn_app_on(wechat, keys.clone(), &[unlimited]).await;
    let b = spawn_app_on(
        MockServer::start().await,
        keys.clone(),
        &[("WECHAT_API_BASE", &a.wechat.uri()), unlimited],
    )
    .await;
    let replicas = Arc::new([a.address.clone(), b.address.clone()]);
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Arc::new(AtomicU64::new(0));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    const CLIENTS: usize = 6;
    let token_epochs: Arc<Vec<AtomicU64>> =
        Arc::new((0..CLIENTS).map(|_| AtomicU64::new(0)).collect());

    // Each client: log in, make guarded calls, refresh, again and again,
    // alternating replicas, as a mini-program would.
    let mut clients = Vec::new();
    for id in 0..CLIENTS {
        let (replicas, stop, epoch, ok, failed, token_epochs) = (
            replicas.clone(),
            stop.clone(),
            epoch.clone(),
            ok.clone(),
            failed.clone(),
            token_epochs.clone(),
        );
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut turn = id;
            let next = |turn: &mut usize| {
                *turn += 1;
                replicas[*turn % 2].clone()
            };
            let count = |status: reqwest::StatusCode| {
                if status.is_success() {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                status.is_success()
            };
            let token_of =
                |body: serde_json::Value| body["access_token"].as_str().unwrap().to_owned();
            let mut token = String::new();
            while token.is_empty() || !stop.load(Ordering::SeqCst) {
                let seen = epoch.load(Ordering::SeqCst);
                let login = http
                    .post(format!("{}/auth/login", next(&mut turn)))
                    .json(&json!({"code": format!("c{id}")}))
                    .send()
                    .await
                    .unwrap();
                if count(login.status()) && token.is_empty() {
                    token = token_of(login.json().await.unwrap());
                    token_epochs[id].store(seen, Ordering::SeqCst);
                }
                for _ in 0..5 {
                    let me = http
                        .get(format!("{}/auth/me", next(&mut turn)))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    count(me.status());
                }
                let seen = epoch.load(Ordering::SeqCst);
                let renewed = http
                    .post(format!("{}/auth/refresh", next(&mut turn)))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                if count(renewed.status()) {
                    token = token_of(renewed.json().await.unwrap());
                    token_epochs[id].store(seen, Ordering::SeqCst);
                }
            }
        }));
    }

    // Act: three complete rotations, by the runbook.
    let mut signer = FIRST_KID.to_owned();
    for round in 1..=3 {
        let kid = format!("2027010{round}T000000Z");
        // Publish.
        write_new_key(keys.path(), &kid, KeyAlg::Eddsa).unwrap();
        rescan_both(&a, &b);
        // Promote, then let every client move to a token of the new key (in
        // production: wait WXAUTH_TOKEN_TTL).
        std::fs::write(keys.path().join(PIN_FILE), &kid).unwrap();
        rescan_both(&a, &b);
        let promoted = epoch.fetch_add(1, Ordering::SeqCst) + 1;
        let deadline = Instant::now() + Duration::from_secs(60);
        while token_epochs
            .iter()
            .any(|e| e.load(Ordering::SeqCst) < promoted)
        {
            assert!(Instant::now() < deadline, "clients did not renew");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Retire.
        std::fs::remove_file(keys.path().join(format!("{signer}.pem"))).unwrap();
        rescan_both(&a, &b);
        assert_eq!(a.jwks_kids().await, std::slice::from_ref(&kid));
        signer = kid;
    }
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }

    // Assert
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(ok > 100, "traffic ran: {ok} answers");
    assert_eq!(failed, 0, "{failed} non-2xx answers out of {}", ok + failed);
    eprintln!("three rotations: {ok} answers, all 2xx");
}

// `wxauth keys` and start-up: what an operator reads about the key folder.

/// Writes a key `kid` into `dir` with its file time `at` (real seconds).
fn key_dated(dir: &std::path::Path, kid: &str, at: i64) {
    let path = write_new_key(dir, kid, KeyAlg::Eddsa).unwrap();
    set_file_time(&path, at);
}

#[test]
fn wxauth_keys_keeps_its_columns_with_a_pending_key_and_warns_of_a_file_older_than_its_kid() {
    // Arrange: an old key, a key copied keeping an older time than its
    // kid's (cp -p), and one published a minute ago (pending).
    let now = chrono::Utc::now().timestamp();
    let kid_at =
        |at: i64| wxauth::keyring::default_kid(chrono::DateTime::from_timestamp(at, 0).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    key_dated(&keys, FIRST_KID, now - 86_400 * 30);
    let copied = kid_at(now - 3_600);
    key_dated(&keys, &copied, now - 86_400 * 7);
    let pending = kid_at(now - 60);
    key_dated(&keys, &pending, now - 60);

    // Act
    let (code, stdout, stderr) = run_wxauth(
        dir.path(),
        &[("WXAUTH_KEYS_DIR", keys.to_str().unwrap())],
        &["keys"],
    );

    // Assert
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let file_column = lines[0].find("FILE").expect("a header");
    for kid in [FIRST_KID, copied.as_str(), pending.as_str()] {
        let row = lines.iter().find(|l| l.starts_with(kid)).expect("a row");
        assert_eq!(
            row.find(keys.to_str().unwrap()),
            Some(file_column),
            "{stdout}"
        );
    }
    let pending_row = lines.iter().find(|l| l.starts_with(&pending)).unwrap();
    assert!(pending_row.contains(" from "), "{stdout}");
    assert!(
        stdout.contains(&format!("{copied}.pem is dated "))
            && stdout.contains("before its kid's time"),
        "{stdout}"
    );
    assert!(stdout.contains("pin the signing key"), "{stdout}");
    assert!(
        !stdout.contains(&format!("{pending}.pem is dated")),
        "{stdout}"
    );
}

/// Runs `wxauth args` as a user that may not read `keys`' files: as uid
/// 65532 (the image's) through setpriv when the tests run as root, else
/// as ourselves with the files' modes cleared.
#[cfg(unix)]
fn wxauth_unable_to_read(
    dir: &std::path::Path,
    keys: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> (i32, String, String) {
    use std::os::unix::fs::PermissionsExt as _;
    let root =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    let mut command = if root {
        for folder in [dir, keys] {
            std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut command = std::process::Command::new("setpriv");
        command.args(["--reuid", "65532", "--regid", "65532", "--clear-groups"]);
        command.arg(env!("CARGO_BIN_EXE_wxauth"));
        command
    } else {
        for entry in std::fs::read_dir(keys).unwrap() {
            std::fs::set_permissions(
                entry.unwrap().path(),
                std::fs::Permissions::from_mode(0o000),
            )
            .unwrap();
        }
        std::process::Command::new(env!("CARGO_BIN_EXE_wxauth"))
    };
    let (code, stdout, stderr, _) = crate::revocation::run_bounded(
        command
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().copied()),
        Duration::from_secs(20),
    );
    (code, stdout, stderr)
}

#[cfg(unix)]
#[test]
fn a_key_the_server_may_not_read_says_to_fix_owner_or_mode_and_never_to_make_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    write_new_key(&keys, FIRST_KID, KeyAlg::Eddsa).unwrap();
    let keys_value = keys.to_str().unwrap().to_owned();

    for args in [&["keys"][..], &["serve"]] {
        let (code, stdout, stderr) = wxauth_unable_to_read(
            dir.path(),
            &keys,
            &[
                ("WXAUTH_KEYS_DIR", keys_value.as_str()),
                ("WXAUTH_BIND", "127.0.0.1:0"),
                ("WECHAT_APPID", APPID),
                ("WECHAT_SECRET", SECRET),
                ("WECHAT_API_BASE", "http://127.0.0.1:9"),
            ],
            args,
        );

        assert_ne!(code, 0, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains("permission denied"), "{args:?}: {stderr}");
        assert!(
            stderr.contains("fix the owner or mode"),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("{FIRST_KID}.pem")),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("keygen"), "{args:?}: {stderr}");
    }
}
