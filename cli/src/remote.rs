//! The Notary HTTP API as a publisher uses it: the server's signing keys and uploads. Reads of
//! metadata go through the [`crate::updater::Updater`], which trusts nothing it did not verify.
use anyhow::{Context, Result, anyhow, bail};
use notus_tuf::keys::{PublicKey, parse_key};
use notus_tuf::metadata::Key;
use notus_tuf::{Dialect, multipart};
use sha2::{Digest, Sha256};

use crate::transport::{Answer, Http};

/// One Notus (or notary-server) endpoint.
pub struct Remote {
    base: String,
    http: Http,
}

/// Bodies of API answers are small; a larger one is an error.
const ANSWER_LIMIT: u64 = 64 * 1024;

/// Outcome of an upload the server refused.
#[derive(Debug, thiserror::Error)]
#[error("the server refused the upload: HTTP {status} {code}: {message}")]
pub struct Refused {
    /// HTTP status.
    pub status: u16,
    /// Notary error code (`VERSION`, `BAD_SIGNATURE`…).
    pub code: String,
    /// The server's message.
    pub message: String,
}

impl Remote {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:4443`).
    pub fn new(base: &str) -> Self {
        Remote {
            base: base.trim_end_matches('/').to_owned(),
            http: Http::new(std::time::Duration::from_secs(120)),
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Where the collection's metadata is served.
    pub fn metadata_url(&self, gun: &str) -> String {
        format!("{}/v2/{gun}/_trust/tuf/", self.base)
    }

    /// The server's public key for `role` (`timestamp` or `snapshot`), as `dialect` lists it.
    pub fn server_key(&self, gun: &str, role: &str, dialect: Dialect) -> Result<(Key, PublicKey)> {
        self.key_request(gun, role, dialect, false)
    }

    /// Ask the server for a new key for `role` (Notary's `POST …/{role}.key`, used by
    /// `key rotate … --server`); the old key stays valid until a root listing the new one is
    /// published.
    pub fn rotate_server_key(
        &self,
        gun: &str,
        role: &str,
        dialect: Dialect,
    ) -> Result<(Key, PublicKey)> {
        self.key_request(gun, role, dialect, true)
    }

    fn key_request(
        &self,
        gun: &str,
        role: &str,
        dialect: Dialect,
        rotate: bool,
    ) -> Result<(Key, PublicKey)> {
        let url = format!("{}{role}.key", self.metadata_url(gun));
        let method = if rotate { "POST" } else { "GET" };
        let answer = self
            .http
            .call(method, &url, None, &[], ANSWER_LIMIT)
            .with_context(|| format!("contacting {url}"))?;
        let body = answer.body;
        if answer.status != 200 {
            let (code, message) = notary_error(&body);
            bail!("{url}: HTTP {} {code}: {message}", answer.status);
        }
        // The server answers in Notary's form (`ecdsa`, base64 SPKI); present it as `dialect`.
        let notary_key: Key =
            serde_json::from_slice(&body).with_context(|| format!("{url} did not return a key"))?;
        let public = parse_key(Dialect::Notary, &notary_key)?.key;
        let key = notus_tuf::keys::key_from_public(dialect, &public)?;
        Ok((key, public))
    }

    /// Delete the collection on the server (`DELETE /v2/{gun}/_trust/tuf/`).
    pub fn delete(&self, gun: &str) -> Result<()> {
        let url = self.metadata_url(gun);
        let answer = self
            .http
            .call("DELETE", &url, None, &[], ANSWER_LIMIT)
            .with_context(|| format!("contacting {url}"))?;
        check(answer).map_err(|r| anyhow!("DELETE {url}: {r}"))
    }

    /// POST `files` (role, bytes) to the collection in one multipart upload.
    pub fn publish(&self, gun: &str, files: &[(&str, &[u8])]) -> Result<()> {
        let boundary = boundary_for(files);
        let (content_type, body) = multipart::encode(files, &boundary);
        let url = self.metadata_url(gun);
        let answer = self
            .http
            .call("POST", &url, Some(&content_type), &body, ANSWER_LIMIT)
            .with_context(|| format!("contacting {url}"))?;
        check(answer).map_err(|r| anyhow!(r))
    }
}

/// `Ok` for a 2xx answer, else the server's refusal in Notary's error format.
fn check(answer: Answer) -> Result<(), Refused> {
    let status = answer.status;
    if (200..300).contains(&status) {
        return Ok(());
    }
    let (code, message) = notary_error(&answer.body);
    Err(Refused {
        status,
        code,
        message,
    })
}

/// A boundary that none of the files contains (derived from their hashes).
fn boundary_for(files: &[(&str, &[u8])]) -> String {
    let mut h = Sha256::new();
    for (role, data) in files {
        h.update(role.as_bytes());
        h.update(data);
    }
    let mut seed = h.finalize().to_vec();
    loop {
        let b = format!("notus-{}", hex::encode(&seed[..24]));
        if !files
            .iter()
            .any(|(_, d)| d.windows(b.len()).any(|w| w == b.as_bytes()))
        {
            return b;
        }
        seed = Sha256::digest(&seed).to_vec();
    }
}

/// `{"errors":[{"code":…,"message":…}]}` → (code, message).
fn notary_error(body: &[u8]) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let e = &v["errors"][0];
    (
        e["code"].as_str().unwrap_or("UNKNOWN").to_owned(),
        e["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
    )
}
