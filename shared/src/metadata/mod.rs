//! The metadata model. Every parsed file keeps the `signed` JSON text it arrived with, its
//! canonical form, and the exact file bytes next to the typed view ([`Stored`]), so signatures
//! are verified over the canonical form of what was received (unknown fields included) and
//! hashes over the bytes that are stored and served, never over a re-serialisation of the typed
//! model.
//!
//! The typed structs accept both dialects: field names are the same, and the differences
//! (`_type` spelling, base64 vs hex, `paths` prefixes vs globs, meta keys) are resolved by
//! [`crate::Dialect`] at the point of use. Unknown fields are kept in `extra`. Versions and
//! thresholds are plain `u64` (not `NonZeroU64`) so that a zero gets Notary's precise
//! "version cannot be less than one" refusal instead of a generic decode error.

mod envelope;
mod roles;
mod unknown_fields;

pub use envelope::{Counts, Envelope, Peek, Signature, Stored};
pub use roles::{
    CheckedTarget, DelegatedRole, Delegations, Key, KeyVal, MetaFile, RoleKeys, Root, Snapshot,
    SuccinctRoles, TargetFile, Targets, TargetsOutline, Timestamp,
};

use std::collections::BTreeMap;

use sha2::Digest;

use crate::{Dialect, Rejection};

/// Hash algorithm name → encoded digest (base64 in Notary, hex in TUF).
pub type Hashes = BTreeMap<String, String>;

/// Hash algorithms the engine can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// sha224
    Sha224,
    /// sha256
    Sha256,
    /// sha384
    Sha384,
    /// sha512
    Sha512,
}

impl HashAlgorithm {
    /// Parse an algorithm name as written in `hashes`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "sha224" => HashAlgorithm::Sha224,
            "sha256" => HashAlgorithm::Sha256,
            "sha384" => HashAlgorithm::Sha384,
            "sha512" => HashAlgorithm::Sha512,
            _ => return None,
        })
    }

    /// Digest `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlgorithm::Sha224 => sha2::Sha224::digest(data).to_vec(),
            HashAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlgorithm::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlgorithm::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// sha256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

/// sha256 of `data` in lowercase hex: the one spelling of a file's hash that the ledger records,
/// the embedded store uses as content address and etag, a put carries, and Notary's checksum
/// error names. Written once so that those can only agree.
pub fn sha256_hex(data: &[u8]) -> String {
    hex_of_sha256(&sha256(data))
}

/// [`sha256_hex`] of a digest already computed.
pub fn hex_of_sha256(digest: &[u8; 32]) -> String {
    hex::encode(digest)
}

/// Check a file's bytes against a recorded length and hashes (TUF 5.x "length and hashes" steps;
/// Notary's checksum check). Every listed algorithm must be known and match (python-tuf refuses an
/// unknown algorithm rather than skipping it); at least one hash must be present when
/// `require_hash` is set. `sha256` is the bytes' sha256 where it is already known (a parsed file
/// carries it, [`envelope::Stored`]): it is compared rather than computed again.
pub fn check_length_and_hashes(
    dialect: Dialect,
    label: &str,
    length: Option<u64>,
    hashes: Option<&Hashes>,
    require_hash: bool,
    data: &[u8],
    sha256: Option<&[u8; 32]>,
) -> Result<(), Rejection> {
    if let Some(len) = length
        && len != data.len() as u64
    {
        return Err(Rejection::LengthOrHashMismatch {
            role: label.to_owned(),
            algorithm: "length".into(),
            expected: len.to_string(),
        });
    }
    let empty = Hashes::new();
    let hashes = hashes.unwrap_or(&empty);
    if require_hash && hashes.is_empty() {
        return Err(Rejection::invalid(label, "no hashes recorded"));
    }
    for (algo, expected) in hashes {
        let mismatch = || Rejection::LengthOrHashMismatch {
            role: label.to_owned(),
            algorithm: algo.clone(),
            expected: expected.clone(),
        };
        let alg = HashAlgorithm::from_name(algo).ok_or_else(mismatch)?;
        let want = dialect
            .decode_bytes(expected, "hashes")
            .map_err(|_| mismatch())?;
        let got = match (alg, sha256) {
            (HashAlgorithm::Sha256, Some(known)) => known.to_vec(),
            _ => alg.digest(data),
        };
        if got != want {
            return Err(mismatch());
        }
    }
    Ok(())
}

/// The `hashes` and `length` that describe `data` in this dialect (sha256 and sha512, as Notary
/// records them; TUF readers accept either).
pub fn describe(dialect: Dialect, data: &[u8]) -> (Hashes, u64) {
    let mut h = Hashes::new();
    h.insert(
        "sha256".into(),
        dialect.encode_bytes(&HashAlgorithm::Sha256.digest(data)),
    );
    h.insert(
        "sha512".into(),
        dialect.encode_bytes(&HashAlgorithm::Sha512.digest(data)),
    );
    (h, data.len() as u64)
}

#[cfg(test)]
mod tests {
    /// FIPS 180-2's "abc" vector, in the spelling every hash record uses.
    #[test]
    fn sha256_hex_is_lowercase_hex_of_the_digest() {
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    /// With the sha256 known, a record of these bytes' hashes passes and a record of other
    /// bytes fails, in both dialects and whether the record has sha256 alone or with sha512.
    #[test]
    fn a_known_sha256_is_checked_like_a_computed_one() {
        use super::*;
        let (data, other) = (b"the file".as_slice(), b"another file".as_slice());
        for dialect in [Dialect::Notary, Dialect::Tuf] {
            let (both, len) = describe(dialect, data);
            let (wrong, _) = describe(dialect, other);
            let only = |h: &Hashes| -> Hashes {
                h.iter()
                    .filter(|(k, _)| *k == "sha256")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            };
            let known = sha256(data);
            for (record, ok) in [
                (both.clone(), true),
                (only(&both), true),
                (only(&wrong), false),
            ] {
                for sha in [None, Some(&known)] {
                    let r = check_length_and_hashes(
                        dialect,
                        "targets",
                        Some(len),
                        Some(&record),
                        true,
                        data,
                        sha,
                    );
                    assert_eq!(
                        r.is_ok(),
                        ok,
                        "{dialect:?} {record:?} known: {}",
                        sha.is_some()
                    );
                }
            }
        }
    }
}
