//! wxauth: a stateless login server for mini-programs (WeChat, QQ, Douyin and
//! the other platforms of docs/API.md, "Apps and platforms").
//!
//! A mini-program sends the one-time `code` from its platform's login call
//! (`wx.login()`, `qq.login()`, `tt.login()`, ...); wxauth exchanges it with
//! that platform's code exchange (WeChat's `code2Session`) and answers with a
//! signed JWT that carries the user's `openid`, the app and the platform, with
//! the platform's `session_key` sealed (XChaCha20-Poly1305) inside it.
//! Nothing is stored on the server: every replica holding the same key files
//! accepts every token. The contract is docs/API.md; the map of the code is
//! docs/ARCHITECTURE.md.
//!
//! The crate is a library as well as the `wxauth` binary. Another actix-web
//! service mounts the same guard with [`guard::Guard`] and the
//! [`guard::Authenticated`] extractor; see the README for a complete example.
// Lints are declared in Cargo.toml's [lints], for every target.

pub mod apps;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod edge;
pub mod error;
pub mod fs;
pub mod guard;
pub mod http;
pub mod keyring;
pub mod logging;
pub mod metrics;
pub mod platform;
pub mod reload;
pub mod revocation;
pub mod routes;
pub mod server;
pub mod services;
pub mod sessions;
pub mod sim;
pub mod startup;
pub mod token;
pub mod weblogin;
