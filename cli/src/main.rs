//! `notus`: the publisher and consumer CLI (Notary's command set for Notary and TUF 1.0
//! collections).
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod transport;
mod tuf_client;
mod updater;

/// Publish and verify trusted collections.
#[derive(Parser, Debug)]
#[command(name = "notus", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Verify that a root metadata file is signed by a threshold of its own root keys and print
    /// its dialect, version and expiry.
    ///
    /// Example: notus inspect-root root.json
    InspectRoot {
        /// Path to a root.json (Notary or TUF).
        file: PathBuf,
    },
    /// The TUF conformance client protocol (tuf-conformance CLIENT-CLI.md): init, refresh,
    /// download. Exits 0 on success and 1 on any failure.
    ///
    /// Example: notus tuf-client --metadata-url http://127.0.0.1:8080/metadata/ \
    ///            --metadata-dir meta refresh
    TufClient(tuf_client::TufClientArgs),
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::InspectRoot { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            // The reference time only matters for expiry, which `new` does not check.
            let set = notus_tuf::client::TrustedMetadataSet::new(&bytes, now())
                .with_context(|| format!("{} is not a valid self-signed root", file.display()))?;
            let root = &set.root().value;
            println!(
                "dialect: {}\nversion: {}\nexpires: {}",
                set.dialect(),
                root.version,
                root.expires
            );
            Ok(())
        }
        Command::TufClient(args) => tuf_client::run(args),
    }
}

/// The current time, read once per command through the system clock (libc `clock_gettime`, so
/// `faketime` can move it).
pub(crate) fn now() -> notus_tuf::time::Now {
    notus_tuf::time::Now::from(std::time::SystemTime::now())
}

fn main() -> ExitCode {
    // The conformance protocol needs exit status 0 or 1 and nothing else: usage errors (clap's
    // 2) and panics (101) become 1 there.
    let conformance = std::env::args().nth(1).as_deref() == Some("tuf-client");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match (conformance, e.use_stderr()) {
                (_, false) => ExitCode::SUCCESS, // --help, --version
                (true, true) => ExitCode::FAILURE,
                (false, true) => ExitCode::from(2),
            };
        }
    };
    let result = if conformance {
        std::panic::catch_unwind(|| run(cli))
            .unwrap_or_else(|_| Err(anyhow::anyhow!("internal error (panic)")))
    } else {
        run(cli)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
