//! Serving the router over HTTP/1.1 with hyper (the local server; Lambda has its own runtime).

use std::convert::Infallible;
use std::future::Future;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::ops::Service;

async fn serve_one(
    svc: Service,
    req: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    // One byte over the upload limit is enough for publish to refuse with Notary's error.
    let limit = svc.config.max_upload_bytes + 1;
    let collected = tokio::time::timeout(
        svc.config.request_timeout,
        Limited::new(body, limit).collect(),
    )
    .await;
    let body = match collected {
        Ok(Ok(b)) => b.to_bytes(),
        Err(_) => {
            // A client sending its body too slowly does not hold a connection forever.
            let resp = crate::http::error_response(&notus_tuf::server::NotaryError::new(
                408,
                "REQUEST_TIMEOUT",
                "The request did not arrive in time.",
                None,
            ));
            return Ok(resp.map(Full::new));
        }
        Ok(Err(_)) => {
            let resp = crate::http::error_response(
                &notus_tuf::server::UploadError::Limit(format!(
                    "request body exceeds {} bytes",
                    svc.config.max_upload_bytes
                ))
                .to_notary(),
            );
            return Ok(resp.map(Full::new));
        }
    };
    let resp = crate::http::handle(&svc, http::Request::from_parts(parts, body)).await;
    Ok(resp.map(Full::new))
}

/// Accept connections on `listener` until `shutdown` completes; then stop accepting and let
/// requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    svc: Service,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let svc = svc.clone();
                tasks.spawn(async move {
                    let conn = hyper::server::conn::http1::Builder::new()
                        // Slow headers are cut off too (hyper answers 408 itself).
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(svc.config.request_timeout)
                        .serve_connection(
                            TokioIo::new(stream),
                            service_fn(move |req| serve_one(svc.clone(), req)),
                        );
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}
