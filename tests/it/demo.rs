//! The README's main command, `bash scripts/demo.sh`, run with the debug binaries (so no release
//! build) and a folder of its own: a real intake on 127.0.0.1 over TLS, a real bundle and upload;
//! afterwards the bundle and the intake's data are kept, the printed `case show` command works,
//! the server is gone, and a second run adds a second case.
#![cfg(unix)]

use jcdiag_testkit::Launch;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run_demo(dir: &Path) -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_jcdiag")).parent().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo.sh");
    let mut command = Command::new("bash");
    crate::support::isolate(&mut command, dir);
    let output = command
        .arg(&script)
        .env("JCDIAG_DEMO_BIN", bin)
        .env("JCDIAG_DEMO_DIR", dir)
        .run()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The text after `label` on the line that has it.
fn after<'a>(text: &'a str, label: &str) -> &'a str {
    let line = text
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no `{label}` in: {text}"));
    line[line.find(label).unwrap() + label.len()..].trim()
}

#[test]
fn the_demo_keeps_the_bundle_and_the_case_and_says_how_to_read_it() {
    if Command::new("openssl").arg("version").run().is_err() {
        eprintln!("SKIPPED: openssl is not installed (the README lists it; CI installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let first = run_demo(dir.path());

    let bundle = PathBuf::from(after(&first, "The bundle:"));
    assert!(bundle.is_file(), "{first}");
    assert!(bundle.starts_with(dir.path().join("bundles")), "{first}");
    assert!(dir.path().join("demo/intake").is_dir());

    // The server stopped with the demo: its port no longer answers.
    let url = after(&first, "jcdiag-intake is listening on");
    let address = url.trim_start_matches("https://").trim_end_matches('/');
    assert!(
        std::net::TcpStream::connect(address).is_err(),
        "{address} still answers"
    );

    // The printed command shows the case as support reads it, from the kept data.
    let show = after(&first, "case show");
    let mut words = show.split_whitespace();
    let case_id = words.next().unwrap().to_string();
    let shown = Command::new(crate::support::intake_bin())
        .args(["case", "show", &case_id, "--data"])
        .arg(dir.path().join("demo/intake"))
        .env_remove("JCDIAG_INTAKE_DATA")
        .run()
        .unwrap();
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let page = String::from_utf8_lossy(&shown.stdout);
    assert!(page.contains(&case_id), "{page}");
    assert!(page.contains("the agent does not check in"), "{page}");

    // Running it again adds a case to the kept data.
    let second = run_demo(dir.path());
    let second_id = after(&second, "case show")
        .split_whitespace()
        .next()
        .unwrap();
    assert_ne!(second_id, case_id);
    let listed = Command::new(crate::support::intake_bin())
        .args(["case", "list", "--json", "--data"])
        .arg(dir.path().join("demo/intake"))
        .env_remove("JCDIAG_INTAKE_DATA")
        .run()
        .unwrap();
    let cases: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(cases.as_array().map(Vec::len), Some(2), "{cases}");
}
