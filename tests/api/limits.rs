//! Body limits and requests that match no route.

use crate::helpers::{
    FIRST_KID,
    app::{SIMULATOR_MODE, TestApp, assert_problem, spawn_app, spawn_app_with, spawn_simulator},
};
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

/// Every string literal that follows `marker` in `text` (`resource("` ->
/// the paths given to it).
fn literals_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .filter_map(|(at, _)| text[at + marker.len()..].split('"').next())
        .collect()
}

/// Every path the sources could mount: each `resource("P")` alone and
/// under each `scope("S")` of its file. Read from the sources as text, so
/// that a route nobody documented is found without asking the document.
fn candidate_routes() -> std::collections::BTreeSet<String> {
    fn walk(dir: &std::path::Path, out: &mut std::collections::BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let scopes = literals_after(&text, "scope(\"");
                for resource in literals_after(&text, "resource(\"") {
                    out.insert(resource.to_owned());
                    for scope in &scopes {
                        out.insert(format!("{scope}{resource}"));
                    }
                }
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut out,
    );
    out
}

/// The methods a route allows, from its 405 answer to a method no route
/// takes; None when nothing is mounted there (the 404 problem).
async fn allowed_methods(app: &TestApp, path: &str) -> Option<std::collections::BTreeSet<String>> {
    let response = app.client.patch(app.url(path)).send().await.unwrap();
    if response.status() == 404 {
        assert_problem(response, 404, "not_found").await;
        return None;
    }
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert_problem(response, 405, "method_not_allowed").await;
    Some(
        allow
            .split(',')
            .map(|method| method.trim().to_ascii_lowercase())
            .collect(),
    )
}

#[tokio::test]
async fn openapi_json_documents_every_route_with_its_methods_and_nothing_else() {
    // Arrange: the simulator with a public URL mounts every route there is
    // (the discovery document exists only with WXAUTH_PUBLIC_URL).
    let mut settings = SIMULATOR_MODE.to_vec();
    settings.push(("WXAUTH_PUBLIC_URL", "https://auth.example.com"));
    let app = spawn_app_with(&settings).await;
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();

    // Act
    let served: serde_json::Value = app.get_json("/openapi.json").await;

    // Assert: every documented path answers its documented methods, and
    // only those (what the 405 answer allows).
    assert_eq!(served["openapi"], "3.0.3");
    let paths = served["paths"].as_object().unwrap();
    assert!(paths.len() >= 10, "{paths:?}");
    for (path, operations) in paths {
        let documented: std::collections::BTreeSet<String> =
            operations.as_object().unwrap().keys().cloned().collect();
        let allowed = allowed_methods(&app, path).await;
        assert_eq!(allowed.as_ref(), Some(&documented), "{path}: methods");
        for method in &documented {
            let method =
                reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let status = app
                .client
                .request(method.clone(), app.url(path))
                .send()
                .await
                .unwrap()
                .status();
            assert!(
                status != 404 && status != 405,
                "{method} {path} is answered, not {status}"
            );
        }
    }
    // And every route the server answers is documented: in the document, or
    // (the simulator's copies of the platforms' own APIs, documented by the
    // platforms) in the README's table.
    let candidates = candidate_routes();
    let mut answered = 0;
    for path in &candidates {
        if allowed_methods(&app, path).await.is_none() {
            continue;
        }
        answered += 1;
        assert!(
            paths.contains_key(path)
                || (path.starts_with("/sim/") && readme.contains(&format!(" {path}`"))),
            "{path} is answered but documented nowhere"
        );
    }
    assert!(
        answered >= paths.len(),
        "the sources were read: {answered} routes of {candidates:?}"
    );
}

#[tokio::test]
async fn openapi_json_lists_exactly_the_error_codes_the_server_has() {
    let app = spawn_simulator().await;
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/error.rs"),
    )
    .unwrap();
    // The codes as `ApiError`'s table spells them: the first literal of
    // each `row(status, "code", "title")`.
    let function = source.split("pub fn problem_type(&self)").nth(1).unwrap();
    let body = &function[..function.find("\n    }\n").unwrap()];
    let ours: std::collections::BTreeSet<&str> = body
        .match_indices("row(")
        .filter_map(|(at, _)| body[at..].split('"').nth(1))
        .collect();

    let served: serde_json::Value = app.get_json("/openapi.json").await;

    let documented: std::collections::BTreeSet<&str> =
        served["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|code| code.as_str().unwrap())
            .collect();
    assert!(ours.len() >= 15, "the codes were read: {ours:?}");
    assert_eq!(documented, ours);
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
