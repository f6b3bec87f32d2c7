//! `/wx/decrypt` and `/wx/phone`: the sealed session_key put to work.

use super::AppState;
use crate::error::ApiError;
use crate::guard::Authenticated;
use crate::http::JsonObject;
use crate::platform::{UserDataError, decrypt_user_data};
use actix_web::http::header::{CACHE_CONTROL, ContentType, HeaderValue};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DecryptRequest {
    encrypted_data: String,
    #[serde(rename = "iv")]
    iv: String,
}

/// `POST /wx/decrypt {"encryptedData","iv"}` (Bearer): the user data WeChat
/// gave the mini-program, decrypted with the token's session_key, answered
/// exactly as WeChat encrypted it once its watermark checked out.
pub(super) async fn decrypt(
    user: Authenticated,
    body: web::Json<JsonObject<DecryptRequest>>,
) -> Result<HttpResponse, ApiError> {
    let request = &body.0.0;
    let session_key = user.session_key()?;
    let plaintext = decrypt_user_data(
        &session_key,
        &request.encrypted_data,
        &request.iv,
        user.appid(),
        user.openid(),
    )
    .map_err(|e| match e {
        UserDataError::BadInput(m) => ApiError::InvalidRequest(m.into()),
        UserDataError::Mismatch(m) => ApiError::DecryptFailed(m.into()),
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
