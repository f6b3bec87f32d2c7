//! `/wx/decrypt` and `/wx/phone`: the sealed session_key put to work.

use super::AppState;
use crate::error::ApiError;
use crate::guard::Authenticated;
use crate::http::JsonObject;
use crate::platform::{Platform, UserDataError, decrypt_for};
use actix_web::http::header::{CACHE_CONTROL, ContentType, HeaderValue};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

/// `{"encryptedData","iv"}`, or on Alipay `{"response"}` (the text
/// `my.getPhoneNumber` gave).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DecryptRequest {
    #[serde(default)]
    encrypted_data: Option<String>,
    #[serde(default, rename = "iv")]
    iv: Option<String>,
    #[serde(default)]
    response: Option<String>,
}

/// `POST /wx/decrypt {"encryptedData","iv"}` (Bearer): the user data the
/// platform gave the mini-program, decrypted with the token's session_key
/// the platform's way, answered exactly as it was encrypted once its
/// watermark (or Baidu's app key) checked out. On Alipay, `{"response"}`:
/// the `my.getPhoneNumber` answer, verified and decrypted with the app's
/// content key.
pub(super) async fn decrypt(
    user: Authenticated,
    body: web::Json<JsonObject<DecryptRequest>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = &body.0.0;
    let plaintext = match user.platform() {
        Platform::Alipay => {
            let response = request.response.as_deref().ok_or_else(|| {
                ApiError::InvalidRequest(
                    "`response` is required on Alipay: the text my.getPhoneNumber gave".into(),
                )
            })?;
            state.app_of(&user)?.alipay_decrypt(response)
        }
        Platform::Feishu | Platform::WechatH5 | Platform::WechatWeb | Platform::WechatApp => {
            Err(UserDataError::Unsupported)
        }
        platform => {
            let (Some(encrypted_data), Some(iv)) = (&request.encrypted_data, &request.iv) else {
                return Err(ApiError::InvalidRequest(
                    "`encryptedData` and `iv` are required".into(),
                ));
            };
            let session_key = user.session_key()?;
            decrypt_for(
                platform,
                &session_key,
                encrypted_data,
                iv,
                user.appid(),
                user.openid(),
            )
        }
    }
    .map_err(|e| match e {
        UserDataError::BadInput(m) => ApiError::InvalidRequest(m.into()),
        UserDataError::Mismatch(m) => ApiError::DecryptFailed(m.into()),
        UserDataError::Unsupported => ApiError::UnsupportedPlatform(user.platform().display_name()),
    })?;
    Ok(private_json(plaintext))
}

#[derive(Deserialize)]
pub(super) struct PhoneRequest {
    code: String,
}

/// `POST /wx/phone {"code"}` (Bearer): WeChat's `phone_info` for a code from
/// `<button open-type="getPhoneNumber">` (not the `wx.login()` code).
pub(super) async fn phone(
    user: Authenticated,
    body: web::Json<JsonObject<PhoneRequest>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let code = crate::domain::PhoneCode::parse(&body.0.0.code)
        .map_err(|m| ApiError::InvalidRequest(m.into()))?;
    let info = state
        .app_of(&user)?
        .phone_number(code.expose(), user.openid())
        .await
        .inspect_err(|e| log::warn!("phone number failed upstream: {e}"))?;
    let body = serde_json::to_vec(&info).map_err(|e| {
        log::error!("could not render phone_info: {e}");
        ApiError::Internal
    })?;
    Ok(private_json(body))
}

/// A JSON answer holding personal data: never stored by caches.
fn private_json(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(body)
}
