//! The signed envelope `{"signed": ..., "signatures": [...]}`, parsed without losing anything.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{DecodeError, canonical};

/// One signature, in either dialect: Notary writes `{keyid, method, sig}` (base64), TUF
/// `{keyid, sig}` (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// The signing key's ID.
    pub keyid: String,
    /// Notary's signature method (`ecdsa`, `eddsa`, `rsapss`, ...). Absent in TUF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The encoded signature.
    pub sig: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

super::unknown_fields::deserialize_keeping_unknown!(Signature, "a signature", {
    keyid: "keyid",
    method: "method" = default,
    sig: "sig",
});

/// A parsed envelope: the canonical bytes of `signed` (the payload every signature is over),
/// the `signed` value as received, and the signatures.
///
/// No JSON tree is kept: files are re-encoded straight from their text
/// ([`canonical::reencode`]), and typed views are decoded from the received `signed` text on
/// request. A 100k-target file costs its text and its canonical form, not a tree of a million
/// nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `canonical(signed)`: what the signatures sign.
    pub payload: Vec<u8>,
    /// The signatures.
    pub signatures: Vec<Signature>,
    /// `signed` as received, when it differs from `payload` (canonical JSON writes control
    /// characters raw, which JSON parsers refuse, so typed views are read from this text).
    received: Option<Vec<u8>>,
    type_name: Option<String>,
    version: Option<u64>,
}

impl Envelope {
    /// Parse a metadata file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        #[derive(Deserialize)]
        struct File<'a> {
            #[serde(borrow)]
            signed: &'a serde_json::value::RawValue,
            signatures: Vec<Signature>,
        }
        let file: File<'_> = serde_json::from_slice(bytes)?;
        let received = file.signed.get().as_bytes();
        if received.first() != Some(&b'{') {
            return Err(DecodeError::Json("\"signed\" is not an object".into()));
        }
        check_signers_distinct(&file.signatures)?;
        let canonical::Reencoded {
            bytes: payload,
            type_name,
            version,
        } = canonical::reencode(received)?;
        let received = (payload != received).then(|| received.to_vec());
        Ok(Envelope {
            payload,
            signatures: file.signatures,
            received,
            type_name,
            version,
        })
    }

    /// Parse an already decoded JSON value.
    pub fn from_value(value: Value) -> Result<Self, DecodeError> {
        let Value::Object(mut map) = value else {
            return Err(DecodeError::Json("metadata is not a JSON object".into()));
        };
        let signed = map
            .remove("signed")
            .ok_or_else(|| DecodeError::Json("missing \"signed\"".into()))?;
        if !signed.is_object() {
            return Err(DecodeError::Json("\"signed\" is not an object".into()));
        }
        let sigs = map
            .remove("signatures")
            .ok_or_else(|| DecodeError::Json("missing \"signatures\"".into()))?;
        let signatures: Vec<Signature> = serde_json::from_value(sigs)?;
        check_signers_distinct(&signatures)?;
        let payload = canonical::to_vec(&signed)?;
        let text = serde_json::to_vec(&signed)?;
        Ok(Envelope {
            received: (text != payload).then_some(text),
            payload,
            signatures,
            type_name: signed.get("_type").and_then(Value::as_str).map(Into::into),
            version: signed.get("version").and_then(Value::as_u64),
        })
    }

    /// The `_type` string of the signed value, if any.
    pub fn type_name(&self) -> Option<&str> {
        self.type_name.as_deref()
    }

    /// The `version` of the signed value, if it is an unsigned integer.
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// `signed` as JSON text (as received; the payload itself when that was canonical).
    pub fn signed_json(&self) -> &[u8] {
        self.received.as_deref().unwrap_or(&self.payload)
    }

    /// `signed` as a JSON tree (for the rare callers that edit it).
    pub fn signed_value(&self) -> Result<Value, DecodeError> {
        Ok(serde_json::from_slice(self.signed_json())?)
    }

    /// Decode the signed value into a typed role.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, DecodeError> {
        Ok(serde_json::from_slice(self.signed_json())?)
    }
}

/// python-tuf refuses a file with two signatures under one key ID; so do we, so that a
/// duplicated signature can never be mistaken for two signers.
fn check_signers_distinct(signatures: &[Signature]) -> Result<(), DecodeError> {
    let mut seen = std::collections::BTreeSet::new();
    for s in signatures {
        if !seen.insert(s.keyid.as_str()) {
            return Err(DecodeError::Json(format!(
                "multiple signatures found for keyid {}",
                s.keyid
            )));
        }
    }
    Ok(())
}

/// The `version` and `expires` of a metadata file's signed value, read without building the
/// envelope: no JSON tree, no canonical form, other fields skipped. For bytes already validated
/// (ordering stored files, scheduling refresh); it checks nothing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Peek {
    /// `signed.version`.
    pub version: Option<u64>,
    /// `signed.expires`, as written.
    pub expires: Option<String>,
}

impl Peek {
    /// Peek into `bytes`; `None` if they are not a JSON object with a `signed` object.
    pub fn of(bytes: &[u8]) -> Option<Peek> {
        #[derive(serde::Deserialize)]
        struct Outer {
            signed: Peek,
        }
        serde_json::from_slice::<Outer>(bytes)
            .ok()
            .map(|o| o.signed)
    }
}

/// How many targets and delegated roles a targets file lists, counted without building anything
/// (a scan that skips every value): what the service's size limits are checked against before
/// the upload is parsed for real. It checks nothing else.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Entries of `signed.targets`.
    pub targets: usize,
    /// Entries of `signed.delegations.roles`.
    pub delegations: usize,
}

impl Counts {
    /// Count in `bytes`; `None` if they are not a JSON object with a `signed` object.
    pub fn of(bytes: &[u8]) -> Option<Counts> {
        #[derive(serde::Deserialize)]
        struct Outer {
            signed: Signed,
        }
        #[derive(serde::Deserialize)]
        struct Signed {
            #[serde(default)]
            targets: Entries,
            #[serde(default)]
            delegations: Option<Delegations>,
        }
        #[derive(serde::Deserialize)]
        struct Delegations {
            #[serde(default)]
            roles: Entries,
        }
        let o: Outer = serde_json::from_slice(bytes).ok()?;
        Some(Counts {
            targets: o.signed.targets.0,
            delegations: o.signed.delegations.map_or(0, |d| d.roles.0),
        })
    }
}

/// The number of entries of an object or array (0 for anything else), counted while skipping.
#[derive(Default)]
struct Entries(usize);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct Count;
        impl<'de> Visitor<'de> for Count {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut n = 0;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Entries(n))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entries, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Entries(n))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Entries, E> {
                Ok(Entries(0))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Entries, E> {
                Ok(Entries(0))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Entries, E> {
                Ok(Entries(0))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Entries, E> {
                Ok(Entries(0))
            }
            fn visit_str<E>(self, _: &str) -> Result<Entries, E> {
                Ok(Entries(0))
            }
            fn visit_unit<E>(self) -> Result<Entries, E> {
                Ok(Entries(0))
            }
        }
        d.deserialize_any(Count)
    }
}

/// A metadata file as stored or served: the typed value, its envelope, and the exact bytes with
/// their sha256 and length (what snapshot/timestamp meta are computed from).
#[derive(Debug, Clone)]
pub struct Stored<T> {
    /// Typed view of `signed`.
    pub value: T,
    /// The parsed envelope.
    pub envelope: Envelope,
    /// Exact file bytes.
    pub bytes: Vec<u8>,
    /// sha256 of `bytes`.
    pub sha256: [u8; 32],
}

impl<T: serde::de::DeserializeOwned> Stored<T> {
    /// Parse file bytes into a typed, byte-preserving value.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, DecodeError> {
        let envelope = Envelope::from_bytes(&bytes)?;
        let value = envelope.decode()?;
        Ok(Stored::new(value, envelope, bytes))
    }
}

impl<T> Stored<T> {
    /// Keep a typed value with the envelope and exact bytes it was parsed from.
    pub fn new(value: T, envelope: Envelope, bytes: Vec<u8>) -> Self {
        let sha256 = super::sha256(&bytes);
        Stored {
            value,
            envelope,
            bytes,
            sha256,
        }
    }

    /// Length of the file in bytes.
    pub fn length(&self) -> u64 {
        self.bytes.len() as u64
    }
}

#[cfg(test)]
mod peek_tests {
    use super::{Counts, Peek};

    #[test]
    fn counts_entries_without_parsing_them() {
        let file = br#"{"signed":{"_type":"Targets","targets":{"a":{"length":1},"b":[1,{"c":2}]},"delegations":{"keys":{"k":{}},"roles":[{"name":"targets/x"},{},{}]}},"signatures":[]}"#;
        assert_eq!(
            Counts::of(file),
            Some(Counts {
                targets: 2,
                delegations: 3
            })
        );
        // Absent or not a collection: nothing counted (the validator refuses what is wrong).
        assert_eq!(
            Counts::of(br#"{"signed":{"targets":"x","delegations":null}}"#),
            Some(Counts::default())
        );
        assert_eq!(Counts::of(br#"{"signed":1}"#), None);
        assert_eq!(Counts::of(b"{"), None);
    }

    #[test]
    fn peek_reads_version_and_expiry_and_skips_the_rest() {
        let file = br#"{"signed":{"_type":"Targets","targets":{"a":{"length":1,"hashes":{}}},"version":7,"expires":"2030-01-01T00:00:00Z","delegations":{"keys":{},"roles":[]}},"signatures":[]}"#;
        let p = Peek::of(file).unwrap();
        assert_eq!(p.version, Some(7));
        assert_eq!(p.expires.as_deref(), Some("2030-01-01T00:00:00Z"));
        // The same answers as the full envelope.
        let e = super::Envelope::from_bytes(file).unwrap();
        assert_eq!(p.version, e.version());
        assert_eq!(Peek::of(br#"{"signed":{}}"#).unwrap().version, None);
        assert!(Peek::of(b"not json").is_none());
        assert!(Peek::of(br#"{"signatures":[]}"#).is_none());
    }
}
