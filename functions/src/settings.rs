//! Command-line flags and environment variables shared by every binary, and building a
//! [`Service`] from them. Lambda functions take the same settings from their environment.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::Duration;

use crate::ops::{Config, Service, system_clock};
use crate::{aws, embedded};

/// `30s`, `15m`, `24h`, `3d`: a whole number and a unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?}: add a unit (s, m, h or d)"))?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?} does not start with a whole number"))?;
    let d = match unit {
        "s" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        _ => None,
    };
    d.filter(|d| *d > Duration::zero())
        .ok_or_else(|| format!("{s:?}: use a positive number with s, m, h or d"))
}

/// Tunables of the operations.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// Lifetime of the timestamps the server signs.
    #[arg(long, env = "NOTUS_TIMESTAMP_LIFETIME", default_value = "24h", value_parser = parse_duration)]
    pub timestamp_lifetime: Duration,
    /// Lifetime of snapshots the server signs (when it holds the snapshot key).
    #[arg(long, env = "NOTUS_SNAPSHOT_LIFETIME", default_value = "1095d", value_parser = parse_duration)]
    pub snapshot_lifetime: Duration,
    /// Refresh re-signs whatever expires within this window.
    #[arg(long, env = "NOTUS_REFRESH_WINDOW", default_value = "8h", value_parser = parse_duration)]
    pub refresh_window: Duration,
    /// Largest accepted upload, in bytes.
    #[arg(long, env = "NOTUS_MAX_UPLOAD_BYTES", default_value_t = 100 << 20)]
    pub max_upload_bytes: usize,
    /// Most targets one targets role may list.
    #[arg(long, env = "NOTUS_MAX_TARGETS", default_value_t = 1_000_000)]
    pub max_targets: usize,
    /// Most delegations one targets role may make.
    #[arg(long, env = "NOTUS_MAX_DELEGATIONS", default_value_t = 10_000)]
    pub max_delegations: usize,
    /// Bytes of committed metadata kept in memory, so a publish need not read back the files
    /// the one before it wrote (0: none).
    #[arg(long, env = "NOTUS_CONTENT_CACHE_BYTES", default_value_t = 16 << 20)]
    pub content_cache_bytes: usize,
    /// Longest a client may take to send one request.
    #[arg(long, env = "NOTUS_REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Require bearer tokens from this token service (notary-server's `auth.type=token`).
    #[arg(long, env = "NOTUS_AUTH_REALM", value_name = "URL")]
    pub auth_realm: Option<String>,
    /// The service name tokens must be issued for (`aud`).
    #[arg(long, env = "NOTUS_AUTH_SERVICE", default_value = "notus")]
    pub auth_service: String,
    /// The issuer tokens must name (`iss`), if any.
    #[arg(long, env = "NOTUS_AUTH_ISSUER")]
    pub auth_issuer: Option<String>,
    /// Public keys (P-256 or RSA) that sign tokens: PEM files, or the PEM text itself (as a
    /// Lambda function's environment carries it; line breaks may be spaces). Repeat, or
    /// comma-separated.
    #[arg(
        long = "auth-key",
        env = "NOTUS_AUTH_KEYS",
        value_delimiter = ',',
        value_name = "PEM"
    )]
    pub auth_keys: Vec<String>,
    /// Serve only GUNs under these prefixes (repeat, or comma-separated in the environment; each
    /// ends in `/`), as notary-server's `repositories.gun_prefixes`.
    #[arg(long = "gun-prefix", env = "NOTUS_GUN_PREFIXES", value_delimiter = ',')]
    pub gun_prefixes: Vec<String>,
}

impl ServiceArgs {
    /// The operations' configuration.
    pub fn config(&self) -> anyhow::Result<Config> {
        // A deployment template sets every variable, unused ones to "": that means unset.
        let set = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let gun_prefixes: Vec<String> = nonempty(&self.gun_prefixes);
        let auth_keys = nonempty(&self.auth_keys);
        anyhow::ensure!(
            self.refresh_window < self.timestamp_lifetime,
            "the refresh window ({}) must be shorter than the timestamp lifetime ({})",
            self.refresh_window,
            self.timestamp_lifetime
        );
        for p in &gun_prefixes {
            anyhow::ensure!(
                p.ends_with('/') && p.len() > 1,
                "GUN prefix {p:?} must end in / (e.g. example.com/)"
            );
        }
        let auth = match &set(&self.auth_realm) {
            None => {
                anyhow::ensure!(auth_keys.is_empty(), "--auth-key needs --auth-realm");
                None
            }
            Some(realm) => {
                anyhow::ensure!(
                    !auth_keys.is_empty(),
                    "--auth-realm needs at least one --auth-key"
                );
                let mut keys = Vec::new();
                for key in &auth_keys {
                    keys.push(if key.trim_start().starts_with("-----BEGIN") {
                        token_key(key).context("the PEM text of --auth-key")?
                    } else {
                        let pem = std::fs::read_to_string(key)
                            .with_context(|| format!("reading {key}"))?;
                        token_key(&pem).with_context(|| key.clone())?
                    });
                }
                Some(crate::ops::AuthConfig {
                    realm: realm.clone(),
                    policy: notus_tuf::auth::TokenPolicy {
                        service: self.auth_service.clone(),
                        issuer: set(&self.auth_issuer),
                        keys,
                    },
                })
            }
        };
        Ok(Config {
            auth,
            gun_prefixes,
            max_targets: self.max_targets,
            max_delegations: self.max_delegations,
            content_cache_bytes: self.content_cache_bytes,
            request_timeout: self
                .request_timeout
                .to_std()
                .map_err(|_| anyhow::anyhow!("--request-timeout must be positive"))?,
            timestamp_lifetime: self.timestamp_lifetime,
            snapshot_lifetime: self.snapshot_lifetime,
            refresh_window: self.refresh_window,
            max_upload_bytes: self.max_upload_bytes,
            ..Config::default()
        })
    }
}

/// The non-blank values of a list setting.
fn nonempty(values: &[String]) -> Vec<String> {
    values
        .iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// A token-signing public key from PEM: P-256 or RSA SubjectPublicKeyInfo.
fn token_key(pem: &str) -> anyhow::Result<notus_tuf::keys::PublicKey> {
    use p256::pkcs8::DecodePublicKey as _;
    let der = notus_tuf::keys::pem_body(pem, "PUBLIC KEY")?;
    // Re-encoded, so a PEM whose line breaks became spaces reads like any other.
    let pem = &notus_tuf::keys::pem_encode(&der, "PUBLIC KEY");
    if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(&der) {
        return Ok(notus_tuf::keys::PublicKey::EcdsaP256(k));
    }
    let key = notus_tuf::metadata::Key {
        keytype: "rsa".into(),
        scheme: Some("rsassa-pss-sha256".into()),
        keyval: notus_tuf::metadata::KeyVal {
            public: pem.to_owned(),
            extra: Default::default(),
        },
        extra: Default::default(),
    };
    Ok(notus_tuf::keys::parse_key(notus_tuf::Dialect::Tuf, &key)
        .map_err(|e| anyhow::anyhow!("not a P-256 or RSA public key: {e}"))?
        .key)
}

/// Where the AWS adapters keep things.
#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// S3 bucket holding the metadata.
    #[arg(long, env = "NOTUS_BUCKET", default_value = "notus-metadata")]
    pub bucket: String,
    /// DynamoDB table of the ledger.
    #[arg(long, env = "NOTUS_TABLE", default_value = "notus-ledger")]
    pub table: String,
    /// KMS key (ID, ARN or alias/NAME) that signs timestamps by default.
    #[arg(long, env = "NOTUS_KMS_KEY", default_value = "alias/notus-timestamp")]
    pub kms_key: String,
    /// Tag (`KEY=VALUE`) on the KMS keys this deployment creates for collections; a deployment's
    /// IAM policy lets its functions use only keys carrying it.
    #[arg(long, env = "NOTUS_KMS_KEY_TAG", value_name = "KEY=VALUE")]
    pub kms_key_tag: Option<String>,
    /// Create the bucket, table and key if missing (emulator and first runs).
    #[arg(long)]
    pub create_missing: bool,
}

impl AwsArgs {
    /// The key tag as a pair, if one is set.
    pub fn key_tag(&self) -> anyhow::Result<Option<(String, String)>> {
        match self.kms_key_tag.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(t) => {
                let (k, v) = t
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| anyhow::anyhow!("--kms-key-tag {t:?}: write KEY=VALUE"))?;
                Ok(Some((k.to_owned(), v.to_owned())))
            }
        }
    }
}

/// Everything a Lambda function takes from its environment.
#[derive(Debug, Clone, clap::Parser)]
pub struct LambdaEnv {
    /// Where the resources are.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Tunables.
    #[command(flatten)]
    pub service: ServiceArgs,
}

/// Logging and the AWS service for a Lambda function, from its environment.
pub async fn lambda_service(name: &str) -> anyhow::Result<Service> {
    use clap::Parser as _;
    init_logging();
    let env = LambdaEnv::parse_from([name]);
    aws_service(&env.aws, env.service.config()?).await
}

/// A service on the embedded adapters in `data_dir`.
pub fn embedded_service(data_dir: &Path, config: Config) -> anyhow::Result<Service> {
    let embedded::Embedded {
        store,
        ledger,
        keys,
    } = embedded::open(data_dir)
        .with_context(|| format!("opening data directory {}", data_dir.display()))?;
    Ok(Service::new(store, ledger, keys, config, system_clock()))
}

/// A service on S3, DynamoDB and KMS from the standard AWS configuration.
pub async fn aws_service(args: &AwsArgs, config: Config) -> anyhow::Result<Service> {
    let conf = aws::sdk_config().await;
    anyhow::ensure!(
        conf.region().is_some(),
        "no AWS region configured: set AWS_REGION (for the emulator: eval \"$(localstack/start)\")"
    );
    if args.create_missing {
        aws::ensure_resources(&conf, &args.bucket, &args.table, &args.kms_key)
            .await
            .context("creating AWS resources")?;
    }
    Ok(Service::new(
        Arc::new(aws::S3Store::new(&conf, &args.bucket)),
        Arc::new(aws::DynamoLedger::new(&conf, &args.table)),
        Arc::new(aws::KmsKeys::new(&conf, &args.kms_key).tagged(args.key_tag()?)),
        config,
        system_clock(),
    ))
}

/// Structured log lines on stderr: `key=value` by default, JSON with `NOTUS_LOG_FORMAT=json`
/// (what CloudWatch wants); level from `NOTUS_LOG` / `RUST_LOG` (default `info`).
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("NOTUS_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if std::env::var("NOTUS_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().flatten_event(true).init();
    } else {
        builder.with_ansi(false).init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lambda_env(args: &[&str]) -> LambdaEnv {
        use clap::Parser as _;
        LambdaEnv::try_parse_from(std::iter::once("notus-api").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn blank_settings_from_a_template_mean_unset() {
        let env = lambda_env(&[
            "--auth-realm=",
            "--auth-issuer=",
            "--auth-key=",
            "--gun-prefix=",
            "--kms-key-tag=",
        ]);
        let config = env.service.config().unwrap();
        assert!(config.auth.is_none());
        assert!(config.gun_prefixes.is_empty());
        assert_eq!(env.aws.key_tag().unwrap(), None);
    }

    #[test]
    fn an_auth_key_may_be_pem_text_with_spaces_for_line_breaks() {
        use p256::pkcs8::EncodePublicKey as _;
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let der = key.verifying_key().to_public_key_der().unwrap();
        let one_line = notus_tuf::keys::pem_encode(der.as_bytes(), "PUBLIC KEY").replace('\n', " ");
        let realm = "--auth-realm=https://auth.example/token";
        let config = lambda_env(&[realm, &format!("--auth-key={one_line}")])
            .service
            .config()
            .unwrap();
        let auth = config.auth.expect("auth on");
        assert_eq!(auth.policy.keys.len(), 1);
        assert!(matches!(
            &auth.policy.keys[0],
            notus_tuf::keys::PublicKey::EcdsaP256(k) if k == key.verifying_key()
        ));
        // Neither a file nor PEM: refused, naming it.
        let err = lambda_env(&[realm, "--auth-key=/nonexistent/issuer.pem"])
            .service
            .config()
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/issuer.pem"),
            "{err:#}"
        );
    }

    #[test]
    fn key_tags_are_key_equals_value() {
        let tag = |t: &str| lambda_env(&[&format!("--kms-key-tag={t}")]).aws.key_tag();
        assert_eq!(
            tag("notus-deployment=prod").unwrap(),
            Some(("notus-deployment".into(), "prod".into()))
        );
        assert!(tag("no-equals").is_err());
        assert!(tag("=value").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(Duration::hours(24)));
        assert_eq!(parse_duration("90s"), Ok(Duration::seconds(90)));
        assert_eq!(parse_duration("3d"), Ok(Duration::days(3)));
        assert!(parse_duration("24").is_err());
        assert!(parse_duration("0h").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("5w").is_err());
    }
}
