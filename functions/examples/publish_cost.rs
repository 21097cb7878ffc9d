//! Benchmark helper: K of 20 prepared incremental publishes (targets + snapshot of a 100-target
//! TUF collection; the server signs the timestamp) posted in process to the service on the
//! embedded adapters in a temporary directory. The uploads are always all prepared, so running
//! under callgrind with K = 20 and K = 0 and dividing the difference by 20 gives the
//! instructions the service spends per publish, free of timing noise:
//!
//!     valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!         target/release/examples/publish_cost 20
//!
//! (`bench/run` does this and prints the figure.)

#[path = "../tests/common/mod.rs"]
mod common;

use notus_service::ops::Config;

/// Uploads prepared in every run, whatever K.
const PREPARED: usize = 20;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let k: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let backend = common::embedded_backend(Config::default());
    let svc = &backend.svc;
    let mut p = common::Publisher::new(svc, "bench.example/cost", 5).await;
    for i in 0..100 {
        p.add_target(&format!("t{i}"), format!("content {i}").as_bytes());
    }
    assert_eq!(p.publish_initial(svc).await.status(), 200);
    let uploads: Vec<_> = (0..PREPARED)
        .map(|i| p.next(&format!("new-{i}"), format!("new {i}").as_bytes()))
        .collect();
    for (i, parts) in uploads.iter().take(k.min(PREPARED)).enumerate() {
        assert_eq!(p.post(svc, parts).await.status(), 200, "publish {i}");
    }
}
