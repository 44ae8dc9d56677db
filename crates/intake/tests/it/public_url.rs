//! The installers carry this endpoint's URL, and a client can download and run them as root:
//! the URL must be the one the operator configured (`serve --public-url`), never one built
//! from the request's `Host` header.

use jcdiag_testkit::Launch;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_jcdiag-intake");

/// Kills the server process even when an assertion fails.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn releases(dir: &Path) {
    std::fs::create_dir_all(dir.join("1.2.3").join("x86_64-unknown-linux-gnu")).unwrap();
}

/// `serve` on a loopback port with `extra` flags; its `host:port`.
fn serve(data: &Path, extra: &[&str]) -> (Server, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .env_remove("JCDIAG_INTAKE_DATA")
        .env_remove("JCDIAG_INTAKE_PUBLIC_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .start()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = Server(child);
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("serve {extra:?} did not start: {line:?}"))
        .to_owned();
    (server, addr)
}

/// GET `path` with a `Host` header of the caller's choosing; the whole answer.
fn get_with_host(addr: &str, path: &str, host: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn the_installers_name_the_configured_url_whatever_host_the_request_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("releases");
    releases(&dir);
    let (_server, addr) = serve(
        &tmp.path().join("data"),
        &[
            "--releases",
            dir.to_str().unwrap(),
            "--public-url",
            "https://support.example.com/",
        ],
    );
    for path in ["/install.sh", "/install.ps1"] {
        let answer = get_with_host(&addr, path, "attacker.example:8443");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.contains("'https://support.example.com'"),
            "{path}: {answer}"
        );
        assert!(!answer.contains("attacker.example"), "{path}: {answer}");
    }
}

#[test]
fn without_a_public_url_the_installers_name_the_listen_address() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("releases");
    releases(&dir);
    let (_server, addr) = serve(
        &tmp.path().join("data"),
        &["--releases", dir.to_str().unwrap()],
    );
    let answer = get_with_host(&addr, "/install.sh", "attacker.example");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(&format!("'http://{addr}'")), "{answer}");
    assert!(!answer.contains("attacker.example"), "{answer}");
}

#[test]
fn releases_on_a_wildcard_address_need_a_public_url() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = jcdiag_testkit::Certs::generate(tmp.path());
    let dir = tmp.path().join("releases");
    releases(&dir);
    // Refused before anything is bound: a wildcard address is no URL a client can use.
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "0.0.0.0:0", "--tls-cert"])
        .arg(&certs.cert_pem)
        .arg("--tls-key")
        .arg(&certs.key_pem)
        .arg("--releases")
        .arg(&dir);
    let (code, stderr) = exit_of(command, &tmp.path().join("data"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--public-url"), "{stderr}");

    // A public URL that is not a plain http(s) origin (and path) is refused too.
    for bad in [
        "ftp://support.example.com",
        "https://support.example.com/x'$(id)",
        "https://u:p@support.example.com",
        "https://support.example.com/?q=1",
    ] {
        let mut command = Command::new(BIN);
        command.args(["serve", "--listen", "127.0.0.1:0", "--public-url", bad]);
        let (code, stderr) = exit_of(command, &tmp.path().join("data"));
        assert_eq!(code, Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("--public-url"), "{bad}: {stderr}");
    }
}

/// Runs a `serve` that must refuse to start; its exit code and stderr. One that starts
/// anyway is killed and fails the test rather than hanging it.
fn exit_of(mut command: Command, data: &Path) -> (Option<i32>, String) {
    let mut child = Server(
        command
            .arg("--data")
            .arg(data)
            .env_remove("JCDIAG_INTAKE_DATA")
            .env_remove("JCDIAG_INTAKE_PUBLIC_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .start()
            .unwrap(),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve started when it should have refused"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), stderr)
}
