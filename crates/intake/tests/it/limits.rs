//! Connections and failed logins (issue #13, class 5): the server holds a bounded number of
//! connections and closes idle ones, and failed authentications are logged (address and
//! reason, never the token) and slowed per address.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jcdiag_testkit::{Intake, ORG, case_json, uuid};
use reqwest::Method;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::raw::Raw;

/// True if the server closes `tcp` (EOF or reset) before `deadline`.
async fn closed_by(tcp: &mut TcpStream, deadline: tokio::time::Instant) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn connections_are_capped() {
    let intake = Intake::start_with(|c| c.guards.max_connections = 8).await;
    // 20 connections that never even start TLS.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(intake.addr).await.unwrap());
    }
    // Those past the cap are closed at once, long before the handshake timeout.
    let soon = tokio::time::Instant::now() + Duration::from_secs(4);
    let mut closed = 0;
    for tcp in &mut idle {
        closed += usize::from(closed_by(tcp, soon).await);
    }
    assert!(
        closed >= 12,
        "only {closed} of 20 idle connections were refused under a cap of 8"
    );
    // Once they go, real requests are served again.
    drop(idle);
    let reply = intake.submit(&jcdiag_testkit::sample_bundle()).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let intake = Intake::start_with(|c| c.guards.idle_timeout = Duration::from_secs(2)).await;
    // One that never starts TLS, one that finishes TLS but sends no request.
    let mut tcp = TcpStream::connect(intake.addr).await.unwrap();
    let mut quiet = Raw::connect(&intake).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    assert!(
        closed_by(&mut tcp, deadline).await,
        "a silent connection was kept"
    );
    assert!(
        quiet.closed_within(Duration::from_secs(15)).await,
        "a connection idle after TLS was kept"
    );
    let reply = intake.submit(&jcdiag_testkit::sample_bundle()).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
}

/// Collects what the server logs on this thread.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// A single-threaded runtime, so the server's request handling logs to this thread's subscriber.
#[test]
fn failed_logins_are_logged_and_slowed() {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let wrong = format!("jcd_guess{}", uuid().replace('-', ""));
    runtime.block_on(async {
        let intake = Intake::start_with(|c| c.guards.max_auth_failures = 3).await;
        let good = intake.token(ORG, None);
        let create = |token: &str| {
            let body =
                json!({"case": case_json(), "bundle": {"sha256": "ab".repeat(32), "size": 1000}});
            intake
                .request(Method::POST, "/v1/cases", Some(token))
                .header("Idempotency-Key", uuid())
                .json(&body)
        };
        for _ in 0..3 {
            let reply = intake.send("/v1/cases", create(&wrong)).await;
            assert_eq!(reply.status, 401, "{}", reply.body);
        }
        // The fourth guess from the same address is not even checked.
        let reply = intake.send("/v1/cases", create(&wrong)).await;
        assert_eq!(reply.status, 429, "{}", reply.body);
        assert_eq!(reply.error(), "too_many_failed_logins");
        let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
        assert!(wait > 0);
        // Nor is a right one, until the window has passed.
        let reply = intake.send("/v1/cases", create(&good)).await;
        assert_eq!(reply.status, 429, "{}", reply.body);
    });
    drop(runtime);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let failures: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("authentication failed"))
        .collect();
    assert_eq!(failures.len(), 3, "each failure is logged once:\n{text}");
    for line in failures {
        assert!(line.contains("127.0.0.1"), "the address is logged: {line}");
        assert!(
            line.contains("unknown token"),
            "the reason is logged: {line}"
        );
    }
    assert!(
        !text.contains(&wrong[4..]),
        "the token leaked into the log:\n{text}"
    );
}
