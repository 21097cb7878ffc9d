//! base64 (Notary) and hex (TUF) helpers. Decoders are strict: standard alphabet with padding for
//! base64 (what Go's `base64.StdEncoding` writes), either case for hex.

use base64::Engine as _;

use crate::error::DecodeError;

/// Standard base64 with padding, as Go's `base64.StdEncoding`.
pub fn b64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decode standard base64; `field` names the field in the error.
pub fn b64_decode(s: &str, field: &str) -> Result<Vec<u8>, DecodeError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| DecodeError::Encoding {
            field: field.to_owned(),
            reason: e.to_string(),
        })
}

/// Decode hex (either case); `field` names the field in the error.
pub fn hex_decode(s: &str, field: &str) -> Result<Vec<u8>, DecodeError> {
    hex::decode(s).map_err(|e| DecodeError::Encoding {
        field: field.to_owned(),
        reason: e.to_string(),
    })
}
