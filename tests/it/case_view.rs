//! What support reads of a case jcdiag filed: `jcdiag-intake case show` and `case list` after a
//! real `jcdiag submit`, and the one JSON type of tier and severity on both sides.

use jcdiag_testkit::Launch;
use serde_json::{Value, json};

use crate::support::{Intake, intake_cli, stdout_of_success};

#[tokio::test(flavor = "multi_thread")]
async fn case_show_reads_like_a_page_and_tier_and_severity_have_one_type_everywhere() {
    let intake = Intake::start().await;
    let token = intake.token(crate::support::ORG, None);
    let sandbox = crate::support::Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", crate::support::log_lines(20, "x"));
    let state = sandbox.dir.path().join("state");
    let mut submit = crate::support::jcdiag(sandbox.dir.path());
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
    let output = tokio::task::spawn_blocking(move || submit.run().unwrap())
        .await
        .unwrap();
    let sent: Value = serde_json::from_slice(&output.stdout).unwrap();
    let case_id = sent["case_id"].as_str().unwrap();
    let sha256 = sent["sha256"].as_str().unwrap();

    let page = stdout_of_success(&intake_cli(&intake.data_dir, &["case", "show", case_id]));
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
    let sla = crate::support::jcdiag(sandbox.dir.path())
        .args(["sla", "--tier", "premium", "--severity", "1", "--json"])
        .run()
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
