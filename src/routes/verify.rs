//! `GET /auth/verify`: forward authentication for a gateway in front of
//! services that have no JWT code of their own (nginx `auth_request`, Caddy
//! `forward_auth`, Traefik `ForwardAuth`, Envoy `ext_authz`).

use crate::guard::Authenticated;
use actix_web::HttpResponse;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};

/// The user's openid.
pub const SUBJECT: &str = "x-auth-subject";
/// The user's unionid, sent only when the token carries one.
pub const UNIONID: &str = "x-auth-unionid";
/// The mini-program the token is for.
pub const APPID: &str = "x-auth-appid";
/// The app's platform or WeChat surface (`plat`: `wechat`, `qq`, `douyin`,
/// `alipay`, `baidu`, `kuaishou`, `feishu`, `wechat_h5`, `wechat_web`,
/// `wechat_app`).
pub const PLATFORM: &str = "x-auth-platform";

/// A valid bearer token: 200 with an empty body (Envoy's `ext_authz` allows
/// on 200 only) and the identity in `X-Auth-*` headers for the gateway to
/// copy onto the request it forwards. Anything else is the guard's own 401,
/// `WWW-Authenticate` included. It costs what the guard costs, and is not
/// rate limited: a gateway asks once per request it serves.
pub(super) async fn verify(user: Authenticated) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    // The answer depends on the Authorization header: no cache may keep it.
    response.insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")));
    response.insert_header((SUBJECT, user.openid()));
    if let Some(unionid) = user.unionid() {
        response.insert_header((UNIONID, unionid));
    }
    response.insert_header((APPID, user.appid()));
    response.insert_header((PLATFORM, user.platform().as_str()));
    response.finish()
}
