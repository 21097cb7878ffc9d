//! `notus publish` and offline signing (`publish --export`, `notus sign`, `publish --bundle`).
//!
//! Publishing first refreshes through the client workflow (so it builds only on verified state),
//! loads every reachable role, replays the changelist, signs every role that changed with the
//! keys this home holds for it, and uploads in one multipart POST; if another publisher won the
//! race (`VERSION`) it rebases and tries again. A pending root (from `init` or `key rotate`) goes
//! first.
//!
//! When the keys are elsewhere — root on three YubiKeys in three safes, a targets key on an
//! air-gapped machine — `publish --export B` writes the same files as a *bundle* with every
//! signature this home can make and, for each file, who may sign it. `notus sign B --key REF`
//! adds signatures on any machine, with no network; `publish --bundle B` checks every threshold
//! and uploads. Publishing never sends a file whose threshold is not met.
use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::Duration;
use clap::Args;
use notus_tuf::build::{self, MetaInput};
use notus_tuf::client::TrustedMetadataSet;
use notus_tuf::editor::{self, Change};
use notus_tuf::metadata::{Envelope, Key, Root};
use notus_tuf::verify::{Authorisation, verify_threshold};
use notus_tuf::{Dialect, RoleType, Signer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Context;
use super::publisher::{known, now, sign, signers};
use crate::files::write_atomic;
use crate::home::Collection;
use crate::keys::{KeyRef, Keyring};
use crate::remote::{Refused, Remote};
use crate::transport::Http;
use crate::updater::Updater;

/// Notary's default lifetime for targets and snapshot: 3 years.
const TARGETS_LIFETIME_DAYS: i64 = 3 * 365;
/// Attempts when another publisher keeps winning the race.
const PUBLISH_ATTEMPTS: usize = 4;
const BUNDLE_FORMAT: &str = "notus-bundle/1";

/// `notus publish`.
#[derive(Args, Debug, Default)]
pub struct PublishArgs {
    /// Collection.
    pub gun: String,
    /// Sign only with these keys (default: every key this home holds for each role).
    #[arg(long = "sign-with", value_name = "REF")]
    pub sign_with: Vec<String>,
    /// Write the signed-so-far files to a bundle for `notus sign` instead of uploading.
    #[arg(long, value_name = "FILE", conflicts_with = "bundle")]
    pub export: Option<PathBuf>,
    /// Upload a bundle completed with `notus sign` (every threshold must be met).
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
}

/// Who may sign one file: a delegator's key map, the authorised IDs and the threshold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthSpec {
    /// Which metadata grants it (`root v3`, `targets`…), for messages.
    pub by: String,
    /// Keys by ID.
    pub keys: BTreeMap<String, Key>,
    /// Authorised key IDs.
    pub keyids: Vec<String>,
    /// Signatures needed.
    pub threshold: u64,
}

impl AuthSpec {
    fn as_auth(&self) -> Authorisation<'_> {
        Authorisation {
            keys: &self.keys,
            keyids: &self.keyids,
            threshold: self.threshold,
        }
    }
}

/// A file to upload, with every authorisation its signatures must satisfy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleFile {
    /// Role name (the upload's file name).
    pub role: String,
    /// The metadata, signed so far.
    pub metadata: serde_json::Value,
    /// Each must be met (a new root needs its own keys and the previous root's).
    pub authorisations: Vec<AuthSpec>,
}

/// What `publish --export` writes and `notus sign` completes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    /// `notus-bundle/1`.
    pub format: String,
    /// Collection.
    pub gun: String,
    /// `tuf` or `notary`.
    pub dialect: String,
    /// sha256 of the changelist the bundle was built from (to clear it after publishing).
    pub changelist_sha256: String,
    /// The files, in upload order.
    pub files: Vec<BundleFile>,
}

fn dialect_of(name: &str) -> Result<Dialect> {
    match name {
        "tuf" => Ok(Dialect::Tuf),
        "notary" => Ok(Dialect::Notary),
        d => bail!("unknown dialect {d:?} in the bundle"),
    }
}

impl BundleFile {
    fn bytes(&self, dialect: Dialect) -> Result<Vec<u8>> {
        // Re-encode in the dialect's exact file form (Notary's canonical envelope).
        Ok(build::add_signatures(
            dialect,
            &serde_json::to_vec(&self.metadata)?,
            &[],
        )?)
    }

    fn from_bytes(role: &str, bytes: &[u8], authorisations: Vec<AuthSpec>) -> Result<Self> {
        Ok(BundleFile {
            role: role.to_owned(),
            metadata: serde_json::from_slice(bytes)?,
            authorisations,
        })
    }

    /// Which authorisations are still short of signatures, as messages.
    fn missing(&self, dialect: Dialect) -> Result<Vec<String>> {
        let env = Envelope::from_value(self.metadata.clone())?;
        let mut out = Vec::new();
        for a in &self.authorisations {
            let r = verify_threshold(dialect, a.as_auth(), &env.payload, &env.signatures, None);
            if !r.verified() {
                out.push(format!(
                    "{} needs {} signature(s) from the keys {} authorises, has {} (unsigned: {})",
                    self.role,
                    a.threshold,
                    a.by,
                    r.signed.len(),
                    r.unsigned
                        .iter()
                        .map(|k| &k[..12.min(k.len())])
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(out)
    }
}

fn changelist_digest(changes: &[Change]) -> Result<String> {
    Ok(hex::encode(Sha256::digest(serde_json::to_vec(changes)?)))
}

fn root_auth_spec(root: &Root, role: RoleType, by: String) -> Result<AuthSpec> {
    let r = root
        .roles
        .get(role.as_str())
        .ok_or_else(|| anyhow!("root has no {role} role"))?;
    Ok(AuthSpec {
        by,
        keys: root.keys.clone(),
        keyids: r.keyids().to_vec(),
        threshold: r.threshold,
    })
}

/// Files staged in `pending/`: a new root and the key assignments it brings.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct PendingKeys {
    /// Role → key references this home will sign with once the root is published (an empty
    /// list: the server holds the role's key).
    pub roles: BTreeMap<String, Vec<String>>,
}

fn pending_keys_path(ctx: &Context, gun: &str) -> Result<PathBuf> {
    Ok(ctx.home.pending_root_path(gun)?.with_file_name("keys.json"))
}

/// Read the pending key assignments (empty when none).
pub fn pending_keys(ctx: &Context, gun: &str) -> Result<PendingKeys> {
    match std::fs::read(pending_keys_path(ctx, gun)?) {
        Ok(b) => Ok(serde_json::from_slice(&b)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PendingKeys::default()),
        Err(e) => Err(e.into()),
    }
}

/// Stage a new root (and the key assignments it brings) for the next publish.
pub fn stage_root(ctx: &Context, gun: &str, root: &[u8], keys: &PendingKeys) -> Result<()> {
    let path = ctx.home.pending_root_path(gun)?;
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    write_atomic(
        &pending_keys_path(ctx, gun)?,
        &serde_json::to_vec_pretty(keys)?,
    )?;
    write_atomic(&path, root)
}

/// The collection's key assignments with the pending ones applied.
fn effective_keys(collection: &Collection, pending: &PendingKeys) -> BTreeMap<String, Vec<String>> {
    let mut keys = collection.keys.clone();
    for (role, refs) in &pending.roles {
        if refs.is_empty() {
            keys.remove(role);
        } else {
            keys.insert(role.clone(), refs.clone());
        }
    }
    keys
}

/// The references to sign `role` with: the home's keys for it, narrowed by `--sign-with` when
/// that names any of them (so `--sign-with` the one root token at hand still signs targets and
/// snapshot with their usual keys).
pub fn chosen(keys: &BTreeMap<String, Vec<String>>, role: &str, only: &[String]) -> Vec<String> {
    let refs = keys.get(role).cloned().unwrap_or_default();
    if refs.iter().any(|r| only.contains(r)) {
        refs.into_iter().filter(|r| only.contains(r)).collect()
    } else {
        refs
    }
}

/// Everything one publish would upload.
struct Prepared {
    files: Vec<BundleFile>,
}

/// Build and sign the upload: the pending root (if any), every changed targets role, and the
/// snapshot when this home signs snapshots.
fn prepare(
    ring: &mut Keyring,
    collection: &Collection,
    trusted: Option<&TrustedMetadataSet>,
    pending_root: Option<&[u8]>,
    pending: &PendingKeys,
    changes: &[Change],
    only: &[String],
) -> Result<Prepared> {
    let dialect = collection.dialect()?;
    let keys = effective_keys(collection, pending);
    let expires = now() + Duration::days(TARGETS_LIFETIME_DAYS);
    let trusted_root = trusted.map(|t| &t.root().value);
    let new_root: Option<Root> = pending_root
        .map(|b| Envelope::from_bytes(b).and_then(|e| e.decode()))
        .transpose()?;
    let root_in_force = new_root
        .as_ref()
        .or(trusted_root)
        .ok_or_else(|| anyhow!("no root: run `notus init` first"))?;
    let mut files = Vec::new();

    if let (Some(bytes), Some(root)) = (pending_root, &new_root) {
        let mut auths = vec![root_auth_spec(
            root,
            RoleType::Root,
            format!("root v{}", root.version),
        )?];
        if let Some(old) = trusted_root {
            auths.push(root_auth_spec(
                old,
                RoleType::Root,
                format!("root v{}", old.version),
            )?);
        }
        files.push(BundleFile::from_bytes("root", bytes, auths)?);
    }

    // Roles in the order first touched; `targets` first on a first publish or when its keys
    // changed (it must be re-signed by the new key).
    let mut roles: Vec<String> = Vec::new();
    let targets_keys_changed = match (trusted_root, &new_root) {
        (Some(old), Some(new)) => old.roles.get("targets") != new.roles.get("targets"),
        _ => false,
    };
    if trusted.is_none() || targets_keys_changed {
        roles.push("targets".into());
    }
    for c in changes {
        if !roles.iter().any(|r| r == c.role()) {
            roles.push(c.role().to_owned());
        }
    }
    let mut changed = Vec::new();
    for role in &roles {
        let current = trusted.and_then(|t| t.targets(role)).map(|s| &s.value);
        let mut map = current.map(|t| t.targets.clone()).unwrap_or_default();
        let mut delegations = current.and_then(|t| t.delegations.clone());
        let differs = editor::apply(dialect, role, &mut map, &mut delegations, changes);
        let witnessed = changes
            .iter()
            .any(|c| matches!(c, Change::Witness { role: r } if r == role));
        let forced =
            witnessed || (role == "targets" && (trusted.is_none() || targets_keys_changed));
        if !differs && !forced {
            continue;
        }
        // Who authorises this role: root for `targets`, else its delegator (as changed here,
        // or as trusted).
        let auth = if role == "targets" {
            root_auth_spec(root_in_force, RoleType::Targets, "root".into())?
        } else {
            delegation_auth(trusted, &files, role)?
        };
        if role != "targets"
            && let Some(t) = trusted
            && let Some(parent) = t.delegator_of(role)
            && let Some(entry) = t
                .targets(parent)
                .and_then(|p| p.value.delegations.as_ref())
                .and_then(|d| d.find(role))
            && let Some(outside) = map.keys().find(|p| !entry.allows(dialect, role, p))
        {
            bail!(
                "{outside} is outside the paths delegated to {role}; stage it in another role \
                 or widen the delegation (notus delegation add … --paths)"
            );
        }
        let version = current.map_or(1, |t| t.version + 1);
        let refs = chosen(&keys, role, only);
        // Under the IDs the delegator gives the keys (a Notary delegation lists certificates).
        let s: Vec<Box<dyn Signer>> = signers(ring, &refs, dialect)?
            .into_iter()
            .map(|s| crate::keys::bind(s, &auth.keys, dialect))
            .collect();
        let bytes = sign(
            editor::targets(dialect, version, expires, map, delegations)?,
            &s,
        )?;
        files.push(BundleFile::from_bytes(role, &bytes, vec![auth])?);
        changed.push((role.clone(), bytes, version));
    }

    // Every update carries a snapshot when the client signs snapshots (notary-server's rule;
    // a new root alone included).
    let client_snapshot = keys.contains_key("snapshot");
    if (!changed.is_empty() || pending_root.is_some()) && client_snapshot {
        let mut inputs: Vec<MetaInput> = changed
            .iter()
            .map(|(role, bytes, v)| MetaInput {
                role,
                bytes,
                version: *v,
            })
            .collect();
        // Notary's snapshot records root too.
        if dialect == Dialect::Notary
            && let (Some(bytes), Some(root)) = (pending_root, &new_root)
        {
            inputs.push(MetaInput {
                role: "root",
                bytes,
                version: root.version,
            });
        }
        let prev = trusted.and_then(|t| t.snapshot()).map(|s| &s.value);
        let s = signers(ring, &chosen(&keys, "snapshot", only), dialect)?;
        let bytes = sign(editor::next_snapshot(dialect, prev, expires, &inputs)?, &s)?;
        let auth = root_auth_spec(root_in_force, RoleType::Snapshot, "root".into())?;
        files.push(BundleFile::from_bytes("snapshot", &bytes, vec![auth])?);
    }
    Ok(Prepared { files })
}

/// The authorisation a delegated `role` has: from its delegator's version in this upload, else
/// the trusted one.
fn delegation_auth(
    trusted: Option<&TrustedMetadataSet>,
    files: &[BundleFile],
    role: &str,
) -> Result<AuthSpec> {
    let spec = |by: &str, d: &notus_tuf::metadata::Delegations| {
        d.find(role).map(|e| AuthSpec {
            by: by.to_owned(),
            keys: d.keys.clone(),
            keyids: e.keyids().to_vec(),
            threshold: e.threshold(),
        })
    };
    for f in files.iter().rev() {
        if let Ok(t) =
            serde_json::from_value::<notus_tuf::metadata::Targets>(f.metadata["signed"].clone())
            && let Some(found) = t.delegations.as_ref().and_then(|d| spec(&f.role, d))
        {
            return Ok(found);
        }
    }
    let t = trusted.ok_or_else(|| anyhow!("{role} is not delegated"))?;
    let parent = t.delegator_of(role).ok_or_else(|| {
        anyhow!("{role} is not a delegated role: add it with `notus delegation add`")
    })?;
    t.targets(parent)
        .and_then(|p| p.value.delegations.as_ref())
        .and_then(|d| spec(parent, d))
        .ok_or_else(|| anyhow!("{parent} no longer delegates {role}"))
}

fn refresh<'t>(
    ctx: &Context,
    gun: &str,
    remote: &Remote,
    http: &'t Http,
) -> Result<Updater<'t, Http>> {
    let mut up = super::updated(ctx, gun, remote, http)
        .context("bringing the trusted state up to date before publishing")?;
    // Load every reachable role: changes may touch delegated ones.
    up.all_targets()?;
    Ok(up)
}

fn check_thresholds(files: &[BundleFile], dialect: Dialect) -> Result<()> {
    let mut missing = Vec::new();
    for f in files {
        missing.extend(f.missing(dialect)?);
    }
    if !missing.is_empty() {
        bail!(
            "not enough signatures to publish:\n  {}\nexport a bundle (notus publish GUN --export FILE), \
             add signatures with `notus sign FILE --key REF` where the keys are, then \
             `notus publish GUN --bundle FILE`",
            missing.join("\n  ")
        );
    }
    Ok(())
}

fn upload(remote: &Remote, gun: &str, files: &[BundleFile], dialect: Dialect) -> Result<()> {
    let bytes: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| Ok((f.role.clone(), f.bytes(dialect)?)))
        .collect::<Result<_>>()?;
    let parts: Vec<(&str, &[u8])> = bytes
        .iter()
        .map(|(r, b)| (r.as_str(), b.as_slice()))
        .collect();
    remote.publish(gun, &parts)
}

/// `notus publish`.
pub fn publish(ctx: &Context, args: &PublishArgs) -> Result<()> {
    publish_with(ctx, &mut ctx.keyring(), &args.gun, args)
}

/// [`publish`] with the process's keyring (one PKCS#11 context per process).
pub fn publish_with(
    ctx: &Context,
    ring: &mut Keyring,
    gun: &str,
    args: &PublishArgs,
) -> Result<()> {
    let collection = known(ctx, gun)?;
    let dialect = collection.dialect()?;
    let remote = Remote::new(&ctx.server_for(Some(&collection))?);
    let changes = ctx.home.changelist(gun)?;
    let digest = changelist_digest(&changes)?;
    let pending_path = ctx.home.pending_root_path(gun)?;
    let pending_root = std::fs::read(&pending_path).ok();
    let pending = pending_keys(ctx, gun)?;
    let metadata_dir = ctx.home.metadata_dir(gun)?;
    let first_publish = !metadata_dir.join("root.json").exists();

    if let Some(path) = &args.bundle {
        let bundle: Bundle = serde_json::from_slice(
            &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("{} is not a notus bundle", path.display()))?;
        if bundle.format != BUNDLE_FORMAT || bundle.gun != gun {
            bail!(
                "{} is a bundle for {}, not {gun}",
                path.display(),
                bundle.gun
            );
        }
        check_thresholds(&bundle.files, dialect)?;
        upload(&remote, gun, &bundle.files, dialect).map_err(|e| {
            if e.downcast_ref::<Refused>()
                .is_some_and(|r| r.code == "VERSION")
            {
                e.context(
                    "the collection changed since the bundle was exported: export and sign again",
                )
            } else {
                e
            }
        })?;
        let root = bundle
            .files
            .iter()
            .find(|f| f.role == "root")
            .map(|f| f.bytes(dialect))
            .transpose()?;
        let keep_changes = bundle.changelist_sha256 != digest;
        return finish(
            ctx,
            &collection,
            &remote,
            root.as_deref(),
            first_publish,
            keep_changes,
        );
    }

    let mut attempt = 0;
    loop {
        attempt += 1;
        let http = Http::new(std::time::Duration::from_secs(60));
        let up = if first_publish {
            None
        } else {
            Some(refresh(ctx, gun, &remote, &http)?)
        };
        let prepared = prepare(
            ring,
            &collection,
            up.as_ref().map(|u| u.trusted()),
            pending_root.as_deref(),
            &pending,
            &changes,
            &args.sign_with,
        )?;
        if prepared.files.is_empty() {
            eprintln!("nothing to publish for {gun}: the repository already has these changes");
            ctx.home.save_changelist(gun, &[])?;
            return Ok(());
        }
        if let Some(out) = &args.export {
            let bundle = Bundle {
                format: BUNDLE_FORMAT.into(),
                gun: gun.to_owned(),
                dialect: collection.format.clone(),
                changelist_sha256: digest,
                files: prepared.files,
            };
            write_atomic(out, &serde_json::to_vec_pretty(&bundle)?)?;
            report(&bundle)?;
            eprintln!(
                "wrote {}: add signatures with `notus sign {} --key REF`, then \
                 `notus publish {gun} --bundle {}`",
                out.display(),
                out.display(),
                out.display()
            );
            return Ok(());
        }
        check_thresholds(&prepared.files, dialect)?;
        let holds_snapshot = effective_keys(&collection, &pending).contains_key("snapshot");
        let spin = crate::progress::spinner(&format!("publishing {gun}"));
        let uploaded = upload(&remote, gun, &prepared.files, dialect);
        spin.finish_and_clear();
        match uploaded {
            Ok(()) => break,
            Err(e)
                if attempt < PUBLISH_ATTEMPTS
                    && e.downcast_ref::<Refused>()
                        .is_some_and(|r| r.code == "VERSION") =>
            {
                eprintln!("another publish landed first; rebasing on it (attempt {attempt})");
            }
            Err(e) if !holds_snapshot && e.downcast_ref::<Refused>().is_some() => {
                return Err(e.context(format!(
                    "this home holds no snapshot key for {gun}, so the server must sign \
                     snapshots: the collection's owner can arrange that with \
                     `notus key rotate {gun} snapshot -r`"
                )));
            }
            Err(e) => return Err(e),
        }
    }
    finish(
        ctx,
        &collection,
        &remote,
        pending_root.as_deref(),
        first_publish,
        false,
    )
}

/// After a successful upload: the pending root becomes trusted (first publish), pending key
/// assignments take effect, the changelist is cleared, and the collection is read back through
/// the client workflow — so the publisher's cache is current, and a server that stored
/// something else is caught at once.
fn finish(
    ctx: &Context,
    collection: &Collection,
    remote: &Remote,
    root: Option<&[u8]>,
    first_publish: bool,
    keep_changes: bool,
) -> Result<()> {
    let gun = &collection.gun;
    let metadata_dir = ctx.home.metadata_dir(gun)?;
    if first_publish && let Some(root) = root {
        std::fs::create_dir_all(&metadata_dir)?;
        write_atomic(&metadata_dir.join("root.json"), root)?;
    }
    let pending = pending_keys(ctx, gun)?;
    if root.is_some() {
        let mut c = collection.clone();
        c.keys = effective_keys(collection, &pending);
        ctx.home.save_collection(&c)?;
        let _ = std::fs::remove_file(ctx.home.pending_root_path(gun)?);
        let _ = std::fs::remove_file(pending_keys_path(ctx, gun)?);
    }
    if keep_changes {
        eprintln!("note: the changelist changed since the bundle was exported; kept it");
    } else {
        ctx.home.save_changelist(gun, &[])?;
    }
    let http = Http::new(std::time::Duration::from_secs(60));
    super::updated(ctx, gun, remote, &http)
        .and_then(|mut up| up.all_targets().map(drop))
        .context("the published metadata did not verify when read back")?;
    eprintln!("published {gun}");
    Ok(())
}

fn report(bundle: &Bundle) -> Result<()> {
    let dialect = dialect_of(&bundle.dialect)?;
    for f in &bundle.files {
        let env = Envelope::from_value(f.metadata.clone())?;
        for a in &f.authorisations {
            let r = verify_threshold(dialect, a.as_auth(), &env.payload, &env.signatures, None);
            eprintln!(
                "  {:<12} {}/{} signatures for {}{}",
                f.role,
                r.signed.len(),
                a.threshold,
                a.by,
                if r.verified() { "" } else { "  (needs more)" }
            );
        }
    }
    Ok(())
}

/// `notus sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// The bundle (from `notus publish GUN --export FILE`); signed in place.
    pub bundle: PathBuf,
    /// Keys to sign with (file:… or pkcs11:…); each signs every file it is authorised for.
    #[arg(long = "key", value_name = "REF", required = true)]
    pub keys: Vec<String>,
    /// Sign without asking (required when not on a terminal: a script must say so).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// What a bundle's files say, for the person about to sign them.
fn describe(bundle: &Bundle) -> Result<String> {
    let mut out = format!("bundle for {} ({}):\n", bundle.gun, bundle.dialect);
    for f in &bundle.files {
        let signed = &f.metadata["signed"];
        let version = signed["version"].as_u64().unwrap_or(0);
        let expires = signed["expires"].as_str().unwrap_or("?");
        let what = match f.role.as_str() {
            "root" => {
                let root: Root = serde_json::from_value(signed.clone())?;
                root.roles
                    .iter()
                    .map(|(role, r)| {
                        let ids: Vec<&str> =
                            r.keyids().iter().map(|k| &k[..12.min(k.len())]).collect();
                        format!("{role} {} of [{}]", r.threshold, ids.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            }
            "snapshot" | "timestamp" => format!(
                "records {} file(s)",
                signed["meta"].as_object().map_or(0, |m| m.len())
            ),
            _ => format!(
                "{} target(s), {} delegation(s)",
                signed["targets"].as_object().map_or(0, |m| m.len()),
                signed["delegations"]["roles"]
                    .as_array()
                    .map_or(0, Vec::len)
            ),
        };
        out.push_str(&format!(
            "  {} v{version}: {what}; expires {expires}\n",
            f.role
        ));
    }
    Ok(out)
}

/// `notus sign`: add signatures to a bundle, offline. A key signs every file in the bundle that
/// one of the file's authorisations lists it for, and nothing else.
pub fn sign_bundle(ctx: &Context, args: &SignArgs) -> Result<()> {
    let path = &args.bundle;
    let mut bundle: Bundle = serde_json::from_slice(
        &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("{} is not a notus bundle", path.display()))?;
    if bundle.format != BUNDLE_FORMAT {
        bail!("{} is not a {BUNDLE_FORMAT} bundle", path.display());
    }
    let dialect = dialect_of(&bundle.dialect)?;
    // Signing is a decision: show what is about to be signed and ask (or require --yes).
    eprint!("{}", describe(&bundle)?);
    if !args.yes {
        use std::io::IsTerminal as _;
        if !std::io::stdin().is_terminal() {
            bail!("review the files above, then sign with --yes (not on a terminal, so no prompt)");
        }
        eprint!("Sign these files? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("not signed");
        }
    }
    let mut ring = ctx.keyring();
    let mut signed_any = false;
    for r in &args.keys {
        let signer = ring.signer(&KeyRef::parse(r)?, dialect)?;
        let mut roles = Vec::new();
        for f in &mut bundle.files {
            if !f
                .authorisations
                .iter()
                .any(|a| authorises(a, signer.as_ref(), dialect))
            {
                continue;
            }
            let env = Envelope::from_value(f.metadata.clone())?;
            let sig = signer.sign(&env.payload)?;
            let bytes = build::add_signatures(dialect, &serde_json::to_vec(&f.metadata)?, &[sig])?;
            f.metadata = serde_json::from_slice(&bytes)?;
            roles.push(f.role.clone());
        }
        if roles.is_empty() {
            eprintln!("{r}: not authorised for any file in the bundle; nothing signed");
        } else {
            eprintln!("{r}: signed {}", roles.join(", "));
            signed_any = true;
        }
    }
    write_atomic(path, &serde_json::to_vec_pretty(&bundle)?)?;
    report(&bundle)?;
    if !signed_any {
        bail!("none of the keys may sign anything in {}", path.display());
    }
    Ok(())
}

/// Whether `a` authorises the signer's key (by ID, or by key material under another ID).
fn authorises(a: &AuthSpec, signer: &dyn Signer, dialect: Dialect) -> bool {
    a.keyids.iter().any(|id| {
        id == signer.key_id()
            || a.keys
                .get(id)
                .and_then(|k| notus_tuf::keys::parse_key(dialect, k).ok())
                .is_some_and(|p| &p.key == signer.public_key())
    })
}
