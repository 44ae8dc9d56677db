//! Interop with the official tus implementations from the npm registry: jcdiag's client
//! uploads to `@tus/server` (with `@tus/file-store`), and `tus-js-client` uploads to
//! jcdiag-intake. The Node side lives in `tests/interop/`; its packages are pinned in
//! `tests/interop/package-lock.json` and installed with `npm ci --prefix tests/interop`.

use jcdiag_testkit::Launch;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{Intake, sha256_hex};
use jcdiag_client::deliver::client::{Api, Chunk, Connection, parse_endpoint};
use serde_json::Value;

const CHUNK: usize = 100 * 1024;

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Checks that the Node side can run. Fails when the npm packages are not installed;
/// returns false (the test then passes after saying so loudly) only when there is no
/// `node` to run them with.
fn node_ready() -> bool {
    let modules = interop_dir().join("node_modules");
    for package in ["@tus/server", "@tus/file-store", "tus-js-client"] {
        assert!(
            modules.join(package).join("package.json").is_file(),
            "{} lacks {package}: run `npm ci --prefix tests/interop` first (Node.js >= 20.19)",
            modules.display()
        );
    }
    let version = match Command::new("node").arg("--version").run() {
        Ok(output) if output.status.success() => output.stdout,
        Ok(output) => panic!(
            "`node --version` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => {
            eprintln!(
                "\n!!! SKIPPED: tus interop needs `node` (Node.js >= 20.19) on PATH ({error}) !!!\n"
            );
            return false;
        }
    };
    let version = String::from_utf8_lossy(&version).trim().to_owned();
    let mut parts = version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    assert!(
        (major, minor) >= (20, 19),
        "node {version} is too old for @tus/server: install Node.js >= 20.19"
    );
    true
}

/// `node tests/interop/tus-server.mjs DIR`, killed (and reaped) when dropped. Its stdin
/// is a pipe we hold, so it also exits if this test process dies.
struct TusServer {
    child: Child,
    _stdin: ChildStdin,
    url: String,
}

impl TusServer {
    fn start(dir: &Path) -> TusServer {
        let mut child = Command::new("node")
            .arg(interop_dir().join("tus-server.mjs"))
            .arg(dir)
            .current_dir(interop_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .start()
            .expect("node starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = send.send(lines.next());
            // Keep reading so the server never writes into a closed pipe.
            for _ in lines {}
        });
        let line = match receive.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("tus-server.mjs did not say where it listens: {other:?}");
            }
        };
        let url = line
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("unexpected first line from tus-server.mjs: {line}"))
            .to_owned();
        TusServer {
            child,
            _stdin: stdin,
            url,
        }
    }
}

impl Drop for TusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a Node script to completion (killed after `limit`), capturing its output.
fn run_node(args: &[&std::ffi::OsStr], env: &[(&str, &Path)], limit: Duration) -> Output {
    let mut command = Command::new("node");
    command
        .args(args)
        .current_dir(interop_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.start().expect("node starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "node {args:?} did not finish within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&stderr.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Incompressible, reproducible bytes.
fn payload(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn api_for(url: &str) -> Api {
    Api::new(Connection {
        endpoint: parse_endpoint(url).expect("a loopback http:// endpoint is allowed"),
        token: "interop-token".into(),
        ca_file: None,
        proxy: None,
    })
    .expect("client builds")
}

/// What @tus/file-store holds for an upload: the data file (named by the upload id, the
/// last segment of its URL) and its `<id>.json` record.
fn stored(dir: &Path, location: &str) -> (Vec<u8>, Value) {
    let id = location.rsplit('/').next().unwrap();
    let data = std::fs::read(dir.join(id)).unwrap();
    let record = std::fs::read(dir.join(format!("{id}.json"))).unwrap();
    (data, serde_json::from_slice(&record).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn jcdiag_client_uploads_to_the_official_tus_server() {
    if !node_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = TusServer::start(dir.path());
    // Three whole chunks and a partial one.
    let data = payload(3 * CHUNK + 12_345);
    let sha256 = sha256_hex(&data);
    let size = data.len() as u64;

    // One upload, chunk after chunk.
    let api = api_for(&server.url);
    let location = api
        .create_upload(&server.url, size, &sha256, "payload.bin")
        .await
        .expect("@tus/server creates the upload");
    assert!(
        location.starts_with(&format!("{}/", server.url)),
        "{location}"
    );
    assert_eq!(api.offset(&location).await.unwrap(), 0);
    let mut offset = 0u64;
    let mut patches = 0;
    for chunk in data.chunks(CHUNK) {
        let (next, receipt) = api
            .patch(&location, offset, Chunk::new(chunk.to_vec()))
            .await
            .expect("@tus/server takes the chunk");
        assert_eq!(next, offset + chunk.len() as u64);
        assert_eq!(receipt, None, "@tus/server sends no jcdiag receipt");
        offset = next;
        patches += 1;
    }
    assert_eq!(patches, 4);
    assert_eq!(api.offset(&location).await.unwrap(), size);
    let (bytes, record) = stored(dir.path(), &location);
    assert!(
        bytes == data,
        "the stored upload differs from what was sent"
    );
    // The metadata arrived as jcdiag encoded it.
    assert_eq!(record["size"], size);
    assert_eq!(record["metadata"]["sha256"], sha256.as_str());
    assert_eq!(record["metadata"]["filename"], "payload.bin");

    // A second upload cut after its first chunk, resumed by a new client from HEAD.
    let location = api
        .create_upload(&server.url, size, &sha256, "payload.bin")
        .await
        .unwrap();
    let (first, _) = api
        .patch(&location, 0, Chunk::new(data[..CHUNK].to_vec()))
        .await
        .unwrap();
    assert_eq!(first, CHUNK as u64);
    drop(api);
    assert!(
        stored(dir.path(), &location).0 == data[..CHUNK],
        "the first chunk is not what @tus/server stored"
    );

    let api = api_for(&server.url);
    let mut offset = api.offset(&location).await.expect("HEAD after the cut");
    assert_eq!(offset, CHUNK as u64);
    while offset < size {
        let end = data.len().min(offset as usize + CHUNK);
        let (next, _) = api
            .patch(
                &location,
                offset,
                Chunk::new(data[offset as usize..end].to_vec()),
            )
            .await
            .expect("@tus/server takes the resumed chunk");
        assert_eq!(next, end as u64);
        offset = next;
    }
    assert_eq!(api.offset(&location).await.unwrap(), size);
    let (bytes, _) = stored(dir.path(), &location);
    assert!(
        bytes == data,
        "the resumed upload differs from what was sent"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn tus_js_client_uploads_to_jcdiag_intake() {
    if !node_ready() {
        return;
    }
    let intake = Intake::start().await;
    let token = intake.token(crate::support::ORG, None);
    let bundle = crate::support::sample_bundle();
    let sha256 = sha256_hex(&bundle);
    let created = intake
        .create_case(&token, &crate::support::uuid(), &bundle)
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let case_id = created.body["case_id"].as_str().unwrap().to_owned();
    let upload_url = created.body["upload_url"].as_str().unwrap().to_owned();

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bundle.zip");
    std::fs::write(&file, &bundle).unwrap();
    assert!(bundle.len() > 3 * CHUNK);
    let chunk = CHUNK.to_string();
    let script = interop_dir().join("tus-upload.mjs");
    let args: Vec<std::ffi::OsString> = vec![
        script.into(),
        "--endpoint".into(),
        upload_url.into(),
        "--file".into(),
        file.into(),
        "--sha256".into(),
        sha256.clone().into(),
        "--token".into(),
        token.clone().into(),
        "--chunk-size".into(),
        chunk.into(),
    ];
    let ca = intake.certs.ca_pem.clone();
    // Blocking wait off the runtime's workers: the intake runs on them.
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        run_node(
            &args,
            &[("NODE_EXTRA_CA_CERTS", ca.as_path())],
            Duration::from_secs(120),
        )
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "tus-js-client failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );

    // Every PATCH went through, the last one brought the receipt.
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("no `{name}` line in: {stdout}"))
            .to_owned()
    };
    assert_eq!(field("patches "), bundle.len().div_ceil(CHUNK).to_string());
    let location = field("done ");
    assert!(
        location.starts_with(&format!("{}/v1/uploads/", intake.url)),
        "{location}"
    );
    let receipt = intake.receipt(&token, &location).await;
    assert_eq!(receipt.status, 200, "{:?}", receipt.body);
    assert_eq!(receipt.body["receipt_id"], field("receipt ").as_str());
    assert_eq!(receipt.body["sha256"], sha256.as_str());

    // The intake's own command shows the case with the one bundle.
    let show = std::process::Command::new(crate::support::intake_bin())
        .args(["case", "show", &case_id, "--json", "--data"])
        .arg(&intake.data_dir)
        .env_remove("JCDIAG_INTAKE_DATA")
        .run()
        .unwrap();
    assert!(
        show.status.success(),
        "case show failed: {}",
        String::from_utf8_lossy(&show.stderr)
    );
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    let bundles = show["bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 1, "{show}");
    assert_eq!(bundles[0]["sha256"], sha256.as_str());
    assert_eq!(bundles[0]["size"], bundle.len());
    let kept = intake
        .data_dir
        .join(format!("bundles/{case_id}/{sha256}.zip"));
    assert!(std::fs::read(kept).unwrap() == bundle);
    assert!(
        intake.files_in("uploads").is_empty(),
        "{:?}",
        intake.files_in("uploads")
    );
}
