//! `jcdiag submit` and `jcdiag outbox` against a real jcdiag-intake over TLS on 127.0.0.1,
//! with certificates made in the test; faults come from a TCP relay between the two.

use jcdiag_testkit::Launch;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::support::proxy::Proxy;
use crate::support::relay::{Fault, Relay};
use crate::support::{Intake, ORG, Sandbox, jcdiag, log_lines};
use serde_json::Value;

/// Chunk size used where the tests need several PATCHes.
const CHUNK: &str = "16KiB";

struct Case {
    sandbox: Sandbox,
    state: std::path::PathBuf,
}

impl Case {
    fn new() -> Case {
        let sandbox = Sandbox::new("linux");
        // Incompressible-ish log text so the bundle spans several chunks.
        let mut text = String::new();
        for i in 0..3000u64 {
            text.push_str(&format!(
                "2026/11/27 10:{:02}:{:02} [{}] [INFO] heartbeat {:016x}\n",
                (i / 60) % 60,
                i % 60,
                1000 + i,
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ));
        }
        sandbox.write("/var/log/jcagent.log", text);
        sandbox.write("/var/log/jcagent.log.1", log_lines(200, "older"));
        let state = sandbox.dir.path().join("state");
        Case { sandbox, state }
    }

    /// `jcdiag submit` with the form, the sandbox and the given endpoint/token/CA.
    fn submit(
        &self,
        endpoint: &str,
        token: &str,
        ca: &Path,
        extra: &[&str],
    ) -> std::process::Command {
        let mut command = jcdiag(self.sandbox.dir.path());
        command
            .args([
                "submit",
                "--json",
                "--silent",
                "--description",
                "Agent stopped checking in",
            ])
            .args([
                "--severity",
                "2",
                "--tier",
                "premium",
                "--email",
                "admin@example.com",
            ])
            .arg("--sysroot")
            .arg(self.sandbox.root())
            .args([
                "--target-os",
                "linux",
                "--endpoint",
                endpoint,
                "--token",
                token,
            ])
            .arg("--ca-file")
            .arg(ca)
            .arg("--state-dir")
            .arg(&self.state)
            .args(["--chunk-size", CHUNK])
            .args(extra);
        command
    }

    fn outbox(&self, args: &[&str]) -> Output {
        jcdiag(self.sandbox.dir.path())
            .arg("outbox")
            .args(args)
            .arg("--json")
            .arg("--state-dir")
            .arg(&self.state)
            .run()
            .unwrap()
    }

    fn outbox_len(&self) -> usize {
        let listed: Value = serde_json::from_slice(&self.outbox(&["list"]).stdout).unwrap();
        listed.as_array().unwrap().len()
    }
}

async fn run(mut command: std::process::Command) -> Output {
    tokio::task::spawn_blocking(move || command.run().unwrap())
        .await
        .unwrap()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Exactly one case with exactly one bundle, whose hash is `sha256`.
fn assert_one_case_with(intake: &Intake, sha256: &str) -> Value {
    let cases = intake.cli_json(&["case", "list"]);
    assert_eq!(cases.as_array().unwrap().len(), 1, "{cases}");
    let id = cases[0]["case_id"].as_str().unwrap().to_string();
    let case = intake.cli_json(&["case", "show", &id]);
    let bundles = case["bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 1, "{case}");
    assert_eq!(bundles[0]["sha256"], sha256);
    case
}

#[tokio::test(flavor = "multi_thread")]
async fn a_case_arrives_whole_and_the_outbox_empties() {
    let intake = Intake::start().await;
    let case = Case::new();
    let token = intake.token(ORG, None);
    let output = run(case.submit(&intake.url, &token, &intake.certs.ca_pem, &[])).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let result = json_of(&output);
    assert_eq!(result["status"], "delivered");
    let shown = assert_one_case_with(&intake, result["sha256"].as_str().unwrap());
    assert_eq!(shown["case_id"], result["case_id"]);
    assert_eq!(shown["form"]["description"], "Agent stopped checking in");
    assert!(result["response_due"].is_string());
    assert_eq!(case.outbox_len(), 0);
    // The token is never kept on disk, nor printed.
    assert!(!String::from_utf8_lossy(&output.stdout).contains(&token));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_connection_resumes_from_the_servers_offset() {
    // First learn how many bytes a clean run sends, then cut that stream at several points.
    let intake = Intake::start().await;
    let clean = Relay::start(intake.addr, Fault::None).await;
    let case = Case::new();
    let token = intake.token(ORG, None);
    let output = run(case.submit(&clean.url(), &token, &intake.certs.ca_pem, &[])).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let total = clean.sent();
    let bundle_size = json_of(&output)["size"].as_u64().unwrap();
    assert!(
        bundle_size > 3 * 16 * 1024,
        "the bundle spans several chunks: {bundle_size}"
    );

    // Bundles differ by a few bytes between runs (timestamps), so "the end" keeps a margin:
    // 600 bytes before the end falls in the last PATCH, 100 in the receipt request.
    for cut in [total / 10, total / 2, total - 600, total - 100] {
        let intake = Intake::start().await;
        let relay = Relay::start(intake.addr, Fault::CutAfter(cut)).await;
        let case = Case::new();
        let token = intake.token(ORG, None);
        let output = run(case.submit(&relay.url(), &token, &intake.certs.ca_pem, &[])).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "cut at {cut}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            relay.tripped.load(std::sync::atomic::Ordering::SeqCst),
            "the cut at {cut} happened: {} bytes sent, {total} in a clean run",
            relay.sent()
        );
        let result = json_of(&output);
        assert_one_case_with(&intake, result["sha256"].as_str().unwrap());
        // Resending at most one chunk (plus TLS and HTTP overhead of the extra connection).
        let overhead = total - bundle_size;
        assert!(
            relay.sent() <= total + 16 * 1024 + overhead / 2,
            "cut at {cut}: sent {} bytes, a clean run sends {total}",
            relay.sent()
        );
        assert_eq!(case.outbox_len(), 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_server_down_the_case_waits_in_the_outbox_until_flushed() {
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let case = Case::new();
    // The CA of a server that does not exist yet: generate the certs first.
    let certs_dir = tempfile::tempdir().unwrap();
    let endpoint = format!("https://{addr}");
    let output = run(case.submit(
        &endpoint,
        "jcd_not_checked_yet",
        &certs_dir.path().join("none.pem"),
        &["--deadline", "2s"],
    ))
    .await;
    assert_eq!(
        output.status.code(),
        Some(2),
        "a missing CA file is a usage error"
    );

    let mut intake = Intake::start_at(addr, |_| {}).await;
    intake.stop().await;
    let token = intake.token(ORG, None);
    let output = run(case.submit(
        &endpoint,
        &token,
        &intake.certs.ca_pem,
        &["--deadline", "2s"],
    ))
    .await;
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(json_of(&output)["status"], "queued");
    assert_eq!(case.outbox_len(), 1);

    intake.resume().await;
    let mut flush = jcdiag(case.sandbox.dir.path());
    flush
        .args([
            "outbox",
            "flush",
            "--json",
            "--endpoint",
            &endpoint,
            "--token",
            &token,
        ])
        .arg("--ca-file")
        .arg(&intake.certs.ca_pem)
        .arg("--state-dir")
        .arg(&case.state);
    let flush = run(flush).await;
    assert_eq!(
        flush.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&flush.stderr)
    );
    let cases = intake.cli_json(&["case", "list"]);
    assert_eq!(cases.as_array().unwrap().len(), 1);
    assert_eq!(case.outbox_len(), 0);
    // Flushing again sends nothing twice.
    let again = case.outbox(&[
        "flush",
        "--endpoint",
        &endpoint,
        "--token",
        &token,
        "--ca-file",
        intake.certs.ca_pem.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(
        intake.cli_json(&["case", "list"]).as_array().unwrap().len(),
        1
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_upload_then_flushed_is_delivered_once_and_intact() {
    let intake = Intake::start().await;
    let relay = Relay::start(intake.addr, Fault::StallAfter(40 * 1024)).await;
    let case = Case::new();
    let token = intake.token(ORG, None);
    let mut child = case
        .submit(&relay.url(), &token, &intake.certs.ca_pem, &[])
        .start()
        .unwrap();
    while !relay.tripped.load(std::sync::atomic::Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    relay.release();
    assert_eq!(case.outbox_len(), 1);
    let flush = case.outbox(&[
        "flush",
        "--endpoint",
        &relay.url(),
        "--token",
        &token,
        "--ca-file",
        intake.certs.ca_pem.to_str().unwrap(),
    ]);
    assert_eq!(
        flush.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&flush.stderr)
    );
    let cases = intake.cli_json(&["case", "list"]);
    assert_eq!(cases.as_array().unwrap().len(), 1);
    let case_id = cases[0]["case_id"].as_str().unwrap();
    let shown = intake.cli_json(&["case", "show", case_id]);
    assert_eq!(shown["bundles"].as_array().unwrap().len(), 1);
    assert_eq!(case.outbox_len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_restart_mid_upload_is_resumed() {
    let mut intake = Intake::start().await;
    let relay = Relay::start(intake.addr, Fault::StallAfter(40 * 1024)).await;
    let case = Case::new();
    let token = intake.token(ORG, None);
    let command = case.submit(
        &relay.url(),
        &token,
        &intake.certs.ca_pem,
        &["--deadline", "60s"],
    );
    let running = tokio::spawn(run(command));
    while !relay.tripped.load(std::sync::atomic::Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    intake.restart().await;
    relay.release();
    let output = running.await.unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_one_case_with(&intake, json_of(&output)["sha256"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_exit_4_and_keep_the_case() {
    let intake = Intake::start_with(|config| config.max_bundle = 2048).await;
    let case = Case::new();
    // Bad token.
    let output = run(case.submit(&intake.url, "jcd_wrong", &intake.certs.ca_pem, &[])).await;
    assert_eq!(
        output.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("queued"));
    assert_eq!(case.outbox_len(), 1);
    // Over the size limit.
    let token = intake.token(ORG, None);
    let output = run(case.submit(&intake.url, &token, &intake.certs.ca_pem, &[])).await;
    assert_eq!(output.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("413"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(case.outbox_len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_case_token_cannot_add_to_another_case() {
    let intake = Intake::start().await;
    let org_token = intake.token(ORG, None);
    let first = Case::new();
    let output = run(first.submit(&intake.url, &org_token, &intake.certs.ca_pem, &[])).await;
    let case_a = json_of(&output)["case_id"].as_str().unwrap().to_string();
    let second = Case::new();
    let output = run(second.submit(&intake.url, &org_token, &intake.certs.ca_pem, &[])).await;
    let case_b = json_of(&output)["case_id"].as_str().unwrap().to_string();
    let token_a = intake.token(ORG, Some(&case_a));
    // Attaching to its own case works.
    let output = run(first.submit(
        &intake.url,
        &token_a,
        &intake.certs.ca_pem,
        &["--case", &case_a],
    ))
    .await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Attaching to another case is refused.
    let output = run(first.submit(
        &intake.url,
        &token_a,
        &intake.certs.ca_pem,
        &["--case", &case_b],
    ))
    .await;
    assert_eq!(output.status.code(), Some(4));
    // Answered like a case that does not exist, so a token cannot probe for case ids.
    assert!(String::from_utf8_lossy(&output.stdout).contains("404"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_names_ca_file_and_plain_http_off_loopback_is_refused() {
    let intake = Intake::start().await;
    let case = Case::new();
    let token = intake.token(ORG, None);
    let other_ca = crate::support::Certs::generate(case.sandbox.dir.path());
    let output =
        run(case.submit(&intake.url, &token, &other_ca.ca_pem, &["--deadline", "5s"])).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("--ca-file"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    let output = run(case.submit(
        "http://support.example.com",
        &token,
        &intake.certs.ca_pem,
        &[],
    ))
    .await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stdout).contains("loopback"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_submit_sends_nothing() {
    let intake = Intake::start().await;
    let case = Case::new();
    let token = intake.token(ORG, None);
    let output = run(case.submit(&intake.url, &token, &intake.certs.ca_pem, &["--dry-run"])).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(json_of(&output)["dry_run"], true);
    assert!(
        intake
            .cli_json(&["case", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(case.outbox_len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_case_goes_through_the_proxy_given_by_flag_or_environment() {
    let intake = Intake::start().await;
    let token = intake.token(ORG, None);
    let target = intake.addr.to_string();

    // --proxy
    let proxy = Proxy::start().await;
    let case = Case::new();
    let output = run(case.submit(
        &intake.url,
        &token,
        &intake.certs.ca_pem,
        &["--proxy", &proxy.url()],
    ))
    .await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!proxy.tunnels().is_empty(), "--proxy was not used");
    assert!(
        proxy.tunnels().iter().all(|t| *t == target),
        "{:?}",
        proxy.tunnels()
    );

    // HTTPS_PROXY, as MDM environments set it
    let proxy = Proxy::start().await;
    let case = Case::new();
    let mut command = case.submit(&intake.url, &token, &intake.certs.ca_pem, &[]);
    command.env("HTTPS_PROXY", proxy.url());
    let output = run(command).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        proxy.tunnels().contains(&target),
        "HTTPS_PROXY was not used"
    );

    // NO_PROXY exempts the endpoint's host
    let proxy = Proxy::start().await;
    let case = Case::new();
    let mut command = case.submit(&intake.url, &token, &intake.certs.ca_pem, &[]);
    command
        .env("HTTPS_PROXY", proxy.url())
        .env("NO_PROXY", "127.0.0.1");
    let output = run(command).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        proxy.tunnels().is_empty(),
        "NO_PROXY was ignored: {:?}",
        proxy.tunnels()
    );

    let cases = intake.cli_json(&["case", "list"]);
    assert_eq!(cases.as_array().unwrap().len(), 3, "{cases}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_proxy_keeps_the_case_in_the_outbox() {
    let intake = Intake::start().await;
    let token = intake.token(ORG, None);
    // A port that was free a moment ago: nothing listens there.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let case = Case::new();
    let output = run(case.submit(
        &intake.url,
        &token,
        &intake.certs.ca_pem,
        &["--proxy", &format!("http://{dead}"), "--deadline", "3s"],
    ))
    .await;
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(json_of(&output)["status"], "queued");
    // `outbox list` says why: the proxy, and where to fix it.
    let listed: Value = serde_json::from_slice(&case.outbox(&["list"]).stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let last_error = listed[0]["last_error"].as_str().unwrap_or_default();
    assert!(last_error.contains("check --proxy"), "{listed}");
}

#[test]
fn a_free_tier_case_is_refused_for_its_tier_before_anything_about_sending() {
    let case = Case::new();
    let out = case.sandbox.dir.path().join("kept");
    std::fs::create_dir(&out).unwrap();
    // No endpoint and no token: the tier rule is what the user must hear about.
    let output = jcdiag(case.sandbox.dir.path())
        .args([
            "submit",
            "--yes",
            "--description",
            "Agent stopped checking in",
        ])
        .args([
            "--severity",
            "2",
            "--tier",
            "free",
            "--email",
            "admin@example.com",
        ])
        .arg("--sysroot")
        .arg(case.sandbox.root())
        .args(["--target-os", "linux"])
        .arg("--state-dir")
        .arg(&case.state)
        .arg("--out")
        .arg(&out)
        .run()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("free accounts cannot open support cases")
            && err.contains("Knowledge Base access only"),
        "{err}"
    );
    assert!(
        !err.contains("token: missing") && !err.contains("endpoint: missing"),
        "{err}"
    );
    // The bundle is kept for a later case.
    assert_eq!(crate::support::files_under(&out).len(), 1, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_case_keeps_its_endpoint_and_the_hint_names_the_token_still_needed() {
    let mut intake = Intake::start().await;
    intake.stop().await;
    let case = Case::new();
    let token = intake.token(ORG, None);
    let output = run(case.submit(
        &intake.url,
        &token,
        &intake.certs.ca_pem,
        &["--deadline", "1s"],
    ))
    .await;
    assert_eq!(output.status.code(), Some(3));
    let error = json_of(&output)["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("run `jcdiag outbox flush --state-dir") && error.contains(" --token …`"),
        "{error}"
    );
    // The endpoint is kept with the case; the token never is.
    let states: Vec<_> = crate::support::files_under(&case.state.join("outbox"))
        .into_iter()
        .filter(|p| p.ends_with("state.json"))
        .collect();
    assert_eq!(states.len(), 1);
    let state = std::fs::read_to_string(&states[0]).unwrap();
    assert!(
        state.contains(&intake.url) && !state.contains(&token),
        "{state}"
    );

    // The hint, as given: only the token, no endpoint, no CA file, no config file.
    intake.resume().await;
    let flush = run({
        let mut flush = jcdiag(case.sandbox.dir.path());
        flush
            .args(["outbox", "flush", "--json", "--token", &token])
            .arg("--state-dir")
            .arg(&case.state);
        flush
    })
    .await;
    assert_eq!(
        flush.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&flush.stdout),
        String::from_utf8_lossy(&flush.stderr)
    );
    assert_eq!(case.outbox_len(), 0);
    assert_eq!(
        intake.cli_json(&["case", "list"]).as_array().unwrap().len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_added_to_a_case_reports_the_cases_target_not_its_own_forms() {
    let mut intake = Intake::start().await;
    let token = intake.token(ORG, None);
    let case = Case::new();
    // A bundle collected earlier with severity 2.
    let collected = case.sandbox.collect(&[
        "--description",
        "More logs",
        "--severity",
        "2",
        "--tier",
        "premium",
        "--email",
        "admin@example.com",
    ]);
    assert!(collected.status.success());
    let bundle = case.sandbox.bundle().path;
    // The case itself is severity 1.
    let mut filed = jcdiag(case.sandbox.dir.path());
    filed
        .args([
            "submit",
            "--json",
            "--yes",
            "--description",
            "All Macs locked out",
        ])
        .args([
            "--severity",
            "1",
            "--tier",
            "premium",
            "--email",
            "admin@example.com",
        ])
        .arg("--sysroot")
        .arg(case.sandbox.root())
        .args([
            "--target-os",
            "linux",
            "--endpoint",
            &intake.url,
            "--token",
            &token,
        ])
        .arg("--ca-file")
        .arg(&intake.certs.ca_pem)
        .arg("--state-dir")
        .arg(&case.state);
    let filed = json_of(&run(filed).await);
    let case_id = filed["case_id"].as_str().unwrap().to_string();
    let due = filed["response_due"].as_str().unwrap().to_string();

    let (url, ca) = (intake.url.clone(), intake.certs.ca_pem.clone());
    let add = |extra: &[&str]| {
        let mut add = jcdiag(case.sandbox.dir.path());
        add.arg("submit")
            .arg(&bundle)
            .args(["--case", &case_id, "--yes", "--endpoint", &url])
            .args(["--token", &token, "--deadline", "1s"])
            .arg("--ca-file")
            .arg(&ca)
            .arg("--state-dir")
            .arg(&case.state)
            .args(extra);
        add
    };
    let output = run(add(&[])).await;
    let said = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{said}");
    // The case's own target (severity 1), as the endpoint gives it: "2026-12-01 10:14".
    let local = format!("{} {}", &due[..10], &due[11..16]);
    assert!(said.contains(&local), "{local}: {said}");
    assert!(!said.contains("severity 2"), "{said}");
    let output = run(add(&["--json"])).await;
    assert_eq!(json_of(&output)["response_due"], due.as_str());

    // Queued before the endpoint ever answered: the target is not known yet.
    intake.stop().await;
    let output = run(add(&[])).await;
    let said = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{said}");
    assert!(said.contains("not known yet"), "{said}");
    assert!(!said.contains("severity 2"), "{said}");
}
