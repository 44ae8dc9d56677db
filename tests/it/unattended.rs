//! Unattended runs (MDM, scripts): no terminal means no question is ever asked. Missing fields
//! fail at once with exit 2, each named with its fix.

use jcdiag_testkit::Launch;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Sandbox, jcdiag};

/// Runs `jcdiag ARGS` with stdin closed or an open pipe nobody writes to. A run still going
/// after `patience` is waiting for input: killed, and reported as such.
fn run_without_terminal(args: &[&str], stdin_open: bool) -> (Option<i32>, String, String) {
    let patience = Duration::from_secs(10);
    let dir = tempfile::tempdir().unwrap();
    let mut command = jcdiag(dir.path());
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if stdin_open {
        command.stdin(Stdio::piped());
    }
    let started = Instant::now();
    let mut child = command.start().unwrap();
    let _stdin = child.stdin.take(); // held open, never written
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > patience {
            child.kill().unwrap();
            panic!("jcdiag {args:?} was still running after {patience:?}: it waits for input");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    eprintln!("jcdiag {args:?} ended in {:?}", started.elapsed());
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.unwrap().read_to_string(&mut out).unwrap();
    child.stderr.unwrap().read_to_string(&mut err).unwrap();
    (status.code(), out, err)
}

#[test]
fn missing_fields_exit_2_naming_every_one_without_waiting_for_input() {
    let send = ["--endpoint", "https://127.0.0.1:9", "--token", "t"];
    for stdin_open in [false, true] {
        let args = [&["submit"][..], &send].concat();
        let (code, _, err) = run_without_terminal(&args, stdin_open);
        assert_eq!(code, Some(2), "{err}");
        for field in ["description", "severity", "tier", "email"] {
            assert!(
                err.contains(&format!("{field}: missing; give --{field}")),
                "{field} not named: {err}"
            );
        }

        // --silent and --json carry the same failure where scripts read results.
        let args = [&["submit", "--silent"][..], &send].concat();
        let (code, out, _) = run_without_terminal(&args, stdin_open);
        assert_eq!(code, Some(2));
        assert!(
            out.starts_with("failed exit=2: ") && out.contains("email: missing"),
            "{out}"
        );
        let args = [&["submit", "--json", "--description", "x"][..], &send].concat();
        let (code, out, _) = run_without_terminal(&args, stdin_open);
        assert_eq!(code, Some(2));
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(json["exit_code"], 2);
        let error = json["error"].as_str().unwrap();
        assert!(error.contains("severity: missing") && !error.contains("description: missing"));
    }
}

#[test]
fn jcdiag_alone_without_a_terminal_says_how_to_run_unattended() {
    let (code, _, err) = run_without_terminal(&[], true);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("no terminal for the wizard") && err.contains("submit --yes"),
        "{err}"
    );
}

#[test]
fn piped_output_gets_no_spinner_and_no_colour_but_always_means_always() {
    // No agent log: the run warns, and the warning is what gets coloured.
    let sandbox = Sandbox::new("linux");
    let output = sandbox.collect(&["--description", "piped"]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains("warning:") && !err.contains('\u{1b}'),
        "{err:?}"
    );
    assert!(!err.contains("collecting"), "{err:?}");

    std::fs::remove_dir_all(sandbox.out()).unwrap();
    std::fs::create_dir(sandbox.out()).unwrap();
    let output = sandbox.collect(&["--description", "piped", "--color", "always"]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("\u{1b}[33m"), "{err:?}");
}
