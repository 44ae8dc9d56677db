//! Load: 100 concurrent uploads against the real binary, with its peak memory measured
//! from /proc (hence Linux only).
#![cfg(target_os = "linux")]

use jcdiag_testkit::Launch;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use jcdiag_testkit::{Certs, chunk_checksum, sha256_hex, uuid};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_jcdiag-intake");

/// Kills the server process even when an assertion fails.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// 100 clients upload a 5 MiB bundle each, all at once, to the real binary over TLS.
/// Every upload must succeed while the server's peak RSS stays well under 256 MiB,
/// which holds only if bodies are streamed rather than buffered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_uploads_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = Certs::generate(tmp.path());
    let data = tmp.path().join("data");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&certs.cert_pem)
        .arg("--tls-key")
        .arg(&certs.key_pem)
        .arg("--data")
        .arg(&data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .start()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = Server(child);
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("address line")
        .to_owned();
    let output = Command::new(BIN)
        .args(["token", "create", "--org", "acme", "--data"])
        .arg(&data)
        .run()
        .unwrap();
    assert!(output.status.success());
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();

    let bundle = axum::body::Bytes::from(jcdiag_testkit::bundle_of_size(5 << 20));
    let sha = sha256_hex(&bundle);
    let half = bundle.len() / 2;
    let checksums = [
        chunk_checksum(&bundle[..half]),
        chunk_checksum(&bundle[half..]),
    ];
    let http = certs.http_client();
    let started = Instant::now();

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (http, base, token, bundle, sha, checksums) = (
            http.clone(),
            base.clone(),
            token.clone(),
            bundle.clone(),
            sha.clone(),
            checksums.clone(),
        );
        tasks.spawn(async move {
            let body = json!({"case": jcdiag_testkit::case_json(), "bundle": {"sha256": sha, "size": bundle.len()}});
            let created = http
                .post(format!("{base}/v1/cases"))
                .bearer_auth(&token)
                .header("Idempotency-Key", uuid())
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(created.status(), 201);
            let upload_url = created.json::<Value>().await.unwrap()["upload_url"].as_str().unwrap().to_owned();
            let metadata = format!("sha256 {}", base64_of(&sha));
            let creation = http
                .post(upload_url)
                .bearer_auth(&token)
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Length", bundle.len().to_string())
                .header("Upload-Metadata", metadata)
                .send()
                .await
                .unwrap();
            assert_eq!(creation.status(), 201);
            let location = creation.headers()["location"].to_str().unwrap().to_owned();
            let mut receipt = None;
            for (index, (start, end)) in [(0, half), (half, bundle.len())].into_iter().enumerate() {
                let reply = http
                    .patch(&location)
                    .bearer_auth(&token)
                    .header("Tus-Resumable", "1.0.0")
                    .header("Content-Type", "application/offset+octet-stream")
                    .header("Upload-Offset", start.to_string())
                    .header("Upload-Checksum", &checksums[index])
                    .body(bundle.slice(start..end))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(reply.status(), 204);
                receipt = reply.headers().get("jcdiag-receipt").cloned();
            }
            assert!(receipt.is_some(), "the final PATCH carries a receipt");
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
    }
    let elapsed = started.elapsed();

    let status = std::fs::read_to_string(format!("/proc/{}/status", server.0.id())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    eprintln!(
        "100 x 5 MiB uploads in {elapsed:?}; server peak RSS {} MiB",
        peak_kib / 1024
    );
    assert!(
        peak_kib < 128 * 1024,
        "peak RSS {peak_kib} KiB is not well under 256 MiB"
    );
    assert_eq!(
        std::fs::read_dir(data.join("bundles")).unwrap().count(),
        100
    );
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
