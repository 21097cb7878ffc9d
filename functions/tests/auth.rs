//! Token authentication as notary-server does it, with the real `notary` 0.7 client: challenges
//! that send the client to a token service (tests/python/token_service.py, ES256 JWTs), `push`
//! for writes, `pull` for reads, nothing without a token; and `notus-server` refuses to listen
//! beyond loopback without authentication.
use std::path::Path;
use std::process::{Command, Stdio};

use notus_e2e::{Running, notary_available, notary_config, spawn_printing_url};

/// `notus-server` on a free loopback port with data in `data` and `args` (the auth flags).
fn start(data: &Path, args: &[&str]) -> (Running, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_notus-server"));
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(args)
        .stderr(Stdio::null());
    spawn_printing_url(cmd)
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "-i"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The notary client, with `NOTARY_AUTH` = base64(`auth`) when given.
fn notary(dir: &Path, trust: &str, auth: Option<&str>, args: &[&str]) -> (bool, String) {
    let env: Vec<(&str, String)> = auth
        .map(|a| ("NOTARY_AUTH", notus_tuf::b64_encode(a.as_bytes())))
        .into_iter()
        .collect();
    notus_e2e::notary(dir, trust, &env, args)
}

#[test]
fn refuses_to_listen_beyond_loopback_without_auth() {
    let out = Command::new(env!("CARGO_BIN_EXE_notus-server"))
        .args(["--listen", "0.0.0.0:0", "--data-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without authentication"), "{err}");
}

#[test]
fn notary_client_gets_tokens_and_scopes_are_enforced() {
    if !notary_available() {
        return;
    }
    let Some(python) = notus_e2e::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pubkey = d.join("token-signer.pem");
    let ts = notus_e2e::TokenService::start(&python, &pubkey, "ES256");
    let token_url = ts.url.clone();
    let data = tempfile::tempdir().unwrap();
    let realm = format!("{token_url}/auth/token");
    let (_server, url) = start(
        data.path(),
        &[
            "--auth-realm",
            &realm,
            "--auth-service",
            "notus",
            "--auth-issuer",
            "notus-test-issuer",
            "--auth-key",
            pubkey.to_str().unwrap(),
        ],
    );

    // Challenges exactly as notary-server words them.
    let r = curl(&[&format!("{url}/v2/")]);
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    assert!(
        r.contains(&format!(
            "www-authenticate: Bearer realm=\"{realm}\",service=\"notus\",scope=\"registry:catalog:*\""
        )),
        "{r}"
    );
    let gun = "example.com/authed";
    let r = curl(&["-X", "POST", &format!("{url}/v2/{gun}/_trust/tuf/")]);
    assert!(
        r.contains(&format!("scope=\"repository:{gun}:push,pull\"")),
        "{r}"
    );
    assert!(
        r.contains(r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Class":"","Name":"example.com/authed","Action":"push"},{"Type":"repository","Class":"","Name":"example.com/authed","Action":"pull"}]}]}"#),
        "{r}"
    );
    let r = curl(&[
        "-H",
        "Authorization: Bearer not-a-jwt",
        &format!("{url}/v2/{gun}/_trust/tuf/root.json"),
    ]);
    assert!(
        r.starts_with("HTTP/1.1 401"),
        "a bad token is no token: {r}"
    );
    let r = curl(&[&format!("{url}/_notary_server/health")]);
    assert!(r.starts_with("HTTP/1.1 200"), "health stays open: {r}");

    notary_config(d, &url);
    std::fs::write(d.join("hello.txt"), "hello\n").unwrap();
    // Without credentials, and with pull-only credentials, nothing can be published.
    let (ok, out) = notary(d, "anon", None, &["init", "-p", gun]);
    assert!(!ok, "{out}");
    let (ok, out) = notary(d, "bob", Some("bob:secret"), &["init", "-p", gun]);
    assert!(!ok, "{out}");
    // Alice (push) publishes.
    let (ok, out) = notary(d, "alice", Some("alice:secret"), &["init", "-p", gun]);
    assert!(
        ok && out.contains("Successfully published changes"),
        "{out}"
    );
    let (ok, out) = notary(
        d,
        "alice",
        Some("alice:secret"),
        &["add", "-p", gun, "v1", "hello.txt"],
    );
    assert!(ok, "{out}");
    // Anonymous readers get pull tokens and read.
    let (ok, out) = notary(d, "reader", None, &["list", gun]);
    assert!(ok && out.contains("v1"), "{out}");
    // Deleting needs `*`: bob cannot, alice can.
    let (ok, out) = notary(d, "bob", Some("bob:secret"), &["delete", gun, "--remote"]);
    assert!(!ok, "{out}");
    let (ok, out) = notary(d, "reader2", None, &["list", gun]);
    assert!(
        ok && out.contains("v1"),
        "bob's delete changed nothing: {out}"
    );
    let (ok, out) = notary(
        d,
        "alice",
        Some("alice:secret"),
        &["delete", gun, "--remote"],
    );
    assert!(ok, "{out}");
}

#[test]
fn rs256_tokens_from_an_rsa_issuer_key() {
    let Some(python) = notus_e2e::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pubkey = dir.path().join("rsa-signer.pem");
    let ts = notus_e2e::TokenService::start(&python, &pubkey, "RS256");
    let token_url = ts.url.clone();
    let data = tempfile::tempdir().unwrap();
    let (_server, url) = start(
        data.path(),
        &[
            "--auth-realm",
            &format!("{token_url}/auth/token"),
            "--auth-key",
            pubkey.to_str().unwrap(),
        ],
    );
    let token_for = |scope: &str| -> String {
        let out = Command::new("curl")
            .args(["-sf", "-u", "alice:secret"])
            .arg(format!(
                "{token_url}/auth/token?service=notus&scope={scope}"
            ))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["token"].as_str().unwrap().to_owned()
    };
    let t = token_for("registry:catalog:*");
    let r = curl(&[
        "-H",
        &format!("Authorization: Bearer {t}"),
        &format!("{url}/v2/"),
    ]);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    // The same token does not open a repository it does not name.
    let r = curl(&[
        "-H",
        &format!("Authorization: Bearer {t}"),
        &format!("{url}/v2/example.com/x/_trust/tuf/timestamp.key"),
    ]);
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
}
