//! Canonical JSON: encoding any JSON value succeeds or fails cleanly, and is idempotent — the
//! canonical form of a value parsed back from a canonical form is the same bytes (signatures are
//! computed over these bytes, so any instability would break verification). The one-pass
//! re-encoder that every received file goes through must agree with the tree encoder byte for
//! byte, and refuse only what the tree path refuses (plus objects with a key twice).
#![no_main]
use libfuzzer_sys::fuzz_target;
use notus_tuf::canonical;

fuzz_target!(|data: &[u8]| {
    let tree = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .map(|v| canonical::to_vec(&v));
    match (canonical::reencode(data), &tree) {
        (Ok(one_pass), Some(Ok(from_tree))) => {
            assert_eq!(&one_pass.bytes, from_tree, "re-encoder and tree encoder differ")
        }
        (Ok(_), _) => panic!("the re-encoder accepted what the tree path refuses"),
        (Err(e), Some(Ok(_))) => assert!(
            e.to_string().contains("duplicate key"),
            "the re-encoder refused what the tree path accepts: {e}"
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
