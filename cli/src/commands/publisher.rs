//! Publishing: `init`, staging (`add`, `addhash`, `remove`, `status`, `reset`) and `publish`.
//!
//! Staged changes live in the collection's changelist until `publish`, which first brings the
//! trusted state up to date through the client workflow (so it builds on what the repository
//! really holds, verified), replays the changes on it, signs, and uploads. A concurrent publish
//! by someone else makes the server answer `VERSION`; `publish` then refreshes and replays again.
use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use notus_tuf::editor::{self, Change, RoleSpec};
use notus_tuf::keys::key_from_public;
use notus_tuf::metadata::{Hashes, TargetFile};
use notus_tuf::{Dialect, RoleType, Signer};
use serde::Serialize;

use super::Context;
use super::key::KeyPlacement;
use crate::home::{Collection, check_gun};
use crate::keys::{KeyRef, Keyring};
use crate::remote::Remote;

/// Notary's default lifetimes: root 10 years, targets and snapshot 3 years.
pub(super) const ROOT_LIFETIME_DAYS: i64 = 3650;

/// `notus init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// The collection's globally unique name, e.g. example.com/app.
    pub gun: String,
    /// Metadata format: TUF 1.0 (python-tuf/go-tuf clients) or Notary 0.7 (docker trust).
    #[arg(long, value_enum, default_value = "tuf")]
    pub format: Format,
    /// Use this key for root instead of making one (repeat for several root keys).
    #[arg(long = "root-key", value_name = "REF")]
    pub root_keys: Vec<String>,
    /// Signatures required on root (default 1).
    #[arg(long, default_value_t = 1)]
    pub root_threshold: u64,
    /// Use this key for targets instead of making one.
    #[arg(long, value_name = "REF")]
    pub targets_key: Option<String>,
    /// Use this key for snapshot instead of making one.
    #[arg(long, value_name = "REF", conflicts_with = "server_snapshot")]
    pub snapshot_key: Option<String>,
    /// Let the server sign snapshots (as `notary key rotate GUN snapshot -r`).
    #[arg(long)]
    pub server_snapshot: bool,
    /// Publish right away (otherwise run `notus publish GUN` later).
    #[arg(long, short = 'p')]
    pub publish: bool,
    /// Take over publishing an existing collection (made by `notary` or another home): trust
    /// its root (--root FILE, or --tofu) and use the keys of this home that its roles list
    /// (e.g. after `notus key import ~/.notary/private/*.key`).
    #[arg(long, conflicts_with_all = ["root_keys", "targets_key", "snapshot_key", "server_snapshot"])]
    pub existing: bool,
    #[command(flatten)]
    pub trust: super::consumer::TrustArgs,
    #[command(flatten)]
    pub place: KeyPlacement,
}

/// Metadata formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// TUF 1.0.
    Tuf,
    /// Notary 0.7.
    Notary,
}

/// `notus add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// Collection.
    pub gun: String,
    /// Target name (the path clients ask for).
    pub target: String,
    /// The file to describe (hashed locally; it is not uploaded).
    pub file: PathBuf,
    /// Custom data for the target: a JSON file, or inline JSON.
    #[arg(long, value_name = "FILE|JSON")]
    pub custom: Option<String>,
    /// Delegated role to list it in (default: targets).
    #[arg(long, alias = "roles", default_value = "targets")]
    pub role: String,
}

/// `notus addhash`.
#[derive(Args, Debug)]
pub struct AddHashArgs {
    /// Collection.
    pub gun: String,
    /// Target name.
    pub target: String,
    /// Length in bytes.
    pub length: u64,
    /// SHA-256, hex.
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// SHA-512, hex.
    #[arg(long, value_name = "HEX")]
    pub sha512: Option<String>,
    /// Custom data for the target: a JSON file, or inline JSON.
    #[arg(long, value_name = "FILE|JSON")]
    pub custom: Option<String>,
    /// Delegated role to list it in (default: targets).
    #[arg(long, alias = "roles", default_value = "targets")]
    pub role: String,
}

pub(super) fn now() -> DateTime<Utc> {
    crate::now()
}

/// `--custom`: a JSON file (as Notary's `--custom` takes) or inline JSON.
fn parse_custom(custom: Option<&str>) -> Result<Option<serde_json::Value>> {
    let Some(c) = custom else {
        return Ok(None);
    };
    let path = std::path::Path::new(c);
    let text = if path.is_file() {
        std::fs::read_to_string(path).with_context(|| format!("reading {c}"))?
    } else {
        c.to_owned()
    };
    let v = serde_json::from_str(&text).context("--custom must be a JSON file or inline JSON")?;
    Ok(Some(v))
}

pub(super) fn known(ctx: &Context, gun: &str) -> Result<Collection> {
    ctx.home.collection(gun)?.ok_or_else(|| {
        anyhow!("this home does not publish {gun}: run `notus init {gun}` first (or set --home)")
    })
}

pub(super) fn signers(
    ring: &mut Keyring,
    refs: &[String],
    dialect: Dialect,
) -> Result<Vec<Box<dyn Signer>>> {
    refs.iter()
        .map(|r| ring.signer(&KeyRef::parse(r)?, dialect))
        .collect()
}

pub(super) fn sign(
    unsigned: notus_tuf::UnsignedMetadata,
    signers: &[Box<dyn Signer>],
) -> Result<Vec<u8>> {
    let refs: Vec<&dyn Signer> = signers.iter().map(|s| s.as_ref()).collect();
    Ok(unsigned.sign_with(&refs)?)
}

/// `notus init`: make (or take) the keys, build and sign root v1, remember the collection.
pub fn init(ctx: &Context, a: InitArgs) -> Result<()> {
    check_gun(&a.gun)?;
    if a.existing {
        return adopt(ctx, &a.gun, &a.trust);
    }
    let dialect = match a.format {
        Format::Tuf => Dialect::Tuf,
        Format::Notary => Dialect::Notary,
    };
    if ctx.home.collection(&a.gun)?.is_some() {
        bail!("{} is already initialised in this home", a.gun);
    }
    let server = ctx.server_for(None)?;
    let remote = Remote::new(&server);
    // Ask the server first: if it is unreachable, no key has been made for nothing.
    let (ts_key, _) = remote
        .server_key(&a.gun, "timestamp", dialect)
        .context("fetching the server's timestamp key")?;
    let mut ring = ctx.keyring();
    let how = a.place.new_key()?;
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut specs = BTreeMap::new();

    // Root: the given keys, or one new key.
    let mut root_refs = a.root_keys.clone();
    if root_refs.is_empty() {
        root_refs.push(ring.generate(&how, "root", None)?.0.to_string());
    }
    if a.root_threshold == 0 || a.root_threshold as usize > root_refs.len() {
        bail!(
            "--root-threshold {} needs at least that many --root-key",
            a.root_threshold
        );
    }
    let root_signers = signers(&mut ring, &root_refs, dialect)?;
    let mut root_keys = Vec::new();
    for s in &root_signers {
        root_keys.push(root_key(dialect, s.as_ref(), &a.gun)?);
    }
    specs.insert(
        RoleType::Root,
        RoleSpec {
            keys: root_keys.clone(),
            threshold: a.root_threshold,
        },
    );
    keys.insert("root".into(), root_refs);

    for (role, given) in [
        (RoleType::Targets, a.targets_key.clone()),
        (RoleType::Snapshot, a.snapshot_key.clone()),
    ] {
        if role == RoleType::Snapshot && a.server_snapshot {
            let (key, _) = remote.server_key(&a.gun, "snapshot", dialect)?;
            specs.insert(
                role,
                RoleSpec {
                    keys: vec![key],
                    threshold: 1,
                },
            );
            continue;
        }
        let r = match given {
            Some(r) => KeyRef::parse(&r)?,
            None => ring.generate(&how, role.as_str(), Some(&a.gun))?.0,
        };
        let s = ring.signer(&r, dialect)?;
        specs.insert(
            role,
            RoleSpec {
                keys: vec![key_from_public(dialect, s.public_key())?],
                threshold: 1,
            },
        );
        keys.insert(role.as_str().into(), vec![r.to_string()]);
    }
    specs.insert(
        RoleType::Timestamp,
        RoleSpec {
            keys: vec![ts_key],
            threshold: 1,
        },
    );

    let root = editor::root(
        dialect,
        1,
        now() + Duration::days(ROOT_LIFETIME_DAYS),
        &specs,
    )?;
    // Sign under the IDs root gives the keys (Notary: the certificates' IDs).
    let key_map: BTreeMap<String, notus_tuf::metadata::Key> = root_keys
        .iter()
        .map(|k| (notus_tuf::keys::key_id(dialect, k), k.clone()))
        .collect();
    let root_signers: Vec<Box<dyn Signer>> = root_signers
        .into_iter()
        .map(|s| crate::keys::bind(s, &key_map, dialect))
        .collect();
    let root_bytes = sign(root, &root_signers)?;
    super::publish::stage_root(ctx, &a.gun, &root_bytes, &Default::default())?;
    ctx.home.save_collection(&Collection {
        gun: a.gun.clone(),
        format: dialect.as_str().into(),
        server,
        keys,
    })?;
    let label = match dialect {
        Dialect::Notary => "Notary 0.7",
        _ => "TUF 1.0",
    };
    eprintln!("initialised {} ({label}); root v1 signed", a.gun);
    if a.publish {
        super::publish::publish_with(ctx, &mut ring, &a.gun, &Default::default())?;
    } else {
        eprintln!("publish it with: notus publish {}", a.gun);
    }
    Ok(())
}

/// How root lists a root key: TUF as the key itself; Notary as a self-signed certificate for
/// the collection (CN = GUN, 10 years), signed by the key.
pub(super) fn root_key(
    dialect: Dialect,
    signer: &dyn Signer,
    gun: &str,
) -> Result<notus_tuf::metadata::Key> {
    match dialect {
        Dialect::Notary => {
            let mut serial = [0u8; 16];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut serial);
            let start = now();
            Ok(notus_tuf::x509::notary_root_key(
                signer,
                gun,
                serial,
                start,
                start + Duration::days(ROOT_LIFETIME_DAYS),
            )?)
        }
        _ => Ok(key_from_public(dialect, signer.public_key())?),
    }
}

/// `notus init --existing`: pin the collection's root, then map this home's keys to the roles
/// that list them.
fn adopt(ctx: &Context, gun: &str, trust: &super::consumer::TrustArgs) -> Result<()> {
    if ctx
        .home
        .collection(gun)?
        .is_some_and(|c| !c.keys.is_empty())
    {
        bail!("{gun} is already initialised in this home");
    }
    let http = crate::transport::Http::new(std::time::Duration::from_secs(60));
    let mut up = super::consumer::open(ctx, gun, trust, &http)?;
    up.all_targets()?;
    let set = up.trusted();
    let dialect = set.dialect();
    // Every role and the public keys it lists.
    let mut listed: Vec<(String, notus_tuf::keys::PublicKey)> = Vec::new();
    let root = &set.root().value;
    for (role, r) in &root.roles {
        for id in r.keyids() {
            if let Some(k) = root.keys.get(id)
                && let Ok(p) = notus_tuf::keys::parse_key(dialect, k)
            {
                listed.push((role.clone(), p.key));
            }
        }
    }
    for (_, t) in set.all_targets() {
        if let Some(d) = &t.value.delegations {
            for r in d.roles() {
                for id in r.keyids() {
                    if let Some(k) = d.keys.get(id)
                        && let Ok(p) = notus_tuf::keys::parse_key(dialect, k)
                    {
                        listed.push((r.name.clone(), p.key));
                    }
                }
            }
        }
    }
    let mut ring = ctx.keyring();
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for info in ring.files().list()? {
        if info.gun.as_deref().is_some_and(|g| g != gun) {
            continue;
        }
        let r = KeyRef::File {
            fingerprint: info.fingerprint.clone(),
        };
        let public = ring.signer(&r, dialect)?.public_key().clone();
        for (role, p) in &listed {
            if *p == public {
                keys.entry(role.clone()).or_default().push(r.to_string());
            }
        }
    }
    if keys.is_empty() {
        bail!(
            "none of this home's keys is listed by {gun}'s roles: import them first \
             (notus key import ~/.notary/private/*.key)"
        );
    }
    let mut c = ctx
        .home
        .collection(gun)?
        .expect("open() recorded the collection");
    c.keys = keys;
    ctx.home.save_collection(&c)?;
    for (role, refs) in &c.keys {
        eprintln!("{gun}: {role} signed with {}", refs.join(", "));
    }
    Ok(())
}

fn stage(ctx: &Context, gun: &str, change: Change) -> Result<()> {
    known(ctx, gun)?;
    let mut changes = ctx.home.changelist(gun)?;
    changes.push(change);
    ctx.home.save_changelist(gun, &changes)
}

fn check_role_name(role: &str) -> Result<()> {
    if role.is_empty() || role.contains(char::is_control) {
        bail!("{role:?} is not a role name");
    }
    Ok(())
}

/// `notus add`: hash a local file and stage it as a target.
pub fn add(ctx: &Context, a: AddArgs) -> Result<()> {
    check_role_name(&a.role)?;
    let dialect = known(ctx, &a.gun)?.dialect()?;
    let file = crate::progress::hash_file(&a.file, dialect, parse_custom(a.custom.as_deref())?)?;
    stage_target(ctx, &a.gun, a.role, a.target, file)
}

fn stage_target(
    ctx: &Context,
    gun: &str,
    role: String,
    path: String,
    file: TargetFile,
) -> Result<()> {
    let length = file.length;
    stage(
        ctx,
        gun,
        Change::Add {
            role,
            path: path.clone(),
            file,
        },
    )?;
    eprintln!("staged {path} ({length} bytes); publish with: notus publish {gun}");
    Ok(())
}

/// `notus addhash`: stage a target by its hashes and length.
pub fn addhash(ctx: &Context, a: AddHashArgs) -> Result<()> {
    check_role_name(&a.role)?;
    let dialect = known(ctx, &a.gun)?.dialect()?;
    let mut hashes = Hashes::new();
    for (alg, v, len) in [("sha256", &a.sha256, 32), ("sha512", &a.sha512, 64)] {
        if let Some(v) = v {
            let bytes = hex::decode(v).with_context(|| format!("--{alg} must be hex"))?;
            if bytes.len() != len {
                bail!("--{alg} must be {len} bytes ({} hex digits)", len * 2);
            }
            hashes.insert(alg.into(), dialect.encode_bytes(&bytes));
        }
    }
    if hashes.is_empty() {
        bail!("give at least one of --sha256 and --sha512");
    }
    let file = TargetFile {
        length: a.length,
        hashes,
        custom: parse_custom(a.custom.as_deref())?,
        extra: Default::default(),
    };
    stage_target(ctx, &a.gun, a.role, a.target, file)
}

/// `notus remove`: stage the removal of a target.
pub fn remove(ctx: &Context, gun: &str, target: &str, role: &str) -> Result<()> {
    stage(
        ctx,
        gun,
        Change::Remove {
            role: role.to_owned(),
            path: target.to_owned(),
        },
    )?;
    eprintln!("staged removal of {target}; publish with: notus publish {gun}");
    Ok(())
}

#[derive(Serialize)]
struct Staged<'a> {
    gun: &'a str,
    unpublished_root: bool,
    changes: &'a [Change],
}

/// `notus status`: what `publish` would send.
pub fn status(ctx: &Context, gun: &str) -> Result<()> {
    known(ctx, gun)?;
    let changes = ctx.home.changelist(gun)?;
    let pending = ctx.home.pending_root_path(gun)?.exists();
    let s = Staged {
        gun,
        unpublished_root: pending,
        changes: &changes,
    };
    ctx.emit(&s, || {
        let mut out = String::new();
        if pending {
            out.push_str(&format!("{gun}: not yet published (root v1 is ready)\n"));
        }
        if changes.is_empty() {
            out.push_str(&format!("No unpublished changes for {gun}\n"));
        } else {
            out.push_str(&format!("Unpublished changes for {gun}:\n\n"));
            out.push_str(&format!(
                "{:<4} {:<10} {:<18} {}\n",
                "#", "ACTION", "ROLE", "TARGET"
            ));
            for (i, c) in changes.iter().enumerate() {
                let (op, role, path) = match c {
                    Change::Add { role, path, .. } => ("add", role, path),
                    Change::Remove { role, path } => ("remove", role, path),
                    Change::Delegate {
                        delegator, name, ..
                    } => ("delegate", delegator, name),
                    Change::Undelegate { delegator, name } => ("undelegate", delegator, name),
                    Change::Witness { role } => ("witness", role, role),
                    Change::PurgeKeys { delegator, .. } => ("purge", delegator, delegator),
                };
                out.push_str(&format!("{i:<4} {op:<10} {role:<18} {path}\n"));
            }
        }
        out
    })
}

/// `notus witness`: stage re-signing roles unchanged (new version, fresh expiry).
pub fn witness(ctx: &Context, gun: &str, roles: &[String]) -> Result<()> {
    for r in roles {
        check_role_name(r)?;
        stage(ctx, gun, Change::Witness { role: r.clone() })?;
    }
    eprintln!(
        "staged witnessing {}; publish with: notus publish {gun}",
        roles.join(", ")
    );
    Ok(())
}

/// `notus delete`: forget the collection in this home (its keys stay); with `remote`, also
/// delete it on the server.
pub fn delete(ctx: &Context, gun: &str, remote: bool) -> Result<()> {
    check_gun(gun)?;
    let collection = ctx.home.collection(gun)?;
    if remote {
        let server = ctx.server_for(collection.as_ref())?;
        Remote::new(&server).delete(gun)?;
        eprintln!("deleted {gun} on {server}");
    }
    let dir = ctx.home.metadata_dir(gun)?;
    let dir = dir
        .parent()
        .expect("metadata lives in the collection's directory");
    match std::fs::remove_dir_all(dir) {
        Ok(()) => eprintln!("removed the local data of {gun} (keys are kept)"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("no local data for {gun}")
        }
        Err(e) => return Err(e).with_context(|| format!("removing {}", dir.display())),
    }
    Ok(())
}

/// `notus reset`: drop all staged changes, or those numbered `only` (as `status` numbers them).
pub fn reset(ctx: &Context, gun: &str, only: &[usize]) -> Result<()> {
    known(ctx, gun)?;
    let changes = ctx.home.changelist(gun)?;
    if let Some(n) = only.iter().find(|n| **n >= changes.len()) {
        bail!("there is no staged change #{n} (see `notus status {gun}`)");
    }
    let kept: Vec<Change> = changes
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !only.is_empty() && !only.contains(i))
        .map(|(_, c)| c)
        .collect();
    ctx.home.save_changelist(gun, &kept)?;
    eprintln!("reset the staged changes of {gun} ({} left)", kept.len());
    Ok(())
}
