//! Provider credential rules: the `default` rule set of Nosey Parker
//! (<https://github.com/praetorian-inc/noseyparker>, Apache-2.0), vendored as data in
//! `rules/noseyparker.json` with its licence and notice next to it, and refreshed by
//! `scripts/refresh-secret-rules.sh`.
//!
//! Each rule is a regex; its capture groups are the secret (the whole match if it has none). A
//! match is replaced group by group by `[REDACTED:<kind>]`, where the kind is the rule's name as
//! a slug (`Slack Bot Token` is `slack-bot-token`). The rest of the match stays.
//!
//! Prefilter: the literals every match must start (or else end) with are extracted from each
//! regex, lower-cased, and searched for in one ASCII-case-insensitive Aho-Corasick pass. Only a
//! line holding one of a rule's literals runs that rule, once per line. Most log lines hold
//! none, so the rule set costs one extra pass over the text.
//!
//! Rules on [`EXCLUDED`] are not used; each row says why. A test checks that every vendored
//! rule compiles, has a usable literal and passes its own examples, or is on that list.

use aho_corasick::{AhoCorasick, MatchKind};
use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// A vendored rule set that cannot be used (a bug in the data or in this file), or a rule
/// name that does not exist.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the vendored rule file does not parse: {0}")]
    Parse(#[source] serde_json::Error),
    #[error("vendored rule {id} does not compile: {source}")]
    Compile {
        id: String,
        #[source]
        source: regex::Error,
    },
    #[error("vendored rule {0} has no literal to prefilter by (put it on EXCLUDED)")]
    NoLiteral(String),
    /// A rule named in `disabled_secret_rules` does not exist.
    #[error(
        "no secret rule is named {0:?} (give a provider rule's id, such as np.slack.2, or its kind, such as slack-bot-token)"
    )]
    UnknownRule(String),
    #[error("could not build the provider rules' literal search: {0}")]
    Automaton(#[from] aho_corasick::BuildError),
}

/// The vendored rule file.
const VENDORED: &str = include_str!("../rules/noseyparker.json");

/// Vendored rules that are not used, with the reason.
pub const EXCLUDED: &[(&str, &str)] = &[(
    "np.salesforce.1",
    "no literal of 3 or more bytes to prefilter by (only `00` and `!`), so it would run on \
     nearly every log line",
)];

/// Which capture groups hold the secret, for rules where it is not the last group that took
/// part in the match (user, password, host in a connection URL). Other groups name a user, a
/// host or a client id: support needs them, so they stay.
const SECRET_GROUPS: &[(&str, &[usize])] = &[
    ("np.mongodb.1", &[2]),
    ("np.postgres.1", &[2]),
    // An access key id and its secret: both go (the id alone is `aws-access-key-id`).
    ("np.aws.6", &[1, 2]),
];

/// A provider rule runs on the lines around a line holding its literal: so many lines before
/// and after, within so many bytes (Nosey Parker's rules may span lines: an Azure account name
/// and its key, `.netrc` and Gradle credential blocks).
pub(crate) const WINDOW_LINES_BEFORE: usize = 3;
pub(crate) const WINDOW_LINES_AFTER: usize = 6;
pub(crate) const WINDOW_BYTES: usize = 2048;

/// The secret parts of one match: the groups of `SECRET_GROUPS`, else the last group that
/// took part, else the whole match.
pub(crate) fn secret_groups(
    groups: &[usize],
    locs: &regex::bytes::CaptureLocations,
) -> Vec<(usize, usize)> {
    if locs.len() <= 1 {
        return locs.get(0).into_iter().collect();
    }
    if !groups.is_empty() {
        return groups.iter().filter_map(|&g| locs.get(g)).collect();
    }
    (1..locs.len())
        .rev()
        .find_map(|g| locs.get(g))
        .into_iter()
        .collect()
}

/// Literals shorter than this make a useless prefilter (they occur on most lines).
const MIN_LITERAL_LEN: usize = 3;

/// The vendored file as Nosey Parker's YAML has it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct VendoredRules {
    /// The upstream commit the rules were taken from.
    pub commit: String,
    pub rules: Vec<VendoredRule>,
}

/// One vendored rule.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct VendoredRule {
    /// `np.slack.2`.
    pub id: String,
    /// `Slack Bot Token`.
    pub name: String,
    pub pattern: String,
    /// Texts the rule must find something in.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Texts the rule must find nothing in.
    #[serde(default)]
    pub negative_examples: Vec<String>,
    /// `api`, `secret`, `fuzzy`, `generic`, ...
    #[serde(default)]
    pub categories: Vec<String>,
}

impl VendoredRule {
    /// The kind its redactions are counted under: the name as a slug, without parenthesised
    /// remarks (`JSON Web Token (base64url-encoded)` is `json-web-token`).
    pub fn kind(&self) -> String {
        let mut depth = 0usize;
        let mut slug = String::new();
        for c in self.name.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                c if depth == 0 && c.is_ascii_alphanumeric() => slug.push(c.to_ascii_lowercase()),
                _ if depth == 0 && !slug.is_empty() && !slug.ends_with('-') => slug.push('-'),
                _ => {}
            }
        }
        slug.trim_end_matches('-').to_owned()
    }

    /// Does this rule's id or kind equal `name` (case-insensitive)? For `disabled_secret_rules`.
    pub fn is_named(&self, name: &str) -> bool {
        let name = name.trim();
        self.id.eq_ignore_ascii_case(name) || self.kind().eq_ignore_ascii_case(name)
    }

    /// Its row of `SECRET_GROUPS`, or none.
    pub fn secret_groups(&self) -> &'static [usize] {
        SECRET_GROUPS
            .iter()
            .find(|(id, _)| *id == self.id)
            .map_or(&[], |(_, g)| *g)
    }

    /// What this rule takes out of `text` (compiled as `re`): the secret groups of each match
    /// (see `secret_groups`).
    pub fn secrets_in(&self, re: &Regex, text: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut locs = re.capture_locations();
        let mut at = 0;
        while at <= text.len() {
            let Some(m) = re.captures_read_at(&mut locs, text, at) else {
                break;
            };
            at = m.end().max(at + 1);
            for (s, e) in secret_groups(self.secret_groups(), &locs) {
                if s < e {
                    out.push(text[s..e].to_vec());
                }
            }
        }
        out
    }

    /// Generic rules key on words rather than a token format, so they yield to the profile's
    /// public keys (`systemKey`).
    fn is_generic(&self) -> bool {
        self.categories.iter().any(|c| c == "generic")
    }

    /// The compiled regex, as Nosey Parker compiles it (bytes, Unicode off).
    pub fn regex(&self) -> Result<Regex, regex::Error> {
        RegexBuilder::new(&self.pattern)
            .unicode(false)
            .size_limit(50 << 20)
            .build()
    }

    /// Literals (lower-case) one of which every match contains, or `None` if there is no such
    /// set of literals of at least `MIN_LITERAL_LEN` bytes: the first of
    /// [`VendoredRule::literal_groups`].
    pub fn literals(&self) -> Option<Vec<Vec<u8>>> {
        self.literal_groups().into_iter().next()
    }

    /// Up to `MAX_GROUPS` sets of literals (lower-case), best first: every match contains
    /// a literal of each set. Taken from the prefixes or suffixes of the whole regex or of
    /// parts that every match must go through (`aws` and `session` in `aws.?session`).
    pub fn literal_groups(&self) -> Vec<Vec<Vec<u8>>> {
        let Ok(hir) = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(&self.pattern)
        else {
            return Vec::new();
        };
        let mut groups = Vec::new();
        required_literals(&hir, &mut groups);
        for g in &mut groups {
            // `xoxb-00` ... `xoxb-99`: literals that share their start are as good as it.
            shrink(g);
        }
        groups.sort_by_key(|g| {
            let shortest = g.iter().map(Vec::len).min().unwrap_or(0);
            (std::cmp::Reverse(shortest.min(8)), g.len())
        });
        groups.dedup();
        groups.truncate(MAX_GROUPS);
        // The first group wakes the rule: it must be selective.
        if groups
            .first()
            .is_some_and(|g| g.iter().any(|l| l.len() < MIN_LITERAL_LEN))
        {
            groups.clear();
        }
        groups
    }
}

/// How many literals the extractor may expand to: `(?i)password` alone is 256 case forms.
const LIMIT_TOTAL: usize = 4096;

/// Literals of a group after the first may be this short: they only narrow down the lines
/// the first group wakes (`fb` in `(?:facebook|fb)`).
const MIN_EXTRA_LITERAL_LEN: usize = 2;

/// A rule runs on a line only if a literal of each of its (up to) so many groups is there.
const MAX_GROUPS: usize = 3;

/// Appends to `out` every set of literals (lower-case, each at least [`MIN_LITERAL_LEN`]
/// bytes) one of which every match of `hir` contains.
fn required_literals(hir: &regex_syntax::hir::Hir, out: &mut Vec<Vec<Vec<u8>>>) {
    use regex_syntax::hir::{Hir, HirKind};
    let mut extract = |kind: ExtractKind, hir: &Hir| {
        let mut seq = Extractor::new()
            .limit_total(LIMIT_TOTAL)
            .kind(kind)
            .extract(hir);
        seq.make_inexact();
        seq.minimize_by_preference();
        if let Some(lits) = seq.literals()
            && !lits.is_empty()
            && lits.iter().all(|l| l.len() >= MIN_EXTRA_LITERAL_LEN)
        {
            out.push(
                lits.iter()
                    .map(|l| l.as_bytes().to_ascii_lowercase())
                    .collect(),
            );
        }
    };
    extract(ExtractKind::Prefix, hir);
    extract(ExtractKind::Suffix, hir);
    match hir.kind() {
        HirKind::Capture(c) => required_literals(&c.sub, out),
        HirKind::Concat(subs) => {
            // Case-insensitive words are concatenations of classes (`[Kk][Ee][Yy]-`): try the
            // prefixes of each tail of the concatenation too.
            for i in 1..subs.len() {
                let mut seq = Extractor::new()
                    .limit_total(LIMIT_TOTAL)
                    .kind(ExtractKind::Prefix)
                    .extract(&Hir::concat(subs[i..].to_vec()));
                seq.make_inexact();
                seq.minimize_by_preference();
                if let Some(lits) = seq.literals()
                    && !lits.is_empty()
                    && lits.iter().all(|l| l.len() >= MIN_EXTRA_LITERAL_LEN)
                {
                    out.push(
                        lits.iter()
                            .map(|l| l.as_bytes().to_ascii_lowercase())
                            .collect(),
                    );
                }
            }
            for sub in subs {
                required_literals(sub, out);
            }
        }
        _ => {}
    }
}

/// Cuts a large literal set to the longest common starts that leave at most
/// [`MAX_LITERALS`] of them (never below [`MIN_LITERAL_LEN`] bytes).
fn shrink(literals: &mut Vec<Vec<u8>>) {
    literals.sort();
    literals.dedup();
    let longest = literals.iter().map(Vec::len).max().unwrap_or(0);
    for len in (MIN_LITERAL_LEN..longest).rev() {
        if literals.len() <= MAX_LITERALS {
            break;
        }
        for l in literals.iter_mut() {
            l.truncate(len);
        }
        literals.dedup();
    }
}

/// See [`shrink`].
const MAX_LITERALS: usize = 16;

/// The vendored rules, parsed.
pub fn vendored() -> Result<VendoredRules, ProviderError> {
    serde_json::from_str(VENDORED).map_err(ProviderError::Parse)
}

/// Why a vendored rule is left out, if it is.
pub fn excluded(id: &str) -> Option<&'static str> {
    EXCLUDED.iter().find(|(i, _)| *i == id).map(|(_, why)| *why)
}

/// A rule in use.
pub(crate) struct ProviderRule {
    pub(crate) re: Regex,
    pub(crate) kind: u16,
    pub(crate) generic: bool,
    /// From `SECRET_GROUPS`; empty: the last group.
    pub(crate) secret_groups: &'static [usize],
    /// One of its examples has a match across lines: it runs on the lines around a hit
    /// rather than on the hit's line only.
    pub(crate) multiline: bool,
    /// One bit per literal group after the first: a woken line must hold a literal of each.
    needs: u8,
}

/// The rules in use and their prefilter.
pub(crate) struct ProviderRules {
    pub(crate) rules: Vec<ProviderRule>,
    /// The literals of each rule's first group; literal `i` wakes the rules `first_rules[i]`.
    finder: Option<AhoCorasick>,
    first_rules: Vec<Vec<u32>>,
    /// The literals of the other groups, looked for in woken lines only; literal `i` belongs
    /// to the groups `extra_rules[i]` (rule, bit of the group).
    extra_finder: Option<AhoCorasick>,
    extra_rules: Vec<Vec<(u32, u8)>>,
}

impl ProviderRules {
    /// Compiles the vendored rules, minus [`EXCLUDED`] and those `disabled` names (by id or
    /// kind). An unknown name in `disabled` is an error, so that a typo does not silently
    /// keep a rule on.
    pub(crate) fn new(
        disabled: &[String],
        intern: &mut dyn FnMut(&str) -> u16,
    ) -> Result<ProviderRules, ProviderError> {
        let vendored = vendored()?;
        if let Some(unknown) = disabled
            .iter()
            .find(|d| !vendored.rules.iter().any(|r| r.is_named(d)))
        {
            return Err(ProviderError::UnknownRule(unknown.clone()));
        }
        let mut rules = Vec::new();
        // The first literal group of each rule, and the others.
        let (mut first, mut first_rules) = (Vec::new(), Vec::<Vec<(u32, u8)>>::new());
        let (mut extra, mut extra_rules) = (Vec::new(), Vec::<Vec<(u32, u8)>>::new());
        for rule in &vendored.rules {
            if excluded(&rule.id).is_some() || disabled.iter().any(|d| rule.is_named(d)) {
                continue;
            }
            let re = rule.regex().map_err(|source| ProviderError::Compile {
                id: rule.id.clone(),
                source,
            })?;
            let multiline = rule.examples.iter().any(|ex| {
                re.find_iter(ex.as_bytes())
                    .any(|m| memchr::memchr(b'\n', m.as_bytes()).is_some())
            });
            let mut groups = rule.literal_groups();
            if groups.is_empty() {
                return Err(ProviderError::NoLiteral(rule.id.clone()));
            }
            // The literals of a rule that spans lines may sit on different lines.
            if multiline {
                groups.truncate(1);
            }
            let r = rules.len() as u32;
            for (g, group) in groups.iter().enumerate() {
                let (patterns, owners) = if g == 0 {
                    (&mut first, &mut first_rules)
                } else {
                    (&mut extra, &mut extra_rules)
                };
                for l in group {
                    let i = match patterns.iter().position(|p| p == l) {
                        Some(i) => i,
                        None => {
                            patterns.push(l.clone());
                            owners.push(Vec::new());
                            patterns.len() - 1
                        }
                    };
                    owners[i].push((r, 1u8 << g));
                }
            }
            rules.push(ProviderRule {
                needs: ((1u8 << groups.len()) - 1) & !1,
                kind: intern(&rule.kind()),
                generic: rule.is_generic(),
                re,
                secret_groups: rule.secret_groups(),
                multiline,
            });
        }
        // Only the longest literal at a position is reported: it wakes the rules of the
        // literals that are its prefixes too.
        let first_rules: Vec<Vec<u32>> = first
            .iter()
            .map(|p| {
                let mut rs: Vec<u32> = first
                    .iter()
                    .zip(&first_rules)
                    .filter(|(q, _)| p.starts_with(q))
                    .flat_map(|(_, owners)| owners.iter().map(|(r, _)| *r))
                    .collect();
                rs.sort_unstable();
                rs.dedup();
                rs
            })
            .collect();
        let build = |patterns: &[Vec<u8>], kind: MatchKind| {
            (!patterns.is_empty())
                .then(|| {
                    AhoCorasick::builder()
                        .ascii_case_insensitive(true)
                        .match_kind(kind)
                        // Hundreds of literals with common first letters: no prefilter helps,
                        // and a DFA walks each byte fastest.
                        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                        .start_kind(aho_corasick::StartKind::Unanchored)
                        .build(patterns)
                })
                .transpose()
        };
        Ok(ProviderRules {
            rules,
            finder: build(&first, MatchKind::Standard)?,
            first_rules,
            extra_finder: build(&extra, MatchKind::Standard)?,
            extra_rules,
        })
    }

    /// `(line start, rule)` for every line of `input[start..end]` that holds a literal of each
    /// of the rule's groups, each pair once, appended to `out` in text order.
    pub(crate) fn wake_ups(
        &self,
        input: &[u8],
        start: usize,
        end: usize,
        out: &mut Vec<(usize, u32)>,
    ) {
        let Some(finder) = &self.finder else { return };
        // The line of the last hit and the rules it woke.
        let mut line: Option<(usize, usize)> = None;
        let mut woken: Vec<u32> = Vec::new();
        let hay = aho_corasick::Input::new(&input[..end]).range(start..end);
        for m in finder.find_overlapping_iter(hay) {
            let hit = m.start();
            match line {
                Some((s, e)) if s <= hit && hit <= e => {}
                _ => {
                    if let Some((s, e)) = line {
                        self.confirm(input, s, e, &mut woken, out);
                    }
                    let s = memchr::memrchr(b'\n', &input[..hit]).map_or(0, |i| i + 1);
                    let e = memchr::memchr(b'\n', &input[hit..]).map_or(input.len(), |i| hit + i);
                    line = Some((s, e));
                }
            }
            for &r in &self.first_rules[m.pattern().as_usize()] {
                if !woken.contains(&r) {
                    woken.push(r);
                }
            }
        }
        if let Some((s, e)) = line {
            self.confirm(input, s, e, &mut woken, out);
        }
    }

    /// Passes on the rules `woken` on the line `input[s..e]` whose other literal groups are
    /// there too.
    fn confirm(
        &self,
        input: &[u8],
        s: usize,
        e: usize,
        woken: &mut Vec<u32>,
        out: &mut Vec<(usize, u32)>,
    ) {
        let mut found: Vec<(u32, u8)> = Vec::new();
        if let Some(extra) = &self.extra_finder
            && woken.iter().any(|&r| self.rules[r as usize].needs != 0)
        {
            for m in extra.find_overlapping_iter(&input[s..e]) {
                for &(r, bit) in &self.extra_rules[m.pattern().as_usize()] {
                    match found.iter_mut().find(|(fr, _)| *fr == r) {
                        Some((_, bits)) => *bits |= bit,
                        None => found.push((r, bit)),
                    }
                }
            }
        }
        for &r in woken.iter() {
            let needs = self.rules[r as usize].needs;
            let has = found.iter().find(|(fr, _)| *fr == r).map_or(0, |(_, b)| *b);
            if has & needs == needs {
                out.push((s, r));
            }
        }
        woken.clear();
    }
}
