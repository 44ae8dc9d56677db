//! Real email tooling for the tests: Python's `email` package reads what jcdiag wrote, and
//! aiosmtpd (from PyPI; `scripts/test.sh` installs it) is a real SMTP server on 127.0.0.1.

use jcdiag_testkit::Launch;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python that has aiosmtpd: `JCDIAG_TEST_PYTHON` (the virtual environment
/// `scripts/test.sh` makes), else `python3` from PATH.
fn python() -> Command {
    Command::new(std::env::var_os("JCDIAG_TEST_PYTHON").unwrap_or_else(|| "python3".into()))
}

/// Parses `eml` with Python's `email` package (the policy mail clients use) and returns what a
/// mail client sees: headers, defects, body text and each attachment's name and SHA-256.
pub fn parse(eml: &Path) -> serde_json::Value {
    const SCRIPT: &str = r#"
import email, email.policy, hashlib, json, sys
with open(sys.argv[1], 'rb') as f:
    msg = email.message_from_binary_file(f, policy=email.policy.default)
defects = [type(d).__name__ for d in msg.defects]
attachments, body = [], ''
for part in msg.walk():
    defects += [type(d).__name__ for d in part.defects]
    if part.is_multipart():
        continue
    if part.get_filename():
        data = part.get_payload(decode=True)
        attachments.append({'name': part.get_filename(), 'sha256': hashlib.sha256(data).hexdigest(), 'size': len(data)})
    elif part.get_content_type() == 'text/plain':
        body += part.get_content()
print(json.dumps({
    'headers': {k: str(v) for k, v in msg.items()},
    'defects': defects, 'body': body, 'attachments': attachments,
}))
"#;
    let output = python()
        .arg("-c")
        .arg(SCRIPT)
        .arg(eml)
        .run()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

pub fn assert_parses_without_defects(eml: &Path) {
    let parsed = parse(eml);
    assert_eq!(parsed["defects"], serde_json::json!([]), "{parsed}");
}

/// aiosmtpd on 127.0.0.1, saving every message it accepts into a Maildir.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
}

impl SmtpServer {
    /// `tls`: (certificate, key) PEM files for implicit TLS (smtps), or plain SMTP.
    pub fn start(dir: &Path, tls: Option<(&Path, &Path)>) -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = dir.join("maildir");
        let mut command = python();
        command
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((cert, key)) = tls {
            command
                .arg("--smtpscert")
                .arg(cert)
                .arg("--smtpskey")
                .arg(key);
        }
        command.arg(&maildir);
        let mut child = command.start().expect("python3 runs");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                panic!(
                    "aiosmtpd did not start ({status}): {err}\nRun the tests with scripts/test.sh: it installs aiosmtpd in a virtual environment and sets JCDIAG_TEST_PYTHON"
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "aiosmtpd did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer {
            child,
            port,
            maildir,
        }
    }

    /// Every message received so far.
    pub fn received(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries.map(|e| e.unwrap().path()).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
