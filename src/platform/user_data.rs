//! WeChat's `encryptedData`: AES-128-CBC with PKCS#7 padding, the key being
//! the base64-decoded session_key and the IV the base64-decoded `iv`; the
//! plaintext is a JSON object with a `watermark` naming the appid. (WeChat's
//! "开放数据校验与解密" documentation, whose sample the tests decrypt.)
//! QQ, Douyin and Kuaishou use the same scheme; Baidu has its own
//! ([`decrypt_baidu`]); [`decrypt_for`] picks by platform.

use super::Platform;
use crate::domain::SessionKey;
use aws_lc_rs::cipher::{
    AES_128, AES_192, Algorithm, DecryptingKey, DecryptionContext, EncryptingKey,
    EncryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const BLOCK: usize = 16;

/// Why user data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum UserDataError {
    /// The request itself is malformed: not base64, wrong lengths.
    #[error("{0}")]
    BadInput(&'static str),
    /// It does not decrypt, parse or match with this session_key.
    #[error("{0}")]
    Mismatch(&'static str),
    /// The platform (or this app) has no user-data encryption.
    #[error("the platform has no user-data decryption")]
    Unsupported,
}

/// Decrypts user data the way `platform` encrypts it: WeChat's scheme for
/// WeChat, QQ and Douyin (watermark required) and Kuaishou (whose data
/// carries no watermark: checked when present), Baidu's own
/// ([`decrypt_baidu`]); Alipay's goes through its app's content key
/// ([`super::AppClient::alipay_decrypt`]); Feishu documents none, and
/// WeChat's web and app logins have no session_key.
pub fn decrypt_for(
    platform: Platform,
    session_key: &SessionKey,
    encrypted_data: &str,
    iv: &str,
    appid: &str,
    openid: &str,
) -> Result<Vec<u8>, UserDataError> {
    match platform {
        Platform::Wechat | Platform::Qq | Platform::Douyin => {
            decrypt_user_data(session_key, encrypted_data, iv, appid, openid)
        }
        Platform::Kuaishou => {
            decrypt_checked(session_key, encrypted_data, iv, appid, openid, false)
        }
        Platform::Baidu => decrypt_baidu(session_key, encrypted_data, iv, appid, openid),
        // WeChat's web and app logins give no session_key at all.
        Platform::Alipay
        | Platform::Feishu
        | Platform::WechatH5
        | Platform::WechatWeb
        | Platform::WechatApp => Err(UserDataError::Unsupported),
    }
}

/// Decrypts `encrypted_data` with `iv` (both base64, as the mini-program
/// received them) under `session_key`, and checks that the plaintext is a
/// JSON object watermarked for `appid` and, when it names an `openId`, that
/// it is `openid`. Returns the plaintext bytes exactly as WeChat made them.
pub fn decrypt_user_data(
    session_key: &SessionKey,
    encrypted_data: &str,
    iv: &str,
    appid: &str,
    openid: &str,
) -> Result<Vec<u8>, UserDataError> {
    decrypt_checked(session_key, encrypted_data, iv, appid, openid, true)
}

fn decrypt_checked(
    session_key: &SessionKey,
    encrypted_data: &str,
    iv: &str,
    appid: &str,
    openid: &str,
    watermark_required: bool,
) -> Result<Vec<u8>, UserDataError> {
    let (mut data, iv) = decode_input(encrypted_data, iv)?;
    let key =
        session_cipher_key(session_key, &AES_128).ok_or(UserDataError::Mismatch(NOT_THIS_KEY))?;
    let key = PaddedBlockDecryptingKey::cbc_pkcs7(key)
        .map_err(|_| UserDataError::Mismatch(NOT_THIS_KEY))?;
    let plaintext = key
        .decrypt(&mut data, DecryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| UserDataError::Mismatch(NOT_THIS_KEY))?
        .to_vec();
    let value: serde_json::Value =
        serde_json::from_slice(&plaintext).map_err(|_| UserDataError::Mismatch(NOT_THIS_KEY))?;
    if !value.is_object() {
        return Err(UserDataError::Mismatch(NOT_THIS_KEY));
    }
    let watermark = value.pointer("/watermark/appid");
    if (watermark_required || watermark.is_some())
        && watermark.and_then(serde_json::Value::as_str) != Some(appid)
    {
        return Err(UserDataError::Mismatch(
            "the data's watermark names another appid: it was not made for this mini-program",
        ));
    }
    check_owner(&value, "openId", openid)?;
    Ok(plaintext)
}

/// The base64 `encryptedData` and `iv` of a request, decoded: whole AES
/// blocks, and a 16-byte IV.
fn decode_input(encrypted_data: &str, iv: &str) -> Result<(Vec<u8>, [u8; BLOCK]), UserDataError> {
    let data = STANDARD
        .decode(encrypted_data)
        .map_err(|_| UserDataError::BadInput("`encryptedData` is not base64"))?;
    if data.is_empty() || data.len() % BLOCK != 0 {
        return Err(UserDataError::BadInput(
            "`encryptedData` must decode to a non-empty multiple of 16 bytes",
        ));
    }
    let iv: [u8; BLOCK] = STANDARD
        .decode(iv)
        .map_err(|_| UserDataError::BadInput("`iv` is not base64"))?
        .try_into()
        .map_err(|_| UserDataError::BadInput("`iv` must decode to 16 bytes"))?;
    Ok((data, iv))
}

/// When the plaintext names its user in `field`, that user must be `openid`.
fn check_owner(value: &serde_json::Value, field: &str, openid: &str) -> Result<(), UserDataError> {
    match value.get(field) {
        Some(owner) if owner.as_str() != Some(openid) => Err(UserDataError::Mismatch(
            "the data belongs to another user than the token's",
        )),
        _ => Ok(()),
    }
}

/// The most common failure (a newer `wx.login()` replaced the session_key),
/// said so the client knows what to do.
const NOT_THIS_KEY: &str = "the data does not decrypt with this session's key: most likely a newer \
     wx.login() replaced it. Call wx.login(), log in again, and fetch the data again";

/// Encrypts `plaintext` the way WeChat does, with a fresh random IV; returns
/// (`encryptedData`, `iv`) in base64. For the simulator.
pub fn encrypt_user_data(session_key: &SessionKey, plaintext: &[u8]) -> Option<(String, String)> {
    let key =
        PaddedBlockEncryptingKey::cbc_pkcs7(session_cipher_key(session_key, &AES_128)?).ok()?;
    let iv: [u8; BLOCK] = rand::random();
    let mut data = plaintext.to_vec();
    key.less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(iv)))
        .ok()?;
    Some((STANDARD.encode(data), STANDARD.encode(iv)))
}

/// The base64-decoded session_key as a key of `algorithm` (AES-128 for
/// WeChat's scheme, AES-192 for Baidu's); `None` if it is not one.
fn session_cipher_key(
    session_key: &SessionKey,
    algorithm: &'static Algorithm,
) -> Option<UnboundCipherKey> {
    let bytes = STANDARD.decode(session_key.expose()).ok()?;
    UnboundCipherKey::new(algorithm, &bytes).ok()
}

/// Baidu pads to a multiple of 32 bytes (PKCS#7 style, as its sample code
/// strips it).
const BAIDU_PAD: usize = 32;

/// Baidu's user data ("用户数据的签名验证和加解密"): AES-192-CBC under the
/// base64-decoded session_key, the plaintext being 16 random bytes, the
/// content's length (4 bytes, big-endian), the content (JSON), and the app
/// key, which must be `appid`.
pub fn decrypt_baidu(
    session_key: &SessionKey,
    encrypted_data: &str,
    iv: &str,
    appid: &str,
    openid: &str,
) -> Result<Vec<u8>, UserDataError> {
    let (mut data, iv) = decode_input(encrypted_data, iv)?;
    let mismatch = || UserDataError::Mismatch(NOT_THIS_KEY);
    let key = session_cipher_key(session_key, &AES_192).ok_or_else(mismatch)?;
    let key = DecryptingKey::cbc(key).map_err(|_| mismatch())?;
    let plain = key
        .decrypt(&mut data, DecryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| mismatch())?;
    let pad = usize::from(*plain.last().ok_or_else(mismatch)?);
    if pad == 0 || pad > BAIDU_PAD || pad > plain.len() {
        return Err(mismatch());
    }
    let plain = plain.get(..plain.len() - pad).ok_or_else(mismatch)?;
    let length: [u8; 4] = plain
        .get(16..20)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(mismatch)?;
    let length = usize::try_from(u32::from_be_bytes(length)).map_err(|_| mismatch())?;
    let content = plain.get(20..20 + length).ok_or_else(mismatch)?;
    let app_key = plain.get(20 + length..).ok_or_else(mismatch)?;
    if app_key != appid.as_bytes() {
        return Err(UserDataError::Mismatch(
            "the data names another app key: it was not made for this mini-program",
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(content).map_err(|_| mismatch())?;
    if !value.is_object() {
        return Err(mismatch());
    }
    check_owner(&value, "openid", openid)?;
    Ok(content.to_vec())
}

/// Encrypts `content` the way Baidu does for the app `app_key`; returns
/// (`encryptedData`, `iv`) in base64. For the simulator.
pub fn baidu_encrypt_user_data(
    session_key: &SessionKey,
    content: &[u8],
    app_key: &str,
) -> Option<(String, String)> {
    let mut plain = rand::random::<[u8; 16]>().to_vec();
    plain.extend_from_slice(&u32::try_from(content.len()).ok()?.to_be_bytes());
    plain.extend_from_slice(content);
    plain.extend_from_slice(app_key.as_bytes());
    let pad = BAIDU_PAD - plain.len() % BAIDU_PAD;
    plain.extend(std::iter::repeat_n(u8::try_from(pad).ok()?, pad));
    let key = EncryptingKey::cbc(session_cipher_key(session_key, &AES_192)?).ok()?;
    let iv: [u8; BLOCK] = rand::random();
    key.less_safe_encrypt(&mut plain, EncryptionContext::Iv128(FixedLength::from(iv)))
        .ok()?;
    Some((STANDARD.encode(plain), STANDARD.encode(iv)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WeChat's published sample ("开放数据校验与解密"): appid, session_key,
    /// iv, encryptedData and the plaintext it decrypts to.
    pub(crate) const SAMPLE_APPID: &str = "wx4f4bc4dec97d474b";
    pub(crate) const SAMPLE_SESSION_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
    pub(crate) const SAMPLE_IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
    pub(crate) const SAMPLE_ENCRYPTED_DATA: &str = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==";
    pub(crate) const SAMPLE_PLAINTEXT: &str = r#"{"openId":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0","unionId":"ocMvos6NjeKLIBqg5Mr9QjxrP1FA","watermark":{"timestamp":1477314187,"appid":"wx4f4bc4dec97d474b"}}"#;
    const SAMPLE_OPENID: &str = "oGZUI0egBJY1zhBYw2KhdUfwVJJE";

    fn key() -> SessionKey {
        SessionKey::parse(SAMPLE_SESSION_KEY).unwrap()
    }

    #[test]
    fn wechats_published_sample_decrypts_byte_for_byte() {
        let plaintext = decrypt_user_data(
            &key(),
            SAMPLE_ENCRYPTED_DATA,
            SAMPLE_IV,
            SAMPLE_APPID,
            SAMPLE_OPENID,
        )
        .unwrap();
        assert_eq!(plaintext, SAMPLE_PLAINTEXT.as_bytes());
    }

    #[test]
    fn baidu_data_round_trips_and_names_its_app() {
        let key = SessionKey::parse(&STANDARD.encode([7u8; 24])).unwrap();
        let text = br#"{"openid":"o1","mobile":"13800000000"}"#;
        let (data, iv) = baidu_encrypt_user_data(&key, text, "bdA").unwrap();
        assert_eq!(decrypt_baidu(&key, &data, &iv, "bdA", "o1").unwrap(), text);
        assert!(matches!(
            decrypt_baidu(&key, &data, &iv, "bdB", "o1"),
            Err(UserDataError::Mismatch(m)) if m.contains("app key")
        ));
        assert!(matches!(
            decrypt_baidu(&key, &data, &iv, "bdA", "o2"),
            Err(UserDataError::Mismatch(m)) if m.contains("another user")
        ));
        let other = SessionKey::parse(&STANDARD.encode([8u8; 24])).unwrap();
        assert!(decrypt_baidu(&other, &data, &iv, "bdA", "o1").is_err());
    }

    #[test]
    fn kuaishou_data_needs_no_watermark_but_a_present_one_must_match() {
        let bare = br#"{"openId":"o1"}"#;
        let (data, iv) = encrypt_user_data(&key(), bare).unwrap();
        assert!(decrypt_for(Platform::Kuaishou, &key(), &data, &iv, "ksA", "o1").is_ok());
        assert!(decrypt_for(Platform::Wechat, &key(), &data, &iv, "ksA", "o1").is_err());
        let marked = br#"{"openId":"o1","watermark":{"appid":"ksB"}}"#;
        let (data, iv) = encrypt_user_data(&key(), marked).unwrap();
        assert!(decrypt_for(Platform::Kuaishou, &key(), &data, &iv, "ksA", "o1").is_err());
    }

    #[test]
    fn encrypt_then_decrypt_round_trips() {
        let text = br#"{"openId":"o1","watermark":{"appid":"wxA","timestamp":1}}"#;
        let (data, iv) = encrypt_user_data(&key(), text).unwrap();
        assert_eq!(
            decrypt_user_data(&key(), &data, &iv, "wxA", "o1").unwrap(),
            text
        );
    }

    #[test]
    fn wrong_key_appid_owner_and_shapes_are_refused() {
        let other = SessionKey::parse("AAAAAAAAAAAAAAAAAAAAAA==").unwrap();
        let decrypt = |key: &SessionKey, data: &str, iv: &str, appid: &str, openid: &str| {
            decrypt_user_data(key, data, iv, appid, openid).unwrap_err()
        };
        assert!(matches!(
            decrypt(
                &other,
                SAMPLE_ENCRYPTED_DATA,
                SAMPLE_IV,
                SAMPLE_APPID,
                SAMPLE_OPENID
            ),
            UserDataError::Mismatch(_)
        ));
        assert!(matches!(
            decrypt(&key(), SAMPLE_ENCRYPTED_DATA, SAMPLE_IV, "wx0000000000000000", SAMPLE_OPENID),
            UserDataError::Mismatch(m) if m.contains("watermark")
        ));
        assert!(matches!(
            decrypt(&key(), SAMPLE_ENCRYPTED_DATA, SAMPLE_IV, SAMPLE_APPID, "oSomeoneElse"),
            UserDataError::Mismatch(m) if m.contains("another user")
        ));
        for (data, iv) in [
            ("not base64!", SAMPLE_IV),
            ("", SAMPLE_IV),
            ("AAAA", SAMPLE_IV),
            (SAMPLE_ENCRYPTED_DATA, "AAAA"),
            (SAMPLE_ENCRYPTED_DATA, "%%%"),
        ] {
            assert!(matches!(
                decrypt(&key(), data, iv, SAMPLE_APPID, SAMPLE_OPENID),
                UserDataError::BadInput(_)
            ));
        }
    }
}
