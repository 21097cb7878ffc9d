//! Metadata parsing in both dialects: the envelope, every role's typed view, and a root as a
//! client's trust anchor. Must never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use notus_tuf::Envelope;
use notus_tuf::client::TrustedMetadataSet;
use notus_tuf::metadata::{Root, Snapshot, Targets, Timestamp};

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::from_bytes(data) {
        let _ = env.decode::<Root>();
        let _ = env.decode::<Targets>();
        let _ = env.decode::<Snapshot>();
        let _ = env.decode::<Timestamp>();
    }
    let now = "2026-11-25T00:00:00Z".parse().unwrap();
    if let Ok(mut set) = TrustedMetadataSet::new(data, now) {
        // A root that verifies against itself must also be accepted as its own successor's
        // predecessor check input without panicking.
        let _ = set.update_root(data);
        let _ = set.update_timestamp(data);
    }
});
