//! Upstream faults, overload and shutdown: each ends within the configured
//! time with the error docs/API.md names, and nothing else suffers.

use crate::helpers::{
    OPENID, SESSION_KEY,
    app::{assert_problem, spawn_app, spawn_app_with},
    fakes::{code2session, session_answer, wechat_says},
    process::serve_production_binary,
};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

/// A fake WeChat on a raw socket that reads each request head and then
/// does `behave` with the connection. Returns its base URL and a count of
/// connections accepted.
fn raw_upstream(behave: fn(std::net::TcpStream)) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                behave(stream);
            });
        }
    });
    (base, accepted)
}

/// Accepts and never answers, holding the connection open.
fn hang(stream: std::net::TcpStream) {
    std::thread::sleep(Duration::from_secs(60));
    drop(stream);
}

/// Promises 1000 bytes of JSON, sends a few, and closes.
fn close_mid_body(mut stream: std::net::TcpStream) {
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n{\"openid\":\"o");
    let _ = stream.flush();
}

#[tokio::test]
async fn a_wechat_that_closes_mid_body_is_upstream_error() {
    let (base, _) = raw_upstream(close_mid_body);
    let app = spawn_app_with(&[("WECHAT_API_BASE", &base)]).await;

    let response = app.post_login(json!({"code": "c"})).await;

    assert_problem(response, 502, "upstream_error").await;
}

#[tokio::test]
async fn a_wechat_that_hangs_is_upstream_unavailable_within_the_timeout() {
    let (base, _) = raw_upstream(hang);
    let app = spawn_app_with(&[("WECHAT_API_BASE", &base), ("WXAUTH_UPSTREAM_TIMEOUT", "1")]).await;
    let started = Instant::now();

    let response = app.post_login(json!({"code": "c"})).await;

    assert_problem(response, 504, "upstream_unavailable").await;
    // Bounded by the 1 s timeout (generous margin for a loaded machine).
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn wechat_5xx_html_and_missing_fields_are_upstream_error() {
    for answer in [
        wiremock::ResponseTemplate::new(503).set_body_raw("<html>busy</html>", "text/html"),
        wiremock::ResponseTemplate::new(200)
            .set_body_raw("<!DOCTYPE html><p>maintenance</p>", "text/html"),
        wechat_says(json!({"errcode": 0})),
    ] {
        let app = spawn_app().await;
        code2session(answer).mount(&app.wechat).await;

        assert_problem(
            app.post_login(json!({"code": "c"})).await,
            502,
            "upstream_error",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_routes_answer_while_100_logins_hang_upstream() {
    // Arrange: WeChat accepts and never answers; 100 logins wait on it.
    let (base, accepted) = raw_upstream(hang);
    let app = spawn_app_with(&[
        ("WECHAT_API_BASE", &base),
        ("WXAUTH_UPSTREAM_TIMEOUT", "30"),
    ])
    .await;
    let token = app.guard_only_token();
    let logins = app.spawn_logins(100);
    let deadline = Instant::now() + Duration::from_secs(30);
    while accepted.load(Ordering::SeqCst) < 100 {
        assert!(
            Instant::now() < deadline,
            "only {} logins reached WeChat",
            accepted.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Act: guarded traffic meanwhile.
    for _ in 0..50 {
        let response = app.get_me(&token).await;
        assert_eq!(response.status(), 200);
    }

    // Assert: it was answered while every login still hangs.
    assert!(
        logins.iter().all(|login| !login.is_finished()),
        "the logins were still hanging"
    );
    for login in logins {
        login.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_upstream_bound_logins_are_shed_but_guarded_traffic_is_not() {
    let (base, accepted) = raw_upstream(hang);
    let app = spawn_app_with(&[
        ("WECHAT_API_BASE", &base),
        ("WXAUTH_UPSTREAM_TIMEOUT", "30"),
        ("WXAUTH_MAX_UPSTREAM", "10"),
    ])
    .await;
    let token = app.guard_only_token();
    let hanging = app.spawn_logins(10);
    let deadline = Instant::now() + Duration::from_secs(30);
    while accepted.load(Ordering::SeqCst) < 10 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Ten more logins fail fast with 503; guarded requests go through.
    for i in 0..10 {
        let response = app.post_login(json!({ "code": format!("more{i}") })).await;
        assert!(response.headers().contains_key("retry-after"));
        assert_problem(response, 503, "overloaded").await;
        assert_eq!(app.get_me(&token).await.status(), 200);
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        10,
        "shed logins never reached WeChat"
    );
    for login in hanging {
        login.abort();
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_in_flight_logins_finish_new_connections_are_refused_and_the_process_exits() {
    // Arrange: the binary, with a WeChat that takes 4 s to answer.
    let wechat = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            wechat_says(session_answer(OPENID, SESSION_KEY, None))
                .set_delay(Duration::from_secs(4)),
        )
        .mount(&wechat)
        .await;
    let (_dir, server) =
        serve_production_binary(&wechat.uri(), &[("WXAUTH_SHUTDOWN_TIMEOUT", "10")]);
    let base = server.wait_until_listening().expect("listening");
    let addr = base.trim_start_matches("http://").to_owned();
    let login = tokio::spawn({
        let url = format!("{base}/auth/login");
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&json!({"code": "c"}))
                .send()
                .await
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while wechat
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the login never reached WeChat");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Act
    let signalled = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // Assert: new connections are refused while the login is in flight ...
    let deadline = Instant::now() + Duration::from_secs(3);
    while std::net::TcpStream::connect(&addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !login.is_finished(),
        "the in-flight login was still waiting on WeChat"
    );
    // ... it is answered ...
    let response = login.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    // ... and the process exits, cleanly, within the shutdown timeout.
    let (code, log) = server.wait();
    assert_eq!(code, 0, "{log}");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "{:?}",
        signalled.elapsed()
    );
    assert!(log.contains("wxauth stopped"), "{log}");
}

/// Answers every request on a connection with a valid code2Session answer,
/// keeping the connection open (HTTP/1.1 keep-alive), so the count of
/// accepted connections shows whether the client reuses them.
fn keep_alive_session(mut stream: std::net::TcpStream) {
    let body = format!(r#"{{"openid":"{OPENID}","session_key":"{SESSION_KEY}"}}"#);
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    loop {
        if stream.write_all(answer.as_bytes()).is_err() {
            return;
        }
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
    }
}

#[tokio::test]
async fn logins_reuse_one_connection_to_wechat() {
    let (base, accepted) = raw_upstream(keep_alive_session);
    let app = spawn_app_with(&[("WECHAT_API_BASE", &base)]).await;

    for i in 0..20 {
        let response = app.post_login(json!({ "code": format!("c{i}") })).await;
        assert_eq!(response.status(), 200);
    }

    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "twenty logins, one connection"
    );
}
