//! Cross-crate end-to-end and interoperability tests live in `tests/`; this library holds what
//! they share with other crates' tests: finding the pinned Python (python-tuf) and the Python
//! scripts.
use std::path::{Path, PathBuf};

/// The pinned venv's Python (`scripts/test-all` makes `.venv`; `NOTUS_PYTHON` overrides). When
/// it is missing the caller's test is skipped with a message, unless `NOTUS_REQUIRE_INTEROP=1`
/// (set by CI), where it panics: CI never skips interoperability silently.
pub fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("NOTUS_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        return Some(venv);
    }
    if std::env::var("NOTUS_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("python-tuf venv not found: run scripts/test-all or set NOTUS_PYTHON");
    }
    eprintln!("SKIPPED: no python-tuf venv (run scripts/test-all, or set NOTUS_PYTHON)");
    None
}

/// The directory of the Python test scripts (`tests/python`).
pub fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}
