//! Public keys of both dialects, key IDs, and signature verification.
//!
//! | dialect | keytype | `keyval.public` | signature |
//! |---|---|---|---|
//! | notary | `ecdsa` / `ecdsa-x509` | base64 DER SPKI / base64 PEM certificate | method `ecdsa`: base64 raw `r‖s` over sha256 |
//! | notary | `ed25519` | base64 of 32 bytes | method `eddsa` |
//! | notary | `rsa` / `rsa-x509` | base64 DER SPKI / certificate | `rsapss`, `rsapkcs1v15`, `pycrypto-pkcs#1 pss` |
//! | tuf | `ecdsa`, `ecdsa-sha2-nistp256` (scheme `ecdsa-sha2-nistp256`) | PEM SPKI (or go-tuf's hex SEC1 point) | hex DER |
//! | tuf | `ed25519` (scheme `ed25519`) | hex of 32 bytes | hex |
//! | tuf | `rsa` (scheme `rsassa-pss-sha256`, `rsa-pkcs1v15-sha256`) | PEM SPKI | hex |
//!
//! Key IDs: Notary computes `sha256(canonical({"keytype","keyval":{"private":null,"public"}}))`
//! and the engine enforces it; Notary's *canonical* ID of an x509 key is the ID of its public key
//! re-encoded as plain `ecdsa` SPKI (what the CLI shows and names key files after). TUF key IDs
//! are what the metadata says (python-tuf does not recompute them); [`tuf_key_id`] computes
//! securesystemslib's ID for keys Notus creates.

use chrono::{DateTime, Utc};
use der::{Decode, Encode};
use p256::ecdsa::signature::Verifier as _;
use p256::pkcs8::DecodePublicKey as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::json;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use crate::metadata::Key;
use crate::{DecodeError, Dialect, canonical};

/// A usable public key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKey {
    /// ECDSA over NIST P-256.
    EcdsaP256(p256::ecdsa::VerifyingKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// RSA.
    Rsa(rsa::RsaPublicKey),
}

impl PublicKey {
    /// DER SubjectPublicKeyInfo of the key.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, DecodeError> {
        use p256::pkcs8::EncodePublicKey as _;
        let enc = |e: String| DecodeError::Encoding {
            field: "public key".into(),
            reason: e,
        };
        Ok(match self {
            PublicKey::EcdsaP256(k) => k
                .to_public_key_der()
                .map_err(|e| enc(e.to_string()))?
                .into_vec(),
            PublicKey::Ed25519(k) => k
                .to_public_key_der()
                .map_err(|e| enc(e.to_string()))?
                .into_vec(),
            PublicKey::Rsa(k) => k
                .to_public_key_der()
                .map_err(|e| enc(e.to_string()))?
                .into_vec(),
        })
    }
}

/// What a Notary root check needs to know about an x509 key's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Subject common name.
    pub common_name: Option<String>,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// BasicConstraints CA flag.
    pub is_ca: bool,
    /// Signed with a SHA-1 based algorithm.
    pub sha1_signature: bool,
}

/// A key parsed from metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedKey {
    /// The public key.
    pub key: PublicKey,
    /// Present for `*-x509` keys.
    pub certificate: Option<CertificateInfo>,
}

/// The verification algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// ECDSA P-256 over SHA-256, signature as raw fixed-width `r‖s` (Notary `ecdsa`).
    EcdsaP256Fixed,
    /// ECDSA P-256 over SHA-256, signature DER (TUF `ecdsa-sha2-nistp256`).
    EcdsaP256Der,
    /// Ed25519.
    Ed25519,
    /// RSASSA-PSS with SHA-256 and MGF1-SHA-256 (salt length: digest length or maximal).
    RsaPssSha256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RsaPkcs1v15Sha256,
}

fn enc_err(field: &str, reason: impl ToString) -> DecodeError {
    DecodeError::Encoding {
        field: field.to_owned(),
        reason: reason.to_string(),
    }
}

/// Parse a key of the given dialect.
pub fn parse_key(dialect: Dialect, key: &Key) -> Result<ParsedKey, DecodeError> {
    match dialect {
        Dialect::Notary => parse_notary_key(&key.keytype, &key.keyval.public),
        Dialect::Tuf => parse_tuf_key(key),
    }
}

fn parse_notary_key(keytype: &str, public: &str) -> Result<ParsedKey, DecodeError> {
    let raw = crate::b64_decode(public, "keyval.public")?;
    match keytype {
        "ecdsa" => Ok(ParsedKey {
            key: PublicKey::EcdsaP256(ecdsa_from_spki(&raw)?),
            certificate: None,
        }),
        "ed25519" => Ok(ParsedKey {
            key: PublicKey::Ed25519(ed25519_from_raw(&raw)?),
            certificate: None,
        }),
        "rsa" => Ok(ParsedKey {
            key: PublicKey::Rsa(rsa_from_spki(&raw)?),
            certificate: None,
        }),
        "ecdsa-x509" | "rsa-x509" => {
            let (spki, info) = parse_certificate_pem(&raw)?;
            let key = if keytype == "ecdsa-x509" {
                PublicKey::EcdsaP256(ecdsa_from_spki(&spki)?)
            } else {
                PublicKey::Rsa(rsa_from_spki(&spki)?)
            };
            Ok(ParsedKey {
                key,
                certificate: Some(info),
            })
        }
        other => Err(enc_err(
            "keytype",
            format!("unsupported Notary key type {other:?}"),
        )),
    }
}

fn parse_tuf_key(key: &Key) -> Result<ParsedKey, DecodeError> {
    let public = key.keyval.public.as_str();
    let k = match key.keytype.as_str() {
        "ecdsa" | "ecdsa-sha2-nistp256" => {
            if public.trim_start().starts_with("-----BEGIN") {
                let der = pem_body(public, "PUBLIC KEY")?;
                PublicKey::EcdsaP256(ecdsa_from_spki(&der)?)
            } else {
                // go-tuf's legacy form: hex of the uncompressed SEC1 point (tough's `EcdsaFlex`).
                let raw = crate::hex_decode(public, "keyval.public")?;
                PublicKey::EcdsaP256(
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(&raw)
                        .map_err(|e| enc_err("keyval.public", e))?,
                )
            }
        }
        "ed25519" => PublicKey::Ed25519(ed25519_from_raw(&crate::hex_decode(
            public,
            "keyval.public",
        )?)?),
        "rsa" => PublicKey::Rsa(rsa_from_spki(&pem_body(public, "PUBLIC KEY")?)?),
        other => {
            return Err(enc_err(
                "keytype",
                format!("unsupported key type {other:?}"),
            ));
        }
    };
    Ok(ParsedKey {
        key: k,
        certificate: None,
    })
}

/// Which scheme verifies `sig_method` (Notary's per-signature `method`) or `key.scheme` (TUF)
/// for this key, or `None` if the combination is not allowed (e.g. an `eddsa` signature claimed
/// for an ECDSA key).
pub fn scheme_for(
    dialect: Dialect,
    key: &Key,
    parsed: &PublicKey,
    sig_method: Option<&str>,
) -> Option<Scheme> {
    let scheme = match dialect {
        // Exact names only: Notary lower-cases before comparing, but no signer writes another
        // case, and accepting one would let a byte of a signed file change unnoticed.
        Dialect::Notary => match sig_method? {
            "ecdsa" => Scheme::EcdsaP256Fixed,
            "eddsa" => Scheme::Ed25519,
            "rsapss" | "pycrypto-pkcs#1 pss" => Scheme::RsaPssSha256,
            "rsapkcs1v15" => Scheme::RsaPkcs1v15Sha256,
            _ => return None,
        },
        Dialect::Tuf => match key.scheme.as_deref()? {
            "ecdsa-sha2-nistp256" => Scheme::EcdsaP256Der,
            "ed25519" => Scheme::Ed25519,
            "rsassa-pss-sha256" => Scheme::RsaPssSha256,
            "rsa-pkcs1v15-sha256" => Scheme::RsaPkcs1v15Sha256,
            _ => return None,
        },
    };
    let fits = matches!(
        (scheme, parsed),
        (
            Scheme::EcdsaP256Fixed | Scheme::EcdsaP256Der,
            PublicKey::EcdsaP256(_)
        ) | (Scheme::Ed25519, PublicKey::Ed25519(_))
            | (
                Scheme::RsaPssSha256 | Scheme::RsaPkcs1v15Sha256,
                PublicKey::Rsa(_)
            )
    );
    fits.then_some(scheme)
}

/// Verify one signature. Returns `false` for any malformed signature rather than an error: a bad
/// signature simply does not count towards a threshold.
pub fn verify_signature(key: &PublicKey, scheme: Scheme, message: &[u8], sig: &[u8]) -> bool {
    match (key, scheme) {
        (PublicKey::EcdsaP256(k), Scheme::EcdsaP256Fixed) => {
            // Notary requires exactly 2 × 32 bytes for P-256.
            sig.len() == 64
                && verify_p256(&ring::signature::ECDSA_P256_SHA256_FIXED, k, message, sig)
        }
        (PublicKey::EcdsaP256(k), Scheme::EcdsaP256Der) => {
            verify_p256(&ring::signature::ECDSA_P256_SHA256_ASN1, k, message, sig)
        }
        (PublicKey::Ed25519(k), Scheme::Ed25519) => ed25519_dalek::Signature::from_slice(sig)
            .map(|s| k.verify(message, &s).is_ok())
            .unwrap_or(false),
        (PublicKey::Rsa(k), Scheme::RsaPssSha256) => {
            let hashed = Sha256::digest(message);
            let em_len = k.size();
            // securesystemslib and go-tuf sign with salt = digest length; older signers used the
            // maximal salt. Both are valid RSASSA-PSS; accept either.
            [32, em_len.saturating_sub(32 + 2)].into_iter().any(|salt| {
                k.verify(rsa::Pss::new_with_salt::<Sha256>(salt), &hashed, sig)
                    .is_ok()
            })
        }
        (PublicKey::Rsa(k), Scheme::RsaPkcs1v15Sha256) => {
            let hashed = Sha256::digest(message);
            k.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &hashed, sig)
                .is_ok()
        }
        _ => false,
    }
}

/// ECDSA P-256 with SHA-256 through ring (`alg` says how the signature is encoded).
fn verify_p256(
    alg: &'static ring::signature::EcdsaVerificationAlgorithm,
    key: &p256::ecdsa::VerifyingKey,
    message: &[u8],
    sig: &[u8],
) -> bool {
    let point = key.to_encoded_point(false);
    ring::signature::UnparsedPublicKey::new(alg, point.as_bytes())
        .verify(message, sig)
        .is_ok()
}

fn ecdsa_from_spki(der: &[u8]) -> Result<p256::ecdsa::VerifyingKey, DecodeError> {
    p256::ecdsa::VerifyingKey::from_public_key_der(der).map_err(|e| enc_err("public key", e))
}

fn ed25519_from_raw(raw: &[u8]) -> Result<ed25519_dalek::VerifyingKey, DecodeError> {
    let arr: [u8; 32] = raw
        .try_into()
        .map_err(|_| enc_err("public key", "ed25519 key is not 32 bytes"))?;
    ed25519_dalek::VerifyingKey::from_bytes(&arr).map_err(|e| enc_err("public key", e))
}

fn rsa_from_spki(der: &[u8]) -> Result<rsa::RsaPublicKey, DecodeError> {
    use rsa::pkcs8::DecodePublicKey as _;
    rsa::RsaPublicKey::from_public_key_der(der).map_err(|e| enc_err("public key", e))
}

/// The DER body of a PEM block with the given label.
pub fn pem_body(pem: &str, label: &str) -> Result<Vec<u8>, DecodeError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem
        .find(&begin)
        .ok_or_else(|| enc_err("pem", format!("no {begin}")))?
        + begin.len();
    let stop = pem[start..]
        .find(&end)
        .ok_or_else(|| enc_err("pem", format!("no {end}")))?
        + start;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    crate::b64_decode(&body, "pem")
}

/// PEM-encode DER with a label (64-column lines, trailing newline).
pub fn pem_encode(der: &[u8], label: &str) -> String {
    let b64 = crate::b64_encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

const OID_CN: &str = "2.5.4.3";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const SHA1_SIGNATURE_OIDS: [&str; 3] = [
    "1.2.840.113549.1.1.5",
    "1.2.840.10045.4.1",
    "1.2.840.10040.4.3",
];

/// Parse a PEM certificate (as Notary embeds it, base64-decoded) into its SPKI DER and the facts
/// a Notary root check needs. The certificate's own signature is not checked: Notary uses
/// certificates as key containers with a name and a validity period, not as a PKI.
pub fn parse_certificate_pem(pem: &[u8]) -> Result<(Vec<u8>, CertificateInfo), DecodeError> {
    let text = std::str::from_utf8(pem).map_err(|e| enc_err("certificate", e))?;
    let der = pem_body(text, "CERTIFICATE")?;
    let cert = Certificate::from_der(&der).map_err(|e| enc_err("certificate", e))?;
    let tbs = &cert.tbs_certificate;
    let spki = tbs
        .subject_public_key_info
        .to_der()
        .map_err(|e| enc_err("certificate", e))?;
    let mut common_name = None;
    for rdn in tbs.subject.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid.to_string() == OID_CN {
                common_name = der_string(&atv.value);
            }
        }
    }
    let mut is_ca = false;
    for ext in tbs.extensions.iter().flatten() {
        if ext.extn_id.to_string() == OID_BASIC_CONSTRAINTS {
            let bc = x509_cert::ext::pkix::BasicConstraints::from_der(ext.extn_value.as_bytes())
                .map_err(|e| enc_err("certificate", e))?;
            is_ca = bc.ca;
        }
    }
    let to_time = |t: &x509_cert::time::Time| {
        let d = t.to_unix_duration();
        DateTime::<Utc>::from_timestamp(d.as_secs() as i64, 0).unwrap_or_default()
    };
    let alg = cert.signature_algorithm.oid.to_string();
    let info = CertificateInfo {
        common_name,
        not_before: to_time(&tbs.validity.not_before),
        not_after: to_time(&tbs.validity.not_after),
        is_ca,
        sha1_signature: SHA1_SIGNATURE_OIDS.contains(&alg.as_str()),
    };
    Ok((spki, info))
}

fn der_string(any: &der::Any) -> Option<String> {
    if let Ok(s) = any.decode_as::<der::asn1::Utf8StringRef<'_>>() {
        return Some(s.as_str().to_owned());
    }
    if let Ok(s) = any.decode_as::<der::asn1::PrintableStringRef<'_>>() {
        return Some(s.as_str().to_owned());
    }
    if let Ok(s) = any.decode_as::<der::asn1::Ia5StringRef<'_>>() {
        return Some(s.as_str().to_owned());
    }
    None
}

/// Notary's key ID: hex sha256 of `{"keytype":T,"keyval":{"private":null,"public":P}}`.
pub fn notary_key_id(keytype: &str, public: &str) -> String {
    let v = json!({"keytype": keytype, "keyval": {"private": null, "public": public}});
    hex::encode(Sha256::digest(canonical::to_vec(&v).unwrap_or_default()))
}

/// Notary's *canonical* key ID (key file names, `notary key list`): for x509 keys, the ID of the
/// certificate's public key as a plain `ecdsa`/`rsa` SPKI key; for others, the key ID itself.
pub fn notary_canonical_key_id(keytype: &str, public: &str) -> Result<String, DecodeError> {
    let plain = match keytype {
        "ecdsa-x509" => "ecdsa",
        "rsa-x509" => "rsa",
        _ => return Ok(notary_key_id(keytype, public)),
    };
    let (spki, _) = parse_certificate_pem(&crate::b64_decode(public, "keyval.public")?)?;
    Ok(notary_key_id(plain, &crate::b64_encode(&spki)))
}

/// securesystemslib's key ID: hex sha256 of the canonical `{"keytype","keyval":{"public"},"scheme"}`.
pub fn tuf_key_id(key: &Key) -> String {
    let v = json!({"keytype": key.keytype, "scheme": key.scheme, "keyval": {"public": key.keyval.public}});
    hex::encode(Sha256::digest(canonical::to_vec(&v).unwrap_or_default()))
}

/// The key ID a key must have in this dialect, or `None` where the dialect does not bind IDs to
/// key content (TUF: python-tuf and go-tuf accept any ID; the ID is a name).
pub fn required_key_id(dialect: Dialect, key: &Key) -> Option<String> {
    (dialect == Dialect::Notary).then(|| key_id(dialect, key))
}

/// Build the metadata form of a public key in a dialect (what a publisher writes into root).
pub fn key_from_public(dialect: Dialect, key: &PublicKey) -> Result<Key, DecodeError> {
    use crate::metadata::KeyVal;
    use std::collections::BTreeMap;
    let (keytype, scheme, public) = match (dialect, key) {
        (Dialect::Notary, PublicKey::EcdsaP256(_)) => {
            ("ecdsa", None, crate::b64_encode(&key.to_spki_der()?))
        }
        (Dialect::Notary, PublicKey::Ed25519(k)) => {
            ("ed25519", None, crate::b64_encode(k.as_bytes()))
        }
        (Dialect::Notary, PublicKey::Rsa(_)) => {
            ("rsa", None, crate::b64_encode(&key.to_spki_der()?))
        }
        (Dialect::Tuf, PublicKey::EcdsaP256(_)) => (
            "ecdsa",
            Some("ecdsa-sha2-nistp256"),
            pem_encode(&key.to_spki_der()?, "PUBLIC KEY"),
        ),
        (Dialect::Tuf, PublicKey::Ed25519(k)) => {
            ("ed25519", Some("ed25519"), hex::encode(k.as_bytes()))
        }
        (Dialect::Tuf, PublicKey::Rsa(_)) => (
            "rsa",
            Some("rsassa-pss-sha256"),
            pem_encode(&key.to_spki_der()?, "PUBLIC KEY"),
        ),
    };
    let mut kv_extra = BTreeMap::new();
    if dialect == Dialect::Notary {
        kv_extra.insert("private".to_owned(), serde_json::Value::Null);
    }
    Ok(Key {
        keytype: keytype.to_owned(),
        scheme: scheme.map(str::to_owned),
        keyval: KeyVal {
            public,
            extra: kv_extra,
        },
        extra: BTreeMap::new(),
    })
}

/// The key ID Notus assigns to a key it writes: Notary's computed ID, or securesystemslib's.
pub fn key_id(dialect: Dialect, key: &Key) -> String {
    match dialect {
        Dialect::Notary => notary_key_id(&key.keytype, &key.keyval.public),
        Dialect::Tuf => tuf_key_id(key),
    }
}

#[cfg(test)]
mod ring_tests {
    use p256::ecdsa::signature::{Signer as _, Verifier as _};
    use p256::ecdsa::{Signature, SigningKey};

    use super::*;

    /// ring decides every P-256 signature the way p256 (the verifier it replaced) does: valid,
    /// high-S (the same signature with s negated), tampered, truncated, for both encodings.
    #[test]
    fn ring_and_p256_agree() {
        for seed in 1u8..=8 {
            let mut secret = [7u8; 32];
            secret[31] = seed;
            let sk = SigningKey::from_slice(&secret).unwrap();
            let vk = *sk.verifying_key();
            let key = PublicKey::EcdsaP256(vk);
            let message = format!("payload {seed}").into_bytes();
            let sig: Signature = sk.sign(&message);
            let (r, s) = sig.split_scalars();
            let high_s = Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
            for candidate in [sig, high_s] {
                let fixed = candidate.to_bytes().to_vec();
                let der = candidate.to_der().as_bytes().to_vec();
                let mut cases = vec![
                    (Scheme::EcdsaP256Fixed, fixed.clone(), message.clone()),
                    (Scheme::EcdsaP256Der, der.clone(), message.clone()),
                    (Scheme::EcdsaP256Fixed, fixed.clone(), b"other".to_vec()),
                    (
                        Scheme::EcdsaP256Der,
                        der[..der.len() - 1].to_vec(),
                        message.clone(),
                    ),
                ];
                for i in [0, 31, 32, 63] {
                    let mut t = fixed.clone();
                    t[i] ^= 1;
                    cases.push((Scheme::EcdsaP256Fixed, t, message.clone()));
                }
                for (scheme, bytes, msg) in cases {
                    let p256_says = match scheme {
                        Scheme::EcdsaP256Fixed => {
                            Signature::from_slice(&bytes).is_ok_and(|s| vk.verify(&msg, &s).is_ok())
                        }
                        _ => Signature::from_der(&bytes).is_ok_and(|s| vk.verify(&msg, &s).is_ok()),
                    };
                    assert_eq!(
                        verify_signature(&key, scheme, &msg, &bytes),
                        p256_says,
                        "{scheme:?} {bytes:02x?}"
                    );
                }
            }
            assert!(verify_signature(
                &key,
                Scheme::EcdsaP256Fixed,
                &message,
                &sig.to_bytes()
            ));
        }
    }
}
