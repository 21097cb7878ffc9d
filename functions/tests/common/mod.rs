//! Shared by the service test binaries: the backends every test runs on (embedded in a temp
//! dir; S3/DynamoDB/KMS on the emulator when `AWS_ENDPOINT_URL` is set), a clock tests move, a
//! TUF publisher that signs like a real one, and a reader that verifies what is served with the
//! engine's client state machine.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use notus_service::ops::{Clock, Config, Service};
use notus_service::{aws, embedded};
use notus_tuf::Dialect;
use notus_tuf::build::{self, MetaInput, Signer, UnsignedMetadata};
use notus_tuf::client::TrustedMetadataSet;
use notus_tuf::keys::{PublicKey, key_from_public, key_id};
use notus_tuf::signers::EcdsaP256Signer;
use serde_json::{Value, json};

/// Upload parts: (role, bytes).
pub type Parts = Vec<(String, Vec<u8>)>;

/// A clock the test moves.
#[derive(Clone)]
pub struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub fn new() -> Self {
        TestClock(Arc::new(Mutex::new(Utc::now())))
    }
    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
    pub fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
    pub fn clock(&self) -> Clock {
        let c = self.0.clone();
        Arc::new(move || *c.lock().unwrap())
    }
}

/// One backend to run a test on.
pub struct Backend {
    pub name: &'static str,
    pub svc: Service,
    pub clock: TestClock,
    _dir: Option<tempfile::TempDir>,
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros() % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether the AWS side must run (CI): then a missing emulator is a failure, not a skip.
pub fn aws_required() -> bool {
    std::env::var("NOTUS_REQUIRE_AWS").as_deref() == Ok("1")
}

pub fn embedded_backend(config: Config) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let embedded::Embedded {
        store,
        ledger,
        keys,
    } = embedded::open(dir.path()).unwrap();
    let clock = TestClock::new();
    Backend {
        name: "embedded",
        svc: Service::new(store, ledger, keys, config, clock.clock()),
        clock,
        _dir: Some(dir),
    }
}

/// Fresh bucket, table and KMS key on the emulator, so tests never share state.
pub async fn aws_backend(config: Config) -> Option<Backend> {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        assert!(
            !aws_required(),
            "NOTUS_REQUIRE_AWS=1 but AWS_ENDPOINT_URL is not set (start localstack/start)"
        );
        eprintln!("AWS_ENDPOINT_URL not set: skipping the emulator side of this test");
        return None;
    }
    let conf = aws::sdk_config().await;
    let bucket = unique("notus-test");
    let table = unique("notus-test");
    let alias = format!("alias/{}", unique("notus-test"));
    aws::ensure_resources(&conf, &bucket, &table, &alias)
        .await
        .expect("emulator resources");
    let clock = TestClock::new();
    Some(Backend {
        name: "aws-emulator",
        svc: Service::new(
            Arc::new(aws::S3Store::new(&conf, &bucket)),
            Arc::new(aws::DynamoLedger::new(&conf, &table)),
            Arc::new(aws::KmsKeys::new(&conf, &alias)),
            config,
            clock.clock(),
        ),
        clock,
        _dir: None,
    })
}

/// Every backend available, embedded first.
pub async fn backends(config: Config) -> Vec<Backend> {
    let mut out = vec![embedded_backend(config.clone())];
    out.extend(aws_backend(config).await);
    out
}

/// A request through the one router.
pub async fn request(
    svc: &Service,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> http::Response<Bytes> {
    let mut b = http::Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    notus_service::http::handle(svc, b.body(Bytes::from(body)).unwrap()).await
}

pub async fn get(svc: &Service, path: &str) -> http::Response<Bytes> {
    request(svc, "GET", path, None, Vec::new()).await
}

/// A multipart body as Notary's client builds it (field `files`, filename = role).
pub fn multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    notus_tuf::multipart::encode(
        parts,
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab",
    )
}

/// Error code of a Notary error response.
pub fn error_code(resp: &http::Response<Bytes>) -> String {
    let v: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    v["errors"][0]["code"].as_str().unwrap_or("").to_owned()
}

fn signer(seed: u8) -> EcdsaP256Signer {
    let mut s = [0u8; 32];
    s[0] = 0x17;
    s[31] = seed;
    EcdsaP256Signer::from_secret(&s, Dialect::Tuf).unwrap()
}

fn sign(signed: Value, keys: &[&EcdsaP256Signer]) -> Vec<u8> {
    let signers: Vec<&dyn Signer> = keys.iter().map(|k| *k as &dyn Signer).collect();
    UnsignedMetadata::new(Dialect::Tuf, signed)
        .unwrap()
        .sign_with(&signers)
        .unwrap()
}

/// A TUF publisher holding root, targets and snapshot keys; the timestamp key is the server's.
pub struct Publisher {
    pub gun: String,
    root_key: EcdsaP256Signer,
    targets_key: EcdsaP256Signer,
    snapshot_key: EcdsaP256Signer,
    timestamp_key: Value,
    timestamp_id: String,
    pub root_version: u64,
    pub targets_version: u64,
    pub snapshot_version: u64,
    pub root: Vec<u8>,
    pub targets: BTreeMap<String, Value>,
    /// Current targets bytes (as last built).
    pub targets_bytes: Vec<u8>,
}

/// The server's key JSON as a TUF key and its ID.
pub fn tuf_key_from_server(key_json: &[u8]) -> (Value, String) {
    use p256::pkcs8::DecodePublicKey as _;
    let v: Value = serde_json::from_slice(key_json).unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(v["keyval"]["public"].as_str().unwrap())
        .unwrap();
    let pk = PublicKey::EcdsaP256(p256::ecdsa::VerifyingKey::from_public_key_der(&der).unwrap());
    let key = key_from_public(Dialect::Tuf, &pk).unwrap();
    let id = key_id(Dialect::Tuf, &key);
    (serde_json::to_value(&key).unwrap(), id)
}

fn tuf_key(s: &EcdsaP256Signer) -> (Value, String) {
    (
        serde_json::to_value(s.metadata_key()).unwrap(),
        s.key_id().to_owned(),
    )
}

impl Publisher {
    /// A publisher for `gun` whose root lists the server's timestamp key (fetched from `svc`).
    pub async fn new(svc: &Service, gun: &str, seed: u8) -> Self {
        let resp = get(svc, &format!("/v2/{gun}/_trust/tuf/timestamp.key")).await;
        assert_eq!(resp.status(), 200, "GET timestamp.key");
        let (timestamp_key, timestamp_id) = tuf_key_from_server(resp.body());
        let mut p = Publisher {
            gun: gun.to_owned(),
            root_key: signer(seed.wrapping_mul(3).wrapping_add(1)),
            targets_key: signer(seed.wrapping_mul(3).wrapping_add(2)),
            snapshot_key: signer(seed.wrapping_mul(3).wrapping_add(3)),
            timestamp_key,
            timestamp_id,
            root_version: 1,
            targets_version: 0,
            snapshot_version: 0,
            root: Vec::new(),
            targets: BTreeMap::new(),
            targets_bytes: Vec::new(),
        };
        p.root = p.build_root(1);
        p
    }

    fn expires(now: DateTime<Utc>, days: i64) -> String {
        build::expires_string(Dialect::Tuf, now + Duration::days(days))
    }

    pub fn build_root(&self, version: u64) -> Vec<u8> {
        self.build_root_with(version, None)
    }

    /// Root v+1 with the snapshot role on the server's key (`key_json` from POST snapshot.key).
    pub fn root_with_server_snapshot(&mut self, key_json: &[u8]) -> Vec<u8> {
        self.root_version += 1;
        self.build_root_with(self.root_version, Some(tuf_key_from_server(key_json)))
    }

    fn build_root_with(&self, version: u64, server_snapshot: Option<(Value, String)>) -> Vec<u8> {
        let mut keys = serde_json::Map::new();
        let mut role = |s: &EcdsaP256Signer| {
            let (k, id) = tuf_key(s);
            keys.insert(id.clone(), k);
            json!({"keyids": [id], "threshold": 1})
        };
        let root_role = role(&self.root_key);
        let targets_role = role(&self.targets_key);
        let snapshot_role = match &server_snapshot {
            None => role(&self.snapshot_key),
            Some((k, id)) => {
                keys.insert(id.clone(), k.clone());
                json!({"keyids": [id], "threshold": 1})
            }
        };
        let roles = json!({
            "root": root_role,
            "targets": targets_role,
            "snapshot": snapshot_role,
            "timestamp": {"keyids": [self.timestamp_id], "threshold": 1},
        });
        keys.insert(self.timestamp_id.clone(), self.timestamp_key.clone());
        sign(
            json!({
                "_type": "root", "spec_version": "1.0.31", "version": version,
                "expires": Self::expires(Utc::now(), 3650), "consistent_snapshot": true,
                "keys": keys, "roles": roles,
            }),
            &[&self.root_key],
        )
    }

    /// Next targets file with `name` → `content` added.
    pub fn add_target(&mut self, name: &str, content: &[u8]) -> Vec<u8> {
        self.add_targets([(name.to_owned(), content)]);
        self.targets_bytes.clone()
    }

    /// Next targets file with every `(name, content)` added, signed once (for large collections).
    pub fn add_targets<'a>(&mut self, items: impl IntoIterator<Item = (String, &'a [u8])>) {
        for (name, content) in items {
            let (hashes, length) = notus_tuf::metadata::describe(Dialect::Tuf, content);
            self.targets
                .insert(name, json!({"length": length, "hashes": hashes}));
        }
        self.targets_version += 1;
        self.targets_bytes = sign(
            json!({
                "_type": "targets", "spec_version": "1.0.31", "version": self.targets_version,
                "expires": Self::expires(Utc::now(), 365), "targets": self.targets,
            }),
            &[&self.targets_key],
        );
    }

    /// Take `other`'s signed targets file as this publisher's (same seed, so the same targets
    /// key): a large collection signed once, published under many GUNs.
    pub fn adopt_targets(&mut self, other: &Publisher) {
        self.targets = other.targets.clone();
        self.targets_bytes = other.targets_bytes.clone();
        self.targets_version = other.targets_version;
    }

    /// The parts of a first publish (root, targets, snapshot) of the targets added so far.
    pub fn initial_of_added(&mut self) -> Vec<(String, Vec<u8>)> {
        let s = self.snapshot();
        vec![
            ("root".into(), self.root.clone()),
            ("targets".into(), self.targets_bytes.clone()),
            ("snapshot".into(), s),
        ]
    }

    /// Next snapshot over the current targets.
    pub fn snapshot(&mut self) -> Vec<u8> {
        self.snapshot_version += 1;
        let unsigned = build::build_snapshot(
            Dialect::Tuf,
            self.snapshot_version,
            Utc::now() + Duration::days(365),
            &[MetaInput {
                role: "targets",
                bytes: &self.targets_bytes,
                version: self.targets_version,
            }],
        )
        .unwrap();
        unsigned.sign_with(&[&self.snapshot_key]).unwrap()
    }

    /// The parts of the first publish (root, targets, snapshot) with one target.
    pub fn initial(&mut self) -> Vec<(String, Vec<u8>)> {
        let t = self.add_target("app-1.0", b"first release");
        let s = self.snapshot();
        vec![
            ("root".into(), self.root.clone()),
            ("targets".into(), t),
            ("snapshot".into(), s),
        ]
    }

    /// The parts of an incremental publish adding one target.
    pub fn next(&mut self, name: &str, content: &[u8]) -> Vec<(String, Vec<u8>)> {
        let t = self.add_target(name, content);
        let s = self.snapshot();
        vec![("targets".into(), t), ("snapshot".into(), s)]
    }

    /// Build and POST the first publish.
    pub async fn publish_initial(&mut self, svc: &Service) -> http::Response<Bytes> {
        let parts = self.initial();
        self.post(svc, &parts).await
    }

    /// Build and POST an incremental publish.
    pub async fn publish_next(
        &mut self,
        svc: &Service,
        name: &str,
        content: &[u8],
    ) -> http::Response<Bytes> {
        let parts = self.next(name, content);
        self.post(svc, &parts).await
    }

    /// POST the parts.
    pub async fn post(&self, svc: &Service, parts: &[(String, Vec<u8>)]) -> http::Response<Bytes> {
        post_parts(svc, &self.gun, parts).await
    }
}

/// POST upload parts to `gun`.
pub async fn post_parts(
    svc: &Service,
    gun: &str,
    parts: &[(String, Vec<u8>)],
) -> http::Response<Bytes> {
    let refs: Vec<(&str, &[u8])> = parts
        .iter()
        .map(|(r, b)| (r.as_str(), b.as_slice()))
        .collect();
    let (ct, body) = multipart(&refs);
    request(
        svc,
        "POST",
        &format!("/v2/{gun}/_trust/tuf/"),
        Some(&ct),
        body,
    )
    .await
}

/// What a TUF client sees when it starts from `timestamp.json` with `root` as its trust anchor:
/// the timestamp version and the targets, every file fetched through the router and verified.
pub async fn read_verified(
    svc: &Service,
    gun: &str,
    root: &[u8],
    now: DateTime<Utc>,
) -> Result<(u64, Vec<String>), String> {
    let base = format!("/v2/{gun}/_trust/tuf");
    let fetch = |name: String| {
        let path = format!("{base}/{name}");
        async move {
            let r = get(svc, &path).await;
            if r.status() != 200 {
                return Err(format!("GET {path}: {}", r.status()));
            }
            Ok(r.into_body().to_vec())
        }
    };
    let mut set = TrustedMetadataSet::new(root, now).map_err(|e| e.to_string())?;
    // Walk the root chain the way python-tuf does.
    loop {
        let next = set.root().value.version + 1;
        match fetch(format!("{next}.root.json")).await {
            Ok(b) => {
                set.update_root(&b)
                    .map_err(|e| format!("root v{next}: {e}"))?;
            }
            Err(_) => break,
        }
    }
    let ts = fetch("timestamp.json".into()).await?;
    let ts_version = set
        .update_timestamp(&ts)
        .map_err(|e| format!("timestamp: {e}"))?
        .value
        .version;
    let snap_version = set.timestamp().unwrap().value.meta["snapshot.json"]
        .version
        .unwrap();
    let snap = fetch(format!("{snap_version}.snapshot.json")).await?;
    set.update_snapshot(&snap, false)
        .map_err(|e| format!("snapshot: {e}"))?;
    let tv = set.snapshot().unwrap().value.meta["targets.json"]
        .version
        .unwrap();
    let t = fetch(format!("{tv}.targets.json")).await?;
    let targets = set
        .update_targets(&t)
        .map_err(|e| format!("targets: {e}"))?;
    Ok((ts_version, targets.value.targets.keys().cloned().collect()))
}
