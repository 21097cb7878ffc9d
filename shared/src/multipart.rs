//! A strict, allocation-bounded parser for the `multipart/form-data` bodies Notary's client
//! uploads (reference API §5.1). Pure bytes in, parts out, so that it can be fuzzed and unit
//! tested without a server.
//!
//! It accepts what Go's `mime/multipart` writes (CRLF line endings) and also bare LF, takes the
//! `filename` parameter verbatim (no path stripping: a role name is validated, not sanitised), and
//! stops at the closing delimiter.

use crate::DecodeError;

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The form field name (`files` from Notary's client; ignored by the server).
    pub name: Option<String>,
    /// The `filename` parameter: the role name.
    pub filename: Option<String>,
    /// The part body.
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` (or `multipart/mixed`) content type, or `None` if the
/// content type is not multipart (Notary: `MALFORMED_UPLOAD`).
pub fn boundary(content_type: &str) -> Option<String> {
    let mut it = content_type.split(';');
    let media = it.next()?.trim().to_ascii_lowercase();
    if media != "multipart/form-data" && media != "multipart/mixed" {
        return None;
    }
    for param in it {
        let (k, v) = param.split_once('=')?;
        if k.trim().eq_ignore_ascii_case("boundary") {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v);
            if v.is_empty() || v.len() > 70 {
                return None;
            }
            return Some(v.to_owned());
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() || needle.is_empty() {
        return None;
    }
    // memmem, not a comparison at every offset: boundary searches scan the whole upload.
    memchr::memmem::find(&hay[from..], needle).map(|p| p + from)
}

fn err(msg: &str) -> DecodeError {
    DecodeError::Multipart(msg.to_owned())
}

/// The position of the line break before the next real delimiter at or after `from`: a line
/// that is `--boundary` followed by `--` or by optional whitespace and a line break (RFC 2046).
fn next_delimiter(body: &[u8], delim: &[u8], mut from: usize) -> Option<usize> {
    let pat = [b"\n".as_slice(), delim].concat();
    loop {
        let at = find(body, &pat, from)?;
        let after = &body[at + pat.len()..];
        let ws = after
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        let rest = &after[ws..];
        if after.starts_with(b"--") || rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            return Some(at);
        }
        from = at + 1;
    }
}

/// Parse a body into at most `max_parts` parts.
pub fn parse(body: &[u8], boundary: &str, max_parts: usize) -> Result<Vec<Part>, DecodeError> {
    let delim = format!("--{boundary}").into_bytes();
    // The first delimiter may be at the very start or after a preamble line.
    let mut pos = if body.starts_with(&delim) {
        0
    } else {
        find(body, &[b"\n".as_slice(), &delim].concat(), 0)
            .ok_or_else(|| err("no opening boundary"))?
            + 1
    };
    let mut parts = Vec::new();
    loop {
        pos += delim.len();
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        // Rest of the delimiter line (transport padding), then the line break.
        let eol = find(body, b"\n", pos).ok_or_else(|| err("unterminated boundary line"))?;
        if !body[pos..eol]
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r'))
        {
            return Err(err("garbage after boundary"));
        }
        pos = eol + 1;
        if parts.len() == max_parts {
            return Err(err("too many parts"));
        }
        // Headers, up to an empty line.
        let mut name = None;
        let mut filename = None;
        loop {
            let eol = find(body, b"\n", pos).ok_or_else(|| err("unterminated part headers"))?;
            let line = &body[pos..eol];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            pos = eol + 1;
            if line.is_empty() {
                break;
            }
            let line = std::str::from_utf8(line).map_err(|_| err("non-UTF-8 part header"))?;
            let (k, v) = line
                .split_once(':')
                .ok_or_else(|| err("malformed part header"))?;
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                let (n, f) = disposition(v)?;
                name = n;
                filename = f;
            }
        }
        // Body, up to the next delimiter preceded by a line break.
        let next = next_delimiter(body, &delim, pos).ok_or_else(|| err("unterminated part"))?;
        let mut end = next;
        if end > pos && body[end - 1] == b'\r' {
            end -= 1;
        }
        parts.push(Part {
            name,
            filename,
            data: body[pos..end].to_vec(),
        });
        pos = next + 1;
    }
}

/// Parse `form-data; name="files"; filename="targets/releases"` (RFC 7578 quoted strings with
/// backslash escapes, as Go's `mime.ParseMediaType` reads them).
fn disposition(v: &str) -> Result<(Option<String>, Option<String>), DecodeError> {
    let mut name = None;
    let mut filename = None;
    let mut rest = v.split_once(';').map(|x| x.1).unwrap_or("");
    while !rest.trim().is_empty() {
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| err("malformed Content-Disposition"))?;
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(q) = after.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut close = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        close = Some(i);
                        break;
                    }
                    c => out.push(c),
                }
            }
            let close = close.ok_or_else(|| err("unterminated quoted parameter"))?;
            (out, &q[close + 1..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        match key.as_str() {
            "name" => name = Some(value),
            "filename" => filename = Some(value),
            _ => {}
        }
        let t = remaining.trim_start();
        if t.is_empty() {
            break;
        }
        rest = t
            .strip_prefix(';')
            .ok_or_else(|| err("malformed Content-Disposition"))?;
    }
    Ok((name, filename))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in parts {
            out.extend_from_slice(
                format!("--B\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            );
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--B--\r\n");
        out
    }

    #[test]
    fn parses_go_style_body() {
        let b = body(&[("root", b"{\"a\":1}"), ("targets/releases", b"x\r\n--Bx")]);
        let parts = parse(&b, "B", 10).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].filename.as_deref(), Some("root"));
        assert_eq!(parts[0].data, b"{\"a\":1}");
        assert_eq!(parts[1].filename.as_deref(), Some("targets/releases"));
        assert_eq!(parts[1].data, b"x\r\n--Bx");
    }

    #[test]
    fn zero_parts_and_limits() {
        assert!(parse(b"--B--\r\n", "B", 10).unwrap().is_empty());
        let b = body(&[("a", b"1"), ("b", b"2")]);
        assert!(parse(&b, "B", 1).is_err());
        assert!(parse(b"--B\r\nContent-Disposition: form-data\r\n\r\nabc", "B", 10).is_err());
    }

    #[test]
    fn content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary("multipart/form-data; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("application/json"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn missing_filename() {
        let b = b"--B\r\nContent-Disposition: form-data; name=\"files\"\r\n\r\n{}\r\n--B--\r\n";
        let parts = parse(b, "B", 10).unwrap();
        assert_eq!(parts[0].filename, None);
    }
}

/// Encode `parts` (role name, file bytes) as Notary's client does: one part per file, field
/// `files`, `filename` = role, CRLF line endings. The caller picks a `boundary` that none of the
/// files contains; returns the content type and the body.
pub fn encode(parts: &[(&str, &[u8])], boundary: &str) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (role, data) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{role}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod encode_tests {
    #[test]
    fn encoded_bodies_parse_back() {
        let (ct, body) = super::encode(&[("root", b"{\"a\":1}"), ("targets", b"x\r\ny")], "b0und");
        let b = super::boundary(&ct).unwrap();
        let parts = super::parse(&body, &b, 10).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].filename.as_deref(), Some("root"));
        assert_eq!(parts[1].data, b"x\r\ny");
    }
}
