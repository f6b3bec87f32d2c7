//! A fake WeChat for load tests: `GET /sns/jscode2session` answers a valid
//! session for any code after a fixed delay (default 20 ms), served as
//! `text/plain` like WeChat. Used by benches/load.sh.
//!
//! ```sh
//! cargo run --release --example fake_wechat -- 127.0.0.1:9100 20
//! ```

use actix_web::{App, HttpResponse, HttpServer, web};
use std::time::Duration;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:9100".into());
    let delay_ms: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(20);
    let delay = Duration::from_millis(delay_ms);
    let server = HttpServer::new(move || {
        App::new().route(
            "/sns/jscode2session",
            web::get().to(
                move |query: web::Query<std::collections::HashMap<String, String>>| async move {
                    tokio::time::sleep(delay).await;
                    // A distinct, valid openid per code, so logins are distinct users.
                    let code = query.get("js_code").cloned().unwrap_or_default();
                    let suffix: String = code
                        .chars()
                        .filter(char::is_ascii_alphanumeric)
                        .take(20)
                        .collect();
                    let openid = format!("oBENCH{suffix:0>22}");
                    HttpResponse::Ok().content_type("text/plain").body(format!(
                        r#"{{"openid":"{openid}","session_key":"tiihtNczf5v6AKRyjwEUhQ=="}}"#
                    ))
                },
            ),
        )
    })
    .bind(&bind)?;
    println!("fake WeChat on http://{bind} answering after {delay_ms} ms");
    server.run().await
}
