//! Benchmark: timestamps re-signed per second by one refresh run.
//!
//!     cargo run --release -p notus-service --example refresh_rate -- 10000
//!     cargo run --release -p notus-service --example refresh_rate -- 1000 --aws   # at the emulator
//!
//! Publishes N collections through the service's own operations (embedded adapters in a temporary
//! directory, or S3/DynamoDB/KMS at $AWS_ENDPOINT_URL with `--aws`), moves the service's clock
//! 20 hours on so every timestamp is due (24 h lifetime, 8 h window), and times one
//! `refresh_all`. Prints one markdown row.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use chrono::Duration;
use notus_service::ops::{Config, refresh};

#[tokio::main]
async fn main() {
    // A refresh that fails is logged with its cause (`RUST_LOG` filters; errors by default).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let aws = args.iter().any(|a| a == "--aws");
    let config = Config {
        timestamp_lifetime: Duration::hours(24),
        refresh_window: Duration::hours(8),
        ..Config::default()
    };
    let backend = if aws {
        common::aws_backend(config)
            .await
            .expect("--aws needs AWS_ENDPOINT_URL (localstack/start)")
    } else {
        common::embedded_backend(config)
    };
    let svc = &backend.svc;
    let started = Instant::now();
    for i in 0..n {
        let mut p = common::Publisher::new(svc, &format!("bench.example/refresh-{i}"), 3).await;
        let resp = p.publish_initial(svc).await;
        assert_eq!(resp.status(), 200, "publish {i}");
    }
    let publishing = started.elapsed();
    backend.clock.advance(Duration::hours(20));
    let t0 = Instant::now();
    let report = refresh::refresh_all(svc).await.expect("refresh run");
    let run = t0.elapsed();
    assert_eq!(report.refreshed, n, "{report:?}");
    assert_eq!(report.failed, 0);
    println!(
        "| {} | {n} | {:.1} s | {:.0} re-signs/s | ({n} publishes took {:.1} s) |",
        backend.name,
        run.as_secs_f64(),
        n as f64 / run.as_secs_f64(),
        publishing.as_secs_f64()
    );
}
