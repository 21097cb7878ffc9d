//! `notus tuf-client` against repositories python-tuf builds and serves on 127.0.0.1
//! (tests/python/test_tuf_client.py), one Rust test per protocol area so they run in parallel
//! and fail by name. Each area covers an attack class or behaviour the TUF conformance client
//! protocol lists; the Python side asserts exit codes, the exact request list, the bytes kept in
//! the metadata directory and the downloaded artifacts.
use std::process::Command;

fn run_area(area: &str) {
    let Some(python) = notus_e2e::python() else {
        return;
    };
    let client = format!("{} tuf-client", env!("CARGO_BIN_EXE_notus"));
    let out = Command::new(python)
        .args(["-m", "unittest", "-v", &format!("test_tuf_client.{area}")])
        .current_dir(notus_e2e::python_dir())
        .env("NOTUS_CLIENT", client)
        .output()
        .expect("run python");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{area} protocol tests failed:\n{log}");
    assert!(log.contains("\nOK"), "unittest did not report OK:\n{log}");
    eprintln!("{log}");
}

#[test]
fn basic_requests_and_trusted_data() {
    run_area("Basic");
}

#[test]
fn basic_with_ed25519_keys() {
    run_area("Ed25519Keys");
}

#[test]
fn expiration() {
    run_area("Expiry");
}

#[test]
fn file_download_and_cache() {
    run_area("Downloads");
}

#[test]
fn keys_and_thresholds() {
    run_area("Keys");
}

#[test]
fn keys_and_thresholds_with_rsa() {
    run_area("RsaKeys");
}

#[test]
fn role_name_quoting() {
    run_area("Quoting");
}

#[test]
fn rollback_and_fast_forward_recovery() {
    run_area("Rollback");
}

#[test]
fn delegation_graphs() {
    run_area("Delegations");
}

#[test]
fn key_rotations() {
    run_area("Rotations");
}
