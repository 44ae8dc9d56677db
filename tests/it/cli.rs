//! What users read: help, completions, man page, `sla`. Help texts are snapshots (insta), so a
//! change to any flag shows up in review.

use crate::support::jcdiag;
use serde_json::Value;

fn stdout_of(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut command = jcdiag(dir.path());
    // Help shows environment values; keep the harness's temp paths out of snapshots (help,
    // completions and the man page write nothing).
    command.env_remove("JCDIAG_CONFIG");
    command.env_remove("JCDIAG_STATE_DIR");
    let output = command.args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn help_texts() {
    insta::assert_snapshot!("help", stdout_of(&["--help"]));
    insta::assert_snapshot!("collect_help", stdout_of(&["collect", "--help"]));
    insta::assert_snapshot!("submit_help", stdout_of(&["submit", "--help"]));
    insta::assert_snapshot!("record_help", stdout_of(&["record", "--help"]));
}

#[test]
fn completions_and_man_page_come_from_the_same_definition() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        assert!(
            script.contains("sysroot") && script.contains("collect"),
            "{shell}"
        );
    }
    let man = stdout_of(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH jcdiag"),
        "{}",
        &man[..80]
    );
    assert!(man.contains("collect"));
}

#[test]
fn sla_prints_the_target_and_channels() {
    let out = stdout_of(&[
        "sla",
        "--tier",
        "standard",
        "--severity",
        "1",
        "--at",
        "2026-11-27T16:30:00-07:00",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["response_due"], "2026-11-30T12:30:00-07:00");
    assert_eq!(v["tier"], "standard");
    assert!(v["channels"].to_string().contains("support@jumpcloud.com"));
    let premium = stdout_of(&[
        "sla",
        "--tier",
        "premium",
        "--severity",
        "3",
        "--at",
        "2026-11-28T10:00:00Z",
    ]);
    assert!(
        premium.contains("Premium severity 3") && premium.contains("+1 720 240 5005"),
        "{premium}"
    );
    let partner = stdout_of(&[
        "sla",
        "--tier",
        "standard",
        "--severity",
        "2",
        "--partner",
        "--json",
    ]);
    assert!(partner.contains("partnersupport@jumpcloud.com"));
}

#[test]
fn a_holiday_from_the_config_file_moves_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "holidays = [\"2026-12-25\"]\n").unwrap();
    let out = jcdiag(dir.path())
        .env("JCDIAG_CONFIG", &config)
        .args([
            "sla",
            "--tier",
            "standard",
            "--severity",
            "1",
            "--at",
            "2026-12-24T16:00:00-07:00",
            "--json",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["response_due"], "2026-12-28T12:00:00-07:00");
}

#[test]
fn no_command_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = jcdiag(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}
