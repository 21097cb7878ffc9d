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

/// The test token service (`tests/python/token_service.py`) on 127.0.0.1, killed when dropped.
pub struct TokenService {
    child: std::process::Child,
    /// Its base URL (tokens at `{url}/auth/token`).
    pub url: String,
}

impl TokenService {
    /// Start it with `python`, signing with a new key of `alg` (`ES256` or `RS256`) whose public
    /// key it writes to `pubkey`.
    pub fn start(python: &Path, pubkey: &Path, alg: &str) -> TokenService {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(python)
            .arg(python_dir().join("token_service.py"))
            .arg(pubkey)
            .arg(alg)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the token service starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the token service prints its URL");
        TokenService {
            child,
            url: line.trim().to_owned(),
        }
    }
}

impl Drop for TokenService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
