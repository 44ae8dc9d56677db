//! A mutation fuzzer for the zip check. It mutates seed zips (the testkit's bundles, the
//! shapes the zip crate writes, the hostile zips of `zipwalk`) and checks, for each input:
//!
//! * the check never panics and never fails with an I/O error on a readable file;
//! * a zip it accepts has safe names only, and the extractors (`unzip -Z1`, Python's
//!   `zipfile`, `bsdtar -t`; every `tools_every`-th accepted input) list exactly the entries
//!   the check returned.
//!
//! The test suite runs it briefly (`short_fuzz_run`); `benches/fuzz.sh` runs
//! `examples/fuzz_inspect.rs` for minutes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use jcdiag_intake::inspect::{self, Limits, Rejection};

use crate::rawzip;

/// xorshift64*: deterministic from its seed, so a finding can be replayed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

pub(crate) enum Budget {
    Runs(u64),
    // Used by examples/fuzz_inspect.rs.
    #[allow(dead_code)]
    Time(Duration),
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) executions: u64,
    pub(crate) accepted: u64,
    pub(crate) tool_checks: u64,
    pub(crate) findings: Vec<String>,
}

const SIGNATURES: [&[u8; 4]; 6] = [
    b"PK\x01\x02",
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"PK\x06\x06",
    b"PK\x06\x07",
    b"PK\x07\x08",
];

/// Values that sit on the edges of zip fields.
fn interesting(rng: &mut Rng, len: usize) -> u64 {
    let values = [
        0,
        1,
        0x7F,
        0xFF,
        0xFFFF,
        0x7FFF_FFFF,
        0xFFFF_FFFF,
        len as u64,
        (len / 2) as u64,
        rng.next() % 256,
    ];
    values[rng.below(values.len())]
}

fn positions(input: &[u8], needle: &[u8]) -> Vec<usize> {
    input
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// One to four mutations of `input`; `pool` gives material to splice in.
pub(crate) fn mutate(rng: &mut Rng, input: &[u8], pool: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(12) {
            0 if len > 0 => {
                let at = rng.below(len);
                out[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                out[at] = interesting(rng, len) as u8;
            }
            2 | 3 if len >= 4 => {
                // A 16- or 32-bit field, at a random place or at a record's field offsets.
                let marks: Vec<usize> = SIGNATURES
                    .iter()
                    .flat_map(|sig| positions(&out, &sig[..]))
                    .collect();
                let at = if !marks.is_empty() && rng.below(3) > 0 {
                    marks[rng.below(marks.len())] + 4 + 2 * rng.below(21)
                } else {
                    rng.below(len)
                };
                let value = interesting(rng, len);
                let width = if rng.below(2) == 0 { 2 } else { 4 };
                for i in 0..width {
                    if let Some(byte) = out.get_mut(at + i) {
                        *byte = (value >> (8 * i)) as u8;
                    }
                }
            }
            4 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(32);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.splice(at..at, bytes);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                out.drain(at..at + n);
            }
            6 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(256));
                let chunk = out[at..at + n].to_vec();
                let to = rng.below(len + 1);
                out.splice(to..to, chunk);
            }
            7 if !pool.is_empty() => {
                let other = &pool[rng.below(pool.len())];
                if !other.is_empty() {
                    let at = rng.below(other.len());
                    let n = 1 + rng.below((other.len() - at).min(512));
                    let to = rng.below(len + 1);
                    out.splice(to..to, other[at..at + n].iter().copied());
                }
            }
            8 if len > 0 => out.truncate(rng.below(len)),
            9 if !pool.is_empty() => {
                // A whole zip in front of or behind this one.
                let other = pool[rng.below(pool.len())].clone();
                if rng.below(2) == 0 {
                    out.splice(0..0, other);
                } else {
                    out.extend_from_slice(&other);
                }
            }
            10 => {
                let sig = SIGNATURES[rng.below(SIGNATURES.len())];
                let at = rng.below(len + 1);
                out.splice(at..at, sig.iter().copied());
            }
            _ if len > 0 => {
                // Overwrite a range with a copy from elsewhere in the file (a name onto a
                // name, a header onto a header).
                let from = rng.below(len);
                let to = rng.below(len);
                let n = (1 + rng.below(48)).min(len - from).min(len - to);
                let chunk = out[from..from + n].to_vec();
                out[to..to + n].copy_from_slice(&chunk);
            }
            _ => {}
        }
    }
    out
}

/// Names the check must never let through.
fn unsafe_name(name: &str) -> bool {
    name.is_empty()
        || name.starts_with('/')
        || name.contains('\\')
        || name.as_bytes().get(1) == Some(&b':')
        || name.split('/').any(|part| part == "..")
        || name.chars().any(char::is_control)
}

/// Runs the fuzzer in a temporary folder. Findings are described in the result and, with
/// `findings_dir`, written there as `<n>.zip`.
pub(crate) fn run(
    budget: Budget,
    seed: u64,
    tools_every: u64,
    findings_dir: Option<&Path>,
) -> Stats {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("bundle.zip");
    let limits = Limits::default();
    let mut seeds: Vec<Vec<u8>> = rawzip::legitimate_seeds()
        .into_iter()
        .chain(rawzip::hostile_seeds())
        .map(|(_, zip)| zip)
        .collect();
    let base = seeds.len();
    let mut rng = Rng(seed | 1);
    let mut stats = Stats::default();
    let start = Instant::now();
    loop {
        match budget {
            Budget::Runs(n) if stats.executions >= n => break,
            Budget::Time(t) if start.elapsed() >= t => break,
            _ => {}
        }
        let parent = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, parent, &seeds);
        std::fs::write(&path, &input).expect("write the input");
        stats.executions += 1;
        let result = catch_unwind(AssertUnwindSafe(|| {
            inspect::inspect_listing(&path, &limits)
        }));
        let problem = match result {
            Err(panic) => Some(format!(
                "panic: {}",
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("?")
            )),
            Ok(Err(Rejection::Io(error))) => Some(format!("I/O error on a readable file: {error}")),
            Ok(Err(_)) => None,
            Ok(Ok((summary, names))) => {
                stats.accepted += 1;
                let mut problem = names
                    .iter()
                    .find(|name| unsafe_name(name))
                    .map(|name| format!("accepted an unsafe name {name:?}"));
                if summary.entries != names.len() as u64 {
                    problem = Some(format!(
                        "counted {} entries, listed {}",
                        summary.entries,
                        names.len()
                    ));
                }
                if problem.is_none() && tools_every > 0 && stats.accepted % tools_every == 1 {
                    stats.tool_checks += 1;
                    problem = tools_disagree(&path, &names);
                }
                // Accepted mutants are worth mutating further (bounded pool).
                if seeds.len() < base + 256 {
                    seeds.push(input.clone());
                } else {
                    let slot = base + rng.below(256);
                    seeds[slot] = input.clone();
                }
                problem
            }
        };
        if let Some(problem) = problem {
            let n = stats.findings.len();
            if let Some(findings) = findings_dir {
                let _ = std::fs::create_dir_all(findings);
                let _ = std::fs::write(findings.join(format!("{n}.zip")), &input);
            }
            stats.findings.push(problem);
        }
    }
    stats
}

/// Whether each extractor lists exactly `names`; `None` when they agree (or are missing).
fn tools_disagree(path: &Path, names: &[String]) -> Option<String> {
    let mut checked = names.to_vec();
    checked.sort();
    for (label, listed) in rawzip::listings(path) {
        match listed {
            Ok(mut listed) => {
                listed.sort();
                if listed != checked {
                    return Some(format!("{label} lists {listed:?}, the check {checked:?}"));
                }
            }
            // `unzip` calls a zip without entries an error.
            Err(_) if checked.is_empty() && label == "unzip -Z1" => {}
            Err(_) if rawzip::tool_missing(label) => {}
            Err(why) => return Some(format!("accepted, but {why}")),
        }
    }
    None
}

#[test]
#[cfg_attr(
    windows,
    ignore = "runs unzip, Python's zipfile and bsdtar: Linux programs a Windows test binary under Wine cannot start"
)]
fn every_seed_is_classified_as_the_tests_expect() {
    let limits = Limits::default();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.zip");
    for (what, zip) in rawzip::legitimate_seeds() {
        std::fs::write(&path, &zip).unwrap();
        let (_, names) = inspect::inspect_listing(&path, &limits)
            .unwrap_or_else(|why| panic!("{what}: refused: {why}"));
        assert_eq!(tools_disagree(&path, &names), None, "{what}");
    }
    for (what, zip) in rawzip::hostile_seeds() {
        std::fs::write(&path, &zip).unwrap();
        assert!(
            inspect::inspect(&path, &limits).is_err(),
            "{what}: accepted"
        );
    }
}

/// A short, fixed-seed run, so the suite catches a regression the long run found.
#[test]
#[cfg_attr(
    windows,
    ignore = "runs unzip, Python's zipfile and bsdtar: Linux programs a Windows test binary under Wine cannot start"
)]
fn short_fuzz_run() {
    let stats = run(Budget::Runs(1500), 0x5EED, 100, None);
    assert!(stats.findings.is_empty(), "{:#?}", stats.findings);
    assert!(stats.accepted > 0, "no mutant was accepted: {stats:?}");
}
