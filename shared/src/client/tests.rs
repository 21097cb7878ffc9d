//! One test per refusal of the client state machine, driven by a small in-memory repository
//! simulator in the TUF dialect (python-tuf `tests/test_trusted_metadata_set.py` shape).

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::TrustedMetadataSet;
use crate::build::{self, MetaInput};
use crate::testkit::{TestKey, sign};
use crate::{ApiMisuse, Dialect, Error, Rejection};

const T: Dialect = Dialect::Tuf;

fn now() -> DateTime<Utc> {
    "2026-11-26T00:00:00Z".parse().unwrap()
}

fn exp(days: i64) -> String {
    build::expires_string(T, now() + Duration::days(days))
}

struct Sim {
    root: TestKey,
    targets: TestKey,
    snapshot: TestKey,
    timestamp: TestKey,
    deleg: TestKey,
}

impl Sim {
    fn new() -> Self {
        Sim {
            root: TestKey::ecdsa(T, 1),
            targets: TestKey::ecdsa(T, 2),
            snapshot: TestKey::ecdsa(T, 3),
            timestamp: TestKey::ecdsa(T, 4),
            deleg: TestKey::ecdsa(T, 5),
        }
    }

    fn root_value(&self, version: u64, root_keys: &[&TestKey], days: i64) -> Value {
        let mut keys = serde_json::Map::new();
        let mut roles = serde_json::Map::new();
        for (name, ks) in [
            ("root", root_keys.to_vec()),
            ("targets", vec![&self.targets]),
            ("snapshot", vec![&self.snapshot]),
            ("timestamp", vec![&self.timestamp]),
        ] {
            for k in &ks {
                keys.insert(k.id.clone(), serde_json::to_value(&k.key).unwrap());
            }
            roles.insert(name.into(), json!({"keyids": ks.iter().map(|k| k.id.clone()).collect::<Vec<_>>(), "threshold": 1}));
        }
        json!({"_type": "root", "spec_version": "1.0.31", "consistent_snapshot": true, "expires": exp(days), "keys": keys, "roles": roles, "version": version})
    }

    fn root(&self, version: u64) -> Vec<u8> {
        sign(
            T,
            self.root_value(version, &[&self.root], 365),
            &[&self.root],
        )
    }

    fn targets(&self, version: u64, days: i64, with_delegation: bool) -> Vec<u8> {
        let mut v = json!({"_type": "targets", "spec_version": "1.0.31", "expires": exp(days), "version": version, "targets": {}});
        if with_delegation {
            v["delegations"] = json!({"keys": {self.deleg.id.clone(): serde_json::to_value(&self.deleg.key).unwrap()},
                "roles": [{"name": "role1", "keyids": [self.deleg.id.clone()], "threshold": 1, "terminating": false, "paths": ["a/*"]}]});
        }
        sign(T, v, &[&self.targets])
    }

    fn snapshot(&self, version: u64, roles: &[(&str, &[u8], u64)], days: i64) -> Vec<u8> {
        let inputs: Vec<MetaInput<'_>> = roles
            .iter()
            .map(|(r, b, v)| MetaInput {
                role: r,
                bytes: b,
                version: *v,
            })
            .collect();
        build::build_snapshot(T, version, now() + Duration::days(days), &inputs)
            .unwrap()
            .sign_with(&[&self.snapshot])
            .unwrap()
    }

    fn timestamp(
        &self,
        version: u64,
        snapshot: &[u8],
        snapshot_version: u64,
        days: i64,
    ) -> Vec<u8> {
        build::build_timestamp(
            T,
            version,
            now() + Duration::days(days),
            snapshot,
            snapshot_version,
        )
        .unwrap()
        .sign_with(&[&self.timestamp])
        .unwrap()
    }

    /// A consistent repository at the given versions.
    fn repo(&self, v: u64) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
        let root = self.root(1);
        let targets = self.targets(v, 30, false);
        let snapshot = self.snapshot(v, &[("targets", &targets, v)], 30);
        let ts = self.timestamp(v, &snapshot, v, 1);
        (root, ts, snapshot, targets)
    }
}

fn rejected(e: Error) -> Rejection {
    match e {
        Error::Rejected(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn full_refresh_is_accepted() {
    let s = Sim::new();
    let (root, ts, snap, targets) = s.repo(1);
    let mut set = TrustedMetadataSet::new(&root, now()).unwrap();
    set.update_timestamp(&ts).unwrap();
    set.update_snapshot(&snap, false).unwrap();
    set.update_targets(&targets).unwrap();
    assert_eq!(
        set.snapshot_root_hash_matches(),
        None,
        "TUF snapshots do not list root"
    );
}

#[test]
fn update_timestamp_rejects_version_below_trusted() {
    let s = Sim::new();
    let (root, ts2, _, _) = s.repo(2);
    let (_, ts1, _, _) = s.repo(1);
    let mut set = TrustedMetadataSet::new(&root, now()).unwrap();
    set.update_timestamp(&ts2).unwrap();
    assert_eq!(
        rejected(set.update_timestamp(&ts1).unwrap_err()),
        Rejection::Rollback {
            role: "timestamp".into(),
            trusted: 2,
            got: 1
        }
    );
    // A refusal leaves the trusted timestamp as it was: v2 is still the reference.
    assert_eq!(
        rejected(set.update_timestamp(&ts2).unwrap_err()),
        Rejection::EqualVersion {
            role: "timestamp".into(),
            version: 2
        }
    );
}

#[test]
fn update_timestamp_rejects_snapshot_version_rollback() {
    let s = Sim::new();
    let (root, ts_a, _, _) = s.repo(5);
    let (_, _, snap3, _) = s.repo(3);
    let ts_b = s.timestamp(6, &snap3, 3, 1);
    let mut set = TrustedMetadataSet::new(&root, now()).unwrap();
    set.update_timestamp(&ts_a).unwrap();
    assert_eq!(
        rejected(set.update_timestamp(&ts_b).unwrap_err()),
        Rejection::Rollback {
            role: "snapshot".into(),
            trusted: 5,
            got: 3
        }
    );
}

#[test]
fn update_timestamp_rejects_wrong_key() {
    let s = Sim::new();
    let (root, _, snap, _) = s.repo(1);
    let forged = build::build_timestamp(T, 1, now() + Duration::days(1), &snap, 1)
        .unwrap()
        .sign_with(&[&s.snapshot])
        .unwrap();
    let mut set = TrustedMetadataSet::new(&root, now()).unwrap();
    assert!(matches!(
        rejected(set.update_timestamp(&forged).unwrap_err()),
        Rejection::Threshold {
            valid: 0,
            threshold: 1,
            ..
        }
    ));
    assert!(set.timestamp().is_none(), "nothing trusted after a refusal");
}

#[test]
fn update_timestamp_rejects_expired_final_root() {
    let s = Sim::new();
    let root = sign(T, s.root_value(1, &[&s.root], -1), &[&s.root]);
    let (_, ts, _, _) = s.repo(1);
    let mut set = TrustedMetadataSet::new(&root, now()).unwrap();
    assert!(
        matches!(rejected(set.update_timestamp(&ts).unwrap_err()), Rejection::Expired { ref role, .. } if role == "root")
    );
}

#[test]
fn update_snapshot_rejects_mix_and_match() {
    let s = Sim::new();
    let (root, ts, _, _) = s.repo(1);
    let other_targets = s.targets(1, 60, false);
    let other = s.snapshot(1, &[("targets", &other_targets, 1)], 30);
    let mut set = TrustedMetadataSet::new(&root, now()).unwrap();
    set.update_timestamp(&ts).unwrap();
    assert!(
        matches!(rejected(set.update_snapshot(&other, false).unwrap_err()), Rejection::LengthOrHashMismatch { ref role, .. } if role == "snapshot")
    );
    assert!(set.snapshot().is_none());
}

#[test]
fn update_snapshot_rejects_version_other_than_timestamps() {
    let s = Sim::new();
    let (root, _, _, targets) = s.repo(1);
    let snap = s.snapshot(2, &[("targets", &targets, 1)], 30);
    let ts = s.timestamp(1, &snap, 1, 1);
    let mut set = TrustedMetadataSet::new(&root, now()).unwrap();
    set.update_timestamp(&ts).unwrap();
    assert_eq!(
        rejected(set.update_snapshot(&snap, false).unwrap_err()),
        Rejection::BadVersion {
            role: "snapshot".into(),
            expected: 1,
            got: 2
        }
    );
    // Kept for rollback checks, but nothing builds on it.
    assert!(set.snapshot().is_some());
    assert!(set.update_targets(&targets).is_err());
}

#[test]
fn update_snapshot_rejects_dropped_and_rolled_back_roles() {
    let s = Sim::new();
    let root = s.root(1);
    let t1 = s.targets(3, 30, false);
    let old = s.snapshot(1, &[("targets", &t1, 3), ("role1", b"x", 1)], 30);
    for (roles, want) in [
        (
            vec![("targets", t1.as_slice(), 3u64)],
            Rejection::MissingMeta {
                role: "role1.json".into(),
            },
        ),
        (
            vec![("targets", t1.as_slice(), 2), ("role1", b"x".as_slice(), 1)],
            Rejection::Rollback {
                role: "targets.json".into(),
                trusted: 3,
                got: 2,
            },
        ),
    ] {
        let new = s.snapshot(2, &roles, 30);
        let ts_new = s.timestamp(2, &new, 2, 1);
        // On its own the new snapshot is fine...
        let mut fresh = TrustedMetadataSet::new(&root, now()).unwrap();
        fresh.update_timestamp(&ts_new).unwrap();
        fresh.update_snapshot(&new, false).unwrap();
        // ...but not after the cached old one (loaded with trusted=true first, as python-tuf's
        // updater does; its version differs from the new timestamp's, so it is kept but refused).
        let mut set2 = TrustedMetadataSet::new(&root, now()).unwrap();
        set2.update_timestamp(&ts_new).unwrap();
        assert!(set2.update_snapshot(&old, true).is_err());
        assert_eq!(
            rejected(set2.update_snapshot(&new, false).unwrap_err()),
            want
        );
    }
}

#[test]
fn expired_snapshot_blocks_targets() {
    let s = Sim::new();
    let root = s.root(1);
    let targets = s.targets(1, 30, false);
    let snap = s.snapshot(1, &[("targets", &targets, 1)], -1);
    let ts = s.timestamp(1, &snap, 1, 1);
    let mut set = TrustedMetadataSet::new(&root, now()).unwrap();
    set.update_timestamp(&ts).unwrap();
    assert!(
        matches!(rejected(set.update_snapshot(&snap, false).unwrap_err()), Rejection::Expired { ref role, .. } if role == "snapshot")
    );
    assert!(
        matches!(rejected(set.update_targets(&targets).unwrap_err()), Rejection::Expired { ref role, .. } if role == "snapshot")
    );
}

#[test]
fn update_targets_rejects_version_expiry_and_wrong_key() {
    let s = Sim::new();
    let root = s.root(1);
    let good = s.targets(2, 30, false);
    let expired = s.targets(2, -1, false);
    let wrong_key = sign(
        T,
        json!({"_type": "targets", "expires": exp(30), "version": 2, "targets": {}}),
        &[&s.snapshot],
    );
    for (file, meta_version, check) in [
        (
            &good,
            3,
            Box::new(|r: Rejection| {
                r == Rejection::BadVersion {
                    role: "targets".into(),
                    expected: 3,
                    got: 2,
                }
            }) as Box<dyn Fn(Rejection) -> bool>,
        ),
        (
            &expired,
            2,
            Box::new(|r| matches!(r, Rejection::Expired { .. })),
        ),
        (
            &wrong_key,
            2,
            Box::new(|r| matches!(r, Rejection::Threshold { .. })),
        ),
    ] {
        let snap = s.snapshot(1, &[("targets", file, meta_version)], 30);
        let ts = s.timestamp(1, &snap, 1, 1);
        let mut set = TrustedMetadataSet::new(&root, now()).unwrap();
        set.update_timestamp(&ts).unwrap();
        set.update_snapshot(&snap, false).unwrap();
        let r = rejected(set.update_targets(file).unwrap_err());
        assert!(check(r.clone()), "{r:?}");
        assert!(set.targets("targets").is_none());
    }
}

#[test]
fn delegated_roles_need_their_delegator() {
    let s = Sim::new();
    let root = s.root(1);
    let targets = s.targets(1, 30, true);
    let role1 = sign(
        T,
        json!({"_type": "targets", "expires": exp(30), "version": 1, "targets": {}}),
        &[&s.deleg],
    );
    let role2 = sign(
        T,
        json!({"_type": "targets", "expires": exp(30), "version": 1, "targets": {}}),
        &[&s.deleg],
    );
    let snap = s.snapshot(
        1,
        &[
            ("targets", &targets, 1),
            ("role1", &role1, 1),
            ("role2", &role2, 1),
        ],
        30,
    );
    let ts = s.timestamp(1, &snap, 1, 1);
    let mut set = TrustedMetadataSet::new(&root, now()).unwrap();
    set.update_timestamp(&ts).unwrap();
    set.update_snapshot(&snap, false).unwrap();
    assert!(matches!(
        set.update_delegated_targets(&role1, "role1", "targets")
            .unwrap_err(),
        Error::ApiMisuse(ApiMisuse::UntrustedDelegator(_))
    ));
    set.update_targets(&targets).unwrap();
    assert_eq!(
        rejected(
            set.update_delegated_targets(&role2, "role2", "targets")
                .unwrap_err()
        ),
        Rejection::UnknownRole {
            role: "role2".into()
        }
    );
    assert!(!set.contains("role1", "targets"));
    set.update_delegated_targets(&role1, "role1", "targets")
        .unwrap();
    assert!(set.contains("role1", "targets"));
    // Trusted through `targets` says nothing about another delegator.
    assert!(!set.contains("role1", "role2"));
    assert_eq!(set.delegations_for("targets", "a/x").len(), 1);
    assert!(set.delegations_for("targets", "b/x").is_empty());
}

#[test]
fn steps_out_of_order_are_api_misuse() {
    let s = Sim::new();
    let (root, ts, snap, targets) = s.repo(1);
    let mut set = TrustedMetadataSet::new(&root, now()).unwrap();
    assert!(matches!(
        set.update_snapshot(&snap, false).unwrap_err(),
        Error::ApiMisuse(_)
    ));
    set.update_timestamp(&ts).unwrap();
    assert!(matches!(
        set.update_root(&s.root(2)).unwrap_err(),
        Error::ApiMisuse(_)
    ));
    set.update_snapshot(&snap, false).unwrap();
    set.update_targets(&targets).unwrap();
    assert!(matches!(
        set.update_timestamp(&ts).unwrap_err(),
        Error::ApiMisuse(_)
    ));
}

#[test]
fn root_updates_need_the_next_version_and_both_thresholds() {
    let s = Sim::new();
    let mut set = TrustedMetadataSet::new(&s.root(1), now()).unwrap();
    assert_eq!(
        rejected(set.update_root(&s.root(3)).unwrap_err()),
        Rejection::BadVersion {
            role: "root".into(),
            expected: 2,
            got: 3
        }
    );
    let new_key = TestKey::ecdsa(T, 40);
    // Signed only by the new key: the trusted root's threshold is not met.
    let only_new = sign(T, s.root_value(2, &[&new_key], 365), &[&new_key]);
    assert_eq!(
        rejected(set.update_root(&only_new).unwrap_err()),
        Rejection::RootRotation
    );
    // Signed only by the old key: the new root's own threshold is not met.
    let only_old = sign(T, s.root_value(2, &[&new_key], 365), &[&s.root]);
    assert!(matches!(
        rejected(set.update_root(&only_old).unwrap_err()),
        Rejection::Threshold { .. }
    ));
    let both = sign(T, s.root_value(2, &[&new_key], 365), &[&s.root, &new_key]);
    set.update_root(&both).unwrap();
    assert_eq!(set.root().value.version, 2);
}

#[test]
fn a_key_listed_twice_counts_once() {
    let s = Sim::new();
    // Root threshold 2 over two key IDs naming the same key: one real signer is not enough.
    let mut v = s.root_value(1, &[&s.root], 365);
    let alias = format!("{}-alias", s.root.id);
    v["keys"][&alias] = serde_json::to_value(&s.root.key).unwrap();
    v["roles"]["root"] = json!({"keyids": [s.root.id.clone(), alias.clone()], "threshold": 2});
    let unsigned = crate::UnsignedMetadata::new(T, v).unwrap();
    let sig = crate::Signer::sign(&s.root, unsigned.payload()).unwrap();
    let mut alias_sig = sig.clone();
    alias_sig.keyid = alias;
    let bytes = unsigned.finish(&[sig, alias_sig]).unwrap();
    assert!(matches!(
        rejected(TrustedMetadataSet::new(&bytes, now()).unwrap_err()),
        Rejection::Threshold {
            valid: 1,
            threshold: 2,
            ..
        }
    ));
}

#[test]
fn cached_snapshot_is_hash_checked_when_the_record_has_no_version() {
    // Notary's timestamps record the snapshot by hashes alone: a stale cached snapshot must not
    // pass as the current one just because it came from the cache.
    let s = Sim::new();
    let root = s.root(1);
    let targets = s.targets(1, 30, false);
    let old = s.snapshot(1, &[("targets", &targets, 1)], 30);
    let new = s.snapshot(2, &[("targets", &targets, 1)], 30);
    let (hashes, length) = crate::metadata::describe(T, &new);
    let ts = sign(
        T,
        json!({"_type": "timestamp", "spec_version": "1.0.31", "expires": exp(1), "version": 2,
               "meta": {"snapshot.json": {"length": length, "hashes": hashes}}}),
        &[&s.timestamp],
    );
    let mut set = TrustedMetadataSet::new(&root, now()).unwrap();
    set.update_timestamp(&ts).unwrap();
    let r = rejected(set.update_snapshot(&old, true).unwrap_err());
    assert!(matches!(r, Rejection::LengthOrHashMismatch { .. }), "{r:?}");
    set.update_snapshot(&new, true).unwrap();
}
