//! `validate_update`: the upload pipeline of notary-server (reference API §5.3), step by step.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::errors::UploadError;
use super::names::{parse_role_filename, valid_notary_role, valid_tuf_role};
use crate::build::{self, MetaInput, UnsignedMetadata};
use crate::client::trusted_set::{
    check_root_structure, check_type, delegation_auth, is_expired, root_auth,
};
use crate::keys::{ParsedKey, PublicKey};
use crate::metadata::{
    self, DelegatedRole, Envelope, MetaFile, Root, Snapshot, Stored, SuccinctRoles, TargetsOutline,
};
use crate::paths::DelegationEntry;
use crate::verify::{self, Authorisation};
use crate::{DecodeError, Dialect, Error, Rejection, RoleType, paths};

/// One multipart part: the raw `filename` and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The part's filename (role name, optionally with `.json`).
    pub filename: String,
    /// The part body.
    pub data: Vec<u8>,
}

/// A file the collection currently has, with the version the ledger recorded for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentFile {
    /// Exact bytes.
    pub bytes: Vec<u8>,
    /// Version.
    pub version: u64,
}

/// The collection's current files by role name (`root`, `targets`, `targets/x`, `snapshot`,
/// `timestamp`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoState {
    /// Current files.
    pub files: BTreeMap<String, CurrentFile>,
}

/// The public keys the server holds for this collection, newest first.
#[derive(Debug, Clone, Default)]
pub struct HeldKeys {
    /// Timestamp keys.
    pub timestamp: Vec<PublicKey>,
    /// Snapshot keys (empty unless the publisher moved the snapshot key to the server).
    pub snapshot: Vec<PublicKey>,
}

/// A file that passed validation and is to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedFile {
    /// Role name.
    pub role: String,
    /// Version.
    pub version: u64,
    /// Exact uploaded bytes.
    pub bytes: Vec<u8>,
    /// sha256 of `bytes` (computed once, when they were parsed).
    pub sha256: [u8; 32],
}

/// What happens to the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotPlan {
    /// The publisher uploaded it (it is among [`ValidatedUpdate::files`]).
    Uploaded,
    /// The server generates and signs it.
    Generate {
        /// New snapshot version.
        version: u64,
        /// Index into [`HeldKeys::snapshot`] of the key to sign with.
        key_index: usize,
        /// The key ID root gives that key.
        key_id: String,
    },
}

/// A validated upload: what to store, and what to sign next.
#[derive(Debug, Clone)]
pub struct ValidatedUpdate {
    /// The collection's dialect.
    pub dialect: Dialect,
    /// The root in force after this update.
    pub root: Stored<Root>,
    /// Uploaded files to store: root first, then targets roles shallowest first, then snapshot.
    pub files: Vec<ValidatedFile>,
    /// Snapshot handling.
    pub snapshot: SnapshotPlan,
    /// New timestamp version.
    pub timestamp_version: u64,
    /// Index into [`HeldKeys::timestamp`] of the key to sign the timestamp with.
    pub timestamp_key_index: usize,
    /// The key ID root gives that key.
    pub timestamp_key_id: String,
}

impl ValidatedUpdate {
    /// The uploaded (validated) file of `role`, if any.
    pub fn file(&self, role: &str) -> Option<&ValidatedFile> {
        self.files.iter().find(|f| f.role == role)
    }

    /// The snapshot to generate for [`SnapshotPlan::Generate`]: the previous snapshot's records,
    /// with the records of every uploaded role replaced (and, in Notary, root and targets always
    /// present).
    pub fn snapshot_to_sign(
        &self,
        current: &RepoState,
        expires: DateTime<Utc>,
    ) -> Result<Option<UnsignedMetadata>, Error> {
        let SnapshotPlan::Generate { version, .. } = self.snapshot else {
            return Ok(None);
        };
        let d = self.dialect;
        let mut meta: BTreeMap<String, MetaFile> = match current.files.get("snapshot") {
            Some(f) => Envelope::from_bytes(&f.bytes)?.decode::<Snapshot>()?.meta,
            None => BTreeMap::new(),
        };
        let mut required: Vec<&str> = vec!["targets"];
        if d == Dialect::Notary {
            required.push("root");
        }
        let mut inputs: Vec<MetaInput<'_>> = Vec::new();
        for f in &self.files {
            if f.role != "snapshot" && (f.role != "root" || d == Dialect::Notary) {
                inputs.push(MetaInput {
                    role: &f.role,
                    bytes: &f.bytes,
                    version: f.version,
                });
            }
        }
        for r in required {
            if !inputs.iter().any(|i| i.role == r) && !meta.contains_key(&d.meta_key(r)) {
                let f = current
                    .files
                    .get(r)
                    .ok_or_else(|| Rejection::MissingRole { role: r.to_owned() })?;
                inputs.push(MetaInput {
                    role: r,
                    bytes: &f.bytes,
                    version: f.version,
                });
            }
        }
        meta.extend(build::meta_records(d, &inputs));
        Ok(Some(build::build_snapshot_with_meta(
            d, version, expires, &meta,
        )?))
    }
}

type Result2<T> = std::result::Result<T, UploadError>;

fn parse_current<T: serde::de::DeserializeOwned>(
    current: &RepoState,
    role: &str,
) -> Result2<Option<Stored<T>>> {
    match current.files.get(role) {
        None => Ok(None),
        Some(f) => Stored::from_bytes(f.bytes.clone()).map(Some).map_err(|e| {
            UploadError::invalid(
                role,
                Rejection::invalid(role, format!("stored metadata is unreadable: {e}")),
            )
        }),
    }
}

/// Freeze check: `expires` must be after `now` (an unparseable date is malformed JSON).
fn check_expiry(role: &str, expires: &str, now: DateTime<Utc>) -> Result2<()> {
    let expired = is_expired(expires, now).map_err(|e| UploadError::MalformedJson {
        role: role.to_owned(),
        reason: e.to_string(),
    })?;
    if expired {
        return Err(UploadError::invalid(
            role,
            Rejection::Expired {
                role: role.to_owned(),
                expires: expires.to_owned(),
            },
        ));
    }
    Ok(())
}

fn rejected(role: &str) -> impl Fn(Rejection) -> UploadError + '_ {
    move |r| UploadError::invalid(role, r)
}

fn decode<T: serde::de::DeserializeOwned>(role: &str, env: &Envelope) -> Result2<T> {
    env.decode::<T>()
        .map_err(|e: DecodeError| UploadError::MalformedJson {
            role: role.to_owned(),
            reason: e.to_string(),
        })
}

/// One step of a delegation chain: the entry a delegator wrote for a role.
#[derive(Debug, Clone)]
enum ChainLink {
    Role(DelegatedRole),
    Bin(SuccinctRoles, String),
}

impl ChainLink {
    fn allows(&self, dialect: Dialect, target: &str) -> bool {
        match self {
            ChainLink::Role(r) => paths::role_matches(dialect, r, target),
            ChainLink::Bin(s, name) => &s.bin_for(target) == name,
        }
    }
}

fn link_for(delegator: &TargetsOutline, role: &str) -> Option<ChainLink> {
    Some(match delegator.delegations.as_ref()?.find(role)? {
        DelegationEntry::Role(r) => ChainLink::Role(r.clone()),
        DelegationEntry::Bin(s) => ChainLink::Bin(s.clone(), role.to_owned()),
    })
}

/// The targets roles known during one validation: uploaded-and-validated ones shadow stored ones.
struct TargetsView<'a> {
    current: &'a RepoState,
    validated: BTreeMap<String, Stored<TargetsOutline>>,
    stored: BTreeMap<String, Stored<TargetsOutline>>,
    chains: BTreeMap<String, Vec<ChainLink>>,
}

impl<'a> TargetsView<'a> {
    fn get(&mut self, role: &str) -> Result2<Option<&Stored<TargetsOutline>>> {
        if self.validated.contains_key(role) {
            return Ok(self.validated.get(role));
        }
        if !self.stored.contains_key(role) {
            match parse_current::<TargetsOutline>(self.current, role)? {
                Some(s) => {
                    self.stored.insert(role.to_owned(), s);
                }
                None => return Ok(None),
            }
        }
        Ok(self.stored.get(role))
    }

    /// The chain of delegation entries from `targets` down to `role` (empty for `targets`).
    fn chain(&mut self, dialect: Dialect, role: &str) -> Result2<Option<Vec<ChainLink>>> {
        if role == "targets" {
            return Ok(Some(Vec::new()));
        }
        if let Some(c) = self.chains.get(role) {
            return Ok(Some(c.clone()));
        }
        let Some(parent) = self.delegator_of(dialect, role)? else {
            return Ok(None);
        };
        let Some(mut chain) = self.chain(dialect, &parent)? else {
            return Ok(None);
        };
        let Some(p) = self.get(&parent)? else {
            return Ok(None);
        };
        let Some(link) = link_for(&p.value, role) else {
            return Ok(None);
        };
        chain.push(link);
        self.chains.insert(role.to_owned(), chain.clone());
        Ok(Some(chain))
    }

    /// Which role delegates `role`: in Notary the parent path; in TUF the first role, searching
    /// breadth-first from `targets`, that lists it.
    fn delegator_of(&mut self, dialect: Dialect, role: &str) -> Result2<Option<String>> {
        match dialect {
            Dialect::Notary => {
                let Some((parent, _)) = role.rsplit_once('/') else {
                    return Ok(None);
                };
                let parent = parent.to_owned();
                Ok(self
                    .get(&parent)?
                    .and_then(|p| link_for(&p.value, role))
                    .map(|_| parent))
            }
            Dialect::Tuf => {
                let mut queue = vec!["targets".to_owned()];
                let mut seen = std::collections::BTreeSet::new();
                while let Some(name) = (!queue.is_empty()).then(|| queue.remove(0)) {
                    if !seen.insert(name.clone()) || seen.len() > 4096 {
                        continue;
                    }
                    let Some(t) = self.get(&name)? else { continue };
                    if link_for(&t.value, role).is_some() {
                        return Ok(Some(name));
                    }
                    if let Some(d) = &t.value.delegations {
                        queue.extend(d.roles().iter().map(|r| r.name.clone()));
                    }
                }
                Ok(None)
            }
        }
    }
}

/// Structural rules for the `delegations` a targets role writes.
fn check_delegations(
    dialect: Dialect,
    role: &str,
    t: &TargetsOutline,
) -> std::result::Result<(), Rejection> {
    let Some(d) = &t.delegations else {
        return Ok(());
    };
    for (keyid, key) in &d.keys {
        if let Some(required) = crate::keys::required_key_id(dialect, key)
            && &required != keyid
        {
            return Err(Rejection::BadKey {
                keyid: keyid.clone(),
                reason: "key ID does not match the key".into(),
            });
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for r in d.roles() {
        if r.threshold == 0 {
            return Err(Rejection::invalid(
                role,
                format!("delegation {} has threshold 0", r.name),
            ));
        }
        if !names.insert(r.name.as_str()) {
            return Err(Rejection::invalid(
                role,
                format!("delegation {} is listed twice", r.name),
            ));
        }
        if RoleType::from_name(&r.name).is_some() {
            return Err(Rejection::invalid(
                role,
                format!("cannot delegate to top-level role {}", r.name),
            ));
        }
        match dialect {
            Dialect::Notary => {
                let direct_child = r.name.strip_prefix(role).and_then(|x| x.strip_prefix('/'));
                if !valid_notary_role(&r.name) || direct_child.is_none_or(|c| c.is_empty()) {
                    return Err(Rejection::invalid(
                        role,
                        format!("invalid delegation name {}", r.name),
                    ));
                }
            }
            Dialect::Tuf => {
                if !valid_tuf_role(&r.name) {
                    return Err(Rejection::invalid(
                        role,
                        format!("invalid delegation name {:?}", r.name),
                    ));
                }
                if r.paths.is_some() == r.path_hash_prefixes.is_some() {
                    return Err(Rejection::invalid(
                        role,
                        format!(
                            "delegation {} must set exactly one of paths and path_hash_prefixes",
                            r.name
                        ),
                    ));
                }
            }
        }
    }
    if let Some(s) = &d.succinct_roles {
        if d.roles.is_some() {
            return Err(Rejection::invalid(
                role,
                "roles and succinct_roles are exclusive",
            ));
        }
        if s.threshold == 0 || s.bit_length == 0 || s.bit_length > 32 {
            return Err(Rejection::invalid(role, "invalid succinct_roles"));
        }
    }
    Ok(())
}

/// Notary's leaf-certificate rules for root keys (trustpinning.ValidateRoot with the server's
/// empty pinning config): an x509 key, CN = GUN, not a CA, within its validity period, not signed
/// with SHA-1. (RSA keys below 2048 bits are refused when parsed.)
fn notary_root_cert_ok(gun: &str, now: DateTime<Utc>, parsed: &ParsedKey) -> bool {
    let Some(c) = &parsed.certificate else {
        return false;
    };
    let small_rsa = matches!(&parsed.key, PublicKey::Rsa(k) if { use rsa::traits::PublicKeyParts; k.size() < 256 });
    c.common_name.as_deref() == Some(gun)
        && !c.is_ca
        && c.not_before <= now
        && now <= c.not_after
        && !c.sha1_signature
        && !small_rsa
}

/// The index of the first held key that `role` lists in `root`, and the ID root gives it
/// (keys are matched by key material, so any ID form root uses for them works).
pub fn held_key(
    dialect: Dialect,
    root: &Root,
    role: RoleType,
    held: &[PublicKey],
) -> Option<(usize, String)> {
    let auth = root_auth(root, role).ok()?;
    for (i, h) in held.iter().enumerate() {
        for keyid in auth.keyids {
            let Some(k) = root.keys.get(keyid) else {
                continue;
            };
            if let Ok(p) = crate::keys::parse_key(dialect, k)
                && &p.key == h
            {
                return Some((i, keyid.clone()));
            }
        }
    }
    None
}

/// Validate an upload to collection `gun` against its current state at time `now`.
pub fn validate_update(
    gun: &str,
    current: &RepoState,
    uploads: Vec<Upload>,
    held: &HeldKeys,
    now: DateTime<Utc>,
) -> std::result::Result<ValidatedUpdate, UploadError> {
    // §5.3.1: role names (a trailing `.json` is ignored); the last part for a role wins.
    let mut parts: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut deferred: Vec<String> = Vec::new();
    for u in uploads {
        let name = parse_role_filename(&u.filename).to_owned();
        if !valid_notary_role(&name) {
            deferred.push(name.clone());
        }
        parts.insert(name, u.data);
    }
    let current_root: Option<Stored<Root>> = parse_current(current, "root")?;
    // The dialect is the uploaded root's, else the stored root's. The root part is parsed once,
    // here; a parse error is reported with the other parts' below.
    let uploaded_root: Option<Result<Envelope, DecodeError>> =
        parts.get("root").map(|b| Envelope::from_bytes(b));
    let dialect = uploaded_root
        .as_ref()
        .and_then(|r| r.as_ref().ok()?.type_name())
        .and_then(Dialect::from_root_type)
        .or_else(|| {
            current_root
                .as_ref()
                .and_then(|r| Dialect::from_root_type(&r.value.type_name))
        });
    for name in deferred {
        // TUF delegated roles may have any name; Notary's must be `targets/[-a-z0-9_/]+`.
        if !(dialect == Some(Dialect::Tuf) && valid_tuf_role(&name)) {
            return Err(UploadError::InvalidRole(name));
        }
    }
    let malformed = |role: &str, e: DecodeError| UploadError::MalformedJson {
        role: role.to_owned(),
        reason: e.to_string(),
    };
    let uploaded_root = uploaded_root
        .transpose()
        .map_err(|e| malformed("root", e))?;
    let mut envelopes: BTreeMap<String, Envelope> = BTreeMap::new();
    for (name, data) in parts.iter().filter(|(n, _)| n.as_str() != "root") {
        envelopes.insert(
            name.clone(),
            Envelope::from_bytes(data).map_err(|e| malformed(name, e))?,
        );
    }
    // The timestamp is always the server's; an uploaded one is ignored (as notary-server does).
    envelopes.remove("timestamp");

    // §5.3.2: root.
    let Some(dialect) = dialect.or(if uploaded_root.is_some() {
        Some(Dialect::Notary)
    } else {
        None
    }) else {
        return Err(UploadError::invalid("root", Rejection::NoRoot));
    };
    let root_err = rejected("root");
    let (root, root_uploaded) = match uploaded_root {
        Some(env) => {
            check_type(dialect, RoleType::Root, "root", &env).map_err(&root_err)?;
            let value: Root = decode("root", &env)?;
            let cur = current_root.as_ref().map(|r| r.value.version).unwrap_or(1);
            if value.version != cur && value.version != cur + 1 {
                return Err(root_err(Rejection::RootVersion {
                    current: cur,
                    new: value.version,
                }));
            }
            check_root_structure(&value).map_err(&root_err)?;
            if let Some(prev) = &current_root {
                // Rotation: the previous root's threshold must sign the new root.
                let auth = root_auth(&prev.value, RoleType::Root).map_err(&root_err)?;
                verify::verify_role(dialect, "root", auth, &env.payload, &env.signatures, None)
                    .map_err(|_| root_err(Rejection::RootRotation))?;
            }
            let auth = root_auth(&value, RoleType::Root).map_err(&root_err)?;
            let cert_rule = |_: &str, p: &ParsedKey| notary_root_cert_ok(gun, now, p);
            let filter: verify::KeyFilter<'_> = if dialect == Dialect::Notary {
                Some(&cert_rule)
            } else {
                None
            };
            if dialect == Dialect::Notary {
                let any_valid = auth.keyids.iter().any(|id| {
                    value
                        .keys
                        .get(id)
                        .and_then(|k| crate::keys::parse_key(dialect, k).ok())
                        .is_some_and(|p| cert_rule(id, &p))
                });
                if !any_valid {
                    return Err(root_err(Rejection::RootCertificate {
                        reason: "no root key is a valid leaf certificate for this GUN".into(),
                    }));
                }
            }
            verify::verify_role(dialect, "root", auth, &env.payload, &env.signatures, filter)
                .map_err(&root_err)?;
            check_expiry("root", &value.expires, now)?;
            let bytes = parts.remove("root").unwrap_or_default();
            (Stored::new(value, env, bytes), true)
        }
        None => match current_root {
            Some(r) => (r, false),
            None => return Err(UploadError::invalid("root", Rejection::NoRoot)),
        },
    };

    // §5.3.3: targets roles, each after its delegator.
    let mut view = TargetsView {
        current,
        validated: BTreeMap::new(),
        stored: BTreeMap::new(),
        chains: BTreeMap::new(),
    };
    let uploaded_snapshot = envelopes.remove("snapshot");
    let mut pending: Vec<(String, Envelope)> = envelopes.into_iter().collect();
    pending.sort_by(|a, b| {
        (a.0 != "targets", a.0.matches('/').count(), &a.0).cmp(&(
            b.0 != "targets",
            b.0.matches('/').count(),
            &b.0,
        ))
    });
    let mut order: Vec<String> = Vec::new();
    while !pending.is_empty() {
        let mut progressed = false;
        let mut i = 0;
        while i < pending.len() {
            let name = pending[i].0.clone();
            let delegator = if name == "targets" {
                Some("root".to_owned())
            } else {
                view.delegator_of(dialect, &name)?
            };
            let blocked = match &delegator {
                // Its delegator is uploaded too and not validated yet.
                Some(d) => d != &name && pending.iter().any(|(p, _)| p == d),
                // Its delegator may be among the roles not yet validated.
                None => pending.len() > 1 && dialect == Dialect::Tuf,
            };
            if blocked {
                i += 1;
                continue;
            }
            let Some(delegator) = delegator else {
                return Err(UploadError::invalid(
                    &name,
                    Rejection::UnknownRole { role: name.clone() },
                ));
            };
            let (_, env) = pending.remove(i);
            let stored = validate_targets(
                dialect,
                &name,
                &delegator,
                env,
                &root.value,
                &mut view,
                &mut parts,
                now,
            )?;
            view.validated.insert(name.clone(), stored);
            order.push(name);
            progressed = true;
        }
        if !progressed {
            let name = pending[0].0.clone();
            return Err(UploadError::invalid(
                &name,
                Rejection::UnknownRole { role: name.clone() },
            ));
        }
    }

    // §5.3.4: snapshot.
    let snapshot_plan;
    let mut snapshot_file = None;
    if let Some(env) = uploaded_snapshot {
        let stored = validate_snapshot(dialect, env, &root, &view, current, &mut parts, now)?;
        snapshot_file = Some(ValidatedFile {
            role: "snapshot".into(),
            version: stored.value.version,
            bytes: stored.bytes,
            sha256: stored.sha256,
        });
        snapshot_plan = SnapshotPlan::Uploaded;
    } else {
        let Some((key_index, key_id)) =
            held_key(dialect, &root.value, RoleType::Snapshot, &held.snapshot)
        else {
            return Err(UploadError::invalid(
                "snapshot",
                Rejection::MissingRole {
                    role: "snapshot".into(),
                },
            ));
        };
        let version = current
            .files
            .get("snapshot")
            .map(|f| f.version + 1)
            .unwrap_or(1);
        snapshot_plan = SnapshotPlan::Generate {
            version,
            key_index,
            key_id,
        };
    }

    // §5.3.5: the timestamp is generated with a key the server holds and root lists.
    let Some((timestamp_key_index, timestamp_key_id)) =
        held_key(dialect, &root.value, RoleType::Timestamp, &held.timestamp)
    else {
        return Err(UploadError::invalid(
            "root",
            Rejection::ServerKeyNotHeld {
                role: "timestamp".into(),
            },
        ));
    };
    let timestamp_version = current
        .files
        .get("timestamp")
        .map(|f| f.version + 1)
        .unwrap_or(1);

    // Files to store, in write order.
    let mut files = Vec::new();
    if root_uploaded {
        files.push(ValidatedFile {
            role: "root".into(),
            version: root.value.version,
            bytes: root.bytes.clone(),
            sha256: root.sha256,
        });
    }
    for name in order {
        if let Some(t) = view.validated.remove(&name) {
            files.push(ValidatedFile {
                role: name,
                version: t.value.version,
                bytes: t.bytes,
                sha256: t.sha256,
            });
        }
    }
    files.extend(snapshot_file);

    // §5.3.6: every stored role only moves forward (the `VERSION` error).
    for f in &files {
        if let Some(cur) = current.files.get(&f.role)
            && f.version <= cur.version
        {
            return Err(UploadError::Version(Rejection::StaleVersion {
                role: f.role.clone(),
                stored: cur.version,
                uploaded: f.version,
            }));
        }
    }

    Ok(ValidatedUpdate {
        dialect,
        root,
        files,
        snapshot: snapshot_plan,
        timestamp_version,
        timestamp_key_index,
        timestamp_key_id,
    })
}

#[allow(clippy::too_many_arguments)]
fn validate_targets(
    dialect: Dialect,
    name: &str,
    delegator: &str,
    env: Envelope,
    root: &Root,
    view: &mut TargetsView<'_>,
    parts: &mut BTreeMap<String, Vec<u8>>,
    now: DateTime<Utc>,
) -> Result2<Stored<TargetsOutline>> {
    let err = rejected(name);
    check_type(dialect, RoleType::Targets, name, &env).map_err(&err)?;
    // File infos are checked and dropped, not kept: a 100k-target role is held as its names.
    let value: TargetsOutline = decode(name, &env)?;
    if value.version < 1 {
        return Err(err(Rejection::invalid(
            name,
            "version cannot be less than one",
        )));
    }
    // Signatures by the keys the delegator authorises.
    {
        let auth: Authorisation<'_> = if delegator == "root" {
            root_auth(root, RoleType::Targets).map_err(&err)?
        } else {
            let parent = view.get(delegator)?.ok_or_else(|| {
                err(Rejection::UnknownRole {
                    role: name.to_owned(),
                })
            })?;
            delegation_auth(&parent.value, name).ok_or_else(|| {
                err(Rejection::UnknownRole {
                    role: name.to_owned(),
                })
            })?
        };
        verify::verify_role(dialect, name, auth, &env.payload, &env.signatures, None)
            .map_err(&err)?;
    }
    check_expiry(name, &value.expires, now)?;
    check_delegations(dialect, name, &value).map_err(&err)?;
    // Notus is stricter than notary-server here: a delegated role may only list targets inside
    // the paths of every delegation on its chain (Notary left this to clients).
    if name != "targets" {
        let chain = view.chain(dialect, name)?.ok_or_else(|| {
            err(Rejection::UnknownRole {
                role: name.to_owned(),
            })
        })?;
        for target in value.targets.keys() {
            if !chain.iter().all(|l| l.allows(dialect, target)) {
                return Err(err(Rejection::PathNotDelegated {
                    role: name.to_owned(),
                    target: target.clone(),
                }));
            }
        }
    }
    let bytes = parts.remove(name).unwrap_or_default();
    Ok(Stored::new(value, env, bytes))
}

fn validate_snapshot(
    dialect: Dialect,
    env: Envelope,
    root: &Stored<Root>,
    view: &TargetsView<'_>,
    current: &RepoState,
    parts: &mut BTreeMap<String, Vec<u8>>,
    now: DateTime<Utc>,
) -> Result2<Stored<Snapshot>> {
    let err = rejected("snapshot");
    check_type(dialect, RoleType::Snapshot, "snapshot", &env).map_err(&err)?;
    let value: Snapshot = decode("snapshot", &env)?;
    if value.version < 1 {
        return Err(err(Rejection::invalid(
            "snapshot",
            "version cannot be less than one",
        )));
    }
    let auth = root_auth(&root.value, RoleType::Snapshot).map_err(&err)?;
    verify::verify_role(
        dialect,
        "snapshot",
        auth,
        &env.payload,
        &env.signatures,
        None,
    )
    .map_err(&err)?;
    check_expiry("snapshot", &value.expires, now)?;
    // Required records: Notary's snapshot lists root and targets with a sha256.
    let required: &[&str] = match dialect {
        Dialect::Notary => &["root", "targets"],
        Dialect::Tuf => &["targets"],
    };
    for r in required {
        let m = value.meta.get(&dialect.meta_key(r));
        let ok = match dialect {
            Dialect::Notary => m
                .and_then(|m| m.hashes.as_ref())
                .is_some_and(|h| h.contains_key("sha256")),
            Dialect::Tuf => m.is_some_and(|m| m.version.is_some()),
        };
        if !ok {
            let what = if dialect == Dialect::Notary {
                "sha256 checksum information"
            } else {
                "version information"
            };
            return Err(err(Rejection::invalid(
                "snapshot",
                format!("missing {r} {what}"),
            )));
        }
    }
    // Every uploaded role must be recorded, and match (Notary's check, §5.3 step 4).
    let check = |role: &str, bytes: &[u8], sha256: &[u8; 32], version: u64| -> Result2<()> {
        let m = value.meta.get(&dialect.meta_key(role)).ok_or_else(|| {
            err(Rejection::invalid(
                "snapshot",
                format!("missing {role} sha256 checksum information"),
            ))
        })?;
        if let Some(v) = m.version
            && v != version
        {
            return Err(err(Rejection::BadVersion {
                role: role.to_owned(),
                expected: v,
                got: version,
            }));
        }
        metadata::check_length_and_hashes(
            dialect,
            role,
            m.length,
            m.hashes.as_ref(),
            dialect == Dialect::Notary,
            bytes,
            Some(sha256),
        )
        .map_err(|_| {
            // notary-server names the uploaded file's sha256 (hex) as "expected".
            err(Rejection::LengthOrHashMismatch {
                role: role.to_owned(),
                algorithm: "sha256".into(),
                expected: metadata::hex_of_sha256(sha256),
            })
        })
    };
    for (name, t) in &view.validated {
        check(name, &t.bytes, &t.sha256, t.value.version)?;
    }
    if dialect == Dialect::Notary {
        check("root", &root.bytes, &root.sha256, root.value.version)?;
    }
    // Stricter than notary-server (invariant I1): every other record must describe the file
    // currently stored under that role, so the new snapshot never points at nothing.
    for key in value.meta.keys() {
        let role = match dialect {
            Dialect::Notary => key.as_str(),
            Dialect::Tuf => key.strip_suffix(".json").unwrap_or(key),
        };
        if view.validated.contains_key(role) || (dialect == Dialect::Notary && role == "root") {
            continue;
        }
        match current.files.get(role) {
            Some(f) if role != "snapshot" && role != "timestamp" => {
                check(role, &f.bytes, &metadata::sha256(&f.bytes), f.version)?
            }
            _ => {
                return Err(err(Rejection::invalid(
                    "snapshot",
                    format!("snapshot records {role}, which this collection does not have"),
                )));
            }
        }
    }
    let bytes = parts.remove("snapshot").unwrap_or_default();
    Ok(Stored::new(value, env, bytes))
}
