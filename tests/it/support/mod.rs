//! A tiny harness for running `jcdiag` against file-system layouts built in temp folders.
#![allow(dead_code)]

pub mod canary;
pub mod email;
pub mod proxy;
pub mod relay;

pub use jcdiag_testkit::*;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// A temp folder holding a system root (`root/`) and an output folder (`out/`).
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub os: &'static str,
}

impl Sandbox {
    pub fn new(os: &'static str) -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("root")).unwrap();
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        Sandbox { dir, os }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// The real path of a system path (`/var/log/x`, `C:\Windows\Temp\x`) in the root.
    pub fn path(&self, system_path: &str) -> PathBuf {
        let rest = system_path
            .trim_start_matches("C:\\")
            .trim_start_matches('/');
        let mut path = self.root();
        path.extend(rest.split(['/', '\\']));
        path
    }

    /// Writes a file at a system path, creating folders.
    pub fn write(&self, system_path: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(system_path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Sets a file's modification time to `secs_ago` seconds before now.
    pub fn age(&self, system_path: &str, secs_ago: u64) {
        let file = std::fs::File::options()
            .write(true)
            .open(self.path(system_path))
            .unwrap();
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(secs_ago);
        file.set_modified(when).unwrap();
    }

    /// `jcdiag collect --sysroot root --target-os OS --out out ARGS…`
    pub fn collect(&self, args: &[&str]) -> Output {
        let mut command = jcdiag(self.dir.path());
        command
            .arg("collect")
            .arg("--sysroot")
            .arg(self.root())
            .args(["--target-os", self.os])
            .arg("--out")
            .arg(self.out());
        command.args(args);
        command.run().expect("jcdiag runs")
    }

    /// The one bundle in `out/`.
    pub fn bundle(&self) -> Bundle {
        let zips: Vec<PathBuf> = std::fs::read_dir(self.out())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(zips.len(), 1, "expected exactly one file in out/: {zips:?}");
        Bundle::open(&zips[0])
    }

    /// Every file name in `out/`.
    pub fn out_files(&self) -> Vec<String> {
        std::fs::read_dir(self.out())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

/// Every file under `dir`, depth first (none if `dir` does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The `jcdiag` binary under test, with no config or environment leaking in, kept inside the
/// test's temp folder `dir` (see [`isolate`]).
pub fn jcdiag(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jcdiag"));
    isolate(&mut command, dir);
    command.stdin(Stdio::null());
    command
}

/// Points everything a spawned jcdiag (or a script that runs it) could write outside its
/// arguments into the test's temp folder `dir`: run as root, jcdiag's defaults are system
/// folders (/var/lib/jcdiag, /etc/jcdiag/config.toml) and root ignores XDG_*. So: its state
/// folder (`dir/state`), an explicit config file (`dir/config.toml`, made empty unless the
/// test wrote one), HOME (`dir/home`), the temp folder (`dir/tmp`) and the working folder
/// (bundles and email drafts go there when no --out says). Flags the test passes still win.
pub fn isolate(command: &mut Command, dir: &Path) {
    for (key, _) in std::env::vars() {
        if key.starts_with("JCDIAG_") {
            command.env_remove(key);
        }
    }
    // Tests talk to loopback directly unless they set a proxy themselves.
    for proxy in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        command.env_remove(proxy);
    }
    let config = dir.join("config.toml");
    let (home, tmp) = (dir.join("home"), dir.join("tmp"));
    for folder in [&home, &tmp] {
        std::fs::create_dir_all(folder).unwrap();
    }
    // A config path that does not exist is an error; an empty one is the defaults.
    match std::fs::File::create_new(&config) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("{}: {e}", config.display()),
    }
    command
        .env("JCDIAG_CONFIG", &config)
        .env("JCDIAG_STATE_DIR", dir.join("state"))
        // No network check of `submit` reaches a real JumpCloud host: tests that check the
        // network remove this and aim every target at loopback (`--check-host`).
        .env("JCDIAG_OFFLINE", "true")
        .env("HOME", &home)
        .env_remove("XDG_STATE_HOME")
        .env_remove("XDG_CONFIG_HOME")
        // TMPDIR on Unix, TMP/TEMP on Windows.
        .env("TMPDIR", &tmp)
        .env("TMP", &tmp)
        .env("TEMP", &tmp)
        .current_dir(dir);
}

/// A bundle read with a real zip reader.
pub struct Bundle {
    pub path: PathBuf,
    pub raw: Vec<u8>,
    pub entries: BTreeMap<String, Vec<u8>>,
}

impl Bundle {
    pub fn open(path: &Path) -> Bundle {
        let raw = std::fs::read(path).unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(raw.clone())).expect("a valid zip");
        let mut entries = BTreeMap::new();
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            entries.insert(entry.name().unwrap().to_string(), bytes);
        }
        Bundle {
            path: path.to_path_buf(),
            raw,
            entries,
        }
    }

    pub fn json(&self, name: &str) -> Value {
        serde_json::from_slice(
            self.entries
                .get(name)
                .unwrap_or_else(|| panic!("no {name} in bundle")),
        )
        .unwrap()
    }

    pub fn text(&self, name: &str) -> String {
        String::from_utf8_lossy(
            self.entries
                .get(name)
                .unwrap_or_else(|| panic!("no {name} in {:?}", self.entries.keys())),
        )
        .into_owned()
    }

    pub fn manifest(&self) -> Value {
        self.json("manifest.json")
    }

    /// Whether `needle` appears in any entry (decompressed) or in the raw zip bytes.
    pub fn contains(&self, needle: &[u8]) -> bool {
        let finder = memchr::memmem::Finder::new(needle);
        finder.find(&self.raw).is_some() || self.entries.values().any(|e| finder.find(e).is_some())
    }

    /// The manifest's skip reason for a system path, if it was skipped.
    pub fn skip_reason(&self, system_path: &str) -> Option<String> {
        self.manifest()["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["path"] == system_path)
            .map(|s| s["reason"].as_str().unwrap().to_string())
    }
}

/// Realistic jcagent.log lines, `count` of them, timestamps one second apart ending now-ish.
pub fn log_lines(count: usize, tag: &str) -> String {
    let mut text = String::new();
    for i in 0..count {
        let level = if i % 50 == 7 { "ERROR" } else { "INFO" };
        text.push_str(&format!(
            "2021/05/07 09:{:02}:{:02} [32713] [{level}] {tag} line {i}: sending heartbeat to agent.jumpcloud.com\n",
            (i / 60) % 60,
            i % 60
        ));
    }
    text
}
