//! Two or more processes on one fresh data folder: `serve`, `token create` and `case list`
//! started at the same moment, as the README's steps and an install script do. The store's
//! creation and migration must be atomic across processes, and the server must stay up.

use jcdiag_testkit::Launch;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_jcdiag-intake");

/// Kills the server process even when an assertion fails.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(data: &Path, args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("JCDIAG_INTAKE_DATA")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .start()
        .unwrap()
}

fn finished(child: Child, what: &str) -> Output {
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{what} failed ({:?}): {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn serve_and_commands_started_together_on_a_fresh_folder_all_succeed() {
    for round in 0..20 {
        let tmp = tempfile::tempdir().unwrap();
        // A fresh, empty data folder, as an install script makes it.
        let data = tmp.path();
        let server = spawn(data, &["serve", "--listen", "127.0.0.1:0"]);
        let tokens: Vec<Child> = (0..3)
            .map(|i| spawn(data, &["token", "create", "--org", &format!("org{i}")]))
            .collect();
        let list = spawn(data, &["case", "list", "--json"]);

        for child in tokens {
            let output = finished(child, &format!("round {round}: token create"));
            let token = String::from_utf8(output.stdout).unwrap();
            assert!(token.starts_with("jcd_"), "round {round}: {token}");
        }
        let output = finished(list, &format!("round {round}: case list"));
        let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(listed, serde_json::json!([]), "round {round}");

        let mut server = Server(server);
        let mut line = String::new();
        BufReader::new(server.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("listening on "),
            "round {round}: the server did not start: {line:?}, {:?}",
            server.0.try_wait()
        );
        // And it is still running, with every command's work visible to it.
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "round {round}: server exited"
        );
        let after = Command::new(BIN)
            .args(["case", "list"])
            .arg("--data")
            .arg(data)
            .env_remove("JCDIAG_INTAKE_DATA")
            .run()
            .unwrap();
        assert!(after.status.success(), "round {round}");
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "round {round}: server exited"
        );
    }
}
