//! Writing files so that a crash never leaves a mixture of old and new bytes: metadata caches,
//! collection settings, staged changes and key files all go through here.
use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, anyhow};

/// Write `data` to `path` atomically: a temporary file in the same directory, synced, then
/// renamed over the old file. A crash leaves either the old or the new bytes, never a mixture.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_atomic_mode(path, data, 0o644)
}

/// [`write_atomic`] creating the file with permissions `mode` (0600 for key files: the bytes are
/// never readable by others, not even for a moment).
pub fn write_atomic_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} has no file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}
