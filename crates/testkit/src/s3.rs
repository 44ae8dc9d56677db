//! A real S3-protocol server for tests: `s3s-fs` (crates.io; `.ci/run` installs it), one per
//! test binary, started on first use on a loopback port, with a fresh bucket per
//! [`crate::Intake`]. Found as `$JCDIAG_TEST_S3S_FS` or `s3s-fs` on the PATH.
//!
//! The server runs under a small shell that stops it and removes its folder once the test
//! process is gone (as in [`crate::postgres`]).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use jcdiag_intake::backend::s3::S3Config;

use crate::Launch;

/// The environment switch that runs the intake suite on S3 (with PostgreSQL metadata).
pub const SWITCH: &str = "JCDIAG_TEST_OBJECTS";

pub struct Server {
    pub port: u16,
    root: PathBuf,
    access_key: String,
    secret_key: String,
    _guard: Mutex<Child>,
}

/// True when the suite was asked to keep uploads in S3 (`JCDIAG_TEST_OBJECTS=s3`).
pub fn requested() -> bool {
    std::env::var(SWITCH).is_ok_and(|v| v == "s3")
}

/// The s3s-fs binary, if installed.
pub fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("JCDIAG_TEST_S3S_FS") {
        return Some(PathBuf::from(path));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("s3s-fs"))
        .find(|path| path.is_file())
}

/// Why S3 tests cannot run here, if they cannot.
pub fn unavailable() -> Option<String> {
    if cfg!(not(target_os = "linux")) {
        return Some("S3 tests run on Linux only".into());
    }
    if binary().is_none() {
        return Some(
            "s3s-fs is not installed (cargo install s3s-fs@0.14.1 --locked --features binary; .ci/run installs it)"
                .into(),
        );
    }
    None
}

/// The server of this test binary, started on first use.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(start)
}

fn start() -> Server {
    if let Some(reason) = unavailable() {
        panic!("S3 tests need a server: {reason}");
    }
    let root = tempfile::Builder::new()
        .prefix("jcdiag-s3-")
        .tempdir()
        .unwrap()
        .keep();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (access_key, secret_key) = (crate::uuid(), crate::uuid());
    let script = format!(
        "'{bin}' --host 127.0.0.1 --port {port} --access-key {access_key} --secret-key {secret_key} \
         '{root}' >'{root}.log' 2>&1 & pid=$!; \
         while [ -d /proc/{me} ]; do sleep 1; done; kill $pid; wait $pid; rm -rf '{root}' '{root}.log'",
        bin = binary().unwrap().display(),
        root = root.display(),
        me = std::process::id(),
    );
    crate::remove_at_exit(root.clone());
    crate::remove_at_exit(PathBuf::from(format!("{}.log", root.display())));
    let guard = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .start()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "s3s-fs did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        port,
        root,
        access_key,
        secret_key,
        _guard: Mutex::new(guard),
    }
}

impl Server {
    /// A new, empty bucket and how to reach it.
    pub fn bucket(&self) -> S3Config {
        let bucket = format!("t{}", crate::uuid().replace('-', ""));
        // s3s-fs keeps a bucket as a folder of its root.
        std::fs::create_dir(self.root.join(&bucket)).unwrap();
        S3Config {
            bucket,
            endpoint: format!("http://127.0.0.1:{}", self.port),
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            region: "us-east-1".into(),
        }
    }

    /// The bytes of an object, read from the server's folder (for checks).
    pub fn object(&self, config: &S3Config, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root.join(&config.bucket).join(key)).ok()
    }

    /// Every object under `prefix` in the bucket, as paths relative to it.
    pub fn objects(&self, config: &S3Config, prefix: &str) -> Vec<String> {
        fn walk(dir: &std::path::Path, base: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, base, found);
                } else if let Ok(rel) = path.strip_prefix(base) {
                    found.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        let base = self.root.join(&config.bucket);
        let mut found = Vec::new();
        walk(&base.join(prefix), &base, &mut found);
        found
    }
}
