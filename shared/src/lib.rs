//! # notus-tuf — the Notus TUF engine
//!
//! This crate decides; it never fetches, stores or waits. It does no I/O, reads no clock and draws
//! no randomness: bytes and a reference time come in, typed values, bytes to sign, or a precise
//! refusal go out. The service (`notus-service`) and the CLI (`notus-cli`) do the I/O around it,
//! the way quinn-proto and rustls leave sockets to their callers.
//!
//! What it covers:
//!
//! * [`canonical`]: canonical JSON exactly as Notary (docker/go `canonical/json`) and
//!   securesystemslib write it, plus Notary's byte-exact envelope writer.
//! * [`metadata`]: root, targets (with delegations), snapshot and timestamp, kept next to the exact
//!   `signed` value that was received (unknown fields included) so signatures and hashes are always
//!   computed over what was signed, never over a re-serialisation.
//! * Two dialects, chosen once from the root's `_type` ([`Dialect`]):
//!   * `notary` — Notary 0.7: capitalised `_type`, base64 keys/signatures/hashes, raw `r‖s`
//!     ECDSA signatures, `ecdsa-x509` root certificates whose CN is the GUN, `targets/…`
//!     delegations with plain path *prefixes*, snapshot listing root, computed key IDs.
//!   * `tuf` — TUF specification 1.0.x as python-tuf and go-tuf read it: hex encodings, DER ECDSA,
//!     `ed25519`, `rsassa-pss-sha256`, glob `paths`, `path_hash_prefixes`, `terminating`,
//!     succinct hash bins (TAP 15), consistent snapshots.
//! * [`keys`]: parsing public keys of both dialects, key IDs, and signature verification
//!   (ECDSA P-256, Ed25519, RSA-PSS / PKCS#1 v1.5).
//! * [`verify`]: the one threshold verifier, returning a report of who signed.
//! * [`client`]: the client's trusted-metadata state machine (TUF 1.0.x §5.3, Notary's fetch rules).
//! * [`server`]: the server's upload validation (every notary-server rule, the TUF equivalents,
//!   and delegation path enforcement that Notary never did) and the Notary error catalogue.
//! * [`build`]: snapshot and timestamp builders and the [`Signer`] trait.
//!
//! Spec version followed: TUF 1.0.31 (the `tuf` dialect writes `spec_version: "1.0.31"` and reads
//! any `1.x`). Notary compatibility target: Notary 0.7.0 (Debian 12 package `notary`).
//!
//! Non-goals: fetching metadata, storage, HTTP, key storage. Those live at the edges.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod build;
pub mod canonical;
pub mod client;
mod dialect;
pub mod editor;
mod encoding;
mod error;
pub mod keys;
pub mod metadata;
pub mod multipart;
pub mod paths;
pub mod server;
pub mod signers;
pub mod time;
pub mod verify;
pub mod x509;

#[cfg(test)]
mod testkit;

// The public interface is:
pub use build::{RawSignature, Signer, UnsignedMetadata};
pub use dialect::{Dialect, RoleType};
pub use encoding::{b64_decode, b64_encode, hex_decode};
pub use error::{ApiMisuse, DecodeError, Error, Rejection};
pub use metadata::{Envelope, HashAlgorithm, Hashes, Stored};
