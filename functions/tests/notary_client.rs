//! The real `notary` 0.7 client against the `notus-server` binary (embedded adapters and, when
//! the emulator runs, `--aws`): the README's first command works for a new user. The full
//! command matrix lives in the interoperability suite.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `notus-server` on a free loopback port; returns it and its URL.
fn start(args: &[&str]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_notus-server"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("notus-server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    (Server(child), url)
}

fn notary(dir: &Path, trust: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("notary")
        .current_dir(dir)
        .args(["-c", "config.json", "-d", trust])
        .args(args)
        .env("NOTARY_ROOT_PASSPHRASE", "rootpass")
        .env("NOTARY_TARGETS_PASSPHRASE", "targetspass")
        .env("NOTARY_SNAPSHOT_PASSPHRASE", "snappass")
        .output()
        .expect("notary runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn have_notary() -> bool {
    let ok = Command::new("notary").arg("version").output().is_ok();
    if !ok {
        assert!(
            std::env::var("NOTUS_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "the notary client is required (apt-get install notary)"
        );
        eprintln!("notary client not installed: skipping");
    }
    ok
}

fn walkthrough(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("config.json"),
        format!("{{\"remote_server\":{{\"url\":\"{url}\"}}}}"),
    )
    .unwrap();
    std::fs::write(d.join("hello.txt"), "hello\n").unwrap();
    let gun = "example.com/walkthrough";
    let (ok, out) = notary(d, "trust", &["init", "-p", gun]);
    assert!(
        ok && out.contains("Successfully published changes"),
        "{out}"
    );
    let (ok, out) = notary(d, "trust", &["add", "-p", gun, "v1", "hello.txt"]);
    assert!(ok, "{out}");
    // A second client with an empty trust dir sees the target.
    let (ok, out) = notary(d, "trust2", &["list", gun]);
    assert!(ok && out.contains("v1") && out.contains("targets"), "{out}");
    // Snapshot key to the server, then a server-signed snapshot.
    let (ok, out) = notary(d, "trust", &["key", "rotate", gun, "snapshot", "-r"]);
    assert!(ok, "{out}");
    let (ok, out) = notary(d, "trust", &["add", "-p", gun, "v2", "hello.txt"]);
    assert!(ok, "{out}");
    let (ok, out) = notary(d, "trust3", &["list", gun]);
    assert!(ok && out.contains("v1") && out.contains("v2"), "{out}");
    let (ok, out) = notary(d, "trust", &["verify", gun, "v1", "-i", "hello.txt", "-q"]);
    assert!(ok, "{out}");
    let (ok, out) = notary(d, "trust", &["delete", gun, "--remote"]);
    assert!(ok, "{out}");
    let (ok, out) = notary(d, "trust4", &["list", gun]);
    assert!(!ok && out.contains("does not have trust data"), "{out}");
}

#[test]
fn notary_client_against_embedded_server() {
    if !have_notary() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (_server, url) = start(&["--data-dir", data.path().to_str().unwrap()]);
    let health = Command::new("curl")
        .args(["-sf", &format!("{url}/_notary_server/health")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&health.stdout), "{}");
    walkthrough(&url);
}

#[test]
fn notary_client_against_aws_server_on_emulator() {
    if !have_notary() {
        return;
    }
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        assert!(
            std::env::var("NOTUS_REQUIRE_AWS").as_deref() != Ok("1"),
            "emulator required"
        );
        return;
    }
    let suffix = format!("{}", std::process::id());
    let bucket = format!("notus-notary-{suffix}");
    let table = format!("notus-notary-{suffix}");
    let key = format!("alias/notus-notary-{suffix}");
    let (_server, url) = start(&[
        "--aws",
        "--create-missing",
        "--bucket",
        &bucket,
        "--table",
        &table,
        "--kms-key",
        &key,
    ]);
    walkthrough(&url);
}
