//! Key rotation and threshold signing with `notus` against the real service: every top-level role
//! rotated (targets to a new file key, snapshot and timestamp to and from the server), a 2-of-3
//! root on three PKCS#11 tokens rotated by signatures gathered offline, and clients holding an
//! old root following each rotation through the signed chain. Retired keys can no longer
//! publish; a bundle short of its threshold changes nothing.
mod common;
use common::{Server, User, copy_dir, softhsm, write};

fn root_version(user: &User, gun: &str) -> u64 {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(user.root_file(gun)).unwrap()).unwrap();
    v["signed"]["version"].as_u64().unwrap()
}

fn names(user: &User, gun: &str) -> Vec<String> {
    let r = user.ok(&["list", gun, "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_top_level_role_rotates_and_old_clients_follow() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(dir.path(), "alice", &server);
    let gun = "example.com/rotating";
    alice.ok(&["init", gun, "--publish"]);
    let f = write(dir.path(), "one", b"one");
    alice.ok(&["add", gun, "one", f.to_str().unwrap()]);
    alice.ok(&["publish", gun]);
    // Bob pins root v1 now and only comes back at the end.
    let bob = User::new(dir.path(), "bob", &server);
    let root_v1 = dir.path().join("root-v1.json");
    std::fs::copy(alice.root_file(gun), &root_v1).unwrap();
    bob.ok(&["list", gun, "--root", root_v1.to_str().unwrap()]);
    // The old targets key, kept by someone who should no longer publish.
    let stale = User::new(dir.path(), "stale", &server);
    copy_dir(&alice.home, &stale.home);

    alice.ok(&["key", "rotate", gun, "targets"]);
    assert_eq!(root_version(&alice, gun), 2);
    let r = alice.fails(&["key", "rotate", gun, "timestamp"]);
    assert!(r.stderr.contains("--server-managed"), "{}", r.stderr);
    alice.ok(&["key", "rotate", gun, "timestamp", "-r"]);
    alice.ok(&["key", "rotate", gun, "snapshot", "-r"]);
    let g = write(dir.path(), "two", b"two");
    alice.ok(&["add", gun, "two", g.to_str().unwrap()]);
    alice.ok(&["publish", gun]); // snapshot now signed by the server
    alice.ok(&["key", "rotate", gun, "snapshot"]); // and back to a key of alice's
    let h = write(dir.path(), "three", b"three");
    alice.ok(&["add", gun, "three", h.to_str().unwrap()]);
    alice.ok(&["publish", gun]);
    alice.ok(&["key", "rotate", gun, "root"]);
    assert_eq!(root_version(&alice, gun), 6);
    let coll: serde_json::Value = serde_json::from_slice(
        &std::fs::read(alice.home.join("tuf").join(gun).join("collection.json")).unwrap(),
    )
    .unwrap();
    assert!(coll["keys"]["snapshot"].is_array(), "{coll}");

    // Bob, still on root v1, walks v2…v6 and sees every target.
    assert_eq!(names(&bob, gun), ["one", "three", "two"]);
    assert_eq!(root_version(&bob, gun), 6);

    // The retired targets key cannot publish any more.
    let x = write(dir.path(), "x", b"from the old key");
    stale.ok(&["add", gun, "x", x.to_str().unwrap()]);
    let r = stale.fails(&["publish", gun]);
    assert!(
        r.stderr.contains("refused") || r.stderr.contains("not enough signatures"),
        "{}",
        r.stderr
    );
    assert_eq!(names(&bob, gun), ["one", "three", "two"]);
}

#[test]
fn threshold_root_on_three_tokens_rotated_with_offline_signatures() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let Some(hsm) = softhsm(dir.path(), &["A", "B", "C"]) else {
        return;
    };
    let mut alice = User::new(dir.path(), "alice", &server);
    alice.env.extend(hsm.clone());
    let gun = "example.com/threshold";
    let mut tokens = Vec::new();
    for t in ["A", "B", "C"] {
        let r = alice.ok(&[
            "key",
            "generate",
            "--role",
            "root",
            "--pkcs11-token",
            t,
            "-o",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        tokens.push(v["reference"].as_str().unwrap().to_owned());
    }
    alice.ok(&[
        "init",
        gun,
        "--root-key",
        &tokens[0],
        "--root-key",
        &tokens[1],
        "--root-key",
        &tokens[2],
        "--root-threshold",
        "2",
        "--publish",
    ]);
    let bob = User::new(dir.path(), "bob", &server);
    let root_v1 = alice.root_file(gun);
    bob.ok(&["list", gun, "--root", root_v1.to_str().unwrap()]);
    let v1: serde_json::Value = serde_json::from_slice(&std::fs::read(&root_v1).unwrap()).unwrap();
    assert_eq!(v1["signed"]["roles"]["root"]["threshold"], 2);
    assert_eq!(v1["signatures"].as_array().unwrap().len(), 3);

    // Rotate root to one new key (threshold 1) with only token A at hand: not enough.
    let new_root = alice.ok(&["key", "generate", "--role", "root", "-o", "json"]);
    let new_root: serde_json::Value = serde_json::from_str(&new_root.stdout).unwrap();
    let new_root = new_root["reference"].as_str().unwrap();
    let r = alice.fails(&[
        "key",
        "rotate",
        gun,
        "root",
        "--key",
        new_root,
        "--threshold",
        "1",
        "--sign-with",
        &tokens[0],
    ]);
    assert!(r.stderr.contains("not enough signatures"), "{}", r.stderr);
    assert!(
        r.stderr.contains("root v1 authorises, has 1"),
        "{}",
        r.stderr
    );
    let bundle = dir.path().join("rotation.bundle");
    let b = bundle.to_str().unwrap();
    alice.ok(&["publish", gun, "--export", b, "--sign-with", &tokens[0]]);
    // Publishing the bundle as it is changes nothing.
    let r = alice.fails(&["publish", gun, "--bundle", b]);
    assert!(r.stderr.contains("needs 2 signature(s)"), "{}", r.stderr);
    bob.ok(&["list", gun]);
    assert_eq!(root_version(&bob, gun), 1);

    // On an offline machine with token B: no server reachable, no collection known.
    let mut airgap = User::new(dir.path(), "airgap", &server);
    airgap.server = "http://127.0.0.1:9".into();
    airgap.env.extend(hsm.clone());
    // It shows what it would sign, and does not sign unasked.
    let before = std::fs::read(&bundle).unwrap();
    let r = airgap.fails(&["sign", b, "--key", &tokens[1]]);
    assert!(r.stderr.contains("root v2: root 1 of ["), "{}", r.stderr);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    assert_eq!(std::fs::read(&bundle).unwrap(), before, "nothing signed");
    let r = airgap.ok(&["sign", b, "--yes", "--key", &tokens[1]]);
    assert!(r.stderr.contains("signed root"), "{}", r.stderr);
    // A key the bundle does not authorise signs nothing.
    let stranger = airgap.ok(&["key", "generate", "--role", "root", "-o", "json"]);
    let stranger: serde_json::Value = serde_json::from_str(&stranger.stdout).unwrap();
    let r = airgap.fails(&[
        "sign",
        b,
        "--yes",
        "--key",
        stranger["reference"].as_str().unwrap(),
    ]);
    assert!(r.stderr.contains("not authorised"), "{}", r.stderr);

    alice.ok(&["publish", gun, "--bundle", b]);
    assert_eq!(root_version(&alice, gun), 2);
    // Bob's client, holding root v1, accepts v2 (2-of-3 old keys and the new key signed it).
    bob.ok(&["list", gun]);
    assert_eq!(root_version(&bob, gun), 2);
    // And the new root key alone now publishes.
    let f = write(dir.path(), "f", b"after the rotation");
    alice.ok(&["add", gun, "f", f.to_str().unwrap()]);
    alice.ok(&["publish", gun]);
    assert_eq!(names(&bob, gun), ["f"]);
}
