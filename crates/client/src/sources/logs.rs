//! Finding the agent's logs in a layout and reading their newest lines within the caps.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::NaiveDateTime;

use jcdiag_fs::fsafe::{self, OpenedFile, Refusal, Trust};
use jcdiag_profile::target::TargetOs;
use jcdiag_profile::{AgentLayout, Profile};

/// A file a profile path names, found on disk.
#[derive(Debug)]
pub struct Located {
    pub path: PathBuf,
    /// The path as it is on the target system (`/var/log/jcagent.log`, `C:\Windows\…`).
    pub system_path: String,
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
    for pattern in patterns {
        let components = os.components(pattern);
        let mut matches = Vec::new();
        expand(sysroot, &components, &mut Vec::new(), &mut matches);
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
            search.found.push(Located { path, system_path });
        }
    }
    search
}

fn never_collect(
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
fn system_path(os: TargetOs, parts: &[String]) -> String {
    match os {
        TargetOs::Windows => format!("C:\\{}", parts.join("\\")),
        _ => format!("/{}", parts.join("/")),
    }
}

fn expand(
    dir: &Path,
    rest: &[&str],
    parts: &mut Vec<String>,
    out: &mut Vec<(PathBuf, Vec<String>)>,
) {
    let Some((first, rest)) = rest.split_first() else {
        out.push((dir.to_path_buf(), parts.clone()));
        return;
    };
    if !first.contains('*') {
        let next = dir.join(first);
        // Only the last component may be a file; a fixed folder is entered as the OS resolves it.
        if rest.is_empty() {
            if std::fs::symlink_metadata(&next).is_ok() {
                parts.push(first.to_string());
                out.push((next, parts.clone()));
                parts.pop();
            }
        } else if next.is_dir() {
            parts.push(first.to_string());
            expand(&next, rest, parts, out);
            parts.pop();
        }
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| wildcard_match(first, name))
        .collect();
    names.sort();
    for name in names {
        let next = dir.join(&name);
        // A folder reached through a wildcard could be a link planted by anyone: skip it.
        if !rest.is_empty() && !fsafe::is_real_dir(&next) {
            continue;
        }
        // A wildcard over files matches files only: folders like /var/log/jumpcloud are
        // patterns of their own.
        if rest.is_empty()
            && std::fs::symlink_metadata(&next)
                .map(|m| m.is_dir())
                .unwrap_or(false)
        {
            continue;
        }
        parts.push(name);
        expand(&next, rest, parts, out);
        parts.pop();
    }
}

/// Expands a profile path of folders (`/home/*/Pictures`) below `sysroot`: the folders that
/// exist, with their system paths. A folder reached through a `*` is entered only when it is a
/// real folder (not a link), like everywhere else.
pub fn find_dirs(os: TargetOs, sysroot: &Path, pattern: &str) -> Vec<(PathBuf, String)> {
    let mut found = vec![(sysroot.to_path_buf(), Vec::<String>::new())];
    for component in os.components(pattern) {
        let mut next = Vec::new();
        for (dir, parts) in found {
            if !component.contains('*') {
                let path = dir.join(component);
                if path.is_dir() {
                    let mut parts = parts.clone();
                    parts.push(component.to_string());
                    next.push((path, parts));
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| wildcard_match(component, name))
                .collect();
            names.sort();
            for name in names {
                let path = dir.join(&name);
                if fsafe::is_real_dir(&path) {
                    let mut parts = parts.clone();
                    parts.push(name);
                    next.push((path, parts));
                }
            }
        }
        found = next;
    }
    found
        .into_iter()
        .map(|(path, parts)| (path, system_path(os, &parts)))
        .collect()
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
        match fsafe::open_untrusted(&located.path, trust) {
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
