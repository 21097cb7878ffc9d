//! Typed views of the four role types, shared by both dialects.
//!
//! `Deserialize` is implemented by `deserialize_keeping_unknown!` at the end of this file: which
//! fields may be absent (`= default`) is said there, not in `#[serde]` attributes, which only
//! shape serialisation.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::Hashes;
use super::unknown_fields::deserialize_keeping_unknown;

/// Unknown fields, kept so that a re-serialised value still carries them.
pub type Extra = BTreeMap<String, Value>;

/// A public key as written in metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Key {
    /// `ecdsa`, `ecdsa-x509`, `ed25519`, `rsa`, `rsa-x509`, `ecdsa-sha2-nistp256`, ...
    pub keytype: String,
    /// TUF signature scheme (`ecdsa-sha2-nistp256`, `ed25519`, `rsassa-pss-sha256`). Absent in Notary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// The key value.
    pub keyval: KeyVal,
    /// Unknown fields (e.g. deprecated `keyid_hash_algorithms`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `keyval`: the public part (Notary also writes `"private": null`, kept in `extra`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyVal {
    /// Encoded public key.
    pub public: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `roles.X` of root: who may sign a top-level role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleKeys {
    /// Authorised key IDs. Notary writes `null` after every key was removed.
    pub keyids: Option<Vec<String>>,
    /// Signatures needed.
    pub threshold: u64,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl RoleKeys {
    /// The key IDs (empty if `null`).
    pub fn keyids(&self) -> &[String] {
        self.keyids.as_deref().unwrap_or(&[])
    }
}

/// The root role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Root {
    /// `Root` (Notary) or `root` (TUF).
    #[serde(rename = "_type")]
    pub type_name: String,
    /// TUF spec version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_version: Option<String>,
    /// Whether metadata is served under versioned names.
    pub consistent_snapshot: Option<bool>,
    /// Expiry (RFC 3339).
    pub expires: String,
    /// Every key used by the top-level roles.
    pub keys: BTreeMap<String, Key>,
    /// Key IDs and thresholds per top-level role.
    pub roles: BTreeMap<String, RoleKeys>,
    /// Version.
    pub version: u64,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One target file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetFile {
    /// Size in bytes.
    pub length: u64,
    /// Digests.
    pub hashes: Hashes,
    /// Free-form data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One delegated role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DelegatedRole {
    /// Role name (`targets/releases` in Notary, any name in TUF).
    pub name: String,
    /// Authorised key IDs (`null` after `notary delegation purge`).
    pub keyids: Option<Vec<String>>,
    /// Signatures needed.
    pub threshold: u64,
    /// TUF: stop the search here if this role matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminating: Option<bool>,
    /// Path patterns: prefixes in Notary (`""` = everything), globs in TUF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// TUF: hex prefixes of sha256(target path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hash_prefixes: Option<Vec<String>>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl DelegatedRole {
    /// The key IDs (empty if `null`).
    pub fn keyids(&self) -> &[String] {
        self.keyids.as_deref().unwrap_or(&[])
    }
}

/// TAP 15 succinct hash-bin delegations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuccinctRoles {
    /// Keys authorised for every bin.
    pub keyids: Vec<String>,
    /// Signatures needed per bin.
    pub threshold: u64,
    /// Number of leading hash bits that choose the bin (1..=32).
    pub bit_length: u32,
    /// Bin names are `{name_prefix}-{bin:0width x}`.
    pub name_prefix: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `delegations` of a targets role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delegations {
    /// Keys of the delegated roles.
    pub keys: BTreeMap<String, Key>,
    /// Ordered delegated roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<DelegatedRole>>,
    /// TAP 15 hash bins (exclusive with `roles`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub succinct_roles: Option<SuccinctRoles>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Delegations {
    /// The explicitly listed roles (empty for succinct delegations).
    pub fn roles(&self) -> &[DelegatedRole] {
        self.roles.as_deref().unwrap_or(&[])
    }
}

/// A targets role (top-level or delegated). `E` is what each entry of `targets` is read into:
/// its file info ([`TargetFile`], the default), or [`CheckedTarget`] for readers that need the
/// role's names, delegations and version but not 100k file infos in memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Targets<E = TargetFile> {
    /// `Targets` or `targets`.
    #[serde(rename = "_type")]
    pub type_name: String,
    /// TUF spec version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_version: Option<String>,
    /// Expiry.
    pub expires: String,
    /// Version.
    pub version: u64,
    /// Target path → file info.
    pub targets: BTreeMap<String, E>,
    /// Delegations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Delegations>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A target entry checked to be a valid [`TargetFile`] while reading and then dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckedTarget;

impl<'de> serde::Deserialize<'de> for CheckedTarget {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <TargetFile as serde::Deserialize>::deserialize(d).map(|_| CheckedTarget)
    }
}

/// A targets role without its file infos: what upload validation reads.
pub type TargetsOutline = Targets<CheckedTarget>;

/// One entry of snapshot/timestamp `meta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetaFile {
    /// Version of the referenced file (TUF; absent in Notary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Length in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Digests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Hashes>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The snapshot role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// `Snapshot` or `snapshot`.
    #[serde(rename = "_type")]
    pub type_name: String,
    /// TUF spec version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_version: Option<String>,
    /// Expiry.
    pub expires: String,
    /// Version.
    pub version: u64,
    /// Meta key → file info.
    pub meta: BTreeMap<String, MetaFile>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The timestamp role (same shape as snapshot; `meta` has one entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timestamp {
    /// `Timestamp` or `timestamp`.
    #[serde(rename = "_type")]
    pub type_name: String,
    /// TUF spec version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_version: Option<String>,
    /// Expiry.
    pub expires: String,
    /// Version.
    pub version: u64,
    /// `snapshot` (Notary) or `snapshot.json` (TUF) → file info.
    pub meta: BTreeMap<String, MetaFile>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_keeping_unknown!(Key, "a key", {
    keytype: "keytype",
    scheme: "scheme" = default,
    keyval: "keyval",
});
deserialize_keeping_unknown!(KeyVal, "a key value", { public: "public" });
deserialize_keeping_unknown!(RoleKeys, "a role's keys", {
    keyids: "keyids" = default,
    threshold: "threshold",
});
deserialize_keeping_unknown!(Root, "a root role", {
    type_name: "_type",
    spec_version: "spec_version" = default,
    consistent_snapshot: "consistent_snapshot" = default,
    expires: "expires",
    keys: "keys",
    roles: "roles",
    version: "version",
});
deserialize_keeping_unknown!(TargetFile, "a target file", {
    length: "length",
    hashes: "hashes",
    custom: "custom" = default,
});
deserialize_keeping_unknown!(DelegatedRole, "a delegated role", {
    name: "name",
    keyids: "keyids" = default,
    threshold: "threshold",
    terminating: "terminating" = default,
    paths: "paths" = default,
    path_hash_prefixes: "path_hash_prefixes" = default,
});
deserialize_keeping_unknown!(SuccinctRoles, "succinct roles", {
    keyids: "keyids",
    threshold: "threshold",
    bit_length: "bit_length",
    name_prefix: "name_prefix",
});
deserialize_keeping_unknown!(Delegations, "delegations", {
    keys: "keys" = default,
    roles: "roles" = default,
    succinct_roles: "succinct_roles" = default,
});
deserialize_keeping_unknown!(Targets<E>, "a targets role", {
    type_name: "_type",
    spec_version: "spec_version" = default,
    expires: "expires",
    version: "version",
    targets: "targets" = default,
    delegations: "delegations" = default,
});
deserialize_keeping_unknown!(MetaFile, "a meta entry", {
    version: "version" = default,
    length: "length" = default,
    hashes: "hashes" = default,
});
deserialize_keeping_unknown!(Snapshot, "a snapshot role", {
    type_name: "_type",
    spec_version: "spec_version" = default,
    expires: "expires",
    version: "version",
    meta: "meta",
});
deserialize_keeping_unknown!(Timestamp, "a timestamp role", {
    type_name: "_type",
    spec_version: "spec_version" = default,
    expires: "expires",
    version: "version",
    meta: "meta",
});
