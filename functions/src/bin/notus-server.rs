//! `notus-server`: the whole Notus API on one machine, on embedded adapters (default) or on
//! S3/DynamoDB/KMS (`--aws`). It also runs refresh on a timer, which a deployment does with a
//! scheduled function.

#[global_allocator]
static GLOBAL: notus_service::Allocator = notus_service::ALLOCATOR;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use notus_service::ops::refresh;
use notus_service::settings::{self, AwsArgs, ServiceArgs};

/// Serve the Notus API (Notary-compatible) locally.
#[derive(Parser, Debug)]
#[command(
    name = "notus-server",
    version,
    about,
    after_help = "Examples:\n  notus-server --listen 127.0.0.1:4443 --data-dir ./notus-data\n  AWS_ENDPOINT_URL=http://127.0.0.1:4566 notus-server --aws --bucket notus-metadata"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4443", env = "NOTUS_LISTEN")]
    listen: SocketAddr,
    /// Directory for the embedded object store, ledger and keys.
    #[arg(long, default_value = "./notus-data", env = "NOTUS_DATA_DIR")]
    data_dir: PathBuf,
    /// Use S3, DynamoDB and KMS from the standard AWS configuration instead of embedded adapters.
    #[arg(long)]
    aws: bool,
    #[command(flatten)]
    aws_args: AwsArgs,
    #[command(flatten)]
    service: ServiceArgs,
    /// Listen beyond loopback without authentication (anyone who can connect may write).
    #[arg(long)]
    insecure_no_auth: bool,
    /// How often to run refresh (re-sign timestamps that are due).
    #[arg(long, env = "NOTUS_REFRESH_INTERVAL", default_value = "5m", value_parser = settings::parse_duration)]
    refresh_interval: chrono::Duration,
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}

async fn run(args: Args) -> anyhow::Result<()> {
    let config = args.service.config()?;
    // Without authentication anyone who can connect may write: only on loopback.
    if config.auth.is_none() && !args.listen.ip().is_loopback() && !args.insecure_no_auth {
        anyhow::bail!(
            "refusing to listen on {} without authentication: configure --auth-realm and \
             --auth-key, bind to 127.0.0.1, or pass --insecure-no-auth",
            args.listen
        );
    }
    let (svc, backend) = if args.aws {
        let svc = settings::aws_service(&args.aws_args, config).await?;
        let backend = format!(
            "AWS: bucket {}, table {}, key {}",
            args.aws_args.bucket, args.aws_args.table, args.aws_args.kms_key
        );
        (svc, backend)
    } else {
        let svc = settings::embedded_service(&args.data_dir, config)?;
        (svc, format!("embedded data in {}", args.data_dir.display()))
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let auth = match &svc.config.auth {
        Some(a) => format!("tokens from {}", a.realm),
        None if addr.ip().is_loopback() => "no authentication: loopback only".to_owned(),
        None => {
            tracing::warn!(%addr, "listening beyond loopback without authentication");
            "NO AUTHENTICATION".to_owned()
        }
    };
    println!("notus-server listening on http://{addr} ({backend}; {auth})");
    tracing::info!(%addr, backend, "listening");

    let interval = args
        .refresh_interval
        .to_std()
        .unwrap_or(Duration::from_secs(300));
    let refresher = {
        let svc = svc.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = refresh::refresh_all(&svc).await {
                    tracing::error!(code = e.code, "refresh run failed");
                }
                tokio::time::sleep(interval).await;
            }
        })
    };
    notus_service::serve::serve(listener, svc, shutdown_signal()).await?;
    refresher.abort();
    Ok(())
}

/// Threads for the embedded adapters' file and database work (tokio's default allows 512).
/// Their work is short (a read, a link, an fsync), so a few threads keep the disk busy; an
/// unbounded pool grew to ≈ 60 threads under 16 collections publishing at once, and each new
/// thread's stack and allocator pages were faulted in and zeroed: 14 % of the server's CPU
/// (docs/performance.md, profile 5). Measured at 16 collections: 6 threads 416–499, 16 threads
/// 561–595, 512 threads 453–512 publishes/s.
const BLOCKING_THREADS: usize = 16;

fn main() -> ExitCode {
    notus_service::disable_transparent_huge_pages();
    let args = Args::parse();
    settings::init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("notus-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("notus-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}
