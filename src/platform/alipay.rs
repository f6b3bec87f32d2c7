//! Alipay's `alipay.system.oauth.token` through the OpenAPI gateway
//! (`POST /gateway.do`), and the phone number of `my.getPhoneNumber`.
//!
//! Alipay's rules (its open documentation, "签名" and "验签", and
//! `alipay.system.oauth.token`; the README's platform table has the links):
//!
//! - the request carries the common parameters `app_id`, `method`,
//!   `format=JSON`, `charset=utf-8`, `sign_type=RSA2`, `timestamp`
//!   (`yyyy-MM-dd HH:mm:ss`, China time), `version=1.0` beside the API's own
//!   (`grant_type`, `code`), and `sign`: base64 of SHA256withRSA (RSASSA-PKCS1
//!   v1.5, RFC 8017) with the app's private key over every other non-empty
//!   parameter, sorted by name, joined `k=v&k=v` without URL-encoding;
//! - the answer is `{"<method>_response": {...}, "sign": "..."}` (or
//!   `error_response`), the signature being over the exact JSON text of the
//!   response object, verified with Alipay's public key. An answer that does
//!   not verify is never trusted: it is an upstream error, logged. The
//!   gateway's own `error_response` comes unsigned, and is read as the
//!   error it is (it can refuse a login, never grant one);
//! - `my.getPhoneNumber` hands the mini-program `{"response","sign"}`: the
//!   response AES-128-CBC encrypted with the app's content key (zero IV,
//!   PKCS#7), and signed as the quoted ciphertext text.

use super::errcode::scrub;
use super::{AppClient, HasErrcode, PlatformError, Session, UserDataError};
use crate::domain::{LoginCode, UserId};
use aws_lc_rs::cipher::{
    AES_128, AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, RsaKeyPair, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::fmt;

/// The gateway's path.
const GATEWAY: &str = "/gateway.do";
/// The API called.
const METHOD: &str = "alipay.system.oauth.token";
/// Alipay's "service currently unavailable" code: retried as busy.
const SERVICE_UNAVAILABLE: &str = "20000";

/// Why an Alipay key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AlipayKeyError {
    /// The app's private key.
    #[error("not an RSA private key (PKCS#8 or PKCS#1, PEM or base64 DER) of 2048 bits or more")]
    PrivateKey,
    /// Alipay's public key.
    #[error("not an RSA public key (PEM or base64 DER, as Alipay's console shows it)")]
    PublicKey,
    /// The content (AES) key.
    #[error("not an AES key (base64 of 16 or 32 bytes, as Alipay's console shows it)")]
    ContentKey,
}

/// An Alipay app's keys. Never printed.
pub struct AlipayKeys {
    signing: RsaKeyPair,
    alipay_public: Vec<u8>,
    content_key: Option<zeroize::Zeroizing<Vec<u8>>>,
}

impl fmt::Debug for AlipayKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AlipayKeys([REDACTED])")
    }
}

impl AlipayKeys {
    /// The app's private key (PKCS#8 or PKCS#1, PEM or bare base64 DER as
    /// Alipay's key tool writes it), Alipay's public key (PEM or bare
    /// base64), and the content key if the app has one (base64).
    pub fn parse(
        private_key: &str,
        alipay_public_key: &str,
        content_key: Option<&str>,
    ) -> Result<Self, AlipayKeyError> {
        Ok(Self {
            signing: parse_private_key(private_key)?,
            alipay_public: parse_public_key(alipay_public_key)?,
            content_key: content_key.map(parse_content_key).transpose()?,
        })
    }
}

/// DER bytes of a PEM block, or of bare base64.
fn der_of(text: &str) -> Option<(Option<String>, Vec<u8>)> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        let block = pem::parse(text).ok()?;
        return Some((Some(block.tag().to_owned()), block.into_contents()));
    }
    let compact: String = text.split_whitespace().collect();
    STANDARD.decode(compact).ok().map(|der| (None, der))
}

/// An RSA private key of 2048 bits or more, PKCS#8 or PKCS#1.
pub fn parse_private_key(text: &str) -> Result<RsaKeyPair, AlipayKeyError> {
    let (_, der) = der_of(text).ok_or(AlipayKeyError::PrivateKey)?;
    let der = zeroize::Zeroizing::new(der);
    RsaKeyPair::from_pkcs8(&der)
        .or_else(|_| RsaKeyPair::from_der(&der))
        .map_err(|_| AlipayKeyError::PrivateKey)
}

/// An RSA public key (SubjectPublicKeyInfo or PKCS#1), as DER.
pub fn parse_public_key(text: &str) -> Result<Vec<u8>, AlipayKeyError> {
    let (_, der) = der_of(text).ok_or(AlipayKeyError::PublicKey)?;
    signature::ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &der)
        .map_err(|_| AlipayKeyError::PublicKey)?;
    Ok(der)
}

fn parse_content_key(text: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, AlipayKeyError> {
    let key = STANDARD
        .decode(text.trim())
        .map_err(|_| AlipayKeyError::ContentKey)?;
    match key.len() {
        16 | 32 => Ok(zeroize::Zeroizing::new(key)),
        _ => Err(AlipayKeyError::ContentKey),
    }
}

/// Base64 of SHA256withRSA (PKCS#1 v1.5) over `content` with `key`.
pub fn alipay_sign(key: &RsaKeyPair, content: &[u8]) -> Option<String> {
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        content,
        &mut signature,
    )
    .ok()?;
    Some(STANDARD.encode(signature))
}

/// Whether `sign` (base64) is SHA256withRSA over `content` by the key
/// `public_der`.
pub fn alipay_verify(public_der: &[u8], content: &[u8], sign: &str) -> bool {
    let Ok(sign) = STANDARD.decode(sign.trim()) else {
        return false;
    };
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public_der)
        .verify(content, &sign)
        .is_ok()
}

/// The text Alipay signs for a request: the non-empty parameters but
/// `sign`, sorted by name, `k=v` joined with `&`, not URL-encoded.
pub fn signing_content(params: &[(&str, &str)]) -> String {
    let mut params: Vec<&(&str, &str)> = params
        .iter()
        .filter(|(name, value)| *name != "sign" && !value.is_empty())
        .collect();
    params.sort_by_key(|(name, _)| *name);
    params
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The gateway's answer, its response objects kept as their exact text
/// (the signature is over that text).
#[derive(Deserialize)]
struct Envelope {
    alipay_system_oauth_token_response: Option<Box<RawValue>>,
    error_response: Option<Box<RawValue>>,
    sign: Option<String>,
}

/// A response object: success fields, or Alipay's error fields.
#[derive(Deserialize)]
struct Response {
    code: Option<String>,
    msg: Option<String>,
    sub_code: Option<String>,
    sub_msg: Option<String>,
    open_id: Option<String>,
    user_id: Option<String>,
}

impl Envelope {
    /// The response object that was answered, success first.
    fn response(&self) -> Option<&RawValue> {
        self.alipay_system_oauth_token_response
            .as_deref()
            .or(self.error_response.as_deref())
    }
}

impl HasErrcode for Envelope {
    /// -1 (busy, retried) for "service currently unavailable", else 0: the
    /// rest is decided once the signature checked out.
    fn errcode(&self) -> i64 {
        let busy = self
            .error_response
            .as_deref()
            .and_then(|raw| serde_json::from_str::<Response>(raw.get()).ok())
            .is_some_and(|r| r.code.as_deref() == Some(SERVICE_UNAVAILABLE));
        if busy { -1 } else { 0 }
    }
}

/// The time Alipay's `timestamp` wants: China Standard Time (UTC+8).
fn china_time(now: i64) -> String {
    chrono::DateTime::from_timestamp(now.saturating_add(8 * 3600), 0)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

impl AppClient {
    /// Alipay's code exchange: `alipay.system.oauth.token`, signed, its
    /// answer verified.
    pub(super) async fn alipay_oauth_token(
        &self,
        code: &LoginCode,
    ) -> Result<Session, PlatformError> {
        let keys = self.alipay_keys()?;
        let timestamp = china_time(self.clock.now());
        let mut params = vec![
            ("app_id", self.appid()),
            ("method", METHOD),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("timestamp", timestamp.as_str()),
            ("version", "1.0"),
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
        ];
        let sign = alipay_sign(&keys.signing, signing_content(&params).as_bytes())
            .ok_or_else(|| PlatformError::Malformed("signing the request failed".into()))?;
        params.push(("sign", sign.as_str()));
        let answer: Envelope = self.post_form(GATEWAY, &params).await?;
        let response = self.verified(keys, &answer)?;
        let failed =
            response.code.as_deref().is_some_and(|c| c != "10000") || response.sub_code.is_some();
        if answer.error_response.is_some() || failed {
            return Err(self.alipay_error(&response, code));
        }
        let subject = response
            .open_id
            .filter(|id| !id.is_empty())
            .or(response.user_id.filter(|id| !id.is_empty()))
            .ok_or_else(|| {
                PlatformError::Malformed("Alipay answer lacks open_id and user_id".into())
            })?;
        let openid = UserId::parse(&subject).map_err(|_| {
            PlatformError::Malformed("Alipay answer has a malformed open_id or user_id".into())
        })?;
        Ok(Session {
            openid,
            session_key: None,
            unionid: None,
        })
    }

    /// The response object, once its signature verified with Alipay's
    /// public key; an answer that does not verify is logged and refused.
    fn verified(&self, keys: &AlipayKeys, answer: &Envelope) -> Result<Response, PlatformError> {
        let Some(raw) = answer.response() else {
            return Err(PlatformError::Malformed(
                "Alipay answer has no response object".into(),
            ));
        };
        // The gateway's own errors (`error_response`) come unsigned (Alipay's
        // SDKs read them so); one is only ever an error, never a login, so it
        // is read as one. Anything signed must verify, and a response that
        // would log someone in must be signed.
        let unsigned_error = answer.sign.is_none()
            && answer.alipay_system_oauth_token_response.is_none()
            && answer.error_response.is_some();
        let verified = unsigned_error
            || answer
                .sign
                .as_deref()
                .is_some_and(|sign| alipay_verify(&keys.alipay_public, raw.get().as_bytes(), sign));
        if !verified {
            let what = if answer.sign.is_none() {
                "carries no signature"
            } else {
                "has a signature that does not verify with alipay_public_key"
            };
            log::error!(
                "Alipay {METHOD} for {}: the answer {what}; not trusted (check the app's \
                 alipay_public_key, or something between us and Alipay altered the answer)",
                self.appid()
            );
            return Err(PlatformError::Malformed(format!("Alipay answer {what}")));
        }
        serde_json::from_str(raw.get()).map_err(|_| {
            PlatformError::Malformed("Alipay response object is not the expected JSON".into())
        })
    }

    /// What an error answer means: a code problem is `invalid_code`; the
    /// rest is the operator's, logged.
    fn alipay_error(&self, response: &Response, code: &LoginCode) -> PlatformError {
        let sub_code = response.sub_code.as_deref().unwrap_or("");
        // isv.code-invalid (and its siblings for expired or used codes):
        // the user's auth code, not the app.
        if sub_code.starts_with("isv.code-") {
            return PlatformError::InvalidCode;
        }
        let secrets = [code.expose()];
        let error = PlatformError::Rejected {
            errcode: response
                .code
                .as_deref()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
            cause: format!(
                "Alipay {} ({})",
                scrub(sub_code, &secrets),
                alipay_cause(sub_code)
            ),
        };
        log::error!(
            "Alipay {METHOD} for {} failed: {error} (msg: {:?}, sub_msg: {:?})",
            self.appid(),
            scrub(response.msg.as_deref().unwrap_or(""), &secrets),
            scrub(response.sub_msg.as_deref().unwrap_or(""), &secrets),
        );
        error
    }

    /// The plaintext of a `my.getPhoneNumber` answer (`response_text`, the
    /// JSON text `{"response","sign"}` the mini-program was handed): its
    /// signature checked with Alipay's public key, then decrypted with the
    /// app's content key.
    pub fn alipay_decrypt(&self, response_text: &str) -> Result<Vec<u8>, UserDataError> {
        let keys = self.alipay_keys().map_err(|_| UserDataError::Unsupported)?;
        let Some(content_key) = keys.content_key.as_deref() else {
            return Err(UserDataError::Unsupported);
        };
        #[derive(Deserialize)]
        struct Sealed {
            response: String,
            sign: String,
        }
        let sealed: Sealed = serde_json::from_str(response_text).map_err(|_| {
            UserDataError::BadInput(
                "`response` must be the JSON text my.getPhoneNumber gave: {\"response\",\"sign\"}",
            )
        })?;
        // Encrypted content is signed as its quoted text.
        let signed = format!("\"{}\"", sealed.response);
        if !alipay_verify(&keys.alipay_public, signed.as_bytes(), &sealed.sign) {
            return Err(UserDataError::Mismatch(
                "the data's signature does not verify with Alipay's public key",
            ));
        }
        let mut data = STANDARD
            .decode(sealed.response.trim())
            .map_err(|_| UserDataError::BadInput("the encrypted response is not base64"))?;
        let key = aes_key(content_key).ok_or(UserDataError::Mismatch(NOT_CONTENT_KEY))?;
        let key = PaddedBlockDecryptingKey::cbc_pkcs7(key)
            .map_err(|_| UserDataError::Mismatch(NOT_CONTENT_KEY))?;
        let plaintext = key
            .decrypt(
                &mut data,
                DecryptionContext::Iv128(FixedLength::from([0u8; 16])),
            )
            .map_err(|_| UserDataError::Mismatch(NOT_CONTENT_KEY))?
            .to_vec();
        let value: serde_json::Value = serde_json::from_slice(&plaintext)
            .map_err(|_| UserDataError::Mismatch(NOT_CONTENT_KEY))?;
        if !value.is_object() {
            return Err(UserDataError::Mismatch(NOT_CONTENT_KEY));
        }
        Ok(plaintext)
    }
}

const NOT_CONTENT_KEY: &str = "the data does not decrypt with this app's content key";

fn aes_key(key: &[u8]) -> Option<UnboundCipherKey> {
    match key.len() {
        16 => UnboundCipherKey::new(&AES_128, key).ok(),
        32 => UnboundCipherKey::new(&AES_256, key).ok(),
        _ => None,
    }
}

/// `my.getPhoneNumber`'s answer made the way Alipay makes it: `plaintext`
/// encrypted with `content_key` (base64), signed with `gateway`. For the
/// simulator, and for tests.
pub fn alipay_seal_response(
    gateway: &RsaKeyPair,
    content_key: &str,
    plaintext: &[u8],
) -> Option<String> {
    let key = STANDARD.decode(content_key).ok()?;
    let key = PaddedBlockEncryptingKey::cbc_pkcs7(aes_key(&key)?).ok()?;
    let mut data = plaintext.to_vec();
    key.less_safe_encrypt(
        &mut data,
        EncryptionContext::Iv128(FixedLength::from([0u8; 16])),
    )
    .ok()?;
    let response = STANDARD.encode(data);
    let sign = alipay_sign(gateway, format!("\"{response}\"").as_bytes())?;
    serde_json::to_string(&serde_json::json!({
        "response": response,
        "sign": sign,
        "sign_type": "RSA2",
        "encrypt_type": "AES",
        "charset": "UTF-8",
    }))
    .ok()
}

/// What the operator should check for an Alipay `sub_code`.
fn alipay_cause(sub_code: &str) -> &'static str {
    match sub_code {
        "isv.invalid-app-id" | "isv.app-not-exist" => "check the app's appid",
        "isv.invalid-signature" => {
            "Alipay refused our signature: check private_key and that its public half is the one uploaded to Alipay"
        }
        "isv.insufficient-isv-permissions" => "the app lacks the permission for this API",
        "isv.missing-signature-config" => "the app has no signing key uploaded to Alipay",
        _ => "not a sub_code wxauth knows",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_PRIVATE: &str = include_str!("../sim/alipay/app-private.pem");
    const APP_PUBLIC: &str = include_str!("../sim/alipay/app-public.pem");

    #[test]
    fn signing_content_sorts_and_skips_sign_and_empty_values() {
        assert_eq!(
            signing_content(&[("b", "2"), ("sign", "x"), ("a", "1"), ("c", "")]),
            "a=1&b=2"
        );
    }

    #[test]
    fn a_signature_verifies_with_the_public_half_only() {
        let key = parse_private_key(APP_PRIVATE).unwrap();
        let public = parse_public_key(APP_PUBLIC).unwrap();
        let sign = alipay_sign(&key, b"a=1&b=2").unwrap();
        assert!(alipay_verify(&public, b"a=1&b=2", &sign));
        assert!(!alipay_verify(&public, b"a=1&b=3", &sign));
        assert!(!alipay_verify(&public, b"a=1&b=2", "AAAA"));
    }

    #[test]
    fn keys_are_read_as_pem_or_bare_base64() {
        // PKCS#1 PEM (the file), and the bare base64 body Alipay's tool shows.
        assert!(parse_private_key(APP_PRIVATE).is_ok());
        let bare: String = APP_PUBLIC
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert!(parse_public_key(&bare).is_ok());
        assert!(parse_public_key("bm90IGEga2V5").is_err());
        assert!(parse_private_key("bm90IGEga2V5").is_err());
        assert!(parse_content_key("AAAA").is_err());
    }

    #[test]
    fn china_time_is_utc_plus_eight() {
        assert_eq!(china_time(0), "1970-01-01 08:00:00");
    }
}
