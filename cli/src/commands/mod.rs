//! The `notus` subcommands, grouped by who uses them: publishers ([`publisher`]), consumers
//! ([`consumer`]) and key management ([`key`]). Shared context (home, server, keys, output) is
//! [`Context`].
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use serde::Serialize;

use crate::home::{Collection, Home};
use crate::keys::{Keyring, pkcs11};
use crate::remote::Remote;
use crate::transport::Http;
use crate::updater::{Limits, Updater};

pub mod consumer;
pub mod delegation;
pub mod key;
pub mod publish;
pub mod publisher;
pub mod rotate;

/// How read commands print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Aligned text for people.
    Text,
    /// One JSON document for programs.
    Json,
}

/// What every command may need, resolved once from flags, environment and `config.toml`.
pub struct Context {
    /// The Notus home.
    pub home: Home,
    /// `--server` / `NOTUS_SERVER` / config.
    pub server: Option<String>,
    /// `--output`.
    pub output: Output,
    /// PKCS#11 module path.
    pub pkcs11_module: PathBuf,
}

impl Context {
    /// Resolve the context.
    pub fn new(home: Option<PathBuf>, server: Option<String>, output: Output) -> Result<Self> {
        let home = Home::locate(home.as_deref())?;
        let config = home.config()?;
        let server = server.or(config.server.clone());
        let pkcs11_module = pkcs11::module_path(config.pkcs11.module.as_deref());
        Ok(Context {
            home,
            server,
            output,
            pkcs11_module,
        })
    }

    /// The keyring of this home.
    pub fn keyring(&self) -> Keyring {
        Keyring::new(self.home.dir(), self.pkcs11_module.clone())
    }

    /// The server for `collection` (a flag overrides what the collection remembers).
    pub fn server_for(&self, collection: Option<&Collection>) -> Result<String> {
        self.server
            .clone()
            .or_else(|| collection.map(|c| c.server.clone()))
            .ok_or_else(|| {
                anyhow!(
                    "no server: pass --server URL, set NOTUS_SERVER, or set server in config.toml"
                )
            })
    }

    /// Print `value` as JSON, or `text` for people.
    pub fn emit<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) -> Result<()> {
        let mut out = std::io::stdout().lock();
        match self.output {
            Output::Json => {
                serde_json::to_writer_pretty(&mut out, value)?;
                writeln!(out)?;
            }
            Output::Text => write!(out, "{}", text())?,
        }
        Ok(())
    }
}

/// `gun`'s trusted metadata in this home, brought up to date from `remote` through the client
/// workflow (the one way every command reads a collection).
pub fn updated<'t>(
    ctx: &Context,
    gun: &str,
    remote: &Remote,
    http: &'t Http,
) -> Result<Updater<'t, Http>> {
    let mut up = Updater::new(
        &ctx.home.metadata_dir(gun)?,
        &remote.metadata_url(gun),
        http,
        crate::now(),
        Limits::default(),
    )?;
    up.refresh()?;
    Ok(up)
}
