//! The TUF 1.0 client workflow around the engine's [`TrustedMetadataSet`]: which file to fetch
//! next, what to keep on disk, and the delegation search — in the order python-tuf's
//! `ngclient.Updater` uses, so a repository sees exactly the requests it would see from the
//! reference client (the conformance suite checks the request list).
//!
//! The engine decides whether bytes are trusted; this module only moves them. Every file kept in
//! the metadata directory is the exact bytes that were verified, under a non-versioned name
//! (`root.json`, `timestamp.json`, `<quoted role>.json`), written atomically.
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use notus_tuf::client::TrustedMetadataSet;
use notus_tuf::metadata::{self, TargetFile};
use notus_tuf::{Dialect, Error, Rejection};

use crate::transport::{FetchError, Transport, quote_all, quote_path};

/// Limits, as python-tuf's `UpdaterConfig` sets them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Root versions walked in one refresh.
    pub max_root_rotations: u64,
    /// Delegated roles visited in one target search.
    pub max_delegations: usize,
    /// Size limits for files whose length the repository does not state.
    pub root_max_length: u64,
    /// See `root_max_length`.
    pub timestamp_max_length: u64,
    /// See `root_max_length`.
    pub snapshot_max_length: u64,
    /// See `root_max_length`.
    pub targets_max_length: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_root_rotations: 256,
            max_delegations: 32,
            root_max_length: 512_000,
            timestamp_max_length: 16_384,
            snapshot_max_length: 2_000_000,
            targets_max_length: 5_000_000,
        }
    }
}

/// One refresh-and-lookup session against one repository.
pub struct Updater<'t, T: Transport> {
    dir: PathBuf,
    metadata_url: String,
    transport: &'t T,
    set: TrustedMetadataSet,
    limits: Limits,
    refreshed: bool,
}

/// Join a base URL that may lack its trailing slash with a relative name.
fn join(base: &str, name: &str) -> String {
    if base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}

impl<'t, T: Transport> Updater<'t, T> {
    /// Start from the trusted `root.json` in `dir`. Nothing is fetched until [`Self::refresh`].
    pub fn new(
        dir: &Path,
        metadata_url: &str,
        transport: &'t T,
        now: DateTime<Utc>,
        limits: Limits,
    ) -> Result<Self> {
        let root_path = dir.join("root.json");
        let root = fs::read(&root_path)
            .with_context(|| format!("reading the trusted root {}", root_path.display()))?;
        let set = TrustedMetadataSet::new(&root, now)
            .with_context(|| format!("{} is not a valid trusted root", root_path.display()))?;
        Ok(Updater {
            dir: dir.to_owned(),
            metadata_url: metadata_url.to_owned(),
            transport,
            set,
            limits,
            refreshed: false,
        })
    }

    /// The metadata trusted so far.
    pub fn trusted(&self) -> &TrustedMetadataSet {
        &self.set
    }

    fn local_path(&self, role: &str) -> PathBuf {
        self.dir.join(format!("{}.json", quote_all(role)))
    }

    fn load_local(&self, role: &str) -> Option<Vec<u8>> {
        fs::read(self.local_path(role)).ok()
    }

    fn persist(&self, role: &str, data: &[u8]) -> Result<()> {
        crate::files::write_atomic(&self.local_path(role), data)
    }

    fn fetch_metadata(
        &self,
        role: &str,
        version: Option<u64>,
        limit: u64,
    ) -> Result<Vec<u8>, FetchError> {
        let name = match version {
            Some(v) => format!("{v}.{}.json", quote_all(role)),
            None => format!("{}.json", quote_all(role)),
        };
        self.transport
            .fetch(&join(&self.metadata_url, &name), limit)
    }

    /// Fetch snapshot or a targets role as its record in the parent names it: TUF by version
    /// under consistent snapshots (`3.targets.json`, role name percent-encoded), else by plain
    /// name; Notary by hash (`targets/releases.<sha256 hex>.json`, as notary-server and Notus
    /// serve it).
    fn fetch_role(
        &self,
        role: &str,
        meta: &notus_tuf::metadata::MetaFile,
        limit: u64,
    ) -> Result<Vec<u8>> {
        match self.set.dialect() {
            Dialect::Notary => {
                let b64 = meta
                    .hashes
                    .as_ref()
                    .and_then(|h| h.get("sha256"))
                    .ok_or_else(|| anyhow!("the record of {role} has no sha256"))?;
                let hash = hex::encode(Dialect::Notary.decode_bytes(b64, "hashes")?);
                let name = format!("{}.{hash}.json", quote_path(role));
                Ok(self
                    .transport
                    .fetch(&join(&self.metadata_url, &name), limit)?)
            }
            _ => {
                let version = if self.consistent_snapshot() {
                    meta.version
                } else {
                    None
                };
                Ok(self.fetch_metadata(role, version, limit)?)
            }
        }
    }

    fn consistent_snapshot(&self) -> bool {
        self.set.root().value.consistent_snapshot.unwrap_or(false)
    }

    /// TUF §5.3–§5.6 for the top-level roles: root chain, timestamp, snapshot, targets.
    pub fn refresh(&mut self) -> Result<()> {
        self.refreshed = true;
        self.load_root()?;
        self.load_timestamp()?;
        self.load_snapshot()?;
        // Notary's snapshot names the current root: a mismatch after walking the chain means
        // the repository's root is not one this client could reach.
        if self.set.snapshot_root_hash_matches() == Some(false) {
            bail!("the snapshot names a root other than the newest one this client could verify");
        }
        self.load_targets("targets", "root")?;
        Ok(())
    }

    /// §5.3: walk `N+1.root.json` until the repository has no newer root.
    fn load_root(&mut self) -> Result<()> {
        let first = self.set.root().value.version + 1;
        for version in first..first.saturating_add(self.limits.max_root_rotations) {
            let data = match self.fetch_metadata("root", Some(version), self.limits.root_max_length)
            {
                Ok(data) => data,
                Err(e) if e.is_missing() => break,
                Err(e) => return Err(e.into()),
            };
            self.set
                .update_root(&data)
                .with_context(|| format!("root version {version}"))?;
            self.persist("root", &data)?;
        }
        Ok(())
    }

    /// §5.4: the cached timestamp is the rollback reference; a new one with the same version is
    /// ignored (not stored), as python-tuf does.
    fn load_timestamp(&mut self) -> Result<()> {
        if let Some(local) = self.load_local("timestamp") {
            // An invalid or expired local copy only loses its value as a reference.
            let _ = self.set.update_timestamp(&local);
        }
        let data = self.fetch_metadata("timestamp", None, self.limits.timestamp_max_length)?;
        match self.set.update_timestamp(&data) {
            Ok(_) => {}
            Err(Error::Rejected(Rejection::EqualVersion { .. })) => return Ok(()),
            Err(e) => return Err(anyhow!(e).context("timestamp")),
        }
        self.persist("timestamp", &data)
    }

    /// §5.5: a cached snapshot that still matches the timestamp is used without a download.
    fn load_snapshot(&mut self) -> Result<()> {
        if let Some(local) = self.load_local("snapshot")
            && self.set.update_snapshot(&local, true).is_ok()
        {
            return Ok(());
        }
        let dialect = self.set.dialect();
        let ts = self
            .set
            .timestamp()
            .ok_or_else(|| anyhow!("no trusted timestamp"))?;
        let meta = ts
            .value
            .meta
            .get(&dialect.meta_key("snapshot"))
            .ok_or_else(|| anyhow!("the timestamp does not describe the snapshot"))?
            .clone();
        let limit = meta.length.unwrap_or(self.limits.snapshot_max_length);
        let data = self.fetch_role("snapshot", &meta, limit)?;
        self.set.update_snapshot(&data, false).context("snapshot")?;
        self.persist("snapshot", &data)
    }

    /// §5.6: a targets role, from the cache when it still verifies, else from the repository at
    /// the version the snapshot names.
    fn load_targets(&mut self, role: &str, delegator: &str) -> Result<()> {
        if self.set.contains(role, delegator) {
            return Ok(());
        }
        if let Some(local) = self.load_local(role)
            && self
                .set
                .update_delegated_targets(&local, role, delegator)
                .is_ok()
        {
            return Ok(());
        }
        let snapshot = self
            .set
            .snapshot()
            .ok_or_else(|| anyhow!("no trusted snapshot"))?;
        let meta = snapshot
            .value
            .meta
            .get(&self.set.dialect().meta_key(role))
            .ok_or_else(|| anyhow!("role {role} is delegated but not listed in the snapshot"))?
            .clone();
        let limit = meta.length.unwrap_or(self.limits.targets_max_length);
        let data = self.fetch_role(role, &meta, limit)?;
        self.set
            .update_delegated_targets(&data, role, delegator)
            .with_context(|| format!("targets role {role}"))?;
        self.persist(role, &data)
    }

    /// The target's description from the most trusted role that lists it: a pre-order
    /// depth-first walk of the delegations in the order they appear (TUF §5.6.7), pruning roles
    /// whose paths do not match, stopping at terminating delegations, never visiting a role twice
    /// and at most `max_delegations` roles. Refreshes first if needed.
    pub fn target_info(&mut self, path: &str) -> Result<Option<TargetFile>> {
        if !self.refreshed {
            self.refresh()?;
        }
        let mut to_visit = vec![("targets".to_owned(), "root".to_owned())];
        let mut visited = std::collections::BTreeSet::new();
        while visited.len() <= self.limits.max_delegations {
            let Some((role, delegator)) = to_visit.pop() else {
                break;
            };
            if visited.contains(&role) {
                continue;
            }
            if let Err(e) = self.load_targets(&role, &delegator) {
                // Notary's client skips a delegation that does not verify; TUF fails the search.
                if role == "targets" || self.set.dialect() == Dialect::Tuf {
                    return Err(e);
                }
                eprintln!("warning: skipping role {role}: {e:#}");
                visited.insert(role);
                continue;
            }
            let targets = &self.set.targets(&role).expect("loaded just above").value;
            if let Some(t) = targets.targets.get(path) {
                return Ok(Some(t.clone()));
            }
            visited.insert(role.clone());
            let mut children = Vec::new();
            for step in self.set.delegations_for(&role, path) {
                children.push((step.role, role.clone()));
                if step.terminating {
                    to_visit.clear();
                    break;
                }
            }
            children.reverse();
            to_visit.extend(children);
        }
        Ok(None)
    }

    /// Every target of the collection with the role that lists it: a pre-order walk of all
    /// delegations (a path listed by several roles is reported from the first, most trusted
    /// one). A delegated role that fails verification is skipped with a warning, as Notary's
    /// client does; the top-level roles must verify.
    pub fn all_targets(&mut self) -> Result<Vec<(String, TargetFile, String)>> {
        if !self.refreshed {
            self.refresh()?;
        }
        let mut out: Vec<(String, TargetFile, String)> = Vec::new();
        let mut seen_paths = std::collections::BTreeSet::new();
        let mut to_visit = vec![("targets".to_owned(), "root".to_owned())];
        let mut visited = std::collections::BTreeSet::new();
        while let Some((role, delegator)) = to_visit.pop() {
            if !visited.insert(role.clone()) {
                continue;
            }
            let listed = self
                .set
                .snapshot()
                .is_some_and(|s| s.value.meta.contains_key(&format!("{role}.json")));
            if role != "targets" && !listed {
                // Delegated, but its publisher has not published it yet: it lists nothing.
                continue;
            }
            if let Err(e) = self.load_targets(&role, &delegator) {
                if role == "targets" {
                    return Err(e);
                }
                eprintln!("warning: skipping role {role}: {e:#}");
                continue;
            }
            let t = &self.set.targets(&role).expect("loaded").value;
            for (path, file) in &t.targets {
                if seen_paths.insert(path.clone()) {
                    out.push((path.clone(), file.clone(), role.clone()));
                }
            }
            let mut children: Vec<(String, String)> = t
                .delegations
                .as_ref()
                .map(|d| {
                    d.roles()
                        .iter()
                        .map(|r| (r.name.clone(), role.clone()))
                        .collect()
                })
                .unwrap_or_default();
            children.reverse();
            to_visit.extend(children);
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Whether `file` already holds the bytes `info` describes (then there is nothing to fetch).
    pub fn is_cached(&self, info: &TargetFile, file: &Path) -> bool {
        fs::read(file).is_ok_and(|data| check_target(self.set.dialect(), info, &data).is_ok())
    }

    /// Download `path` from `base_url` (with its hash prefix under consistent snapshots), check
    /// its length and hashes, and only then write it to `dest`. Bad bytes are never written.
    pub fn download(
        &self,
        path: &str,
        info: &TargetFile,
        base_url: &str,
        dest: &Path,
    ) -> Result<()> {
        let remote = if self.consistent_snapshot() {
            let hash = info
                .hashes
                .values()
                .next()
                .ok_or_else(|| anyhow!("target {path} has no hashes"))?;
            match path.rsplit_once('/') {
                Some((dir, base)) => format!("{dir}/{hash}.{base}"),
                None => format!("{hash}.{path}"),
            }
        } else {
            path.to_owned()
        };
        let data = self
            .transport
            .fetch(&join(base_url, &quote_path(&remote)), info.length)?;
        check_target(self.set.dialect(), info, &data).with_context(|| format!("target {path}"))?;
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        crate::files::write_atomic(dest, &data)
    }
}

/// TUF §5.7.3: the target's length and every listed hash (an algorithm the client cannot
/// compute is a failure, never a skip).
pub fn check_target(dialect: Dialect, info: &TargetFile, data: &[u8]) -> Result<(), Rejection> {
    if info.hashes.is_empty() {
        return Err(Rejection::invalid("target", "no hashes recorded"));
    }
    metadata::check_length_and_hashes(
        dialect,
        "target",
        Some(info.length),
        Some(&info.hashes),
        true,
        data,
        None,
    )
}
