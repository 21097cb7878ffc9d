//! Token authentication as notary-server does it, with the real `notary` 0.7 client: challenges
//! that send the client to a token service (tests/python/token_service.py, ES256 JWTs), `push`
//! for writes, `pull` for reads, nothing without a token; and `notus-server` refuses to listen
//! beyond loopback without authentication.
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn first_url(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned()
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "-i"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn notary(dir: &Path, trust: &str, auth: Option<&str>, args: &[&str]) -> (bool, String) {
    let mut c = Command::new("notary");
    c.current_dir(dir)
        .args(["-c", "config.json", "-d", trust])
        .args(args)
        .env("NOTARY_ROOT_PASSPHRASE", "rootpass")
        .env("NOTARY_TARGETS_PASSPHRASE", "targetspass")
        .env("NOTARY_SNAPSHOT_PASSPHRASE", "snappass")
        .env_remove("NOTARY_AUTH");
    if let Some(a) = auth {
        use base64::Engine as _;
        c.env(
            "NOTARY_AUTH",
            base64::engine::general_purpose::STANDARD.encode(a),
        );
    }
    let out = c.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
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
    if Command::new("notary").arg("version").output().is_err() {
        assert!(
            std::env::var("NOTUS_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "the notary client is required"
        );
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
    let mut server = Command::new(env!("CARGO_BIN_EXE_notus-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .args(["--auth-realm", &realm, "--auth-service", "notus"])
        .args(["--auth-issuer", "notus-test-issuer", "--auth-key"])
        .arg(&pubkey)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = first_url(&mut server);
    let _server = Kill(server);

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

    std::fs::write(
        d.join("config.json"),
        format!("{{\"remote_server\":{{\"url\":\"{url}\"}}}}"),
    )
    .unwrap();
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
    let mut server = Command::new(env!("CARGO_BIN_EXE_notus-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .args([
            "--auth-realm",
            &format!("{token_url}/auth/token"),
            "--auth-key",
        ])
        .arg(&pubkey)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = first_url(&mut server);
    let _server = Kill(server);
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
