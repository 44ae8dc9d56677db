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
    first: Option<String>,
    last: Option<String>,
    example: Evidence,
}

/// What the logs say, gathered one log at a time.
pub struct LogScan {
    levels: Vec<String>,
    restart_marker: String,
    timestamp_format: String,
    groups: HashMap<String, Group>,
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
            groups: HashMap::new(),
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
        self.bytes += text.len() as u64;
        self.main_scanned |= main;
        let marker = memmem::Finder::new(self.restart_marker.as_bytes());
        let mut newest_line: Option<(usize, &[u8])> = None;
        for (index, line) in text.split(|&b| b == b'\n').enumerate() {
            // `YYYY/MM/DD HH:MM:SS [PID] [LEVEL] message`: cheap shape test before any parsing.
            if line.len() < 21 || line[4] != b'/' || line[13] != b':' || line[19] != b' ' {
                continue;
            }
            newest_line = Some((index, line));
            if !self.restart_marker.is_empty() && marker.find(line).is_some() {
                self.restarts.push(Seen {
                    at: line_timestamp(line, &self.timestamp_format),
                    evidence: evidence(entry, index, line),
                });
            }
            let Some((level, message)) = level_and_message(&line[20..]) else {
                continue;
            };
            let Some(level) = self.levels.iter().find(|l| l.as_bytes() == level) else {
                continue;
            };
            let signature = normalise(&String::from_utf8_lossy(message));
            let stamp = String::from_utf8_lossy(&line[..19]).into_owned();
            match self.groups.get_mut(&signature) {
                Some(group) => {
                    group.count += 1;
                    if group.first.as_ref().is_none_or(|f| stamp < *f) {
                        group.first = Some(stamp.clone());
                    }
                    if group.last.as_ref().is_none_or(|l| stamp > *l) {
                        group.last = Some(stamp);
                    }
                }
                None => {
                    self.groups.insert(
                        signature,
                        Group {
                            level: level.clone(),
                            count: 1,
                            first: Some(stamp.clone()),
                            last: Some(stamp),
                            example: evidence(entry, index, line),
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
            .map(|(signature, group)| Signature {
                signature: signature.clone(),
                level: group.level.clone(),
                count: group.count,
                first_seen: group.first.clone(),
                last_seen: group.last.clone(),
                example: group.example.clone(),
                known: known(rules, signature),
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
    let rest = rest.strip_prefix(b"[")?;
    let close = memchr::memchr(b']', rest)?;
    let rest = rest[close + 1..].strip_prefix(b" [")?;
    let close = memchr::memchr(b']', rest)?;
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
    let mut out = String::with_capacity(message.len().min(MAX_SIGNATURE));
    let mut word = String::new();
    for c in message.trim().chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
            word.push(c);
            continue;
        }
        push_word(&mut out, &word);
        word.clear();
        out.push(c);
    }
    push_word(&mut out, &word);
    cut(&out, MAX_SIGNATURE)
}

fn push_word(out: &mut String, word: &str) {
    if !word.bytes().any(|b| b.is_ascii_digit()) {
        out.push_str(word);
        return;
    }
    // A sentence's full stop stays outside the replacement.
    let (body, tail) = match word.strip_suffix('.') {
        Some(body) => (body, "."),
        None => (word, ""),
    };
    let numeric = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b':'));
    let hex = body
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || matches!(b, b'-' | b'.'));
    if numeric {
        out.push_str("<n>");
    } else if (hex && body.len() >= 8) || body.len() >= 16 {
        out.push_str("<id>");
    } else {
        out.push_str(body);
    }
    out.push_str(tail);
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
            "user <n> session <id> took 3.5s"
        );
        assert_eq!(
            normalise("wrote /opt/jc/policies/a1b2c3d4e5f6/run.json in 12 ms."),
            "wrote /opt/jc/policies/<id>/run.json in <n> ms."
        );
        assert_eq!(
            normalise("x509: certificate expired at 10.0.0.1"),
            "x509: certificate expired at <n>"
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
}
