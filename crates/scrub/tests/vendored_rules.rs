//! The vendored provider rules (Nosey Parker's, `rules/noseyparker.json`) against their own
//! examples: each rule compiles and has a literal to prefilter by, or is excluded with a
//! reason; every positive example loses its secret wherever it is planted; no rule changes its
//! negative examples.

use jcdiag_scrub::provider::{EXCLUDED, VendoredRule, covered, excluded, vendored};
use jcdiag_scrub::{ScrubOptions, Scrubber};
use std::sync::OnceLock;

fn scrubber() -> &'static Scrubber {
    static S: OnceLock<Scrubber> = OnceLock::new();
    S.get_or_init(|| {
        let secrets = &jcdiag_profile::Profile::builtin().secrets;
        Scrubber::new(&secrets.key_words, &secrets.public_keys).expect("profile compiles")
    })
}

/// The rules in use: not excluded.
fn in_use() -> Vec<VendoredRule> {
    let rules = vendored().expect("vendored rules parse").rules;
    rules
        .into_iter()
        .filter(|r| excluded(&r.id).is_none())
        .collect()
}

/// `text` without its `[REDACTED:kind]` placeholders, whose kinds may spell a secret that is
/// also a word (`password`).
fn without_placeholders(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = memchr::memmem::find(rest, b"[REDACTED:") {
        out.extend_from_slice(&rest[..i]);
        rest = &rest[i..];
        let close = memchr::memchr(b']', rest).map_or(rest.len(), |j| j + 1);
        rest = &rest[close..];
    }
    out.extend_from_slice(rest);
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn every_vendored_rule_compiles_prefilters_and_passes_its_examples_or_is_excluded() {
    let all = vendored().expect("vendored rules parse");
    assert_eq!(all.commit.len(), 40, "the upstream commit is recorded");
    for (id, why) in EXCLUDED {
        assert!(
            all.rules.iter().any(|r| r.id == *id),
            "{id} is excluded but not vendored"
        );
        assert!(!why.is_empty());
    }
    let mut problems = Vec::new();
    for rule in in_use() {
        let re = match rule.regex() {
            Ok(re) => re,
            Err(e) => {
                problems.push(format!("{}: does not compile: {e}", rule.id));
                continue;
            }
        };
        if rule.literals().is_none() {
            problems.push(format!("{}: no prefilter literal", rule.id));
        }
        if rule.examples.is_empty() {
            problems.push(format!("{}: no example", rule.id));
        }
        for ex in &rule.examples {
            if rule.secrets_in(&re, ex.as_bytes()).is_empty() {
                problems.push(format!("{}: misses its example {ex:?}", rule.id));
            }
        }
        for ex in &rule.negative_examples {
            if re.is_match(ex.as_bytes()) {
                problems.push(format!("{}: matches its negative example {ex:?}", rule.id));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The rules in use and those excluded as covered by jcdiag's own rules.
fn in_use_or_covered() -> Vec<VendoredRule> {
    let rules = vendored().expect("vendored rules parse").rules;
    rules
        .into_iter()
        .filter(|r| excluded(&r.id).is_none() || covered(&r.id))
        .collect()
}

/// Every positive example, planted in a log line, a JSON value, a YAML value and a plist
/// value, loses what its rule takes out (by jcdiag's own rules, for a rule excluded as
/// covered by them).
#[test]
fn every_positive_example_is_scrubbed_wherever_it_is_planted() {
    let s = scrubber();
    let mut leaks = Vec::new();
    let rules = in_use_or_covered();
    assert!(rules.iter().any(|r| covered(&r.id)));
    for rule in rules {
        let re = rule.regex().expect("compiles");
        for ex in &rule.examples {
            let secrets = rule.secrets_in(&re, ex.as_bytes());
            let indented = ex.trim_end().replace('\n', "\n    ");
            let forms: Vec<(&str, Vec<u8>, bool)> = vec![
                (
                    "log",
                    s.scrub_text(format!("2026-01-02 03:04:05 [INFO] loaded {ex}\n").as_bytes())
                        .bytes()
                        .to_vec(),
                    false,
                ),
                (
                    "json",
                    s.scrub_json_document(serde_json::json!({ "note": ex }).to_string().as_bytes())
                        .map(|j| {
                            // Compare with the value as JSON decodes it.
                            let v: serde_json::Value =
                                serde_json::from_slice(j.bytes()).expect("json out");
                            v["note"].as_str().unwrap_or_default().as_bytes().to_vec()
                        })
                        .expect("json in"),
                    false,
                ),
                (
                    "yaml",
                    s.scrub_text(format!("settings:\n  note: |\n    {indented}\n").as_bytes())
                        .bytes()
                        .to_vec(),
                    false,
                ),
                (
                    "plist",
                    s.scrub_text(
                        format!(
                            "<dict>\n\t<key>Comment</key>\n\t<string>{}</string>\n</dict>\n",
                            xml_escape(ex)
                        )
                        .as_bytes(),
                    )
                    .bytes()
                    .to_vec(),
                    true,
                ),
            ];
            for (form, out, escaped) in forms {
                for secret in &secrets {
                    let secret = if escaped {
                        xml_escape(&show(secret)).into_bytes()
                    } else {
                        secret.clone()
                    };
                    // A secret may also occur as a word of the example (`password
                    // 'password'`, a user name that holds it): it leaks if it occurs as
                    // often as before.
                    let count = |hay: &[u8]| memchr::memmem::find_iter(hay, &secret).count();
                    let planted = if escaped { xml_escape(ex) } else { ex.clone() };
                    if count(&without_placeholders(&out)) >= count(planted.as_bytes()) {
                        leaks.push(format!(
                            "{} in {form}: {:?} survives in {:?}",
                            rule.id,
                            show(&secret),
                            show(&out)
                        ));
                    }
                }
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

/// A negative example is text its rule must leave alone: with that rule on, the scrubber
/// changes nothing more than with every vendored rule off. (jcdiag's own key rules still
/// redact values under secret keys in some of them, `password = "123"`, as before; and a
/// negative example of one rule may be a real secret for another, a TeamCity token in a
/// .NET `<add key=... value=...>` line.)
#[test]
fn no_vendored_rule_changes_its_negative_examples() {
    let secrets = &jcdiag_profile::Profile::builtin().secrets;
    let rules = in_use();
    let all_but = |keep: Option<&str>| ScrubOptions {
        disabled_rules: rules
            .iter()
            .filter(|r| Some(r.id.as_str()) != keep)
            .map(|r| r.id.clone())
            .collect(),
    };
    let without = Scrubber::with_options(&secrets.key_words, &secrets.public_keys, &all_but(None))
        .expect("compiles");
    let mut changed = Vec::new();
    let mut checked = 0;
    for rule in &rules {
        if rule.negative_examples.is_empty() {
            continue;
        }
        let only = Scrubber::with_options(
            &secrets.key_words,
            &secrets.public_keys,
            &all_but(Some(&rule.id)),
        )
        .expect("compiles");
        for ex in &rule.negative_examples {
            checked += 1;
            let with = only.scrub_text(ex.as_bytes());
            if with.bytes() != without.scrub_text(ex.as_bytes()).bytes() {
                changed.push(format!(
                    "{}: {ex:?} became {:?}",
                    rule.id,
                    show(with.bytes())
                ));
            }
        }
    }
    assert!(checked > 100, "{checked} negative examples");
    assert!(
        changed.is_empty(),
        "{} changed:\n{}",
        changed.len(),
        changed.join("\n")
    );
}
