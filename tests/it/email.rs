//! `jcdiag submit --via email`: the whole case as an RFC 5322 message, received by a real SMTP
//! server (aiosmtpd) on 127.0.0.1, plain and over TLS, and read back with Python's `email`.
#![cfg(unix)]

use crate::support::email::{SmtpServer, parse};
use crate::support::{Certs, Sandbox, jcdiag, log_lines};
use jcdiag_testkit::Launch;
use serde_json::Value;

fn case_sandbox() -> Sandbox {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", log_lines(2000, "mail"));
    sandbox
}

fn submit_by_email(sandbox: &Sandbox, extra: &[&str]) -> (Option<i32>, Value, String) {
    let output = jcdiag(sandbox.dir.path())
        .args(["submit", "--via", "email", "--yes", "--json"])
        .args([
            "--description",
            "Agent stopped checking in\nsince the update",
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
        .arg(sandbox.root())
        .args(["--target-os", "linux"])
        .arg("--out")
        .arg(sandbox.out())
        .arg("--state-dir")
        .arg(sandbox.dir.path().join("state"))
        .args(extra)
        .run()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (
        output.status.code(),
        json,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn check_case_message(message: &Value, bundle_sha256: &str) {
    assert_eq!(message["defects"], serde_json::json!([]), "{message}");
    assert_eq!(message["headers"]["To"], "support@jumpcloud.com");
    assert_eq!(message["headers"]["From"], "admin@example.com");
    assert_eq!(
        message["headers"]["Subject"],
        "[Severity 1] Agent stopped checking in"
    );
    let body = message["body"].as_str().unwrap();
    assert!(
        body.contains("JumpCloud support case summary"),
        "the body is summary.txt: {body}"
    );
    let attachments = message["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{message}");
    assert_eq!(attachments[0]["sha256"], bundle_sha256);
    assert!(attachments[0]["name"].as_str().unwrap().ends_with(".zip"));
}

#[test]
fn the_case_is_emailed_through_a_real_smtp_server_with_the_bundle_attached() {
    let sandbox = case_sandbox();
    let server = SmtpServer::start(sandbox.dir.path(), None);
    let smtp = format!("smtp://127.0.0.1:{}", server.port);
    let (code, result, err) = submit_by_email(&sandbox, &["--smtp", &smtp]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(result["status"], "emailed", "{result}");
    let sha256 = result["sha256"].as_str().unwrap();
    let received = server.received();
    assert_eq!(received.len(), 1, "one message arrived");
    check_case_message(&parse(&received[0]), sha256);
    // The .eml kept beside the bundle is the same message, owner-only.
    let eml = std::path::PathBuf::from(result["eml"].as_str().unwrap());
    check_case_message(&parse(&eml), sha256);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&eml).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn smtps_with_a_private_ca_is_checked_and_delivers() {
    let sandbox = case_sandbox();
    let certs = Certs::generate(sandbox.dir.path());
    let server = SmtpServer::start(sandbox.dir.path(), Some((&certs.cert_pem, &certs.key_pem)));
    let smtp = format!("smtps://127.0.0.1:{}", server.port);
    // Without the CA the certificate is not trusted: nothing is sent, the .eml is kept.
    let (code, result, err) = submit_by_email(&sandbox, &["--smtp", &smtp]);
    assert_eq!(code, Some(3), "{result} {err}");
    assert_eq!(result["status"], "drafted");
    assert!(std::path::Path::new(result["eml"].as_str().unwrap()).exists());
    assert!(server.received().is_empty());
    let (code, result, err) = submit_by_email(
        &sandbox,
        &["--smtp", &smtp, "--ca-file", certs.ca_pem.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{result} {err}");
    assert_eq!(result["status"], "emailed");
    assert_eq!(server.received().len(), 1);
}

#[test]
fn without_smtp_a_draft_is_written_and_an_over_limit_bundle_is_not_attached() {
    let sandbox = case_sandbox();
    let (code, result, err) = submit_by_email(&sandbox, &["--attachment-limit", "1KiB"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(result["status"], "drafted");
    let bundle = result["bundle"].as_str().unwrap();
    let message = parse(std::path::Path::new(result["eml"].as_str().unwrap()));
    assert_eq!(message["defects"], serde_json::json!([]));
    assert!(
        message["attachments"].as_array().unwrap().is_empty(),
        "{message}"
    );
    let body = message["body"].as_str().unwrap();
    assert!(
        body.contains("not attached") && body.contains(bundle),
        "{body}"
    );
    assert!(body.contains("jcdiag submit"), "{body}");
    assert!(
        std::path::Path::new(bundle).exists(),
        "the bundle is kept where the body says"
    );
}

#[test]
fn plain_smtp_is_refused_off_loopback_and_passwords_stay_out_of_urls() {
    let sandbox = case_sandbox();
    let (code, result, _) =
        submit_by_email(&sandbox, &["--smtp", "smtp://ada:hunter2@mail.example.com"]);
    assert_eq!(code, Some(2));
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("JCDIAG_SMTP_PASSWORD"),
        "{result}"
    );
    assert!(
        sandbox.out_files().is_empty(),
        "nothing written for a bad --smtp"
    );
}
