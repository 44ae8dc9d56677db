//! Long fuzz run of the zip check: `cargo run --release -p jcdiag-intake --example
//! fuzz_inspect -- [SECONDS] [SEED] [FINDINGS_DIR]` (`benches/fuzz.sh` runs it). The engine and
//! its seeds are the test suite's (`tests/it/fuzz.rs`, `tests/it/rawzip.rs`). Exits 1 if it
//! found anything.

#[allow(dead_code)]
#[path = "../tests/it/rawzip.rs"]
mod rawzip;

#[allow(dead_code)]
#[path = "../tests/it/fuzz.rs"]
mod fuzz;

use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(600);
    let seed: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let findings = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "target/fuzz-findings/inspect".into()),
    );
    // Panics are findings, caught per input; keep their messages off stderr.
    std::panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let stats = fuzz::run(
        fuzz::Budget::Time(Duration::from_secs(seconds)),
        seed,
        5,
        Some(&findings),
    );
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz_inspect: {} executions in {secs:.0} s ({:.0}/s), seed {seed}; {} accepted, {} cross-checked with unzip/zipfile/bsdtar; {} findings",
        stats.executions,
        stats.executions as f64 / secs,
        stats.accepted,
        stats.tool_checks,
        stats.findings.len()
    );
    for (n, finding) in stats.findings.iter().enumerate().take(20) {
        println!("  finding {n} ({}/{n}.zip): {finding}", findings.display());
    }
    if !stats.findings.is_empty() {
        std::process::exit(1);
    }
}
