//! Bearer tokens as notary-server accepts them (the Docker registry token spec): a JWT signed
//! ES256 or RS256 by a configured issuer key, with `exp`/`nbf`/`aud` (and `iss` when configured)
//! checked, granting `access` entries `{type, name, actions}`. Pure: the token, the policy and the
//! time come in; the verified grants or a precise refusal go out.
//!
//! Scopes follow notary-server: `/v2/` and the global changefeed need `registry:catalog:*`; reads
//! `repository:<gun>:pull`; uploads and key GETs `push,pull`; key rotation and delete `*`.
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::keys::{PublicKey, Scheme, verify_signature};

/// Who may issue tokens for this server.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// `service` in the challenge and the required `aud`.
    pub service: String,
    /// Required `iss`, if configured.
    pub issuer: Option<String>,
    /// Keys a token may be signed with (ECDSA P-256 for ES256, RSA for RS256).
    pub keys: Vec<PublicKey>,
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `repository` or `registry`.
    pub kind: &'static str,
    /// The GUN, or `catalog`.
    pub name: String,
    /// Every action needed (`pull`, `push`, `*`).
    pub actions: Vec<&'static str>,
}

impl Scope {
    /// `repository:<gun>:<actions>`.
    pub fn repository(gun: &str, actions: &[&'static str]) -> Self {
        Scope {
            kind: "repository",
            name: gun.to_owned(),
            actions: actions.to_vec(),
        }
    }

    /// `registry:catalog:*`.
    pub fn catalog() -> Self {
        Scope {
            kind: "registry",
            name: "catalog".into(),
            actions: vec!["*"],
        }
    }

    /// The scope string of a challenge: `repository:example.com/x:push,pull`.
    pub fn to_challenge(&self) -> String {
        format!("{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No usable bearer token.
    #[error("authentication required")]
    Missing,
    /// Not a JWT, or a claim of the wrong shape.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// `alg` other than ES256/RS256 (including `none`).
    #[error("token algorithm {0:?} is not accepted")]
    Algorithm(String),
    /// No configured key verifies the signature.
    #[error("token signature does not verify")]
    Signature,
    /// Expired, or not yet valid.
    #[error("token is expired or not yet valid")]
    Time,
    /// Wrong audience or issuer.
    #[error("token is for another service or issuer")]
    Audience,
    /// Valid, but grants less than needed.
    #[error("token does not grant {0}")]
    Insufficient(String),
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    nbf: Option<i64>,
    #[serde(default)]
    access: Vec<Access>,
}

#[derive(Deserialize)]
struct Access {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    #[serde(default)]
    actions: Vec<String>,
}

fn b64url(part: &str) -> Result<Vec<u8>, AuthError> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| AuthError::Malformed(e.to_string()))
}

/// Verify `token` under `policy` at `now`, and check it grants `scope`.
pub fn authorize(
    token: &str,
    policy: &TokenPolicy,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed("not three dot-separated parts".into()));
    };
    let header: Header =
        serde_json::from_slice(&b64url(h)?).map_err(|e| AuthError::Malformed(e.to_string()))?;
    let scheme = match header.alg.as_str() {
        "ES256" => Scheme::EcdsaP256Fixed,
        "RS256" => Scheme::RsaPkcs1v15Sha256,
        other => return Err(AuthError::Algorithm(other.to_owned())),
    };
    let signature = b64url(s)?;
    let signing_input = format!("{h}.{p}");
    let signed_by_issuer = policy.keys.iter().any(|k| {
        let kind_fits = matches!(
            (k, scheme),
            (PublicKey::EcdsaP256(_), Scheme::EcdsaP256Fixed)
                | (PublicKey::Rsa(_), Scheme::RsaPkcs1v15Sha256)
        );
        kind_fits && verify_signature(k, scheme, signing_input.as_bytes(), &signature)
    });
    if !signed_by_issuer {
        return Err(AuthError::Signature);
    }
    let claims: Claims =
        serde_json::from_slice(&b64url(p)?).map_err(|e| AuthError::Malformed(e.to_string()))?;
    let t = now.timestamp();
    let exp = claims.exp.ok_or(AuthError::Time)?;
    if t >= exp || claims.nbf.is_some_and(|nbf| t < nbf) {
        return Err(AuthError::Time);
    }
    let aud_ok = match &claims.aud {
        Some(Audience::One(a)) => a == &policy.service,
        Some(Audience::Many(v)) => v.iter().any(|a| a == &policy.service),
        None => false,
    };
    let iss_ok = policy
        .issuer
        .as_ref()
        .is_none_or(|i| claims.iss.as_ref() == Some(i));
    if !aud_ok || !iss_ok {
        return Err(AuthError::Audience);
    }
    let granted = |action: &str| {
        claims.access.iter().any(|a| {
            a.kind == scope.kind
                && a.name == scope.name
                && a.actions.iter().any(|x| x == action || x == "*")
        })
    };
    if scope.actions.iter().all(|a| granted(a)) {
        Ok(())
    } else {
        Err(AuthError::Insufficient(scope.to_challenge()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use p256::ecdsa::signature::Signer as _;

    fn enc(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn token(sk: &p256::ecdsa::SigningKey, alg: &str, claims: serde_json::Value) -> String {
        let input = format!(
            "{}.{}",
            enc(&serde_json::json!({"alg": alg, "typ": "JWT"})),
            enc(&claims)
        );
        let sig: p256::ecdsa::Signature = sk.sign(input.as_bytes());
        format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.to_bytes())
        )
    }

    fn setup() -> (p256::ecdsa::SigningKey, TokenPolicy, DateTime<Utc>) {
        let sk = p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
        let policy = TokenPolicy {
            service: "notus".into(),
            issuer: Some("auth.example".into()),
            keys: vec![PublicKey::EcdsaP256(*sk.verifying_key())],
        };
        (sk, policy, "2026-11-25T12:00:00Z".parse().unwrap())
    }

    fn claims(now: DateTime<Utc>, actions: &[&str]) -> serde_json::Value {
        serde_json::json!({"iss": "auth.example", "aud": "notus", "exp": now.timestamp() + 300,
            "nbf": now.timestamp() - 5,
            "access": [{"type": "repository", "name": "example.com/app", "actions": actions}]})
    }

    #[test]
    fn grants_exactly_what_the_token_says() {
        let (sk, policy, now) = setup();
        let pull = Scope::repository("example.com/app", &["pull"]);
        let push = Scope::repository("example.com/app", &["push", "pull"]);
        let all = Scope::repository("example.com/app", &["*"]);
        let t = token(&sk, "ES256", claims(now, &["pull"]));
        assert_eq!(authorize(&t, &policy, &pull, now), Ok(()));
        assert!(matches!(
            authorize(&t, &policy, &push, now),
            Err(AuthError::Insufficient(_))
        ));
        let t = token(&sk, "ES256", claims(now, &["push", "pull"]));
        assert_eq!(authorize(&t, &policy, &push, now), Ok(()));
        assert!(authorize(&t, &policy, &all, now).is_err(), "* needs *");
        let other = Scope::repository("example.com/other", &["pull"]);
        assert!(authorize(&t, &policy, &other, now).is_err(), "another GUN");
        let t = token(&sk, "ES256", claims(now, &["*"]));
        assert_eq!(authorize(&t, &policy, &all, now), Ok(()));
        assert_eq!(authorize(&t, &policy, &push, now), Ok(()));
    }

    #[test]
    fn refuses_bad_tokens_precisely() {
        let (sk, policy, now) = setup();
        let pull = Scope::repository("example.com/app", &["pull"]);
        let good = claims(now, &["pull"]);
        // Expired, not yet valid, no exp.
        let mut c = good.clone();
        c["exp"] = (now.timestamp() - 1).into();
        assert_eq!(
            authorize(&token(&sk, "ES256", c), &policy, &pull, now),
            Err(AuthError::Time)
        );
        let mut c = good.clone();
        c["nbf"] = (now.timestamp() + 60).into();
        assert_eq!(
            authorize(&token(&sk, "ES256", c), &policy, &pull, now),
            Err(AuthError::Time)
        );
        // Wrong audience or issuer.
        let mut c = good.clone();
        c["aud"] = "registry".into();
        assert_eq!(
            authorize(&token(&sk, "ES256", c), &policy, &pull, now),
            Err(AuthError::Audience)
        );
        let mut c = good.clone();
        c["iss"] = "evil".into();
        assert_eq!(
            authorize(&token(&sk, "ES256", c), &policy, &pull, now),
            Err(AuthError::Audience)
        );
        // Signed by another key; alg none; a tampered payload.
        let other = p256::ecdsa::SigningKey::from_slice(&[6u8; 32]).unwrap();
        assert_eq!(
            authorize(&token(&other, "ES256", good.clone()), &policy, &pull, now),
            Err(AuthError::Signature)
        );
        assert!(matches!(
            authorize(&token(&sk, "none", good.clone()), &policy, &pull, now),
            Err(AuthError::Algorithm(_))
        ));
        let t = token(&sk, "ES256", good);
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = enc(&claims(now, &["*"]));
        parts[1] = &forged;
        assert_eq!(
            authorize(&parts.join("."), &policy, &pull, now),
            Err(AuthError::Signature)
        );
        assert!(matches!(
            authorize("abc", &policy, &pull, now),
            Err(AuthError::Malformed(_))
        ));
    }
}
