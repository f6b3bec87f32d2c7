//! The simulator's HTTP face: what the mini-program does (`/sim/login`,
//! `/sim/phone-code`, `/sim/encrypt`, each with an optional `appid`), and
//! the platforms' server APIs: WeChat's under `/sim`, QQ's under `/sim/qq`,
//! Douyin's under `/sim/douyin`, and Alipay's, Baidu's, Kuaishou's and
//! Feishu's under `/sim/<platform>`; WeChat's web login pages
//! (`/sim/connect/oauth2/authorize`, `/sim/connect/qrconnect`) and their
//! code exchange (`/sim/sns/oauth2/access_token`) under `/sim` too.

use super::Simulator;
use crate::edge::{AUTH_BODY_LIMIT, DECRYPT_BODY_LIMIT};
use crate::error::ApiError;
use crate::http::{JsonObject, get_or_head, json_config, resource};
use crate::platform::Platform;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

#[derive(Deserialize)]
struct User {
    user: String,
    #[serde(default)]
    appid: Option<String>,
}

#[derive(Deserialize)]
struct Encrypt {
    user: String,
    #[serde(default)]
    appid: Option<String>,
    data: serde_json::Map<String, Value>,
}

/// 1 to 64 characters (not bytes), none of them a control character (C0,
/// DEL or C1), as the OpenAPI document says.
pub(super) fn check_user(user: &str) -> Result<&str, ApiError> {
    if user.is_empty() || user.chars().count() > 64 || user.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest(
            "`user` must be 1 to 64 characters without control characters".into(),
        ));
    }
    Ok(user)
}

/// `POST /sim/login {"user"}` -> `{"code"}`: what `wx.login()` gives the app.
async fn login(
    body: web::Json<JsonObject<User>>,
    sim: web::Data<Simulator>,
) -> Result<HttpResponse, ApiError> {
    let User { user, appid } = &body.0.0;
    let code = sim.login(check_user(user)?, appid.as_deref())?;
    Ok(HttpResponse::Ok().json(json!({"code": code})))
}

/// `POST /sim/phone-code {"user"}` -> `{"code"}`: what the
/// `getPhoneNumber` button gives the app.
async fn phone_code(
    body: web::Json<JsonObject<User>>,
    sim: web::Data<Simulator>,
) -> Result<HttpResponse, ApiError> {
    let User { user, appid } = &body.0.0;
    let code = sim.phone_code(check_user(user)?, appid.as_deref())?;
    Ok(HttpResponse::Ok().json(json!({"code": code})))
}

/// `POST /sim/encrypt {"user","data"}` -> `{"encryptedData","iv"}`.
async fn encrypt(
    body: web::Json<JsonObject<Encrypt>>,
    sim: web::Data<Simulator>,
) -> Result<HttpResponse, ApiError> {
    let Encrypt { user, appid, data } = body.into_inner().0;
    Ok(HttpResponse::Ok().json(sim.encrypt(check_user(&user)?, appid.as_deref(), data)?))
}

/// WeChat answers with HTTP 200 and `text/plain`, errors included.
fn wechat_answer(body: &Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain")
        .body(body.to_string())
}

/// A body WeChat would read: JSON, or nothing usable (`null`).
fn wechat_body(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

async fn jscode2session(
    query: web::Query<HashMap<String, String>>,
    sim: web::Data<Simulator>,
) -> HttpResponse {
    wechat_answer(&sim.code2session(Platform::Wechat, &query))
}

/// QQ's code exchange: WeChat's, at QQ's host.
async fn qq_jscode2session(
    query: web::Query<HashMap<String, String>>,
    sim: web::Data<Simulator>,
) -> HttpResponse {
    wechat_answer(&sim.code2session(Platform::Qq, &query))
}

/// Douyin's code exchange: a JSON body, answered as JSON.
async fn douyin_jscode2session(body: web::Bytes, sim: web::Data<Simulator>) -> HttpResponse {
    HttpResponse::Ok().json(sim.douyin_code2session(&wechat_body(&body)))
}

/// A form request's parameters: the query's, then the body's (form-encoded).
fn form_params(query: &HashMap<String, String>, body: &[u8]) -> HashMap<String, String> {
    let mut params = query.clone();
    if let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
        params.extend(form);
    }
    params
}

/// Alipay's gateway: form parameters in, signed JSON out.
async fn alipay_gateway(
    query: web::Query<HashMap<String, String>>,
    body: web::Bytes,
    sim: web::Data<Simulator>,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json;charset=utf-8")
        .body(sim.alipay_gateway(&form_params(&query, &body)))
}

async fn baidu_jscode2sessionkey(
    query: web::Query<HashMap<String, String>>,
    body: web::Bytes,
    sim: web::Data<Simulator>,
) -> HttpResponse {
    HttpResponse::Ok().json(sim.baidu_code2session(&form_params(&query, &body)))
}

async fn kuaishou_code2session(
    query: web::Query<HashMap<String, String>>,
    body: web::Bytes,
    sim: web::Data<Simulator>,
) -> HttpResponse {
    HttpResponse::Ok().json(sim.kuaishou_code2session(&form_params(&query, &body)))
}

async fn feishu_app_access_token(body: web::Bytes, sim: web::Data<Simulator>) -> HttpResponse {
    HttpResponse::Ok().json(sim.feishu_app_access_token(&wechat_body(&body)))
}

async fn feishu_token_login_validate(
    request: actix_web::HttpRequest,
    body: web::Bytes,
    sim: web::Data<Simulator>,
) -> HttpResponse {
    let bearer = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    HttpResponse::Ok().json(sim.feishu_token_login_validate(bearer, &wechat_body(&body)))
}

async fn stable_token(body: web::Bytes, sim: web::Data<Simulator>) -> HttpResponse {
    wechat_answer(&sim.stable_token(&wechat_body(&body)))
}

async fn getuserphonenumber(
    query: web::Query<HashMap<String, String>>,
    body: web::Bytes,
    sim: web::Data<Simulator>,
) -> HttpResponse {
    let token = query.get("access_token").map(String::as_str);
    wechat_answer(&sim.phone_number(token, &wechat_body(&body)))
}

async fn checksession(
    query: web::Query<HashMap<String, String>>,
    sim: web::Data<Simulator>,
) -> HttpResponse {
    wechat_answer(&sim.check_session(&query))
}

/// WeChat's authorize page for H5 logins.
async fn h5_authorize(
    query: web::Query<HashMap<String, String>>,
    sim: web::Data<Simulator>,
) -> Result<HttpResponse, ApiError> {
    authorized(sim.authorize(Platform::WechatH5, &query)?)
}

/// WeChat's QR login page for websites.
async fn qrconnect(
    query: web::Query<HashMap<String, String>>,
    sim: web::Data<Simulator>,
) -> Result<HttpResponse, ApiError> {
    authorized(sim.authorize(Platform::WechatWeb, &query)?)
}

fn authorized(answer: super::web::Authorized) -> Result<HttpResponse, ApiError> {
    Ok(match answer {
        super::web::Authorized::Page(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(html),
        super::web::Authorized::Redirect(location) => HttpResponse::Found()
            .insert_header(("Location", location))
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
    })
}

async fn oauth2_access_token(
    query: web::Query<HashMap<String, String>>,
    sim: web::Data<Simulator>,
) -> HttpResponse {
    wechat_answer(&sim.oauth2_access_token(&query))
}

/// The simulator's routes whose body may be larger than
/// [`AUTH_BODY_LIMIT`], for the edge.
pub const BODY_LIMITS: &[(&str, usize)] = &[("/sim/encrypt", DECRYPT_BODY_LIMIT)];

/// Mounts `/sim/*`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/sim")
            .app_data(json_config(AUTH_BODY_LIMIT))
            .app_data(web::PayloadConfig::new(AUTH_BODY_LIMIT))
            .service(resource("/login", "POST").route(web::post().to(login)))
            .service(resource("/phone-code", "POST").route(web::post().to(phone_code)))
            .service(
                resource("/encrypt", "POST")
                    .app_data(json_config(DECRYPT_BODY_LIMIT))
                    .route(web::post().to(encrypt)),
            )
            .service(
                resource("/sns/jscode2session", "GET, HEAD")
                    .route(get_or_head().to(jscode2session)),
            )
            .service(resource("/cgi-bin/stable_token", "POST").route(web::post().to(stable_token)))
            .service(
                resource("/wxa/business/getuserphonenumber", "POST")
                    .route(web::post().to(getuserphonenumber)),
            )
            .service(
                resource("/wxa/checksession", "GET, HEAD").route(get_or_head().to(checksession)),
            )
            .service(
                resource("/connect/oauth2/authorize", "GET, HEAD")
                    .route(get_or_head().to(h5_authorize)),
            )
            .service(resource("/connect/qrconnect", "GET, HEAD").route(get_or_head().to(qrconnect)))
            .service(
                resource("/sns/oauth2/access_token", "GET, HEAD")
                    .route(get_or_head().to(oauth2_access_token)),
            )
            .service(
                resource("/qq/sns/jscode2session", "GET, HEAD")
                    .route(get_or_head().to(qq_jscode2session)),
            )
            .service(
                resource("/douyin/api/apps/v2/jscode2session", "POST")
                    .route(web::post().to(douyin_jscode2session)),
            )
            .service(resource("/alipay/gateway.do", "POST").route(web::post().to(alipay_gateway)))
            .service(
                resource("/baidu/oauth/jscode2sessionkey", "POST")
                    .route(web::post().to(baidu_jscode2sessionkey)),
            )
            .service(
                resource("/kuaishou/oauth2/mp/code2session", "POST")
                    .route(web::post().to(kuaishou_code2session)),
            )
            .service(
                resource(
                    "/feishu/open-apis/auth/v3/app_access_token/internal",
                    "POST",
                )
                .route(web::post().to(feishu_app_access_token)),
            )
            .service(
                resource("/feishu/open-apis/mina/v2/tokenLoginValidate", "POST")
                    .route(web::post().to(feishu_token_login_validate)),
            ),
    );
}
