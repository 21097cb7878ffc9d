//! `notus tuf-client`: the TUF conformance client protocol (theupdateframework/tuf-conformance
//! `CLIENT-CLI.md`), so the public conformance suite can drive Notus's client engine:
//!
//! ```text
//! notus tuf-client --metadata-dir D init ROOT
//! notus tuf-client --metadata-url U --metadata-dir D refresh
//! notus tuf-client --metadata-url U --metadata-dir D --target-name P [--target-name P2 …] \
//!                  --target-dir T --target-base-url B download
//! ```
//!
//! Exit status is exactly 0 (success) or 1 (anything else, including usage errors and panics):
//! the suite asserts `== 1`. Time is read once per run from the system clock through libc, so
//! `faketime` moves it.
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use notus_tuf::client::TrustedMetadataSet;

use crate::files::write_atomic;
use crate::transport::{Http, quote_all};
use crate::updater::{Limits, Updater};

/// Options come before the action, as the protocol passes them.
#[derive(Args, Debug)]
pub struct TufClientArgs {
    /// Base URL of the repository's metadata (ends in `/`).
    #[arg(long, value_name = "URL")]
    metadata_url: Option<String>,
    /// Directory holding the trusted metadata (`root.json`, `timestamp.json`, …).
    #[arg(long, value_name = "DIR")]
    metadata_dir: PathBuf,
    /// Target path to download; repeat for several (processed in order).
    #[arg(long = "target-name", value_name = "PATH")]
    target_names: Vec<String>,
    /// Directory to download targets into.
    #[arg(long, value_name = "DIR")]
    target_dir: Option<PathBuf>,
    /// Base URL of the repository's targets (ends in `/`).
    #[arg(long, value_name = "URL")]
    target_base_url: Option<String>,
    #[command(subcommand)]
    action: TufClientAction,
}

/// What to do.
#[derive(Subcommand, Debug)]
pub enum TufClientAction {
    /// Trust ROOT: copy it into the metadata directory as root.json (no network access).
    Init {
        /// The trusted root metadata file.
        root: PathBuf,
    },
    /// Update the top-level metadata (root chain, timestamp, snapshot, targets).
    Refresh,
    /// Refresh, then download each --target-name into --target-dir (skipping up-to-date copies).
    Download,
}

/// Slow-retrieval bound for one HTTP request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Run one protocol command.
pub fn run(args: TufClientArgs) -> Result<()> {
    match &args.action {
        TufClientAction::Init { root } => init(&args.metadata_dir, root),
        TufClientAction::Refresh => {
            let http = Http::new(REQUEST_TIMEOUT);
            let mut updater = updater(&args, &http)?;
            updater.refresh()
        }
        TufClientAction::Download => download(&args),
    }
}

fn init(dir: &Path, root: &Path) -> Result<()> {
    let bytes = std::fs::read(root).with_context(|| format!("reading {}", root.display()))?;
    // Refuse a root that cannot start a chain of trust now, rather than at the first refresh.
    let set = TrustedMetadataSet::new(&bytes, crate::now())
        .with_context(|| format!("{} is not a self-signed root", root.display()))?;
    if set.dialect() != notus_tuf::Dialect::Tuf {
        bail!(
            "the conformance client speaks TUF 1.0; {} is a Notary root",
            root.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_atomic(&dir.join("root.json"), &bytes)
}

fn updater<'t>(args: &TufClientArgs, http: &'t Http) -> Result<Updater<'t, Http>> {
    let Some(url) = &args.metadata_url else {
        bail!("--metadata-url is required");
    };
    Updater::new(
        &args.metadata_dir,
        url,
        http,
        crate::now(),
        Limits::default(),
    )
}

fn download(args: &TufClientArgs) -> Result<()> {
    let (Some(target_dir), Some(base_url)) = (&args.target_dir, &args.target_base_url) else {
        bail!("download needs --target-dir and --target-base-url");
    };
    if args.target_names.is_empty() {
        bail!("download needs at least one --target-name");
    }
    let http = Http::new(REQUEST_TIMEOUT);
    let mut updater = updater(args, &http)?;
    updater.refresh()?;
    for name in &args.target_names {
        let info = updater
            .target_info(name)?
            .with_context(|| format!("no trusted role lists the target {name:?}"))?;
        // One file per target path, the same name on every run (python-tuf's layout).
        let dest = target_dir.join(quote_all(name));
        if updater.is_cached(&info, &dest) {
            continue;
        }
        updater.download(name, &info, base_url, &dest)?;
    }
    Ok(())
}
