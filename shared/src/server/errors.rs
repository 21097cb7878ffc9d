//! Notary's error envelope (`{"errors":[{"code","message","detail"}]}`, reference API §4) and the
//! mapping from engine refusals to it, with the exact codes, messages and `SerializableError`
//! details notary-server sends, so that the real client prints the same text.

use crate::canonical::go_string;

use crate::{Error, Rejection};

/// Which `SerializableError` name notary-server files a validation failure under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `ErrBadRoot`
    BadRoot,
    /// `ErrBadTargets`
    BadTargets,
    /// `ErrBadSnapshot`
    BadSnapshot,
    /// `ErrBadHierarchy`
    BadHierarchy,
    /// `ErrValidation`
    Validation,
}

impl ErrorKind {
    /// The Go error type name.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::BadRoot => "ErrBadRoot",
            ErrorKind::BadTargets => "ErrBadTargets",
            ErrorKind::BadSnapshot => "ErrBadSnapshot",
            ErrorKind::BadHierarchy => "ErrBadHierarchy",
            ErrorKind::Validation => "ErrValidation",
        }
    }

    /// The kind for a failure while validating `role`.
    pub fn for_role(role: &str) -> Self {
        match role {
            "root" => ErrorKind::BadRoot,
            "snapshot" => ErrorKind::BadSnapshot,
            "timestamp" => ErrorKind::Validation,
            _ => ErrorKind::BadTargets,
        }
    }
}

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The body is not multipart (`MALFORMED_UPLOAD`).
    #[error("the body of the request is not multipart")]
    MalformedUpload,
    /// A part has no filename (`NO_FILENAME`).
    #[error("a part has no file name")]
    NoFilename,
    /// A part names no valid role (`INVALID_ROLE`).
    #[error("invalid role {0:?}")]
    InvalidRole(String),
    /// A part is not metadata JSON (`MALFORMED_JSON`).
    #[error("malformed JSON in {role}: {reason}")]
    MalformedJson {
        /// The part's role.
        role: String,
        /// Parser message (for logs).
        reason: String,
    },
    /// The metadata breaks a rule (`INVALID_UPDATE`).
    #[error("{rejection}")]
    Invalid {
        /// Which Notary error type.
        kind: ErrorKind,
        /// The rule broken.
        rejection: Rejection,
    },
    /// A role's version is not newer than the stored one (`VERSION`).
    #[error("{0}")]
    Version(Rejection),
    /// Upload exceeds a configured limit (`INVALID_UPDATE` with a validation detail).
    #[error("{0}")]
    Limit(String),
}

impl UploadError {
    /// A refusal while validating `role`.
    pub fn invalid(role: &str, rejection: Rejection) -> Self {
        let kind = match &rejection {
            Rejection::NoRoot => ErrorKind::Validation,
            Rejection::MissingRole { .. } => ErrorKind::BadHierarchy,
            Rejection::ServerKeyNotHeld { .. } => ErrorKind::BadRoot,
            _ => ErrorKind::for_role(role),
        };
        UploadError::Invalid { kind, rejection }
    }

    /// Map an engine error met while validating `role`.
    pub fn from_engine(role: &str, e: Error) -> Self {
        match e {
            Error::Rejected(r) => UploadError::invalid(role, r),
            Error::Decode(d) => UploadError::MalformedJson {
                role: role.to_owned(),
                reason: d.to_string(),
            },
            other => UploadError::invalid(role, Rejection::invalid(role, other.to_string())),
        }
    }

    /// The wire error.
    pub fn to_notary(&self) -> NotaryError {
        match self {
            UploadError::MalformedUpload => NotaryError::new(
                400,
                "MALFORMED_UPLOAD",
                "The body of your request is malformed.",
                None,
            ),
            UploadError::NoFilename => {
                NotaryError::new(400, "NO_FILENAME", "No file/role name provided.", None)
            }
            UploadError::InvalidRole(r) => NotaryError::new(
                400,
                "INVALID_ROLE",
                "The role you are attempting to operate on is invalid.",
                Some(go_string(r)),
            ),
            UploadError::MalformedJson { .. } => NotaryError::new(
                400,
                "MALFORMED_JSON",
                "JSON sent by the client could not be parsed by the server",
                None,
            ),
            UploadError::Version(_) => NotaryError::new(
                400,
                "VERSION",
                "A newer version of metadata is already available.",
                Some("{}".into()),
            ),
            UploadError::Invalid { kind, rejection } => {
                // Go struct field order: Name, Error; ErrBadHierarchy is {Missing, Msg}.
                let msg = go_string(&rejection_message(rejection));
                let err = match rejection {
                    Rejection::MissingRole { role } => {
                        format!("{{\"Missing\":{},\"Msg\":{msg}}}", go_string(role))
                    }
                    _ => format!("{{\"Msg\":{msg}}}"),
                };
                NotaryError::new(
                    400,
                    "INVALID_UPDATE",
                    "Update sent by the client is invalid.",
                    Some(format!(
                        "{{\"Name\":{},\"Error\":{err}}}",
                        go_string(kind.name())
                    )),
                )
            }
            UploadError::Limit(msg) => NotaryError::new(
                400,
                "INVALID_UPDATE",
                "Update sent by the client is invalid.",
                Some(format!(
                    "{{\"Name\":\"ErrValidation\",\"Error\":{{\"Msg\":{}}}}}",
                    go_string(msg)
                )),
            ),
        }
    }
}

/// The message notary-server puts in `Error.Msg` for a refusal.
fn rejection_message(r: &Rejection) -> String {
    match r {
        Rejection::Expired { role, expires } => match crate::time::parse(expires) {
            Ok(t) => format!(
                "{role} expired at {}",
                crate::time::format_notary_message(t)
            ),
            Err(_) => r.to_string(),
        },
        Rejection::Threshold { role, .. } if role == "root" => {
            "could not validate the path to a trusted root: failed to validate integrity of roots"
                .into()
        }
        Rejection::ServerKeyNotHeld { role } => format!("no  {role} keys exist on the server"),
        _ => r.to_string(),
    }
}

/// A Notary wire error: HTTP status and the `errcode` envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotaryError {
    /// HTTP status.
    pub status: u16,
    /// `code`.
    pub code: &'static str,
    /// `message`.
    pub message: &'static str,
    /// `detail` as raw JSON text, omitted when `None`.
    pub detail: Option<String>,
}

impl NotaryError {
    /// Build an error.
    pub fn new(
        status: u16,
        code: &'static str,
        message: &'static str,
        detail: Option<String>,
    ) -> Self {
        NotaryError {
            status,
            code,
            message,
            detail,
        }
    }

    /// The JSON body, exactly as notary-server writes it (field order code, message, detail;
    /// trailing newline).
    pub fn body(&self) -> Vec<u8> {
        let mut out = format!(
            "{{\"errors\":[{{\"code\":{},\"message\":{}",
            go_string(self.code),
            go_string(self.message)
        );
        if let Some(d) = &self.detail {
            out.push_str(",\"detail\":");
            out.push_str(d);
        }
        out.push_str("}]}\n");
        out.into_bytes()
    }
}
