//! Encrypted key files in `<home>/private/<fingerprint>.key`: PEM `ENCRYPTED PRIVATE KEY`
//! (PKCS#8 with PBES2: scrypt at its recommended cost + AES-256-CBC), with Notary's PEM headers
//! `role:` and `gun:` so a file says what it is for. Files are 0600 in a 0700 directory and are
//! written atomically.
//!
//! The same layout as a Notary trust dir's `private/`, so `notus key import` reads Notary's files
//! (PBES2 with PBKDF2-HMAC-SHA1) and re-encrypts them with scrypt.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use notus_tuf::keys::PublicKey;
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};

use super::{KeyRef, fingerprint, secret};

/// What a key file says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKeyInfo {
    /// Public-key fingerprint (the file name).
    pub fingerprint: String,
    /// The role it was made for (`root`, `targets`, `targets/releases`…).
    pub role: String,
    /// The collection it belongs to, if any (root keys can serve several).
    pub gun: Option<String>,
}

/// The key files of one Notus home.
pub struct FileStore {
    dir: PathBuf,
}

/// Split Notary-style PEM headers (`role: root`) from the PEM text OpenSSL and RustCrypto read.
pub fn split_pem_headers(text: &str) -> (Vec<(String, String)>, String) {
    let mut headers = Vec::new();
    let mut pem = String::new();
    for line in text.lines() {
        let t = line.trim();
        if !t.starts_with("-----")
            && let Some((k, v)) = t.split_once(':')
        {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
            continue;
        }
        if t.is_empty() {
            continue;
        }
        pem.push_str(t);
        pem.push('\n');
    }
    (headers, pem)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Decrypt an `ENCRYPTED PRIVATE KEY` PEM (ours, or a Notary trust dir's).
fn decrypt_lenient(pem: &str, pass: &str) -> Result<SigningKey> {
    let (label, der) =
        p256::pkcs8::der::pem::decode_vec(pem.as_bytes()).map_err(|e| anyhow!("not PEM: {e}"))?;
    if label != "ENCRYPTED PRIVATE KEY" {
        bail!("expected an ENCRYPTED PRIVATE KEY, found {label}");
    }
    use p256::pkcs8::der::Decode as _;
    let info = pkcs8::EncryptedPrivateKeyInfo::from_der(&der).map_err(|e| anyhow!("{e}"))?;
    let doc = info.decrypt(pass.as_bytes()).map_err(|e| anyhow!("{e}"))?;
    let mut bytes = doc.as_bytes().to_vec();
    match SigningKey::from_pkcs8_der(&bytes) {
        Ok(sk) => Ok(sk),
        Err(first) => {
            // Notary (Go) writes PrivateKeyInfo version 1 (RFC 5958 v2) without the optional
            // public key that version promises; read it as version 0, which it is.
            let hl = match bytes.get(1) {
                Some(&l) if l < 0x80 => 2,
                Some(&l) => 2 + usize::from(l & 0x7f),
                None => bail!("empty private key"),
            };
            if bytes.get(hl..hl + 3) == Some(&[0x02, 0x01, 0x01][..]) {
                bytes[hl + 2] = 0;
                return SigningKey::from_pkcs8_der(&bytes).map_err(|e| anyhow!("{e}"));
            }
            Err(anyhow!("{first}"))
        }
    }
}

impl FileStore {
    /// The store under `home` (created on first write).
    pub fn new(home: &Path) -> Self {
        FileStore {
            dir: home.join("private"),
        }
    }

    fn path(&self, fingerprint: &str) -> PathBuf {
        self.dir.join(format!("{fingerprint}.key"))
    }

    /// Make a new P-256 key for `role`, encrypted with a passphrase from the environment or a
    /// prompt.
    pub fn generate(
        &self,
        role: &str,
        gun: Option<&str>,
    ) -> Result<(KeyRef, PublicKey, SigningKey)> {
        let sk = SigningKey::random(&mut rand_core::OsRng);
        let pass = secret::passphrase(role, true)?;
        let (r, public) = self.save(&sk, role, gun, &pass)?;
        Ok((r, public, sk))
    }

    /// Import an existing key file (a Notary trust dir's `private/*.key`, or any PKCS#8 PEM,
    /// encrypted or not). `source_pass` opens it; the stored copy is encrypted with `pass`.
    pub fn import(
        &self,
        text: &str,
        role_hint: Option<&str>,
        gun_hint: Option<&str>,
        source_pass: impl Fn(&str) -> Result<String>,
        pass: impl Fn(&str) -> Result<String>,
    ) -> Result<(KeyRef, PublicKey, String)> {
        let (headers, pem) = split_pem_headers(text);
        let role = role_hint
            .or(header(&headers, "role"))
            .ok_or_else(|| anyhow!("the key file has no role: header; say which role with --role"))?
            .to_owned();
        let gun = gun_hint.or(header(&headers, "gun")).map(str::to_owned);
        let sk = if pem.contains("ENCRYPTED PRIVATE KEY") {
            let p = source_pass(&role)?;
            decrypt_lenient(&pem, &p).map_err(|e| {
                anyhow!(
                    "could not decrypt the {role} key: wrong passphrase, or not a P-256 key ({e})"
                )
            })?
        } else {
            SigningKey::from_pkcs8_pem(&pem)
                .map_err(|e| anyhow!("not a P-256 PKCS#8 private key: {e}"))?
        };
        let p = pass(&role)?;
        let (r, public) = self.save(&sk, &role, gun.as_deref(), &p)?;
        Ok((r, public, role))
    }

    fn save(
        &self,
        sk: &SigningKey,
        role: &str,
        gun: Option<&str>,
        pass: &str,
    ) -> Result<(KeyRef, PublicKey)> {
        if role.contains(['\n', '\r']) || gun.is_some_and(|g| g.contains(['\n', '\r'])) {
            bail!("role and collection names cannot contain line breaks");
        }
        let public = PublicKey::EcdsaP256(*sk.verifying_key());
        let fp = fingerprint(&public)?;
        let pem = sk
            .to_pkcs8_encrypted_pem(&mut rand_core::OsRng, pass.as_bytes(), LineEnding::LF)
            .map_err(|e| anyhow!("encrypting the key: {e}"))?;
        // Notary's layout: headers right after the BEGIN line, then a blank line.
        let mut text = String::new();
        let mut lines = pem.lines();
        text.push_str(lines.next().unwrap_or_default());
        text.push('\n');
        if let Some(g) = gun {
            text.push_str(&format!("gun: {g}\n"));
        }
        text.push_str(&format!("role: {role}\n\n"));
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        self.write_private(&self.path(&fp), text.as_bytes())?;
        Ok((KeyRef::File { fingerprint: fp }, public))
    }

    fn write_private(&self, path: &Path, data: &[u8]) -> Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))?;
        crate::files::write_atomic_mode(path, data, 0o600)
    }

    /// What the file for `fingerprint` says (no passphrase needed).
    pub fn info(&self, fingerprint: &str) -> Result<FileKeyInfo> {
        let path = self.path(fingerprint);
        let text = fs::read_to_string(&path)
            .with_context(|| format!("no key file {} (see `notus key list`)", path.display()))?;
        let (headers, _) = split_pem_headers(&text);
        Ok(FileKeyInfo {
            fingerprint: fingerprint.to_owned(),
            role: header(&headers, "role").unwrap_or("unknown").to_owned(),
            gun: header(&headers, "gun").map(str::to_owned),
        })
    }

    /// Decrypt the key (asking for its role's passphrase).
    pub fn load(&self, fingerprint: &str) -> Result<SigningKey> {
        let info = self.info(fingerprint)?;
        let text = fs::read_to_string(self.path(fingerprint))?;
        let (_, pem) = split_pem_headers(&text);
        let pass = secret::passphrase(&info.role, false)?;
        let sk = decrypt_lenient(&pem, &pass).map_err(|_| {
            anyhow!(
                "could not decrypt the {} key {}: wrong passphrase?",
                info.role,
                &fingerprint[..12]
            )
        })?;
        let fp = super::fingerprint(&PublicKey::EcdsaP256(*sk.verifying_key()))?;
        if fp != fingerprint {
            bail!("key file {fingerprint}.key holds another key ({fp}); it was renamed or damaged");
        }
        Ok(sk)
    }

    /// The encrypted key file as stored (for `key export`; still protected by its passphrase).
    pub fn encrypted_pem(&self, fingerprint: &str) -> Result<String> {
        self.info(fingerprint)?;
        Ok(fs::read_to_string(self.path(fingerprint))?)
    }

    /// Re-encrypt a key file under `new_pass` (asks for the current passphrase).
    pub fn change_passphrase(&self, fingerprint: &str, new_pass: &str) -> Result<()> {
        let info = self.info(fingerprint)?;
        let sk = self.load(fingerprint)?;
        let path = self.path(fingerprint);
        let backup = path.with_extension("key.old");
        fs::rename(&path, &backup)?;
        match self.save(&sk, &info.role, info.gun.as_deref(), new_pass) {
            Ok(_) => {
                fs::remove_file(&backup)?;
                Ok(())
            }
            Err(e) => {
                fs::rename(&backup, &path)?;
                Err(e)
            }
        }
    }

    /// Every key file, sorted by role then fingerprint.
    pub fn list(&self) -> Result<Vec<FileKeyInfo>> {
        let mut out = Vec::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).context(format!("reading {}", self.dir.display())),
        };
        for e in entries {
            let name = e?.file_name().to_string_lossy().into_owned();
            if let Some(fp) = name.strip_suffix(".key") {
                out.push(self.info(fp)?);
            }
        }
        out.sort_by(|a, b| (&a.role, &a.fingerprint).cmp(&(&b.role, &b.fingerprint)));
        Ok(out)
    }

    /// Delete a key file.
    pub fn remove(&self, fingerprint: &str) -> Result<()> {
        let path = self.path(fingerprint);
        fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notary_headers_are_split_from_the_pem() {
        let text = "-----BEGIN ENCRYPTED PRIVATE KEY-----\ngun: example.com/x\nrole: snapshot\n\nAAAA\nBBBB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let (h, pem) = split_pem_headers(text);
        assert_eq!(header(&h, "role"), Some("snapshot"));
        assert_eq!(header(&h, "gun"), Some("example.com/x"));
        assert_eq!(
            pem,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\nBBBB\n-----END ENCRYPTED PRIVATE KEY-----\n"
        );
    }
}
