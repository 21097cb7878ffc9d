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

/// Turn transparent huge pages off for this process: the first call in every Notus binary's
/// `main` (and in the in-process benchmarks', so they measure the same thing).
///
/// mimalloc reserves its arena (1 GiB of address space) with `madvise(MADV_HUGEPAGE)`, so each
/// first touch of 2 MiB of heap makes the kernel zero 2 MiB at once, used or not. On a virtual
/// machine (this project's runs are on a Firecracker VM, as Lambda's are) zeroing fresh memory
/// is slow, and its speed depends on the host: a 100k-target first publish spent 15–50 % of its
/// CPU in `clear_page_erms`, and took 180–378 ms with a peak RSS of 93–101 MiB against
/// 122–165 ms and 71–73 MiB with huge pages off (docs/performance.md, profile 11). The setting
/// covers the whole process, memory reserved before it too: the kernel checks it when a page
/// is first touched.
pub fn disable_transparent_huge_pages() {
    // Only a performance setting: a kernel without it keeps its default, and that is all.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}
