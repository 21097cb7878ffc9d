//! `GET /v2/{gun}/_trust/changefeed` and `GET /v2/_trust/changefeed`, with notary-server's
//! parameters (`records` required, `change_id` an exclusive cursor, negative values page
//! backwards) and response shape (Go field names, string IDs, oldest first).

use chrono::{DateTime, Utc};
use notus_tuf::canonical::go_string;

use super::{ApiResult, Service, backend, invalid_parameters};
use crate::ports::{Change, ChangeQuery};

/// notary's `DefaultPageSize`, used for `records=0`.
pub const DEFAULT_PAGE: usize = 100;

/// Largest page served (notary-server has none; a bound keeps one request cheap).
pub const MAX_PAGE: usize = 1000;

/// Go's `strconv.ParseInt(s, 10, 32)`, with its error text.
fn parse_go_int32(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            go_string(s)
        ));
    }
    match s.parse::<i64>() {
        Ok(v) if (i32::MIN as i64..=i32::MAX as i64).contains(&v) => Ok(v),
        _ => Err(format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_string(s)
        )),
    }
}

/// Parse the query string into a ledger query, with Notary's errors.
pub fn parse_query(gun: Option<&str>, query: Option<&str>) -> ApiResult<ChangeQuery> {
    let mut records = None;
    let mut change_id = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_encoding::percent_decode_str(&v.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        // Go's url.Values.Get returns the first value.
        match k {
            "records" if records.is_none() => records = Some(v),
            "change_id" if change_id.is_none() => change_id = Some(v),
            _ => {}
        }
    }
    let records = parse_go_int32(records.as_deref().unwrap_or(""))
        .map_err(|e| invalid_parameters(go_string(&format!("invalid records parameter: {e}"))))?;
    let id = match change_id.as_deref() {
        None | Some("") => 0,
        Some(s) => parse_go_int32(s).map_err(|_| invalid_parameters("{}".into()))?,
    };
    let backward = id < 0 || records < 0;
    let limit = match records.unsigned_abs() as usize {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    };
    Ok(ChangeQuery {
        gun: gun.map(str::to_owned),
        after: (id > 0).then_some(id as u64),
        limit,
        backward,
    })
}

/// Go's `time.RFC3339Nano` in UTC (fraction without trailing zeros).
fn rfc3339_nano(t: DateTime<Utc>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

/// The response body.
pub fn render(changes: &[Change]) -> Vec<u8> {
    let mut out = format!("{{\"count\":{},\"records\":[", changes.len());
    for (i, c) in changes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "{{\"ID\":\"{}\",\"CreatedAt\":\"{}\",\"GUN\":{},\"Version\":{},\"SHA256\":\"{}\",\"Category\":\"{}\"}}",
            c.id,
            rfc3339_nano(c.change.created_at),
            go_string(&c.gun),
            c.change.version,
            c.change.sha256,
            c.change.category.as_str()
        ));
    }
    out.push_str("]}");
    out.into_bytes()
}

/// Serve a page of the feed.
pub async fn changefeed(
    svc: &Service,
    gun: Option<&str>,
    query: Option<&str>,
) -> ApiResult<Vec<u8>> {
    let q = parse_query(gun, query)?;
    let changes = svc.ledger.changes(&q).await.map_err(backend)?;
    Ok(render(&changes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_errors_match_notary() {
        let e = parse_query(None, Some("change_id=1")).unwrap_err();
        assert_eq!(
            String::from_utf8(e.body()).unwrap(),
            "{\"errors\":[{\"code\":\"INVALID_PARAMETERS\",\"message\":\"The parameters provided are not valid.\",\"detail\":\"invalid records parameter: strconv.ParseInt: parsing \\\"\\\": invalid syntax\"}]}\n"
        );
        let e = parse_query(None, Some("records=10&change_id=x")).unwrap_err();
        assert_eq!(e.detail.as_deref(), Some("{}"));
        assert!(parse_query(None, Some("records=99999999999")).is_err());
    }

    #[test]
    fn paging() {
        let q = parse_query(Some("g"), Some("records=0")).unwrap();
        assert_eq!((q.limit, q.after, q.backward), (DEFAULT_PAGE, None, false));
        let q = parse_query(None, Some("records=-5&change_id=-1")).unwrap();
        assert_eq!((q.limit, q.after, q.backward), (5, None, true));
        let q = parse_query(None, Some("records=3&change_id=7")).unwrap();
        assert_eq!((q.limit, q.after, q.backward), (3, Some(7), false));
    }

    #[test]
    fn go_time() {
        let t = DateTime::parse_from_rfc3339("2026-11-25T18:26:18.408081900Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(rfc3339_nano(t), "2026-11-25T18:26:18.4080819Z");
    }
}
