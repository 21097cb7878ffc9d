//! Fetching bytes over HTTP(S), with a size limit on every body (TUF's endless-data defence).
//!
//! One blocking `ureq` agent (rustls + ring, the same TLS stack as the service). The updater only
//! sees the [`Transport`] trait, so the whole client workflow is independent of how bytes arrive.
use std::time::Duration;

/// Why a fetch failed. The updater treats `Status(403 | 404)` as "no such file" (the end of the
/// root chain); everything else is an error.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with a non-success status.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The URL fetched.
        url: String,
        /// Its status code.
        status: u16,
    },
    /// The body was longer than allowed.
    #[error("{url}: response longer than the {limit}-byte limit")]
    TooLong {
        /// The URL fetched.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The connection or the request failed.
    #[error("{url}: {reason}")]
    Network {
        /// The URL fetched.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

impl FetchError {
    /// Whether the server said the file does not exist (403 or 404, as python-tuf treats them).
    pub fn is_missing(&self) -> bool {
        matches!(
            self,
            FetchError::Status {
                status: 403 | 404,
                ..
            }
        )
    }
}

/// Where metadata and artifacts come from.
pub trait Transport {
    /// GET `url`, reading at most `limit` bytes of body.
    fn fetch(&self, url: &str, limit: u64) -> Result<Vec<u8>, FetchError>;
}

/// HTTP(S) with `ureq`, answering notary-server's token challenges: a `401` with
/// `Www-Authenticate: Bearer realm=…,service=…,scope=…` sends it to the token service (with
/// `NOTUS_AUTH`, or Notary's `NOTARY_AUTH`, = base64(user:password) as Basic credentials, else
/// anonymously) and the request is repeated once with the token.
pub struct Http {
    agent: ureq::Agent,
    basic: Option<String>,
    token: std::cell::RefCell<Option<String>>,
}

/// One request's answer: status and body (at most the limit + 1 bytes).
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Vec<u8>,
}

/// `key="value"` pairs of a challenge.
fn challenge_params(header: &str) -> Option<std::collections::BTreeMap<String, String>> {
    let rest = header.strip_prefix("Bearer ")?;
    let mut out = std::collections::BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('"') {
            return None;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.extend(chars.next()),
                '"' => break,
                c => value.push(c),
            }
        }
        out.insert(key.trim().trim_start_matches(',').trim().to_owned(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    Some(out)
}

impl Http {
    /// An agent with a whole-request timeout, so a stalled server cannot hang a client forever
    /// (TUF's slow-retrieval attack).
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("notus/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let basic = std::env::var("NOTUS_AUTH")
            .or_else(|_| std::env::var("NOTARY_AUTH"))
            .ok()
            .filter(|v| !v.is_empty());
        Http {
            agent,
            basic,
            token: std::cell::RefCell::new(None),
        }
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        content_type: Option<&str>,
        body: &[u8],
        limit: u64,
    ) -> Result<(Answer, Option<String>), ureq::Error> {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        if let Some(t) = self.token.borrow().as_ref() {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let req = req
            .body(body.to_vec())
            .map_err(|e| ureq::Error::BadUri(e.to_string()))?;
        let mut resp = self.agent.run(req)?;
        let status = resp.status().as_u16();
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp
            .body_mut()
            .with_config()
            .limit(limit.saturating_add(1))
            .read_to_vec()?;
        Ok((Answer { status, body }, challenge))
    }

    /// Get a token for the challenge from its token service.
    fn fetch_token(&self, challenge: &str) -> Option<String> {
        let p = challenge_params(challenge)?;
        let realm = p.get("realm")?;
        let mut url = format!(
            "{realm}?service={}",
            quote_all(p.get("service").map(String::as_str).unwrap_or(""))
        );
        if let Some(scope) = p.get("scope") {
            url.push_str(&format!("&scope={}", quote_all(scope)));
        }
        let mut req = self.agent.get(&url);
        if let Some(b) = &self.basic {
            if let Some(user) = notus_tuf::b64_decode(b, "NOTUS_AUTH")
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .and_then(|s| s.split_once(':').map(|(u, _)| u.to_owned()))
            {
                url.push_str(&format!("&account={}", quote_all(&user)));
                req = self.agent.get(&url);
            }
            req = req.header("Authorization", &format!("Basic {b}"));
        }
        let mut resp = req.call().ok()?;
        if resp.status().as_u16() != 200 {
            return None;
        }
        let v: serde_json::Value =
            serde_json::from_slice(&resp.body_mut().read_to_vec().ok()?).ok()?;
        v["token"]
            .as_str()
            .or(v["access_token"].as_str())
            .map(str::to_owned)
    }

    /// One request, repeated once with a token if the server challenges it.
    pub fn call(
        &self,
        method: &str,
        url: &str,
        content_type: Option<&str>,
        body: &[u8],
        limit: u64,
    ) -> Result<Answer, FetchError> {
        let network = |e: ureq::Error| FetchError::Network {
            url: url.to_owned(),
            reason: e.to_string(),
        };
        let (answer, challenge) = self
            .send(method, url, content_type, body, limit)
            .map_err(network)?;
        if answer.status == 401
            && let Some(token) = challenge.as_deref().and_then(|c| self.fetch_token(c))
        {
            *self.token.borrow_mut() = Some(token);
            return Ok(self
                .send(method, url, content_type, body, limit)
                .map_err(network)?
                .0);
        }
        Ok(answer)
    }
}

impl Transport for Http {
    fn fetch(&self, url: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
        let answer = self.call("GET", url, None, &[], limit)?;
        if !(200..300).contains(&answer.status) {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: answer.status,
            });
        }
        // One byte past the limit was read so "exactly the limit" and "longer" differ.
        if answer.body.len() as u64 > limit {
            return Err(FetchError::TooLong {
                url: url.to_owned(),
                limit,
            });
        }
        Ok(answer.body)
    }
}

/// Percent-encode `s` as Python's `urllib.parse.quote(s, safe="")` does: everything except
/// `A–Z a–z 0–9 _ . - ~` becomes `%XX` (UTF-8 bytes). Used for role names in URLs and in cache
/// file names, so `../x` or `a/b` can never leave the metadata directory.
pub fn quote_all(s: &str) -> String {
    quote(s, b"")
}

/// Percent-encode a target path for a URL: `/` stays a separator; anything that is not a plain
/// URL path character (spaces, `?`, `#`, `%`, non-ASCII…) is escaped so the request names
/// exactly the target.
pub fn quote_path(s: &str) -> String {
    quote(s, b"/!$&'()*+,;=:@")
}

fn quote(s: &str, safe: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_all_matches_python_quote_with_empty_safe() {
        assert_eq!(quote_all("targets"), "targets");
        assert_eq!(quote_all("../delegatedrole"), "..%2Fdelegatedrole");
        assert_eq!(quote_all("/x"), "%2Fx");
        assert_eq!(quote_all("?"), "%3F");
        assert_eq!(quote_all("#"), "%23");
        assert_eq!(quote_all("a b~"), "a%20b~");
        assert_eq!(quote_all("é"), "%C3%A9");
    }

    #[test]
    fn quote_path_keeps_separators() {
        assert_eq!(quote_path("dir/sub/file.tar.gz"), "dir/sub/file.tar.gz");
        assert_eq!(quote_path("a b/c?d#e%"), "a%20b/c%3Fd%23e%25");
    }
}
