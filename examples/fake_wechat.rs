//! A fake platform for load tests: `GET /sns/jscode2session` (WeChat's and
//! QQ's shape) and `POST /api/apps/v2/jscode2session` (Douyin's) answer a
//! valid session for any code after a fixed delay (default 20 ms), as the
//! platforms serve them. Used by benches/load.sh.
//!
//! ```sh
//! cargo run --release --example fake_wechat -- 127.0.0.1:9100 20
//! ```

use actix_web::{App, HttpResponse, HttpServer, web};
use std::time::Duration;

/// A distinct, valid openid per code, so logins are distinct users.
fn openid_for(code: &str) -> String {
    let suffix: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect();
    format!("oBENCH{suffix:0>22}")
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:9100".into());
    let delay_ms: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(20);
    let delay = Duration::from_millis(delay_ms);
    let server = HttpServer::new(move || {
        App::new()
            .route(
                "/sns/jscode2session",
                web::get().to(
                    move |query: web::Query<std::collections::HashMap<String, String>>| async move {
                        tokio::time::sleep(delay).await;
                        let code = query.get("js_code").cloned().unwrap_or_default();
                        let openid = openid_for(&code);
                        HttpResponse::Ok().content_type("text/plain").body(format!(
                            r#"{{"openid":"{openid}","session_key":"tiihtNczf5v6AKRyjwEUhQ=="}}"#
                        ))
                    },
                ),
            )
            .route(
                "/api/apps/v2/jscode2session",
                web::post().to(move |body: web::Json<serde_json::Value>| async move {
                    tokio::time::sleep(delay).await;
                    let code = body
                        .get("code")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default();
                    HttpResponse::Ok().json(serde_json::json!({
                        "err_no": 0,
                        "err_tips": "success",
                        "data": {
                            "openid": openid_for(code),
                            "session_key": "tiihtNczf5v6AKRyjwEUhQ==",
                            "anonymous_openid": "",
                            "unionid": "",
                        }
                    }))
                }),
            )
    })
    .bind(&bind)?;
    println!("fake platform on http://{bind} answering after {delay_ms} ms");
    server.run().await
}
