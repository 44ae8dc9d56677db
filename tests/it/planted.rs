//! Issue #13, class 6: `collect` run as root must not follow a symbolic link at any folder on the
//! way to what it reads (agent folders, users' screenshot folders), and reads users' folders with
//! that user's rights in mind. Each case plants the link in a `--sysroot` layout and checks that
//! nothing of the target reaches the bundle (every byte searched), that the manifest says why,
//! and that the run still finishes with the genuine files.
//!
//! Windows junctions cannot be made under wine; the Windows component walk is tested on
//! constructed paths in `jcdiag_fs::fsafe`'s unit tests.

#![cfg(unix)]

use crate::support::{Bundle, Sandbox, log_lines};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

const SHADOW: &str = "root:$6$PLANTEDSALT$SHADOWHASHSHADOWHASHSHADOWHASH:19000:0:99999:7:::\n";
const SHADOW_MARK: &[u8] = b"SHADOWHASHSHADOWHASH";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

fn assert_ok(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "jcdiag failed ({:?}):\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A folder outside the sysroot that only root can enter, holding `files`.
fn root_only_folder(sandbox: &Sandbox, name: &str, files: &[(&str, &[u8])]) -> std::path::PathBuf {
    let dir = sandbox.dir.path().join(name);
    for (file, bytes) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// The manifest's skips whose path or reason names `what`, as "path: reason" lines.
fn skips_naming(bundle: &Bundle, what: &str) -> Vec<String> {
    bundle.manifest()["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}: {}",
                s["path"].as_str().unwrap_or_default(),
                s["reason"].as_str().unwrap_or_default()
            )
        })
        .filter(|line| line.contains(what))
        .collect()
}

fn assert_skipped_as_link(bundle: &Bundle, what: &str) {
    let skips = skips_naming(bundle, what);
    assert!(
        skips.iter().any(|s| s.contains("symbolic link")),
        "no skip naming {what} as a symbolic link; skipped: {}",
        bundle.manifest()["skipped"]
    );
}

/// A user's home owned by that user (when root can give it away), like a real one.
fn give_to(path: &Path, uid: u32) {
    if !is_root() {
        return;
    }
    for entry in walk(path) {
        std::os::unix::fs::lchown(&entry, Some(uid), None).unwrap();
    }
}

fn walk(path: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![path.to_path_buf()];
    if std::fs::symlink_metadata(path).unwrap().is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            out.extend(walk(&entry.unwrap().path()));
        }
    }
    out
}

#[test]
fn linked_agent_folders_are_not_followed() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", log_lines(5, "genuine"));
    let logs = root_only_folder(
        &sandbox,
        "elsewhere-logs",
        &[("shadow.log", SHADOW.as_bytes())],
    );
    let opt = root_only_folder(
        &sandbox,
        "elsewhere-opt",
        &[
            ("jcagent.conf", SHADOW.as_bytes()),
            ("version.txt", SHADOW.as_bytes()),
            ("loglevel.cache", SHADOW.as_bytes()),
            ("jcagentInstall.log", SHADOW.as_bytes()),
        ],
    );
    symlink(&logs, sandbox.path("/var/log/jumpcloud")).unwrap();
    std::fs::create_dir_all(sandbox.path("/opt")).unwrap();
    symlink(&opt, sandbox.path("/opt/jc")).unwrap();

    let output = sandbox.collect(&[]);
    assert_ok(&output);
    let bundle = sandbox.bundle();
    assert!(
        !bundle.contains(SHADOW_MARK),
        "a file behind a linked folder reached the bundle: {:?}",
        bundle.entries.keys()
    );
    assert!(!bundle.contains(b"PLANTEDSALT"));
    assert_skipped_as_link(&bundle, "/var/log/jumpcloud");
    assert_skipped_as_link(&bundle, "/opt/jc");
    assert!(
        bundle
            .text("logs/var/log/jcagent.log")
            .contains("genuine line 4")
    );
}

#[test]
fn a_linked_folder_on_the_way_to_a_system_fact_is_not_followed() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", log_lines(2, "genuine"));
    let etc = root_only_folder(
        &sandbox,
        "elsewhere-etc",
        &[
            ("os-release", b"NAME=\"SHADOWHASHSHADOWHASH\"\n"),
            ("hostname", b"SHADOWHASHSHADOWHASH\n"),
            ("passwd", SHADOW.as_bytes()),
        ],
    );
    symlink(&etc, sandbox.path("/etc")).unwrap();
    let output = sandbox.collect(&["--obfuscate", "users"]);
    assert_ok(&output);
    let bundle = sandbox.bundle();
    assert!(
        !bundle.contains(SHADOW_MARK),
        "{}",
        bundle.text("system.json")
    );
}

#[test]
fn a_home_pictures_link_to_a_root_only_folder_is_not_followed() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", log_lines(2, "genuine"));
    let mut secret = PNG.to_vec();
    secret.extend_from_slice(b"ROOT-ONLY-PICTURE-SECRET");
    let target = root_only_folder(
        &sandbox,
        "root-only-pictures",
        &[
            ("Screenshots/secret.png", &secret),
            ("secret2.png", &secret),
        ],
    );
    std::fs::create_dir_all(sandbox.path("/home/ana")).unwrap();
    symlink(&target, sandbox.path("/home/ana/Pictures")).unwrap();
    give_to(&sandbox.path("/home/ana"), 1234);

    let output = sandbox.collect(&["--screenshots-since", "1h"]);
    assert_ok(&output);
    let bundle = sandbox.bundle();
    assert!(
        !bundle.contains(b"ROOT-ONLY-PICTURE-SECRET"),
        "{:?}",
        bundle.entries.keys()
    );
    assert_skipped_as_link(&bundle, "/home/ana/Pictures");
}

#[test]
fn an_xdg_pictures_dir_through_a_linked_component_is_not_followed() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", log_lines(2, "genuine"));
    let mut secret = PNG.to_vec();
    secret.extend_from_slice(b"XDG-LINKED-PICTURE-SECRET");
    let target = root_only_folder(
        &sandbox,
        "root-only-media",
        &[("shots/secret.png", &secret)],
    );
    sandbox.write(
        "/home/ana/.config/user-dirs.dirs",
        "XDG_PICTURES_DIR=\"$HOME/media/shots\"\n",
    );
    symlink(&target, sandbox.path("/home/ana/media")).unwrap();
    // A genuine screenshot of hers in the same run is still found.
    let mut mine = PNG.to_vec();
    mine.extend_from_slice(b"ANA-OWN-SCREENSHOT");
    sandbox.write("/home/ana/Pictures/Screenshots/mine.png", &mine);
    give_to(&sandbox.path("/home/ana"), 1234);

    let output = sandbox.collect(&["--screenshots-since", "1h"]);
    assert_ok(&output);
    let bundle = sandbox.bundle();
    assert!(
        !bundle.contains(b"XDG-LINKED-PICTURE-SECRET"),
        "{:?}",
        bundle.entries.keys()
    );
    assert_skipped_as_link(&bundle, "/home/ana/media");
    assert!(bundle.contains(b"ANA-OWN-SCREENSHOT"));
}

#[test]
fn when_root_a_users_folder_is_read_with_that_users_rights() {
    if !is_root() {
        eprintln!("not root: the user-rights rule applies to elevated runs only; skipped");
        return;
    }
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", log_lines(2, "genuine"));
    let mut mine = PNG.to_vec();
    mine.extend_from_slice(b"ANA-OWN-SCREENSHOT");
    sandbox.write("/home/ana/Pictures/Screenshots/mine.png", &mine);
    give_to(&sandbox.path("/home/ana"), 1234);
    // Root's own file in her folder, which she cannot read.
    let mut secret = PNG.to_vec();
    secret.extend_from_slice(b"ROOT-0600-IN-HER-FOLDER");
    let planted = sandbox.write("/home/ana/Pictures/Screenshots/root.png", &secret);
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Another user's file she cannot read.
    let mut bobs = PNG.to_vec();
    bobs.extend_from_slice(b"BOB-0600-IN-HER-FOLDER");
    let bob = sandbox.write("/home/ana/Pictures/Screenshots/bob.png", &bobs);
    std::fs::set_permissions(&bob, std::fs::Permissions::from_mode(0o600)).unwrap();
    rustix::fs::chown(&bob, Some(rustix::fs::Uid::from_raw(4321)), None).unwrap();
    // A folder of hers that only root can enter.
    let mut locked = PNG.to_vec();
    locked.extend_from_slice(b"ROOT-LOCKED-FOLDER-SECRET");
    sandbox.write(
        "/home/ana/.config/user-dirs.dirs",
        "XDG_PICTURES_DIR=\"$HOME/locked\"\n",
    );
    give_to(&sandbox.path("/home/ana/.config"), 1234);
    let locked_file = sandbox.write("/home/ana/locked/l.png", &locked);
    let locked_dir = locked_file.parent().unwrap();
    std::fs::set_permissions(locked_dir, std::fs::Permissions::from_mode(0o700)).unwrap();

    let output = sandbox.collect(&["--screenshots-since", "1h"]);
    assert_ok(&output);
    let bundle = sandbox.bundle();
    assert!(
        bundle.contains(b"ANA-OWN-SCREENSHOT"),
        "{:?}",
        bundle.entries.keys()
    );
    for secret in [
        &b"ROOT-0600-IN-HER-FOLDER"[..],
        b"BOB-0600-IN-HER-FOLDER",
        b"ROOT-LOCKED-FOLDER-SECRET",
    ] {
        assert!(
            !bundle.contains(secret),
            "{} reached the bundle; skipped: {}",
            String::from_utf8_lossy(secret),
            bundle.manifest()["skipped"]
        );
    }
    for what in ["root.png", "bob.png", "/home/ana/locked"] {
        let skips = skips_naming(&bundle, what);
        assert!(
            skips.iter().any(|s| s.contains("could not read")),
            "{what}: {skips:?} in {}",
            bundle.manifest()["skipped"]
        );
    }
}
