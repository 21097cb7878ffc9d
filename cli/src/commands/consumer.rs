//! Reading a collection: `list`, `lookup`, `verify`. Everything goes through the client workflow
//! with the collection's trusted metadata cached in the home, starting from a pinned root:
//!
//! * the root this home published (publishers), or
//! * `--root FILE` given out of band by the publisher, optionally checked against
//!   `--root-keyid`, or
//! * only with `--tofu`: whatever root the server offers first (trust on first use).
//!
//! After the first use the cached root is the pin; rotations are followed through the chain of
//! signed roots, never by re-trusting the server.
use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use notus_tuf::Dialect;
use notus_tuf::client::TrustedMetadataSet;
use notus_tuf::metadata::TargetFile;
use serde::Serialize;

use super::Context;
use crate::files::write_atomic;
use crate::home::Collection;
use crate::remote::Remote;
use crate::transport::{Http, Transport};
use crate::updater::{Limits, Updater, check_target};

/// How to establish trust in a collection read for the first time.
#[derive(Args, Debug, Clone, Default)]
pub struct TrustArgs {
    /// Trust this root metadata file (obtained from the publisher) for the collection.
    #[arg(long, value_name = "FILE")]
    pub root: Option<PathBuf>,
    /// Require the first root to be signed by this root key ID (with --root or --tofu).
    #[arg(long, value_name = "KEYID")]
    pub root_keyid: Option<String>,
    /// Trust whatever root the server offers the first time (trust on first use).
    #[arg(long)]
    pub tofu: bool,
}

fn now() -> notus_tuf::time::Now {
    crate::now()
}

/// Make sure the collection has a trusted root in the home, establishing one if allowed.
fn ensure_pin(ctx: &Context, gun: &str, remote: &Remote, trust: &TrustArgs) -> Result<()> {
    let dir = ctx.home.metadata_dir(gun)?;
    if dir.join("root.json").exists() {
        if trust.root.is_some() {
            eprintln!("note: {gun} already has a trusted root in this home; --root is ignored");
        }
        return Ok(());
    }
    let bytes = if let Some(file) = &trust.root {
        std::fs::read(file).with_context(|| format!("reading {}", file.display()))?
    } else if trust.tofu {
        let url = format!("{}1.root.json", remote.metadata_url(gun));
        Http::new(std::time::Duration::from_secs(60))
            .fetch(&url, Limits::default().root_max_length)
            .with_context(|| format!("fetching the first root of {gun}"))?
    } else {
        bail!(
            "no trusted root for {gun} in this home: pass --root FILE (the collection's root.json \
             from its publisher), or --tofu to trust the server's root on first use"
        );
    };
    let set = TrustedMetadataSet::new(&bytes, now()).context("the root to pin is not valid")?;
    if let Some(id) = &trust.root_keyid {
        let root = &set.root().value;
        if !root.roles["root"].keyids().iter().any(|k| k == id) {
            bail!("the root of {gun} is not signed for by root key {id}; refusing to trust it");
        }
    }
    std::fs::create_dir_all(&dir)?;
    write_atomic(&dir.join("root.json"), &bytes)?;
    // Remember where the collection lives, so later commands need no --server.
    if ctx.home.collection(gun)?.is_none() {
        ctx.home.save_collection(&Collection {
            gun: gun.to_owned(),
            format: set.dialect().as_str().to_owned(),
            server: remote.base().to_owned(),
            keys: Default::default(),
        })?;
    }
    Ok(())
}

/// An updater for `gun`, refreshed, with its root pinned (see the module docs).
pub fn open<'t>(
    ctx: &Context,
    gun: &str,
    trust: &TrustArgs,
    http: &'t Http,
) -> Result<Updater<'t, Http>> {
    let collection = ctx.home.collection(gun)?;
    let remote = Remote::new(&ctx.server_for(collection.as_ref())?);
    ensure_pin(ctx, gun, &remote, trust)?;
    super::updated(ctx, gun, &remote, http)
        .with_context(|| format!("updating the trusted metadata of {gun}"))
}

#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    sha256: String,
    length: u64,
    role: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<&'a serde_json::Value>,
}

fn row<'a>(dialect: Dialect, name: &'a str, f: &'a TargetFile, role: &'a str) -> Row<'a> {
    // Hex for people and programs, whatever the dialect stores (Notary: base64).
    let sha256 = f
        .hashes
        .get("sha256")
        .and_then(|h| dialect.decode_bytes(h, "hashes").ok())
        .map(hex::encode)
        .unwrap_or_else(|| "-".into());
    Row {
        name,
        sha256,
        length: f.length,
        role,
        custom: f.custom.as_ref(),
    }
}

/// `notus list`: every target, with the role that lists it.
pub fn list(ctx: &Context, gun: &str, trust: &TrustArgs) -> Result<()> {
    let http = Http::new(std::time::Duration::from_secs(60));
    let mut up = open(ctx, gun, trust, &http)?;
    let all = up.all_targets()?;
    let dialect = up.trusted().dialect();
    let rows: Vec<Row> = all.iter().map(|(n, f, r)| row(dialect, n, f, r)).collect();
    ctx.emit(&rows, || {
        if rows.is_empty() {
            return format!("No targets present in {gun}\n");
        }
        let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
        let mut s = format!(
            "{:<w$}  {:<64}  {:>10}  ROLE\n",
            "NAME", "DIGEST", "SIZE (BYTES)"
        );
        for r in &rows {
            s.push_str(&format!(
                "{:<w$}  {:<64}  {:>10}  {}\n",
                r.name, r.sha256, r.length, r.role
            ));
        }
        s
    })
}

fn find(up: &mut Updater<'_, Http>, gun: &str, target: &str) -> Result<TargetFile> {
    up.target_info(target)?
        .ok_or_else(|| anyhow!("{target} is not a trusted target of {gun}"))
}

/// `notus lookup`: one target's trusted description.
pub fn lookup(ctx: &Context, gun: &str, target: &str, trust: &TrustArgs) -> Result<()> {
    let http = Http::new(std::time::Duration::from_secs(60));
    let mut up = open(ctx, gun, trust, &http)?;
    let f = find(&mut up, gun, target)?;
    let r = row(up.trusted().dialect(), target, &f, "");
    ctx.emit(&r, || {
        format!("{} sha256:{} {}\n", r.name, r.sha256, r.length)
    })
}

/// `notus verify`: check a file (or stdin) against the trusted description of `target`. Reading
/// stdin, the verified bytes are written to stdout, as `notary verify` does.
pub fn verify(
    ctx: &Context,
    gun: &str,
    target: &str,
    file: Option<&std::path::Path>,
    trust: &TrustArgs,
) -> Result<()> {
    let data = match file {
        Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        None => {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b)?;
            b
        }
    };
    let http = Http::new(std::time::Duration::from_secs(60));
    let mut up = open(ctx, gun, trust, &http)?;
    let f = find(&mut up, gun, target)?;
    check_target(up.trusted().dialect(), &f, &data)
        .map_err(|e| anyhow!("the data does NOT match the trusted {target} of {gun}: {e}"))?;
    match file {
        None => std::io::stdout().write_all(&data)?,
        Some(p) => eprintln!("{}: matches the trusted {target} of {gun}", p.display()),
    }
    Ok(())
}
