//! Time is always an input. This module only parses and formats the two `expires` forms:
//! Notary's Go `time.Time` JSON (RFC 3339 with nanoseconds, trailing zeros trimmed) and TUF's
//! `YYYY-MM-DDTHH:MM:SSZ`.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::DecodeError;

/// The engine's time type (UTC). Callers convert their clock reading once and pass it in.
pub type Now = DateTime<Utc>;

/// Parse an RFC 3339 timestamp.
pub fn parse(s: &str) -> Result<DateTime<Utc>, DecodeError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| DecodeError::Date(s.to_owned()))
}

/// Go's `time.Time` JSON form in UTC: RFC 3339 with up to nine fractional digits, trailing zeros
/// trimmed (`2036-11-22T18:25:42.922384591Z`, `2029-11-24T18:38:48Z`).
pub fn format_go(t: DateTime<Utc>) -> String {
    let s = t.to_rfc3339_opts(SecondsFormat::Nanos, true);
    // s = "...:SS.nnnnnnnnnZ"
    match s.find('.') {
        Some(dot) => {
            let frac = s[dot + 1..s.len() - 1].trim_end_matches('0');
            if frac.is_empty() {
                format!("{}Z", &s[..dot])
            } else {
                format!("{}.{}Z", &s[..dot], frac)
            }
        }
        None => s,
    }
}

/// TUF's form: whole seconds, `Z`.
pub fn format_tuf(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Notary's error-message form of a time (Go `time.Time.String()`-like, as in
/// `root expired at Tue Nov 24 18:40:32 UTC 2026`).
pub fn format_notary_message(t: DateTime<Utc>) -> String {
    t.format("%a %b %e %H:%M:%S UTC %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_form_trims_zeros() {
        let t = parse("2029-11-24T18:38:48.291743000Z").unwrap();
        assert_eq!(format_go(t), "2029-11-24T18:38:48.291743Z");
        let t = parse("2029-11-24T18:38:48Z").unwrap();
        assert_eq!(format_go(t), "2029-11-24T18:38:48Z");
        assert_eq!(format_tuf(t), "2029-11-24T18:38:48Z");
        assert_eq!(
            format_notary_message(parse("2026-11-24T18:40:32Z").unwrap()),
            "Tue Nov 24 18:40:32 UTC 2026"
        );
    }
}
