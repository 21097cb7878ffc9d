//! `GET`/`POST /v2/{gun}/_trust/tuf/{timestamp,snapshot}.key`: the server-held keys, in
//! Notary's key JSON for both dialects.
//!
//! Unlike notary-server, a GET never mints a second key: the first GET assigns one (the
//! deployment's shared timestamp key, or a new dedicated snapshot key) with a conditional
//! ledger write, and every later GET returns the same key. POST always assigns a new dedicated
//! key, which becomes the one in force when the publisher uploads a root listing it.

use base64::Engine as _;
use notus_tuf::RoleType;
use notus_tuf::metadata::{Root, Stored};
use notus_tuf::server::held_key;

use super::publish::held_keys;
use super::store::{head_dialect, load_file};
use super::{ApiResult, Service, backend, updating};
use crate::ports::{KeyAssignments, ServerKey};

/// Which server-held key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// `timestamp.key`
    Timestamp,
    /// `snapshot.key`
    Snapshot,
}

impl KeyRole {
    fn list(self, k: &KeyAssignments) -> &Vec<ServerKey> {
        match self {
            KeyRole::Timestamp => &k.timestamp,
            KeyRole::Snapshot => &k.snapshot,
        }
    }
    fn list_mut(self, k: &mut KeyAssignments) -> &mut Vec<ServerKey> {
        match self {
            KeyRole::Timestamp => &mut k.timestamp,
            KeyRole::Snapshot => &mut k.snapshot,
        }
    }
    fn role(self) -> RoleType {
        match self {
            KeyRole::Timestamp => RoleType::Timestamp,
            KeyRole::Snapshot => RoleType::Snapshot,
        }
    }
}

/// Notary's key JSON: `{"keytype":"ecdsa","keyval":{"public":"<base64 DER SPKI>","private":null}}`.
pub fn key_json(key: &ServerKey) -> Vec<u8> {
    format!(
        "{{\"keytype\":\"ecdsa\",\"keyval\":{{\"public\":\"{}\",\"private\":null}}}}",
        base64::engine::general_purpose::STANDARD.encode(&key.public_der)
    )
    .into_bytes()
}

/// How often an assignment is retried against concurrent assigners.
const ASSIGN_ATTEMPTS: usize = 4;

/// `GET`: the key root lists (if the collection has a root and the server holds one of its
/// keys), else the newest assigned key, else a newly assigned one.
pub async fn get_key(svc: &Service, gun: &str, which: KeyRole) -> ApiResult<ServerKey> {
    let keys = svc.ledger.keys(gun).await.map_err(backend)?;
    if let Some(head) = svc.ledger.head(gun).await.map_err(backend)?
        && let Some(rec) = head.roles.get("root")
    {
        let root = load_file(svc, gun, "root", rec).await?;
        let root: Stored<Root> = Stored::from_bytes(root.bytes.to_vec())
            .map_err(|e| updating(&format!("stored root is unreadable: {e}")))?;
        let held = held_keys(&keys)?;
        let held = match which {
            KeyRole::Timestamp => &held.timestamp,
            KeyRole::Snapshot => &held.snapshot,
        };
        if let Some((i, _)) = held_key(head_dialect(&head)?, &root.value, which.role(), held) {
            return Ok(which.list(&keys)[i].clone());
        }
    }
    if let Some(k) = which.list(&keys).first() {
        return Ok(k.clone());
    }
    assign(svc, gun, which, keys, false).await
}

/// `POST`: a new dedicated key, newest first.
pub async fn rotate_key(svc: &Service, gun: &str, which: KeyRole) -> ApiResult<ServerKey> {
    let keys = svc.ledger.keys(gun).await.map_err(backend)?;
    assign(svc, gun, which, keys, true).await
}

async fn assign(
    svc: &Service,
    gun: &str,
    which: KeyRole,
    mut keys: KeyAssignments,
    always_new: bool,
) -> ApiResult<ServerKey> {
    let new_key = match (which, always_new) {
        (KeyRole::Timestamp, false) => svc.keys.default_key().await,
        _ => svc.keys.create_key().await,
    }
    .map_err(backend)?;
    for _ in 0..ASSIGN_ATTEMPTS {
        let mut next = keys.clone();
        next.rev += 1;
        which.list_mut(&mut next).insert(0, new_key.clone());
        if svc.ledger.put_keys(gun, &next).await.map_err(backend)? {
            tracing::info!(gun, role = ?which, key = new_key.key_ref, "server key assigned");
            return Ok(new_key);
        }
        keys = svc.ledger.keys(gun).await.map_err(backend)?;
        if !always_new && let Some(k) = which.list(&keys).first() {
            // Someone else assigned first: theirs is the collection's key.
            return Ok(k.clone());
        }
    }
    Err(super::backend(crate::ports::PortError::Unavailable(
        "key assignment kept conflicting".into(),
    )))
}
