//! `summary.txt`: the one page a support engineer reads first.

use std::fmt::Write;

use serde_json::Value;

use crate::form::CaseForm;
use crate::manifest::Manifest;

/// How many not-found or skipped paths the page lists; manifest.json has them all.
const LISTED_PATHS: usize = 50;

/// What the agent's main log (jcagent.log) gave the summary.
pub enum MainLog<'a> {
    /// Stored in the bundle: its last ERROR lines (none is a finding).
    Collected(&'a [String]),
    /// Not stored: the path it was looked for at.
    NotCollected(&'a str),
}

pub fn render(
    form: &CaseForm,
    case: &Value,
    system: &Value,
    main_log: MainLog,
    manifest: &Manifest,
) -> String {
    let mut page = String::new();
    let text = |v: &Value| {
        v.as_str()
            .map_or_else(|| "unknown".to_string(), str::to_string)
    };
    let _ = writeln!(
        page,
        "JumpCloud support case summary (jcdiag {})",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(page, "{}\n", "=".repeat(60));

    let _ = writeln!(
        page,
        "Case:        {}",
        form.case.as_deref().unwrap_or("new case")
    );
    let severity = &case["severity"];
    let _ = writeln!(
        page,
        "Severity:    {}",
        match severity["level"].as_u64() {
            Some(level) => format!("{level}: {}", text(&severity["definition"])),
            None => "not given".into(),
        }
    );
    let _ = writeln!(
        page,
        "Tier:        {}",
        form.tier.as_deref().unwrap_or("not given")
    );
    let _ = writeln!(page, "Response:    {}", text(&case["response_target"]));
    let contact = match (&form.name, &form.email) {
        (Some(n), Some(e)) => format!("{n} <{e}>"),
        (None, Some(e)) => e.clone(),
        (Some(n), None) => n.clone(),
        (None, None) => "not given".into(),
    };
    let _ = writeln!(
        page,
        "Contact:     {contact}{}",
        if form.partner == Some(true) {
            " (partner)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        page,
        "Org:         {}",
        form.org.as_deref().unwrap_or("not given")
    );
    if let (Some(start), Some(end)) = (
        case["recording"]["start"].as_str(),
        case["recording"]["end"].as_str(),
    ) {
        let _ = writeln!(
            page,
            "Recorded:    {start} to {end} (UTC): see logs/recorded/"
        );
    }

    section(
        &mut page,
        "Issue description",
        form.description.as_deref().unwrap_or("(not given)"),
    );
    section(
        &mut page,
        "Troubleshooting already done",
        form.troubleshooting.as_deref().unwrap_or("(not given)"),
    );
    let shown = if form.error.is_empty() {
        "(none given)".to_string()
    } else {
        form.error.join("\n")
    };
    section(&mut page, "Error messages", &shown);

    let os = &system["os"];
    let agent = &system["agent"];
    let machine = &system["machine"];
    let mut facts = String::new();
    let _ = writeln!(facts, "Host:          {}", text(&system["hostname"]));
    // Linux has no build number: an unknown one is left out, not printed as "unknown".
    let mut os_line = [&os["name"], &os["version"]]
        .into_iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    if os_line.is_empty() {
        os_line = "unknown".into();
    }
    if let Some(build) = os["build"].as_str() {
        let _ = write!(os_line, " (build {build})");
    }
    let _ = writeln!(facts, "OS:            {os_line}");
    let _ = writeln!(facts, "Architecture:  {}", text(&machine["architecture"]));
    let _ = writeln!(facts, "Time zone:     {}", text(&os["time_zone"]));
    let _ = writeln!(facts, "Agent version: {}", text(&agent["version"]));
    let _ = writeln!(facts, "System key:    {}", text(&agent["system_key"]));
    let _ = writeln!(facts, "Region:        {}", text(&agent["region"]));
    let running = match agent["process"]["running"].as_bool() {
        Some(true) => "running".to_string(),
        Some(false) => "NOT running".to_string(),
        None => text(&agent["process"]["note"]),
    };
    let _ = write!(facts, "Agent process: {running}");
    section(&mut page, "System", &facts);

    let no_logs = !manifest.entries.iter().any(|e| e.name.starts_with("logs/"));
    let shown = match main_log {
        MainLog::Collected([]) => "(no ERROR lines in the collected jcagent.log)".to_string(),
        MainLog::Collected(errors) => errors.join("\n"),
        MainLog::NotCollected(path) if no_logs => format!(
            "(No agent log was found: looked for {path}, its rotated copies and the other \
             agent logs; see \"Looked for and not found\" below. Is the JumpCloud agent installed?)"
        ),
        MainLog::NotCollected(path) => format!(
            "({path} was not collected; see \"Looked for and not found\" and \"Skipped\" below)"
        ),
    };
    section(&mut page, "Last ERROR lines of jcagent.log", &shown);

    let mut contents = String::new();
    for entry in &manifest.entries {
        let _ = writeln!(
            contents,
            "{:<50} {:>10} bytes{}",
            entry.name,
            entry.size_after,
            if entry.truncated { " (cut)" } else { "" }
        );
    }
    for missing in &manifest.missing {
        let _ = writeln!(contents, "MISSING: {missing}");
    }
    section(&mut page, "Bundle contents", &contents);
    let skipped: Vec<String> = manifest
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.path, s.reason))
        .collect();
    path_list(&mut page, "Skipped", &skipped);
    path_list(&mut page, "Looked for and not found", &manifest.not_found);
    page
}

/// The "OS logs" section: agent errors from the journal or event logs, the service state and
/// other readings of commands, and what support should know (Full Disk Access, sources off).
pub fn add_os_logs(page: &mut String, os_logs: &super::parity::Highlights) {
    let mut body = String::new();
    for reading in &os_logs.readings {
        let _ = writeln!(body, "{reading}");
    }
    if os_logs.errors.is_empty() {
        let _ = writeln!(body, "(no agent error lines in the OS logs collected)");
    } else {
        let _ = writeln!(body, "Agent errors in the OS logs (newest last):");
        for line in &os_logs.errors {
            let _ = writeln!(body, "  {line}");
        }
    }
    for note in &os_logs.notes {
        let _ = writeln!(body, "NOTE: {note}");
    }
    section(page, "OS logs", &body);
}

/// A section listing paths one per line, with their count; long lists are cut, and say so.
fn path_list(page: &mut String, title: &str, paths: &[String]) {
    if paths.is_empty() {
        return;
    }
    let mut body = paths
        .iter()
        .take(LISTED_PATHS)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    if paths.len() > LISTED_PATHS {
        let _ = write!(
            body,
            "\n… and {} more: see manifest.json",
            paths.len() - LISTED_PATHS
        );
    }
    section(page, &format!("{title} ({})", paths.len()), &body);
}

fn section(page: &mut String, title: &str, body: &str) {
    let _ = writeln!(
        page,
        "\n{title}\n{}\n{}",
        "-".repeat(title.len()),
        body.trim_end()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Entry;
    use chrono::TimeZone;
    use jcdiag_profile::Profile;
    use serde_json::json;

    /// The page a support engineer reads first, for a typical Standard-tier case filed on a
    /// Friday afternoon: a change here is a change users see.
    #[test]
    fn the_summary_page() {
        let profile = Profile::builtin();
        let form = CaseForm {
            description: Some("Users cannot log in to their Macs since the password change.\nOnly the office fleet is affected.".into()),
            troubleshooting: Some("Rebooted two machines; re-entered the password.".into()),
            error: vec!["Invalid credentials".into(), "jcagent: connection refused".into()],
            severity: Some(1),
            tier: Some("standard".into()),
            email: Some("admin@example.com".into()),
            name: Some("Ada Admin".into()),
            org: Some("5f3e0c1a2b".into()),
            ..CaseForm::default()
        };
        let filed = chrono::Utc
            .with_ymd_and_hms(2026, 11, 27, 23, 30, 0)
            .unwrap(); // Fri 16:30 MT
        let case = crate::case::record(&form, profile, &profile.sla, filed);
        let system = json!({
            "hostname": "ws-0042",
            "os": {"name": "macOS", "version": "15.1", "build": "24B83", "time_zone": "America/Denver"},
            "machine": {"architecture": "aarch64"},
            "agent": {
                "version": "2.31.0", "system_key": "5f3e0c1a2b3c4d5e6f708192",
                "region": "US", "process": {"running": false}
            },
        });
        let errors = vec![
            "2026/11/27 16:20:01 [1042] [ERROR] login failed for user ada: invalid credentials"
                .to_string(),
        ];
        let entry = |name: &str, size: u64, truncated: bool| Entry {
            name: name.into(),
            source: None,
            size_before: size,
            size_after: size,
            sha256: String::new(),
            truncated,
            truncated_reason: None,
            redactions: Default::default(),
            modified: None,
        };
        let mut manifest = Manifest {
            entries: vec![
                entry("logs/var/log/jcagent.log", 10_485_760, true),
                entry("logs/var/log/jcagent.log.1", 52_311, false),
                entry("agent/jcagent.conf", 734, false),
            ],
            not_found: vec!["/opt/jc/loglevel.cache".into()],
            ..Manifest::default()
        };
        manifest.skip(
            "/var/log/jcagent.log.2",
            "a symbolic link: links are not followed",
        );
        insta::assert_snapshot!(render(
            &form,
            &case,
            &system,
            MainLog::Collected(&errors),
            &manifest
        ));
    }
}
