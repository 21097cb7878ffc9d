//! Canonical JSON: encoding any JSON value succeeds or fails cleanly, and is idempotent — the
//! canonical form of a value parsed back from a canonical form is the same bytes (signatures are
//! computed over these bytes, so any instability would break verification). The one-pass
//! re-encoder that every received file goes through must agree with the tree encoder byte for
//! byte, and refuse only what the tree path refuses (plus objects with a key twice).
#![no_main]
use std::collections::HashSet;
use std::fmt;

use libfuzzer_sys::fuzz_target;
use notus_tuf::canonical;
use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

fuzz_target!(|data: &[u8]| {
    let tree = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .map(|v| canonical::to_vec(&v));
    match (canonical::reencode(data), &tree) {
        (Ok(one_pass), Some(Ok(from_tree))) => {
            assert_eq!(
                &one_pass.bytes, from_tree,
                "re-encoder and tree encoder differ"
            )
        }
        (Ok(_), _) => panic!("the re-encoder accepted what the tree path refuses"),
        // Whatever the re-encoder's first complaint: the value a later key overwrites, which
        // the tree path never encodes, may itself be one it refuses.
        (Err(e), Some(Ok(_))) => assert!(
            serde_json::from_slice::<NoKeyTwice>(data).is_err(),
            "the re-encoder refused what the tree path accepts, with no key twice: {e}"
        ),
        (Err(_), _) => {}
    }
    let Some(Ok(first)) = tree else {
        return;
    };
    // Canonical JSON writes control characters raw, which JSON parsers refuse; when the form
    // parses back, it must reproduce itself.
    if let Ok(again) = serde_json::from_slice::<serde_json::Value>(&first) {
        let second = canonical::to_vec(&again).expect("re-encoding a canonical form");
        assert_eq!(first, second, "canonical JSON is not idempotent");
    }
});

/// JSON that parses only if no object in it has a key twice (serde_json's own maps keep the
/// last value): the one thing the re-encoder refuses and the tree path may accept.
struct NoKeyTwice;

impl<'de> Deserialize<'de> for NoKeyTwice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoKeyTwiceVisitor)
    }
}

struct NoKeyTwiceVisitor;

impl<'de> Visitor<'de> for NoKeyTwiceVisitor {
    type Value = NoKeyTwice;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<NoKeyTwice, E> {
        Ok(NoKeyTwice)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoKeyTwice, E> {
        Ok(NoKeyTwice)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoKeyTwice, E> {
        Ok(NoKeyTwice)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoKeyTwice, E> {
        Ok(NoKeyTwice)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoKeyTwice, E> {
        Ok(NoKeyTwice)
    }
    fn visit_unit<E>(self) -> Result<NoKeyTwice, E> {
        Ok(NoKeyTwice)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoKeyTwice, A::Error> {
        while seq.next_element::<NoKeyTwice>()?.is_some() {}
        Ok(NoKeyTwice)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoKeyTwice, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key) {
                return Err(A::Error::custom("a key twice"));
            }
            map.next_value::<NoKeyTwice>()?;
        }
        Ok(NoKeyTwice)
    }
}
