//! From an HTTP body to [`Upload`]s, with Notary's transport errors.

use super::{Upload, UploadError};
use crate::multipart;

/// Split a `POST /v2/{gun}/_trust/tuf/` body into uploads: `MALFORMED_UPLOAD` if it is not
/// multipart (or cannot be parsed, or has more than `max_parts` parts), `NO_FILENAME` if a part
/// names no role.
pub fn uploads_from_multipart(
    content_type: &str,
    body: &[u8],
    max_parts: usize,
) -> Result<Vec<Upload>, UploadError> {
    let boundary = multipart::boundary(content_type).ok_or(UploadError::MalformedUpload)?;
    let parts =
        multipart::parse(body, &boundary, max_parts).map_err(|_| UploadError::MalformedUpload)?;
    parts
        .into_iter()
        .map(|p| match p.filename {
            Some(f) if !f.is_empty() => Ok(Upload {
                filename: f,
                data: p.data,
            }),
            _ => Err(UploadError::NoFilename),
        })
        .collect()
}
