//! Gathering one case bundle: logs, agent files, system facts, screenshots, form.
//!
//! Everything read goes through [`jcdiag_fs::fsafe`] (no links, regular files only) and every text
//! entry through the scrubber before it reaches the [`BundleWriter`]. Whatever is looked for and
//! not found, or found and refused, is written down in the manifest: a bundle is allowed to be
//! partial, never silently so.

pub mod parity;
pub mod summary;
pub mod system;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::bundle::{self, BundleError, BundleWriter};
use crate::findings;
use crate::form::CaseForm;
use crate::manifest::{self, Entry, Manifest};
use crate::record::{POLL_INTERVAL, Recording, Watch};
use jcdiag_fs::fsafe::{self, Refusal, Trust};
use jcdiag_profile::Profile;
use jcdiag_profile::target::TargetOs;
use jcdiag_protocol::SystemFacts;
use jcdiag_scrub::obfuscate::{Category, KnownNames, Obfuscator};
use jcdiag_scrub::{Scrubbed, Scrubber};

use crate::sources::logs::Located;
use crate::sources::{Caps, Screenshot, logs};
pub use system::RunInfo;

/// Agent config files are one line of JSON; anything near this size is not one.
const AGENT_FILE_CAP: u64 = 1 << 20;
/// How many ERROR lines of jcagent.log the summary shows.
const SUMMARY_ERROR_LINES: usize = 20;

/// Everything one collection needs.
pub struct Request<'a> {
    pub profile: &'a Profile,
    pub scrubber: &'a Scrubber,
    pub os: TargetOs,
    pub sysroot: PathBuf,
    /// Collecting the running system itself (no `--sysroot`, this OS).
    pub live: bool,
    pub trust: Trust,
    pub caps: Caps,
    pub since: Option<Duration>,
    pub screenshots: Vec<Screenshot>,
    pub form: &'a CaseForm,
    /// `case.json` as the caller built it (form, tier, severity, response target…).
    pub case: Value,
    pub run: RunInfo,
    /// `--out`: a folder, or the bundle's file path.
    pub out: PathBuf,
    pub now: DateTime<Utc>,
    /// `--dry-run`: measure and scrub everything, write nothing.
    pub dry_run: bool,
    /// What `jcdiag record` captured: stored under `logs/recorded/`.
    pub recording: Option<Recording>,
    /// Files left out before collecting (e.g. a found screenshot that is not an image), with why.
    pub skipped: Vec<(String, String)>,
    /// `--obfuscate`: what to replace by aliases besides the secrets.
    pub obfuscate: Vec<Category>,
    /// Told what is being done now, for a progress display.
    pub progress: &'a dyn Fn(&str),
    /// Network checks already run (`submit`), added to findings.json; `collect` has none.
    pub network: findings::NetworkFindings,
    /// The parity list's switches and the collection's time budget.
    pub parity: parity::Options,
}

/// Scrubbing, then (with `--obfuscate`) aliasing: what every text entry goes through.
struct Cleaner<'a> {
    scrubber: &'a Scrubber,
    hide: Option<Obfuscator>,
}

impl Cleaner<'_> {
    fn text(&self, bytes: &[u8]) -> Scrubbed {
        self.hide_in(self.scrubber.scrub_text(bytes))
    }

    fn json_document(&self, bytes: &[u8]) -> Result<Scrubbed, jcdiag_scrub::ScrubError> {
        self.scrubber
            .scrub_json_document(bytes)
            .map(|s| self.hide_in(s))
    }

    /// JSON jcdiag wrote itself: string values scrubbed, keys and numbers kept.
    fn json_strings(&self, bytes: &[u8]) -> Result<Scrubbed, jcdiag_scrub::ScrubError> {
        self.scrubber
            .scrub_json_strings(bytes)
            .map(|s| self.hide_in(s))
    }

    fn hide_in(&self, scrubbed: Scrubbed) -> Scrubbed {
        match &self.hide {
            Some(hide) => hide.apply(scrubbed),
            None => scrubbed,
        }
    }
}

/// What a finished collection produced.
#[derive(Debug, serde::Serialize)]
pub struct Outcome {
    pub bundle: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub host: String,
    /// With `--obfuscate`: the alias table, for the local mapping file (never in the bundle).
    #[serde(skip)]
    pub obfuscation: Option<Value>,
    /// Where the caller kept that table.
    #[serde(skip)]
    pub obfuscation_map: Option<PathBuf>,
    /// What the preview shows: every entry with its size and redactions.
    #[serde(skip)]
    pub entries: Vec<Entry>,
    /// What findings.json says, for the preview.
    #[serde(skip)]
    pub findings: jcdiag_protocol::Findings,
}

/// Builds the bundle. Fails only when no usable bundle can be written at all.
pub fn collect(mut req: Request) -> Result<Outcome, BundleError> {
    let started = Instant::now();
    let source = system::Source {
        os: req.os,
        sysroot: &req.sysroot,
        live: req.live,
        trust: req.trust,
    };
    let host = system::host_name(&source);
    let clean = Cleaner {
        scrubber: req.scrubber,
        hide: Obfuscator::new(&req.obfuscate, known_names(&req, &source, &host)),
    };
    let host = clean
        .hide
        .as_ref()
        .map_or(host.clone(), |h| h.host_alias(&host));
    let dest = bundle::destination(&req.out, &bundle::file_name(&host, req.now));
    let mut writer = if req.dry_run {
        BundleWriter::preview(&dest)
    } else {
        BundleWriter::create(&dest, req.now)?
    };
    let mut manifest = Manifest {
        schema: manifest::SCHEMA.into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created: req.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        target_os: req.os.name().into(),
        sysroot: req.sysroot.display().to_string(),
        ..Manifest::default()
    };
    let mut warnings = Vec::new();
    for (path, why) in std::mem::take(&mut req.skipped) {
        warnings.push(format!("skipped {path}: {why}"));
        manifest.skip(path, why);
    }

    (req.progress)("agent logs");
    let mut scan =
        findings::LogScan::new(&req.profile.findings, &req.profile.logs.timestamp_format);
    let main_log_errors = add_logs(
        &req,
        &clean,
        &mut writer,
        &mut manifest,
        &mut warnings,
        &mut scan,
    )?;
    if let Some(mut recording) = req.recording.take() {
        (req.progress)("recorded logs");
        add_recorded(&req, &clean, &mut recording, &mut writer, &mut manifest)?;
    }
    (req.progress)("agent configuration");
    let agent = add_agent_files(&req, &clean, &mut writer, &mut manifest)?;
    (req.progress)("OS logs, other agent files and commands");
    let os_logs = parity::add(&req, &clean, &mut writer, &mut manifest, started)?;
    (req.progress)("system facts");

    let layout = req.profile.layout(req.os);
    let system = SystemFacts {
        schema: jcdiag_protocol::SYSTEM_SCHEMA.into(),
        collection: jcdiag_protocol::Collection {
            target_os: req.os.name().into(),
            sysroot: req.sysroot.display().to_string(),
            live_system: req.live,
        },
        os: system::os_facts(&source),
        hostname: host.clone(),
        machine: system::machine_facts(&source),
        agent: jcdiag_protocol::AgentFacts {
            version: agent.version,
            system_key: agent.system_key,
            server_host: agent.server_host,
            region: agent.region,
            service: layout.service.clone(),
            process: system::agent_running(&source, &layout.process),
        },
        run: serde_json::to_value(&req.run).expect("run facts serialise"),
    };
    let system = serde_json::to_value(&system).expect("system facts serialise");
    let main_log = match &main_log_errors {
        Some(lines) => summary::MainLog::Collected(lines),
        None => summary::MainLog::NotCollected(&layout.main_log),
    };
    (req.progress)("findings");
    let found = findings::evaluate(
        &findings::Context {
            profile: req.profile,
            os: req.os,
            sysroot: &req.sysroot,
            live: req.live,
            trust: req.trust,
            now: req.now,
            in_bundle: true,
        },
        &scan,
        std::mem::take(&mut req.network),
    );
    let mut summary = summary::render(req.form, &req.case, &system, main_log, &manifest);
    summary::add_os_logs(&mut summary, &os_logs);
    let summary = findings::with_summary(summary, &found);
    let findings_json = serde_json::to_value(&found).expect("findings serialise");
    add_text(
        &clean,
        &mut writer,
        &mut manifest,
        "findings.json",
        &pretty(&findings_json),
        None,
    )?;
    add_text(
        &clean,
        &mut writer,
        &mut manifest,
        "system.json",
        &pretty(&system),
        None,
    )?;
    add_text(
        &clean,
        &mut writer,
        &mut manifest,
        "summary.txt",
        summary.as_bytes(),
        None,
    )?;
    add_text(
        &clean,
        &mut writer,
        &mut manifest,
        "case.json",
        &pretty(&req.case),
        None,
    )?;
    (req.progress)("screenshots");
    add_screenshots(req.screenshots, &mut writer, &mut manifest)?;
    (req.progress)("finishing the bundle");

    for (kind, count) in manifest.entries.iter().flat_map(|e| e.redactions.iter()) {
        *manifest.redactions.entry(kind.clone()).or_default() += count;
    }
    manifest.partial = !manifest.missing.is_empty() || !manifest.errors.is_empty();
    let entries = manifest.entries.clone();
    let listing = pretty(&serde_json::to_value(&manifest).expect("manifest serialises"));
    // Its strings are scrubbed like any text, its counts (under kind names such as
    // `password`) kept; it names source paths (user folders), so it is obfuscated too. The
    // counts in it are already final.
    let listing = clean
        .json_strings(&listing)
        .map_err(|source| BundleError::Scrub {
            name: "manifest.json".into(),
            source,
        })?;
    writer.add("manifest.json", listing)?;
    let bundle = writer.finish()?;
    let (sha256, size) = if req.dry_run {
        (String::new(), 0)
    } else {
        bundle::sha256_file(&bundle).map_err(|source| BundleError::Write {
            path: bundle.clone(),
            source,
        })?
    };
    Ok(Outcome {
        bundle,
        sha256,
        size,
        warnings,
        host,
        obfuscation: clean.hide.as_ref().map(Obfuscator::mapping),
        obfuscation_map: None,
        entries,
        findings: found,
    })
}

/// The names `--obfuscate hostnames,users` look for: they have no telling shape.
fn known_names(req: &Request, source: &system::Source, host: &str) -> KnownNames {
    let mut users = system::people(source, req.profile.accounts(req.os));
    let runner = &req.run.user;
    if !["root", "SYSTEM", "Administrator"].contains(&runner.as_str())
        && !runner.starts_with("uid ")
    {
        users.push(runner.clone());
    }
    users.extend(parity::managed_user_names(req, source));
    KnownNames {
        hosts: [Some(host.to_string()), sysinfo::System::host_name().ok()]
            .into_iter()
            .flatten()
            .collect(),
        users,
        keep_emails: req.form.email.iter().cloned().collect(),
    }
}

/// A log read and being scrubbed on a worker thread (see `add_logs`).
struct PendingLog<'scope> {
    located: Located,
    size_before: u64,
    truncated: Option<String>,
    modified: Option<SystemTime>,
    scrubbing: std::thread::ScopedJoinHandle<'scope, Scrubbed>,
}

/// Stores a log once its scrubbing is done; keeps the main log's last ERROR lines.
fn store_log(
    req: &Request,
    clean: &Cleaner,
    log: PendingLog<'_>,
    writer: &mut BundleWriter,
    manifest: &mut Manifest,
    scan: &mut findings::LogScan,
    error_lines: &mut Option<Vec<String>>,
) -> Result<(), BundleError> {
    let profile = req.profile;
    let main_log = &profile.layout(req.os).main_log;
    let scrubbed = clean.hide_in(
        log.scrubbing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
    );
    let located = log.located;
    let is_main = located.system_path.eq_ignore_ascii_case(main_log);
    let name = entry_name("logs", &located.system_path, req.os);
    let redactions = scrubbed.redactions().0.clone();
    // Signatures from the text as stored (scrubbed, so no secret reaches them), read while it
    // is compressed.
    let stored = writer.add_and_read(&name, scrubbed, &mut |text| {
        if is_main {
            *error_lines = Some(last_lines_with(
                text,
                &profile.logs.error_marker,
                SUMMARY_ERROR_LINES,
            ));
        }
        scan.scan(&name, text, is_main);
    })?;
    record_entry(
        manifest,
        stored,
        redactions,
        Some(&located.system_path),
        log.size_before,
        log.truncated,
        log.modified,
    );
    Ok(())
}

/// Adds the agent logs, newest first, within the caps. Returns the ERROR lines of jcagent.log,
/// or `None` when jcagent.log itself was not stored.
fn add_logs(
    req: &Request,
    clean: &Cleaner,
    writer: &mut BundleWriter,
    manifest: &mut Manifest,
    warnings: &mut Vec<String>,
    scan: &mut findings::LogScan,
) -> Result<Option<Vec<String>>, BundleError> {
    let profile = req.profile;
    let layout = profile.layout(req.os);
    let search = logs::find_logs(profile, req.os, &req.sysroot);
    manifest.not_found.extend(search.not_found);
    for (path, reason) in search.excluded {
        manifest.skip(path, reason);
    }
    let (mut opened, refused) = logs::open_newest_first(search.found, req.trust);
    let homes = crate::sources::per_user::homes(req.os, &req.sysroot, profile.accounts(req.os)).0;
    for (located, why) in refused {
        // A log in a home folder (jc-user-agent.log) is its owner's: theirs or root's is read.
        if let Refusal::NotOwnedByRoot(_) = why
            && let Some(home) = homes
                .iter()
                .find(|h| is_below(&located.system_path, &h.system_path))
        {
            let reopened = crate::sources::per_user::open(&located.root, &located.parts)
                .map_err(|why| why.to_string())
                .and_then(|file| home.check_owner(&file).map(|()| file));
            match reopened {
                Ok(file) => opened.push((located, file)),
                Err(why) => {
                    warnings.push(format!("skipped {}: {why}", located.system_path));
                    manifest.skip(&located.system_path, why);
                }
            }
            continue;
        }
        manifest.skip(&located.system_path, why.to_string());
        if why != Refusal::NotFound {
            warnings.push(format!("skipped {}: {why}", located.system_path));
        }
    }
    opened.sort_by_key(|(_, file)| std::cmp::Reverse(file.modified));
    let since_local = req.since.map(|d| chrono::Local::now().naive_local() - d);
    let since_system = req.since.and_then(|d| SystemTime::now().checked_sub(d));
    let mut budget = req.caps.total;
    let mut error_lines = None;
    let mut stored_any = false;
    // Logs are scrubbed on worker threads, a few at a time, while the next is read; they are
    // stored in the order read, so the bundle and any aliases (`--obfuscate`) do not depend
    // on which finished first.
    let parallelism = bundle::workers();
    std::thread::scope(|scope| -> Result<(), BundleError> {
        let mut pending: VecDeque<PendingLog<'_>> = VecDeque::new();
        for (located, mut file) in opened {
            if let (Some(limit), Some(modified)) = (since_system, file.modified)
                && modified < limit
            {
                manifest.skip(
                    &located.system_path,
                    "last written before --since: no entries in the window",
                );
                continue;
            }
            if budget == 0 {
                manifest.skip(
                    &located.system_path,
                    format!("total log cap of {} bytes reached", req.caps.total),
                );
                continue;
            }
            (req.progress)(&format!("reading and scrubbing {}", located.system_path));
            let cap = req.caps.per_file.min(budget);
            let text =
                match logs::read_log(&mut file, cap, since_local, &profile.logs.timestamp_format) {
                    Ok(text) => text,
                    Err(e) => {
                        manifest
                            .errors
                            .push(format!("{}: {e}", located.system_path));
                        continue;
                    }
                };
            if text.bytes.is_empty() && text.size_before > 0 && cap < req.caps.per_file {
                manifest.skip(
                    &located.system_path,
                    format!("total log cap of {} bytes reached", req.caps.total),
                );
                continue;
            }
            let mut truncated = text.truncated;
            if cap < req.caps.per_file && text.size_before > cap {
                truncated = truncated.map(|t| format!("{t}; total log cap reached"));
            }
            budget = budget.saturating_sub(text.bytes.len() as u64);
            let scrubber = clean.scrubber;
            let bytes = text.bytes;
            pending.push_back(PendingLog {
                located,
                size_before: text.size_before,
                truncated,
                modified: text.modified,
                scrubbing: scope.spawn(move || scrubber.scrub_owned(bytes)),
            });
            if pending.len() > parallelism
                && let Some(log) = pending.pop_front()
            {
                store_log(req, clean, log, writer, manifest, scan, &mut error_lines)?;
                stored_any = true;
            }
        }
        while let Some(log) = pending.pop_front() {
            store_log(req, clean, log, writer, manifest, scan, &mut error_lines)?;
            stored_any = true;
        }
        Ok(())
    })?;
    if !stored_any {
        let message = format!(
            "no agent log was found or readable (looked for {} and the other agent logs): is the JumpCloud agent installed?",
            layout.main_log
        );
        manifest.missing.push(message.clone());
        warnings.push(message);
    }
    Ok(error_lines)
}

/// Adds what `record` captured as `logs/recorded/<name>`, scrubbed, and the window to the
/// manifest.
fn add_recorded(
    req: &Request,
    clean: &Cleaner,
    recording: &mut Recording,
    writer: &mut BundleWriter,
    manifest: &mut Manifest,
) -> Result<(), BundleError> {
    let mut files = Vec::new();
    let mut used = BTreeSet::new();
    for log in &mut recording.logs {
        let mut entry = Value::Null;
        if log.bytes > 0 {
            match log.read(req.caps.per_file) {
                Ok((bytes, cut)) => {
                    let base = file_name(&log.system_path);
                    // Two logs of one name (one per user) keep their folders apart.
                    let name = if used.insert(base.to_ascii_lowercase()) {
                        format!("logs/recorded/{base}")
                    } else {
                        entry_name("logs/recorded", &log.system_path, req.os)
                    };
                    let truncated = cut.then(|| {
                        format!(
                            "kept the newest {} of {} bytes recorded (cap {} bytes), from a line start",
                            bytes.len(),
                            log.bytes,
                            req.caps.per_file
                        )
                    });
                    let scrubbed = clean.text(&bytes);
                    add_entry(
                        writer,
                        manifest,
                        &name,
                        Some(&log.system_path),
                        log.bytes,
                        Content::Text(scrubbed),
                        truncated,
                        None,
                    )?;
                    entry = json!(name);
                }
                Err(e) => manifest
                    .errors
                    .push(format!("recording of {}: {e}", log.system_path)),
            }
        }
        files.push(manifest::RecordedLog {
            source: log.system_path.clone(),
            entry: entry.as_str().map(str::to_string),
            bytes_recorded: log.bytes,
            lines_recorded: log.lines,
            rotations: log.rotations.into(),
            truncations: log.truncations.into(),
        });
    }
    manifest.recording = Some(manifest::Recording {
        start: recording.start_rfc3339(),
        end: recording.end_rfc3339(),
        watch: match &recording.watch {
            Watch::Events => "file events".to_string(),
            Watch::Polling(why) => {
                format!("polling every {} ms ({why})", POLL_INTERVAL.as_millis())
            }
        },
        file_events: recording.events,
        logs: files,
        new_screenshots: recording
            .new_screenshots
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        notes: recording.notes.clone(),
    });
    Ok(())
}

/// Adds the agent's config (secrets removed), version, log level and proxy config.
fn add_agent_files(
    req: &Request,
    clean: &Cleaner,
    writer: &mut BundleWriter,
    manifest: &mut Manifest,
) -> Result<system::AgentFacts, BundleError> {
    let layout = req.profile.layout(req.os);
    let mut facts = system::AgentFacts::default();
    let files = [
        (&layout.config, AgentFile::JsonConfig),
        (&layout.proxy_config, AgentFile::MaybeJson),
        (&layout.version_file, AgentFile::Text),
        (&layout.log_level_file, AgentFile::Text),
    ];
    for (system_path, kind) in files {
        // One folder at a time from the sysroot: a linked /opt/jc is refused, not followed.
        let parts = req.os.components(system_path);
        let mut file = match fsafe::open_below(&req.sysroot, &parts, req.trust) {
            Ok(file) => file,
            Err(Refusal::NotFound) => {
                manifest.not_found.push(system_path.clone());
                continue;
            }
            Err(why) => {
                manifest.skip(system_path, why.to_string());
                continue;
            }
        };
        let (bytes, truncated) = match file.read_tail(AGENT_FILE_CAP) {
            Ok(read) => read,
            Err(e) => {
                manifest.errors.push(format!("{system_path}: {e}"));
                continue;
            }
        };
        if truncated {
            manifest.skip(
                system_path,
                format!("over {AGENT_FILE_CAP} bytes: not an agent file"),
            );
            continue;
        }
        let scrubbed = match kind {
            AgentFile::JsonConfig => {
                read_agent_identity(req.profile, &bytes, &mut facts);
                clean.json_document(&bytes).map_err(|e| e.to_string())
            }
            AgentFile::MaybeJson => Ok(clean
                .json_document(&bytes)
                .unwrap_or_else(|_| clean.text(&bytes))),
            AgentFile::Text => Ok(clean.text(&bytes)),
        };
        let scrubbed = match scrubbed {
            Ok(s) => s,
            Err(why) => {
                manifest.skip(
                    system_path,
                    format!("not valid JSON ({why}); left out so no secret leaves unredacted"),
                );
                continue;
            }
        };
        if system_path == &layout.version_file {
            facts.version = Some(String::from_utf8_lossy(scrubbed.bytes()).trim().to_string());
        }
        let name = format!("agent/{}", file_name(system_path));
        add_entry(
            writer,
            manifest,
            &name,
            Some(system_path),
            bytes.len() as u64,
            Content::Text(scrubbed),
            None,
            file.modified,
        )?;
    }
    Ok(facts)
}

#[derive(Clone, Copy)]
enum AgentFile {
    /// jcagent.conf: must parse as JSON, or it is left out.
    JsonConfig,
    /// The proxy config's format is undocumented: JSON when it parses, else text rules.
    MaybeJson,
    Text,
}

/// The identifiers support needs from jcagent.conf (never the secrets).
fn read_agent_identity(profile: &Profile, raw: &[u8], facts: &mut system::AgentFacts) {
    let Ok(config) = serde_json::from_slice::<Value>(raw) else {
        return;
    };
    facts.system_key = config
        .get("systemKey")
        .and_then(Value::as_str)
        .map(str::to_string);
    facts.server_host = config
        .get("agentServerHost")
        .and_then(Value::as_str)
        .map(str::to_string);
    facts.region = facts
        .server_host
        .as_deref()
        .and_then(|h| profile.region_of(h))
        .map(str::to_string);
}

fn add_screenshots(
    shots: Vec<Screenshot>,
    writer: &mut BundleWriter,
    manifest: &mut Manifest,
) -> Result<(), BundleError> {
    let mut stored: BTreeMap<String, String> = BTreeMap::new(); // sha256 -> entry name
    for shot in shots {
        let source = shot.source.display().to_string();
        let size = shot.bytes().len() as u64;
        let base = shot
            .source
            .file_name()
            .map_or_else(|| "screenshot".into(), |n| n.to_string_lossy().into_owned());
        let mut name = format!("screenshots/{base}");
        let mut n = 2;
        while manifest.entries.iter().any(|e| e.name == name) {
            name = format!("screenshots/{n}-{base}");
            n += 1;
        }
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(shot.bytes()));
        if let Some(first) = stored.get(&sha) {
            manifest.skip(source, format!("the same image as {first}: stored once"));
            continue;
        }
        add_entry(
            writer,
            manifest,
            &name,
            Some(&source),
            size,
            Content::Image(shot),
            None,
            None,
        )?;
        stored.insert(sha, name);
    }
    Ok(())
}

/// Adds a text entry that jcdiag wrote (or read), scrubbed like everything else.
fn add_text(
    clean: &Cleaner,
    writer: &mut BundleWriter,
    manifest: &mut Manifest,
    name: &str,
    bytes: &[u8],
    source: Option<&str>,
) -> Result<(), BundleError> {
    let scrubbed = clean.text(bytes);
    add_entry(
        writer,
        manifest,
        name,
        source,
        bytes.len() as u64,
        Content::Text(scrubbed),
        None,
        None,
    )
}

/// What an entry holds: scrubbed text, or a screenshot stored as it is.
enum Content {
    Text(Scrubbed),
    Image(Screenshot),
}

#[allow(clippy::too_many_arguments)]
fn add_entry(
    writer: &mut BundleWriter,
    manifest: &mut Manifest,
    name: &str,
    source: Option<&str>,
    size_before: u64,
    content: Content,
    truncated: Option<String>,
    modified: Option<SystemTime>,
) -> Result<(), BundleError> {
    let (stored, redactions) = match content {
        Content::Text(text) => {
            let redactions = text.redactions().0.clone();
            (writer.add(name, text)?, redactions)
        }
        Content::Image(image) => (writer.add_image(name, image)?, BTreeMap::new()),
    };
    record_entry(
        manifest,
        stored,
        redactions,
        source,
        size_before,
        truncated,
        modified,
    );
    Ok(())
}

/// The manifest's line for an entry the writer has taken.
fn record_entry(
    manifest: &mut Manifest,
    stored: crate::bundle::Stored,
    redactions: BTreeMap<String, u64>,
    source: Option<&str>,
    size_before: u64,
    truncated: Option<String>,
    modified: Option<SystemTime>,
) {
    manifest.entries.push(Entry {
        name: stored.name,
        source: source.map(str::to_string),
        size_before,
        size_after: stored.size,
        sha256: stored.sha256,
        truncated: truncated.is_some(),
        truncated_reason: truncated,
        redactions,
        modified: modified
            .map(|m| DateTime::<Utc>::from(m).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    });
}

/// `logs/var/log/jcagent.log`, `logs/Windows/Temp/jcagent.log`: the system path below the root.
fn entry_name(prefix: &str, system_path: &str, os: TargetOs) -> String {
    format!("{prefix}/{}", os.components(system_path).join("/"))
}

/// Whether a system path lies below a folder (`/home/ana/x` below `/home/ana`).
fn is_below(path: &str, folder: &str) -> bool {
    path.len() > folder.len()
        && path[..folder.len()].eq_ignore_ascii_case(folder)
        && path[folder.len()..].starts_with(['/', '\\'])
}

fn file_name(system_path: &str) -> &str {
    system_path
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(system_path)
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("JSON values serialise");
    bytes.push(b'\n');
    bytes
}

/// The last `n` lines containing `marker`, oldest first.
fn last_lines_with(text: &[u8], marker: &str, n: usize) -> Vec<String> {
    let finder = memchr::memmem::Finder::new(marker.as_bytes());
    let mut lines: Vec<String> = text
        .split(|&b| b == b'\n')
        .rev()
        .filter(|line| finder.find(line).is_some())
        .take(n)
        .map(|line| String::from_utf8_lossy(line).trim_end().to_string())
        .collect();
    lines.reverse();
    lines
}

/// The preview a user consents to: every entry with its size and what was removed from it.
pub fn preview(entries: &[Entry]) -> String {
    let mut text = String::new();
    for entry in entries {
        let removed: Vec<String> = entry
            .redactions
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        let removed = if removed.is_empty() {
            String::new()
        } else {
            format!("  redacted: {}", removed.join(", "))
        };
        let cut = if entry.truncated { " (cut)" } else { "" };
        text.push_str(&format!(
            "  {:<48} {:>10} bytes{cut}{removed}\n",
            entry.name, entry.size_after
        ));
    }
    text.push_str("  manifest.json (the list above, with hashes and what was not found)\n");
    if let Some(note) = no_agent_log_note(entries.iter().map(|e| e.name.as_str())) {
        text.push_str(note);
    }
    text
}

/// Said on the preview and consent screens when a bundle's entries hold no agent log (all of
/// them are stored under `logs/`): the one thing support will miss most.
pub fn no_agent_log_note<'a>(mut names: impl Iterator<Item = &'a str>) -> Option<&'static str> {
    (!names.any(|name| name.starts_with("logs/"))).then_some(
        "No JumpCloud agent log was found: the case will hold no agent log \
         (manifest.json lists where jcdiag looked).\n",
    )
}

/// The folder a `--out` bundle lands in, for messages.
pub fn out_dir(out: &Path) -> &Path {
    if out.is_dir() {
        out
    } else {
        out.parent().unwrap_or(Path::new("."))
    }
}

/// Keeps `--obfuscate`'s alias → original table on this machine only, owner-only, in the
/// state folder: `obfuscation/<bundle name>.json`. It never enters the bundle.
pub fn keep_alias_table(
    state_dir: &Path,
    bundle: &Path,
    mapping: &Value,
) -> std::io::Result<PathBuf> {
    let dir = state_dir.join("obfuscation");
    jcdiag_fs::fsafe::create_private_dir(&dir)?;
    let stem = bundle.file_stem().unwrap_or_default().to_string_lossy();
    let path = dir.join(format!("{stem}.json"));
    let _ = std::fs::remove_file(&path);
    let mut file = jcdiag_fs::fsafe::create_private(&path)?;
    std::io::Write::write_all(&mut file, &serde_json::to_vec_pretty(mapping)?)?;
    file.sync_all()?;
    Ok(path)
}

/// The scrubber for a collection: the profile's secret key words and patterns, plus the words a
/// site adds in its config file (`secret_key_words`).
pub fn scrubber(
    profile: &Profile,
    extra_key_words: &[String],
) -> Result<Scrubber, jcdiag_scrub::ScrubError> {
    scrubber_with(profile, extra_key_words, &[])
}

/// [`scrubber`], with the provider rules a site turns off in its config file
/// (`disabled_secret_rules`, by id or kind).
pub fn scrubber_with(
    profile: &Profile,
    extra_key_words: &[String],
    disabled_rules: &[String],
) -> Result<Scrubber, jcdiag_scrub::ScrubError> {
    let mut key_words = profile.secrets.key_words.clone();
    key_words.extend(extra_key_words.iter().map(|w| w.to_lowercase()));
    let options = jcdiag_scrub::ScrubOptions {
        disabled_rules: disabled_rules.to_vec(),
    };
    Scrubber::with_options(&key_words, &profile.secrets.public_keys, &options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_errors_are_the_newest_error_lines_in_order() {
        let text = b"a [ERROR] one\nb [INFO] x\nc [ERROR] two\nd [ERROR] three\n";
        assert_eq!(
            last_lines_with(text, "[ERROR]", 2),
            ["c [ERROR] two", "d [ERROR] three"]
        );
    }

    #[test]
    fn entry_names_mirror_the_system_path() {
        assert_eq!(
            entry_name("logs", r"C:\Windows\Temp\jcagent.log", TargetOs::Windows),
            "logs/Windows/Temp/jcagent.log"
        );
        assert_eq!(
            entry_name("logs", "/var/log/jcagent.log.1", TargetOs::Linux),
            "logs/var/log/jcagent.log.1"
        );
    }
}
