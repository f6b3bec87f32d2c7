//! WeChat-only APIs, user data, refresh, metrics and the client rate, per app.

use super::{OTHER_SESSION_KEY, claims, encrypted_for, metric};
use crate::helpers::{
    SESSION_KEY,
    app::{assert_problem, issued_token},
    apps::{
        FOUR_APPS, MALL_SECRET, QQ_APP, QQ_SECRET, SHOP_SECRET, TT_APP, WX_MALL, WX_SHOP,
        douyin_error, douyin_jscode2session_for, douyin_says, jscode2session_for, openid_in,
        spawn_four_apps, spawn_four_apps_with,
    },
    fakes::{access_token_answer, phone_api, session_answer, stable_token, wechat_says},
};
use serde_json::{Value, json};
use wiremock::Mock;
use wiremock::matchers::{body_partial_json, method, path, query_param};

#[tokio::test]
async fn phone_and_check_with_a_qq_or_douyin_token_are_unsupported_platform() {
    // Arrange: no platform may be asked for an access token or a phone.
    let apps = spawn_four_apps().await;
    let qq = apps
        .login_to(QQ_APP, &openid_in(QQ_APP), SESSION_KEY, None)
        .await;
    let tt = apps
        .login_to(TT_APP, &openid_in(TT_APP), SESSION_KEY, None)
        .await;
    for server in [&apps.app.wechat, &apps.qq, &apps.douyin] {
        stable_token(wechat_says(access_token_answer("AT")))
            .expect(0)
            .mount(server)
            .await;
        phone_api(wechat_says(json!({"errcode": 0})))
            .expect(0)
            .mount(server)
            .await;
        Mock::given(path("/wxa/checksession"))
            .respond_with(wechat_says(json!({"errcode": 0})))
            .expect(0)
            .mount(server)
            .await;
    }

    for (token, platform) in [(&qq, "QQ"), (&tt, "Douyin")] {
        // Act
        let phone = apps
            .app
            .post_with_token("/wx/phone", token, json!({"code": "p"}))
            .await;
        let check = apps.app.get_with_token("/auth/check", token).await;

        // Assert
        let body = assert_problem(phone, 400, "unsupported_platform").await;
        assert!(
            body["detail"].as_str().unwrap().contains(platform),
            "{body}"
        );
        assert_problem(check, 400, "unsupported_platform").await;
    }
}

#[tokio::test]
async fn decrypt_works_for_every_platform_and_refuses_another_apps_watermark() {
    // Arrange: a login per app, each with its own session_key.
    let apps = spawn_four_apps().await;
    let keys = [
        SESSION_KEY,
        OTHER_SESSION_KEY,
        "IiIiIiIiIiIiIiIiIiIiIg==",
        "MzMzMzMzMzMzMzMzMzMzMw==",
    ];
    let mut tokens = Vec::new();
    for ((appid, _), key) in FOUR_APPS.iter().zip(keys) {
        tokens.push(apps.login_to(appid, &openid_in(appid), key, None).await);
    }

    for (i, ((appid, _), key)) in FOUR_APPS.iter().zip(keys).enumerate() {
        let token = &tokens[i];
        let (other_appid, _) = FOUR_APPS[(i + 1) % FOUR_APPS.len()];

        // Act: data for this app, and data under the same key but
        // watermarked for the next app.
        let ours = encrypted_for(appid, key, &json!({"nickName": format!("user of {appid}")}));
        let theirs = encrypted_for(other_appid, key, &json!({"nickName": "x"}));
        let ok = apps.app.post_with_token("/wx/decrypt", token, ours).await;
        let refused = apps.app.post_with_token("/wx/decrypt", token, theirs).await;

        // Assert
        assert_eq!(ok.status(), 200, "{appid}");
        let data: Value = ok.json().await.unwrap();
        assert_eq!(data["nickName"], format!("user of {appid}"));
        assert_eq!(data["watermark"]["appid"], *appid);
        let body = assert_problem(refused, 422, "decrypt_failed").await;
        assert!(
            body["detail"].as_str().unwrap().contains("watermark"),
            "{appid}: {body}"
        );
    }
}

#[tokio::test]
async fn refresh_keeps_each_apps_aud_plat_openid_and_unionid() {
    let apps = spawn_four_apps().await;

    for (appid, platform) in FOUR_APPS {
        let unionid = format!("oUnion{appid:0>22}");
        let token = apps
            .login_to(appid, &openid_in(appid), SESSION_KEY, Some(&unionid))
            .await;
        apps.app.clock.advance(60);

        let renewed = apps.app.refreshed(&token).await;

        let (before, after) = (claims(&token), claims(&renewed));
        assert_eq!(after["aud"], appid);
        assert_eq!(after["plat"], platform);
        for claim in ["sub", "unionid", "auth_time"] {
            assert_eq!(after[claim], before[claim], "{appid}: {claim}");
        }
        assert!(after["exp"].as_i64() > before["exp"].as_i64(), "{appid}");
        let me: Value = apps.app.get_me(&renewed).await.json().await.unwrap();
        assert_eq!(
            (me["appid"].as_str(), me["platform"].as_str()),
            (Some(appid), Some(platform))
        );
        // The renewed token still opens its seal for its own app's data.
        let data = encrypted_for(appid, SESSION_KEY, &json!({"n": 1}));
        let decrypted = apps
            .app
            .post_with_token("/wx/decrypt", &renewed, data)
            .await;
        assert_eq!(decrypted.status(), 200, "{appid}");
    }
}

#[tokio::test]
async fn each_wechat_app_gets_and_uses_its_own_access_token() {
    // Arrange: stable_token answers each WeChat app (its appid and secret)
    // with its own token, once; the phone API answers each token with a
    // phone watermarked for that app.
    let apps = spawn_four_apps().await;
    let wechat = &apps.app.wechat;
    for (appid, secret, token) in [
        (WX_SHOP, SHOP_SECRET, "AT-SHOP"),
        (WX_MALL, MALL_SECRET, "AT-MALL"),
    ] {
        Mock::given(method("POST"))
            .and(path("/cgi-bin/stable_token"))
            .and(body_partial_json(
                json!({"grant_type": "client_credential", "appid": appid, "secret": secret}),
            ))
            .respond_with(wechat_says(access_token_answer(token)))
            .expect(1)
            .mount(wechat)
            .await;
        Mock::given(method("POST"))
            .and(path("/wxa/business/getuserphonenumber"))
            .and(query_param("access_token", token))
            .respond_with(wechat_says(
                json!({"errcode": 0, "errmsg": "ok", "phone_info": {
                    "phoneNumber": format!("+86 {token}"), "purePhoneNumber": "13800138000",
                    "countryCode": "86", "watermark": {"timestamp": 1, "appid": appid}
                }}),
            ))
            .expect(2)
            .mount(wechat)
            .await;
    }
    let shop = apps
        .login_to(WX_SHOP, &openid_in(WX_SHOP), SESSION_KEY, None)
        .await;
    let mall = apps
        .login_to(WX_MALL, &openid_in(WX_MALL), SESSION_KEY, None)
        .await;

    // Act: two phone numbers per app (the second from the cached token).
    let mut numbers = Vec::new();
    for token in [&shop, &mall, &shop, &mall] {
        let response = apps
            .app
            .post_with_token("/wx/phone", token, json!({"code": "p"}))
            .await;
        assert_eq!(response.status(), 200);
        let info: Value = response.json().await.unwrap();
        numbers.push(info["phoneNumber"].as_str().unwrap().to_owned());
    }

    // Assert: each app asked with its own token, fetched once.
    assert_eq!(
        numbers,
        ["+86 AT-SHOP", "+86 AT-MALL", "+86 AT-SHOP", "+86 AT-MALL"]
    );
    wechat.verify().await;
}

#[tokio::test]
async fn a_phone_watermarked_for_the_other_wechat_app_is_refused() {
    let apps = spawn_four_apps().await;
    stable_token(wechat_says(access_token_answer("AT")))
        .mount(&apps.app.wechat)
        .await;
    phone_api(wechat_says(
        json!({"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": "+86 13800138000", "purePhoneNumber": "13800138000",
            "countryCode": "86", "watermark": {"timestamp": 1, "appid": WX_MALL}
        }}),
    ))
    .mount(&apps.app.wechat)
    .await;
    let shop = apps
        .login_to(WX_SHOP, &openid_in(WX_SHOP), SESSION_KEY, None)
        .await;

    let response = apps
        .app
        .post_with_token("/wx/phone", &shop, json!({"code": "p"}))
        .await;

    assert_problem(response, 502, "upstream_error").await;
}

#[tokio::test]
async fn metrics_count_logins_and_platform_calls_per_app() {
    // Arrange: one good login per app; one bad code on Douyin; one busy
    // answer on QQ before its session.
    let apps = spawn_four_apps().await;
    jscode2session_for(QQ_APP, QQ_SECRET, "busy")
        .respond_with(wechat_says(json!({"errcode": -1, "errmsg": "busy"})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&apps.qq)
        .await;
    jscode2session_for(QQ_APP, QQ_SECRET, "busy")
        .respond_with(wechat_says(session_answer(
            &openid_in(QQ_APP),
            SESSION_KEY,
            None,
        )))
        .mount(&apps.qq)
        .await;
    douyin_jscode2session_for("bad")
        .respond_with(douyin_says(&douyin_error(40018, "bad code")))
        .mount(&apps.douyin)
        .await;

    // Act
    for (appid, _) in [FOUR_APPS[0], FOUR_APPS[1], FOUR_APPS[3]] {
        apps.login_to(appid, &openid_in(appid), SESSION_KEY, None)
            .await;
    }
    issued_token(apps.login_request(QQ_APP, "busy").await).await;
    assert_problem(apps.login_request(TT_APP, "bad").await, 400, "invalid_code").await;
    let text = apps.app.get("/metrics").await.text().await.unwrap();

    // Assert
    for (appid, _) in FOUR_APPS {
        assert_eq!(
            metric(
                &text,
                &format!(r#"wxauth_logins_total{{app="{appid}",outcome="ok"}}"#)
            ),
            1.0,
            "{appid}:\n{text}"
        );
        assert!(
            metric(
                &text,
                &format!(
                    r#"wxauth_upstream_request_duration_seconds_count{{app="{appid}",endpoint="jscode2session",outcome="ok"}}"#
                )
            ) >= 1.0,
            "{appid}:\n{text}"
        );
    }
    assert_eq!(
        metric(
            &text,
            &format!(r#"wxauth_logins_total{{app="{TT_APP}",outcome="invalid_code"}}"#)
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            &format!(
                r#"wxauth_upstream_request_duration_seconds_count{{app="{QQ_APP}",endpoint="jscode2session",outcome="busy"}}"#
            )
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            &format!(
                r#"wxauth_upstream_request_duration_seconds_count{{app="{TT_APP}",endpoint="jscode2session",outcome="errcode"}}"#
            )
        ),
        1.0,
        "{text}"
    );
    // No other app was charged with those failures.
    for appid in [WX_SHOP, WX_MALL, QQ_APP] {
        assert_eq!(
            metric(
                &text,
                &format!(r#"wxauth_logins_total{{app="{appid}",outcome="invalid_code"}}"#)
            ),
            0.0,
            "{appid}"
        );
    }
}

#[tokio::test]
async fn a_login_past_the_client_rate_is_rate_limited_with_retry_after_before_any_platform_call() {
    // Arrange: a rate of 1 a second, so a burst of 5.
    let apps = spawn_four_apps_with(&[("WXAUTH_CLIENT_RATE", "1")]).await;
    jscode2session_for(QQ_APP, QQ_SECRET, "c")
        .respond_with(wechat_says(
            json!({"errcode": 40029, "errmsg": "invalid code"}),
        ))
        .expect(5)
        .mount(&apps.qq)
        .await;

    // Act
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(apps.login_request(QQ_APP, "c").await.status().as_u16());
    }
    let limited = apps.login_request(QQ_APP, "c").await;

    // Assert
    assert_eq!(statuses, [400; 5]);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry_after), "{retry_after}");
    assert_problem(limited, 429, "rate_limited").await;
    apps.qq.verify().await;
}
