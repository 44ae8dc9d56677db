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
//! from each regex (`analysis`), when jcdiag is built (`build.rs`): at run time that work cost
//! 0.2 s per start. The set that wakes a rule is the one that the fewest lines of
//! `rules/ordinary-text.txt` (agent, system and configuration log lines) hold; the set is
//! required either way, so the choice changes speed, never what is found. Regexes are compiled
//! the first time a line wakes them. The text is lower-cased a chunk at a time and searched for
//! the literals of each rule's waking set in one pass (`crate::grams`, a hashed three-byte filter: faster than an
//! automaton with hundreds of literals). A hit wakes the rule on its line if the line (a rule
//! that spans lines: the window of lines it runs on) also holds a literal of each other set
//! and every required byte. A woken rule runs once per line. Most log lines wake nothing, and
//! most that mention `password`, `token` or `user` lack the rest of what a match needs.
//!
//! Rules on [`EXCLUDED`] are not used; each row says why. A test checks that every vendored
//! rule compiles, has a usable literal and passes its own examples, or is on that list.

use std::sync::OnceLock;

use crate::grams::GramFinder;
use regex::bytes::Regex;

mod analysis;
pub use analysis::{MAX_LITERALS, VendoredRule, VendoredRules, compile, rank_by_rarity};

// `PREPARED`: every vendored rule as `build.rs` prepared it.
include!(concat!(env!("OUT_DIR"), "/prepared_rules.rs"));

/// One vendored rule as `build.rs` prepared it.
struct PreparedRule {
    id: &'static str,
    kind: &'static str,
    pattern: &'static str,
    generic: bool,
    multiline: bool,
    /// Why its pattern does not compile, if it does not.
    compile_error: Option<&'static str>,
    /// [`VendoredRule::literal_groups`].
    groups: &'static [&'static [&'static [u8]]],
    /// [`VendoredRule::required_bytes`].
    bytes: &'static [u8],
}

impl PreparedRule {
    /// Does this rule's id or kind equal `name` (case-insensitive)? For `disabled_secret_rules`.
    fn is_named(&self, name: &str) -> bool {
        let name = name.trim();
        self.id.eq_ignore_ascii_case(name) || self.kind.eq_ignore_ascii_case(name)
    }
}

/// A vendored rule set that cannot be used (a bug in the data or in this file), or a rule
/// name that does not exist.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the vendored rule file does not parse: {0}")]
    Parse(#[source] serde_json::Error),
    #[error("vendored rule {id} does not compile: {error}")]
    Compile { id: String, error: String },
    #[error("vendored rule {0} has no literal to prefilter by (put it on EXCLUDED)")]
    NoLiteral(String),
    /// A rule named in `disabled_secret_rules` does not exist.
    #[error(
        "no secret rule is named {0:?} (give a provider rule's id, such as np.slack.2, or its kind, such as slack-bot-token)"
    )]
    UnknownRule(String),
}

/// The vendored rule file.
const VENDORED: &str = include_str!("../../rules/noseyparker.json");

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

/// The row of `SECRET_GROUPS` of the rule `id`, or none.
fn secret_groups_of(id: &str) -> &'static [usize] {
    SECRET_GROUPS
        .iter()
        .find(|(i, _)| *i == id)
        .map_or(&[], |(_, g)| *g)
}

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

impl VendoredRule {
    /// Its row of `SECRET_GROUPS`, or none.
    pub fn secret_groups(&self) -> &'static [usize] {
        secret_groups_of(&self.id)
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
}

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
    pattern: &'static str,
    /// Compiled the first time a line wakes the rule: most rules never wake in a given run,
    /// and compiling all of them would cost more than a small collection.
    re: OnceLock<Regex>,
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
    /// The longest literal of `extra` (at least 1).
    extra_len: usize,
    /// Bytes other than letters that every match contains (the `"` of `password = "..."`):
    /// a rule that runs on one line runs only if the line holds them all. Most lines that
    /// mention `password` or `token` have no quote or `.` after it.
    bytes: &'static [u8],
}

impl ProviderRule {
    /// The compiled regex (compiled on first use).
    pub(crate) fn re(&self) -> &Regex {
        self.re.get_or_init(|| {
            // build.rs compiled this same pattern with this same function and recorded
            // `compile_error`; `ProviderRules::new` refuses a rule that has one.
            compile(self.pattern).expect("the rule compiled when jcdiag was built")
        })
    }

    /// What `window` (a few lines around a woken line, for a rule that spans lines; `lower`
    /// is it in lower case) lacks that every match needs: a required byte or a literal
    /// group. `None`: the rule may match there.
    fn lack(&self, window: &[u8], lower: &[u8]) -> Option<Lack> {
        self.missing_byte(window)
            .map(Lack::Byte)
            .or_else(|| self.missing_group(lower).map(Lack::Group))
    }

    /// A required byte that `raw` lacks.
    fn missing_byte(&self, raw: &[u8]) -> Option<u8> {
        self.bytes
            .iter()
            .copied()
            .find(|&b| memchr::memchr(b, raw).is_none())
    }

    /// A literal group of which `lower` holds no literal.
    fn missing_group(&self, lower: &[u8]) -> Option<usize> {
        (0..self.extra.len()).find(|&g| !self.holds_group(g, lower))
    }

    fn holds_group(&self, g: usize, lower: &[u8]) -> bool {
        self.extra[g].iter().any(|f| f.find(lower).is_some())
    }

    /// Does `raw` (`lower` in lower case) hold what `lack` names?
    fn holds(&self, lack: Lack, raw: &[u8], lower: &[u8]) -> bool {
        match lack {
            Lack::Byte(b) => memchr::memchr(b, raw).is_some(),
            Lack::Group(g) => self.holds_group(g, lower),
        }
    }
}

/// Something every match of a rule holds (see `ProviderRule::lack`).
#[derive(Debug, Clone, Copy)]
enum Lack {
    Byte(u8),
    Group(usize),
}

/// Buffers of one `ProviderRules::wake_ups`.
struct Scratch {
    /// A line in lower case, when the chunk does not hold it.
    line_lower: Vec<u8>,
    /// A window in lower case, when the chunk does not hold it.
    window_lower: Vec<u8>,
    /// Per rule that spans lines: the last window checked and what it lacked.
    lacks: Vec<Option<(usize, usize, Lack)>>,
}

/// A lower-cased stretch of the input: `lower` is `input[start..]` in lower case.
struct Chunk<'a> {
    start: usize,
    lower: &'a [u8],
    /// The offsets of the line breaks in `input[start..reach]`.
    breaks: &'a [usize],
    reach: usize,
    /// `lower` has no XML entity and no indented line (see `ProviderRules::confirm`).
    plain: bool,
}

/// The rules in use and their prefilter.
pub(crate) struct ProviderRules {
    pub(crate) rules: Vec<ProviderRule>,
    /// The literals of each rule's first group; literal `i` wakes the rules `first_rules[i]`.
    /// After them, the scrubber's own wake literals (lower-cased here): literal
    /// `first_rules.len() + j` is `wake_literals[j]`.
    finder: GramFinder,
    first_rules: Vec<Vec<u32>>,
    /// The scrubber's case-sensitive wake literals and the rules each wakes, found in the
    /// same pass (see `WakeTables::long_literals`).
    wake_literals: Vec<(Vec<u8>, u32)>,
    max_literal_len: usize,
}

impl ProviderRules {
    /// Compiles the vendored rules, minus [`EXCLUDED`] and those `disabled` names (by id or
    /// kind). An unknown name in `disabled` is an error, so that a typo does not silently
    /// keep a rule on.
    pub(crate) fn new(
        disabled: &[String],
        intern: &mut dyn FnMut(&str) -> u16,
        wake_literals: Vec<(Vec<u8>, u32)>,
    ) -> Result<ProviderRules, ProviderError> {
        if let Some(unknown) = disabled
            .iter()
            .find(|d| !PREPARED.iter().any(|r| r.is_named(d)))
        {
            return Err(ProviderError::UnknownRule(unknown.clone()));
        }
        let mut rules = Vec::new();
        // The first literal group of each rule, and the others.
        let (mut first, mut first_rules) = (Vec::<Vec<u8>>::new(), Vec::<Vec<u32>>::new());
        for rule in PREPARED {
            if excluded(rule.id).is_some() || disabled.iter().any(|d| rule.is_named(d)) {
                continue;
            }
            if let Some(error) = rule.compile_error {
                return Err(ProviderError::Compile {
                    id: rule.id.to_owned(),
                    error: error.to_owned(),
                });
            }
            let Some((first_group, other_groups)) = rule.groups.split_first() else {
                return Err(ProviderError::NoLiteral(rule.id.to_owned()));
            };
            let r = rules.len() as u32;
            for &l in *first_group {
                let i = match first.iter().position(|p| p == l) {
                    Some(i) => i,
                    None => {
                        first.push(l.to_vec());
                        first_rules.push(Vec::new());
                        first.len() - 1
                    }
                };
                first_rules[i].push(r);
            }
            let extra: Vec<Vec<memchr::memmem::Finder<'static>>> = other_groups
                .iter()
                .filter(|g| g.len() <= MAX_LITERALS)
                .map(|g| g.iter().copied().map(memchr::memmem::Finder::new).collect())
                .collect();
            let extra_len = extra
                .iter()
                .flatten()
                .map(|f| f.needle().len())
                .max()
                .unwrap_or(1);
            rules.push(ProviderRule {
                pattern: rule.pattern,
                re: OnceLock::new(),
                bytes: rule.bytes,
                extra,
                extra_len,
                kind: intern(rule.kind),
                generic: rule.generic,
                secret_groups: secret_groups_of(rule.id),
                multiline: rule.multiline,
            });
        }
        // Every literal at a position is reported, so each wakes its own rules.
        for rs in &mut first_rules {
            rs.sort_unstable();
            rs.dedup();
        }
        let mut literals = first;
        literals.extend(wake_literals.iter().map(|(l, _)| l.to_ascii_lowercase()));
        Ok(ProviderRules {
            rules,
            max_literal_len: literals.iter().map(Vec::len).max().unwrap_or(0),
            finder: GramFinder::new(literals),
            first_rules,
            wake_literals,
        })
    }

    /// `(line start, rule)` for every line of `input[start..end]` that holds a literal of each
    /// of the rule's groups, each pair once, appended to `out` in text order; and
    /// `wake(offset, rules)` for each of the scrubber's wake literals found, in text order.
    pub(crate) fn wake_ups(
        &self,
        input: &[u8],
        start: usize,
        end: usize,
        out: &mut Vec<(usize, u32)>,
        wake: &mut dyn FnMut(usize, u32),
    ) {
        // The text is searched lower-cased, a chunk at a time; chunks overlap by a literal's
        // length so that a literal across their border is found in the first.
        const CHUNK: usize = 64 << 10;
        let mut lower = Vec::with_capacity(CHUNK + self.max_literal_len);
        let mut scratch = Scratch {
            line_lower: Vec::new(),
            window_lower: Vec::new(),
            lacks: vec![None; self.rules.len()],
        };
        // The line of the last hit and the rules it woke.
        let mut line: Option<(usize, usize)> = None;
        let mut woken: Vec<u32> = Vec::new();
        // The line breaks of the chunk: most lines hold a hit, and finding each hit's line
        // from here costs less than two searches per hit.
        let mut breaks: Vec<usize> = Vec::new();
        let mut cs = start;
        while cs < end {
            let ce = end.min(cs + CHUNK);
            let reach = end.min(ce + self.max_literal_len);
            lower.clear();
            lower.extend(input[cs..reach].iter().map(u8::to_ascii_lowercase));
            breaks.clear();
            breaks.extend(memchr::memchr_iter(b'\n', &input[cs..reach]).map(|i| cs + i));
            let indented = breaks
                .iter()
                .any(|&b| matches!(input.get(b + 1), Some(b' ' | b'\t')));
            let chunk = Chunk {
                start: cs,
                lower: &lower,
                breaks: &breaks,
                reach,
                plain: !indented && !has_xml_entity(&lower),
            };
            // Where the line holding `cs` starts, and the first break at or after the last hit.
            let first_line_start = memchr::memrchr(b'\n', &input[..cs]).map_or(0, |i| i + 1);
            let mut next_break = 0;
            self.finder.find_all(&lower, 0, lower.len(), |at, literal| {
                let hit = cs + at;
                if hit >= ce {
                    return;
                }
                if let Some(j) = literal.checked_sub(self.first_rules.len()) {
                    let (text, mask) = &self.wake_literals[j];
                    if input[hit..].starts_with(text) {
                        wake(hit, *mask);
                    }
                    return;
                }
                match line {
                    Some((s, e)) if s <= hit && hit <= e => {}
                    _ => {
                        if let Some((s, e)) = line {
                            self.confirm(&chunk, input, s, e, &mut woken, &mut scratch, out);
                        }
                        while breaks.get(next_break).is_some_and(|&b| b < hit) {
                            next_break += 1;
                        }
                        let s = match next_break {
                            0 => first_line_start,
                            k => breaks[k - 1] + 1,
                        };
                        let e = match breaks.get(next_break) {
                            Some(&b) => b,
                            None => memchr::memchr(b'\n', &input[reach..])
                                .map_or(input.len(), |i| reach + i),
                        };
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
                self.confirm(&chunk, input, s, e, &mut woken, &mut scratch, out);
                line = None;
            }
            cs = ce;
        }
        if let Some((s, e)) = line {
            let chunk = Chunk {
                start: 0,
                lower: &[],
                breaks: &[],
                reach: 0,
                plain: false,
            };
            self.confirm(&chunk, input, s, e, &mut woken, &mut scratch, out);
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
        scratch: &mut Scratch,
        out: &mut Vec<(usize, u32)>,
    ) {
        let Scratch {
            line_lower,
            window_lower: window_scratch,
            lacks,
        } = scratch;
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
            // checked instead (`ProviderRule::lack`).
            if rule.multiline {
                let (ws, we) =
                    window_in(chunk, input.len(), s).unwrap_or_else(|| provider_window(input, s));
                let in_chunk = ws >= chunk.start && we - chunk.start <= chunk.lower.len();
                let window_lower = if in_chunk {
                    &chunk.lower[ws - chunk.start..we - chunk.start]
                } else {
                    window_scratch.clear();
                    window_scratch.extend(input[ws..we].iter().map(u8::to_ascii_lowercase));
                    &window_scratch[..]
                };
                let window = &input[ws..we];
                // Decoding XML entities or dedenting the window (as `Scrubber::provider_spans`
                // does) can make what is missing: such a window is always tried.
                if !(in_chunk && chunk.plain)
                    && (has_xml_entity(window) || has_indented_line(window))
                {
                    lacks[r as usize] = None;
                    out.push((s, r));
                    continue;
                }
                // Windows of nearby lines overlap: one that only adds lines at the end of the
                // last window checked lacks what that one lacked unless the added text (and
                // a literal's length before it) holds it.
                if let Some((pws, pwe, lack)) = lacks[r as usize]
                    && pws <= ws
                    && pwe <= we
                    && ws <= pwe
                {
                    let from = ws.max(pwe.saturating_sub(rule.extra_len));
                    if !rule.holds(lack, &input[from..we], &window_lower[from - ws..]) {
                        lacks[r as usize] = Some((ws, we, lack));
                        continue;
                    }
                }
                match rule.lack(window, window_lower) {
                    Some(lack) => lacks[r as usize] = Some((ws, we, lack)),
                    None => {
                        lacks[r as usize] = None;
                        out.push((s, r));
                    }
                }
                continue;
            }
            // Its required bytes are not letters: the lower-case line holds them as the line does.
            if (entities || rule.missing_byte(lower).is_none())
                && rule.missing_group(lower).is_none()
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

/// [`provider_window`] for the line starting at `line_start`, from the chunk's line breaks:
/// `None` when they do not reach far enough (a line at the edge of the chunk).
fn window_in(chunk: &Chunk<'_>, input_len: usize, line_start: usize) -> Option<(usize, usize)> {
    let breaks = chunk.breaks;
    // `breaks[k]` ends the line before this one.
    let k = breaks.binary_search(&line_start.checked_sub(1)?).ok()?;
    let floor = line_start.saturating_sub(WINDOW_BYTES);
    let (mut start, mut j) = (line_start, k);
    for _ in 0..WINDOW_LINES_BEFORE {
        if start <= floor {
            break;
        }
        // The break before `breaks[j]` may lie before the chunk: not known here.
        let before = *breaks.get(j.checked_sub(1)?)?;
        if before >= floor {
            start = before + 1;
            j -= 1;
        } else {
            start = floor;
        }
    }
    let ceiling = input_len.min(line_start + WINDOW_BYTES);
    let mut end = line_start;
    let mut i = k + 1;
    for _ in 0..=WINDOW_LINES_AFTER {
        match breaks.get(i) {
            Some(&b) if b < ceiling => {
                end = b + 1;
                i += 1;
            }
            Some(_) => {
                end = ceiling;
                break;
            }
            None if ceiling <= chunk.reach => {
                end = ceiling;
                break;
            }
            None => return None,
        }
    }
    Some((start, end))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The window found from a chunk's line breaks is the window `provider_window` finds, for
    /// every line of texts with lines short and long, wherever the chunk starts and ends.
    #[test]
    fn windows_from_line_breaks_are_the_windows() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut from_breaks = 0;
        for _ in 0..500 {
            let mut text = Vec::new();
            let len = 1 + next(6000) as usize;
            while text.len() < len {
                let line = match next(4) {
                    0 => 0,
                    1 => next(8),
                    2 => next(200),
                    _ => next(900),
                };
                text.extend(std::iter::repeat_n(b'x', line as usize));
                text.push(b'\n');
            }
            let (a, b) = (
                next(text.len() as u64) as usize,
                next(text.len() as u64) as usize,
            );
            let (cs, reach) = (a.min(b), a.max(b));
            let breaks: Vec<usize> = memchr::memchr_iter(b'\n', &text[cs..reach])
                .map(|i| cs + i)
                .collect();
            let chunk = Chunk {
                start: cs,
                lower: &[],
                breaks: &breaks,
                reach,
                plain: true,
            };
            let line_starts =
                std::iter::once(0).chain(memchr::memchr_iter(b'\n', &text).map(|i| i + 1));
            for s in line_starts.filter(|&s| s < text.len()) {
                if let Some(w) = window_in(&chunk, text.len(), s) {
                    assert_eq!(
                        w,
                        provider_window(&text, s),
                        "line at {s}, chunk {cs}..{reach}"
                    );
                    from_breaks += 1;
                }
            }
        }
        assert!(from_breaks > 500, "{from_breaks} windows from line breaks");
    }
}
