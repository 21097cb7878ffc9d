//! The Notus service for the CLI's tests: embedded adapters in a temporary directory, served over
//! HTTP on a free 127.0.0.1 port from a thread of this process.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use notus_service::ops::Config;
use notus_service::serve::serve;
use notus_service::settings::embedded_service;

/// The service on a free loopback port, stopped when dropped.
pub struct Server {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _data: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(Config::default())
    }

    /// The embedded service with `config`.
    pub fn start_with(config: Config) -> Server {
        let data = tempfile::tempdir().unwrap();
        let svc = embedded_service(data.path(), config).unwrap();
        Self::serve(svc, data)
    }

    /// The service on S3, DynamoDB and KMS at the emulator (`AWS_ENDPOINT_URL`), with resources
    /// of its own; `None` (skip) without an emulator unless `NOTUS_REQUIRE_AWS=1`.
    pub fn start_aws(tag: &str) -> Option<Server> {
        if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
            assert!(
                std::env::var("NOTUS_REQUIRE_AWS").as_deref() != Ok("1"),
                "AWS_ENDPOINT_URL is not set: start the emulator (localstack/start)"
            );
            eprintln!("SKIPPED: no AWS endpoint");
            return None;
        }
        let name = format!("notus-cli-{tag}-{}", std::process::id());
        let args = notus_service::settings::AwsArgs {
            bucket: name.clone(),
            table: name.clone(),
            kms_key: format!("alias/{name}"),
            kms_key_tag: None,
            create_missing: true,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let svc = rt
            .block_on(notus_service::settings::aws_service(
                &args,
                Config::default(),
            ))
            .unwrap();
        Some(Self::serve(svc, tempfile::tempdir().unwrap()))
    }

    fn serve(svc: notus_service::Service, data: tempfile::TempDir) -> Server {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", std_listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                serve(listener, svc, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        Server {
            url,
            stop: Some(tx),
            thread: Some(thread),
            _data: data,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub const PASS: &str = "correct horse battery";

/// One user's `notus` with its own home.
pub struct User {
    pub home: PathBuf,
    pub server: String,
    pub env: Vec<(String, String)>,
}

pub struct Run {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            ok: o.status.success(),
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl User {
    pub fn new(dir: &Path, name: &str, server: &Server) -> User {
        User {
            home: dir.join(name),
            server: server.url.clone(),
            env: vec![("NOTUS_PASSPHRASE".into(), PASS.into())],
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let mut c = Command::new(env!("CARGO_BIN_EXE_notus"));
        c.arg("--home")
            .arg(&self.home)
            .args(["--server", &self.server])
            .args(args)
            .env_remove("NOTUS_HOME")
            .env_remove("NOTUS_SERVER");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.output().expect("run notus").into()
    }

    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert!(r.ok, "notus {args:?} failed:\n{}{}", r.stdout, r.stderr);
        r
    }

    pub fn fails(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code,
            Some(1),
            "notus {args:?} should fail:\n{}{}",
            r.stdout,
            r.stderr
        );
        r
    }

    pub fn root_file(&self, gun: &str) -> PathBuf {
        self.home.join("tuf").join(gun).join("metadata/root.json")
    }
}

/// Write a file in `dir`.
pub fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// A SoftHSM2 configuration in `dir` with one initialised token per label (user PIN 123456),
/// and the environment that points `notus` at it; `None` (skip) without SoftHSM2 unless CI.
pub fn softhsm(dir: &Path, labels: &[&str]) -> Option<Vec<(String, String)>> {
    let module = Path::new("/usr/lib/softhsm/libsofthsm2.so");
    if !module.exists() {
        if std::env::var("NOTUS_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("SoftHSM2 is not installed (apt-get install softhsm2)");
        }
        eprintln!("SKIPPED: SoftHSM2 not installed");
        return None;
    }
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = write(
        dir,
        "softhsm2.conf",
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        )
        .as_bytes(),
    );
    for label in labels {
        let st = Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", label])
            .args(["--pin", "123456", "--so-pin", "12345678"])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    }
    Some(vec![
        ("SOFTHSM2_CONF".into(), conf.display().to_string()),
        ("NOTUS_PKCS11_MODULE".into(), module.display().to_string()),
        ("NOTUS_PKCS11_PIN".into(), "123456".into()),
    ])
}

/// Copy a directory tree (a second machine with the same home).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
