//! Throughput of the scrubber on realistic jcagent.log text, one thread.
//!
//! `cargo bench -p jcdiag-scrub --bench scrub [-- MB]` builds about 100 MB (or MB megabytes)
//! of log lines, about one secret per 2,000 lines. It scrubs that text 3 times as owned text
//! (`scrub_owned`, as `collect` scrubs each log) and 3 times as borrowed text (`scrub_text`,
//! written to a new buffer), and prints the best throughput of each.

use std::time::Instant;

use jcdiag_scrub::Scrubber;

/// Ordinary jcagent.log messages (after the timestamp and pid). `{hex}` is a 24-hex id and
/// `{n}` a number. Some mention trigger words in prose ("token", "password", "auth", "://"),
/// so the rules do run on them.
const MESSAGES: &[&str] = &[
    "[INFO] Sending heartbeat to agent.jumpcloud.com",
    "[INFO] Heartbeat succeeded",
    "[ERROR] skipping update policies: policy conf bundle not valid",
    "[WARN] Could not read /opt/jc/policies/{hex}/policyConf.json: no such file or directory",
    "[INFO] Plugin lastlogin ran in {n}ms",
    "[INFO] Checking for updates at https://agent.jumpcloud.com/api/systems/{hex}/agentupdate",
    "[INFO] Processing system users: {n} users, 3 groups",
    "[INFO] jcagent version 1.154.0 running on linux-amd64",
    "[DEBUG] GET https://agent.jumpcloud.com/api/systems/{hex}/policies?limit=100&skip=0 status=200 took={n}ms",
    "[INFO] systemKey={hex} registered",
    "[INFO] Executing command {hex} as root: exit status 0",
    "[WARN] retrying connection to agent.jumpcloud.com:443 after 5s: dial tcp: i/o timeout",
    "[INFO] Certificate /opt/jc/client.crt valid until 2026-01-01",
    "[INFO] user alice updated (uid={n}, gid={n})",
    "[INFO] token refresh succeeded",
    "[INFO] password policy updated for {n} users",
    "[INFO] Sending pending work completion to server",
    "[INFO] Checking for updated software packages",
    "[DEBUG] policy {hex} result: success, duration={n}ms",
    "[INFO] lastlogin: user alice logged in from 10.0.0.{n}",
];

/// Lines with a secret, one of these every ~2,000 lines.
const SECRET_LINES: &[&str] = &[
    "[DEBUG] request headers: map[Authorization:[Bearer {tok}] Content-Type:[application/json]]",
    "[ERROR] ldap bind failed with password={tok} for cn=admin",
    "[DEBUG] loaded config {\"systemToken\":\"{tok}\",\"systemKey\":\"{hex}\"}",
    "[INFO] using proxy http://proxyuser:{tok}@proxy.corp:3128",
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
    fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[self.below(alphabet.len())] as char)
            .collect()
    }
}

fn generate(target: usize) -> (Vec<u8>, usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(target + 512);
    let (mut lines, mut secrets) = (0usize, 0usize);
    let pid = 32713;
    while out.len() < target {
        let secs = lines / 20;
        let ts = format!(
            "2021/05/{:02} {:02}:{:02}:{:02} [{pid}] ",
            7 + secs / 86_400 % 20,
            secs / 3600 % 24,
            secs / 60 % 60,
            secs % 60
        );
        let template = if rng.below(2000) == 0 {
            secrets += 1;
            SECRET_LINES[rng.below(SECRET_LINES.len())]
        } else {
            MESSAGES[rng.below(MESSAGES.len())]
        };
        let line = template
            .replace("{hex}", &rng.chars(b"0123456789abcdef", 24))
            .replace("{n}", &rng.below(5000).to_string())
            .replace(
                "{tok}",
                &rng.chars(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                    32,
                ),
            );
        out.extend_from_slice(ts.as_bytes());
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
        lines += 1;
    }
    eprintln!("generated {} lines, {} with secrets", lines, secrets);
    (out, secrets)
}

/// Nanoseconds this thread has spent on a CPU (Linux), so that a busy shared machine does not
/// distort the figure. `None` elsewhere.
fn on_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let secrets = &jcdiag_profile::Profile::builtin().secrets;
    let built = Instant::now();
    let scrubber = Scrubber::new(&secrets.key_words, &secrets.public_keys).expect("rules compile");
    eprintln!(
        "rules built in {:.0} ms",
        built.elapsed().as_secs_f64() * 1e3
    );
    let (text, planted) = generate(mb << 20);
    if let Ok(path) = std::env::var("SCRUB_BENCH_DUMP") {
        std::fs::write(path, &text).expect("dump");
    }
    // Owned text is what `collect` scrubs (each log read into a buffer it gives up); borrowed
    // text is written to a new buffer. The copy handed over is made before the clock starts.
    for owned in [true, false] {
        let mut best = 0f64;
        let mut best_cpu = 0f64;
        for run in 1..=3 {
            let copy = owned.then(|| text.clone());
            let cpu0 = on_cpu_ns();
            let t = Instant::now();
            let out = match copy {
                Some(copy) => scrubber.scrub_owned(std::hint::black_box(copy)),
                None => scrubber.scrub_text(std::hint::black_box(&text)),
            };
            let secs = t.elapsed().as_secs_f64();
            let cpu_secs = match (cpu0, on_cpu_ns()) {
                (Some(a), Some(b)) => (b - a) as f64 / 1e9,
                _ => secs,
            };
            let mb = text.len() as f64 / 1e6;
            best = best.max(mb / secs);
            best_cpu = best_cpu.max(mb / cpu_secs);
            eprintln!(
                "run {run}: {mb:.1} MB in {secs:.3} s wall ({:.0} MB/s), {cpu_secs:.3} s on CPU ({:.0} MB/s); {} redactions, planted {planted}: {:?}",
                mb / secs,
                mb / cpu_secs,
                out.redactions().total(),
                out.redactions().0
            );
            assert_eq!(
                out.redactions().total() as usize,
                planted,
                "every planted secret is redacted once"
            );
        }
        let what = if owned {
            "owned text (collect's path)"
        } else {
            "borrowed text"
        };
        println!("scrub throughput, {what}: {best:.0} MB/s (single core)");
        println!(
            "scrub throughput, {what}, on CPU time: {best_cpu:.0} MB/s (excludes time waiting for a shared core)"
        );
    }
}
