//! `manifest.json`: what the bundle holds, where each entry came from, and what is missing.
//!
//! Support reads it to trust a bundle: every entry's SHA-256, whether it was cut and why, how
//! many secrets were removed, and every file that was looked for and not found or skipped.

use std::collections::BTreeMap;

use serde::Serialize;

pub const SCHEMA: &str = "jcdiag.manifest/1";

#[derive(Debug, Default, Serialize)]
pub struct Manifest {
    pub schema: &'static str,
    pub tool_version: &'static str,
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
    /// `jcdiag record`: the window (RFC 3339 start and end) and what each log gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

impl Manifest {
    pub fn skip(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            path: path.into(),
            reason: reason.into(),
        });
    }
}
