//! Building and signing metadata: snapshot and timestamp builders (what the service generates),
//! and a two-step signing flow that works with any signer, synchronous or not.
//!
//! Signing is sans-IO like everything else: [`UnsignedMetadata`] exposes the canonical payload
//! and its sha256 digest; a signer of any kind (a key file in-process, a PKCS#11 token, an AWS
//! KMS `Sign` call with `MessageType=DIGEST`) produces a [`RawSignature`]; [`UnsignedMetadata::
//! finish`] encodes the signatures for the dialect (Notary: base64 raw `r‖s` with a `method`;
//! TUF: hex DER) and writes the file bytes. The [`Signer`] trait is the synchronous shortcut for
//! in-process keys; async adapters call [`UnsignedMetadata::digest`] themselves.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::canonical::{self, NotarySignature};
use crate::keys::{PublicKey, Scheme};
use std::collections::BTreeMap;

use crate::metadata::{Envelope, MetaFile, describe};
use crate::{DecodeError, Dialect, Error, RoleType, time};

/// The TUF spec version Notus writes.
pub const SPEC_VERSION: &str = "1.0.31";

/// A signature as a signer produced it, before dialect encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSignature {
    /// Key ID the signature is filed under.
    pub keyid: String,
    /// Algorithm.
    pub scheme: Scheme,
    /// Signature bytes. For ECDSA either DER or fixed-width `r‖s`; [`UnsignedMetadata::finish`]
    /// converts to what the dialect needs.
    pub bytes: Vec<u8>,
}

/// A synchronous signer (key file, in-process key). Its private key never leaves it.
pub trait Signer {
    /// The key ID this signer signs as, in the collection's dialect.
    fn key_id(&self) -> &str;
    /// The public key (to check the signer matches what metadata authorises).
    fn public_key(&self) -> &PublicKey;
    /// Sign `payload` (canonical JSON bytes).
    fn sign(&self, payload: &[u8]) -> Result<RawSignature, Error>;
}

/// Metadata ready to be signed.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsignedMetadata {
    dialect: Dialect,
    signed: Value,
    payload: Vec<u8>,
}

impl UnsignedMetadata {
    /// Wrap a `signed` value (must be canonicalisable).
    pub fn new(dialect: Dialect, signed: Value) -> Result<Self, DecodeError> {
        let payload = canonical::to_vec(&signed)?;
        Ok(UnsignedMetadata {
            dialect,
            signed,
            payload,
        })
    }

    /// The `signed` value.
    pub fn signed(&self) -> &Value {
        &self.signed
    }

    /// The canonical bytes to sign.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Sign with synchronous signers and finish.
    pub fn sign_with(self, signers: &[&dyn Signer]) -> Result<Vec<u8>, Error> {
        let sigs = signers
            .iter()
            .map(|s| s.sign(&self.payload))
            .collect::<Result<Vec<_>, _>>()?;
        self.finish(&sigs)
    }

    /// Encode the signatures for the dialect and produce the file bytes.
    pub fn finish(self, signatures: &[RawSignature]) -> Result<Vec<u8>, Error> {
        encode_file(self.dialect, &self.payload, &self.signed, signatures)
    }
}

/// Encode a signature's bytes as the dialect writes them, with Notary's `method` name.
pub fn encode_signature(
    dialect: Dialect,
    sig: &RawSignature,
) -> Result<(String, &'static str), Error> {
    let bad = |e: String| Error::Other(format!("signature from {} is malformed: {e}", sig.keyid));
    let (bytes, method) = match (sig.scheme, dialect) {
        (Scheme::EcdsaP256Fixed | Scheme::EcdsaP256Der, _) => {
            let s = p256::ecdsa::Signature::from_slice(&sig.bytes)
                .or_else(|_| p256::ecdsa::Signature::from_der(&sig.bytes))
                .map_err(|e| bad(e.to_string()))?;
            // Low-S form: accepted by every verifier (Go, OpenSSL, RustCrypto).
            let s = s.normalize_s().unwrap_or(s);
            match dialect {
                Dialect::Notary => (s.to_bytes().to_vec(), "ecdsa"),
                Dialect::Tuf => (s.to_der().as_bytes().to_vec(), "ecdsa"),
            }
        }
        (Scheme::Ed25519, _) => (sig.bytes.clone(), "eddsa"),
        (Scheme::RsaPssSha256, _) => (sig.bytes.clone(), "rsapss"),
        (Scheme::RsaPkcs1v15Sha256, _) => (sig.bytes.clone(), "rsapkcs1v15"),
    };
    Ok((dialect.encode_bytes(&bytes), method))
}

fn encode_file(
    dialect: Dialect,
    payload: &[u8],
    signed: &Value,
    signatures: &[RawSignature],
) -> Result<Vec<u8>, Error> {
    let encoded = signatures
        .iter()
        .map(|s| {
            let (sig, method) = encode_signature(dialect, s)?;
            Ok(NotarySignature {
                keyid: s.keyid.clone(),
                method: method.to_owned(),
                sig,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    write_file(dialect, payload, &serde_json::to_vec(signed)?, &encoded)
}

/// The file bytes for `signed` (its canonical `payload`, and `signed_json`, the same value as
/// JSON text) with already encoded signatures (the method is dropped in TUF).
fn write_file(
    dialect: Dialect,
    payload: &[u8],
    signed_json: &[u8],
    sigs: &[NotarySignature],
) -> Result<Vec<u8>, Error> {
    match dialect {
        Dialect::Notary => Ok(canonical::notary_envelope(payload, sigs)),
        Dialect::Tuf => {
            let sigs: Vec<Value> = sigs
                .iter()
                .map(|s| json!({"keyid": s.keyid, "sig": s.sig}))
                .collect();
            // Plain JSON, not canonical JSON: canonical JSON writes control characters raw (a
            // PEM key's newlines), which is not valid JSON. Readers re-canonicalise `signed`.
            let mut out = Vec::with_capacity(signed_json.len() + 32 + 160 * sigs.len());
            out.extend_from_slice(b"{\"signatures\":");
            serde_json::to_writer(&mut out, &sigs)?;
            out.extend_from_slice(b",\"signed\":");
            out.extend_from_slice(signed_json);
            out.push(b'}');
            Ok(out)
        }
    }
}

/// Add `new` signatures to a (partly) signed file, keeping the signatures it has; a new
/// signature under a key ID already present replaces the old one. `signed` is carried over
/// untouched, so the payload every signature covers is unchanged. This is how offline and
/// threshold signing accumulate signatures from several machines.
pub fn add_signatures(
    dialect: Dialect,
    file: &[u8],
    new: &[RawSignature],
) -> Result<Vec<u8>, Error> {
    let env = Envelope::from_bytes(file)?;
    let mut sigs: Vec<NotarySignature> = env
        .signatures
        .iter()
        .filter(|s| !new.iter().any(|n| n.keyid == s.keyid))
        .map(|s| NotarySignature {
            keyid: s.keyid.clone(),
            method: s.method.clone().unwrap_or_else(|| "ecdsa".into()),
            sig: s.sig.clone(),
        })
        .collect();
    for n in new {
        let (sig, method) = encode_signature(dialect, n)?;
        sigs.push(NotarySignature {
            keyid: n.keyid.clone(),
            method: method.to_owned(),
            sig,
        });
    }
    write_file(dialect, &env.payload, env.signed_json(), &sigs)
}

/// The `expires` string of a dialect for a time.
pub fn expires_string(dialect: Dialect, t: DateTime<Utc>) -> String {
    match dialect {
        Dialect::Notary => time::format_go(t),
        Dialect::Tuf => time::format_tuf(t),
    }
}

/// One file a snapshot or timestamp records.
#[derive(Debug, Clone, Copy)]
pub struct MetaInput<'a> {
    /// Role name (`targets`, `targets/releases`, `role1`, `root`).
    pub role: &'a str,
    /// The file's exact bytes.
    pub bytes: &'a [u8],
    /// The file's version.
    pub version: u64,
}

/// The record a snapshot or timestamp keeps of one file.
pub fn meta_file(dialect: Dialect, input: &MetaInput<'_>) -> MetaFile {
    let (hashes, length) = describe(dialect, input.bytes);
    MetaFile {
        // Notary records hashes and length only (reference API §10.1). TUF records the version;
        // the hashes and length are optional there and make mix-and-match impossible even
        // without consistent snapshots, so Notus writes them.
        version: (dialect == Dialect::Tuf).then_some(input.version),
        length: Some(length),
        hashes: Some(hashes),
        extra: Default::default(),
    }
}

/// `meta` for `files`, keyed as the dialect keys them.
pub fn meta_records(dialect: Dialect, files: &[MetaInput<'_>]) -> BTreeMap<String, MetaFile> {
    files
        .iter()
        .map(|f| (dialect.meta_key(f.role), meta_file(dialect, f)))
        .collect()
}

fn with_meta(
    dialect: Dialect,
    role: RoleType,
    version: u64,
    expires: DateTime<Utc>,
    meta: &BTreeMap<String, MetaFile>,
) -> Result<UnsignedMetadata, DecodeError> {
    let mut m = header(dialect, role, version, expires);
    m.insert("meta".into(), serde_json::to_value(meta)?);
    UnsignedMetadata::new(dialect, Value::Object(m))
}

fn header(
    dialect: Dialect,
    role: RoleType,
    version: u64,
    expires: DateTime<Utc>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "_type".into(),
        Value::String(dialect.type_name(role).into()),
    );
    if dialect == Dialect::Tuf {
        m.insert("spec_version".into(), Value::String(SPEC_VERSION.into()));
    }
    m.insert(
        "expires".into(),
        Value::String(expires_string(dialect, expires)),
    );
    m.insert("version".into(), Value::from(version));
    m
}

/// A snapshot over `files`. In the Notary dialect `files` includes `root` (Notary's snapshot
/// lists root); in TUF it must not (TUF 1.0 snapshots list targets roles only).
pub fn build_snapshot(
    dialect: Dialect,
    version: u64,
    expires: DateTime<Utc>,
    files: &[MetaInput<'_>],
) -> Result<UnsignedMetadata, DecodeError> {
    build_snapshot_with_meta(dialect, version, expires, &meta_records(dialect, files))
}

/// A timestamp over the snapshot file `snapshot` (its exact bytes and version).
pub fn build_timestamp(
    dialect: Dialect,
    version: u64,
    expires: DateTime<Utc>,
    snapshot: &[u8],
    snapshot_version: u64,
) -> Result<UnsignedMetadata, DecodeError> {
    let input = MetaInput {
        role: "snapshot",
        bytes: snapshot,
        version: snapshot_version,
    };
    with_meta(
        dialect,
        RoleType::Timestamp,
        version,
        expires,
        &meta_records(dialect, &[input]),
    )
}

/// A snapshot with the given `meta` records (the service's generated snapshot keeps the previous
/// records of roles it did not change).
pub fn build_snapshot_with_meta(
    dialect: Dialect,
    version: u64,
    expires: DateTime<Utc>,
    meta: &BTreeMap<String, MetaFile>,
) -> Result<UnsignedMetadata, DecodeError> {
    with_meta(dialect, RoleType::Snapshot, version, expires, meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::key_from_public;
    use crate::signers::EcdsaP256Signer;
    use crate::verify::{Authorisation, verify_threshold};

    #[test]
    fn signatures_accumulate_across_signing_sessions() {
        for dialect in [Dialect::Tuf, Dialect::Notary] {
            let a = EcdsaP256Signer::from_secret(&[3u8; 32], dialect).unwrap();
            let b = EcdsaP256Signer::from_secret(&[4u8; 32], dialect).unwrap();
            let keys: BTreeMap<String, crate::metadata::Key> = [&a, &b]
                .iter()
                .map(|s| {
                    (
                        s.key_id().to_owned(),
                        key_from_public(dialect, s.public_key()).unwrap(),
                    )
                })
                .collect();
            let ids: Vec<String> = keys.keys().cloned().collect();
            let auth = Authorisation {
                keys: &keys,
                keyids: &ids,
                threshold: 2,
            };
            let unsigned =
                UnsignedMetadata::new(dialect, json!({"_type": "x", "version": 1})).unwrap();
            let payload = unsigned.payload().to_vec();
            let one = unsigned.sign_with(&[&a]).unwrap();
            let env = Envelope::from_bytes(&one).unwrap();
            assert!(
                !verify_threshold(dialect, auth, &env.payload, &env.signatures, None).verified()
            );
            let two = add_signatures(dialect, &one, &[b.sign(&payload).unwrap()]).unwrap();
            let env = Envelope::from_bytes(&two).unwrap();
            assert_eq!(env.payload, payload, "the signed part is untouched");
            assert!(
                verify_threshold(dialect, auth, &env.payload, &env.signatures, None).verified()
            );
            // Signing again with a key that already signed replaces, never duplicates.
            let again = add_signatures(dialect, &two, &[a.sign(&payload).unwrap()]).unwrap();
            assert_eq!(Envelope::from_bytes(&again).unwrap().signatures.len(), 2);
        }
    }
}
