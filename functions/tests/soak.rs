//! A bounded soak: writers publish to their collections while many readers read them, for a
//! fixed time, on each backend. Every state a reader sees must verify with the client engine and
//! never go back; every publish must succeed. Prints the counts (operations, errors, verification
//! failures).
//!
//! CI runs it briefly (NOTUS_SOAK_SECS, default 5 s; 16 writers, 64 readers); the long figures in
//! docs/security.md come from `NOTUS_SOAK_SECS=120 cargo test -p notus-service --test soak --
//! --nocapture`.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Publisher, backends, read_verified};
use notus_service::Config;

const WRITERS: usize = 16;
const READERS: usize = 64;

#[derive(Default)]
struct Counts {
    publishes: AtomicU64,
    publish_errors: AtomicU64,
    reads: AtomicU64,
    verification_failures: AtomicU64,
    went_back: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_and_readers_see_only_verifiable_states() {
    let secs: u64 = std::env::var("NOTUS_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    for b in backends(Config::default()).await {
        let svc = b.svc.clone();
        let mut roots = Vec::new();
        let mut publishers = Vec::new();
        for w in 0..WRITERS {
            let gun = format!("example.com/soak-{}-{w}", b.name);
            let mut p = Publisher::new(&svc, &gun, w as u8 + 1).await;
            assert_eq!(p.publish_initial(&svc).await.status(), 200);
            roots.push((gun, p.root.clone()));
            publishers.push(p);
        }
        let roots = Arc::new(roots);
        let counts = Arc::new(Counts::default());
        let deadline = Instant::now() + Duration::from_secs(secs);
        let now = b.clock.now();
        let mut tasks = tokio::task::JoinSet::new();
        for (w, mut p) in publishers.into_iter().enumerate() {
            let (svc, counts) = (svc.clone(), counts.clone());
            tasks.spawn(async move {
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let name = format!("w{w}-{i}");
                    let r = p.publish_next(&svc, &name, name.as_bytes()).await;
                    if r.status() == 200 {
                        counts.publishes.fetch_add(1, Ordering::Relaxed);
                    } else {
                        counts.publish_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                }
            });
        }
        for r in 0..READERS {
            let (svc, counts, roots) = (svc.clone(), counts.clone(), roots.clone());
            tasks.spawn(async move {
                let (gun, root) = &roots[r % roots.len()];
                let mut last = 0usize;
                while Instant::now() < deadline {
                    match read_verified(&svc, gun, root, now).await {
                        Ok((_, targets)) => {
                            counts.reads.fetch_add(1, Ordering::Relaxed);
                            // A reader never sees fewer targets than it saw before.
                            if targets.len() < last {
                                counts.went_back.fetch_add(1, Ordering::Relaxed);
                            }
                            last = targets.len();
                        }
                        Err(e) => {
                            eprintln!("{gun}: {e}");
                            counts.verification_failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        let c = &counts;
        let (publishes, publish_errors, reads, failures, back) = (
            c.publishes.load(Ordering::Relaxed),
            c.publish_errors.load(Ordering::Relaxed),
            c.reads.load(Ordering::Relaxed),
            c.verification_failures.load(Ordering::Relaxed),
            c.went_back.load(Ordering::Relaxed),
        );
        println!(
            "soak {} ({secs} s, {WRITERS} writers, {READERS} readers): {publishes} publishes \
             ({publish_errors} errors), {reads} verified reads, {failures} verification \
             failures, {back} reads that went back",
            b.name
        );
        assert!(publishes > 0 && reads > 0, "the soak did nothing");
        assert_eq!(publish_errors, 0, "{}: publishes failed", b.name);
        assert_eq!(
            failures, 0,
            "{}: a reader saw an unverifiable state",
            b.name
        );
        assert_eq!(back, 0, "{}: a reader went back in time", b.name);
    }
}
