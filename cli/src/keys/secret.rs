//! Passphrases and PINs: from the environment when set (CI, scripts), otherwise from a prompt on
//! the terminal. Never from a command-line argument (it would show in `ps` and shell history),
//! never logged, never guessed: a wrong one is an error, not a retry loop.
use anyhow::{Context, Result, bail};
use std::io::IsTerminal;

/// The passphrase for a key file of `role`. Looks at `NOTUS_<ROLE>_PASSPHRASE`, then Notary's
/// `NOTARY_<ROLE>_PASSPHRASE` (role `targets/x` → `DELEGATION`), then `NOTUS_PASSPHRASE`, then
/// prompts (twice when `confirm`, for a new key).
pub fn passphrase(role: &str, confirm: bool) -> Result<String> {
    let upper = role_env_name(role);
    for var in [
        format!("NOTUS_{upper}_PASSPHRASE"),
        format!("NOTARY_{upper}_PASSPHRASE"),
        "NOTUS_PASSPHRASE".to_owned(),
    ] {
        if let Ok(v) = std::env::var(&var) {
            return Ok(v);
        }
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "a passphrase is needed for the {role} key: set NOTUS_{upper}_PASSPHRASE (or \
             NOTUS_PASSPHRASE), or run on a terminal"
        );
    }
    let first = rpassword::prompt_password(format!("Passphrase for the {role} key: "))
        .context("reading the passphrase")?;
    if confirm {
        let again = rpassword::prompt_password("Repeat the passphrase: ")
            .context("reading the passphrase")?;
        if again != first {
            bail!("the passphrases did not match");
        }
        if first.len() < 8 {
            bail!("use a passphrase of at least 8 characters");
        }
    }
    Ok(first)
}

/// A new passphrase for `key passwd`: `NOTUS_NEW_PASSPHRASE`, else a prompt (asked twice).
pub fn new_passphrase(role: &str) -> Result<String> {
    if let Ok(v) = std::env::var("NOTUS_NEW_PASSPHRASE") {
        return Ok(v);
    }
    if !std::io::stdin().is_terminal() {
        bail!("set NOTUS_NEW_PASSPHRASE, or run on a terminal");
    }
    let first = rpassword::prompt_password(format!("New passphrase for the {role} key: "))?;
    let again = rpassword::prompt_password("Repeat the new passphrase: ")?;
    if first != again {
        bail!("the passphrases did not match");
    }
    if first.len() < 8 {
        bail!("use a passphrase of at least 8 characters");
    }
    Ok(first)
}

/// The user PIN of a PKCS#11 token: `NOTUS_PKCS11_PIN`, else a prompt.
pub fn pin(token: &str) -> Result<String> {
    if let Ok(v) = std::env::var("NOTUS_PKCS11_PIN") {
        return Ok(v);
    }
    if !std::io::stdin().is_terminal() {
        bail!("the PIN of token {token:?} is needed: set NOTUS_PKCS11_PIN or run on a terminal");
    }
    rpassword::prompt_password(format!("PIN for token {token:?}: ")).context("reading the PIN")
}

/// `root` → `ROOT`, `targets/releases` → `DELEGATION` (Notary's naming for delegation keys).
fn role_env_name(role: &str) -> String {
    if role.contains('/') {
        "DELEGATION".to_owned()
    } else {
        role.to_ascii_uppercase()
    }
}

/// The passphrase that opens a key file being imported (a Notary trust dir's): Notary's
/// `NOTARY_<ROLE>_PASSPHRASE`, then `NOTUS_IMPORT_PASSPHRASE`, then a prompt.
pub fn import_passphrase(role: &str) -> Result<String> {
    let upper = role_env_name(role);
    for var in [
        format!("NOTARY_{upper}_PASSPHRASE"),
        "NOTUS_IMPORT_PASSPHRASE".to_owned(),
    ] {
        if let Ok(v) = std::env::var(&var) {
            return Ok(v);
        }
    }
    if !std::io::stdin().is_terminal() {
        bail!("the {role} key being imported is encrypted: set NOTARY_{upper}_PASSPHRASE");
    }
    rpassword::prompt_password(format!("Passphrase of the {role} key being imported: "))
        .context("reading the passphrase")
}

#[cfg(test)]
mod tests {
    #[test]
    fn env_names_follow_notary() {
        assert_eq!(super::role_env_name("root"), "ROOT");
        assert_eq!(super::role_env_name("targets/releases"), "DELEGATION");
    }
}
