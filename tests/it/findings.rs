//! Findings: each condition planted in a sysroot layout and found with its evidence, in the
//! bundle (`findings.json`, the top of `summary.txt`) and by `jcdiag doctor`; the network checks
//! against loopback servers made here (never a real JumpCloud host, never DNS).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use chrono::{Duration, Local, Utc};
use jcdiag_protocol::{Check, Findings, Status};

use crate::support::*;

const CONF: &str = "/opt/jc/jcagent.conf";
const LOG: &str = "/var/log/jcagent.log";
const NEWEST: &str = "0.154.0";

/// A log line as the agent writes it, `ago` before now (local time, as the agent writes).
fn line(ago: Duration, level: &str, message: &str) -> String {
    let at = Local::now().naive_local() - ago;
    format!(
        "{} [4242] [{level}] {message}\n",
        at.format("%Y/%m/%d %H:%M:%S")
    )
}

/// A self-signed certificate valid from `from` to `to` days from now, as PEM.
fn certificate(from: i64, to: i64) -> String {
    let day = |n: i64| {
        let d = Utc::now() + Duration::days(n);
        rcgen::date_time_ymd(
            chrono::Datelike::year(&d),
            chrono::Datelike::month(&d) as u8,
            chrono::Datelike::day(&d) as u8,
        )
    };
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["device".to_string()]).unwrap();
    params.not_before = day(from);
    params.not_after = day(to);
    params.self_signed(&key).unwrap().pem()
}

/// An enrolled agent in good health: config with systemKey, the newest version, INFO level, a
/// log written a minute ago, a certificate valid for a year, its key and CA.
fn healthy() -> Sandbox {
    let sb = Sandbox::new("linux");
    sb.write(
        CONF,
        r#"{"agentServerHost":"agent.jumpcloud.com","systemKey":"5f3e0c1a2b3c4d5e6f708192","systemToken":"tok-secret-1"}"#,
    );
    sb.write("/opt/jc/version.txt", format!("{NEWEST}\n"));
    sb.write("/opt/jc/loglevel.cache", "INFO\n");
    sb.write("/opt/jc/client.crt", certificate(-30, 365));
    sb.write("/opt/jc/client.key", "not a real key: never opened");
    sb.write("/opt/jc/ca.crt", certificate(-30, 3650));
    sb.write(
        LOG,
        line(Duration::hours(2), "INFO", "Build version: 0.154.0")
            + &line(Duration::minutes(1), "INFO", "sending heartbeat"),
    );
    sb
}

fn findings_of(bundle: &Bundle) -> Findings {
    serde_json::from_slice(&bundle.entries["findings.json"]).unwrap()
}

fn check<'a>(findings: &'a Findings, id: &str) -> &'a Check {
    findings
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id} in {:?}", findings.checks))
}

/// `jcdiag doctor --sysroot … --json ARGS`: the findings and the exit code.
fn doctor(sb: &Sandbox, args: &[&str]) -> (Findings, i32) {
    let out = jcdiag(sb.dir.path())
        .env_remove("JCDIAG_OFFLINE")
        .arg("doctor")
        .arg("--sysroot")
        .arg(sb.root())
        .args(["--target-os", sb.os, "--json"])
        .args(args)
        .run()
        .unwrap();
    let findings = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (findings, out.status.code().unwrap())
}

#[test]
fn a_healthy_layout_gives_no_failure_and_doctor_exits_0() {
    let sb = healthy();
    let (findings, code) = doctor(&sb, &["--offline"]);
    let bad: Vec<_> = findings
        .checks
        .iter()
        .filter(|c| c.status >= Status::Warn)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(code, 0);
    for id in [
        "agent.installed",
        "agent.enrolled",
        "agent.version",
        "cert.client",
        "agent.log.fresh",
    ] {
        assert_eq!(check(&findings, id).status, Status::Ok, "{id}");
    }
    // The running processes of a disk are unknowable, and the network was not checked.
    assert_eq!(check(&findings, "agent.service").status, Status::Unknown);
    assert!(!findings.checks.iter().any(|c| c.id.starts_with("net.")));

    // The same in the bundle, which never holds the certificate or the key.
    let out = sb.collect(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = sb.bundle();
    let in_bundle = findings_of(&bundle);
    assert_eq!(in_bundle.schema, "jcdiag.findings/1");
    assert!(
        in_bundle.worst() < Some(Status::Warn),
        "{:#?}",
        in_bundle.checks
    );
    assert!(
        !bundle
            .entries
            .keys()
            .any(|n| n.ends_with(".crt") || n.ends_with(".key"))
    );
    assert!(!bundle.contains(b"tok-secret-1"));
    assert!(!bundle.contains(b"never opened"));
    let cert = check(&in_bundle, "cert.client");
    assert!(cert.summary.starts_with("valid until"), "{}", cert.summary);
}

#[test]
fn each_planted_condition_is_found_with_its_evidence() {
    let sb = healthy();
    sb.write(CONF, r#"{"agentServerHost":"agent.eu.jumpcloud.com"}"#);
    sb.write("/opt/jc/loglevel.cache", "DEBUG\n");
    sb.write("/opt/jc/client.crt", certificate(-400, -3));
    sb.write("/opt/jc/version.txt", "0.99.1\n");
    sb.write(
        LOG,
        line(Duration::days(4), "INFO", "Build version: 0.99.1")
            + &line(
                Duration::days(3) + Duration::hours(1),
                "INFO",
                "last heartbeat",
            ),
    );
    // The preview a user consents to says it first.
    let preview = sb.collect(&["--dry-run"]);
    let preview = String::from_utf8_lossy(&preview.stdout);
    assert!(preview.contains("What jcdiag found"), "{preview}");
    assert!(preview.contains("[FAIL] agent.enrolled"), "{preview}");
    assert!(sb.out_files().is_empty());
    let out = sb.collect(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings = findings_of(&sb.bundle());

    let enrolled = check(&findings, "agent.enrolled");
    assert_eq!(enrolled.status, Status::Fail);
    assert!(
        enrolled.summary.contains("no systemKey"),
        "{}",
        enrolled.summary
    );
    assert_eq!(
        enrolled.evidence[0].file.as_deref(),
        Some("agent/jcagent.conf")
    );

    let level = check(&findings, "agent.log-level");
    assert_eq!(level.status, Status::Warn);
    assert!(level.summary.contains("DEBUG"));
    assert_eq!(
        level.evidence[0].file.as_deref(),
        Some("agent/loglevel.cache")
    );
    assert_eq!(level.evidence[0].line, Some(1));
    assert!(level.advice.is_some() && level.link.is_some());

    let cert = check(&findings, "cert.client");
    assert_eq!(cert.status, Status::Fail);
    assert!(cert.summary.contains("expired 3 d"), "{}", cert.summary);

    let version = check(&findings, "agent.version");
    assert_eq!(version.status, Status::Fail);
    assert!(version.summary.contains("0.99.1"), "{}", version.summary);

    let fresh = check(&findings, "agent.log.fresh");
    assert_eq!(fresh.status, Status::Fail);
    assert!(
        fresh.summary.contains("is 3 d 1 h old"),
        "{}",
        fresh.summary
    );
    assert_eq!(
        fresh.evidence[0].file.as_deref(),
        Some("logs/var/log/jcagent.log")
    );
    assert_eq!(fresh.evidence[0].line, Some(2));
    assert!(fresh.evidence[0].text.ends_with("last heartbeat"));

    // The page support reads first opens with them, worst first.
    let summary = sb.bundle().text("summary.txt");
    let top = summary.split("Case:").next().unwrap();
    assert!(top.contains("Findings"), "{summary}");
    assert!(top.contains("[FAIL] agent.enrolled"), "{top}");
    assert!(
        top.find("[FAIL]").unwrap() < top.find("[WARN]").unwrap(),
        "{top}"
    );
}

#[test]
fn copies_of_an_error_with_other_ids_and_times_are_one_signature_with_exact_counts_and_times() {
    let sb = healthy();
    let mut rotated = String::new();
    let mut current = String::new();
    // Seven polls that failed with seven ids at seven times, across a rotated log and the
    // current one; a secret in one of them must not reach the signature.
    for i in 0..7u32 {
        let text = format!(
            "2026/11/2{} 0{i}:1{i}:0{i} [{}] [ERROR] failed to poll server: Get https://agent.jumpcloud.com:443/poll/{:024x}?token=sekrit{i}: EOF\n",
            i + 1,
            1000 + i,
            0xabc000 + i * 7919
        );
        if i < 3 {
            rotated += &text
        } else {
            current += &text
        }
    }
    current += &line(Duration::minutes(1), "WARN", "retry 3 of 5");
    sb.write(LOG, current);
    sb.write("/var/log/jcagent.log.1", rotated);
    let out = sb.collect(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = sb.bundle();
    let findings = findings_of(&bundle);
    let poll = &findings.signatures[0];
    assert_eq!(poll.count, 7);
    assert_eq!(poll.level, "ERROR");
    assert_eq!(poll.first_seen.as_deref(), Some("2026/11/21 00:10:00"));
    assert_eq!(poll.last_seen.as_deref(), Some("2026/11/27 06:16:06"));
    assert!(
        poll.signature
            .starts_with("failed to poll server: Get https://agent.jumpcloud.com:<n>/poll/<id>"),
        "{}",
        poll.signature
    );
    assert!(!serde_json::to_string(&findings).unwrap().contains("sekrit"));
    assert_eq!(poll.known.as_ref().unwrap().id, "poll-eof");
    // The example points at its line in the bundle.
    let file = poll.example.file.as_deref().unwrap();
    let line = poll.example.line.unwrap() as usize;
    let text = bundle.text(file);
    assert_eq!(text.lines().nth(line - 1).unwrap(), poll.example.text);
    let retry = findings
        .signatures
        .iter()
        .find(|s| s.level == "WARN")
        .unwrap();
    assert_eq!(
        (retry.signature.as_str(), retry.count),
        ("retry <n> of <n>", 1)
    );
    let known = check(&findings, "logs.known-errors");
    assert_eq!(known.status, Status::Warn);
    assert!(known.summary.contains("poll-eof (7×"), "{}", known.summary);
}

#[test]
fn doctor_offline_on_this_machine_says_the_agent_is_not_installed() {
    let dir = tempfile::tempdir().unwrap();
    let out = jcdiag(dir.path())
        .args(["doctor", "--offline"])
        .run()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{stdout}");
    assert!(stdout.contains("[FAIL] agent.installed"), "{stdout}");
    assert!(stdout.contains("not installed"), "{stdout}");
    assert!(
        stdout.contains("Network checks skipped (--offline)"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed checks: agent.installed"));
}

/// A loopback HTTPS server (certificate for 127.0.0.1 from the test CA) answering every
/// request with a `Date` ten minutes ahead, for `connections` connections.
fn https_server(certs: &Certs, connections: usize) -> u16 {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&certs.cert_pem)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&certs.key_pem).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(stream) = stream else { continue };
            let config = config.clone();
            std::thread::spawn(move || serve_one(config, stream));
        }
    });
    port
}

fn serve_one(config: Arc<rustls::ServerConfig>, stream: TcpStream) {
    let connection = rustls::ServerConnection::new(config).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, stream);
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tls.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let ahead = Utc::now() + Duration::minutes(10);
    let answer = format!(
        "HTTP/1.1 200 OK\r\nDate: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ahead.format("%a, %d %b %Y %H:%M:%S GMT")
    );
    let _ = tls.write_all(answer.as_bytes());
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(&mut tls.sock);
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn network_checks_against_loopback_an_open_port_is_ok_a_closed_one_fails_and_the_clock_is_compared()
{
    let sb = healthy();
    let certs = Certs::generate(sb.dir.path());
    let open = https_server(&certs, 2);
    let closed = closed_port();
    let target = |name: &str, port: u16| format!("{name}=127.0.0.1:{port}");
    let (open_1, open_2) = (
        target("agent-host.443", open),
        target("kickstart.443", open),
    );
    let (closed_1, closed_2) = (
        target("agent-host.444", closed),
        target("kickstart.444", closed),
    );
    let ca = certs.ca_pem.display().to_string();
    let (findings, code) = doctor(
        &sb,
        &[
            "--check-host",
            &open_1,
            "--check-host",
            &open_2,
            "--check-host",
            &closed_1,
            "--check-host",
            &closed_2,
            "--check-ca-file",
            &ca,
        ],
    );
    let ok = check(&findings, "net.agent-host.443");
    assert_eq!(ok.status, Status::Ok, "{ok:#?}");
    assert!(
        ok.evidence
            .iter()
            .any(|e| e.text.starts_with("TLS: handshake done")),
        "{ok:#?}"
    );
    assert_eq!(check(&findings, "net.kickstart.443").status, Status::Ok);
    let failed = check(&findings, "net.agent-host.444");
    assert_eq!(failed.status, Status::Fail);
    assert!(
        failed.summary.contains(&format!("127.0.0.1:{closed}")),
        "{}",
        failed.summary
    );
    assert!(
        failed
            .advice
            .as_deref()
            .unwrap()
            .contains(&format!("127.0.0.1:{closed}"))
    );
    assert_eq!(code, 5);

    let clock = check(&findings, "clock.skew");
    assert_eq!(clock.status, Status::Warn, "{clock:#?}");
    assert!(
        clock.summary.contains("behind the endpoint's"),
        "{}",
        clock.summary
    );
    let offset: i64 = clock
        .summary
        .rsplit_once('(')
        .and_then(|(_, s)| s.strip_suffix(" s)"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no offset in {}", clock.summary));
    // Ten minutes, give or take the second the Date header rounds away.
    assert!((598..=601).contains(&offset), "{offset}");
}

/// `--check-host` for every network target, all at one closed loopback port.
fn all_targets_closed() -> Vec<String> {
    let closed = closed_port();
    [
        "agent-host.443",
        "agent-host.444",
        "kickstart.443",
        "kickstart.444",
    ]
    .iter()
    .flat_map(|name| {
        [
            "--check-host".to_string(),
            format!("{name}=127.0.0.1:{closed}"),
        ]
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_compares_the_agent_with_the_version_the_endpoint_publishes() {
    let publishing =
        Intake::start_with(|config| config.agent_newest = Some("0.200.0".into())).await;
    let silent = Intake::start().await;
    let sb = healthy();
    let version_check = |intake: &Intake, extra: &[&str]| {
        let ca = intake.certs.ca_pem.display().to_string();
        let mut args = vec!["--endpoint", &intake.url, "--ca-file", &ca];
        args.extend_from_slice(extra);
        let closed = all_targets_closed();
        args.extend(closed.iter().map(String::as_str));
        let (findings, _) = tokio::task::block_in_place(|| doctor(&sb, &args));
        check(&findings, "agent.version").clone()
    };
    let texts = |c: &Check| {
        c.evidence
            .iter()
            .map(|e| e.text.clone())
            .collect::<Vec<_>>()
            .join("\n")
    };

    // The endpoint's newer version makes the profile's newest (the agent's own) out of date.
    let published = version_check(&publishing, &[]);
    assert_eq!(published.status, Status::Warn, "{published:#?}");
    let origin = format!("{}/", publishing.url);
    assert!(
        published
            .summary
            .contains("older than the newest known 0.200.0")
            && published
                .summary
                .contains(&format!("published by {origin}")),
        "{}",
        published.summary
    );

    // Offline, the endpoint is not asked: the profile's version, with its date.
    let offline = version_check(&publishing, &["--offline"]);
    assert_eq!(offline.status, Status::Ok, "{offline:#?}");
    assert!(
        texts(&offline).contains(&format!("newest known {NEWEST} (recorded ")),
        "{offline:#?}"
    );
    assert!(!texts(&offline).contains("0.200.0"), "{offline:#?}");

    // An endpoint that publishes none: the profile's, and the check says so.
    let fallback = version_check(&silent, &[]);
    assert_eq!(fallback.status, Status::Ok, "{fallback:#?}");
    assert!(
        texts(&fallback).contains(&format!("{}/ publishes none", silent.url)),
        "{fallback:#?}"
    );
}

#[test]
fn a_bad_check_host_is_a_usage_error_naming_the_targets() {
    let sb = healthy();
    let out = jcdiag(sb.dir.path())
        .args(["doctor", "--check-host", "mqtt.443=127.0.0.1:1"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("agent-host.443"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn submit_checks_the_network_and_case_show_and_list_give_the_worst_finding() {
    let intake = Intake::start().await;
    let token = intake.token(ORG, None);
    let sb = healthy();
    // Planted by a hostile client: control characters must reach support's terminal escaped.
    sb.write(
        CONF,
        "{\"systemKey\":\"\", \"agentServerHost\":\"agent.jumpcloud.com\"}",
    );
    sb.write(
        LOG,
        line(Duration::minutes(2), "ERROR", "screen \u{1b}[H cleared")
            + &line(Duration::minutes(1), "INFO", "sending heartbeat"),
    );
    let closed = closed_port();
    let mut submit = jcdiag(sb.dir.path());
    submit
        .env_remove("JCDIAG_OFFLINE")
        .args([
            "submit",
            "--json",
            "--yes",
            "--description",
            "Agent offline",
        ])
        .args([
            "--severity",
            "2",
            "--tier",
            "premium",
            "--email",
            "ada@example.com",
        ])
        .arg("--sysroot")
        .arg(sb.root())
        .args([
            "--target-os",
            "linux",
            "--endpoint",
            &intake.url,
            "--token",
            &token,
        ])
        .arg("--ca-file")
        .arg(&intake.certs.ca_pem);
    for name in [
        "agent-host.443",
        "agent-host.444",
        "kickstart.443",
        "kickstart.444",
    ] {
        submit.args(["--check-host", &format!("{name}=127.0.0.1:{closed}")]);
    }
    let output = tokio::task::spawn_blocking(move || submit.run().unwrap())
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sent: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let case_id = sent["case_id"].as_str().unwrap();
    let sha256 = sent["sha256"].as_str().unwrap();

    // The stored bundle's findings hold the network checks submit ran.
    let stored = intake
        .data_dir
        .join("bundles")
        .join(case_id)
        .join(format!("{sha256}.zip"));
    let findings = findings_of(&Bundle::open(&stored));
    let net = check(&findings, "net.kickstart.444");
    assert_eq!(net.status, Status::Fail);
    assert!(
        net.summary.contains(&format!("127.0.0.1:{closed}")),
        "{}",
        net.summary
    );
    assert_eq!(check(&findings, "clock.skew").status, Status::Unknown);
    // submit asked its endpoint for the newest agent version; this one publishes none.
    let version = check(&findings, "agent.version");
    assert!(
        version
            .evidence
            .iter()
            .any(|e| e.text.contains(&format!("{}/ publishes none", intake.url))),
        "{version:#?}"
    );

    let page = stdout_of_success(&intake_cli(&intake.data_dir, &["case", "show", case_id]));
    let section = page
        .split("\nFindings")
        .nth(1)
        .unwrap_or_else(|| panic!("{page}"));
    assert!(section.contains("worst: fail"), "{page}");
    assert!(section.contains("agent.enrolled"), "{page}");
    assert!(section.contains(&format!("127.0.0.1:{closed}")), "{page}");
    assert!(section.contains("screen \\u{1b}[H cleared"), "{page}");
    assert!(!page.contains('\u{1b}'), "{page}");
    let table = stdout_of_success(&intake_cli(&intake.data_dir, &["case", "list"]));
    assert!(
        table.lines().next().unwrap().contains("WORST FINDING"),
        "{table}"
    );
    let row = table.lines().find(|l| l.starts_with(case_id)).unwrap();
    assert!(row.contains("fail agent.enrolled +"), "{table}");
    let list = intake.cli_json(&["case", "list"]);
    assert_eq!(list[0]["worst_finding"]["status"], "fail");
    assert_eq!(list[0]["worst_finding"]["check"], "agent.enrolled");
    let show = intake.cli_json(&["case", "show", case_id]);
    assert_eq!(show["findings"]["schema"], "jcdiag.findings/1");
}

#[tokio::test(flavor = "multi_thread")]
async fn network_checks_go_through_the_proxy_the_agents_proxy_conf_names() {
    let proxy = crate::support::proxy::Proxy::start().await;
    let sb = healthy();
    // The credentials in it are neither used nor shown.
    sb.write(
        "/etc/jcagent-proxy.conf",
        format!("{{\"proxy\": \"http://user:pw-secret@{}\"}}", proxy.addr),
    );
    let certs = Certs::generate(sb.dir.path());
    let open = https_server(&certs, 4);
    let ca = certs.ca_pem.display().to_string();
    let mut args: Vec<String> = ["--check-ca-file".to_string(), ca].into();
    for name in [
        "agent-host.443",
        "agent-host.444",
        "kickstart.443",
        "kickstart.444",
    ] {
        args.push("--check-host".into());
        args.push(format!("{name}=127.0.0.1:{open}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (findings, _) = tokio::task::block_in_place(|| doctor(&sb, &args));
    let proxied = check(&findings, "net.agent-host.443");
    assert_eq!(proxied.status, Status::Ok, "{proxied:#?}");
    assert!(
        proxied.evidence[0]
            .text
            .contains(&format!("through the agent's proxy {}", proxy.addr)),
        "{proxied:#?}"
    );
    assert_eq!(proxy.tunnels().len(), 4, "{:?}", proxy.tunnels());
    assert!(
        proxy
            .tunnels()
            .iter()
            .all(|t| t == &format!("127.0.0.1:{open}"))
    );
    let conf = check(&findings, "agent.proxy");
    assert!(
        conf.summary.contains(&proxy.addr.to_string()),
        "{}",
        conf.summary
    );
    assert!(
        !serde_json::to_string(&findings)
            .unwrap()
            .contains("pw-secret")
    );
}
