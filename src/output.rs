//! What users see besides the reports: the collection spinner and the upload bar (on a terminal
//! only, never with `--silent`, `--json` or `-q`), and the shared parts of bundle reports.

use std::io::IsTerminal;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::GlobalArgs;
use jcdiag_client::collect::{self, Outcome};
use jcdiag_client::deliver;

pub(crate) fn bundle_json(outcome: &Outcome) -> Value {
    let mut json = json!({
        "bundle": outcome.bundle.display().to_string(),
        "sha256": outcome.sha256,
        "size": outcome.size,
        "warnings": outcome.warnings,
    });
    if let Some(map) = &outcome.obfuscation_map {
        json["obfuscation_map"] = json!(map.display().to_string());
    }
    json
}

/// Where `--obfuscate`'s alias table was kept, for the human report.
pub(crate) fn alias_table_line(outcome: &Outcome) -> String {
    outcome
        .obfuscation_map
        .as_ref()
        .map_or(String::new(), |map| {
            format!(
                "  aliases (this machine only, not sent): {}\n",
                map.display()
            )
        })
}

/// The `--dry-run` report: what would be sent, nothing written.
pub(crate) fn preview_report(outcome: Outcome) -> Report {
    let entries: Vec<Value> = outcome
        .entries
        .iter()
        .map(|e| json!({ "name": e.name, "source": e.source, "size": e.size_after, "redactions": e.redactions }))
        .collect();
    let count = entries.len();
    let mut report = Report::ok(
        json!({ "dry_run": true, "entries": entries, "warnings": outcome.warnings }),
        format!("dry-run entries={count} written=0"),
        format!(
            "Would send (nothing was written):\n{}\nWhat jcdiag found (findings.json):\n{}",
            collect::preview(&outcome.entries),
            jcdiag_client::findings::render(&outcome.findings, false, 3)
        ),
    );
    report.warnings = outcome.warnings;
    report
}

/// The upload progress bar: bytes, rate and time left, on a terminal only.
pub(crate) struct UploadBar(pub(crate) indicatif::ProgressBar);

impl deliver::Progress for UploadBar {
    fn uploaded(&self, confirmed: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(confirmed);
    }
}

/// Bars only for a person watching: a terminal, and not silent, JSON or quiet.
pub(crate) fn shows_progress(global: &GlobalArgs) -> bool {
    std::io::stderr().is_terminal() && !global.silent && !global.json && !global.quiet
}

/// The collection spinner: what is being read and scrubbed right now.
pub(crate) fn collection_spinner(global: &GlobalArgs) -> indicatif::ProgressBar {
    if !shows_progress(global) {
        return indicatif::ProgressBar::hidden();
    }
    let style = indicatif::ProgressStyle::with_template("{spinner:.cyan} collecting: {msg}")
        .expect("the template is valid");
    let spinner = indicatif::ProgressBar::new_spinner().with_style(style);
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

pub(crate) fn upload_bar(global: &GlobalArgs) -> UploadBar {
    if !shows_progress(global) {
        return UploadBar(indicatif::ProgressBar::hidden());
    }
    let style = indicatif::ProgressStyle::with_template(
        "uploading {bar:30.cyan} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .expect("the template is valid");
    UploadBar(indicatif::ProgressBar::new(0).with_style(style))
}

/// What a command reports. A non-zero `exit_code` with a report means the work was done in
/// part (a bundle kept in the outbox, exit 3 or 4) and `problem` says why.
pub(crate) struct Report {
    /// The `--json` object.
    pub json: Value,
    /// The `--silent` result line.
    pub line: String,
    /// The human report (stdout).
    pub human: String,
    pub warnings: Vec<String>,
    pub exit_code: i32,
    pub problem: Option<String>,
}

impl Report {
    pub(crate) fn ok(json: Value, line: String, human: String) -> Report {
        Report {
            json,
            line,
            human,
            warnings: Vec::new(),
            exit_code: 0,
            problem: None,
        }
    }
}
