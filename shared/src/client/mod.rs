//! The client side: a trusted-metadata state machine in the shape of python-tuf's
//! `TrustedMetadataSet` (ngclient/_internal/trusted_metadata_set.py), covering the TUF 1.0.x
//! client workflow (§5.3) for both dialects.
//!
//! The caller fetches bytes (in the order the workflow prescribes) and feeds them in; every
//! `update_*` either advances trust and returns the newly trusted value, or refuses with one
//! precise [`crate::Error`] and leaves the state as it was. The documented exceptions, as in
//! python-tuf, are an expired timestamp or snapshot (and a snapshot whose version differs from
//! the timestamp's record): they are kept, because they are still the best rollback reference,
//! but every later step refuses to build on them.
//!
//! Time is read once: the `reference_time` given to [`TrustedMetadataSet::new`] is used for every
//! expiry check of this refresh.
//!
//! Notary's fetch rules (reference API §11.1) are the caller's: fetch snapshot and targets by
//! hash (`snapshot.<sha256>.json`), walk `<v>.root.json` on a root rotation, and skip a delegated
//! role that fails verification instead of failing the whole lookup. [`TrustedMetadataSet::
//! snapshot_root_hash_matches`] tells the caller when Notary's snapshot names a newer root.

pub(crate) mod trusted_set;

pub use trusted_set::{DelegationStep, TrustedMetadataSet};

#[cfg(test)]
mod tests;
