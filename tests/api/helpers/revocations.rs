//! Issue 13's fixtures: a revocation file the apps share
//! (`WXAUTH_REVOCATIONS_FILE`, docs/API.md, "Revocation and bans"), key files dated on the test
//! clock's timeline (activation, docs/API.md, "Keys and rotation"), and a separate service
//! mounting the library's guard.

use super::{SESSION_KEY, START, app::TestApp, fakes::session_answer};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use tempfile::TempDir;
use wxauth::keyring::{KeyAlg, write_new_key};

/// The variable naming the revocation file.
pub const REVOCATIONS_VAR: &str = "WXAUTH_REVOCATIONS_FILE";

/// A revocation file in a folder of its own, as the replicas share it.
pub struct RevocationFile {
    path: PathBuf,
    _dir: TempDir,
}

/// Distinct modification times for every write of a test file (see
/// [`RevocationFile::write`]).
static WRITES: AtomicU64 = AtomicU64::new(0);

impl RevocationFile {
    /// A new file holding `text`.
    pub fn new(text: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = Self {
            path: dir.path().join("revocations"),
            _dir: dir,
        };
        file.write(text);
        file
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path as a setting's value.
    pub fn value(&self) -> &str {
        self.path.to_str().expect("a UTF-8 path")
    }

    /// The override that points an app at this file.
    pub fn setting(&self) -> (&'static str, &str) {
        (REVOCATIONS_VAR, self.value())
    }

    /// Replaces the text (write aside, rename), as an operator's tool does.
    /// Each write gets a modification time of its own, whole seconds apart:
    /// the server skips a file whose time and size it has seen, and two
    /// writes in one file-system clock tick would otherwise look alike (see
    /// `a_rewrite_that_keeps_the_size_and_the_time_is_still_reread`).
    pub fn write(&self, text: &str) {
        let aside = self.path.with_extension("new");
        std::fs::write(&aside, text).expect("write the revocation file");
        let n = WRITES.fetch_add(1, Ordering::Relaxed);
        set_file_time(&aside, START + 1_000_000 + i64::try_from(n).expect("count"));
        std::fs::rename(&aside, &self.path).expect("rename");
    }

    /// The text now.
    pub fn read(&self) -> String {
        std::fs::read_to_string(&self.path).expect("read the revocation file")
    }
}

/// `at` (seconds since the epoch) as the file writes times: RFC 3339 UTC.
pub fn rfc3339(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .expect("a time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Sets the modification time of `path` to `at`, seconds since the epoch,
/// on the test clock's timeline (START is in 2027, real files are older).
pub fn set_file_time(path: &Path, at: i64) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open to date");
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(at).expect("after 1970"));
    file.set_modified(at).expect("set_modified");
}

/// Writes a new key `kid` into `dir` as if it had been published at `at`
/// (test clock seconds); its path.
pub fn publish_key(dir: &Path, kid: &str, alg: KeyAlg, at: i64) -> PathBuf {
    let path = write_new_key(dir, kid, alg).expect("keygen");
    set_file_time(&path, at);
    path
}

impl TestApp {
    /// Rereads the revocation file, as the periodic rescan and SIGHUP do.
    pub fn reload_revocations(&self) {
        self.watched.reload("revocations", "test");
    }

    /// Rescans the keys and rereads the revocation file: one timer tick.
    pub fn tick(&self) {
        assert!(self.reloader.rescan("test"), "the key rescan succeeds");
        self.reload_revocations();
    }

    /// Moves this app's clock on by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
    }

    /// A login with `code` that WeChat answers for `openid`/`unionid`, not
    /// checked: the answer (for logins that must be refused).
    pub async fn login_attempt(
        &self,
        code: &str,
        openid: &str,
        unionid: Option<&str>,
    ) -> reqwest::Response {
        self.wechat_answers(code, session_answer(openid, SESSION_KEY, unionid), 1)
            .await;
        self.post_login(json!({ "code": code })).await
    }

    /// GET /readyz, which must answer 200; its JSON.
    pub async fn readyz(&self) -> Value {
        let response = self.get("/readyz").await;
        assert_eq!(response.status(), 200, "ready");
        response.json().await.expect("json")
    }

    /// GET /metrics as text.
    pub async fn metrics_text(&self) -> String {
        let response = self.get("/metrics").await;
        assert_eq!(response.status(), 200, "metrics");
        response.text().await.expect("text")
    }
}

/// The value of the series `series` (its name and labels exactly) in a
/// Prometheus text exposition, if present.
pub fn series_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// A separate actix-web service mounting `guard` on `GET /hello`, which
/// answers the openid; its base URL.
pub fn spawn_guard_service(guard: wxauth::guard::Guard) -> String {
    use actix_web::{App, HttpResponse, HttpServer, web};
    use wxauth::guard::Authenticated;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let server = HttpServer::new(move || {
        App::new().app_data(web::Data::new(guard.clone())).route(
            "/hello",
            web::get().to(|user: Authenticated| async move {
                HttpResponse::Ok().body(user.openid().to_owned())
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}
