//! The `notus` publisher and consumer commands against the real Notus service (embedded
//! adapters, served over HTTP on 127.0.0.1 in this process): init, stage, publish, rebase on
//! another publisher's work, and read back from an empty home with a pinned root or TOFU; keys in
//! encrypted files and on a SoftHSM2 token; refusals change nothing.
use std::path::Path;
use std::process::Command;

mod common;
use common::{Server, User, copy_dir, softhsm, write};

fn names(list_json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(list_json).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn publish_then_read_from_an_empty_home() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(dir.path(), "alice", &server);
    let gun = "example.com/app";
    alice.ok(&["init", gun, "--publish"]);
    let app = write(dir.path(), "app.tar.gz", b"release one");
    alice.ok(&[
        "add",
        gun,
        "v1/app.tar.gz",
        app.to_str().unwrap(),
        "--custom",
        r#"{"a":1}"#,
    ]);
    let extra = write(dir.path(), "extra", b"not meant to ship");
    alice.ok(&[
        "add",
        gun,
        "extra",
        extra.to_str().unwrap(),
        "--roles",
        "targets",
    ]);
    let st = alice.ok(&["status", gun]);
    assert!(
        st.stdout
            .contains("0    add        targets            v1/app.tar.gz")
            && st
                .stdout
                .contains("1    add        targets            extra"),
        "{}",
        st.stdout
    );
    let r = alice.fails(&["reset", gun, "-n", "7"]);
    assert!(r.stderr.contains("no staged change #7"), "{}", r.stderr);
    alice.ok(&["reset", gun, "-n", "1"]);
    let st = alice.ok(&["status", gun]);
    assert!(!st.stdout.contains("extra") && st.stdout.contains("v1/app.tar.gz"));
    alice.ok(&["publish", gun]);
    assert!(
        alice
            .ok(&["status", gun])
            .stdout
            .contains("No unpublished changes")
    );

    // Key files are private and nothing secret is printed.
    for e in std::fs::read_dir(alice.home.join("private")).unwrap() {
        use std::os::unix::fs::PermissionsExt as _;
        let m = e.unwrap().metadata().unwrap().permissions().mode();
        assert_eq!(m & 0o777, 0o600);
    }

    // A consumer with an empty home: refused without a pin, fine with the publisher's root.
    let bob = User::new(dir.path(), "bob", &server);
    let r = bob.fails(&["list", gun]);
    assert!(r.stderr.contains("--root FILE"), "{}", r.stderr);
    let root = alice.root_file(gun);
    let r = bob.ok(&[
        "list",
        gun,
        "--root",
        root.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(names(&r.stdout), ["v1/app.tar.gz"]);
    let r = bob.ok(&["lookup", gun, "v1/app.tar.gz"]);
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"release one"));
    assert_eq!(r.stdout, format!("v1/app.tar.gz sha256:{sha} 11\n"));
    bob.ok(&["verify", gun, "v1/app.tar.gz", app.to_str().unwrap()]);
    let evil = write(dir.path(), "evil", b"release 0ne");
    let r = bob.fails(&["verify", gun, "v1/app.tar.gz", evil.to_str().unwrap()]);
    assert!(r.stderr.contains("does NOT match"), "{}", r.stderr);
    let r = bob.fails(&["lookup", gun, "v2/none"]);
    assert!(r.stderr.contains("not a trusted target"), "{}", r.stderr);

    // TOFU only when asked, and a key-ID pin that does not match is refused.
    let carol = User::new(dir.path(), "carol", &server);
    let r = carol.fails(&["list", gun, "--tofu", "--root-keyid", &"0".repeat(64)]);
    assert!(r.stderr.contains("refusing to trust"), "{}", r.stderr);
    assert!(!carol.root_file(gun).exists());
    carol.ok(&["list", gun, "--tofu"]);
    assert_eq!(
        std::fs::read(carol.root_file(gun)).unwrap(),
        std::fs::read(&root).unwrap()
    );
}

#[test]
fn publish_rebases_on_another_publishers_work() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(dir.path(), "alice", &server);
    let gun = "example.com/shared";
    alice.ok(&["init", gun, "--publish"]);
    // A second machine of the same team: a copy of the home (same keys), then it goes stale.
    let twin = User::new(dir.path(), "twin", &server);
    copy_dir(&alice.home, &twin.home);
    let a = write(dir.path(), "a", b"from alice");
    alice.ok(&["add", gun, "a", a.to_str().unwrap()]);
    alice.ok(&["publish", gun]);
    let b = write(dir.path(), "b", b"from twin");
    twin.ok(&["add", gun, "b", b.to_str().unwrap()]);
    twin.ok(&["remove", gun, "never-there"]);
    twin.ok(&["publish", gun]);
    let r = alice.ok(&["list", gun, "-o", "json"]);
    assert_eq!(
        names(&r.stdout),
        ["a", "b"],
        "the twin's publish kept alice's target"
    );
}

#[test]
fn bad_input_stages_nothing_and_a_stranger_cannot_take_over() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(dir.path(), "alice", &server);
    let gun = "example.com/guarded";
    alice.ok(&["init", gun, "--publish"]);
    let r = alice.fails(&["addhash", gun, "x", "3", "--sha256", "abcd"]);
    assert!(r.stderr.contains("32 bytes"), "{}", r.stderr);
    let r = alice.fails(&["add", gun, "x", "/nonexistent/file"]);
    assert!(r.stderr.contains("reading"), "{}", r.stderr);
    alice.fails(&["add", gun, "x", "/etc/hostname", "--custom", "{not json"]);
    assert!(
        alice
            .ok(&["status", gun])
            .stdout
            .contains("No unpublished changes")
    );
    alice.ok(&["addhash", gun, "x", "3", "--sha256", &"ab".repeat(32)]);
    alice.ok(&["reset", gun]);
    assert!(
        alice
            .ok(&["status", gun])
            .stdout
            .contains("No unpublished changes")
    );
    let r = alice.fails(&["init", gun]);
    assert!(r.stderr.contains("already initialised"), "{}", r.stderr);
    let r = alice.fails(&["init", "../escape"]);
    assert!(
        r.stderr.contains("not a valid collection name"),
        "{}",
        r.stderr
    );

    // Mallory has her own keys and tries to publish a new root for alice's collection.
    let mallory = User::new(dir.path(), "mallory", &server);
    let r = mallory.fails(&["init", gun, "--publish"]);
    assert!(r.stderr.contains("refused the upload"), "{}", r.stderr);
    let r = alice.ok(&["list", gun, "-o", "json"]);
    assert_eq!(names(&r.stdout), Vec::<String>::new());
    // A wrong passphrase cannot sign, and publishes nothing.
    let file = write(dir.path(), "f", b"data");
    alice.ok(&["add", gun, "f", file.to_str().unwrap()]);
    let mut wrong = User::new(dir.path(), "alice", &server);
    wrong.env = vec![("NOTUS_PASSPHRASE".into(), "wrong".into())];
    let r = wrong.fails(&["publish", gun]);
    assert!(r.stderr.contains("wrong passphrase"), "{}", r.stderr);
    assert!(!r.stderr.contains("PRIVATE KEY") && !r.stdout.contains("PRIVATE KEY"));
    let bob = User::new(dir.path(), "bob", &server);
    let root = alice.root_file(gun);
    let r = bob.ok(&["list", gun, "--root", root.to_str().unwrap(), "-o", "json"]);
    assert!(names(&r.stdout).is_empty());
}

#[test]
fn notary_trust_dir_keys_import_and_sign() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let mut alice = User::new(dir.path(), "alice", &server);
    // A throwaway targets key written by notary 0.7 (PBES2, PBKDF2-HMAC-SHA1, AES-256-CBC;
    // passphrase "targetspass"), from the Notary reference vectors.
    let targets_key =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/notary-targets.key");
    // Wrong Notary passphrase: a clear refusal, no key file written.
    alice
        .env
        .push(("NOTARY_TARGETS_PASSPHRASE".into(), "nope".into()));
    let r = alice.fails(&["key", "import", targets_key.to_str().unwrap()]);
    assert!(r.stderr.contains("could not decrypt"), "{}", r.stderr);
    assert!(
        !alice.home.join("private").exists()
            || std::fs::read_dir(alice.home.join("private"))
                .unwrap()
                .count()
                == 0
    );
    alice.env.retain(|(k, _)| k != "NOTARY_TARGETS_PASSPHRASE");
    alice
        .env
        .push(("NOTARY_TARGETS_PASSPHRASE".into(), "targetspass".into()));
    let r = alice.ok(&["key", "import", targets_key.to_str().unwrap(), "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let reference = v[0]["reference"].as_str().unwrap().to_owned();
    assert_eq!(v[0]["role"], "targets");
    // Re-encrypted with scrypt, under the Notus passphrase.
    let fp = reference.strip_prefix("file:").unwrap();
    let text = std::fs::read_to_string(alice.home.join(format!("private/{fp}.key"))).unwrap();
    assert!(text.contains("gun: example.com/vectors") && text.contains("role: targets"));
    let listed = alice.ok(&["key", "list"]).stdout;
    assert!(listed.contains(&reference), "{listed}");
    let gun = "example.com/imported";
    alice.ok(&["init", gun, "--targets-key", &reference, "--publish"]);
    let f = write(dir.path(), "f", b"signed by an imported key");
    alice.ok(&["add", gun, "f", f.to_str().unwrap()]);
    alice.ok(&["publish", gun]);
    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(alice.root_file(gun)).unwrap()).unwrap();
    let targets_ids = &root["signed"]["roles"]["targets"]["keyids"];
    let key = &root["signed"]["keys"][targets_ids[0].as_str().unwrap()];
    assert_eq!(key["keytype"], "ecdsa");
}

#[test]
fn keys_on_a_pkcs11_token_sign_root_targets_and_snapshot() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let Some(hsm) = softhsm(dir.path(), &["notus-test"]) else {
        return;
    };
    let mut alice = User::new(dir.path(), "alice", &server);
    // No passphrase anywhere: every key is on the token.
    alice.env = hsm.clone();
    let gun = "example.com/token";
    alice.ok(&["init", gun, "--pkcs11-token", "notus-test", "--publish"]);
    let coll: serde_json::Value = serde_json::from_slice(
        &std::fs::read(alice.home.join("tuf").join(gun).join("collection.json")).unwrap(),
    )
    .unwrap();
    for role in ["root", "targets", "snapshot"] {
        assert!(
            coll["keys"][role][0]
                .as_str()
                .unwrap()
                .starts_with("pkcs11:token=notus-test;"),
            "{coll}"
        );
    }
    assert!(
        !alice.home.join("private").exists(),
        "no key file was written"
    );
    let f = write(dir.path(), "f", b"signed on the token");
    alice.ok(&["add", gun, "f", f.to_str().unwrap()]);
    // A wrong PIN is an error and publishes nothing.
    let mut wrong = User::new(dir.path(), "alice", &server);
    wrong.env = hsm.clone();
    wrong.env.retain(|(k, _)| k != "NOTUS_PKCS11_PIN");
    wrong.env.push(("NOTUS_PKCS11_PIN".into(), "000000".into()));
    let r = wrong.fails(&["publish", gun]);
    assert!(r.stderr.contains("refused the PIN"), "{}", r.stderr);
    assert!(!r.stderr.contains("000000"), "the PIN is never echoed");
    alice.ok(&["publish", gun]);
    let bob = User::new(dir.path(), "bob", &server);
    let root = alice.root_file(gun);
    bob.ok(&[
        "verify",
        gun,
        "f",
        f.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ]);
}

/// Put `data` where a TUF client with consistent snapshots fetches target `name`:
/// `<dir>/<sha256>.<basename>`.
fn place_target(dir: &Path, name: &str, data: &[u8]) {
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data));
    let (parent, base) = name.rsplit_once('/').unwrap_or(("", name));
    let d = dir.join(parent);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(format!("{sha}.{base}")), data).unwrap();
}

#[test]
fn python_tuf_ngclient_reads_what_notus_publishes() {
    ngclient_reads(Server::start());
}

#[test]
fn python_tuf_ngclient_reads_what_notus_publishes_on_aws_adapters() {
    if let Some(server) = Server::start_aws("ngclient") {
        ngclient_reads(server);
    }
}

fn ngclient_reads(server: Server) {
    let Some(python) = notus_e2e::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(dir.path(), "alice", &server);
    let gun = "example.com/pytuf";
    alice.ok(&["init", gun, "--publish"]);
    let key = alice.ok(&["key", "generate", "--role", "releases", "-o", "json"]);
    let key: serde_json::Value = serde_json::from_str(&key.stdout).unwrap();
    let key = key["reference"].as_str().unwrap();
    alice.ok(&[
        "delegation",
        "add",
        gun,
        "releases",
        "--key",
        key,
        "--paths",
        "releases/*",
    ]);
    let top = write(dir.path(), "top", b"top-level target");
    let rel = write(dir.path(), "rel", b"a release, signed by the delegate");
    alice.ok(&["add", gun, "top.txt", top.to_str().unwrap()]);
    alice.ok(&[
        "add",
        gun,
        "releases/v1.tar",
        rel.to_str().unwrap(),
        "--role",
        "releases",
    ]);
    alice.ok(&["publish", gun]);
    let targets = dir.path().join("static");
    place_target(&targets, "top.txt", b"top-level target");
    place_target(
        &targets,
        "releases/v1.tar",
        b"a release, signed by the delegate",
    );

    let state = dir.path().join("pystate");
    std::fs::create_dir_all(&state).unwrap();
    let metadata_url = format!("{}/v2/{gun}/_trust/tuf/", server.url);
    let root = alice.root_file(gun);
    let run = |mode: &str, names: &[&str]| -> serde_json::Value {
        let out = Command::new(&python)
            .arg(notus_e2e::python_dir().join("ngclient_reads_notus.py"))
            .args([
                &metadata_url,
                root.to_str().unwrap(),
                targets.to_str().unwrap(),
            ])
            .arg(&state)
            .arg(mode)
            .args(names)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "python-tuf {mode} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = run("download", &["top.txt", "releases/v1.tar", "missing"]);
    assert_eq!(first["downloads"]["top.txt"], "top-level target");
    assert_eq!(
        first["downloads"]["releases/v1.tar"],
        "a release, signed by the delegate"
    );
    assert_eq!(first["downloads"]["missing"], serde_json::Value::Null);

    // A new version moves the timestamp on; then the attacks.
    let top2 = write(dir.path(), "top2", b"top-level target, v2");
    alice.ok(&["add", gun, "top.txt", top2.to_str().unwrap()]);
    alice.ok(&["publish", gun]);
    place_target(&targets, "top.txt", b"top-level target, v2");
    let attacks = run("attacks", &["top.txt"]);
    assert!(
        attacks["timestamp_version"].as_u64() > first["timestamp_version"].as_u64(),
        "{attacks}"
    );
    assert_eq!(
        attacks["tampered_target"], "refused: LengthOrHashMismatchError",
        "{attacks}"
    );
    assert_eq!(
        attacks["replayed_timestamp"], "refused: BadVersionNumberError",
        "{attacks}"
    );
}

fn targets_version(user: &User, gun: &str) -> u64 {
    let path = user
        .home
        .join("tuf")
        .join(gun)
        .join("metadata/targets.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["signed"]["version"].as_u64().unwrap()
}

#[test]
fn a_delegate_publishes_with_only_its_key_and_everyday_commands_work() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(dir.path(), "alice", &server);
    let gun = "example.com/team";
    alice.ok(&["init", gun, "--publish"]);

    // Dave, on his own machine, makes a key and hands alice only its public half.
    let dave = User::new(dir.path(), "dave", &server);
    let r = dave.ok(&[
        "key", "generate", "--role", "releases", "--gun", gun, "-o", "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let dave_key = v["reference"].as_str().unwrap().to_owned();
    let public = dave.ok(&["key", "export", &dave_key, "--public"]).stdout;
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
    assert!(!public.contains("PRIVATE"));
    let pubfile = write(dir.path(), "dave.pub.pem", public.as_bytes());
    alice.ok(&[
        "delegation",
        "add",
        gun,
        "releases",
        pubfile.to_str().unwrap(),
        "--paths",
        "releases/*",
    ]);
    alice.ok(&["publish", gun]);

    // Dave takes part with only his delegation key.
    let root = alice.root_file(gun);
    let r = dave.ok(&["init", gun, "--existing", "--root", root.to_str().unwrap()]);
    assert!(r.stderr.contains("releases signed with"), "{}", r.stderr);
    let rel = write(dir.path(), "rel", b"dave's release");
    dave.ok(&[
        "add",
        gun,
        "releases/1.0",
        rel.to_str().unwrap(),
        "--role",
        "releases",
    ]);
    // A delegate cannot sign snapshots: until the server does, the upload is refused.
    let r = dave.fails(&["publish", gun]);
    assert!(r.stderr.contains("snapshot -r"), "{}", r.stderr);
    alice.ok(&["key", "rotate", gun, "snapshot", "-r"]);
    dave.ok(&["publish", gun]);
    // Staging is local and allowed; publishing a targets change needs the targets key.
    dave.ok(&["add", gun, "top", rel.to_str().unwrap()]);
    let r = dave.fails(&["publish", gun]);
    assert!(
        r.stderr.contains("targets needs 1 signature"),
        "{}",
        r.stderr
    );
    dave.ok(&["reset", gun]);
    let r = alice.ok(&["list", gun, "-o", "json"]);
    assert_eq!(names(&r.stdout), ["releases/1.0"]);

    // witness: re-sign targets unchanged.
    let before = targets_version(&alice, gun);
    alice.ok(&["witness", gun, "targets"]);
    assert!(alice.ok(&["status", gun]).stdout.contains("witness"));
    alice.ok(&["publish", gun]);
    assert_eq!(targets_version(&alice, gun), before + 1);

    // key passwd: the old passphrase stops working, the new one works.
    let keys = alice.ok(&["key", "list", "-o", "json"]).stdout;
    let keys: serde_json::Value = serde_json::from_str(&keys).unwrap();
    let targets_key = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == "targets")
        .unwrap()["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut changing = User::new(dir.path(), "alice", &server);
    changing.env.push((
        "NOTUS_NEW_PASSPHRASE".into(),
        "a much better passphrase".into(),
    ));
    changing.ok(&["key", "passwd", &targets_key]);
    alice.ok(&["witness", gun, "targets"]);
    let r = alice.fails(&["publish", gun]);
    assert!(r.stderr.contains("wrong passphrase"), "{}", r.stderr);
    let mut renewed = User::new(dir.path(), "alice", &server);
    renewed.env = vec![
        (
            "NOTUS_TARGETS_PASSPHRASE".into(),
            "a much better passphrase".into(),
        ),
        ("NOTUS_PASSPHRASE".into(), common::PASS.into()),
    ];
    renewed.ok(&["publish", gun]);

    // completions, then delete everywhere.
    let c = alice.ok(&["completions", "bash"]).stdout;
    assert!(
        c.contains("notus") && c.contains("delegation"),
        "completion script"
    );
    alice.ok(&["delete", gun, "--remote"]);
    assert!(!alice.home.join("tuf").join(gun).exists());
    let r = dave.fails(&["list", gun]);
    assert!(r.stderr.contains("404"), "{}", r.stderr);
}

#[test]
fn targets_signed_by_an_aws_kms_key() {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        if std::env::var("NOTUS_REQUIRE_AWS").as_deref() == Ok("1") {
            panic!("AWS_ENDPOINT_URL is not set: start the emulator (localstack/start)");
        }
        eprintln!("SKIPPED: no AWS endpoint (eval \"$(localstack/start)\")");
        return;
    }
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let ci = User::new(dir.path(), "ci", &server);
    let r = ci.ok(&[
        "key",
        "generate",
        "--role",
        "targets",
        "--aws-kms",
        "-o",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let kms_key = v["reference"].as_str().unwrap().to_owned();
    assert!(kms_key.starts_with("aws-kms:"), "{kms_key}");
    let gun = "example.com/from-ci";
    ci.ok(&["init", gun, "--targets-key", &kms_key, "--publish"]);
    let f = write(dir.path(), "artifact", b"built and signed in CI");
    ci.ok(&["add", gun, "artifact", f.to_str().unwrap()]);
    ci.ok(&["publish", gun]);
    let bob = User::new(dir.path(), "bob", &server);
    let root = ci.root_file(gun);
    bob.ok(&[
        "verify",
        gun,
        "artifact",
        f.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ]);
    // No key file for the targets role: only root and snapshot are files.
    let files = std::fs::read_dir(ci.home.join("private")).unwrap().count();
    assert_eq!(files, 2);
    let r = ci.fails(&["key", "export", &kms_key]);
    assert!(r.stderr.contains("never leaves"), "{}", r.stderr);
}
