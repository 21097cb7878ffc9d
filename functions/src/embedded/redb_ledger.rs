//! The ledger in one redb file. redb admits one write transaction at a time, so a commit's
//! "read head, compare `seq`, write head and feed entry" is atomic and serialised; concurrent
//! commits share a transaction (the committer thread, [`run_commits`]). The file is locked, so a
//! second server on the same data directory fails at start instead of racing.

use std::path::Path;
use std::sync::{Arc, mpsc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{Database, ReadableTable, TableDefinition};

use super::blocking;
use super::worker::{Reply, Worker, next_group};
use crate::ports::{
    Change, ChangeQuery, Commit, Head, KeyAssignments, Ledger, NewChange, PortError, PortResult,
};

const HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("heads");
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
const FEED: TableDefinition<u64, &[u8]> = TableDefinition::new("feed");
const GUN_FEED: TableDefinition<(&str, u64), ()> = TableDefinition::new("gun_feed");

/// The embedded ledger.
pub struct RedbLedger {
    db: Arc<Database>,
    committer: Worker<(CommitRequest, Reply<Commit>)>,
}

/// Most commits in one transaction.
const COMMIT_GROUP_LIMIT: usize = 256;

/// One publish's conditional commit: write `head` if the GUN's head is still at `expected_seq`.
struct CommitRequest {
    gun: String,
    expected_seq: Option<u64>,
    head: Vec<u8>,
    change: NewChange,
}

/// Group commit: concurrent publishes share one write transaction and so one fsync.
///
/// redb runs one write transaction at a time and each commit waits for the disk; with every
/// publish committing alone, 16 collections publishing at once queued behind each other's fsync
/// (measured: throughput flat at ≈ 300 publishes/s from 4 collections up). One thread commits:
/// it takes every request that is waiting, applies them in order in one transaction (each still
/// checks its own head, and a second request for the same GUN sees the first one's write, so
/// exactly one of them wins) and commits once; what arrives meanwhile is the next group. A
/// thread of its own rather than a leader chosen among blocking-pool threads: a publish's commit
/// is then one wake-up of a thread that is usually already running (profile 9).
fn run_commits(db: Arc<Database>, queue: mpsc::Receiver<(CommitRequest, Reply<Commit>)>) {
    while let Some(group) = next_group(&queue, COMMIT_GROUP_LIMIT) {
        let (requests, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
        match apply(&db, requests) {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                // Nothing of the group was committed; every request gets the failure.
                for reply in replies {
                    let _ = reply.send(Err(PortError::other(&e)));
                }
            }
        }
    }
}

/// Apply `requests` in order in one write transaction, committed once.
fn apply(db: &Database, requests: Vec<CommitRequest>) -> PortResult<Vec<Commit>> {
    let txn = db.begin_write().map_err(db_err)?;
    let mut outcomes = Vec::with_capacity(requests.len());
    {
        let mut heads = txn.open_table(HEADS).map_err(db_err)?;
        let mut feed = txn.open_table(FEED).map_err(db_err)?;
        let mut by_gun = txn.open_table(GUN_FEED).map_err(db_err)?;
        for r in requests {
            let current = read_head(&heads, &r.gun)?.map(|h| h.seq);
            if current != r.expected_seq {
                outcomes.push(Commit::Conflict);
                continue;
            }
            heads
                .insert(r.gun.as_str(), r.head.as_slice())
                .map_err(db_err)?;
            let id = feed.last().map_err(db_err)?.map_or(0, |(k, _)| k.value()) + 1;
            let record = Change {
                id,
                gun: r.gun.clone(),
                change: r.change,
            };
            feed.insert(id, encode(&record)?.as_slice())
                .map_err(db_err)?;
            by_gun.insert((r.gun.as_str(), id), ()).map_err(db_err)?;
            outcomes.push(Commit::Committed(id));
        }
    }
    txn.commit().map_err(db_err)?;
    Ok(outcomes)
}

fn db_err(e: impl std::fmt::Display) -> PortError {
    PortError::Other(format!("ledger: {e}"))
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> PortResult<T> {
    serde_json::from_slice(bytes).map_err(db_err)
}

fn encode<T: serde::Serialize>(v: &T) -> PortResult<Vec<u8>> {
    serde_json::to_vec(v).map_err(db_err)
}

impl RedbLedger {
    /// Open (creating) the ledger file.
    pub fn open(path: &Path) -> PortResult<Self> {
        let db = Database::create(path).map_err(|e| {
            PortError::Other(format!(
                "cannot open ledger {} (is another notus-server using this data directory?): {e}",
                path.display()
            ))
        })?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(HEADS).map_err(db_err)?;
        txn.open_table(KEYS).map_err(db_err)?;
        txn.open_table(FEED).map_err(db_err)?;
        txn.open_table(GUN_FEED).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        let db = Arc::new(db);
        let committer = {
            let db = db.clone();
            // Dropping the ledger waits for this thread, which then lets go of the database:
            // the file's lock is free once the ledger is gone.
            Worker::start("the ledger's committer", move |queue| {
                run_commits(db, queue)
            })?
        };
        Ok(RedbLedger { db, committer })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> PortResult<T> + Send + 'static,
    ) -> PortResult<T> {
        let db = self.db.clone();
        blocking(move || f(&db)).await
    }

    /// A point read, on the calling thread: redb's readers never wait for its writer, and a
    /// head or key assignment comes from redb's cache in microseconds, less than a hand-off to
    /// the blocking pool and back (docs/performance.md, profile 9).
    fn read_now<T>(&self, f: impl FnOnce(&Database) -> PortResult<T>) -> PortResult<T> {
        f(&self.db)
    }
}

fn read_head(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    gun: &str,
) -> PortResult<Option<Head>> {
    t.get(gun)
        .map_err(db_err)?
        .map(|v| decode(v.value()))
        .transpose()
}

#[async_trait]
impl Ledger for RedbLedger {
    async fn head(&self, gun: &str) -> PortResult<Option<Head>> {
        self.read_now(|db| {
            let r = db.begin_read().map_err(db_err)?;
            read_head(&r.open_table(HEADS).map_err(db_err)?, gun)
        })
    }

    async fn commit(
        &self,
        gun: &str,
        expected_seq: Option<u64>,
        head: &Head,
        change: &NewChange,
    ) -> PortResult<Commit> {
        let request = CommitRequest {
            gun: gun.to_owned(),
            expected_seq,
            head: encode(head)?,
            change: change.clone(),
        };
        self.committer.submit(|reply| (request, reply)).await
    }

    async fn remove_head(&self, gun: &str, expected_seq: u64) -> PortResult<bool> {
        let gun = gun.to_owned();
        self.run(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut heads = txn.open_table(HEADS).map_err(db_err)?;
                if read_head(&heads, &gun)?.map(|h| h.seq) != Some(expected_seq) {
                    return Ok(false);
                }
                heads.remove(gun.as_str()).map_err(db_err)?;
            }
            txn.commit().map_err(db_err)?;
            Ok(true)
        })
        .await
    }

    async fn changes(&self, q: &ChangeQuery) -> PortResult<Vec<Change>> {
        let q = q.clone();
        self.run(move |db| {
            let r = db.begin_read().map_err(db_err)?;
            let feed = r.open_table(FEED).map_err(db_err)?;
            let ids: Vec<u64> = match &q.gun {
                None => {
                    let range = match (q.backward, q.after) {
                        (false, a) => feed.range(a.unwrap_or(0) + 1..).map_err(db_err)?,
                        (true, Some(b)) => feed.range(..b).map_err(db_err)?,
                        (true, None) => feed.range(0..).map_err(db_err)?,
                    };
                    let keys = range.map(|e| e.map(|(k, _)| k.value()));
                    collect(keys, q.backward, q.limit)?
                }
                Some(g) => {
                    let by_gun = r.open_table(GUN_FEED).map_err(db_err)?;
                    let g = g.as_str();
                    let range = match (q.backward, q.after) {
                        (false, a) => by_gun
                            .range((g, a.unwrap_or(0) + 1)..=(g, u64::MAX))
                            .map_err(db_err)?,
                        (true, Some(b)) => by_gun.range((g, 0)..(g, b)).map_err(db_err)?,
                        (true, None) => by_gun.range((g, 0)..=(g, u64::MAX)).map_err(db_err)?,
                    };
                    let keys = range.map(|e| e.map(|(k, _)| k.value().1));
                    collect(keys, q.backward, q.limit)?
                }
            };
            ids.into_iter()
                .map(|id| {
                    let v = feed
                        .get(id)
                        .map_err(db_err)?
                        .ok_or_else(|| db_err("feed gap"))?;
                    decode::<Change>(v.value())
                })
                .collect()
        })
        .await
    }

    async fn due(&self, before: DateTime<Utc>) -> PortResult<Vec<String>> {
        self.run(move |db| {
            let r = db.begin_read().map_err(db_err)?;
            let heads = r.open_table(HEADS).map_err(db_err)?;
            let mut out = Vec::new();
            for e in heads.iter().map_err(db_err)? {
                let (k, v) = e.map_err(db_err)?;
                let h: Head = decode(v.value())?;
                if h.deleting || h.refresh_due < before {
                    out.push(k.value().to_owned());
                }
            }
            Ok(out)
        })
        .await
    }

    async fn keys(&self, gun: &str) -> PortResult<KeyAssignments> {
        self.read_now(|db| {
            let r = db.begin_read().map_err(db_err)?;
            let t = r.open_table(KEYS).map_err(db_err)?;
            Ok(match t.get(gun).map_err(db_err)? {
                Some(v) => decode(v.value())?,
                None => KeyAssignments::default(),
            })
        })
    }

    async fn put_keys(&self, gun: &str, keys: &KeyAssignments) -> PortResult<bool> {
        let gun = gun.to_owned();
        let bytes = encode(keys)?;
        let expected = keys.rev.saturating_sub(1);
        self.run(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut t = txn.open_table(KEYS).map_err(db_err)?;
                let current = match t.get(gun.as_str()).map_err(db_err)? {
                    Some(v) => decode::<KeyAssignments>(v.value())?.rev,
                    None => 0,
                };
                if current != expected {
                    return Ok(false);
                }
                t.insert(gun.as_str(), bytes.as_slice()).map_err(db_err)?;
            }
            txn.commit().map_err(db_err)?;
            Ok(true)
        })
        .await
    }
}

/// Take `limit` IDs from the cursor side, oldest first.
fn collect<E: std::fmt::Display>(
    keys: impl DoubleEndedIterator<Item = Result<u64, E>>,
    backward: bool,
    limit: usize,
) -> PortResult<Vec<u64>> {
    let mut ids: Vec<u64> = if backward {
        keys.rev()
            .take(limit)
            .collect::<Result<_, _>>()
            .map_err(db_err)?
    } else {
        keys.take(limit).collect::<Result<_, _>>().map_err(db_err)?
    };
    if backward {
        ids.reverse();
    }
    Ok(ids)
}
