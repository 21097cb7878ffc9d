//! Where things live in the bucket, and which names are safe. Pure.
//!
//! Object keys equal URL paths without the leading slash, so a CDN (or any static web server
//! over a copy of the bucket) maps reads 1:1:
//!
//! | file | notary collection | tuf collection |
//! |---|---|---|
//! | by hash (immutable) | `{role}.{sha256}.json` | `{role}.{sha256}.json` |
//! | by version (immutable) | `{v}.{role}.json` | `{v}.{role}.json` |
//! | current (mutable) | `{role}.json` for every role | `timestamp.json`, `root.json` |
//!
//! all below `v2/{gun}/_trust/tuf/`. TUF collections get no other current names because TUF
//! role names are free-form and `{role}.json` could equal another role's versioned name; TUF
//! delegated role names may not start with a digit for the same reason (the validator refuses
//! them before anything is written).

use notus_tuf::Dialect;

use crate::ports::ObjectHeaders;

/// The prefix of every object of a collection.
pub fn collection_prefix(gun: &str) -> String {
    format!("v2/{gun}/_trust/tuf/")
}

/// `{role}.{sha256}.json`: content-addressed, written before the commit.
pub fn hashed_key(gun: &str, role: &str, sha256_hex: &str) -> String {
    format!("v2/{gun}/_trust/tuf/{role}.{sha256_hex}.json")
}

/// `{v}.{role}.json`: written once, by the publish that committed that version.
pub fn versioned_key(gun: &str, role: &str, version: u64) -> String {
    format!("v2/{gun}/_trust/tuf/{version}.{role}.json")
}

/// `{role}.json`: the mutable name readers start from.
pub fn current_key(gun: &str, role: &str) -> String {
    format!("v2/{gun}/_trust/tuf/{role}.json")
}

/// Whether a collection of `dialect` keeps a mutable `{role}.json` for `role`.
pub fn has_current_name(dialect: Dialect, role: &str) -> bool {
    dialect == Dialect::Notary || matches!(role, "timestamp" | "root")
}

/// What kind of name a metadata file has: decides its cache lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// `{role}.json`: changes with every publish.
    Current,
    /// `{role}.{sha}.json` or `{v}.{role}.json`: never changes.
    Immutable,
}

/// Cache lifetimes (Notary's `caching.max_age`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Seconds for current names (Notary default 300).
    pub current_max_age: u64,
    /// Seconds for hashed/versioned names (Notary default 30 days).
    pub immutable_max_age: u64,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            current_max_age: 300,
            immutable_max_age: 2_592_000,
        }
    }
}

/// `Content-Type` of metadata, as notary-server sends it (Go content sniffing).
pub const METADATA_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

impl CachePolicy {
    /// `Cache-Control` for a name of this kind, exactly as notary-server writes it.
    pub fn cache_control(&self, kind: NameKind) -> String {
        let (age, suffix) = match kind {
            NameKind::Current => (self.current_max_age, ", must-revalidate"),
            NameKind::Immutable => (self.immutable_max_age, ""),
        };
        if age == 0 {
            "max-age=0, no-cache, no-store".to_owned()
        } else {
            format!("public, max-age={age}, s-maxage={age}{suffix}")
        }
    }

    /// Headers stored with an object of this kind.
    pub fn headers(&self, kind: NameKind) -> ObjectHeaders {
        ObjectHeaders {
            content_type: METADATA_CONTENT_TYPE,
            cache_control: self.cache_control(kind),
        }
    }
}

/// Why a GUN is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid GUN: {0}")]
pub struct BadGun(pub &'static str);

/// Longest GUN accepted (Notary's database column is 255).
pub const MAX_GUN_LEN: usize = 255;

/// A GUN Notus stores: 1..=255 bytes of printable non-space ASCII other than `*`, `\`, `%`, `?`
/// and `#`; `/`-separated segments that are non-empty and not `.`, `..` or `_trust`. Anything
/// else could escape its prefix in the bucket or be read differently by a CDN.
pub fn check_gun(gun: &str) -> Result<(), BadGun> {
    if gun.is_empty() {
        return Err(BadGun("empty"));
    }
    if gun.len() > MAX_GUN_LEN {
        return Err(BadGun("longer than 255 bytes"));
    }
    if !gun
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'*' | b'\\' | b'%' | b'?' | b'#'))
    {
        return Err(BadGun(
            "contains a character outside printable ASCII or one of * \\ % ? #",
        ));
    }
    for seg in gun.split('/') {
        match seg {
            "" => return Err(BadGun("has an empty path segment")),
            "." | ".." => return Err(BadGun("has a . or .. segment")),
            "_trust" => return Err(BadGun("has a _trust segment")),
            _ => {}
        }
    }
    Ok(())
}

/// Whether a role name is safe inside an object key of a collection of `dialect`: Notary names
/// are already restricted by the validator; TUF names must not start with a digit (see the
/// module doc), must not contain `\`, and their `/`-segments must not be empty, `.` or `..`.
pub fn role_name_is_storable(dialect: Dialect, role: &str) -> bool {
    dialect == Dialect::Notary
        || (!role.starts_with(|c: char| c.is_ascii_digit())
            && !role.contains('\\')
            && role
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".."))
}

/// A metadata file name in a GET, classified. The version form is normalised (`01.root.json`
/// is version 1, as in notary-server); `0.{role}.json` is not a name.
pub fn classify_file(file: &str) -> Option<(String, NameKind)> {
    let stem = file.strip_suffix(".json")?;
    if stem.is_empty() || stem.contains('\\') || stem.split('/').any(|s| s.is_empty() || s == "..")
    {
        return None;
    }
    if let Some((v, role)) = stem.split_once('.')
        && !v.is_empty()
        && v.bytes().all(|b| b.is_ascii_digit())
        && !role.is_empty()
    {
        let trimmed = v.trim_start_matches('0');
        if trimmed.is_empty() {
            return None;
        }
        return Some((format!("{trimmed}.{role}.json"), NameKind::Immutable));
    }
    if let Some((_, hash)) = stem.rsplit_once('.')
        && matches!(hash.len(), 64 | 96 | 128)
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Some((file.to_owned(), NameKind::Immutable));
    }
    Some((file.to_owned(), NameKind::Current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guns() {
        for ok in [
            "example.com/repo",
            "docker.io/library/alpine",
            "a",
            "a-b_c.d:1",
        ] {
            assert_eq!(check_gun(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a//b",
            "/a",
            "a/",
            "a/../b",
            "./a",
            "a/_trust/b",
            "a b",
            "a*",
            "a%2e",
            "a\\b",
            "é",
            "a\u{7f}",
        ] {
            assert!(check_gun(bad).is_err(), "{bad:?}");
        }
        assert!(check_gun(&"a".repeat(256)).is_err());
        assert!(check_gun(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn names() {
        assert_eq!(
            hashed_key("g/x", "targets/a", "ab"),
            "v2/g/x/_trust/tuf/targets/a.ab.json"
        );
        assert_eq!(versioned_key("g", "root", 3), "v2/g/_trust/tuf/3.root.json");
        assert_eq!(
            current_key("g", "timestamp"),
            "v2/g/_trust/tuf/timestamp.json"
        );
        let sha = "a".repeat(64);
        assert_eq!(
            classify_file(&format!("targets.{sha}.json")),
            Some((format!("targets.{sha}.json"), NameKind::Immutable))
        );
        assert_eq!(
            classify_file("01.root.json"),
            Some(("1.root.json".into(), NameKind::Immutable))
        );
        assert_eq!(classify_file("0.root.json"), None);
        assert_eq!(
            classify_file("timestamp.json"),
            Some(("timestamp.json".into(), NameKind::Current))
        );
        assert_eq!(classify_file("timestamp.key"), None);
        assert_eq!(classify_file("targets/../x.json"), None);
        assert!(!role_name_is_storable(Dialect::Tuf, "1.targets"));
        assert!(!role_name_is_storable(Dialect::Tuf, "a/../b"));
        assert!(role_name_is_storable(Dialect::Tuf, "role-a"));
    }

    #[test]
    fn cache_control_matches_notary() {
        let p = CachePolicy::default();
        assert_eq!(
            p.cache_control(NameKind::Current),
            "public, max-age=300, s-maxage=300, must-revalidate"
        );
        assert_eq!(
            p.cache_control(NameKind::Immutable),
            "public, max-age=2592000, s-maxage=2592000"
        );
        let zero = CachePolicy {
            current_max_age: 0,
            immutable_max_age: 0,
        };
        assert_eq!(
            zero.cache_control(NameKind::Current),
            "max-age=0, no-cache, no-store"
        );
    }
}
