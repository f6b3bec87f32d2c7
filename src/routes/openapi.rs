//! `GET /openapi.json`: the OpenAPI 3 document of this API, kept in
//! `docs/openapi.json` and checked against the running server by
//! schemathesis in CI.

use actix_web::HttpResponse;
use actix_web::http::header::ContentType;

/// The document, compiled in.
pub const OPENAPI_JSON: &str = include_str!("../../docs/openapi.json");

pub(super) async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(OPENAPI_JSON)
}
