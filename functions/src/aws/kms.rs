//! The signer on KMS: `ECC_NIST_P256` keys, `Sign` with `MessageType=DIGEST` (the digest is
//! computed here, so the payload never leaves the function), `GetPublicKey` once per key.
//! KMS answers DER signatures; the port hands out fixed-width r‖s.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec, Tag};

use super::classify;
use crate::ports::{KeyService, PortError, PortResult, ServerKey};

/// KMS keys: a configured default key (ID, ARN or `alias/…`) and keys it creates.
pub struct KmsKeys {
    client: Client,
    default_key_id: String,
    tag: Option<(String, String)>,
    public: Mutex<HashMap<String, ServerKey>>,
}

impl KmsKeys {
    /// Keys in the configured account; `default_key_id` signs every collection's timestamp
    /// unless a collection rotates to a dedicated key.
    pub fn new(conf: &aws_config::SdkConfig, default_key_id: &str) -> Self {
        KmsKeys {
            client: Client::new(conf),
            default_key_id: default_key_id.to_owned(),
            tag: None,
            public: Mutex::new(HashMap::new()),
        }
    }

    /// Tag every key this creates with `(key, value)` (a deployment's IAM policy allows only
    /// keys with its tag).
    pub fn tagged(mut self, tag: Option<(String, String)>) -> Self {
        self.tag = tag;
        self
    }

    /// The SDK client (for set-up scripts and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The public key (and ARN) of `key_id` (an ID, ARN or `alias/…`), cached per process.
    pub async fn public_key(&self, key_id: &str) -> PortResult<ServerKey> {
        self.describe(key_id).await
    }

    async fn describe(&self, key_id: &str) -> PortResult<ServerKey> {
        if let Some(k) = self.public.lock().ok().and_then(|m| m.get(key_id).cloned()) {
            return Ok(k);
        }
        let resp = self
            .client
            .get_public_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| classify("KMS GetPublicKey", e))?;
        if resp.key_spec() != Some(&KeySpec::EccNistP256) {
            return Err(PortError::Other(format!(
                "KMS key {key_id} is not ECC_NIST_P256"
            )));
        }
        let key = ServerKey {
            // The ARN, so a key named by alias keeps working if the alias moves.
            key_ref: resp.key_id().unwrap_or(key_id).to_owned(),
            public_der: resp
                .public_key()
                .map(|b| b.as_ref().to_vec())
                .ok_or_else(|| PortError::Other("KMS returned no public key".into()))?,
        };
        if let Ok(mut m) = self.public.lock() {
            m.insert(key_id.to_owned(), key.clone());
        }
        Ok(key)
    }
}

/// Create an `ECC_NIST_P256` `SIGN_VERIFY` key, tagged with `tag` if given; returns its ID.
pub async fn create_signing_key(
    client: &Client,
    description: &str,
    tag: Option<&(String, String)>,
) -> PortResult<String> {
    let mut req = client
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .description(description);
    if let Some((key, value)) = tag {
        req = req.tags(
            Tag::builder()
                .tag_key(key)
                .tag_value(value)
                .build()
                .map_err(|e| PortError::Other(format!("KMS tag: {e}")))?,
        );
    }
    let resp = req.send().await.map_err(|e| classify("KMS CreateKey", e))?;
    resp.key_metadata()
        .map(|m| m.key_id().to_owned())
        .ok_or_else(|| PortError::Other("KMS CreateKey returned no key".into()))
}

#[async_trait]
impl KeyService for KmsKeys {
    async fn default_key(&self) -> PortResult<ServerKey> {
        self.describe(&self.default_key_id.clone()).await
    }

    async fn create_key(&self) -> PortResult<ServerKey> {
        let id = create_signing_key(
            &self.client,
            "notus: dedicated timestamp/snapshot key of one collection",
            self.tag.as_ref(),
        )
        .await?;
        self.describe(&id).await
    }

    async fn sign(&self, key: &ServerKey, payload: &[u8]) -> PortResult<Vec<u8>> {
        use notus_tuf::keys::{Scheme, verify_signature};
        let public = key.public_key()?;
        // A digest, not the message: KMS takes at most 4 KiB of message, and a server-signed
        // snapshot can be larger.
        let digest = notus_tuf::metadata::sha256(payload);
        let resp = self
            .client
            .sign()
            .key_id(&key.key_ref)
            .message(Blob::new(digest.to_vec()))
            .message_type(MessageType::Digest)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| classify("KMS Sign", e))?;
        let der = resp
            .signature()
            .ok_or_else(|| PortError::Other("KMS Sign returned no signature".into()))?;
        let sig = p256::ecdsa::Signature::from_der(der.as_ref())
            .map_err(|e| PortError::Other(format!("KMS signature is not DER ECDSA: {e}")))?
            .to_bytes()
            .to_vec();
        // The key behind the ID (or alias) may have changed since its public half was recorded.
        if !verify_signature(&public, Scheme::EcdsaP256Fixed, payload, &sig) {
            tracing::error!(
                key = key.key_ref,
                "KMS returned a signature that does not verify under the recorded public key"
            );
            return Err(PortError::Other(format!(
                "KMS key {} signs for another public key than the one the ledger names",
                key.key_ref
            )));
        }
        Ok(sig)
    }
}
