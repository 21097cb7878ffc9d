//! Keys in AWS KMS (`aws-kms:<key id | ARN | alias/name>`), so a CI pipeline can sign targets or
//! a delegation without any key file: `ECC_NIST_P256` keys, `Sign` over a host-computed SHA-256
//! digest (the metadata never leaves the machine). Credentials, region and endpoint come from
//! the standard AWS configuration (`AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`…), through the
//! same adapter the service uses.
use std::rc::Rc;

use anyhow::{Result, anyhow};
use notus_service::aws::{KmsKeys, create_signing_key};
use notus_service::ports::{KeyService as _, ServerKey};
use notus_tuf::build::{RawSignature, Signer};
use notus_tuf::keys::{PublicKey, Scheme, key_from_public, key_id};
use notus_tuf::{Dialect, Error};

/// One KMS client for the process, with the runtime its calls run on.
pub struct Kms {
    rt: tokio::runtime::Runtime,
    keys: KmsKeys,
}

impl Kms {
    /// Load the AWS configuration (no network until the first call).
    pub fn connect() -> Result<Rc<Kms>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let conf = rt.block_on(notus_service::aws::sdk_config());
        Ok(Rc::new(Kms {
            keys: KmsKeys::new(&conf, ""),
            rt,
        }))
    }

    /// Create a new `ECC_NIST_P256` signing key; returns its ID.
    pub fn create(&self, description: &str) -> Result<String> {
        Ok(self
            .rt
            .block_on(create_signing_key(self.keys.client(), description, None))?)
    }

    /// The public key of `key`.
    pub fn public(&self, key: &str) -> Result<PublicKey> {
        Ok(self.described(key)?.1)
    }

    /// `key` as KMS describes it, and its public key.
    fn described(&self, key: &str) -> Result<(ServerKey, PublicKey)> {
        let k = self.rt.block_on(self.keys.public_key(key))?;
        let public = k.public_key().map_err(|e| anyhow!("KMS {e}"))?;
        Ok((k, public))
    }

    /// A signer for `key`, presented as a key of `dialect`.
    pub fn signer(self: &Rc<Self>, key: &str, dialect: Dialect) -> Result<KmsSigner> {
        let (described, public) = self.described(key)?;
        let keyid = key_id(dialect, &key_from_public(dialect, &public)?);
        Ok(KmsSigner {
            kms: Rc::clone(self),
            key: described,
            public,
            keyid,
        })
    }
}

/// Signs with one KMS key.
pub struct KmsSigner {
    kms: Rc<Kms>,
    /// What KMS said the key is when the signer was made: each signature must verify under it.
    key: ServerKey,
    public: PublicKey,
    keyid: String,
}

impl Signer for KmsSigner {
    fn key_id(&self) -> &str {
        &self.keyid
    }
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn sign(&self, payload: &[u8]) -> Result<RawSignature, Error> {
        let bytes = self
            .kms
            .rt
            .block_on(self.kms.keys.sign(&self.key, payload))
            .map_err(|e| {
                let key = &self.key.key_ref;
                Error::Other(format!("KMS key {key} did not sign: {e}"))
            })?;
        Ok(RawSignature {
            keyid: self.keyid.clone(),
            scheme: Scheme::EcdsaP256Fixed,
            bytes,
        })
    }
}
