//! The simulator's Alipay, Baidu, Kuaishou and Feishu apps end to end,
//! reached through the production clients.

use crate::helpers::{
    app::SIMULATOR_MODE, app::TestApp, app::assert_problem, app::issued_token, app::spawn_app_with,
    app::spawn_simulator, revocations::RevocationFile,
};
use serde_json::{Value, json};

const SIM_APPS: [(&str, &str); 4] = [
    ("2021000000000000", "alipay"),
    ("bdsimulator0000000", "baidu"),
    ("kssimulator0000000", "kuaishou"),
    ("clisimulator000000", "feishu"),
];

async fn sim_login(app: &TestApp, user: &str, appid: &str) -> (String, reqwest::Response) {
    let code = app
        .sim("/sim/login", json!({"user": user, "appid": appid}))
        .await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app.post_login(json!({"code": code, "appid": appid})).await;
    (code, response)
}

#[tokio::test]
async fn each_simulated_platform_logs_in_once_per_code_with_its_own_openid() {
    let app = spawn_simulator().await;
    for (appid, platform) in SIM_APPS {
        let (code, response) = sim_login(&app, "alice", appid).await;
        let token = issued_token(response).await;
        let me: Value = app.get_me(&token).await.json().await.unwrap();
        assert_eq!(me["platform"], platform);
        assert_eq!(me["appid"], appid);
        assert_eq!(
            me["openid"],
            wxauth::sim::app_openid(appid, "alice"),
            "{platform}"
        );
        let again = app.post_login(json!({"code": code, "appid": appid})).await;
        assert_problem(again, 400, "invalid_code").await;
        let elsewhere = app
            .post_login(json!({"code": code, "appid": "wxsimulator0000000"}))
            .await;
        assert_problem(elsewhere, 400, "invalid_code").await;
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for (appid, _) in SIM_APPS {
        assert!(
            metrics.contains(&format!(
                r#"wxauth_logins_total{{app="{appid}",outcome="ok"}} 1"#
            )),
            "{appid}"
        );
    }
}

#[tokio::test]
async fn simulated_user_data_decrypts_on_each_platform_that_has_it() {
    let app = spawn_simulator().await;
    for (appid, platform) in SIM_APPS {
        let token = issued_token(sim_login(&app, "bob", appid).await.1).await;
        let sealed = app
            .post_json(
                "/sim/encrypt",
                &json!({"user": "bob", "appid": appid, "data": {"phoneNumber": "13800000000"}}),
            )
            .await;
        if platform == "feishu" {
            assert_problem(sealed, 400, "unsupported_platform").await;
            continue;
        }
        let sealed: Value = sealed.json().await.unwrap();
        let plain: Value = app
            .post_with_token("/wx/decrypt", &token, sealed)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(plain["phoneNumber"], "13800000000", "{platform}");
    }
}

#[tokio::test]
async fn the_simulated_alipay_gateway_refuses_an_unsigned_request() {
    let app = spawn_simulator().await;
    let code = app
        .sim(
            "/sim/login",
            json!({"user": "alice", "appid": "2021000000000000"}),
        )
        .await["code"]
        .as_str()
        .unwrap()
        .to_owned();

    let answer: Value = app
        .client
        .post(app.url("/sim/alipay/gateway.do"))
        .form(&[
            ("app_id", "2021000000000000"),
            ("method", "alipay.system.oauth.token"),
            ("sign_type", "RSA2"),
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("sign", "AAAA"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(
        answer["error_response"]["sub_code"],
        "isv.invalid-signature"
    );
    // The code was not spent by the refused request.
    let token = app
        .post_login(json!({"code": code, "appid": "2021000000000000"}))
        .await;
    assert_eq!(token.status(), 200);
}

#[tokio::test]
async fn a_banned_alipay_user_cannot_log_in() {
    let openid = wxauth::sim::app_openid("2021000000000000", "mallory");
    let list = RevocationFile::new(&format!("ban {openid}\n"));
    let mut settings = SIMULATOR_MODE.to_vec();
    settings.push(list.setting());
    let app = spawn_app_with(&settings).await;

    let (_, response) = sim_login(&app, "mallory", "2021000000000000").await;

    assert_problem(response, 403, "user_blocked").await;
}
