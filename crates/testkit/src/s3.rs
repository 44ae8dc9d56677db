//! A real S3-protocol server for tests, with a fresh bucket per [`crate::Intake`].
//!
//! By default `s3s-fs` (crates.io; `.ci/run` installs it), one per test binary, started on first
//! use on a loopback port, found as `$JCDIAG_TEST_S3S_FS` or `s3s-fs` on the PATH; it runs under
//! a small shell that stops it and removes its folder once the test process is gone (as in
//! [`crate::postgres`]).
//!
//! With `JCDIAG_TEST_S3_ENDPOINT=http://127.0.0.1:PORT` (and `JCDIAG_TEST_S3_ACCESS_KEY`,
//! `JCDIAG_TEST_S3_SECRET_KEY`, optionally `JCDIAG_TEST_S3_REGION`) the suite uses a server
//! started elsewhere instead, such as the Garage of `benches/garage.sh`; its key must be
//! allowed to create buckets. Buckets are made and objects read through the S3 API in both
//! cases, so nothing here depends on how a server stores them.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use jcdiag_intake::backend::s3::S3Config;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;

use crate::Launch;

/// The environment switch that runs the intake suite on S3 (with PostgreSQL metadata).
pub const SWITCH: &str = "JCDIAG_TEST_OBJECTS";
/// An S3 server started elsewhere (see the module's docs).
const EXTERNAL: &str = "JCDIAG_TEST_S3_ENDPOINT";

pub struct Server {
    endpoint: String,
    access_key: String,
    secret_key: String,
    region: String,
    /// The s3s-fs process this test binary started (none for an external server).
    _guard: Option<Mutex<Child>>,
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
    if std::env::var_os(EXTERNAL).is_some() {
        return None;
    }
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
    SERVER.get_or_init(|| match std::env::var(EXTERNAL) {
        Ok(endpoint) => external(endpoint),
        Err(_) => start(),
    })
}

fn external(endpoint: String) -> Server {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{EXTERNAL} is set: set {name} too"))
    };
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "{EXTERNAL} must be http://127.0.0.1:PORT: tests talk to loopback only"
    );
    Server {
        endpoint,
        access_key: var("JCDIAG_TEST_S3_ACCESS_KEY"),
        secret_key: var("JCDIAG_TEST_S3_SECRET_KEY"),
        region: std::env::var("JCDIAG_TEST_S3_REGION").unwrap_or_else(|_| "us-east-1".into()),
        _guard: None,
    }
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
        endpoint: format!("http://127.0.0.1:{port}"),
        access_key,
        secret_key,
        region: "us-east-1".into(),
        _guard: Some(Mutex::new(guard)),
    }
}

/// Runs one object-store call on a thread of its own, so callers inside and outside a tokio
/// runtime can both wait for it.
fn wait<T: Send>(work: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(work)
            })
            .join()
            .unwrap()
    })
}

fn store(config: &S3Config) -> AmazonS3 {
    AmazonS3Builder::new()
        .with_bucket_name(&config.bucket)
        .with_endpoint(&config.endpoint)
        .with_region(&config.region)
        .with_access_key_id(&config.access_key)
        .with_secret_access_key(&config.secret_key)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .build()
        .unwrap()
}

impl Server {
    /// A new, empty bucket and how to reach it.
    pub fn bucket(&self) -> S3Config {
        let config = S3Config {
            bucket: format!("t{}", crate::uuid().replace('-', "")),
            endpoint: self.endpoint.clone(),
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            region: self.region.clone(),
        };
        // CreateBucket is a signed PUT of the bucket's own path; object_store signs it (as a
        // presigned URL) but has no call for it.
        let url = wait(store(&config).signed_url(
            reqwest::Method::PUT,
            &ObjectPath::from(""),
            Duration::from_secs(60),
        ))
        .unwrap();
        let host = url.host_str().unwrap().to_owned() + &format!(":{}", url.port().unwrap());
        let target = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        let mut stream = std::net::TcpStream::connect(&host).unwrap();
        write!(
            stream,
            "PUT {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status = answer.lines().next().unwrap_or_default();
        assert!(
            status.contains(" 200 "),
            "creating bucket {} failed: {answer}",
            config.bucket
        );
        config
    }

    /// The bytes of an object (for checks), or `None` when it does not exist.
    pub fn object(&self, config: &S3Config, key: &str) -> Option<Vec<u8>> {
        wait(async {
            match store(config).get(&ObjectPath::from(key)).await {
                Ok(found) => Some(found.bytes().await.unwrap().to_vec()),
                Err(object_store::Error::NotFound { .. }) => None,
                Err(other) => panic!("reading {key}: {other}"),
            }
        })
    }

    /// Every object under `prefix` in the bucket, as keys.
    pub fn objects(&self, config: &S3Config, prefix: &str) -> Vec<String> {
        wait(async {
            let store = store(config);
            let listed: Vec<_> = store
                .list(Some(&ObjectPath::from(prefix)))
                .try_collect()
                .await
                .unwrap();
            listed
                .into_iter()
                .map(|meta| meta.location.to_string())
                .collect()
        })
    }
}
