//! The store's single writer: one thread applies every put and delete, in the order they arrive.
//!
//! It takes whatever batches are waiting (a group), checks their conditions in order, appends
//! the group to the journal as one record, flushes it once, and only then writes each batch's
//! files and answers it. A batch's conditions are checked against the bucket as the batches
//! before it in the group leave it ([`Pending`]), although their files are not written yet.
//!
//! One thread replaced a hand-off to the blocking pool for every batch, a lock for every key
//! stripe and a flush shared only by the batches that happened to wait at the same moment: each
//! hand-off cost a loaded server a thread wake-up on another core, and a publish then made four
//! batches (docs/performance.md, profile 9). The writer wakes once for a whole group, and a
//! group is what arrived during the last flush.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;

use super::files::{Content, Dirs, current_state, remove_names, store};
use super::journal::{self, Entry, Journal};
use super::{content_address, journal_error};
use crate::embedded::worker::{Reply, next_group};
use crate::ports::{PortError, PortResult, PutCondition, PutOutcome, PutRequest};

/// Most batches in one group (one journal record).
const GROUP_LIMIT: usize = 64;

/// Most names, and most contents, the writer remembers ([`Known`]) before it starts over.
const KNOWN_LIMIT: usize = 32 * 1024;

/// Work for the writer.
pub enum Job {
    /// Puts, applied in the order given.
    Puts {
        batch: Batch,
        reply: Reply<Vec<PutOutcome>>,
    },
    /// Removal of names (and of contents no name links to any more). Applied on its own, after
    /// the group before it, so no batch counts on a content it removes.
    Delete {
        paths: Vec<PathBuf>,
        keys: Vec<String>,
        reply: Reply<()>,
    },
    /// A checkpoint now, waited for.
    Checkpoint { reply: Reply<()> },
}

/// A batch of puts: each put's file, and where the puts start that stop at the first whose
/// condition does not hold (`ObjectStore::put_in_order`).
pub struct Batch {
    pub puts: Vec<PutRequest>,
    pub paths: Vec<PathBuf>,
    /// Puts from this index on are in order: once one of them fails, the later ones do too,
    /// unwritten. `puts.len()` for none.
    pub in_order_from: usize,
}

/// A batch as it arrives, with where its answer goes.
type Arrived = (Batch, Reply<Vec<PutOutcome>>);

/// The writer's state (the thread owns it).
pub struct Writer {
    pub root: PathBuf,
    pub objects: PathBuf,
    pub journal: Arc<Journal>,
    /// Set while a background checkpoint flushes the filesystem; shared with the store's tests.
    pub checkpointing: Arc<AtomicBool>,
    /// What the bucket holds, as far as this writer wrote it.
    pub known: Known,
    /// The directories it writes in, open.
    pub dirs: Dirs,
}

/// The names the writer wrote (to the sha256 of their content), so that a condition on them
/// needs no lookup: the writer is the only one to change the bucket, so what it wrote stays
/// true until it deletes something, which forgets everything. A publish's conditions made 15
/// `statx` calls, 6 of them on names the same publish had just written (docs/performance.md,
/// profile 13). And, for each content written since the journal's current segment began, a
/// name that holds it, to link the content's next names to.
///
/// Contents have no directory of their own (profile 15): a new content is written unnamed in
/// the directory of its first name and linked there, and later names link to that name. A put
/// that links a content without bringing its bytes in the journal names a content that the
/// same segment's records brought, so the replay, which reads every segment not retired, has
/// the bytes of every content a record names. Hence a new segment starts with no contents
/// known. Bounded: when either map is full both start over, which costs only lookups (and
/// contents brought again).
#[derive(Default)]
pub struct Known {
    /// By key, not path: a path's hash walks its components, 1.6 % of a loaded server's
    /// samples when these were paths (docs/performance.md, profile 15).
    names: HashMap<String, String>,
    /// By sha256, the path of a name that holds the content.
    contents: HashMap<String, PathBuf>,
}

impl Known {
    /// `key` (at `path`) now holds the content `sha`.
    fn name(&mut self, key: &str, path: &Path, sha: &str) {
        if self.names.len() >= KNOWN_LIMIT || self.contents.len() >= KNOWN_LIMIT {
            self.forget_all();
        }
        let before = self.names.insert(key.to_owned(), sha.to_owned());
        // The name no longer holds what it held: it cannot be linked to for that any more.
        if let Some(before) = before.filter(|b| b != sha)
            && self.contents.get(&before).is_some_and(|p| p == path)
        {
            self.contents.remove(&before);
        }
        self.contents
            .entry(sha.to_owned())
            .or_insert_with(|| path.to_owned());
    }

    /// A new journal segment: no content is known to it.
    fn forget_contents(&mut self) {
        self.contents.clear();
    }

    fn forget_all(&mut self) {
        self.names.clear();
        self.contents.clear();
    }
}

/// What a group's earlier batches did to the bucket: names (to the sha256 of their content) and
/// contents they bring.
#[derive(Default)]
struct Pending {
    names: HashMap<String, String>,
    contents: HashSet<String>,
}

/// A batch of the group, once its conditions are checked and its record entries made.
struct Plan {
    outcomes: Vec<PutOutcome>,
    shas: Vec<String>,
}

impl Writer {
    /// Apply jobs until every sender is gone. Puts that arrive together form one group; a
    /// delete or a checkpoint waits for the puts before it and runs on its own.
    pub fn run(mut self, jobs: Receiver<Job>) {
        while let Some(arrived) = next_group(&jobs, GROUP_LIMIT) {
            let mut group = Vec::new();
            for job in arrived {
                match job {
                    Job::Puts { batch, reply } => group.push((batch, reply)),
                    Job::Delete { paths, keys, reply } => {
                        self.apply_group(std::mem::take(&mut group));
                        let _ = reply.send(self.delete(&paths, &keys));
                    }
                    Job::Checkpoint { reply } => {
                        self.apply_group(std::mem::take(&mut group));
                        let _ = reply.send(self.checkpoint_now());
                    }
                }
            }
            self.apply_group(group);
            self.checkpoint_if_full();
        }
    }

    /// Check every batch's conditions, log the group, flush once, then write and answer each.
    fn apply_group(&mut self, group: Vec<Arrived>) {
        if group.is_empty() {
            return;
        }
        let mut pending = Pending::default();
        let mut entries = Vec::new();
        let plans: Vec<PortResult<Plan>> = group
            .iter()
            .map(|(batch, _)| self.plan(batch, &mut pending, &mut entries))
            .collect();
        let logged = self.log(&entries).map_err(|e| e.to_string());
        for ((batch, reply), plan) in group.into_iter().zip(plans) {
            let answer = match (&logged, plan) {
                // Every batch of the group gets the failure (an error is not `Clone`).
                (Err(e), _) => Err(journal_error(std::io::Error::other(e.clone()))),
                (Ok(()), Err(e)) => Err(e),
                (Ok(()), Ok(plan)) => self.write(&batch.puts, &batch.paths, plan),
            };
            let _ = reply.send(answer);
        }
    }

    /// Check a batch's conditions (against the bucket and the group's earlier batches) and add
    /// what it will do to `entries`: each written name and its content, which the record brings
    /// if neither the store nor an earlier batch has it. A batch that fails here adds nothing.
    fn plan(
        &mut self,
        batch: &Batch,
        pending: &mut Pending,
        entries: &mut Vec<Entry>,
    ) -> PortResult<Plan> {
        let Batch {
            puts,
            paths,
            in_order_from,
        } = batch;
        let mut outcomes = Vec::with_capacity(puts.len());
        let mut stopped = false;
        // Within the batch too: a later put sees an earlier one's name.
        let mut names: HashMap<&str, &str> = HashMap::new();
        let shas: Vec<String> = puts.iter().map(content_address).collect();
        for (i, ((p, path), sha)) in puts.iter().zip(paths).zip(&shas).enumerate() {
            if stopped {
                outcomes.push(PutOutcome::PreconditionFailed);
                continue;
            }
            let key = p.key.as_str();
            let held = names
                .get(key)
                .copied()
                .or_else(|| pending.names.get(key).map(String::as_str))
                .or_else(|| self.known.names.get(key).map(String::as_str));
            let holds = match (&p.condition, held) {
                (PutCondition::IfAbsent, Some(_)) => false,
                (PutCondition::IfMatch(etag), Some(held)) => held == etag,
                (PutCondition::IfAbsent, None) => {
                    current_state(&mut self.dirs, path, None)?.is_none()
                }
                (PutCondition::IfMatch(etag), None) => {
                    current_state(&mut self.dirs, path, Some(etag))? == Some(true)
                }
            };
            if holds {
                names.insert(key, sha);
            } else {
                stopped = i >= *in_order_from;
            }
            outcomes.push(if holds {
                PutOutcome::Written
            } else {
                PutOutcome::PreconditionFailed
            });
        }
        let mut batch_entries = Vec::new();
        let mut brought = Vec::new();
        let mut known: HashSet<&str> = HashSet::new();
        for ((p, sha), _) in puts
            .iter()
            .zip(&shas)
            .zip(&outcomes)
            .filter(|(_, o)| **o == PutOutcome::Written)
        {
            // A content no name of this segment is known to hold is brought, and written
            // again: the same bytes may be in the bucket already (from before a restart or a
            // new segment, say), but a lookup for them would cost every new content one.
            let bring = known.insert(sha)
                && !pending.contents.contains(sha)
                && !self.known.contents.contains_key(sha);
            if bring {
                brought.push(sha.clone());
            }
            batch_entries.push(Entry::Put {
                key: p.key.clone(),
                content: bring.then(|| p.bytes.clone()),
                sha256: sha.clone(),
            });
        }
        // Only now, with nothing left to fail: the group's later batches see this one.
        for (key, sha) in names {
            pending.names.insert(key.to_owned(), sha.to_owned());
        }
        pending.contents.extend(brought);
        entries.extend(batch_entries);
        Ok(Plan { outcomes, shas })
    }

    /// Write a logged batch's names in the order given (so each is visible no earlier than the
    /// ones before it): each a link to a name that holds its content, or its content written
    /// anew. Nothing here is flushed: the journal holds it.
    fn write(
        &mut self,
        puts: &[PutRequest],
        paths: &[PathBuf],
        plan: Plan,
    ) -> PortResult<Vec<PutOutcome>> {
        let Plan { mut outcomes, shas } = plan;
        let Writer { dirs, known, .. } = self;
        for (((p, path), sha), outcome) in puts.iter().zip(paths).zip(&shas).zip(&mut outcomes) {
            if *outcome != PutOutcome::Written {
                continue;
            }
            let content = known
                .contents
                .get(sha)
                .map_or(Content::New, |held| Content::Name(held));
            let if_absent = p.condition == PutCondition::IfAbsent;
            // The journal says this name is written: failing now leaves it to the replay, and
            // what the name holds until then is not known.
            let linked = store(dirs, content, path, &p.bytes, if_absent).map_err(|e| {
                known.forget_all();
                PortError::Other(format!("write {}: {e}", path.display()))
            })?;
            if linked {
                known.name(&p.key, path, sha);
            } else {
                *outcome = PutOutcome::PreconditionFailed;
            }
        }
        Ok(outcomes)
    }

    /// Append `entries` as one record and wait until it is durable (nothing to do for none).
    fn log(&self, entries: &[Entry]) -> std::io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.journal.append(entries)?;
        self.journal.sync()
    }

    fn delete(&mut self, paths: &[PathBuf], keys: &[String]) -> PortResult<()> {
        let entries: Vec<Entry> = keys
            .iter()
            .map(|k| Entry::Delete { key: k.clone() })
            .collect();
        self.log(&entries).map_err(journal_error)?;
        // Names and the contents only they linked to go, and directories they leave empty.
        self.known.forget_all();
        self.dirs.forget();
        remove_names(&self.root, &self.objects, paths)
    }

    /// Start a new segment (every logged batch's files are written: the writer is between
    /// groups), flush the filesystem once, and delete the finished segment.
    fn checkpoint_now(&mut self) -> PortResult<()> {
        // Before the rotation, which may fail half-way.
        self.known.forget_contents();
        let finished = self.journal.rotate().map_err(journal_error)?;
        retire(&self.root, &self.journal, finished).map_err(journal_error)
    }

    /// Once the segment is full: rotate here, and flush and retire in the background, so the
    /// writer goes on with the next group meanwhile (one checkpoint at a time).
    fn checkpoint_if_full(&mut self) {
        if !self.journal.is_full() || self.checkpointing.swap(true, Ordering::AcqRel) {
            return;
        }
        self.known.forget_contents();
        let finished = match self.journal.rotate() {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "object store checkpoint failed");
                self.checkpointing.store(false, Ordering::Release);
                return;
            }
        };
        let (root, journal, flag) = (
            self.root.clone(),
            self.journal.clone(),
            self.checkpointing.clone(),
        );
        std::thread::spawn(move || {
            if let Err(e) = retire(&root, &journal, finished) {
                tracing::error!(error = %e, "object store checkpoint failed");
            }
            flag.store(false, Ordering::Release);
        });
    }
}

/// Make every file the bucket under `root` holds durable, then delete the `finished` segment
/// (whose records describe those files).
fn retire(root: &Path, journal: &Journal, finished: PathBuf) -> std::io::Result<()> {
    journal::sync_filesystem(root)?;
    journal.retire(&[finished])
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use bytes::Bytes;
    use tokio::sync::oneshot;

    use super::*;
    use crate::embedded::dir_store::DirStore;
    use crate::embedded::dir_store::files::{etag_of, read};

    fn put(key: &str, bytes: &'static [u8], condition: PutCondition) -> PutRequest {
        PutRequest::new(key, Bytes::from_static(bytes), condition)
    }

    /// One group, applied directly: each batch's conditions see the batches before it (and a
    /// put sees the puts before it in its batch), though none of their files exist yet when the
    /// conditions are checked. The journal says what the bucket holds, so a replay agrees.
    #[test]
    fn a_group_checks_each_batch_against_the_ones_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let (bucket, objects) = (dir.path().join("bucket"), dir.path().join("objects"));
        std::fs::create_dir_all(&bucket).unwrap();
        std::fs::create_dir_all(&objects).unwrap();
        let (journal, _) = Journal::open(&dir.path().join("journal"), 1 << 20).unwrap();
        let mut writer = Writer {
            root: bucket.clone(),
            objects: objects.clone(),
            journal: Arc::new(journal),
            checkpointing: Arc::default(),
            known: Known::default(),
            dirs: Dirs::new(&objects).unwrap(),
        };
        let batches = vec![
            vec![put("k", b"a", PutCondition::IfAbsent)],
            vec![put("k", b"b", PutCondition::IfAbsent)],
            vec![put("k", b"c", PutCondition::IfMatch(etag_of(b"a")))],
            vec![
                put("k2", b"x", PutCondition::IfAbsent),
                put("k2", b"y", PutCondition::IfAbsent),
            ],
            vec![put("k3", b"shared", PutCondition::IfAbsent)],
            vec![put("k4", b"shared", PutCondition::IfAbsent)],
            vec![put("k", b"d", PutCondition::IfMatch(etag_of(b"a")))],
            // In order: stops at `k`, which an earlier batch moved on, so `k6` is not written.
            vec![
                put("k5", b"p", PutCondition::IfAbsent),
                put("k", b"e", PutCondition::IfMatch(etag_of(b"a"))),
                put("k6", b"q", PutCondition::IfAbsent),
            ],
        ];
        let in_order = batches.len() - 1;
        let mut answers = Vec::new();
        let group = batches
            .into_iter()
            .enumerate()
            .map(|(i, puts)| {
                let paths = puts.iter().map(|p| bucket.join(&p.key)).collect();
                let (reply, answer) = oneshot::channel();
                answers.push(answer);
                let in_order_from = if i == in_order { 0 } else { puts.len() };
                let batch = Batch {
                    puts,
                    paths,
                    in_order_from,
                };
                (batch, reply)
            })
            .collect();
        writer.apply_group(group);
        let outcomes: Vec<Vec<PutOutcome>> = answers
            .into_iter()
            .map(|mut a| a.try_recv().unwrap().unwrap())
            .collect();
        use PutOutcome::{PreconditionFailed as Refused, Written};
        assert_eq!(
            outcomes,
            [
                vec![Written],
                vec![Refused],
                vec![Written],
                vec![Written, Refused],
                vec![Written],
                vec![Written],
                vec![Refused],
                vec![Written, Refused, Refused],
            ]
        );
        let holds = |key: &str| read(&bucket.join(key)).unwrap().map(|o| o.bytes.to_vec());
        let expected = [
            ("k", Some(b"c".to_vec())),
            ("k2", Some(b"x".to_vec())),
            ("k5", Some(b"p".to_vec())),
            ("k6", None),
        ];
        for (key, bytes) in &expected {
            assert_eq!(&holds(key), bytes, "{key}");
        }
        // The content an earlier batch brought is the one the later batch links to.
        let shared = std::fs::metadata(bucket.join("k3")).unwrap();
        assert_eq!(shared.nlink(), 2);
        assert_eq!(
            shared.ino(),
            std::fs::metadata(bucket.join("k4")).unwrap().ino()
        );
        drop(writer);

        // Replay the journal over a bucket that lost every name: it agrees with what was answered.
        std::fs::remove_dir_all(&bucket).unwrap();
        let store = DirStore::open(&bucket, &objects, &dir.path().join("journal")).unwrap();
        for (key, bytes) in &expected {
            assert_eq!(&holds(key), bytes, "{key} after the replay");
        }
        drop(store);
    }

    /// A name replaced by other bytes is no longer linked to for its old content: a later name
    /// with the old bytes gets them, not the replacement's.
    #[tokio::test]
    async fn a_replaced_name_no_longer_lends_its_old_content() {
        use crate::ports::{ObjectHeaders, ObjectStore as _};
        let headers = ObjectHeaders {
            content_type: "text/plain",
            cache_control: String::new(),
        };
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(
            &dir.path().join("bucket"),
            &dir.path().join("objects"),
            &dir.path().join("journal"),
        )
        .unwrap();
        let put = |key, bytes: &'static [u8], condition| {
            store.put(key, Bytes::from_static(bytes), condition, &headers)
        };
        put("g/timestamp.json", b"a", PutCondition::IfAbsent)
            .await
            .unwrap();
        let after_a = PutCondition::IfMatch(etag_of(b"a"));
        put("g/timestamp.json", b"b", after_a).await.unwrap();
        put("g/1.timestamp.json", b"a", PutCondition::IfAbsent)
            .await
            .unwrap();
        let got = store.get("g/1.timestamp.json").await.unwrap().unwrap();
        assert_eq!(&got.bytes[..], b"a");
    }

    /// Many tasks racing for one name through the store: exactly one wins, whichever groups the
    /// writer made of them, and a reopened store (which replays the journal) still holds it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_puts_have_one_winner_before_and_after_a_replay() {
        use crate::ports::{ObjectHeaders, ObjectStore as _};
        const HEADERS: ObjectHeaders = ObjectHeaders {
            content_type: "text/plain",
            cache_control: String::new(),
        };
        let dir = tempfile::tempdir().unwrap();
        let open = || {
            DirStore::open(
                &dir.path().join("bucket"),
                &dir.path().join("objects"),
                &dir.path().join("journal"),
            )
            .unwrap()
        };
        let store = Arc::new(open());
        let key = "v2/g/_trust/tuf/timestamp.json";
        let tasks: Vec<_> = (0..32u8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let outcome = store
                        .put(key, Bytes::from(vec![i]), PutCondition::IfAbsent, &HEADERS)
                        .await
                        .unwrap();
                    (i, outcome)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            let (i, outcome) = t.await.unwrap();
            if outcome == PutOutcome::Written {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1, "{winners:?}");
        let held = store.get(key).await.unwrap().unwrap().bytes;
        assert_eq!(held[..], [winners[0]]);
        drop(Arc::into_inner(store).expect("the tasks are done"));
        let store = open();
        assert_eq!(store.get(key).await.unwrap().unwrap().bytes, held);
    }

    /// A condition on a name the writer wrote is answered from its memory, without a lookup
    /// (shown here by removing the file behind its back, which nothing but the writer may do),
    /// and a delete makes it forget.
    #[tokio::test]
    async fn the_writer_remembers_what_it_wrote_until_a_delete() {
        use crate::ports::{ObjectHeaders, ObjectStore as _};
        const HEADERS: ObjectHeaders = ObjectHeaders {
            content_type: "text/plain",
            cache_control: String::new(),
        };
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        let store = DirStore::open(
            &bucket,
            &dir.path().join("objects"),
            &dir.path().join("journal"),
        )
        .unwrap();
        let key = "v2/g/_trust/tuf/timestamp.json";
        let headers = HEADERS;
        let put = |bytes: &'static [u8], condition| {
            store.put(key, Bytes::from_static(bytes), condition, &headers)
        };
        assert_eq!(
            put(b"a", PutCondition::IfAbsent).await.unwrap(),
            PutOutcome::Written
        );
        let after_a = PutCondition::IfMatch(etag_of(b"a"));
        assert_eq!(put(b"b", after_a).await.unwrap(), PutOutcome::Written);

        std::fs::remove_file(bucket.join(key)).unwrap();
        let after_b = PutCondition::IfMatch(etag_of(b"b"));
        assert_eq!(
            put(b"c", after_b).await.unwrap(),
            PutOutcome::Written,
            "answered from memory: a lookup would have found nothing"
        );
        assert_eq!(
            put(b"d", PutCondition::IfAbsent).await.unwrap(),
            PutOutcome::PreconditionFailed
        );

        store.delete(&[key.to_owned()]).await.unwrap();
        assert_eq!(
            put(b"e", PutCondition::IfAbsent).await.unwrap(),
            PutOutcome::Written,
            "a delete forgets what the writer wrote"
        );
        assert_eq!(store.get(key).await.unwrap().unwrap().bytes, &b"e"[..]);
        // The delete removed the collection's directories. A second name with the same bytes
        // links to the first in the directory made again, where a handle on the removed
        // directory would have failed the link and made it a copy.
        let twin = key.replace("timestamp", "twin");
        let put_twin = store.put(
            &twin,
            Bytes::from_static(b"e"),
            PutCondition::IfAbsent,
            &headers,
        );
        assert_eq!(put_twin.await.unwrap(), PutOutcome::Written);
        let ino = |k: &str| std::fs::metadata(bucket.join(k)).unwrap().ino();
        assert_eq!(ino(key), ino(&twin));
    }
}
