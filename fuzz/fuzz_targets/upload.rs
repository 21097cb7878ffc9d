//! The upload validator on a real Notary collection (the example.com/vectors files notary 0.7
//! wrote): the input replaces one role's file (chosen by its first byte) in an upload, so the
//! fuzzer mutates genuine metadata and reaches the signature, version, hash and delegation
//! checks. Must never panic and never accept a file the current keys did not sign.
#![no_main]
use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use notus_tuf::server::{CurrentFile, HeldKeys, RepoState, Upload, validate_update};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/testdata/notary/example.com_vectors"
);
const ROLES: [(&str, &str); 4] = [
    ("root", "root.json"),
    ("targets", "targets.json"),
    ("snapshot", "snapshot.json"),
    ("targets/releases", "targets_releases.json"),
];

fn state() -> &'static (RepoState, HeldKeys) {
    static S: OnceLock<(RepoState, HeldKeys)> = OnceLock::new();
    S.get_or_init(|| {
        let mut files = BTreeMap::new();
        for (role, file) in ROLES.iter().chain([("timestamp", "timestamp.json")].iter()) {
            let bytes = std::fs::read(format!("{DIR}/{file}")).expect("vector");
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let version = v["signed"]["version"].as_u64().unwrap_or(1);
            files.insert(role.to_string(), CurrentFile { bytes, version });
        }
        (RepoState { files }, HeldKeys::default())
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let (role, _) = ROLES[pick as usize % ROLES.len()];
    let (current, held) = state();
    let uploads = vec![Upload {
        filename: role.to_owned(),
        data: file.to_vec(),
    }];
    let now = "2026-11-26T00:00:00Z".parse().unwrap();
    let _ = validate_update("example.com/vectors", current, uploads, held, now);
});
