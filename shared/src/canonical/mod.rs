//! Canonical JSON, byte for byte as Notary (vendored docker/go `canonical/json`) and
//! securesystemslib (`encode_canonical`) write it:
//!
//! * object keys sorted bytewise (UTF-8 byte order, which equals code-point order);
//! * no insignificant whitespace;
//! * strings escape only `"` and `\`; every other byte (control characters, `<`, `>`, `&`,
//!   non-ASCII UTF-8) is written raw;
//! * numbers must be integers; floats are refused.
//!
//! It is written as a direct encoder over [`serde_json::Value`] rather than a
//! `serde_json::ser::Formatter` (tough's `olpc-cjson` shape) because key order must not depend on
//! whether some other crate in the build enables serde_json's `preserve_order` feature: this
//! encoder sorts explicitly, whatever map type `Value` uses.
//!
//! [`reencode`] produces the same bytes straight from JSON text, without the tree (the path
//! every received file takes).
//!
//! [`notary_envelope`] writes the *file* bytes of a Notary metadata file, which differ from the
//! signed bytes in one way: Go's `encoding/json` HTML-escapes `<`, `>`, `&`, U+2028 and U+2029
//! inside the embedded `signed` object (reference API §10.2).

use serde_json::Value;

use crate::error::DecodeError;

mod reencode;
pub use reencode::{Reencoded, reencode};

/// Encode a JSON value canonically.
pub fn to_vec(value: &Value) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value)?;
    Ok(out)
}

/// Encode any serialisable value canonically (through [`serde_json::Value`]).
pub fn to_vec_from<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, DecodeError> {
    let v = serde_json::to_value(value)?;
    to_vec(&v)
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), DecodeError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else if let Some(u) = n.as_u64() {
                out.extend_from_slice(u.to_string().as_bytes());
            } else {
                return Err(DecodeError::NotCanonical(format!("non-integer number {n}")));
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, k);
                out.push(b':');
                write_value(out, v)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Go `encoding/json`'s HTML-safe rewriting of already-compact JSON: `<`, `>`, `&` become
/// `\u003c`, `\u003e`, `\u0026`, and U+2028/U+2029 become `\u2028`/`\u2029`. These bytes can
/// only occur inside strings in canonical JSON, so a byte-level rewrite is exact.
pub fn go_html_escape(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 16);
    let mut i = 0;
    while i < json.len() {
        let b = json[i];
        match b {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            0xE2 if i + 2 < json.len()
                && json[i + 1] == 0x80
                && (json[i + 2] == 0xA8 || json[i + 2] == 0xA9) =>
            {
                out.extend_from_slice(if json[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

/// One signature as Notary writes it in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotarySignature {
    /// Key ID (hex).
    pub keyid: String,
    /// `ecdsa`, `eddsa`, `rsapss`, ...
    pub method: String,
    /// base64 signature.
    pub sig: String,
}

/// The file bytes Notary (and so notary-server, which hashes its own re-serialisation) writes for
/// a metadata file: `{"signed":<signed, HTML-escaped>,"signatures":[{"keyid","method","sig"}]}`.
pub fn notary_envelope(signed_canonical: &[u8], signatures: &[NotarySignature]) -> Vec<u8> {
    let mut out = Vec::with_capacity(signed_canonical.len() + 64 + 160 * signatures.len());
    out.extend_from_slice(b"{\"signed\":");
    out.extend_from_slice(&go_html_escape(signed_canonical));
    out.extend_from_slice(b",\"signatures\":[");
    for (i, s) in signatures.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"keyid\":");
        write_go_string(&mut out, &s.keyid);
        out.extend_from_slice(b",\"method\":");
        write_go_string(&mut out, &s.method);
        out.extend_from_slice(b",\"sig\":");
        write_go_string(&mut out, &s.sig);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}

fn write_go_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(go_string(s).as_bytes());
}

/// A JSON string literal as Go's `encoding/json` writes it (HTML-safe).
pub fn go_string(s: &str) -> String {
    let v = serde_json::to_vec(&Value::String(s.to_owned())).unwrap_or_default();
    // Escaping only replaces bytes with ASCII sequences, so valid UTF-8 stays valid.
    String::from_utf8(go_html_escape(&v)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_bytewise_and_escapes_only_quote_and_backslash() {
        let v = json!({"b": 1, "a": "x\"y\\z\n<&>é", "B": [true, null, -3]});
        assert_eq!(
            to_vec(&v).unwrap(),
            "{\"B\":[true,null,-3],\"a\":\"x\\\"y\\\\z\n<&>é\",\"b\":1}".as_bytes()
        );
    }

    #[test]
    fn refuses_floats() {
        assert!(matches!(
            to_vec(&json!({"a": 1.5})),
            Err(DecodeError::NotCanonical(_))
        ));
    }

    #[test]
    fn big_integers_are_exact() {
        let v: Value = serde_json::from_str("{\"length\":9007199254740993}").unwrap();
        assert_eq!(to_vec(&v).unwrap(), b"{\"length\":9007199254740993}");
    }

    #[test]
    fn go_html_escape_matches_go() {
        let s = "{\"t\":\"a<b>&c\u{2028}\u{2029}é\"}";
        assert_eq!(
            go_html_escape(s.as_bytes()),
            b"{\"t\":\"a\\u003cb\\u003e\\u0026c\\u2028\\u2029\xc3\xa9\"}".to_vec()
        );
    }

    #[test]
    fn notary_envelope_layout() {
        let sig = NotarySignature {
            keyid: "ab".into(),
            method: "ecdsa".into(),
            sig: "c2ln".into(),
        };
        assert_eq!(
            notary_envelope(b"{\"x\":1}", &[sig]),
            b"{\"signed\":{\"x\":1},\"signatures\":[{\"keyid\":\"ab\",\"method\":\"ecdsa\",\"sig\":\"c2ln\"}]}".to_vec()
        );
    }
}
