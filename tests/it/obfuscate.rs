//! `--obfuscate`: host names, addresses, users and emails replaced by stable aliases, the
//! alias table kept on this machine only.

use crate::support::{Bundle, Sandbox};
use serde_json::Value;

const HOST: &str = "ws-alice01";
const USER: &str = "alice";
const IPV4: &str = "10.20.30.40";
const IPV6: &str = "fe80::1c2b:3a4d:5e6f:7a8b";
const MAC: &str = "a4:83:e7:12:34:56";
const EMAIL: &str = "bob.smith@corp.example.com";
const CONTACT: &str = "admin@example.com";

fn planted(os: &'static str) -> Sandbox {
    let sandbox = Sandbox::new(os);
    let (log, home) = match os {
        "windows" => (
            r"C:\Windows\Temp\jcagent.log",
            r"C:\Users\alice\Desktop\notes.txt",
        ),
        "macos" => ("/var/log/jcagent.log", "/Users/alice/Desktop/notes.txt"),
        _ => ("/var/log/jcagent.log", "/home/alice/notes.txt"),
    };
    // Only a Linux disk records its host name (/etc/hostname); the other layouts take the
    // live machine's, so the planted name appears in the Linux log only.
    let host = if os == "linux" { HOST } else { "the-machine" };
    sandbox.write(
        log,
        format!(
            "2026/11/27 10:00:01 [1234] [INFO] host {host} ({host}.corp.example.com) at {IPV4} \
             and {IPV6}\n\
             2026/11/27 10:00:02 [1234] [INFO] interface en0 ether {MAC} peer {IPV4}\n\
             2026/11/27 10:00:03 [1234] [ERROR] user {USER} ({EMAIL}) login failed; \
             agent 2.31.0 listening on 127.0.0.1:8080\n"
        ),
    );
    sandbox.write(home, "the home folder makes alice a person");
    if os == "linux" {
        sandbox.write("/etc/hostname", format!("{HOST}\n"));
        sandbox.write(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/sbin/nologin\n\
             alice:x:1001:1001:Alice:/home/alice:/bin/bash\n",
        );
    }
    sandbox
}

/// The names the live machine (the one running the test) goes by: system.json has them too.
fn live_host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    Some(name.trim().to_string()).filter(|n| n.len() > 2)
}

/// `jcdiag collect ARGS --state-dir <sandbox>/state` on the planted tree; it must succeed.
fn collect_ok(sandbox: &Sandbox, args: &[&str]) -> std::process::Output {
    let state = sandbox.dir.path().join("state");
    let mut args = args.to_vec();
    args.extend(["--state-dir", state.to_str().unwrap()]);
    let output = sandbox.collect(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn every_name_and_address_is_aliased_consistently_and_the_table_stays_here() {
    for os in ["linux", "macos", "windows"] {
        let sandbox = planted(os);
        let state = sandbox.dir.path().join("state");
        let output = collect_ok(
            &sandbox,
            &[
                "--json",
                "--description",
                "Login fails for alice",
                "--email",
                CONTACT,
                "--obfuscate",
                "all",
            ],
        );
        let result: Value = serde_json::from_slice(&output.stdout).unwrap();
        let bundle = Bundle::open(result["bundle"].as_str().unwrap().as_ref());

        // Nothing identifying is left, in any entry or in the raw zip.
        let mut originals = vec![USER, IPV4, IPV6, MAC, EMAIL];
        if os == "linux" {
            originals.push(HOST); // the other layouts take the live host name
        }
        let live = live_host_name();
        originals.extend(live.as_deref());
        for original in &originals {
            assert!(
                !bundle.contains(original.as_bytes()),
                "{os}: {original} is in the bundle"
            );
        }
        let file_name = bundle
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(file_name.starts_with("jcdiag-host-1-"), "{file_name}");

        // The same value gets the same alias everywhere; what identifies nothing stays.
        let log = bundle.text(
            &bundle
                .entries
                .keys()
                .find(|k| k.ends_with("jcagent.log"))
                .unwrap()
                .clone(),
        );
        let ip = log
            .split(" at ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_string();
        assert!(ip.starts_with("ip-"), "{log}");
        assert!(log.contains(&format!("peer {ip}\n")), "{log}");
        assert!(log.contains("user user-"), "{log}");
        assert!(log.contains("ether mac-1"), "{log}");
        assert!(log.contains("@obfuscated.invalid"), "{log}");
        assert!(
            log.contains("agent 2.31.0 listening on 127.0.0.1:8080"),
            "{log}"
        );
        let system = bundle.json("system.json");
        assert_eq!(system["hostname"], "host-1");
        let case = bundle.json("case.json");
        assert_eq!(
            case["form"]["contact"]["email"], CONTACT,
            "support must be able to answer"
        );
        assert!(
            bundle.manifest()["redactions"]["obfuscated-ip"]
                .as_u64()
                .unwrap()
                >= 3
        );

        // The table maps back, is owner-only, lives in the state folder, never in the bundle.
        let table_path = result["obfuscation_map"]
            .as_str()
            .expect("the table's path is reported");
        assert!(std::path::Path::new(table_path).starts_with(&state));
        let table: Value = serde_json::from_slice(&std::fs::read(table_path).unwrap()).unwrap();
        let original_of = |alias: &str| {
            table["aliases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|row| row["alias"] == alias)
                .map(|row| row["original"].as_str().unwrap().to_string())
        };
        assert_eq!(original_of(&ip).as_deref(), Some(IPV4));
        assert_eq!(original_of("mac-1").as_deref(), Some(MAC));
        if os == "linux" {
            assert_eq!(original_of("host-1").as_deref(), Some(HOST));
        }
        assert!(!bundle.contains(b"jcdiag.obfuscation"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(table_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{table_path}");
        }
        assert!(!String::from_utf8_lossy(&output.stdout).contains(IPV4));
    }
}

#[test]
fn without_obfuscate_names_stay_and_no_table_is_written() {
    let sandbox = planted("linux");
    let state = sandbox.dir.path().join("state");
    let output = collect_ok(&sandbox, &["--json", "--description", "x"]);
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(result.get("obfuscation_map").is_none());
    let bundle = sandbox.bundle();
    assert!(bundle.contains(IPV4.as_bytes()) && bundle.contains(HOST.as_bytes()));
    assert!(!state.join("obfuscation").exists());
}

#[test]
fn only_the_named_kinds_are_aliased() {
    let sandbox = planted("linux");
    collect_ok(&sandbox, &["--description", "x", "--obfuscate", "ips,macs"]);
    let bundle = sandbox.bundle();
    assert!(!bundle.contains(IPV4.as_bytes()) && !bundle.contains(MAC.as_bytes()));
    assert!(bundle.contains(HOST.as_bytes()) && bundle.contains(EMAIL.as_bytes()));
}

#[test]
fn dry_run_shows_the_alias_counts_and_keeps_no_table() {
    let sandbox = planted("linux");
    let state = sandbox.dir.path().join("state");
    let output = collect_ok(
        &sandbox,
        &["--dry-run", "--description", "x", "--obfuscate", "all"],
    );
    let preview = String::from_utf8_lossy(&output.stdout);
    assert!(preview.contains("obfuscated-ip"), "{preview}");
    assert!(sandbox.out_files().is_empty());
    assert!(
        !state.exists(),
        "a dry run writes nothing, not even the alias table"
    );
}
