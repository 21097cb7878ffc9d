//! `notus`: the publisher and consumer CLI (Notary's command set for Notary and TUF 1.0
//! collections). This first cut exposes the engine's offline checks; the networked commands
//! arrive with the CLI milestone.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

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
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::InspectRoot { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            // The reference time only matters for expiry, which `new` does not check.
            let now = chrono_now();
            let set = notus_tuf::client::TrustedMetadataSet::new(&bytes, now)
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
    }
}

fn chrono_now() -> notus_tuf::time::Now {
    notus_tuf::time::Now::from(std::time::SystemTime::now())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
