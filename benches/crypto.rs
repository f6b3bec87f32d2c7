//! Micro-benchmarks (criterion) of what every request or login costs, for
//! each supported algorithm: token issue, token verify (cold: no cache),
//! jsonwebtoken's own decode of the same token (the baseline the guard's
//! overhead is measured against), seal, unseal, encryptedData decrypt and
//! JWK Set render.
//!
//! `cargo bench --bench crypto` (release build; results in target/criterion).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)] // test code: a failed unwrap is a failed test

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use wxauth::clock::ManualClock;
use wxauth::domain::{SessionKey, UserId};
use wxauth::keyring::{KeyAlg, Keyring, SharedKeyring, render_jwks, write_new_key};
use wxauth::platform::{decrypt_user_data, encrypt_user_data};
use wxauth::token::{Claims, Subject, TokenIssuer, TokenPolicy, TokenVerifier};

const NOW: i64 = 1_800_000_000;

fn per_algorithm(c: &mut Criterion) {
    for (name, alg) in [
        ("EdDSA", KeyAlg::Eddsa),
        ("ES256", KeyAlg::Es256),
        ("RS256", KeyAlg::Rs256),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_new_key(dir.path(), "k", alg).unwrap();
        let (keyring, _) = Keyring::load(dir.path(), None).unwrap();
        let clock = Arc::new(ManualClock::new(NOW));
        let issuer = TokenIssuer::new("wxauth", 7200, clock.clone());
        let openid = UserId::parse("oGZUI0egBJY1zhBYw2KhdUfwVJJE").unwrap();
        let session_key = SessionKey::parse("tiihtNczf5v6AKRyjwEUhQ==").unwrap();
        let subject = Subject {
            appid: "wx1",
            platform: wxauth::platform::Platform::Wechat,
            openid: openid.as_str(),
            unionid: None,
            session_key: Some(&session_key),
            auth_time: NOW,
        };
        let token = issuer.issue(&keyring, &subject).unwrap().access_token;
        let key = Arc::clone(keyring.signing());
        let policy = TokenPolicy::new("wxauth", "wx1", 30);
        let verifier = TokenVerifier::new(
            SharedKeyring::new(Keyring::load(dir.path(), None).unwrap().0),
            policy,
            clock,
        );
        let mut validation = jsonwebtoken::Validation::new(alg.algorithm());
        validation.set_issuer(&["wxauth"]);
        validation.set_audience(&["wx1"]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = false;

        let mut group = c.benchmark_group(name);
        group.bench_function("issue", |b| {
            b.iter(|| issuer.issue(black_box(&keyring), &subject).unwrap())
        });
        group.bench_function("verify (guard, cold)", |b| {
            b.iter(|| verifier.verify(black_box(&token)).unwrap())
        });
        // The guard as deployed: with its cache, every token new (more tokens
        // than the cache holds, taken in turn), so each is a miss plus insert.
        let cached = TokenVerifier::new(
            SharedKeyring::new(Keyring::load(dir.path(), None).unwrap().0),
            TokenPolicy::new("wxauth", "wx1", 30),
            Arc::new(ManualClock::new(NOW)),
        )
        .with_cache(wxauth::token::CACHE_CAPACITY);
        // Tokens are minted outside the timed part, each verified once: a
        // miss and an insert every time, as under "every token once" load.
        let mut minted = 0usize;
        group.bench_function("verify (guard with its cache, every token new)", |b| {
            b.iter_custom(|iters| {
                let fresh: Vec<String> = (0..iters)
                    .map(|_| {
                        minted += 1;
                        let openid = UserId::parse(&format!("o{minted:0>27}")).unwrap();
                        let subject = Subject {
                            appid: "wx1",
                            platform: wxauth::platform::Platform::Wechat,
                            openid: openid.as_str(),
                            unionid: None,
                            session_key: Some(&session_key),
                            auth_time: NOW,
                        };
                        issuer.issue(&keyring, &subject).unwrap().access_token
                    })
                    .collect();
                let start = std::time::Instant::now();
                for token in &fresh {
                    black_box(cached.verify(black_box(token)).unwrap());
                }
                start.elapsed()
            })
        });
        group.bench_function("verify (guard with its cache, hit)", |b| {
            b.iter(|| cached.verify(black_box(&token)).unwrap())
        });
        group.bench_function("jsonwebtoken::decode (baseline)", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<Claims>(black_box(&token), key.decoding_key(), &validation)
                    .unwrap()
            })
        });
        group.bench_function("render JWK Set", |b| {
            b.iter(|| render_jwks(std::iter::once(black_box(key.as_ref()))))
        });
        group.finish();
    }
}

fn sealing_and_user_data(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    write_new_key(dir.path(), "k", KeyAlg::Eddsa).unwrap();
    let (keyring, _) = Keyring::load(dir.path(), None).unwrap();
    let sealing = keyring.signing().sealing_key();
    let session_key = SessionKey::parse("tiihtNczf5v6AKRyjwEUhQ==").unwrap();
    let sealed = sealing
        .seal("oGZUI0egBJY1zhBYw2KhdUfwVJJE", "k", &session_key)
        .unwrap();
    let plaintext = br#"{"openId":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0","unionId":"ocMvos6NjeKLIBqg5Mr9QjxrP1FA","watermark":{"timestamp":1477314187,"appid":"wx4f4bc4dec97d474b"}}"#;
    let (data, iv) = encrypt_user_data(&session_key, plaintext).unwrap();

    let mut group = c.benchmark_group("session_key");
    group.bench_function("seal", |b| {
        b.iter(|| {
            sealing
                .seal(black_box("oGZUI0egBJY1zhBYw2KhdUfwVJJE"), "k", &session_key)
                .unwrap()
        })
    });
    group.bench_function("unseal", |b| {
        b.iter(|| {
            sealing
                .unseal(black_box("oGZUI0egBJY1zhBYw2KhdUfwVJJE"), "k", &sealed)
                .unwrap()
        })
    });
    group.bench_function("decrypt encryptedData (WeChat's sample size)", |b| {
        b.iter(|| {
            decrypt_user_data(
                &session_key,
                black_box(&data),
                &iv,
                "wx4f4bc4dec97d474b",
                "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
            )
            .unwrap()
        })
    });
    group.finish();
}

/// The edge's per-request work on the login path: the client-address rule
/// and the rate limiter's check (one client within its rate, and one among
/// 100,000 tracked), and the revocation list's lookups.
fn edge_and_revocations(c: &mut Criterion) {
    use std::net::IpAddr;
    use wxauth::edge::{ClientLimiter, DEFAULT_TRUSTED_PROXIES, TrustedProxies};
    let mut group = c.benchmark_group("edge");
    let limiter = ClientLimiter::new(1_000_000);
    let client: IpAddr = "203.0.113.7".parse().unwrap();
    group.bench_function("rate limiter check (one client)", |b| {
        b.iter(|| limiter.check(std::hint::black_box(client)))
    });
    let crowded = ClientLimiter::new(1_000_000);
    for n in 0u32..100_000 {
        let _ = crowded.check(IpAddr::from(n.to_be_bytes()));
    }
    group.bench_function("rate limiter check (100,000 clients tracked)", |b| {
        b.iter(|| crowded.check(std::hint::black_box(client)))
    });
    let trusted: TrustedProxies = DEFAULT_TRUSTED_PROXIES.parse().unwrap();
    let peer: IpAddr = "127.0.0.1".parse().unwrap();
    group.bench_function("client address behind a proxy", |b| {
        b.iter(|| trusted.client(peer, ["198.51.100.1, 203.0.113.7"].into_iter()))
    });
    let text: String = (0..100_000).map(|n| format!("ban o{n:0>27}\n")).collect();
    let list = wxauth::revocation::Revocations::parse(&text).unwrap();
    group.bench_function("revocation lookup, 100,000 entries, not listed", |b| {
        b.iter(|| {
            list.refuses(
                std::hint::black_box("oGZUI0egBJY1zhBYw2KhdUfwVJJE"),
                Some("ocMvos6NjeKLIBqg5Mr9QjxrP1FA"),
                1,
            )
        })
    });
    group.finish();
}

/// The guard's work per request on a cached token (the warm load of
/// `benches/load.sh`), without a revocation file and with 100,000 entries:
/// the list's whole cost on the hot path. The token carries a unionid, so
/// both ids are looked up.
fn guard_with_revocations(c: &mut Criterion) {
    use wxauth::revocation::SharedRevocations;
    let dir = tempfile::tempdir().unwrap();
    write_new_key(dir.path(), "k", KeyAlg::Eddsa).unwrap();
    let (keyring, _) = Keyring::load(dir.path(), None).unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let session_key = SessionKey::parse("tiihtNczf5v6AKRyjwEUhQ==").unwrap();
    let subject = Subject {
        appid: "wx1",
        platform: wxauth::platform::Platform::Wechat,
        openid: "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
        unionid: Some("ocMvos6NjeKLIBqg5Mr9QjxrP1FA"),
        session_key: Some(&session_key),
        auth_time: NOW,
    };
    let token = TokenIssuer::new("wxauth", 7200, clock.clone())
        .issue(&keyring, &subject)
        .unwrap()
        .access_token;
    let file = dir.path().join("revocations");
    let text: String = (0..100_000).map(|n| format!("ban o{n:0>27}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let mut group = c.benchmark_group("guard");
    for (name, revocations) in [
        (
            "cached token, no revocation file",
            SharedRevocations::none(),
        ),
        (
            "cached token, 100,000 revocation entries",
            SharedRevocations::load(&file).unwrap(),
        ),
    ] {
        let verifier = TokenVerifier::new(
            SharedKeyring::new(Keyring::load(dir.path(), None).unwrap().0),
            TokenPolicy::new("wxauth", "wx1", 30),
            clock.clone(),
        )
        .with_cache(wxauth::token::CACHE_CAPACITY)
        .with_revocations(revocations);
        verifier.verify(&token).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| verifier.verify(black_box(&token)).unwrap())
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! { name = benches; config = config(); targets = per_algorithm, sealing_and_user_data, edge_and_revocations, guard_with_revocations }
criterion_main!(benches);
