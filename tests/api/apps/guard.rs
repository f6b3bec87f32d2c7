//! The guard library: a service accepting a set of appids.

use crate::helpers::{
    SESSION_KEY,
    app::{assert_rejected, key_folder},
    apps::{QQ_APP, TT_APP, WX_MALL, WX_SHOP, openid_in, spawn_four_apps},
};

/// A separate actix-web service mounting `guard` on `GET /whoami`, which
/// answers "<appid> <platform> <openid>". Its URL.
fn spawn_service(guard: wxauth::guard::Guard) -> String {
    use actix_web::{App, HttpResponse, HttpServer, web};
    use wxauth::guard::Authenticated;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new().app_data(web::Data::new(guard.clone())).route(
            "/whoami",
            web::get().to(|user: Authenticated| async move {
                HttpResponse::Ok().body(format!(
                    "{} {} {}",
                    user.appid(),
                    user.platform(),
                    user.openid()
                ))
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}/whoami")
}

#[tokio::test]
async fn a_service_mounting_guard_from_config_accepts_both_its_appids_and_refuses_a_third() {
    use wxauth::guard::{Guard, GuardConfig};

    // Arrange: wxauth serving four apps; a service accepting two of them.
    let apps = spawn_four_apps().await;
    let guard = Guard::from_config(&GuardConfig {
        dir: &apps.app.keys_dir,
        issuer: "wxauth",
        appids: vec![WX_SHOP, TT_APP],
        leeway: 30,
        revocations: None,
    })
    .unwrap();
    let url = spawn_service(guard);
    // The service reads the wall clock: real logins, re-signed as of now.
    let now = chrono::Utc::now().timestamp();
    let mut tokens = Vec::new();
    for appid in [WX_SHOP, TT_APP, QQ_APP] {
        let token = apps
            .login_to(appid, &openid_in(appid), SESSION_KEY, None)
            .await;
        tokens.push(apps.app.reissued_at(&token, now));
    }
    let get = |token: &str| apps.app.client.get(&url).bearer_auth(token).send();

    // Act
    let shop = get(&tokens[0]).await.unwrap();
    let douyin = get(&tokens[1]).await.unwrap();
    let qq = get(&tokens[2]).await.unwrap();

    // Assert
    assert_eq!(shop.status(), 200);
    assert_eq!(
        shop.text().await.unwrap(),
        format!("{WX_SHOP} wechat {}", openid_in(WX_SHOP))
    );
    assert_eq!(douyin.status(), 200);
    assert_eq!(
        douyin.text().await.unwrap(),
        format!("{TT_APP} douyin {}", openid_in(TT_APP))
    );
    assert_rejected(qq, "an appid the service does not accept").await;
}

#[tokio::test]
async fn a_service_mounting_guard_from_config_honours_the_revocation_file() {
    use wxauth::guard::{Guard, GuardConfig};

    // Arrange: the mall's user is banned by openid.
    let apps = spawn_four_apps().await;
    let revocations = apps.files.path().join("revocations");
    std::fs::write(
        &revocations,
        format!("# banned\nban {}\n", openid_in(WX_MALL)),
    )
    .unwrap();
    let guard = Guard::from_config(&GuardConfig {
        dir: &apps.app.keys_dir,
        issuer: "wxauth",
        appids: vec![WX_SHOP, WX_MALL],
        leeway: 30,
        revocations: Some(&revocations),
    })
    .unwrap();
    let url = spawn_service(guard);
    let now = chrono::Utc::now().timestamp();
    let shop = apps
        .login_to(WX_SHOP, &openid_in(WX_SHOP), SESSION_KEY, None)
        .await;
    let mall = apps
        .login_to(WX_MALL, &openid_in(WX_MALL), SESSION_KEY, None)
        .await;
    let (shop, mall) = (
        apps.app.reissued_at(&shop, now),
        apps.app.reissued_at(&mall, now),
    );

    // Act
    let allowed = apps.app.client.get(&url).bearer_auth(&shop).send().await;
    let banned = apps.app.client.get(&url).bearer_auth(&mall).send().await;

    // Assert
    assert_eq!(allowed.unwrap().status(), 200);
    assert_rejected(banned.unwrap(), "a banned openid").await;
}

#[test]
fn guard_from_config_refuses_a_revocation_file_it_cannot_read() {
    use wxauth::guard::{Guard, GuardConfig, GuardError};
    let keys = key_folder();

    let result = Guard::from_config(&GuardConfig {
        dir: keys.path(),
        issuer: "wxauth",
        appids: vec![WX_SHOP, WX_MALL],
        leeway: 30,
        revocations: Some(std::path::Path::new("/nonexistent/revocations")),
    });

    assert!(matches!(result, Err(GuardError::Revocations(_))));
}
