//! How the binaries set up their process before serving: transparent huge pages off (see
//! `notus_service::disable_transparent_huge_pages`). The Lambda functions' own check is in
//! `lambda_api.rs`, which runs them under a Runtime API emulator.
use std::process::{Command, Stdio};

use notus_e2e::{spawn_printing_url, transparent_huge_pages_enabled};

#[test]
fn notus_server_runs_without_transparent_huge_pages() {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_notus-server"));
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .stderr(Stdio::null());
    let (server, _url) = spawn_printing_url(cmd);
    // The setting is inherited: only if this process has huge pages can the server's be its own.
    assert!(
        transparent_huge_pages_enabled(std::process::id()),
        "the test runner has transparent huge pages off, so this test cannot tell"
    );
    assert!(!transparent_huge_pages_enabled(server.0.id()));
}
