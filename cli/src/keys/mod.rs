//! Where private keys live, behind one interface. A key is named by a [`KeyRef`] string that
//! says which store holds it, so a collection can keep its root on a YubiKey, its targets key in
//! an encrypted file and a CI pipeline's delegation key in AWS KMS:
//!
//! * `file:<fingerprint>` — an encrypted PKCS#8 file in `<home>/private/` ([`file`]);
//! * `pkcs11:token=<label>;object=<label>[;id=<hex>]` — a key on a PKCS#11 token, RFC 7512 URI
//!   style ([`pkcs11`]).
//!
//! Every store hands out the engine's [`notus_tuf::Signer`]; the private key never leaves it.
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Result, bail};
use notus_tuf::keys::PublicKey;
use notus_tuf::signers::EcdsaP256Signer;
use notus_tuf::{Dialect, Signer};
use sha2::{Digest, Sha256};

pub mod file;
pub mod kms;
pub mod pkcs11;
pub mod secret;

/// A reference to one private key in one store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyRef {
    /// An encrypted key file, by fingerprint.
    File {
        /// [`fingerprint`] of the public key.
        fingerprint: String,
    },
    /// A key on a PKCS#11 token.
    Pkcs11(pkcs11::Pkcs11Ref),
    /// A key in AWS KMS, by key ID, ARN or `alias/…`.
    AwsKms {
        /// What KMS calls the key.
        key: String,
    },
}

impl KeyRef {
    /// Parse `file:…` or `pkcs11:…`.
    pub fn parse(s: &str) -> Result<KeyRef> {
        if let Some(fp) = s.strip_prefix("file:") {
            if fp.len() != 64 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("{s:?}: a file key reference is file:<64 hex digits>");
            }
            return Ok(KeyRef::File {
                fingerprint: fp.to_ascii_lowercase(),
            });
        }
        if s.starts_with("pkcs11:") {
            return Ok(KeyRef::Pkcs11(pkcs11::Pkcs11Ref::parse(s)?));
        }
        if let Some(key) = s.strip_prefix("aws-kms:") {
            if key.is_empty() || key.chars().any(char::is_whitespace) {
                bail!("{s:?}: an AWS KMS reference is aws-kms:<key id, ARN or alias/name>");
            }
            return Ok(KeyRef::AwsKms {
                key: key.to_owned(),
            });
        }
        bail!(
            "{s:?} is not a key reference (expected file:<fingerprint>, pkcs11:token=…;object=…, \
             or aws-kms:<key>)"
        )
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRef::File { fingerprint } => write!(f, "file:{fingerprint}"),
            KeyRef::Pkcs11(r) => r.fmt(f),
            KeyRef::AwsKms { key } => write!(f, "aws-kms:{key}"),
        }
    }
}

/// The dialect-neutral name of a public key: sha256 of its SubjectPublicKeyInfo DER, in hex.
/// (TUF and Notary key IDs are derived from the dialect's JSON form and differ for one key.)
pub fn fingerprint(public: &PublicKey) -> Result<String> {
    Ok(hex::encode(Sha256::digest(spki_der(public)?)))
}

/// SubjectPublicKeyInfo DER of a public key.
pub fn spki_der(public: &PublicKey) -> Result<Vec<u8>> {
    use p256::pkcs8::EncodePublicKey as _;
    match public {
        PublicKey::EcdsaP256(vk) => Ok(vk.to_public_key_der()?.into_vec()),
        other => bail!("unsupported key type for a Notus key store: {other:?}"),
    }
}

/// A signer presented under another key ID: the ID a metadata key map gives the same key
/// material (Notary's root lists an `ecdsa-x509` certificate for the key, under the
/// certificate's ID).
struct Rebound {
    inner: Box<dyn Signer>,
    keyid: String,
}

impl Signer for Rebound {
    fn key_id(&self) -> &str {
        &self.keyid
    }
    fn public_key(&self) -> &PublicKey {
        self.inner.public_key()
    }
    fn sign(&self, payload: &[u8]) -> Result<notus_tuf::RawSignature, notus_tuf::Error> {
        let mut sig = self.inner.sign(payload)?;
        sig.keyid = self.keyid.clone();
        Ok(sig)
    }
}

/// `signer`, signing under the ID `keys` gives its key material (unchanged if none does).
pub fn bind(
    signer: Box<dyn Signer>,
    keys: &BTreeMap<String, notus_tuf::metadata::Key>,
    dialect: Dialect,
) -> Box<dyn Signer> {
    let found = keys.iter().find(|(_, k)| {
        notus_tuf::keys::parse_key(dialect, k).is_ok_and(|p| &p.key == signer.public_key())
    });
    match found {
        Some((id, _)) if id != signer.key_id() => Box::new(Rebound {
            keyid: id.clone(),
            inner: signer,
        }),
        _ => signer,
    }
}

/// Where a new key is made.
#[derive(Debug, Clone)]
pub enum NewKey {
    /// An encrypted key file.
    File,
    /// A new AWS KMS key.
    AwsKms,
    /// On the PKCS#11 token with this label, under this object label and CKA_ID.
    Pkcs11 {
        /// Token label.
        token: String,
        /// Object label (default: `notus-<role>`).
        object: Option<String>,
        /// CKA_ID (default 0x02: YubiKey PIV slot 9c).
        id: Vec<u8>,
    },
}

/// Every key store of one process: the key files of a Notus home and the PKCS#11 module (loaded
/// once, on first use; tokens opened once each).
pub struct Keyring {
    files: file::FileStore,
    module_path: PathBuf,
    module: Option<Rc<pkcs11::Module>>,
    tokens: BTreeMap<String, Rc<pkcs11::Token>>,
    kms: Option<Rc<kms::Kms>>,
    /// Key files decrypted (or made) by this process, so each passphrase is asked for and each
    /// scrypt derivation paid once per command.
    unlocked: BTreeMap<String, p256::ecdsa::SigningKey>,
}

impl Keyring {
    /// The stores of `home`, with `module` as the PKCS#11 module.
    pub fn new(home: &Path, module: PathBuf) -> Self {
        Keyring {
            files: file::FileStore::new(home),
            module_path: module,
            module: None,
            tokens: BTreeMap::new(),
            kms: None,
            unlocked: BTreeMap::new(),
        }
    }

    /// The key files.
    pub fn files(&self) -> &file::FileStore {
        &self.files
    }

    fn token(&mut self, label: &str) -> Result<Rc<pkcs11::Token>> {
        if let Some(t) = self.tokens.get(label) {
            return Ok(Rc::clone(t));
        }
        let module = match &self.module {
            Some(m) => Rc::clone(m),
            None => {
                let m = pkcs11::Module::load(&self.module_path)?;
                self.module = Some(Rc::clone(&m));
                m
            }
        };
        let t = module.open_token(label)?;
        self.tokens.insert(label.to_owned(), Rc::clone(&t));
        Ok(t)
    }

    fn kms(&mut self) -> Result<Rc<kms::Kms>> {
        if let Some(k) = &self.kms {
            return Ok(Rc::clone(k));
        }
        let k = kms::Kms::connect()?;
        self.kms = Some(Rc::clone(&k));
        Ok(k)
    }

    /// Make a new P-256 key for `role` (of collection `gun`, for file keys' headers).
    pub fn generate(
        &mut self,
        how: &NewKey,
        role: &str,
        gun: Option<&str>,
    ) -> Result<(KeyRef, PublicKey)> {
        match how {
            NewKey::File => {
                let (r, public, sk) = self.files.generate(role, gun)?;
                self.unlocked.insert(fingerprint(&public)?, sk);
                Ok((r, public))
            }
            NewKey::AwsKms => {
                let kms = self.kms()?;
                let id = kms.create(&format!(
                    "notus: {role} key{}",
                    gun.map(|g| format!(" of {g}")).unwrap_or_default()
                ))?;
                let public = kms.public(&id)?;
                Ok((KeyRef::AwsKms { key: id }, public))
            }
            NewKey::Pkcs11 { token, object, id } => {
                let object = object
                    .clone()
                    .unwrap_or_else(|| format!("notus-{}", role.replace('/', "-")));
                let (r, public) = self.token(token)?.generate(&object, id)?;
                Ok((KeyRef::Pkcs11(r), public))
            }
        }
    }

    /// A signer for `r`, presenting the key as `dialect` writes it.
    pub fn signer(&mut self, r: &KeyRef, dialect: Dialect) -> Result<Box<dyn Signer>> {
        Ok(match r {
            KeyRef::File { fingerprint } => {
                let sk = match self.unlocked.get(fingerprint) {
                    Some(sk) => sk.clone(),
                    None => {
                        let sk = self.files.load(fingerprint)?;
                        self.unlocked.insert(fingerprint.clone(), sk.clone());
                        sk
                    }
                };
                Box::new(EcdsaP256Signer::from_secret(&sk.to_bytes(), dialect)?)
            }
            KeyRef::Pkcs11(p) => Box::new(self.token(&p.token)?.signer(p, dialect)?),
            KeyRef::AwsKms { key } => Box::new(self.kms()?.signer(key, dialect)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_refs_round_trip_and_bad_ones_are_refused() {
        let fp = "ab".repeat(32);
        let r = KeyRef::parse(&format!("file:{fp}")).unwrap();
        assert_eq!(r.to_string(), format!("file:{fp}"));
        let p = KeyRef::parse("pkcs11:token=YubiKey%20PIV;object=root;id=%02").unwrap();
        assert_eq!(
            p.to_string(),
            "pkcs11:token=YubiKey%20PIV;object=root;id=%02"
        );
        assert!(KeyRef::parse("file:xyz").is_err());
        assert!(KeyRef::parse("aws:foo").is_err());
        let k = KeyRef::parse("aws-kms:alias/notus-ci").unwrap();
        assert_eq!(k.to_string(), "aws-kms:alias/notus-ci");
        assert!(KeyRef::parse("aws-kms:").is_err());
        assert!(
            KeyRef::parse("pkcs11:object=root").is_err(),
            "token is required"
        );
    }
}
