//! The real `notary` 0.7 client's whole workflow against a running Notus at a URL, whatever
//! serves it (notus-server on either backend, or a deployed stack through its CDN): the README
//! walkthrough, Notary's full command set, and notary-server's upload probe. Each step is checked
//! by the client's output, fresh clients (empty trust dirs) see every change, and the served
//! metadata is byte-consistent.

use std::path::Path;
use std::process::Command;

use crate::notary_config;

fn notary(dir: &Path, trust: &str, args: &[&str]) -> (bool, String) {
    crate::notary(dir, trust, &[], args)
}

/// The README's first walkthrough: init, add, list from a second client, server-held snapshot,
/// verify, delete.
pub fn walkthrough(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    notary_config(d, url);
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

/// GET a metadata file from the server.
fn get(url: &str, gun: &str, name: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sf", &format!("{url}/v2/{gun}/_trust/tuf/{name}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "GET {name}");
    out.stdout
}

fn sha256_b64(data: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(data))
}

/// The timestamp the server serves names exactly the snapshot it serves, and the snapshot exactly
/// the root and targets it serves (byte parity of generated metadata).
fn served_chain_is_consistent(url: &str, gun: &str) {
    let ts: serde_json::Value = serde_json::from_slice(&get(url, gun, "timestamp.json")).unwrap();
    let snapshot = get(url, gun, "snapshot.json");
    let rec = &ts["signed"]["meta"]["snapshot"];
    assert_eq!(rec["hashes"]["sha256"], sha256_b64(&snapshot).as_str());
    assert_eq!(rec["length"], snapshot.len());
    let snap: serde_json::Value = serde_json::from_slice(&snapshot).unwrap();
    for role in ["root", "targets"] {
        let bytes = get(url, gun, &format!("{role}.json"));
        assert_eq!(
            snap["signed"]["meta"][role]["hashes"]["sha256"],
            sha256_b64(&bytes).as_str(),
            "{role}"
        );
    }
}

/// Notary's whole command set, each step checked by its output, with fresh clients (empty trust
/// dirs) seeing every change.
pub fn matrix(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    notary_config(d, url);
    std::fs::write(d.join("file1.txt"), "first file\n").unwrap();
    std::fs::write(d.join("file2.txt"), "second file\n").unwrap();
    crate::delegate_key(d);
    let gun = "example.com/matrix";
    let run = |trust: &str, args: &[&str]| {
        let (ok, out) = notary(d, trust, args);
        assert!(ok, "notary {args:?}:\n{out}");
        out
    };
    let fresh = |n: &str| format!("fresh-{n}");

    // init, and byte parity of the root notary signed.
    let out = run("trust", &["init", "-p", gun]);
    assert!(out.contains("Successfully published changes"), "{out}");
    let local_root = std::fs::read(d.join(format!("trust/tuf/{gun}/metadata/root.json"))).unwrap();
    assert_eq!(
        get(url, gun, "root.json"),
        local_root,
        "root served byte for byte"
    );

    // add + status + publish.
    let out = run("trust", &["add", gun, "v1", "file1.txt"]);
    assert!(out.contains("Addition of target \"v1\""), "{out}");
    let out = run("trust", &["status", gun]);
    assert!(out.contains("create") && out.contains("v1"), "{out}");
    let out = run("trust", &["publish", gun]);
    assert!(out.contains("Successfully published changes"), "{out}");
    served_chain_is_consistent(url, gun);

    // addhash with custom data; lookup and list from a fresh client.
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"second file\n"));
    std::fs::write(d.join("custom.json"), r#"{"k":"v"}"#).unwrap();
    run(
        "trust",
        &[
            "addhash",
            "-p",
            gun,
            "v2",
            "12",
            "--sha256",
            &sha,
            "--custom",
            "custom.json",
        ],
    );
    let out = run(&fresh("a"), &["lookup", gun, "v2"]);
    assert!(out.contains(&format!("v2 sha256:{sha} 12")), "{out}");
    let targets = String::from_utf8(get(url, gun, "targets.json")).unwrap();
    assert!(targets.contains(r#""custom":{"k":"v"}"#), "{targets}");

    // verify, good and bad.
    run("trust", &["verify", gun, "v1", "-i", "file1.txt", "-q"]);
    let (ok, out) = notary(d, "trust", &["verify", gun, "v1", "-i", "file2.txt"]);
    assert!(!ok && out.contains("did not match"), "{out}");

    // remove, reset.
    run("trust", &["remove", gun, "v1"]);
    run("trust", &["add", gun, "v3", "file2.txt"]);
    let out = run("trust", &["status", gun]);
    assert!(out.contains("delete") && out.contains("v3"), "{out}");
    run("trust", &["reset", gun, "--all"]);
    let out = run("trust", &["status", gun]);
    assert!(out.contains("No unpublished changes"), "{out}");
    run("trust", &["remove", "-p", gun, "v1"]);
    let out = run(&fresh("b"), &["list", gun]);
    assert!(!out.contains("v1 ") && out.contains("v2"), "{out}");

    // Delegations: --paths and --all-paths, list, a delegate publishing with only its key.
    run(
        "trust",
        &[
            "key",
            "import",
            "deleg-key.pem",
            "--role",
            "targets/releases",
        ],
    );
    run(
        "trust",
        &[
            "delegation",
            "add",
            "-p",
            gun,
            "targets/releases",
            "deleg.crt",
            "--paths",
            "rel/",
        ],
    );
    run(
        "trust",
        &[
            "delegation",
            "add",
            "-p",
            gun,
            "targets/all",
            "deleg.crt",
            "--all-paths",
        ],
    );
    let out = run(&fresh("c"), &["delegation", "list", gun]);
    assert!(
        out.contains("targets/releases") && out.contains("rel/"),
        "{out}"
    );
    assert!(
        out.contains("targets/all") && out.contains("<all paths>"),
        "{out}"
    );
    let out = run("trust", &["key", "rotate", gun, "snapshot", "-r"]);
    assert!(out.contains("Successfully rotated snapshot key"), "{out}");
    run(
        "delegate",
        &[
            "key",
            "import",
            "deleg-key.pem",
            "--role",
            "targets/releases",
        ],
    );
    run(
        "delegate",
        &[
            "add",
            "-p",
            gun,
            "rel/x",
            "file2.txt",
            "--roles",
            "targets/releases",
        ],
    );
    let out = run(&fresh("d"), &["list", gun]);
    assert!(
        out.contains("rel/x") && out.contains("targets/releases"),
        "{out}"
    );
    // Outside its paths the delegate is refused.
    let (ok, out) = notary(
        d,
        "delegate",
        &[
            "add",
            "-p",
            gun,
            "other/y",
            "file2.txt",
            "--roles",
            "targets/releases",
        ],
    );
    assert!(!ok, "{out}");
    run("delegate", &["reset", gun, "--all"]);

    // witness, base and delegated roles.
    let out = run("trust", &["witness", "-p", gun, "targets/releases"]);
    assert!(out.contains("successfully marked for witnessing"), "{out}");
    run("trust", &["witness", "-p", gun, "targets"]);

    // delegation remove (whole role) and purge.
    run(
        "trust",
        &["delegation", "remove", "-p", "-y", gun, "targets/all"],
    );
    let out = run(&fresh("e"), &["delegation", "list", gun]);
    assert!(!out.contains("targets/all"), "{out}");
    let keyid = out
        .lines()
        .find(|l| l.starts_with("targets/releases"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or_else(|| panic!("no key id in {out}"))
        .to_owned();
    run(
        "trust",
        &["delegation", "purge", "-p", gun, "--key", &keyid],
    );
    let out = run(&fresh("f"), &["list", gun]);
    assert!(
        !out.contains("rel/x"),
        "purged delegate's targets are gone: {out}"
    );

    // Snapshot back to the client, timestamp rotated on the server.
    run("trust", &["key", "rotate", gun, "snapshot"]);
    run("trust", &["add", "-p", gun, "v4", "file1.txt"]);
    served_chain_is_consistent(url, gun);
    run("trust", &["key", "rotate", gun, "timestamp", "-r"]);
    let out = run(&fresh("g"), &["list", gun]);
    assert!(out.contains("v4"), "{out}");

    // Root rotated twice; a client holding the old root walks the chain.
    run("old", &["list", gun]);
    for _ in 0..2 {
        let (_, text) =
            crate::notary_answering(d, "trust", &[], &["key", "rotate", gun, "root"], b"yes\n");
        assert!(text.contains("Successfully rotated root key"), "{text}");
    }
    run("trust", &["add", "-p", gun, "v5", "file2.txt"]);
    let out = run("old", &["list", gun]);
    assert!(
        out.contains("v4") && out.contains("v5"),
        "old client after root rotations: {out}"
    );

    // targets key rotation.
    let out = run("trust", &["key", "rotate", gun, "targets"]);
    assert!(out.contains("Successfully rotated targets key"), "{out}");
    run("trust", &["add", "-p", gun, "v6", "file1.txt"]);
    let out = run(&fresh("h"), &["list", gun]);
    assert!(out.contains("v6") && out.contains("v2"), "{out}");
    served_chain_is_consistent(url, gun);

    // delete --remote.
    run("trust", &["delete", gun, "--remote"]);
    let (ok, out) = notary(d, &fresh("i"), &["list", gun]);
    assert!(!ok && out.contains("does not have trust data"), "{out}");
}

/// The notary-server upload probe (tests/notary/validation_tests.py, 42 cases) against Notus:
/// every case must get notary-server's status and error code (recorded with notary-signer in
/// tests/notary/validation_results_signer.json), except where Notus is stricter on purpose
/// (docs/compatibility.md).
pub fn differential(url: &str, gun: &str) {
    let Some(python) = crate::python() else {
        return;
    };
    let probe = Path::new(env!("CARGO_MANIFEST_DIR")).join("notary");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.json");
    let run = Command::new(python)
        .arg(probe.join("validation_tests.py"))
        .args([url, gun])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let read = |p: &Path| -> Vec<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let expected = read(&probe.join("validation_results_signer.json"));
    let got = read(&out);
    assert_eq!(expected.len(), got.len());
    let outcome = |v: &serde_json::Value| {
        let body: serde_json::Value =
            serde_json::from_str(v["body"].as_str().unwrap_or("")).unwrap_or_default();
        (
            v["status"].as_u64().unwrap(),
            body["errors"][0]["code"].as_str().unwrap_or("").to_owned(),
        )
    };
    // Notus refuses a target outside its delegation's paths (notary-server stores it).
    let stricter = [(
        "delegation with target outside its paths (server view)",
        (400u64, "INVALID_UPDATE"),
    )];
    let mut differ = Vec::new();
    for (e, g) in expected.iter().zip(&got) {
        let case = e["case"].as_str().unwrap();
        assert_eq!(case, g["case"].as_str().unwrap());
        let (want, have) = (outcome(e), outcome(g));
        match stricter.iter().find(|(c, _)| *c == case) {
            Some((_, (status, code))) => assert_eq!(
                (have.0, have.1.as_str()),
                (*status, *code),
                "{case}: the documented stricter answer"
            ),
            None if want != have => differ.push(format!("{case}: notary {want:?}, notus {have:?}")),
            None => {}
        }
    }
    assert!(
        differ.is_empty(),
        "differences from notary-server:\n{}",
        differ.join("\n")
    );
    eprintln!(
        "{} probe cases: notary-server's outcome on every one",
        got.len()
    );
}
