//! Reachability of JumpCloud's hosts (DNS, TCP connect with a timeout, TLS handshake), through
//! the agent's proxy when `jcagent-proxy.conf` names one, and the clock against the `Date` the
//! first host answers with. Only `doctor` and `submit` run these; `collect` stays offline.
//!
//! Every target can be replaced (`--check-host NAME=HOST:PORT`), so tests aim them at loopback
//! addresses and never need a DNS answer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jcdiag_profile::Profile;
use jcdiag_protocol::{Check, Evidence, Status};

/// Most bytes of an answer's head read for its `Date`.
const HEAD_CAP: usize = 16 * 1024;

/// One host and port to reach. `name` is what `--check-host` replaces: `agent-host.443`,
/// `agent-host.444`, `kickstart.443`, `kickstart.444`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub host: String,
    pub port: u16,
}

/// A proxy to reach the targets through (HTTP CONNECT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
}

/// The targets of the profile: the agent host (`agentServerHost` when it is a known region's,
/// else the default) and the kickstart host, on each port; then the overrides.
pub fn targets(
    profile: &Profile,
    agent_host: Option<&str>,
    overrides: &[Target],
) -> Result<Vec<Target>, String> {
    let net = &profile.findings.network;
    let agent_host = agent_host
        .filter(|h| profile.region_of(h).is_some())
        .unwrap_or(&net.default_agent_host);
    let mut targets = Vec::new();
    for (name, host) in [
        ("agent-host", agent_host),
        ("kickstart", &net.kickstart_host),
    ] {
        for port in &net.ports {
            targets.push(Target {
                name: format!("{name}.{port}"),
                host: host.to_string(),
                port: *port,
            });
        }
    }
    for given in overrides {
        match targets.iter_mut().find(|t| t.name == given.name) {
            Some(target) => *target = given.clone(),
            None => {
                return Err(format!(
                    "--check-host {}: no such target; the targets are {}",
                    given.name,
                    targets
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    Ok(targets)
}

/// `NAME=HOST:PORT` (an IPv6 address in brackets: `NAME=[::1]:443`).
pub fn parse_override(text: &str) -> Result<Target, String> {
    let bad = || {
        format!("--check-host {text}: expected NAME=HOST:PORT, e.g. agent-host.443=127.0.0.1:8443")
    };
    let (name, address) = text.split_once('=').ok_or_else(bad)?;
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port.parse::<u16>().map_err(|_| bad())?;
    if name.is_empty() || host.is_empty() {
        return Err(bad());
    }
    Ok(Target {
        name: name.to_string(),
        host: host.to_string(),
        port,
    })
}

/// The proxy a `jcagent-proxy.conf` names: its first `http://` or `https://` URL (the file's
/// format is undocumented). Credentials in it are never used or shown.
pub fn proxy_of(conf: &str) -> Option<Proxy> {
    let start = conf.find("http://").or_else(|| conf.find("https://"))?;
    let end = conf[start..]
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '}'))
        .map_or(conf.len(), |e| start + e);
    let url = url::Url::parse(&conf[start..end]).ok()?;
    Some(Proxy {
        host: url.host_str()?.trim_matches(['[', ']']).to_string(),
        port: url.port_or_known_default()?,
    })
}

/// How the checks connect.
pub struct Options {
    pub proxy: Option<Proxy>,
    /// Extra CA certificates (DER), trusted besides the OS store.
    pub extra_roots: Vec<Vec<u8>>,
    pub timeout: Duration,
}

/// What one target gave.
struct Reached {
    check: Check,
    date: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Every target's check, in order, then the clock check (against the first `Date` received).
/// The targets are tried at the same time, so the whole takes about one timeout at most.
pub fn check_all(profile: &Profile, targets: &[Target], options: &Options) -> Vec<Check> {
    let tls = crate::deliver::client::webpki_config(&options.extra_roots).map(Arc::new);
    let reached: Vec<Reached> = std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|target| {
                let tls = tls.as_ref().ok().cloned();
                scope.spawn(move || check_one(profile, target, options, tls))
            })
            .collect();
        handles
            .into_iter()
            .zip(targets)
            .map(|(handle, target)| {
                handle.join().unwrap_or_else(|_| Reached {
                    check: net_check(
                        profile,
                        target,
                        Status::Unknown,
                        "the check stopped unexpectedly".into(),
                        Vec::new(),
                    ),
                    date: None,
                })
            })
            .collect()
    });
    let date = reached.iter().find_map(|r| r.date);
    let mut checks: Vec<Check> = reached.into_iter().map(|r| r.check).collect();
    checks.push(clock_check(profile, targets, date));
    checks
}

fn net_check(
    profile: &Profile,
    target: &Target,
    status: Status,
    summary: String,
    evidence: Vec<Evidence>,
) -> Check {
    let failed = status == Status::Fail;
    Check {
        id: format!("net.{}", target.name),
        title: format!("{} reachable on port {}", target.host, target.port),
        status,
        summary,
        evidence,
        advice: failed.then(|| {
            format!(
                "Allow outbound connections from this machine to {}:{} (firewall, proxy, DNS); the agent needs them to reach JumpCloud.",
                target.host, target.port
            )
        }),
        link: failed.then(|| profile.findings.link.clone()),
    }
}

fn note(text: String) -> Evidence {
    Evidence {
        text,
        file: None,
        line: None,
    }
}

fn check_one(
    profile: &Profile,
    target: &Target,
    options: &Options,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Reached {
    let place = format!("{}:{}", target.host, target.port);
    let fail = |summary: String, evidence: Vec<Evidence>| Reached {
        check: net_check(profile, target, Status::Fail, summary, evidence),
        date: None,
    };
    let mut evidence = Vec::new();
    let stream = match &options.proxy {
        Some(proxy) => {
            evidence.push(note(format!(
                "through the agent's proxy {}:{} (DNS is the proxy's)",
                proxy.host, proxy.port
            )));
            match connect(&proxy.host, proxy.port, options.timeout).and_then(|s| tunnel(s, target))
            {
                Ok(stream) => stream,
                Err(why) => {
                    return fail(
                        format!("cannot reach {place} through the proxy: {why}"),
                        evidence,
                    );
                }
            }
        }
        None => {
            let addresses = match resolve(&target.host, target.port) {
                Ok(addresses) => addresses,
                Err(why) => {
                    return fail(
                        format!("DNS: {} does not resolve: {why}", target.host),
                        evidence,
                    );
                }
            };
            evidence.push(note(format!(
                "DNS: {} → {}",
                target.host,
                addresses
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
            match connect_any(&addresses, options.timeout) {
                Ok(stream) => stream,
                Err(why) => {
                    return fail(
                        format!(
                            "TCP: cannot connect to {place} within {} s: {why}",
                            options.timeout.as_secs()
                        ),
                        evidence,
                    );
                }
            }
        }
    };
    evidence.push(note(format!("TCP: connected to {place}")));
    let Some(tls) = tls else {
        return Reached {
            check: net_check(
                profile,
                target,
                Status::Unknown,
                format!("TCP to {place} works; TLS not checked (no trust store)"),
                evidence,
            ),
            date: None,
        };
    };
    match handshake(stream, target, tls, options.timeout) {
        Ok((version, date)) => {
            evidence.push(note(format!("TLS: handshake done ({version})")));
            if let Some((server, _)) = date {
                evidence.push(note(format!("Date: {}", server.to_rfc2822())));
            }
            Reached {
                check: net_check(
                    profile,
                    target,
                    Status::Ok,
                    format!("{place} answers: DNS, TCP and TLS work"),
                    evidence,
                ),
                date,
            }
        }
        Err(why) => fail(
            format!("TLS: handshake with {place} failed: {why}"),
            evidence,
        ),
    }
}

fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    // An IP literal needs no lookup.
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .collect();
    if addresses.is_empty() {
        return Err("no address".into());
    }
    Ok(addresses)
}

fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    connect_any(&resolve(host, port)?, timeout)
}

fn connect_any(addresses: &[SocketAddr], timeout: Duration) -> Result<TcpStream, String> {
    let mut last = String::from("no address");
    for address in addresses {
        match TcpStream::connect_timeout(address, timeout) {
            Ok(stream) => {
                let _ = stream.set_read_timeout(Some(timeout));
                let _ = stream.set_write_timeout(Some(timeout));
                return Ok(stream);
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// An HTTP CONNECT tunnel to the target through the proxy.
fn tunnel(mut stream: TcpStream, target: &Target) -> Result<TcpStream, String> {
    let authority = if target.host.contains(':') {
        format!("[{}]:{}", target.host, target.port)
    } else {
        format!("{}:{}", target.host, target.port)
    };
    write!(
        stream,
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let head = read_head(&mut stream)?;
    let status = head.lines().next().unwrap_or_default().to_string();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(stream)
    } else {
        Err(format!("the proxy answered `{}`", status.trim()))
    }
}

/// Reads up to the end of an HTTP head (or the cap, or the end of the stream).
fn read_head(stream: &mut impl Read) -> Result<String, String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while head.len() < HEAD_CAP && !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(e.to_string()),
        }
    }
    if head.is_empty() {
        return Err("no answer".into());
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// The TLS handshake, then a `HEAD /` for the answer's `Date` (with the local time it came).
type Handshake = (String, Option<(DateTime<Utc>, DateTime<Utc>)>);

fn handshake(
    stream: TcpStream,
    target: &Target,
    config: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<Handshake, String> {
    let name = rustls_pki_types::ServerName::try_from(target.host.clone())
        .map_err(|e| format!("{}: {e}", target.host))?;
    let connection = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(connection, stream);
    let _ = tls.sock.set_read_timeout(Some(timeout));
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| e.to_string())?;
    }
    let version = tls
        .conn
        .protocol_version()
        .map_or_else(|| "TLS".to_string(), |v| format!("{v:?}"));
    // The clock: any HTTP answer carries a Date. A server that does not speak HTTP here (the
    // agent's port 444) still completed the handshake, which is what reachability means.
    let host = &target.host;
    let date = write!(
        tls,
        "HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()
    .and_then(|()| read_head(&mut tls).ok())
    .and_then(|head| {
        let received = Utc::now();
        date_of(&head).map(|date| (date, received))
    });
    Ok((version, date))
}

/// The `Date` header of an HTTP head (RFC 9110's IMF-fixdate, an RFC 2822 date with `GMT`).
fn date_of(head: &str) -> Option<DateTime<Utc>> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("date")
            .then(|| DateTime::parse_from_rfc2822(value.trim()).ok())
            .flatten()
            .map(|d| d.with_timezone(&Utc))
    })
}

fn clock_check(
    profile: &Profile,
    targets: &[Target],
    date: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Check {
    let rules = &profile.findings;
    let mut check = Check {
        id: "clock.skew".into(),
        title: "The clock agrees with JumpCloud's".into(),
        status: Status::Unknown,
        summary: "no host answered with a Date: the clock was not compared".into(),
        evidence: Vec::new(),
        advice: None,
        link: None,
    };
    let Some((server, local)) = date else {
        return check;
    };
    let warn = super::duration(&rules.clock_skew_warn);
    let fail = super::duration(&rules.clock_skew_fail);
    // Positive: the local clock is behind the endpoint's.
    let offset = (server - local).num_seconds();
    let size = offset.unsigned_abs();
    let way = if offset >= 0 { "behind" } else { "ahead of" };
    check.evidence.push(note(format!(
        "endpoint Date {}, local clock {} (UTC); offset {offset:+} s",
        server.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        local.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )));
    if let Some(first) = targets.first() {
        check
            .evidence
            .push(note(format!("compared with {}:{}", first.host, first.port)));
    }
    check.status = if size >= fail.as_secs() {
        Status::Fail
    } else if size >= warn.as_secs() {
        Status::Warn
    } else {
        Status::Ok
    };
    check.summary = if check.status == Status::Ok {
        format!("the clock is within {} s of the endpoint's", warn.as_secs())
    } else {
        format!(
            "the local clock is {} {way} the endpoint's ({offset:+} s)",
            super::human_duration(size)
        )
    };
    if check.status != Status::Ok {
        check.advice = Some(
            "Set the clock right and keep it synchronised (NTP): JumpCloud's installer refuses an inaccurate clock and certificate checks fail with one."
                .into(),
        );
        check.link = Some(rules.link.clone());
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_conf_gives_its_host_and_port_and_never_its_credentials() {
        assert_eq!(
            proxy_of("{\"proxy\": \"http://user:pw@proxy.example:3128\"}"),
            Some(Proxy {
                host: "proxy.example".into(),
                port: 3128
            })
        );
        assert_eq!(proxy_of("nothing here"), None);
    }

    #[test]
    fn every_target_is_named_and_can_be_replaced() {
        let profile = Profile::builtin();
        let given = parse_override("kickstart.444=127.0.0.1:9").unwrap();
        let targets = targets(profile, Some("agent.eu.jumpcloud.com"), &[given]).unwrap();
        let names: Vec<_> = targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "agent-host.443",
                "agent-host.444",
                "kickstart.443",
                "kickstart.444"
            ]
        );
        assert_eq!(targets[0].host, "agent.eu.jumpcloud.com");
        assert_eq!(
            (targets[3].host.as_str(), targets[3].port),
            ("127.0.0.1", 9)
        );
        assert!(super::targets(profile, None, &[parse_override("x=1.2.3.4:1").unwrap()]).is_err());
        assert!(parse_override("agent-host.443=127.0.0.1").is_err());
        assert_eq!(parse_override("a=[::1]:5").unwrap().host, "::1");
    }

    #[test]
    fn the_date_header_is_read() {
        let head = "HTTP/1.1 200 OK\r\ndate: Tue, 01 Dec 2026 18:19:00 GMT\r\n\r\n";
        assert_eq!(
            date_of(head).unwrap().to_rfc3339(),
            "2026-12-01T18:19:00+00:00"
        );
    }
}
