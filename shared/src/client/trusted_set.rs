use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::metadata::{self, Envelope, MetaFile, Root, Snapshot, Stored, Targets, Timestamp};
use crate::verify::{self, Authorisation};
use crate::{ApiMisuse, DecodeError, Dialect, Error, Rejection, RoleType, paths, time};

/// One candidate in a delegation search: a role that may hold a target, and whether the search
/// stops after it (`terminating`, and always for a succinct hash bin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationStep {
    /// Delegated role name.
    pub role: String,
    /// Stop searching other branches after this role.
    pub terminating: bool,
}

/// The metadata trusted so far in one refresh.
#[derive(Debug, Clone)]
pub struct TrustedMetadataSet {
    dialect: Dialect,
    reference_time: DateTime<Utc>,
    root: Stored<Root>,
    timestamp: Option<Stored<Timestamp>>,
    snapshot: Option<Stored<Snapshot>>,
    targets: BTreeMap<String, Stored<Targets>>,
    /// (delegator, role) pairs each role was verified against: a role reached again through a
    /// different delegator must be verified against that delegator's keys too.
    verified_by: BTreeSet<(String, String)>,
}

/// Parse `data` as metadata of `role` in `dialect`, checking `_type` (TUF §5.3.x "type" checks).
fn load<T: serde::de::DeserializeOwned>(
    dialect: Dialect,
    role: RoleType,
    label: &str,
    data: &[u8],
) -> Result<Stored<T>, Error> {
    let envelope = Envelope::from_bytes(data)?;
    check_type(dialect, role, label, &envelope)?;
    let value: T = envelope.decode()?;
    Ok(Stored::new(value, envelope, data.to_vec()))
}

pub(crate) fn check_type(
    dialect: Dialect,
    role: RoleType,
    label: &str,
    envelope: &Envelope,
) -> Result<(), Rejection> {
    let expected = dialect.type_name(role);
    match envelope.type_name() {
        Some(t) if t == expected => Ok(()),
        got => Err(Rejection::WrongType {
            role: label.to_owned(),
            expected: expected.to_owned(),
            got: got.unwrap_or("").to_owned(),
        }),
    }
}

pub(crate) fn is_expired(expires: &str, now: DateTime<Utc>) -> Result<bool, DecodeError> {
    Ok(now >= time::parse(expires)?)
}

fn expired(role: &str, expires: &str) -> Error {
    Rejection::Expired {
        role: role.to_owned(),
        expires: expires.to_owned(),
    }
    .into()
}

/// The authorisation root gives a top-level role; a missing entry means nobody may sign it.
pub(crate) fn root_auth<'a>(
    root: &'a Root,
    role: RoleType,
) -> Result<Authorisation<'a>, Rejection> {
    let r = root.roles.get(role.as_str()).ok_or_else(|| {
        Rejection::invalid("root", format!("root does not define the {role} role"))
    })?;
    Ok(Authorisation {
        keys: &root.keys,
        keyids: r.keyids(),
        threshold: r.threshold,
    })
}

/// The authorisation `delegator` gives `role`, or `None` if it does not delegate it.
pub(crate) fn delegation_auth<'a, E>(
    delegator: &'a Targets<E>,
    role: &str,
) -> Option<Authorisation<'a>> {
    let d = delegator.delegations.as_ref()?;
    let entry = d.find(role)?;
    Some(Authorisation {
        keys: &d.keys,
        keyids: entry.keyids(),
        threshold: entry.threshold(),
    })
}

/// Structural checks of a root (TUF §5.3.4 implies a usable root: the four roles exist with a
/// positive threshold).
pub(crate) fn check_root_structure(root: &Root) -> Result<(), Rejection> {
    for role in [
        RoleType::Root,
        RoleType::Targets,
        RoleType::Snapshot,
        RoleType::Timestamp,
    ] {
        let r = root_auth(root, role)?;
        if r.threshold == 0 {
            return Err(Rejection::invalid(
                "root",
                format!("{role} threshold must be at least one"),
            ));
        }
    }
    Ok(())
}

impl TrustedMetadataSet {
    /// Start from a trusted root (shipped with the client or cached): it must be signed by a
    /// threshold of its own root keys (TUF §5.2). Its expiry is not checked here (§5.3.10 checks
    /// the *final* root, after any rotation).
    pub fn new(root_data: &[u8], reference_time: DateTime<Utc>) -> Result<Self, Error> {
        let envelope = Envelope::from_bytes(root_data)?;
        let dialect = envelope
            .type_name()
            .and_then(Dialect::from_root_type)
            .ok_or_else(|| Rejection::WrongType {
                role: "root".into(),
                expected: "root".into(),
                got: envelope.type_name().unwrap_or("").into(),
            })?;
        let root: Stored<Root> = load(dialect, RoleType::Root, "root", root_data)?;
        check_root_structure(&root.value)?;
        verify::verify_role(
            dialect,
            "root",
            root_auth(&root.value, RoleType::Root)?,
            &root.envelope.payload,
            &root.envelope.signatures,
            None,
        )?;
        Ok(TrustedMetadataSet {
            dialect,
            reference_time,
            root,
            timestamp: None,
            snapshot: None,
            targets: BTreeMap::new(),
            verified_by: BTreeSet::new(),
        })
    }

    /// The collection's dialect (fixed by the root).
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The reference time used for every expiry check.
    pub fn reference_time(&self) -> DateTime<Utc> {
        self.reference_time
    }

    /// The trusted root.
    pub fn root(&self) -> &Stored<Root> {
        &self.root
    }

    /// The trusted timestamp, if loaded.
    pub fn timestamp(&self) -> Option<&Stored<Timestamp>> {
        self.timestamp.as_ref()
    }

    /// The trusted snapshot, if loaded.
    pub fn snapshot(&self) -> Option<&Stored<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// A trusted targets role (`targets` or a delegated role), if loaded.
    pub fn targets(&self, role: &str) -> Option<&Stored<Targets>> {
        self.targets.get(role)
    }

    /// Every trusted targets role loaded so far, by name.
    pub fn all_targets(&self) -> impl Iterator<Item = (&str, &Stored<Targets>)> {
        self.targets.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A trusted targets role that delegates `role` by name, if one is loaded.
    pub fn delegator_of(&self, role: &str) -> Option<&str> {
        self.targets
            .iter()
            .find(|(_, t)| {
                t.value
                    .delegations
                    .as_ref()
                    .is_some_and(|d| d.find(role).is_some())
            })
            .map(|(name, _)| name.as_str())
    }

    /// Whether `role` is trusted *as delegated by* `delegator` (python-tuf `contains`). A role
    /// trusted through one delegator is not trusted through another until verified against it.
    pub fn contains(&self, role: &str, delegator: &str) -> bool {
        self.verified_by
            .contains(&(delegator.to_owned(), role.to_owned()))
    }

    /// TUF §5.3: a new root, verified by a threshold of the trusted root's root keys *and* of its
    /// own, with version exactly trusted + 1. Call for each version in turn.
    pub fn update_root(&mut self, data: &[u8]) -> Result<&Stored<Root>, Error> {
        if self.timestamp.is_some() {
            return Err(ApiMisuse::TooLate {
                role: RoleType::Root,
                after: RoleType::Timestamp,
            }
            .into());
        }
        let new: Stored<Root> = load(self.dialect, RoleType::Root, "root", data)?;
        // §5.3.5: signed by a threshold of the *trusted* root's keys (rotation).
        verify::verify_role(
            self.dialect,
            "root",
            root_auth(&self.root.value, RoleType::Root)?,
            &new.envelope.payload,
            &new.envelope.signatures,
            None,
        )
        .map_err(|e| match e {
            Rejection::Threshold { .. } => Rejection::RootRotation,
            other => other,
        })?;
        check_root_structure(&new.value)?;
        // §5.3.5: and by a threshold of its own keys.
        verify::verify_role(
            self.dialect,
            "root",
            root_auth(&new.value, RoleType::Root)?,
            &new.envelope.payload,
            &new.envelope.signatures,
            None,
        )?;
        // §5.3.6: version N+1 exactly (no rollback, no skipping).
        let expected = self.root.value.version + 1;
        if new.value.version != expected {
            return Err(Rejection::BadVersion {
                role: "root".into(),
                expected,
                got: new.value.version,
            }
            .into());
        }
        self.root = new;
        Ok(&self.root)
    }

    /// TUF §5.4: a timestamp verified by root's timestamp keys, not older than the trusted one,
    /// not pointing at an older snapshot. An expired timestamp is kept (for rollback checks of the
    /// next refresh) but refused with [`Rejection::Expired`].
    pub fn update_timestamp(&mut self, data: &[u8]) -> Result<&Stored<Timestamp>, Error> {
        if self.snapshot.is_some() {
            return Err(ApiMisuse::TooLate {
                role: RoleType::Timestamp,
                after: RoleType::Snapshot,
            }
            .into());
        }
        // §5.3.10: the final root must not be expired (freeze attack).
        if is_expired(&self.root.value.expires, self.reference_time)? {
            return Err(expired("root", &self.root.value.expires));
        }
        let new: Stored<Timestamp> = load(self.dialect, RoleType::Timestamp, "timestamp", data)?;
        // §5.4.2: signatures.
        verify::verify_role(
            self.dialect,
            "timestamp",
            root_auth(&self.root.value, RoleType::Timestamp)?,
            &new.envelope.payload,
            &new.envelope.signatures,
            None,
        )?;
        let snapshot_key = self.dialect.meta_key("snapshot");
        let new_meta = new.value.meta.get(&snapshot_key).ok_or_else(|| {
            Rejection::invalid("timestamp", format!("missing {snapshot_key} meta"))
        })?;
        if let Some(old) = &self.timestamp {
            // §5.4.3.1: no rollback of the timestamp version.
            if new.value.version < old.value.version {
                return Err(Rejection::Rollback {
                    role: "timestamp".into(),
                    trusted: old.value.version,
                    got: new.value.version,
                }
                .into());
            }
            if new.value.version == old.value.version {
                return Err(Rejection::EqualVersion {
                    role: "timestamp".into(),
                    version: new.value.version,
                }
                .into());
            }
            // §5.4.3.2: no rollback of the snapshot version it names.
            let old_meta = old.value.meta.get(&snapshot_key);
            if let (Some(o), Some(n)) = (old_meta.and_then(|m| m.version), new_meta.version)
                && n < o
            {
                return Err(Rejection::Rollback {
                    role: "snapshot".into(),
                    trusted: o,
                    got: n,
                }
                .into());
            }
        }
        self.timestamp = Some(new);
        // §5.4.4: freeze check, after the rollback reference was updated (python-tuf does the same).
        self.check_final_timestamp()?;
        Ok(self.timestamp.as_ref().expect("just set"))
    }

    fn check_final_timestamp(&self) -> Result<(), Error> {
        let ts = self
            .timestamp
            .as_ref()
            .ok_or(ApiMisuse::MissingPrerequisite {
                role: RoleType::Snapshot,
                needs: RoleType::Timestamp,
            })?;
        if is_expired(&ts.value.expires, self.reference_time)? {
            return Err(expired("timestamp", &ts.value.expires));
        }
        Ok(())
    }

    fn snapshot_meta(&self) -> Result<&MetaFile, Error> {
        let ts = self
            .timestamp
            .as_ref()
            .ok_or(ApiMisuse::MissingPrerequisite {
                role: RoleType::Snapshot,
                needs: RoleType::Timestamp,
            })?;
        let key = self.dialect.meta_key("snapshot");
        Ok(ts
            .value
            .meta
            .get(&key)
            .ok_or_else(|| Rejection::invalid("timestamp", format!("missing {key} meta")))?)
    }

    /// TUF §5.5: a snapshot matching the timestamp's record (length/hashes unless `trusted`, i.e.
    /// loaded from the local cache), verified by root's snapshot keys, that drops no role and
    /// rolls back no role version. An expired snapshot or one whose version differs from the
    /// timestamp's record is kept but refused.
    pub fn update_snapshot(
        &mut self,
        data: &[u8],
        trusted: bool,
    ) -> Result<&Stored<Snapshot>, Error> {
        if !self.targets.is_empty() {
            return Err(ApiMisuse::TooLate {
                role: RoleType::Snapshot,
                after: RoleType::Targets,
            }
            .into());
        }
        self.check_final_timestamp()?;
        let meta = self.snapshot_meta()?.clone();
        // A cached copy may skip the hash check only when the record names a version to hold it
        // to (TUF); Notary's records carry hashes alone, so a stale cached snapshot would
        // otherwise pass as current.
        if !trusted || meta.version.is_none() {
            // §5.5.2: length and hashes as recorded by the timestamp (mix-and-match, endless data).
            metadata::check_length_and_hashes(
                self.dialect,
                "snapshot",
                meta.length,
                meta.hashes.as_ref(),
                self.dialect == Dialect::Notary,
                data,
                None,
            )?;
        }
        let new: Stored<Snapshot> = load(self.dialect, RoleType::Snapshot, "snapshot", data)?;
        // §5.5.3: signatures.
        verify::verify_role(
            self.dialect,
            "snapshot",
            root_auth(&self.root.value, RoleType::Snapshot)?,
            &new.envelope.payload,
            &new.envelope.signatures,
            None,
        )?;
        if let Some(old) = &self.snapshot {
            if new.value.version < old.value.version {
                return Err(Rejection::Rollback {
                    role: "snapshot".into(),
                    trusted: old.value.version,
                    got: new.value.version,
                }
                .into());
            }
            // §5.5.5: every role listed before is still listed, at a version not lower.
            for (name, old_info) in &old.value.meta {
                let Some(new_info) = new.value.meta.get(name) else {
                    return Err(Rejection::MissingMeta { role: name.clone() }.into());
                };
                if let (Some(o), Some(n)) = (old_info.version, new_info.version)
                    && n < o
                {
                    return Err(Rejection::Rollback {
                        role: name.clone(),
                        trusted: o,
                        got: n,
                    }
                    .into());
                }
            }
        }
        self.snapshot = Some(new);
        self.check_final_snapshot()?;
        Ok(self.snapshot.as_ref().expect("just set"))
    }

    fn check_final_snapshot(&self) -> Result<(), Error> {
        let snap = self
            .snapshot
            .as_ref()
            .ok_or(ApiMisuse::MissingPrerequisite {
                role: RoleType::Targets,
                needs: RoleType::Snapshot,
            })?;
        // §5.5.6: freeze.
        if is_expired(&snap.value.expires, self.reference_time)? {
            return Err(expired("snapshot", &snap.value.expires));
        }
        // §5.5.4: the version the timestamp promised.
        if let Some(v) = self.snapshot_meta()?.version
            && snap.value.version != v
        {
            return Err(Rejection::BadVersion {
                role: "snapshot".into(),
                expected: v,
                got: snap.value.version,
            }
            .into());
        }
        Ok(())
    }

    /// Notary: whether the trusted snapshot's `root` record matches the trusted root's bytes.
    /// `Some(false)` means the repository has a newer root: fetch `root.<sha256>.json` and walk
    /// the chain. `None` when the snapshot names no root (TUF 1.0 snapshots never do).
    pub fn snapshot_root_hash_matches(&self) -> Option<bool> {
        let snap = self.snapshot.as_ref()?;
        let m = snap.value.meta.get(&self.dialect.meta_key("root"))?;
        Some(
            metadata::check_length_and_hashes(
                self.dialect,
                "root",
                m.length,
                m.hashes.as_ref(),
                true,
                &self.root.bytes,
                Some(&self.root.sha256),
            )
            .is_ok(),
        )
    }

    /// TUF §5.6: the top-level targets role.
    pub fn update_targets(&mut self, data: &[u8]) -> Result<&Stored<Targets>, Error> {
        self.update_delegated_targets(data, "targets", "root")
    }

    /// TUF §5.6 / §5.6.7: a targets role, checked against the snapshot's record and verified by
    /// the keys its delegator (`root` for `targets`) authorises for it. Expired metadata is
    /// refused and not kept.
    pub fn update_delegated_targets(
        &mut self,
        data: &[u8],
        role: &str,
        delegator: &str,
    ) -> Result<&Stored<Targets>, Error> {
        self.check_final_snapshot()?;
        let snap = self.snapshot.as_ref().expect("checked above");
        let meta_key = self.dialect.meta_key(role);
        let meta = snap
            .value
            .meta
            .get(&meta_key)
            .ok_or_else(|| {
                Rejection::invalid(
                    "snapshot",
                    format!("snapshot does not contain information for {role}"),
                )
            })?
            .clone();
        // §5.6.2: length and hashes when recorded (always, in Notary).
        metadata::check_length_and_hashes(
            self.dialect,
            role,
            meta.length,
            meta.hashes.as_ref(),
            self.dialect == Dialect::Notary,
            data,
            None,
        )?;
        let new: Stored<Targets> = load(self.dialect, RoleType::Targets, role, data)?;
        // §5.6.3: signatures by the delegator's authorised keys.
        {
            let auth = if delegator == "root" {
                if role != "targets" {
                    return Err(Rejection::UnknownRole {
                        role: role.to_owned(),
                    }
                    .into());
                }
                root_auth(&self.root.value, RoleType::Targets)?
            } else {
                let parent = self
                    .targets
                    .get(delegator)
                    .ok_or_else(|| ApiMisuse::UntrustedDelegator(delegator.to_owned()))?;
                delegation_auth(&parent.value, role).ok_or_else(|| Rejection::UnknownRole {
                    role: role.to_owned(),
                })?
            };
            verify::verify_role(
                self.dialect,
                role,
                auth,
                &new.envelope.payload,
                &new.envelope.signatures,
                None,
            )?;
        }
        // §5.6.4: the version the snapshot promised.
        if let Some(v) = meta.version
            && new.value.version != v
        {
            return Err(Rejection::BadVersion {
                role: role.to_owned(),
                expected: v,
                got: new.value.version,
            }
            .into());
        }
        // §5.6.5: freeze.
        if is_expired(&new.value.expires, self.reference_time)? {
            return Err(expired(role, &new.value.expires));
        }
        self.targets.insert(role.to_owned(), new);
        self.verified_by
            .insert((delegator.to_owned(), role.to_owned()));
        Ok(&self.targets[role])
    }

    /// The roles `delegator` (already trusted) delegates `target` to, in search order
    /// (python-tuf `get_roles_for_target`). Empty if it delegates nothing.
    pub fn delegations_for(&self, delegator: &str, target: &str) -> Vec<DelegationStep> {
        let Some(parent) = self.targets.get(delegator) else {
            return Vec::new();
        };
        let Some(d) = parent.value.delegations.as_ref() else {
            return Vec::new();
        };
        if let Some(s) = &d.succinct_roles {
            return vec![DelegationStep {
                role: s.bin_for(target),
                terminating: true,
            }];
        }
        d.roles()
            .iter()
            .filter(|r| paths::role_matches(self.dialect, r, target))
            .map(|r| DelegationStep {
                role: r.name.clone(),
                terminating: r.terminating.unwrap_or(false),
            })
            .collect()
    }
}
