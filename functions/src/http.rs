//! The one HTTP router: `http::Request` in, `http::Response` out. The Lambda entry point and
//! `notus-server` both call [`handle`]; neither adds routes of its own.
//!
//! Routes and responses follow notary-server 0.7 (reference API §3): same paths, status codes,
//! error envelope, `text/plain` JSON bodies, cache headers and a catch-all `404` without detail.

use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use notus_tuf::server::NotaryError;

use crate::layout::{self, NameKind};
use crate::ops::{self, ApiResult, Service, keys::KeyRole};
use crate::ports::Object;

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// The route a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Base,
    Health,
    GlobalFeed,
    Feed(String),
    Upload(String),
    Delete(String),
    GetKey(String, KeyRole),
    RotateKey(String, KeyRole),
    Metadata(String, String),
    NotFound,
}

fn route(method: &Method, path: &str) -> Route {
    let get = method == Method::GET;
    match path {
        "/v2/" if get => return Route::Base,
        "/_notary_server/health" if get => return Route::Health,
        "/v2/_trust/changefeed" if get => return Route::GlobalFeed,
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Route::NotFound;
    };
    if let Some(gun) = rest.strip_suffix("/_trust/changefeed") {
        return if get {
            Route::Feed(gun.to_owned())
        } else {
            Route::NotFound
        };
    }
    let Some((gun, file)) = rest.split_once("/_trust/tuf/") else {
        return Route::NotFound;
    };
    let gun = gun.to_owned();
    let key_role = match file {
        "timestamp.key" => Some(KeyRole::Timestamp),
        "snapshot.key" => Some(KeyRole::Snapshot),
        _ => None,
    };
    match (method, file, key_role) {
        (&Method::POST, "", _) => Route::Upload(gun),
        (&Method::DELETE, "", _) => Route::Delete(gun),
        (&Method::GET, _, Some(k)) => Route::GetKey(gun, k),
        (&Method::POST, _, Some(k)) => Route::RotateKey(gun, k),
        (&Method::GET, f, None) if !f.is_empty() => Route::Metadata(gun, f.to_owned()),
        _ => Route::NotFound,
    }
}

fn respond(status: StatusCode, content_type: Option<&'static str>, body: Bytes) -> Response<Bytes> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    if let Some(ct) = content_type {
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    r
}

/// A Notary error response.
pub fn error_response(e: &NotaryError) -> Response<Bytes> {
    respond(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Some(JSON),
        Bytes::from(e.body()),
    )
}

/// Notary's catch-all: `404 METADATA_NOT_FOUND` without detail.
fn catch_all() -> Response<Bytes> {
    error_response(&NotaryError::new(
        404,
        "METADATA_NOT_FOUND",
        "You have requested metadata that does not exist.",
        None,
    ))
}

fn text(body: impl Into<Bytes>) -> Response<Bytes> {
    respond(StatusCode::OK, Some(TEXT), body.into())
}

/// Go's `http.TimeFormat` with the zone notary-server prints (`UTC`).
fn last_modified(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S UTC").to_string()
}

fn metadata_response(svc: &Service, obj: Object, kind: NameKind) -> Response<Bytes> {
    let mut r = text(obj.bytes);
    let h = r.headers_mut();
    let cache_control = svc.config.cache.cache_control(kind);
    if cache_control.contains("no-cache") {
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    if let Ok(v) = HeaderValue::from_str(&cache_control) {
        h.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(&last_modified(obj.last_modified)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    r
}

fn result<T>(r: ApiResult<T>, ok: impl FnOnce(T) -> Response<Bytes>) -> Response<Bytes> {
    match r {
        Ok(v) => ok(v),
        Err(e) => error_response(&e),
    }
}

/// `400 INVALID_GUN` for writes to a GUN Notus will not store (`detail`: a JSON string).
fn invalid_gun(detail: String) -> Response<Bytes> {
    error_response(&NotaryError::new(
        400,
        "INVALID_GUN",
        "The server does not support actions on images of this name.",
        Some(detail),
    ))
}

/// The scope a route needs, as notary-server asks for it (`None`: open, e.g. health).
fn required_scope(r: &Route) -> Option<notus_tuf::auth::Scope> {
    use notus_tuf::auth::Scope;
    Some(match r {
        Route::Base | Route::GlobalFeed => Scope::catalog(),
        Route::Feed(g) | Route::Metadata(g, _) => Scope::repository(g, &["pull"]),
        Route::Upload(g) | Route::GetKey(g, _) => Scope::repository(g, &["push", "pull"]),
        Route::RotateKey(g, _) | Route::Delete(g) => Scope::repository(g, &["*"]),
        Route::Health | Route::NotFound => return None,
    })
}

/// `401` with the challenge that sends a Notary client to the token service.
fn unauthorized(auth: &crate::ops::AuthConfig, scope: &notus_tuf::auth::Scope) -> Response<Bytes> {
    use notus_tuf::canonical::go_string;
    let detail: Vec<String> = scope
        .actions
        .iter()
        .map(|a| {
            format!(
                "{{\"Type\":{},\"Class\":\"\",\"Name\":{},\"Action\":{}}}",
                go_string(scope.kind),
                go_string(&scope.name),
                go_string(a)
            )
        })
        .collect();
    let mut resp = error_response(&NotaryError::new(
        401,
        "UNAUTHORIZED",
        "authentication required",
        Some(format!("[{}]", detail.join(","))),
    ));
    let challenge = format!(
        "Bearer realm={},service={},scope={}",
        go_string(&auth.realm),
        go_string(&auth.policy.service),
        go_string(&scope.to_challenge())
    );
    if let Ok(v) = http::HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// Serve one request.
pub async fn handle(svc: &Service, req: Request<Bytes>) -> Response<Bytes> {
    let started = Instant::now();
    let method = req.method().clone();
    let raw_path = req.uri().path().to_owned();
    let response = dispatch(svc, req).await;
    tracing::info!(
        method = %method,
        path = raw_path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

async fn dispatch(svc: &Service, req: Request<Bytes>) -> Response<Bytes> {
    // Paths are matched decoded, as Go's router does.
    let Ok(path) = percent_encoding::percent_decode_str(req.uri().path()).decode_utf8() else {
        return catch_all();
    };
    let r = route(req.method(), &path);
    let gun = match &r {
        Route::Feed(g)
        | Route::Upload(g)
        | Route::Delete(g)
        | Route::GetKey(g, _)
        | Route::RotateKey(g, _)
        | Route::Metadata(g, _) => Some(g.as_str()),
        _ => None,
    };
    if let Some(g) = gun {
        // Refused before any I/O: a malformed GUN, or one outside the allowed prefixes.
        let refusal = match layout::check_gun(g) {
            Err(e) => Some(notus_tuf::canonical::go_string(&e.to_string())),
            Ok(()) if !svc.config.gun_allowed(g) => {
                Some(notus_tuf::canonical::go_string(&format!(
                    "Require GUNs with prefix: [{}]",
                    svc.config.gun_prefixes.join(" ")
                )))
            }
            Ok(()) => None,
        };
        if let Some(detail) = refusal {
            return match r {
                // A key GET assigns a key: it is a write for this purpose.
                Route::Upload(_) | Route::Delete(_) | Route::RotateKey(..) | Route::GetKey(..) => {
                    invalid_gun(detail)
                }
                _ => catch_all(),
            };
        }
    }
    if let Some(auth) = &svc.config.auth
        && let Some(scope) = required_scope(&r)
    {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let verdict = match token {
            None => Err(notus_tuf::auth::AuthError::Missing),
            Some(t) => notus_tuf::auth::authorize(t, &auth.policy, &scope, svc.now()),
        };
        if let Err(e) = verdict {
            tracing::info!(reason = %e, scope = scope.to_challenge(), "unauthorized");
            return unauthorized(auth, &scope);
        }
    }
    match r {
        Route::Base => text("{}"),
        Route::Health => respond(StatusCode::OK, Some(JSON), Bytes::from_static(b"{}")),
        Route::GlobalFeed => result(
            ops::changefeed::changefeed(svc, None, req.uri().query()).await,
            text,
        ),
        Route::Feed(g) => result(
            ops::changefeed::changefeed(svc, Some(&g), req.uri().query()).await,
            text,
        ),
        Route::Upload(g) => {
            let ct = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            result(
                ops::publish::publish(svc, &g, &ct, req.body()).await,
                |()| respond(StatusCode::OK, None, Bytes::new()),
            )
        }
        Route::Delete(g) => result(ops::delete::delete(svc, &g).await, |()| {
            respond(StatusCode::OK, None, Bytes::new())
        }),
        Route::GetKey(g, k) => result(ops::keys::get_key(svc, &g, k).await, |key| {
            text(ops::keys::key_json(&key))
        }),
        Route::RotateKey(g, k) => result(ops::keys::rotate_key(svc, &g, k).await, |key| {
            text(ops::keys::key_json(&key))
        }),
        Route::Metadata(g, f) => match ops::read::get_metadata(svc, &g, &f).await {
            None => catch_all(),
            Some(r) => result(r, |(obj, kind)| metadata_response(svc, obj, kind)),
        },
        Route::NotFound => catch_all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let g = || "example.com/a".to_owned();
        assert_eq!(route(&Method::GET, "/v2/"), Route::Base);
        assert_eq!(route(&Method::POST, "/v2/"), Route::NotFound);
        assert_eq!(
            route(&Method::POST, "/v2/example.com/a/_trust/tuf/"),
            Route::Upload(g())
        );
        assert_eq!(
            route(&Method::DELETE, "/v2/example.com/a/_trust/tuf/"),
            Route::Delete(g())
        );
        assert_eq!(
            route(&Method::GET, "/v2/example.com/a/_trust/tuf/timestamp.key"),
            Route::GetKey(g(), KeyRole::Timestamp)
        );
        assert_eq!(
            route(&Method::POST, "/v2/example.com/a/_trust/tuf/snapshot.key"),
            Route::RotateKey(g(), KeyRole::Snapshot)
        );
        assert_eq!(
            route(&Method::GET, "/v2/example.com/a/_trust/tuf/targets/x.json"),
            Route::Metadata(g(), "targets/x.json".into())
        );
        assert_eq!(
            route(&Method::HEAD, "/v2/example.com/a/_trust/tuf/root.json"),
            Route::NotFound
        );
        assert_eq!(
            route(&Method::GET, "/v2/example.com/a/_trust/changefeed"),
            Route::Feed(g())
        );
        assert_eq!(
            route(&Method::GET, "/v2/_trust/changefeed"),
            Route::GlobalFeed
        );
        assert_eq!(route(&Method::GET, "/metrics"), Route::NotFound);
    }

    #[test]
    fn go_last_modified() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-25T18:25:57Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(last_modified(t), "Wed, 25 Nov 2026 18:25:57 UTC");
    }
}
