//! The embedded adapters: zero set-up, everything under one data directory.
//!
//! ```text
//! notus-data/
//!   bucket/   the object store, laid out exactly like the S3 bucket (names are hard links)
//!   objects/  each distinct content once, by sha256 (what the names link to)
//!   journal/  the bucket's write-ahead journal (what makes a put durable; replayed on opening)
//!   ledger.redb   heads, change feed, refresh index, key assignments (one file, one writer)
//!   keys/     P-256 signing keys, PKCS#8 PEM, mode 0600
//! ```

mod dir_store;
mod file_keys;
mod redb_ledger;
mod worker;

pub use dir_store::DirStore;
pub use file_keys::FileKeys;
pub use redb_ledger::RedbLedger;

use std::path::Path;
use std::sync::Arc;

use crate::ports::PortError;

/// The three embedded adapters over one data directory.
pub struct Embedded {
    /// `bucket/`
    pub store: Arc<DirStore>,
    /// `ledger.redb`
    pub ledger: Arc<RedbLedger>,
    /// `keys/`
    pub keys: Arc<FileKeys>,
}

/// Open the embedded adapters over `data_dir` (created if missing).
pub fn open(data_dir: &Path) -> Result<Embedded, PortError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| PortError::Other(format!("cannot create {}: {e}", data_dir.display())))?;
    // The ledger first: its file lock is what admits one server per data directory, and the
    // store's journal replay must not run beside another server's writes.
    let ledger = Arc::new(RedbLedger::open(&data_dir.join("ledger.redb"))?);
    Ok(Embedded {
        store: Arc::new(DirStore::open(
            &data_dir.join("bucket"),
            &data_dir.join("objects"),
            &data_dir.join("journal"),
        )?),
        ledger,
        keys: Arc::new(FileKeys::open(&data_dir.join("keys"))?),
    })
}

/// Run blocking file or database work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PortError> + Send + 'static,
) -> Result<T, PortError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PortError::Other(format!("blocking task failed: {e}")))?
}
