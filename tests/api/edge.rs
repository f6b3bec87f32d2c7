//! The edge (README.md, "At the edge"), each rule with the request that
//! reaches it: compressed bodies, byte-counted limits, the per-client rate
//! limit and who the client is, the signature budget, slow requests and slow
//! readers, pipelining, the head cap, `100 Continue`, the connection table.

use crate::helpers::app::issued_token;
use crate::helpers::tokens::JsonEdit as _;
use crate::helpers::{
    APPID, FIRST_KID, OPENID, SESSION_KEY,
    app::{TestApp, assert_problem, spawn_app, spawn_app_with},
    fakes::{any_code_logs_in, session_answer, wechat_says},
    tokens::{eddsa_header, forge, good_claims},
};
use serde_json::json;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A fake WeChat that answers every code with a session, `times` times.
async fn wechat_accepts_any_code(app: &TestApp, times: u64) {
    any_code_logs_in().expect(times).mount(&app.wechat).await;
}

async fn login_from(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/auth/login"))
        .json(&json!({"code": "any-code"}));
    if let Some(client) = forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_compressed_body_gets_unsupported_media_type_and_no_wechat_call() {
    let app = spawn_app().await;
    wechat_accepts_any_code(&app, 0).await;

    for (path, encoding) in [
        ("/auth/login", "gzip"),
        ("/wx/decrypt", "deflate"),
        ("/auth/login", "br"),
    ] {
        let response = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            // A gzip header and junk: never inflated, never parsed.
            .body(vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3])
            .send()
            .await
            .unwrap();
        assert_problem(response, 415, "unsupported_media_type").await;
    }
}

#[tokio::test]
async fn a_chunked_body_over_the_route_limit_is_refused_on_the_bytes_received() {
    let app = spawn_app().await;
    // 100 KiB, no Content-Length: refused on the bytes received.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..100).map(|_| Ok(vec![b' '; 1024])).collect();
    let response = app
        .client
        .post(app.url("/wx/decrypt"))
        .header("content-type", "application/json")
        .header(
            "authorization",
            format!("Bearer {}", app.guard_only_token()),
        )
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_problem(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn a_client_past_its_burst_gets_rate_limited_before_any_wechat_call() {
    // 1 a second, burst 5: five logins reach WeChat, the sixth does not.
    let app = spawn_app_with(&[("WXAUTH_CLIENT_RATE", "1")]).await;
    wechat_accepts_any_code(&app, 5).await;

    for _ in 0..5 {
        assert_eq!(login_from(&app, None).await.status(), 200);
    }
    let response = login_from(&app, None).await;

    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert_problem(response, 429, "rate_limited").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(r#"wxauth_logins_total{app="wx1234567890abcdef",outcome="rate_limited"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn refresh_check_and_wx_routes_share_the_limit_and_verify_only_routes_are_not_limited() {
    let app = spawn_app_with(&[("WXAUTH_CLIENT_RATE", "1")]).await;
    let token = app.guard_only_token();

    // /auth/me only verifies: never limited.
    for _ in 0..20 {
        assert_eq!(app.get_me(&token).await.status(), 200);
    }
    // The five of the burst go to the signing and platform routes.
    for _ in 0..5 {
        let status = app.refresh(&token).await.status();
        assert_ne!(status, 429);
    }
    for path in ["/auth/refresh", "/wx/phone", "/wx/decrypt", "/auth/check"] {
        let request = if path == "/auth/check" {
            app.client.get(app.url(path))
        } else {
            app.client.post(app.url(path)).json(&json!({}))
        };
        let response = request.bearer_auth(&token).send().await.unwrap();
        assert_problem(response, 429, "rate_limited").await;
    }
}

#[tokio::test]
async fn a_percent_encoded_path_is_limited_as_the_route_it_reaches() {
    let app = spawn_app_with(&[("WXAUTH_CLIENT_RATE", "1")]).await;
    wechat_accepts_any_code(&app, 5).await;

    for _ in 0..5 {
        assert_eq!(login_from(&app, None).await.status(), 200);
    }
    for path in [
        "/auth/%6cogin",
        "/auth/%72efresh",
        "/%77x/phone",
        "/auth/%63heck",
    ] {
        let request = if path.ends_with("heck") {
            app.client.get(app.url(path))
        } else {
            app.client.post(app.url(path)).json(&json!({"code": "c"}))
        };
        let response = request.send().await.unwrap();
        assert_problem(response, 429, "rate_limited").await;
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    // The peer (127.0.0.1) is a trusted proxy by default.
    let app = spawn_app_with(&[("WXAUTH_CLIENT_RATE", "1")]).await;
    wechat_accepts_any_code(&app, 10).await;

    for _ in 0..5 {
        assert_eq!(login_from(&app, Some("203.0.113.7")).await.status(), 200);
    }
    assert_eq!(login_from(&app, Some("203.0.113.7")).await.status(), 429);
    // A spoofed left part does not escape: the nearest untrusted hop counts.
    assert_eq!(
        login_from(&app, Some("198.51.100.99, 203.0.113.7"))
            .await
            .status(),
        429
    );
    for _ in 0..5 {
        assert_eq!(login_from(&app, Some("203.0.113.8")).await.status(), 200);
    }
}

#[tokio::test]
async fn with_no_trusted_proxy_x_forwarded_for_is_ignored() {
    let app = spawn_app_with(&[
        ("WXAUTH_CLIENT_RATE", "1"),
        ("WXAUTH_TRUSTED_PROXIES", "none"),
    ])
    .await;
    wechat_accepts_any_code(&app, 5).await;

    for n in 0..5 {
        let client = format!("203.0.113.{n}");
        assert_eq!(login_from(&app, Some(&client)).await.status(), 200);
    }
    // Another claimed address changes nothing: the peer is the client.
    assert_eq!(login_from(&app, Some("198.51.100.1")).await.status(), 429);
}

#[tokio::test]
async fn rate_zero_turns_the_limit_off() {
    let app = spawn_app_with(&[("WXAUTH_CLIENT_RATE", "0")]).await;
    wechat_accepts_any_code(&app, 120).await;
    for _ in 0..120 {
        assert_eq!(login_from(&app, None).await.status(), 200);
    }
}

/// A raw connection to the app.
fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    let stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection; returns what it sent and
/// how long that took.
fn read_until_closed(mut stream: TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn a_body_that_stops_arriving_loses_its_connection_after_the_client_timeout() {
    let app = spawn_app_with(&[("WXAUTH_CLIENT_TIMEOUT", "1")]).await;
    wechat_accepts_any_code(&app, 0).await;

    let closed = tokio::task::spawn_blocking({
        let mut stream = connect(&app);
        move || {
            stream
                .write_all(
                    b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                      Content-Length: 100\r\n\r\n{",
                )
                .unwrap();
            read_until_closed(stream)
        }
    })
    .await
    .unwrap();

    let (_, after) = closed;
    assert!(after < Duration::from_secs(10), "closed after {after:?}");
    // The server serves on.
    app.assert_serving().await;
}

#[tokio::test]
async fn a_second_request_head_that_stops_arriving_loses_its_connection_too() {
    let app = spawn_app_with(&[("WXAUTH_CLIENT_TIMEOUT", "1")]).await;

    let (received, after) = tokio::task::spawn_blocking({
        let mut stream = connect(&app);
        move || {
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHo")
                .unwrap();
            read_until_closed(stream)
        }
    })
    .await
    .unwrap();

    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    assert_eq!(received.matches("HTTP/1.1").count(), 1, "{received}");
    assert!(after < Duration::from_secs(10), "closed after {after:?}");
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let app = spawn_app().await;

    let received = tokio::task::spawn_blocking({
        let mut stream = connect(&app);
        move || {
            let mut requests = String::new();
            for path in ["/healthz", "/nope", "/readyz", "/healthz", "/auth/me"] {
                requests.push_str(&format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
            }
            requests.push_str("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            stream.write_all(requests.as_bytes()).unwrap();
            read_until_closed(stream).0
        }
    })
    .await
    .unwrap();

    let statuses: Vec<&str> = received
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| &received[at + 9..at + 12])
        .collect();
    assert_eq!(
        statuses,
        ["200", "404", "200", "200", "401", "200"],
        "{received}"
    );
}

#[tokio::test]
async fn a_refresh_with_an_extreme_auth_time_is_refused_not_overflowed() {
    let app = spawn_app().await;
    let key = app.key(FIRST_KID);
    let header = eddsa_header(FIRST_KID);
    let claims = |auth_time: i64| good_claims(APPID, app.now()).with("auth_time", auth_time);

    let response = app.refresh(&forge(&key, &header, &claims(i64::MIN))).await;
    assert_problem(response, 401, "session_expired").await;
    // In the future: not too old, but its (dummy) seal does not open.
    let response = app.refresh(&forge(&key, &header, &claims(i64::MAX))).await;
    assert_problem(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn a_login_slower_than_the_client_timeout_is_answered() {
    use wiremock::Mock;
    use wiremock::matchers::{method, path};
    // The request arrived whole at once; the platform takes longer than the
    // client timeout. Only the client's own slowness may cut a connection.
    let app = spawn_app_with(&[("WXAUTH_CLIENT_TIMEOUT", "1")]).await;
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .respond_with(
            wechat_says(session_answer(OPENID, SESSION_KEY, None))
                .set_delay(Duration::from_millis(1500)),
        )
        .expect(1)
        .mount(&app.wechat)
        .await;

    // A Content-Length body, as every client sends a login.
    let response = login_from(&app, None).await;

    assert_eq!(response.status(), 200);
    // And the connection is still good for the next request.
    assert_eq!(app.get_me(&app.guard_only_token()).await.status(), 200);
}

#[tokio::test]
async fn a_percent_encoded_login_is_counted_as_a_login() {
    let app = spawn_app().await;
    wechat_accepts_any_code(&app, 1).await;

    let response = app
        .client
        .post(app.url("/auth/%6cogin"))
        .json(&json!({"code": "any-code"}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(r#"wxauth_logins_total{app="wx1234567890abcdef",outcome="ok"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_clients_own_garbage_in_x_forwarded_for_does_not_hide_the_address_the_proxy_added() {
    // An appending proxy (127.0.0.1, trusted) wrote the client's garbage and
    // then the client's real address on one line.
    let app = spawn_app_with(&[("WXAUTH_CLIENT_RATE", "1")]).await;
    wechat_accepts_any_code(&app, 6).await;
    let line = reqwest::header::HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.9").unwrap();
    let from_client = || {
        app.client
            .post(app.url("/auth/login"))
            .header("x-forwarded-for", line.clone())
            .json(&json!({"code": "any-code"}))
            .send()
    };

    for _ in 0..5 {
        assert_eq!(from_client().await.unwrap().status(), 200);
    }
    assert_eq!(from_client().await.unwrap().status(), 429);
    // The proxy's own address has its own allowance: it was not the client.
    assert_eq!(login_from(&app, None).await.status(), 200);
}

#[tokio::test]
async fn a_content_encoding_on_a_request_without_a_body_is_no_reason_to_refuse() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/healthz"))
        .header("content-encoding", "gzip")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
}

/// Reads one response (head and `content-length` body) from `stream`.
fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut byte = [0u8; 1];
    while !received.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed mid-head");
        received.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&received).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map_or(0, |value| value.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    received.extend_from_slice(&body);
    String::from_utf8_lossy(&received).into_owned()
}

/// A GET of /healthz whose head is `size` bytes long in all.
fn head_of(size: usize) -> Vec<u8> {
    let start = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    let end = "\r\nConnection: close\r\n\r\n";
    let pad = size - start.len() - end.len();
    format!("{start}{}{end}", "a".repeat(pad)).into_bytes()
}

#[tokio::test]
async fn a_head_over_16_kib_gets_431_however_it_arrives() {
    let app = spawn_app().await;
    for (size, pieces, status) in [
        (16 * 1024, 1, "200"),
        (16 * 1024 + 1, 1, "431"),
        (17_000, 1, "431"),
        (19_500, 1, "431"),
        (19_500, 7, "431"),
        (40_000, 3, "431"),
    ] {
        let head = head_of(size);
        let (received, _) = tokio::task::spawn_blocking({
            let mut stream = connect(&app);
            move || {
                for piece in head.chunks(head.len().div_ceil(pieces)) {
                    // The server may close as soon as it has seen too much.
                    if stream.write_all(piece).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                read_until_closed(stream)
            }
        })
        .await
        .unwrap();
        assert!(
            received.starts_with(&format!("HTTP/1.1 {status}")),
            "a {size}-byte head in {pieces} pieces: {received}"
        );
    }
    app.assert_serving().await;
}

#[tokio::test]
async fn a_body_refused_by_its_declared_length_gets_no_100_continue() {
    let app = spawn_app().await;
    wechat_accepts_any_code(&app, 1).await;

    let (refused, accepted) = tokio::task::spawn_blocking({
        let mut refused = connect(&app);
        let mut accepted = connect(&app);
        move || {
            refused
                .write_all(
                    b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                      Expect: 100-continue\r\nContent-Length: 5000\r\n\r\n",
                )
                .unwrap();
            let refused = read_response(&mut refused);
            let body = br#"{"code":"any-code"}"#;
            accepted
                .write_all(
                    format!(
                        "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                         Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                )
                .unwrap();
            let interim = read_response(&mut accepted);
            accepted.write_all(body).unwrap();
            (refused, interim + &read_response(&mut accepted))
        }
    })
    .await
    .unwrap();

    assert!(refused.starts_with("HTTP/1.1 413"), "{refused}");
    assert!(
        accepted.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"),
        "{accepted}"
    );
}

#[tokio::test]
async fn nothing_is_written_after_an_answer_that_closes_the_connection() {
    let app = spawn_app().await;

    // A declared body over the limit, then (inside what would be that body)
    // another request: the 413 closes the connection, nothing follows it.
    let (received, _) = tokio::task::spawn_blocking({
        let mut stream = connect(&app);
        move || {
            let next = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
            let request = format!(
                "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Content-Length: 5000\r\n\r\n{}{next}{next}",
                " ".repeat(5000)
            );
            stream.write_all(request.as_bytes()).unwrap();
            read_until_closed(stream)
        }
    })
    .await
    .unwrap();

    assert!(received.starts_with("HTTP/1.1 413"), "{received}");
    assert!(
        received.to_lowercase().contains("connection: close"),
        "{received}"
    );
    assert_eq!(received.matches("HTTP/1.1 ").count(), 1, "{received}");
}

#[tokio::test]
async fn a_chunked_body_to_a_route_that_reads_no_body_is_not_read_without_end() {
    let app = spawn_app().await;

    let (received, sending) = tokio::task::spawn_blocking({
        let mut stream = connect(&app);
        move || {
            stream
                .write_all(
                    b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                )
                .unwrap();
            let reader = stream.try_clone().unwrap();
            let writer = std::thread::spawn(move || {
                let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
                let started = Instant::now();
                // As fast as loopback takes it, for 30 s at most.
                while started.elapsed() < Duration::from_secs(30)
                    && stream.write_all(chunk.as_bytes()).is_ok()
                {}
                started.elapsed()
            });
            // The answer may be lost to the reset that cuts the body.
            let (received, _) = read_until_closed(reader);
            (received, writer.join().unwrap())
        }
    })
    .await
    .unwrap();

    assert!(
        received.is_empty() || received.starts_with("HTTP/1.1 200"),
        "{received}"
    );
    // Cut once the body is far past the route's limit and a second of
    // draining is over, not when the client tires.
    assert!(
        sending < Duration::from_secs(5),
        "the server read the body for {sending:?}"
    );
    app.assert_serving().await;
}

#[tokio::test]
async fn a_slow_reader_must_take_its_answer_within_the_client_timeout_whatever_its_pace() {
    let app = spawn_app_with(&[("WXAUTH_CLIENT_TIMEOUT", "1")]).await;

    let (received, after) = tokio::task::spawn_blocking({
        // A small receive buffer, so the client's kernel does not take the
        // answers for it.
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let address: std::net::SocketAddr =
            app.address.trim_start_matches("http://").parse().unwrap();
        socket.connect(&address.into()).unwrap();
        let mut stream: TcpStream = socket.into();
        move || {
            let request = "GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".repeat(40);
            stream.write_all(request.as_bytes()).unwrap();
            // About 20 KB a second, forever: each read lets a write
            // through, none of them finishes the answers.
            let started = Instant::now();
            let mut received = 0usize;
            let mut buffer = [0u8; 512];
            while started.elapsed() < Duration::from_secs(30) {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => received += n,
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            (received, started.elapsed())
        }
    })
    .await
    .unwrap();

    // 40 answers of 32 KB at that pace would take a minute.
    assert!(
        after < Duration::from_secs(10),
        "cut after {after:?}, {received} bytes"
    );
    app.assert_serving().await;
}

#[tokio::test]
async fn a_limited_client_is_served_again_once_the_clock_moves_on() {
    let app = spawn_app_with(&[("WXAUTH_CLIENT_RATE", "1")]).await;
    wechat_accepts_any_code(&app, 6).await;
    for _ in 0..5 {
        assert_eq!(login_from(&app, None).await.status(), 200);
    }
    assert_problem(login_from(&app, None).await, 429, "rate_limited").await;

    app.clock.advance_ms(1_000);

    assert_eq!(login_from(&app, None).await.status(), 200);
}

#[tokio::test]
async fn past_the_signature_budget_logins_and_refreshes_get_overloaded_whatever_the_address() {
    let app = spawn_app_with(&[("WXAUTH_SIGNATURE_RATE", "3"), ("WXAUTH_CLIENT_RATE", "0")]).await;
    wechat_accepts_any_code(&app, 3).await;
    let mut tokens = Vec::new();
    for n in 0..3 {
        let response = login_from(&app, Some(&format!("203.0.113.{n}"))).await;
        tokens.push(issued_token(response).await);
    }

    let response = login_from(&app, Some("198.51.100.1")).await;
    assert_eq!(response.headers()["retry-after"], "1");
    assert_problem(response, 503, "overloaded").await;
    assert_problem(app.refresh(&tokens[0]).await, 503, "overloaded").await;
    // Verifying costs no signature.
    assert_eq!(app.get_me(&tokens[0]).await.status(), 200);

    app.clock.advance_ms(1_000);
    assert_eq!(app.refresh(&tokens[0]).await.status(), 200);
}

#[tokio::test]
async fn a_login_refused_for_its_body_spends_no_signature() {
    // Arrange: a budget of one signature a second.
    let app = spawn_app_with(&[("WXAUTH_SIGNATURE_RATE", "1"), ("WXAUTH_CLIENT_RATE", "0")]).await;
    wechat_accepts_any_code(&app, 1).await;

    // Act: a login whose body never becomes a login (as a slow or junk
    // body from another address), then a real one.
    let junk = app
        .client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", "203.0.113.7")
        .header("content-type", "application/json")
        .body(r#"{"code": 5}"#)
        .send()
        .await
        .unwrap();
    assert_problem(junk, 400, "invalid_request").await;
    let response = login_from(&app, Some("198.51.100.1")).await;

    // Assert: the one signature of this second went to the real login.
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_full_connection_table_evicts_an_idle_connection_for_a_new_client() {
    let app = spawn_app_with(&[("WXAUTH_MAX_CONNECTIONS", "4")]).await;
    // One client holds every connection, sending nothing.
    let idle: Vec<TcpStream> = (0..8).map(|_| connect(&app)).collect();

    let started = Instant::now();
    let response = app.get("/healthz").await;

    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered after {:?}",
        started.elapsed()
    );
    drop(idle);
}
