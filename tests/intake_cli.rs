//! The real `jcdiag-intake` binary: token creation, case output, start-up refusals.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use support::{Intake, sha256_hex, uuid};

const BIN: &str = env!("CARGO_BIN_EXE_jcdiag-intake");

fn intake_cmd(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("JCDIAG_INTAKE_DATA")
        .output()
        .unwrap()
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test]
async fn token_create_and_case_show_through_the_binary() {
    let intake = Intake::start().await;
    let data = intake.data_dir.clone();

    // The bare token, alone on stdout, works against the server.
    let token = stdout(&intake_cmd(&data, &["token", "create", "--org", "acme"]));
    let token = token.strip_suffix('\n').unwrap();
    assert!(
        token.starts_with("jcd_") && token.len() == 4 + 43 && !token.contains(char::is_whitespace)
    );

    let bundle = support::sample_bundle();
    let created = intake.create_case(token, &uuid(), &bundle).await;
    assert_eq!(created.status, 201);
    let case_id = created.body["case_id"].as_str().unwrap();
    let url = intake.start_upload(token, case_id, &bundle).await;
    assert_eq!(intake.patch(token, &url, 0, &bundle).await.status, 204);
    let escalate = intake
        .request(
            reqwest::Method::POST,
            &format!("/v1/cases/{case_id}/escalations"),
            Some(token),
        )
        .json(&json!({"reason": "Still down after 4 hours"}));
    assert_eq!(
        intake
            .send("/v1/cases/{case_id}/escalations", escalate)
            .await
            .status,
        201
    );

    // A case-scoped token with an expiry, as JSON.
    let output = intake_cmd(
        &data,
        &[
            "token",
            "create",
            "--org",
            "acme",
            "--case",
            case_id,
            "--expires",
            "2d",
            "--json",
        ],
    );
    let issued: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(issued["org"], "acme");
    assert_eq!(issued["case_id"], case_id);
    assert!(issued["token"].as_str().unwrap().starts_with("jcd_"));
    assert!(issued["expires"].as_str().unwrap().ends_with('Z'));

    let show: Value = serde_json::from_str(&stdout(&intake_cmd(
        &data,
        &["case", "show", case_id, "--json"],
    )))
    .unwrap();
    assert_eq!(show["case_id"], case_id);
    assert_eq!(show["form"]["description"], "Agent stopped reporting");
    assert_eq!(show["bundles"][0]["sha256"], sha256_hex(&bundle));
    assert_eq!(show["bundles"][0]["size"], bundle.len());
    assert!(show["bundles"][0]["received_at"].is_string());
    assert_eq!(show["escalations"][0]["reason"], "Still down after 4 hours");
    assert!(show["escalations"][0]["at"].is_string());
    assert_eq!(show["response_due"], "2030-01-01T12:00:00Z");

    let list: Value =
        serde_json::from_str(&stdout(&intake_cmd(&data, &["case", "list", "--json"]))).unwrap();
    let first = &list.as_array().unwrap()[0];
    assert_eq!(first["case_id"], case_id);
    assert_eq!(
        (&first["tier"], &first["severity"]),
        (&json!("premium"), &json!(2))
    );
    assert!(first["created"].is_string() && first.get("form").is_none());

    // The human forms mention the essentials.
    let page = stdout(&intake_cmd(&data, &["case", "show", case_id]));
    assert!(
        page.contains(&sha256_hex(&bundle)) && page.contains("Agent stopped reporting"),
        "{page}"
    );
    let table = stdout(&intake_cmd(&data, &["case", "list"]));
    assert!(
        table.starts_with("CASE") && table.contains(case_id),
        "{table}"
    );

    // Mistakes exit 2 with a message saying what to do.
    let output = intake_cmd(&data, &["case", "show", "00000099"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("case list"));
    let output = intake_cmd(
        &data,
        &["token", "create", "--org", "globex", "--case", case_id],
    );
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn data_folder_is_required() {
    let output = Command::new(BIN)
        .args(["case", "list"])
        .env_remove("JCDIAG_INTAKE_DATA")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("JCDIAG_INTAKE_DATA"));
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let tmp = tempfile::tempdir().unwrap();
    let output = intake_cmd(tmp.path(), &["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("loopback") && stderr.contains("--tls-cert"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn case_show_reads_like_a_page_and_tier_and_severity_have_one_type_everywhere() {
    let intake = Intake::start().await;
    let token = intake.token(support::ORG, None);
    let sandbox = support::Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", support::log_lines(20, "x"));
    let state = sandbox.dir.path().join("state");
    let mut submit = support::jcdiag();
    submit
        .args([
            "submit",
            "--json",
            "--yes",
            "--description",
            "Agent stopped reporting",
        ])
        .args([
            "--troubleshooting",
            "Rebooted",
            "--error",
            "E1 timeout",
            "--error",
            "E2 refused",
        ])
        .args(["--severity", "1", "--tier", "premium"])
        .args(["--email", "ada@example.com", "--name", "Ada Admin"])
        .arg("--sysroot")
        .arg(sandbox.root())
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
        .arg(&state);
    let output = tokio::task::spawn_blocking(move || submit.output().unwrap())
        .await
        .unwrap();
    let sent: Value = serde_json::from_slice(&output.stdout).unwrap();
    let case_id = sent["case_id"].as_str().unwrap();
    let sha256 = sent["sha256"].as_str().unwrap();

    let page = stdout(&intake_cmd(&intake.data_dir, &["case", "show", case_id]));
    assert!(!page.contains("null") && !page.contains("{\""), "{page}");
    for line in [
        "Description",
        "Agent stopped reporting",
        "Troubleshooting",
        "E1 timeout",
        "E2 refused",
        "Contact",
        "Ada Admin <ada@example.com>",
    ] {
        assert!(page.contains(line), "{line}: {page}");
    }
    // Fields the form left empty are left out (no org, no screenshots, not a partner).
    for absent in ["Screenshots", "Partner"] {
        assert!(!page.contains(absent), "{absent}: {page}");
    }
    // Where support finds the bundle.
    let stored = intake
        .data_dir
        .join("bundles")
        .join(case_id)
        .join(format!("{sha256}.zip"));
    assert!(stored.is_file());
    assert!(page.contains(&stored.display().to_string()), "{page}");

    // One type for tier and severity: the intake's JSON and `jcdiag sla --json` agree.
    let show = intake.cli_json(&["case", "show", case_id]);
    let list = intake.cli_json(&["case", "list"]);
    let sla = support::jcdiag()
        .args(["sla", "--tier", "premium", "--severity", "1", "--json"])
        .output()
        .unwrap();
    let sla: Value = serde_json::from_slice(&sla.stdout).unwrap();
    for value in [&show, &list[0], &sla] {
        assert_eq!(
            (&value["tier"], &value["severity"]),
            (&json!("premium"), &json!(1)),
            "{value}"
        );
    }
}
