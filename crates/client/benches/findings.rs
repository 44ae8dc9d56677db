//! What findings cost a collection: `collect` of 64 MiB of agent logs (scrubbing, zipping,
//! every entry) with and without the findings (`SKIP_FOR_BENCH`), in CPU time of the whole
//! process (robust on a busy shared machine) and in wall time; and the findings' own work (the
//! signature scan over the same scrubbed text, the checks) on one thread. Goal: at most +10%.
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

/// An error-heavy agent log: 5 of 14 messages are ERROR or WARN (36% of lines). `--realistic`
/// mixes in the ordinary messages below so that 15% are, as in the scrubber's bench.
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

/// Ordinary messages added by `--realistic`.
const ORDINARY: &[&str] = &[
    "[INFO] Sending heartbeat to agent.jumpcloud.com",
    "[INFO] Heartbeat succeeded",
    "[INFO] Sending pending work completion to server",
    "[INFO] Checking for updated software packages",
    "[INFO] token refresh succeeded",
    "[INFO] password policy updated for {n} users",
    "[DEBUG] policy {hex} result: success, duration={n}ms",
    "[INFO] Plugin lastlogin ran in {n}ms",
    "[INFO] Processing system users: {n} users, 3 groups",
    "[INFO] lastlogin: user alice logged in from 10.0.0.{n}",
    "[INFO] Executing command {hex} as root: exit status 0",
    "[INFO] Sending heartbeat to agent.jumpcloud.com",
    "[INFO] Heartbeat succeeded",
    "[INFO] user alice updated (uid={n}, gid={n})",
    "[INFO] Checking for updates at https://agent.jumpcloud.com/api/systems/{hex}/agentupdate",
    "[INFO] Sending heartbeat to agent.jumpcloud.com",
    "[INFO] Heartbeat succeeded",
    "[INFO] Sending pending work completion to server",
];

fn log(rng: &mut Rng, size: usize, day: usize, messages: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 256);
    let mut lines = 0usize;
    while out.len() < size {
        let secs = lines / 20;
        let hex: String = (0..24)
            .map(|_| b"0123456789abcdef"[rng.below(16)] as char)
            .collect();
        let line = messages[rng.below(messages.len())]
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

/// CPU seconds this process has used, all threads together (Linux `/proc/self/stat`, in clock
/// ticks of 10 ms), so that a busy shared machine does not distort the figure.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn main() {
    let realistic = std::env::args().any(|a| a == "--realistic");
    let messages: Vec<&str> = if realistic {
        MESSAGES.iter().chain(ORDINARY).copied().collect()
    } else {
        MESSAGES.to_vec()
    };
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
        std::fs::write(
            log_dir.join(name),
            log(&mut rng, 10 << 20, 20 + i, &messages),
        )
        .expect("log");
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
    let collect_once = |name: String| {
        let cpu = cpu_secs();
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
            out: out.join(name),
            now: Utc::now(),
            dry_run: false,
            recording: None,
            skipped: Vec::new(),
            obfuscate: Vec::new(),
            progress: &|_| {},
            network: Default::default(),
            parity: collect::parity::Options::default(),
        })
        .expect("collect");
        let wall = start.elapsed().as_secs_f64();
        // Elsewhere than Linux, wall time stands in for CPU time.
        let cpu = match (cpu, cpu_secs()) {
            (Some(before), Some(after)) => after - before,
            _ => wall,
        };
        (wall, cpu, outcome.size)
    };
    let mut best = [f64::MAX; 5]; // wall without, wall with, CPU without, CPU with, own work
    for run in 1..=5 {
        findings::SKIP_FOR_BENCH.store(true, std::sync::atomic::Ordering::Relaxed);
        let (without, without_cpu, _) = collect_once(format!("without{run}.zip"));
        findings::SKIP_FOR_BENCH.store(false, std::sync::atomic::Ordering::Relaxed);
        let (with, with_cpu, size) = collect_once(format!("with{run}.zip"));

        // The findings' own work, on one thread: the scan of the same scrubbed text, the checks.
        let start = Instant::now();
        let mut scan = LogScan::new(&profile.findings, &profile.logs.timestamp_format);
        for (i, text) in scrubbed.iter().enumerate() {
            scan.scan(&format!("logs/{i}"), std::hint::black_box(text), i == 0);
        }
        let scan_secs = start.elapsed().as_secs_f64();
        let found = findings::evaluate(&ctx, &scan, Default::default());
        let alone = start.elapsed().as_secs_f64();
        eprintln!(
            "run {run}: {mib:.1} MiB without findings {without:.3} s ({without_cpu:.2} s CPU), with {with:.3} s ({with_cpu:.2} s CPU); findings' own work {alone:.3} s (scan {scan_secs:.3} s, checks {:.3} s; {} signatures, top {}x); bundle {size} bytes",
            alone - scan_secs,
            found.signatures.len(),
            found.signatures.first().map_or(0, |s| s.count),
        );
        for (slot, value) in best
            .iter_mut()
            .zip([without, with, without_cpu, with_cpu, alone])
        {
            *slot = slot.min(value);
        }
    }
    let [without, with, without_cpu, with_cpu, alone] = best;
    println!(
        "{} log, {mib:.1} MiB, best of 5: CPU {without_cpu:.2} s without findings, {with_cpu:.2} s with: {:+.1}% (goal <= +10%); wall {without:.3} s without, {with:.3} s with: {:+.1}%; the findings' own work {alone:.3} s on one thread",
        if realistic {
            "realistic"
        } else {
            "error-heavy"
        },
        (with_cpu / without_cpu - 1.0) * 100.0,
        (with / without - 1.0) * 100.0,
    );
}
