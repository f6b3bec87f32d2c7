//! Mints N valid tokens for distinct users with the key folder's signing
//! key, one per line, for load tests (benches/load.sh). The same library
//! calls wxauth makes at login, without WeChat.
//!
//! ```sh
//! cargo run --release --example mint_tokens -- KEYS_DIR APPID COUNT > tokens.txt
//! ```

use std::io::Write as _;
use std::sync::Arc;
use wxauth::clock::{Clock, SystemClock};
use wxauth::domain::{SessionKey, UserId};
use wxauth::keyring::Keyring;
use wxauth::token::{Subject, TokenIssuer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: mint_tokens KEYS_DIR APPID COUNT")?;
    let appid = args
        .next()
        .ok_or("usage: mint_tokens KEYS_DIR APPID COUNT")?;
    let count: usize = args
        .next()
        .ok_or("usage: mint_tokens KEYS_DIR APPID COUNT")?
        .parse()?;
    let (keyring, _) = Keyring::load(dir.as_ref(), None)?;
    let clock = Arc::new(SystemClock);
    let issuer = TokenIssuer::new("wxauth", 7200, clock.clone());
    let session_key = SessionKey::parse("tiihtNczf5v6AKRyjwEUhQ==")?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..count {
        let openid = UserId::parse(&format!("oMINT{i:0>23}"))?;
        let subject = Subject {
            appid: &appid,
            platform: wxauth::platform::Platform::Wechat,
            openid: openid.as_str(),
            unionid: None,
            session_key: Some(&session_key),
            auth_time: clock.now(),
        };
        writeln!(out, "{}", issuer.issue(&keyring, &subject)?.access_token)?;
    }
    Ok(())
}
