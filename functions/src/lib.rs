//! # notus-service
//!
//! The Notus service: stateless operations (publish, get/rotate key, delete, changefeed,
//! refresh) over three ports (object store, ledger, signer), their AWS and embedded adapters,
//! one HTTP router, and thin binaries (`notus-api` and `notus-refresh` for Lambda,
//! `notus-server` for one machine). Every TUF decision is made by [`notus_tuf`]; this crate
//! decides only the order of writes and where things live.
//!
//! ```text
//! http::handle ──► ops::{publish, keys, delete, changefeed, read, refresh}
//!                        │            │             │
//!                  ObjectStore     Ledger       KeyService      (ports)
//!                   S3 | dir    DynamoDB | redb   KMS | files   (adapters)
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aws;
pub mod embedded;
pub mod http;
pub mod layout;
pub mod ops;
pub mod ports;
pub mod serve;
pub mod settings;

pub use notus_tuf;
pub use ops::{Config, Service};
