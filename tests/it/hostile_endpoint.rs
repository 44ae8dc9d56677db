//! `jcdiag submit` and `jcdiag escalate` against endpoints that misbehave on purpose: servers
//! written here, on 127.0.0.1 (plain `http://`, which jcdiag accepts to loopback only), that
//! never answer, answer a byte a second, answer with an endless body, or point the client at
//! another origin. Whatever they do, jcdiag must end within its `--deadline` (plus generous
//! slack), keep its memory small, keep the case in the outbox, and send its token nowhere but
//! the endpoint's origin.

use jcdiag_testkit::Launch;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Certs, Sandbox, jcdiag, log_lines};

/// The token jcdiag is given; a listener that sees it in a request records that.
const TOKEN: &str = "jcd_hostile_test_token_0123456789";

/// A connection, plain or TLS.
trait Conn: Read + Write {}
impl<T: Read + Write> Conn for T {}

/// What a hostile server does with each request: it gets the request head and the connection.
type Handler = Arc<dyn Fn(&str, &mut dyn Conn, &Shared) + Send + Sync>;

/// What the server's threads share with the test.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// When the first connection came: sending has started.
    first_contact: Mutex<Option<Instant>>,
    /// Every request head received.
    requests: Mutex<Vec<String>>,
    /// The server's own URL (`http://127.0.0.1:PORT` or `https://…`).
    url: OnceLock<String>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sleeps `d` unless the test is over; false once it is.
    fn pause(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if self.stopped() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        !self.stopped()
    }
}

/// A hand-written HTTP/1.1 server on 127.0.0.1, one thread per connection, stopped on drop.
struct Hostile {
    shared: Arc<Shared>,
}

impl Hostile {
    fn start(handler: impl Fn(&str, &mut dyn Conn, &Shared) + Send + Sync + 'static) -> Hostile {
        Self::listen(None, Arc::new(handler))
    }

    /// The same over TLS, with the test certificates (a leaf for 127.0.0.1).
    fn start_tls(
        certs: &Certs,
        handler: impl Fn(&str, &mut dyn Conn, &Shared) + Send + Sync + 'static,
    ) -> Hostile {
        let config =
            jcdiag_intake::tls::load_server_config(&certs.cert_pem, &certs.key_pem).unwrap();
        Self::listen(Some(config), Arc::new(handler))
    }

    fn listen(tls: Option<Arc<rustls::ServerConfig>>, handler: Handler) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let scheme = if tls.is_some() { "https" } else { "http" };
        shared.url.set(format!("{scheme}://{addr}")).unwrap();
        let serving = shared.clone();
        std::thread::spawn(move || {
            while !serving.stopped() {
                match listener.accept() {
                    Ok((stream, _)) => {
                        serving
                            .first_contact
                            .lock()
                            .unwrap()
                            .get_or_insert_with(Instant::now);
                        let (shared, handler, tls) =
                            (serving.clone(), handler.clone(), tls.clone());
                        std::thread::spawn(move || {
                            stream.set_nonblocking(false).unwrap();
                            stream
                                .set_read_timeout(Some(Duration::from_millis(100)))
                                .unwrap();
                            match tls {
                                Some(config) => {
                                    let session = rustls::ServerConnection::new(config).unwrap();
                                    let mut stream = rustls::StreamOwned::new(session, stream);
                                    serve(&mut stream, &handler, &shared)
                                }
                                None => serve(&mut { stream }, &handler, &shared),
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Hostile { shared }
    }

    fn url(&self) -> String {
        self.shared.url.get().unwrap().clone()
    }

    fn first_contact(&self) -> Option<Instant> {
        *self.shared.first_contact.lock().unwrap()
    }

    fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads requests (head plus a Content-Length body) off one connection and hands each to
/// `handler`, until the peer goes or the test ends.
fn serve(stream: &mut dyn Conn, handler: &Handler, shared: &Shared) {
    let mut buffer = Vec::new();
    let mut byte = [0u8; 4096];
    while !shared.stopped() {
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut byte) {
                Ok(0) => return,
                Ok(n) => buffer.extend_from_slice(&byte[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buffer[..end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buffer.len() < end + 4 + length && !shared.stopped() {
            match stream.read(&mut byte) {
                Ok(0) => return,
                Ok(n) => buffer.extend_from_slice(&byte[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
        buffer.drain(..(end + 4 + length).min(buffer.len()));
        shared.requests.lock().unwrap().push(head.clone());
        handler(&head, stream, shared);
    }
}

/// Accepts, reads the request, and never answers.
fn silent(_: &str, _: &mut dyn Conn, shared: &Shared) {
    while shared.pause(Duration::from_secs(1)) {}
}

/// Answers one byte a second, forever: every read succeeds, none completes the answer.
fn trickle(_: &str, stream: &mut dyn Conn, shared: &Shared) {
    let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n";
    for &b in head
        .iter()
        .chain(b"x-padding: ".iter())
        .chain(std::iter::repeat(&b'a'))
    {
        if !shared.pause(Duration::from_secs(1)) || stream.write_all(&[b]).is_err() {
            return;
        }
    }
}

/// Answers 500 with a body that never ends, as fast as the client reads it.
fn endless_error(_: &str, stream: &mut dyn Conn, shared: &Shared) {
    let head = "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let chunk = vec![b'x'; 64 << 10];
    let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
    while !shared.stopped() {
        if stream.write_all(&framed).is_err() {
            return;
        }
    }
}

/// A case to send: a small system to collect from, its own state folder.
struct Case {
    sandbox: Sandbox,
}

impl Case {
    fn new() -> Case {
        let sandbox = Sandbox::new("linux");
        sandbox.write("/var/log/jcagent.log", log_lines(50, "heartbeat"));
        Case { sandbox }
    }

    fn state(&self) -> PathBuf {
        self.sandbox.dir.path().join("state")
    }

    fn submit(&self, endpoint: &str, extra: &[&str]) -> std::process::Command {
        let mut command = jcdiag(self.sandbox.dir.path());
        command
            .args(["submit", "--json", "--silent"])
            .args(["--description", "Agent stopped checking in"])
            .args(["--severity", "2", "--tier", "premium"])
            .args(["--email", "admin@example.com"])
            .arg("--sysroot")
            .arg(self.sandbox.root())
            .args(["--target-os", "linux", "--endpoint", endpoint])
            .args(["--token", TOKEN])
            .arg("--state-dir")
            .arg(self.state())
            .args(extra);
        command
    }

    fn outbox_len(&self) -> usize {
        let output = jcdiag(self.sandbox.dir.path())
            .args(["outbox", "list", "--json", "--state-dir"])
            .arg(self.state())
            .run()
            .unwrap();
        let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
        listed.as_array().unwrap().len()
    }
}

/// A finished run: its output, and the most memory it ever held (Linux only).
struct Watched {
    output: Output,
    ended: Instant,
    peak_kib: Option<u64>,
}

/// Past this much resident memory jcdiag is killed and the test fails: generous, as a debug
/// build holding a whole error body in memory goes far beyond it.
const MEMORY_LIMIT_KIB: u64 = 200 << 10;
/// Past this long jcdiag is killed and the test fails.
const WALL_LIMIT: Duration = Duration::from_secs(120);

/// Runs `command`, watching its peak memory (VmHWM) every 50 ms; kills it past the limits.
async fn watch(mut command: std::process::Command) -> Watched {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .start()
            .unwrap();
        let mut peak_kib = None;
        loop {
            if let Some(kib) = vm_hwm_kib(child.id()) {
                peak_kib = Some(peak_kib.unwrap_or(0).max(kib));
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            let over_memory = peak_kib.is_some_and(|kib| kib > MEMORY_LIMIT_KIB);
            if over_memory || started.elapsed() > WALL_LIMIT {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().unwrap();
        Watched {
            output,
            ended: Instant::now(),
            peak_kib,
        }
    })
    .await
    .unwrap()
}

/// The peak resident set of a process, from `/proc/<pid>/status`.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn describe(run: &Watched) -> String {
    format!(
        "exit {:?}, peak {:?} KiB\nstdout: {}\nstderr: {}",
        run.output.status.code(),
        run.peak_kib,
        String::from_utf8_lossy(&run.output.stdout),
        String::from_utf8_lossy(&run.output.stderr)
    )
}

/// The deadline given, and how long after the first contact jcdiag may take to give up:
/// the deadline plus generous slack for a slow, shared machine (but well under the 30 s
/// per-read timeout that used to be the only bound).
const DEADLINE: &str = "3s";
const GIVE_UP_WITHIN: Duration = Duration::from_secs(20);

/// Submits to `server` with `--deadline 3s` and checks that jcdiag queued the case in time
/// and in little memory.
async fn assert_bounded_by_the_deadline(server: &Hostile) {
    let case = Case::new();
    let run = watch(case.submit(&server.url(), &["--deadline", DEADLINE])).await;
    let contact = server
        .first_contact()
        .unwrap_or_else(|| panic!("jcdiag never connected: {}", describe(&run)));
    let took = run.ended - contact;
    assert!(
        took < GIVE_UP_WITHIN,
        "jcdiag took {took:?} after connecting, with --deadline {DEADLINE}: {}",
        describe(&run)
    );
    if let Some(peak) = run.peak_kib {
        assert!(
            peak < MEMORY_LIMIT_KIB,
            "jcdiag held {peak} KiB: {}",
            describe(&run)
        );
    }
    assert_eq!(run.output.status.code(), Some(3), "{}", describe(&run));
    let json: Value = serde_json::from_slice(&run.output.stdout).unwrap();
    assert_eq!(json["status"], "queued", "{}", describe(&run));
    assert_eq!(case.outbox_len(), 1, "the case must stay in the outbox");
}

#[tokio::test]
async fn a_server_that_never_answers_is_given_up_on_at_the_deadline() {
    let server = Hostile::start(silent);
    assert_bounded_by_the_deadline(&server).await;
}

#[tokio::test]
async fn a_server_that_answers_a_byte_a_second_is_given_up_on_at_the_deadline() {
    let server = Hostile::start(trickle);
    assert_bounded_by_the_deadline(&server).await;
}

#[tokio::test]
async fn an_endless_error_body_is_read_only_up_to_a_cap() {
    let server = Hostile::start(endless_error);
    assert_bounded_by_the_deadline(&server).await;
}

#[tokio::test]
async fn an_escalation_to_a_silent_server_becomes_a_draft_at_the_deadline() {
    let server = Hostile::start(silent);
    let dir = tempfile::tempdir().unwrap();
    let mut command = jcdiag(dir.path());
    command
        .args(["escalate", "--case", "00000042", "--reason", "No answer"])
        .args(["--endpoint", &server.url(), "--token", TOKEN])
        .args([
            "--json",
            "--email",
            "admin@example.com",
            "--deadline",
            DEADLINE,
        ])
        .arg("--out")
        .arg(dir.path());
    let run = watch(command).await;
    let contact = server
        .first_contact()
        .unwrap_or_else(|| panic!("jcdiag never connected: {}", describe(&run)));
    let took = run.ended - contact;
    assert!(
        took < GIVE_UP_WITHIN,
        "escalate took {took:?} after connecting, with --deadline {DEADLINE}: {}",
        describe(&run)
    );
    assert_eq!(run.output.status.code(), Some(0), "{}", describe(&run));
    let json: Value = serde_json::from_slice(&run.output.stdout).unwrap();
    assert_eq!(json["status"], "drafted", "{}", describe(&run));
}

/// Writes one whole answer.
fn answer(stream: &mut dyn Conn, status: &str, headers: &[(&str, &str)], body: &str) {
    let mut text = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
}

/// The answer to a case creation, naming `upload_url`.
fn created(stream: &mut dyn Conn, upload_url: &str) {
    let body = serde_json::json!({
        "case_id": "00000001",
        "upload_url": upload_url,
        "response_due": null,
    })
    .to_string();
    answer(
        stream,
        "201 Created",
        &[("content-type", "application/json")],
        &body,
    );
}

/// The listener on another origin: anything that reaches it is a leak.
fn elsewhere(_: &str, stream: &mut dyn Conn, _: &Shared) {
    answer(stream, "404 Not Found", &[], "");
}

/// Submits to `endpoint` and checks that jcdiag refused to follow it to `other`: exit 4, the
/// case kept, both origins named, and nothing (so no token) sent to `other`.
async fn assert_refused_to_follow(
    case: &Case,
    endpoint: &Hostile,
    other: &Hostile,
    extra: &[&str],
) {
    let mut args = vec!["--deadline", "20s"];
    args.extend_from_slice(extra);
    let run = watch(case.submit(&endpoint.url(), &args)).await;
    assert!(
        other.requests().is_empty(),
        "jcdiag sent requests to {}: {:?}\n{}",
        other.url(),
        other.requests(),
        describe(&run)
    );
    assert!(
        endpoint.requests().iter().all(|r| r.contains(TOKEN)),
        "the endpoint itself gets the token"
    );
    assert_eq!(run.output.status.code(), Some(4), "{}", describe(&run));
    let json: Value = serde_json::from_slice(&run.output.stdout).unwrap();
    let error = json["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&endpoint.url()) && error.contains(&other.url()),
        "the refusal names both origins: {error}"
    );
    assert_eq!(case.outbox_len(), 1, "the case must stay in the outbox");
}

#[tokio::test]
async fn an_upload_url_on_another_origin_gets_no_token() {
    let other = Hostile::start(elsewhere);
    let upload_url = format!("{}/v1/uploads", other.url());
    let endpoint = Hostile::start(move |head, stream, _| {
        if head.starts_with("POST /v1/cases ") {
            created(stream, &upload_url);
        } else {
            answer(stream, "404 Not Found", &[], "");
        }
    });
    assert_refused_to_follow(&Case::new(), &endpoint, &other, &[]).await;
}

#[tokio::test]
async fn a_tus_location_on_another_origin_gets_no_token() {
    let other = Hostile::start(elsewhere);
    let location = format!("{}/v1/uploads/abc", other.url());
    let endpoint = Hostile::start(move |head, stream, shared| {
        if head.starts_with("POST /v1/cases ") {
            created(stream, &format!("{}/v1/uploads", shared.url.get().unwrap()));
        } else if head.starts_with("POST /v1/uploads ") {
            answer(
                stream,
                "201 Created",
                &[("tus-resumable", "1.0.0"), ("location", &location)],
                "",
            );
        } else {
            answer(stream, "404 Not Found", &[], "");
        }
    });
    assert_refused_to_follow(&Case::new(), &endpoint, &other, &[]).await;
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let other = Hostile::start(elsewhere);
    let target = format!("{}/v1/cases", other.url());
    let endpoint = Hostile::start(move |_, stream, _| {
        answer(
            stream,
            "307 Temporary Redirect",
            &[("location", &target)],
            "",
        );
    });
    assert_refused_to_follow(&Case::new(), &endpoint, &other, &[]).await;
}

#[tokio::test]
async fn an_https_endpoint_cannot_send_the_token_to_plain_http() {
    let case = Case::new();
    let certs = Certs::generate(case.sandbox.dir.path());
    let other = Hostile::start(elsewhere);
    let upload_url = format!("{}/v1/uploads", other.url());
    let endpoint = Hostile::start_tls(&certs, move |head, stream, _| {
        if head.starts_with("POST /v1/cases ") {
            created(stream, &upload_url);
        } else {
            answer(stream, "404 Not Found", &[], "");
        }
    });
    let ca = certs.ca_pem.to_str().unwrap().to_string();
    assert_refused_to_follow(&case, &endpoint, &other, &["--ca-file", &ca]).await;
}
