//! The four platforms beside WeChat, QQ and Douyin (Alipay, Baidu, Kuaishou,
//! Feishu), each against a fake in its own shape, and the simulator's app of
//! each end to end.

mod alipay;
mod baidu;
mod feishu;
mod kuaishou;
mod simulator;

use crate::helpers::{app::TestApp, app::key_folder, app::spawn_app_on};
use std::path::Path;
use tempfile::TempDir;
use wiremock::MockServer;

/// The test app's secret on every platform that has one.
pub const PLATFORM_SECRET: &str = "platform-secret-9x8y";

/// A server with one app of `platform` (`appid`) against `fake`, its extra
/// apps-file lines `extra` (Alipay's keys); the files folder kept alive.
pub async fn spawn_one(
    platform: &str,
    appid: &str,
    fake: &MockServer,
    extra: &str,
    env: &[(&str, &str)],
) -> (TestApp, TempDir) {
    let files = tempfile::tempdir().unwrap();
    let apps_file = files.path().join("apps.toml");
    let secret = if platform == "alipay" {
        String::new()
    } else {
        "secret_env = \"PLATFORM_SECRET\"\n".to_owned()
    };
    std::fs::write(
        &apps_file,
        format!(
            "[[app]]\nplatform = \"{platform}\"\nappid = \"{appid}\"\n{secret}api_base = \"{}\"\n{extra}\n",
            fake.uri()
        ),
    )
    .unwrap();
    let apps_file = apps_file.display().to_string();
    let mut settings: Vec<(&str, &str)> = vec![
        ("WECHAT_APPID", ""),
        ("WECHAT_SECRET", ""),
        ("WECHAT_API_BASE", ""),
        ("WXAUTH_APPS_FILE", &apps_file),
        ("PLATFORM_SECRET", PLATFORM_SECRET),
    ];
    settings.extend_from_slice(env);
    let app = spawn_app_on(MockServer::start().await, key_folder(), &settings).await;
    assert_eq!(app.appid, appid);
    (app, files)
}

/// Writes `text` to `name` in `dir`; its path as text.
pub fn file_in(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}
