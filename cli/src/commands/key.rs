//! `notus key …`: make, list and import private keys.
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::Context;
use crate::keys::{KeyRef, NewKey, fingerprint, secret};

/// Where a new key goes: a key file (default) or a PKCS#11 token.
#[derive(Args, Debug, Clone)]
pub struct KeyPlacement {
    /// Make keys on the PKCS#11 token with this label (a YubiKey's is usually "YubiKey PIV #…").
    #[arg(long, value_name = "LABEL", conflicts_with = "aws_kms")]
    pub pkcs11_token: Option<String>,
    /// Make keys in AWS KMS (ECC_NIST_P256; the standard AWS configuration picks the account).
    #[arg(long)]
    pub aws_kms: bool,
    /// Object label of the new key on the token (default: notus-<role>).
    #[arg(long, value_name = "LABEL", requires = "pkcs11_token")]
    pub pkcs11_object: Option<String>,
    /// CKA_ID of the new key, hex (default 02: YubiKey PIV slot 9c, digital signature).
    #[arg(
        long,
        value_name = "HEX",
        default_value = "02",
        requires = "pkcs11_token"
    )]
    pub pkcs11_id: String,
}

impl KeyPlacement {
    /// As a [`NewKey`].
    pub fn new_key(&self) -> Result<NewKey> {
        if self.aws_kms {
            return Ok(NewKey::AwsKms);
        }
        Ok(match &self.pkcs11_token {
            None => NewKey::File,
            Some(token) => NewKey::Pkcs11 {
                token: token.clone(),
                object: self.pkcs11_object.clone(),
                id: hex::decode(&self.pkcs11_id).context("--pkcs11-id must be hex")?,
            },
        })
    }
}

/// `notus key`.
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Make a new P-256 signing key and print its reference.
    ///
    /// Examples:
    ///   notus key generate --role targets --gun example.com/app
    ///   NOTUS_PKCS11_MODULE=/usr/lib/x86_64-linux-gnu/libykcs11.so \
    ///     notus key generate --role root --pkcs11-token "YubiKey PIV #123456"
    Generate {
        /// The role the key is for (root, targets, snapshot, targets/<name>).
        #[arg(long, default_value = "targets")]
        role: String,
        /// The collection the key is for (recorded in the key file).
        #[arg(long)]
        gun: Option<String>,
        #[command(flatten)]
        place: KeyPlacement,
    },
    /// List the key files in this home and the keys collections use.
    ///
    /// Example: notus key list --output json
    List,
    /// Give a top-level role new keys: a new root, signed by the current root keys (and the new
    /// ones for root), published at once unless --stage.
    ///
    /// Examples:
    ///   notus key rotate example.com/app targets
    ///   notus key rotate example.com/app snapshot -r      # the server signs snapshots
    ///   notus key rotate example.com/app root --key pkcs11:token=A;object=r --key pkcs11:token=B;object=r --threshold 2
    Rotate(super::rotate::RotateArgs),
    /// Print a key: its public key as PEM (--public, e.g. for someone's `delegation add`), or the
    /// encrypted key file itself (file keys; still protected by the passphrase).
    ///
    /// Example: notus key export file:<fingerprint> --public > releases.pub.pem
    Export {
        /// The key reference.
        key: String,
        /// Only the public key.
        #[arg(long)]
        public: bool,
    },
    /// Change a key file's passphrase (new one from NOTUS_NEW_PASSPHRASE or a prompt).
    ///
    /// Example: notus key passwd file:<fingerprint>
    Passwd {
        /// The key reference.
        key: String,
    },
    /// Delete a key file (keys on tokens are removed with the token's own tools).
    ///
    /// Example: notus key remove file:<fingerprint>
    Remove {
        /// The key reference.
        key: String,
    },
    /// Import key files (a Notary trust dir's private/*.key, or PKCS#8 PEM), re-encrypting them
    /// with scrypt. The old passphrase comes from NOTARY_<ROLE>_PASSPHRASE or a prompt.
    ///
    /// Example: notus key import ~/.notary/private/*.key
    Import {
        /// Key files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Role, when the file has no `role:` header.
        #[arg(long)]
        role: Option<String>,
        /// Collection, when the file has no `gun:` header.
        #[arg(long)]
        gun: Option<String>,
    },
}

#[derive(Serialize)]
struct KeyRow {
    reference: String,
    role: String,
    gun: Option<String>,
}

/// Run `notus key …`.
pub fn run(ctx: &Context, cmd: KeyCommand) -> Result<()> {
    match cmd {
        KeyCommand::Generate { role, gun, place } => {
            let mut ring = ctx.keyring();
            let (r, public) = ring.generate(&place.new_key()?, &role, gun.as_deref())?;
            let row = KeyRow {
                reference: r.to_string(),
                role,
                gun,
            };
            let fp = fingerprint(&public)?;
            ctx.emit(&row, || format!("{}\n(fingerprint {fp})\n", row.reference))
        }
        KeyCommand::List => {
            let mut rows: Vec<KeyRow> = ctx
                .keyring()
                .files()
                .list()?
                .into_iter()
                .map(|k| KeyRow {
                    reference: KeyRef::File {
                        fingerprint: k.fingerprint,
                    }
                    .to_string(),
                    role: k.role,
                    gun: k.gun,
                })
                .collect();
            // Token keys are known through the collections that use them.
            for c in ctx.home.collections()? {
                for (role, refs) in &c.keys {
                    for r in refs {
                        if !r.starts_with("file:") && !rows.iter().any(|x| &x.reference == r) {
                            rows.push(KeyRow {
                                reference: r.clone(),
                                role: role.clone(),
                                gun: Some(c.gun.clone()),
                            });
                        }
                    }
                }
            }
            ctx.emit(&rows, || {
                let mut s = format!("{:<18} {:<28} {}\n", "ROLE", "COLLECTION", "KEY");
                for r in &rows {
                    s.push_str(&format!(
                        "{:<18} {:<28} {}\n",
                        r.role,
                        r.gun.as_deref().unwrap_or("-"),
                        r.reference
                    ));
                }
                s
            })
        }
        KeyCommand::Rotate(a) => super::rotate::run(ctx, a),
        KeyCommand::Export { key, public } => {
            let r = KeyRef::parse(&key)?;
            if public {
                use p256::pkcs8::EncodePublicKey as _;
                let signer = ctx.keyring().signer(&r, notus_tuf::Dialect::Tuf)?;
                let notus_tuf::keys::PublicKey::EcdsaP256(vk) = signer.public_key() else {
                    bail!("{key} is not a P-256 key");
                };
                let pem = vk
                    .to_public_key_pem(p256::pkcs8::LineEnding::LF)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                print!("{pem}");
                return Ok(());
            }
            match r {
                KeyRef::File { fingerprint } => {
                    print!("{}", ctx.keyring().files().encrypted_pem(&fingerprint)?);
                    Ok(())
                }
                KeyRef::Pkcs11(_) | KeyRef::AwsKms { .. } => {
                    bail!("this private key never leaves its token or KMS; use --public")
                }
            }
        }
        KeyCommand::Passwd { key } => match KeyRef::parse(&key)? {
            KeyRef::File { fingerprint } => {
                let files = ctx.keyring();
                let info = files.files().info(&fingerprint)?;
                let new = secret::new_passphrase(&info.role)?;
                files.files().change_passphrase(&fingerprint, &new)?;
                eprintln!("changed the passphrase of {key}");
                Ok(())
            }
            KeyRef::Pkcs11(_) => {
                bail!("change a token's PIN with the token's tools (ykman piv access change-pin)")
            }
            KeyRef::AwsKms { .. } => bail!("KMS keys have no passphrase; access is IAM's"),
        },
        KeyCommand::Remove { key } => match KeyRef::parse(&key)? {
            KeyRef::File { fingerprint } => {
                let used: Vec<String> = ctx
                    .home
                    .collections()?
                    .into_iter()
                    .filter(|c| c.keys.values().flatten().any(|r| r == &key))
                    .map(|c| c.gun)
                    .collect();
                if !used.is_empty() {
                    bail!(
                        "{key} still signs for {}; rotate it out first",
                        used.join(", ")
                    );
                }
                ctx.keyring().files().remove(&fingerprint)?;
                eprintln!("removed {key}");
                Ok(())
            }
            KeyRef::Pkcs11(_) => {
                bail!(
                    "keys on a token are removed with the token's tools (e.g. ykman piv keys delete)"
                )
            }
            KeyRef::AwsKms { .. } => {
                bail!("KMS keys are scheduled for deletion in KMS (aws kms schedule-key-deletion)")
            }
        },
        KeyCommand::Import { files, role, gun } => {
            let ring = ctx.keyring();
            let mut rows = Vec::new();
            for f in files {
                let text = std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?;
                if !text.contains("PRIVATE KEY") {
                    bail!("{} is not a PEM private key", f.display());
                }
                let (r, _, role) = ring.files().import(
                    &text,
                    role.as_deref(),
                    gun.as_deref(),
                    secret::import_passphrase,
                    |role| secret::passphrase(role, true),
                )?;
                rows.push(KeyRow {
                    reference: r.to_string(),
                    role,
                    gun: gun.clone(),
                });
            }
            ctx.emit(&rows, || {
                rows.iter()
                    .map(|r| format!("imported {} key: {}\n", r.role, r.reference))
                    .collect()
            })
        }
    }
}
