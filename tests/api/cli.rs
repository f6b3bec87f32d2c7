//! wxauth keygen | keys | inspect.

use crate::helpers::tokens::JsonEdit as _;
use crate::helpers::{
    APPID, FIRST_KID, OPENID, SECRET, SESSION_KEY,
    app::spawn_app,
    process::run_wxauth,
    tokens::{decode_parts, eddsa_header, forge, issued_at, load_key},
};
use std::path::Path;

/// `wxauth inspect token` with the key folder `keys` and our credentials,
/// from an empty working directory.
fn inspect(keys: &Path, token: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("WXAUTH_KEYS_DIR", keys.to_str().unwrap()),
        ("WECHAT_APPID", APPID),
        ("WECHAT_SECRET", SECRET),
    ];
    run_wxauth(dir.path(), &env, &["inspect", token])
}

/// The line of `wxauth keys` output about `kid`.
fn line_of<'a>(out: &'a str, kid: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(kid))
        .unwrap_or_else(|| panic!("no line for {kid} in {out}"))
}

#[test]
fn keygen_writes_an_owner_only_key_and_prints_its_kid() {
    let dir = tempfile::tempdir().unwrap();

    let (code, stdout, _) =
        run_wxauth(dir.path(), &[], &["keygen", "--alg", "es256", "--dir", "k"]);

    assert_eq!(code, 0);
    let kid = stdout.trim();
    assert_eq!(
        kid.len(),
        "YYYYMMDDTHHMMSSZ".len(),
        "default kid is the UTC time: {kid}"
    );
    let path = dir.path().join("k").join(format!("{kid}.pem"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let key = load_key(&dir.path().join("k"), kid);
    assert_eq!(key.alg(), jsonwebtoken::Algorithm::ES256);
}

#[test]
fn keygen_refuses_a_bad_kid_and_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();

    let (bad, _, stderr) = run_wxauth(dir.path(), &[], &["keygen", "--kid", "../escape"]);
    assert_ne!(bad, 0);
    assert!(stderr.contains("kid"), "{stderr}");

    assert_eq!(run_wxauth(dir.path(), &[], &["keygen", "--kid", "k1"]).0, 0);
    assert_ne!(run_wxauth(dir.path(), &[], &["keygen", "--kid", "k1"]).0, 0);
}

#[test]
fn keygen_if_none_writes_the_first_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["keygen", "--dir", "k", "--kid", "first", "--if-none"];

    let (first, stdout, _) = run_wxauth(dir.path(), &[], &args);
    let (again, stdout_again, stderr) = run_wxauth(
        dir.path(),
        &[],
        &["keygen", "--dir", "k", "--kid", "second", "--if-none"],
    );

    assert_eq!((first, stdout.trim()), (0, "first"));
    assert_eq!((again, stdout_again.as_str()), (0, ""));
    assert!(stderr.contains("nothing written"), "{stderr}");
    let files: Vec<_> = std::fs::read_dir(dir.path().join("k"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(files, ["first.pem"]);
}

#[test]
fn keys_lists_kid_alg_role_and_file() {
    let dir = tempfile::tempdir().unwrap();
    for (kid, alg) in [("a1", "eddsa"), ("b2", "rs256")] {
        assert_eq!(
            run_wxauth(dir.path(), &[], &["keygen", "--kid", kid, "--alg", alg]).0,
            0
        );
    }

    // Every key active at once: the greatest kid signs.
    let at_once = [("WXAUTH_KEY_ACTIVATION_DELAY", "0")];
    let (code, stdout, _) = run_wxauth(dir.path(), &at_once, &["keys"]);
    let (_, pinned, _) = run_wxauth(dir.path(), &[("WXAUTH_SIGNING_KID", "a1")], &["keys"]);

    assert_eq!(code, 0);
    assert!(
        line_of(&stdout, "a1").contains("EdDSA") && line_of(&stdout, "a1").contains("verify-only")
    );
    assert!(line_of(&stdout, "b2").contains("RS256") && line_of(&stdout, "b2").contains("signing"));
    assert!(line_of(&stdout, "b2").contains("b2.pem"));
    assert!(line_of(&pinned, "a1").contains("signing"));
}

#[tokio::test]
async fn inspect_prints_header_and_claims_but_never_the_session_key() {
    // Arrange: a real token's claims moved to wall-clock time (inspect reads
    // the system clock), once valid and once expired.
    let app = spawn_app().await;
    let token = app.login().await;
    let now = chrono::Utc::now().timestamp();
    let valid = app.reissued_at(&token, now);
    // Issued 2.5 hours ago: expired half an hour ago.
    let expired = app.reissued_at(&token, now - 9000);

    // Act
    let (valid_code, valid_out, _) = inspect(&app.keys_dir, &valid);
    let (expired_code, expired_out, _) = inspect(&app.keys_dir, &expired);

    // Assert
    assert_eq!(valid_code, 0, "{valid_out}");
    assert!(valid_out.contains("status: valid"), "{valid_out}");
    assert_eq!(expired_code, 1);
    assert!(expired_out.contains("token expired"), "{expired_out}");
    let (_, claims) = decode_parts(&token);
    let sk = claims["sk"].as_str().unwrap();
    for out in [&valid_out, &expired_out] {
        assert!(out.contains(OPENID) && out.contains(FIRST_KID), "{out}");
        assert!(!out.contains(sk), "the sealed sk is not printed");
        assert!(!out.contains(SESSION_KEY));
    }
}

#[tokio::test]
async fn inspect_refuses_a_token_from_another_key() {
    let app = spawn_app().await;
    let token = app.login().await;
    let other = tempfile::tempdir().unwrap();
    wxauth::keyring::write_new_key(other.path(), FIRST_KID, wxauth::keyring::KeyAlg::Eddsa)
        .unwrap();

    let (code, stdout, stderr) = inspect(other.path(), &token);

    assert_ne!(code, 0);
    assert!(stderr.contains("token refused"), "{stderr}");
    assert!(!stdout.contains(OPENID));
}

#[tokio::test]
async fn inspect_prints_the_header_the_token_carries() {
    // A header without typ must not be shown with one.
    let app = spawn_app().await;
    let (_, claims) = decode_parts(&app.login().await);
    let claims = issued_at(&claims, chrono::Utc::now().timestamp());
    let token = forge(
        &app.key(FIRST_KID),
        &eddsa_header(FIRST_KID).without("typ"),
        &claims,
    );

    let (code, stdout, _) = inspect(&app.keys_dir, &token);

    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("\"alg\": \"EdDSA\""), "{stdout}");
    assert!(!stdout.contains("typ"), "{stdout}");
}

/// `openssl genpkey` RSA with `bits` and public exponent `exponent`.
fn openssl_rsa(path: &std::path::Path, bits: u32, exponent: u32) {
    let status = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
        .arg(format!("rsa_keygen_bits:{bits}"))
        .arg("-pkeyopt")
        .arg(format!("rsa_keygen_pubexp:{exponent}"))
        .arg("-out")
        .arg(path)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
}

#[test]
fn rsa_keys_outside_2048_to_4096_bits_or_without_e_65537_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    openssl_rsa(&keys.join("e3.pem"), 2048, 3);
    openssl_rsa(&keys.join("long.pem"), 4160, 65537);
    let env = [
        ("WECHAT_APPID", APPID),
        ("WECHAT_SECRET", SECRET),
        ("WXAUTH_BIND", "127.0.0.1:0"),
    ];

    let (code, _, stderr) = run_wxauth(dir.path(), &env, &["serve"]);

    assert_eq!(code, 1);
    assert!(
        stderr.contains("e3.pem: is an RSA key whose public exponent is not 65537"),
        "{stderr}"
    );
    assert!(
        stderr.contains("long.pem: is an RSA key of 4160 bits; 2048 to 4096 are accepted"),
        "{stderr}"
    );
}

#[test]
fn keys_shows_a_new_key_waiting_out_its_activation_delay() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run_wxauth(dir.path(), &[], &["keygen", "--kid", "a1"]).0, 0);
    let old = std::fs::File::options()
        .write(true)
        .open(dir.path().join("keys/a1.pem"))
        .unwrap();
    old.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();
    assert_eq!(run_wxauth(dir.path(), &[], &["keygen", "--kid", "b2"]).0, 0);

    let (code, stdout, _) = run_wxauth(dir.path(), &[], &["keys"]);
    let (_, at_once, _) = run_wxauth(
        dir.path(),
        &[("WXAUTH_KEY_ACTIVATION_DELAY", "0")],
        &["keys"],
    );

    assert_eq!(code, 0);
    assert!(line_of(&stdout, "a1").contains("signing"), "{stdout}");
    assert!(line_of(&stdout, "b2").contains("verify-only"), "{stdout}");
    assert!(line_of(&stdout, "b2").contains("from 20"), "{stdout}");
    assert!(stdout.contains("next: b2 signs from 20"), "{stdout}");
    assert!(line_of(&at_once, "b2").contains("signing"), "{at_once}");
}

#[test]
fn an_id_that_reads_help_is_an_id_and_a_revoke_in_the_future_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("WXAUTH_REVOCATIONS_FILE", "revocations")];

    let (code, stdout, _) = run_wxauth(dir.path(), &env, &["ban", "help"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("banned help"), "{stdout}");

    let (code, _, stderr) = run_wxauth(
        dir.path(),
        &env,
        &["revoke", "oA", "--at", "2099-01-01T00:00:00Z"],
    );
    assert_eq!(code, 0);
    assert!(
        stderr.contains("warning: --at is in the future"),
        "{stderr}"
    );
    assert!(stderr.contains("wxauth ban oA"), "{stderr}");
    let text = std::fs::read_to_string(dir.path().join("revocations")).unwrap();
    assert!(text.contains("revoke oA 2099-01-01T00:00:00Z"), "{text}");
}
