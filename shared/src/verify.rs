//! The one threshold verifier. Every signature check in the engine (client and server, every
//! role, both dialects) goes through [`verify_threshold`], which returns a report of which
//! authorised keys signed, so the server can say which signatures are still missing and the
//! client can say why it refused.
//!
//! Rules (TUF 1.0.x §5.3.4/§5.4.2 and python-tuf `get_verification_result`):
//! * only signatures whose key ID is authorised for the role count;
//! * a key counts once, however many signatures carry its ID, and two key IDs that name the same
//!   public key material also count once (distinct *keys*, not distinct IDs);
//! * a malformed signature (bad encoding, wrong length, empty string) simply does not count;
//! * in the Notary dialect a key whose ID is not Notary's computed ID for it does not count.

use std::collections::{BTreeMap, BTreeSet};

use crate::keys::{self, ParsedKey};
use crate::metadata::{Key, Signature};
use crate::{Dialect, Rejection};

/// Who may sign a role: the delegator's key map, the authorised IDs and the threshold.
#[derive(Debug, Clone, Copy)]
pub struct Authorisation<'a> {
    /// Key map of the delegating metadata (root `keys` or `delegations.keys`).
    pub keys: &'a BTreeMap<String, Key>,
    /// Authorised key IDs.
    pub keyids: &'a [String],
    /// Signatures needed.
    pub threshold: u64,
}

/// The outcome of counting signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationReport {
    /// Signatures needed.
    pub threshold: u64,
    /// Authorised key IDs with a valid signature (one per distinct key).
    pub signed: BTreeSet<String>,
    /// Authorised key IDs without one.
    pub unsigned: BTreeSet<String>,
}

impl VerificationReport {
    /// Whether the threshold is met.
    pub fn verified(&self) -> bool {
        self.threshold > 0 && self.signed.len() as u64 >= self.threshold
    }
}

/// A predicate that may exclude an authorised key (Notary: root certificates that fail the
/// leaf-certificate rules). `None` admits every parseable key.
pub type KeyFilter<'f> = Option<&'f dyn Fn(&str, &ParsedKey) -> bool>;

/// Count valid signatures over `payload` by distinct authorised keys.
pub fn verify_threshold(
    dialect: Dialect,
    auth: Authorisation<'_>,
    payload: &[u8],
    signatures: &[Signature],
    filter: KeyFilter<'_>,
) -> VerificationReport {
    let mut signed = BTreeSet::new();
    let mut unsigned = BTreeSet::new();
    let mut seen_material: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut seen_ids: BTreeSet<&str> = BTreeSet::new();
    for keyid in auth.keyids {
        if !seen_ids.insert(keyid.as_str()) {
            continue;
        }
        let ok = auth.keys.get(keyid).and_then(|key| {
            if let Some(required) = keys::required_key_id(dialect, key)
                && &required != keyid
            {
                return None;
            }
            let parsed = keys::parse_key(dialect, key).ok()?;
            if let Some(f) = filter
                && !f(keyid, &parsed)
            {
                return None;
            }
            let material = parsed.key.to_spki_der().ok()?;
            let valid = signatures.iter().filter(|s| &s.keyid == keyid).any(|s| {
                let Some(scheme) = keys::scheme_for(dialect, key, &parsed.key, s.method.as_deref())
                else {
                    return false;
                };
                let Ok(sig) = dialect.decode_bytes(&s.sig, "sig") else {
                    return false;
                };
                keys::verify_signature(&parsed.key, scheme, payload, &sig)
            });
            valid.then_some(material)
        });
        let counted = ok.is_some_and(|material| seen_material.insert(material));
        if counted {
            signed.insert(keyid.clone());
        } else {
            unsigned.insert(keyid.clone());
        }
    }
    VerificationReport {
        threshold: auth.threshold,
        signed,
        unsigned,
    }
}

/// [`verify_threshold`], refusing with [`Rejection::Threshold`] when it is not met.
pub fn verify_role(
    dialect: Dialect,
    role: &str,
    auth: Authorisation<'_>,
    payload: &[u8],
    signatures: &[Signature],
    filter: KeyFilter<'_>,
) -> Result<VerificationReport, Rejection> {
    if auth.threshold == 0 {
        return Err(Rejection::invalid(role, "threshold must be at least one"));
    }
    let report = verify_threshold(dialect, auth, payload, signatures, filter);
    if report.verified() {
        Ok(report)
    } else {
        Err(Rejection::Threshold {
            role: role.to_owned(),
            valid: report.signed.len() as u64,
            threshold: report.threshold,
        })
    }
}
