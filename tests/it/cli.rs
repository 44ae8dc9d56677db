//! What users read: help, completions, man page, `sla`. Help texts are snapshots (insta), so a
//! change to any flag shows up in review.

use crate::support::jcdiag;
use jcdiag_testkit::Launch;
use serde_json::Value;

fn stdout_of(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut command = jcdiag(dir.path());
    // Help shows environment values; keep the harness's temp paths out of snapshots (help,
    // completions and the man page write nothing).
    command.env_remove("JCDIAG_CONFIG");
    command.env_remove("JCDIAG_STATE_DIR");
    let output = command.args(args).run().unwrap();
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
        .run()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["response_due"], "2026-12-28T12:00:00-07:00");
}

#[test]
fn no_command_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = jcdiag(dir.path()).run().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// `jcdiag man --out DIR` writes one page per command, and every `jcdiag-xxx(1)` a page
/// refers to is one of them; `jcdiag man CMD…` prints that command's page.
#[test]
fn every_man_page_a_page_refers_to_is_generated() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let output = jcdiag(dir.path())
        .args(["man", "--out"])
        .arg(&out)
        .run()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut pages = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        pages.insert(name, std::fs::read_to_string(&path).unwrap());
    }
    for expected in [
        "jcdiag.1",
        "jcdiag-collect.1",
        "jcdiag-submit.1",
        "jcdiag-outbox.1",
        "jcdiag-outbox-flush.1",
        "jcdiag-man.1",
    ] {
        assert!(
            pages.contains_key(expected),
            "{expected}: {:?}",
            pages.keys()
        );
    }
    // Roff writes a hyphen as `\-`.
    let reference = regex::Regex::new(r"jcdiag(?:\\-[a-z]+)+\(1\)").unwrap();
    let mut referenced = 0;
    for (name, text) in &pages {
        let stem = name.strip_suffix(".1").unwrap();
        let title = text
            .lines()
            .find(|l| l.starts_with(".TH "))
            .unwrap_or_else(|| panic!("{name}: no .TH header"))
            .replace(r"\-", "-");
        assert!(
            title.starts_with(&format!(".TH {stem} 1 ")),
            "{name}: {title}"
        );
        for found in reference.find_iter(text) {
            let target = found.as_str().replace(r"\-", "-").replace("(1)", ".1");
            assert!(pages.contains_key(&target), "{name} refers to {target}");
            referenced += 1;
        }
    }
    assert!(referenced >= 10, "{referenced} references");
    assert_eq!(stdout_of(&["man"]), pages["jcdiag.1"]);
    assert_eq!(stdout_of(&["man", "submit"]), pages["jcdiag-submit.1"]);
    assert_eq!(
        stdout_of(&["man", "outbox", "flush"]),
        pages["jcdiag-outbox-flush.1"]
    );
    let unknown = jcdiag(dir.path()).args(["man", "nonsense"]).run().unwrap();
    assert_eq!(unknown.status.code(), Some(2));

    // Where man(1) is installed, each page renders (`man -l` formats a local file).
    for name in pages.keys() {
        let Ok(shown) = std::process::Command::new("man")
            .arg("-l")
            .arg(out.join(name))
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .run()
        else {
            break;
        };
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(
            shown.status.success() && text.contains("SYNOPSIS"),
            "man -l {name}: {}",
            String::from_utf8_lossy(&shown.stderr)
        );
    }
}
