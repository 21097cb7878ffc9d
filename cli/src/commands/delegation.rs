//! `notus delegation …`: who may sign which target paths. Changes are staged like target
//! changes and published (signed by the delegating role's key) with `notus publish`.
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Subcommand;
use notus_tuf::Dialect;
use notus_tuf::editor::Change;
use notus_tuf::keys::{PublicKey, key_from_public};
use notus_tuf::metadata::Key;
use serde::Serialize;

use super::Context;
use super::consumer::{self, TrustArgs};
use crate::keys::KeyRef;

/// `notus delegation`.
#[derive(Subcommand, Debug)]
pub enum DelegationCommand {
    /// Delegate target paths to a role, or add keys/paths to an existing delegation.
    ///
    /// Examples:
    ///   notus delegation add example.com/app releases --key file:<fp> --paths 'releases/*'
    ///   notus delegation add example.com/app ci ci-signer.pub.pem --all-paths
    Add {
        /// Collection.
        gun: String,
        /// Delegated role name.
        role: String,
        /// Public keys of the delegate (PEM `PUBLIC KEY` or `CERTIFICATE` files).
        pubkeys: Vec<PathBuf>,
        /// A key in this home (file:… or pkcs11:…) to authorise; this home can then sign the
        /// role.
        #[arg(long = "key", value_name = "REF")]
        keys: Vec<String>,
        /// The delegating role.
        #[arg(long, default_value = "targets")]
        delegator: String,
        /// Target paths the role may sign (TUF glob per path segment, e.g. 'releases/*').
        #[arg(long = "paths", value_name = "PATTERN")]
        paths: Vec<String>,
        /// Every target path.
        #[arg(long, conflicts_with = "paths")]
        all_paths: bool,
        /// Signatures required.
        #[arg(long, default_value_t = 1)]
        threshold: u64,
        /// Stop target searches at this role when its paths match.
        #[arg(long)]
        terminating: bool,
    },
    /// Remove a delegation.
    ///
    /// Example: notus delegation remove example.com/app releases
    Remove {
        /// Collection.
        gun: String,
        /// Delegated role name.
        role: String,
        /// The delegating role.
        #[arg(long, default_value = "targets")]
        delegator: String,
    },
    /// Remove keys from every delegation in the collection (a lost or compromised delegate key),
    /// staged for the next publish.
    ///
    /// Example: notus delegation purge example.com/app --key 8362fb16…
    Purge {
        /// Collection.
        gun: String,
        /// Key IDs to remove (as `delegation list` shows them).
        #[arg(long = "key", value_name = "KEYID", required = true)]
        keys: Vec<String>,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// List the collection's trusted delegations.
    ///
    /// Example: notus delegation list example.com/app
    List {
        /// Collection.
        gun: String,
        #[command(flatten)]
        trust: TrustArgs,
    },
}

/// A delegate's key from a PEM file: a `PUBLIC KEY`, or a `CERTIFICATE` (what `notary
/// delegation add` takes). In a Notary collection a certificate is kept as an `ecdsa-x509` key,
/// as notary writes it; in TUF the key inside it is listed.
fn read_delegate_key(path: &PathBuf, dialect: Dialect) -> Result<Key> {
    use p256::pkcs8::DecodePublicKey as _;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if text.contains("BEGIN CERTIFICATE") {
        let (spki, _) = notus_tuf::keys::parse_certificate_pem(text.as_bytes())
            .with_context(|| format!("{} is not a certificate", path.display()))?;
        let vk = p256::ecdsa::VerifyingKey::from_public_key_der(&spki)
            .map_err(|e| anyhow!("{}: not a P-256 key: {e}", path.display()))?;
        if dialect == Dialect::Notary {
            let mut key = key_from_public(dialect, &PublicKey::EcdsaP256(vk))?;
            key.keytype = "ecdsa-x509".into();
            key.keyval.public = notus_tuf::b64_encode(text.trim_start().as_bytes());
            return Ok(key);
        }
        return Ok(key_from_public(dialect, &PublicKey::EcdsaP256(vk))?);
    }
    let vk = p256::ecdsa::VerifyingKey::from_public_key_pem(text.trim()).map_err(|e| {
        anyhow!(
            "{} is not a P-256 PEM public key or certificate: {e}",
            path.display()
        )
    })?;
    Ok(key_from_public(dialect, &PublicKey::EcdsaP256(vk))?)
}

#[derive(Serialize)]
struct Row {
    role: String,
    delegator: String,
    threshold: u64,
    keyids: Vec<String>,
    paths: Vec<String>,
    path_hash_prefixes: Vec<String>,
    terminating: bool,
}

/// Run `notus delegation …`.
pub fn run(ctx: &Context, cmd: DelegationCommand) -> Result<()> {
    match cmd {
        DelegationCommand::Add {
            gun,
            role,
            pubkeys,
            keys,
            delegator,
            paths,
            all_paths,
            threshold,
            terminating,
        } => {
            let mut collection = ctx.home.collection(&gun)?.ok_or_else(|| {
                anyhow!("this home does not publish {gun}: run `notus init {gun}` first")
            })?;
            let dialect = collection.dialect()?;
            if role == "targets" || role == "root" || role == "snapshot" || role == "timestamp" {
                bail!("{role} is a top-level role, not a delegation");
            }
            if dialect == Dialect::Notary {
                // Notary names delegations by path: targets/<name>, delegated by the parent.
                if !role.starts_with("targets/") || role.ends_with('/') {
                    bail!("Notary delegation names start with targets/ (e.g. targets/releases)");
                }
                let parent = role.rsplit_once('/').map(|(p, _)| p).unwrap_or("targets");
                if delegator != parent {
                    bail!("in a Notary collection {role} is delegated by {parent}");
                }
            }
            if !all_paths && paths.is_empty() {
                bail!(
                    "say which targets the role may sign: --paths PATTERN (repeatable) or --all-paths"
                );
            }
            let mut ring = ctx.keyring();
            let mut public = Vec::new();
            for p in &pubkeys {
                public.push(read_delegate_key(p, dialect)?);
            }
            let delegated: Vec<PublicKey> = public
                .iter()
                .filter_map(|k| notus_tuf::keys::parse_key(dialect, k).ok().map(|p| p.key))
                .collect();
            for r in &keys {
                let s = ring.signer(&KeyRef::parse(r)?, dialect)?;
                public.push(key_from_public(dialect, s.public_key())?);
            }
            if threshold == 0 {
                bail!("--threshold must be at least 1");
            }
            let mut changes = ctx.home.changelist(&gun)?;
            changes.push(Change::Delegate {
                delegator,
                name: role.clone(),
                keys: public,
                threshold,
                paths,
                all_paths,
                terminating,
            });
            ctx.home.save_changelist(&gun, &changes)?;
            // Key files of this home made or imported for this role whose key is one of the
            // delegated ones: this home can sign the role with them.
            let mut keys = keys;
            for info in ring.files().list()? {
                if info.role != role || info.gun.as_deref().is_some_and(|g| g != gun) {
                    continue;
                }
                let r = KeyRef::File {
                    fingerprint: info.fingerprint,
                };
                let s = ring.signer(&r, dialect)?;
                if delegated.iter().any(|p| p == s.public_key()) && !keys.contains(&r.to_string()) {
                    keys.push(r.to_string());
                }
            }
            if !keys.is_empty() {
                let held = collection.keys.entry(role.clone()).or_default();
                for k in keys {
                    if !held.contains(&k) {
                        held.push(k);
                    }
                }
                ctx.home.save_collection(&collection)?;
            }
            eprintln!("staged the delegation of {role}; publish with: notus publish {gun}");
            Ok(())
        }
        DelegationCommand::Remove {
            gun,
            role,
            delegator,
        } => {
            if ctx.home.collection(&gun)?.is_none() {
                bail!("this home does not publish {gun}");
            }
            let mut changes = ctx.home.changelist(&gun)?;
            changes.push(Change::Undelegate {
                delegator,
                name: role.clone(),
            });
            ctx.home.save_changelist(&gun, &changes)?;
            eprintln!("staged the removal of {role}; publish with: notus publish {gun}");
            Ok(())
        }
        DelegationCommand::Purge { gun, keys, trust } => {
            if ctx.home.collection(&gun)?.is_none_or(|c| c.keys.is_empty()) {
                bail!("this home does not publish {gun}");
            }
            let http = crate::transport::Http::new(std::time::Duration::from_secs(60));
            let mut up = consumer::open(ctx, &gun, &trust, &http)?;
            up.all_targets()?;
            let mut changes = ctx.home.changelist(&gun)?;
            let mut staged = Vec::new();
            for (name, t) in up.trusted().all_targets() {
                let Some(d) = &t.value.delegations else {
                    continue;
                };
                if d.roles()
                    .iter()
                    .any(|r| r.keyids().iter().any(|k| keys.contains(k)))
                {
                    changes.push(Change::PurgeKeys {
                        delegator: name.to_owned(),
                        keyids: keys.clone(),
                    });
                    staged.push(name.to_owned());
                }
            }
            if staged.is_empty() {
                bail!("no delegation of {gun} lists {}", keys.join(", "));
            }
            ctx.home.save_changelist(&gun, &changes)?;
            eprintln!(
                "staged removing the key(s) from the delegations of {}; publish with: notus publish {gun}",
                staged.join(", ")
            );
            Ok(())
        }
        DelegationCommand::List { gun, trust } => {
            let http = crate::transport::Http::new(std::time::Duration::from_secs(60));
            let mut up = consumer::open(ctx, &gun, &trust, &http)?;
            up.all_targets()?;
            let mut rows = Vec::new();
            for (name, t) in up.trusted().all_targets() {
                let Some(d) = &t.value.delegations else {
                    continue;
                };
                for r in d.roles() {
                    rows.push(Row {
                        role: r.name.clone(),
                        delegator: name.to_owned(),
                        threshold: r.threshold,
                        keyids: r.keyids().to_vec(),
                        paths: r.paths.clone().unwrap_or_default(),
                        path_hash_prefixes: r.path_hash_prefixes.clone().unwrap_or_default(),
                        terminating: r.terminating.unwrap_or(false),
                    });
                }
            }
            ctx.emit(&rows, || {
                if rows.is_empty() {
                    return format!("No delegations present in {gun}\n");
                }
                let mut s = format!(
                    "{:<20} {:<12} {:<10} {:<30} KEY IDS\n",
                    "ROLE", "DELEGATOR", "THRESHOLD", "PATHS"
                );
                for r in &rows {
                    let paths = if r.path_hash_prefixes.iter().any(String::is_empty) {
                        "<all paths>".to_owned()
                    } else {
                        r.paths.join(",")
                    };
                    s.push_str(&format!(
                        "{:<20} {:<12} {:<10} {:<30} {}\n",
                        r.role,
                        r.delegator,
                        r.threshold,
                        paths,
                        r.keyids.join(",")
                    ));
                }
                s
            })
        }
    }
}
