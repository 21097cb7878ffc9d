//! `DELETE /v2/{gun}/_trust/tuf/`: remove exactly one collection.
//!
//! Three steps, each safe to repeat: mark the head `deleting` (recording the deletion in the
//! feed; from here publishes are refused), remove every object under the collection's own
//! prefix `v2/{gun}/_trust/tuf/` (never another GUN's: notary-server's prefix match deleted
//! `example.com/delta` with `example.com/del`), then remove the head. A crash in between is
//! finished by the next DELETE or by refresh. Server-held key assignments are kept, as in
//! notary-server.

use super::{ApiResult, Service, backend};
use crate::layout;
use crate::ports::{Category, Commit, Head, NewChange};

/// How often marking is retried against concurrent publishes.
const MARK_ATTEMPTS: usize = 4;

/// Delete `gun`. Succeeds also when it never existed (as Notary does).
pub async fn delete(svc: &Service, gun: &str) -> ApiResult<()> {
    for _ in 0..MARK_ATTEMPTS {
        let Some(head) = svc.ledger.head(gun).await.map_err(backend)? else {
            return Ok(());
        };
        if head.deleting {
            return finish(svc, gun, &head).await;
        }
        let marked = Head {
            seq: head.seq + 1,
            deleting: true,
            ..head.clone()
        };
        let change = NewChange {
            category: Category::Deletion,
            version: 0,
            sha256: String::new(),
            created_at: svc.now(),
        };
        match svc
            .ledger
            .commit(gun, Some(head.seq), &marked, &change)
            .await
            .map_err(backend)?
        {
            Commit::Committed(id) => {
                tracing::info!(gun, change = id, "collection marked for deletion");
                return finish(svc, gun, &marked).await;
            }
            Commit::Conflict => continue,
        }
    }
    Err(super::publish::version_conflict())
}

/// Remove the objects of a collection marked `deleting`, then its head.
pub async fn finish(svc: &Service, gun: &str, head: &Head) -> ApiResult<()> {
    let keys = svc
        .store
        .list(&layout::collection_prefix(gun))
        .await
        .map_err(backend)?;
    // Current names first, so a reader stops finding the collection before its files go.
    let (current, rest): (Vec<String>, Vec<String>) = keys
        .into_iter()
        .partition(|k| k.ends_with("/timestamp.json") || k.ends_with("/root.json"));
    svc.served.forget(gun);
    svc.store.delete(&current).await.map_err(backend)?;
    svc.store.delete(&rest).await.map_err(backend)?;
    svc.ledger
        .remove_head(gun, head.seq)
        .await
        .map_err(backend)?;
    tracing::info!(
        gun,
        objects = current.len() + rest.len(),
        "collection deleted"
    );
    Ok(())
}
