//! Mutation fuzzer for `Scrubber::scrub_text`: `cargo run --release -p jcdiag-scrub --example
//! fuzz_scrub -- [SECONDS] [SEED] [FINDINGS_DIR]` (`benches/fuzz.sh` runs it for minutes).
//!
//! Each input is mutated jcagent.log text (byte flips, inserted separators, quotes, token
//! prefixes, PEM markers, CRLF, invalid UTF-8, spliced lines) with one random secret planted
//! on a line of its own in one of the supported syntaxes. Invariants checked on every input:
//!
//! * the scrubber never panics;
//! * it is idempotent: scrubbing the output again changes nothing and counts nothing;
//! * the planted secret does not survive.
//!
//! Prints executions and findings; writes each finding's input to FINDINGS_DIR; exits 1 if
//! there are any.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jcdiag_scrub::Scrubber;

/// Real jcagent.log lines (after the timestamp), some mentioning trigger words in prose.
const LOG: &[&str] = &[
    "2021/05/07 09:25:13 [32713] [INFO] Sending heartbeat to agent.jumpcloud.com",
    "2021/05/07 09:25:13 [32713] [ERROR] skipping update policies: policy conf bundle not valid",
    "2021/05/07 09:25:14 [32713] [WARN] Could not read /opt/jc/policies/5f1c2d3e4f5a6b7c8d9e0f1a/policyConf.json: no such file or directory",
    "2021/05/07 09:25:14 [32713] [DEBUG] GET https://agent.jumpcloud.com/api/systems/5f1c2d3e/policies?limit=100&skip=0 status=200 took=31ms",
    "2021/05/07 09:25:15 [32713] [INFO] systemKey=5f1c2d3e4f5a6b7c8d9e0f1a registered",
    "2021/05/07 09:25:15 [32713] [INFO] token refresh succeeded",
    "2021/05/07 09:25:15 [32713] [INFO] password policy updated for 12 users",
    "2021/05/07 09:25:16 [32713] [WARN] retrying connection to agent.jumpcloud.com:443 after 5s: dial tcp: i/o timeout",
    "2021/05/07 09:25:16 [32713] [INFO] auth_method=ldap author: x",
    "2021/05/07 09:25:17 [32713] [DEBUG] loaded config {\"systemKey\":\"5f1c2d3e\",\"agentServerHost\":\"agent.jumpcloud.com\"}",
    "2021/05/07 09:25:17 [32713] [INFO] lastlogin: user alice logged in from 10.0.0.7",
    "[Service]\r\nEnvironment=HTTPS_PROXY=http://proxy.corp:3128",
    "- name: jcagent\n  enabled: true",
];

/// Fragments that change the scrubber's context when spliced into the text.
const SPICE: &[&str] = &[
    "=",
    ":",
    ": ",
    "\"",
    "'",
    "\\\"",
    "\\",
    "[",
    "]",
    "{",
    "}",
    "\n",
    "\r\n",
    "\t",
    " ",
    "@",
    "://",
    "?",
    "&",
    "#",
    "--",
    "-u ",
    "Bearer ",
    "eyJ",
    "AKIA",
    "ghp_",
    "xoxb-",
    "|",
    "-----BEGIN RSA PRIVATE KEY-----\n",
    "-----END RSA PRIVATE KEY-----",
    "[REDACTED:x]",
    "password",
    "token",
    "secret",
    "Authorization: ",
    "Cookie: ",
    "\u{e9}",
    "\u{0}",
    "\u{ff}",
];

/// Syntaxes in which a planted secret `{S}` must be removed (as in the scrubber's own
/// property test `planted_secret_is_removed`).
const TEMPLATES: &[&str] = &[
    "password={S}",
    "token: {S}",
    "\"secret\": \"{S}\"",
    "Authorization: Bearer {S}",
    "X-Auth-Token: {S}",
    "https://bob:{S}@host/",
    "?api_key={S}&x=1",
    "--password {S}",
    "export DB_PASSWORD='{S}'",
    "{\\\"pwd\\\":\\\"{S}\\\"}",
    "map[token:{S}]",
    "aws_secret_access_key={S}",
    "systemToken={S}",
    "connectKey: {S}",
    "curl -u a:{S}",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A few log lines, then byte-level mutations.
fn mutated_log(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(8) {
        out.extend_from_slice(LOG[rng.below(LOG.len())].as_bytes());
        out.push(b'\n');
    }
    for _ in 0..rng.below(6) {
        let len = out.len();
        match rng.below(5) {
            0 if len > 0 => {
                let at = rng.below(len);
                out[at] ^= 1 << rng.below(8);
            }
            1 | 2 => {
                let at = rng.below(len + 1);
                let spice = SPICE[rng.below(SPICE.len())].as_bytes();
                out.splice(at..at, spice.iter().copied());
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(40));
                out.drain(at..at + n);
            }
            _ if len > 0 => {
                let from = rng.below(len);
                let n = 1 + rng.below((len - from).min(80));
                let chunk = out[from..from + n].to_vec();
                let to = rng.below(len + 1);
                out.splice(to..to, chunk);
            }
            _ => {}
        }
    }
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(600);
    let seed: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let findings_dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "target/fuzz-findings/scrub".into()),
    );
    let secrets = &jcdiag_profile::Profile::builtin().secrets;
    let scrubber = Scrubber::new(&secrets.key_words, &secrets.public_keys).expect("rules compile");
    std::panic::set_hook(Box::new(|_| {}));

    let mut rng = Rng(seed | 1);
    let (mut executions, mut redactions) = (0u64, 0u64);
    let mut findings: Vec<String> = Vec::new();
    let start = Instant::now();
    let budget = Duration::from_secs(seconds);
    while start.elapsed() < budget {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let secret: String = (0..12 + rng.below(19))
            .map(|_| alphabet[rng.below(alphabet.len())] as char)
            .collect();
        let planted = TEMPLATES[rng.below(TEMPLATES.len())].replace("{S}", &secret);
        let mut input = mutated_log(&mut rng);
        input.push(b'\n');
        input.extend_from_slice(planted.as_bytes());
        input.push(b'\n');
        input.extend_from_slice(&mutated_log(&mut rng));
        executions += 1;

        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let once = scrubber.scrub_text(&input);
            let twice = scrubber.scrub_text(once.bytes());
            (once, twice)
        }));
        let problem = match outcome {
            Err(_) => Some("panic".to_owned()),
            Ok((once, twice)) => {
                redactions += once.redactions().total();
                if memchr_find(once.bytes(), secret.as_bytes()) {
                    Some(format!("planted secret survived: {planted}"))
                } else if twice.bytes() != once.bytes() || twice.redactions().total() != 0 {
                    Some(format!(
                        "not idempotent: {} more redactions",
                        twice.redactions().total()
                    ))
                } else {
                    None
                }
            }
        };
        if let Some(problem) = problem {
            let n = findings.len();
            let _ = std::fs::create_dir_all(&findings_dir);
            let _ = std::fs::write(findings_dir.join(format!("{n}.txt")), &input);
            findings.push(problem);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz_scrub: {executions} executions in {secs:.0} s ({:.0}/s), seed {seed}; {redactions} redactions; {} findings",
        executions as f64 / secs,
        findings.len()
    );
    for (n, finding) in findings.iter().enumerate().take(20) {
        println!(
            "  finding {n} ({}/{n}.txt): {finding}",
            findings_dir.display()
        );
    }
    if !findings.is_empty() {
        std::process::exit(1);
    }
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
