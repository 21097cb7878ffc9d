//! One error type for the engine, grouped by who is at fault (rustls/python-tuf style):
//! malformed input ([`DecodeError`]), well-formed input that breaks TUF ([`Rejection`]), or a
//! caller that used the API out of order ([`ApiMisuse`], never caused by untrusted data).

use crate::dialect::RoleType;

/// Every error the engine returns.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes or JSON were malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The input is well formed but breaks a TUF or Notary rule.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The caller used the API out of order. Untrusted data can never cause this.
    #[error(transparent)]
    ApiMisuse(#[from] ApiMisuse),
    /// A crypto or signer back-end failed.
    #[error("{0}")]
    Other(String),
}

/// The input could not be decoded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// JSON that canonical JSON cannot represent (a float, or an integer out of range).
    #[error("not canonicalisable: {0}")]
    NotCanonical(String),
    /// A base64, hex, PEM, DER or certificate field could not be decoded.
    #[error("invalid encoding of {field}: {reason}")]
    Encoding {
        /// Which field.
        field: String,
        /// Why.
        reason: String,
    },
    /// A timestamp is not RFC 3339.
    #[error("invalid date {0:?}")]
    Date(String),
    /// A multipart body could not be parsed.
    #[error("malformed multipart body: {0}")]
    Multipart(String),
}

/// Well-formed input that TUF or Notary forbids. Each variant names the rule it enforces.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// `_type` is not the one expected for this role and dialect.
    #[error("{role} type metadata invalid: expected type {expected}, not {got}")]
    WrongType {
        /// The role being loaded.
        role: String,
        /// The expected `_type` string.
        expected: String,
        /// The `_type` string received.
        got: String,
    },
    /// A structural rule of the metadata schema is broken (missing meta, zero threshold, ...).
    #[error("{role} type metadata invalid: {reason}")]
    Invalid {
        /// The role being loaded.
        role: String,
        /// What is wrong.
        reason: String,
    },
    /// Fewer valid signatures from distinct authorised keys than the threshold.
    #[error("valid signatures did not meet threshold for {role}")]
    Threshold {
        /// The role whose signatures were counted.
        role: String,
        /// Distinct authorised keys with a valid signature.
        valid: u64,
        /// The threshold.
        threshold: u64,
    },
    /// A version that must equal a stated value does not.
    #[error("{role} version {got} is not the expected version {expected}")]
    BadVersion {
        /// Role.
        role: String,
        /// Expected version.
        expected: u64,
        /// Received version.
        got: u64,
    },
    /// Rollback: a version lower than (or, where equality is forbidden, equal to) the trusted one.
    #[error("{role} version {got} is lower than the trusted version {trusted}")]
    Rollback {
        /// Role.
        role: String,
        /// Trusted (current) version.
        trusted: u64,
        /// Received version.
        got: u64,
    },
    /// The same version as the trusted one (python-tuf's `EqualVersionNumberError`): not an
    /// attack, the caller keeps what it has.
    #[error("{role} version {version} is already trusted")]
    EqualVersion {
        /// Role.
        role: String,
        /// The version.
        version: u64,
    },
    /// Root versions must increase by exactly one.
    #[error("Root modifications must increment the version. Current {current}, new {new}")]
    RootVersion {
        /// Current root version (1 for a collection without root, as in Notary).
        current: u64,
        /// Uploaded root version.
        new: u64,
    },
    /// Freeze attack: the metadata's expiry is not after the reference time.
    #[error("{role} expired at {expires}")]
    Expired {
        /// Role.
        role: String,
        /// Its `expires` as written.
        expires: String,
    },
    /// Length or hash of a file differs from what its referrer recorded (mix-and-match,
    /// arbitrary installation, endless data).
    #[error("{algorithm} checksum for {role} did not match: expected {expected}")]
    LengthOrHashMismatch {
        /// Role or target.
        role: String,
        /// `length` or the hash algorithm.
        algorithm: String,
        /// Expected value as recorded by the referrer (in the dialect's encoding, hex for lengths).
        expected: String,
    },
    /// A role that the referring metadata does not know.
    #[error("tuf: invalid role {role}. delegation does not exist")]
    UnknownRole {
        /// Role name.
        role: String,
    },
    /// A target lies outside the paths its delegation allows.
    #[error("target {target:?} is outside the paths delegated to {role}")]
    PathNotDelegated {
        /// Delegated role.
        role: String,
        /// Target path.
        target: String,
    },
    /// A role that a newer snapshot dropped (rollback by removal).
    #[error("new snapshot is missing info for {role}")]
    MissingMeta {
        /// Role.
        role: String,
    },
    /// A key in the metadata is unusable (bad encoding, unsupported type, key ID mismatch).
    #[error("invalid key {keyid}: {reason}")]
    BadKey {
        /// Key ID.
        keyid: String,
        /// Why.
        reason: String,
    },
    /// Notary root certificate rules (CN = GUN, not CA, validity, no SHA-1, RSA ≥ 2048).
    #[error(
        "could not validate the path to a trusted root: unable to retrieve valid leaf certificates"
    )]
    RootCertificate {
        /// What was wrong with the certificate (not shown to clients, kept for logs).
        reason: String,
    },
    /// A root signed by its own keys but not by the previous root's threshold.
    #[error(
        "could not rotate trust to a new trusted root: failed to validate data with current trusted certificates"
    )]
    RootRotation,
    /// An upload has no root and the collection has none.
    #[error("no pre-existing root and no root provided in update.")]
    NoRoot,
    /// A required role is missing from an upload and cannot be generated.
    #[error(
        "no {role} was included in update and server does not hold current {role} key for repository"
    )]
    MissingRole {
        /// The missing role.
        role: String,
    },
    /// Root lists a key for a server-held role that the server does not hold.
    #[error("no {role} keys exist on the server")]
    ServerKeyNotHeld {
        /// `timestamp` or `snapshot`.
        role: String,
    },
    /// The role name in an upload is not a valid role.
    #[error("invalid role name {0:?}")]
    InvalidRoleName(String),
    /// An uploaded version is not newer than the stored one (Notary's `VERSION` error).
    #[error("A newer version of metadata is already available.")]
    StaleVersion {
        /// Role.
        role: String,
        /// Stored version.
        stored: u64,
        /// Uploaded version.
        uploaded: u64,
    },
    /// A delegation graph or search exceeded its bounds.
    #[error("{0}")]
    Limit(String),
}

impl Rejection {
    /// Which role the rejection is about, when it is about one.
    pub fn role(&self) -> Option<&str> {
        use Rejection::*;
        match self {
            WrongType { role, .. }
            | Invalid { role, .. }
            | Threshold { role, .. }
            | BadVersion { role, .. }
            | Rollback { role, .. }
            | EqualVersion { role, .. }
            | Expired { role, .. }
            | LengthOrHashMismatch { role, .. }
            | UnknownRole { role }
            | PathNotDelegated { role, .. }
            | MissingMeta { role }
            | MissingRole { role }
            | ServerKeyNotHeld { role }
            | StaleVersion { role, .. } => Some(role),
            RootVersion { .. } | RootCertificate { .. } | RootRotation => Some("root"),
            BadKey { .. } | NoRoot | InvalidRoleName(_) | Limit(_) => None,
        }
    }

    /// Convenience for the common "this role's schema is broken" case.
    pub fn invalid(role: impl Into<String>, reason: impl Into<String>) -> Self {
        Rejection::Invalid {
            role: role.into(),
            reason: reason.into(),
        }
    }
}

/// The API was used out of order.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// A step was called before the step it depends on.
    #[error("cannot update {role} before {needs} is trusted")]
    MissingPrerequisite {
        /// What the caller tried to update.
        role: RoleType,
        /// What must be trusted first.
        needs: RoleType,
    },
    /// A step was called after a later step already happened.
    #[error("cannot update {role} after {after} was loaded")]
    TooLate {
        /// What the caller tried to update.
        role: RoleType,
        /// What was already loaded.
        after: RoleType,
    },
    /// The delegator named by the caller is not trusted yet.
    #[error("delegator {0} is not trusted")]
    UntrustedDelegator(String),
}

impl From<serde_json::Error> for DecodeError {
    fn from(e: serde_json::Error) -> Self {
        DecodeError::Json(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Decode(e.into())
    }
}
