//! The write protocol shared by publish and refresh (see the module doc of `ops`): loading a
//! head's files, staging, materialising, repairing, and signing with a server key.

use std::collections::BTreeMap;

use bytes::Bytes;
use notus_tuf::build::{RawSignature, UnsignedMetadata};
use notus_tuf::keys::{PublicKey, Scheme};
use notus_tuf::metadata::Peek;
use notus_tuf::server::{CurrentFile, RepoState};
use notus_tuf::{Dialect, RoleType};

use super::{ApiResult, Service, backend, updating};
use crate::layout::{self, NameKind};
use crate::ports::{
    Head, Object, PortError, PutCondition, PutOutcome, PutRequest, RoleRecord, ServerKey,
};

/// How often a compare-and-swap of a mutable name is retried against concurrent writers.
const CAS_ATTEMPTS: usize = 8;

/// A file about to be (or just) committed.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// Role name.
    pub role: String,
    /// Version.
    pub version: u64,
    /// Exact bytes.
    pub bytes: Bytes,
    /// Hex sha256 of `bytes`.
    pub sha256: String,
}

impl NewFile {
    /// A file and its hash.
    pub fn new(role: &str, version: u64, bytes: Vec<u8>) -> Self {
        let sha256 = notus_tuf::metadata::sha256(&bytes);
        Self::hashed(role, version, bytes, &sha256)
    }

    /// A file whose sha256 is already known (validation computed it).
    pub fn hashed(role: &str, version: u64, bytes: Vec<u8>, sha256: &[u8; 32]) -> Self {
        NewFile {
            role: role.to_owned(),
            version,
            bytes: Bytes::from(bytes),
            sha256: notus_tuf::metadata::hex_of_sha256(sha256),
        }
    }

    /// A put of this file under `key` (carrying its hash, so the store need not compute it).
    fn put(&self, key: String, condition: PutCondition) -> PutRequest {
        PutRequest::new(key, self.bytes.clone(), condition).with_sha256(self.sha256.clone())
    }

    /// Its ledger record.
    pub fn record(&self) -> RoleRecord {
        RoleRecord {
            version: self.version,
            sha256: self.sha256.clone(),
            length: self.bytes.len() as u64,
        }
    }
}

/// The dialect a head records.
pub fn head_dialect(head: &Head) -> ApiResult<Dialect> {
    match head.dialect.as_str() {
        "notary" => Ok(Dialect::Notary),
        "tuf" => Ok(Dialect::Tuf),
        other => Err(updating(&format!("ledger names unknown dialect {other:?}"))),
    }
}

/// The hex sha256 of an object's bytes: its etag where the store's etag is exactly that (the
/// embedded store just computed it from the bytes it read), computed here otherwise.
fn content_sha256(svc: &Service, obj: &Object) -> String {
    if svc.store.etag_is_sha256() {
        obj.etag.clone()
    } else {
        notus_tuf::metadata::sha256_hex(&obj.bytes)
    }
}

/// A committed file read from its content address, checked against what the ledger says.
fn checked_file(
    svc: &Service,
    gun: &str,
    role: &str,
    rec: &RoleRecord,
    key: &str,
    obj: Option<Object>,
) -> ApiResult<NewFile> {
    let obj = obj.ok_or_else(|| {
        tracing::error!(
            gun,
            role,
            key,
            "committed file is missing from the object store"
        );
        updating(&format!("committed file {key} is missing"))
    })?;
    let file = NewFile {
        role: role.to_owned(),
        version: rec.version,
        sha256: content_sha256(svc, &obj),
        bytes: obj.bytes,
    };
    if file.sha256 != rec.sha256 {
        tracing::error!(gun, role, key, "object does not match its ledger hash");
        return Err(updating(&format!("object {key} does not match the ledger")));
    }
    Ok(file)
}

/// One committed file, from the cache of contents or read by its content address and checked
/// against the ledger.
pub async fn load_file(
    svc: &Service,
    gun: &str,
    role: &str,
    rec: &RoleRecord,
) -> ApiResult<NewFile> {
    let (mut files, _) = read_files(svc, gun, &[(role, rec)], &[]).await?;
    Ok(files.remove(role).expect("one file per role asked for"))
}

/// The head's records of `roles` (all of them when `None`).
fn records<'h>(head: &'h Head, roles: Option<&[&str]>) -> Vec<(&'h str, &'h RoleRecord)> {
    head.roles
        .iter()
        .filter(|(r, _)| roles.is_none_or(|rs| rs.contains(&r.as_str())))
        .map(|(r, rec)| (r.as_str(), rec))
        .collect()
}

/// The committed files `wanted` (role and ledger record), from the cache of contents or read
/// in one batch together with the objects under `also`.
async fn read_files(
    svc: &Service,
    gun: &str,
    wanted: &[(&str, &RoleRecord)],
    also: &[String],
) -> ApiResult<(BTreeMap<String, NewFile>, Vec<Option<Object>>)> {
    let mut files = BTreeMap::new();
    let mut to_read = Vec::new();
    for &(role, rec) in wanted {
        match svc.contents.get(&rec.sha256) {
            Some(bytes) => {
                let file = NewFile {
                    role: role.to_owned(),
                    version: rec.version,
                    bytes,
                    sha256: rec.sha256.clone(),
                };
                files.insert(role.to_owned(), file);
            }
            None => to_read.push((role, rec, layout::hashed_key(gun, role, &rec.sha256))),
        }
    }
    let keys = to_read
        .iter()
        .map(|(_, _, k)| k.clone())
        .chain(also.iter().cloned())
        .collect();
    let mut objects = svc.store.get_all(keys).await.map_err(backend)?;
    let extra = objects.split_off(to_read.len());
    for ((role, rec, key), obj) in to_read.into_iter().zip(objects) {
        let file = checked_file(svc, gun, role, rec, &key, obj)?;
        svc.contents.insert(&file.sha256, &file.bytes);
        files.insert(role.to_owned(), file);
    }
    Ok((files, extra))
}

/// The files of `roles` (all of the head's when `None`), with the head's served names repaired
/// first if they lag it (I3: a publish interrupted after its ledger commit is finished here, by
/// whoever comes next). The served `timestamp.json` that tells is read in the same batch, unless
/// this process served the head itself (`ServedHeads`).
pub async fn load_files(
    svc: &Service,
    gun: &str,
    head: &Head,
    roles: Option<&[&str]>,
) -> ApiResult<BTreeMap<String, NewFile>> {
    let served_here = head
        .roles
        .get("timestamp")
        .is_some_and(|ts| svc.served.holds(gun, &ts.sha256));
    let check: Vec<String> = if served_here {
        Vec::new()
    } else {
        vec![layout::current_key(gun, "timestamp")]
    };
    let (files, mut extra) = read_files(svc, gun, &records(head, roles), &check).await?;
    if let Some(served) = extra.pop() {
        repair(svc, gun, head, &files, served).await?;
    }
    Ok(files)
}

/// The engine's view of the files.
pub fn repo_state(files: &BTreeMap<String, NewFile>) -> RepoState {
    RepoState {
        files: files
            .iter()
            .map(|(r, f)| {
                (
                    r.clone(),
                    CurrentFile {
                        bytes: f.bytes.to_vec(),
                        version: f.version,
                    },
                )
            })
            .collect(),
    }
}

/// Step 1: write every file under its content address, in one batch, and keep them in the
/// cache of contents for the next publish. An existing object under a content address already
/// has these bytes.
pub async fn stage(svc: &Service, gun: &str, files: &[NewFile]) -> ApiResult<()> {
    let puts = files
        .iter()
        .map(|f| {
            let key = layout::hashed_key(gun, &f.role, &f.sha256);
            f.put(key, PutCondition::IfAbsent)
        })
        .collect();
    let headers = svc.config.cache.headers(NameKind::Immutable);
    svc.store.put_all(puts, &headers).await.map_err(backend)?;
    for f in files {
        svc.contents.insert(&f.sha256, &f.bytes);
    }
    Ok(())
}

/// The order mutable names move in: root first, delegations, targets, snapshot, timestamp last.
fn write_rank(role: &str) -> (u8, std::cmp::Reverse<usize>) {
    let depth = role.matches('/').count();
    match role {
        "root" => (0, std::cmp::Reverse(0)),
        "timestamp" => (4, std::cmp::Reverse(0)),
        "snapshot" => (3, std::cmp::Reverse(0)),
        _ => (1, std::cmp::Reverse(depth)),
    }
}

/// Step 3: versioned names, then mutable names (timestamp last), for `files` of a committed
/// head. `served` are the files the mutable names are expected to hold (the previous head's),
/// as far as known.
pub async fn materialise(
    svc: &Service,
    gun: &str,
    dialect: Dialect,
    files: &[NewFile],
    served: &BTreeMap<String, NewFile>,
) -> Result<(), PortError> {
    let versioned = files
        .iter()
        .map(|f| {
            let key = layout::versioned_key(gun, &f.role, f.version);
            f.put(key, PutCondition::IfAbsent)
        })
        .collect::<Vec<_>>();
    let mut current: Vec<&NewFile> = files
        .iter()
        .filter(|f| layout::has_current_name(dialect, &f.role))
        .collect();
    current.sort_by_key(|f| write_rank(&f.role));
    let (moving, moves) = advancing_puts(svc, gun, &current, served).await?;
    // One call: the versioned names, then the mutable ones in order, stopping at the first that
    // a concurrent writer moved, so a reader (or a crash) never finds a new timestamp over an
    // old snapshot. The embedded store logs it as one record, replayed whole or not at all.
    let immutable = svc.config.cache.headers(NameKind::Immutable);
    let mutable = svc.config.cache.headers(NameKind::Current);
    let (stored, moved) = svc
        .store
        .put_all_then_in_order((versioned.clone(), &immutable), (moves, &mutable))
        .await?;
    for (put, outcome) in versioned.iter().zip(stored) {
        if outcome == PutOutcome::PreconditionFailed {
            // Only the committer of a version writes it (or a repair, with the same bytes);
            // anything else is worth an alarm, and is never overwritten.
            let existing = svc.store.get(&put.key).await?;
            if existing.is_some_and(|o| o.bytes != put.bytes) {
                tracing::error!(
                    gun,
                    key = put.key,
                    "versioned object differs from the ledger's"
                );
            }
        }
    }
    // From the first name that did not move on, one at a time, in order.
    for (f, outcome) in moving.into_iter().zip(moved) {
        if outcome == PutOutcome::PreconditionFailed {
            advance_current(svc, gun, f).await?;
        }
    }
    Ok(())
}

/// The puts that move the mutable names of `files` forward, never backward (and the files they
/// move): a name that already holds its file's version or a newer one is left alone.
async fn advancing_puts<'a>(
    svc: &Service,
    gun: &str,
    files: &[&'a NewFile],
    served: &BTreeMap<String, NewFile>,
) -> Result<(Vec<&'a NewFile>, Vec<PutRequest>), PortError> {
    let keys: Vec<String> = files
        .iter()
        .map(|f| layout::current_key(gun, &f.role))
        .collect();
    // Where the store's etag follows from the bytes, a name expected to hold an older file is
    // swapped against that file's etag without reading it first: if it holds anything else,
    // the swap fails and the name is read and retried on its own.
    let predicted: Vec<Option<PutCondition>> = files
        .iter()
        .map(|f| {
            served
                .get(&f.role)
                .filter(|old| svc.store.etag_is_sha256() && old.version < f.version)
                .map(|old| PutCondition::IfMatch(old.sha256.clone()))
        })
        .collect();
    let unpredicted: Vec<String> = keys
        .iter()
        .zip(&predicted)
        .filter(|(_, p)| p.is_none())
        .map(|(k, _)| k.clone())
        .collect();
    let mut stored = svc.store.get_all(unpredicted).await?.into_iter();
    let mut puts = Vec::new();
    let mut moving = Vec::new();
    for ((f, key), predicted) in files.iter().zip(keys).zip(predicted) {
        let condition = match predicted {
            Some(c) => Some(c),
            None => advance_condition(stored.next().flatten().as_ref(), f.version),
        };
        if let Some(condition) = condition {
            puts.push(f.put(key, condition));
            moving.push(*f);
        }
    }
    Ok((moving, puts))
}

/// The condition for moving a name that holds `stored` to `version`; `None` when it already
/// holds that version or a newer one.
fn advance_condition(stored: Option<&Object>, version: u64) -> Option<PutCondition> {
    match stored {
        Some(obj) => {
            let held = Peek::of(&obj.bytes).and_then(|p| p.version);
            if held.is_some_and(|v| v >= version) {
                None
            } else {
                Some(PutCondition::IfMatch(obj.etag.clone()))
            }
        }
        None => Some(PutCondition::IfAbsent),
    }
}

/// Move `{role}.json` forward to `f`, never backward: compare-and-swap against whatever a
/// concurrent writer left, re-reading on conflict.
async fn advance_current(svc: &Service, gun: &str, f: &NewFile) -> Result<(), PortError> {
    let key = layout::current_key(gun, &f.role);
    let headers = svc.config.cache.headers(NameKind::Current);
    for _ in 0..CAS_ATTEMPTS {
        let stored = svc.store.get(&key).await?;
        let Some(condition) = advance_condition(stored.as_ref(), f.version) else {
            return Ok(());
        };
        if svc
            .store
            .put(&key, f.bytes.clone(), condition, &headers)
            .await?
            == PutOutcome::Written
        {
            return Ok(());
        }
    }
    Err(PortError::Unavailable(format!(
        "{key} kept changing under {CAS_ATTEMPTS} attempts"
    )))
}

/// I3: if the served `timestamp.json` (`served`) lags the ledger (a crash between commit and
/// materialisation), materialise the whole head.
async fn repair(
    svc: &Service,
    gun: &str,
    head: &Head,
    files: &BTreeMap<String, NewFile>,
    served: Option<Object>,
) -> ApiResult<()> {
    let Some(ts) = head.roles.get("timestamp") else {
        return Ok(());
    };
    let served_sha = served.map(|o| content_sha256(svc, &o));
    if served_sha.as_deref() == Some(ts.sha256.as_str()) {
        return Ok(());
    }
    tracing::warn!(
        gun,
        seq = head.seq,
        "served state lags the ledger; repairing"
    );
    let dialect = head_dialect(head)?;
    let all: Vec<NewFile> = if files.len() == head.roles.len() {
        files.values().cloned().collect()
    } else {
        read_files(svc, gun, &records(head, None), &[])
            .await?
            .0
            .into_values()
            .collect()
    };
    // What the served names hold is unknown here: each is read before it moves.
    materialise(svc, gun, dialect, &all, &BTreeMap::new())
        .await
        .map_err(backend)?;
    svc.served.record(gun, &ts.sha256);
    Ok(())
}

/// Sign `unsigned` with a server key and finish the file. The signer answers only with a
/// signature that verifies under the key's recorded public half (`KeyService::sign`).
pub async fn sign_with_server_key(
    svc: &Service,
    unsigned: UnsignedMetadata,
    keyid: &str,
    key: &ServerKey,
) -> ApiResult<Vec<u8>> {
    // Whatever the signer's failure (throttled, disabled, denied), the upload itself was fine
    // and nothing has been written yet: a retryable 503, never a half-published state.
    let sig = svc.keys.sign(key, unsigned.payload()).await.map_err(|e| {
        backend(match e {
            PortError::Other(m) => PortError::Unavailable(format!("signing: {m}")),
            u => u,
        })
    })?;
    unsigned
        .finish(&[RawSignature {
            keyid: keyid.to_owned(),
            scheme: Scheme::EcdsaP256Fixed,
            bytes: sig,
        }])
        .map_err(|e| updating(&e.to_string()))
}

/// The public key of a server key.
pub fn server_public_key(key: &ServerKey) -> ApiResult<PublicKey> {
    key.public_key()
        .map_err(|e| updating(&format!("server {e}")))
}

/// When a metadata file expires.
pub fn expires_of(f: &NewFile) -> ApiResult<chrono::DateTime<chrono::Utc>> {
    Peek::of(&f.bytes)
        .and_then(|p| p.expires)
        .and_then(|s| notus_tuf::time::parse(&s).ok())
        .ok_or_else(|| updating(&format!("{} has no readable expiry", f.role)))
}

/// The earliest expiry among the files the server signs (timestamp; snapshot when
/// `server_snapshot`).
pub fn refresh_due(
    files: &BTreeMap<String, NewFile>,
    server_snapshot: bool,
) -> ApiResult<chrono::DateTime<chrono::Utc>> {
    let mut due: Option<chrono::DateTime<chrono::Utc>> = None;
    for role in [RoleType::Timestamp, RoleType::Snapshot] {
        if role == RoleType::Snapshot && !server_snapshot {
            continue;
        }
        let name = role.as_str();
        let f = files
            .get(name)
            .ok_or_else(|| updating(&format!("no {name}")))?;
        let expires = expires_of(f)?;
        due = Some(due.map_or(expires, |d| d.min(expires)));
    }
    due.ok_or_else(|| updating("nothing to refresh"))
}
