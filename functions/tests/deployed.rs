//! The deployment itself: `infra/deploy --emulator` puts infra/template.yaml into the emulator
//! (CloudFormation with the SAM transform), whose Lambda service runs this build's real
//! `notus-api` and `notus-refresh` bootstraps, whose CloudFront data plane routes by the
//! template's cache behaviours (S3 through origin access control for metadata, the API function's
//! URL for the rest), and whose EventBridge fires the refresh schedule. `infra/cdn-gateway` puts
//! the distribution on a loopback port, unchanged. Through it: the real notary client's
//! walkthrough, full command set and notary-server's upload probe; what it serves is what the
//! bucket holds; a missing file is Notary's 404; and a scheduled refresh re-signs a timestamp.
//!
//! One stack per test binary (deploying takes ~20 s); the tests share it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use notus_e2e::notary_suite::{differential, matrix, walkthrough};
use notus_e2e::{Running, notary_available, notary_config, spawn_printing_url};

struct Stack {
    outputs: serde_json::Map<String, serde_json::Value>,
    url: String,
    _gateway: Running,
    _gateway_stdin: Option<std::process::ChildStdin>,
}

impl Stack {
    fn output(&self, key: &str) -> &str {
        self.outputs[key].as_str().unwrap()
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The stack most tests share, deployed once per test binary.
fn stack() -> Option<&'static Stack> {
    static STACK: OnceLock<Option<Stack>> = OnceLock::new();
    STACK
        .get_or_init(|| {
            deploy(
                &format!("t{}", std::process::id()),
                &[
                    "TimestampLifetime=120s",
                    "RefreshWindow=115s",
                    "RefreshSchedule=rate(1 minute)",
                ],
            )
        })
        .as_ref()
}

/// Deploy a stack named `name` with `params`; `None` (test skipped) without the emulator or
/// notary, unless CI requires them.
fn deploy(name: &str, params: &[&str]) -> Option<Stack> {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        assert!(
            std::env::var("NOTUS_REQUIRE_AWS").as_deref() != Ok("1"),
            "emulator required"
        );
        return None;
    }
    if !notary_available() {
        return None;
    }
    let python = notus_e2e::python()?;
    // The bootstraps cargo built for these tests: the same binaries `cargo lambda build` makes,
    // in the debug profile (infra/deploy builds release ones for real deployments).
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_notus-api")).parent().unwrap();
    assert!(bin_dir.join("notus-refresh").exists());
    let started = Instant::now();
    let out = Command::new(repo().join("infra/deploy"))
        .args(["--emulator", "--stack", name, "--bootstraps"])
        .arg(bin_dir)
        .arg("--")
        .args(params)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "infra/deploy failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("deployed stack {name} in {:?}", started.elapsed());
    let described = Command::new(repo().join(".venv/bin/aws"))
        .args(["cloudformation", "describe-stacks", "--stack-name", name])
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(described.status.success());
    let v: serde_json::Value = serde_json::from_slice(&described.stdout).unwrap();
    let outputs = v["Stacks"][0]["Outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["OutputKey"].as_str().unwrap().to_owned(),
                o["OutputValue"].clone(),
            )
        })
        .collect::<serde_json::Map<_, _>>();
    let mut gw = Command::new(python);
    gw.arg(repo().join("infra/cdn-gateway"))
        .args(["--domain", outputs["DistributionDomain"].as_str().unwrap()])
        .args(["--api-url", outputs["ApiFunctionUrl"].as_str().unwrap()])
        .args(["--listen", "127.0.0.1:0", "--until-stdin-closes"])
        .stdin(Stdio::piped());
    // A static is never dropped, so the gateway's lifetime is this process's: it exits when
    // its stdin (held here) closes.
    let (mut gateway, url) = spawn_printing_url(gw);
    let stdin = gateway.0.stdin.take();
    Some(Stack {
        outputs,
        url,
        _gateway: gateway,
        _gateway_stdin: stdin,
    })
}

/// GET through the distribution: (status, body).
fn get(url: &str) -> (u16, Vec<u8>) {
    curl(&[url])
}

/// POST with an empty body: (status, body).
fn post_empty(url: &str) -> (u16, Vec<u8>) {
    curl(&["-X", "POST", url])
}

/// curl with `args`: (status, body).
fn curl(args: &[&str]) -> (u16, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let mut body = out.stdout;
    let split = body.iter().rposition(|b| *b == b'\n').unwrap();
    let status = String::from_utf8_lossy(&body[split + 1..]).parse().unwrap();
    body.truncate(split);
    (status, body)
}

/// An object straight from the bucket (the emulator's S3, path-style).
fn bucket_object(stack: &Stack, key: &str) -> Vec<u8> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let (status, body) = get(&format!(
        "{endpoint}/{}/{key}",
        stack.output("MetadataBucket")
    ));
    assert_eq!(status, 200, "{key} is in the bucket");
    body
}

fn timestamp_version(body: &[u8]) -> (u64, String) {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    (
        v["signed"]["version"].as_u64().unwrap(),
        v["signed"]["expires"].as_str().unwrap().to_owned(),
    )
}

/// A notary client configured for the stack, which has just published `gun` (init -p).
fn published(stack: &Stack, gun: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    notary_config(dir.path(), &stack.url);
    let (ok, out) = notus_e2e::notary(dir.path(), "trust", &[], &["init", "-p", gun]);
    assert!(ok, "{out}");
    dir
}

#[test]
fn notary_walkthrough_through_the_distribution() {
    let Some(stack) = stack() else { return };
    walkthrough(&stack.url);
}

#[test]
fn notary_command_matrix_through_the_distribution() {
    let Some(stack) = stack() else { return };
    matrix(&stack.url);
}

#[test]
fn notary_server_upload_probe_through_the_distribution() {
    let Some(stack) = stack() else { return };
    differential(&stack.url, "example.com/deployed-probe");
}

#[test]
fn a_publish_lands_in_the_bucket_and_a_missing_file_is_notarys_404() {
    let Some(stack) = stack() else { return };
    let gun = "example.com/deployed-bucket";
    let _client = published(stack, gun);
    // What the CDN serves is byte for byte what the publish put in the bucket.
    for file in [
        "root.json",
        "targets.json",
        "snapshot.json",
        "timestamp.json",
    ] {
        let key = format!("v2/{gun}/_trust/tuf/{file}");
        let (status, served) = get(&format!("{}/{key}", stack.url));
        assert_eq!(status, 200, "{file}");
        assert_eq!(served, bucket_object(stack, &key), "{file}");
    }
    // S3 answers 403 for a missing object (no ListBucket for the distribution); the
    // distribution's error response turns it into notary-server's 404 body.
    let (status, body) = get(&format!(
        "{}/v2/{gun}/_trust/tuf/targets/nope.json",
        stack.url
    ));
    assert_eq!(status, 404);
    assert_eq!(body, notus_service::ops::not_found().body());
    assert_eq!(
        std::fs::read(repo().join("infra/metadata-not-found.json")).unwrap(),
        notus_service::ops::not_found().body(),
        "the error page deployed is the service's own 404"
    );
}

#[test]
fn the_scheduled_refresh_re_signs_a_timestamp() {
    let Some(stack) = stack() else { return };
    let gun = "example.com/deployed-refresh";
    let client = published(stack, gun);
    let ts_url = format!("{}/v2/{gun}/_trust/tuf/timestamp.json", stack.url);
    let (status, body) = get(&ts_url);
    assert_eq!(status, 200);
    let (v0, expires0) = timestamp_version(&body);
    // The stack's timestamps live 120 s and are due 115 s before expiry, so this one is due
    // within 5 s; the schedule (rate(1 minute)) fires within a minute after that.
    let deadline = Instant::now() + Duration::from_secs(150);
    let (v1, expires1) = loop {
        let (status, body) = get(&ts_url);
        assert_eq!(status, 200);
        let (v, e) = timestamp_version(&body);
        if v > v0 {
            break (v, e);
        }
        assert!(
            Instant::now() < deadline,
            "no scheduled refresh re-signed {gun}'s timestamp (still version {v0})"
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    assert!(expires1 > expires0, "{expires1} after {expires0}");
    eprintln!("refresh re-signed timestamp {v0} -> {v1}");
    // A fresh client verifies the re-signed timestamp (signed by the stack's KMS key).
    let (ok, out) = notus_e2e::notary(client.path(), "fresh", &[], &["list", gun]);
    assert!(ok, "{out}");
}

/// The template's authentication and GUN-prefix parameters reach the function: a second stack
/// with notary-server's token auth (the issuer's PEM passed with spaces for line breaks, as the
/// README shows) refuses anonymous publishes with notary-server's challenge, lets a user with
/// push scope publish through the distribution, and serves only the allowed prefix.
#[test]
fn token_auth_and_gun_prefixes_from_the_template() {
    if stack().is_none() {
        return;
    }
    let python = notus_e2e::python().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pubkey = d.join("issuer.pem");
    let tokens = notus_e2e::TokenService::start(&python, &pubkey, "ES256");
    let realm = format!("{}/auth/token", tokens.url);
    let pem = std::fs::read_to_string(&pubkey).unwrap().replace('\n', " ");
    let stack = deploy(
        &format!("a{}", std::process::id()),
        &[
            &format!("AuthRealm={realm}"),
            "AuthIssuer=notus-test-issuer",
            &format!("AuthIssuerPublicKey={pem}"),
            "GunPrefixes=example.com/",
        ],
    )
    .unwrap();
    let challenge = Command::new("curl")
        .args(["-si", &format!("{}/v2/", stack.url)])
        .output()
        .unwrap();
    let challenge = String::from_utf8_lossy(&challenge.stdout).to_lowercase();
    assert!(challenge.starts_with("http/1.1 401"), "{challenge}");
    assert!(
        challenge.contains(&format!(
            "www-authenticate: bearer realm=\"{}\",service=\"notus\"",
            realm.to_lowercase()
        )),
        "{challenge}"
    );
    let (status, body) = post_empty(&format!("{}/v2/other.org/x/_trust/tuf/", stack.url));
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("INVALID_GUN"));

    notary_config(d, &stack.url);
    let gun = "example.com/deployed-auth";
    let as_user = |trust: &str, auth: Option<&str>, args: &[&str]| {
        let env: Vec<(&str, String)> = auth
            .map(|a| ("NOTARY_AUTH", notus_tuf::b64_encode(a.as_bytes())))
            .into_iter()
            .collect();
        notus_e2e::notary(d, trust, &env, args)
    };
    let (ok, out) = as_user("anon", None, &["init", "-p", gun]);
    assert!(!ok, "an anonymous publish must be refused: {out}");
    let (ok, out) = as_user("alice", Some("alice:secret"), &["init", "-p", gun]);
    assert!(ok && out.contains("Successfully published"), "{out}");
    let (ok, out) = as_user("reader", None, &["list", gun]);
    assert!(ok, "reads stay public through the CDN: {out}");
}
