//! The signer as P-256 key files: PKCS#8 PEM, created with mode 0600 in a 0700 directory, never
//! logged. `default.key` is the deployment's shared timestamp key; other keys are named by a
//! random ID.
//!
//! A key is read from its file once and kept as a ring key pair. Signing a publish's timestamp
//! took 8.9 % of a loaded server's samples with the portable `p256` arithmetic and takes 1.5 %
//! with ring (docs/performance.md, profile 6), so a cached key signs on the calling thread
//! instead of the blocking pool.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

use super::blocking;
use crate::ports::{KeyService, PortError, PortResult, ServerKey};

const DEFAULT_KEY: &str = "default";

/// Key files in one directory.
pub struct FileKeys {
    dir: PathBuf,
    cache: Arc<Mutex<HashMap<String, Arc<LoadedKey>>>>,
    rng: SystemRandom,
}

/// A key read from its file: the pair that signs and the public half the service publishes.
struct LoadedKey {
    pair: EcdsaKeyPair,
    public: ServerKey,
}

fn key_err(e: impl std::fmt::Display) -> PortError {
    PortError::Other(format!("key store: {e}"))
}

impl LoadedKey {
    fn new(key_ref: &str, sk: &SigningKey) -> PortResult<Self> {
        let pkcs8 = sk.to_pkcs8_der().map_err(key_err)?;
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_bytes(),
            &SystemRandom::new(),
        )
        .map_err(|e| key_err(format!("key {key_ref}: {e}")))?;
        let public_der = sk
            .verifying_key()
            .to_public_key_der()
            .map_err(key_err)?
            .as_bytes()
            .to_vec();
        Ok(LoadedKey {
            pair,
            public: ServerKey {
                key_ref: key_ref.to_owned(),
                public_der,
            },
        })
    }
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
            rng: SystemRandom::new(),
        })
    }

    /// A key already read from its file, without touching the disk.
    fn cached(&self, key_ref: &str) -> PortResult<Option<Arc<LoadedKey>>> {
        let cache = self.cache.lock().map_err(|_| key_err("lock poisoned"))?;
        Ok(cache.get(key_ref).cloned())
    }
}

/// Only names this store made: `default` or 32 hex characters.
fn valid_ref(key_ref: &str) -> bool {
    key_ref == DEFAULT_KEY
        || (key_ref.len() == 32 && key_ref.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn load_or_create(
    dir: &Path,
    cache: &Mutex<HashMap<String, Arc<LoadedKey>>>,
    key_ref: &str,
    create: bool,
) -> PortResult<Arc<LoadedKey>> {
    if !valid_ref(key_ref) {
        return Err(key_err(format!("unknown key reference {key_ref:?}")));
    }
    let mut cache = cache.lock().map_err(|_| key_err("lock poisoned"))?;
    if let Some(key) = cache.get(key_ref) {
        return Ok(key.clone());
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
    let key = Arc::new(LoadedKey::new(key_ref, &sk)?);
    cache.insert(key_ref.to_owned(), key.clone());
    Ok(key)
}

#[async_trait]
impl KeyService for FileKeys {
    async fn default_key(&self) -> PortResult<ServerKey> {
        let (dir, cache) = (self.dir.clone(), self.cache.clone());
        blocking(move || {
            Ok(load_or_create(&dir, &cache, DEFAULT_KEY, true)?
                .public
                .clone())
        })
        .await
    }

    async fn create_key(&self) -> PortResult<ServerKey> {
        let (dir, cache) = (self.dir.clone(), self.cache.clone());
        let id = hex::encode(rand_core::RngCore::next_u64(&mut rand_core::OsRng).to_be_bytes())
            + &hex::encode(rand_core::RngCore::next_u64(&mut rand_core::OsRng).to_be_bytes());
        blocking(move || Ok(load_or_create(&dir, &cache, &id, true)?.public.clone())).await
    }

    async fn sign(&self, expected: &ServerKey, payload: &[u8]) -> PortResult<Vec<u8>> {
        let key = match self.cached(&expected.key_ref)? {
            Some(key) => key,
            None => {
                let (dir, cache) = (self.dir.clone(), self.cache.clone());
                let key_ref = expected.key_ref.clone();
                blocking(move || load_or_create(&dir, &cache, &key_ref, false)).await?
            }
        };
        // The pair's public half is the one derived from its private key when the file was
        // read (ring checks the two agree), so an equal public half means a verifying signature.
        if key.public.public_der != expected.public_der {
            tracing::error!(
                key = expected.key_ref,
                "the key file holds another key than the one the ledger names"
            );
            return Err(key_err(format!(
                "key {} is not the key the ledger names",
                expected.key_ref
            )));
        }
        // Tens of microseconds for a timestamp: cheaper here than a hand-off to the pool.
        let sig = key.pair.sign(&self.rng, payload).map_err(key_err)?;
        Ok(sig.as_ref().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notus_tuf::keys::{PublicKey, Scheme, verify_signature};
    use p256::pkcs8::DecodePublicKey as _;

    fn public(key: &ServerKey) -> PublicKey {
        PublicKey::EcdsaP256(
            p256::ecdsa::VerifyingKey::from_public_key_der(&key.public_der).unwrap(),
        )
    }

    /// A key written by one process is read back by the next (empty cache, the blocking path)
    /// and still signs for the public half published before; the file is 0600.
    #[tokio::test]
    async fn a_key_read_back_from_its_file_signs_for_the_same_public_key() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let created = FileKeys::open(dir.path())
            .unwrap()
            .create_key()
            .await
            .unwrap();
        let mode = fs::metadata(dir.path().join(format!("{}.key", created.key_ref)))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let reopened = FileKeys::open(dir.path()).unwrap();
        assert!(reopened.cached(&created.key_ref).unwrap().is_none());
        let sig = reopened.sign(&created, b"timestamp").await.unwrap();
        assert!(verify_signature(
            &public(&created),
            Scheme::EcdsaP256Fixed,
            b"timestamp",
            &sig
        ));
        assert!(!verify_signature(
            &public(&created),
            Scheme::EcdsaP256Fixed,
            b"other",
            &sig
        ));
        assert!(reopened.cached(&created.key_ref).unwrap().is_some());
    }

    #[tokio::test]
    async fn a_key_that_was_never_created_does_not_sign() {
        let dir = tempfile::tempdir().unwrap();
        let keys = FileKeys::open(dir.path()).unwrap();
        let public_der = keys.default_key().await.unwrap().public_der;
        let named = |key_ref: &str| ServerKey {
            key_ref: key_ref.to_owned(),
            public_der: public_der.clone(),
        };
        let never = "0123456789abcdef0123456789abcdef";
        assert!(keys.sign(&named(never), b"timestamp").await.is_err());
        assert!(keys.sign(&named("../default"), b"timestamp").await.is_err());
        assert!(!dir.path().join(format!("{never}.key")).exists());
    }

    /// A key file that holds another key than the one recorded (restored from another
    /// deployment, say) does not sign: its signatures would not verify under the public half
    /// the collection's root lists.
    #[tokio::test]
    async fn a_key_file_holding_another_key_does_not_sign() {
        let dir = tempfile::tempdir().unwrap();
        let keys = FileKeys::open(dir.path()).unwrap();
        let (recorded, other) = (
            keys.create_key().await.unwrap(),
            keys.create_key().await.unwrap(),
        );
        assert!(keys.sign(&recorded, b"timestamp").await.is_ok());
        fs::copy(
            dir.path().join(format!("{}.key", other.key_ref)),
            dir.path().join(format!("{}.key", recorded.key_ref)),
        )
        .unwrap();
        let reopened = FileKeys::open(dir.path()).unwrap();
        let refused = reopened.sign(&recorded, b"timestamp").await.unwrap_err();
        assert!(
            refused.to_string().contains("not the key the ledger names"),
            "{refused}"
        );
    }
}
