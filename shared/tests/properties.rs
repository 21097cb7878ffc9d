//! Property tests: canonical JSON round-trips, and any single-byte change to a signed file breaks
//! verification (both dialects).

use std::collections::BTreeMap;

use notus_tuf::build::{Signer, UnsignedMetadata};
use notus_tuf::metadata::Envelope;
use notus_tuf::signers::EcdsaP256Signer;
use notus_tuf::verify::{Authorisation, verify_threshold};
use notus_tuf::{Dialect, canonical};
use proptest::prelude::*;
use serde_json::{Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    // Strings without control characters, so that canonical output is also valid JSON.
    let s = "[^\\x00-\\x1f]{0,12}";
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        s.prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(s, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn canonical_json_round_trips(v in json_value()) {
        let bytes = canonical::to_vec(&v).unwrap();
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(canonical::to_vec(&back).unwrap(), bytes.clone());
        // Canonical means no insignificant whitespace and sorted keys, whatever the input order.
        let compact = serde_json::to_vec(&v).unwrap();
        prop_assert!(bytes.len() <= compact.len());
    }

    #[test]
    fn canonical_json_ignores_key_order(pairs in prop::collection::vec(("[a-z]{1,4}", any::<i32>()), 1..8)) {
        let mut fwd = serde_json::Map::new();
        for (k, v) in &pairs { fwd.insert(k.clone(), json!(v)); }
        let mut rev = serde_json::Map::new();
        let dedup: BTreeMap<_, _> = fwd.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (k, v) in dedup.iter().rev() { rev.insert(k.clone(), v.clone()); }
        prop_assert_eq!(canonical::to_vec(&Value::Object(fwd)).unwrap(), canonical::to_vec(&Value::Object(rev)).unwrap());
    }
}

fn key(dialect: Dialect) -> (EcdsaP256Signer, BTreeMap<String, notus_tuf::metadata::Key>) {
    let k = EcdsaP256Signer::from_secret(&[9u8; 32], dialect).unwrap();
    let mut keys = BTreeMap::new();
    keys.insert(k.key_id().to_owned(), k.metadata_key().clone());
    (k, keys)
}

fn signed_file(
    dialect: Dialect,
    targets: &BTreeMap<String, u32>,
) -> (
    Vec<u8>,
    EcdsaP256Signer,
    BTreeMap<String, notus_tuf::metadata::Key>,
) {
    let (k, keys) = key(dialect);
    let t: serde_json::Map<String, Value> = targets
        .iter()
        .map(|(n, l)| {
            (
                n.clone(),
                json!({"length": l, "hashes": {"sha256": dialect.encode_bytes(&[1, 2, 3])}}),
            )
        })
        .collect();
    let ty = dialect.type_name(notus_tuf::RoleType::Targets);
    let signed =
        json!({"_type": ty, "expires": "2030-01-01T00:00:00Z", "version": 3, "targets": t});
    let bytes = UnsignedMetadata::new(dialect, signed)
        .unwrap()
        .sign_with(&[&k])
        .unwrap();
    (bytes, k, keys)
}

/// Whether byte `i` lies inside the value of a `"sig"` field.
fn in_signature_value(bytes: &[u8], i: usize) -> bool {
    let marker = b"\"sig\":\"";
    let mut from = 0;
    while let Some(at) = bytes[from..]
        .windows(marker.len())
        .position(|w| w == marker)
    {
        let start = from + at + marker.len();
        let end = start + bytes[start..].iter().position(|&b| b == b'"').unwrap_or(0);
        if (start..end).contains(&i) {
            return true;
        }
        from = end;
    }
    false
}

fn verifies(
    dialect: Dialect,
    bytes: &[u8],
    keyid: &str,
    keys: &BTreeMap<String, notus_tuf::metadata::Key>,
) -> bool {
    let Ok(env) = Envelope::from_bytes(bytes) else {
        return false;
    };
    if env.type_name() != Some(dialect.type_name(notus_tuf::RoleType::Targets)) {
        return false;
    }
    let ids = [keyid.to_owned()];
    verify_threshold(
        dialect,
        Authorisation {
            keys,
            keyids: &ids,
            threshold: 1,
        },
        &env.payload,
        &env.signatures,
        None,
    )
    .verified()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_single_byte_change_breaks_verification(
        targets in prop::collection::btree_map("[a-z/<>&é]{1,10}", any::<u32>(), 0..4),
        notary in any::<bool>(),
        at in any::<prop::sample::Index>(),
        new_byte in any::<u8>(),
    ) {
        let dialect = if notary { Dialect::Notary } else { Dialect::Tuf };
        let (bytes, k, keys) = signed_file(dialect, &targets);
        prop_assert!(verifies(dialect, &bytes, k.key_id(), &keys));
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != new_byte);
        // TUF signatures are hex, which decodes case-insensitively (as python-tuf's
        // `bytes.fromhex` and go-tuf do): `e` → `E` in a signature is the same signature.
        let in_sig = in_signature_value(&bytes, i);
        prop_assume!(notary || !in_sig || !bytes[i].eq_ignore_ascii_case(&new_byte));
        let mut changed = bytes.clone();
        changed[i] = new_byte;
        prop_assert!(!verifies(dialect, &changed, k.key_id(), &keys), "byte {} -> {:#x} still verifies", i, new_byte);
    }
}
