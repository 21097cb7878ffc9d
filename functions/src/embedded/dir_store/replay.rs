//! Bringing the bucket back to what the journal says after a crash (or any restart: replaying a
//! journal whose effects all reached the disk changes nothing).
//!
//! Files written since the last checkpoint were never flushed, so a crash can leave any of them
//! missing, torn or stale. The replay makes each key what its last journal entry says, and each
//! content a record brought what the record holds. Only the last entry of a key matters: every
//! put either brings its content or names one that a checkpoint had made durable or that an
//! earlier record of the journal brought.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use bytes::Bytes;

use super::files::{Content, Dirs, etag_of, remove_names, replace_content, store};
use super::journal::Entry;
use crate::ports::{PortError, PortResult};

/// What the replay did, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Contents a record brought that were missing or torn and were written again.
    pub contents_rewritten: usize,
    /// Keys made what their last entry says (linked again, or removed).
    pub keys: usize,
}

/// Apply `entries` (in journal order) to the bucket at `root` with contents in `objects`;
/// `path_of` maps a key to its file.
pub fn replay(
    root: &Path,
    objects: &Path,
    entries: &[Entry],
    path_of: impl Fn(&str) -> PortResult<std::path::PathBuf>,
) -> PortResult<Replayed> {
    let mut brought: BTreeMap<&str, Bytes> = BTreeMap::new();
    let mut last: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for e in entries {
        match e {
            Entry::Put {
                key,
                sha256,
                content,
            } => {
                if let Some(c) = content {
                    brought.insert(sha256, c.clone());
                }
                last.insert(key, Some(sha256));
            }
            Entry::Delete { key } => {
                last.insert(key, None);
            }
        }
    }
    let mut done = Replayed::default();
    // Every content a record brought is what the record holds: a torn one would otherwise be
    // linked by the next writer of the same bytes.
    for (sha, bytes) in &brought {
        let intact = fs::read(objects.join(sha)).is_ok_and(|on_disk| on_disk == bytes[..]);
        if !intact {
            replace_content(objects, sha, bytes)
                .map_err(|e| PortError::Other(format!("replay: content {sha}: {e}")))?;
            done.contents_rewritten += 1;
        }
    }
    // Contents known to be whole: those the records brought, then those checked below (each
    // read and hashed once, however many keys name it).
    let mut whole = brought;
    let mut removed = Vec::new();
    let mut dirs = Dirs::new(objects)
        .map_err(|e| PortError::Other(format!("replay: {}: {e}", objects.display())))?;
    for (key, state) in last {
        let path = path_of(key)?;
        let Some(sha) = state else {
            removed.push(path);
            continue;
        };
        let content = objects.join(sha);
        let bytes = match whole.get(sha) {
            Some(b) => b.clone(),
            None => {
                // Durable since a checkpoint; checked all the same, never linked unseen.
                let on_disk = fs::read(&content).map_err(|e| {
                    PortError::Other(format!("replay: {key} names content {sha}: {e}"))
                })?;
                if etag_of(&on_disk) != sha {
                    return Err(PortError::Other(format!(
                        "replay: content {sha} that {key} names is damaged"
                    )));
                }
                whole.entry(sha).or_insert(Bytes::from(on_disk)).clone()
            }
        };
        store(&mut dirs, Content::Object(sha), &path, &bytes, false)
            .map_err(|e| PortError::Other(format!("replay: {key}: {e}")))?;
        done.keys += 1;
    }
    done.keys += removed.len();
    remove_names(root, objects, &removed)?;
    Ok(done)
}
