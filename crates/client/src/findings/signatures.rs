//! Error signatures: every ERROR/WARN line of the agent logs, with what varies from one
//! occurrence to the next (time, PID, ids, hex, numbers, ids inside paths and URLs) taken out,
//! so that the same failure counts as one signature however often it repeats.
//!
//! The scan runs over the text as stored in the bundle, after scrubbing: a secret removed by the
//! scrubber cannot reach a signature, and every line reference points into the bundle's entry.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use jcdiag_profile::FindingsRules;
use jcdiag_protocol::{Evidence, KnownSignature, Signature};
use memchr::memmem;

use crate::sources::logs::line_timestamp;

/// Longest signature kept; a longer message is cut (the example keeps the line).
const MAX_SIGNATURE: usize = 300;
/// Longest example line kept.
const MAX_EXAMPLE: usize = 500;
/// Restart lines listed as evidence.
pub(crate) const RESTART_EVIDENCE: usize = 5;

/// A line the scan points at: where it is, and its time.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Option<NaiveDateTime>,
    pub evidence: Evidence,
}

struct Group {
    level: String,
    count: u64,
    /// Timestamps as written (`YYYY/MM/DD HH:MM:SS` sorts as text).
    first: [u8; 19],
    last: [u8; 19],
    example: Evidence,
}

/// FxHash (rustc's): signatures are short and not chosen by an attacker who gains anything by
/// colliding them, so a fast hash beats SipHash here.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &byte in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Groups = HashMap<Vec<u8>, Group, std::hash::BuildHasherDefault<FxHasher>>;

/// What the logs say, gathered one log at a time.
pub struct LogScan {
    levels: Vec<String>,
    restart_marker: String,
    timestamp_format: String,
    groups: Groups,
    /// Reused for each line's signature: no allocation per line.
    buffer: Vec<u8>,
    /// The first bytes of `levels`.
    level_starts: [bool; 256],
    /// The newest timestamped line of the main log (jcagent.log), if it was scanned.
    pub main_newest: Option<Seen>,
    /// Whether the main log was scanned at all.
    pub main_scanned: bool,
    /// Every agent start (restart marker line) seen, in any log.
    pub restarts: Vec<Seen>,
    /// The newest timestamp seen in any log.
    pub newest: Option<NaiveDateTime>,
    /// Bytes scanned, for the record.
    pub bytes: u64,
}

impl LogScan {
    pub fn new(rules: &FindingsRules, timestamp_format: &str) -> LogScan {
        LogScan {
            levels: rules.signature_levels.clone(),
            restart_marker: rules.restart_marker.clone(),
            timestamp_format: timestamp_format.to_string(),
            groups: Groups::default(),
            buffer: Vec::with_capacity(MAX_SIGNATURE + 8),
            level_starts: {
                let mut starts = [false; 256];
                for level in &rules.signature_levels {
                    if let Some(b) = level.bytes().next() {
                        starts[b as usize] = true;
                    }
                }
                starts
            },
            main_newest: None,
            main_scanned: false,
            restarts: Vec::new(),
            newest: None,
            bytes: 0,
        }
    }

    /// Scans one log as stored under `entry` (a bundle entry name, or a system path when there
    /// is no bundle). `main`: the agent's main log, whose newest line says whether the agent
    /// still writes.
    pub fn scan(&mut self, entry: &str, text: &[u8], main: bool) {
        if super::skipped_for_bench() {
            return;
        }
        self.bytes += text.len() as u64;
        self.main_scanned |= main;
        // Restart lines are found in one pass over the whole text, not line by line.
        let marker = memmem::Finder::new(self.restart_marker.as_bytes());
        let mut markers = marker.find_iter(text).peekable();
        let mut newest_line: Option<(usize, &[u8])> = None;
        let mut start = 0;
        let mut index = 0;
        let ends = memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len()));
        for end in ends {
            if start > text.len() {
                break;
            }
            let line = &text[start..end];
            let line_start = start;
            start = end + 1;
            index += 1;
            // `YYYY/MM/DD HH:MM:SS [PID] [LEVEL] message`: cheap shape test before any parsing.
            if line.len() < 21 || line[4] != b'/' || line[13] != b':' || line[19] != b' ' {
                continue;
            }
            newest_line = Some((index - 1, line));
            while markers.next_if(|&at| at < line_start).is_some() {}
            if !self.restart_marker.is_empty() && markers.next_if(|&at| at < end).is_some() {
                self.restarts.push(Seen {
                    at: line_timestamp(line, &self.timestamp_format),
                    evidence: evidence(entry, index - 1, line),
                });
            }
            let Some((level, message)) = level_and_message(&line[20..]) else {
                continue;
            };
            // Most lines are INFO: one byte rules them out before any comparison.
            if !level
                .first()
                .is_some_and(|b| self.level_starts[*b as usize])
            {
                continue;
            }
            let Some(level) = self.levels.iter().find(|l| l.as_bytes() == level) else {
                continue;
            };
            normalise_into(message, &mut self.buffer);
            let mut stamp = [0u8; 19];
            stamp.copy_from_slice(&line[..19]);
            match self.groups.get_mut(self.buffer.as_slice()) {
                Some(group) => {
                    group.count += 1;
                    group.first = group.first.min(stamp);
                    group.last = group.last.max(stamp);
                }
                None => {
                    self.groups.insert(
                        self.buffer.clone(),
                        Group {
                            level: level.clone(),
                            count: 1,
                            first: stamp,
                            last: stamp,
                            example: evidence(entry, index - 1, line),
                        },
                    );
                }
            }
        }
        if let Some((index, line)) = newest_line
            && let Some(at) = line_timestamp(line, &self.timestamp_format)
        {
            if self.newest.is_none_or(|n| at > n) {
                self.newest = Some(at);
            }
            if main && self.main_newest.as_ref().is_none_or(|n| n.at < Some(at)) {
                self.main_newest = Some(Seen {
                    at: Some(at),
                    evidence: evidence(entry, index, line),
                });
            }
        }
    }

    /// The most frequent signatures (the profile's `top_signatures`), each with the profile's
    /// meaning and advice when it is a known one; then any other known one.
    pub fn signatures(&self, rules: &FindingsRules) -> Vec<Signature> {
        let mut all: Vec<Signature> = self
            .groups
            .iter()
            .map(|(signature, group)| {
                let signature = String::from_utf8_lossy(signature).into_owned();
                let stamp = |s: &[u8; 19]| Some(String::from_utf8_lossy(s).into_owned());
                Signature {
                    known: known(rules, &signature),
                    signature,
                    level: group.level.clone(),
                    count: group.count,
                    first_seen: stamp(&group.first),
                    last_seen: stamp(&group.last),
                    example: group.example.clone(),
                }
            })
            .collect();
        all.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.signature.cmp(&b.signature))
        });
        let mut kept: Vec<Signature> = Vec::new();
        for (i, signature) in all.into_iter().enumerate() {
            // A known signature is worth listing however rare it is.
            if i < rules.top_signatures || signature.known.is_some() {
                kept.push(signature);
            }
        }
        kept
    }
}

fn evidence(entry: &str, index: usize, line: &[u8]) -> Evidence {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end();
    Evidence {
        text: cut(text, MAX_EXAMPLE),
        file: Some(entry.to_string()),
        line: Some(index as u64 + 1),
    }
}

/// `[PID] [LEVEL] message` → (`LEVEL`, `message`).
fn level_and_message(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    // Both brackets close within a few bytes: a plain loop beats a call to memchr here.
    let rest = rest.strip_prefix(b"[")?;
    let close = rest.iter().position(|&b| b == b']')?;
    let rest = rest[close + 1..].strip_prefix(b" [")?;
    let close = rest.iter().position(|&b| b == b']')?;
    let level = &rest[..close];
    let message = &rest[close + 1..];
    let message = message.strip_prefix(b" ").unwrap_or(message);
    Some((level, message))
}

/// The profile's known signature whose texts all occur in `signature`.
fn known(rules: &FindingsRules, signature: &str) -> Option<KnownSignature> {
    rules
        .known_signatures
        .iter()
        .find(|rule| rule.matches.iter().all(|m| signature.contains(m.as_str())))
        .map(|rule| KnownSignature {
            id: rule.id.clone(),
            meaning: rule.meaning.clone(),
            advice: rule.advice.clone(),
            link: rule.link.clone(),
        })
}

/// A message with what varies between occurrences replaced: a word (letters, digits, `_`, `-`,
/// `.`) holding a digit becomes `<n>` when it is a number, a version or an address (digits and
/// `.`, `-`, `:`), `<id>` when it is hex of 8 characters or more (ids, UUIDs, hashes) or a long
/// mix of letters and digits; other words are kept. Separators (`/`, `:`, blanks…) are kept, so
/// paths and URLs keep their shape with their ids removed.
pub fn normalise(message: &str) -> String {
    let mut out = Vec::new();
    normalise_into(message.as_bytes(), &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Byte classes for [`normalise_into`]: one table lookup per byte.
const WORD: u8 = 1;
const DIGIT: u8 = 2;
/// Hex digits, `-` and `.`: what ids, UUIDs and hashes are made of.
const HEXISH: u8 = 4;
/// Digits, `.` and `-`: numbers, versions, addresses, dates.
const NUMERIC: u8 = 8;

const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut class = 0;
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.' {
            class |= WORD;
        }
        if c.is_ascii_digit() {
            class |= DIGIT | NUMERIC;
        }
        if c.is_ascii_hexdigit() || c == b'-' || c == b'.' {
            class |= HEXISH;
        }
        if c == b'-' || c == b'.' {
            class |= NUMERIC;
        }
        table[b] = class;
        b += 1;
    }
    table
};

/// [`normalise`] into a reused buffer, on bytes (the line may not be UTF-8; bytes outside words
/// are copied as they are). Stops at [`MAX_SIGNATURE`] bytes, ending with `…`. A word is a run
/// of letters, digits, `_`, `-`, `.`; only a word holding a digit can be replaced, so the text
/// up to the next digit's word is copied in one piece, and what replaces that word is decided
/// from the classes all its bytes share.
fn normalise_into(message: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let message = message.trim_ascii();
    let n = message.len();
    let mut i = 0;
    while i < n {
        let Some(digit) = message[i..].iter().position(u8::is_ascii_digit) else {
            copy_capped(&message[i..], out);
            return;
        };
        let digit = i + digit;
        let mut start = digit;
        while start > i && CLASS[message[start - 1] as usize] & WORD != 0 {
            start -= 1;
        }
        if !copy_capped(&message[i..start], out) {
            return;
        }
        if out.len() >= MAX_SIGNATURE {
            out.extend_from_slice("…".as_bytes());
            return;
        }
        let mut end = digit + 1;
        while end < n && CLASS[message[end] as usize] & WORD != 0 {
            end += 1;
        }
        let word = &message[start..end];
        let all = word.iter().fold(u8::MAX, |all, &b| all & CLASS[b as usize]);
        replace_word(word, all, out);
        i = end;
    }
}

/// Appends `text` (which holds no word with a digit) as [`normalise_into`] would, byte by byte
/// and word by word, stopping where the signature is long enough; false once it has stopped.
fn copy_capped(text: &[u8], out: &mut Vec<u8>) -> bool {
    if out.len() + text.len() < MAX_SIGNATURE {
        out.extend_from_slice(text);
        return true;
    }
    // Near the cap: each byte outside a word, and each word, is one step, and the cap is
    // checked before each step.
    let mut i = 0;
    while i < text.len() {
        if out.len() >= MAX_SIGNATURE {
            out.extend_from_slice("…".as_bytes());
            return false;
        }
        let mut end = i + 1;
        if CLASS[text[i] as usize] & WORD != 0 {
            while end < text.len() && CLASS[text[end] as usize] & WORD != 0 {
                end += 1;
            }
        }
        out.extend_from_slice(&text[i..end]);
        i = end;
    }
    true
}

/// Appends what stands for `word` (which holds a digit; `all`: the classes all its bytes share).
fn replace_word(word: &[u8], all: u8, out: &mut Vec<u8>) {
    // A sentence's full stop stays outside the replacement (`.` is in every class a
    // replacement needs, so the classes of the word are those of its body).
    let (body, stop) = match word.strip_suffix(b".") {
        Some(body) => (body, true),
        None => (word, false),
    };
    if all & NUMERIC != 0 {
        out.extend_from_slice(b"<n>");
    } else if all & HEXISH != 0 && body.len() >= 8 {
        out.extend_from_slice(b"<id>");
    } else if let Some(unit) = unit_of(body) {
        // A duration or size (`5s`, `120ms`, `3.5GB`): the same failure however long it took.
        out.extend_from_slice(b"<n>");
        out.extend_from_slice(unit);
    } else if body.len() >= 16 {
        out.extend_from_slice(b"<id>");
    } else {
        out.extend_from_slice(body);
    }
    if stop {
        out.push(b'.');
    }
}

/// The unit of a number written with one (`120ms` → `ms`): digits and dots, then one to three
/// letters.
fn unit_of(word: &[u8]) -> Option<&[u8]> {
    let number = word
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b'.'))?;
    let unit = &word[number..];
    (word[0].is_ascii_digit() && unit.len() <= 3 && unit.iter().all(u8::is_ascii_alphabetic))
        .then_some(unit)
}

fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use jcdiag_profile::Profile;

    /// The byte-by-byte normalisation the word-at-a-time one replaced, kept as its oracle.
    fn reference(message: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let message = message.trim_ascii();
        let n = message.len();
        let mut i = 0;
        while i < n {
            if out.len() >= MAX_SIGNATURE {
                out.extend_from_slice("…".as_bytes());
                return;
            }
            let class = CLASS[message[i] as usize];
            if class & WORD == 0 {
                out.push(message[i]);
                i += 1;
                continue;
            }
            let start = i;
            let (mut all, mut any) = (class, class);
            i += 1;
            while i < n {
                let class = CLASS[message[i] as usize];
                if class & WORD == 0 {
                    break;
                }
                all &= class;
                any |= class;
                i += 1;
            }
            let word = &message[start..i];
            if any & DIGIT == 0 {
                out.extend_from_slice(word);
                continue;
            }
            replace_word(word, all, out);
        }
    }

    #[test]
    fn word_at_a_time_normalisation_matches_the_byte_by_byte_one() {
        let pieces: &[&[u8]] = &[
            b"a",
            b"Z",
            b"0",
            b"7",
            b"f",
            b".",
            b"-",
            b"_",
            b":",
            b"/",
            b" ",
            b"\t",
            b"x509",
            b"3f2504e0",
            b"10.0.0.1",
            b"1.",
            b"\xc3\xa9",
            b"\xff",
            b"[",
            b"=",
            b"deadbeefcafe",
            b"connection",
            b"v1.2.3-rc4",
        ];
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        for round in 0..20_000 {
            // Mostly short messages, some past the signature's cap.
            let parts = if round % 10 == 0 {
                200
            } else {
                (next() % 40) as usize
            };
            let mut message = Vec::new();
            for _ in 0..parts {
                message.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            normalise_into(&message, &mut fast);
            reference(&message, &mut slow);
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&slow),
                "{:?}",
                String::from_utf8_lossy(&message)
            );
        }
    }

    #[test]
    fn ids_numbers_and_times_are_taken_out_and_words_kept() {
        assert_eq!(
            normalise(
                "failed to poll server: Get https://agent.jumpcloud.com:443/poll/5f3e0c1a2b3c4d5e6f708192: EOF"
            ),
            "failed to poll server: Get https://agent.jumpcloud.com:<n>/poll/<id>: EOF"
        );
        assert_eq!(
            normalise("user 1042 session 3f2504e0-4f89-11d3-9a0c-0305e82c3301 took 3.5s"),
            "user <n> session <id> took <n>s"
        );
        assert_eq!(
            normalise("wrote /opt/jc/policies/a1b2c3d4e5f6/run.json in 12 ms."),
            "wrote /opt/jc/policies/<id>/run.json in <n> ms."
        );
        assert_eq!(
            normalise("x509: certificate expired at 10.0.0.1"),
            "x509: certificate expired at <n>"
        );
        // Durations and sizes keep their unit; a word with letters first is kept.
        assert_eq!(
            normalise("retry 3 after 120ms (sent 4.5MB, 2d since sha256 v2)"),
            "retry <n> after <n>ms (sent <n>MB, <n>d since sha256 v2)"
        );
    }

    #[test]
    fn the_same_error_with_other_ids_and_times_is_one_signature_with_its_counts_and_times() {
        let rules = &Profile::builtin().findings;
        let mut scan = LogScan::new(rules, "%Y/%m/%d %H:%M:%S");
        let log = "2026/11/30 08:00:00 [100] [INFO] Build version: 0.154.0\n\
2026/11/30 08:00:01 [100] [ERROR] failed to poll server: Get https://agent.jumpcloud.com:443/poll/aaaa1111bbbb: EOF\n\
2026/11/30 09:00:00 [100] [WARN] retry 3 of 5\n\
2026/11/30 10:00:01 [101] [ERROR] failed to poll server: Get https://agent.jumpcloud.com:443/poll/cccc2222dddd: EOF\n\
  continued detail\n";
        scan.scan("logs/var/log/jcagent.log", log.as_bytes(), true);
        let signatures = scan.signatures(rules);
        assert_eq!(signatures.len(), 2);
        let poll = &signatures[0];
        assert_eq!(poll.count, 2);
        assert_eq!(poll.level, "ERROR");
        assert_eq!(poll.first_seen.as_deref(), Some("2026/11/30 08:00:01"));
        assert_eq!(poll.last_seen.as_deref(), Some("2026/11/30 10:00:01"));
        assert_eq!(poll.example.line, Some(2));
        assert_eq!(poll.known.as_ref().unwrap().id, "poll-eof");
        assert_eq!(signatures[1].signature, "retry <n> of <n>");
        assert!(signatures[1].known.is_none());
        assert_eq!(scan.restarts.len(), 1);
        assert_eq!(scan.main_newest.as_ref().unwrap().evidence.line, Some(4));
    }

    /// A level token quoted inside another line's message does not count, a line holding two
    /// counts once, and lines without the log's shape are never counted.
    #[test]
    fn only_the_lines_level_counts_and_each_line_once() {
        let rules = &Profile::builtin().findings;
        let mut scan = LogScan::new(rules, "%Y/%m/%d %H:%M:%S");
        let log = "junk ] [ERROR] Build version: 1\n\
2026/11/30 08:00:00 [100] [INFO] peer said \"x] [WARN] y\"\n\
2026/11/30 08:00:01 [100] [ERROR] disk full] [ERROR] twice\n\
\n\
2026/11/30 08:00:02 [100] [WARN] Build version: 2 then ] [ERROR]\n\
not a log line\n";
        scan.scan("logs/a.log", log.as_bytes(), true);
        let signatures = scan.signatures(rules);
        let counts: Vec<(&str, &str, u64, Option<u64>)> = signatures
            .iter()
            .map(|s| {
                (
                    s.level.as_str(),
                    s.signature.as_str(),
                    s.count,
                    s.example.line,
                )
            })
            .collect();
        assert_eq!(
            counts,
            vec![
                ("WARN", "Build version: <n> then ] [ERROR]", 1, Some(5)),
                ("ERROR", "disk full] [ERROR] twice", 1, Some(3)),
            ]
        );
        let restarts: Vec<Option<u64>> = scan.restarts.iter().map(|r| r.evidence.line).collect();
        assert_eq!(restarts, vec![Some(5)]);
        assert_eq!(scan.main_newest.as_ref().unwrap().evidence.line, Some(5));
    }
}
