//! The real `jcdiag-intake` binary: token creation, case output, start-up refusals.

use jcdiag_testkit::Launch;
use std::process::Command;

use jcdiag_testkit::{Intake, intake_cli, sha256_hex, stdout_of_success, uuid};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_jcdiag-intake");

#[tokio::test]
async fn token_create_and_case_show_through_the_binary() {
    let intake = Intake::start().await;
    let data = intake.data_dir.clone();

    // The bare token, alone on stdout, works against the server; the org is Premium.
    let token = stdout_of_success(&intake_cli(
        &data,
        &["token", "create", "--org", "acme", "--tier", "premium"],
    ));
    let token = token.strip_suffix('\n').unwrap();
    assert!(
        token.starts_with("jcd_") && token.len() == 4 + 43 && !token.contains(char::is_whitespace)
    );

    let bundle = jcdiag_testkit::sample_bundle();
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
    let output = intake_cli(
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
    let issued: Value = serde_json::from_str(&stdout_of_success(&output)).unwrap();
    assert_eq!(issued["org"], "acme");
    assert_eq!(issued["case_id"], case_id);
    assert!(issued["token"].as_str().unwrap().starts_with("jcd_"));
    assert!(issued["expires"].as_str().unwrap().ends_with('Z'));

    let show: Value = serde_json::from_str(&stdout_of_success(&intake_cli(
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
    // The intake's target (Premium, severity 2: two hours after it arrived), and the client's.
    let due = chrono::DateTime::parse_from_rfc3339(show["response_due"].as_str().unwrap()).unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(show["created"].as_str().unwrap()).unwrap();
    assert_eq!(due - created, chrono::TimeDelta::hours(2));
    assert_eq!(show["client_said"]["response_due"], "2030-01-01T12:00:00Z");

    let list: Value = serde_json::from_str(&stdout_of_success(&intake_cli(
        &data,
        &["case", "list", "--json"],
    )))
    .unwrap();
    let first = &list.as_array().unwrap()[0];
    assert_eq!(first["case_id"], case_id);
    assert_eq!(
        (&first["tier"], &first["severity"]),
        (&json!("premium"), &json!(2))
    );
    assert!(first["created"].is_string() && first.get("form").is_none());

    // The human forms mention the essentials.
    let page = stdout_of_success(&intake_cli(&data, &["case", "show", case_id]));
    assert!(
        page.contains(&sha256_hex(&bundle)) && page.contains("Agent stopped reporting"),
        "{page}"
    );
    let table = stdout_of_success(&intake_cli(&data, &["case", "list"]));
    assert!(
        table.starts_with("CASE") && table.contains(case_id),
        "{table}"
    );

    // Mistakes exit 2 with a message saying what to do.
    let output = intake_cli(&data, &["case", "show", "00000099"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("case list"));
    let output = intake_cli(
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
        .run()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("JCDIAG_INTAKE_DATA"));
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let tmp = tempfile::tempdir().unwrap();
    let output = intake_cli(tmp.path(), &["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("loopback") && stderr.contains("--tls-cert"),
        "{stderr}"
    );
}
