//! Metadata GETs, straight from the object store (in AWS the CDN reads the bucket itself; this
//! is the same read for the local server and a function URL without a CDN).

use super::{ApiResult, Service, backend, not_found};
use crate::layout::{self, NameKind};
use crate::ports::Object;

/// The object for `file` of `gun`, with its name kind; `None` when `file` is not a metadata
/// name at all (Notary's catch-all 404 without detail).
pub async fn get_metadata(
    svc: &Service,
    gun: &str,
    file: &str,
) -> Option<ApiResult<(Object, NameKind)>> {
    let (name, kind) = layout::classify_file(file)?;
    let key = format!("{}{name}", layout::collection_prefix(gun));
    Some(match svc.store.get(&key).await {
        Ok(Some(obj)) => Ok((obj, kind)),
        Ok(None) => Err(not_found()),
        Err(e) => Err(backend(e)),
    })
}
