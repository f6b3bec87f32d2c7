//! What every API test uses, by concern: the app under test and its
//! requests (`app`), the fake WeChat (`fakes`), several apps on
//! three platforms with their fakes (`apps`), tokens read, forged and
//! unsealed (`tokens`), the real binary as a child process (`process`),
//! revocation files and key publishing (`revocations`), and expected values
//! the tests derive themselves (`expected`). Tests import each helper from
//! the module it lives in, so its name says where to look.

pub mod app;
pub mod apps;
pub mod expected;
pub mod fakes;
pub mod process;
pub mod revocations;
pub mod tokens;

pub const APPID: &str = "wx1234567890abcdef";
pub const SECRET: &str = "test-app-secret-7f3a9c";
/// Where every test's clock starts: 2027-01-15, seconds since the epoch.
pub const START: i64 = 1_800_000_000;
pub const FIRST_KID: &str = "20260101T000000Z";
/// A session_key as WeChat sends it (base64 of 16 bytes).
pub const SESSION_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
pub const OPENID: &str = "oGZUI0egBJY1zhBYw2KhdUfwVJJE";
pub const UNIONID: &str = "ocMvos6NjeKLIBqg5Mr9QjxrP1FA";
/// How long wxauth's tokens live by default (WXAUTH_TOKEN_TTL), seconds.
pub const TOKEN_TTL: i64 = 7200;
