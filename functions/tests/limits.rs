//! Limits against endless data and slow clients: too many targets or delegations in one role, and
//! a client that sends its request too slowly. Each is refused with a clear error and changes
//! nothing.
mod common;

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use common::{embedded_backend, multipart, request};
use notus_service::Config;
use serde_json::json;

/// POST `parts` as an upload to `gun`: the status and the body's text.
async fn upload(
    svc: &notus_service::ops::Service,
    gun: &str,
    parts: &[(&str, &[u8])],
) -> (u16, String) {
    let (ct, body) = multipart(parts);
    let r = request(
        svc,
        "POST",
        &format!("/v2/{gun}/_trust/tuf/"),
        Some(&ct),
        body,
    )
    .await;
    (
        r.status().as_u16(),
        String::from_utf8_lossy(r.body()).into_owned(),
    )
}

#[tokio::test]
async fn too_many_targets_or_delegations_are_refused_before_validation() {
    let b = embedded_backend(Config {
        max_targets: 2,
        max_delegations: 1,
        ..Config::default()
    });
    let svc = &b.svc;
    let t = json!({"length": 1, "hashes": {"sha256": "AA=="}});
    let targets = json!({"signed": {"_type": "targets", "targets": {"a": t, "b": t, "c": t}}, "signatures": []});
    let (status, detail) = upload(
        svc,
        "example.com/big",
        &[("targets", targets.to_string().as_bytes())],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        detail.contains("targets lists 3 targets; the limit is 2"),
        "{detail}"
    );

    let role = |n: &str| json!({"name": n, "keyids": [], "threshold": 1, "paths": [""]});
    let deleg = json!({"signed": {"_type": "targets", "targets": {},
        "delegations": {"keys": {}, "roles": [role("targets/a"), role("targets/b")]}}, "signatures": []});
    let (status, detail) = upload(
        svc,
        "example.com/big",
        &[("targets", deleg.to_string().as_bytes())],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        detail.contains("makes 2 delegations; the limit is 1"),
        "{detail}"
    );
    assert!(
        svc.store.list("").await.unwrap().is_empty(),
        "nothing stored"
    );
    assert!(svc.ledger.head("example.com/big").await.unwrap().is_none());
}

/// The service on a loopback port with a short request timeout.
fn serve_with_timeout(timeout: Duration) -> (std::net::SocketAddr, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let b = embedded_backend(Config {
        request_timeout: timeout,
        ..Config::default()
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let _keep = b;
        let svc = _keep.svc.clone();
        notus_service::serve::serve(listener, svc, std::future::pending()).await
    });
    (addr, rt)
}

#[test]
fn a_slow_client_is_cut_off() {
    let (addr, _rt) = serve_with_timeout(Duration::from_millis(800));
    // Headers arrive, then the body stalls after 10 of 100 bytes.
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    s.write_all(
        b"POST /v2/example.com/slow/_trust/tuf/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\
          Content-Type: multipart/form-data; boundary=b\r\n\r\n0123456789",
    )
    .unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp:?}");
    assert!(resp.contains("REQUEST_TIMEOUT"), "{resp}");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "cut off after {waited:?}");

    // Headers that never finish: the connection is closed.
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text:?}"
    );
}

#[tokio::test]
async fn too_many_parts_or_bytes_are_refused() {
    let b = embedded_backend(Config {
        max_parts: 3,
        max_upload_bytes: 4096,
        ..Config::default()
    });
    let svc = &b.svc;
    let parts: Vec<(String, Vec<u8>)> = (0..4)
        .map(|i| (format!("targets/r{i}"), b"{}".to_vec()))
        .collect();
    let refs: Vec<(&str, &[u8])> = parts
        .iter()
        .map(|(r, d)| (r.as_str(), d.as_slice()))
        .collect();
    let (status, detail) = upload(svc, "example.com/parts", &refs).await;
    assert_eq!(status, 400, "{detail}");
    let big = vec![b'x'; 5000];
    let (status, detail) = upload(svc, "example.com/parts", &[("targets", &big)]).await;
    assert_eq!(status, 400);
    assert!(
        detail.contains("exceeds the limit of 4096 bytes"),
        "{detail}"
    );
    assert!(
        svc.store.list("").await.unwrap().is_empty(),
        "nothing stored"
    );
}
