//! Notary root keys: a self-signed X.509 certificate (`ecdsa-x509`) whose subject CN is the
//! collection's name, as `notary init` makes it — ECDSA with SHA-256, key usage digital
//! signature + key encipherment (critical), extended key usage code signing, basic constraints
//! CA:FALSE (critical). notary-server and the Notary client accept a root key only in this form.
//!
//! The certificate is signed by whatever holds the root key (file, token, KMS) through the
//! [`Signer`] trait; the serial number and the validity period are inputs, so this stays pure.
use chrono::{DateTime, Utc};
use der::asn1::{BitString, ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Tag};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

use crate::build::Signer;
use crate::keys::{PublicKey, pem_encode};
use crate::metadata::{Key, KeyVal};
use crate::{DecodeError, Error};

const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

fn bad(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Encoding {
        field: "certificate".into(),
        reason: e.to_string(),
    }
}

fn time(t: DateTime<Utc>) -> Result<Time, DecodeError> {
    let secs = u64::try_from(t.timestamp()).map_err(bad)?;
    let system = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    Time::try_from(system).map_err(bad)
}

fn extension(
    id: ObjectIdentifier,
    critical: bool,
    value: &impl Encode,
) -> Result<Extension, DecodeError> {
    Ok(Extension {
        extn_id: id,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(bad)?).map_err(bad)?,
    })
}

/// The to-be-signed part of the root certificate for `public`.
pub fn notary_root_tbs(
    public: &PublicKey,
    gun: &str,
    serial: [u8; 16],
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Result<Vec<u8>, DecodeError> {
    let mut serial = serial;
    serial[0] &= 0x7f; // a positive INTEGER
    serial[0] |= 0x40; // and a fixed length
    let cn = AttributeTypeAndValue {
        oid: COMMON_NAME,
        value: Any::new(Tag::Utf8String, gun.as_bytes()).map_err(bad)?,
    };
    let rdn = RelativeDistinguishedName(SetOfVec::try_from(vec![cn]).map_err(bad)?);
    let name: Name = RdnSequence(vec![rdn]);
    let spki = SubjectPublicKeyInfoOwned::from_der(&public.to_spki_der()?).map_err(bad)?;
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial).map_err(bad)?,
        signature: AlgorithmIdentifierOwned {
            oid: ECDSA_WITH_SHA256,
            parameters: None,
        },
        issuer: name.clone(),
        validity: Validity {
            not_before: time(not_before)?,
            not_after: time(not_after)?,
        },
        subject: name,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(vec![
            extension(
                KEY_USAGE,
                true,
                &KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment),
            )?,
            extension(EXT_KEY_USAGE, false, &ExtendedKeyUsage(vec![CODE_SIGNING]))?,
            extension(
                BASIC_CONSTRAINTS,
                true,
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
            )?,
        ]),
    };
    tbs.to_der().map_err(bad)
}

/// The root key entry (`ecdsa-x509`, base64 of the PEM certificate) for the key `signer` holds,
/// valid from `not_before` to `not_after`, self-signed by it.
pub fn notary_root_key(
    signer: &dyn Signer,
    gun: &str,
    serial: [u8; 16],
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Result<Key, Error> {
    let tbs_der = notary_root_tbs(signer.public_key(), gun, serial, not_before, not_after)?;
    let raw = signer.sign(&tbs_der)?;
    let sig = p256::ecdsa::Signature::from_slice(&raw.bytes)
        .or_else(|_| p256::ecdsa::Signature::from_der(&raw.bytes))
        .map_err(|e| Error::Other(format!("the root key's signature is not ECDSA P-256: {e}")))?;
    let cert = Certificate {
        tbs_certificate: TbsCertificate::from_der(&tbs_der).map_err(bad)?,
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: ECDSA_WITH_SHA256,
            parameters: None,
        },
        signature: BitString::from_bytes(sig.to_der().as_bytes()).map_err(bad)?,
    };
    let pem = pem_encode(&cert.to_der().map_err(bad)?, "CERTIFICATE");
    let mut extra = std::collections::BTreeMap::new();
    extra.insert("private".to_owned(), serde_json::Value::Null);
    Ok(Key {
        keytype: "ecdsa-x509".into(),
        scheme: None,
        keyval: KeyVal {
            public: crate::b64_encode(pem.as_bytes()),
            extra,
        },
        extra: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dialect;
    use crate::keys::{key_id, parse_key};
    use crate::signers::EcdsaP256Signer;

    #[test]
    fn root_certificate_passes_notarys_root_checks() {
        let signer = EcdsaP256Signer::from_secret(&[9u8; 32], Dialect::Notary).unwrap();
        let nb: DateTime<Utc> = "2026-11-25T00:00:00Z".parse().unwrap();
        let na: DateTime<Utc> = "2036-11-22T00:00:00Z".parse().unwrap();
        let key = notary_root_key(&signer, "example.com/app", [0xff; 16], nb, na).unwrap();
        let parsed = parse_key(Dialect::Notary, &key).unwrap();
        assert_eq!(
            &parsed.key,
            signer.public_key(),
            "the certificate holds the root key"
        );
        let c = parsed.certificate.unwrap();
        assert_eq!(c.common_name.as_deref(), Some("example.com/app"));
        assert!(!c.is_ca && !c.sha1_signature);
        assert_eq!((c.not_before, c.not_after), (nb, na));
        // A different ID from the bare key's: root lists the certificate.
        assert_ne!(key_id(Dialect::Notary, &key), signer.key_id());
    }
}
