//! Keys on PKCS#11 tokens (YubiKey through Yubico's `ykcs11`, SoftHSM2, any HSM module) with
//! `cryptoki`. Keys are generated on the token (P-256, not extractable) and sign there: the host
//! hashes the canonical bytes with SHA-256 and the token signs the digest with `CKM_ECDSA`
//! (SoftHSM 2.6 has no `CKM_ECDSA_SHA256`; YubiKeys do the same).
//!
//! Tokens are chosen by label, never by slot number (slot IDs change when tokens are
//! (re)initialised). A key is found by its object label and/or `CKA_ID`; on a YubiKey the PIV
//! slot 9c (digital signature) is `CKA_ID` 2, the default for new keys. One PKCS#11 context per
//! process: the CLI runs one command per process.
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, Result, anyhow, bail};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use notus_tuf::build::{RawSignature, Signer};
use notus_tuf::keys::{PublicKey, Scheme, key_from_public, key_id};
use notus_tuf::{Dialect, Error};
use sha2::{Digest, Sha256};

use super::secret;

/// Where Yubico's PKCS#11 module lives on Debian/Ubuntu (package `ykcs11`).
pub const DEFAULT_MODULE: &str = "/usr/lib/x86_64-linux-gnu/libykcs11.so";

/// CKA_EC_PARAMS for P-256: the DER OID 1.2.840.10045.3.1.7.
const P256_EC_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// `pkcs11:token=<label>;object=<label>;id=<%xx…>` (RFC 7512 attribute names).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pkcs11Ref {
    /// Token label.
    pub token: String,
    /// Key object label.
    pub object: Option<String>,
    /// Key object CKA_ID.
    pub id: Option<Vec<u8>>,
}

fn pct_decode(s: &str) -> Result<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| anyhow!("bad percent escape in {s:?}"))?;
            out.push(h);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn pct_encode(b: &[u8], all: bool) -> String {
    b.iter()
        .map(|&c| {
            if !all && (c.is_ascii_alphanumeric() || b"-._~/".contains(&c)) {
                (c as char).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect()
}

impl Pkcs11Ref {
    /// Parse the URI form.
    pub fn parse(s: &str) -> Result<Self> {
        let body = s
            .strip_prefix("pkcs11:")
            .ok_or_else(|| anyhow!("{s:?} does not start with pkcs11:"))?;
        let (mut token, mut object, mut id) = (None, None, None);
        for part in body.split(';').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| anyhow!("{s:?}: expected name=value, got {part:?}"))?;
            let v = pct_decode(v)?;
            match k {
                "token" => token = Some(String::from_utf8(v)?),
                "object" => object = Some(String::from_utf8(v)?),
                "id" => id = Some(v),
                other => bail!("{s:?}: unknown attribute {other:?} (use token, object, id)"),
            }
        }
        let token = token.ok_or_else(|| anyhow!("{s:?}: token=<label> is required"))?;
        if object.is_none() && id.is_none() {
            bail!("{s:?}: name the key with object=<label> or id=<%xx>");
        }
        Ok(Pkcs11Ref { token, object, id })
    }
}

impl fmt::Display for Pkcs11Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pkcs11:token={}",
            pct_encode(self.token.as_bytes(), false)
        )?;
        if let Some(o) = &self.object {
            write!(f, ";object={}", pct_encode(o.as_bytes(), false))?;
        }
        if let Some(id) = &self.id {
            write!(f, ";id={}", pct_encode(id, true))?;
        }
        Ok(())
    }
}

/// The module to load: `NOTUS_PKCS11_MODULE`, else the configured one, else ykcs11.
pub fn module_path(configured: Option<&Path>) -> PathBuf {
    std::env::var_os("NOTUS_PKCS11_MODULE")
        .map(PathBuf::from)
        .or_else(|| configured.map(Path::to_owned))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODULE))
}

/// A loaded PKCS#11 module. `C_Initialize` is per process: load each module once and open every
/// token through it.
pub struct Module {
    ctx: Pkcs11,
    path: PathBuf,
}

impl Module {
    /// Load and initialise `path`.
    pub fn load(path: &Path) -> Result<Rc<Module>> {
        let ctx = Pkcs11::new(path).with_context(|| {
            format!(
                "loading the PKCS#11 module {} (install it, or set NOTUS_PKCS11_MODULE)",
                path.display()
            )
        })?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .context("initialising the PKCS#11 module")?;
        Ok(Rc::new(Module {
            ctx,
            path: path.to_owned(),
        }))
    }

    /// Find the token labelled `label`, open a read-write session and log in with the user PIN
    /// (environment or prompt).
    pub fn open_token(self: &Rc<Self>, label: &str) -> Result<Rc<Token>> {
        let ctx = &self.ctx;
        let slots = ctx
            .get_slots_with_token()
            .context("listing PKCS#11 slots (is the token plugged in, and pcscd running?)")?;
        let mut labels = Vec::new();
        let mut found = None;
        for s in slots {
            if let Ok(info) = ctx.get_token_info(s) {
                let l = info.label().trim().to_owned();
                if l == label {
                    found = Some(s);
                }
                labels.push(l);
            }
        }
        let slot = found.ok_or_else(|| {
            anyhow!(
                "no token labelled {label:?} in {} (tokens present: {labels:?})",
                self.path.display()
            )
        })?;
        let session = ctx.open_rw_session(slot).context("opening a session")?;
        let pin = secret::pin(label)?;
        session
            .login(UserType::User, Some(&AuthPin::from(pin)))
            .map_err(|e| match e {
                cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::PinIncorrect, _) => {
                    anyhow!("token {label:?} refused the PIN (check NOTUS_PKCS11_PIN; repeated wrong PINs lock the token)")
                }
                e => anyhow!("logging in to token {label:?}: {e}"),
            })?;
        Ok(Rc::new(Token {
            _module: Rc::clone(self),
            session,
            label: label.to_owned(),
        }))
    }
}

/// A logged-in session on one token.
pub struct Token {
    // The module must outlive its sessions.
    _module: Rc<Module>,
    session: Session,
    label: String,
}

impl Token {
    /// Generate a P-256 key pair on the token: private key sensitive and not extractable.
    pub fn generate(&self, object: &str, id: &[u8]) -> Result<(Pkcs11Ref, PublicKey)> {
        let label = object.as_bytes().to_vec();
        let (public, _private) = self
            .session
            .generate_key_pair(
                &Mechanism::EccKeyPairGen,
                &[
                    Attribute::Token(true),
                    Attribute::Private(false),
                    Attribute::Verify(true),
                    Attribute::EcParams(P256_EC_PARAMS.to_vec()),
                    Attribute::Label(label.clone()),
                    Attribute::Id(id.to_vec()),
                ],
                &[
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Sign(true),
                    Attribute::Label(label),
                    Attribute::Id(id.to_vec()),
                ],
            )
            .context("generating a P-256 key on the token")?;
        let pk = self.public_key(public)?;
        Ok((
            Pkcs11Ref {
                token: self.label.clone(),
                object: Some(object.to_owned()),
                id: Some(id.to_vec()),
            },
            pk,
        ))
    }

    fn find(&self, class: ObjectClass, r: &Pkcs11Ref) -> Result<ObjectHandle> {
        let mut template = vec![Attribute::Class(class), Attribute::KeyType(KeyType::EC)];
        if let Some(o) = &r.object {
            template.push(Attribute::Label(o.as_bytes().to_vec()));
        }
        if let Some(id) = &r.id {
            template.push(Attribute::Id(id.clone()));
        }
        let found = self.session.find_objects(&template)?;
        match found.as_slice() {
            [one] => Ok(*one),
            [] => bail!("no EC {class} for {r} on token {:?}", self.label),
            _ => bail!(
                "{r} matches {} keys on the token; add id=… to the reference",
                found.len()
            ),
        }
    }

    fn public_key(&self, handle: ObjectHandle) -> Result<PublicKey> {
        let attrs = self
            .session
            .get_attributes(handle, &[AttributeType::EcPoint])?;
        let Some(Attribute::EcPoint(point)) = attrs.into_iter().next() else {
            bail!("the token did not return the key's CKA_EC_POINT");
        };
        // A DER OCTET STRING around the SEC1 point (04 41 04 X Y); some modules omit the wrapper.
        let sec1 = match point.as_slice() {
            [0x04, 0x41, rest @ ..] if rest.len() == 0x41 => rest,
            p if p.len() == 65 && p[0] == 0x04 => p,
            p => bail!("unexpected CKA_EC_POINT ({} bytes)", p.len()),
        };
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
            .map_err(|e| anyhow!("the token's public key is not P-256: {e}"))?;
        Ok(PublicKey::EcdsaP256(vk))
    }

    /// The public key of `r`.
    pub fn public(&self, r: &Pkcs11Ref) -> Result<PublicKey> {
        self.public_key(self.find(ObjectClass::PUBLIC_KEY, r)?)
    }

    /// A signer for `r`, presented as a key of `dialect`.
    pub fn signer(self: &Rc<Self>, r: &Pkcs11Ref, dialect: Dialect) -> Result<TokenSigner> {
        let private = self.find(ObjectClass::PRIVATE_KEY, r)?;
        let public = self.public(r)?;
        let key = key_from_public(dialect, &public)?;
        let keyid = key_id(dialect, &key);
        Ok(TokenSigner {
            token: Rc::clone(self),
            private,
            public,
            keyid,
        })
    }
}

/// Signs on the token.
pub struct TokenSigner {
    token: Rc<Token>,
    private: ObjectHandle,
    public: PublicKey,
    keyid: String,
}

impl Signer for TokenSigner {
    fn key_id(&self) -> &str {
        &self.keyid
    }
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn sign(&self, payload: &[u8]) -> Result<RawSignature, Error> {
        let digest = Sha256::digest(payload);
        let bytes = self
            .token
            .session
            .sign(&Mechanism::Ecdsa, self.private, &digest)
            .map_err(|e| {
                Error::Other(format!("token {:?} refused to sign: {e}", self.token.label))
            })?;
        Ok(RawSignature {
            keyid: self.keyid.clone(),
            scheme: Scheme::EcdsaP256Fixed,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_round_trip_with_escapes() {
        let r = Pkcs11Ref::parse("pkcs11:token=My%20Token;object=root%3Bkey;id=%02").unwrap();
        assert_eq!(r.token, "My Token");
        assert_eq!(r.object.as_deref(), Some("root;key"));
        assert_eq!(r.id.as_deref(), Some(&[2u8][..]));
        assert_eq!(Pkcs11Ref::parse(&r.to_string()).unwrap(), r);
        assert!(Pkcs11Ref::parse("pkcs11:token=x").is_err());
        assert!(Pkcs11Ref::parse("pkcs11:token=x;slot=3").is_err());
    }
}
