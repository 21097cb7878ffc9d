//! Typed views of the four role types, shared by both dialects.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Hashes;

/// Unknown fields, kept so that a re-serialised value still carries them.
pub type Extra = BTreeMap<String, Value>;

/// A public key as written in metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// `ecdsa`, `ecdsa-x509`, `ed25519`, `rsa`, `rsa-x509`, `ecdsa-sha2-nistp256`, ...
    pub keytype: String,
    /// TUF signature scheme (`ecdsa-sha2-nistp256`, `ed25519`, `rsassa-pss-sha256`). Absent in Notary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// The key value.
    pub keyval: KeyVal,
    /// Unknown fields (e.g. deprecated `keyid_hash_algorithms`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `keyval`: the public part (Notary also writes `"private": null`, kept in `extra`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVal {
    /// Encoded public key.
    pub public: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `roles.X` of root: who may sign a top-level role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleKeys {
    /// Authorised key IDs. Notary writes `null` after every key was removed.
    #[serde(default)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    /// `Root` (Notary) or `root` (TUF).
    #[serde(rename = "_type")]
    pub type_name: String,
    /// TUF spec version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_version: Option<String>,
    /// Whether metadata is served under versioned names.
    #[serde(default)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetFile {
    /// Size in bytes.
    pub length: u64,
    /// Digests.
    pub hashes: Hashes,
    /// Free-form data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One delegated role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedRole {
    /// Role name (`targets/releases` in Notary, any name in TUF).
    pub name: String,
    /// Authorised key IDs (`null` after `notary delegation purge`).
    #[serde(default)]
    pub keyids: Option<Vec<String>>,
    /// Signatures needed.
    pub threshold: u64,
    /// TUF: stop the search here if this role matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminating: Option<bool>,
    /// Path patterns: prefixes in Notary (`""` = everything), globs in TUF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// TUF: hex prefixes of sha256(target path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegations {
    /// Keys of the delegated roles.
    #[serde(default)]
    pub keys: BTreeMap<String, Key>,
    /// Ordered delegated roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<DelegatedRole>>,
    /// TAP 15 hash bins (exclusive with `roles`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// A targets role (top-level or delegated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    /// `Targets` or `targets`.
    #[serde(rename = "_type")]
    pub type_name: String,
    /// TUF spec version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_version: Option<String>,
    /// Expiry.
    pub expires: String,
    /// Version.
    pub version: u64,
    /// Target path → file info.
    #[serde(default)]
    pub targets: BTreeMap<String, TargetFile>,
    /// Delegations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Delegations>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One entry of snapshot/timestamp `meta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaFile {
    /// Version of the referenced file (TUF; absent in Notary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Length in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Hashes>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The snapshot role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// `Snapshot` or `snapshot`.
    #[serde(rename = "_type")]
    pub type_name: String,
    /// TUF spec version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    /// `Timestamp` or `timestamp`.
    #[serde(rename = "_type")]
    pub type_name: String,
    /// TUF spec version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
