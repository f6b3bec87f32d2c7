//! The key activation delay (README, "Keys"): a newly published key file
//! verifies at once and signs only once both its file time and, on a
//! running replica, the moment that replica first saw it are
//! WXAUTH_KEY_ACTIVATION_DELAY old; a fresh folder signs at once, the
//! first published key first; a pin promotes at once. Times are the test
//! clock's and the files' modification times, set on its timeline: no
//! test sleeps.

use crate::helpers::{
    APPID, FIRST_KID, OPENID, SECRET, SESSION_KEY, START,
    app::{TestApp, key_folder, spawn_app_on},
    process::Process,
    revocations::{publish_key, set_file_time},
    tokens::{decode_parts, eddsa_header, forge, good_claims},
};
use serde_json::{Value, json};
use std::sync::Arc;
use wiremock::MockServer;
use wxauth::keyring::{KeyAlg, PIN_FILE};

const NEW_KID: &str = "20270115T075900Z";
const DELAY: i64 = 600;
const DELAY_SETTING: (&str, &str) = ("WXAUTH_KEY_ACTIVATION_DELAY", "600");

/// A key folder whose first key was published long ago (a day before START).
fn settled_folder() -> Arc<tempfile::TempDir> {
    let keys = key_folder();
    set_file_time(
        &keys.path().join(format!("{FIRST_KID}.pem")),
        START - 86_400,
    );
    keys
}

async fn replica(keys: &Arc<tempfile::TempDir>, extra: &[(&str, &str)]) -> TestApp {
    let mut overrides = vec![DELAY_SETTING];
    overrides.extend_from_slice(extra);
    spawn_app_on(MockServer::start().await, keys.clone(), &overrides).await
}

/// `seconds` as /readyz writes a time: RFC 3339 UTC.
fn utc(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The kid of a fresh login's token on `app` (who signs, as a client sees it).
async fn signs(app: &TestApp, code: &str) -> String {
    let token = app.login_as(code, OPENID, None, SESSION_KEY).await;
    let kid = decode_parts(&token).0["kid"]
        .as_str()
        .expect("kid")
        .to_owned();
    assert_eq!(app.signing_kid().await, kid, "/readyz agrees");
    kid
}

/// A token for OPENID signed by `kid` of `app`'s folder, at `app`'s now.
fn token_signed_by(app: &TestApp, kid: &str) -> String {
    forge(
        &app.key(kid),
        &eddsa_header(kid),
        &good_claims(&app.appid, app.now()),
    )
}

#[tokio::test]
async fn a_new_key_verifies_at_once_everywhere_and_signs_nowhere_before_the_delay_then_everywhere()
{
    // Arrange: two replicas on a settled folder.
    let keys = settled_folder();
    let a = replica(&keys, &[]).await;
    let b = replica(&keys, &[]).await;

    // Act: a key is published a minute before the replicas' now, and they
    // rescan (they see it at START); five minutes on, a third replica
    // starts (it has seen nothing: the file time alone decides for it).
    publish_key(keys.path(), NEW_KID, KeyAlg::Eddsa, START - 60);
    a.tick();
    b.tick();
    let new_token = token_signed_by(&a, NEW_KID);
    a.advance(300);
    b.advance(300);
    let c = replica(&keys, &[]).await;
    c.advance(300);
    let replicas = [&a, &b, &c];

    // Assert: verifies on all, signs on none, /readyz says when it will:
    // the delay from the later of the file time and the sighting.
    let takes_over = [START + DELAY, START + DELAY, START - 60 + DELAY];
    for (i, app) in replicas.iter().enumerate() {
        app.tick();
        assert_eq!(app.jwks_kids().await, [FIRST_KID, NEW_KID]);
        assert_eq!(app.get_me(&new_token).await.status(), 200, "verifies");
        assert_eq!(signs(app, &format!("c-{i}")).await, FIRST_KID);
        assert_eq!(
            app.readyz().await["next_signing"],
            json!({"kid": NEW_KID, "from": utc(takes_over[i])})
        );
    }

    // One second before each replica's time: still the old key; at it, the
    // new key, with nothing waiting.
    for (app, from) in replicas.iter().zip(takes_over) {
        app.advance(from - app.now() - 1);
        app.tick();
        assert_eq!(signs(app, "just-before").await, FIRST_KID);
        app.advance(1);
        app.tick();
        assert_eq!(signs(app, "after").await, NEW_KID);
        assert_eq!(app.readyz().await["next_signing"], Value::Null);
    }
}

#[tokio::test]
async fn a_back_dated_key_file_appearing_while_running_waits_the_delay_from_its_sighting() {
    // `cp -p`, `rsync -a`, `tar x` or `touch -d` give a new key file an old
    // time: a running replica counts from when it first saw it.
    let keys = settled_folder();
    let app = replica(&keys, &[]).await;
    app.advance(1_000);
    let seen_at = app.now();

    publish_key(keys.path(), NEW_KID, KeyAlg::Eddsa, START - 86_400);
    app.tick();

    assert_eq!(signs(&app, "code-1").await, FIRST_KID);
    assert_eq!(
        app.readyz().await["next_signing"],
        json!({"kid": NEW_KID, "from": utc(seen_at + DELAY)})
    );
    app.advance(DELAY - 1);
    app.tick();
    assert_eq!(signs(&app, "code-2").await, FIRST_KID, "one second before");
    app.advance(1);
    app.tick();
    assert_eq!(signs(&app, "code-3").await, NEW_KID);
    assert_eq!(app.readyz().await["next_signing"], Value::Null);
}

#[tokio::test]
async fn after_a_restart_the_first_published_key_signs_though_its_file_was_rewritten() {
    // The old key's file is rewritten (same content, a new time: a Secret
    // update, a configuration run), and a new key is 60 s old; then the
    // replica restarts. No key is active by file times; the first
    // published signs, by the earlier of file time and kid time, so the
    // old key, and the new one is next after its delay.
    let keys = settled_folder();
    let old = keys.path().join(format!("{FIRST_KID}.pem"));
    let before = replica(&keys, &[]).await;
    assert_eq!(signs(&before, "code-1").await, FIRST_KID);
    publish_key(keys.path(), NEW_KID, KeyAlg::Eddsa, START - 60);
    let content = std::fs::read(&old).unwrap();
    std::fs::write(&old, content).unwrap();
    set_file_time(&old, START - 10);

    let restarted = replica(&keys, &[]).await;

    assert_eq!(signs(&restarted, "code-2").await, FIRST_KID);
    assert_eq!(
        restarted.readyz().await["next_signing"],
        json!({"kid": NEW_KID, "from": utc(START - 60 + DELAY)})
    );
}

#[tokio::test]
async fn a_token_signed_by_a_waiting_key_verifies_and_renews_under_the_key_that_signs() {
    // Arrange: one replica pinned to the new key (the operator's choice),
    // one where it waits.
    let keys = settled_folder();
    publish_key(keys.path(), NEW_KID, KeyAlg::Eddsa, START - 1);
    let pinned = replica(&keys, &[("WXAUTH_SIGNING_KID", NEW_KID)]).await;
    let waiting = replica(&keys, &[]).await;
    let token = pinned.login().await;
    assert_eq!(decode_parts(&token).0["kid"], NEW_KID);

    // Act
    let renewed = waiting.refreshed(&token).await;

    // Assert: the seal of the waiting key opened; the new token is signed by
    // the active key, and both replicas take it.
    assert_eq!(decode_parts(&renewed).0["kid"], FIRST_KID);
    assert_eq!(waiting.get_me(&token).await.status(), 200);
    assert_eq!(pinned.get_me(&renewed).await.status(), 200);
}

#[tokio::test]
async fn a_fresh_folder_signs_at_once() {
    // One key, published a second ago.
    let keys = Arc::new(tempfile::tempdir().unwrap());
    publish_key(keys.path(), NEW_KID, KeyAlg::Eddsa, START - 1);

    let app = replica(&keys, &[]).await;

    assert_eq!(signs(&app, "code-1").await, NEW_KID);
    assert_eq!(app.readyz().await["next_signing"], Value::Null);
}

#[tokio::test]
async fn keys_published_at_the_same_moment_with_none_active_sign_with_the_least_kid() {
    // As after a Kubernetes Secret update re-dates every file: a replica
    // started then must not jump to the newest key (services may not have
    // it yet), whatever the others do; the least kid is the oldest
    // generation.
    let keys = Arc::new(tempfile::tempdir().unwrap());
    publish_key(keys.path(), FIRST_KID, KeyAlg::Eddsa, START - 1);
    publish_key(keys.path(), NEW_KID, KeyAlg::Es256, START - 1);

    let app = replica(&keys, &[]).await;

    assert_eq!(signs(&app, "code-1").await, FIRST_KID);
    assert_eq!(app.readyz().await["next_signing"]["kid"], NEW_KID);
}

#[tokio::test]
async fn a_replica_restarted_while_the_first_key_is_young_signs_like_the_others() {
    // The folder was fresh: its first key published 300 s ago, so young,
    // and replica A signs with it (no key was active). Then a second key is
    // published and A, by the rule, keeps signing with the first one until
    // the second is DELAY old. A replica started now must do the same:
    // otherwise it signs with a key some JWK Set caches have not seen.
    let keys = Arc::new(tempfile::tempdir().unwrap());
    publish_key(keys.path(), FIRST_KID, KeyAlg::Eddsa, START - 300);
    let a = replica(&keys, &[]).await;
    assert_eq!(signs(&a, "a-1").await, FIRST_KID);
    publish_key(keys.path(), NEW_KID, KeyAlg::Eddsa, START - 100);
    a.tick();
    assert_eq!(signs(&a, "a-2").await, FIRST_KID);

    let restarted = replica(&keys, &[]).await;

    assert_eq!(
        signs(&restarted, "r-1").await,
        FIRST_KID,
        "the restarted replica signs with a key published 100 s ago, A with the first"
    );
}

#[tokio::test]
async fn an_active_key_stays_active_when_its_file_is_redated() {
    // A Kubernetes Secret update rewrites every file of the volume: the
    // signer of a running replica does not change back.
    let keys = settled_folder();
    let app = replica(&keys, &[]).await;
    let path = publish_key(keys.path(), NEW_KID, KeyAlg::Eddsa, START - DELAY);
    app.tick();
    app.advance(DELAY);
    app.tick();
    assert_eq!(signs(&app, "code-1").await, NEW_KID);

    set_file_time(&path, app.now());
    app.tick();

    assert_eq!(signs(&app, "code-2").await, NEW_KID);
}

#[tokio::test]
async fn the_signing_kid_setting_promotes_a_waiting_key_at_once() {
    let keys = settled_folder();
    publish_key(keys.path(), NEW_KID, KeyAlg::Eddsa, START - 1);

    let pinned = replica(&keys, &[("WXAUTH_SIGNING_KID", NEW_KID)]).await;
    let unpinned = replica(&keys, &[]).await;

    assert_eq!(signs(&pinned, "code-1").await, NEW_KID);
    assert_eq!(pinned.readyz().await["next_signing"], Value::Null);
    assert_eq!(signs(&unpinned, "code-2").await, FIRST_KID);
}

#[tokio::test]
async fn the_pin_file_promotes_a_waiting_key_at_once_on_every_replica() {
    // Arrange: a key waiting out its delay on two replicas.
    let keys = settled_folder();
    let a = replica(&keys, &[]).await;
    let b = replica(&keys, &[]).await;
    publish_key(keys.path(), NEW_KID, KeyAlg::Eddsa, START - 1);
    a.tick();
    b.tick();
    assert_eq!(signs(&a, "a-1").await, FIRST_KID);

    // Act: the operator pins it.
    std::fs::write(keys.path().join(PIN_FILE), format!("{NEW_KID}\n")).unwrap();
    a.tick();
    b.tick();

    // Assert
    for (code, app) in [("a-2", &a), ("b-2", &b)] {
        assert_eq!(signs(app, code).await, NEW_KID);
        assert_eq!(app.readyz().await["next_signing"], Value::Null);
    }
    // And unpinned again before the delay: back to the active key.
    std::fs::remove_file(keys.path().join(PIN_FILE)).unwrap();
    a.tick();
    assert_eq!(signs(&a, "a-3").await, FIRST_KID);
}

#[tokio::test]
async fn a_delay_of_zero_signs_a_new_key_at_the_next_rescan() {
    let keys = settled_folder();
    let app = spawn_app_on(
        MockServer::start().await,
        keys.clone(),
        &[("WXAUTH_KEY_ACTIVATION_DELAY", "0")],
    )
    .await;
    publish_key(keys.path(), NEW_KID, KeyAlg::Eddsa, START);

    app.tick();

    assert_eq!(signs(&app, "code-1").await, NEW_KID);
}

#[tokio::test]
async fn the_default_delay_is_ten_minutes() {
    let keys = settled_folder();
    let app = spawn_app_on(MockServer::start().await, keys.clone(), &[]).await;
    publish_key(keys.path(), NEW_KID, KeyAlg::Eddsa, START);
    app.tick();

    assert_eq!(
        app.readyz().await["next_signing"],
        json!({"kid": NEW_KID, "from": utc(START + 600)})
    );
}

#[tokio::test]
async fn readyz_names_the_signer_and_the_key_waiting_with_the_time_it_takes_over() {
    let keys = settled_folder();
    let app = replica(&keys, &[]).await;
    assert_eq!(
        app.readyz().await,
        json!({"status": "ready", "signing_kid": FIRST_KID, "next_signing": null, "apps": [{"appid": APPID, "platform": "wechat"}]})
    );

    publish_key(keys.path(), NEW_KID, KeyAlg::Es256, START - 10);
    app.tick();

    // Seen at START, ten seconds after its file time: the later counts.
    assert_eq!(
        app.readyz().await,
        json!({
            "status": "ready",
            "signing_kid": FIRST_KID,
            "next_signing": {"kid": NEW_KID, "from": utc(START + DELAY)},
            "apps": [{"appid": APPID, "platform": "wechat"}],
        })
    );
}

#[tokio::test]
async fn a_waiting_key_with_a_smaller_kid_never_signs_and_is_not_next() {
    // The greatest active kid signs: a newer file with an older name only
    // verifies.
    let keys = settled_folder();
    let app = replica(&keys, &[]).await;
    publish_key(keys.path(), "20250101T000000Z", KeyAlg::Eddsa, START - 1);
    app.tick();
    assert_eq!(app.readyz().await["next_signing"], Value::Null);

    app.advance(DELAY);
    app.tick();

    assert_eq!(signs(&app, "code-1").await, FIRST_KID);
    assert_eq!(app.jwks_kids().await.len(), 2);
}

/// Starts the real binary (real clock) on `dir`/keys, waits until it
/// listens, and returns /readyz's JSON.
async fn readyz_of_binary(dir: &std::path::Path) -> Value {
    let server = Process::serve(
        dir,
        &[
            ("WXAUTH_BIND", "127.0.0.1:0"),
            ("WECHAT_APPID", APPID),
            ("WECHAT_SECRET", SECRET),
            ("WECHAT_API_BASE", "http://127.0.0.1:9"),
        ],
    );
    let base = server.wait_until_listening().expect("listening");
    let body = reqwest::get(format!("{base}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    server.stop();
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_started_within_the_delay_waits_and_one_started_after_it_signs_at_once() {
    // Restarts included: the real binary, with the real clock, decides from
    // the files' times alone.
    let now = chrono::Utc::now().timestamp();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    publish_key(&keys, FIRST_KID, KeyAlg::Eddsa, now - 86_400);
    let new = publish_key(&keys, NEW_KID, KeyAlg::Eddsa, now - 60);

    let within = readyz_of_binary(dir.path()).await;
    set_file_time(&new, now - DELAY - 1);
    let after = readyz_of_binary(dir.path()).await;

    assert_eq!(within["signing_kid"], FIRST_KID, "{within}");
    assert_eq!(
        within["next_signing"],
        json!({"kid": NEW_KID, "from": utc(now - 60 + DELAY)})
    );
    assert_eq!(after["signing_kid"], NEW_KID, "{after}");
    assert_eq!(after["next_signing"], Value::Null);
}

#[tokio::test]
async fn with_two_keys_waiting_readyz_names_the_one_that_takes_over_first() {
    // Two rotations started within one delay: B (smaller kid) seen first,
    // C fifty seconds later. B signs from its activation until C's.
    const B: &str = "20270115T075900Z";
    const C: &str = "20270115T075950Z";
    let keys = settled_folder();
    let app = replica(&keys, &[]).await;
    publish_key(keys.path(), B, KeyAlg::Eddsa, START - 60);
    app.tick();
    app.advance(50);
    publish_key(keys.path(), C, KeyAlg::Eddsa, START - 10);
    app.tick();

    let said = app.readyz().await["next_signing"].clone();

    // What happens, on the clock: B at START + 600, C at START + 650.
    app.advance(DELAY - 50);
    app.tick();
    assert_eq!(signs(&app, "code-1").await, B);
    assert_eq!(
        app.readyz().await["next_signing"],
        json!({"kid": C, "from": utc(START + 50 + DELAY)})
    );
    app.advance(50);
    app.tick();
    assert_eq!(signs(&app, "code-2").await, C);
    assert_eq!(
        said,
        json!({"kid": B, "from": utc(START + DELAY)}),
        "the next to take over is B, at its activation"
    );
}
