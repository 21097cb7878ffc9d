//! Test-only helpers: deterministic keys and signing, shared by the unit tests.

use p256::ecdsa::{SigningKey, signature::Signer as _};
use p256::pkcs8::DecodePrivateKey as _;
use serde_json::Value;

use crate::build::{RawSignature, Signer, UnsignedMetadata};
use crate::keys::{PublicKey, Scheme, key_from_public, key_id};
use crate::metadata::{Key, KeyVal};
use crate::{Dialect, Error};

/// A P-256 test key with its metadata form.
pub struct TestKey {
    sk: SigningKey,
    pub key: Key,
    pub id: String,
    pub public: PublicKey,
}

impl TestKey {
    /// A plain ECDSA key from a fixed seed.
    pub fn ecdsa(dialect: Dialect, seed: u8) -> Self {
        let mut bytes = [0u8; 32];
        bytes[31] = seed.max(1);
        bytes[0] = 0x42;
        let sk = SigningKey::from_slice(&bytes).expect("valid scalar");
        let public = PublicKey::EcdsaP256(*sk.verifying_key());
        let key = key_from_public(dialect, &public).expect("encodable");
        let id = key_id(dialect, &key);
        TestKey {
            sk,
            key,
            id,
            public,
        }
    }

    /// An `ecdsa-x509` key from `testdata/certs/{name}.{crt,key}`.
    pub fn x509(name: &str) -> Self {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/certs");
        let pem = std::fs::read(format!("{dir}/{name}.crt")).expect("cert");
        let key_pem = std::fs::read_to_string(format!("{dir}/{name}.key")).expect("key");
        let sk = SigningKey::from_pkcs8_pem(&key_pem).expect("pkcs8");
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
        let public = PublicKey::EcdsaP256(*sk.verifying_key());
        TestKey {
            sk,
            key,
            id,
            public,
        }
    }
}

impl Signer for TestKey {
    fn key_id(&self) -> &str {
        &self.id
    }
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn sign(&self, payload: &[u8]) -> Result<RawSignature, Error> {
        let sig: p256::ecdsa::Signature = self.sk.sign(payload);
        Ok(RawSignature {
            keyid: self.id.clone(),
            scheme: Scheme::EcdsaP256Fixed,
            bytes: sig.to_bytes().to_vec(),
        })
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
