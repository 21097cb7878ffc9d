//! The object store on S3. Immutable names are written with `If-None-Match: *`, mutable ones
//! with `If-Match: <etag>`, so S3 itself refuses an overwrite the protocol did not intend.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::classify;
use crate::ports::{
    Object, ObjectHeaders, ObjectStore, PortError, PortResult, PutCondition, PutOutcome,
};

/// An S3 bucket.
pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    /// The bucket `bucket`, with path-style addressing when an endpoint override is set (local
    /// emulators).
    pub fn new(conf: &aws_config::SdkConfig, bucket: &str) -> Self {
        let path_style = conf.endpoint_url().is_some();
        let client = Client::from_conf(
            aws_sdk_s3::config::Builder::from(conf)
                .force_path_style(path_style)
                .build(),
        );
        S3Store {
            client,
            bucket: bucket.to_owned(),
        }
    }

    /// The SDK client (for set-up scripts and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

fn status_of<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    match e {
        SdkError::ServiceError(se) => Some(se.raw().status().as_u16()),
        _ => None,
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn get(&self, key: &str) -> PortResult<Option<Object>> {
        let resp = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(r) => r,
            Err(SdkError::ServiceError(se)) if se.err().is_no_such_key() => return Ok(None),
            Err(e) if status_of(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(classify("S3 GetObject", e)),
        };
        let etag = resp.e_tag().unwrap_or_default().to_owned();
        let last_modified = resp
            .last_modified()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
            .unwrap_or_else(Utc::now);
        let bytes = resp
            .body
            .collect()
            .await
            .map_err(|e| PortError::Unavailable(format!("S3 GetObject body: {e}")))?
            .into_bytes();
        Ok(Some(Object {
            bytes,
            etag,
            last_modified,
        }))
    }

    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        condition: PutCondition,
        headers: &ObjectHeaders,
    ) -> PortResult<PutOutcome> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(headers.content_type)
            .cache_control(&headers.cache_control)
            .body(ByteStream::from(bytes));
        req = match condition {
            PutCondition::IfAbsent => req.if_none_match("*"),
            PutCondition::IfMatch(etag) => req.if_match(etag),
        };
        match req.send().await {
            Ok(_) => Ok(PutOutcome::Written),
            // 412: the condition failed; 409: a concurrent conditional write to the same key.
            Err(e) if matches!(status_of(&e), Some(412 | 409)) => {
                Ok(PutOutcome::PreconditionFailed)
            }
            Err(e) => Err(classify("S3 PutObject", e)),
        }
    }

    async fn list(&self, prefix: &str) -> PortResult<Vec<String>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("S3 ListObjectsV2", e))?;
            out.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(out)
    }

    async fn delete(&self, keys: &[String]) -> PortResult<()> {
        for key in keys {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| classify("S3 DeleteObject", e))?;
        }
        Ok(())
    }
}
