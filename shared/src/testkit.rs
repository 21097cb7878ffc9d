//! Test-only helpers: deterministic keys and signing, shared by the unit tests.

use serde_json::Value;

use crate::build::{Signer, UnsignedMetadata};
use crate::keys::{PublicKey, key_id};
use crate::metadata::{Key, KeyVal};
use crate::signers::EcdsaP256Signer;
use crate::{Dialect, Error};

/// A P-256 test key with its metadata form.
pub struct TestKey {
    signer: EcdsaP256Signer,
    pub key: Key,
    pub id: String,
    pub public: PublicKey,
}

impl TestKey {
    fn from_signer(signer: EcdsaP256Signer) -> Self {
        let key = signer.metadata_key().clone();
        let id = signer.key_id().to_owned();
        let public = signer.public_key().clone();
        TestKey {
            signer,
            key,
            id,
            public,
        }
    }

    /// A plain ECDSA key from a fixed seed.
    pub fn ecdsa(dialect: Dialect, seed: u8) -> Self {
        let mut bytes = [0u8; 32];
        bytes[31] = seed.max(1);
        bytes[0] = 0x42;
        Self::from_signer(EcdsaP256Signer::from_secret(&bytes, dialect).expect("valid scalar"))
    }

    /// An `ecdsa-x509` key from `testdata/certs/{name}.{crt,key}`.
    pub fn x509(name: &str) -> Self {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/certs");
        let pem = std::fs::read(format!("{dir}/{name}.crt")).expect("cert");
        let key_pem = std::fs::read_to_string(format!("{dir}/{name}.key")).expect("key");
        let mut kv_extra = std::collections::BTreeMap::new();
        kv_extra.insert("private".into(), Value::Null);
        let key = Key {
            keytype: "ecdsa-x509".into(),
            scheme: None,
            keyval: KeyVal {
                public: crate::b64_encode(&pem),
                extra: kv_extra,
            },
            extra: Default::default(),
        };
        let id = key_id(Dialect::Notary, &key);
        let signer = EcdsaP256Signer::from_pkcs8_pem(&key_pem, Dialect::Notary)
            .expect("pkcs8")
            .with_metadata_key(key, id);
        Self::from_signer(signer)
    }
}

impl Signer for TestKey {
    fn key_id(&self) -> &str {
        &self.id
    }
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn sign(&self, payload: &[u8]) -> Result<crate::RawSignature, Error> {
        self.signer.sign(payload)
    }
}

/// Sign a `signed` value with keys, producing file bytes in the dialect.
pub fn sign(dialect: Dialect, signed: Value, keys: &[&TestKey]) -> Vec<u8> {
    let signers: Vec<&dyn Signer> = keys.iter().map(|k| *k as &dyn Signer).collect();
    UnsignedMetadata::new(dialect, signed)
        .expect("canonical")
        .sign_with(&signers)
        .expect("signs")
}
