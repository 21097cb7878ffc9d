//! In-process signers for keys held in memory (decrypted key files, tests). Both algorithms are
//! deterministic (RFC 6979 ECDSA, Ed25519), so signing needs no randomness; generating a key does,
//! and the caller supplies the secret bytes.

use p256::ecdsa::signature::Signer as _;

use crate::build::{RawSignature, Signer};
use crate::keys::{PublicKey, Scheme, key_from_public, key_id};
use crate::metadata::Key;
use crate::{Dialect, Error};

/// An ECDSA P-256 private key.
pub struct EcdsaP256Signer {
    sk: p256::ecdsa::SigningKey,
    public: PublicKey,
    key: Key,
    keyid: String,
}

impl EcdsaP256Signer {
    /// From a 32-byte secret scalar, presented as a key of `dialect`.
    pub fn from_secret(secret: &[u8], dialect: Dialect) -> Result<Self, Error> {
        let sk = p256::ecdsa::SigningKey::from_slice(secret)
            .map_err(|e| Error::Other(format!("invalid P-256 secret: {e}")))?;
        Self::from_signing_key(sk, dialect)
    }

    /// From a PKCS#8 PEM private key (unencrypted).
    pub fn from_pkcs8_pem(pem: &str, dialect: Dialect) -> Result<Self, Error> {
        use p256::pkcs8::DecodePrivateKey as _;
        let sk = p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| Error::Other(format!("invalid P-256 key: {e}")))?;
        Self::from_signing_key(sk, dialect)
    }

    fn from_signing_key(sk: p256::ecdsa::SigningKey, dialect: Dialect) -> Result<Self, Error> {
        let public = PublicKey::EcdsaP256(*sk.verifying_key());
        let key = key_from_public(dialect, &public)?;
        let keyid = key_id(dialect, &key);
        Ok(EcdsaP256Signer {
            sk,
            public,
            key,
            keyid,
        })
    }

    /// Present the key under another metadata form and ID (e.g. an `ecdsa-x509` certificate).
    pub fn with_metadata_key(mut self, key: Key, keyid: String) -> Self {
        self.key = key;
        self.keyid = keyid;
        self
    }

    /// The key as metadata lists it.
    pub fn metadata_key(&self) -> &Key {
        &self.key
    }
}

impl Signer for EcdsaP256Signer {
    fn key_id(&self) -> &str {
        &self.keyid
    }
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn sign(&self, payload: &[u8]) -> Result<RawSignature, Error> {
        let sig: p256::ecdsa::Signature = self.sk.sign(payload);
        Ok(RawSignature {
            keyid: self.keyid.clone(),
            scheme: Scheme::EcdsaP256Fixed,
            bytes: sig.to_bytes().to_vec(),
        })
    }
}

/// An Ed25519 private key.
pub struct Ed25519Signer {
    sk: ed25519_dalek::SigningKey,
    public: PublicKey,
    key: Key,
    keyid: String,
}

impl Ed25519Signer {
    /// From a 32-byte seed, presented as a key of `dialect`.
    pub fn from_seed(seed: &[u8; 32], dialect: Dialect) -> Result<Self, Error> {
        let sk = ed25519_dalek::SigningKey::from_bytes(seed);
        let public = PublicKey::Ed25519(sk.verifying_key());
        let key = key_from_public(dialect, &public)?;
        let keyid = key_id(dialect, &key);
        Ok(Ed25519Signer {
            sk,
            public,
            key,
            keyid,
        })
    }

    /// The key as metadata lists it.
    pub fn metadata_key(&self) -> &Key {
        &self.key
    }
}

impl Signer for Ed25519Signer {
    fn key_id(&self) -> &str {
        &self.keyid
    }
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn sign(&self, payload: &[u8]) -> Result<RawSignature, Error> {
        use ed25519_dalek::Signer as _;
        Ok(RawSignature {
            keyid: self.keyid.clone(),
            scheme: Scheme::Ed25519,
            bytes: self.sk.sign(payload).to_bytes().to_vec(),
        })
    }
}

impl std::fmt::Debug for EcdsaP256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcdsaP256Signer")
            .field("keyid", &self.keyid)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519Signer")
            .field("keyid", &self.keyid)
            .finish_non_exhaustive()
    }
}
