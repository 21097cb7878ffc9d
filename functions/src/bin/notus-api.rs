//! Lambda entry point for the API (API Gateway HTTP API or function URL events): the same
//! router as `notus-server`, over S3, DynamoDB and KMS. Settings come from the environment
//! (`NOTUS_BUCKET`, `NOTUS_TABLE`, `NOTUS_KMS_KEY`, `NOTUS_TIMESTAMP_LIFETIME`, ...).

#[global_allocator]
static GLOBAL: notus_service::Allocator = notus_service::ALLOCATOR;

use bytes::Bytes;
use lambda_http::{Body, Error, Request, Response, service_fn};
use notus_service::settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    notus_service::disable_transparent_huge_pages();
    let svc = settings::lambda_service("notus-api").await?;
    lambda_http::run(service_fn(move |req: Request| {
        let svc = svc.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = Bytes::copy_from_slice(body.as_ref());
            let resp =
                notus_service::http::handle(&svc, http::Request::from_parts(parts, body)).await;
            let (parts, body) = resp.into_parts();
            let body = if body.is_empty() {
                Body::Empty
            } else {
                Body::Binary(body.to_vec())
            };
            Ok::<_, Error>(Response::from_parts(parts, body))
        }
    }))
    .await
}
