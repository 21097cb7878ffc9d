//! Role names in uploads.

/// Notary's `data.ValidRole`: a top-level role, or `targets/` followed by `[-a-z0-9_/]+`, under
/// 256 bytes, already in `path.Clean` form (no `..`, no empty segment, no trailing `/`).
pub fn valid_notary_role(name: &str) -> bool {
    if matches!(name, "root" | "targets" | "snapshot" | "timestamp") {
        return true;
    }
    let Some(rest) = name.strip_prefix("targets/") else {
        return false;
    };
    name.len() < 256
        && !rest.is_empty()
        && rest.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'/')
        })
        && rest
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// A TUF delegated role name Notus accepts: 1..=255 bytes, no control characters. Any other name
/// is legal TUF (python-tuf percent-encodes it in URLs, and so does Notus in object keys).
pub fn valid_tuf_role(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && !name.chars().any(char::is_control)
}

/// The role named by a multipart `filename`: a trailing `.json` is stripped, as notary-server does.
pub fn parse_role_filename(filename: &str) -> &str {
    filename.strip_suffix(".json").unwrap_or(filename)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notary_role_names() {
        for ok in [
            "root",
            "targets",
            "snapshot",
            "timestamp",
            "targets/releases",
            "targets/a/b-c_1",
        ] {
            assert!(valid_notary_role(ok), "{ok}");
        }
        for bad in [
            "bogus",
            "targets/",
            "targets/../x",
            "targets/A",
            "targets//x",
            "targets/x/",
            "Targets",
            "",
        ] {
            assert!(!valid_notary_role(bad), "{bad}");
        }
        assert!(!valid_notary_role(&format!("targets/{}", "a".repeat(260))));
        assert_eq!(parse_role_filename("root.json"), "root");
    }
}
