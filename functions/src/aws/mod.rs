//! The AWS adapters (S3, DynamoDB, KMS), configured from the standard AWS configuration
//! (`AWS_ENDPOINT_URL`, region, profile, credentials chain). Tested against the LocalStack-API
//! emulator started by `localstack/start`, never against a mock.

mod dynamodb;
mod kms;
mod s3;

pub use dynamodb::DynamoLedger;
pub use kms::{KmsKeys, create_signing_key};
pub use s3::S3Store;

use aws_config::BehaviorVersion;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::{Builder, tls::Provider, tls::rustls_provider::CryptoMode};

use crate::ports::PortError;

/// The shared SDK configuration: one rustls+ring HTTPS client (the SDK's default TLS stacks are
/// off to halve build time), everything else from the environment.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(
            Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https(),
        )
        .load()
        .await
}

/// Map an SDK error: transport failures, 5xx and throttling are retryable unavailability.
fn classify<E, R>(what: &str, e: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = format!("{what}: {}", DisplayErrorContext(&e));
    let retryable = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(se) => se.err().code().is_some_and(|c| {
            c.contains("Throttl")
                || c.contains("LimitExceeded")
                || c == "InternalError"
                || c == "InternalServerError"
                || c == "ServiceUnavailable"
                || c == "RequestLimitExceeded"
                || c == "KMSInternalException"
                || c == "DependencyTimeoutException"
        }),
        _ => false,
    };
    if retryable {
        PortError::Unavailable(text)
    } else {
        PortError::Other(text)
    }
}

/// Create the bucket, the ledger table and the default signing key (with its alias) if they do
/// not exist. For the emulator and first local runs; a deployment gets them from the template.
pub async fn ensure_resources(
    conf: &aws_config::SdkConfig,
    bucket: &str,
    table: &str,
    kms_key: &str,
) -> Result<(), PortError> {
    let store = S3Store::new(conf, bucket);
    if store
        .client()
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .is_err()
    {
        store
            .client()
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| classify("S3 CreateBucket", e))?;
        tracing::info!(bucket, "created bucket");
    }
    DynamoLedger::new(conf, table).ensure_table().await?;
    let kms = aws_sdk_kms::Client::new(conf);
    if kms.describe_key().key_id(kms_key).send().await.is_err() {
        let Some(alias) = kms_key.strip_prefix("alias/") else {
            return Err(PortError::Other(format!(
                "KMS key {kms_key} does not exist (only an alias/NAME can be created)"
            )));
        };
        let id = kms::create_signing_key(&kms, "notus: default timestamp key", None).await?;
        kms.create_alias()
            .alias_name(format!("alias/{alias}"))
            .target_key_id(&id)
            .send()
            .await
            .map_err(|e| classify("KMS CreateAlias", e))?;
        tracing::info!(alias, "created KMS key");
    }
    Ok(())
}
