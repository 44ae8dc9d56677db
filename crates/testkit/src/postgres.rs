//! A real PostgreSQL server for tests (Debian's `postgresql` package), one per test binary,
//! started on first use, and a fresh database per [`crate::Intake`].
//!
//! `initdb` refuses to run as root, so the cluster lives in a temp folder owned by the
//! `postgres` user and both `initdb` and the server run as that user (`runuser`). The server
//! listens on a loopback port only, with password (SCRAM) authentication, so the intake's
//! "password from the environment, never the URL" path is what the tests use.
//!
//! Stopping: the server runs under a small shell that waits for the test process to go away
//! (however it exits), then stops the server and removes the folder.
//!
//! The `postgres` client runs its own runtime, which tokio forbids inside an async test, so
//! everything here that talks to the server runs on a thread of its own ([`off_runtime`]).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use jcdiag_intake::backend::postgres::Database;

use crate::Launch;

/// The environment switch that runs the intake suite on PostgreSQL.
pub const SWITCH: &str = "JCDIAG_TEST_METADATA";

const USER: &str = "jcdiag";

pub struct Server {
    pub port: u16,
    pub password: String,
    _guard: Mutex<Child>,
}

/// True when the suite was asked to run on PostgreSQL (`JCDIAG_TEST_METADATA=postgres`).
pub fn requested() -> bool {
    std::env::var(SWITCH).is_ok_and(|v| v == "postgres")
}

/// True (after saying why on stderr) when the suite runs on PostgreSQL and the calling test
/// exercises something that backend does not have yet: the test then returns early.
pub fn skip(what: &str) -> bool {
    // S3 runs with PostgreSQL metadata.
    let on_postgres = requested() || crate::s3::requested();
    if on_postgres {
        eprintln!("skipped on PostgreSQL: {what}");
    }
    on_postgres
}

/// The `bin` folder of the newest installed PostgreSQL, if any.
pub fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Why PostgreSQL tests cannot run here, if they cannot.
pub fn unavailable() -> Option<String> {
    if cfg!(not(target_os = "linux")) {
        return Some("PostgreSQL tests run on Linux only".into());
    }
    if bin_dir().is_none() {
        return Some(
            "PostgreSQL is not installed (apt-get install postgresql; .ci/run installs it)".into(),
        );
    }
    if !Command::new("id")
        .args(["-u", "postgres"])
        .run()
        .is_ok_and(|o| o.status.success())
    {
        return Some("there is no `postgres` user to run the server as".into());
    }
    None
}

/// The server of this test binary, started on first use.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| off_runtime(start))
}

/// Runs `work` on a thread outside any async runtime (see the module's notes).
pub fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Where the cluster's folder goes: the temp folder when the `postgres` user can reach it,
/// else that user's home. A temp folder of the suite's own (`.ci/run` makes one with
/// `mktemp -d`, mode 0700, owned by root) is closed to the server's user.
fn cluster_parent() -> PathBuf {
    let temp = std::env::temp_dir();
    let reachable = Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(&temp)
        .run()
        .is_ok_and(|o| o.status.success());
    if reachable {
        return temp;
    }
    let home = Command::new("getent")
        .args(["passwd", "postgres"])
        .run()
        .ok()
        .and_then(|o| {
            let line = String::from_utf8(o.stdout).ok()?;
            line.trim_end().split(':').nth(5).map(PathBuf::from)
        })
        .filter(|home| home.is_dir());
    home.unwrap_or_else(|| PathBuf::from("/tmp"))
}

fn run_as_postgres(bin: &Path, tool: &str, args: &[&str]) {
    let output = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join(tool))
        .args(args)
        .run()
        .unwrap();
    assert!(
        output.status.success(),
        "{tool} {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn start() -> Server {
    if let Some(reason) = unavailable() {
        panic!("PostgreSQL tests need a server: {reason}");
    }
    let bin = bin_dir().unwrap();
    let folder = tempfile::Builder::new()
        .prefix("jcdiag-pg-")
        .tempdir_in(cluster_parent())
        .unwrap()
        .keep();
    let chown = Command::new("chown")
        .arg("postgres:postgres")
        .arg(&folder)
        .run()
        .unwrap();
    assert!(chown.status.success());
    let password = crate::uuid();
    let pwfile = folder.join("pw");
    std::fs::write(&pwfile, &password).unwrap();
    Command::new("chown")
        .arg("postgres:postgres")
        .arg(&pwfile)
        .run()
        .unwrap();
    let data = folder.join("data");
    run_as_postgres(
        &bin,
        "initdb",
        &[
            "-D",
            data.to_str().unwrap(),
            "-U",
            USER,
            "--pwfile",
            pwfile.to_str().unwrap(),
            "--auth",
            "scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
        ],
    );
    std::fs::remove_file(&pwfile).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The shell stops the server and removes the folder once this process is gone.
    let script = format!(
        "{postgres} -D {data} -p {port} -c listen_addresses=127.0.0.1 -k {folder} \
         -c fsync=off -c max_connections=200 >{folder}/log 2>&1 & pid=$!; \
         while [ -d /proc/{me} ]; do sleep 1; done; \
         kill -INT $pid; wait $pid; rm -rf {folder}",
        me = std::process::id(),
        postgres = bin.join("postgres").display(),
        data = data.display(),
        folder = folder.display(),
    );
    crate::remove_at_exit(folder.clone());
    let guard = Command::new("runuser")
        .args(["-u", "postgres", "--", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .start()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = postgres::Config::new()
            .host("127.0.0.1")
            .port(port)
            .user(USER)
            .password(&password)
            .dbname("postgres")
            .connect(postgres::NoTls);
        match ready {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(error) => {
                let mut log = String::new();
                let _ = std::fs::File::open(folder.join("log"))
                    .and_then(|mut f| f.read_to_string(&mut log));
                panic!("PostgreSQL did not start on port {port}: {error}\n{log}");
            }
        }
    }
    Server {
        port,
        password,
        _guard: Mutex::new(guard),
    }
}

impl Server {
    /// A new, empty database and how to reach it (the password kept apart, as the intake
    /// takes it from the environment).
    pub fn database(&self) -> Database {
        off_runtime(|| self.create_database())
    }

    fn create_database(&self) -> Database {
        let name = format!("t{}", crate::uuid().replace('-', ""));
        let mut admin = postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(USER)
            .password(&self.password)
            .dbname("postgres")
            .connect(postgres::NoTls)
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        Database {
            url: format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port),
            password: Some(self.password.clone()),
        }
    }
}
