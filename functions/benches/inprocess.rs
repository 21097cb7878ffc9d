//! In-process figures (criterion): the engine's parsing and upload validation at 1k/10k/100k
//! targets, and whole publishes through the service's router on the durable embedded adapters
//! (temporary directory, every fsync included). No HTTP socket and no other process, so these
//! move only with the code; `bench/side_by_side.py` measures whole servers.
//!
//!     cargo bench -p notus-service --bench inprocess            # all
//!     cargo bench -p notus-service --bench inprocess -- validate # one group
//!
//! `bench/run` runs it with short measurement times and copies the medians into
//! docs/benchmarks.md (criterion writes them to target/criterion/*/new/estimates.json).

#[global_allocator]
static GLOBAL: notus_service::Allocator = notus_service::ALLOCATOR;

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group};
use notus_service::ops::Config;
use notus_tuf::Envelope;
use notus_tuf::keys::parse_key;
use notus_tuf::server::{HeldKeys, RepoState, Upload, validate_update};

/// Collection sizes for the scale groups (targets in one targets role).
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A publisher for `gun` on `svc` with `n` targets added (not yet published).
async fn publisher_with(
    svc: &notus_service::ops::Service,
    gun: &str,
    n: usize,
) -> common::Publisher {
    let mut p = common::Publisher::new(svc, gun, 7).await;
    let contents: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            (
                format!("releases/app-{i}.tar.gz"),
                format!("content {i}").into_bytes(),
            )
        })
        .collect();
    p.add_targets(contents.iter().map(|(n, c)| (n.clone(), c.as_slice())));
    p
}

fn uploads(parts: &[(String, Vec<u8>)]) -> Vec<Upload> {
    parts
        .iter()
        .map(|(role, data)| Upload {
            filename: role.clone(),
            data: data.clone(),
        })
        .collect()
}

/// Parsing a signed targets file into an envelope (JSON tree + canonical payload).
fn envelope(c: &mut Criterion) {
    let rt = runtime();
    let backend = common::embedded_backend(Config::default());
    let mut group = c.benchmark_group("envelope");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    for n in SIZES {
        let p = rt.block_on(publisher_with(&backend.svc, "bench.example/envelope", n));
        let bytes = p.targets_bytes.clone();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("targets", n), &bytes, |b, bytes| {
            b.iter(|| Envelope::from_bytes(bytes).expect("parses"))
        });
    }
    group.finish();
}

/// The engine's validation of a first publish (root, targets with n targets, snapshot).
fn validate(c: &mut Criterion) {
    let rt = runtime();
    let backend = common::embedded_backend(Config::default());
    let resp = rt.block_on(common::get(
        &backend.svc,
        "/v2/bench.example/validate/_trust/tuf/timestamp.key",
    ));
    let (key, _) = common::tuf_key_from_server(resp.body());
    let key: notus_tuf::metadata::Key = serde_json::from_value(key).expect("key");
    let held = HeldKeys {
        timestamp: vec![
            parse_key(notus_tuf::Dialect::Tuf, &key)
                .expect("parses")
                .key,
        ],
        snapshot: Vec::new(),
    };
    let mut group = c.benchmark_group("validate");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    for n in SIZES {
        let mut p = rt.block_on(publisher_with(&backend.svc, "bench.example/validate", n));
        let parts = p.initial_of_added();
        let now = chrono::Utc::now();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("first_publish", n), &parts, |b, parts| {
            b.iter_batched(
                || uploads(parts),
                |ups| {
                    validate_update(
                        "bench.example/validate",
                        &RepoState::default(),
                        ups,
                        &held,
                        now,
                    )
                    .expect("valid")
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Whole publishes through the router on the embedded adapters: an incremental publish (targets
/// and snapshot; the server signs the timestamp) of a 100-target collection, and first
/// publishes of large collections.
fn publish(c: &mut Criterion) {
    let rt = runtime();
    let backend = common::embedded_backend(Config::default());
    let svc = &backend.svc;
    let mut group = c.benchmark_group("publish");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));

    let mut p = rt.block_on(publisher_with(svc, "bench.example/incremental", 100));
    let parts = p.initial_of_added();
    assert_eq!(rt.block_on(p.post(svc, &parts)).status(), 200);
    let mut i = 0u64;
    group.bench_function("incremental_100", |b| {
        b.iter_batched(
            || {
                i += 1;
                p.next(&format!("new-{i}"), format!("new {i}").as_bytes())
            },
            |parts| {
                let resp =
                    rt.block_on(common::post_parts(svc, "bench.example/incremental", &parts));
                assert_eq!(resp.status(), 200)
            },
            BatchSize::PerIteration,
        )
    });

    group.sample_size(10);
    for n in SIZES {
        let template = rt.block_on(publisher_with(svc, "bench.example/first", n));
        let mut round = 0u64;
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("first", n), |b| {
            b.iter_batched(
                || {
                    // A new collection per iteration: its own root (naming that GUN's timestamp
                    // key) over the same signed targets file.
                    round += 1;
                    let gun = format!("bench.example/first-{n}-{round}");
                    let mut p = rt.block_on(common::Publisher::new(svc, &gun, 7));
                    p.adopt_targets(&template);
                    let parts = p.initial_of_added();
                    (p, parts)
                },
                |(p, parts)| assert_eq!(rt.block_on(p.post(svc, &parts)).status(), 200),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, envelope, validate, publish);

/// `criterion_main!`, with the process set up as the binaries set theirs up.
fn main() {
    notus_service::disable_transparent_huge_pages();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
