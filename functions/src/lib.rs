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

/// The allocator every Notus binary (and benchmark) declares as its global allocator.
///
/// A publish allocates one small block per key, hash and string of each file it reads, and frees
/// them all when it answers; under glibc's allocator freeing a 100k-target collection spent most
/// of its time merging free chunks (`malloc_consolidate`, `unlink_chunk`: a third of a large
/// validation's profile). mimalloc frees such blocks in constant time and keeps per-thread
/// heaps, which also helps the concurrent publishes of many collections (docs/performance.md).
pub type Allocator = mimalloc::MiMalloc;

/// The value of [`Allocator`] a binary declares: `#[global_allocator] static GLOBAL:
/// notus_service::Allocator = notus_service::ALLOCATOR;`
pub const ALLOCATOR: Allocator = mimalloc::MiMalloc;
