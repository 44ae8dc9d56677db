//! The parity list in the bundle: everything JumpCloud's own collection scripts gather beyond
//! the agent logs and files (the profile's `[parity.<os>]`): files, globs and whole folders,
//! per-user files, the OS logs filtered to the agent, and commands. Every item ends up in the
//! manifest as an entry, not found, skipped (with why) or a command run with its status; none
//! fails the collection. Commands and the journal query share one time budget.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use jcdiag_fs::fsafe::{self, Refusal, SafeDir};
use jcdiag_profile::target::TargetOs;
use jcdiag_profile::{CommandItem, FileItem, Format, JournalQuery, Keep};
use jcdiag_scrub::Scrubbed;

use super::{Cleaner, Content, Request, add_entry};
use crate::bundle::{BundleError, BundleWriter};
use crate::manifest::{CommandRun, Manifest};
use crate::sources::commands::{self, Ran, Status};
use crate::sources::per_user::{self, Home};
use crate::sources::{logs, parse, plist, syslog};

/// What turns parts of the collection off, and how long commands may take in all.
#[derive(Debug, Clone)]
pub struct Options {
    /// The collection's time budget (commands and OS log queries stop being started past it).
    pub budget: Duration,
    /// Sources (`system-logs`, `commands`…) or single items (`iptables`, `journal`) turned off.
    pub skip: Vec<String>,
}

/// Default collection budget: collect and send must fit a JumpCloud Command's 120 s.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);
/// Default timeout of one command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deepest folder level read below a whole-folder item, and most files taken from one.
const FOLDER_DEPTH: usize = 8;
const FOLDER_FILES: usize = 500;
/// How many agent error lines of the OS logs the summary shows.
const SUMMARY_LINES: usize = 20;

impl Default for Options {
    fn default() -> Self {
        Options {
            budget: DEFAULT_BUDGET,
            skip: Vec::new(),
        }
    }
}

/// What the summary's "OS logs" section shows.
#[derive(Debug, Default)]
pub struct Highlights {
    /// Agent error lines from the journal or the event logs, oldest first.
    pub errors: Vec<String>,
    /// One-line readings of commands (service state, profiles).
    pub readings: Vec<String>,
    /// Things support should know (Full Disk Access missing, sources turned off, budget used up).
    pub notes: Vec<String>,
}

const FULL_DISK_ACCESS: &str = "macOS Full Disk Access is not granted to the process running jcdiag, so protected files cannot be read: in System Settings > Privacy & Security > Full Disk Access, add the app that runs jcdiag (Terminal, or the MDM agent), or grant it by a PPPC profile from the MDM, then run jcdiag again";

struct Run<'r, 'a> {
    req: &'r Request<'a>,
    clean: &'r Cleaner<'r>,
    started: Instant,
    /// Bytes the OS logs may still take (their own pool, as big as the agent logs' one).
    log_budget: u64,
    full_disk_access_missing: bool,
    highlights: Highlights,
}

pub(super) fn add(
    req: &Request,
    clean: &Cleaner,
    writer: &mut BundleWriter,
    manifest: &mut Manifest,
    started: Instant,
) -> Result<Highlights, BundleError> {
    let list = req.profile.parity.of(req.os);
    let mut run = Run {
        req,
        clean,
        started,
        log_budget: req.caps.total,
        full_disk_access_missing: false,
        highlights: Highlights::default(),
    };
    for off in &req.parity.skip {
        run.highlights
            .notes
            .push(format!("{off}: turned off (--skip-source)"));
    }
    for item in &list.files {
        if let Some(why) = run.off(&item.source, None) {
            manifest.skip(&item.path, why);
            continue;
        }
        run.add_item(item, None, writer, manifest)?;
    }
    if run.off("per-user", None).is_none() {
        run.add_per_user(&list.per_user, writer, manifest)?;
    } else {
        for item in &list.per_user {
            manifest.skip(&item.path, "source per-user turned off (--skip-source)");
        }
    }
    if let Some(journal) = &list.journal {
        run.add_journal(journal, writer, manifest)?;
    }
    for item in &list.commands {
        run.add_command(item, writer, manifest)?;
    }
    if req.os == TargetOs::Macos
        && req.live
        && let Some(probe) = &list.full_disk_access_probe
    {
        let parts = req.os.components(probe);
        if let Err(Refusal::Unreadable(why)) = fsafe::open_below(&req.sysroot, &parts, req.trust)
            && is_permission_denied(&why)
        {
            run.full_disk_access_missing = true;
        }
    }
    if run.full_disk_access_missing {
        manifest.missing.push(FULL_DISK_ACCESS.to_string());
        run.highlights.notes.push(FULL_DISK_ACCESS.to_string());
    }
    Ok(run.highlights)
}

impl Run<'_, '_> {
    /// Why an item of `source` (or named `name`) is not collected, if it is turned off.
    fn off(&self, source: &str, name: Option<&str>) -> Option<String> {
        let skip = &self.req.parity.skip;
        if skip.iter().any(|s| s == source) {
            return Some(format!("source {source} turned off (--skip-source)"));
        }
        name.filter(|n| skip.iter().any(|s| s == n))
            .map(|n| format!("{n} turned off (--skip-source)"))
    }

    fn remaining(&self) -> Duration {
        self.req
            .parity
            .budget
            .saturating_sub(self.started.elapsed())
    }

    fn budget_used_up(&self) -> String {
        format!(
            "not run: the collection time budget of {} was used up (--collection-budget)",
            commands::seconds(self.req.parity.budget)
        )
    }

    /// A file, glob or folder of the list, below the sysroot.
    fn add_item(
        &mut self,
        item: &FileItem,
        home: Option<&Home>,
        writer: &mut BundleWriter,
        manifest: &mut Manifest,
    ) -> Result<(), BundleError> {
        let req = self.req;
        let layout = req.profile.layout(req.os);
        let pattern = match home {
            Some(home) => join(req.os, &home.system_path, &item.path),
            None => item.path.clone(),
        };
        let mut files: Vec<(String, Vec<String>)> = Vec::new();
        if item.folder {
            let (found, linked) = logs::find_dirs_checked(req.os, &req.sysroot, &pattern);
            for (path, why) in linked {
                manifest.skip(path, why.to_string());
            }
            if found.is_empty() {
                manifest.not_found.push(pattern);
                return Ok(());
            }
            for (_, folder) in found {
                let parts: Vec<String> = req
                    .os
                    .components(&folder)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                match fsafe::open_dir_below(&req.sysroot, &as_strs(&parts)) {
                    Ok(dir) => walk(&dir, req.os, item, &parts, 0, &mut files, manifest),
                    Err(why) => manifest.skip(folder, why.to_string()),
                }
            }
        } else {
            let search = logs::find_files(req.profile, layout, req.os, &req.sysroot, &[pattern]);
            manifest.not_found.extend(search.not_found);
            for (path, why) in search.excluded {
                manifest.skip(path, why);
            }
            files.extend(search.found.into_iter().map(|l| (l.system_path, l.parts)));
        }
        for (system_path, parts) in files {
            let name = parts.last().map(String::as_str).unwrap_or_default();
            if let Some(why) = logs::never_collect(req.profile, layout, &system_path, name) {
                manifest.skip(system_path, why);
                continue;
            }
            // Already stored (an agent log the log search found too).
            if manifest
                .entries
                .iter()
                .any(|e| e.source.as_deref() == Some(system_path.as_str()))
            {
                continue;
            }
            self.add_file(item, home, &system_path, &parts, writer, manifest)?;
        }
        Ok(())
    }

    fn add_file(
        &mut self,
        item: &FileItem,
        home: Option<&Home>,
        system_path: &str,
        parts: &[String],
        writer: &mut BundleWriter,
        manifest: &mut Manifest,
    ) -> Result<(), BundleError> {
        let req = self.req;
        let opened = match home {
            Some(_) => per_user::open(&req.sysroot, parts),
            None => fsafe::open_below(&req.sysroot, &as_strs(parts), req.trust),
        };
        let mut file = match opened {
            Ok(file) => file,
            Err(Refusal::NotFound) => {
                manifest.not_found.push(system_path.to_string());
                return Ok(());
            }
            Err(Refusal::Unreadable(why))
                if req.os == TargetOs::Macos && is_permission_denied(&why) =>
            {
                self.full_disk_access_missing = true;
                manifest.skip(
                    system_path,
                    format!("cannot be read ({why}): macOS Full Disk Access is missing (see the summary)"),
                );
                return Ok(());
            }
            Err(why) => {
                manifest.skip(system_path, why.to_string());
                return Ok(());
            }
        };
        if let Some(home) = home
            && let Err(why) = home.check_owner(&file)
        {
            manifest.skip(system_path, why);
            return Ok(());
        }
        let since = req.since.and_then(|d| SystemTime::now().checked_sub(d));
        if item.log
            && let (Some(limit), Some(modified)) = (since, file.modified)
            && modified < limit
        {
            manifest.skip(
                system_path,
                "last written before --since: no entries in the window",
            );
            return Ok(());
        }
        let cap = if item.log {
            req.caps.per_file.min(self.log_budget)
        } else {
            req.caps.per_file
        };
        if cap == 0 {
            manifest.skip(
                system_path,
                format!("total log cap of {} bytes reached", req.caps.total),
            );
            return Ok(());
        }
        let (mut bytes, cut) = match file.read_tail(cap) {
            Ok(read) => read,
            Err(e) => {
                manifest.errors.push(format!("{system_path}: {e}"));
                return Ok(());
            }
        };
        if cut && item.format != Format::Text {
            manifest.skip(
                system_path,
                format!("over {cap} bytes: a structured file is never cut (it would not parse)"),
            );
            return Ok(());
        }
        let mut dropped = None;
        if item.log
            && let Some(window) = req.since
        {
            let now = chrono::Local::now();
            let from = now - chrono::Duration::from_std(window).unwrap_or_default();
            let start = syslog::first_line_since(&bytes, from, now);
            if start > 0 {
                bytes.drain(..start);
                dropped = Some(format!(
                    "dropped entries older than {}",
                    from.format("%Y-%m-%d %H:%M:%S")
                ));
            }
        }
        if item.log {
            self.log_budget = self.log_budget.saturating_sub(bytes.len() as u64);
        }
        let scrubbed = match self.convert(item.format, &bytes) {
            Ok(s) => s,
            Err(why) => {
                manifest.skip(system_path, why);
                return Ok(());
            }
        };
        let truncated = cut.then(|| {
            format!(
                "kept the newest {} of {} bytes (cap {cap} bytes), from a line start",
                bytes.len(),
                file.len
            )
        });
        let truncated = match (truncated, dropped) {
            (Some(t), Some(d)) => Some(format!("{t}; {d}")),
            (t, d) => t.or(d),
        };
        let name = format!("{}/{}", item.into, parts.join("/"));
        let modified = file.modified;
        add_entry(
            writer,
            manifest,
            &name,
            Some(system_path),
            file.len,
            Content::Text(scrubbed),
            truncated,
            modified,
        )
    }

    /// Scrubbed text of a file in its format.
    fn convert(&self, format: Format, bytes: &[u8]) -> Result<Scrubbed, String> {
        match format {
            Format::Text => Ok(self.clean.text(bytes)),
            Format::Json => self.clean.json_document(bytes).map_err(|e| {
                format!("not valid JSON ({e}); left out so no secret leaves unredacted")
            }),
            Format::JsonOrText => Ok(self
                .clean
                .json_document(bytes)
                .unwrap_or_else(|_| self.clean.text(bytes))),
            Format::Plist if plist::is_binary(bytes) => plist::to_xml(bytes)
                .map(|xml| self.clean.text(xml.as_bytes()))
                .map_err(|e| format!("{e}; left out, never sent unconverted")),
            Format::Plist => Ok(self.clean.text(bytes)),
        }
    }

    /// The per-user items below every real home folder.
    fn add_per_user(
        &mut self,
        items: &[FileItem],
        writer: &mut BundleWriter,
        manifest: &mut Manifest,
    ) -> Result<(), BundleError> {
        let req = self.req;
        let (homes, refused) = per_user::homes(req.os, &req.sysroot, req.profile.accounts(req.os));
        for (path, why) in refused {
            manifest.skip(path, why);
        }
        for item in items {
            if homes.is_empty() {
                manifest.not_found.push(join(
                    req.os,
                    &format!("{}*", home_prefix(req)),
                    &item.path,
                ));
            }
            for home in &homes {
                self.add_item(item, Some(home), writer, manifest)?;
            }
        }
        Ok(())
    }

    /// The systemd journal filtered to the agent's units and identifiers.
    fn add_journal(
        &mut self,
        query: &JournalQuery,
        writer: &mut BundleWriter,
        manifest: &mut Manifest,
    ) -> Result<(), BundleError> {
        let req = self.req;
        let mut record = CommandRun {
            name: "journal".into(),
            source: "os-logs".into(),
            command: Vec::new(),
            status: String::new(),
            reason: None,
            exit_code: None,
            duration_ms: None,
            entry: None,
        };
        if let Some(why) = self.off("os-logs", Some("journal")) {
            record.status = "turned off".into();
            record.reason = Some(why);
            manifest.commands.push(record);
            return Ok(());
        }
        let Some(program) = first_existing(&query.program) else {
            record.status = "not found".into();
            record.reason = Some(format!(
                "no journalctl on this machine ({})",
                query.program.join(", ")
            ));
            manifest.commands.push(record);
            return Ok(());
        };
        let mut args: Vec<String> = Vec::new();
        if !req.live {
            // A disk's journal: the first of its journal folders that is there, entered
            // without following a link (journalctl itself then reads the files in it).
            let found = query.folders.iter().find_map(|folder| {
                let parts = req.os.components(folder);
                fsafe::open_dir_below(&req.sysroot, &parts)
                    .ok()
                    .map(|dir| dir.path().to_path_buf())
            });
            let Some(folder) = found else {
                manifest.not_found.extend(query.folders.iter().cloned());
                record.status = "not found".into();
                record.reason = Some(format!("no journal folder ({})", query.folders.join(", ")));
                manifest.commands.push(record);
                return Ok(());
            };
            args.extend(["--directory".into(), folder.display().to_string()]);
        }
        let since = req.since.or(query.default_since);
        args.extend([
            "--no-pager".into(),
            "--quiet".into(),
            "--output".into(),
            "short-iso".into(),
        ]);
        args.extend(["--lines".into(), query.max_entries.to_string()]);
        if let Some(since) = since {
            let from = chrono::Utc::now() - chrono::Duration::from_std(since).unwrap_or_default();
            args.extend([
                "--since".into(),
                from.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            ]);
        }
        // Fields of one name are ORed, `+` ORs the groups: any unit or identifier of the agent.
        for unit in &query.units {
            args.push(format!("_SYSTEMD_UNIT={unit}"));
        }
        args.push("+".into());
        for identifier in &query.identifiers {
            args.push(format!("SYSLOG_IDENTIFIER={identifier}"));
        }
        let timeout = query.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let entry = "os-logs/journal.txt";
        let ran = self.run_command(&program, &args, timeout, Keep::Tail, &mut record);
        if let Some(ran) = ran {
            let lines =
                self.store_output(&ran, None, entry, &program, &mut record, writer, manifest)?;
            self.highlights
                .errors
                .extend(error_lines(&lines, "journal"));
        }
        manifest.commands.push(record);
        Ok(())
    }

    fn add_command(
        &mut self,
        item: &CommandItem,
        writer: &mut BundleWriter,
        manifest: &mut Manifest,
    ) -> Result<(), BundleError> {
        let req = self.req;
        let mut record = CommandRun {
            name: item.name.clone(),
            source: item.source.clone(),
            command: Vec::new(),
            status: String::new(),
            reason: None,
            exit_code: None,
            duration_ms: None,
            entry: None,
        };
        if let Some(why) = self.off(&item.source, Some(&item.name)) {
            record.status = "turned off".into();
            record.reason = Some(why);
            manifest.commands.push(record);
            return Ok(());
        }
        if !req.live {
            record.status = "not run".into();
            record.reason = Some(
                "commands run only on the live system: --sysroot names a disk, not a running system"
                    .into(),
            );
            manifest.commands.push(record);
            return Ok(());
        }
        let Some(program) = first_existing(&item.program) else {
            record.status = "not found".into();
            record.reason = Some(format!("not on this machine: {}", item.program.join(", ")));
            manifest.commands.push(record);
            return Ok(());
        };
        let since = req
            .since
            .or(item.default_since)
            .unwrap_or(Duration::from_secs(2 * 86400));
        let args: Vec<String> = item
            .args
            .iter()
            .map(|a| {
                a.replace("{since_minutes}", &since.as_secs().div_ceil(60).to_string())
                    .replace("{since_ms}", &since.as_millis().to_string())
            })
            .collect();
        let folder = if item.source == "os-logs" {
            "os-logs"
        } else {
            "commands"
        };
        let entry = format!("{folder}/{}.txt", item.name);
        let timeout = item.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if let Some(ran) = self.run_command(&program, &args, timeout, item.keep, &mut record) {
            let lines = self.store_output(
                &ran,
                item.filter.as_deref(),
                &entry,
                &program,
                &mut record,
                writer,
                manifest,
            )?;
            if let Some(parser) = &item.parse
                && let Some(reading) = parse::reading(parser, &lines)
            {
                self.highlights
                    .readings
                    .push(format!("{}: {reading}", item.name));
            }
            if item.source == "os-logs" {
                self.highlights
                    .errors
                    .extend(error_lines(&lines, &item.name));
            }
        }
        manifest.commands.push(record);
        Ok(())
    }

    /// Runs a command within the budget; `None` (with the record filled) when it was not run.
    fn run_command(
        &self,
        program: &Path,
        args: &[String],
        timeout: Duration,
        keep: Keep,
        record: &mut CommandRun,
    ) -> Option<Ran> {
        record.command = std::iter::once(program.display().to_string())
            .chain(args.iter().cloned())
            .collect();
        let remaining = self.remaining();
        if remaining.is_zero() {
            record.status = "not run".into();
            record.reason = Some(self.budget_used_up());
            return None;
        }
        // The budget may cut a command's own timeout short: say which one ended it.
        let (timeout, by_budget) = if remaining < timeout {
            (remaining, true)
        } else {
            (timeout, false)
        };
        (self.req.progress)(&format!("running {}", record.name));
        let ran = commands::run(&commands::Spec {
            program,
            args,
            timeout,
            cap: self.req.caps.per_file,
            keep,
        });
        record.exit_code = match ran.status {
            Status::Exited(code) => code,
            _ => None,
        };
        record.duration_ms = Some(ran.duration.as_millis() as u64);
        // Why it failed: the last line of stderr, else of stdout (sc.exe and reg.exe print
        // their errors there).
        let said = [&ran.stderr, &ran.stdout]
            .into_iter()
            .find_map(|bytes| {
                let text = String::from_utf8_lossy(bytes);
                text.lines()
                    .map(str::trim)
                    .rfind(|line| !line.is_empty())
                    .map(str::to_string)
            })
            .map(|line| {
                String::from_utf8_lossy(self.clean.text(line.as_bytes()).bytes()).into_owned()
            });
        let detail = |what: String| match &said {
            Some(line) => format!("{what}: {line}"),
            None => what,
        };
        match &ran.status {
            Status::Exited(Some(0)) => record.status = "ok".into(),
            Status::Exited(_) => {
                record.status = "failed".into();
                record.reason = Some(detail(ran.status.describe()));
            }
            Status::TimedOut(_) => {
                record.status = "timed out".into();
                let mut why = ran.status.describe();
                if by_budget {
                    why.push_str(" (the rest of the collection time budget)");
                }
                record.reason = Some(why);
            }
            Status::NotStarted(_) => {
                record.status = "failed".into();
                record.reason = Some(ran.status.describe());
            }
        }
        if let Some(note) = &ran.note {
            record.reason = Some(match record.reason.take() {
                Some(r) => format!("{r}; {note}"),
                None => note.clone(),
            });
        }
        Some(ran)
    }

    /// Stores a command's output (filtered when asked) and returns the stored text.
    #[allow(clippy::too_many_arguments)]
    fn store_output(
        &self,
        ran: &Ran,
        filter: Option<&str>,
        entry: &str,
        program: &Path,
        record: &mut CommandRun,
        writer: &mut BundleWriter,
        manifest: &mut Manifest,
    ) -> Result<String, BundleError> {
        let mut bytes = ran.stdout.clone();
        if let Some(word) = filter {
            let word = word.to_lowercase();
            bytes = bytes
                .split_inclusive(|&b| b == b'\n')
                .filter(|line| String::from_utf8_lossy(line).to_lowercase().contains(&word))
                .flatten()
                .copied()
                .collect();
        }
        if bytes.is_empty() && !ran.status.succeeded() {
            return Ok(String::new());
        }
        let scrubbed = self.clean.text(&bytes);
        let text = String::from_utf8_lossy(scrubbed.bytes()).into_owned();
        let mut truncated = ran.truncated.then(|| {
            format!(
                "kept {} of {} bytes of output (cap {} bytes)",
                ran.stdout.len(),
                ran.stdout_len,
                self.req.caps.per_file
            )
        });
        if let Status::TimedOut(_) = ran.status {
            let why = format!("{}: the output up to then", ran.status.describe());
            truncated = Some(match truncated {
                Some(t) => format!("{t}; {why}"),
                None => why,
            });
        }
        add_entry(
            writer,
            manifest,
            entry,
            Some(&program.display().to_string()),
            ran.stdout_len,
            Content::Text(scrubbed),
            truncated,
            None,
        )?;
        record.entry = Some(entry.to_string());
        Ok(text)
    }
}

/// Files below a folder item, depth first, within the depth and count limits. Links and
/// special files are recorded as skipped.
fn walk(
    dir: &SafeDir,
    os: TargetOs,
    item: &FileItem,
    parts: &[String],
    depth: usize,
    files: &mut Vec<(String, Vec<String>)>,
    manifest: &mut Manifest,
) {
    let mut names = dir.names();
    names.sort();
    for name in names {
        let mut here = parts.to_vec();
        here.push(name.clone());
        let path = logs::system_path(os, &here);
        match dir.kind(&name) {
            fsafe::Kind::File => {
                if item
                    .names
                    .as_deref()
                    .is_some_and(|pattern| !logs::wildcard_match(pattern, &name))
                {
                    continue;
                }
                if files.len() >= FOLDER_FILES {
                    manifest.skip(
                        path,
                        format!("over {FOLDER_FILES} files in {}: left out", item.path),
                    );
                    return;
                }
                files.push((path, here));
            }
            fsafe::Kind::Folder if depth < FOLDER_DEPTH => match dir.dir(&name) {
                Ok(sub) => walk(&sub, os, item, &here, depth + 1, files, manifest),
                Err(why) => manifest.skip(path, why.to_string()),
            },
            fsafe::Kind::Folder => manifest.skip(
                path,
                format!("deeper than {FOLDER_DEPTH} folders: left out"),
            ),
            fsafe::Kind::Link => manifest.skip(path, Refusal::SymbolicLink.to_string()),
            fsafe::Kind::Reparse => manifest.skip(path, Refusal::ReparsePoint.to_string()),
            fsafe::Kind::Other => manifest.skip(path, "not a regular file".to_string()),
            fsafe::Kind::Missing => {}
        }
    }
}

/// The lines of an OS log that report an agent error: `error`, `fail` or `critical` in them.
fn error_lines(text: &str, from: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .rev()
        .filter(|line| {
            let lower = line.to_lowercase();
            ["error", "fail", "critical"]
                .iter()
                .any(|w| lower.contains(w))
        })
        .take(SUMMARY_LINES)
        .map(|line| format!("[{from}] {}", line.trim_end()))
        .collect();
    lines.reverse();
    lines
}

fn first_existing(candidates: &[String]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_absolute() && p.is_file())
}

fn is_permission_denied(why: &str) -> bool {
    why.contains("Operation not permitted") || why.contains("os error 1)")
}

fn as_strs(parts: &[String]) -> Vec<&str> {
    parts.iter().map(String::as_str).collect()
}

/// A path below another, in the target OS's notation.
fn join(os: TargetOs, base: &str, rest: &str) -> String {
    match os {
        TargetOs::Windows => format!("{}\\{rest}", base.trim_end_matches('\\')),
        _ => format!("{}/{rest}", base.trim_end_matches('/')),
    }
}

fn home_prefix(req: &Request) -> String {
    let homes = &req.profile.accounts(req.os).homes;
    let base = homes.first().cloned().unwrap_or_default();
    join(req.os, &base, "")
}

/// The user names in the agent's managed-users files (`managedUsers.json`), for
/// `--obfuscate users`: accounts the agent manages may have no home folder yet.
pub(super) fn managed_user_names(req: &Request, source: &super::system::Source) -> Vec<String> {
    let mut names = Vec::new();
    for item in &req.profile.parity.of(req.os).files {
        if !item.path.to_ascii_lowercase().ends_with("manageduser.json")
            && !item
                .path
                .to_ascii_lowercase()
                .ends_with("managedusers.json")
        {
            continue;
        }
        let Some(text) = super::system::read_small(source, &item.path) else {
            continue;
        };
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
            user_names_in(&value, &mut names);
        }
    }
    names
}

/// String values of keys naming a user (`username`, `userName`, `user`, `login`), anywhere.
fn user_names_in(value: &serde_json::Value, names: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                let key = key.to_ascii_lowercase();
                match v {
                    serde_json::Value::String(name)
                        if ["username", "user", "login", "name"].contains(&key.as_str())
                            && !name.is_empty() =>
                    {
                        names.push(name.clone())
                    }
                    other => user_names_in(other, names),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| user_names_in(v, names)),
        _ => {}
    }
}

// Both tests start Unix shell scripts as the commands of a live collection; the runner's
// Windows side (the Job object) is tested in sources::commands.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::form::CaseForm;
    use jcdiag_profile::Profile;

    fn collect_live_with(
        profile: &Profile,
        dir: &Path,
        options: Options,
    ) -> crate::manifest::Manifest {
        let form = CaseForm::default();
        let scrubber = super::super::scrubber(profile, &[]).unwrap();
        let out = dir.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let outcome = super::super::collect(Request {
            profile,
            scrubber: &scrubber,
            os: TargetOs::current(),
            sysroot: dir.join("root"),
            live: true,
            trust: fsafe::Trust {
                require_root_owner: false,
            },
            caps: crate::sources::Caps {
                per_file: 1 << 20,
                total: 8 << 20,
            },
            since: None,
            screenshots: Vec::new(),
            form: &form,
            case: serde_json::json!({}),
            run: super::super::RunInfo::detect("collect", true, false),
            out: out.clone(),
            now: chrono::Utc::now(),
            dry_run: false,
            recording: None,
            skipped: Vec::new(),
            obfuscate: Vec::new(),
            progress: &|_| {},
            parity: options,
            network: Default::default(),
        })
        .expect("the collection succeeds");
        let file = std::fs::File::open(&outcome.bundle).unwrap();
        let mut zip = zip::ZipArchive::new(file).unwrap();
        let manifest = zip.by_name("manifest.json").unwrap();
        serde_json::from_reader(manifest).unwrap()
    }

    /// A profile whose only command never ends and leaves a grandchild: the collection still
    /// succeeds, the manifest says it timed out after 10 s, and the grandchild is gone.
    #[test]
    fn a_command_that_never_ends_is_killed_with_its_grandchild_and_recorded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("root")).unwrap();
        let pid_file = dir.path().join("grandchild.pid");
        let script = dir.path().join("hang.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nsleep 1000 &\necho $! > {}\necho waiting for ever\nwhile :; do sleep 1; done\n",
                pid_file.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut profile = Profile::builtin().clone();
        let list = match TargetOs::current() {
            TargetOs::Linux => &mut profile.parity.linux,
            TargetOs::Macos => &mut profile.parity.macos,
            TargetOs::Windows => &mut profile.parity.windows,
        };
        list.files.clear();
        list.per_user.clear();
        list.journal = None;
        list.commands = vec![CommandItem {
            name: "hang".into(),
            program: vec![script.display().to_string()],
            args: Vec::new(),
            source: "commands".into(),
            timeout: None, // the default: 10 s
            filter: None,
            keep: Keep::Tail,
            default_since: None,
            parse: None,
        }];
        let manifest = collect_live_with(&profile, dir.path(), Options::default());
        let run = manifest.commands.iter().find(|c| c.name == "hang").unwrap();
        assert_eq!(run.status, "timed out");
        assert_eq!(run.reason.as_deref(), Some("timed out after 10 s"));
        assert_eq!(run.entry.as_deref(), Some("commands/hang.txt"));
        let entry = manifest
            .entries
            .iter()
            .find(|e| e.name == "commands/hang.txt")
            .unwrap();
        assert!(
            entry
                .truncated_reason
                .as_deref()
                .unwrap()
                .contains("timed out after 10 s")
        );
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"))
        });
        assert!(gone, "the grandchild {pid} outlived the timeout");
    }

    /// The budget stops commands from starting once it is used up, and a source turned off is
    /// recorded as such, not run.
    #[test]
    fn the_time_budget_and_the_off_switches_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("root")).unwrap();
        let mut profile = Profile::builtin().clone();
        let list = match TargetOs::current() {
            TargetOs::Linux => &mut profile.parity.linux,
            TargetOs::Macos => &mut profile.parity.macos,
            TargetOs::Windows => &mut profile.parity.windows,
        };
        list.files.clear();
        list.per_user.clear();
        list.journal = None;
        let item = |name: &str, source: &str, args: &[&str]| CommandItem {
            name: name.into(),
            program: vec!["/bin/sh".into()],
            args: args.iter().map(|a| a.to_string()).collect(),
            source: source.into(),
            timeout: None,
            filter: None,
            keep: Keep::Tail,
            default_since: None,
            parse: None,
        };
        list.commands = vec![
            item("slow", "commands", &["-c", "sleep 30"]),
            item("after", "commands", &["-c", "echo never"]),
            item("private", "users", &["-c", "echo users"]),
        ];
        let manifest = collect_live_with(
            &profile,
            dir.path(),
            Options {
                budget: Duration::from_secs(1),
                skip: vec!["users".into()],
            },
        );
        let status = |name: &str| manifest.commands.iter().find(|c| c.name == name).unwrap();
        assert_eq!(status("slow").status, "timed out");
        assert!(
            status("slow")
                .reason
                .as_deref()
                .unwrap()
                .contains("collection time budget")
        );
        assert_eq!(status("after").status, "not run");
        assert!(
            status("after")
                .reason
                .as_deref()
                .unwrap()
                .contains("budget of 1 s was used up")
        );
        assert_eq!(status("private").status, "turned off");
    }
}
