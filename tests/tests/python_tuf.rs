//! Interoperability with python-tuf (the TUF reference implementation), both ways:
//!
//! * repositories python-tuf builds at run time (consistent snapshots, a root rotation changing
//!   keys and threshold, ed25519 / ECDSA / RSA-PSS keys, glob paths, path_hash_prefixes,
//!   terminating, succinct hash bins) verify in the Notus engine, and each target is found in the
//!   role python-tuf put it in;
//! * metadata Notus signs in the `tuf` dialect is read by python-tuf's `Metadata.from_bytes`, its
//!   signatures verify with `verify_delegate`, and python-tuf's trusted-metadata state machine
//!   accepts it.
//!
//! Needs the pinned venv (`scripts/test-all` makes it; or set `NOTUS_PYTHON`). Without it the
//! tests say so and pass, unless `NOTUS_REQUIRE_INTEROP=1` (set by CI), where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use notus_e2e::python;
use notus_tuf::build::{self, MetaInput, Signer, UnsignedMetadata};
use notus_tuf::client::TrustedMetadataSet;
use notus_tuf::signers::{EcdsaP256Signer, Ed25519Signer};
use notus_tuf::{Dialect, Error};
use serde_json::{Value, json};

fn script(name: &str) -> PathBuf {
    notus_e2e::python_dir().join(name)
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("notus-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_python(py: &Path, args: &[&Path]) -> (bool, String) {
    let out = Command::new(py)
        .arg(args[0])
        .args(&args[1..])
        .output()
        .expect("run python");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The real clock: python-tuf checks expiry against it, so metadata signed here (a timestamp
/// valid for one day) must be fresh by it. A fixed date made the test fail a day after it.
fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}

/// Depth-first pre-order search for the role that holds `target` (TUF §5.6.7, python-tuf's
/// `_preorder_depth_first_walk`), loading roles from `dir` as it goes.
fn find_target(
    set: &mut TrustedMetadataSet,
    dir: &Path,
    target: &str,
) -> Result<Option<String>, Error> {
    let mut stack: Vec<(String, String)> = vec![("targets".into(), "root".into())];
    let mut visited = std::collections::BTreeSet::new();
    while let Some((role, delegator)) = stack.pop() {
        if !visited.insert(role.clone()) {
            continue;
        }
        if set.targets(&role).is_none() {
            let version = set.snapshot().unwrap().value.meta[&format!("{role}.json")]
                .version
                .unwrap();
            let bytes = std::fs::read(dir.join(format!("{version}.{role}.json"))).unwrap();
            set.update_delegated_targets(&bytes, &role, &delegator)?;
        }
        if set
            .targets(&role)
            .unwrap()
            .value
            .targets
            .contains_key(target)
        {
            return Ok(Some(role));
        }
        let steps = set.delegations_for(&role, target);
        let mut children = Vec::new();
        for s in steps {
            children.push((s.role.clone(), role.clone()));
            if s.terminating {
                stack.clear();
                break;
            }
        }
        stack.extend(children.into_iter().rev());
    }
    Ok(None)
}

#[test]
fn python_tuf_repositories_verify_in_notus() {
    let Some(py) = python() else { return };
    let out = tempdir("pyrepo");
    let (ok, log) = run_python(&py, &[&script("make_tuf_repo.py"), &out]);
    assert!(ok, "make_tuf_repo.py failed:\n{log}");
    let md = out.join("metadata");
    let read = |n: &str| std::fs::read(md.join(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();

    let mut set = TrustedMetadataSet::new(&read("1.root.json"), now()).unwrap();
    assert_eq!(set.dialect(), Dialect::Tuf);
    // Root rotation to 2-of-3 keys of three different types.
    set.update_root(&read("2.root.json")).unwrap();
    assert_eq!(set.root().value.roles["root"].threshold, 2);
    set.update_timestamp(&read("timestamp.json")).unwrap();
    set.update_snapshot(&read("1.snapshot.json"), false)
        .unwrap();
    set.update_targets(&read("1.targets.json")).unwrap();
    for (target, role) in manifest["targets"].as_object().unwrap() {
        let found = find_target(&mut set, &md, target).unwrap();
        assert_eq!(found.as_deref(), role.as_str(), "target {target}");
    }
    // A target outside every delegation is found nowhere.
    assert_eq!(find_target(&mut set, &md, "elsewhere/x").unwrap(), None);

    // And tampering with any of python-tuf's files is refused.
    for name in [
        "2.root.json",
        "timestamp.json",
        "1.snapshot.json",
        "1.targets.json",
        "1.role1.json",
    ] {
        let mut b = read(name);
        let i = b.len() / 2;
        b[i] ^= 0x01;
        let pick =
            |name: &str, this: &str, b: &[u8]| if name == this { b.to_vec() } else { read(this) };
        let mut set = TrustedMetadataSet::new(&read("1.root.json"), now()).unwrap();
        let r = (|| -> Result<(), Error> {
            set.update_root(&pick(name, "2.root.json", &b))?;
            set.update_timestamp(&pick(name, "timestamp.json", &b))?;
            set.update_snapshot(&pick(name, "1.snapshot.json", &b), false)?;
            set.update_targets(&pick(name, "1.targets.json", &b))?;
            set.update_delegated_targets(&pick(name, "1.role1.json", &b), "role1", "targets")?;
            Ok(())
        })();
        assert!(r.is_err(), "{name} tampered and accepted");
    }
}

fn p256_key(seed: u8) -> (EcdsaP256Signer, Value) {
    let mut b = [7u8; 32];
    b[31] = seed;
    let k = EcdsaP256Signer::from_secret(&b, Dialect::Tuf).unwrap();
    let j = serde_json::to_value(k.metadata_key()).unwrap();
    (k, j)
}

fn ed_key(seed: u8) -> (Ed25519Signer, Value) {
    let k = Ed25519Signer::from_seed(&[seed; 32], Dialect::Tuf).unwrap();
    let j = serde_json::to_value(k.metadata_key()).unwrap();
    (k, j)
}

#[test]
fn metadata_notus_signs_is_read_by_python_tuf() {
    let Some(py) = python() else { return };
    let dir = tempdir("notus-signed");
    let t = Dialect::Tuf;
    let exp = build::expires_string(t, now() + Duration::days(365));
    let (root_k, root_j) = p256_key(1);
    let (tgt_k, tgt_j) = ed_key(2);
    let (snap_k, snap_j) = p256_key(3);
    let (ts_k, ts_j) = ed_key(4);
    let (del_k, del_j) = p256_key(5);
    let role = |k: &str| json!({"keyids": [k], "threshold": 1});
    let root = json!({"_type": "root", "spec_version": build::SPEC_VERSION, "consistent_snapshot": true,
        "expires": exp, "version": 1,
        "keys": {root_k.key_id().to_owned(): root_j, tgt_k.key_id().to_owned(): tgt_j, snap_k.key_id().to_owned(): snap_j, ts_k.key_id().to_owned(): ts_j},
        "roles": {"root": role(root_k.key_id()), "targets": role(tgt_k.key_id()), "snapshot": role(snap_k.key_id()), "timestamp": role(ts_k.key_id())},
        "x-notus-unknown-field": {"kept": true}});
    let sign = |v: Value, k: &dyn Signer| {
        UnsignedMetadata::new(t, v)
            .unwrap()
            .sign_with(&[k])
            .unwrap()
    };
    let root_b = sign(root, &root_k);
    let (hashes, length) = notus_tuf::metadata::describe(t, b"hello");
    let targets = json!({"_type": "targets", "spec_version": build::SPEC_VERSION, "expires": exp, "version": 1,
        "targets": {"a/hello.txt": {"length": length, "hashes": hashes, "custom": {"x": 1}}},
        "delegations": {"keys": {del_k.key_id().to_owned(): del_j},
            "roles": [{"name": "role1", "keyids": [del_k.key_id().to_owned()], "threshold": 1, "terminating": true, "paths": ["rel/*"]}]}});
    let targets_b = sign(targets, &tgt_k);
    let role1_b = sign(
        json!({"_type": "targets", "spec_version": build::SPEC_VERSION, "expires": exp, "version": 1, "targets": {}}),
        &del_k,
    );
    let snap_u = build::build_snapshot(
        t,
        1,
        now() + Duration::days(30),
        &[
            MetaInput {
                role: "targets",
                bytes: &targets_b,
                version: 1,
            },
            MetaInput {
                role: "role1",
                bytes: &role1_b,
                version: 1,
            },
        ],
    )
    .unwrap();
    let snap_b = snap_u.sign_with(&[&snap_k]).unwrap();
    let ts_b = build::build_timestamp(t, 1, now() + Duration::days(1), &snap_b, 1)
        .unwrap()
        .sign_with(&[&ts_k])
        .unwrap();
    for (n, b) in [
        ("root.json", &root_b),
        ("targets.json", &targets_b),
        ("role1.json", &role1_b),
        ("snapshot.json", &snap_b),
        ("timestamp.json", &ts_b),
    ] {
        std::fs::write(dir.join(n), b).unwrap();
    }
    std::fs::write(dir.join("roles.txt"), "role1\n").unwrap();
    // Notus's own client accepts it too.
    let mut set = TrustedMetadataSet::new(&root_b, now()).unwrap();
    set.update_timestamp(&ts_b).unwrap();
    set.update_snapshot(&snap_b, false).unwrap();
    set.update_targets(&targets_b).unwrap();
    set.update_delegated_targets(&role1_b, "role1", "targets")
        .unwrap();

    let (ok, log) = run_python(&py, &[&script("verify_notus_repo.py"), &dir]);
    assert!(ok, "python-tuf refused Notus-signed metadata:\n{log}");
    assert!(log.contains("python-tuf accepted 5 files"), "{log}");

    // The check can fail: a signature over different bytes is refused by python-tuf.
    let bad = String::from_utf8(targets_b.clone())
        .unwrap()
        .replace("a/hello.txt", "a/hellp.txt")
        .into_bytes();
    assert_ne!(bad, targets_b);
    std::fs::write(dir.join("targets.json"), &bad).unwrap();
    let (ok, log) = run_python(&py, &[&script("verify_notus_repo.py"), &dir]);
    assert!(!ok, "python-tuf accepted tampered targets:\n{log}");
}
