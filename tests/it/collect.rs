//! `jcdiag collect` run as a process against system layouts built in temp folders.

use crate::support::{Sandbox, jcdiag, log_lines};
use jcdiag_testkit::Launch;
use serde_json::Value;

/// The main log of each layout, as the profile names it.
fn main_log(os: &str) -> &'static str {
    match os {
        "windows" => r"C:\Windows\Temp\jcagent.log",
        _ => "/var/log/jcagent.log",
    }
}

fn entry_of(os: &str, system_path: &str) -> String {
    let rest = system_path
        .trim_start_matches("C:\\")
        .trim_start_matches('/');
    let _ = os;
    format!("logs/{}", rest.replace('\\', "/"))
}

fn assert_ok(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "jcdiag failed ({:?}):\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn rotated_logs_are_found_for_every_layout() {
    for os in ["linux", "macos", "windows"] {
        let sandbox = Sandbox::new(os);
        let log = main_log(os);
        sandbox.write(log, log_lines(10, "main"));
        for suffix in [".1", ".2", ".9", ".prev"] {
            sandbox.write(&format!("{log}{suffix}"), log_lines(5, suffix));
        }
        let other = match os {
            "windows" => r"C:\Windows\Temp\jcUpdate.log",
            "macos" => "/var/log/jctray.log",
            _ => "/opt/jc/jcagentInstall.log",
        };
        sandbox.write(other, "install ok\n");
        let output = sandbox.collect(&["--description", "rotation"]);
        assert_ok(&output);
        let bundle = sandbox.bundle();
        for suffix in ["", ".1", ".2", ".9", ".prev"] {
            let name = entry_of(os, &format!("{log}{suffix}"));
            assert!(
                bundle.entries.contains_key(&name),
                "{os}: {name} missing from {:?}",
                bundle.entries.keys()
            );
        }
        assert!(
            bundle.entries.contains_key(&entry_of(os, other)),
            "{os}: {other}"
        );
        assert!(bundle.text(&entry_of(os, log)).contains("main line 9"));
        let not_found = bundle.manifest()["not_found"].to_string();
        assert!(
            not_found.contains(&format!("{log}.3").replace('\\', "\\\\")),
            "{os}: {not_found}"
        );
    }
}

#[test]
fn logs_are_ordered_newest_first_by_modification_time_not_number() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", log_lines(3, "current"));
    sandbox.write("/var/log/jcagent.log.1", log_lines(3, "oldest"));
    sandbox.write("/var/log/jcagent.log.2", log_lines(3, "middle"));
    sandbox.age("/var/log/jcagent.log.1", 3000);
    sandbox.age("/var/log/jcagent.log.2", 2000);
    // A total cap that fits two files keeps the two newest.
    let one_file = log_lines(3, "current").len();
    let output = sandbox.collect(&["--max-total-log-size", &(2 * one_file + 10).to_string()]);
    assert_ok(&output);
    let bundle = sandbox.bundle();
    assert!(bundle.entries.contains_key("logs/var/log/jcagent.log"));
    assert!(bundle.entries.contains_key("logs/var/log/jcagent.log.2"));
    assert!(!bundle.entries.contains_key("logs/var/log/jcagent.log.1"));
    assert!(
        bundle
            .skip_reason("/var/log/jcagent.log.1")
            .unwrap()
            .contains("total log cap")
    );
}

#[test]
fn the_per_file_cap_keeps_the_newest_whole_lines() {
    let sandbox = Sandbox::new("linux");
    let text = log_lines(2000, "big");
    sandbox.write("/var/log/jcagent.log", &text);
    let output = sandbox.collect(&["--max-log-size", "4KiB"]);
    assert_ok(&output);
    let bundle = sandbox.bundle();
    let kept = bundle.text("logs/var/log/jcagent.log");
    assert!(
        kept.len() <= 4096 && kept.len() > 3000,
        "kept {} bytes",
        kept.len()
    );
    assert!(text.ends_with(&kept), "the kept text is the file's tail");
    assert!(
        kept.starts_with("2021/05/07"),
        "starts at a line boundary: {:?}",
        &kept[..40]
    );
    let entry = bundle.manifest()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "logs/var/log/jcagent.log")
        .unwrap()
        .clone();
    assert_eq!(entry["truncated"], true);
    assert_eq!(entry["size_before"], text.len() as u64);
    assert!(
        entry["truncated_reason"]
            .as_str()
            .unwrap()
            .contains("newest")
    );
}

#[test]
fn since_drops_older_entries_and_keeps_newer_ones() {
    let sandbox = Sandbox::new("linux");
    let now = chrono::Local::now().naive_local();
    let line = |ago_minutes: i64, what: &str| {
        let at = now - chrono::Duration::minutes(ago_minutes);
        format!("{} [1] [INFO] {what}\n", at.format("%Y/%m/%d %H:%M:%S"))
    };
    let text = [
        line(300, "five hours ago"),
        line(90, "ninety minutes ago"),
        line(30, "thirty minutes ago"),
        "   continuation of the thirty-minute entry\n".to_string(),
        line(1, "a minute ago"),
    ]
    .concat();
    sandbox.write("/var/log/jcagent.log", &text);
    sandbox.write("/var/log/jcagent.log.1", line(3000, "old rotated file"));
    sandbox.age("/var/log/jcagent.log.1", 3 * 86_400);
    let output = sandbox.collect(&["--since", "1h"]);
    assert_ok(&output);
    let bundle = sandbox.bundle();
    let kept = bundle.text("logs/var/log/jcagent.log");
    assert!(
        !kept.contains("five hours ago") && !kept.contains("ninety minutes ago"),
        "{kept}"
    );
    assert!(kept.starts_with(&line(30, "thirty minutes ago")), "{kept}");
    assert!(kept.contains("continuation") && kept.contains("a minute ago"));
    assert!(
        bundle
            .skip_reason("/var/log/jcagent.log.1")
            .unwrap()
            .contains("--since")
    );
}

#[test]
fn secrets_of_the_agent_config_never_reach_the_bundle() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", log_lines(20, "x"));
    let system_key = "5f0c1a2b3c4d5e6f7a8b9c0d";
    sandbox.write(
        "/opt/jc/jcagent.conf",
        format!(
            r#"{{"agentServerHost":"agent.eu.jumpcloud.com","systemKey":"{system_key}","systemToken":"tok-7fhQ2kd9Lw0pZx","certuuid":"cert-9a8b7c6d5e4f3210","userMgmt":{{"local_ldap_bind_pwd":"ldap-Sup3rS3cret!"}}}}"#
        ),
    );
    sandbox.write(
        "/opt/jc/agentBootstrap.json",
        r#"{"connectKey":"ck-0a1b2c3d4e5f6a7b"}"#,
    );
    sandbox.write(
        "/opt/jc/client.key",
        "-----BEGIN PRIVATE KEY-----\nkey-material-AAAA\n-----END PRIVATE KEY-----\n",
    );
    sandbox.write("/var/log/jumpcloud/client.key", "planted-key-material-BBBB");
    sandbox.write("/var/log/jumpcloud/agent-extra.log", "extra log line\n");
    sandbox.write("/opt/jc/version.txt", "0.154.0\n");
    let output = sandbox.collect(&[]);
    assert_ok(&output);
    let bundle = sandbox.bundle();
    for secret in [
        "tok-7fhQ2kd9Lw0pZx",
        "cert-9a8b7c6d5e4f3210",
        "ldap-Sup3rS3cret!",
        "ck-0a1b2c3d4e5f6a7b",
        "key-material-AAAA",
        "planted-key-material-BBBB",
    ] {
        assert!(!bundle.contains(secret.as_bytes()), "{secret} leaked");
    }
    assert!(
        !bundle
            .entries
            .keys()
            .any(|name| name.ends_with("client.key"))
    );
    assert!(
        bundle
            .entries
            .contains_key("logs/var/log/jumpcloud/agent-extra.log")
    );
    assert!(
        bundle
            .skip_reason("/var/log/jumpcloud/client.key")
            .unwrap()
            .contains("never collected")
    );
    let config: Value = bundle.json("agent/jcagent.conf");
    assert_eq!(
        config["systemKey"], system_key,
        "systemKey is an identifier support needs"
    );
    let system = bundle.json("system.json");
    assert_eq!(system["agent"]["system_key"], system_key);
    assert_eq!(system["agent"]["region"], "EU");
    assert_eq!(system["agent"]["version"], "0.154.0");
    assert!(
        bundle.manifest()["redactions"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>()
            >= 3
    );
}

#[test]
fn a_config_that_is_not_json_is_left_out_not_sent_raw() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", "x\n");
    sandbox.write(
        "/opt/jc/jcagent.conf",
        "systemToken: not-json-token-1234567",
    );
    let output = sandbox.collect(&[]);
    assert_ok(&output);
    let bundle = sandbox.bundle();
    assert!(!bundle.contains(b"not-json-token-1234567"));
    assert!(
        bundle
            .skip_reason("/opt/jc/jcagent.conf")
            .unwrap()
            .contains("not valid JSON")
    );
}

#[test]
fn manifest_json_is_scrubbed_and_keeps_its_counts() {
    // A secret in the --sysroot path is written into manifest.json as well as system.json.
    let sandbox = Sandbox::new("linux");
    let root = sandbox.dir.path().join("token=sysroot-s3cr3t-1234");
    let log = root.join("var/log/jcagent.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, "2026/01/02 03:04:05 [INFO] password=hunter2-abc\n").unwrap();
    let output = jcdiag(sandbox.dir.path())
        .arg("collect")
        .arg("--sysroot")
        .arg(&root)
        .args(["--target-os", "linux", "--out"])
        .arg(sandbox.out())
        .run()
        .unwrap();
    assert_ok(&output);
    let bundle = sandbox.bundle();
    assert!(!bundle.contains(b"sysroot-s3cr3t-1234"), "the path leaked");
    assert!(!bundle.contains(b"hunter2-abc"));
    let manifest = bundle.manifest();
    assert!(
        manifest["sysroot"]
            .as_str()
            .unwrap()
            .ends_with("token=[REDACTED:token]"),
        "{}",
        manifest["sysroot"]
    );
    // Counts sit under kind names such as "password": they stay numbers.
    assert_eq!(manifest["redactions"]["password"], 1);
    let log_entry = manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "logs/var/log/jcagent.log")
        .unwrap();
    assert_eq!(log_entry["redactions"]["password"], 1);
}

#[test]
fn no_agent_log_still_gives_a_bundle_that_says_so() {
    let sandbox = Sandbox::new("linux");
    let output = sandbox.collect(&["--description", "agent never installed", "--json"]);
    assert_ok(&output);
    let result: Value = serde_json::from_slice(&output.stdout).expect("one JSON object on stdout");
    assert!(result["warnings"].to_string().contains("no agent log"));
    let bundle = sandbox.bundle();
    let manifest = bundle.manifest();
    assert_eq!(manifest["partial"], true);
    assert!(
        manifest["missing"]
            .to_string()
            .contains("/var/log/jcagent.log")
    );
    assert!(
        manifest["not_found"]
            .to_string()
            .contains("/var/log/jcagent.log")
    );
    assert!(bundle.text("summary.txt").contains("MISSING"));
}

#[test]
fn every_manifest_hash_matches_its_entry_and_the_json_result_matches_the_file() {
    use sha2::{Digest, Sha256};
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", log_lines(500, "h"));
    sandbox.write("/opt/jc/version.txt", "0.154.0\n");
    let output = sandbox.collect(&[
        "--json",
        "--description",
        "hashes",
        "--severity",
        "2",
        "--tier",
        "premium",
    ]);
    assert_ok(&output);
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    let bundle = sandbox.bundle();
    assert_eq!(
        result["bundle"].as_str().unwrap(),
        bundle.path.to_str().unwrap()
    );
    assert_eq!(result["size"], bundle.raw.len() as u64);
    assert_eq!(result["sha256"], hex::encode(Sha256::digest(&bundle.raw)));
    let manifest = bundle.manifest();
    let listed = manifest["entries"].as_array().unwrap();
    assert_eq!(
        listed.len() + 1,
        bundle.entries.len(),
        "every entry but the manifest is listed"
    );
    for entry in listed {
        let name = entry["name"].as_str().unwrap();
        let bytes = &bundle.entries[name];
        assert_eq!(
            entry["sha256"],
            hex::encode(Sha256::digest(bytes)),
            "{name}"
        );
        assert_eq!(entry["size_after"], bytes.len() as u64, "{name}");
    }
    for fixed in ["case.json", "system.json", "summary.txt", "manifest.json"] {
        assert!(bundle.entries.contains_key(fixed), "{fixed}");
    }
    let case = bundle.json("case.json");
    assert_eq!(case["schema"], "jcdiag.case/1");
    assert_eq!(case["severity"]["level"], 2);
    assert!(case["response_due"].is_string());
    let name = bundle
        .path
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let stamp = name.trim_end_matches(".zip").rsplit('-').next().unwrap();
    assert!(
        name.starts_with("jcdiag-") && name.ends_with(".zip"),
        "{name}"
    );
    assert!(
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").is_ok(),
        "{name}"
    );
}

#[test]
fn a_screenshot_that_is_not_an_image_is_refused_and_nothing_is_written() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", "x\n");
    let fake = sandbox.dir.path().join("screen.png");
    std::fs::write(&fake, "this is not a png").unwrap();
    let output = sandbox.collect(&["--screenshot", fake.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("screen.png") && stderr.contains("not an image"),
        "{stderr}"
    );
    assert!(sandbox.out_files().is_empty(), "{:?}", sandbox.out_files());

    let missing = sandbox.dir.path().join("missing.png");
    let output = sandbox.collect(&["--screenshot", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.png"));
}

#[test]
fn screenshots_are_recognised_by_content_and_stored_once() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", "x\n");
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-fake-but-png-magic";
    let first = sandbox.dir.path().join("login-error");
    let copy = sandbox.dir.path().join("login-error-copy.jpg");
    std::fs::write(&first, png).unwrap();
    std::fs::write(&copy, png).unwrap();
    let output = sandbox.collect(&[
        "--screenshot",
        first.to_str().unwrap(),
        "--screenshot",
        copy.to_str().unwrap(),
    ]);
    assert_ok(&output);
    let bundle = sandbox.bundle();
    let shots: Vec<&String> = bundle
        .entries
        .keys()
        .filter(|n| n.starts_with("screenshots/"))
        .collect();
    assert_eq!(shots, ["screenshots/login-error"]);
    assert!(
        bundle
            .skip_reason(copy.to_str().unwrap())
            .unwrap()
            .contains("same image")
    );
}

#[test]
fn bad_input_names_the_field_and_exits_2() {
    let sandbox = Sandbox::new("linux");
    let output = sandbox.collect(&["--email", "not-an-address"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("email"));
    let output = jcdiag(sandbox.dir.path())
        .args(["collect", "--out"])
        .arg(sandbox.dir.path().join("no/such/folder/"))
        .arg("--sysroot")
        .arg(sandbox.root())
        .run()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--out"));
    let output = sandbox.collect(&["--since", "5 weeks"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(sandbox.out_files().is_empty());
}

#[test]
fn the_form_file_fills_what_flags_leave_out() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", "x\n");
    let form = sandbox.dir.path().join("form.toml");
    std::fs::write(
        &form,
        "description = \"from file\"\ntroubleshooting = \"rebooted\"\nerror = [\"E1\"]\nseverity = 3\ntier = \"standard\"\n",
    )
    .unwrap();
    let output = sandbox.collect(&[
        "--form",
        form.to_str().unwrap(),
        "--description",
        "from flag",
    ]);
    assert_ok(&output);
    let case = sandbox.bundle().json("case.json");
    assert_eq!(case["form"]["description"], "from flag");
    assert_eq!(case["form"]["troubleshooting"], "rebooted");
    assert_eq!(case["form"]["errors"][0], "E1");
    assert_eq!(case["tier"], "standard");
}

#[cfg(unix)]
mod unix {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn planted_links_fifos_folders_and_hard_links_are_skipped_with_reasons() {
        let sandbox = Sandbox::new("linux");
        let secret = sandbox.write(
            "/etc/shadow-like",
            "root:SHADOW-HASH-SECRET:19000:0:99999:7:::\n",
        );
        std::fs::create_dir_all(sandbox.path("/var/log")).unwrap();
        std::os::unix::fs::symlink(&secret, sandbox.path("/var/log/jcagent.log")).unwrap();
        let fifo = sandbox.path("/var/log/jcagent.log.1");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        std::fs::create_dir_all(sandbox.path("/var/log/jcagent.log.2")).unwrap();
        let original = sandbox.write("/etc/other-secret", "HARDLINKED-SECRET\n");
        std::fs::hard_link(&original, sandbox.path("/var/log/jcagent.log.3")).unwrap();
        sandbox.write("/var/log/jcagent.log.4", log_lines(3, "genuine"));

        let output = sandbox.collect(&[]);
        assert_ok(&output);
        let bundle = sandbox.bundle();
        assert!(!bundle.contains(b"SHADOW-HASH-SECRET"));
        assert!(!bundle.contains(b"HARDLINKED-SECRET"));
        assert!(
            bundle
                .skip_reason("/var/log/jcagent.log")
                .unwrap()
                .contains("symbolic link")
        );
        assert!(
            bundle
                .skip_reason("/var/log/jcagent.log.1")
                .unwrap()
                .contains("FIFO")
        );
        assert!(
            bundle
                .skip_reason("/var/log/jcagent.log.2")
                .unwrap()
                .contains("directory")
        );
        assert!(
            bundle
                .skip_reason("/var/log/jcagent.log.3")
                .unwrap()
                .contains("hard links")
        );
        assert!(
            bundle
                .text("logs/var/log/jcagent.log.4")
                .contains("genuine")
        );
    }

    #[test]
    fn when_root_files_not_owned_by_root_are_skipped() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("not root: ownership rule applies to elevated runs only; skipped");
            return;
        }
        let sandbox = Sandbox::new("linux");
        let planted = sandbox.write("/var/log/jcagent.log", "PLANTED-BY-USER\n");
        rustix::fs::chown(&planted, Some(rustix::fs::Uid::from_raw(1234)), None).unwrap();
        let output = sandbox.collect(&[]);
        assert_ok(&output);
        let bundle = sandbox.bundle();
        assert!(!bundle.contains(b"PLANTED-BY-USER"));
        assert!(
            bundle
                .skip_reason("/var/log/jcagent.log")
                .unwrap()
                .contains("uid 1234")
        );
    }

    #[test]
    fn the_bundle_is_owner_only_and_passes_unzip_and_python() {
        let sandbox = Sandbox::new("linux");
        sandbox.write("/var/log/jcagent.log", log_lines(100, "z"));
        assert_ok(&sandbox.collect(&[]));
        let bundle = sandbox.bundle();
        let mode = std::fs::metadata(&bundle.path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let unzip = std::process::Command::new("unzip")
            .arg("-t")
            .arg(&bundle.path)
            .run()
            .unwrap();
        assert!(
            unzip.status.success(),
            "{}",
            String::from_utf8_lossy(&unzip.stdout)
        );
        let python = std::process::Command::new("python3")
            .args(["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(len(z.namelist()))"])
            .arg(&bundle.path)
            .run()
            .unwrap();
        assert!(
            python.status.success(),
            "{}",
            String::from_utf8_lossy(&python.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&python.stdout).trim(),
            bundle.entries.len().to_string()
        );
    }

    #[test]
    fn ctrl_c_leaves_nothing_behind() {
        let sandbox = Sandbox::new("linux");
        // Enough log to keep the run busy for a moment.
        let chunk = log_lines(100_000, "bulk");
        for suffix in ["", ".1", ".2", ".3", ".4", ".5"] {
            sandbox.write(&format!("/var/log/jcagent.log{suffix}"), &chunk);
        }
        let mut command = jcdiag(sandbox.dir.path());
        command
            .arg("collect")
            .arg("--sysroot")
            .arg(sandbox.root())
            .arg("--out")
            .arg(sandbox.out());
        let child = command.start().unwrap();
        // Wait until the temporary bundle exists, then interrupt.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while sandbox.out_files().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
        let status = child.wait_with_output().unwrap().status;
        let files = sandbox.out_files();
        if status.code() == Some(130) {
            assert!(files.is_empty(), "interrupted run left {files:?}");
        } else {
            // The run finished before the signal: then the only file is the whole bundle.
            assert!(status.success());
            assert_eq!(files.len(), 1);
            assert!(files[0].ends_with(".zip"), "{files:?}");
        }
    }
}

#[cfg(windows)]
#[test]
fn the_live_windows_layout_is_read_from_drive_c() {
    let log = std::path::Path::new(r"C:\Windows\Temp\jcagent.log");
    std::fs::write(log, log_lines(5, "wine-live")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = jcdiag(dir.path())
        .args(["collect", "--json", "--out"])
        .arg(out.path())
        .run()
        .unwrap();
    let _ = std::fs::remove_file(log);
    assert_ok(&output);
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    let bundle =
        crate::support::Bundle::open(std::path::Path::new(result["bundle"].as_str().unwrap()));
    assert!(
        bundle
            .text("logs/Windows/Temp/jcagent.log")
            .contains("wine-live")
    );
    let system = bundle.json("system.json");
    assert_eq!(system["collection"]["live_system"], true);
    assert!(
        system["os"]["build"].is_string(),
        "build from the registry: {}",
        system["os"]
    );
}

#[test]
fn dry_run_lists_what_would_be_sent_and_writes_nothing() {
    let sandbox = Sandbox::new("linux");
    sandbox.write(
        "/var/log/jcagent.log",
        "2021/05/07 09:25:13 [1] [INFO] password=hunter2-dry-run\n",
    );
    sandbox.write(
        "/opt/jc/jcagent.conf",
        r#"{"systemKey":"5f0c1a2b3c4d5e6f7a8b9c0d","systemToken":"tok-dry-run-123456"}"#,
    );
    let output = sandbox.collect(&["--dry-run"]);
    assert_ok(&output);
    assert!(sandbox.out_files().is_empty(), "{:?}", sandbox.out_files());
    let preview = String::from_utf8_lossy(&output.stdout);
    assert!(
        preview.contains("logs/var/log/jcagent.log") && preview.contains("agent/jcagent.conf"),
        "{preview}"
    );
    assert!(
        preview.contains("1 password") && preview.contains("1 system-token"),
        "{preview}"
    );
    assert!(!preview.contains("hunter2") && !preview.contains("tok-dry-run"));

    let output = sandbox.collect(&["--dry-run", "--json"]);
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["dry_run"], true);
    let log = result["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "logs/var/log/jcagent.log")
        .unwrap()
        .clone();
    assert_eq!(log["redactions"]["password"], 1);
    assert!(sandbox.out_files().is_empty());
}

#[test]
fn submit_without_consent_and_without_a_terminal_sends_nothing() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", "x\n");
    let state = sandbox.dir.path().join("state");
    let output = jcdiag(sandbox.dir.path())
        .args([
            "submit",
            "--description",
            "d",
            "--severity",
            "3",
            "--tier",
            "standard",
            "--email",
            "a@example.com",
        ])
        .args([
            "--endpoint",
            "https://127.0.0.1:9",
            "--token",
            "jcd_x",
            "--target-os",
            "linux",
        ])
        .arg("--sysroot")
        .arg(sandbox.root())
        .arg("--state-dir")
        .arg(&state)
        .run()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--yes"));
    let staged = std::fs::read_dir(state.join("staging"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(staged, 0, "nothing kept");
    assert!(!state.join("outbox").exists());
}

#[test]
fn system_json_names_network_interfaces_as_sorted_strings() {
    let sandbox = Sandbox::new("linux");
    let output = sandbox.collect(&["--description", "interfaces"]);
    assert_ok(&output);
    let system = sandbox.bundle().json("system.json");
    let interfaces = system["machine"]["network_interfaces"]
        .as_array()
        .unwrap_or_else(|| panic!("no interface list: {}", system["machine"]))
        .clone();
    let names: Vec<&str> = interfaces
        .iter()
        .map(|i| {
            i["name"]
                .as_str()
                .unwrap_or_else(|| panic!("interface name is not a string: {i}"))
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "interfaces in name order");
    // Every Linux machine (and container) has the loopback interface.
    #[cfg(target_os = "linux")]
    assert!(names.contains(&"lo"), "{names:?}");
}

#[test]
fn summary_lists_what_was_not_found_and_says_when_no_agent_log_was_collected() {
    let sandbox = Sandbox::new("linux");
    // An OS release without BUILD_ID, like most Linux distributions.
    sandbox.write(
        "/etc/os-release",
        "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"13\"\n",
    );
    let output = sandbox.collect(&["--description", "agent never installed"]);
    assert_ok(&output);
    let bundle = sandbox.bundle();
    let summary = bundle.text("summary.txt");
    let not_found = bundle.manifest()["not_found"].clone();
    let not_found: Vec<&str> = not_found
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(not_found.len() > 3, "{not_found:?}");
    for path in &not_found {
        assert!(
            summary.lines().any(|l| l.trim() == *path),
            "{path} not listed on its own line:\n{summary}"
        );
    }
    assert!(
        summary.contains("No agent log was found") && summary.contains("/var/log/jcagent.log"),
        "{summary}"
    );
    assert!(!summary.contains("no ERROR lines"), "{summary}");
    assert!(
        summary.contains("OS:            Debian GNU/Linux 13\n"),
        "{summary}"
    );
    assert!(!summary.contains("build unknown"), "{summary}");
}

#[test]
fn the_preview_says_plainly_when_no_agent_log_was_found() {
    let sandbox = Sandbox::new("linux");
    let output = sandbox.collect(&["--dry-run"]);
    assert_ok(&output);
    let preview = String::from_utf8_lossy(&output.stdout);
    assert!(
        preview.contains("No JumpCloud agent log was found: the case will hold no agent log"),
        "{preview}"
    );

    sandbox.write("/var/log/jcagent.log", log_lines(3, "present"));
    let output = sandbox.collect(&["--dry-run"]);
    assert_ok(&output);
    let preview = String::from_utf8_lossy(&output.stdout);
    assert!(!preview.contains("No JumpCloud agent log"), "{preview}");
}
