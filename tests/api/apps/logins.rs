//! Logins, one per app: each platform faked in its own shape, its codes mapped.

use super::{OTHER_SESSION_KEY, WECHAT_UNIONID, claims};
use crate::helpers::{
    SESSION_KEY, START, TOKEN_TTL,
    app::{assert_problem, issued_token},
    apps::{
        FOUR_APPS, QQ_APP, QQ_SECRET, TT_APP, TT_SECRET, WX_MALL, WX_SHOP, douyin_error,
        douyin_jscode2session_for, douyin_says, douyin_session, jscode2session_for, openid_in,
        spawn_four_apps,
    },
    fakes::wechat_says,
};
use serde_json::{Value, json};

#[tokio::test]
async fn each_of_four_apps_logs_in_at_its_own_platform_with_its_own_aud_plat_and_openid() {
    // Arrange: each platform answers only the request of its own app, with
    // that app's own secret (the mocks expect exactly one call each).
    let apps = spawn_four_apps().await;

    for (appid, platform) in FOUR_APPS {
        // Act
        let openid = openid_in(appid);
        let token = apps.login_to(appid, &openid, SESSION_KEY, None).await;

        // Assert: the token and /auth/me name the app and its platform.
        let claims = claims(&token);
        assert_eq!(claims["aud"], appid, "{appid}");
        assert_eq!(claims["plat"], platform, "{appid}");
        assert_eq!(claims["sub"], openid.as_str(), "{appid}");
        let me: Value = apps.app.get_me(&token).await.json().await.unwrap();
        assert_eq!(
            me,
            json!({"openid": openid, "unionid": null, "exp": START + TOKEN_TTL,
                   "appid": appid, "platform": platform}),
            "{appid}"
        );
    }
    // Each fake saw only its own apps' exchanges: the QQ and Douyin codes
    // never reached WeChat (MockServer verifies `expect` on drop too).
    assert_eq!(apps.app.wechat.received_requests().await.unwrap().len(), 2);
    assert_eq!(apps.qq.received_requests().await.unwrap().len(), 1);
    assert_eq!(apps.douyin.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_douyin_exchange_is_a_json_post_of_appid_secret_and_code() {
    let apps = spawn_four_apps().await;
    let code = "tt+code/with=odd&chars";

    apps.platform_answers(TT_APP, code, &openid_in(TT_APP), SESSION_KEY, None)
        .await;
    let response = apps.login_request(TT_APP, code).await;

    assert_eq!(response.status(), 200);
    let requests = apps.douyin.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/api/apps/v2/jscode2session");
    assert_eq!(request.url.query(), None, "the secret is not in the URL");
    assert!(
        request.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({"appid": TT_APP, "secret": TT_SECRET, "code": code})
    );
}

#[tokio::test]
async fn one_user_has_one_unionid_across_the_wechat_apps_and_one_openid_per_app() {
    // Arrange: WeChat gives the user an openid per app and one unionid.
    let apps = spawn_four_apps().await;

    // Act
    let shop = apps
        .login_to(
            WX_SHOP,
            &openid_in(WX_SHOP),
            SESSION_KEY,
            Some(WECHAT_UNIONID),
        )
        .await;
    let mall = apps
        .login_to(
            WX_MALL,
            &openid_in(WX_MALL),
            OTHER_SESSION_KEY,
            Some(WECHAT_UNIONID),
        )
        .await;

    // Assert
    let shop_me: Value = apps.app.get_me(&shop).await.json().await.unwrap();
    let mall_me: Value = apps.app.get_me(&mall).await.json().await.unwrap();
    assert_eq!(shop_me["unionid"], WECHAT_UNIONID);
    assert_eq!(mall_me["unionid"], WECHAT_UNIONID);
    assert_ne!(shop_me["openid"], mall_me["openid"]);
    assert_eq!(claims(&shop)["unionid"], WECHAT_UNIONID);
    assert_eq!(claims(&mall)["unionid"], WECHAT_UNIONID);
    assert_eq!(
        (shop_me["appid"].as_str(), mall_me["appid"].as_str()),
        (Some(WX_SHOP), Some(WX_MALL))
    );
}

#[tokio::test]
async fn douyins_empty_unionid_is_no_unionid_and_a_real_one_is_kept() {
    let apps = spawn_four_apps().await;

    let without = apps
        .login_to(TT_APP, &openid_in(TT_APP), SESSION_KEY, Some(""))
        .await;
    let with = apps
        .login_to(
            TT_APP,
            "oDouyinUser000000000000000002",
            SESSION_KEY,
            Some("oDouyinUnion0000000000000001"),
        )
        .await;

    assert!(
        claims(&without).get("unionid").is_none(),
        "no unionid claim: {}",
        claims(&without)
    );
    let me: Value = apps.app.get_me(&without).await.json().await.unwrap();
    assert_eq!(me["unionid"], Value::Null);
    let me: Value = apps.app.get_me(&with).await.json().await.unwrap();
    assert_eq!(me["unionid"], "oDouyinUnion0000000000000001");
}

#[tokio::test]
async fn douyins_err_no_maps_to_the_stable_codes_without_retrying() {
    for (err_no, status, code) in [
        (40018, 400, "invalid_code"),
        (40014, 502, "upstream_error"),
        (40015, 502, "upstream_error"),
        (40017, 502, "upstream_error"),
        (12345, 502, "upstream_error"),
    ] {
        // Arrange: answered once, never retried (a code is single-use).
        let apps = spawn_four_apps().await;
        douyin_jscode2session_for("c")
            .respond_with(douyin_says(&douyin_error(err_no, "some tips")))
            .expect(1)
            .mount(&apps.douyin)
            .await;

        // Act
        let response = apps.login_request(TT_APP, "c").await;

        // Assert
        assert_problem(response, status, code).await;
        apps.douyin.verify().await;
    }
}

#[tokio::test]
async fn a_douyin_anonymous_code_is_invalid_code_not_a_platform_fault() {
    // Arrange: what Douyin answers for tt.login()'s anonymousCode: an
    // anonymous_openid and an empty openid.
    let apps = spawn_four_apps().await;
    let mut answer = douyin_session("", SESSION_KEY, "");
    answer["data"]["anonymous_openid"] = serde_json::json!("aDevice0000000000000000000001");
    douyin_jscode2session_for("anon")
        .respond_with(douyin_says(&answer))
        .expect(1)
        .mount(&apps.douyin)
        .await;

    // Act
    let response = apps.login_request(TT_APP, "anon").await;

    // Assert: the client's mistake (400), not an operator error (502).
    assert_problem(response, 400, "invalid_code").await;
}

#[tokio::test]
async fn douyin_busy_is_retried_and_the_login_succeeds_when_it_clears() {
    // Arrange: err_no -1 once, then the session.
    let apps = spawn_four_apps().await;
    douyin_jscode2session_for("c")
        .respond_with(douyin_says(&douyin_error(-1, "system busy")))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&apps.douyin)
        .await;
    douyin_jscode2session_for("c")
        .respond_with(douyin_says(&douyin_session(
            &openid_in(TT_APP),
            SESSION_KEY,
            "",
        )))
        .expect(1)
        .mount(&apps.douyin)
        .await;

    // Act
    let token = issued_token(apps.login_request(TT_APP, "c").await).await;

    // Assert
    assert_eq!(claims(&token)["plat"], "douyin");
    apps.douyin.verify().await;
}

#[tokio::test]
async fn douyin_busy_on_every_attempt_is_upstream_error_after_two_retries() {
    let apps = spawn_four_apps().await;
    douyin_jscode2session_for("c")
        .respond_with(douyin_says(&douyin_error(-1, "system busy")))
        .expect(3)
        .mount(&apps.douyin)
        .await;

    let response = apps.login_request(TT_APP, "c").await;

    assert_problem(response, 502, "upstream_error").await;
    apps.douyin.verify().await;
}

#[tokio::test]
async fn qq_errcodes_map_as_wechats() {
    for (errcode, status, code) in [
        (40029, 400, "invalid_code"),
        (40163, 400, "code_used"),
        (45011, 429, "rate_limited"),
        (40226, 403, "user_blocked"),
        (40125, 502, "upstream_error"),
    ] {
        let apps = spawn_four_apps().await;
        jscode2session_for(QQ_APP, QQ_SECRET, "c")
            .respond_with(wechat_says(json!({"errcode": errcode, "errmsg": "x"})))
            .expect(1)
            .mount(&apps.qq)
            .await;

        let response = apps.login_request(QQ_APP, "c").await;

        assert_problem(response, status, code).await;
    }
}
