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

/// HTTP(S) with `ureq`.
pub struct Http {
    agent: ureq::Agent,
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
        Http { agent }
    }
}

impl Transport for Http {
    fn fetch(&self, url: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
        let network = |e: ureq::Error| FetchError::Network {
            url: url.to_owned(),
            reason: e.to_string(),
        };
        let mut response = self.agent.get(url).call().map_err(network)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status,
            });
        }
        // Read one byte past the limit so "exactly the limit" and "longer" can be told apart.
        let body = response
            .body_mut()
            .with_config()
            .limit(limit.saturating_add(1))
            .read_to_vec()
            .map_err(network)?;
        if body.len() as u64 > limit {
            return Err(FetchError::TooLong {
                url: url.to_owned(),
                limit,
            });
        }
        Ok(body)
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
