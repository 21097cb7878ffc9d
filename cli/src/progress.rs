//! Feedback on long operations, for people only: progress bars and spinners draw on stderr when
//! it is a terminal and vanish otherwise (pipes, CI logs stay clean); colour likewise, and never
//! with `NO_COLOR` set.
use std::io::{IsTerminal, Read};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use notus_tuf::Dialect;
use notus_tuf::metadata::TargetFile;
use sha2::{Digest, Sha256, Sha512};

/// Files at least this large get a progress bar while hashed.
const BAR_FROM_BYTES: u64 = 16 << 20;

fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

/// Whether to colour stderr.
pub fn colour() -> bool {
    interactive() && std::env::var_os("NO_COLOR").is_none()
}

/// A spinner with `message` while a network step runs (hidden when not on a terminal).
pub fn spinner(message: &str) -> ProgressBar {
    let pb = if interactive() {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
    };
    pb.set_message(message.to_owned());
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

/// Hash a file in one streaming pass (sha256 and sha512, constant memory), with a progress bar
/// for large files on a terminal.
pub fn hash_file(
    path: &Path,
    dialect: Dialect,
    custom: Option<serde_json::Value>,
) -> Result<TargetFile> {
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let len = f.metadata()?.len();
    let pb = if interactive() && len >= BAR_FROM_BYTES {
        let pb = ProgressBar::new(len);
        pb.set_style(
            ProgressStyle::with_template("hashing {msg} {bar:40} {bytes}/{total_bytes} {eta}")
                .expect("static template"),
        );
        pb.set_message(path.display().to_string());
        pb
    } else {
        ProgressBar::hidden()
    };
    let (mut h256, mut h512) = (Sha256::new(), Sha512::new());
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        h256.update(&buf[..n]);
        h512.update(&buf[..n]);
        total += n as u64;
        pb.set_position(total);
    }
    pb.finish_and_clear();
    Ok(notus_tuf::editor::target_file_from_digests(
        dialect,
        &h256.finalize(),
        &h512.finalize(),
        total,
        custom,
    ))
}
