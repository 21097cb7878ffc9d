//! The Notus home (`~/.notus`, or `NOTUS_HOME` / `--home`): configuration, key files and one
//! directory per collection, laid out like a Notary trust dir:
//!
//! ```text
//! config.toml                 server URL, PKCS#11 module
//! private/<fingerprint>.key   encrypted key files (0600)
//! tuf/<gun>/collection.json   dialect, server, which key signs which role
//! tuf/<gun>/changelist.json   staged changes, replayed on the latest state at publish
//! tuf/<gun>/metadata/         trusted metadata (the client cache; root.json is the pin)
//! tuf/<gun>/pending/root.json a new collection's signed root, until its first publish
//! ```
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use notus_tuf::Dialect;
use notus_tuf::editor::Change;
use serde::{Deserialize, Serialize};

use crate::files::write_atomic;

/// `config.toml`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Default server URL (`--server` and `NOTUS_SERVER` override it).
    pub server: Option<String>,
    /// PKCS#11 settings.
    #[serde(default)]
    pub pkcs11: Pkcs11Config,
}

/// `[pkcs11]` in `config.toml`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// Module path (default: Yubico's ykcs11).
    pub module: Option<PathBuf>,
}

/// One collection as this publisher or consumer knows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Collection {
    /// Globally unique name.
    pub gun: String,
    /// `tuf` or `notary`.
    pub format: String,
    /// Server base URL.
    pub server: String,
    /// Role → key references that sign it here (absent: the server signs, or this is a
    /// consumer-only collection).
    #[serde(default)]
    pub keys: BTreeMap<String, Vec<String>>,
}

impl Collection {
    /// The dialect.
    pub fn dialect(&self) -> Result<Dialect> {
        match self.format.as_str() {
            "tuf" => Ok(Dialect::Tuf),
            "notary" => Ok(Dialect::Notary),
            f => bail!("unknown collection format {f:?}"),
        }
    }
}

/// A Notus home directory.
pub struct Home {
    dir: PathBuf,
}

/// Refuse collection names that could leave their directory.
pub fn check_gun(gun: &str) -> Result<()> {
    let bad = gun.is_empty()
        || gun.len() > 255
        || gun.starts_with('/')
        || gun.ends_with('/')
        || gun
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        || gun.chars().any(|c| c.is_control() || c == '\\');
    if bad {
        bail!("{gun:?} is not a valid collection name (e.g. example.com/app)");
    }
    Ok(())
}

impl Home {
    /// `--home`, else `NOTUS_HOME`, else `~/.notus`.
    pub fn locate(flag: Option<&Path>) -> Result<Home> {
        let dir = match flag {
            Some(d) => d.to_owned(),
            None => match std::env::var_os("NOTUS_HOME") {
                Some(d) => PathBuf::from(d),
                None => PathBuf::from(
                    std::env::var_os("HOME")
                        .ok_or_else(|| anyhow!("HOME is not set; use --home or NOTUS_HOME"))?,
                )
                .join(".notus"),
            },
        };
        Ok(Home { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `config.toml`, or defaults when absent.
    pub fn config(&self) -> Result<Config> {
        let path = self.dir.join("config.toml");
        match fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn collection_dir(&self, gun: &str) -> Result<PathBuf> {
        check_gun(gun)?;
        Ok(self.dir.join("tuf").join(gun))
    }

    /// The trusted-metadata directory of `gun`.
    pub fn metadata_dir(&self, gun: &str) -> Result<PathBuf> {
        Ok(self.collection_dir(gun)?.join("metadata"))
    }

    /// Where a new collection's signed root waits for its first publish.
    pub fn pending_root_path(&self, gun: &str) -> Result<PathBuf> {
        Ok(self.collection_dir(gun)?.join("pending").join("root.json"))
    }

    /// The collection's settings, if this home knows it.
    pub fn collection(&self, gun: &str) -> Result<Option<Collection>> {
        let path = self.collection_dir(gun)?.join("collection.json");
        match fs::read(&path) {
            Ok(b) => Ok(Some(
                serde_json::from_slice(&b)
                    .with_context(|| format!("reading {}", path.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Save the collection's settings.
    pub fn save_collection(&self, c: &Collection) -> Result<()> {
        let dir = self.collection_dir(&c.gun)?;
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        write_atomic(&dir.join("collection.json"), &serde_json::to_vec_pretty(c)?)
    }

    /// Every collection this home knows.
    pub fn collections(&self) -> Result<Vec<Collection>> {
        let mut out = Vec::new();
        let root = self.dir.join("tuf");
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.file_name().is_some_and(|n| n == "collection.json") {
                    out.push(serde_json::from_slice(&fs::read(&p)?)?);
                } else if p.is_dir() {
                    stack.push(p);
                }
            }
        }
        out.sort_by(|a: &Collection, b| a.gun.cmp(&b.gun));
        Ok(out)
    }

    /// Staged changes, oldest first.
    pub fn changelist(&self, gun: &str) -> Result<Vec<Change>> {
        let path = self.collection_dir(gun)?.join("changelist.json");
        match fs::read(&path) {
            Ok(b) => {
                serde_json::from_slice(&b).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Replace the staged changes.
    pub fn save_changelist(&self, gun: &str, changes: &[Change]) -> Result<()> {
        let dir = self.collection_dir(gun)?;
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        write_atomic(
            &dir.join("changelist.json"),
            &serde_json::to_vec_pretty(changes)?,
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn gun_names_cannot_escape() {
        for bad in ["", "/abs", "a/../b", "a//b", "a/", "..", "a\\b", "a\nb"] {
            assert!(super::check_gun(bad).is_err(), "{bad:?}");
        }
        for ok in ["example.com/app", "docker.io/library/alpine", "x"] {
            assert!(super::check_gun(ok).is_ok(), "{ok:?}");
        }
    }
}
