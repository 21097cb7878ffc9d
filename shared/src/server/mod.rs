//! The server side: validation of an upload against the collection's current state, and the
//! Notary error catalogue the service answers with.
//!
//! [`validate_update`] implements every rule notary-server 0.7 applies to
//! `POST /v2/{gun}/_trust/tuf/` (reference API §5.3) for the Notary dialect, the same rules
//! expressed in TUF terms for the TUF dialect, and three places where Notus is stricter on
//! purpose (each documented where it is enforced and in docs/compatibility.md):
//!
//! 1. targets of a delegated role must lie inside the paths its delegation chain allows;
//! 2. an uploaded snapshot must describe, byte for byte, every role file it lists (the uploaded
//!    one or the one currently stored), so a reader never follows a hash to nothing (invariant I1);
//! 3. the timestamp/snapshot keys the server holds are matched by key material, not by ID.
//!
//! It decides only: the caller supplies the current files (from the ledger/object store), the
//! public keys the server holds for the collection, and the time; it gets back the files to
//! store and what to sign next, or one [`UploadError`] that maps onto Notary's wire error.

mod errors;
mod names;
mod validate;

pub use errors::{ErrorKind, NotaryError, UploadError};
pub use names::{parse_role_filename, valid_notary_role, valid_tuf_role};
pub use validate::{
    CurrentFile, HeldKeys, RepoState, SnapshotPlan, Upload, ValidatedFile, ValidatedUpdate,
    held_key, validate_update,
};

mod multipart_upload;
pub use multipart_upload::uploads_from_multipart;

#[cfg(test)]
mod tests;
