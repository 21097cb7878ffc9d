//! The object store as a directory laid out like the bucket.
//!
//! Content is written once: a new content is written unnamed in the directory of its first name
//! and linked there, and its other names are hard links to that name: a new name is linked
//! directly (the link fails if the name exists, which is exactly "if absent"), a replaced name is
//! linked to a temporary name and swapped with the old one. A publish stores each file under
//! three names (hash, version, current) with identical bytes, so this writes each content once
//! instead of three times, and replacing a current name frees no inode (on ext4, the kernel's
//! inode allocation after constant create-and-delete had been the largest CPU cost of a
//! publish). Where a link cannot be made (another filesystem, too many links) the name gets its
//! own copy, written atomically.
//!
//! `objects/{sha256}` holds the contents the replay writes, and held every content before
//! profile 15 of docs/performance.md: its entry was the most expensive of a content's links (a
//! directory every collection shares). A conditional replace recognises the expected content by
//! inode when the name is a link to `objects/{etag}`, and otherwise (once per name after a
//! restart; the writer remembers what it wrote) by reading and hashing it.
//!
//! Durability is the journal's (`journal.rs`): every write goes through one writer thread
//! (`writer.rs`), which checks a group of batches' conditions, appends what they will do to the
//! journal, flushes it once, and only then writes their files, without flushing them. So nothing
//! a reader sees can be lost, and a crash at any point leaves either nothing of a batch or all of
//! it once the journal is replayed, which opening the store does (`replay.rs`). When a journal
//! segment is full, a checkpoint flushes the filesystem once and deletes the segment.
//!
//! Reads take no lock: a name is always replaced whole (by rename). One writer within one
//! process suffices: the ledger's file lock admits one server per data directory, and it is
//! taken before this store is opened.

mod files;
mod journal;
mod replay;
mod writer;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use async_trait::async_trait;
use bytes::Bytes;

use super::blocking;
use super::worker::Worker;
use crate::ports::{
    Object, ObjectHeaders, ObjectStore, PortError, PortResult, PutCondition, PutOutcome, PutRequest,
};
use files::{Read, TMP_PREFIX, etag_of, read, read_up_to, walk};
use journal::Journal;
use writer::{Batch, Job, Writer};

/// Files up to this size are read on the calling thread (see `get_all`): reading and hashing
/// 64 KiB from the page cache takes ≈ 50 µs on the benchmark machine (Python's `hashlib` under
/// `timeit`, sha256 alone 37–44 µs), about the most an async thread should be held for.
const INLINE_READ_LIMIT: u64 = 64 << 10;

/// A journal segment's size before a checkpoint: what a restart after a crash replays at most
/// (about two thousand publishes of small collections).
const SEGMENT_BYTES: u64 = 32 << 20;

fn journal_error(e: std::io::Error) -> PortError {
    PortError::Other(format!("store journal: {e}"))
}

struct Inner {
    root: PathBuf,
    objects: PathBuf,
}

/// A directory object store.
pub struct DirStore {
    inner: Inner,
    /// Every write goes through it; dropping the store waits until it has written everything
    /// it answered for (a store reopened afterwards finds those files).
    writer: Worker<Job>,
    /// Set while a background checkpoint runs (the tests wait for it).
    #[cfg_attr(not(test), allow(dead_code))]
    checkpointing: Arc<AtomicBool>,
}

impl DirStore {
    /// Open (creating) the bucket directory `root`, with contents kept in `objects` (on the same
    /// filesystem, outside `root` so the bucket directory can be served as it is) and the
    /// journal in `journal`; replays what a crash left in the journal. The caller must hold the
    /// data directory exclusively (the ledger's lock).
    pub fn open(root: &Path, objects: &Path, journal: &Path) -> PortResult<Self> {
        Self::open_with(root, objects, journal, SEGMENT_BYTES)
    }

    fn open_with(
        root: &Path,
        objects: &Path,
        journal: &Path,
        segment_bytes: u64,
    ) -> PortResult<Self> {
        for dir in [root, objects] {
            std::fs::create_dir_all(dir)
                .map_err(|e| PortError::Other(format!("cannot create {}: {e}", dir.display())))?;
        }
        let (journal, recovered) = Journal::open(journal, segment_bytes).map_err(journal_error)?;
        let inner = Inner {
            root: root.to_owned(),
            objects: objects.to_owned(),
        };
        if !recovered.entries.is_empty() {
            let done = replay::replay(root, objects, &recovered.entries, |k| inner.path(k))?;
            journal::sync_filesystem(root).map_err(journal_error)?;
            tracing::info!(
                entries = recovered.entries.len(),
                keys = done.keys,
                contents_rewritten = done.contents_rewritten,
                "object store journal replayed"
            );
        }
        journal.retire(&recovered.segments).map_err(journal_error)?;
        let checkpointing = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            root: inner.root.clone(),
            objects: inner.objects.clone(),
            journal: Arc::new(journal),
            checkpointing: checkpointing.clone(),
            known: writer::Known::default(),
            dirs: files::Dirs::new(&inner.objects).map_err(|e| {
                PortError::Other(format!("cannot open {}: {e}", inner.objects.display()))
            })?,
        };
        Ok(DirStore {
            inner,
            writer: Worker::start("the store's writer", move |queue| writer.run(queue))?,
            checkpointing,
        })
    }

    /// Make every file written so far durable and drop the journal segments that described
    /// them (done in the background whenever a segment fills up).
    pub async fn checkpoint(&self) -> PortResult<()> {
        self.writer.submit(|reply| Job::Checkpoint { reply }).await
    }

    /// Hand `puts` to the writer as one batch (puts from `in_order_from` on stop at the first
    /// failed condition).
    async fn write(
        &self,
        puts: Vec<PutRequest>,
        in_order_from: usize,
    ) -> PortResult<Vec<PutOutcome>> {
        let paths = puts
            .iter()
            .map(|p| self.inner.path(&p.key))
            .collect::<PortResult<Vec<_>>>()?;
        let batch = Batch {
            puts,
            paths,
            in_order_from,
        };
        self.writer.submit(|reply| Job::Puts { batch, reply }).await
    }
}

impl Inner {
    /// The file of `key`, refusing anything that could leave the root.
    fn path(&self, key: &str) -> PortResult<PathBuf> {
        let rel = Path::new(key);
        let ok = !key.is_empty()
            && key.len() <= usize::from(u16::MAX)
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

/// The sha256 a put's bytes are stored under: the one it carries, or computed here.
fn content_address(put: &PutRequest) -> String {
    match &put.sha256 {
        Some(sha) => {
            debug_assert_eq!(*sha, etag_of(&put.bytes), "a put carries the wrong sha256");
            sha.clone()
        }
        None => etag_of(&put.bytes),
    }
}

#[async_trait]
impl ObjectStore for DirStore {
    async fn get(&self, key: &str) -> PortResult<Option<Object>> {
        let mut found = self.get_all(vec![key.to_owned()]).await?;
        Ok(found.pop().expect("one result per key"))
    }

    /// Metadata files are read here, on the calling thread: from the page cache a read costs
    /// microseconds, less than a hand-off to the blocking pool and back, which cost a loaded
    /// server 6-16 % of its throughput (docs/performance.md, profile 9). Larger files (a
    /// 100k-target role is megabytes, and is hashed for its etag) go to the pool, in one hand-off.
    async fn get_all(&self, keys: Vec<String>) -> PortResult<Vec<Option<Object>>> {
        let paths = keys
            .iter()
            .map(|k| self.inner.path(k))
            .collect::<PortResult<Vec<_>>>()?;
        let mut found = Vec::with_capacity(paths.len());
        let mut larger = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            found.push(match read_up_to(path, INLINE_READ_LIMIT)? {
                Read::Found(object) => Some(object),
                Read::Missing => None,
                Read::Larger => {
                    larger.push((i, path.clone()));
                    None
                }
            });
        }
        if !larger.is_empty() {
            let read_later = blocking(move || {
                larger
                    .into_iter()
                    .map(|(i, path)| Ok((i, read(&path)?)))
                    .collect::<PortResult<Vec<_>>>()
            })
            .await?;
            for (i, object) in read_later {
                found[i] = object;
            }
        }
        Ok(found)
    }

    /// `read` computes the etag from the bytes it read.
    fn etag_is_sha256(&self) -> bool {
        true
    }

    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        condition: PutCondition,
        headers: &ObjectHeaders,
    ) -> PortResult<PutOutcome> {
        let put = PutRequest::new(key, bytes, condition);
        let mut outcomes = self.put_all(vec![put], headers).await?;
        Ok(outcomes.pop().expect("one outcome per put"))
    }

    async fn put_all(
        &self,
        puts: Vec<PutRequest>,
        _headers: &ObjectHeaders,
    ) -> PortResult<Vec<PutOutcome>> {
        let in_order_from = puts.len();
        self.write(puts, in_order_from).await
    }

    /// A batch is applied in order anyway; only the stop at a failed condition is asked for.
    async fn put_in_order(
        &self,
        puts: Vec<PutRequest>,
        _headers: &ObjectHeaders,
    ) -> PortResult<Vec<PutOutcome>> {
        self.write(puts, 0).await
    }

    /// One batch, one journal record.
    async fn put_all_then_in_order(
        &self,
        (mut all, _): (Vec<PutRequest>, &ObjectHeaders),
        (in_order, _): (Vec<PutRequest>, &ObjectHeaders),
    ) -> PortResult<(Vec<PutOutcome>, Vec<PutOutcome>)> {
        let in_order_from = all.len();
        all.extend(in_order);
        let mut first = self.write(all, in_order_from).await?;
        let then = first.split_off(in_order_from);
        Ok((first, then))
    }

    async fn list(&self, prefix: &str) -> PortResult<Vec<String>> {
        let root = self.inner.root.clone();
        let prefix = prefix.to_owned();
        // Walk only below the deepest directory the prefix names.
        let start = match prefix.rfind('/') {
            Some(i) => self.inner.path(&prefix[..i])?,
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
            .map(|k| self.inner.path(k))
            .collect::<PortResult<Vec<_>>>()?;
        let keys = keys.to_vec();
        self.writer
            .submit(|reply| Job::Delete { paths, keys, reply })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::MetadataExt as _;

    use super::*;
    use crate::ports::{ObjectHeaders, PutRequest};

    const HEADERS: ObjectHeaders = ObjectHeaders {
        content_type: "text/plain",
        cache_control: String::new(),
    };

    /// The store as `embedded::open` lays it out under `dir`.
    fn open_in(dir: &Path) -> DirStore {
        DirStore::open(
            &dir.join("bucket"),
            &dir.join("objects"),
            &dir.join("journal"),
        )
        .unwrap()
    }

    /// A put that carries its sha256 is stored under it; one that does not is hashed here.
    #[test]
    fn a_put_is_stored_under_its_sha256_carried_or_computed() {
        let put = PutRequest::new("a", Bytes::from_static(b"x"), PutCondition::IfAbsent);
        assert_eq!(content_address(&put), etag_of(b"x"));
        assert_eq!(
            content_address(&put.with_sha256(etag_of(b"x"))),
            etag_of(b"x")
        );
    }

    /// A caller that vouches for the wrong hash would file bytes under another content's
    /// address: debug builds (every test run) refuse it.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "wrong sha256")]
    fn a_put_carrying_the_wrong_sha256_is_caught() {
        let put = PutRequest::new("a", Bytes::from_static(b"x"), PutCondition::IfAbsent);
        content_address(&put.with_sha256(etag_of(b"y")));
    }

    /// A conditional replace decides by content, whether the name is a link to its content
    /// (compared by inode) or its own copy (read and hashed), when the writer has not written
    /// the name itself (a store just opened).
    #[tokio::test]
    async fn if_match_compares_contents_of_links_and_of_copies() {
        async fn put(
            store: &DirStore,
            name: &str,
            bytes: &'static [u8],
            c: PutCondition,
        ) -> PutOutcome {
            store
                .put(name, Bytes::from_static(bytes), c, &HEADERS)
                .await
                .unwrap()
        }
        let dir = tempfile::tempdir().unwrap();
        let store = open_in(dir.path());
        let name = "v2/g/_trust/tuf/timestamp.json";
        assert_eq!(
            put(&store, name, b"one", PutCondition::IfAbsent).await,
            PutOutcome::Written
        );
        // Another content that exists in objects/.
        put(
            &store,
            "v2/g/_trust/tuf/other.json",
            b"two",
            PutCondition::IfAbsent,
        )
        .await;
        store.checkpoint().await.unwrap();
        drop(store);

        // A new writer: it looks the name up.
        let store = open_in(dir.path());
        assert_eq!(
            put(&store, name, b"again", PutCondition::IfAbsent).await,
            PutOutcome::PreconditionFailed
        );
        let wrong = PutCondition::IfMatch(etag_of(b"two"));
        assert_eq!(
            put(&store, name, b"three", wrong).await,
            PutOutcome::PreconditionFailed,
            "another content in objects/ is not what the name holds"
        );
        store.checkpoint().await.unwrap();
        drop(store);
        let store = open_in(dir.path());
        let right = PutCondition::IfMatch(etag_of(b"one"));
        assert_eq!(
            put(&store, name, b"three", right).await,
            PutOutcome::Written
        );
        store.checkpoint().await.unwrap();
        drop(store);

        // The same name as a plain copy (another filesystem, or written while no server ran: after
        // a checkpoint, so that opening the store replays nothing over it).
        let path = dir.path().join("bucket").join(name);
        fs::remove_file(&path).unwrap();
        fs::write(&path, b"copy").unwrap();
        let store = open_in(dir.path());
        let wrong = PutCondition::IfMatch(etag_of(b"three"));
        assert_eq!(
            put(&store, name, b"four", wrong).await,
            PutOutcome::PreconditionFailed
        );
        store.checkpoint().await.unwrap();
        drop(store);
        let store = open_in(dir.path());
        let right = PutCondition::IfMatch(etag_of(b"copy"));
        assert_eq!(put(&store, name, b"four", right).await, PutOutcome::Written);
        assert_eq!(&store.get(name).await.unwrap().unwrap().bytes[..], b"four");
    }

    /// Small files are read on the calling thread and larger ones on the pool; either way each
    /// key gets its own object (or none), in the order asked.
    #[tokio::test]
    async fn get_all_answers_in_order_whether_read_here_or_on_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_in(dir.path());
        let limit = INLINE_READ_LIMIT as usize;
        let files: Vec<(String, Option<Vec<u8>>)> = vec![
            ("small-1".into(), Some(b"one".to_vec())),
            ("large-1".into(), Some(vec![b'a'; limit + 1])),
            ("missing".into(), None),
            ("at-limit".into(), Some(vec![b'b'; limit])),
            ("large-2".into(), Some(vec![b'c'; 3 * limit])),
            ("small-2".into(), Some(b"two".to_vec())),
        ];
        let puts = files
            .iter()
            .filter_map(|(k, b)| {
                let bytes = Bytes::from(b.clone()?);
                Some(PutRequest::new(k, bytes, PutCondition::IfAbsent))
            })
            .collect();
        store.put_all(puts, &HEADERS).await.unwrap();
        let keys = files.iter().map(|(k, _)| k.clone()).collect();
        let found = store.get_all(keys).await.unwrap();
        assert_eq!(found.len(), files.len());
        for ((key, want), got) in files.iter().zip(found) {
            assert_eq!(got.as_ref().map(|o| &o.bytes[..]), want.as_deref(), "{key}");
            if let (Some(got), Some(want)) = (got, want) {
                assert_eq!(got.etag, etag_of(want), "{key}");
            }
        }
        let large = store.get("large-2").await.unwrap().unwrap();
        assert_eq!(large.bytes.len(), 3 * limit);
    }

    /// A batch writes each new content once, links every name that may be written, and leaves
    /// no content behind for a put whose condition failed.
    #[tokio::test]
    async fn a_batch_shares_contents_and_leaves_none_for_refused_puts() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        let store = open_in(dir.path());
        let current = "v2/g/_trust/tuf/timestamp.json";
        store
            .put(
                current,
                Bytes::from_static(b"old"),
                PutCondition::IfAbsent,
                &HEADERS,
            )
            .await
            .unwrap();
        let req = |key: &str, bytes: &'static [u8], condition| {
            PutRequest::new(key, Bytes::from_static(bytes), condition)
        };
        let outcomes = store
            .put_all(
                vec![
                    req(
                        "v2/g/_trust/tuf/timestamp.ab.json",
                        b"new",
                        PutCondition::IfAbsent,
                    ),
                    req(
                        "v2/g/_trust/tuf/2.timestamp.json",
                        b"new",
                        PutCondition::IfAbsent,
                    ),
                    req(
                        current,
                        b"refused",
                        PutCondition::IfMatch(etag_of(b"other")),
                    ),
                ],
                &HEADERS,
            )
            .await
            .unwrap();
        use PutOutcome::{PreconditionFailed, Written};
        assert_eq!(outcomes, [Written, Written, PreconditionFailed]);
        // One inode for both new names, written in their directory: nothing in objects/.
        let gun = dir.path().join("bucket/v2/g/_trust/tuf");
        assert_eq!(
            fs::metadata(gun.join("timestamp.ab.json")).unwrap().nlink(),
            2
        );
        assert_eq!(fs::read_dir(&objects).unwrap().count(), 0);
        let mut left: Vec<_> = fs::read_dir(&gun)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let want = ["2.timestamp.json", "timestamp.ab.json", "timestamp.json"];
        assert_eq!(left, want, "no temporary files, no refused contents");
        assert_eq!(
            &store.get(current).await.unwrap().unwrap().bytes[..],
            b"old"
        );
    }

    #[tokio::test]
    async fn names_with_the_same_bytes_share_one_content_until_the_last_is_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_in(dir.path());
        let names = [
            "v2/g/_trust/tuf/targets.abc.json",
            "v2/g/_trust/tuf/3.targets.json",
        ];
        for n in names {
            let w = store
                .put(
                    n,
                    Bytes::from_static(b"signed"),
                    PutCondition::IfAbsent,
                    &HEADERS,
                )
                .await
                .unwrap();
            assert_eq!(w, PutOutcome::Written);
        }
        let gun = dir.path().join("bucket/v2/g/_trust/tuf");
        let links = || fs::metadata(gun.join("targets.abc.json")).unwrap().nlink();
        // The two names: one inode, written once.
        assert_eq!(links(), 2);
        // A current name replaced by new bytes leaves the old content to its other names.
        let current = "v2/g/_trust/tuf/targets.json";
        store
            .put(
                current,
                Bytes::from_static(b"signed"),
                PutCondition::IfAbsent,
                &HEADERS,
            )
            .await
            .unwrap();
        assert_eq!(links(), 3, "the current name links the same content");
        let etag = store.get(current).await.unwrap().unwrap().etag;
        store
            .put(
                current,
                Bytes::from_static(b"newer"),
                PutCondition::IfMatch(etag),
                &HEADERS,
            )
            .await
            .unwrap();
        assert_eq!(
            &store.get(current).await.unwrap().unwrap().bytes[..],
            b"newer"
        );
        assert_eq!(
            &store.get(names[0]).await.unwrap().unwrap().bytes[..],
            b"signed"
        );
        assert_eq!(links(), 2, "the current name moved on");
        // Deleting a name leaves the content to the others.
        store.delete(&[names[0].to_owned()]).await.unwrap();
        assert_eq!(
            &store.get(names[1]).await.unwrap().unwrap().bytes[..],
            b"signed"
        );
        store
            .delete(&[names[1].to_owned(), current.to_owned()])
            .await
            .unwrap();
        assert!(store.list("v2/").await.unwrap().is_empty());
        assert_eq!(fs::read_dir(dir.path().join("objects")).unwrap().count(), 0);
    }

    fn put_req(key: &str, bytes: &'static [u8], condition: PutCondition) -> PutRequest {
        PutRequest::new(key, Bytes::from_static(bytes), condition)
    }

    fn segments(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<_> = fs::read_dir(dir.join("journal"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }

    /// Nothing is flushed but the journal, so a crash can lose or tear any file written since
    /// the last checkpoint, and undo a deletion. Reopening replays the journal: every name is
    /// again what its last put or delete made it, torn contents are whole again, and a second
    /// reopen finds nothing left to do.
    #[tokio::test]
    async fn reopening_after_a_crash_restores_what_the_journal_says() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_in(dir.path());
        let root = "v2/g/_trust/tuf/root.json";
        let ts = "v2/g/_trust/tuf/timestamp.json";
        let gone = "v2/g/_trust/tuf/1.timestamp.json";
        let outcomes = store
            .put_all(
                vec![
                    put_req(root, b"root-1", PutCondition::IfAbsent),
                    put_req(
                        "v2/g/_trust/tuf/1.root.json",
                        b"root-1",
                        PutCondition::IfAbsent,
                    ),
                    put_req(ts, b"ts-1", PutCondition::IfAbsent),
                    put_req(gone, b"ts-1", PutCondition::IfAbsent),
                ],
                &HEADERS,
            )
            .await
            .unwrap();
        assert!(outcomes.iter().all(|o| *o == PutOutcome::Written));
        let replaced = store
            .put(
                ts,
                Bytes::from_static(b"ts-2"),
                PutCondition::IfMatch(etag_of(b"ts-1")),
                &HEADERS,
            )
            .await
            .unwrap();
        assert_eq!(replaced, PutOutcome::Written);
        store.delete(&[gone.to_owned()]).await.unwrap();
        drop(store);

        // The crash: root.json's content torn (its inode is shared with 1.root.json), the
        // current timestamp's rename lost, the deletion undone, 1.root.json lost.
        let bucket = dir.path().join("bucket");
        let objects = dir.path().join("objects");
        fs::write(objects.join(etag_of(b"root-1")), b"").unwrap();
        fs::remove_file(bucket.join(ts)).unwrap();
        fs::write(bucket.join(ts), b"ts-1").unwrap();
        fs::write(bucket.join(gone), b"ts-1").unwrap();
        fs::remove_file(bucket.join("v2/g/_trust/tuf/1.root.json")).unwrap();

        let store = open_in(dir.path());
        let bytes = |o: Option<Object>| o.map(|o| o.bytes.to_vec());
        assert_eq!(
            bytes(store.get(root).await.unwrap()),
            Some(b"root-1".to_vec())
        );
        assert_eq!(
            bytes(store.get("v2/g/_trust/tuf/1.root.json").await.unwrap()),
            Some(b"root-1".to_vec())
        );
        assert_eq!(bytes(store.get(ts).await.unwrap()), Some(b"ts-2".to_vec()));
        assert_eq!(store.get(gone).await.unwrap(), None);
        // Names share their content's inode again.
        assert_eq!(
            fs::metadata(objects.join(etag_of(b"root-1")))
                .unwrap()
                .nlink(),
            3
        );
        // The replayed segments are gone: a second reopen has nothing to replay.
        assert_eq!(segments(dir.path()).len(), 1);
        drop(store);
        let store = open_in(dir.path());
        assert_eq!(bytes(store.get(ts).await.unwrap()), Some(b"ts-2".to_vec()));
    }

    /// A put that brings no content names one that its own segment's records brought, so a
    /// replay needs nothing from outside the journal: after a checkpoint (a new segment), a
    /// content written before it is brought again. Here the second name's file is lost and
    /// `objects/` holds a damaged copy of the content; the replay restores the name from its
    /// record.
    #[tokio::test]
    async fn after_a_checkpoint_a_content_is_brought_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_in(dir.path());
        let first = "v2/g/_trust/tuf/targets.json";
        let second = "v2/g/_trust/tuf/2.targets.json";
        let headers = HEADERS;
        let put = |key| {
            store.put(
                key,
                Bytes::from_static(b"t"),
                PutCondition::IfAbsent,
                &headers,
            )
        };
        put(first).await.unwrap();
        store.checkpoint().await.unwrap();
        put(second).await.unwrap();
        drop(store);
        fs::remove_file(dir.path().join("bucket").join(second)).unwrap();
        fs::write(dir.path().join("objects").join(etag_of(b"t")), b"x").unwrap();
        let store = open_in(dir.path());
        let restored = store.get(second).await.unwrap().unwrap();
        assert_eq!(&restored.bytes[..], b"t");
    }

    /// A put that brings no content and names one in `objects/` (as the writer wrote before
    /// profile 15) is replayed from there, checked first: a damaged one stops the opening with
    /// a clear error rather than serving it.
    #[tokio::test]
    async fn a_replayed_put_never_links_a_damaged_content() {
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        fs::create_dir_all(&objects).unwrap();
        fs::write(objects.join(etag_of(b"t")), b"x").unwrap();
        let (journal, _) = Journal::open(&dir.path().join("journal"), SEGMENT_BYTES).unwrap();
        journal
            .append(&[journal::Entry::Put {
                key: "v2/g/_trust/tuf/2.targets.json".into(),
                sha256: etag_of(b"t"),
                content: None,
            }])
            .unwrap();
        journal.sync().unwrap();
        drop(journal);
        let err = DirStore::open(
            &dir.path().join("bucket"),
            &objects,
            &dir.path().join("journal"),
        )
        .err()
        .expect("a damaged content is refused");
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    /// A full segment starts a checkpoint in the background, which leaves one segment and keeps
    /// every name.
    #[tokio::test]
    async fn a_full_segment_is_checkpointed_away() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open_with(
            &dir.path().join("bucket"),
            &dir.path().join("objects"),
            &dir.path().join("journal"),
            1,
        )
        .unwrap();
        for i in 0..20 {
            let key = format!("v2/g/_trust/tuf/{i}.targets.json");
            let w = store
                .put(
                    &key,
                    Bytes::from(vec![i as u8]),
                    PutCondition::IfAbsent,
                    &HEADERS,
                )
                .await
                .unwrap();
            assert_eq!(w, PutOutcome::Written);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while store
            .checkpointing
            .load(std::sync::atomic::Ordering::Acquire)
            || segments(dir.path()).len() > 1
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}",
                segments(dir.path())
            );
            // A batch after the last checkpoint filled the new segment again.
            if !store
                .checkpointing
                .load(std::sync::atomic::Ordering::Acquire)
            {
                store.checkpoint().await.unwrap();
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let first = &segments(dir.path())[0];
        // At least one checkpoint retired the first segment.
        assert!(!first.ends_with("0000000000000000.log"), "{first:?}");
        drop(store);
        let store = open_in(dir.path());
        assert_eq!(store.list("v2/g/").await.unwrap().len(), 20);
    }
}
