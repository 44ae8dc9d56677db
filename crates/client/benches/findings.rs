//! What findings cost a collection: `collect` of 64 MiB of realistic agent logs (scrubbing,
//! zipping, findings.json included), against the findings' own share: the signature scan over
//! the same scrubbed text and the checks. Prints the ratio findings / (collection without
//! findings); the goal is at most 0.10.
//!
//! `bash benches/findings.sh` (an optimised build in a temporary target folder), or
//! `cargo bench -p jcdiag-client --bench findings`.

use std::time::Instant;

use chrono::Utc;
use jcdiag_client::collect::{self, Request, RunInfo};
use jcdiag_client::findings::{self, Context, LogScan};
use jcdiag_client::form::CaseForm;
use jcdiag_client::sources::{Caps, logs};
use jcdiag_fs::fsafe::Trust;
use jcdiag_profile::Profile;
use jcdiag_profile::target::TargetOs;

const MESSAGES: &[&str] = &[
    "[INFO] Sending heartbeat to agent.jumpcloud.com",
    "[INFO] Heartbeat succeeded",
    "[ERROR] skipping update policies: policy conf bundle not valid",
    "[ERROR] failed to poll server: Get https://agent.jumpcloud.com:443/poll/{hex}: EOF",
    "[WARN] Could not read /opt/jc/policies/{hex}/policyConf.json: no such file or directory",
    "[INFO] Plugin lastlogin ran in {n}ms",
    "[INFO] Checking for updates at https://agent.jumpcloud.com/api/systems/{hex}/agentupdate",
    "[INFO] Processing system users: {n} users, 3 groups",
    "[WARN] retrying connection to agent.jumpcloud.com:443 after {n}s: dial tcp: i/o timeout",
    "[INFO] Executing command {hex} as root: exit status 0",
    "[INFO] user alice updated (uid={n}, gid={n})",
    "[ERROR] command {hex} failed after {n}ms: exit status 1",
    "[INFO] Sending pending work completion to server",
    "[INFO] lastlogin: user alice logged in from 10.0.0.{n}",
];

/// xorshift64*: deterministic, no dependencies.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn log(rng: &mut Rng, size: usize, day: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 256);
    let mut lines = 0usize;
    while out.len() < size {
        let secs = lines / 20;
        let hex: String = (0..24)
            .map(|_| b"0123456789abcdef"[rng.below(16)] as char)
            .collect();
        let line = MESSAGES[rng.below(MESSAGES.len())]
            .replace("{hex}", &hex)
            .replace("{n}", &rng.below(5000).to_string());
        let stamp = format!(
            "2026/11/{day:02} {:02}:{:02}:{:02} [{}] ",
            secs / 3600 % 24,
            secs / 60 % 60,
            secs % 60,
            30000 + rng.below(50)
        );
        out.extend_from_slice(stamp.as_bytes());
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
        lines += 1;
    }
    out
}

fn main() {
    let profile = Profile::builtin();
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("root");
    let log_dir = root.join("var").join("log");
    std::fs::create_dir_all(&log_dir).expect("log folder");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("out folder");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Seven 10 MiB logs, oldest first: the default caps keep 64 MiB of them.
    let names = [
        "jcagent.log.6",
        "jcagent.log.5",
        "jcagent.log.4",
        "jcagent.log.3",
        "jcagent.log.2",
        "jcagent.log.1",
        "jcagent.log",
    ];
    for (i, name) in names.iter().enumerate() {
        std::fs::write(log_dir.join(name), log(&mut rng, 10 << 20, 20 + i)).expect("log");
        // Newest last by modification time, as the agent rotates.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let caps = Caps {
        per_file: 10 << 20,
        total: 64 << 20,
    };
    let scrubber = collect::scrubber(profile, &[]).expect("rules");
    let form = CaseForm::default();
    let trust = Trust {
        require_root_owner: false,
    };
    let ctx = Context {
        profile,
        os: TargetOs::Linux,
        sysroot: &root,
        live: false,
        trust,
        now: Utc::now(),
        in_bundle: true,
    };
    // The logs as the bundle stores them (scrubbed), to time the findings' share alone.
    let search = logs::find_logs(profile, TargetOs::Linux, &root);
    let (opened, _) = logs::open_newest_first(search.found, trust);
    let mut budget = caps.total;
    let mut scrubbed = Vec::new();
    for (_, mut file) in opened {
        if budget == 0 {
            break;
        }
        let cap = caps.per_file.min(budget);
        let text =
            logs::read_log(&mut file, cap, None, &profile.logs.timestamp_format).expect("read");
        budget -= text.bytes.len() as u64;
        scrubbed.push(scrubber.scrub_text(&text.bytes).bytes().to_vec());
    }
    let mib = scrubbed.iter().map(Vec::len).sum::<usize>() as f64 / f64::from(1 << 20);
    let (mut best_collect, mut best_findings) = (f64::MAX, f64::MAX);
    for run in 1..=3 {
        let start = Instant::now();
        let outcome = collect::collect(Request {
            profile,
            scrubber: &scrubber,
            os: TargetOs::Linux,
            sysroot: root.clone(),
            live: false,
            trust,
            caps,
            since: None,
            screenshots: Vec::new(),
            form: &form,
            case: serde_json::json!({}),
            run: RunInfo::detect("bench", true, false),
            out: out.join(format!("run{run}.zip")),
            now: Utc::now(),
            dry_run: false,
            recording: None,
            skipped: Vec::new(),
            obfuscate: Vec::new(),
            progress: &|_| {},
            network_checks: Vec::new(),
        })
        .expect("collect");
        let collect_secs = start.elapsed().as_secs_f64();

        let start = Instant::now();
        let mut scan = LogScan::new(&profile.findings, &profile.logs.timestamp_format);
        for (i, text) in scrubbed.iter().enumerate() {
            scan.scan(&format!("logs/{i}"), std::hint::black_box(text), i == 0);
        }
        let found = findings::evaluate(&ctx, &scan, Vec::new());
        let findings_secs = start.elapsed().as_secs_f64();
        eprintln!(
            "run {run}: collect {mib:.1} MiB in {collect_secs:.3} s (findings included); findings alone {findings_secs:.3} s ({} signatures, top {}x); bundle {} bytes",
            found.signatures.len(),
            found.signatures.first().map_or(0, |s| s.count),
            outcome.size
        );
        best_collect = best_collect.min(collect_secs);
        best_findings = best_findings.min(findings_secs);
    }
    let without = best_collect - best_findings;
    println!(
        "findings over {mib:.1} MiB of logs: {best_findings:.3} s; collection without them {without:.3} s; ratio {:.3} (goal <= 0.10)",
        best_findings / without
    );
}
