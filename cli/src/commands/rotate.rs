//! `notus key rotate GUN ROLE`: a new root that gives ROLE new keys (made here, taken from this
//! home or a token, or held by the server with `--server`), signed by the current root keys and,
//! for root itself, the new ones. It is staged like every change and published at once unless a
//! threshold of signatures needs other machines (then `publish --export` / `notus sign`).
use anyhow::{Context as _, Result, bail};
use chrono::Duration;
use clap::Args;
use notus_tuf::RoleType;
use notus_tuf::build::{self, RawSignature};
use notus_tuf::editor;
use notus_tuf::keys::key_from_public;

use super::Context;
use super::key::KeyPlacement;
use super::publish::{self, PendingKeys, PublishArgs};
use super::publisher::{ROOT_LIFETIME_DAYS, known, now, signers};
use crate::keys::KeyRef;
use crate::remote::Remote;
use crate::transport::Http;

/// `notus key rotate`.
#[derive(Args, Debug)]
pub struct RotateArgs {
    /// Collection.
    pub gun: String,
    /// root, targets, snapshot or timestamp.
    pub role: String,
    /// New key(s) for the role (default: make one, in a file or on --pkcs11-token).
    #[arg(long = "key", value_name = "REF", conflicts_with = "server_managed")]
    pub keys: Vec<String>,
    /// The server holds the role's new key (snapshot or timestamp), as `notary key rotate -r`.
    #[arg(long, short = 'r')]
    pub server_managed: bool,
    /// New signature threshold for the role.
    #[arg(long)]
    pub threshold: Option<u64>,
    /// Sign the new root only with these of the current (and new) root keys.
    #[arg(long = "sign-with", value_name = "REF")]
    pub sign_with: Vec<String>,
    /// Stage the new root without publishing it.
    #[arg(long)]
    pub stage: bool,
    #[command(flatten)]
    pub place: KeyPlacement,
}

/// Run `notus key rotate`.
pub fn run(ctx: &Context, a: RotateArgs) -> Result<()> {
    let collection = known(ctx, &a.gun)?;
    let dialect = collection.dialect()?;
    let role = match a.role.as_str() {
        "root" => RoleType::Root,
        "targets" => RoleType::Targets,
        "snapshot" => RoleType::Snapshot,
        "timestamp" => RoleType::Timestamp,
        r => bail!(
            "{r} is not a top-level role; delegation keys change with `notus delegation add/remove`"
        ),
    };
    if role == RoleType::Timestamp && !a.server_managed {
        bail!("the server always holds the timestamp key: rotate it with --server-managed");
    }
    if a.server_managed && matches!(role, RoleType::Root | RoleType::Targets) {
        bail!("the server never holds the {role} key");
    }
    if ctx.home.pending_root_path(&a.gun)?.exists() {
        bail!(
            "a new root for {} is already staged: publish it (or export it for signing) first",
            a.gun
        );
    }
    let remote = Remote::new(&ctx.server_for(Some(&collection))?);
    let http = Http::new(std::time::Duration::from_secs(60));
    let up = super::updated(ctx, &a.gun, &remote, &http)
        .context("reading the current root before rotating")?;
    let current = up.trusted().root().value.clone();

    let mut ring = ctx.keyring();
    let (new_keys, new_refs) = if a.server_managed {
        let (key, _) = remote.rotate_server_key(&a.gun, role.as_str(), dialect)?;
        (vec![key], Vec::new())
    } else {
        let mut refs = a.keys.clone();
        if refs.is_empty() {
            let gun = (role != RoleType::Root).then_some(a.gun.as_str());
            refs.push(
                ring.generate(&a.place.new_key()?, role.as_str(), gun)?
                    .0
                    .to_string(),
            );
        }
        let mut keys = Vec::new();
        for r in &refs {
            let s = ring.signer(&KeyRef::parse(r)?, dialect)?;
            keys.push(if role == RoleType::Root {
                super::publisher::root_key(dialect, s.as_ref(), &a.gun)?
            } else {
                key_from_public(dialect, s.public_key())?
            });
        }
        (keys, refs)
    };
    let threshold = a
        .threshold
        .unwrap_or_else(|| current.roles.get(role.as_str()).map_or(1, |r| r.threshold));
    if threshold == 0 || threshold as usize > new_keys.len() {
        bail!(
            "{role} would need {threshold} signature(s) from {} key(s): give more --key or a \
             lower --threshold",
            new_keys.len()
        );
    }
    let unsigned = editor::rotate_root(
        dialect,
        &current,
        role,
        &new_keys,
        a.threshold,
        now() + Duration::days(ROOT_LIFETIME_DAYS),
    )?;
    // Signed by the current root keys this home holds (narrowed by --sign-with) and, for root,
    // by every new key: they are introduced here, so they are at hand.
    let mut refs = publish::chosen(&collection.keys, "root", &a.sign_with);
    if role == RoleType::Root {
        for r in &new_refs {
            if !refs.contains(r) {
                refs.push(r.clone());
            }
        }
    }
    // Each signs under the ID the current or the new root gives its key.
    let mut key_map = current.keys.clone();
    for k in &new_keys {
        key_map.insert(notus_tuf::keys::key_id(dialect, k), k.clone());
    }
    let s: Vec<Box<dyn notus_tuf::Signer>> = signers(&mut ring, &refs, dialect)?
        .into_iter()
        .map(|s| crate::keys::bind(s, &key_map, dialect))
        .collect();
    let sigs: Vec<RawSignature> = s
        .iter()
        .map(|s| s.sign(unsigned.payload()))
        .collect::<Result<_, _>>()?;
    let root_bytes = build::add_signatures(dialect, &unsigned.finish(&[])?, &sigs)?;
    let mut pending = PendingKeys::default();
    pending.roles.insert(role.as_str().to_owned(), new_refs);
    publish::stage_root(ctx, &a.gun, &root_bytes, &pending)?;
    eprintln!(
        "staged root v{} with new {role} key(s)",
        current.version + 1
    );
    if a.stage {
        eprintln!("publish with: notus publish {}", a.gun);
        return Ok(());
    }
    let args = PublishArgs {
        gun: a.gun.clone(),
        sign_with: a.sign_with.clone(),
        ..Default::default()
    };
    publish::publish_with(ctx, &mut ring, &a.gun, &args)
}
