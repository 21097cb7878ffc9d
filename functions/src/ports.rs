//! The three ports the operations run over. Each has an AWS adapter (`aws/`) and an embedded one
//! (`embedded/`); `tests/contract.rs` holds the one suite both must pass.
//!
//! The ports are deliberately small: everything TUF is decided in `notus_tuf`, and everything
//! about ordering writes (invariants I1–I4) is decided in `ops/`. An adapter only has to be
//! honest about its conditions: a conditional write either happens exactly as asked or reports
//! that it did not.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A failure of the storage or signing backend (not of the request).
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The backend is unreachable, throttling or timing out: the caller may retry later.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// Anything else (misconfiguration, corrupt data, refused access).
    #[error("{0}")]
    Other(String),
}

impl PortError {
    /// An `Other` error from anything printable.
    pub fn other(e: impl std::fmt::Display) -> Self {
        PortError::Other(e.to_string())
    }
}

/// Result of a port call.
pub type PortResult<T> = Result<T, PortError>;

/// An object as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Exact bytes.
    pub bytes: Bytes,
    /// Opaque version tag for [`PutCondition::IfMatch`].
    pub etag: String,
    /// When it was last written.
    pub last_modified: DateTime<Utc>,
}

/// When a put may happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCondition {
    /// Only if nothing is stored under the key (S3 `If-None-Match: *`): immutable names.
    IfAbsent,
    /// Only if the stored object still has this etag (S3 `If-Match`): mutable pointers.
    IfMatch(String),
}

/// What a conditional put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written.
    Written,
    /// The condition did not hold; nothing was written.
    PreconditionFailed,
}

/// One put of [`ObjectStore::put_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutRequest {
    /// Where.
    pub key: String,
    /// What.
    pub bytes: Bytes,
    /// When.
    pub condition: PutCondition,
    /// The hex sha256 of `bytes`, where the caller already has it: a store that addresses
    /// contents by their sha256 uses it instead of hashing the bytes again (a publish puts each
    /// file under three names, and had hashed it once already). Exactly that hash or `None`.
    pub sha256: Option<String>,
}

impl PutRequest {
    /// A put of `bytes` under `key` if `condition` holds.
    pub fn new(key: impl Into<String>, bytes: impl Into<Bytes>, condition: PutCondition) -> Self {
        PutRequest {
            key: key.into(),
            bytes: bytes.into(),
            condition,
            sha256: None,
        }
    }

    /// The same put, carrying the hex sha256 of its bytes (see [`PutRequest::sha256`]).
    pub fn with_sha256(self, sha256: String) -> Self {
        PutRequest {
            sha256: Some(sha256),
            ..self
        }
    }
}

/// How many requests of one batch the default [`ObjectStore::get_all`] and
/// [`ObjectStore::put_all`] have in flight.
const BATCH_CONCURRENCY: usize = 16;

/// HTTP metadata stored with an object, so a CDN in front of the bucket serves what the local
/// server would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHeaders {
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Cache-Control`.
    pub cache_control: String,
}

/// A bucket-like store of immutable and mutable objects. Keys are the URL paths without their
/// leading slash.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// The object under `key`, if any.
    async fn get(&self, key: &str) -> PortResult<Option<Object>>;
    /// Several gets: each object (or `None`) in the order of `keys`. The default reads them
    /// concurrently; the embedded store reads them in one hand-off to its blocking threads
    /// instead of one per key.
    async fn get_all(&self, keys: Vec<String>) -> PortResult<Vec<Option<Object>>> {
        use futures_util::{StreamExt as _, TryStreamExt as _, stream};
        let reads: Vec<_> = keys
            .iter()
            .map(|k| async move { self.get(k).await })
            .collect();
        stream::iter(reads)
            .buffered(BATCH_CONCURRENCY)
            .try_collect()
            .await
    }
    /// Whether an object's etag is the hex sha256 of its bytes, so that a caller who knows the
    /// bytes knows the etag without asking (the embedded store). S3's ETag depends on the
    /// encryption and the upload method, so there it is not.
    fn etag_is_sha256(&self) -> bool {
        false
    }
    /// Write `bytes` under `key` if `condition` holds.
    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        condition: PutCondition,
        headers: &ObjectHeaders,
    ) -> PortResult<PutOutcome>;
    /// Several independent puts (distinct keys, no order among them) with the same headers:
    /// each outcome as [`ObjectStore::put`] would report it, in the order given, all durable
    /// when this returns. The default runs them concurrently (S3 takes them in one burst); the
    /// embedded store makes the whole batch durable with one journal record (and one flush,
    /// shared with concurrent batches). On an error some puts may have happened, as with
    /// separate puts.
    async fn put_all(
        &self,
        puts: Vec<PutRequest>,
        headers: &ObjectHeaders,
    ) -> PortResult<Vec<PutOutcome>> {
        use futures_util::{StreamExt as _, TryStreamExt as _, stream};
        let writes: Vec<_> = puts
            .into_iter()
            .map(|p| async move { self.put(&p.key, p.bytes, p.condition, headers).await })
            .collect();
        stream::iter(writes)
            .buffered(BATCH_CONCURRENCY)
            .try_collect()
            .await
    }
    /// Several puts (distinct keys) made one after another in the order given, each visible no
    /// earlier than the ones before it, stopping at the first whose condition does not hold:
    /// the mutable names of a publish, which readers must see move in order (a timestamp never
    /// moves over a snapshot that did not). That put and every later one report
    /// `PreconditionFailed` and none of them is written. All durable when this returns. The
    /// default puts one at a time; the embedded store writes one journal record.
    async fn put_in_order(
        &self,
        puts: Vec<PutRequest>,
        headers: &ObjectHeaders,
    ) -> PortResult<Vec<PutOutcome>> {
        let mut outcomes = Vec::with_capacity(puts.len());
        for p in puts {
            let outcome = match outcomes.last() {
                Some(PutOutcome::PreconditionFailed) => PutOutcome::PreconditionFailed,
                _ => self.put(&p.key, p.bytes, p.condition, headers).await?,
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
    /// [`ObjectStore::put_all`] of `all`, then [`ObjectStore::put_in_order`] of `in_order`, each
    /// of those visible no earlier than every put of `all`: the names of one committed version
    /// (its versioned names, then its mutable ones). The embedded store makes both durable with
    /// one journal record and one flush instead of two.
    async fn put_all_then_in_order(
        &self,
        all: (Vec<PutRequest>, &ObjectHeaders),
        in_order: (Vec<PutRequest>, &ObjectHeaders),
    ) -> PortResult<(Vec<PutOutcome>, Vec<PutOutcome>)> {
        let first = self.put_all(all.0, all.1).await?;
        let then = self.put_in_order(in_order.0, in_order.1).await?;
        Ok((first, then))
    }
    /// Every key that starts with `prefix`.
    async fn list(&self, prefix: &str) -> PortResult<Vec<String>>;
    /// Remove `keys` (missing ones are not an error).
    async fn delete(&self, keys: &[String]) -> PortResult<()>;
}

/// What the ledger knows of one role file of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRecord {
    /// Version in the file.
    pub version: u64,
    /// Hex sha256 of the exact bytes.
    pub sha256: String,
    /// Length in bytes.
    pub length: u64,
}

/// A collection's head: the one record every publish of a GUN is serialised on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Commit counter: 1 for the first commit, +1 for every later one.
    pub seq: u64,
    /// `notary` or `tuf`.
    pub dialect: String,
    /// Every current role file by role name (`root`, `targets`, `targets/x`, `snapshot`,
    /// `timestamp`).
    pub roles: BTreeMap<String, RoleRecord>,
    /// When the earliest server-signed file (timestamp, or server-held snapshot) expires: the
    /// refresh index.
    pub refresh_due: DateTime<Utc>,
    /// Set by DELETE before objects are removed; publishes are refused until it completes.
    #[serde(default)]
    pub deleting: bool,
}

/// Kind of change in the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// A new timestamp was stored.
    Update,
    /// The collection was deleted.
    Deletion,
}

impl Category {
    /// The feed's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Update => "update",
            Category::Deletion => "deletion",
        }
    }
}

/// A change to record with a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewChange {
    /// Update or deletion.
    pub category: Category,
    /// Timestamp version (0 for deletions).
    pub version: u64,
    /// Hex sha256 of the timestamp ("" for deletions).
    pub sha256: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A recorded change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Feed position, strictly increasing in commit order.
    pub id: u64,
    /// The collection.
    pub gun: String,
    /// What happened.
    #[serde(flatten)]
    pub change: NewChange,
}

/// A page of the change feed, in Notary's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeQuery {
    /// Only this collection's changes.
    pub gun: Option<String>,
    /// Exclusive cursor; `None` = from the start (forward) or from the end (backward).
    pub after: Option<u64>,
    /// How many records at most.
    pub limit: usize,
    /// Page backwards from the cursor (results still oldest first).
    pub backward: bool,
}

/// The outcome of a conditional ledger write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Written, with this change ID.
    Committed(u64),
    /// The head was not at the expected `seq`: someone else committed first.
    Conflict,
}

/// A key the signer holds for the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerKey {
    /// The signer's reference (key file ID, KMS key ARN).
    pub key_ref: String,
    /// DER SubjectPublicKeyInfo (P-256).
    pub public_der: Vec<u8>,
}

impl ServerKey {
    /// Its public half, parsed.
    pub fn public_key(&self) -> PortResult<notus_tuf::keys::PublicKey> {
        use p256::pkcs8::DecodePublicKey as _;
        p256::ecdsa::VerifyingKey::from_public_key_der(&self.public_der)
            .map(notus_tuf::keys::PublicKey::EcdsaP256)
            .map_err(|e| PortError::Other(format!("key {} is not P-256: {e}", self.key_ref)))
    }
}

/// The server-held keys assigned to one collection, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAssignments {
    /// Revision for conditional updates (0 = never written).
    pub rev: u64,
    /// Timestamp keys.
    pub timestamp: Vec<ServerKey>,
    /// Snapshot keys.
    pub snapshot: Vec<ServerKey>,
}

/// Per-GUN heads, the change feed, the refresh index and key assignments.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// The collection's head (strongly consistent).
    async fn head(&self, gun: &str) -> PortResult<Option<Head>>;
    /// Replace the head if it is still at `expected_seq` (`None`: if there is none) and append
    /// `change` to the feed, atomically.
    async fn commit(
        &self,
        gun: &str,
        expected_seq: Option<u64>,
        head: &Head,
        change: &NewChange,
    ) -> PortResult<Commit>;
    /// Remove the head if it is still at `expected_seq` (the end of a DELETE).
    async fn remove_head(&self, gun: &str, expected_seq: u64) -> PortResult<bool>;
    /// A page of the change feed.
    async fn changes(&self, query: &ChangeQuery) -> PortResult<Vec<Change>>;
    /// GUNs whose `refresh_due` is before `before`, or which are being deleted.
    async fn due(&self, before: DateTime<Utc>) -> PortResult<Vec<String>>;
    /// The keys assigned to a collection.
    async fn keys(&self, gun: &str) -> PortResult<KeyAssignments>;
    /// Replace the key assignments if they are still at revision `keys.rev - 1`.
    async fn put_keys(&self, gun: &str, keys: &KeyAssignments) -> PortResult<bool>;
}

/// Signs with keys it never reveals.
#[async_trait]
pub trait KeyService: Send + Sync {
    /// The deployment's shared timestamp key (created on first use by the embedded signer; the
    /// configured key on KMS).
    async fn default_key(&self) -> PortResult<ServerKey>;
    /// A new key dedicated to one collection.
    async fn create_key(&self) -> PortResult<ServerKey>;
    /// A fixed-width (r‖s) ECDSA P-256 SHA-256 signature over `payload` by `key`, which
    /// verifies under `key.public_der`: a signer holding another key under `key.key_ref` (a
    /// misconfiguration, a key file restored from elsewhere) fails instead, so the service never
    /// publishes metadata no client can verify. A local signer proves it by comparing the public
    /// halves (verifying its own signature cost 8 % of a loaded server's request threads,
    /// docs/performance.md, profile 13); a remote one (KMS) verifies the signature it got back.
    /// The payload, not its digest, so that a local signer can hash and sign in one library
    /// call; a remote one sends only the digest.
    async fn sign(&self, key: &ServerKey, payload: &[u8]) -> PortResult<Vec<u8>>;
}
