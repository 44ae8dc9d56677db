//! The parity list: what JumpCloud's own collection scripts gather on each OS (JUMPCLOUD.md,
//! "What JumpCloud's own collection scripts gather"), beyond the agent logs and files of
//! [`crate::AgentLayout`], as data the collector interprets: files, globs and whole folders,
//! per-user paths, commands, the OS log queries. Each item belongs to a *source* (its `source`
//! name) that can be turned off as a whole, or by the item's own name.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The parity list of each OS.
#[derive(Debug, Clone, Deserialize)]
pub struct ParityLists {
    pub linux: ParityList,
    pub macos: ParityList,
    pub windows: ParityList,
    /// Sources that may be turned off, with what each holds (shown in `--help` and the SPEC).
    pub sources: Vec<SourceInfo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SourceInfo {
    pub name: String,
    pub holds: String,
}

/// One OS's list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ParityList {
    #[serde(default)]
    pub files: Vec<FileItem>,
    /// Paths below each real home folder (the homes are `[accounts.<os>].homes`).
    #[serde(default)]
    pub per_user: Vec<FileItem>,
    #[serde(default)]
    pub commands: Vec<CommandItem>,
    /// Linux: the systemd journal, filtered to the agent.
    pub journal: Option<JournalQuery>,
    /// macOS: a protected file probed to tell a missing Full Disk Access from a missing file.
    pub full_disk_access_probe: Option<String>,
}

/// A file, a glob (`*` within one component) or a whole folder.
#[derive(Debug, Clone, Deserialize)]
pub struct FileItem {
    pub path: String,
    /// The bundle folder it lands in (`agent`, `os-logs`, `per-user`), followed by its path.
    pub into: String,
    pub source: String,
    #[serde(default)]
    pub format: Format,
    /// A whole folder: every file below it (depth-limited), or only the names matching `names`.
    #[serde(default)]
    pub folder: bool,
    pub names: Option<String>,
    /// A log: tail-capped like the agent logs (newest kept), files last written before
    /// `--since` left out.
    #[serde(default)]
    pub log: bool,
}

/// How a file is turned into scrubbed text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Text: the scrubber's text rules.
    #[default]
    Text,
    /// JSON: every secret key redacted; a file that does not parse is left out (never sent raw).
    Json,
    /// JSON when it parses, else text rules (policy files may be either).
    JsonOrText,
    /// A property list: a binary one is converted to XML first, then scrubbed as text.
    Plist,
}

/// A command of the list. Never run through a shell.
#[derive(Debug, Clone, Deserialize)]
pub struct CommandItem {
    /// `commands/<name>.txt`; also the name that turns this one command off.
    pub name: String,
    /// Absolute paths to try in turn (the first that exists is run).
    pub program: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    pub source: String,
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    /// Keep only the lines containing this (case-insensitive), like the scripts' `grep -i`.
    pub filter: Option<String>,
    /// Which end of a long output is kept: the newest entries (`tail`, default) or, for tools
    /// that print newest first, `head`.
    #[serde(default)]
    pub keep: Keep,
    /// The window when `--since` is not given, for the `{since_*}` placeholders in `args`.
    #[serde(default, deserialize_with = "duration")]
    pub default_since: Option<Duration>,
    /// A parser of the output whose reading goes to the summary (`sc-queryex`,
    /// `launchctl-print`, `profiles`, `systemctl-units`).
    pub parse: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Keep {
    #[default]
    Tail,
    Head,
}

/// The journal query: the agent's units and identifiers.
#[derive(Debug, Clone, Deserialize)]
pub struct JournalQuery {
    pub program: Vec<String>,
    /// Journal folders below the root (`--directory`), tried in turn for a `--sysroot`.
    pub folders: Vec<String>,
    pub units: Vec<String>,
    pub identifiers: Vec<String>,
    /// Most entries asked for (the newest).
    pub max_entries: u32,
    #[serde(deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    #[serde(deserialize_with = "duration")]
    pub default_since: Option<Duration>,
}

impl ParityLists {
    pub fn of(&self, os: crate::target::TargetOs) -> &ParityList {
        match os {
            crate::target::TargetOs::Linux => &self.linux,
            crate::target::TargetOs::Macos => &self.macos,
            crate::target::TargetOs::Windows => &self.windows,
        }
    }
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = number.parse().map_err(serde::de::Error::custom)?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => {
            return Err(serde::de::Error::custom(format!(
                "`{text}`: not like 10s, 5m, 2d"
            )));
        }
    };
    Ok(Some(Duration::from_secs(secs)))
}
