//! The real `notary` 0.7 client against the `notus-server` binary (embedded adapters and, when
//! the emulator runs, `--aws`): the README's first command works for a new user, and Notary's
//! whole command set works, each step checked by the client's output, with fresh clients seeing
//! every change and the served metadata byte-consistent.

use std::process::{Command, Stdio};

use notus_e2e::notary_suite::{differential, matrix, walkthrough};
use notus_e2e::{Running, notary_available as have_notary, spawn_printing_url};

/// Start `notus-server` on a free loopback port; returns it and its URL.
fn start(args: &[&str]) -> (Running, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_notus-server"));
    cmd.args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stderr(Stdio::null());
    spawn_printing_url(cmd)
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

#[test]
fn notary_command_matrix_against_embedded_server() {
    if !have_notary() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (_server, url) = start(&["--data-dir", data.path().to_str().unwrap()]);
    matrix(&url);
}

#[test]
fn notary_command_matrix_against_aws_server_on_emulator() {
    if !have_notary() || std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        assert!(
            !(have_notary() && std::env::var("NOTUS_REQUIRE_AWS").as_deref() == Ok("1")),
            "emulator required"
        );
        return;
    }
    let suffix = format!("m{}", std::process::id());
    let (_server, url) = start(&[
        "--aws",
        "--create-missing",
        "--bucket",
        &format!("notus-matrix-{suffix}"),
        "--table",
        &format!("notus-matrix-{suffix}"),
        "--kms-key",
        &format!("alias/notus-matrix-{suffix}"),
    ]);
    matrix(&url);
}

#[test]
fn notary_server_upload_probe_against_embedded_server() {
    let data = tempfile::tempdir().unwrap();
    let (_server, url) = start(&["--data-dir", data.path().to_str().unwrap()]);
    differential(&url, "example.com/val");
}

#[test]
fn notary_server_upload_probe_against_aws_server_on_emulator() {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        assert!(
            std::env::var("NOTUS_REQUIRE_AWS").as_deref() != Ok("1"),
            "emulator required"
        );
        return;
    }
    let suffix = format!("v{}", std::process::id());
    let (_server, url) = start(&[
        "--aws",
        "--create-missing",
        "--bucket",
        &format!("notus-probe-{suffix}"),
        "--table",
        &format!("notus-probe-{suffix}"),
        "--kms-key",
        &format!("alias/notus-probe-{suffix}"),
    ]);
    differential(&url, "example.com/val");
}
