//! Findings: what is wrong with the agent, said before support has to read the logs.
//!
//! Each check has a stable id, a title, a status (`ok` < `unknown` < `warn` < `fail`), evidence
//! (values, and file + line references) and advice. Checks are data where they can be: the
//! thresholds, versions, known error signatures, hosts and links live in the profile
//! (`[findings]` in profile.toml); [`checks`] holds the code that reads the system. The same
//! engine writes `findings.json` into a bundle (evidence names bundle entries) and answers
//! `jcdiag doctor` (no bundle: evidence names the files on the system).
//!
//! [`signatures`] groups the ERROR/WARN lines of the agent logs; it runs over the scrubbed text
//! as it is stored, in the same pass that stores it. [`network`] checks reachability and the
//! clock (doctor and submit only), [`cert`] reads a certificate's validity dates.

pub mod cert;
pub mod checks;
pub mod network;
pub mod signatures;

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jcdiag_fs::fsafe::Trust;
use jcdiag_profile::Profile;
use jcdiag_profile::target::TargetOs;
use jcdiag_protocol::{Check, FINDINGS_SCHEMA, Findings, Status};
use jcdiag_scrub::Scrubber;

pub use signatures::LogScan;

use crate::sources::{Caps, logs};

/// For `benches/findings.rs` only: collections made while this is set skip the findings (no
/// scan, no checks, an empty findings.json), so the bench can time a collection without them.
#[doc(hidden)]
pub static SKIP_FOR_BENCH: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

pub(crate) fn skipped_for_bench() -> bool {
    SKIP_FOR_BENCH.load(std::sync::atomic::Ordering::Relaxed)
}

/// What the checks look at.
pub struct Context<'a> {
    pub profile: &'a Profile,
    pub os: TargetOs,
    pub sysroot: &'a Path,
    /// The running system itself: the process list and this machine's disks are its own.
    pub live: bool,
    pub trust: Trust,
    pub now: DateTime<Utc>,
    /// Evidence names bundle entries (`agent/jcagent.conf`) when true, system paths otherwise.
    pub in_bundle: bool,
}

/// What the network side of `doctor` and `submit` found (nothing in `collect`, which stays
/// offline).
#[derive(Debug, Default)]
pub struct NetworkFindings {
    /// Reachability of the agent's hosts and the clock.
    pub checks: Vec<Check>,
    /// The endpoint's answer about the newest agent version, when an endpoint was asked.
    pub agent_newest: Option<EndpointNewest>,
}

/// What an endpoint said at `GET /v1/agent-version`.
#[derive(Debug, Clone)]
pub struct EndpointNewest {
    pub endpoint: String,
    /// The newest version it publishes; `Ok(None)`: it publishes none; `Err`: why it could not
    /// be asked. Without a version the profile's recorded one is used.
    pub answer: Result<Option<String>, String>,
}

/// Runs every offline check over the system and the scanned logs, then appends the network
/// checks (when they ran).
pub fn evaluate(ctx: &Context, scan: &LogScan, network: NetworkFindings) -> Findings {
    if skipped_for_bench() {
        return Findings::default();
    }
    let mut checks = checks::offline(ctx, scan, network.agent_newest.as_ref());
    checks.extend(network.checks);
    Findings {
        schema: FINDINGS_SCHEMA.into(),
        generated: ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        checks,
        signatures: scan.signatures(&ctx.profile.findings),
    }
}

/// Reads and scrubs the agent's logs within the caps, newest first, and scans them (for
/// `doctor`, which makes no bundle; evidence names the system paths).
pub fn scan_system_logs(ctx: &Context, scrubber: &Scrubber, caps: Caps) -> LogScan {
    let profile = ctx.profile;
    let layout = profile.layout(ctx.os);
    let mut scan = LogScan::new(&profile.findings, &profile.logs.timestamp_format);
    let search = logs::find_logs(profile, ctx.os, ctx.sysroot);
    let (opened, _) = logs::open_newest_first(search.found, ctx.trust);
    let mut budget = caps.total;
    for (located, mut file) in opened {
        if budget == 0 {
            break;
        }
        let Ok(text) = logs::read_log(
            &mut file,
            caps.per_file.min(budget),
            None,
            &profile.logs.timestamp_format,
        ) else {
            continue;
        };
        budget = budget.saturating_sub(text.bytes.len() as u64);
        let scrubbed = scrubber.scrub_owned(text.bytes);
        let main = located.system_path.eq_ignore_ascii_case(&layout.main_log);
        scan.scan(&located.system_path, scrubbed.bytes(), main);
    }
    scan
}

/// The network checks (doctor and submit): the region's agent host and the kickstart host on
/// the profile's ports, each replaceable by `overrides`, through the agent's proxy when its
/// `jcagent-proxy.conf` names one; then the clock. `ca_file` adds CAs for the TLS checks.
pub fn network_checks(
    ctx: &Context,
    overrides: &[network::Target],
    ca_file: Option<&Path>,
) -> Result<Vec<Check>, String> {
    let extra_roots = match ca_file {
        Some(path) => crate::deliver::client::read_ca_file(path).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let agent_host = checks::agent_server_host(ctx);
    let targets = network::targets(ctx.profile, agent_host.as_deref(), overrides)?;
    let options = network::Options {
        proxy: checks::agent_proxy(ctx),
        extra_roots,
        timeout: Duration::from_secs(ctx.profile.findings.network.connect_timeout_secs),
    };
    Ok(network::check_all(ctx.profile, &targets, &options))
}

/// A profile duration (`6h`); a test below makes sure every one parses.
pub(crate) fn duration(text: &str) -> Duration {
    jcdiag_fs::duration::parse_duration(text).unwrap_or(Duration::MAX)
}

/// A profile size (`1GiB`).
pub(crate) fn size(text: &str) -> u64 {
    jcdiag_fs::size::parse_size(text).unwrap_or(0)
}

/// `3 d 4 h`, `10 min 0 s`, `42 s`.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min {s} s")
    } else {
        format!("{s} s")
    }
}

/// `1.5 GiB`, `300 MiB`.
pub fn human_size(bytes: u64) -> String {
    const MIB: f64 = (1u64 << 20) as f64;
    let mib = bytes as f64 / MIB;
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

fn label(status: Status) -> &'static str {
    match status {
        Status::Ok => "ok  ",
        Status::Unknown => "??  ",
        Status::Warn => "WARN",
        Status::Fail => "FAIL",
    }
}

/// The checks that did not pass and the known or most frequent error signatures, for the top
/// of `summary.txt` and the preview before consent. `all`: list the passing checks too.
pub fn render(findings: &Findings, all: bool, signatures: usize) -> String {
    let mut text = String::new();
    let count = |s: Status| findings.checks.iter().filter(|c| c.status == s).count();
    let _ = writeln!(
        text,
        "{} failed, {} warnings, {} unknown, {} ok",
        count(Status::Fail),
        count(Status::Warn),
        count(Status::Unknown),
        count(Status::Ok)
    );
    let mut shown: Vec<&Check> = findings
        .checks
        .iter()
        .filter(|c| all || c.status > Status::Unknown)
        .collect();
    if !all {
        // Worst first; ties in the order the checks ran.
        shown.sort_by_key(|c| std::cmp::Reverse(c.status));
    }
    for check in shown {
        let _ = writeln!(
            text,
            "[{}] {:<24} {}",
            label(check.status),
            check.id,
            check.summary
        );
        if check.status > Status::Unknown {
            for evidence in check.evidence.iter().take(3) {
                let place = match (&evidence.file, evidence.line) {
                    (Some(file), Some(line)) => format!(" ({file}:{line})"),
                    (Some(file), None) => format!(" ({file})"),
                    _ => String::new(),
                };
                let _ = writeln!(text, "       {}{place}", evidence.text);
            }
            if let Some(advice) = &check.advice {
                let _ = writeln!(text, "       → {advice}");
            }
            if let Some(link) = &check.link {
                let _ = writeln!(text, "       {link}");
            }
        }
    }
    let listed: Vec<_> = findings.signatures.iter().take(signatures).collect();
    if !listed.is_empty() {
        let _ = writeln!(text, "Most frequent error signatures:");
        for s in listed {
            let _ = writeln!(
                text,
                "  {:>6}× {:<5} {} (first {}, last {})",
                s.count,
                s.level,
                s.signature,
                s.first_seen.as_deref().unwrap_or("?"),
                s.last_seen.as_deref().unwrap_or("?")
            );
            if let Some(known) = &s.known {
                let _ = writeln!(
                    text,
                    "          known: {} → {}",
                    known.meaning, known.advice
                );
            }
        }
    }
    text
}

/// `summary.txt` with a "Findings" section after its title.
pub fn with_summary(page: String, findings: &Findings) -> String {
    let section = format!(
        "\nFindings (findings.json has the evidence)\n{}\n{}",
        "-".repeat(41),
        render(findings, false, 5)
    );
    // After the title and its rule (the first blank line).
    match page.find("\n\n") {
        Some(at) => format!("{}{section}{}", &page[..at + 1], &page[at + 1..]),
        None => format!("{page}{section}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_threshold_of_the_profile_parses() {
        let rules = &Profile::builtin().findings;
        for text in [
            &rules.log_age_warn,
            &rules.log_age_fail,
            &rules.clock_skew_warn,
            &rules.clock_skew_fail,
        ] {
            assert!(jcdiag_fs::duration::parse_duration(text).is_ok(), "{text}");
        }
        for text in [&rules.disk_free_warn, &rules.disk_free_fail] {
            assert!(jcdiag_fs::size::parse_size(text).is_ok(), "{text}");
        }
        assert!(duration(&rules.log_age_warn) < duration(&rules.log_age_fail));
        assert!(size(&rules.disk_free_fail) < size(&rules.disk_free_warn));
        assert_eq!(human_duration(600), "10 min 0 s");
        assert_eq!(human_duration(3 * 86_400 + 3700), "3 d 1 h");
    }
}
