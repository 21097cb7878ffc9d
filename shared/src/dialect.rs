//! The two metadata dialects. A collection's dialect is fixed by its root (`_type` `"Root"` is
//! Notary, `"root"` is TUF) and chosen once, at the edge; everything below asks the dialect for
//! the few things that differ instead of branching on it.

use std::fmt;

/// The four top-level role types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RoleType {
    /// root
    Root,
    /// targets (and every delegated targets role)
    Targets,
    /// snapshot
    Snapshot,
    /// timestamp
    Timestamp,
}

impl RoleType {
    /// Lower-case name (`root`, `targets`, ...), the TUF `_type` and the top-level role name.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleType::Root => "root",
            RoleType::Targets => "targets",
            RoleType::Snapshot => "snapshot",
            RoleType::Timestamp => "timestamp",
        }
    }

    /// Parse a top-level role name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "root" => RoleType::Root,
            "targets" => RoleType::Targets,
            "snapshot" => RoleType::Snapshot,
            "timestamp" => RoleType::Timestamp,
            _ => return None,
        })
    }
}

impl fmt::Display for RoleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which wire format a collection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// Notary 0.7 (reference API §10).
    Notary,
    /// TUF specification 1.0.x.
    Tuf,
}

impl Dialect {
    /// The `_type` value of a role in this dialect (`Targets` vs `targets`).
    pub fn type_name(self, role: RoleType) -> &'static str {
        match (self, role) {
            (Dialect::Notary, RoleType::Root) => "Root",
            (Dialect::Notary, RoleType::Targets) => "Targets",
            (Dialect::Notary, RoleType::Snapshot) => "Snapshot",
            (Dialect::Notary, RoleType::Timestamp) => "Timestamp",
            (Dialect::Tuf, r) => r.as_str(),
        }
    }

    /// Detect the dialect from a root's `_type`.
    pub fn from_root_type(type_name: &str) -> Option<Self> {
        match type_name {
            "Root" => Some(Dialect::Notary),
            "root" => Some(Dialect::Tuf),
            _ => None,
        }
    }

    /// The key under which snapshot/timestamp `meta` records a role: Notary uses the bare role
    /// name (`targets/releases`), TUF the file name (`targets.json`, `role1.json`).
    pub fn meta_key(self, role: &str) -> String {
        match self {
            Dialect::Notary => role.to_owned(),
            Dialect::Tuf => format!("{role}.json"),
        }
    }

    /// Decode a binary field (hashes, signatures): base64 for Notary, hex for TUF.
    pub fn decode_bytes(self, s: &str, field: &str) -> Result<Vec<u8>, crate::DecodeError> {
        match self {
            Dialect::Notary => crate::b64_decode(s, field),
            Dialect::Tuf => crate::hex_decode(s, field),
        }
    }

    /// Encode a binary field (hashes, signatures): base64 for Notary, hex for TUF.
    pub fn encode_bytes(self, b: &[u8]) -> String {
        match self {
            Dialect::Notary => crate::b64_encode(b),
            Dialect::Tuf => hex::encode(b),
        }
    }

    /// Lower-case name, as used in configuration and `--format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Notary => "notary",
            Dialect::Tuf => "tuf",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
