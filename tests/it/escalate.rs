//! After the case is filed: `jcdiag escalate` against a real jcdiag-intake over TLS, the email
//! draft when the endpoint cannot be reached, and the intake's triage order.

use jcdiag_testkit::Launch;
use std::path::Path;
use std::process::Output;

use crate::support::{Intake, ORG, jcdiag, sample_bundle, sha256_hex, uuid};
use serde_json::{Value, json};

const REASON: &str = "No answer for two days; all Macs still locked out";

/// `jcdiag escalate` against `intake`, kept in the test's temp folder `dir`.
fn escalate(
    dir: &Path,
    intake: &Intake,
    case_id: &str,
    token: &str,
    extra: &[&str],
) -> std::process::Command {
    let mut command = jcdiag(dir);
    command
        .args(["escalate", "--case", case_id, "--reason", REASON])
        .args(["--endpoint", &intake.url, "--token", token])
        .arg("--ca-file")
        .arg(&intake.certs.ca_pem)
        .args(extra);
    command
}

async fn run(mut command: std::process::Command) -> Output {
    tokio::task::spawn_blocking(move || command.run().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_escalation_is_recorded_on_the_case_and_the_next_steps_are_restated() {
    let intake = Intake::start().await;
    let (case_id, _) = intake.open_case(&sample_bundle()).await;
    let case_token = intake.token(ORG, Some(&case_id));
    let dir = tempfile::tempdir().unwrap();

    let output = run(escalate(dir.path(), &intake, &case_id, &case_token, &[])).await;
    let said = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        said.contains(&format!("Escalation of case {case_id} recorded")),
        "{said}"
    );
    // The guideline's three conditions for de-escalation, restated.
    for condition in [
        "acceptable action plan",
        "following proper process",
        "all parties agree",
    ] {
        assert!(said.contains(condition), "{condition}: {said}");
    }

    let shown = intake.cli_json(&["case", "show", &case_id]);
    let escalations = shown["escalations"].as_array().unwrap();
    assert_eq!(escalations.len(), 1, "{shown}");
    assert_eq!(escalations[0]["reason"], REASON);

    // --json is the documented object; a token for another case is refused with exit 4.
    let output = run(escalate(
        dir.path(),
        &intake,
        &case_id,
        &case_token,
        &["--json"],
    ))
    .await;
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result, json!({"case_id": case_id, "status": "recorded"}));
    let (other_case, _) = intake.open_case(&sample_bundle()).await;
    let output = run(escalate(dir.path(), &intake, &other_case, &case_token, &[])).await;
    assert_eq!(
        output.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("refused"));
    let shown = intake.cli_json(&["case", "show", &other_case]);
    assert!(shown["escalations"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_endpoint_down_the_escalation_becomes_an_email_reply_with_escalations_in_copy() {
    let mut intake = Intake::start().await;
    let token = intake.token(ORG, None);
    intake.stop().await;
    let out = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut command = escalate(
        dir.path(),
        &intake,
        "00000042",
        &token,
        &[
            "--json",
            "--deadline",
            "1s",
            "--email",
            "admin@example.com",
            "--partner",
        ],
    );
    command
        .args([
            "--in-reply-to",
            "<last-answer.42@mail.jumpcloud.com>",
            "--out",
        ])
        .arg(out.path());
    let output = run(command).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["status"], "drafted");
    assert_eq!(result["case_id"], "00000042");
    let eml = std::path::PathBuf::from(result["eml"].as_str().unwrap());
    assert!(eml.starts_with(out.path()));
    let text = String::from_utf8(std::fs::read(&eml).unwrap()).unwrap();
    let header = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} header in\n{text}"))
            .to_string()
    };
    assert_eq!(header("To"), "partnersupport@jumpcloud.com");
    assert_eq!(header("Cc"), "escalations@jumpcloud.com");
    assert_eq!(header("From"), "admin@example.com");
    assert!(header("Subject").contains("00000042") && header("Subject").starts_with("Re: "));
    assert_eq!(header("In-Reply-To"), "<last-answer.42@mail.jumpcloud.com>");
    assert_eq!(header("References"), "<last-answer.42@mail.jumpcloud.com>");
    assert!(text.contains(REASON));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&eml).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        crate::support::email::assert_parses_without_defects(&eml);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn case_list_orders_by_the_intakes_targets_not_the_clients() {
    let intake = Intake::start().await;
    let premium = intake.token(ORG, None);
    // An org recorded as Standard, and one with no tier on record (no target).
    let now = chrono::Utc::now();
    intake
        .store()
        .set_org_tier("std", "standard".parse().unwrap(), now)
        .unwrap();
    let standard = intake.token("std", None);
    let legacy = jcdiag_intake::tokens::issue(&*intake.store(), "legacy", None, None, now)
        .unwrap()
        .token;
    let bundle = sample_bundle();
    let mut ids = Vec::new();
    // Filed in this order: Premium severity 3 (4 h), Premium severity 1 (1 h), no tier, Standard
    // severity 3 (next business day). Every case.json claims to be long overdue.
    for (token, severity) in [(&premium, 3), (&premium, 1), (&legacy, 1), (&standard, 3)] {
        let mut case = crate::support::case_json();
        case["response_due"] = json!("1970-01-01T00:00:00Z");
        case["severity"] = json!(severity);
        let body =
            json!({"case": case, "bundle": {"sha256": sha256_hex(&bundle), "size": bundle.len()}});
        let request = intake
            .request(reqwest::Method::POST, "/v1/cases", Some(token))
            .header("Idempotency-Key", uuid())
            .json(&body);
        let reply = intake.send("/v1/cases", request).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        ids.push(reply.body["case_id"].as_str().unwrap().to_string());
    }
    let listed = intake.cli_json(&["case", "list"]);
    let order: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, [&ids[1], &ids[0], &ids[3], &ids[2]]);
    let tiers: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["tier"])
        .collect();
    assert_eq!(
        tiers,
        [
            &json!("premium"),
            &json!("premium"),
            &json!("standard"),
            &Value::Null
        ]
    );
    for case in listed.as_array().unwrap() {
        assert_eq!(case["overdue"], false, "{case}");
        assert_eq!(case["client_said"]["response_due"], "1970-01-01T00:00:00Z");
    }
    let table = std::process::Command::new(crate::support::intake_bin())
        .args(["case", "list", "--data"])
        .arg(&intake.data_dir)
        .run()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    let first_row = table.lines().nth(1).unwrap();
    assert!(
        first_row.starts_with(&ids[1]) && !table.contains("OVERDUE"),
        "{table}"
    );
}

#[test]
fn the_readme_escalation_works_as_written_without_an_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (out, state) = (dir.path().join("out"), dir.path().join("state"));
    std::fs::create_dir(&out).unwrap();
    let escalate = |extra: &[&str]| {
        let output = jcdiag(dir.path())
            .args(["escalate", "--case", "00000042", "--reason", REASON])
            .args(["--token", "jcd_case_token"])
            .arg("--out")
            .arg(&out)
            .arg("--state-dir")
            .arg(&state)
            .args(extra)
            .run()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{said}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        said
    };
    let eml_of = |said: &str| {
        let path = said
            .lines()
            .map(str::trim)
            .find(|l| l.ends_with(".eml"))
            .unwrap_or_else(|| panic!("no draft named in {said}"));
        std::fs::read_to_string(path).unwrap()
    };

    // No address anywhere: a draft the mail client completes.
    let said = escalate(&[]);
    assert!(
        !said.lines().any(|l| l.starts_with("    ")),
        "no stray indent: {said}"
    );
    let text = eml_of(&said);
    assert!(text.contains("X-Unsent: 1\r\n"), "{text}");
    assert!(
        !text.contains("\nFrom:") && !text.starts_with("From:"),
        "{text}"
    );
    assert!(text.contains("Cc: escalations@jumpcloud.com"), "{text}");

    // A case kept in the outbox gives its contact address.
    let sandbox = crate::support::Sandbox::new("linux");
    let collected = sandbox.collect(&["--description", "x", "--email", "ana@example.com"]);
    assert!(collected.status.success());
    let queued = jcdiag(sandbox.dir.path())
        .arg("submit")
        .arg(sandbox.bundle().path)
        .args(["--case", "00000042", "--yes", "--token", "t"])
        .args(["--endpoint", "https://127.0.0.1:9", "--deadline", "1s"])
        .arg("--state-dir")
        .arg(&state)
        .run()
        .unwrap();
    assert_eq!(queued.status.code(), Some(3));
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::create_dir(&out).unwrap();
    let text = eml_of(&escalate(&[]));
    assert!(text.contains("From: ana@example.com\r\n"), "{text}");
    assert!(!text.contains("X-Unsent"), "{text}");
}
