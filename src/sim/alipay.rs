//! The simulated Alipay OpenAPI gateway: `alipay.system.oauth.token`, its
//! request's RSA2 signature verified with the simulator app's public key,
//! its answer signed with the simulated gateway's private key, whose public
//! half the simulator's Alipay app is configured with (as a real app is
//! with Alipay's). The keys are in `src/sim/alipay/`: they are the
//! simulator's, public, and protect nothing.

use super::{Simulator, Unredeemable, app_openid, platform_of, redeem};
use crate::error::ApiError;
use crate::platform::{
    AlipayKeys, Platform, alipay_private_key, alipay_public_key, alipay_seal_response, alipay_sign,
    alipay_signing_content, alipay_verify,
};
use aws_lc_rs::signature::RsaKeyPair;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The simulator app's private key (PKCS#1 PEM): what wxauth signs with.
pub const APP_PRIVATE_KEY: &str = include_str!("alipay/app-private.pem");
/// Its public half: what the simulated gateway verifies requests with.
pub const APP_PUBLIC_KEY: &str = include_str!("alipay/app-public.pem");
/// The simulated gateway's private key (PKCS#8 PEM): what it signs with.
pub const GATEWAY_PRIVATE_KEY: &str = include_str!("alipay/gateway-private.pem");
/// Its public half: the simulator app's "Alipay public key".
pub const GATEWAY_PUBLIC_KEY: &str = include_str!("alipay/gateway-public.pem");
/// The simulator app's content (AES) key, for `my.getPhoneNumber`.
pub const CONTENT_KEY: &str = "c2ltdWxhdG9yIGFlcyBrZQ==";

/// The keys of the simulator's Alipay app, for its [`crate::platform::AppConfig`].
pub fn alipay_app_keys(platform: Platform) -> Option<Arc<AlipayKeys>> {
    if platform != Platform::Alipay {
        return None;
    }
    AlipayKeys::parse(APP_PRIVATE_KEY, GATEWAY_PUBLIC_KEY, Some(CONTENT_KEY))
        .inspect_err(|e| log::error!("the simulator's Alipay keys do not load: {e}"))
        .ok()
        .map(Arc::new)
}

/// The gateway's side of the keys.
pub(super) struct GatewayKeys {
    signing: RsaKeyPair,
    app_public: Vec<u8>,
}

impl GatewayKeys {
    pub(super) fn load() -> Option<Self> {
        Some(Self {
            signing: alipay_private_key(GATEWAY_PRIVATE_KEY).ok()?,
            app_public: alipay_public_key(APP_PUBLIC_KEY).ok()?,
        })
    }
}

/// An `error_response` object.
fn error(code: &str, msg: &str, sub_code: &str, sub_msg: &str) -> (&'static str, Value) {
    (
        "error_response",
        json!({"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}),
    )
}

impl Simulator {
    /// `POST /gateway.do`: the answer's text, `{"<name>": {...}, "sign"}`,
    /// signed over the exact text of the response object.
    pub(super) fn alipay_gateway(&self, params: &HashMap<String, String>) -> String {
        let Some(keys) = &self.alipay else {
            return r#"{"error_response":{"code":"20000","msg":"Service Currently Unavailable"}}"#
                .to_owned();
        };
        let (name, object) = self.alipay_answer(keys, params);
        let text = object.to_string();
        // As Alipay: the gateway's error_response is unsigned; an API's
        // response is signed over its exact text.
        if name == "error_response" {
            return format!("{{\"{name}\":{text}}}");
        }
        let sign = alipay_sign(&keys.signing, text.as_bytes()).unwrap_or_default();
        format!("{{\"{name}\":{text},\"sign\":{}}}", Value::from(sign))
    }

    fn alipay_answer(
        &self,
        keys: &GatewayKeys,
        params: &HashMap<String, String>,
    ) -> (&'static str, Value) {
        let param = |name: &str| params.get(name).map(String::as_str).unwrap_or("");
        if param("method") != "alipay.system.oauth.token" {
            return error(
                "40002",
                "Invalid Arguments",
                "isv.invalid-method",
                "no such API",
            );
        }
        let appid = param("app_id");
        if platform_of(appid) != Some(Platform::Alipay) {
            return error(
                "40002",
                "Invalid Arguments",
                "isv.invalid-app-id",
                "no such app",
            );
        }
        if param("sign_type") != "RSA2" {
            return error(
                "40002",
                "Invalid Arguments",
                "isv.invalid-signature-type",
                "RSA2 only",
            );
        }
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let content = alipay_signing_content(&pairs);
        if !alipay_verify(&keys.app_public, content.as_bytes(), param("sign")) {
            return error(
                "40002",
                "Invalid Arguments",
                "isv.invalid-signature",
                "the request's signature does not verify",
            );
        }
        if param("grant_type") != "authorization_code" {
            return error(
                "40002",
                "Invalid Arguments",
                "isv.grant-type-invalid",
                "grant_type",
            );
        }
        let now = self.clock.now();
        let Ok(mut state) = self.state.lock() else {
            return error(
                "20000",
                "Service Currently Unavailable",
                "isp.unknow-error",
                "",
            );
        };
        match redeem(&mut state.login_codes, param("code"), appid, now) {
            Ok(who) => (
                "alipay_system_oauth_token_response",
                json!({
                    "open_id": app_openid(appid, &who.user),
                    "access_token": hex::encode(rand::random::<[u8; 16]>()),
                    "expires_in": 1296000,
                    "refresh_token": hex::encode(rand::random::<[u8; 16]>()),
                    "re_expires_in": 2592000,
                    "auth_start": "2026-01-01 00:00:00",
                }),
            ),
            Err(Unredeemable::Invalid | Unredeemable::Used) => error(
                "40002",
                "Invalid Arguments",
                "isv.code-invalid",
                "授权码code无效",
            ),
        }
    }

    /// `my.getPhoneNumber`'s answer for `data`, as Alipay makes it.
    pub(super) fn alipay_phone_response(
        &self,
        data: &serde_json::Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let keys = self.alipay.as_ref().ok_or(ApiError::Internal)?;
        let mut plaintext = data.clone();
        plaintext.insert("code".into(), "10000".into());
        plaintext.insert("msg".into(), "Success".into());
        let plaintext = serde_json::to_vec(&plaintext).map_err(|_| ApiError::Internal)?;
        let response = alipay_seal_response(&keys.signing, CONTENT_KEY, &plaintext)
            .ok_or(ApiError::Internal)?;
        Ok(json!({"response": response}))
    }
}
