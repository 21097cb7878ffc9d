//! The signer as P-256 key files: PKCS#8 PEM, created with mode 0600 in a 0700 directory, never
//! logged. `default.key` is the deployment's shared timestamp key; other keys are named by a
//! random ID.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};

use super::blocking;
use crate::ports::{KeyService, PortError, PortResult, ServerKey};

const DEFAULT_KEY: &str = "default";

/// Key files in one directory.
pub struct FileKeys {
    dir: PathBuf,
    cache: Arc<Mutex<HashMap<String, SigningKey>>>,
}

fn key_err(e: impl std::fmt::Display) -> PortError {
    PortError::Other(format!("key store: {e}"))
}

fn server_key(key_ref: &str, sk: &SigningKey) -> PortResult<ServerKey> {
    Ok(ServerKey {
        key_ref: key_ref.to_owned(),
        public_der: sk
            .verifying_key()
            .to_public_key_der()
            .map_err(key_err)?
            .as_bytes()
            .to_vec(),
    })
}

impl FileKeys {
    /// Open (creating, 0700) the key directory.
    pub fn open(dir: &Path) -> PortResult<Self> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| PortError::Other(format!("cannot create {}: {e}", dir.display())))?;
        Ok(FileKeys {
            dir: dir.to_owned(),
            cache: Arc::new(Mutex::new(HashMap::new())),
        })
    }
}

/// Only names this store made: `default` or 32 hex characters.
fn valid_ref(key_ref: &str) -> bool {
    key_ref == DEFAULT_KEY
        || (key_ref.len() == 32 && key_ref.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn load_or_create(
    dir: &Path,
    cache: &Mutex<HashMap<String, SigningKey>>,
    key_ref: &str,
    create: bool,
) -> PortResult<SigningKey> {
    if !valid_ref(key_ref) {
        return Err(key_err(format!("unknown key reference {key_ref:?}")));
    }
    let mut cache = cache.lock().map_err(|_| key_err("lock poisoned"))?;
    if let Some(sk) = cache.get(key_ref) {
        return Ok(sk.clone());
    }
    let path = dir.join(format!("{key_ref}.key"));
    let sk = match fs::read_to_string(&path) {
        Ok(pem) => SigningKey::from_pkcs8_pem(&pem)
            .map_err(|_| key_err(format!("{} is not a P-256 PKCS#8 key", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let sk = SigningKey::random(&mut rand_core::OsRng);
            let pem = sk.to_pkcs8_pem(LineEnding::LF).map_err(key_err)?;
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| key_err(format!("create {}: {e}", path.display())))?;
            f.write_all(pem.as_bytes()).map_err(key_err)?;
            f.sync_all().map_err(key_err)?;
            tracing::info!(key = key_ref, "created signing key file");
            sk
        }
        Err(e) => return Err(key_err(format!("read {}: {e}", path.display()))),
    };
    cache.insert(key_ref.to_owned(), sk.clone());
    Ok(sk)
}

#[async_trait]
impl KeyService for FileKeys {
    async fn default_key(&self) -> PortResult<ServerKey> {
        let (dir, cache) = (self.dir.clone(), self.cache.clone());
        blocking(move || {
            server_key(
                DEFAULT_KEY,
                &load_or_create(&dir, &cache, DEFAULT_KEY, true)?,
            )
        })
        .await
    }

    async fn create_key(&self) -> PortResult<ServerKey> {
        let (dir, cache) = (self.dir.clone(), self.cache.clone());
        let id = hex::encode(rand_core::RngCore::next_u64(&mut rand_core::OsRng).to_be_bytes())
            + &hex::encode(rand_core::RngCore::next_u64(&mut rand_core::OsRng).to_be_bytes());
        blocking(move || server_key(&id, &load_or_create(&dir, &cache, &id, true)?)).await
    }

    async fn sign_digest(&self, key_ref: &str, digest: &[u8; 32]) -> PortResult<Vec<u8>> {
        let (dir, cache) = (self.dir.clone(), self.cache.clone());
        let key_ref = key_ref.to_owned();
        let digest = *digest;
        blocking(move || {
            let sk = load_or_create(&dir, &cache, &key_ref, false)?;
            let sig: p256::ecdsa::Signature = sk.sign_prehash(&digest).map_err(key_err)?;
            Ok(sig.to_bytes().to_vec())
        })
        .await
    }
}
