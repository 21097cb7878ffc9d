//! Every real Notary 0.7 vector (shared/testdata/notary, produced by the Debian `notary` client,
//! notary-server and notary-signer) verifies through the engine — key IDs, signatures, hashes, the
//! full client walk and the root-rotation chain — and any single changed byte is refused.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use notus_tuf::client::TrustedMetadataSet;
use notus_tuf::keys::{notary_canonical_key_id, notary_key_id};
use notus_tuf::metadata::{Envelope, Root, Targets};
use notus_tuf::{Error, Rejection, canonical};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/notary");

fn read(dir: &str, file: &str) -> Vec<u8> {
    std::fs::read(format!("{VECTORS}/{dir}/{file}")).unwrap_or_else(|e| panic!("{dir}/{file}: {e}"))
}

/// A day after the vectors were made: everything in them is valid then.
fn now() -> DateTime<Utc> {
    "2026-11-26T00:00:00Z".parse().unwrap()
}

/// The full Notary client walk: root → timestamp → snapshot (by hash) → targets → delegation.
fn walk(files: &BTreeMap<&str, Vec<u8>>) -> Result<TrustedMetadataSet, Error> {
    let mut set = TrustedMetadataSet::new(&files["root.json"], now())?;
    set.update_timestamp(&files["timestamp.json"])?;
    set.update_snapshot(&files["snapshot.json"], false)?;
    // Notary's snapshot names the root; a different root is a mismatch (the client would fetch
    // `root.<sha256>.json` and retry once).
    if set.snapshot_root_hash_matches() != Some(true) {
        return Err(Rejection::LengthOrHashMismatch {
            role: "root".into(),
            algorithm: "sha256".into(),
            expected: String::new(),
        }
        .into());
    }
    set.update_targets(&files["targets.json"])?;
    if let Some(d) = files.get("targets_releases.json") {
        set.update_delegated_targets(d, "targets/releases", "targets")?;
    }
    Ok(set)
}

fn load_dir(dir: &str) -> BTreeMap<&'static str, Vec<u8>> {
    let mut m = BTreeMap::new();
    for f in [
        "root.json",
        "timestamp.json",
        "snapshot.json",
        "targets.json",
        "targets_releases.json",
    ] {
        if let Ok(b) = std::fs::read(format!("{VECTORS}/{dir}/{f}")) {
            m.insert(f, b);
        }
    }
    m
}

const DIRS: [&str; 3] = [
    "example.com_vectors",
    "example.com_srvsnap_server_snapshot",
    "local_trust_ed25519",
];

#[test]
fn every_vector_collection_verifies_end_to_end() {
    for dir in DIRS {
        let files = load_dir(dir);
        let set = walk(&files).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!(set.dialect(), notus_tuf::Dialect::Notary);
        assert!(
            !set.targets("targets").unwrap().value.targets.is_empty()
                || dir == "local_trust_ed25519"
        );
    }
}

#[test]
fn key_ids_are_notarys_computed_ids() {
    for dir in DIRS {
        for file in ["root.json", "targets.json"] {
            let env = Envelope::from_bytes(&read(dir, file)).unwrap();
            let keys: BTreeMap<String, notus_tuf::metadata::Key> = if file == "root.json" {
                env.decode::<Root>().unwrap().keys
            } else {
                env.decode::<Targets>()
                    .unwrap()
                    .delegations
                    .map(|d| d.keys)
                    .unwrap_or_default()
            };
            for (id, key) in keys {
                assert_eq!(
                    notary_key_id(&key.keytype, &key.keyval.public),
                    id,
                    "{dir}/{file}"
                );
            }
        }
    }
}

#[test]
fn canonical_ids_of_x509_keys_name_the_private_key_files() {
    // Root cert 215ddde4… ↔ key file 5f2a12c7…; delegation cert 106d2d24… ↔ 37c6a2d0… (vectors README).
    let root: Root = Envelope::from_bytes(&read("example.com_vectors", "root.json"))
        .unwrap()
        .decode()
        .unwrap();
    let cert = root
        .keys
        .iter()
        .find(|(id, _)| id.starts_with("215ddde4"))
        .unwrap()
        .1;
    let canonical = notary_canonical_key_id(&cert.keytype, &cert.keyval.public).unwrap();
    assert!(canonical.starts_with("5f2a12c7"), "{canonical}");
    let targets: Targets = Envelope::from_bytes(&read("example.com_vectors", "targets.json"))
        .unwrap()
        .decode()
        .unwrap();
    let d = targets.delegations.unwrap();
    let dk = d
        .keys
        .iter()
        .find(|(id, _)| id.starts_with("106d2d24"))
        .unwrap()
        .1;
    assert!(
        notary_canonical_key_id(&dk.keytype, &dk.keyval.public)
            .unwrap()
            .starts_with("37c6a2d0")
    );
    for f in std::fs::read_dir(format!("{VECTORS}/keys")).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        if let Some(id) = name.strip_suffix(".key") {
            assert_eq!(id.len(), 64);
        }
    }
}

#[test]
fn file_bytes_are_notarys_envelope_of_the_canonical_signed_bytes() {
    // Byte-exact parity (API §10.2): re-encoding the parsed file reproduces it exactly.
    for dir in DIRS {
        for (name, bytes) in load_dir(dir) {
            let env = Envelope::from_bytes(&bytes).unwrap();
            let sigs: Vec<canonical::NotarySignature> = env
                .signatures
                .iter()
                .map(|s| canonical::NotarySignature {
                    keyid: s.keyid.clone(),
                    method: s.method.clone().unwrap(),
                    sig: s.sig.clone(),
                })
                .collect();
            assert_eq!(
                canonical::notary_envelope(&env.payload, &sigs),
                bytes,
                "{dir}/{name}"
            );
        }
    }
}

#[test]
fn root_rotation_chain_verifies_and_skipping_is_refused() {
    let dir = "example.com_repo1_root_rotation";
    let mut set = TrustedMetadataSet::new(&read(dir, "1.root.json"), now()).unwrap();
    set.update_root(&read(dir, "2.root.json")).unwrap();
    assert_eq!(set.root().value.version, 2);
    let mut set = TrustedMetadataSet::new(&read(dir, "6.root.json"), now()).unwrap();
    // Skipping v7 is refused: 8 is signed by 7's key, not 6's (a rotation step).
    let skip = set
        .clone()
        .update_root(&read(dir, "8.root.json"))
        .unwrap_err();
    assert_eq!(skip, Error::Rejected(Rejection::RootRotation));
    set.update_root(&read(dir, "7.root.json")).unwrap();
    set.update_root(&read(dir, "8.root.json")).unwrap();
    assert_eq!(set.root().value.version, 8);
    // Rolling back is refused too (7 again after 8 is signed by an old key).
    assert!(set.update_root(&read(dir, "7.root.json")).is_err());
}

/// Replace one byte with a different byte.
fn tampered(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] = if b[at] == b'A' { b'B' } else { b'A' };
    b
}

#[test]
fn any_single_changed_byte_in_any_vector_is_refused() {
    for dir in DIRS {
        let files = load_dir(dir);
        for (name, bytes) in &files {
            for at in 0..bytes.len() {
                let mut f = files.clone();
                f.insert(name, tampered(bytes, at));
                assert!(
                    walk(&f).is_err(),
                    "{dir}/{name}: byte {at} changed and still accepted"
                );
                // The root is also refused on its own (it is self-signed).
                if *name == "root.json" {
                    assert!(
                        TrustedMetadataSet::new(&f[name], now()).is_err(),
                        "{dir}: root byte {at} changed and still self-verifies"
                    );
                }
            }
        }
    }
}

/// The right error for each kind of tampering.
#[test]
fn tampering_gets_the_right_error() {
    let dir = "example.com_vectors";
    let files = load_dir(dir);
    let find = |bytes: &[u8], needle: &str| {
        bytes
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())
            .unwrap()
    };

    // A changed signature on the self-signed root: threshold not met.
    let root = &files["root.json"];
    let at = find(root, "\"sig\":\"") + 10;
    let e = TrustedMetadataSet::new(&tampered(root, at), now()).unwrap_err();
    assert!(
        matches!(e, Error::Rejected(Rejection::Threshold { ref role, valid: 0, threshold: 1 }) if role == "root"),
        "{e:?}"
    );

    // A changed signed field on the timestamp (fetched without a hash): threshold not met.
    let ts = &files["timestamp.json"];
    let at = find(ts, "\"expires\":\"") + 12;
    let mut set = TrustedMetadataSet::new(root, now()).unwrap();
    let e = set.update_timestamp(&tampered(ts, at)).unwrap_err();
    assert!(
        matches!(e, Error::Rejected(Rejection::Threshold { ref role, .. }) if role == "timestamp"),
        "{e:?}"
    );

    // Files fetched by hash: any change is a hash mismatch before any parsing.
    for (name, role) in [
        ("snapshot.json", "snapshot"),
        ("targets.json", "targets"),
        ("targets_releases.json", "targets/releases"),
    ] {
        let mut f = files.clone();
        let b = &files[name];
        f.insert(name, tampered(b, b.len() / 2));
        let e = walk(&f).unwrap_err();
        assert!(
            matches!(e, Error::Rejected(Rejection::LengthOrHashMismatch { role: ref r, .. }) if r == role),
            "{name}: {e:?}"
        );
    }

    // Broken JSON is a decode error, not a rejection.
    let e = TrustedMetadataSet::new(&root[..root.len() - 1], now()).unwrap_err();
    assert!(matches!(e, Error::Decode(_)), "{e:?}");
}

#[test]
fn expired_timestamp_is_refused_after_its_expiry() {
    let files = load_dir("example.com_vectors");
    let later: DateTime<Utc> = "2026-12-10T00:00:00Z".parse().unwrap();
    let mut set = TrustedMetadataSet::new(&files["root.json"], later).unwrap();
    let e = set.update_timestamp(&files["timestamp.json"]).unwrap_err();
    assert!(
        matches!(e, Error::Rejected(Rejection::Expired { ref role, .. }) if role == "timestamp"),
        "{e:?}"
    );
    // Kept as the rollback reference, but nothing builds on it.
    assert!(set.timestamp().is_some());
    assert!(set.update_snapshot(&files["snapshot.json"], false).is_err());
}
