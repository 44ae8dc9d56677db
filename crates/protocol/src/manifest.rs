//! `manifest.json`: what the bundle holds, where each entry came from, and what is missing.
//!
//! Support reads it to trust a bundle: every entry's SHA-256, whether it was cut and why, how
//! many secrets were removed, and every file that was looked for and not found or skipped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`crate::MANIFEST_SCHEMA`].
    pub schema: String,
    pub tool_version: String,
    pub created: String,
    pub target_os: String,
    pub sysroot: String,
    pub entries: Vec<Entry>,
    /// Profile paths and patterns that matched no file.
    pub not_found: Vec<String>,
    pub skipped: Vec<Skipped>,
    pub errors: Vec<String>,
    /// Redactions per kind over the whole bundle.
    pub redactions: BTreeMap<String, u64>,
    /// True when something that should be there is not: no agent log, a skipped file, an error.
    pub partial: bool,
    pub missing: Vec<String>,
    /// `jcdiag record`: the window and what each log gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<Recording>,
    /// Each command and OS log query of the parity list: run or not, and what it gave.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandRun>,
}

/// One command (or OS log query) of the parity list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRun {
    /// The profile's name for it (`hostnamectl`, `journal`, `sc-queryex`).
    pub name: String,
    /// The source it belongs to (`commands`, `os-logs`, `users`).
    pub source: String,
    /// Program and arguments as run (empty when no program was found).
    pub command: Vec<String>,
    /// `ok`, `failed`, `timed out`, `not found`, `not run`, `turned off`.
    pub status: String,
    /// Why, for anything but `ok`: `timed out after 10 s`, `exit code 1: …`.
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
    pub duration_ms: Option<u64>,
    /// The bundle entry holding its output.
    pub entry: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    /// Path on the system the content came from; null for what jcdiag wrote itself.
    pub source: Option<String>,
    pub size_before: u64,
    pub size_after: u64,
    /// SHA-256 of the bytes stored in the zip (after cutting and redaction).
    pub sha256: String,
    pub truncated: bool,
    pub truncated_reason: Option<String>,
    pub redactions: BTreeMap<String, u64>,
    pub modified: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// What a `jcdiag record` run recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// RFC 3339 start and end of the window.
    pub start: String,
    pub end: String,
    /// How the logs were watched: "file events", or polling and why.
    pub watch: String,
    pub file_events: u64,
    pub logs: Vec<RecordedLog>,
    pub new_screenshots: Vec<String>,
    pub notes: Vec<String>,
}

/// What one log gave during a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedLog {
    pub source: String,
    /// The bundle entry, or null when nothing was recorded.
    pub entry: Option<String>,
    pub bytes_recorded: u64,
    pub lines_recorded: u64,
    pub rotations: u64,
    pub truncations: u64,
}

impl Manifest {
    pub fn skip(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            path: path.into(),
            reason: reason.into(),
        });
    }
}
