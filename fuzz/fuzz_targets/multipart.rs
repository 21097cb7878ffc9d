//! The multipart upload parser: any body, any boundary (taken from the first bytes), bounded
//! parts. Must never panic; every part it returns lies within the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use notus_tuf::multipart;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = (n as usize % 70).min(rest.len());
    let (boundary, body) = rest.split_at(n);
    let Ok(boundary) = std::str::from_utf8(boundary) else {
        return;
    };
    if let Ok(parts) = multipart::parse(body, boundary, 64) {
        assert!(parts.len() <= 64);
        for p in parts {
            assert!(p.data.len() <= body.len());
        }
    }
    let _ = multipart::boundary(&String::from_utf8_lossy(data));
});
