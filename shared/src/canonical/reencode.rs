//! JSON text → canonical JSON bytes in one pass, without building a tree.
//!
//! Uploads and stored files arrive as JSON text whose `signed` object is, almost always, already
//! in canonical key order (Notary writes it canonically, only HTML-escaped; Notus and python-tuf
//! write keys sorted). Parsing such text into [`serde_json::Value`] and encoding it again cost
//! a publish of 100k targets most of its time and memory: a map node per object, a `String` per
//! key and value, and the whole tree dropped afterwards. This re-encoder reads the text once and
//! writes the canonical form straight into the output; an object whose keys arrive out of order
//! is sorted in place from the spans of its members, so unusual input is still handled exactly.
//!
//! It produces the same bytes as [`super::to_vec`] over the parsed value, and refuses what that
//! path refuses (malformed JSON, invalid UTF-8, lone surrogates, non-integer numbers, integers
//! outside i64/u64, nesting beyond serde_json's limit). It is stricter in one way: an object with
//! a key twice is refused, where a parsed `Value` silently keeps the last one; a signed payload
//! must never mean two things to two parsers.

use std::cmp::Ordering;
use std::ops::Range;

use crate::error::DecodeError;

/// serde_json refuses a 128th level of nesting; so does this, so both paths refuse the same
/// documents.
const MAX_DEPTH: usize = 127;

/// The canonical bytes of a JSON document, with the two top-level fields every caller of an
/// envelope asks for, read while encoding so that nobody scans the bytes again for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reencoded {
    /// Canonical JSON.
    pub bytes: Vec<u8>,
    /// The top-level object's `_type`, if it is a string.
    pub type_name: Option<String>,
    /// The top-level object's `version`, if it is an unsigned integer.
    pub version: Option<u64>,
}

/// Re-encode JSON text canonically.
pub fn reencode(input: &[u8]) -> Result<Reencoded, DecodeError> {
    let mut r = Reencoder {
        input,
        pos: 0,
        out: Vec::with_capacity(input.len()),
        members: Vec::new(),
        type_name: None,
        version: None,
    };
    r.value(0)?;
    r.skip_ws();
    if r.pos != input.len() {
        return Err(r.syntax("trailing characters"));
    }
    Ok(Reencoded {
        bytes: r.out,
        type_name: r.type_name,
        version: r.version,
    })
}

/// An object member already written to the output: its key's content (between the quotes, as
/// written) and the whole `"key":value` text.
struct Member {
    key: Range<usize>,
    text: Range<usize>,
}

struct Reencoder<'a> {
    input: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    /// Members of the objects being written, innermost last (a stack shared by all depths).
    members: Vec<Member>,
    type_name: Option<String>,
    version: Option<u64>,
}

impl Reencoder<'_> {
    fn syntax(&self, what: &str) -> DecodeError {
        DecodeError::Json(format!("{what} at byte {}", self.pos))
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.input.get(self.pos) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), DecodeError> {
        self.skip_ws();
        if self.input.get(self.pos) != Some(&byte) {
            return Err(self.syntax(&format!("expected `{}`", byte as char)));
        }
        self.pos += 1;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<(), DecodeError> {
        self.skip_ws();
        match self.input.get(self.pos) {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(|_| ()),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(_) => Err(self.syntax("expected a value")),
            None => Err(self.syntax("unexpected end of input")),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), DecodeError> {
        if !self.input[self.pos..].starts_with(word) {
            return Err(self.syntax("expected a value"));
        }
        self.pos += word.len();
        self.out.extend_from_slice(word);
        Ok(())
    }

    fn nest(&self, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.syntax("recursion limit exceeded"));
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> Result<(), DecodeError> {
        self.nest(depth)?;
        self.pos += 1;
        self.out.push(b'[');
        self.skip_ws();
        if self.input.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.out.push(b']');
            return Ok(());
        }
        loop {
            self.value(depth)?;
            self.skip_ws();
            match self.input.get(self.pos) {
                Some(b',') => {
                    self.pos += 1;
                    self.out.push(b',');
                }
                Some(b']') => {
                    self.pos += 1;
                    self.out.push(b']');
                    return Ok(());
                }
                _ => return Err(self.syntax("expected `,` or `]`")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), DecodeError> {
        self.nest(depth)?;
        self.pos += 1;
        self.out.push(b'{');
        let body = self.out.len();
        let base = self.members.len();
        self.skip_ws();
        if self.input.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.out.push(b'}');
            return Ok(());
        }
        let mut in_order = true;
        loop {
            self.skip_ws();
            if self.input.get(self.pos) != Some(&b'"') {
                return Err(self.syntax("expected a string key"));
            }
            if self.members.len() > base {
                self.out.push(b',');
            }
            let start = self.out.len();
            let key = self.string()?;
            self.expect(b':')?;
            self.out.push(b':');
            let value = self.out.len();
            self.value(depth)?;
            if depth == 1 {
                self.note_top_level(key.clone(), value);
            }
            if let Some(prev) = self.members[base..].last() {
                match compare_keys(&self.out[prev.key.clone()], &self.out[key.clone()]) {
                    Ordering::Less => {}
                    Ordering::Equal => return Err(self.duplicate(key)),
                    Ordering::Greater => in_order = false,
                }
            }
            self.members.push(Member {
                key,
                text: start..self.out.len(),
            });
            self.skip_ws();
            match self.input.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.syntax("expected `,` or `}`")),
            }
        }
        if !in_order {
            self.sort_members(base, body)?;
        }
        self.members.truncate(base);
        self.out.push(b'}');
        Ok(())
    }

    /// Rewrite the members of the object whose body starts at `body` in key order.
    fn sort_members(&mut self, base: usize, body: usize) -> Result<(), DecodeError> {
        let out = &self.out;
        let members = &mut self.members[base..];
        members.sort_unstable_by(|a, b| compare_keys(&out[a.key.clone()], &out[b.key.clone()]));
        if let Some(twice) = members
            .windows(2)
            .find(|w| compare_keys(&out[w[0].key.clone()], &out[w[1].key.clone()]).is_eq())
            .map(|w| w[1].key.clone())
        {
            return Err(self.duplicate(twice));
        }
        let mut sorted = Vec::with_capacity(out.len() - body);
        for (i, m) in members.iter().enumerate() {
            if i > 0 {
                sorted.push(b',');
            }
            sorted.extend_from_slice(&out[m.text.clone()]);
        }
        self.out.truncate(body);
        self.out.extend_from_slice(&sorted);
        Ok(())
    }

    fn duplicate(&self, key: Range<usize>) -> DecodeError {
        let key: Vec<u8> = unescaped(&self.out[key]).collect();
        DecodeError::Json(format!(
            "duplicate key \"{}\" in an object",
            String::from_utf8_lossy(&key)
        ))
    }

    /// Remember `_type` and `version` of the top-level object.
    fn note_top_level(&mut self, key: Range<usize>, value: usize) {
        let written = &self.out[value..];
        match &self.out[key] {
            b"_type" if written.first() == Some(&b'"') => {
                let content: Vec<u8> = unescaped(&written[1..written.len() - 1]).collect();
                self.type_name = String::from_utf8(content).ok();
            }
            b"version" => {
                self.version = std::str::from_utf8(written)
                    .ok()
                    .and_then(|s| s.parse().ok());
            }
            _ => {}
        }
    }

    /// Read a string and write it canonically (only `"` and `\` escaped, everything else raw).
    /// Returns the range of its content in the output.
    fn string(&mut self) -> Result<Range<usize>, DecodeError> {
        self.pos += 1;
        self.out.push(b'"');
        let start = self.out.len();
        loop {
            let run = self.pos;
            while let Some(&b) = self.input.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // A run ends at an ASCII byte, so it is valid UTF-8 on its own or not at all.
            let text = &self.input[run..self.pos];
            if !text.is_ascii() && std::str::from_utf8(text).is_err() {
                return Err(self.syntax("invalid UTF-8 in a string"));
            }
            self.out.extend_from_slice(text);
            match self.input.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape()?;
                }
                Some(_) => return Err(self.syntax("control character in a string")),
                None => return Err(self.syntax("unterminated string")),
            }
        }
        let end = self.out.len();
        self.out.push(b'"');
        Ok(start..end)
    }

    fn escape(&mut self) -> Result<(), DecodeError> {
        let Some(&b) = self.input.get(self.pos) else {
            return Err(self.syntax("unterminated string"));
        };
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape()?,
            _ => return Err(self.syntax("invalid escape")),
        };
        if c == '"' || c == '\\' {
            self.out.push(b'\\');
        }
        let mut buf = [0u8; 4];
        self.out
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    fn hex4(&mut self) -> Result<u16, DecodeError> {
        let digits = self
            .input
            .get(self.pos..self.pos + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.syntax("invalid \\u escape"))?;
        let unit =
            u16::from_str_radix(digits, 16).map_err(|_| self.syntax("invalid \\u escape"))?;
        self.pos += 4;
        Ok(unit)
    }

    /// `\uXXXX`, with a surrogate pair read as one character; lone surrogates are refused, as
    /// serde_json refuses them.
    fn unicode_escape(&mut self) -> Result<char, DecodeError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.input.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(self.syntax("lone leading surrogate in hex escape"));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.syntax("lone leading surrogate in hex escape"));
                }
                0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.syntax("lone trailing surrogate in hex escape")),
            other => u32::from(other),
        };
        char::from_u32(code).ok_or_else(|| self.syntax("invalid \\u escape"))
    }

    /// Integers only, written as serde_json reads them: `-0` and values outside i64/u64 are
    /// floats to serde_json, so they are refused here as the tree path refuses floats.
    fn number(&mut self) -> Result<(), DecodeError> {
        let start = self.pos;
        let negative = self.input[self.pos] == b'-';
        if negative {
            self.pos += 1;
        }
        match self.input.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.input.get(self.pos) {
                    self.pos += 1;
                }
            }
            _ => return Err(self.syntax("invalid number")),
        }
        let text = &self.input[start..self.pos];
        if let Some(b'.' | b'e' | b'E') = self.input.get(self.pos) {
            return Err(not_integer(text));
        }
        let digits = std::str::from_utf8(&text[usize::from(negative)..]).unwrap_or_default();
        let magnitude: u64 = digits.parse().map_err(|_| not_integer(text))?;
        if negative && (magnitude == 0 || magnitude > 1u64 << 63) {
            return Err(not_integer(text));
        }
        self.out.extend_from_slice(text);
        Ok(())
    }
}

fn not_integer(text: &[u8]) -> DecodeError {
    DecodeError::NotCanonical(format!(
        "non-integer number {}",
        String::from_utf8_lossy(text)
    ))
}

/// The bytes of a canonically written string's content with its `\` escapes removed (the
/// canonical form escapes only `"` and `\`).
fn unescaped(written: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let mut b = *written.get(i)?;
        if b == b'\\' {
            i += 1;
            b = *written.get(i)?;
        }
        i += 1;
        Some(b)
    })
}

/// Order keys by their decoded bytes, as [`super::to_vec`] sorts them.
fn compare_keys(a: &[u8], b: &[u8]) -> Ordering {
    if !a.contains(&b'\\') && !b.contains(&b'\\') {
        return a.cmp(b);
    }
    unescaped(a).cmp(unescaped(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn tree_path(text: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let v: Value = serde_json::from_slice(text)?;
        super::super::to_vec(&v)
    }

    #[test]
    fn sorted_input_is_copied_and_unsorted_input_is_sorted() {
        let r =
            reencode(br#"{"_type":"targets","b":[1,{"z":null,"a":true}],"version":3}"#).unwrap();
        assert_eq!(
            r.bytes,
            br#"{"_type":"targets","b":[1,{"a":true,"z":null}],"version":3}"#
        );
        assert_eq!(r.type_name.as_deref(), Some("targets"));
        assert_eq!(r.version, Some(3));
        let r = reencode(b" { \"version\" : 12 ,\n \"_type\":\"Root\" } ").unwrap();
        assert_eq!(r.bytes, br#"{"_type":"Root","version":12}"#);
        assert_eq!(
            (r.type_name.as_deref(), r.version),
            (Some("Root"), Some(12))
        );
    }

    #[test]
    fn strings_are_decoded_and_written_canonically() {
        // Go's HTML escapes and JSON's control escapes come out raw; quote and backslash stay
        // escaped; a surrogate pair is one character.
        let text = br#"{"k":"a\u003cb\u003e\u0026\n\"\\\/\ud83d\ude00\u00e9"}"#;
        assert_eq!(reencode(text).unwrap().bytes, tree_path(text).unwrap());
        assert_eq!(
            reencode(text).unwrap().bytes,
            "{\"k\":\"a<b>&\n\\\"\\\\/\u{1F600}é\"}".as_bytes()
        );
    }

    #[test]
    fn keys_sort_by_their_decoded_bytes() {
        // `"` (0x22) sorts before `#` (0x23) although its written form starts with `\` (0x5c).
        let text = br#"{"a#b":1,"a\"b":2,"\u0041":3}"#;
        assert_eq!(reencode(text).unwrap().bytes, tree_path(text).unwrap());
    }

    #[test]
    fn refusals() {
        let not_canonical: &[&[u8]] = &[
            b"{\"a\":1.5}",
            b"{\"a\":1e3}",
            b"{\"a\":-0}",
            b"{\"a\":18446744073709551616}",
            b"{\"a\":-9223372036854775809}",
        ];
        let malformed: &[&[u8]] = &[
            b"{\"a\":1,\"a\":2}",
            b"{\"b\":1,\"a\":2,\"b\":3}",
            b"{\"a\":\"\xff\"}",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":\"\\udc00x\"}",
            b"{\"a\":\"tab\there\"}",
            b"{\"a\":01}",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"[1] x",
            b"{\"a\":tru}",
            b"\"unterminated",
        ];
        let cases = not_canonical.iter().map(|b| (b, true));
        for (bad, expect_not_canonical) in cases.chain(malformed.iter().map(|b| (b, false))) {
            let refused_as = reencode(bad).map(|_| ()).unwrap_err();
            assert_eq!(
                matches!(refused_as, DecodeError::NotCanonical(_)),
                expect_not_canonical,
                "{}: {refused_as}",
                String::from_utf8_lossy(bad)
            );
        }
        // A key twice, whose first value is not canonical: the tree path keeps only the last
        // value and accepts; the re-encoder refuses at the first value, before it sees the
        // second key (found by fuzzing). Refused either way, never published.
        let hidden = b"{\"a\":18446744073709551616,\"a\":1}";
        assert!(tree_path(hidden).is_ok());
        assert!(matches!(
            reencode(hidden),
            Err(DecodeError::NotCanonical(_))
        ));
        for n in [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1] {
            let nested = format!("{}{}", "[".repeat(n), "]".repeat(n));
            assert_eq!(
                reencode(nested.as_bytes()).is_ok(),
                serde_json::from_str::<Value>(&nested).is_ok(),
                "{n} levels"
            );
        }
    }

    #[test]
    fn integer_limits_match_serde_json() {
        let text = br#"{"max":18446744073709551615,"min":-9223372036854775808,"z":0}"#;
        assert_eq!(reencode(text).unwrap().bytes, tree_path(text).unwrap());
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            any::<u64>().prop_map(|u| json!(u)),
            any::<String>().prop_map(Value::String),
            "[a-c\"\\\\<>&\u{e9}\u{2028}\n]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-c\"\\\\#_A-Z\u{e9}]{0,3}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Reverse the key order of every object in `text` written by serde_json (sorted): the
    /// re-encoder must sort them back.
    fn shuffled(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                let members: Vec<String> = m
                    .iter()
                    .rev()
                    .map(|(k, v)| {
                        format!("{} : {}", serde_json::to_string(k).unwrap(), shuffled(v))
                    })
                    .collect();
                format!("{{ {} }}", members.join(" ,\n"))
            }
            Value::Array(a) => {
                let items: Vec<String> = a.iter().map(shuffled).collect();
                format!("[{}]", items.join(", "))
            }
            other => serde_json::to_string(other).unwrap(),
        }
    }

    proptest! {
        #[test]
        fn same_bytes_as_the_tree_path(v in json_value()) {
            let expected = super::super::to_vec(&v).unwrap();
            for text in [serde_json::to_vec(&v).unwrap(), serde_json::to_vec_pretty(&v).unwrap(),
                         shuffled(&v).into_bytes()] {
                let r = reencode(&text).unwrap();
                prop_assert_eq!(&r.bytes, &expected);
                prop_assert_eq!(r.type_name.as_deref(), v.get("_type").and_then(Value::as_str));
                prop_assert_eq!(r.version, v.get("version").and_then(Value::as_u64));
            }
            // Go's HTML-escaped form of the canonical bytes reads back to the same bytes.
            if serde_json::from_slice::<Value>(&expected).is_ok() {
                let html = super::super::go_html_escape(&expected);
                prop_assert_eq!(reencode(&html).unwrap().bytes, expected);
            }
        }
    }
}
