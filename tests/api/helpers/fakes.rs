//! The fake WeChat: its answers as WeChat serves them, and the wiremock
//! mocks of its endpoints (mount them, with any `expect`, on a MockServer).

use super::{OPENID, SECRET, SESSION_KEY, app::TestApp};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

/// code2Session's success answer, as WeChat serves it.
pub fn session_answer(openid: &str, session_key: &str, unionid: Option<&str>) -> Value {
    let mut answer = json!({"openid": openid, "session_key": session_key});
    if let Some(unionid) = unionid {
        answer["unionid"] = json!(unionid);
    }
    answer
}

/// stable_token's success answer: `access_token`, valid for two hours.
pub fn access_token_answer(access_token: &str) -> Value {
    json!({"access_token": access_token, "expires_in": 7200})
}

/// WeChat's way of answering: HTTP 200, JSON body, `text/plain`.
pub fn wechat_says(body: impl ToString) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "text/plain")
}

/// code2Session (GET /sns/jscode2session) answering `answer` to any code.
pub fn code2session(answer: ResponseTemplate) -> Mock {
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .respond_with(answer)
}

/// code2Session giving every code a session for OPENID.
pub fn any_code_logs_in() -> Mock {
    code2session(wechat_says(session_answer(OPENID, SESSION_KEY, None)))
}

/// stable_token (POST /cgi-bin/stable_token) answering `answer`.
pub fn stable_token(answer: ResponseTemplate) -> Mock {
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(answer)
}

/// getuserphonenumber (POST /wxa/business/getuserphonenumber) answering
/// `answer` to any access token.
pub fn phone_api(answer: ResponseTemplate) -> Mock {
    Mock::given(method("POST"))
        .and(path("/wxa/business/getuserphonenumber"))
        .respond_with(answer)
}

impl TestApp {
    /// Makes the fake WeChat answer `body` for `code` (with our credentials),
    /// exactly `times` times.
    pub async fn wechat_answers(&self, code: &str, body: Value, times: u64) {
        Mock::given(method("GET"))
            .and(path("/sns/jscode2session"))
            .and(query_param("appid", self.appid.as_str()))
            .and(query_param("secret", SECRET))
            .and(query_param("js_code", code))
            .and(query_param("grant_type", "authorization_code"))
            .respond_with(wechat_says(body))
            .expect(times)
            .mount(&self.wechat)
            .await;
    }
}
