//! The object store as a directory laid out like the bucket. Writes are atomic (temporary file,
//! fsync, rename, fsync of the directory); conditional writes are serialised by one lock, which
//! is enough because the ledger's file lock already admits one server per data directory.

use std::fs;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::blocking;
use crate::ports::{
    Object, ObjectHeaders, ObjectStore, PortError, PortResult, PutCondition, PutOutcome,
};

/// Prefix of temporary files (never listed, never a metadata name).
const TMP_PREFIX: &str = ".notus-tmp-";

/// A directory object store.
pub struct DirStore {
    root: PathBuf,
    write_lock: Arc<Mutex<()>>,
}

impl DirStore {
    /// Open (creating) the directory.
    pub fn open(root: &Path) -> PortResult<Self> {
        fs::create_dir_all(root)
            .map_err(|e| PortError::Other(format!("cannot create {}: {e}", root.display())))?;
        Ok(DirStore {
            root: root.to_owned(),
            write_lock: Arc::new(Mutex::new(())),
        })
    }

    /// The file of `key`, refusing anything that could leave the root.
    fn path(&self, key: &str) -> PortResult<PathBuf> {
        let rel = Path::new(key);
        let ok = !key.is_empty()
            && !key.contains('\\')
            && rel
                .components()
                .all(|c| matches!(c, Component::Normal(s) if !s.to_string_lossy().starts_with(TMP_PREFIX)))
            && !key.split('/').any(str::is_empty);
        if !ok {
            return Err(PortError::Other(format!("refusing object key {key:?}")));
        }
        Ok(self.root.join(rel))
    }
}

fn etag_of(bytes: &[u8]) -> String {
    hex::encode(notus_tuf::metadata::sha256(bytes))
}

fn read(path: &Path) -> PortResult<Option<Object>> {
    match fs::read(path) {
        Ok(bytes) => {
            let modified = fs::metadata(path)
                .and_then(|m| m.modified())
                .map(DateTime::<Utc>::from)
                .unwrap_or_else(|_| Utc::now());
            Ok(Some(Object {
                etag: etag_of(&bytes),
                bytes: Bytes::from(bytes),
                last_modified: modified,
            }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        // A directory where a file was asked for (e.g. `3.targets`) is simply not an object.
        Err(_) if path.is_dir() => Ok(None),
        Err(e) => Err(PortError::Other(format!("read {}: {e}", path.display()))),
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("object paths have a parent");
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        "{TMP_PREFIX}{}",
        hex::encode(rand_core::RngCore::next_u64(&mut rand_core::OsRng).to_be_bytes())
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn walk(dir: &Path, root: &Path, prefix: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            walk(&path, root, prefix, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if key.starts_with(prefix) {
                out.push(key);
            }
        }
    }
    Ok(())
}

#[async_trait]
impl ObjectStore for DirStore {
    async fn get(&self, key: &str) -> PortResult<Option<Object>> {
        let path = self.path(key)?;
        blocking(move || read(&path)).await
    }

    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        condition: PutCondition,
        _headers: &ObjectHeaders,
    ) -> PortResult<PutOutcome> {
        let path = self.path(key)?;
        let lock = self.write_lock.clone();
        blocking(move || {
            let _guard = lock
                .lock()
                .map_err(|_| PortError::Other("store lock poisoned".into()))?;
            let current = read(&path)?;
            let holds = match (&condition, &current) {
                (PutCondition::IfAbsent, None) => true,
                (PutCondition::IfMatch(etag), Some(obj)) => &obj.etag == etag,
                _ => false,
            };
            if !holds {
                return Ok(PutOutcome::PreconditionFailed);
            }
            write_atomically(&path, &bytes)
                .map_err(|e| PortError::Other(format!("write {}: {e}", path.display())))?;
            Ok(PutOutcome::Written)
        })
        .await
    }

    async fn list(&self, prefix: &str) -> PortResult<Vec<String>> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        // Walk only below the deepest directory the prefix names.
        let start = match prefix.rfind('/') {
            Some(i) => self.path(&prefix[..i])?,
            None => root.clone(),
        };
        blocking(move || {
            let mut out = Vec::new();
            walk(&start, &root, &prefix, &mut out)
                .map_err(|e| PortError::Other(format!("list {prefix}: {e}")))?;
            out.sort();
            Ok(out)
        })
        .await
    }

    async fn delete(&self, keys: &[String]) -> PortResult<()> {
        let paths = keys
            .iter()
            .map(|k| self.path(k))
            .collect::<PortResult<Vec<_>>>()?;
        let lock = self.write_lock.clone();
        let root = self.root.clone();
        blocking(move || {
            let _guard = lock
                .lock()
                .map_err(|_| PortError::Other("store lock poisoned".into()))?;
            for p in &paths {
                match fs::remove_file(p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(PortError::Other(format!("delete {}: {e}", p.display())));
                    }
                }
            }
            // Drop directories left empty, so a deleted collection leaves no trace.
            for p in &paths {
                let mut dir = p.parent();
                while let Some(d) = dir.filter(|d| *d != root.as_path()) {
                    if fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
            }
            Ok(())
        })
        .await
    }
}
