//! Body limits and requests that match no route.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn bodies_over_4_kib_on_auth_routes_get_payload_too_large() {
    let app = spawn_app().await;
    let big = json!({"code": "c".repeat(5000)});

    for path in ["/auth/login", "/auth/refresh"] {
        let response = app.post_json(path, &big).await;

        let body = assert_problem(response, 413, "payload_too_large").await;
        assert!(body["detail"].as_str().unwrap().contains("4096"));
    }
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_without_content_length_gets_payload_too_large() {
    let app = spawn_app().await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(b"{\"code\": \"".to_vec()),
        Ok(vec![b'c'; 5000]),
        Ok(b"\"}".to_vec()),
    ];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));

    let response = app
        .client
        .post(app.url("/auth/login"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();

    assert_problem(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_get_problem_answers() {
    let app = spawn_app().await;

    let response = app.get("/nope").await;
    assert_problem(response, 404, "not_found").await;

    let response = app.get("/auth/login").await;
    assert_problem(response, 405, "method_not_allowed").await;

    let response = app.client.delete(app.url("/auth/me")).send().await.unwrap();
    assert_problem(response, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn health_and_readiness_answer_200_with_a_signing_key() {
    let app = spawn_app().await;

    let health = app.get("/healthz").await;
    let ready = app.get("/readyz").await;

    assert_eq!(health.status(), 200);
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["signing_kid"], FIRST_KID);
}

#[tokio::test]
async fn a_wrong_method_is_answered_405_with_the_allowed_method() {
    let app = spawn_app().await;

    for (method, path, allow) in [
        (reqwest::Method::GET, "/auth/login", "POST"),
        (reqwest::Method::DELETE, "/auth/me", "GET, HEAD"),
        (reqwest::Method::PUT, "/wx/decrypt", "POST"),
        (reqwest::Method::POST, "/.well-known/jwks.json", "GET, HEAD"),
    ] {
        let response = app
            .client
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["allow"], allow, "{path}");
        assert_problem(response, 405, "method_not_allowed").await;
    }
}

#[tokio::test]
async fn openapi_json_is_the_committed_document_and_documents_every_route() {
    let app = spawn_simulator().await;

    let served: serde_json::Value = app.get_json("/openapi.json").await;

    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("docs/openapi.json").unwrap()).unwrap();
    assert_eq!(served, committed);
    assert_eq!(served["openapi"], "3.0.3");
    let documented: Vec<&str> = served["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for path in [
        "/auth/login",
        "/auth/refresh",
        "/auth/me",
        "/auth/check",
        "/auth/verify",
        "/wx/decrypt",
        "/wx/phone",
        "/.well-known/jwks.json",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/sim/login",
        "/sim/phone-code",
        "/sim/encrypt",
    ] {
        assert!(documented.contains(&path), "{path} is documented");
        // And every documented path is served (not a 404).
        let status = app.get(path).await.status();
        assert_ne!(status, 404, "{path} is served");
    }
}

#[tokio::test]
async fn head_is_answered_like_get_without_a_body() {
    let app = spawn_app().await;

    for path in ["/healthz", "/readyz", "/.well-known/jwks.json", "/metrics"] {
        let response = app.client.head(app.url(path)).send().await.unwrap();

        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.bytes().await.unwrap().is_empty(),
            "{path}: no body"
        );
    }
}
