//! The publisher's side: building root and targets metadata from keys and staged changes, and
//! the next snapshot from the trusted one. Pure: the CLI supplies the current trusted state (as
//! the client state machine verified it), the keys and the clock reading; it gets back
//! [`UnsignedMetadata`] to sign.
//!
//! Staged changes are kept apart from metadata (Notary's changelist) so they can be replayed on
//! top of whatever the repository holds at publish time: publishing rebases, it never overwrites
//! another publisher's work.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::build::{self, MetaInput, SPEC_VERSION, UnsignedMetadata};
use crate::keys::key_id;
use crate::metadata::{
    DelegatedRole, Delegations, Key, MetaFile, RoleKeys, Root, Snapshot, TargetFile, Targets,
};
use crate::{DecodeError, Dialect, RoleType};

/// Who signs one top-level role.
#[derive(Debug, Clone)]
pub struct RoleSpec {
    /// The role's keys, as metadata lists them.
    pub keys: Vec<Key>,
    /// Signatures required.
    pub threshold: u64,
}

/// A root listing `roles` (every top-level role must be present).
pub fn root(
    dialect: Dialect,
    version: u64,
    expires: DateTime<Utc>,
    roles: &BTreeMap<RoleType, RoleSpec>,
) -> Result<UnsignedMetadata, DecodeError> {
    let mut keys = BTreeMap::new();
    let mut role_map = BTreeMap::new();
    for (role, spec) in roles {
        let mut ids = Vec::new();
        for k in &spec.keys {
            let id = key_id(dialect, k);
            keys.insert(id.clone(), k.clone());
            ids.push(id);
        }
        role_map.insert(
            role.as_str().to_owned(),
            RoleKeys {
                keyids: Some(ids),
                threshold: spec.threshold,
                extra: Default::default(),
            },
        );
    }
    let r = Root {
        type_name: dialect.type_name(RoleType::Root).to_owned(),
        spec_version: (dialect == Dialect::Tuf).then(|| SPEC_VERSION.to_owned()),
        // TUF collections are served under versioned names; Notary's root always says false.
        consistent_snapshot: Some(dialect == Dialect::Tuf),
        expires: build::expires_string(dialect, expires),
        keys,
        roles: role_map,
        version,
        extra: Default::default(),
    };
    UnsignedMetadata::new(dialect, serde_json::to_value(r)?)
}

/// The next root after `current`: `role` now signed by `keys` (with `threshold`, or the current
/// one), every other role unchanged, keys no role uses any more dropped, version + 1.
pub fn rotate_root(
    dialect: Dialect,
    current: &Root,
    role: RoleType,
    keys: &[Key],
    threshold: Option<u64>,
    expires: DateTime<Utc>,
) -> Result<UnsignedMetadata, DecodeError> {
    let mut next = current.clone();
    let ids: Vec<String> = keys.iter().map(|k| key_id(dialect, k)).collect();
    for (id, k) in ids.iter().zip(keys) {
        next.keys.insert(id.clone(), k.clone());
    }
    let entry = next
        .roles
        .entry(role.as_str().to_owned())
        .or_insert_with(|| RoleKeys {
            keyids: Some(Vec::new()),
            threshold: 1,
            extra: Default::default(),
        });
    entry.keyids = Some(ids);
    if let Some(t) = threshold {
        entry.threshold = t;
    }
    let used: std::collections::BTreeSet<String> = next
        .roles
        .values()
        .flat_map(|r| r.keyids().iter().cloned())
        .collect();
    next.keys.retain(|id, _| used.contains(id));
    next.version = current.version + 1;
    next.expires = build::expires_string(dialect, expires);
    UnsignedMetadata::new(dialect, serde_json::to_value(next)?)
}

/// A targets role with `targets` and `delegations`.
pub fn targets(
    dialect: Dialect,
    version: u64,
    expires: DateTime<Utc>,
    targets: BTreeMap<String, TargetFile>,
    delegations: Option<Delegations>,
) -> Result<UnsignedMetadata, DecodeError> {
    // Notary's targets always carry a `delegations` object (Go writes the zero value).
    let delegations = match (dialect, delegations) {
        (Dialect::Notary, None) => Some(Delegations {
            keys: BTreeMap::new(),
            roles: Some(Vec::new()),
            succinct_roles: None,
            extra: Default::default(),
        }),
        (_, d) => d,
    };
    let t = Targets {
        type_name: dialect.type_name(RoleType::Targets).to_owned(),
        spec_version: (dialect == Dialect::Tuf).then(|| SPEC_VERSION.to_owned()),
        expires: build::expires_string(dialect, expires),
        version,
        targets,
        delegations,
        extra: Default::default(),
    };
    UnsignedMetadata::new(dialect, serde_json::to_value(t)?)
}

/// One staged change to a targets role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Change {
    /// Add or replace a target.
    Add {
        /// The role that lists it (`targets` or a delegated role).
        role: String,
        /// Target path.
        path: String,
        /// Length, hashes, custom data.
        file: TargetFile,
    },
    /// Remove a target (a no-op if absent, as in Notary).
    Remove {
        /// The role that lists it.
        role: String,
        /// Target path.
        path: String,
    },
    /// Delegate `name` from `delegator` (or widen an existing delegation: keys and paths are
    /// added, threshold and terminating replaced).
    Delegate {
        /// The delegating role.
        delegator: String,
        /// The delegated role.
        name: String,
        /// Keys to authorise.
        keys: Vec<Key>,
        /// Signatures needed.
        threshold: u64,
        /// Path patterns (TUF globs / Notary prefixes); `None` with `all_paths` for everything.
        paths: Vec<String>,
        /// Every path (TUF: `path_hash_prefixes: [""]`; Notary: `paths: [""]`).
        all_paths: bool,
        /// Stop the search at this role (TUF).
        terminating: bool,
    },
    /// Remove keys from every delegation `delegator` makes (Notary's `delegation purge`: a
    /// compromised or departed delegate's key goes everywhere at once).
    PurgeKeys {
        /// The delegating role.
        delegator: String,
        /// Key IDs to remove.
        keyids: Vec<String>,
    },
    /// Re-sign `role` unchanged with a new version (Notary's `witness`: keeps a role valid after
    /// its keys or its delegator changed, or before it expires).
    Witness {
        /// The role to re-sign.
        role: String,
    },
    /// Remove the delegation of `name` from `delegator` (its keys go when nothing else uses them).
    Undelegate {
        /// The delegating role.
        delegator: String,
        /// The delegated role.
        name: String,
    },
}

impl Change {
    /// The role the change applies to.
    pub fn role(&self) -> &str {
        match self {
            Change::Add { role, .. } | Change::Remove { role, .. } | Change::Witness { role } => {
                role
            }
            Change::Delegate { delegator, .. }
            | Change::Undelegate { delegator, .. }
            | Change::PurgeKeys { delegator, .. } => delegator,
        }
    }
}

/// Apply `changes` to `role`'s targets and delegations in order; returns whether anything
/// differs afterwards.
pub fn apply(
    dialect: Dialect,
    role: &str,
    targets: &mut BTreeMap<String, TargetFile>,
    delegations: &mut Option<Delegations>,
    changes: &[Change],
) -> bool {
    let before = (targets.clone(), delegations.clone());
    for c in changes.iter().filter(|c| c.role() == role) {
        match c {
            Change::Add { path, file, .. } => {
                targets.insert(path.clone(), file.clone());
            }
            Change::Remove { path, .. } => {
                targets.remove(path);
            }
            Change::Delegate {
                name,
                keys,
                threshold,
                paths,
                all_paths,
                terminating,
                ..
            } => delegate(
                dialect,
                delegations,
                name,
                keys,
                *threshold,
                paths,
                *all_paths,
                *terminating,
            ),
            Change::PurgeKeys { keyids, .. } => {
                if let Some(d) = delegations.as_mut() {
                    for r in d.roles.iter_mut().flatten() {
                        if let Some(ids) = r.keyids.as_mut() {
                            ids.retain(|id| !keyids.contains(id));
                        }
                    }
                    prune_keys(d);
                }
            }
            // Nothing to edit: the publisher re-signs the role (see `Change::Witness`).
            Change::Witness { .. } => {}
            Change::Undelegate { name, .. } => {
                if let Some(d) = delegations.as_mut() {
                    if let Some(roles) = d.roles.as_mut() {
                        roles.retain(|r| &r.name != name);
                    }
                    prune_keys(d);
                }
            }
        }
    }
    (targets.clone(), delegations.clone()) != before
}

#[allow(clippy::too_many_arguments)]
fn delegate(
    dialect: Dialect,
    delegations: &mut Option<Delegations>,
    name: &str,
    keys: &[Key],
    threshold: u64,
    paths: &[String],
    all_paths: bool,
    terminating: bool,
) {
    let d = delegations.get_or_insert_with(|| Delegations {
        keys: BTreeMap::new(),
        roles: Some(Vec::new()),
        succinct_roles: None,
        extra: Default::default(),
    });
    let ids: Vec<String> = keys.iter().map(|k| key_id(dialect, k)).collect();
    for (id, k) in ids.iter().zip(keys) {
        d.keys.insert(id.clone(), k.clone());
    }
    let roles = d.roles.get_or_insert_with(Vec::new);
    let idx = match roles.iter().position(|r| r.name == name) {
        Some(i) => i,
        None => {
            roles.push(DelegatedRole {
                name: name.to_owned(),
                keyids: Some(Vec::new()),
                threshold,
                terminating: (dialect == Dialect::Tuf).then_some(false),
                paths: None,
                path_hash_prefixes: None,
                extra: Default::default(),
            });
            roles.len() - 1
        }
    };
    let r = &mut roles[idx];
    let keyids = r.keyids.get_or_insert_with(Vec::new);
    for id in ids {
        if !keyids.contains(&id) {
            keyids.push(id);
        }
    }
    r.threshold = threshold;
    if dialect == Dialect::Tuf {
        r.terminating = Some(terminating);
    }
    if all_paths {
        match dialect {
            // "" is a prefix of every hash: every target (TUF globs cannot say "any depth").
            Dialect::Tuf => {
                r.paths = None;
                r.path_hash_prefixes = Some(vec![String::new()]);
            }
            Dialect::Notary => r.paths = Some(vec![String::new()]),
        }
    } else if !paths.is_empty() {
        r.path_hash_prefixes = None;
        let list = r.paths.get_or_insert_with(Vec::new);
        for p in paths {
            if !list.contains(p) {
                list.push(p.clone());
            }
        }
    }
    prune_keys(d);
}

/// Drop keys no delegation refers to any more.
fn prune_keys(d: &mut Delegations) {
    let used: std::collections::BTreeSet<&String> = d
        .roles()
        .iter()
        .flat_map(|r| r.keyids())
        .chain(d.succinct_roles.iter().flat_map(|s| &s.keyids))
        .collect();
    let used: std::collections::BTreeSet<String> = used.into_iter().cloned().collect();
    d.keys.retain(|id, _| used.contains(id));
}

/// A target record for `data` (sha256 and sha512, as Notary's client writes), with optional
/// custom data.
pub fn target_file(dialect: Dialect, data: &[u8], custom: Option<Value>) -> TargetFile {
    use sha2::Digest as _;
    target_file_from_digests(
        dialect,
        &sha2::Sha256::digest(data),
        &sha2::Sha512::digest(data),
        data.len() as u64,
        custom,
    )
}

/// A target record from digests computed elsewhere (e.g. while streaming a large file).
pub fn target_file_from_digests(
    dialect: Dialect,
    sha256: &[u8],
    sha512: &[u8],
    length: u64,
    custom: Option<Value>,
) -> TargetFile {
    let mut hashes = crate::metadata::Hashes::new();
    hashes.insert("sha256".into(), dialect.encode_bytes(sha256));
    hashes.insert("sha512".into(), dialect.encode_bytes(sha512));
    TargetFile {
        length,
        hashes,
        custom,
        extra: Default::default(),
    }
}

/// The snapshot after publishing `changed` files: the trusted snapshot's records (if any), with
/// the changed roles' records replaced.
pub fn next_snapshot(
    dialect: Dialect,
    previous: Option<&Snapshot>,
    expires: DateTime<Utc>,
    changed: &[MetaInput<'_>],
) -> Result<UnsignedMetadata, DecodeError> {
    let mut meta: BTreeMap<String, MetaFile> = previous.map(|s| s.meta.clone()).unwrap_or_default();
    meta.extend(build::meta_records(dialect, changed));
    let version = previous.map_or(1, |s| s.version + 1);
    build::build_snapshot_with_meta(dialect, version, expires, &meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::Signer as _;
    use crate::client::TrustedMetadataSet;
    use crate::keys::key_from_public;
    use crate::signers::EcdsaP256Signer;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn built_root_verifies_as_a_trusted_root() {
        let signer = EcdsaP256Signer::from_secret(&[7u8; 32], Dialect::Tuf).unwrap();
        let key = key_from_public(Dialect::Tuf, signer.public_key()).unwrap();
        let spec = RoleSpec {
            keys: vec![key],
            threshold: 1,
        };
        let roles = [
            RoleType::Root,
            RoleType::Targets,
            RoleType::Snapshot,
            RoleType::Timestamp,
        ]
        .into_iter()
        .map(|r| (r, spec.clone()))
        .collect();
        let bytes = root(Dialect::Tuf, 1, t("2030-01-01T00:00:00Z"), &roles)
            .unwrap()
            .sign_with(&[&signer])
            .unwrap();
        let set = TrustedMetadataSet::new(&bytes, t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(set.root().value.roles["root"].keyids(), [signer.key_id()]);
        assert_eq!(set.root().value.consistent_snapshot, Some(true));
    }

    #[test]
    fn rotating_a_role_replaces_its_keys_and_drops_unused_ones() {
        let key = |seed: u8| {
            key_from_public(
                Dialect::Tuf,
                EcdsaP256Signer::from_secret(&[seed; 32], Dialect::Tuf)
                    .unwrap()
                    .public_key(),
            )
            .unwrap()
        };
        let spec = |k: Key| RoleSpec {
            keys: vec![k],
            threshold: 1,
        };
        let roles = [
            (RoleType::Root, spec(key(1))),
            (RoleType::Targets, spec(key(2))),
            (RoleType::Snapshot, spec(key(2))),
            (RoleType::Timestamp, spec(key(3))),
        ]
        .into_iter()
        .collect();
        let exp = t("2030-01-01T00:00:00Z");
        let v1: Root =
            serde_json::from_value(root(Dialect::Tuf, 1, exp, &roles).unwrap().signed().clone())
                .unwrap();
        let v2: Root = serde_json::from_value(
            rotate_root(Dialect::Tuf, &v1, RoleType::Targets, &[key(4)], None, exp)
                .unwrap()
                .signed()
                .clone(),
        )
        .unwrap();
        assert_eq!(v2.version, 2);
        let new_id = key_id(Dialect::Tuf, &key(4));
        assert_eq!(v2.roles["targets"].keyids(), [new_id]);
        assert_eq!(v2.roles["snapshot"].keyids(), v1.roles["snapshot"].keyids());
        assert_eq!(v2.keys.len(), 4, "key 2 is still used by snapshot");
        let v3: Root = serde_json::from_value(
            rotate_root(Dialect::Tuf, &v2, RoleType::Snapshot, &[key(4)], None, exp)
                .unwrap()
                .signed()
                .clone(),
        )
        .unwrap();
        assert_eq!(v3.keys.len(), 3, "key 2 is gone once nothing uses it");
        let v4: Root = serde_json::from_value(
            rotate_root(
                Dialect::Tuf,
                &v3,
                RoleType::Root,
                &[key(5), key(6)],
                Some(2),
                exp,
            )
            .unwrap()
            .signed()
            .clone(),
        )
        .unwrap();
        assert_eq!(v4.roles["root"].threshold, 2);
        assert_eq!(v4.roles["root"].keyids().len(), 2);
    }

    #[test]
    fn changes_apply_in_order_to_their_role_only() {
        let f1 = target_file(Dialect::Tuf, b"one", None);
        let f2 = target_file(Dialect::Tuf, b"two", None);
        let changes = vec![
            Change::Add {
                role: "targets".into(),
                path: "a".into(),
                file: f1.clone(),
            },
            Change::Add {
                role: "targets/x".into(),
                path: "b".into(),
                file: f2.clone(),
            },
            Change::Add {
                role: "targets".into(),
                path: "a".into(),
                file: f2.clone(),
            },
            Change::Remove {
                role: "targets".into(),
                path: "gone".into(),
            },
        ];
        let mut m = BTreeMap::new();
        let mut d = None;
        assert!(apply(Dialect::Tuf, "targets", &mut m, &mut d, &changes));
        assert_eq!(m.len(), 1);
        assert_eq!(m["a"], f2, "the later change wins");
        // Re-applying the same changes to the result changes nothing (rebase is idempotent).
        assert!(!apply(Dialect::Tuf, "targets", &mut m, &mut d, &changes));
    }

    #[test]
    fn delegations_are_added_widened_and_removed_with_their_keys() {
        let k1 = key_from_public(
            Dialect::Tuf,
            EcdsaP256Signer::from_secret(&[1u8; 32], Dialect::Tuf)
                .unwrap()
                .public_key(),
        )
        .unwrap();
        let k2 = key_from_public(
            Dialect::Tuf,
            EcdsaP256Signer::from_secret(&[2u8; 32], Dialect::Tuf)
                .unwrap()
                .public_key(),
        )
        .unwrap();
        let add = |name: &str, keys: Vec<Key>, paths: &[&str], all: bool| Change::Delegate {
            delegator: "targets".into(),
            name: name.into(),
            keys,
            threshold: 1,
            paths: paths.iter().map(|p| p.to_string()).collect(),
            all_paths: all,
            terminating: false,
        };
        let mut m = BTreeMap::new();
        let mut d = None;
        let changes = vec![
            add("releases", vec![k1.clone()], &["rel/*"], false),
            add("releases", vec![k2.clone()], &["beta/*"], false),
            add("everything", vec![k2.clone()], &[], true),
        ];
        assert!(apply(Dialect::Tuf, "targets", &mut m, &mut d, &changes));
        let dd = d.clone().unwrap();
        assert_eq!(dd.keys.len(), 2);
        let rel = &dd.roles()[0];
        assert_eq!(rel.keyids().len(), 2);
        assert_eq!(rel.paths.as_deref().unwrap(), ["rel/*", "beta/*"]);
        assert_eq!(dd.roles()[1].path_hash_prefixes.as_deref().unwrap(), [""]);
        let k2_id = key_id(Dialect::Tuf, &k2);
        let mut purged = d.clone();
        let purge = vec![Change::PurgeKeys {
            delegator: "targets".into(),
            keyids: vec![k2_id.clone()],
        }];
        assert!(apply(
            Dialect::Tuf,
            "targets",
            &mut m.clone(),
            &mut purged,
            &purge
        ));
        let p = purged.unwrap();
        assert!(p.roles().iter().all(|r| !r.keyids().contains(&k2_id)));
        assert!(
            !p.keys.contains_key(&k2_id),
            "a purged key leaves the key map"
        );
        let undo = vec![Change::Undelegate {
            delegator: "targets".into(),
            name: "releases".into(),
        }];
        assert!(apply(Dialect::Tuf, "targets", &mut m, &mut d, &undo));
        let dd = d.unwrap();
        assert_eq!(dd.roles().len(), 1);
        assert_eq!(
            dd.keys.len(),
            1,
            "k1 was only used by the removed delegation"
        );
    }

    #[test]
    fn next_snapshot_keeps_other_roles_and_bumps_the_version() {
        let prev = Snapshot {
            type_name: "snapshot".into(),
            spec_version: None,
            expires: "2030-01-01T00:00:00Z".into(),
            version: 4,
            meta: [(
                "role1.json".to_owned(),
                MetaFile {
                    version: Some(3),
                    length: None,
                    hashes: None,
                    extra: Default::default(),
                },
            )]
            .into(),
            extra: Default::default(),
        };
        let u = next_snapshot(
            Dialect::Tuf,
            Some(&prev),
            t("2030-01-01T00:00:00Z"),
            &[MetaInput {
                role: "targets",
                bytes: b"x",
                version: 9,
            }],
        )
        .unwrap();
        let s: Snapshot = serde_json::from_value(u.signed().clone()).unwrap();
        assert_eq!(s.version, 5);
        assert_eq!(s.meta["role1.json"].version, Some(3));
        assert_eq!(s.meta["targets.json"].version, Some(9));
    }
}
