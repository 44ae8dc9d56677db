//! Optional consistent obfuscation (`--obfuscate hostnames,ips,macs,users,emails`).
//!
//! Scrubbing removes secrets; obfuscation goes further for customers who may not send who
//! and where: each host name, IP address, MAC address, user name and email address is
//! replaced by a stable alias (`host-1`, `ip-1`, `mac-1`, `user-1`, `email-1@obfuscated.invalid`)
//! so that support can still tell "the same machine" from "another one". The aliases are the
//! same everywhere in one bundle. The alias → original table is written only to a local,
//! owner-only file (see `crate::app`), never into the bundle.
//!
//! What is matched:
//! * ips: IPv4 addresses (a four-part version number such as 2.31.0.1 has the same shape and
//!   gets an alias too), and IPv6 addresses written in full or with `::`. Loopback and
//!   unspecified addresses (127.0.0.0/8, 0.0.0.0, ::1) are kept: they identify nothing and
//!   mean something to support.
//! * macs: six hex pairs joined by `:` or `-`.
//! * emails: `local@domain.tld`, except the case's own contact address (support must be able
//!   to answer) and JumpCloud's addresses.
//! * hostnames and users: the names this machine is known by (host names from the target and
//!   the running system; user accounts from the target's passwd file and home folders, and the
//!   running user), as whole words, case-insensitively; a host name with a domain after it
//!   (`ws01.corp.example.com`) is aliased whole. Names of two characters or fewer and
//!   system accounts are left alone: they would match ordinary words.

use std::collections::HashMap;
use std::sync::Mutex;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;
use serde_json::{Value, json};

use crate::scrub::{Redactions, Scrubbed};

/// One thing `--obfuscate` can hide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Category {
    Hostnames,
    Ips,
    Macs,
    Users,
    Emails,
    // All of the above (a plain comment: doc comments would become clap value help).
    All,
}

impl Category {
    fn alias_prefix(self) -> &'static str {
        match self {
            Category::Hostnames => "host",
            Category::Ips => "ip",
            Category::Macs => "mac",
            Category::Users => "user",
            Category::Emails => "email",
            Category::All => unreachable!("expanded before use"),
        }
    }

    /// The kind counted in the manifest's redactions, beside the scrubber's kinds.
    fn kind(self) -> &'static str {
        match self {
            Category::Hostnames => "obfuscated-hostname",
            Category::Ips => "obfuscated-ip",
            Category::Macs => "obfuscated-mac",
            Category::Users => "obfuscated-user",
            Category::Emails => "obfuscated-email",
            Category::All => unreachable!("expanded before use"),
        }
    }

    const EACH: [Category; 5] = [
        Category::Hostnames,
        Category::Ips,
        Category::Macs,
        Category::Users,
        Category::Emails,
    ];
}

/// The names the obfuscator looks for by value: they cannot be recognised by shape.
#[derive(Debug, Default, Clone)]
pub struct KnownNames {
    pub hosts: Vec<String>,
    pub users: Vec<String>,
    /// Email addresses that stay (the case's contact).
    pub keep_emails: Vec<String>,
}

/// Replaces identifying values by stable aliases. Shared by reference; the alias table is
/// behind a mutex so one obfuscator serves a whole bundle.
pub struct Obfuscator {
    enabled: Vec<Category>,
    names: Option<(AhoCorasick, Vec<(Category, String)>)>,
    keep_emails: Vec<String>,
    email: Regex,
    ipv4: Regex,
    ipv6: Regex,
    mac: Regex,
    aliases: Mutex<Aliases>,
}

#[derive(Default)]
struct Aliases {
    by_value: HashMap<(Category, String), String>,
    /// (alias, category, original) in the order first seen.
    table: Vec<(String, Category, String)>,
    counts: HashMap<Category, usize>,
}

struct Found {
    start: usize,
    end: usize,
    category: Category,
}

impl Obfuscator {
    /// `None` when no category is asked for.
    pub fn new(categories: &[Category], known: KnownNames) -> Option<Obfuscator> {
        let mut enabled: Vec<Category> = if categories.contains(&Category::All) {
            Category::EACH.to_vec()
        } else {
            categories.to_vec()
        };
        enabled.sort();
        enabled.dedup();
        if enabled.is_empty() {
            return None;
        }
        let mut patterns: Vec<(Category, String)> = Vec::new();
        let mut add = |category: Category, names: &[String]| {
            if !enabled.contains(&category) {
                return;
            }
            for name in names {
                let name = name.trim();
                if name.len() > 2 && !patterns.iter().any(|(_, p)| p.eq_ignore_ascii_case(name)) {
                    patterns.push((category, name.to_string()));
                }
            }
        };
        add(Category::Hostnames, &known.hosts);
        add(Category::Users, &known.users);
        let names = (!patterns.is_empty()).then(|| {
            let automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(patterns.iter().map(|(_, p)| p.as_bytes()))
                .expect("literal names always build");
            (automaton, patterns)
        });
        let regex = |pattern: &str| Regex::new(pattern).expect("built-in pattern compiles");
        Some(Obfuscator {
            enabled,
            names,
            keep_emails: known
                .keep_emails
                .iter()
                .map(|e| e.to_ascii_lowercase())
                .collect(),
            email: regex(r"(?i-u)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}"),
            ipv4: regex(
                r"(?-u)(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
            ),
            ipv6: regex(
                r"(?i-u)(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,6}(?::[0-9a-f]{1,4}){1,6}|(?:[0-9a-f]{1,4}:){1,7}:|:(?::[0-9a-f]{1,4}){1,7}",
            ),
            mac: regex(r"(?i-u)(?:[0-9a-f]{2}:){5}[0-9a-f]{2}|(?:[0-9a-f]{2}-){5}[0-9a-f]{2}"),
            aliases: Mutex::default(),
        })
    }

    fn on(&self, category: Category) -> bool {
        self.enabled.contains(&category)
    }

    /// Scrubbed text with every identifying value replaced, the counts added to its
    /// redactions. It takes and gives [`Scrubbed`]: aliasing comes after scrubbing, never
    /// instead of it.
    pub fn apply(&self, text: Scrubbed) -> Scrubbed {
        text.rewritten(|bytes| self.alias_bytes(bytes))
    }

    /// The bytes with every identifying value replaced, and how many of each kind.
    fn alias_bytes(&self, input: &[u8]) -> (Vec<u8>, Redactions) {
        let mut found = Vec::new();
        if self.on(Category::Emails) {
            for m in self.email.find_iter(input) {
                let value = String::from_utf8_lossy(m.as_bytes()).to_ascii_lowercase();
                if !self.keeps_email(&value) {
                    found.push(Found {
                        start: m.start(),
                        end: m.end(),
                        category: Category::Emails,
                    });
                }
            }
        }
        if self.on(Category::Macs) {
            for m in self.mac.find_iter(input) {
                if bounded(input, m.start(), m.end(), is_hex_or_sep) {
                    found.push(Found {
                        start: m.start(),
                        end: m.end(),
                        category: Category::Macs,
                    });
                }
            }
        }
        if self.on(Category::Ips) {
            for m in self.ipv4.find_iter(input) {
                if bounded(input, m.start(), m.end(), |b| {
                    b.is_ascii_alphanumeric() || b == b'.'
                }) && !m.as_bytes().starts_with(b"127.")
                    && m.as_bytes() != b"0.0.0.0"
                {
                    found.push(Found {
                        start: m.start(),
                        end: m.end(),
                        category: Category::Ips,
                    });
                }
            }
            for m in self.ipv6.find_iter(input) {
                if bounded(input, m.start(), m.end(), is_hex_or_sep) && plausible_ipv6(m.as_bytes())
                {
                    found.push(Found {
                        start: m.start(),
                        end: m.end(),
                        category: Category::Ips,
                    });
                }
            }
        }
        if let Some((automaton, patterns)) = &self.names {
            for m in automaton.find_iter(input) {
                let (category, _) = patterns[m.pattern().as_usize()];
                if bounded(input, m.start(), m.end(), is_name_byte) {
                    // A known host name followed by a domain is that host's full name.
                    let end = match category {
                        Category::Hostnames => domain_end(input, m.end()),
                        _ => m.end(),
                    };
                    found.push(Found {
                        start: m.start(),
                        end,
                        category,
                    });
                }
            }
        }
        let mut counts = Redactions::default();
        if found.is_empty() {
            return (input.to_vec(), counts);
        }
        // Earliest first, longest first at the same place; overlapping later finds are dropped
        // (an email's user part is not a separate user).
        found.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
        let mut out = Vec::with_capacity(input.len());
        let mut at = 0;
        let mut aliases = self.aliases.lock().expect("alias table is never poisoned");
        for f in found {
            if f.start < at {
                continue;
            }
            out.extend_from_slice(&input[at..f.start]);
            let original = String::from_utf8_lossy(&input[f.start..f.end]).into_owned();
            out.extend_from_slice(aliases.alias(f.category, &original).as_bytes());
            *counts.0.entry(f.category.kind().to_string()).or_insert(0) += 1;
            at = f.end;
        }
        out.extend_from_slice(&input[at..]);
        (out, counts)
    }

    /// The alias of a host name (for the bundle's file name), or the name when hostnames are
    /// not obfuscated.
    pub fn host_alias(&self, host: &str) -> String {
        if !self.on(Category::Hostnames) {
            return host.to_string();
        }
        self.aliases
            .lock()
            .expect("alias table is never poisoned")
            .alias(Category::Hostnames, host)
    }

    /// The alias table, for the local mapping file: `{"aliases": [{alias, kind, original}]}`.
    pub fn mapping(&self) -> Value {
        let aliases = self.aliases.lock().expect("alias table is never poisoned");
        let rows: Vec<Value> = aliases
            .table
            .iter()
            .map(|(alias, category, original)| {
                json!({ "alias": alias, "kind": category.kind(), "original": original })
            })
            .collect();
        json!({ "schema": "jcdiag.obfuscation/1", "aliases": rows })
    }

    fn keeps_email(&self, lowercase: &str) -> bool {
        lowercase.ends_with("@jumpcloud.com") || self.keep_emails.iter().any(|k| k == lowercase)
    }
}

impl Aliases {
    fn alias(&mut self, category: Category, original: &str) -> String {
        // Names compare case-insensitively (HOST01 and host01 are one machine); addresses too.
        let key = (category, original.to_ascii_lowercase());
        if let Some(alias) = self.by_value.get(&key) {
            return alias.clone();
        }
        let n = self.counts.entry(category).or_insert(0);
        *n += 1;
        let alias = match category {
            Category::Emails => format!("email-{n}@obfuscated.invalid"),
            _ => format!("{}-{n}", category.alias_prefix()),
        };
        self.by_value.insert(key, alias.clone());
        self.table
            .push((alias.clone(), category, original.to_string()));
        alias
    }
}

/// True when the bytes just before `start` and at `end` are not part of the same token.
fn bounded(input: &[u8], start: usize, end: usize, joins: impl Fn(u8) -> bool) -> bool {
    let before = start.checked_sub(1).map(|i| input[i]);
    let after = input.get(end).copied();
    // A dot after an address ends a sentence; a dot then a digit continues a version number.
    // (Names do not join dots, so `host.1` is still the host.)
    let continues = match after {
        Some(b'.') if joins(b'.') => input.get(end + 1).is_some_and(u8::is_ascii_digit),
        Some(b) => joins(b),
        None => false,
    };
    !before.is_some_and(&joins) && !continues
}

/// Where the domain labels after a host name (`.corp.example.com`) end; `at` if none follow.
fn domain_end(input: &[u8], mut at: usize) -> usize {
    while input.get(at) == Some(&b'.') {
        let label = input[at + 1..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
            .count();
        let text = &input[at + 1..at + 1 + label];
        if label == 0 || !text.iter().any(u8::is_ascii_alphabetic) {
            break;
        }
        at += 1 + label;
    }
    at
}

fn is_hex_or_sep(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b':' || b == b'-'
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// `::` forms also match C++/Rust paths and clock times; an address has hex digits only,
/// and a `::` form at least one digit, and is not a loopback or unspecified address.
fn plausible_ipv6(m: &[u8]) -> bool {
    let text = std::str::from_utf8(m).unwrap_or_default();
    if text == "::1" || text == "::" {
        return false;
    }
    let colons = text.bytes().filter(|&b| b == b':').count();
    text.contains("::") && text.bytes().any(|b| b.is_ascii_digit()) || colons == 7
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(known: KnownNames) -> Obfuscator {
        Obfuscator::new(&[Category::All], known).unwrap()
    }

    fn apply(o: &Obfuscator, text: &str) -> String {
        String::from_utf8(o.alias_bytes(text.as_bytes()).0).unwrap()
    }

    #[test]
    fn one_row_per_rule() {
        let known = KnownNames {
            hosts: vec!["ws-alice01".into(), "ws-alice01.corp.example.com".into()],
            users: vec!["alice".into()],
            keep_emails: vec!["admin@example.com".into()],
        };
        let rows: &[(&str, &str)] = &[
            ("peer 10.1.2.3 up", "peer ip-1 up"),
            ("listen 127.0.0.1:8080", "listen 127.0.0.1:8080"),
            ("bind 0.0.0.0", "bind 0.0.0.0"),
            ("agent 2.3.4.5.6 installed", "agent 2.3.4.5.6 installed"),
            ("v10.1.2.3", "v10.1.2.3"),
            ("addr fe80::1c2b:3a4d:5e6f:7a8b%en0", "addr ip-1%en0"),
            ("addr 2001:db8:0:0:0:0:0:1", "addr ip-1"),
            ("at 10:30:45 ok", "at 10:30:45 ok"),
            ("std::vector and ::1", "std::vector and ::1"),
            ("ether a4:83:e7:12:34:56", "ether mac-1"),
            ("ether A4-83-E7-12-34-56", "ether mac-1"),
            (
                "mail bob@corp.example.com",
                "mail email-1@obfuscated.invalid",
            ),
            ("contact admin@example.com", "contact admin@example.com"),
            ("cc support@jumpcloud.com", "cc support@jumpcloud.com"),
            ("host WS-ALICE01 joined", "host host-1 joined"),
            ("fqdn ws-alice01.corp.example.com", "fqdn host-1"),
            ("fqdn ws-alice01.other.example.org.", "fqdn host-1."),
            ("file ws-alice01.1 rotated", "file host-1.1 rotated"),
            ("home /home/alice/x", "home /home/user-1/x"),
            ("malice and alice_x stay", "malice and alice_x stay"),
            ("alice@corp.example.com", "email-1@obfuscated.invalid"),
        ];
        for (input, expected) in rows {
            // A fresh obfuscator per row so the alias numbers start at 1.
            assert_eq!(apply(&all(known.clone()), input), *expected, "{input}");
        }
    }

    #[test]
    fn aliases_are_stable_within_a_bundle_and_mapped_back() {
        let o = all(KnownNames::default());
        assert_eq!(apply(&o, "a 10.0.0.7 b 10.0.0.8"), "a ip-1 b ip-2");
        assert_eq!(apply(&o, "again 10.0.0.8, 10.0.0.7."), "again ip-2, ip-1.");
        let mapping = o.mapping();
        assert_eq!(mapping["aliases"][0]["alias"], "ip-1");
        assert_eq!(mapping["aliases"][0]["original"], "10.0.0.7");
        assert_eq!(mapping["aliases"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn only_the_asked_categories_change() {
        let o = Obfuscator::new(&[Category::Macs], KnownNames::default()).unwrap();
        let text = "10.0.0.7 a4:83:e7:12:34:56 bob@example.org";
        assert_eq!(apply(&o, text), "10.0.0.7 mac-1 bob@example.org");
        assert!(Obfuscator::new(&[], KnownNames::default()).is_none());
    }

    #[test]
    fn counts_per_kind_and_invalid_utf8_is_kept() {
        let o = all(KnownNames::default());
        let (out, counts) = o.alias_bytes(b"\xff\xfe 10.0.0.7 \xc3(");
        assert_eq!(out, b"\xff\xfe ip-1 \xc3(");
        assert_eq!(counts.0["obfuscated-ip"], 1);
    }
}
