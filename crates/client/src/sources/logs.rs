//! Finding the agent's logs in a layout and reading their newest lines within the caps.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::NaiveDateTime;

use jcdiag_fs::fsafe::{self, Kind, OpenedFile, Refusal, SafeDir, Trust};
use jcdiag_profile::target::TargetOs;
use jcdiag_profile::{AgentLayout, Profile};

/// A file a profile path names, found on disk.
#[derive(Debug)]
pub struct Located {
    pub path: PathBuf,
    /// The path as it is on the target system (`/var/log/jcagent.log`, `C:\Windows\…`).
    pub system_path: String,
    /// The root it was found below and its components there, to open it again without
    /// following a link at any folder on the way.
    pub root: PathBuf,
    pub parts: Vec<String>,
}

impl Located {
    /// Opens the file from its root, one folder at a time, following no link
    /// ([`fsafe::open_below`]).
    pub fn open(&self, trust: Trust) -> Result<OpenedFile, Refusal> {
        let parts: Vec<&str> = self.parts.iter().map(String::as_str).collect();
        fsafe::open_below(&self.root, &parts, trust)
    }
}

/// Result of looking for the files of a set of profile paths.
#[derive(Debug, Default)]
pub struct Search {
    pub found: Vec<Located>,
    /// Profile paths (or patterns) that matched nothing.
    pub not_found: Vec<String>,
    /// Files found but never to be read, with the reason.
    pub excluded: Vec<(String, String)>,
}

/// Every log of the layout: the main log, its rotated siblings and the other agent logs.
pub fn find_logs(profile: &Profile, os: TargetOs, sysroot: &Path) -> Search {
    let layout = profile.layout(os);
    let mut patterns = vec![layout.main_log.clone()];
    patterns.extend(
        profile
            .logs
            .rotated_suffixes
            .iter()
            .map(|suffix| format!("{}{suffix}", layout.main_log)),
    );
    patterns.extend(layout.other_logs.iter().cloned());
    find_files(profile, layout, os, sysroot, &patterns)
}

/// Expands profile paths (with `*` components) below `sysroot`, leaving out what must never be
/// collected. Each file is reported once, whichever pattern found it first.
pub fn find_files(
    profile: &Profile,
    layout: &AgentLayout,
    os: TargetOs,
    sysroot: &Path,
    patterns: &[String],
) -> Search {
    let mut search = Search::default();
    let mut seen = BTreeSet::new();
    let root = SafeDir::root(sysroot);
    for pattern in patterns {
        let components = os.components(pattern);
        let mut matches = Vec::new();
        let mut linked = Vec::new();
        if let Ok(root) = &root {
            expand(
                root,
                &components,
                Want::Files,
                &mut Vec::new(),
                &mut matches,
                &mut linked,
            );
        }
        for (parts, why) in linked {
            let folder = system_path(os, &parts);
            if !search.excluded.iter().any(|(path, _)| path == &folder) {
                search.excluded.push((folder, why.to_string()));
            }
        }
        if matches.is_empty() {
            search.not_found.push(pattern.clone());
            continue;
        }
        for (path, parts) in matches {
            let system_path = system_path(os, &parts);
            if !seen.insert(path.clone()) {
                continue;
            }
            let name = parts.last().map(String::as_str).unwrap_or_default();
            if let Some(reason) = never_collect(profile, layout, &system_path, name) {
                search.excluded.push((system_path, reason));
                continue;
            }
            search.found.push(Located {
                path,
                system_path,
                root: sysroot.to_path_buf(),
                parts,
            });
        }
    }
    search
}

pub fn never_collect(
    profile: &Profile,
    layout: &AgentLayout,
    system_path: &str,
    name: &str,
) -> Option<String> {
    if layout
        .never_collect
        .iter()
        .any(|p| p.eq_ignore_ascii_case(system_path))
    {
        return Some("never collected: holds credentials or key material".into());
    }
    profile
        .secrets
        .never_collect_names
        .iter()
        .find(|pattern| wildcard_match(pattern, name))
        .map(|pattern| format!("never collected: matches `{pattern}` (key or credential file)"))
}

/// The path as written on the target OS, from its components.
pub fn system_path(os: TargetOs, parts: &[String]) -> String {
    match os {
        TargetOs::Windows => format!("C:\\{}", parts.join("\\")),
        _ => format!("/{}", parts.join("/")),
    }
}

/// A match: its real path and its components below the root.
type Match = (PathBuf, Vec<String>);

/// Folders refused on the way (a link), with their components below the root.
type Linked = Vec<(Vec<String>, Refusal)>;

/// What the last component of a pattern names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Files,
    Folders,
}

/// Expands `rest` below the open folder `dir`. Every folder is entered through the one before
/// it without following a link; a fixed folder of the pattern that is a link is reported in
/// `linked` (a link reached through a wildcard is left out silently, as anyone may plant one).
/// With [`Want::Files`] the last component names files, else every component is a folder.
fn expand(
    dir: &SafeDir,
    rest: &[&str],
    want: Want,
    parts: &mut Vec<String>,
    out: &mut Vec<Match>,
    linked: &mut Linked,
) {
    let Some((first, rest)) = rest.split_first() else {
        out.push((dir.path().to_path_buf(), parts.clone()));
        return;
    };
    let wildcard = first.contains('*');
    let names = if wildcard {
        matching_names(dir, first)
    } else {
        vec![first.to_string()]
    };
    for name in names {
        if rest.is_empty() && want == Want::Files {
            match dir.kind(&name) {
                Kind::Missing if !wildcard => continue,
                // A wildcard over files matches files only: folders like /var/log/jumpcloud
                // are patterns of their own.
                Kind::Folder if wildcard => continue,
                _ => {}
            }
            parts.push(name.clone());
            out.push((dir.path().join(&name), parts.clone()));
            parts.pop();
            continue;
        }
        parts.push(name.clone());
        match dir.dir(&name) {
            Ok(next) => expand(&next, rest, want, parts, out, linked),
            Err(Refusal::NotFound) => {}
            // Only a fixed folder of the pattern is worth a note: one reached through a
            // wildcard could be a link planted by anyone, and is skipped silently.
            Err(why) if !wildcard => linked.push((parts.clone(), why)),
            Err(_) => {}
        }
        parts.pop();
    }
}

/// The names in `dir` matching `pattern`, sorted.
fn matching_names(dir: &SafeDir, pattern: &str) -> Vec<String> {
    let mut names: Vec<String> = dir
        .names()
        .into_iter()
        .filter(|name| wildcard_match(pattern, name))
        .collect();
    names.sort();
    names
}

/// Expands a profile path of folders (`/home/*/Pictures`) below `sysroot`: the folders that
/// exist, with their system paths. Every folder is entered without following a link.
pub fn find_dirs(os: TargetOs, sysroot: &Path, pattern: &str) -> Vec<(PathBuf, String)> {
    find_dirs_checked(os, sysroot, pattern).0
}

/// Folders found for a pattern (real path, system path), and the fixed folders of the pattern
/// refused on the way (system path, why).
pub type FoundDirs = (Vec<(PathBuf, String)>, Vec<(String, Refusal)>);

/// [`find_dirs`], also returning the fixed folders of the pattern that were refused (a link on
/// the way), as system paths with the reason.
pub fn find_dirs_checked(os: TargetOs, sysroot: &Path, pattern: &str) -> FoundDirs {
    let Ok(root) = SafeDir::root(sysroot) else {
        return (Vec::new(), Vec::new());
    };
    let mut found = Vec::new();
    let mut linked = Vec::new();
    expand(
        &root,
        &os.components(pattern),
        Want::Folders,
        &mut Vec::new(),
        &mut found,
        &mut linked,
    );
    let found = found
        .into_iter()
        .map(|(path, parts)| (path, system_path(os, &parts)))
        .collect();
    let linked = linked
        .into_iter()
        .map(|(parts, why)| (system_path(os, &parts), why))
        .collect();
    (found, linked)
}

/// `*` matches any run of characters; everything else matches itself, case-insensitively
/// (Windows names are, and agent log names never differ only by case).
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// How much of the logs to keep.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub per_file: u64,
    pub total: u64,
}

/// Log text read from one file, newest lines kept.
#[derive(Debug)]
pub struct LogText {
    pub bytes: Vec<u8>,
    pub size_before: u64,
    pub truncated: Option<String>,
    pub modified: Option<SystemTime>,
}

/// A located file that [`fsafe::open_untrusted`] refused.
pub type Refused = (Located, Refusal);

/// Opens every located file, newest first by modification time (rotation numbering is not
/// trusted to say which is newest).
pub fn open_newest_first(
    found: Vec<Located>,
    trust: Trust,
) -> (Vec<(Located, OpenedFile)>, Vec<Refused>) {
    let mut opened = Vec::new();
    let mut refused = Vec::new();
    for located in found {
        match located.open(trust) {
            Ok(file) => opened.push((located, file)),
            Err(why) => refused.push((located, why)),
        }
    }
    opened.sort_by_key(|(_, file)| std::cmp::Reverse(file.modified));
    (opened, refused)
}

/// Reads the newest `cap` bytes of a log, then drops entries older than `since` when given.
pub fn read_log(
    file: &mut OpenedFile,
    cap: u64,
    since: Option<NaiveDateTime>,
    timestamp_format: &str,
) -> std::io::Result<LogText> {
    let (mut bytes, cut) = file.read_tail(cap)?;
    let mut truncated = cut.then(|| {
        format!(
            "kept the newest {} of {} bytes (cap {cap} bytes), from a line start",
            bytes.len(),
            file.len
        )
    });
    if let Some(since) = since {
        let start = first_entry_since(&bytes, since, timestamp_format);
        if start > 0 {
            bytes.drain(..start);
            let why = format!("dropped entries older than {since}");
            truncated = Some(match truncated {
                Some(before) => format!("{before}; {why}"),
                None => why,
            });
        }
    }
    Ok(LogText {
        bytes,
        size_before: file.len,
        truncated,
        modified: file.modified,
    })
}

/// Byte offset of the first line whose timestamp is at or after `since`. Lines without a
/// timestamp (continuations of multi-line entries) go with the entry before them. Returns the
/// length of the text when every entry is older.
pub fn first_entry_since(text: &[u8], since: NaiveDateTime, timestamp_format: &str) -> usize {
    let mut offset = 0;
    for line in text.split_inclusive(|&b| b == b'\n') {
        if let Some(at) = line_timestamp(line, timestamp_format)
            && at >= since
        {
            return offset;
        }
        offset += line.len();
    }
    text.len()
}

/// The timestamp at the start of a jcagent.log line (`2021/05/07 09:25:13 [32713] …`).
pub fn line_timestamp(line: &[u8], timestamp_format: &str) -> Option<NaiveDateTime> {
    let head = std::str::from_utf8(line.get(..19)?).ok()?;
    NaiveDateTime::parse_from_str(head, timestamp_format).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: &str = "%Y/%m/%d %H:%M:%S";

    #[test]
    fn wildcards_match_like_a_shell() {
        assert!(wildcard_match("jc*", "jcagent.log.3"));
        assert!(wildcard_match("jc*.log*", "jcUpdate.log"));
        assert!(wildcard_match("*.key", "client.key"));
        assert!(!wildcard_match("*.key", "client.key.txt"));
        assert!(!wildcard_match("jc*.log*", "jcagent.conf"));
        assert!(wildcard_match("*", "anything"));
    }

    #[test]
    fn since_keeps_continuation_lines_with_their_entry() {
        let text = b"2021/05/07 09:00:00 [1] [INFO] old\n\
2021/05/07 10:00:00 [1] [ERROR] new\n  continued\n2021/05/07 11:00:00 [1] [INFO] newer\n";
        let since = NaiveDateTime::parse_from_str("2021/05/07 09:30:00", FORMAT).unwrap();
        let start = first_entry_since(text, since, FORMAT);
        assert!(text[start..].starts_with(b"2021/05/07 10:00:00"));
    }

    #[test]
    fn since_after_every_entry_keeps_nothing() {
        let text = b"2021/05/07 09:00:00 [1] [INFO] old\n";
        let since = NaiveDateTime::parse_from_str("2022/01/01 00:00:00", FORMAT).unwrap();
        assert_eq!(first_entry_since(text, since, FORMAT), text.len());
    }
}
