//! Canonical JSON: encoding any JSON value succeeds or fails cleanly, and is idempotent — the
//! canonical form of a value parsed back from a canonical form is the same bytes (signatures are
//! computed over these bytes, so any instability would break verification).
#![no_main]
use libfuzzer_sys::fuzz_target;
use notus_tuf::canonical;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(first) = canonical::to_vec(&value) else {
        return;
    };
    // Canonical JSON writes control characters raw, which JSON parsers refuse; when the form
    // parses back, it must reproduce itself.
    if let Ok(again) = serde_json::from_slice::<serde_json::Value>(&first) {
        let second = canonical::to_vec(&again).expect("re-encoding a canonical form");
        assert_eq!(first, second, "canonical JSON is not idempotent");
    }
});
