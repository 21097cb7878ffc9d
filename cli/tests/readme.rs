//! The README's walkthrough, replayed verbatim: the shell block between the `walkthrough` markers
//! runs in a fresh directory with a fresh `$HOME`, `notus` on `PATH`, and the service on a free
//! loopback port in place of the documented `127.0.0.1:4443`. If the README drifts from what
//! `notus` does, this fails.
use std::path::Path;
use std::process::Command;

#[test]
fn readme_walkthrough_runs_as_written() {
    if !Path::new("/usr/lib/softhsm/libsofthsm2.so").exists() {
        if std::env::var("NOTUS_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("SoftHSM2 is not installed (apt-get install softhsm2)");
        }
        eprintln!("SKIPPED: SoftHSM2 not installed");
        return;
    }
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let start = readme
        .find("<!-- walkthrough:start -->")
        .expect("start marker");
    let end = readme.find("<!-- walkthrough:end -->").expect("end marker");
    let block = &readme[start..end];
    let script = block
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(code, _)| code)
        .expect("a sh code block between the markers");

    let server = common::Server::start();
    let script = script.replace("http://127.0.0.1:4443", &server.url);
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_notus")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("PATH", path)
        .env_remove("NOTUS_HOME")
        .env_remove("NOTUS_SERVER")
        .env_remove("NOTUS_PASSPHRASE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "walkthrough failed:\n{stdout}\n{stderr}"
    );
    // The second machine listed the published target.
    assert!(stdout.contains("v1/hello.txt"), "{stdout}");
    assert!(
        stderr.contains("matches the trusted v1/hello.txt"),
        "{stderr}"
    );
    assert!(
        !dir.path().join(".notus/private").exists(),
        "every key stayed on the token"
    );
}

mod common;
