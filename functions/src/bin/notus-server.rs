//! `notus-server`: the whole Notus API on one machine (embedded adapters by default, AWS with
//! `--aws`).
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Serve the Notus API (Notary-compatible) locally.
#[derive(Parser, Debug)]
#[command(name = "notus-server", version, about)]
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
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The HTTP service is the next milestone (issue "The service"); refuse clearly rather than
    // pretend to serve.
    eprintln!(
        "notus-server: the HTTP service is not implemented yet; would listen on {} with data in {} (aws: {})",
        args.listen,
        args.data_dir.display(),
        args.aws
    );
    ExitCode::from(2)
}
