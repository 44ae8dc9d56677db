//! The harness keeps every jcdiag the tests run inside the test's own temp folder. Run as root
//! (where jcdiag's defaults are system folders) or not, commands that write state, config,
//! bundles and email drafts leave jcdiag's default state and config folders, and jcdiag's
//! names in the temp folder and in the working folder, as they found them.
#![cfg(unix)]

use jcdiag_testkit::Launch;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{Sandbox, log_lines};
use serde_json::Value;

/// Every path under `path` (itself included) with its size and modification time.
fn listing(path: &Path, into: &mut BTreeMap<PathBuf, String>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    into.insert(
        path.to_path_buf(),
        format!("{} bytes, modified {:?}", meta.len(), meta.modified().ok()),
    );
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            listing(&entry.path(), into);
        }
    }
}

/// What a test run could reach outside its temp folder: jcdiag's default state folders (the
/// root one and the user's), the default config's folder, and anything named jcdiag* in the
/// temp folder or the working folder (bundles and drafts default to the working folder).
/// The folders are the README's ("Sending the case", "Collecting").
fn outside_state() -> BTreeMap<PathBuf, String> {
    let mut seen = BTreeMap::new();
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let defaults = if cfg!(target_os = "macos") {
        [
            PathBuf::from("/Library/Application Support/jcdiag"),
            home.join("Library/Application Support/jcdiag"),
        ]
    } else {
        [
            PathBuf::from("/var/lib/jcdiag"),
            home.join(".local/state/jcdiag"),
        ]
    };
    for dir in defaults.iter().chain([&PathBuf::from("/etc/jcdiag")]) {
        listing(dir, &mut seen);
    }
    let cwd = std::env::current_dir().unwrap();
    for dir in [std::env::temp_dir(), cwd] {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.file_name().to_string_lossy().starts_with("jcdiag") {
                listing(&entry.path(), &mut seen);
            }
        }
    }
    seen
}

fn run(sandbox: &Sandbox, args: &[&str]) -> Output {
    crate::support::jcdiag(sandbox.dir.path())
        .args(args)
        .run()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn commands_run_by_the_harness_change_nothing_outside_the_tests_temp_folder() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", log_lines(20, "isolation"));
    let root = sandbox.root();
    let root = root.to_str().unwrap();
    let on_sandbox = ["--sysroot", root, "--target-os", "linux"];
    let form = [
        "--description",
        "agent offline",
        "--severity",
        "3",
        "--tier",
        "standard",
        "--email",
        "admin@example.com",
    ];
    // Nothing listens on port 9: deliveries fail at once and the case is kept.
    let down = ["--endpoint", "https://127.0.0.1:9", "--token", "jcd_x"];
    let before = outside_state();

    // A bundle where no --out says (the working folder), an alias table in the state folder.
    let output = run(
        &sandbox,
        &[
            &["collect", "--json", "--obfuscate", "all"][..],
            &on_sandbox,
        ]
        .concat(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // A case kept in the outbox, and the log, in the default state folder.
    let output = run(
        &sandbox,
        &[
            &["submit", "--yes", "--json", "--deadline", "1s"][..],
            &form,
            &on_sandbox,
            &down,
        ]
        .concat(),
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let output = run(&sandbox, &["outbox", "list", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let kept: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(kept.as_array().map(Vec::len), Some(1), "{kept}");

    // Email drafts where no --out says.
    let output = run(
        &sandbox,
        &[
            &["submit", "--via", "email", "--yes", "--json"][..],
            &form,
            &on_sandbox,
        ]
        .concat(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = run(
        &sandbox,
        &[
            &["escalate", "--case", "00000042", "--reason", "still down"][..],
            &["--email", "admin@example.com", "--deadline", "1s"],
            &down,
        ]
        .concat(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // A recording (its spool is a temp file) and its bundle.
    let output = run(
        &sandbox,
        &[&["record", "--for", "1s", "--silent"][..], &on_sandbox].concat(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let after = outside_state();
    let changed: Vec<String> = before
        .iter()
        .filter(|(path, was)| after.get(*path) != Some(was))
        .map(|(path, was)| format!("changed or removed: {} (was {was})", path.display()))
        .chain(
            after
                .keys()
                .filter(|path| !before.contains_key(*path))
                .map(|path| format!("created: {}", path.display())),
        )
        .collect();
    assert!(
        changed.is_empty(),
        "the tests' jcdiag reached outside the test's temp folder:\n{}",
        changed.join("\n")
    );
}
