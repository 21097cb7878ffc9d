//! I3 and I4: a publish killed between any two of its writes leaves readers on a verifiable old
//! or new state, the next publish succeeds, and no immutable object is ever rewritten.
//!
//! The kill is injected by wrapping the real adapters (embedded and emulator): after `k` writes
//! (object puts/deletes and ledger commits, counted together), every further write fails, as if
//! the process had died at that point.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use common::*;
use notus_service::layout::{NameKind, classify_file};
use notus_service::ops::Config;
use notus_service::ports::*;

/// Counts writes; from the `fail_at`-th on, every write fails.
struct Killer {
    writes: AtomicUsize,
    fail_at: usize,
}

impl Killer {
    fn check(&self) -> PortResult<()> {
        if self.writes.fetch_add(1, Ordering::SeqCst) >= self.fail_at {
            return Err(PortError::Unavailable("injected crash".into()));
        }
        Ok(())
    }
}

struct DyingStore(Arc<dyn ObjectStore>, Arc<Killer>);
struct DyingLedger(Arc<dyn Ledger>, Arc<Killer>);

#[async_trait]
impl ObjectStore for DyingStore {
    async fn get(&self, key: &str) -> PortResult<Option<Object>> {
        self.0.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        c: PutCondition,
        h: &ObjectHeaders,
    ) -> PortResult<PutOutcome> {
        self.1.check()?;
        self.0.put(key, bytes, c, h).await
    }
    async fn list(&self, prefix: &str) -> PortResult<Vec<String>> {
        self.0.list(prefix).await
    }
    async fn delete(&self, keys: &[String]) -> PortResult<()> {
        self.1.check()?;
        self.0.delete(keys).await
    }
    // The store's own answer, so that a publish takes the path it takes in production (the
    // embedded store swaps names against known etags without reading them first).
    fn etag_is_sha256(&self) -> bool {
        self.0.etag_is_sha256()
    }
}

#[async_trait]
impl Ledger for DyingLedger {
    async fn head(&self, gun: &str) -> PortResult<Option<Head>> {
        self.0.head(gun).await
    }
    async fn commit(
        &self,
        gun: &str,
        e: Option<u64>,
        h: &Head,
        c: &NewChange,
    ) -> PortResult<Commit> {
        self.1.check()?;
        self.0.commit(gun, e, h, c).await
    }
    async fn remove_head(&self, gun: &str, e: u64) -> PortResult<bool> {
        self.1.check()?;
        self.0.remove_head(gun, e).await
    }
    async fn changes(&self, q: &ChangeQuery) -> PortResult<Vec<Change>> {
        self.0.changes(q).await
    }
    async fn due(&self, before: DateTime<Utc>) -> PortResult<Vec<String>> {
        self.0.due(before).await
    }
    async fn keys(&self, gun: &str) -> PortResult<KeyAssignments> {
        self.0.keys(gun).await
    }
    async fn put_keys(&self, gun: &str, k: &KeyAssignments) -> PortResult<bool> {
        self.1.check()?;
        self.0.put_keys(gun, k).await
    }
}

/// Every immutable object's hash must never change once seen.
async fn check_immutable(svc: &notus_service::Service, seen: &mut BTreeMap<String, String>) {
    let prefix = "v2/example.com/crash/_trust/tuf/";
    for key in svc.store.list(prefix).await.unwrap() {
        let name = &key[prefix.len()..];
        if classify_file(name).map(|(_, k)| k) != Some(NameKind::Immutable) {
            continue;
        }
        let bytes = svc.store.get(&key).await.unwrap().unwrap().bytes;
        let sha = hex::encode(notus_tuf::metadata::sha256(&bytes));
        if let Some(prev) = seen.insert(key.clone(), sha.clone()) {
            assert_eq!(prev, sha, "immutable object {key} was rewritten");
        }
    }
}

#[tokio::test]
async fn publish_killed_at_every_write_leaves_a_verifiable_state() {
    for b in backends(Config::default()).await {
        let svc = &b.svc;
        let mut p = Publisher::new(svc, "example.com/crash", 20).await;
        assert_eq!(p.publish_initial(svc).await.status(), 200);
        let mut seen = BTreeMap::new();
        check_immutable(svc, &mut seen).await;
        let mut expected = vec!["app-1.0".to_owned()];
        let mut k = 0;
        loop {
            let killer = Arc::new(Killer {
                writes: AtomicUsize::new(0),
                fail_at: k,
            });
            let mut dying = svc.clone();
            dying.store = Arc::new(DyingStore(svc.store.clone(), killer.clone()));
            dying.ledger = Arc::new(DyingLedger(svc.ledger.clone(), killer.clone()));
            let name = format!("k{k}");
            let parts = p.next(&name, name.as_bytes());
            let r = p.post(&dying, &parts).await;
            if r.status() == 200 {
                // k is beyond the publish's last write: every kill point has been tried.
                assert!(
                    k >= 6,
                    "{}: a publish makes at least 6 writes, saw {k}",
                    b.name
                );
                expected.push(name);
                expected.sort();
                break;
            }
            assert!(
                matches!(r.status().as_u16(), 500 | 503),
                "{} k={k}: {:?}",
                b.name,
                r.body()
            );
            // Readers: old or new, always verifiable.
            let (_, seen_targets) = read_verified(svc, &p.gun, &p.root, b.clock.now())
                .await
                .unwrap_or_else(|e| panic!("{} killed after {k} writes: unreadable: {e}", b.name));
            let mut with_new = expected.clone();
            with_new.push(name.clone());
            with_new.sort();
            assert!(
                seen_targets == expected || seen_targets == with_new,
                "{} k={k}: readers see {seen_targets:?}",
                b.name
            );
            check_immutable(svc, &mut seen).await;
            // The publisher repeats the same upload on a healthy service: a fresh publish if the
            // first never committed (200); if it had committed, the service finishes it and
            // answers VERSION for the repeated versions, as notary-server does.
            let r = p.post(svc, &parts).await;
            let committed_before =
                r.status() == 400 && String::from_utf8_lossy(r.body()).contains("\"VERSION\"");
            assert!(
                r.status() == 200 || committed_before,
                "{} k={k}: retry: {} {:?}",
                b.name,
                r.status(),
                r.body()
            );
            expected = with_new;
            let (_, now_targets) = read_verified(svc, &p.gun, &p.root, b.clock.now())
                .await
                .unwrap();
            assert_eq!(now_targets, expected, "{} k={k}", b.name);
            check_immutable(svc, &mut seen).await;
            k += 1;
        }
        // And the next ordinary publish succeeds.
        assert_eq!(p.publish_next(svc, "after", b"after").await.status(), 200);
        check_immutable(svc, &mut seen).await;
        eprintln!("{}: killed a publish at each of its {k} writes", b.name);
    }
}
