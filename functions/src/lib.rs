//! # notus-service
//!
//! The Notus service: stateless operations (publish, get/rotate key, delete, changefeed, refresh)
//! over three ports (object store, ledger, signer), their AWS and embedded adapters, one HTTP
//! router, and thin binaries (Lambda entry points and `notus-server`).
//!
//! Status: the operations and adapters are being built (see README "Status"); this crate
//! currently carries the local server's command line only. All TUF decisions are made by
//! [`notus_tuf`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use notus_tuf;
