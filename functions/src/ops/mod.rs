//! The operations: each is a plain async function of the [`Service`] and the request's pieces,
//! returning data or a Notary wire error. HTTP lives in `http.rs`; storage behind the ports.
//!
//! Write order (DESIGN §4), shared by publish and refresh:
//!
//! 1. *stage*: every new file is written under its content-addressed name with `IfAbsent`
//!    (idempotent; nothing refers to it yet, so a loser or a crash leaves nothing a reader
//!    follows);
//! 2. *commit*: one conditional ledger write moves the head from the `seq` the operation read to
//!    `seq + 1` and appends the change; this is the only serialisation point (I2);
//! 3. *materialise*: the committed files get their versioned names (`IfAbsent`; only the one
//!    committer of a version ever writes it, I4), then the mutable names move forward —
//!    `timestamp.json` last, and only ever to a newer version (compare-and-swap), so readers
//!    go from a complete old state to a complete new one (I1).
//!
//! A crash after 2 leaves readers on the old state; the next publish or refresh sees that
//! `timestamp.json` lags the ledger and materialises the head first (I3).

pub mod changefeed;
mod contents;
pub mod delete;
pub mod keys;
pub mod publish;
pub mod read;
pub mod refresh;
mod served;
mod store;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use notus_tuf::server::NotaryError;

use crate::layout::CachePolicy;
use crate::ports::{KeyService, Ledger, ObjectStore, PortError};
pub use contents::ContentCache;
pub use served::ServedHeads;

/// The time source (tests move it).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// Tunables, with Notus's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Lifetime of a server-signed timestamp.
    pub timestamp_lifetime: Duration,
    /// Lifetime of a server-signed snapshot (Notary: 3 years).
    pub snapshot_lifetime: Duration,
    /// Refresh re-signs what expires within this window.
    pub refresh_window: Duration,
    /// How many collections one refresh run re-signs at once.
    pub refresh_concurrency: usize,
    /// Largest accepted upload body.
    pub max_upload_bytes: usize,
    /// Most parts in one upload.
    pub max_parts: usize,
    /// Cache lifetimes of served metadata.
    pub cache: CachePolicy,
    /// Most targets one targets role may list.
    pub max_targets: usize,
    /// Most delegations one targets role may make.
    pub max_delegations: usize,
    /// Longest a client may take to send one request (slow clients hold connections).
    pub request_timeout: std::time::Duration,
    /// Bearer-token authentication (notary-server's `auth.type=token`); `None`: open.
    pub auth: Option<AuthConfig>,
    /// Only GUNs starting with one of these are served (Notary's `repositories.gun_prefixes`;
    /// each ends in `/`). Empty: every valid GUN.
    pub gun_prefixes: Vec<String>,
    /// Bytes of committed files kept in memory between publishes (`contents.rs`).
    pub content_cache_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timestamp_lifetime: Duration::days(1),
            snapshot_lifetime: Duration::days(3 * 365),
            refresh_window: Duration::hours(8),
            refresh_concurrency: 8,
            max_upload_bytes: 100 << 20,
            max_parts: 1024,
            cache: CachePolicy::default(),
            gun_prefixes: Vec::new(),
            auth: None,
            max_targets: 1_000_000,
            max_delegations: 10_000,
            request_timeout: std::time::Duration::from_secs(60),
            content_cache_bytes: 16 << 20,
        }
    }
}

/// Where clients get tokens and whose tokens count.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The token service clients are sent to (`realm` of the challenge).
    pub realm: String,
    /// Service name, required audience and accepted issuer keys.
    pub policy: notus_tuf::auth::TokenPolicy,
}

impl Config {
    /// Whether `gun` is under an allowed prefix.
    pub fn gun_allowed(&self, gun: &str) -> bool {
        self.gun_prefixes.is_empty()
            || self
                .gun_prefixes
                .iter()
                .any(|p| gun.starts_with(p.as_str()))
    }
}

/// The service: ports, configuration and clock. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    /// Object store (the read path).
    pub store: Arc<dyn ObjectStore>,
    /// Ledger (the serialisation point).
    pub ledger: Arc<dyn Ledger>,
    /// Signer.
    pub keys: Arc<dyn KeyService>,
    /// Tunables.
    pub config: Config,
    /// Time.
    pub clock: Clock,
    /// Committed files recently staged or read, by sha256.
    pub contents: Arc<ContentCache>,
    /// Heads whose served names this process finished writing (`served.rs`).
    pub served: Arc<ServedHeads>,
}

impl Service {
    /// A service on these ports, with an empty cache of `config.content_cache_bytes`.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        ledger: Arc<dyn Ledger>,
        keys: Arc<dyn KeyService>,
        config: Config,
        clock: Clock,
    ) -> Self {
        let contents = Arc::new(ContentCache::new(config.content_cache_bytes));
        Service {
            store,
            ledger,
            keys,
            config,
            clock,
            contents,
            served: Arc::default(),
        }
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }
}

/// Errors the operations answer with, in Notary's envelope.
pub type ApiResult<T> = Result<T, NotaryError>;

/// `404 METADATA_NOT_FOUND` with detail `{}` (a handler's "not found").
pub fn not_found() -> NotaryError {
    NotaryError::new(
        404,
        "METADATA_NOT_FOUND",
        "You have requested metadata that does not exist.",
        Some("{}".into()),
    )
}

/// `400 INVALID_PARAMETERS`.
pub fn invalid_parameters(detail: String) -> NotaryError {
    NotaryError::new(
        400,
        "INVALID_PARAMETERS",
        "The parameters provided are not valid.",
        Some(detail),
    )
}

/// `500 UPDATING`: the write could not be completed; nothing is visible to readers.
pub fn updating(detail: &str) -> NotaryError {
    NotaryError::new(
        500,
        "UPDATING",
        "An error has occurred while updating the TUF repository.",
        Some(notus_tuf::canonical::go_string(detail)),
    )
}

/// Map a backend failure: unavailability is a retryable `503`, anything else a `500`. The
/// detail names no secrets (adapters never put key material in errors).
pub fn backend(e: PortError) -> NotaryError {
    tracing::error!(error = %e, "backend failure");
    match e {
        PortError::Unavailable(_) => NotaryError::new(
            503,
            "UNAVAILABLE",
            "The trust service is temporarily unavailable; retry later.",
            Some("{}".into()),
        ),
        PortError::Other(_) => NotaryError::new(500, "UNKNOWN", "unknown error", Some("{}".into())),
    }
}
