//! Cross-crate end-to-end and interoperability tests live in `tests/`; this library holds what
//! they share with other crates' tests: finding the pinned Python (python-tuf) and the Python
//! scripts, running the real `notary` client, child processes that print their URL, and the
//! test token service, and the notary client suite run against every way Notus is served.
use std::path::{Path, PathBuf};

pub mod notary_suite;

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
    _child: Running,
    /// Its base URL (tokens at `{url}/auth/token`).
    pub url: String,
}

impl TokenService {
    /// Start it with `python`, signing with a new key of `alg` (`ES256` or `RS256`) whose public
    /// key it writes to `pubkey`.
    pub fn start(python: &Path, pubkey: &Path, alg: &str) -> TokenService {
        let mut cmd = std::process::Command::new(python);
        cmd.arg(python_dir().join("token_service.py"))
            .arg(pubkey)
            .arg(alg);
        let (child, url) = spawn_printing_url(cmd);
        TokenService { _child: child, url }
    }
}

/// A child process, killed and reaped when dropped.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawn `cmd` (its stdout piped) and read the first `http://…` word it prints: servers here
/// announce where they listen on their first line.
pub fn spawn_printing_url(mut cmd: std::process::Command) -> (Running, String) {
    use std::io::BufRead as _;
    let mut child = Running(
        cmd.stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the process starts"),
    );
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("the process prints its URL");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    (child, url)
}

/// Whether the process `pid` may get transparent huge pages: the `THP_enabled` line of its
/// `/proc/<pid>/status` (Linux 5.0 and later), which reads 0 once the process turned them off.
pub fn transparent_huge_pages_enabled(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process runs");
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("THP_enabled:"))
        .unwrap_or_else(|| panic!("no THP_enabled line in /proc/{pid}/status"));
    line.trim() != "0"
}

/// Whether the Debian `notary` 0.7 client is installed. Without it the caller's test is skipped
/// with a message, unless `NOTUS_REQUIRE_INTEROP=1` (CI), where it panics.
pub fn notary_available() -> bool {
    let ok = std::process::Command::new("notary")
        .arg("version")
        .output()
        .is_ok();
    if !ok {
        assert!(
            std::env::var("NOTUS_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "the notary client is required (apt-get install notary)"
        );
        eprintln!("SKIPPED: notary client not installed");
    }
    ok
}

/// Write the `config.json` the notary client reads in `dir`: the server URL.
pub fn notary_config(dir: &Path, url: &str) {
    std::fs::create_dir_all(dir).expect("config dir");
    std::fs::write(
        dir.join("config.json"),
        format!("{{\"remote_server\":{{\"url\":\"{url}\"}}}}"),
    )
    .expect("config.json");
}

/// Run `notary -c config.json -d TRUST ARGS` in `dir` with the tests' passphrases (root,
/// targets, snapshot, delegation), no inherited `NOTARY_AUTH`, then `env`. Returns whether it
/// succeeded and its stdout and stderr.
pub fn notary(dir: &Path, trust: &str, env: &[(&str, String)], args: &[&str]) -> (bool, String) {
    notary_answering(dir, trust, env, args, b"")
}

/// [`notary`] with `input` on its standard input (answers to its questions, e.g. `yes`).
pub fn notary_answering(
    dir: &Path,
    trust: &str,
    env: &[(&str, String)],
    args: &[&str],
    input: &[u8],
) -> (bool, String) {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut c = std::process::Command::new("notary");
    c.current_dir(dir)
        .args(["-c", "config.json", "-d", trust])
        .args(args)
        .env("NOTARY_ROOT_PASSPHRASE", "rootpass")
        .env("NOTARY_TARGETS_PASSPHRASE", "targetspass")
        .env("NOTARY_SNAPSHOT_PASSPHRASE", "snappass")
        .env("NOTARY_DELEGATION_PASSPHRASE", "delegpass")
        .env_remove("NOTARY_AUTH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("notary runs");
    let mut stdin = child.stdin.take().expect("piped");
    let _ = stdin.write_all(input);
    drop(stdin);
    let out = child.wait_with_output().expect("notary finishes");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// A delegate's P-256 key (`deleg-key.pem`, unencrypted PKCS#8) and self-signed certificate
/// (`deleg.crt`, CN releases-delegate, 10 years) in `dir`, made now with openssl, as a Notary
/// delegate makes them: no fixture that expires.
pub fn delegate_key(dir: &Path) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-keyout", "deleg-key.pem", "-out", "deleg.crt"])
        .args(["-subj", "/CN=releases-delegate", "-days", "3650"])
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
