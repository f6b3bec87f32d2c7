//! Messages that name the fix: the problem details a client reads, and what
//! the operator reads at start-up and in the logs.

use crate::helpers::*;
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
