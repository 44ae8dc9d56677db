//! What every match of a vendored rule must contain, worked out from its regex: the literal
//! groups and the bytes other than letters that the prefilter looks for (see the parent
//! module), and whether a match may span lines.
//!
//! This file is also compiled into the crate's build script (`build.rs`), which does this work
//! once, when jcdiag is built: taking literals apart is the costly part of preparing the rules
//! (about 0.2 s), too much to pay at every start. It therefore uses only `regex`,
//! `regex-syntax` and `serde`.

use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// Bytes that XML escaping (`&lt;` ...) or dedenting (after a line break) may change.
const TRANSFORMED: &[u8] = b"<>&\"'\n\r";

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

    /// Generic rules key on words rather than a token format, so they yield to the profile's
    /// public keys (`systemKey`).
    pub fn is_generic(&self) -> bool {
        self.categories.iter().any(|c| c == "generic")
    }

    /// The compiled regex, as Nosey Parker compiles it (bytes, Unicode off).
    pub fn regex(&self) -> Result<Regex, regex::Error> {
        compile(&self.pattern)
    }

    /// Does a match of `re` (this rule, compiled) in one of its own examples span lines? Such
    /// a rule runs on the lines around a hit rather than on the hit's line only.
    pub fn spans_lines(&self, re: &Regex) -> bool {
        self.examples.iter().any(|ex| {
            re.find_iter(ex.as_bytes())
                .any(|m| m.as_bytes().contains(&b'\n'))
        })
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
        let Some(hir) = self.syntax() else {
            return Vec::new();
        };
        let mut groups = Vec::new();
        required_literals(&hir, &mut groups);
        // Looked for in the text as it is, while the rule may match it once XML-decoded or
        // dedented (see `Scrubber::provider_spans`): each literal becomes its longest stretch
        // without a byte that either could have changed. A group with a literal cut too short
        // tells nothing and goes.
        groups.retain_mut(|g| {
            for l in g.iter_mut() {
                if let Some(longest) = l
                    .split(|b| TRANSFORMED.contains(b))
                    .max_by_key(|s| s.len())
                    .filter(|s| s.len() < l.len())
                {
                    *l = longest.to_vec();
                }
            }
            g.iter().all(|l| l.len() >= MIN_EXTRA_LITERAL_LEN)
        });
        for g in &mut groups {
            // `xoxb-00` ... `xoxb-99`: literals that share their start are as good as it.
            shrink(g);
        }
        groups.sort_by_key(|g| {
            let shortest = g.iter().map(Vec::len).min().unwrap_or(0);
            (std::cmp::Reverse(shortest.min(8)), g.len())
        });
        groups.dedup();
        drop_implied(&mut groups);
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
    /// The pattern's syntax tree, as the regex crate parses it here (bytes, Unicode off).
    fn syntax(&self) -> Option<regex_syntax::hir::Hir> {
        regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(&self.pattern)
            .ok()
    }

    /// The bytes other than ASCII letters that every match of this rule contains, in no
    /// particular order.
    pub fn required_bytes(&self) -> Vec<u8> {
        let Some(hir) = self.syntax() else {
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
pub const MAX_LITERALS: usize = 16;

/// Compiles a rule's pattern as Nosey Parker compiles it (bytes, Unicode off).
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(50 << 20)
        .build()
}

/// Drops each group that another group implies: `lient` when every match holds `client`
/// anyway. Checking it would tell nothing more.
fn drop_implied(groups: &mut Vec<Vec<Vec<u8>>>) {
    let implies = |b: &[Vec<u8>], a: &[Vec<u8>]| {
        b.iter().all(|lb| {
            a.iter()
                .any(|la| lb.windows(la.len().max(1)).any(|w| w == la.as_slice()))
        })
    };
    let mut i = 0;
    while i < groups.len() {
        // Of two groups that imply each other (the same literals), the first stays.
        let implied = (0..groups.len()).any(|j| {
            j != i && implies(&groups[j], &groups[i]) && (j < i || !implies(&groups[i], &groups[j]))
        });
        if implied {
            groups.remove(i);
        } else {
            i += 1;
        }
    }
}

/// Puts first the group (of literals of at least [`MIN_LITERAL_LEN`] bytes) that the fewest
/// lines of `sample` hold: that group wakes the rule, so the rarer it is in ordinary text,
/// the fewer lines the rule is checked on. Ties keep their order. `sample` is
/// `rules/ordinary-text.txt`: lines of agent, system and configuration logs with no secret.
pub fn rank_by_rarity(groups: &mut [Vec<Vec<u8>>], sample: &str) {
    let lines: Vec<String> = sample.lines().map(str::to_ascii_lowercase).collect();
    let lines_holding = |g: &[Vec<u8>]| {
        lines
            .iter()
            .filter(|l| {
                g.iter()
                    .any(|lit| l.as_bytes().windows(lit.len()).any(|w| w == lit.as_slice()))
            })
            .count()
    };
    let best = groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.iter().all(|l| l.len() >= MIN_LITERAL_LEN))
        .min_by_key(|(i, g)| (lines_holding(g), *i))
        .map(|(i, _)| i);
    if let Some(i) = best {
        groups[..=i].rotate_right(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(list: &[&[&str]]) -> Vec<Vec<Vec<u8>>> {
        list.iter()
            .map(|g| g.iter().map(|l| l.as_bytes().to_vec()).collect())
            .collect()
    }

    #[test]
    fn a_group_that_another_implies_is_dropped_and_equal_groups_keep_one() {
        let mut g = groups(&[
            &["client"],
            &["lient"],
            &["secret", "token"],
            &["cret", "oke"],
        ]);
        drop_implied(&mut g);
        assert_eq!(g, groups(&[&["client"], &["secret", "token"]]));
        // `ecret` is implied by `secret` but not by `secret|token`: a match may hold only `token`.
        let mut g = groups(&[&["secret", "token"], &["ecret"], &["ecret"]]);
        drop_implied(&mut g);
        assert_eq!(g, groups(&[&["secret", "token"], &["ecret"]]));
    }

    #[test]
    fn the_group_rarest_in_ordinary_text_wakes_the_rule() {
        let sample = "GET https://agent.jumpcloud.com/api\nuser alice logged in\nhttps://x\n";
        let mut g = groups(&[&["https://"], &[".azconfig.io"], &["user"]]);
        rank_by_rarity(&mut g, sample);
        assert_eq!(g, groups(&[&[".azconfig.io"], &["https://"], &["user"]]));
        // A group with a literal too short to wake by is never put first.
        let mut g = groups(&[&["user"], &["s."]]);
        rank_by_rarity(&mut g, sample);
        assert_eq!(g, groups(&[&["user"], &["s."]]));
    }
}
