//! `GET /metrics`: Prometheus text format.

use super::AppState;
use actix_web::{HttpResponse, web};

/// The process's metrics. Unauthenticated, like `/healthz`: keep it off the
/// public internet at the proxy (the nginx example does).
pub(super) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let (content_type, body) = state.metrics.render();
    HttpResponse::Ok().content_type(content_type).body(body)
}
