//! Secret scrubber for `jcdiag` support bundles.
//!
//! Everything `jcdiag` copies into a bundle passes through a [`Scrubber`] first; nothing
//! secret may leave the machine. There are three entry points:
//!
//! * [`Scrubber::scrub_text`]: arbitrary bytes (logs, INI, YAML, `key=value`, shell, JSON
//!   text, HTTP headers). Invalid UTF-8, CRLF and multi-megabyte lines are fine. Bytes
//!   outside a match are never changed.
//! * [`Scrubber::scrub_json_document`]: a file that must be JSON (`jcagent.conf`). It is
//!   parsed, every value under a secret key is replaced, every other string is text-scrubbed,
//!   and the document is written out again with its key order kept.
//! * [`Scrubber::scrub_json_strings`]: JSON that jcdiag wrote itself (`manifest.json`, whose
//!   redaction counts sit under kind names such as `password`): only string values are
//!   text-scrubbed.
//!
//! Each returns a [`Scrubbed`], which nothing outside this crate can make: the bundle writer
//! takes only that.
//!
//! # How text scrubbing works
//!
//! 1. **Wake-ups.** Two cheap passes decide which lines need a closer look, and by which
//!    rules (each row of `RULES` says what wakes it, see `Wake`):
//!    * every `=` and `:` (one `memchr2` pass). The key in front of the separator is checked
//!      for secret key words, header names (`Authorization`, `Cookie`, `X-...`) and query
//!      names (`sig`). A `://` counts only with an `@` in the authority.
//!    * case-sensitive literals that mark a token format or a construct without a separator:
//!      `eyJ`, `AKIA`, `ghp_`, `xoxb-`, `Bearer`, `-----BEGIN`, `--`, `-u `. Those of three
//!      bytes or more are found in the provider rules' pass (3 below), checked in their case at
//!      each hit; the two-byte ones by `memmem`. Key words and header names are matched in any
//!      case; these literals only in the case forms listed.
//!
//!    Text that wakes nothing is copied unchanged. That is almost all of a log, which is why
//!    the scrubber is fast. Prose such as "token refresh succeeded" has no separator after
//!    the word, so it wakes nothing.
//! 2. **Rules.** A woken line runs the rules that woke, each once. A rule is a regex whose
//!    group `v` is the secret value. Rules with a `key` group also need that key to name a
//!    secret (see `KeyWords::classify`).
//! 3. **Provider rules** ([`crate::provider`]) run on the lines that hold their literals (and
//!    the other literals and bytes a match needs), found by a hashed 3-byte pass over the
//!    text lower-cased a chunk at a time (the same pass finds the wake literals of 1). Rules that span lines run on a
//!    few lines around the hit, also with XML entities decoded and indentation removed.
//!    **plist values**: a `<key>` naming a secret wakes `Scrubber::plist_value`, which takes
//!    the `<string>` or `<data>` after it, across lines.
//! 3. **PEM private keys** span several lines. They are found from their `-----BEGIN`
//!    wake-up (see `PemFinder::block`).
//! 4. **Merging.** All spans found are sorted and merged. Spans that overlap or touch become
//!    one placeholder, so no byte between them can leak. The kind comes from the span that
//!    starts first; on a tie, from the longest; then from the earliest row in `RULES`.
//! 5. **Fixed point.** A placeholder changes the context of nearby text. So the lines that got
//!    one (and the line above each) are scanned again until nothing more is found.
//!
//! # Replacement
//!
//! Only the secret value is replaced, by `[REDACTED:<kind>]`. Keys, quotes, separators and the
//! rest of the line stay byte-identical: `password = "x y"` becomes
//! `password = "[REDACTED:password]"`. The result is idempotent: scrubbing it again changes
//! nothing and counts nothing, because a candidate value that lies inside an existing
//! placeholder is ignored.
//!
//! [`Redactions`] counts the placeholders this scrub left in the output, by kind. Finds that
//! were merged into one placeholder count once.
//!
//! # Kinds
//!
//! | kind | found by |
//! |------|----------|
//! | `password` | keys with `password`, `passwd`, `pwd` |
//! | `secret`, `token`, `auth`, `credential`, `api-key`, `access-key`, `private-key` | keys with those words |
//! | `system-token`, `connect-key`, `certuuid`, `ldap-bind-password` | JumpCloud keys (`systemToken`, `connectKey`, `certuuid`, `local_ldap_bind_pwd`) |
//! | `proxy-credentials` | a secret key that mentions `proxy` (`proxy_password`); `user:pass@` in a `*proxy*=` URL |
//! | `aws-secret-key` | `aws_secret_access_key=...`, or 40 base64 characters right after "aws secret key" (any separator; `aws`, `AWS` or `Aws`) |
//! | `header-secret` | `Authorization:` with an unknown scheme; `X-*-Key/Token/Secret/Auth...:` headers; JSON `"Authorization"` keys |
//! | `bearer` | `Authorization: Bearer v`, and `Bearer`/`bearer`/`BEARER` + 16 or more token characters anywhere |
//! | `basic-auth` | `Authorization: Basic v`; `curl -u user:pass`, `--user user:pass` |
//! | `cookie` | `Cookie:` / `Set-Cookie:` header values |
//! | `url-credentials` | the password in `scheme://user:password@host` (the user is kept) |
//! | `query-secret` | URL query parameters with a secret name, or `sig`, `signature`, `key`, `code`, `x-amz-signature`, `x-amz-credential` |
//! | `private-key` | PEM private-key blocks, markers included; a BEGIN with no END runs to the end of the input |
//! | `jwt` | `eyJ...` `.` `eyJ...` `.` `...` |
//! | `aws-access-key-id` | `AKIA` / `ASIA` + 16 upper-case letters or digits |
//! | `github-token` | `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_` tokens |
//! | `slack-token` | `xox[abprs]-...` tokens, Slack webhook paths |
//! | `psk`, `passphrase` | keys with `psk`, `presharedkey`, `passphrase` (Wi-Fi, plist `<key>PreSharedKey</key>`) |
//! | `connection-string` | `AccountKey=`, `SharedAccessKey=`, `SharedSecretValue=`, `Password=`, `Pwd=` in a `;`-separated connection string (braced or quoted values whole) |
//! | `discord-bot-token`, `telegram-bot-token`, `twilio-sid` | bot tokens near the word `discord`, `<id>:AA…` (also in `/bot<token>/` URLs), Twilio `AC…`/`SK…` SIDs near the word `twilio` |
//! | *provider rule* | a vendored Nosey Parker rule ([`crate::provider`]): its name as a slug, `sendgrid-api-key` |
//! | *word* | a caller's secret key word that is not in `WORD_TABLE`: the word, with `_` and `.` as `-` |
//!
//! # Which keys are secret
//!
//! A key is secret if it contains one of the caller's secret key words, compared without case
//! (and `api_key` also matches `api-key`, `api.key` and `apikey`). The exceptions below exist to
//! keep support bundles useful:
//!
//! * The key is one of the caller's `public_keys` (exact match, any case), e.g. `systemKey`.
//! * The word only occurs inside a *decoy* word (`DECOY_WORDS`): `author`, `authorized`
//!   (as in `authorized_keys`), `authority`, ... `authorization` is **not** a decoy.
//! * The key's last word says that the value describes the secret rather than holding it
//!   (`METADATA_WORDS`): `auth_method=ldap`, `password_policy`, `token_ttl`,
//!   `private_key_path`, `passwordMinLength`. We decided that `auth_method=ldap` is not secret.
//! * The value is `true`, `false`, `null`, `nil` or `none`, or empty, or the start of a nested
//!   JSON/YAML structure (`{`, `[{`). The structure's own keys are then checked one by one.
//!   An array of scalars (`["a", "b"]`, `[a, b]`) under a secret key is replaced inside its
//!   brackets.
//! * Text rules leave keys that end in `authorization` to the `authorization` header rule.
//!   That rule keeps the scheme (`Bearer`) visible.
//!
//! Prose is not `key=value`: "token refresh succeeded" and "password policy updated" are
//! kept. Log prose that does look like a key, such as "invalid token: expired", loses the
//! next word. We accept that over-redaction.
//!
//! # Value extent in text
//!
//! * Quoted (`"..."` with backslash escapes, `'...'`, or `\"...\"` inside a JSON-encoded
//!   string): the quoted text. An unterminated quote runs to the end of the line.
//! * Unquoted at the start of a line (INI, YAML, `.env`, `export KEY=...`, `- key: v`, and keys
//!   of several words such as `bind password = ...`): to the end of the line, minus trailing
//!   blanks. YAML block scalars (`key: |`) take their whole
//!   indented block.
//! * Unquoted elsewhere (log lines, `--flag=v`, URL queries): up to whitespace, `,`, `;` or
//!   `&`. Trailing quote characters and unbalanced closing brackets are treated as
//!   syntax, not value. So in `map[password:abc]` only `abc` is replaced.
//! * `--password value` (space-separated CLI flags): the next argument.
//! * Headers (`Authorization:`, `X-...-Token:`, `Cookie:`): to the end of the line, or to the
//!   closing quote or `]`.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BTreeMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use memchr::memmem;
use regex::bytes::{CaptureLocations, Regex, RegexBuilder};

use crate::provider::{ProviderRules, has_indented_line, has_xml_entity, provider_window};

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// What one scrub did: counts per redaction kind.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Redactions(pub BTreeMap<String, u64>);

impl Redactions {
    /// Number of redactions of all kinds.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Adds `other`'s counts to ours (e.g. to sum up a whole bundle).
    pub fn add(&mut self, other: &Redactions) {
        for (kind, n) in &other.0 {
            *self.0.entry(kind.clone()).or_insert(0) += n;
        }
    }

    fn bump(&mut self, kind: &str) {
        match self.0.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                self.0.insert(kind.to_owned(), 1);
            }
        }
    }
}

/// The scrubbed bytes and what was redacted from them.
///
/// Only a [`Scrubber`] makes one (and the [`crate::obfuscate::Obfuscator`], from one): the
/// fields are private and there is no other constructor, `From` or `Default`. So a function
/// that takes a `Scrubbed`, like the bundle writer's `add`, cannot be handed unscrubbed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scrubbed {
    bytes: Vec<u8>,
    redactions: Redactions,
}

impl Scrubbed {
    /// The scrubbed text.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// What was redacted from it, by kind.
    pub fn redactions(&self) -> &Redactions {
        &self.redactions
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes and counts, taken apart (the bytes are no longer marked as scrubbed).
    pub fn into_parts(self) -> (Vec<u8>, Redactions) {
        (self.bytes, self.redactions)
    }

    /// Rewrites scrubbed text with `rewrite` (the obfuscator's aliases), adding its counts.
    /// Rewriting scrubbed text keeps it scrubbed; this is the only other way to make a
    /// `Scrubbed`, and it stays inside this crate.
    pub(crate) fn rewritten(
        mut self,
        rewrite: impl FnOnce(&[u8]) -> (Vec<u8>, Redactions),
    ) -> Scrubbed {
        let (bytes, counts) = rewrite(&self.bytes);
        self.bytes = bytes;
        self.redactions.add(&counts);
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScrubError {
    /// [`Scrubber::scrub_json_document`] was given something that is not JSON (or not UTF-8).
    /// The caller should leave the file out of the bundle.
    #[error("not a valid JSON document: {0}")]
    NotJson(#[source] serde_json::Error),
    /// Writing the scrubbed JSON value back out failed (should not happen).
    #[error("could not re-serialise the scrubbed JSON document: {0}")]
    Serialize(#[source] serde_json::Error),
    /// A secret key word is empty or uses characters other than `[a-z0-9_.-]`.
    #[error("secret key word {0:?} must be non-empty and made of a-z, 0-9, '_', '.', '-'")]
    BadKeyWord(String),
    /// A built-in rule's regex does not compile (a bug in this file).
    #[error("built-in scrub rule {rule} does not compile: {source}")]
    Rule {
        rule: &'static str,
        #[source]
        source: regex::Error,
    },
    /// The vendored provider rules cannot be used, or `disabled_rules` names no rule.
    #[error(transparent)]
    Provider(#[from] crate::provider::ProviderError),
    /// One of the scrubber's literal automatons could not be built.
    #[error("could not build the scrubber's literal search: {0}")]
    Automaton(#[from] aho_corasick::BuildError),
}

/// A compiled rule set. Build it once with [`Scrubber::new`] and share it: `Scrubber` is
/// `Send + Sync`, and scrubbing only needs `&self`.
pub struct Scrubber {
    rules: Vec<Rule>,
    /// Which keys are secret.
    keys: KeyWords,
    /// What wakes which rule.
    wakes: WakeTables,
    pem: PemFinder,
    /// Provider credential rules ([`crate::provider`]).
    providers: ProviderRules,
    kinds: Kinds,
}

/// Choices beyond the key words, for [`Scrubber::with_options`].
#[derive(Debug, Clone, Default)]
pub struct ScrubOptions {
    /// Provider rules to leave out, by id (`np.slack.2`) or kind (`slack-bot-token`).
    pub disabled_rules: Vec<String>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field(
                "rules",
                &self.rules.iter().map(|r| r.def.name).collect::<Vec<_>>(),
            )
            .field("kinds", &self.kinds.names)
            .finish_non_exhaustive()
    }
}

impl Scrubber {
    /// `secret_key_words`: lowercase substrings; a key containing any of them is secret (from
    /// the profile: password, passwd, pwd, secret, token, api_key, apikey, access_key,
    /// private_key, auth, credential, connectkey, systemtoken, certuuid, local_ldap_bind_pwd).
    /// `public_keys`: exact keys (case-insensitive) that look secret but are not and must be
    /// kept, e.g. "systemkey".
    pub fn new(secret_key_words: &[String], public_keys: &[String]) -> Result<Self, ScrubError> {
        Self::with_options(secret_key_words, public_keys, &ScrubOptions::default())
    }

    /// [`Scrubber::new`], with provider rules turned off by `options`.
    pub fn with_options(
        secret_key_words: &[String],
        public_keys: &[String],
        options: &ScrubOptions,
    ) -> Result<Self, ScrubError> {
        let mut kinds = Kinds::default();
        let keys = KeyWords::new(secret_key_words, public_keys, &mut kinds)?;
        let rules = RULES
            .iter()
            .enumerate()
            .map(|(i, def)| Rule::compile(def, i, &mut kinds))
            .collect::<Result<Vec<_>, _>>()?;
        let wakes = WakeTables::new(&keys.spellings)?;
        let pem = PemFinder::new(&mut kinds)?;
        let providers = ProviderRules::new(
            &options.disabled_rules,
            &mut |k| kinds.intern(k),
            wakes.long_literals.clone(),
        )?;
        Ok(Scrubber {
            rules,
            keys,
            wakes,
            pem,
            providers,
            kinds,
        })
    }

    /// Text scrub of arbitrary bytes (logs, INI, YAML, key=value, JSON text, headers).
    /// Never changes bytes outside a match.
    pub fn scrub_text(&self, input: &[u8]) -> Scrubbed {
        self.scrub(Cow::Borrowed(input))
    }

    /// [`Scrubber::scrub_text`] for text the caller owns and gives up: text with nothing to
    /// take out (most logs) is returned as it is, without a copy.
    pub fn scrub_owned(&self, input: Vec<u8>) -> Scrubbed {
        self.scrub(Cow::Owned(input))
    }

    fn scrub(&self, input: Cow<'_, [u8]>) -> Scrubbed {
        let mut spans = Vec::new();
        self.find_spans(&input, &[(0, input.len())], &mut spans);
        if spans.is_empty() {
            return Scrubbed {
                bytes: input.into_owned(),
                redactions: Redactions::default(),
            };
        }
        self.redact(input, spans)
    }

    /// Replaces `spans` (found in `input`) and what their placeholders uncover.
    fn redact(&self, input: Cow<'_, [u8]>, mut spans: Vec<Span>) -> Scrubbed {
        let (mut bytes, mut placed) = self.render(input, &mut spans, &[]);
        // A placeholder changes the context of the text next to it. For example, a value that
        // ended at a newline may now run into the rest of a PEM block's last line. So the
        // lines that got a placeholder are scanned again until nothing more is found. This
        // makes the output a fixed point: scrubbing it again changes nothing. Each round
        // leaves fewer bytes or fewer placeholders, so it ends; the cap is a guard.
        for _ in 0..MAX_ROUNDS {
            let regions = changed_lines(&bytes, &placed);
            spans.clear();
            self.find_spans(&bytes, &regions, &mut spans);
            if spans.is_empty() {
                break;
            }
            (bytes, placed) = self.render(Cow::Owned(bytes), &mut spans, &placed);
        }
        let mut redactions = Redactions::default();
        for p in &placed {
            redactions.bump(&self.kinds.names[p.kind as usize]);
        }
        Scrubbed { bytes, redactions }
    }

    /// Structural JSON: parse, replace the value of every secret key (at any depth, in objects
    /// within arrays too) by the string `"[REDACTED:<kind>]"`, then also text-scrub every
    /// remaining string value (URLs with credentials etc.). Re-serialises (key order
    /// preserved). Err if the input is not JSON: the caller then leaves the file out.
    ///
    /// A secret key's value is replaced as follows. Strings and numbers become the
    /// placeholder string. Objects and arrays keep their shape, and every string or number
    /// inside them is replaced. `true`, `false`, `null` and `""` are kept. The output is
    /// compact if the input was on one line and pretty-printed otherwise. A trailing newline is
    /// kept. A leading UTF-8 BOM is dropped.
    pub fn scrub_json_document(&self, input: &[u8]) -> Result<Scrubbed, ScrubError> {
        self.rewrite_json(input, |value, redactions| {
            self.scrub_json_value(value, None, redactions)
        })
    }

    /// A JSON document that jcdiag wrote itself (`manifest.json`): every string value is
    /// text-scrubbed, but keys and numbers are kept whatever their key. Its counts sit under
    /// kind names (`"password": 2`) that [`Scrubber::scrub_json_document`] and
    /// [`Scrubber::scrub_text`] would take for secrets. Output form as `scrub_json_document`.
    pub fn scrub_json_strings(&self, input: &[u8]) -> Result<Scrubbed, ScrubError> {
        self.rewrite_json(input, |value, redactions| {
            self.scrub_json_strings_in(value, redactions)
        })
    }

    /// Parses `input`, lets `scrub` change the value, and writes it out in the input's form.
    fn rewrite_json(
        &self,
        input: &[u8],
        scrub: impl FnOnce(&mut serde_json::Value, &mut Redactions),
    ) -> Result<Scrubbed, ScrubError> {
        let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
        let mut value: serde_json::Value =
            serde_json::from_slice(input).map_err(ScrubError::NotJson)?;
        let mut redactions = Redactions::default();
        scrub(&mut value, &mut redactions);
        let body = input.trim_ascii_end();
        let mut bytes = if memchr::memchr(b'\n', body).is_some() {
            serde_json::to_vec_pretty(&value)
        } else {
            serde_json::to_vec(&value)
        }
        .map_err(ScrubError::Serialize)?;
        if input.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        Ok(Scrubbed { bytes, redactions })
    }
}

// ---------------------------------------------------------------------------------------------
// Rule table
// ---------------------------------------------------------------------------------------------

/// One text rule. Each regex is compiled with Unicode off, so classes match any byte, including
/// invalid UTF-8. It runs on a single line without its `\r\n`, so `^` and `$` mean the start
/// and end of the line.
///
/// Capture groups have fixed names:
/// * `v`, `v2`, `v3`: the value to replace (the first one that took part in the match).
///   Without one, the whole match is replaced. Surrounding quotes, trailing blanks and
///   unbalanced brackets are then trimmed off (see [`unwrap_value`]).
/// * `key`, `key2`: the key (the first one that took part). The match only counts if
///   [`KeyFilter`] accepts it.
/// * `scheme`, `scheme2`: the authorization scheme, for [`KindOf::AuthScheme`].
struct RuleDef {
    /// Short name, used in error messages and tests.
    name: &'static str,
    kind: KindOf,
    /// What makes the rule run on a line. Every text the regex can match must wake it (the
    /// regexes are written to match exactly what wakes them).
    wake: &'static [Wake],
    key: KeyFilter,
    pattern: &'static str,
}

#[derive(Clone, Copy)]
enum KindOf {
    Fixed(&'static str),
    /// From the secret key word found in the `key` group (see [`KeyWords::classify`]).
    FromKey,
    /// `bearer` or `basic-auth` by the `scheme` group, else `header-secret`.
    AuthScheme,
}

/// A reason to run a rule on a line.
#[derive(Clone, Copy)]
enum Wake {
    /// One of these literals occurs in the line (case-sensitive: list each case form).
    Literal(&'static [&'static str]),
    /// A `key` followed by `:` or `=` contains one of the caller's secret key words. The key
    /// is the run of `[A-Za-z0-9_.-]` before the separator, allowing blanks and one
    /// (backslash-escaped) quote in between, as in `"key" :` or `\"key\":`.
    SecretKey,
    /// Such a key contains one of these (ASCII case-insensitive).
    KeyContains(&'static [&'static str]),
    /// Such a key is one of these (ASCII case-insensitive).
    KeyIs(&'static [&'static str]),
    /// Such a key contains `x-` (an `X-...:` header).
    XHeader,
    /// `://` with an `@` before the end of the authority.
    UrlUserinfo,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyFilter {
    /// The rule has no key.
    None,
    /// The key must be secret ([`KeyWords::classify`]) and must not end in
    /// `authorization` (the header rule handles those, keeping the scheme visible).
    SecretKey,
    /// The key must be secret, or one of these names (case-insensitive).
    SecretKeyOr(&'static [&'static str]),
    /// Like `SecretKey`, judged after percent-decoding: the last run of key bytes of the
    /// decoded text (`%22systemToken%22` is `systemToken`, `connect%5Fkey` is `connect_key`).
    PercentEncodedSecretKey,
}

/// The value part of a header: inside `[...]` (Go prints `http.Header` as
/// `map[Authorization:[Bearer x]]`), else to the closing quote or the end of the line.
macro_rules! header_value {
    () => {
        r#"(?:\[[ \t]*["']?(?P<v>[^\]\r\n"']*)|["']?(?P<v2>[^\s"'][^\r\n"']*))"#
    };
}

/// The value of `key=value` in running text: quoted, JSON-escaped-quoted, or up to
/// whitespace `,` `;` `&`. An unterminated quote runs to the end of the line.
macro_rules! inline_value {
    () => {
        r#"(?P<v>\\"(?:[^"\\]|\\[^"])*(?:\\"|$)|"(?:[^"\\]|\\.)*(?:"|$)|'(?:[^'\\]|\\.)*(?:'|$)|[^\s,;&]+)"#
    };
}

/// A connection-string value: braced (`{a;b}`, `}}` escapes `}`), quoted, or up to `;`.
macro_rules! connection_value {
    () => {
        r#"\{(?:[^}]|\}\})*(?:\}|$)|"(?:[^"]|"")*(?:"|$)|'(?:[^']|'')*(?:'|$)|[^;"'{\s][^;"'\r\n]*"#
    };
}

/// Key characters: `db.password`, `proxy-password`, `local_ldap_bind_pwd`.
macro_rules! key {
    () => {
        r#"(?P<key>[A-Za-z0-9_][A-Za-z0-9_.\-]*)"#
    };
}

/// Separator between key and value: `=`, `:`, `:=` (Go), `=>` (Ruby/Perl), with blanks.
macro_rules! sep {
    () => {
        r#"[ \t]*(?::=|=>|[:=])[ \t]*"#
    };
}

/// Text rules. The order is the priority for kind naming when two rules find exactly the same
/// span: specific rules come first, generic `key=value` rules last.
const RULES: &[RuleDef] = &[
    RuleDef {
        name: "aws-secret-key",
        kind: KindOf::Fixed("aws-secret-key"),
        wake: &[Wake::Literal(&["aws", "AWS", "Aws"]), Wake::SecretKey],
        key: KeyFilter::None,
        // An AWS secret key has no recognisable prefix. So we only take 40 base64-ish
        // characters right after a name that says what they are, even in prose
        // ("AWS secret key wJalr...").
        pattern: r#"(?i)aws[ _.\-]?secret[ _.\-]?(?:access[ _.\-]?)?key["']?[ \t]*(?::=|=>|[:= \t])[ \t]*["']?(?P<v>[A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)"#,
    },
    RuleDef {
        name: "authorization-header",
        kind: KindOf::AuthScheme,
        wake: &[Wake::KeyContains(&["authorization"])],
        key: KeyFilter::None,
        // Keeps the scheme so support can see *which* auth was used.
        pattern: concat!(
            r#"(?i)(?:^|[^a-z0-9])(?:proxy-)?authorization["']?[ \t]*[:=][ \t]*"#,
            r#"(?:\[[ \t]*["']?(?:(?P<scheme>bearer|basic|digest|negotiate|ntlm|token)[ \t]+)?(?P<v>[^\]\r\n"']*)"#,
            r#"|["']?(?:(?P<scheme2>bearer|basic|digest|negotiate|ntlm|token)[ \t]+)?(?P<v2>[^\s"'][^\r\n"']*))"#
        ),
    },
    RuleDef {
        name: "x-secret-header",
        kind: KindOf::Fixed("header-secret"),
        wake: &[Wake::XHeader],
        key: KeyFilter::None,
        // `X-Api-Key`, `X-Auth-Token`, `x-connect-key` (JumpCloud install scripts),
        // `X-JFrog-Art-Api` (Artifactory), ...
        pattern: concat!(
            r#"(?i)(?:^|[^a-z0-9])x-[a-z0-9\-]*(?:key|token|secret|signature|auth|password|passwd|credential|session|art-api)[a-z0-9\-]*["']?[ \t]*:[ \t]*"#,
            header_value!()
        ),
    },
    RuleDef {
        name: "cookie-header",
        kind: KindOf::Fixed("cookie"),
        wake: &[Wake::KeyContains(&["cookie"])],
        key: KeyFilter::None,
        // Session cookies are bearer credentials too.
        pattern: concat!(
            r#"(?i)(?:^|[^a-z0-9])(?:set-)?cookie["']?[ \t]*:[ \t]*"#,
            header_value!()
        ),
    },
    RuleDef {
        name: "proxy-url-credentials",
        kind: KindOf::Fixed("proxy-credentials"),
        wake: &[Wake::UrlUserinfo],
        key: KeyFilter::None,
        // `HTTPS_PROXY=http://user:pass@proxy:3128`: same span as `url-credentials`, which
        // it outranks so the kind says "proxy".
        pattern: r#"(?i)proxy[a-z0-9_.\-]*["']?[ \t]*(?::=|=>|[:=])[ \t]*\[?["']?[a-z][a-z0-9+.\-]*://[^\s:/?#@"'<>\[\]]*:(?P<v>[^\s/?#"'<>]*)@"#,
    },
    RuleDef {
        name: "url-credentials",
        kind: KindOf::Fixed("url-credentials"),
        wake: &[Wake::UrlUserinfo],
        key: KeyFilter::None,
        // Only the password goes: the user name helps support and is rarely secret. The
        // password runs to the *last* `@` so that `p@ss` is not cut at its own `@`.
        pattern: r#"(?i)[a-z][a-z0-9+.\-]*://[^\s:/?#@"'<>\[\]]*:(?P<v>[^\s/?#"'<>]*)@"#,
    },
    RuleDef {
        name: "cli-user-password",
        kind: KindOf::Fixed("basic-auth"),
        wake: &[Wake::Literal(&["-u ", "-u\t", "--user", "--proxy-user"])],
        key: KeyFilter::None,
        // `curl -u user:pass`, `--user=user:pass`, `--proxy-user user:pass`.
        pattern: r#"(?:^|[ \t"'])(?:-u|--user|--proxy-user)(?:[ \t]+|=)["']?[^\s:"']*:(?P<v>[^\s"']+)"#,
    },
    RuleDef {
        name: "query-secret",
        kind: KindOf::Fixed("query-secret"),
        wake: &[Wake::SecretKey, Wake::KeyIs(QUERY_SECRET_NAMES)],
        key: KeyFilter::SecretKeyOr(QUERY_SECRET_NAMES),
        // `?password=`, `&access_token=`, `?sig=` (Azure SAS), `?key=` (API keys), `?code=`
        // (OAuth codes).
        pattern: r#"[?&](?P<key>[A-Za-z0-9_.\-]+)=(?P<v>[^&\s#"'<>]+)"#,
    },
    RuleDef {
        name: "jwt",
        kind: KindOf::Fixed("jwt"),
        wake: &[Wake::Literal(&["eyJ"])],
        key: KeyFilter::None,
        // Header and payload are base64url JSON objects, so both start with `eyJ` (`{"`).
        pattern: r"\beyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*",
    },
    RuleDef {
        name: "aws-access-key-id",
        kind: KindOf::Fixed("aws-access-key-id"),
        wake: &[Wake::Literal(&["AKIA", "ASIA"])],
        key: KeyFilter::None,
        pattern: r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    },
    RuleDef {
        name: "github-token",
        kind: KindOf::Fixed("github-token"),
        wake: &[Wake::Literal(&[
            "ghp_",
            "gho_",
            "ghu_",
            "ghs_",
            "ghr_",
            "github_pat_",
        ])],
        key: KeyFilter::None,
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})\b",
    },
    RuleDef {
        name: "slack-token",
        kind: KindOf::Fixed("slack-token"),
        wake: &[Wake::Literal(&[
            "xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-",
        ])],
        key: KeyFilter::None,
        pattern: r"\bxox[abprs]-[A-Za-z0-9\-]{10,}",
    },
    RuleDef {
        name: "slack-webhook",
        kind: KindOf::Fixed("slack-token"),
        wake: &[Wake::Literal(&["hooks.slack.com/services/"])],
        key: KeyFilter::None,
        // The path of a webhook URL is the credential.
        pattern: r"hooks\.slack\.com/services/(?P<v>[A-Za-z0-9_/\-]+)",
    },
    RuleDef {
        name: "bearer-token",
        kind: KindOf::Fixed("bearer"),
        wake: &[Wake::Literal(&["Bearer", "bearer", "BEARER"])],
        key: KeyFilter::None,
        // "Bearer <token>" outside an Authorization header (curl commands, error messages).
        // At least 16 token characters, so that prose such as "bearer token expired" is kept.
        pattern: r"\b(?:Bearer|bearer|BEARER)[ \t]+(?P<v>[A-Za-z0-9._~+/\-]{16,}=*)",
    },
    RuleDef {
        name: "key-value-line",
        kind: KindOf::FromKey,
        wake: &[Wake::SecretKey],
        key: KeyFilter::SecretKey,
        // A key at the start of a line (INI, YAML, .env, `export KEY=`, `- key: v`) owns the
        // rest of the line. Passwords may contain blanks, and there is nothing else on the line.
        // An INI key may be two or three words (`bind password = a b`), but only before a
        // blank-surrounded `=`: prose such as "login with password: x" stays prose.
        pattern: concat!(
            r#"^[ \t]*(?:(?i:export)[ \t]+|-[ \t]+)?"#,
            r#"(?:"#,
            key!(),
            sep!(),
            r#"|(?P<key2>[A-Za-z0-9_][A-Za-z0-9_.\-]*(?:[ \t][A-Za-z0-9_][A-Za-z0-9_.\-]*){1,2})[ \t]+=[ \t]+)"#,
            r#"(?P<v>"(?:[^"\\]|\\.)*(?:"|$)|'(?:[^'\\]|\\.)*(?:'|$)|[^ \t"'].*)"#
        ),
    },
    RuleDef {
        name: "key-value",
        kind: KindOf::FromKey,
        wake: &[Wake::SecretKey],
        key: KeyFilter::SecretKey,
        // Anywhere in a line: `password=x`, `"token": "x"`, `{\"pwd\":\"x\"}`, `map[token:x]`.
        // An optional (possibly escaped) quote closes a quoted key.
        pattern: concat!(key!(), r#"(?:\\?["'])?"#, sep!(), inline_value!()),
    },
    RuleDef {
        name: "percent-encoded-key-value",
        kind: KindOf::FromKey,
        wake: &[Wake::Literal(&["%3D", "%3d", "%3A", "%3a"])],
        key: KeyFilter::PercentEncodedSecretKey,
        // `key=value` and `"key":"value"` inside a URL, a form body or a URL-encoded log:
        // `systemToken%3Dabc`, `%22systemToken%22%3A%22abc%22`. The value ends at an encoded
        // blank, quote, `&`, `,`, `;`, `:`, `=`, `]`, `}` or control byte, or at a plain one.
        pattern: concat!(
            // A key byte may be encoded, but not as a separator (`%3A`, `%3D`).
            r#"(?P<key>(?:[A-Za-z0-9_.\-]|%(?:[0-24-9A-Fa-f][0-9A-Fa-f]|3[0-9BCEFbcef]))+)"#,
            r#"(?:%20|\+|[ \t])*%3[DdAa](?:%20|\+|[ \t])*(?:%2[27])?"#,
            // The value also ends at an encoded separator, so that a rejected key's value
            // stays short and a long line is scanned in linear time. Base64 `=` padding at
            // its very end (before a delimiter) belongs to it.
            r#"(?P<v>(?:[^\s,;&%"'<>]|%(?:2[134589ABDEFabdef]|3[0-9CEFcef]|[57][0-9A-Ca-cEFef]|[4689A-Fa-f][0-9A-Fa-f]))+(?:%3[Dd])*)"#,
            r#"(?:$|[\s,;&%"'<>])"#
        ),
    },
    RuleDef {
        name: "cli-flag",
        kind: KindOf::FromKey,
        wake: &[Wake::Literal(&["--"])],
        key: KeyFilter::SecretKey,
        // `--password value` (`--token=value` is `key-value`). A value that starts with `-`
        // is the next flag, not a value.
        pattern: concat!(
            r#"(?:^|[ \t"'=])--"#,
            key!(),
            r#"[ \t]+(?P<v>"(?:[^"\\]|\\.)*(?:"|$)|'(?:[^'\\]|\\.)*(?:'|$)|[^\s\-"']\S*)"#
        ),
    },
    RuleDef {
        name: "connection-string",
        kind: KindOf::Fixed("connection-string"),
        wake: &[Wake::KeyIs(CONNECTION_STRING_KEYS)],
        key: KeyFilter::None,
        // Azure, ODBC and ADO.NET connection strings: `AccountName=a;AccountKey=k==;`,
        // `Uid=u;Pwd={p;w}`, `User ID=u;Password=two words;`. The value runs to the next `;`
        // (or is braced or quoted), but only where a `;` shows that this is a connection
        // string: `password=x user=y` elsewhere stays with `key-value`. After the key-value
        // rules, so that where both find the same span the kind stays `password`.
        pattern: concat!(
            r#"(?i)(?:;[ \t]*(?:AccountKey|SharedAccessKey|SharedSecretValue|Password|Pwd)[ \t]*=[ \t]*(?P<v>"#,
            connection_value!(),
            r#")|(?:^|[\s"'])(?:AccountKey|SharedAccessKey|SharedSecretValue|Password|Pwd)[ \t]*=[ \t]*(?P<v2>"#,
            connection_value!(),
            r#")[ \t]*;)"#
        ),
    },
    RuleDef {
        name: "xml-element",
        kind: KindOf::FromKey,
        wake: &[Wake::Literal(&["</"])],
        key: KeyFilter::SecretKey,
        // `<password>x</password>`, `<ns:Token type="a">x</ns:Token>` (attributes,
        // `password="x"`, are `key-value`). plist `<key>` / `<string>` pairs are found by
        // `PlistFinder`.
        pattern: r#"<(?P<key>[A-Za-z_][A-Za-z0-9_.:\-]*)(?:[ \t][^<>]*)?>(?P<v>[^<]+)</"#,
    },
    RuleDef {
        name: "prose-secret",
        kind: KindOf::FromKey,
        wake: &[Wake::Literal(&[
            "password",
            "Password",
            "PASSWORD",
            "passwd",
            "passphrase",
            "Passphrase",
            "credential",
            "Credential",
            "CREDENTIAL",
            "secret",
            "Secret",
            "SECRET",
            "token",
            "Token",
            "TOKEN",
        ])],
        key: KeyFilter::SecretKey,
        // A quoted value after a secret word in prose: "with credentials 'x'", "the password
        // is \"x\"", "token set to `x`". Unquoted prose ("password policy updated") is kept.
        pattern: concat!(
            r#"(?i)\b(?P<key>password|passwd|passphrase|credentials?|secret|token)[ \t]+"#,
            r#"(?:(?:is|was|are|were|of|to|set[ \t]+to|changed[ \t]+to|reset[ \t]+to)[ \t]+)?"#,
            r#"(?P<v>'[^'\r\n]+'|"[^"\r\n]+"|`[^`\r\n]+`)"#
        ),
    },
    RuleDef {
        name: "discord-bot-token",
        kind: KindOf::Fixed("discord-bot-token"),
        wake: &[Wake::Literal(&["discord", "Discord", "DISCORD"])],
        key: KeyFilter::None,
        // Not in the vendored rule set. The first part is the bot's id in base64 (`M`, `N` or
        // `O` first); the token has no literal of its own, so the word wakes the rule.
        pattern: r"\b[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}\b",
    },
    RuleDef {
        name: "telegram-bot-token",
        kind: KindOf::Fixed("telegram-bot-token"),
        wake: &[Wake::Literal(&[":AA"])],
        key: KeyFilter::None,
        // The vendored rule wants a word boundary before the token, so it misses the Bot
        // API's own URL form, `https://api.telegram.org/bot<token>/getMe`.
        pattern: r"(?:\b|bot)(?P<v>[0-9]{6,12}:AA[A-Za-z0-9_\-]{32,33})(?:[^A-Za-z0-9_\-]|$)",
    },
    RuleDef {
        name: "twilio-sid",
        kind: KindOf::Fixed("twilio-sid"),
        wake: &[Wake::Literal(&["twilio", "Twilio", "TWILIO"])],
        key: KeyFilter::None,
        // Account and API key SIDs next to their secrets in Twilio snippets: the vendored
        // rule takes the secret; this takes the SIDs, which detect-secrets reports as keys.
        pattern: r"\b(?:AC|SK)[0-9a-f]{32}\b",
    },
];

/// Rules that only match a quoted value: a line without a quote character skips them. Their
/// wake-up words are common in logs ("token refresh succeeded").
const QUOTED_ONLY: &[&str] = &["prose-secret"];

/// Keys of a connection string that hold its secret (exact, case-insensitive).
const CONNECTION_STRING_KEYS: &[&str] = &[
    "accountkey",
    "sharedaccesskey",
    "sharedsecretvalue",
    "password",
    "pwd",
];

/// Query parameters that hold secrets although their name has no secret key word.
const QUERY_SECRET_NAMES: &[&str] = &[
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "key",
    "code",
];

// At most 30 rules: bit 31 of a wake mask is the PEM block finder, bit 30 the plist finder.
const _: () = assert!(RULES.len() < 30);
const PEM_BIT: u32 = 1 << 31;
const PLIST_BIT: u32 = 1 << 30;

/// PEM private-key markers, checked where a `-----BEGIN` literal was found. Certificates
/// and public keys do not match.
const PEM_BEGIN: &str = r"\A-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----";
const PEM_END: &str = r"\A-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----";

/// Known secret key words: `(word, split form, kind)`. The split form is for words written as
/// one run, like `connectkey`, and lets `JC_CONNECT_KEY` and `connect-key` match too. Other
/// words report the word itself as the kind, with `_` and `.` as `-`.
#[rustfmt::skip]
const WORD_TABLE: &[(&str, Option<&str>, &str)] = &[
    ("password",            None,                 "password"),
    ("passwd",              None,                 "password"),
    ("pwd",                 None,                 "password"),
    ("secret",              None,                 "secret"),
    ("token",               None,                 "token"),
    ("api_key",             None,                 "api-key"),
    ("apikey",              Some("api_key"),      "api-key"),
    ("access_key",          None,                 "access-key"),
    ("private_key",         None,                 "private-key"),
    ("auth",                None,                 "auth"),
    ("credential",          None,                 "credential"),
    ("connectkey",          Some("connect_key"),  "connect-key"),
    ("systemtoken",         Some("system_token"), "system-token"),
    ("certuuid",            Some("cert_uuid"),    "certuuid"),
    ("local_ldap_bind_pwd", None,                 "ldap-bind-password"),
    ("psk",                 None,                 "psk"),
    ("presharedkey",        Some("pre_shared_key"), "psk"),
    ("passphrase",          None,                 "passphrase"),
];

/// Kinds decided by the whole secret key (letters and digits only, lowercased) rather than
/// by the word found in it. The first row that matches wins.
const KEY_KIND_OVERRIDES: &[(&str, &str)] = &[
    ("proxy", "proxy-credentials"),
    ("awssecret", "aws-secret-key"),
    ("authorization", "header-secret"),
];

/// Words that contain a secret key word by accident. A secret word inside one of these
/// words does not count.
#[rustfmt::skip]
const DECOY_WORDS: &[&str] = &[
    "author", "authors", "authored", "authorship", "authority", "authorities", "authoritative",
    "authorized", "unauthorized", "tokenizer", "tokenized", "secretary",
];

/// Words that, when last in a key, mean the value *describes* a secret (its type, policy,
/// lifetime, location) instead of holding it: `auth_method`, `passwordPolicy`, `token_ttl`,
/// `private_key_path`. Such keys are not secret.
#[rustfmt::skip]
const METADATA_WORDS: &[&str] = &[
    // what kind of secret, and how it is handled
    "method", "methods", "type", "types", "mode", "modes", "provider", "providers",
    "policy", "policies", "strategy", "algorithm", "format", "scope", "scopes", "issuer",
    "enabled", "disabled", "required", "optional", "complexity", "rotation",
    // lifetime and limits
    "expiry", "expiration", "expires", "expired", "ttl", "timeout", "interval", "age",
    "length", "len", "size", "count", "attempts", "retries",
    // where it lives
    "url", "uri", "endpoint", "host", "port", "path", "file", "dir", "directory", "name", "header",
    // what happened to it
    "version", "status", "state", "result", "changed", "updated",
];

// ---------------------------------------------------------------------------------------------
// Compiled rules and kinds
// ---------------------------------------------------------------------------------------------

pub(crate) type KindId = u16;

/// Interned kind names and their placeholders.
#[derive(Default)]
struct Kinds {
    names: Vec<String>,
    placeholders: Vec<Vec<u8>>,
}

impl Kinds {
    fn intern(&mut self, name: &str) -> KindId {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return i as KindId;
        }
        self.names.push(name.to_owned());
        self.placeholders
            .push(format!("[REDACTED:{name}]").into_bytes());
        (self.names.len() - 1) as KindId
    }
}

struct Rule {
    def: &'static RuleDef,
    re: Regex,
    key_groups: Vec<usize>,
    value_groups: Vec<usize>,
    scheme_groups: Vec<usize>,
    /// The fixed kind, or the fallback for key-derived kinds.
    kind: KindId,
    bearer: KindId,
    basic: KindId,
    /// Rank when two rules find the same span (lower wins); PEM blocks are 0.
    priority: u16,
    /// On [`QUOTED_ONLY`].
    needs_quote: bool,
}

impl Rule {
    fn compile(def: &'static RuleDef, index: usize, kinds: &mut Kinds) -> Result<Rule, ScrubError> {
        let re = RegexBuilder::new(def.pattern)
            .unicode(false)
            .build()
            .map_err(|source| ScrubError::Rule {
                rule: def.name,
                source,
            })?;
        let groups = |prefix: &str| -> Vec<usize> {
            re.capture_names()
                .enumerate()
                .filter(|(_, n)| {
                    n.is_some_and(|n| {
                        n.strip_prefix(prefix)
                            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
                    })
                })
                .map(|(i, _)| i)
                .collect()
        };
        let key_groups = groups("key");
        let value_groups = groups("v");
        let scheme_groups = groups("scheme");
        let kind = match def.kind {
            KindOf::Fixed(k) => kinds.intern(k),
            KindOf::FromKey => kinds.intern("secret"),
            KindOf::AuthScheme => kinds.intern("header-secret"),
        };
        Ok(Rule {
            def,
            key_groups,
            value_groups,
            scheme_groups,
            kind,
            bearer: kinds.intern("bearer"),
            basic: kinds.intern("basic-auth"),
            priority: index as u16 + 1,
            needs_quote: QUOTED_ONLY.contains(&def.name),
            re,
        })
    }
}

/// A byte range of the input to replace by the placeholder of `kind`.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
    kind: KindId,
    priority: u16,
}

/// A placeholder this scrub wrote, in output coordinates. `fresh`: written in the latest
/// round.
#[derive(Clone, Copy, Debug)]
struct Placed {
    start: usize,
    end: usize,
    kind: KindId,
    fresh: bool,
}

impl Placed {
    /// This earlier placeholder at its position in the new output, where `copied` input bytes
    /// have become `out_len` output bytes; it was not added by this round.
    fn carried(&self, out_len: usize, copied: usize) -> Placed {
        let start = out_len + self.start - copied;
        Placed {
            start,
            end: start + self.end - self.start,
            kind: self.kind,
            fresh: false,
        }
    }
}

/// Provider rules rank after the built-in ones when two find the same span, so the built-in
/// kind (`password`, `jwt`) names it.
const PROVIDER_PRIORITY: u16 = 100;

/// Upper bound on rescan rounds in [`Scrubber::scrub_text`]; one is the norm.
const MAX_ROUNDS: usize = 8;

// ---------------------------------------------------------------------------------------------
// Secret keys
// ---------------------------------------------------------------------------------------------

/// Decides which keys are secret (see "Which keys are secret" in the module docs).
struct KeyWords {
    /// Every accepted spelling of every secret key word: `api_key`, `api-key`, `api.key`,
    /// `apikey`. Spelling `i` belongs to word `word_of[i]`.
    spellings: Vec<Vec<u8>>,
    word_of: Vec<usize>,
    /// Finds spellings in a key (ASCII case-insensitive).
    finder: AhoCorasick,
    /// Kind of each word.
    word_kind: Vec<KindId>,
    /// Keys that look secret but are not (lowercase, compared ASCII case-insensitively).
    public_keys: Vec<Vec<u8>>,
    /// Kinds of [`KEY_KIND_OVERRIDES`], row by row.
    override_kinds: Vec<KindId>,
}

impl KeyWords {
    fn new(
        words: &[String],
        public_keys: &[String],
        kinds: &mut Kinds,
    ) -> Result<KeyWords, ScrubError> {
        let mut spellings: Vec<Vec<u8>> = Vec::new();
        let mut word_of = Vec::new();
        let mut word_kind = Vec::new();
        for raw in words {
            let word = raw.trim().to_ascii_lowercase();
            let valid = !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !valid {
                return Err(ScrubError::BadKeyWord(raw.clone()));
            }
            let known = WORD_TABLE.iter().find(|(w, _, _)| *w == word);
            let kind = match known {
                Some((_, _, kind)) => (*kind).to_owned(),
                None => word.replace(['_', '.'], "-"),
            };
            let w = word_kind.len();
            word_kind.push(kinds.intern(&kind));
            let split = known.and_then(|(_, split, _)| *split);
            for form in std::iter::once(word.as_str()).chain(split) {
                for sep in ["_", "-", ".", ""] {
                    let spelling = form.replace('_', sep).into_bytes();
                    if !spellings.contains(&spelling) {
                        spellings.push(spelling);
                        word_of.push(w);
                    }
                }
            }
        }
        let finder = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&spellings)?;
        Ok(KeyWords {
            spellings,
            word_of,
            finder,
            word_kind,
            public_keys: public_keys
                .iter()
                .map(|k| k.trim().as_bytes().to_ascii_lowercase())
                .collect(),
            override_kinds: KEY_KIND_OVERRIDES
                .iter()
                .map(|(_, kind)| kinds.intern(kind))
                .collect(),
        })
    }

    /// Does `text` contain one of the public keys (`systemKey`), in any case?
    fn names_public_key(&self, text: &[u8]) -> bool {
        self.public_keys
            .iter()
            .any(|k| !k.is_empty() && text.windows(k.len()).any(|w| w.eq_ignore_ascii_case(k)))
    }

    /// Is `key` the name of a secret? Returns the kind to report, from the longest secret key
    /// word in the key (`systemToken` is `system-token`, not `token`), unless
    /// [`KEY_KIND_OVERRIDES`] names one. See the module docs for the exceptions.
    fn classify(&self, key: &[u8]) -> Option<KindId> {
        let mut best: Option<(usize, usize)> = None; // (length of spelling, word)
        let mut words: Option<Vec<(usize, usize)>> = None;
        for m in self.finder.find_overlapping_iter(key) {
            let words = words.get_or_insert_with(|| key_words(key));
            let inside_decoy = words.iter().any(|&(s, e)| {
                s <= m.start()
                    && m.start() < e
                    && DECOY_WORDS
                        .iter()
                        .any(|d| key[s..e].eq_ignore_ascii_case(d.as_bytes()))
            });
            if !inside_decoy && best.is_none_or(|(len, _)| m.len() > len) {
                best = Some((m.len(), self.word_of[m.pattern().as_usize()]));
            }
        }
        let (_, word) = best?;
        if self.public_keys.iter().any(|p| p.eq_ignore_ascii_case(key)) {
            return None;
        }
        if let Some(&(s, e)) = words.as_ref().and_then(|w| w.last())
            && METADATA_WORDS
                .iter()
                .any(|w| key[s..e].eq_ignore_ascii_case(w.as_bytes()))
        {
            return None;
        }
        let compact: Vec<u8> = key
            .iter()
            .filter(|b| b.is_ascii_alphanumeric())
            .map(|b| b.to_ascii_lowercase())
            .collect();
        for (i, (needle, _)) in KEY_KIND_OVERRIDES.iter().enumerate() {
            if memmem::find(&compact, needle.as_bytes()).is_some() {
                return Some(self.override_kinds[i]);
            }
        }
        Some(self.word_kind[word])
    }
}

// ---------------------------------------------------------------------------------------------
// Wake-ups
// ---------------------------------------------------------------------------------------------

/// What wakes which rule, compiled from the `wake` column of [`RULES`]. Rule sets are bit
/// masks over [`RULES`]; bit [`PEM_BIT`] asks for a PEM block check.
struct WakeTables {
    /// Case-sensitive literals of three bytes or more ([`Wake::Literal`]), each with the rules
    /// it wakes. They are searched for in the provider rules' pass over the text
    /// ([`ProviderRules::wake_ups`]): one pass finds both, where a second automaton over the
    /// whole text cost a sixth of the scrub.
    pub(crate) long_literals: Vec<(Vec<u8>, u32)>,
    /// The literals of two bytes (`--`, `</`), each with its mask. They are searched for on
    /// their own: with them the automaton's SIMD prefilter would compare two bytes rather
    /// than three, and common pairs (`ey` of `eyJ`, `di` of `discord`) would stop it on most
    /// lines.
    short_literals: Vec<(memmem::Finder<'static>, u32)>,
    /// Substrings of the key before a separator ([`Wake::SecretKey`], [`Wake::KeyContains`]),
    /// ASCII case-insensitive. Pattern `i` wakes `key_gate_masks[i]`.
    key_gate: AhoCorasick,
    key_gate_masks: Vec<u32>,
    /// Exact keys ([`Wake::KeyIs`]), lowercase, with the rules they wake.
    key_names: Vec<(Vec<u8>, u32)>,
    /// Rules woken by a key that contains `x-` ([`Wake::XHeader`]).
    x_header_mask: u32,
    /// Rules woken by `://` with an `@` in the authority ([`Wake::UrlUserinfo`]).
    url_mask: u32,
    /// Keys shorter than this wake nothing. Most separators in a log follow a timestamp's `09`.
    min_key_len: usize,
}

impl WakeTables {
    fn new(secret_spellings: &[Vec<u8>]) -> Result<WakeTables, ScrubError> {
        let mut literal_masks: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        let mut gate_masks: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        let mut key_names: Vec<(Vec<u8>, u32)> = Vec::new();
        let (mut x_header_mask, mut url_mask) = (0, 0);
        for (i, def) in RULES.iter().enumerate() {
            let bit = 1u32 << i;
            for wake in def.wake {
                match *wake {
                    Wake::Literal(list) => {
                        for l in list {
                            *literal_masks.entry(l.as_bytes().to_vec()).or_insert(0) |= bit;
                        }
                    }
                    Wake::SecretKey => {
                        for s in secret_spellings {
                            *gate_masks.entry(s.clone()).or_insert(0) |= bit;
                        }
                    }
                    Wake::KeyContains(list) => {
                        for l in list {
                            let l = l.as_bytes().to_ascii_lowercase();
                            *gate_masks.entry(l).or_insert(0) |= bit;
                        }
                    }
                    Wake::KeyIs(list) => {
                        for name in list {
                            let name = name.as_bytes().to_ascii_lowercase();
                            match key_names.iter_mut().find(|(n, _)| *n == name) {
                                Some((_, mask)) => *mask |= bit,
                                None => key_names.push((name, bit)),
                            }
                        }
                    }
                    Wake::XHeader => x_header_mask |= bit,
                    Wake::UrlUserinfo => url_mask |= bit,
                }
            }
        }
        *literal_masks.entry(b"-----BEGIN".to_vec()).or_insert(0) |= PEM_BIT;
        *literal_masks.entry(b"<key>".to_vec()).or_insert(0) |= PLIST_BIT;
        let closed: Vec<(Vec<u8>, u32)> = literal_masks
            .keys()
            .map(|p| {
                let mask = literal_masks
                    .iter()
                    .filter(|(q, _)| p.starts_with(q))
                    .fold(0, |m, (_, bits)| m | bits);
                (p.clone(), mask)
            })
            .collect();
        let (short, closed): (Vec<_>, Vec<_>) = closed.into_iter().partition(|(p, _)| p.len() < 3);
        let short_literals = short
            .into_iter()
            .map(|(p, mask)| (memmem::Finder::new(&p).into_owned(), mask))
            .collect();
        let (gate_patterns, key_gate_masks): (Vec<Vec<u8>>, Vec<u32>) =
            gate_masks.into_iter().unzip();
        let min_key_len = gate_patterns
            .iter()
            .chain(key_names.iter().map(|(n, _)| n))
            .map(Vec::len)
            .chain((x_header_mask != 0).then_some(3)) // `x-` plus one letter
            .min()
            .unwrap_or(usize::MAX);
        Ok(WakeTables {
            long_literals: closed,
            short_literals,
            key_gate: AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&gate_patterns)?,
            key_gate_masks,
            key_names,
            x_header_mask,
            url_mask,
            min_key_len,
        })
    }

    /// Appends `(offset, rules to wake)` for the two-byte literals and the separators in
    /// `input[start..end]` (the longer literals are found with the provider rules'). Offsets
    /// point into the line concerned (a literal's start, a separator). Works in chunks that
    /// stay in cache while the searches read them.
    fn wake_ups(&self, input: &[u8], start: usize, end: usize, wakes: &mut Wakes) {
        const CHUNK: usize = 32 << 10;
        let mut chunk_start = start;
        while chunk_start < end {
            let chunk_end = end.min(chunk_start + CHUNK);
            // Literals that start in this chunk may end in the next one.
            let reach = end.min(chunk_end + 1);
            for (finder, mask) in &self.short_literals {
                for i in finder.find_iter(&input[chunk_start..reach]) {
                    if chunk_start + i >= chunk_end {
                        break;
                    }
                    wakes.push(input, chunk_start + i, *mask);
                }
            }
            // Separators, judged by the key in front of them.
            for i in memchr::memchr2_iter(b'=', b':', &input[chunk_start..chunk_end]) {
                let mask = self.separator_wakes(input, start, chunk_start + i);
                if mask != 0 {
                    wakes.push(input, chunk_start + i, mask);
                }
            }
            chunk_start = chunk_end;
        }
    }

    /// The rules woken by the separator at `input[at]` (`=` or `:`), given what precedes it
    /// (no further back than `floor`) and, for `://`, what follows.
    fn separator_wakes(&self, input: &[u8], floor: usize, at: usize) -> u32 {
        let mut mask = 0;
        if input[at] == b':'
            && input[at + 1..].starts_with(b"//")
            && authority_has_userinfo(&input[at + 3..])
        {
            mask |= self.url_mask;
        }
        // Back over blanks, one quote (maybe escaped), then the key itself.
        let mut k = at;
        while k > floor && matches!(input[k - 1], b' ' | b'\t') {
            k -= 1;
        }
        if k > floor && matches!(input[k - 1], b'"' | b'\'') {
            k -= 1;
            if k > floor && input[k - 1] == b'\\' {
                k -= 1;
            }
        }
        let key_end = k;
        while k > floor && is_key_byte(input[k - 1]) {
            k -= 1;
        }
        // An INI key may be up to three words before a blank-surrounded `=` (`password hash =
        // x`, see `key-value-line`): then look at all of them.
        if input[at] == b'=' && at > floor && matches!(input[at - 1], b' ' | b'\t') {
            for _ in 0..2 {
                if k < floor + 2
                    || !matches!(input[k - 1], b' ' | b'\t')
                    || !is_key_byte(input[k - 2])
                {
                    break;
                }
                k -= 1;
                while k > floor && is_key_byte(input[k - 1]) {
                    k -= 1;
                }
            }
        }
        let key = &input[k..key_end];
        if key.len() < self.min_key_len {
            return mask;
        }
        if self.key_gate.is_match(key) {
            for m in self.key_gate.find_overlapping_iter(key) {
                mask |= self.key_gate_masks[m.pattern().as_usize()];
            }
        }
        if self.x_header_mask != 0
            && memchr::memchr_iter(b'-', key)
                .any(|i| i > 0 && key[i - 1].eq_ignore_ascii_case(&b'x'))
        {
            mask |= self.x_header_mask;
        }
        for (name, bits) in &self.key_names {
            if key.eq_ignore_ascii_case(name) {
                mask |= bits;
            }
        }
        mask
    }
}

/// Wake-ups found so far: `(offset, rules to wake)`.
#[derive(Default)]
struct Wakes {
    list: Vec<(usize, u32)>,
    /// `input[last offset..clear_until]` holds no `\n`.
    clear_until: usize,
}

impl Wakes {
    /// Records a wake-up, unless the previous one is on the same line and wakes at least the
    /// same rules. This keeps a line like `--------...` or `a=a=a=...` from costing one entry
    /// per byte; `clear_until` keeps the same-line test linear. PEM wake-ups are always kept,
    /// since each `-----BEGIN` needs its own look.
    fn push(&mut self, input: &[u8], at: usize, mask: u32) {
        if let Some(&(last, last_mask)) = self.list.last()
            && mask & (PEM_BIT | PLIST_BIT) == 0
            && last <= at
            && last_mask & mask == mask
        {
            let from = self.clear_until.max(last);
            if at <= from || memchr::memchr(b'\n', &input[from..at]).is_none() {
                self.clear_until = self.clear_until.max(at);
                return;
            }
        }
        self.list.push((at, mask));
        self.clear_until = at;
    }
}

// ---------------------------------------------------------------------------------------------
// PEM blocks
// ---------------------------------------------------------------------------------------------

/// Finds multi-line PEM private-key blocks. Certificates and public keys do not match.
struct PemFinder {
    begin: Regex,
    end: Regex,
    end_finder: memmem::Finder<'static>,
    kind: KindId,
}

impl PemFinder {
    fn new(kinds: &mut Kinds) -> Result<PemFinder, ScrubError> {
        let compile = |rule: &'static str, pattern: &str| {
            RegexBuilder::new(pattern)
                .unicode(false)
                .build()
                .map_err(|source| ScrubError::Rule { rule, source })
        };
        Ok(PemFinder {
            begin: compile("pem-begin", PEM_BEGIN)?,
            end: compile("pem-end", PEM_END)?,
            end_finder: memmem::Finder::new(b"-----END").into_owned(),
            kind: kinds.intern("private-key"),
        })
    }

    /// A PEM private-key block starting at `at` (where a `-----BEGIN` literal is): from its
    /// BEGIN marker through the matching END marker, or to the end of the input if there is
    /// none (a truncated key is still a key).
    fn block(&self, input: &[u8], at: usize) -> Option<(usize, usize)> {
        let head = &input[at..input.len().min(at + 100)];
        let begin = self.begin.find(head)?;
        let mut from = at + begin.end();
        while let Some(i) = self.end_finder.find(&input[from..]) {
            let p = from + i;
            if let Some(end) = self.end.find(&input[p..input.len().min(p + 100)]) {
                return Some((at, p + end.end()));
            }
            from = p + 1;
        }
        Some((at, input.len()))
    }
}

// ---------------------------------------------------------------------------------------------
// Text scrubbing
// ---------------------------------------------------------------------------------------------

impl Scrubber {
    /// Collects the spans to redact from `ranges` of the input (sorted, disjoint, whole
    /// lines). Each line that something wakes runs the rules woken, once.
    fn find_spans(&self, input: &[u8], ranges: &[(usize, usize)], spans: &mut Vec<Span>) {
        let mut wakes = Wakes::default();
        self.provider_spans(input, ranges, spans, &mut wakes);
        for &(start, end) in ranges {
            self.wakes.wake_ups(input, start, end, &mut wakes);
        }
        let mut wakes = wakes.list;
        if wakes.is_empty() {
            return;
        }
        wakes.sort_unstable_by_key(|w| w.0);

        // Capture slots for each rule, allocated on the first line that needs them.
        let mut locs: Option<Vec<CaptureLocations>> = None;
        // The line being gathered: (start, end without '\n', rules to run).
        let mut line: Option<(usize, usize, u32)> = None;
        // Wake-ups before this offset are inside a PEM block already found.
        let mut pem_until = 0;
        for (at, mut mask) in wakes {
            if mask & PEM_BIT != 0 {
                mask &= !PEM_BIT;
                if at >= pem_until
                    && let Some((start, end)) = self.pem.block(input, at)
                {
                    spans.push(Span {
                        start,
                        end,
                        kind: self.pem.kind,
                        priority: 0,
                    });
                    pem_until = end;
                }
            }
            if mask & PLIST_BIT != 0 {
                mask &= !PLIST_BIT;
                if let Some((start, end, kind)) = self.plist_value(input, at) {
                    spans.push(Span {
                        start,
                        end,
                        kind,
                        priority: 0,
                    });
                }
            }
            if mask == 0 {
                continue;
            }
            match &mut line {
                Some((_, end, rules)) if at <= *end => *rules |= mask,
                _ => {
                    if let Some((start, end, rules)) = line.take() {
                        self.scan_line(input, start, end, rules, &mut locs, spans);
                    }
                    let start = memchr::memrchr(b'\n', &input[..at]).map_or(0, |i| i + 1);
                    let end = memchr::memchr(b'\n', &input[at..]).map_or(input.len(), |i| at + i);
                    line = Some((start, end, mask));
                }
            }
        }
        if let Some((start, end, rules)) = line {
            self.scan_line(input, start, end, rules, &mut locs, spans);
        }
    }

    /// Collects the spans of the provider rules: each rule runs on the lines that hold one of
    /// its literals. Every capture group of a match is a secret (the whole match if the rule
    /// has none). A generic rule's match that names a public key (`systemKey`) is kept.
    /// The same pass adds the wake-ups of [`WakeTables::long_literals`] to `wakes`.
    fn provider_spans(
        &self,
        input: &[u8],
        ranges: &[(usize, usize)],
        spans: &mut Vec<Span>,
        wakes: &mut Wakes,
    ) {
        let mut hits = Vec::new();
        for &(start, end) in ranges {
            self.providers
                .wake_ups(input, start, end, &mut hits, &mut |at, mask| {
                    wakes.push(input, at, mask)
                });
        }

        for (line_start, r) in hits {
            let rule = &self.providers.rules[r as usize];
            let (start, end) = if rule.multiline {
                provider_window(input, line_start)
            } else {
                let end = memchr::memchr(b'\n', &input[line_start..])
                    .map_or(input.len(), |i| line_start + i);
                (line_start, end)
            };
            let window = &input[start..end];
            self.provider_matches(rule, r, window, &|i| start + i, spans);
            // Text inside XML (a plist `<string>`, an attribute) has its `<`, `>`, `"` and
            // `&` escaped; the rules are written for the plain text.
            if has_xml_entity(window) {
                let (decoded, map) = xml_unescape(window);
                if decoded.len() != window.len() {
                    self.provider_matches(rule, r, &decoded, &|i| start + map[i], spans);
                }
            }
            // A block indented in a YAML value or a log record: rules that span lines expect
            // the next line to start at its first column.
            if rule.multiline && has_indented_line(window) {
                let (dedented, map) = dedent(window);
                if dedented.len() != window.len() {
                    self.provider_matches(rule, r, &dedented, &|i| start + map[i], spans);
                }
            }
        }
    }

    /// The spans of one provider rule's matches in `window`; `to_input` maps an offset in
    /// `window` to one in the input.
    fn provider_matches(
        &self,
        rule: &crate::provider::ProviderRule,
        index: u32,
        window: &[u8],
        to_input: &dyn Fn(usize) -> usize,
        spans: &mut Vec<Span>,
    ) {
        // The lazy DFA says whether there is a match at all far faster than a search with
        // captures; most woken lines hold none.
        if !rule.re().is_match(window) {
            return;
        }
        let mut locs = rule.re().capture_locations();
        let mut at = 0;
        while at <= window.len() {
            let Some(m) = rule.re().captures_read_at(&mut locs, window, at) else {
                break;
            };
            at = m.end().max(at + 1);
            if rule.generic && self.keys.names_public_key(&window[m.start()..m.end()]) {
                continue;
            }
            for (s, e) in crate::provider::secret_groups(rule.secret_groups, &locs) {
                // Quotes and unbalanced brackets a rule takes along are syntax (`map[k:[v]]`).
                let (s, e) = unwrap_value(window, s, e);
                if s < e && !self.inside_placeholder(window, s, e) {
                    spans.push(Span {
                        start: to_input(s),
                        end: to_input(e),
                        kind: rule.kind,
                        priority: PROVIDER_PRIORITY.saturating_add(index as u16),
                    });
                }
            }
        }
    }

    /// The value of a plist entry whose `<key>` (at `input[at]`) names a secret: the text of
    /// the `<string>` or `<data>` element that follows it, across lines
    /// (`<key>PreSharedKey</key>\n<string>x</string>`), as macOS Wi-Fi and MDM profiles
    /// hold them.
    fn plist_value(&self, input: &[u8], at: usize) -> Option<(usize, usize, KindId)> {
        const KEY_LIMIT: usize = 200;
        const GAP_LIMIT: usize = 1024;
        let name_start = at + b"<key>".len();
        let rest = &input[name_start..input.len().min(name_start + KEY_LIMIT)];
        let name_len = memmem::find(rest, b"</key>")?;
        let kind = self.keys.classify(&rest[..name_len])?;
        let mut p = name_start + name_len + b"</key>".len();
        let gap_end = input.len().min(p + GAP_LIMIT);
        while p < gap_end && input[p].is_ascii_whitespace() {
            p += 1;
        }
        let after = &input[p..];
        let (open, close): (&[u8], &[u8]) = if after.starts_with(b"<string>") {
            (b"<string>", b"</string>")
        } else if after.starts_with(b"<data>") {
            (b"<data>", b"</data>")
        } else {
            return None;
        };
        let start = p + open.len();
        // An element with no end runs to the end of the input: a cut-off secret is still one.
        let end = memmem::find(&input[start..], close).map_or(input.len(), |i| start + i);
        let (s, e) = trim_blank(input, start, end);
        (s < e && !self.inside_placeholder(input, s, e)).then_some((s, e, kind))
    }

    /// Runs the rules in `rules` (a bit mask over [`RULES`]) on `input[start..end]`.
    fn scan_line(
        &self,
        input: &[u8],
        start: usize,
        end: usize,
        rules: u32,
        locs: &mut Option<Vec<CaptureLocations>>,
        spans: &mut Vec<Span>,
    ) {
        let mut line = &input[start..end];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        let locs = locs.get_or_insert_with(|| {
            self.rules
                .iter()
                .map(|r| r.re.capture_locations())
                .collect()
        });
        for (i, rule) in self.rules.iter().enumerate() {
            if rules & (1 << i) != 0 {
                self.apply_rule(rule, &mut locs[i], input, start, line, spans);
            }
        }
    }

    /// Finds every match of one rule in `line` (which starts at `input[line_start]`).
    fn apply_rule(
        &self,
        rule: &Rule,
        locs: &mut CaptureLocations,
        input: &[u8],
        line_start: usize,
        line: &[u8],
        spans: &mut Vec<Span>,
    ) {
        if rule.needs_quote && memchr::memchr3(b'"', b'\'', b'`', line).is_none() {
            return;
        }
        let keyed = rule.def.key != KeyFilter::None;
        let mut at = 0;
        while at <= line.len() {
            let Some(m) = rule.re.captures_read_at(locs, line, at) else {
                break;
            };
            let key = rule.key_groups.iter().find_map(|&g| locs.get(g));
            // A rejected key's "value" may itself hold `key=value` (`msg=password=x`). So
            // after a rejection, look again just past the key, not past the whole match.
            let retry_at = key.map_or(m.end(), |(_, e)| e).max(at + 1);
            at = m.end().max(at + 1);

            let mut key_kind = None;
            if let (true, Some((ks, ke))) = (keyed, key) {
                match self.check_key(rule.def.key, &line[ks..ke]) {
                    Some(kind) => key_kind = kind,
                    None => {
                        at = retry_at;
                        continue;
                    }
                }
            }
            let (raw_start, raw_end) = rule
                .value_groups
                .iter()
                .find_map(|&g| locs.get(g))
                .unwrap_or((m.start(), m.end()));
            let (vs, ve) = unwrap_value(line, raw_start, raw_end);
            let value = &line[vs..ve];
            let kind = match rule.def.kind {
                KindOf::Fixed(_) => rule.kind,
                KindOf::FromKey => key_kind.unwrap_or(rule.kind),
                KindOf::AuthScheme => {
                    let scheme = rule.scheme_groups.iter().find_map(|&g| locs.get(g));
                    match scheme.map(|(s, e)| &line[s..e]) {
                        Some(s) if s.eq_ignore_ascii_case(b"bearer") => rule.bearer,
                        Some(s) if s.eq_ignore_ascii_case(b"basic") => rule.basic,
                        _ => rule.kind,
                    }
                }
            };

            if keyed {
                // `password: |` — the secret is the indented block below, not the `|`.
                if is_yaml_block_indicator(value)
                    && line[ve..].iter().all(|b| matches!(b, b' ' | b'\t'))
                {
                    let line_end = line_start + line.len();
                    let raw_end = memchr::memchr(b'\n', &input[line_end..])
                        .map_or(input.len(), |i| line_end + i);
                    if let Some((bs, be)) = yaml_block(input, line_start, raw_end)
                        && !self.inside_placeholder(input, bs, be)
                    {
                        spans.push(Span {
                            start: bs,
                            end: be,
                            kind,
                            priority: rule.priority,
                        });
                    }
                    continue;
                }
                if is_non_secret_scalar(value) {
                    at = retry_at;
                    continue;
                }
                // `"passwords": ["a", "b"]`, `tokens: [a, b]`: the inside of an array of
                // scalars is the secret; the brackets stay.
                if line[raw_start] == b'['
                    && let Some((s, e)) = scalar_array(line, raw_start)
                {
                    if !self.inside_placeholder(line, s, e) {
                        spans.push(Span {
                            start: line_start + s,
                            end: line_start + e,
                            kind,
                            priority: rule.priority,
                        });
                    }
                    at = e;
                    continue;
                }
                // Nested structures are left to their own keys.
                if looks_like_structure(&line[raw_start..raw_end]) {
                    at = retry_at;
                    continue;
                }
            }
            if value.is_empty() || self.inside_placeholder(line, vs, ve) {
                continue;
            }
            spans.push(Span {
                start: line_start + vs,
                end: line_start + ve,
                kind,
                priority: rule.priority,
            });
        }
    }

    /// Applies a rule's [`KeyFilter`]. `None` rejects the match; `Some(kind)` accepts it. The
    /// kind is the one the key implies, if the key is secret.
    fn check_key(&self, filter: KeyFilter, key: &[u8]) -> Option<Option<KindId>> {
        match filter {
            KeyFilter::None => Some(None),
            KeyFilter::SecretKey => {
                if ends_with_ignore_case(key, b"authorization") {
                    return None;
                }
                self.keys.classify(key).map(Some)
            }
            KeyFilter::PercentEncodedSecretKey => {
                let decoded = percent_decode(key);
                self.check_key(KeyFilter::SecretKey, last_key_run(&decoded))
            }
            KeyFilter::SecretKeyOr(names) => match self.keys.classify(key) {
                Some(kind) => Some(Some(kind)),
                None if names.iter().any(|n| key.eq_ignore_ascii_case(n.as_bytes())) => Some(None),
                None => None,
            },
        }
    }

    /// Does `hay[s..e]` lie inside a placeholder that is already there? This keeps
    /// scrubbing idempotent: a second scrub finds the same keys, but their values are now
    /// placeholders.
    fn inside_placeholder(&self, hay: &[u8], s: usize, e: usize) -> bool {
        const OPEN: &[u8] = b"[REDACTED:";
        let longest_kind = self.kinds.names.iter().map(String::len).max().unwrap_or(0);
        let lo = s.saturating_sub(OPEN.len() + longest_kind + 1);
        let hi = hay.len().min(s + OPEN.len());
        let Some(p) = memmem::rfind(&hay[lo..hi], OPEN).map(|p| lo + p) else {
            return false;
        };
        let kind_start = p + OPEN.len();
        let kind_len = hay[kind_start..]
            .iter()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || **b == b'-')
            .count();
        let close = kind_start + kind_len;
        kind_len > 0 && hay.get(close) == Some(&b']') && e <= close + 1
    }

    /// Writes the output: unchanged bytes in bulk, one placeholder per group of overlapping or
    /// touching spans. `old` lists the placeholders this scrub made in earlier rounds (in
    /// `input` coordinates). They are carried over to output coordinates, or dropped if a
    /// group swallows them.
    ///
    /// Text the scrubber owns is rewritten in its own buffer while the output stays behind what
    /// is still to be read (a placeholder no longer than what it replaces, plus what earlier
    /// ones saved): no second buffer of the whole text to allocate and fault in. From the first
    /// placeholder that would overtake, the rest goes into a new buffer.
    fn render(
        &self,
        mut input: Cow<'_, [u8]>,
        spans: &mut [Span],
        old: &[Placed],
    ) -> (Vec<u8>, Vec<Placed>) {
        spans.sort_unstable_by_key(|s| (s.start, Reverse(s.end), s.priority));
        // `None`: writing in place, the first `written` bytes of `input` being output.
        let mut fresh = match &input {
            Cow::Borrowed(text) => Some(Vec::with_capacity(text.len())),
            Cow::Owned(_) => None,
        };
        let mut written = 0;
        let mut placed = Vec::with_capacity(old.len() + spans.len());
        let mut old = old.iter().peekable();
        let mut copied = 0;
        let mut i = 0;
        while i < spans.len() {
            let first = spans[i];
            let mut end = first.end;
            i += 1;
            while i < spans.len() && spans[i].start <= end {
                end = end.max(spans[i].end);
                i += 1;
            }
            let out_len = fresh.as_ref().map_or(written, Vec::len);
            while let Some(p) = old.next_if(|p| p.end <= first.start) {
                placed.push(p.carried(out_len, copied));
            }
            while old.next_if(|p| p.start < end).is_some() {}
            let placeholder = &self.kinds.placeholders[first.kind as usize];
            let at = match &mut fresh {
                Some(out) => {
                    out.extend_from_slice(&input[copied..first.start]);
                    let at = out.len();
                    out.extend_from_slice(placeholder);
                    at
                }
                None => {
                    let buf = input.to_mut();
                    buf.copy_within(copied..first.start, written);
                    written += first.start - copied;
                    let at = written;
                    if written + placeholder.len() <= end {
                        buf[at..at + placeholder.len()].copy_from_slice(placeholder);
                        written += placeholder.len();
                    } else {
                        let mut out = Vec::with_capacity(buf.len() + placeholder.len());
                        out.extend_from_slice(&buf[..written]);
                        out.extend_from_slice(placeholder);
                        fresh = Some(out);
                    }
                    at
                }
            };
            placed.push(Placed {
                start: at,
                end: at + placeholder.len(),
                kind: first.kind,
                fresh: true,
            });
            copied = end;
        }
        let out_len = fresh.as_ref().map_or(written, Vec::len);
        for p in old {
            placed.push(p.carried(out_len, copied));
        }
        let out = match fresh {
            Some(mut out) => {
                out.extend_from_slice(&input[copied..]);
                out
            }
            None => {
                let mut buf = input.into_owned();
                let len = buf.len();
                buf.copy_within(copied..len, written);
                buf.truncate(written + (len - copied));
                buf
            }
        };
        (out, placed)
    }

    /// Does anything in the input wake a rule? Text where nothing does is returned unchanged.
    #[cfg(test)]
    fn wakes_anything(&self, input: &[u8]) -> bool {
        let mut wakes = Wakes::default();
        self.providers
            .wake_ups(input, 0, input.len(), &mut Vec::new(), &mut |at, mask| {
                wakes.push(input, at, mask)
            });
        self.wakes.wake_ups(input, 0, input.len(), &mut wakes);
        !wakes.list.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// JSON documents
// ---------------------------------------------------------------------------------------------

impl Scrubber {
    /// `secret`: the kind of the nearest enclosing secret key, if any. Under one, every string
    /// and number is replaced.
    fn scrub_json_value(
        &self,
        value: &mut serde_json::Value,
        secret: Option<KindId>,
        red: &mut Redactions,
    ) {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    let kind = secret.or_else(|| self.keys.classify(key.as_bytes()));
                    self.scrub_json_value(child, kind, red);
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.scrub_json_value(item, secret, red);
                }
            }
            Value::String(s) => match secret {
                Some(kind) => {
                    if !s.is_empty() && !self.inside_placeholder(s.as_bytes(), 0, s.len()) {
                        *s = self.kinds_placeholder(kind);
                        red.bump(&self.kinds.names[kind as usize]);
                    }
                }
                None => self.scrub_json_string(s, red),
            },
            Value::Number(_) => {
                if let Some(kind) = secret {
                    *value = Value::String(self.kinds_placeholder(kind));
                    red.bump(&self.kinds.names[kind as usize]);
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// Text-scrubs every string value under `value`, keys and other values kept.
    fn scrub_json_strings_in(&self, value: &mut serde_json::Value, red: &mut Redactions) {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                for child in map.values_mut() {
                    self.scrub_json_strings_in(child, red);
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.scrub_json_strings_in(item, red);
                }
            }
            Value::String(s) => self.scrub_json_string(s, red),
            Value::Number(_) | Value::Bool(_) | Value::Null => {}
        }
    }

    fn scrub_json_string(&self, s: &mut String, red: &mut Redactions) {
        let scrubbed = self.scrub_text(s.as_bytes());
        if scrubbed.redactions.total() > 0 {
            // Spans start and end at ASCII bytes, so this stays valid UTF-8.
            *s = String::from_utf8(scrubbed.bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            red.add(&scrubbed.redactions);
        }
    }

    fn kinds_placeholder(&self, kind: KindId) -> String {
        format!("[REDACTED:{}]", self.kinds.names[kind as usize])
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Narrows a raw value match to the secret itself. It removes trailing blanks, then either
/// the quotes around a quoted value (plain, or `\"` inside a JSON-encoded string), or, for an
/// unquoted value, trailing quotes and backslashes and unbalanced brackets at either end.
/// Those belong to the enclosing syntax: `"msg=password=x"`, `map[token:x]`, `{pwd=x}`.
fn unwrap_value(hay: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while e > s && matches!(hay[e - 1], b' ' | b'\t' | b'\r') {
        e -= 1;
    }
    let v = &hay[s..e];
    if v.starts_with(b"\\\"") {
        s += 2;
        if e >= s + 2 && hay[e - 2..e] == *b"\\\"" {
            e -= 2;
        }
        return (s, e);
    }
    if let Some(&q @ (b'"' | b'\'')) = v.first() {
        s += 1;
        if e > s && hay[e - 1] == q && hay[e - 2] != b'\\' {
            e -= 1;
        }
        return (s, e);
    }
    // Counted once, then kept up to date while trimming, so that a huge value stays linear.
    let mut counts = [0usize; 256];
    for &b in &hay[s..e] {
        counts[b as usize] += 1;
    }
    while e > s {
        let last = hay[e - 1];
        let trim = match last {
            b'"' | b'\'' | b'\\' => true,
            b')' | b']' | b'}' | b'>' => counts[last as usize] > counts[opener(last) as usize],
            _ => false,
        };
        if !trim {
            break;
        }
        counts[last as usize] -= 1;
        e -= 1;
    }
    while e > s {
        let first = hay[s];
        if !matches!(first, b'(' | b'[' | b'{' | b'<')
            || counts[first as usize] <= counts[closer(first) as usize]
        {
            break;
        }
        counts[first as usize] -= 1;
        s += 1;
    }
    (s, e)
}

fn opener(close: u8) -> u8 {
    match close {
        b')' => b'(',
        b']' => b'[',
        b'}' => b'{',
        _ => b'<',
    }
}

fn closer(open: u8) -> u8 {
    match open {
        b'(' => b')',
        b'[' => b']',
        b'{' => b'}',
        _ => b'>',
    }
}

/// Values that can never be secrets, so a secret key with one of them stays readable
/// (`"passwordless": true`).
fn is_non_secret_scalar(v: &[u8]) -> bool {
    ["true", "false", "null", "nil", "none"]
        .iter()
        .any(|w| v.eq_ignore_ascii_case(w.as_bytes()))
}

/// The start of a nested JSON/YAML structure (`{...`, `[{...`, `["a"...`), not a value. The
/// keys inside are checked on their own.
fn looks_like_structure(v: &[u8]) -> bool {
    match v {
        [b'{', ..] | [b'['] => true,
        [b'[', next, ..] => matches!(next, b'{' | b'[' | b'"' | b']' | b' ' | b'\t'),
        _ => false,
    }
}

/// The inside of the array that opens at `line[open]` (a `[`), if it is one line of
/// scalars: no nested `[` or `{` before its `]`, not empty, and the `]` ends the value (so
/// that a password such as `[abc]def` is not taken for an array).
fn scalar_array(line: &[u8], open: usize) -> Option<(usize, usize)> {
    let inner = open + 1;
    let close = inner + memchr::memchr(b']', &line[inner..])?;
    let content = &line[inner..close];
    let nested = memchr::memchr2(b'[', b'{', content).is_some();
    let ends_value = line
        .get(close + 1)
        .is_none_or(|b| b.is_ascii_whitespace() || b",;&}])\"'".contains(b));
    (!nested && ends_value && !content.trim_ascii().is_empty()).then_some((inner, close))
}

/// YAML block scalar header: `|`, `>`, `|-`, `>+`, `|2-` ...
fn is_yaml_block_indicator(v: &[u8]) -> bool {
    matches!(v.first(), Some(b'|' | b'>'))
        && v.len() <= 3
        && v[1..]
            .iter()
            .all(|b| matches!(b, b'-' | b'+' | b'1'..=b'9'))
}

/// The content of a YAML block scalar whose header line is `input[line_start..line_end]`.
/// It runs from the first non-blank byte of the next line to the last non-blank byte of the
/// last line that is indented deeper than the header line. Blank lines inside are included.
fn yaml_block(input: &[u8], line_start: usize, line_end: usize) -> Option<(usize, usize)> {
    let indent_of = |l: &[u8]| l.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
    let indent = indent_of(&input[line_start..line_end]);
    let mut block: Option<(usize, usize)> = None;
    let mut pos = line_end + 1;
    while pos < input.len() {
        let end = memchr::memchr(b'\n', &input[pos..]).map_or(input.len(), |i| pos + i);
        let line = input[pos..end].trim_ascii_end();
        let content_end = pos + line.len();
        let ind = indent_of(line);
        if ind < line.len() {
            if ind <= indent {
                break;
            }
            block = Some((block.map_or(pos + ind, |(s, _)| s), content_end));
        }
        pos = end + 1;
    }
    block
}

/// Splits a key into words, at non-alphanumeric bytes and at camelCase boundaries:
/// `userMgmt.local_ldap_bind_pwd` gives `user Mgmt local ldap bind pwd`, and `APIKey` gives
/// `API Key`.
fn key_words(key: &[u8]) -> Vec<(usize, usize)> {
    let mut words = Vec::new();
    let mut start = None;
    for i in 0..key.len() {
        let b = key[i];
        if !b.is_ascii_alphanumeric() {
            if let Some(s) = start.take() {
                words.push((s, i));
            }
            continue;
        }
        if let Some(s) = start {
            let prev = key[i - 1];
            let next_lower = key.get(i + 1).is_some_and(u8::is_ascii_lowercase);
            let boundary = b.is_ascii_uppercase()
                && (prev.is_ascii_lowercase() || (prev.is_ascii_uppercase() && next_lower));
            if boundary {
                words.push((s, i));
                start = Some(i);
            }
        } else {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        words.push((s, key.len()));
    }
    words
}

/// The regions of `text` to scan again after a round: each line that holds a fresh
/// placeholder, plus the nearest non-blank line above it. A YAML `key: |` there owns the block
/// that the placeholder may now be part of. Returns sorted, disjoint ranges of whole lines.
fn changed_lines(text: &[u8], placed: &[Placed]) -> Vec<(usize, usize)> {
    let line_start = |at: usize| memchr::memrchr(b'\n', &text[..at]).map_or(0, |i| i + 1);
    let mut lines: Vec<(usize, usize)> = Vec::new();
    for p in placed.iter().filter(|p| p.fresh) {
        let mut start = line_start(p.start);
        while start > 0 {
            let above = line_start(start - 1);
            let blank = text[above..start - 1].iter().all(u8::is_ascii_whitespace);
            start = above;
            if !blank {
                break;
            }
        }
        let end = memchr::memchr(b'\n', &text[p.end..]).map_or(text.len(), |i| p.end + i);
        match lines.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => lines.push((start, end)),
        }
    }
    lines
}

/// `hay[s..e]` without blanks and line breaks at either end.
fn trim_blank(hay: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && hay[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && hay[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    (s, e)
}

/// `text` without the blanks at the start of each line after the first, and for each kept
/// offset (and the end) the offset in `text` it came from.
fn dedent(text: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len() + 1);
    let mut line_start = false;
    for (i, &b) in text.iter().enumerate() {
        if line_start && matches!(b, b' ' | b'\t') {
            continue;
        }
        line_start = b == b'\n';
        out.push(b);
        map.push(i);
    }
    map.push(text.len());
    (out, map)
}

/// `text` with the XML entities `&lt;` `&gt;` `&amp;` `&quot;` `&apos;` replaced by their
/// characters, and for each decoded offset (and the end) the offset in `text` it came from.
fn xml_unescape(text: &[u8]) -> (Vec<u8>, Vec<usize>) {
    const ENTITIES: &[(&[u8], u8)] = &[
        (b"&lt;", b'<'),
        (b"&gt;", b'>'),
        (b"&amp;", b'&'),
        (b"&quot;", b'"'),
        (b"&apos;", b'\''),
    ];
    let mut out = Vec::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len() + 1);
    let mut i = 0;
    while i < text.len() {
        let entity = (text[i] == b'&')
            .then(|| ENTITIES.iter().find(|(e, _)| text[i..].starts_with(e)))
            .flatten();
        map.push(i);
        match entity {
            Some((e, c)) => {
                out.push(*c);
                i += e.len();
            }
            None => {
                out.push(text[i]);
                i += 1;
            }
        }
    }
    map.push(text.len());
    (out, map)
}

/// `text` with each `%XX` replaced by its byte (a `%` not followed by two hex digits stays).
fn percent_decode(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%'
            && let (Some(h), Some(l)) = (
                text.get(i + 1).copied().and_then(hex),
                text.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// The last run of key bytes in `text`, after trailing others: the key in front of a
/// separator once quotes, braces and blanks are set aside.
fn last_key_run(text: &[u8]) -> &[u8] {
    let end = text
        .iter()
        .rposition(|&b| is_key_byte(b))
        .map_or(0, |i| i + 1);
    let start = text[..end]
        .iter()
        .rposition(|&b| !is_key_byte(b))
        .map_or(0, |i| i + 1);
    &text[start..end]
}

/// Bytes that can be part of a key: `db.password`, `proxy-password`, `local_ldap_bind_pwd`.
fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// Does the URL authority at the start of `rest` (just after `://`) hold an `@`, i.e. a
/// `user:password@`? The authority ends at `/`, `?`, `#`, whitespace, a quote or `<>`. Past
/// 4 KiB we stop looking and say yes, so that `://` repeated on a huge line stays linear.
fn authority_has_userinfo(rest: &[u8]) -> bool {
    const LIMIT: usize = 4096;
    for &b in rest.iter().take(LIMIT) {
        match b {
            b'@' => return true,
            b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' => return false,
            _ if b.is_ascii_whitespace() => return false,
            _ => {}
        }
    }
    rest.len() > LIMIT
}

fn ends_with_ignore_case(hay: &[u8], suffix: &[u8]) -> bool {
    hay.len() >= suffix.len() && hay[hay.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// The scrubber with the profile's rules, as jcdiag builds it.
    fn scrubber() -> &'static Scrubber {
        static S: OnceLock<Scrubber> = OnceLock::new();
        S.get_or_init(|| {
            let secrets = &jcdiag_profile::Profile::builtin().secrets;
            Scrubber::new(&secrets.key_words, &secrets.public_keys).expect("profile compiles")
        })
    }

    fn text(input: &[u8]) -> Scrubbed {
        scrubber().scrub_text(input)
    }

    fn show(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    /// Kinds named by the placeholders in `expected`, with counts.
    fn placeholder_kinds(expected: &[u8]) -> BTreeMap<String, u64> {
        let mut kinds = BTreeMap::new();
        for i in memmem::find_iter(expected, b"[REDACTED:") {
            let rest = &expected[i + 10..];
            let end = memchr::memchr(b']', rest).unwrap();
            *kinds.entry(show(&rest[..end])).or_insert(0) += 1;
        }
        kinds
    }

    /// One row per rule: input, exact expected output. The kinds counted must be the ones
    /// named in the expected output.
    const RULE_CASES: &[(&str, &[u8], &[u8])] = &[
        // key-value in running text
        ("kv log line", b"2021/05/07 09:25:13 [32713] [INFO] login password=hunter2, user=bob", b"2021/05/07 09:25:13 [32713] [INFO] login password=[REDACTED:password], user=bob"),
        ("kv quoted", b"[INFO] db_password = \"s3cr3t pass\" ok", b"[INFO] db_password = \"[REDACTED:password]\" ok"),
        ("kv single quoted", b"x passwd='a b c' y", b"x passwd='[REDACTED:password]' y"),
        ("kv escaped quote inside", b"{\"password\": \"ab\\\"cd\", \"user\": \"bob\"}", b"{\"password\": \"[REDACTED:password]\", \"user\": \"bob\"}"),
        ("json text", b"{\"agentServerHost\":\"agent.jumpcloud.com\",\"systemToken\":\"abc123\",\"systemKey\":\"5f1c2d3e4f5a6b7c8d9e0f1a\"}", b"{\"agentServerHost\":\"agent.jumpcloud.com\",\"systemToken\":\"[REDACTED:system-token]\",\"systemKey\":\"5f1c2d3e4f5a6b7c8d9e0f1a\"}"),
        ("json certuuid", b"\"certuuid\": \"0f5e6a1c-1111-2222-3333-444455556666\"", b"\"certuuid\": \"[REDACTED:certuuid]\""),
        ("json ldap bind pwd", b"\"userMgmt\":{\"local_ldap_bind_pwd\":\"xyz789\"}", b"\"userMgmt\":{\"local_ldap_bind_pwd\":\"[REDACTED:ldap-bind-password]\"}"),
        ("json number", b"{\"password\": 123456, \"x\": 1}", b"{\"password\": [REDACTED:password], \"x\": 1}"),
        ("json escaped in log", b"msg=\"{\\\"token\\\":\\\"abc\\\"}\"", b"msg=\"{\\\"token\\\":\\\"[REDACTED:token]\\\"}\""),
        ("go map", b"cfg=map[password:abc user:bob]", b"cfg=map[password:[REDACTED:password] user:bob]"),
        ("key inside value", b"msg=password=abc", b"msg=password=[REDACTED:password]"),
        ("unterminated quote", b"x token=\"abc def", b"x token=\"[REDACTED:token]"),
        ("camel api key", b"apiKey: k-123", b"apiKey: [REDACTED:api-key]"),
        ("dashed api key", b"--api-key=k-123 --v", b"--api-key=[REDACTED:api-key] --v"),
        ("connect key env", b"export JC_CONNECT_KEY=abcdef123456\n", b"export JC_CONNECT_KEY=[REDACTED:connect-key]\n"),
        ("proxy password key", b"proxy_password=abc", b"proxy_password=[REDACTED:proxy-credentials]"),
        ("aws secret key kv", b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", b"aws_secret_access_key = [REDACTED:aws-secret-key]\n"),
        ("aws secret key prose", b"using AWS secret key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY now", b"using AWS secret key [REDACTED:aws-secret-key] now"),
        ("invalid utf8 around", b"\xff\xfepassword=ab\xffc d\xc3", b"\xff\xfepassword=[REDACTED:password] d\xc3"),
        // line-anchored: INI, YAML, env
        ("ini crlf", b"[db]\r\npassword = abc def\r\nuser = bob\r\n", b"[db]\r\npassword = [REDACTED:password]\r\nuser = bob\r\n"),
        ("yaml", b"auth:\n  user: bob\n  password: abc def  \n", b"auth:\n  user: bob\n  password: [REDACTED:password]  \n"),
        ("yaml list", b"- token: abc def\n", b"- token: [REDACTED:token]\n"),
        ("yaml quoted", b"secret: \"a b\" # note\n", b"secret: \"[REDACTED:secret]\" # note\n"),
        ("yaml block", b"creds:\n  password: |\n    line one\n\n    line two\nuser: bob\n", b"creds:\n  password: |\n    [REDACTED:password]\nuser: bob\n"),
        ("export", b"export DB_PASSWORD='p w'\n", b"export DB_PASSWORD='[REDACTED:password]'\n"),
        ("ini key with blanks", b"bind password = a b c\r\n", b"bind password = [REDACTED:password]\r\n"),
        ("ini key, secret word first", b"password hash = a b\n", b"password hash = [REDACTED:password]\n"),
        ("json array", b"{\"passwords\": [\"a\", \"b\"], \"n\": 1}", b"{\"passwords\": [[REDACTED:password]], \"n\": 1}"),
        ("yaml flow array", b"tokens: [abc, def]\n", b"tokens: [[REDACTED:token]]\n"),
        // CLI flags
        ("cli flag", b"jcagent --password hunter2pass --verbose", b"jcagent --password [REDACTED:password] --verbose"),
        ("cli flag quoted", b"tool --token \"a b\"", b"tool --token \"[REDACTED:token]\""),
        ("cli flag eq", b"tool --token=abc123def", b"tool --token=[REDACTED:token]"),
        ("curl -u", b"curl -u admin:hunter2 https://x", b"curl -u admin:[REDACTED:basic-auth] https://x"),
        // headers
        ("bearer header", b"Authorization: Bearer abc.def.ghi", b"Authorization: Bearer [REDACTED:bearer]"),
        ("basic proxy header", b"Proxy-Authorization: Basic dXNlcjpwYXNz\r\n", b"Proxy-Authorization: Basic [REDACTED:basic-auth]\r\n"),
        ("other scheme", b"Authorization: SSWS 00abcdef", b"Authorization: [REDACTED:header-secret]"),
        ("json authorization", b"{\"Authorization\": \"Bearer abc\"}", b"{\"Authorization\": \"Bearer [REDACTED:bearer]\"}"),
        ("go header map", b"hdr=map[Authorization:[Bearer abc123] Content-Type:[application/json]]", b"hdr=map[Authorization:[Bearer [REDACTED:bearer]] Content-Type:[application/json]]"),
        ("x-api-key", b"X-Api-Key: abc123", b"X-Api-Key: [REDACTED:header-secret]"),
        ("x-connect-key", b"curl -H 'x-connect-key: abc123' https://x", b"curl -H 'x-connect-key: [REDACTED:header-secret]' https://x"),
        ("x-auth-token", b"X-Auth-Token: abc", b"X-Auth-Token: [REDACTED:header-secret]"),
        ("cookie", b"Cookie: session=abc; theme=dark", b"Cookie: [REDACTED:cookie]"),
        ("spaced json key", b"{\"password\" : \"a b\"}", b"{\"password\" : \"[REDACTED:password]\"}"),
        ("ruby hash", b"{:token => 'abc'}", b"{:token => '[REDACTED:token]'}"),
        ("go assign", b"secret := \"abc\"", b"secret := \"[REDACTED:secret]\""),
        ("BEARER caps", b"BEARER abcdefghijklmnopqrstu", b"BEARER [REDACTED:bearer]"),
        ("standalone bearer", b"curl with Bearer abcdefghijklmnop1234 failed", b"curl with Bearer [REDACTED:bearer] failed"),
        // URLs
        ("url credentials", b"fetch https://admin:s3cret@example.com/path ok", b"fetch https://admin:[REDACTED:url-credentials]@example.com/path ok"),
        ("url password with @", b"git://u:p@ss@host/x", b"git://u:[REDACTED:url-credentials]@host/x"),
        ("proxy url", b"HTTPS_PROXY=http://user:p%40ss@proxy.local:3128", b"HTTPS_PROXY=http://user:[REDACTED:proxy-credentials]@proxy.local:3128"),
        ("query token", b"GET /api?access_token=abc&limit=10", b"GET /api?access_token=[REDACTED:query-secret]&limit=10"),
        ("query sig", b"https://x.blob.core.windows.net/c?sv=2020&sig=abc%2Bdef", b"https://x.blob.core.windows.net/c?sv=2020&sig=[REDACTED:query-secret]"),
        // token formats
        ("jwt", b"id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_abc end", b"id [REDACTED:jwt] end"),
        ("jwt in token key", b"token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", b"token=[REDACTED:jwt]"),
        ("aws key id", b"key id AKIAIOSFODNN7EXAMPLE used", b"key id [REDACTED:aws-access-key-id] used"),
        ("github", b"t ghp_abcdefghijklmnopqrstuvwxyz0123456789 x", b"t [REDACTED:github-token] x"),
        ("github pat", b"github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz", b"[REDACTED:github-token]"),
        ("slack", b"slack xoxb-1234-5678-abcdefghij ok", b"slack [REDACTED:slack-token] ok"),
        ("slack webhook", b"https://hooks.slack.com/services/T000/B000/XXXXXXXX", b"https://hooks.slack.com/services/[REDACTED:slack-token]"),
        // PEM
        ("pem", b"a\n-----BEGIN RSA PRIVATE KEY-----\nMIIBOg\nAbC=\n-----END RSA PRIVATE KEY-----\nb", b"a\n[REDACTED:private-key]\nb"),
        ("pem no end", b"x -----BEGIN OPENSSH PRIVATE KEY-----\nabc\ndef", b"x [REDACTED:private-key]"),
        ("pem then header", b"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----Authorization: Bearer abc", b"[REDACTED:private-key]Authorization: Bearer [REDACTED:bearer]"),
        ("yaml block then pem", b"secret: |\n  abc\n -----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\t", b"secret: |\n  [REDACTED:secret]\t"),
        ("pem then value rescan", b"x password=x-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----^ ok", b"x password=[REDACTED:password] ok"),
        ("bracketed password", b"x password=[abc]def y", b"x password=[REDACTED:password] y"),
        ("go map array", b"map[password:[x]]", b"map[password:[[REDACTED:password]]]"),
        // percent-encoded key=value and JSON (URLs, form bodies, URL-encoded logs)
        ("percent-encoded kv", b"GET /agent?q=systemToken%3Dabc123&x=1", b"GET /agent?q=systemToken%3D[REDACTED:system-token]&x=1"),
        ("percent-encoded json", b"msg=%22systemToken%22%3A%22abc%22", b"msg=%22systemToken%22%3A%22[REDACTED:system-token]%22"),
        ("percent-encoded json object", b"body=%7B%22systemToken%22%3A%22abc123%22%2C%22systemKey%22%3A%225f1c%22%7D", b"body=%7B%22systemToken%22%3A%22[REDACTED:system-token]%22%2C%22systemKey%22%3A%225f1c%22%7D"),
        ("percent-encoded lowercase hex", b"form: password%3dhunter2%26user%3dbob", b"form: password%3d[REDACTED:password]%26user%3dbob"),
        ("percent-encoded key byte", b"x connect%5Fkey%3Dabcdef123 y", b"x connect%5Fkey%3D[REDACTED:connect-key] y"),
        ("percent-encoded blanks", b"%22password%22%20%3A%20%22s3cr3t%22", b"%22password%22%20%3A%20%22[REDACTED:password]%22"),
        ("percent-encoded padding kept in value", b"token%3DYWJjZA%3D%3D&next=1", b"token%3D[REDACTED:token]&next=1"),
        ("pem escaped in json", b"{\"k\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n\"}", b"{\"k\":\"[REDACTED:private-key]\\n\"}"),
        // connection strings
        ("azure storage", b"conn=DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=6jqh42QQjWWB+oI8ed6ZA/wB5a699==;EndpointSuffix=core.windows.net", b"conn=DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=[REDACTED:connection-string];EndpointSuffix=core.windows.net"),
        ("service bus", b"Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=S8ii67l3Gd1Ba69az78iP9U=", b"Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=[REDACTED:access-key]"),
        ("odbc braced pwd", b"Driver={ODBC Driver 18};Server=db;Uid=sa;Pwd={p;a}}ss w};Encrypt=yes", b"Driver={ODBC Driver 18};Server=db;Uid=sa;Pwd=[REDACTED:connection-string]};Encrypt=yes"),
        ("ado password with blanks", b"Server=db;User ID=app;Password=two words here;Database=x", b"Server=db;User ID=app;Password=[REDACTED:connection-string];Database=x"),
        ("ado password first", b"\"Password=pa ss;User ID=app\"", b"\"Password=[REDACTED:connection-string];User ID=app\""),
        ("sas url sig", b"SharedAccessSignature=sv=2020-08-04&ss=b&sig=Zm9vYmFy%3D&se=2030", b"SharedAccessSignature=sv=2020-08-04&ss=b&sig=[REDACTED:query-secret]&se=2030"),
        // plist and XML
        ("plist psk", b"<dict>\n\t<key>PreSharedKey</key>\n\t<string>hunter2 wifi</string>\n</dict>", b"<dict>\n\t<key>PreSharedKey</key>\n\t<string>[REDACTED:psk]</string>\n</dict>"),
        ("plist password one line", b"<key>Password</key><string>s3cr3t</string><key>SSID_STR</key><string>home</string>", b"<key>Password</key><string>[REDACTED:password]</string><key>SSID_STR</key><string>home</string>"),
        ("plist data", b"<key>UserPassword</key>\n<data>\n  aGVsbG8=\n  d29ybGQ=\n</data>", b"<key>UserPassword</key>\n<data>\n  [REDACTED:password]\n</data>"),
        ("plist passphrase", b"<key>Passphrase</key> <string>a b c</string>", b"<key>Passphrase</key> <string>[REDACTED:passphrase]</string>"),
        ("xml element", b"<config><password>x y</password><user>bob</user></config>", b"<config><password>[REDACTED:password]</password><user>bob</user></config>"),
        ("xml element with attributes", b"<ns:AuthToken type=\"a\">abc</ns:AuthToken>", b"<ns:AuthToken type=\"a\">[REDACTED:token]</ns:AuthToken>"),
        ("xml attribute", b"<add name=\"db\" password=\"p w\"/>", b"<add name=\"db\" password=\"[REDACTED:password]\"/>"),
        ("wpa psk", b"network={\n\tssid=\"home\"\n\tpsk=\"hunter2 wifi\"\n}", b"network={\n\tssid=\"home\"\n\tpsk=\"[REDACTED:psk]\"\n}"),
        // prose
        ("prose credentials", b"logged in with credentials 'p@ss w0rd' as admin", b"logged in with credentials '[REDACTED:credential]' as admin"),
        ("prose password is", b"The password is \"Winter2024!\" for now", b"The password is \"[REDACTED:password]\" for now"),
        ("prose token set to", b"token set to `abc123def`", b"token set to [REDACTED:token]"),
        // provider rules (vendored): only the secret part goes
        ("sendgrid", b"mail via 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 ok", b"mail via [REDACTED:sendgrid-api-key] ok"),
        ("discord", b"discord bot started, token MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs ok", b"discord bot started, token [REDACTED:discord-bot-token] ok"),
        ("telegram url", b"GET https://api.telegram.org/bot1102015430:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1/getMe", b"GET https://api.telegram.org/bot[REDACTED:telegram-bot-token]/getMe"),
        ("twilio sid", b"twilio sid='AC712594f590c0d8ace55c04858f7398f9'", b"twilio sid='[REDACTED:twilio-sid]'"),
        ("jfrog header", b"-H \"X-JFrog-Art-Api: AKCp8igrDNFerC357m4422e4tmu7xB983QLPxJhKFcSMfoux2RFvp8rc4jC8t9ncdmYCMFD8W\"", b"-H \"X-JFrog-Art-Api: [REDACTED:header-secret]\""),
    ];

    /// Look-alikes: every one of these must come out unchanged.
    const LOOKALIKES: &[&[u8]] = &[
        b"2021/05/07 09:25:13 [32713] [INFO] Sending heartbeat to agent.jumpcloud.com",
        b"2021/05/07 09:25:13 [32713] [ERROR] skipping update policies: policy conf bundle not valid",
        b"2021/05/07 09:25:13 [32713] [INFO] token refresh succeeded",
        b"[INFO] password policy updated",
        b"systemKey=5f1c2d3e4f5a6b7c8d9e0f1a",
        b"{\"systemKey\":\"5f1c2d3e4f5a6b7c8d9e0f1a\"}",
        b"author: Jane Doe",
        b"author=jane",
        b"/home/bob/.ssh/authorized_keys: updated 2 keys",
        b"auth_method=ldap",
        b"authMethod: ldap",
        b"password_min_length=12",
        b"private_key_path=/etc/jc/client.key",
        b"{\"passwordless\": true, \"mfa\": false}",
        b"\"token\": null",
        b"https://agent.jumpcloud.com/api/systems/5f1c2d3e4f5a6b7c8d9e0f1a/policies",
        b"ssh://git@github.com/org/repo.git",
        b"mail alice@example.com",
        b"GET /api/v2/users?limit=100&skip=0",
        b"X-Request-Id: 123e4567-e89b-12d3-a456-426614174000",
        b"-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n",
        b"jcagent version 0.154.0",
        b"bearer token expired",
        b"ghp_short",
        b"AKIA1234",
        b"eyJhbGciOiJIUzI1NiJ9",
        b"Authentication succeeded for user alice",
        b"Authorization header missing",
        b"sudo -u root whoami",
        b"password:",
        b"\"auth\": {",
        b"\"auth\": [{\"user\": \"bob\"}]",
        b"\"tokens\": []",
        b"user name = bob",
        b"x password hint=  ",
        b"password=[REDACTED:password]",
        b"xoxo-hugs",
        b"linux-amd64 x-ray",
        b"systemKey%3D5f1c2d3e4f5a6b7c8d9e0f1a",
        b"%22systemKey%22%3A%225f1c2d3e4f5a6b7c8d9e0f1a%22",
        b"auth_method%3Dldap&token_ttl%3D3600",
        b"%22token%22%3Anull",
        b"redirect=%2Fhome%3Fpage%3D2",
        b"<key>SSID_STR</key>\n<string>home</string>",
        b"<key>PasswordPolicy</key><string>strict</string>",
        b"<user>bob</user>",
        b"Server=db;Database=x;Trusted_Connection=yes",
        b"token refresh failed: 'expired'",
        b"password policy \"strict\" applied",
    ];

    #[test]
    fn rule_table() {
        let mut failures = Vec::new();
        for (name, input, expected) in RULE_CASES {
            let got = text(input);
            if got.bytes != *expected {
                failures.push(format!(
                    "{name}:\n   input {}\n     got {}\nexpected {}",
                    show(input),
                    show(&got.bytes),
                    show(expected)
                ));
                continue;
            }
            let kinds = placeholder_kinds(expected);
            if got.redactions.0 != kinds {
                failures.push(format!(
                    "{name}: counted {:?}, expected {:?}",
                    got.redactions.0, kinds
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} rows failed:\n{}",
            failures.len(),
            RULE_CASES.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn every_rule_has_a_row() {
        // Rows name what they test loosely, so check by effect: each rule's kind (or, for
        // key rules, some key kind) shows up in the expected outputs.
        let all: Vec<u8> = RULE_CASES
            .iter()
            .flat_map(|(_, _, e)| e.iter().copied())
            .collect();
        for def in RULES {
            if let KindOf::Fixed(kind) = def.kind {
                let p = format!("[REDACTED:{kind}]");
                assert!(
                    memmem::find(&all, p.as_bytes()).is_some(),
                    "no table row for rule {}",
                    def.name
                );
            }
        }
    }

    #[test]
    fn lookalikes_survive() {
        let mut failures = Vec::new();
        for input in LOOKALIKES {
            let got = text(input);
            if got.bytes != *input || got.redactions.total() != 0 {
                failures.push(format!("{} -> {}", show(input), show(&got.bytes)));
            }
        }
        assert!(failures.is_empty(), "changed:\n{}", failures.join("\n"));
    }

    #[test]
    fn output_is_idempotent_on_table() {
        for (name, input, _) in RULE_CASES {
            let once = text(input);
            let twice = text(&once.bytes);
            assert_eq!(show(&twice.bytes), show(&once.bytes), "{name}");
            assert_eq!(
                twice.redactions.total(),
                0,
                "{name}: second scrub counted {:?}",
                twice.redactions
            );
        }
    }

    #[test]
    fn public_keys_and_custom_words() {
        let s = Scrubber::new(&["pin_code".into(), "auth".into()], &["AuthZone".into()]).unwrap();
        let out = s.scrub_text(b"x PIN-CODE=1234 authzone=eu auth=x");
        assert_eq!(
            show(&out.bytes),
            "x PIN-CODE=[REDACTED:pin-code] authzone=eu auth=[REDACTED:auth]"
        );
        assert!(matches!(
            Scrubber::new(&["".into()], &[]),
            Err(ScrubError::BadKeyWord(_))
        ));
        assert!(matches!(
            Scrubber::new(&["pass word".into()], &[]),
            Err(ScrubError::BadKeyWord(_))
        ));
    }

    #[test]
    fn crlf_and_long_lines() {
        let mut input = vec![b'a'; 5 << 20];
        input.extend_from_slice(b" token=abc\r\nnext\r\n");
        let out = text(&input);
        assert_eq!(out.redactions.total(), 1);
        assert!(out.bytes.ends_with(b" token=[REDACTED:token]\r\nnext\r\n"));
        assert_eq!(out.bytes.len(), input.len() - 3 + "[REDACTED:token]".len());
    }

    #[test]
    fn json_document() {
        let input = br#"{"agentServerHost":"agent.jumpcloud.com","systemKey":"5f1c2d3e4f5a6b7c8d9e0f1a","systemToken":"tok123","certuuid":"0f5e6a1c","userMgmt":{"local_ldap_bind_pwd":"b1nd","users":[{"name":"bob","password":"p1"},{"name":"eve","password":42}]},"auth":{"user":"x","pin":7,"mfa":true,"none":null},"proxy":"http://u:pp@h:3128","note":"login with password=zz ok","passwordless":false,"Authorization":"Bearer abc"}"#;
        let out = scrubber().scrub_json_document(input).unwrap();
        let expected = r#"{"agentServerHost":"agent.jumpcloud.com","systemKey":"5f1c2d3e4f5a6b7c8d9e0f1a","systemToken":"[REDACTED:system-token]","certuuid":"[REDACTED:certuuid]","userMgmt":{"local_ldap_bind_pwd":"[REDACTED:ldap-bind-password]","users":[{"name":"bob","password":"[REDACTED:password]"},{"name":"eve","password":"[REDACTED:password]"}]},"auth":{"user":"[REDACTED:auth]","pin":"[REDACTED:auth]","mfa":true,"none":null},"proxy":"http://u:[REDACTED:url-credentials]@h:3128","note":"login with password=[REDACTED:password] ok","passwordless":false,"Authorization":"[REDACTED:header-secret]"}"#;
        assert_eq!(show(&out.bytes), expected);
        assert_eq!(out.redactions.total(), 10);
        assert_eq!(out.redactions.0["auth"], 2);
        // Idempotent, and pretty input stays pretty with its trailing newline.
        let again = scrubber().scrub_json_document(&out.bytes).unwrap();
        assert_eq!(show(&again.bytes), expected);
        assert_eq!(again.redactions.total(), 0);
        let pretty = scrubber()
            .scrub_json_document(b"{\n  \"token\": \"x\"\n}\n")
            .unwrap();
        assert_eq!(
            show(&pretty.bytes),
            "{\n  \"token\": \"[REDACTED:token]\"\n}\n"
        );
        assert!(matches!(
            scrubber().scrub_json_document(b"{\"a\": "),
            Err(ScrubError::NotJson(_))
        ));
        assert!(matches!(
            scrubber().scrub_json_document(b"{\"a\": \"\xff\"}"),
            Err(ScrubError::NotJson(_))
        ));
    }

    #[test]
    fn json_strings_scrubs_string_values_and_keeps_counts() {
        let input = b"{\n  \"sysroot\": \"/x/token=abc\",\n  \"redactions\": {\n    \"password\": 2\n  }\n}\n";
        let out = scrubber().scrub_json_strings(input).unwrap();
        assert_eq!(
            show(&out.bytes),
            "{\n  \"sysroot\": \"/x/token=[REDACTED:token]\",\n  \"redactions\": {\n    \"password\": 2\n  }\n}\n"
        );
        assert_eq!(out.redactions.0, BTreeMap::from([("token".to_string(), 1)]));
        // The text rules would take the count for a password: that is why this exists.
        assert!(show(&text(input).bytes).contains("\"password\": [REDACTED:password]"));
        assert!(matches!(
            scrubber().scrub_json_strings(b"{\"a\": "),
            Err(ScrubError::NotJson(_))
        ));
    }

    /// Owned text is rewritten in its own buffer while placeholders fit behind what is still
    /// to be read, and in a new one from the first that does not: the same output either way.
    #[test]
    fn owned_text_rewritten_in_place_or_not_matches_borrowed_text() {
        let long = "password=Zq8vLm3Nx7Rt2Wp9Ks4Hd6Jf1Gb5Yc0Ae\n";
        let short = "password=hunter2\n";
        let plain = "2021/05/07 10:00:00 [1] [INFO] nothing to see here\n";
        for input in [
            // Every placeholder shorter than its secret: all in place.
            [plain, long, plain, long, plain].concat(),
            // The first placeholder is longer than its secret: a new buffer from there.
            [short, plain, long, short].concat(),
            // Long secrets first leave room for a longer placeholder after them.
            [long, long, short, plain].concat(),
        ] {
            let borrowed = text(input.as_bytes());
            let owned = scrubber().scrub_owned(input.clone().into_bytes());
            assert_eq!(show(&owned.bytes), show(&borrowed.bytes), "{input}");
            assert_eq!(owned.redactions, borrowed.redactions);
            assert!(!show(&owned.bytes).contains("hunter2"));
            assert!(!show(&owned.bytes).contains("Zq8vLm3"));
        }
    }

    #[test]
    fn scrubber_is_shareable() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Scrubber>();
    }

    /// Inputs built to make a careless scanner quadratic or make it buffer one entry per byte.
    /// They must finish quickly (a quadratic path would hang here) and stay idempotent.
    #[test]
    fn adversarial_inputs_stay_linear() {
        const N: usize = 1 << 18; // bytes, about
        let inputs: Vec<Vec<u8>> = vec![
            b"-".repeat(N),
            b"password=".repeat(N / 9),
            b"a://".repeat(N / 4),
            b"-----BEGIN RSA PRIVATE KEY-----".repeat(N / 31),
            [b"password=x".as_slice(), &b"]".repeat(N)].concat(),
            b"\"".repeat(N),
            b"x-api-key:".repeat(N / 10),
            b"password: |\n".repeat(N / 12),
            b"eyJ".repeat(N / 3),
            b"a%3D".repeat(N / 4),
            [b"token%3D".as_slice(), &b"a%3D".repeat(N / 4)].concat(),
            b"%22a%22%3A%22".repeat(N / 13),
            b"%3A".repeat(N / 3),
        ];
        for input in inputs {
            let once = text(&input);
            let twice = text(&once.bytes);
            assert_eq!(twice.bytes, once.bytes, "{}", show(&input[..40]));
        }
    }

    #[test]
    fn redactions_add_and_serialize() {
        let mut a = Redactions::default();
        a.bump("jwt");
        let mut b = Redactions::default();
        b.bump("jwt");
        b.bump("password");
        a.add(&b);
        assert_eq!(a.total(), 3);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"jwt":2,"password":1}"#
        );
    }

    #[test]
    fn key_words_split() {
        let words = |k: &str| -> Vec<String> {
            key_words(k.as_bytes())
                .iter()
                .map(|&(s, e)| k[s..e].to_owned())
                .collect()
        };
        assert_eq!(
            words("userMgmt.local_ldap_bind_pwd"),
            ["user", "Mgmt", "local", "ldap", "bind", "pwd"]
        );
        assert_eq!(words("APIKey"), ["API", "Key"]);
        assert_eq!(words("X-Auth-Token"), ["X", "Auth", "Token"]);
    }

    // ---- property tests ----

    /// Fragments for building realistic text: look-alikes, log noise, separators.
    const NOISE: &[&str] = &[
        " ",
        " ",
        "\n",
        "\r\n",
        "\t",
        "=",
        ":",
        ", ",
        "&",
        "?",
        "\"",
        "'",
        "[",
        "]",
        "{",
        "}",
        "2021/05/07 09:25:13 [32713] [INFO] ",
        "[WARN] ",
        "user=bob",
        "host: agent.jumpcloud.com",
        "systemKey=5f1c2d3e4f5a6b7c8d9e0f1a",
        "token refresh succeeded",
        "password policy updated",
        "version 0.154.0",
        "/opt/jc/policies/5f1c2d3e/run.sh",
        "auth_method=ldap",
        "author: x",
        "https://agent.jumpcloud.com/api",
        "alice@example.com",
        "bearer token expired",
    ];

    /// Fragments that contain secrets (or half of one).
    const SECRETS: &[&str] = &[
        "password=hunter2",
        "token: \"a b\"",
        "api_key='x'",
        "Authorization: Bearer abc",
        "Authorization: Basic dXNl",
        "X-Api-Key: k",
        "https://u:p@h/x",
        "?access_token=t&x=1",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "xoxb-1234-5678-abcdefghij",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN EC PRIVATE KEY-----",
        "secret: |\n  abc\n",
        "{\\\"pwd\\\":\\\"z\\\"}",
        "map[password:[x]]",
        "--password p",
        "curl -u a:b",
        "Cookie: a=b",
        "password=\"unterminated",
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "password=[REDACTED:x]",
        "HTTPS_PROXY=http://u:p@proxy:3128",
        "systemToken",
        "\u{e9}",
        "\\",
    ];

    fn soup(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                4 => proptest::sample::select(pool).prop_map(|s| s.as_bytes().to_vec()),
                2 => proptest::sample::select(NOISE).prop_map(|s| s.as_bytes().to_vec()),
                1 => proptest::collection::vec(any::<u8>(), 1..6),
            ],
            0..40,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, max_global_rejects: 100_000, ..ProptestConfig::default() })]

        /// Text in which nothing wakes a rule comes out byte for byte as it went in.
        #[test]
        fn identity_when_nothing_wakes(input in proptest::collection::vec(
            prop_oneof![any::<u8>(), proptest::sample::select(b"=:@/?&\"'[]{}\\ \r\n\t-_.,;abcdexyzAZ019".to_vec())],
            0..400,
        )) {
            prop_assume!(!scrubber().wakes_anything(&input));
            let out = text(&input);
            prop_assert_eq!(out.bytes, input);
            prop_assert_eq!(out.redactions.total(), 0);
        }

        /// Text made only of look-alikes and noise is not changed either. Pieces are kept
        /// apart by blanks: glued together they could spell a real key, like `bobauthor: x`.
        /// A bare `=` is left out: `token refresh succeeded = x` is an INI line with a secret.
        #[test]
        fn identity_on_lookalike_text(parts in proptest::collection::vec(
            (
                proptest::sample::select(NOISE).prop_filter("no bare =", |p| *p != "="),
                proptest::sample::select(&[" ", "\n", "\r\n", "\t"][..]),
            ),
            0..40,
        )) {
            let input: Vec<u8> = parts.iter().flat_map(|(p, sep)| [p.as_bytes(), sep.as_bytes()].concat()).collect();
            let out = text(&input);
            prop_assert_eq!(show(&out.bytes), show(&input));
        }

        /// Scrubbing owned text (collect's path) gives what scrubbing borrowed text gives.
        #[test]
        fn owned_text_scrubs_as_borrowed_text(input in soup(SECRETS)) {
            let borrowed = text(&input);
            let owned = scrubber().scrub_owned(input);
            prop_assert_eq!(show(&owned.bytes), show(&borrowed.bytes));
            prop_assert_eq!(owned.redactions, borrowed.redactions);
        }

        /// Scrubbing the output again changes nothing and counts nothing.
        #[test]
        fn idempotent(input in soup(SECRETS)) {
            let once = text(&input);
            let twice = text(&once.bytes);
            prop_assert_eq!(show(&twice.bytes), show(&once.bytes));
            prop_assert_eq!(twice.redactions.total(), 0, "{:?}", twice.redactions);
        }

        /// A random secret planted in any of the supported syntaxes does not survive, and
        /// the text before it is untouched.
        #[test]
        fn planted_secret_is_removed(
            prefix in soup(NOISE),
            secret in "[A-Za-z0-9]{12,30}",
            template in proptest::sample::select(&[
                "password={S}", "token: {S}", "\"secret\": \"{S}\"", "Authorization: Bearer {S}",
                "X-Auth-Token: {S}", "https://bob:{S}@host/", "?api_key={S}&x=1", "--password {S}",
                "export DB_PASSWORD='{S}'", "{\\\"pwd\\\":\\\"{S}\\\"}", "map[token:{S}]",
                "aws_secret_access_key={S}", "systemToken={S}", "connectKey: {S}", "curl -u a:{S}",
            ][..]),
        ) {
            let planted = template.replace("{S}", &secret);
            let mut input = prefix.clone();
            input.push(b'\n');
            input.extend_from_slice(planted.as_bytes());
            let out = text(&input);
            prop_assert!(memmem::find(&out.bytes, secret.as_bytes()).is_none(), "{} -> {}", planted, show(&out.bytes));
        }
    }
}
