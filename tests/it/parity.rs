//! Issue #14: everything JumpCloud's own collection scripts gather (the profile's parity list),
//! from `--sysroot` layouts of all three OSes, the Linux journal from a real journal file, the
//! commands on the live system, and the per-user ownership rule.

use jcdiag_profile::target::TargetOs;
use jcdiag_profile::{FileItem, Format, Profile};
use serde_json::Value;

use crate::support::*;

/// A binary property list as Apple's tools write it (Python's plistlib, bplist00).
const BINARY_PLIST: &[u8] =
    include_bytes!("../../crates/client/tests/fixtures/plist/com.apple.SoftwareUpdate.plist");

fn os_of(name: &str) -> TargetOs {
    match name {
        "linux" => TargetOs::Linux,
        "macos" => TargetOs::Macos,
        _ => TargetOs::Windows,
    }
}

/// The home folder the per-user items are planted in.
fn home(os: &str) -> &'static str {
    match os {
        "linux" => "/home/ana",
        "macos" => "/Users/ana",
        _ => r"C:\Users\ana",
    }
}

/// A concrete file for an item: globs get an `x`, folders a file two levels down.
fn planted_path(os: &str, item: &FileItem, per_user: bool) -> String {
    let sep = if os == "windows" { "\\" } else { "/" };
    let mut path = item.path.replace('*', "x");
    if per_user {
        path = format!("{}{sep}{path}", home(os));
    }
    if item.folder {
        let name = item.names.clone().unwrap_or_else(|| "inner.log".into());
        path = format!("{path}{sep}sub{sep}{name}");
    }
    path
}

struct Planted {
    system_path: String,
    marker: String,
    secret: Option<String>,
    format: Format,
}

fn plant_every_item(sandbox: &Sandbox) -> Vec<Planted> {
    let profile = Profile::builtin();
    let list = profile.parity.of(os_of(sandbox.os));
    let mut planted = Vec::new();
    let items = list.files.iter().map(|i| (i, false));
    let items = items.chain(list.per_user.iter().map(|i| (i, true)));
    for (n, (item, per_user)) in items.enumerate() {
        let system_path = planted_path(sandbox.os, item, per_user);
        let marker = format!("PARITY-MARKER-{n}");
        let (bytes, secret) = match item.format {
            Format::Json | Format::JsonOrText => {
                let secret = format!("PARITY-SECRET-{n}");
                let json = serde_json::json!({
                    "username": format!("ana{n}"),
                    "password": secret,
                    "proxy": {"token": secret, "host": "proxy.example.com"},
                    "marker": marker,
                });
                (json.to_string().into_bytes(), Some(secret))
            }
            Format::Plist => (BINARY_PLIST.to_vec(), None),
            Format::Text => (
                format!("2026/12/01 10:00:00 [1] [INFO] {marker}\n").into_bytes(),
                None,
            ),
        };
        sandbox.write(&system_path, bytes);
        planted.push(Planted {
            system_path,
            marker,
            secret,
            format: item.format,
        });
    }
    planted
}

fn entry_of<'m>(manifest: &'m Value, system_path: &str) -> Option<&'m Value> {
    manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == system_path)
}

fn every_item_of_the_parity_list_is_collected(os: &'static str) {
    let sandbox = Sandbox::new(os);
    let planted = plant_every_item(&sandbox);
    let out = sandbox.collect(&["--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = sandbox.bundle();
    let manifest = bundle.manifest();
    for item in &planted {
        let entry = entry_of(&manifest, &item.system_path).unwrap_or_else(|| {
            panic!(
                "{os}: {} is not in the bundle: {manifest:#}",
                item.system_path
            )
        });
        let text = bundle.text(entry["name"].as_str().unwrap());
        match item.format {
            Format::Plist => assert!(
                text.contains("<key>AutomaticCheckEnabled</key>") && text.contains("<true/>"),
                "{os}: the binary plist {} is not XML text: {text}",
                item.system_path
            ),
            _ => assert!(
                text.contains(&item.marker),
                "{os}: {}: {text}",
                item.system_path
            ),
        }
        if let Some(secret) = &item.secret {
            assert!(
                !bundle.contains(secret.as_bytes()),
                "{os}: {secret} left in the bundle"
            );
            assert!(
                text.contains("[REDACTED"),
                "{os}: {}: {text}",
                item.system_path
            );
        }
    }
    // Under --sysroot no command runs, and the manifest says so for each.
    let commands = manifest["commands"].as_array().unwrap();
    let list = Profile::builtin().parity.of(os_of(os));
    for command in &list.commands {
        let run = commands
            .iter()
            .find(|c| c["name"] == command.name.as_str())
            .unwrap_or_else(|| panic!("{os}: {} not in the manifest", command.name));
        assert_eq!(run["status"], "not run", "{os}: {run}");
        assert!(run["reason"].as_str().unwrap().contains("live system"));
    }
    let summary = bundle.text("summary.txt");
    assert!(summary.contains("\nOS logs\n"), "{summary}");
}

fn every_item_looked_for_is_listed(os: &'static str) {
    let sandbox = Sandbox::new(os);
    let out = sandbox.collect(&["--yes"]);
    assert!(out.status.success());
    let manifest = sandbox.bundle().manifest();
    let not_found: Vec<&str> = manifest["not_found"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let list = Profile::builtin().parity.of(os_of(os));
    for item in list.files.iter().chain(&list.per_user) {
        assert!(
            not_found.iter().any(|p| p.ends_with(item.path.as_str())),
            "{os}: {} is not listed as looked for: {not_found:?}",
            item.path
        );
    }
}

#[test]
fn linux_every_item_of_the_parity_list_is_collected() {
    every_item_of_the_parity_list_is_collected("linux");
    every_item_looked_for_is_listed("linux");
}

#[test]
fn macos_every_item_of_the_parity_list_is_collected() {
    every_item_of_the_parity_list_is_collected("macos");
    every_item_looked_for_is_listed("macos");
}

#[test]
fn windows_every_item_of_the_parity_list_is_collected() {
    every_item_of_the_parity_list_is_collected("windows");
    every_item_looked_for_is_listed("windows");
}

#[test]
fn a_source_turned_off_is_not_collected_and_an_unknown_one_is_refused() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/syslog", "2026/12/01 10:00:00 SYSLOG-LINE\n");
    sandbox.write("/opt/jc/policyConf.json", r#"{"marker": "POLICY"}"#);
    let out = sandbox.collect(&["--yes", "--skip-source", "system-logs"]);
    assert!(out.status.success());
    let bundle = sandbox.bundle();
    assert!(!bundle.contains(b"SYSLOG-LINE"));
    assert!(bundle.contains(b"POLICY"));
    assert!(
        bundle
            .skip_reason("/var/log/syslog")
            .unwrap()
            .contains("turned off")
    );
    let out = sandbox.collect(&["--yes", "--skip-source", "no-such-source"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--skip-source no-such-source"));
}

/// `--obfuscate users` covers the names in managedUsers.json, which may have no home folder.
#[test]
fn obfuscate_users_covers_managed_users() {
    let sandbox = Sandbox::new("linux");
    sandbox.write(
        "/opt/jc/managedUsers.json",
        r#"[{"username": "zelda-managed", "uid": 1201}]"#,
    );
    sandbox.write(
        "/var/log/auth.log",
        "Dec  1 10:00:00 host sshd[1]: Accepted publickey for zelda-managed\n",
    );
    let out = sandbox.collect(&["--yes", "--obfuscate", "users"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = sandbox.bundle();
    assert!(!bundle.contains(b"zelda-managed"));
    assert!(
        bundle
            .text("os-logs/var/log/auth.log")
            .contains("Accepted publickey for")
    );
}

/// A file planted in a user's home by another user is skipped and recorded; the owner's and
/// root's are read.
#[cfg(unix)]
#[test]
fn a_per_user_file_of_another_user_is_skipped() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("not root: files of another owner cannot be made; skipped");
        return;
    }
    let sandbox = Sandbox::new("linux");
    let dir = "/home/ana/.config/JumpCloud-Remote-Assist/logs";
    sandbox.write(&format!("{dir}/hers.log"), "HER-OWN-LOG\n");
    sandbox.write(&format!("{dir}/roots.log"), "ROOTS-LOG\n");
    sandbox.write(&format!("{dir}/planted.log"), "PLANTED-BY-BOB\n");
    for path in [
        "/home/ana",
        "/home/ana/.config",
        "/home/ana/.config/JumpCloud-Remote-Assist",
        dir,
    ] {
        std::os::unix::fs::lchown(sandbox.path(path), Some(1234), Some(1234)).unwrap();
    }
    std::os::unix::fs::lchown(sandbox.path(&format!("{dir}/hers.log")), Some(1234), None).unwrap();
    std::os::unix::fs::lchown(
        sandbox.path(&format!("{dir}/planted.log")),
        Some(4321),
        None,
    )
    .unwrap();
    let out = sandbox.collect(&["--yes"]);
    assert!(out.status.success());
    let bundle = sandbox.bundle();
    assert!(bundle.contains(b"HER-OWN-LOG"));
    assert!(bundle.contains(b"ROOTS-LOG"));
    assert!(!bundle.contains(b"PLANTED-BY-BOB"));
    let why = bundle.skip_reason(&format!("{dir}/planted.log")).unwrap();
    assert!(why.contains("uid 4321") && why.contains("planted"), "{why}");

    // The agent's per-user log (a profile log path below a home) follows the same rule.
    let mac = Sandbox::new("macos");
    let log = "/Users/ana/Library/Logs/JumpCloud/jc-user-agent.log";
    mac.write(log, "2026/12/01 10:00:00 [1] [INFO] HER-USER-AGENT-LOG\n");
    for path in [
        "/Users/ana",
        "/Users/ana/Library",
        "/Users/ana/Library/Logs",
        "/Users/ana/Library/Logs/JumpCloud",
        log,
    ] {
        std::os::unix::fs::lchown(mac.path(path), Some(1234), Some(1234)).unwrap();
    }
    let bob = "/Users/bob/Library/Logs/JumpCloud/jc-user-agent.log";
    mac.write(bob, "2026/12/01 10:00:00 [1] [INFO] PLANTED-IN-BOBS-HOME\n");
    std::os::unix::fs::lchown(mac.path(bob), Some(4321), None).unwrap();
    assert!(mac.collect(&["--yes"]).status.success());
    let bundle = mac.bundle();
    assert!(bundle.contains(b"HER-USER-AGENT-LOG"));
    assert!(!bundle.contains(b"PLANTED-IN-BOBS-HOME"));
    assert!(bundle.skip_reason(bob).unwrap().contains("uid 4321"));
}

/// A real journal file, written by systemd-journal-remote from export format, with agent and
/// unrelated entries: only the agent's are collected, the newest kept under the cap, and
/// `--since` honoured; host names in it are obfuscated with `--obfuscate hostnames`.
#[cfg_attr(
    windows,
    ignore = "systemd-journal-remote and journalctl are Linux tools"
)]
#[test]
fn the_journal_gives_the_agents_entries_within_since_and_the_cap() {
    let remote = std::path::Path::new("/lib/systemd/systemd-journal-remote");
    assert!(
        remote.exists(),
        "{} is missing: apt-get install systemd-journal-remote",
        remote.display()
    );
    let sandbox = Sandbox::new("linux");
    sandbox.write("/etc/hostname", "ws-journal-0042\n");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    let mut export = String::new();
    let mut entry = |at: u64, fields: &[(&str, &str)]| {
        export.push_str(&format!(
            "__REALTIME_TIMESTAMP={at}\n__MONOTONIC_TIMESTAMP={at}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=ws-journal-0042\n"
        ));
        for (k, v) in fields {
            export.push_str(&format!("{k}={v}\n"));
        }
        export.push('\n');
    };
    let day = 86_400_000_000;
    entry(
        now - 10 * day,
        &[
            ("_SYSTEMD_UNIT", "jcagent.service"),
            ("MESSAGE", "AGENT-TEN-DAYS-OLD"),
        ],
    );
    for i in 0..400 {
        let message = format!(
            "AGENT-RECENT-{i:03} [ERROR] failed to poll server: EOF {}",
            "x".repeat(40)
        );
        entry(
            now - day + i * 1000,
            &[
                ("_SYSTEMD_UNIT", "jcagent.service"),
                ("SYSLOG_IDENTIFIER", "jumpcloud-agent"),
                ("MESSAGE", &message),
            ],
        );
    }
    entry(
        now - 1000,
        &[
            ("SYSLOG_IDENTIFIER", "jumpcloud-agent"),
            ("MESSAGE", "AGENT-BY-IDENTIFIER"),
        ],
    );
    entry(
        now - 500,
        &[
            ("_SYSTEMD_UNIT", "cron.service"),
            ("SYSLOG_IDENTIFIER", "CRON"),
            ("MESSAGE", "UNRELATED-CRON"),
        ],
    );
    let export_file = sandbox.dir.path().join("entries.export");
    std::fs::write(&export_file, export).unwrap();
    std::fs::create_dir_all(sandbox.path("/var/log/journal")).unwrap();
    let status = std::process::Command::new(remote)
        .arg(format!(
            "--output={}",
            sandbox.path("/var/log/journal/remote.journal").display()
        ))
        .arg(&export_file)
        .run()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );

    let out = sandbox.collect(&[
        "--yes",
        "--since",
        "2d",
        "--max-log-size",
        "4KiB",
        "--obfuscate",
        "hostnames",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = sandbox.bundle();
    let journal = bundle.text("os-logs/journal.txt");
    assert!(journal.contains("AGENT-BY-IDENTIFIER"), "{journal}");
    assert!(
        journal.contains("AGENT-RECENT-399"),
        "the newest are kept: {journal}"
    );
    assert!(
        !journal.contains("AGENT-RECENT-000"),
        "the oldest are cut by the cap"
    );
    assert!(!journal.contains("UNRELATED-CRON"));
    assert!(
        !journal.contains("AGENT-TEN-DAYS-OLD"),
        "--since is honoured"
    );
    assert!(journal.len() <= 4096);
    assert!(
        !bundle.contains(b"ws-journal-0042"),
        "the host name is obfuscated"
    );
    let manifest = bundle.manifest();
    let run = manifest["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "journal")
        .unwrap();
    assert_eq!(run["status"], "ok", "{run}");
    assert!(
        run["command"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--directory")
    );
    let entry = entry_of(&manifest, "/usr/bin/journalctl")
        .or_else(|| entry_of(&manifest, "/bin/journalctl"))
        .unwrap();
    assert_eq!(entry["truncated"], true);
    let summary = bundle.text("summary.txt");
    assert!(
        summary.contains("[journal]") && summary.contains("failed to poll server"),
        "{summary}"
    );
}

/// On the live machine the commands of this OS run and land in `commands/` (or `os-logs/`) or
/// are recorded as failed or not found, with the reason (under Wine: the Windows ones).
#[cfg_attr(
    target_os = "macos",
    ignore = "CI has no Mac: the macOS commands are type-checked only"
)]
#[test]
fn live_commands_run_or_say_why_not() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    let out = jcdiag(dir.path())
        .args([
            "collect",
            "--yes",
            "--skip-source",
            "system-logs,per-user",
            "--out",
        ])
        .arg(dir.path().join("out"))
        .run()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zip = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bundle = Bundle::open(&zip);
    let manifest = bundle.manifest();
    let runs = manifest["commands"].as_array().unwrap();
    for command in &Profile::builtin().parity.of(TargetOs::current()).commands {
        let run = runs
            .iter()
            .find(|c| c["name"] == command.name.as_str())
            .unwrap();
        match run["status"].as_str().unwrap() {
            "ok" => {
                let entry = run["entry"].as_str().unwrap();
                let folder = if command.source == "os-logs" {
                    "os-logs"
                } else {
                    "commands"
                };
                assert_eq!(entry, format!("{folder}/{}.txt", command.name));
                bundle.text(entry);
            }
            "failed" | "not found" | "timed out" => {
                assert!(!run["reason"].as_str().unwrap().is_empty(), "{run}")
            }
            other => panic!("{}: {other}", command.name),
        }
    }
    // A tool every machine of this OS has ran: its exit code and duration are recorded (ps on
    // Linux, reg.exe's query of the Windows version under Wine).
    let always_there = if cfg!(windows) { "os-version" } else { "ps" };
    let ps = runs.iter().find(|c| c["name"] == always_there).unwrap();
    assert_eq!(ps["status"], "ok", "{ps}");
    assert_eq!(ps["exit_code"], 0);
    assert!(ps["duration_ms"].is_u64());
}

/// `--since` drops the older lines of the OS's log files, whatever their time format.
#[test]
fn since_applies_to_system_logs() {
    let sandbox = Sandbox::new("linux");
    let old = chrono::Local::now() - chrono::Duration::days(5);
    let new = chrono::Local::now() - chrono::Duration::hours(1);
    sandbox.write(
        "/var/log/syslog",
        format!(
            "{} host jumpcloud-agent[1]: SYSLOG-OLD\n{} host jumpcloud-agent[1]: SYSLOG-NEW\n",
            old.format("%b %e %H:%M:%S"),
            new.format("%b %e %H:%M:%S")
        ),
    );
    sandbox.write(
        "/var/log/dpkg.log",
        format!(
            "{} status installed DPKG-OLD\n{} status installed DPKG-NEW\n",
            old.format("%Y-%m-%d %H:%M:%S"),
            new.format("%Y-%m-%d %H:%M:%S")
        ),
    );
    assert!(
        sandbox
            .collect(&["--yes", "--since", "2d"])
            .status
            .success()
    );
    let bundle = sandbox.bundle();
    let syslog = bundle.text("os-logs/var/log/syslog");
    assert!(
        syslog.contains("SYSLOG-NEW") && !syslog.contains("SYSLOG-OLD"),
        "{syslog}"
    );
    let dpkg = bundle.text("os-logs/var/log/dpkg.log");
    assert!(
        dpkg.contains("DPKG-NEW") && !dpkg.contains("DPKG-OLD"),
        "{dpkg}"
    );
}
