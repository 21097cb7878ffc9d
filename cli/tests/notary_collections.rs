//! `notus` on Notary-format collections made by the real `notary` 0.7 client (Debian package
//! `notary`) on the Notus service: a consumer reads and verifies them from an empty home; a
//! publisher imports the Notary trust dir's keys, takes the collection over with
//! `init --existing`, publishes, and `notary` itself sees the result.
use std::path::Path;

use notus_e2e::{notary_available, notary_config};

mod common;
use common::{Server, User, write};

/// Run the real notary client with its own trust dir (a config there names the server); it
/// must succeed.
fn notary(trust_dir: &Path, server: &Server, args: &[&str]) -> String {
    notary_config(trust_dir, &server.url);
    let (ok, text) = notus_e2e::notary(trust_dir, ".", &[], args);
    assert!(ok, "notary {args:?} failed:\n{text}");
    text
}

#[test]
fn notus_reads_and_publishes_a_collection_the_notary_client_made() {
    if !notary_available() {
        return;
    }
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let trust = dir.path().join("notary-trust");
    let gun = "example.com/made-by-notary";
    notary(&trust, &server, &["init", "-p", gun]);
    let v1 = write(dir.path(), "v1.txt", b"published by notary");
    notary(
        &trust,
        &server,
        &["add", "-p", gun, "v1", v1.to_str().unwrap()],
    );

    // A consumer with an empty home reads the Notary collection.
    let bob = User::new(dir.path(), "bob", &server);
    let r = bob.ok(&["list", gun, "--tofu", "-o", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        b"published by notary",
    ));
    assert_eq!(rows[0]["name"], "v1");
    assert_eq!(
        rows[0]["sha256"],
        sha.as_str(),
        "hex, though Notary stores base64"
    );
    bob.ok(&["verify", gun, "v1", v1.to_str().unwrap()]);
    let forged = write(dir.path(), "forged", b"published by notarY");
    bob.fails(&["verify", gun, "v1", forged.to_str().unwrap()]);

    // The publisher moves to notus: import the trust dir's keys, take the collection over.
    let mut alice = User::new(dir.path(), "alice", &server);
    alice.env.extend([
        ("NOTARY_ROOT_PASSPHRASE".to_owned(), "rootpass".to_owned()),
        (
            "NOTARY_TARGETS_PASSPHRASE".to_owned(),
            "targetspass".to_owned(),
        ),
        (
            "NOTARY_SNAPSHOT_PASSPHRASE".to_owned(),
            "snappass".to_owned(),
        ),
    ]);
    let keys: Vec<String> = std::fs::read_dir(trust.join("private"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let mut args = vec!["key", "import"];
    args.extend(keys.iter().map(String::as_str));
    alice.ok(&args);
    let root = bob.root_file(gun);
    let r = alice.ok(&["init", gun, "--existing", "--root", root.to_str().unwrap()]);
    for role in ["root", "targets", "snapshot"] {
        assert!(
            r.stderr.contains(&format!("{role} signed with file:")),
            "{}",
            r.stderr
        );
    }
    let v2 = write(dir.path(), "v2.txt", b"published by notus");
    alice.ok(&["add", gun, "v2", v2.to_str().unwrap()]);
    alice.ok(&["publish", gun]);

    // The notary client, with its own cache, sees both; so does the notus consumer.
    let listed = notary(&trust, &server, &["list", gun]);
    assert!(listed.contains("v1") && listed.contains("v2"), "{listed}");
    let r = bob.ok(&["list", gun, "-o", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    // And notary verifies what notus published.
    notary(
        &trust,
        &server,
        &["verify", gun, "v2", "-i", v2.to_str().unwrap(), "-q"],
    );
}

#[test]
fn notus_creates_a_notary_collection_the_notary_client_follows_through_rotations() {
    if !notary_available() {
        return;
    }
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(dir.path(), "alice", &server);
    let gun = "example.com/made-by-notus";
    alice.ok(&["init", gun, "--format", "notary", "--publish"]);
    // Root lists a self-signed certificate for the collection, as notary init makes it.
    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(alice.root_file(gun)).unwrap()).unwrap();
    assert_eq!(root["signed"]["_type"], "Root");
    let id = root["signed"]["roles"]["root"]["keyids"][0]
        .as_str()
        .unwrap();
    assert_eq!(root["signed"]["keys"][id]["keytype"], "ecdsa-x509");
    let one = write(dir.path(), "one", b"first release");
    alice.ok(&["add", gun, "one", one.to_str().unwrap()]);
    alice.ok(&["publish", gun]);

    // The notary client trusts it on first use, lists and verifies it.
    let trust = dir.path().join("notary-trust");
    let listed = notary(&trust, &server, &["list", gun]);
    assert!(listed.contains("one"), "{listed}");
    notary(
        &trust,
        &server,
        &["verify", gun, "one", "-i", one.to_str().unwrap(), "-q"],
    );

    // Root and snapshot keys rotate; notary, holding root v1, follows the chain.
    alice.ok(&["key", "rotate", gun, "root"]);
    alice.ok(&["key", "rotate", gun, "snapshot", "-r"]);
    let two = write(dir.path(), "two", b"second release");
    alice.ok(&["add", gun, "two", two.to_str().unwrap()]);
    alice.ok(&["publish", gun]);
    let listed = notary(&trust, &server, &["list", gun]);
    assert!(listed.contains("one") && listed.contains("two"), "{listed}");
    notary(
        &trust,
        &server,
        &["verify", gun, "two", "-i", two.to_str().unwrap(), "-q"],
    );
}

#[test]
fn notary_format_delegations_from_notus_and_purge() {
    if !notary_available() {
        return;
    }
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(dir.path(), "alice", &server);
    let gun = "example.com/notary-delegation";
    alice.ok(&["init", gun, "--format", "notary", "--publish"]);
    let r = alice.ok(&[
        "key",
        "generate",
        "--role",
        "targets/releases",
        "--gun",
        gun,
        "-o",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let key = v["reference"].as_str().unwrap().to_owned();
    let r = alice.fails(&[
        "delegation",
        "add",
        gun,
        "releases",
        "--key",
        &key,
        "--paths",
        "rel/",
    ]);
    assert!(r.stderr.contains("start with targets/"), "{}", r.stderr);
    alice.ok(&[
        "delegation",
        "add",
        gun,
        "targets/releases",
        "--key",
        &key,
        "--paths",
        "rel/",
    ]);
    alice.ok(&["publish", gun]);
    let f = write(dir.path(), "x", b"a release");
    alice.ok(&[
        "add",
        gun,
        "rel/x",
        f.to_str().unwrap(),
        "--role",
        "targets/releases",
    ]);
    // Notary paths are prefixes: other/x is not under rel/.
    alice.ok(&[
        "add",
        gun,
        "other/x",
        f.to_str().unwrap(),
        "--role",
        "targets/releases",
    ]);
    let r = alice.fails(&["publish", gun]);
    assert!(r.stderr.contains("outside the paths"), "{}", r.stderr);
    alice.ok(&["reset", gun]);
    alice.ok(&[
        "add",
        gun,
        "rel/x",
        f.to_str().unwrap(),
        "--role",
        "targets/releases",
    ]);
    alice.ok(&["publish", gun]);

    let trust = dir.path().join("notary-trust");
    let listed = notary(&trust, &server, &["list", gun]);
    assert!(
        listed.contains("rel/x") && listed.contains("targets/releases"),
        "{listed}"
    );
    let delegations = notary(&trust, &server, &["delegation", "list", gun]);
    assert!(delegations.contains("rel/"), "{delegations}");

    // Purge the delegate's key everywhere: its targets stop being trusted, for both clients.
    let r = alice.ok(&["delegation", "list", gun, "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let keyid = v[0]["keyids"][0].as_str().unwrap().to_owned();
    alice.ok(&["delegation", "purge", gun, "--key", &keyid]);
    alice.ok(&["publish", gun]);
    let listed = notary(&trust, &server, &["list", gun]);
    assert!(!listed.contains("rel/x"), "{listed}");
    let r = alice.ok(&["list", gun, "-o", "json"]);
    assert_eq!(r.stdout.trim(), "[]");
}

#[test]
fn a_notary_style_delegation_certificate_and_its_imported_key() {
    if !notary_available() {
        return;
    }
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    // What a Notary delegate hands over: a certificate; what it keeps: the key.
    notus_e2e::delegate_key(dir.path());
    let alice = User::new(dir.path(), "alice", &server);
    let gun = "example.com/cert-delegation";
    alice.ok(&["init", gun, "--format", "notary", "--publish"]);
    let key = dir.path().join("deleg-key.pem");
    alice.ok(&[
        "key",
        "import",
        key.to_str().unwrap(),
        "--role",
        "targets/releases",
    ]);
    let cert = dir.path().join("deleg.crt");
    alice.ok(&[
        "delegation",
        "add",
        gun,
        "targets/releases",
        cert.to_str().unwrap(),
        "--paths",
        "rel/",
    ]);
    alice.ok(&["publish", gun]);
    // The certificate is listed as notary lists it; the imported key signs the role.
    let f = write(dir.path(), "a", b"released");
    alice.ok(&[
        "add",
        gun,
        "rel/a",
        f.to_str().unwrap(),
        "--roles",
        "targets/releases",
    ]);
    alice.ok(&["publish", gun]);
    let trust = dir.path().join("notary-trust");
    let listed = notary(&trust, &server, &["list", gun]);
    assert!(
        listed.contains("rel/a") && listed.contains("targets/releases"),
        "{listed}"
    );
    let targets = std::fs::read_to_string(
        alice
            .home
            .join("tuf")
            .join(gun)
            .join("metadata/targets.json"),
    )
    .unwrap();
    assert!(targets.contains("ecdsa-x509"), "{targets}");
}
