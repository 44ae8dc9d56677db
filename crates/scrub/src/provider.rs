//! Provider credential rules: the `default` rule set of Nosey Parker
//! (<https://github.com/praetorian-inc/noseyparker>, Apache-2.0), vendored as data in
//! `rules/noseyparker.json` with its licence and notice next to it, and refreshed by
//! `scripts/refresh-secret-rules.sh`.
//!
//! Each rule is a regex; its capture groups are the secret (the whole match if it has none). A
//! match is replaced group by group by `[REDACTED:<kind>]`, where the kind is the rule's name as
//! a slug (`Slack Bot Token` is `slack-bot-token`). The rest of the match stays.
//!
//! Prefilter: sets of literals that every match contains (up to six sets, from the
//! prefixes and suffixes of the regex and of the parts every match goes through) and the bytes
//! other than letters that every match contains (the `"` of `password = "..."`) are extracted
//! from each regex. The text is lower-cased a chunk at a time and searched for the literals of
//! each rule's first set in one pass (`crate::grams`, a hashed three-byte filter: faster than an
//! automaton with hundreds of literals). A hit wakes the rule on its line if the line (a rule
//! that spans lines: the window of lines it runs on) also holds a literal of each other set
//! and every required byte. A woken rule runs once per line. Most log lines wake nothing, and
//! most that mention `password`, `token` or `user` lack the rest of what a match needs.
//!
//! Rules on [`EXCLUDED`] are not used; each row says why. A test checks that every vendored
//! rule compiles, has a usable literal and passes its own examples, or is on that list.

use crate::grams::GramFinder;
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
}

/// The vendored rule file.
const VENDORED: &str = include_str!("../rules/noseyparker.json");

/// Vendored rules that are not used, with the reason. A reason that starts with
/// [`COVERED`] names the jcdiag rule that takes out what the vendored rule would: the tests
/// check the vendored rule's positive examples against the scrubber all the same.
pub const EXCLUDED: &[(&str, &str)] = &[
    (
        "np.salesforce.1",
        "no literal of 3 or more bytes to prefilter by (only `00` and `!`), so it would run on \
         nearly every log line",
    ),
    (
        "np.generic.4",
        "covered by jcdiag's key rules (`password = v`, `user=a password=b`, \
         `AUTO_SESSION_PASSWORD=v`); it would run on several lines around every `user` in a log",
    ),
];

/// How the reason of an [`EXCLUDED`] rule starts when jcdiag's own rules cover it.
pub const COVERED: &str = "covered by jcdiag's";

/// Is this vendored rule excluded because jcdiag's own rules take out what it would?
pub fn covered(id: &str) -> bool {
    excluded(id).is_some_and(|why| why.starts_with(COVERED))
}

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

impl VendoredRule {
    /// The bytes other than ASCII letters that every match of this rule contains, in no
    /// particular order.
    pub fn required_bytes(&self) -> Vec<u8> {
        let Ok(hir) = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(&self.pattern)
        else {
            return Vec::new();
        };
        let set = required_byte_set(&hir);
        (0..=255u8)
            .filter(|&b| !b.is_ascii_alphabetic() && set[b as usize / 64] & (1 << (b % 64)) != 0)
            .collect()
    }
}

/// The bytes every match of `hir` contains, as a bit set.
fn required_byte_set(hir: &regex_syntax::hir::Hir) -> [u64; 4] {
    use regex_syntax::hir::{Class, HirKind};
    let mut set = [0u64; 4];
    let mut add = |b: u8| set[b as usize / 64] |= 1 << (b % 64);
    match hir.kind() {
        HirKind::Literal(lit) => lit.0.iter().for_each(|&b| add(b)),
        HirKind::Class(Class::Bytes(c)) => {
            if let [r] = c.ranges()
                && r.start() == r.end()
            {
                add(r.start());
            }
        }
        HirKind::Class(Class::Unicode(c)) => {
            if let [r] = c.ranges()
                && r.start() == r.end()
                && r.start().is_ascii()
            {
                add(r.start() as u8);
            }
        }
        HirKind::Repetition(rep) if rep.min >= 1 => set = required_byte_set(&rep.sub),
        HirKind::Capture(c) => set = required_byte_set(&c.sub),
        HirKind::Concat(subs) => {
            for sub in subs {
                let s = required_byte_set(sub);
                for (a, b) in set.iter_mut().zip(s) {
                    *a |= b;
                }
            }
        }
        HirKind::Alternation(subs) => {
            set = [u64::MAX; 4];
            for sub in subs {
                let s = required_byte_set(sub);
                for (a, b) in set.iter_mut().zip(s) {
                    *a &= b;
                }
            }
        }
        _ => {}
    }
    set
}

/// How many literals the extractor may expand to: `(?i)password` alone is 256 case forms.
const LIMIT_TOTAL: usize = 4096;

/// Literals of a group after the first may be this short: they only narrow down the lines
/// the first group wakes (`fb` in `(?:facebook|fb)`).
const MIN_EXTRA_LITERAL_LEN: usize = 2;

/// A rule runs on a line only if a literal of each of its (up to) so many groups is there.
const MAX_GROUPS: usize = 6;

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
                extract(ExtractKind::Prefix, &Hir::concat(subs[i..].to_vec()));
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
    /// The literal groups after the first (lower-case): a woken line must hold a literal of
    /// each. Groups of more than [`MAX_LITERALS`] literals (`000` ... `999`) are left out:
    /// they would cost more to look for than the regex does.
    extra: Vec<Vec<memchr::memmem::Finder<'static>>>,
    /// Bytes other than letters that every match contains (the `"` of `password = "..."`):
    /// a rule that runs on one line runs only if the line holds them all. Most lines that
    /// mention `password` or `token` have no quote or `.` after it.
    bytes: Vec<u8>,
}

impl ProviderRule {
    /// Can this rule, which spans lines, match in `window` (a few lines around a woken
    /// line; `lower` is it in lower case)? No if a literal group or a required byte is
    /// missing from it. A window with XML
    /// entities or indented lines is always tried: decoding and dedenting it (as
    /// `Scrubber::provider_spans` does) can make what is missing.
    fn may_match(&self, window: &[u8], lower: &[u8], plain: bool) -> bool {
        if !plain && (has_xml_entity(window) || has_indented_line(window)) {
            return true;
        }
        if !self
            .bytes
            .iter()
            .all(|&b| memchr::memchr(b, window).is_some())
        {
            return false;
        }
        if self.extra.is_empty() {
            return true;
        }
        self.extra
            .iter()
            .all(|group| group.iter().any(|f| f.find(lower).is_some()))
    }
}

/// A lower-cased stretch of the input: `lower` is `input[start..]` in lower case.
struct Chunk<'a> {
    start: usize,
    lower: &'a [u8],
    /// `lower` has no XML entity and no indented line (see `ProviderRule::may_match`).
    plain: bool,
}

/// The rules in use and their prefilter.
pub(crate) struct ProviderRules {
    pub(crate) rules: Vec<ProviderRule>,
    /// The literals of each rule's first group; literal `i` wakes the rules `first_rules[i]`.
    finder: GramFinder,
    first_rules: Vec<Vec<u32>>,
    max_literal_len: usize,
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
            let groups = rule.literal_groups();
            if groups.is_empty() {
                return Err(ProviderError::NoLiteral(rule.id.clone()));
            }
            let r = rules.len() as u32;
            for l in &groups[0] {
                let i = match first.iter().position(|p| p == l) {
                    Some(i) => i,
                    None => {
                        first.push(l.clone());
                        first_rules.push(Vec::new());
                        first.len() - 1
                    }
                };
                first_rules[i].push((r, 1u8));
            }
            let extra = groups[1..]
                .iter()
                .filter(|g| g.len() <= MAX_LITERALS)
                .map(|g| {
                    g.iter()
                        .map(|l| memchr::memmem::Finder::new(l).into_owned())
                        .collect()
                })
                .collect();
            let bytes = rule.required_bytes();
            rules.push(ProviderRule {
                bytes,
                extra,
                kind: intern(&rule.kind()),
                generic: rule.is_generic(),
                re,
                secret_groups: rule.secret_groups(),
                multiline,
            });
        }
        // Every literal at a position is reported, so each wakes its own rules.
        let first_rules: Vec<Vec<u32>> = first_rules
            .into_iter()
            .map(|owners| {
                let mut rs: Vec<u32> = owners.into_iter().map(|(r, _)| r).collect();
                rs.sort_unstable();
                rs.dedup();
                rs
            })
            .collect();
        Ok(ProviderRules {
            rules,
            max_literal_len: first.iter().map(Vec::len).max().unwrap_or(0),
            finder: GramFinder::new(first),
            first_rules,
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
        // The text is searched lower-cased, a chunk at a time; chunks overlap by a literal's
        // length so that a literal across their border is found in the first.
        const CHUNK: usize = 64 << 10;
        let mut lower = Vec::with_capacity(CHUNK + self.max_literal_len);
        let mut line_lower = Vec::new();
        let mut window_scratch = Vec::new();
        // The line of the last hit and the rules it woke.
        let mut line: Option<(usize, usize)> = None;
        let mut woken: Vec<u32> = Vec::new();
        let mut cs = start;
        while cs < end {
            let ce = end.min(cs + CHUNK);
            let reach = end.min(ce + self.max_literal_len);
            lower.clear();
            lower.extend(input[cs..reach].iter().map(u8::to_ascii_lowercase));
            let chunk = Chunk {
                start: cs,
                lower: &lower,
                plain: !has_xml_entity(&lower)
                    && memchr::memmem::find(&lower, b"\n ").is_none()
                    && memchr::memmem::find(&lower, b"\n\t").is_none(),
            };
            self.finder.find_all(&lower, 0, lower.len(), |at, literal| {
                let hit = cs + at;
                if hit >= ce {
                    return;
                }
                match line {
                    Some((s, e)) if s <= hit && hit <= e => {}
                    _ => {
                        if let Some((s, e)) = line {
                            self.confirm(
                                &chunk,
                                input,
                                s,
                                e,
                                &mut woken,
                                &mut line_lower,
                                &mut window_scratch,
                                out,
                            );
                        }
                        let s = memchr::memrchr(b'\n', &input[..hit]).map_or(0, |i| i + 1);
                        let e =
                            memchr::memchr(b'\n', &input[hit..]).map_or(input.len(), |i| hit + i);
                        line = Some((s, e));
                    }
                }
                for &r in &self.first_rules[literal] {
                    if !woken.contains(&r) {
                        woken.push(r);
                    }
                }
            });
            // A line that goes on in the next chunk is confirmed from there.
            if let Some((s, e)) = line
                && (e < ce || ce == end)
            {
                self.confirm(
                    &chunk,
                    input,
                    s,
                    e,
                    &mut woken,
                    &mut line_lower,
                    &mut window_scratch,
                    out,
                );
                line = None;
            }
            cs = ce;
        }
        if let Some((s, e)) = line {
            let chunk = Chunk {
                start: 0,
                lower: &[],
                plain: false,
            };
            self.confirm(
                &chunk,
                input,
                s,
                e,
                &mut woken,
                &mut line_lower,
                &mut window_scratch,
                out,
            );
        }
    }

    /// Passes on the rules `woken` on the line `input[s..e]` whose other literal groups are
    /// there too.
    #[allow(clippy::too_many_arguments)]
    fn confirm(
        &self,
        chunk: &Chunk<'_>,
        input: &[u8],
        s: usize,
        e: usize,
        woken: &mut Vec<u32>,
        line_lower: &mut Vec<u8>,
        window_scratch: &mut Vec<u8>,
        out: &mut Vec<(usize, u32)>,
    ) {
        // The line in lower case: from the chunk if it is there, else made once for all the
        // rules that need it.
        let in_chunk = s >= chunk.start && e - chunk.start <= chunk.lower.len();
        if !in_chunk {
            line_lower.clear();
            line_lower.extend(input[s..e].iter().map(u8::to_ascii_lowercase));
        }
        let lower = if in_chunk {
            &chunk.lower[s - chunk.start..e - chunk.start]
        } else {
            &line_lower[..]
        };
        // A rule running on XML-decoded text may find a `"` spelled `&quot;`.
        let entities = has_xml_entity(lower);
        for &r in woken.iter() {
            let rule = &self.rules[r as usize];
            // The literals of a rule that spans lines may sit on other lines: its window is
            // checked instead (`ProviderRule::may_match`).
            if rule.multiline {
                let (ws, we) = provider_window(input, s);
                let in_chunk = ws >= chunk.start && we - chunk.start <= chunk.lower.len();
                let window_lower = if in_chunk {
                    &chunk.lower[ws - chunk.start..we - chunk.start]
                } else {
                    window_scratch.clear();
                    window_scratch.extend(input[ws..we].iter().map(u8::to_ascii_lowercase));
                    &window_scratch[..]
                };
                if rule.may_match(&input[ws..we], window_lower, in_chunk && chunk.plain) {
                    out.push((s, r));
                }
                continue;
            }
            if !entities
                && !rule
                    .bytes
                    .iter()
                    .all(|&b| memchr::memchr(b, lower).is_some())
            {
                continue;
            }
            let extra = &rule.extra;
            if extra
                .iter()
                .all(|group| group.iter().any(|f| f.find(lower).is_some()))
            {
                out.push((s, r));
            }
        }
        woken.clear();
    }
}

/// The text a provider rule runs on for a literal on the line starting at `line_start`: a few
/// lines before and after it (see [`WINDOW_LINES_BEFORE`]).
pub(crate) fn provider_window(input: &[u8], line_start: usize) -> (usize, usize) {
    let floor = line_start.saturating_sub(WINDOW_BYTES);
    let mut start = line_start;
    for _ in 0..WINDOW_LINES_BEFORE {
        if start <= floor {
            break;
        }
        start = memchr::memrchr(b'\n', &input[floor..start - 1]).map_or(floor, |i| floor + i + 1);
    }
    let ceiling = input.len().min(line_start + WINDOW_BYTES);
    let mut end = line_start;
    for _ in 0..=WINDOW_LINES_AFTER {
        match memchr::memchr(b'\n', &input[end..ceiling]) {
            Some(i) => end += i + 1,
            None => {
                end = ceiling;
                break;
            }
        }
    }
    (start, end)
}

/// Does a line after the first start with a blank?
pub(crate) fn has_indented_line(text: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', text).any(|i| matches!(text.get(i + 1), Some(b' ' | b'\t')))
}

/// Does `text` hold one of the XML entities the scrubber decodes for provider rules?
pub(crate) fn has_xml_entity(text: &[u8]) -> bool {
    memchr::memchr_iter(b'&', text).any(|i| {
        let rest = &text[i..];
        [&b"&lt;"[..], b"&gt;", b"&amp;", b"&quot;", b"&apos;"]
            .iter()
            .any(|e| rest.starts_with(e))
    })
}
