//! `notus`: the publisher and consumer CLI (Notary's command set for Notary and TUF 1.0
//! collections).
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod commands;
mod files;
mod home;
mod keys;
mod progress;
mod remote;
mod transport;
mod tuf_client;
mod updater;

use commands::{Context as Ctx, Output, consumer, delegation, key, publish, publisher};

/// Publish and verify trusted collections (TUF 1.0 and Notary 0.7) with keys in files, on
/// YubiKeys (PKCS#11) or in AWS KMS.
///
/// Exit status: 0 success; 1 failure (including a refused or unverifiable target); 2 usage error.
#[derive(Parser, Debug)]
#[command(name = "notus", version, about, long_about)]
struct Cli {
    /// Notus home (keys, trusted metadata, staged changes). Default: ~/.notus.
    #[arg(long, global = true, env = "NOTUS_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    /// Server URL, e.g. http://127.0.0.1:4443. Default: from the collection or config.toml.
    #[arg(
        long,
        short = 's',
        global = true,
        env = "NOTUS_SERVER",
        value_name = "URL"
    )]
    server: Option<String>,
    /// Output format of read commands.
    #[arg(long, short = 'o', global = true, value_enum, default_value = "text")]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a collection: make (or take) its keys, sign root v1 listing the server's
    /// timestamp key.
    ///
    /// Example: notus -s http://127.0.0.1:4443 init example.com/app --publish
    Init(publisher::InitArgs),
    /// Stage a target: hash a local file (not uploaded) under a target name.
    ///
    /// Example: notus add example.com/app v1.0/app.tar.gz ./app.tar.gz
    Add(publisher::AddArgs),
    /// Stage a target by its length and hashes.
    ///
    /// Example: notus addhash example.com/app v1.0/app.tar.gz 1024 --sha256 <64 hex digits>
    Addhash(publisher::AddHashArgs),
    /// Stage the removal of a target.
    ///
    /// Example: notus remove example.com/app v0.9/app.tar.gz
    Remove {
        /// Collection.
        gun: String,
        /// Target name.
        target: String,
        /// Role that lists it.
        #[arg(long, alias = "roles", default_value = "targets")]
        role: String,
    },
    /// Show staged, unpublished changes.
    ///
    /// Example: notus status example.com/app
    Status {
        /// Collection.
        gun: String,
    },
    /// Drop staged changes.
    ///
    /// Example: notus reset example.com/app
    Reset {
        /// Collection.
        gun: String,
        /// Reset only these changes (numbers as `status` shows them); default all.
        #[arg(long = "number", short = 'n', value_name = "N")]
        numbers: Vec<usize>,
        /// Reset every change (the default; accepted for Notary's users).
        #[arg(long, conflicts_with = "numbers")]
        all: bool,
    },
    /// Sign and upload the staged changes, rebased on the latest verified state; or export them
    /// for offline signing (--export) and upload the signed bundle later (--bundle).
    ///
    /// Examples:
    ///   notus publish example.com/app
    ///   notus publish example.com/app --export changes.bundle --sign-with pkcs11:token=A;object=notus-root
    ///   notus publish example.com/app --bundle changes.bundle
    Publish(publish::PublishArgs),
    /// Add signatures to an exported bundle, offline (no network, e.g. on an air-gapped machine),
    /// after showing what its files say and asking (--yes when scripted).
    ///
    /// Example: notus sign changes.bundle --key pkcs11:token=B;object=notus-root
    Sign(publish::SignArgs),
    /// List the trusted targets of a collection.
    ///
    /// Example: notus -s https://notary.example.com list example.com/app --root root.json
    List {
        /// Collection.
        gun: String,
        #[command(flatten)]
        trust: consumer::TrustArgs,
    },
    /// Print one trusted target's hash and size.
    ///
    /// Example: notus lookup example.com/app v1.0/app.tar.gz
    Lookup {
        /// Collection.
        gun: String,
        /// Target name.
        target: String,
        #[command(flatten)]
        trust: consumer::TrustArgs,
    },
    /// Check a file (or stdin, echoed to stdout when valid) against a trusted target.
    ///
    /// Example: notus verify example.com/app v1.0/app.tar.gz ./app.tar.gz
    Verify {
        /// Collection.
        gun: String,
        /// Target name.
        target: String,
        /// File to check (default: stdin).
        file: Option<PathBuf>,
        #[command(flatten)]
        trust: consumer::TrustArgs,
    },
    /// Stage re-signing roles unchanged (new version and expiry), e.g. after their keys changed.
    ///
    /// Example: notus witness example.com/app targets releases
    Witness {
        /// Collection.
        gun: String,
        /// Roles to re-sign.
        #[arg(required = true)]
        roles: Vec<String>,
    },
    /// Forget a collection in this home (keys are kept); --remote also deletes it on the server.
    ///
    /// Example: notus delete example.com/old --remote
    Delete {
        /// Collection.
        gun: String,
        /// Delete the collection on the server too.
        #[arg(long)]
        remote: bool,
    },
    /// Print a shell completion script.
    ///
    /// Example: notus completions bash > /etc/bash_completion.d/notus
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Manage signing keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Manage delegations (who may sign which targets).
    #[command(subcommand)]
    Delegation(delegation::DelegationCommand),
    /// Verify that a root metadata file is signed by a threshold of its own root keys and print
    /// its dialect, version and expiry.
    ///
    /// Example: notus inspect-root root.json
    InspectRoot {
        /// Path to a root.json (Notary or TUF).
        file: PathBuf,
    },
    /// The TUF conformance client protocol (tuf-conformance CLIENT-CLI.md): init, refresh,
    /// download. Exits 0 on success and 1 on any failure.
    ///
    /// Example: notus tuf-client --metadata-url http://127.0.0.1:8080/metadata/ \
    ///            --metadata-dir meta refresh
    TufClient(tuf_client::TufClientArgs),
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::InspectRoot { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            // The reference time only matters for expiry, which `new` does not check.
            let set = notus_tuf::client::TrustedMetadataSet::new(&bytes, now())
                .with_context(|| format!("{} is not a valid self-signed root", file.display()))?;
            let root = &set.root().value;
            println!(
                "dialect: {}\nversion: {}\nexpires: {}",
                set.dialect(),
                root.version,
                root.expires
            );
            Ok(())
        }
        Command::TufClient(args) => tuf_client::run(args),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(shell, &mut Cli::command(), "notus", &mut std::io::stdout());
            Ok(())
        }
        command => {
            let ctx = Ctx::new(cli.home, cli.server, cli.output)?;
            match command {
                Command::Init(a) => publisher::init(&ctx, a),
                Command::Add(a) => publisher::add(&ctx, a),
                Command::Addhash(a) => publisher::addhash(&ctx, a),
                Command::Remove { gun, target, role } => {
                    publisher::remove(&ctx, &gun, &target, &role)
                }
                Command::Status { gun } => publisher::status(&ctx, &gun),
                Command::Reset { gun, numbers, .. } => publisher::reset(&ctx, &gun, &numbers),
                Command::Publish(a) => publish::publish(&ctx, &a),
                Command::Sign(a) => publish::sign_bundle(&ctx, &a),
                Command::List { gun, trust } => consumer::list(&ctx, &gun, &trust),
                Command::Lookup { gun, target, trust } => {
                    consumer::lookup(&ctx, &gun, &target, &trust)
                }
                Command::Verify {
                    gun,
                    target,
                    file,
                    trust,
                } => consumer::verify(&ctx, &gun, &target, file.as_deref(), &trust),
                Command::Witness { gun, roles } => publisher::witness(&ctx, &gun, &roles),
                Command::Delete { gun, remote } => publisher::delete(&ctx, &gun, remote),
                Command::Key(k) => key::run(&ctx, k),
                Command::Delegation(d) => delegation::run(&ctx, d),
                Command::InspectRoot { .. }
                | Command::TufClient(_)
                | Command::Completions { .. } => unreachable!(),
            }
        }
    }
}

/// The current time, read once per command through the system clock (libc `clock_gettime`, so
/// `faketime` can move it).
pub(crate) fn now() -> notus_tuf::time::Now {
    notus_tuf::time::Now::from(std::time::SystemTime::now())
}

fn main() -> ExitCode {
    // The conformance protocol needs exit status 0 or 1 and nothing else: usage errors (clap's
    // 2) and panics (101) become 1 there.
    let conformance = std::env::args().nth(1).as_deref() == Some("tuf-client");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match (conformance, e.use_stderr()) {
                (_, false) => ExitCode::SUCCESS, // --help, --version
                (true, true) => ExitCode::FAILURE,
                (false, true) => ExitCode::from(2),
            };
        }
    };
    let result = if conformance {
        std::panic::catch_unwind(|| run(cli))
            .unwrap_or_else(|_| Err(anyhow::anyhow!("internal error (panic)")))
    } else {
        run(cli)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let label = if progress::colour() {
                "\x1b[1;31merror:\x1b[0m"
            } else {
                "error:"
            };
            eprintln!("{label} {e:#}");
            ExitCode::FAILURE
        }
    }
}
