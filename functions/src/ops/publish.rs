//! `POST /v2/{gun}/_trust/tuf/`: validate an upload, sign what the server signs, and make it
//! current without ever exposing a half-written state.

use std::collections::BTreeMap;

use notus_tuf::RoleType;
use notus_tuf::build;
use notus_tuf::metadata::Counts;
use notus_tuf::server::{
    HeldKeys, NotaryError, SnapshotPlan, Upload, UploadError, held_key, uploads_from_multipart,
    validate_update,
};

use super::store::{
    NewFile, load_files, materialise, refresh_due, repo_state, server_public_key,
    sign_with_server_key, stage,
};
use super::{ApiResult, Service, backend, updating};
use crate::layout;
use crate::ports::{Category, Commit, Head, KeyAssignments, NewChange, PortError};

/// The error a publish that lost the race gets (Notary's `VERSION`).
pub fn version_conflict() -> NotaryError {
    NotaryError::new(
        400,
        "VERSION",
        "A newer version of metadata is already available.",
        Some("{}".into()),
    )
}

/// The public halves of the keys the server holds for a collection.
pub fn held_keys(keys: &KeyAssignments) -> ApiResult<HeldKeys> {
    Ok(HeldKeys {
        timestamp: keys
            .timestamp
            .iter()
            .map(server_public_key)
            .collect::<Result<_, _>>()?,
        snapshot: keys
            .snapshot
            .iter()
            .map(server_public_key)
            .collect::<Result<_, _>>()?,
    })
}

/// Limits on what one targets role may hold (endless-data defence on the write path): the
/// number of targets and of delegations.
fn check_sizes(config: &super::Config, uploads: &[Upload]) -> Result<(), UploadError> {
    for u in uploads {
        let Some(Counts {
            targets,
            delegations,
        }) = Counts::of(&u.data)
        else {
            continue; // malformed files are the validator's to refuse
        };
        let role = &u.filename;
        if targets > config.max_targets {
            return Err(UploadError::Limit(format!(
                "{role} lists {targets} targets; the limit is {}",
                config.max_targets
            )));
        }
        if delegations > config.max_delegations {
            return Err(UploadError::Limit(format!(
                "{role} makes {delegations} delegations; the limit is {}",
                config.max_delegations
            )));
        }
    }
    Ok(())
}

/// Publish an upload to `gun`.
pub async fn publish(svc: &Service, gun: &str, content_type: &str, body: &[u8]) -> ApiResult<()> {
    if body.len() > svc.config.max_upload_bytes {
        return Err(UploadError::Limit(format!(
            "upload of {} bytes exceeds the limit of {} bytes",
            body.len(),
            svc.config.max_upload_bytes
        ))
        .to_notary());
    }
    let uploads = uploads_from_multipart(content_type, body, svc.config.max_parts)
        .map_err(|e| e.to_notary())?;
    check_sizes(&svc.config, &uploads).map_err(|e| e.to_notary())?;

    let head = svc.ledger.head(gun).await.map_err(backend)?;
    if head.as_ref().is_some_and(|h| h.deleting) {
        return Err(updating(
            "this collection is being deleted; repeat the DELETE, then publish",
        ));
    }
    // The current files (with the served names repaired if a publish was interrupted after its
    // commit) and the key assignments, read at once. Repeating an interrupted upload then
    // answers `VERSION`, as notary-server answers any upload of versions it already holds; the
    // collection is complete either way.
    let (files, keys) = tokio::try_join!(
        async {
            match &head {
                Some(h) => load_files(svc, gun, h, None).await,
                None => Ok(BTreeMap::new()),
            }
        },
        async { svc.ledger.keys(gun).await.map_err(backend) },
    )?;
    let held = held_keys(&keys)?;
    let now = svc.now();
    let state = repo_state(&files);
    let update = validate_update(gun, &state, uploads, &held, now).map_err(|e| {
        tracing::info!(gun, error = %e, "upload refused");
        e.to_notary()
    })?;
    let dialect = update.dialect;
    for f in &update.files {
        if !layout::role_name_is_storable(dialect, &f.role) {
            return Err(UploadError::InvalidRole(f.role.clone()).to_notary());
        }
    }
    // The snapshot: uploaded, or generated and signed with the server's snapshot key (before
    // the uploaded files move into `new_files`: the generated one lists them).
    let generated = match &update.snapshot {
        SnapshotPlan::Generate {
            key_index, key_id, ..
        } => {
            let unsigned = update
                .snapshot_to_sign(&state, now + svc.config.snapshot_lifetime)
                .map_err(|e| UploadError::from_engine("snapshot", e).to_notary())?
                .ok_or_else(|| updating("no snapshot to generate"))?;
            let version = unsigned
                .signed()
                .get("version")
                .and_then(|v| v.as_u64())
                .unwrap_or_default();
            let key = &keys.snapshot[*key_index];
            let bytes = sign_with_server_key(svc, unsigned, key_id, key).await?;
            Some(NewFile::new("snapshot", version, bytes))
        }
        _ => None,
    };
    let mut new_files: Vec<NewFile> = update
        .files
        .into_iter()
        .map(|f| NewFile::hashed(&f.role, f.version, f.bytes, &f.sha256))
        .chain(generated)
        .collect();
    let snapshot = new_files
        .iter()
        .find(|f| f.role == "snapshot")
        .cloned()
        .ok_or_else(|| updating("no snapshot"))?;

    // The timestamp, always the server's.
    let unsigned = build::build_timestamp(
        dialect,
        update.timestamp_version,
        now + svc.config.timestamp_lifetime,
        &snapshot.bytes,
        snapshot.version,
    )
    .map_err(|e| updating(&e.to_string()))?;
    let i = update.timestamp_key_index;
    let timestamp =
        sign_with_server_key(svc, unsigned, &update.timestamp_key_id, &keys.timestamp[i]).await?;
    new_files.push(NewFile::new(
        "timestamp",
        update.timestamp_version,
        timestamp,
    ));

    let server_snapshot = held_key(
        dialect,
        &update.root.value,
        RoleType::Snapshot,
        &held.snapshot,
    )
    .is_some();
    if commit_files(
        svc,
        gun,
        head.as_ref(),
        dialect,
        &files,
        new_files,
        server_snapshot,
    )
    .await?
    {
        Ok(())
    } else {
        tracing::info!(gun, "lost a concurrent publish");
        Err(version_conflict())
    }
}

/// Stage, commit and materialise `new_files` on top of `head`. `files` are the head's files
/// that were loaded (at least timestamp and, if the server signs it, snapshot). Returns false
/// if another writer committed first (nothing of this operation is then visible).
/// Shared by publish and refresh.
pub async fn commit_files(
    svc: &Service,
    gun: &str,
    head: Option<&Head>,
    dialect: notus_tuf::Dialect,
    files: &BTreeMap<String, NewFile>,
    new_files: Vec<NewFile>,
    server_snapshot: bool,
) -> ApiResult<bool> {
    stage(svc, gun, &new_files).await?;

    let mut merged = files.clone();
    let mut roles = head.map(|h| h.roles.clone()).unwrap_or_default();
    for f in &new_files {
        merged.insert(f.role.clone(), f.clone());
        roles.insert(f.role.clone(), f.record());
    }
    let timestamp = merged
        .get("timestamp")
        .ok_or_else(|| updating("no timestamp"))?;
    let new_head = Head {
        seq: head.map_or(1, |h| h.seq + 1),
        dialect: dialect.as_str().to_owned(),
        roles,
        refresh_due: refresh_due(&merged, server_snapshot)?,
        deleting: false,
    };
    let change = NewChange {
        category: Category::Update,
        version: timestamp.version,
        sha256: timestamp.sha256.clone(),
        created_at: svc.now(),
    };
    match svc
        .ledger
        .commit(gun, head.map(|h| h.seq), &new_head, &change)
        .await
        .map_err(backend)?
    {
        Commit::Conflict => return Ok(false),
        Commit::Committed(id) => {
            tracing::info!(gun, seq = new_head.seq, change = id, "committed");
        }
    }
    if let Err(e) = materialise(svc, gun, dialect, &new_files, files).await {
        // Committed but not yet served: the next publish or refresh of this GUN repairs it.
        tracing::error!(gun, error = %e, "committed, but could not update served names");
        return Err(backend(match e {
            PortError::Other(m) => PortError::Unavailable(m),
            u => u,
        }));
    }
    svc.served.record(gun, &change.sha256);
    Ok(true)
}
