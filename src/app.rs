//! Runs a parsed command line: layers the inputs, calls the library, prints the result.
//!
//! Output rules (SPEC "Machine-readable output"): `--json` prints one object on stdout and
//! nothing else there; `--silent` prints one result line; otherwise a short human report.
//! Problems go to stderr. Every outcome maps to one documented exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{
    Cli, CollectArgs, CollectionArgs, Command, ConfigureArgs, EscalateArgs, FormArgs, GlobalArgs,
    OutboxAction, OutboxArgs, RecordArgs, SendArgs, SlaArgs, SubmitArgs, Via, WhereArgs,
};
use crate::config::Config;
use crate::wizard::{Scope, Wizard};
use jcdiag_client::collect::{self, Caps, Outcome, RunInfo};
use jcdiag_client::deliver::{self, Api, Connection, DeliverError, DeliveryState, Outbox};
use jcdiag_client::form::CaseForm;
use jcdiag_client::record::{self, Recorder, Recording, Watch};
use jcdiag_fs::fsafe::Trust;
use jcdiag_fs::size::parse_size;
use jcdiag_profile::Profile;
use jcdiag_profile::sla::SlaProfile;
use jcdiag_profile::target::TargetOs;
use jcdiag_scrub::Scrubber;

/// A failure that produced nothing to report, with its exit code (SPEC "Exit codes").
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Exit 1: nothing usable was produced.
    #[error("{0}")]
    Internal(String),
    /// Exit 2: the message names the input and what is wrong with it.
    #[error("{0}")]
    Usage(String),
    /// Exit 4: the endpoint refused (bad token, unknown case).
    #[error("{0}")]
    Refused(String),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Internal(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Refused(_) => 4,
        }
    }
}

/// What a command reports. A non-zero `exit_code` with a report means the work was done in
/// part (a bundle kept in the outbox, exit 3 or 4) and `problem` says why.
pub struct Report {
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
    fn ok(json: Value, line: String, human: String) -> Report {
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

const DEFAULT_LOG_CAP: u64 = 10 << 20;
const DEFAULT_TOTAL_CAP: u64 = 64 << 20;
const DEFAULT_SCREENSHOT_CAP: u64 = 20 << 20;
/// Leaves a JumpCloud Command (120 s) room to print and exit.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(100);
/// A person waiting for an escalation gets the email draft sooner.
const ESCALATION_DEADLINE: Duration = Duration::from_secs(20);

/// Runs one command line; `None` means the output was already printed (completions, man page).
pub fn run(cli: Cli) -> Result<Option<Report>, Failure> {
    jcdiag_client::interrupt::install();
    let global = &cli.global;
    match cli.command {
        Some(Command::Collect(args)) => collect_command(global, *args).map(Some),
        Some(Command::Submit(args)) => {
            let scope = can_prompt(global).then_some(Scope::Required);
            submit_command(global, *args, scope).map(Some)
        }
        Some(Command::Record(args)) => record_command(global, *args).map(Some),
        Some(Command::Outbox(args)) => outbox_command(global, args).map(Some),
        Some(Command::Escalate(args)) => escalate_command(global, *args).map(Some),
        Some(Command::Sla(args)) => sla_command(global, args).map(Some),
        Some(Command::Completions { shell }) => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "jcdiag", &mut std::io::stdout());
            Ok(None)
        }
        Some(Command::Man(args)) => man_command(args),
        Some(Command::Configure(args)) => configure_command(global, args).map(|()| None),
        None if can_prompt(global) => {
            // `submit` parsed with no flags, so its JCDIAG_* variables still count.
            let args = match <Cli as clap::Parser>::parse_from(["jcdiag", "submit"]).command {
                Some(Command::Submit(args)) => *args,
                _ => SubmitArgs::default(),
            };
            submit_command(global, args, Some(Scope::Everything)).map(Some)
        }
        None => Err(Failure::Usage(
            "no command given and no terminal for the wizard: run `jcdiag submit --yes …` or `jcdiag collect …` (see `jcdiag --help`)"
                .into(),
        )),
    }
}

/// `jcdiag man`: prints one page (jcdiag's own, or a command's), or writes them all to `--out`.
fn man_command(args: crate::cli::ManArgs) -> Result<Option<Report>, Failure> {
    let pages = Cli::man_pages()
        .map_err(|e| Failure::Internal(format!("cannot render the man pages: {e}")))?;
    let Some(dir) = args.out else {
        let wanted = ["jcdiag"]
            .into_iter()
            .chain(args.command.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("-")
            + ".1";
        let Some((_, roff)) = pages.iter().find(|(name, _)| *name == wanted) else {
            return Err(Failure::Usage(format!(
                "man: no command `{}`; see `jcdiag --help` for the commands",
                args.command.join(" ")
            )));
        };
        std::io::Write::write_all(&mut std::io::stdout(), roff)
            .map_err(|e| Failure::Internal(format!("cannot print the man page: {e}")))?;
        return Ok(None);
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::Usage(format!("--out {}: {e}", dir.display())))?;
    let mut written = Vec::new();
    for (name, roff) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, roff)
            .map_err(|e| Failure::Usage(format!("--out {}: {e}", path.display())))?;
        written.push(path.display().to_string());
    }
    Ok(Some(Report::ok(
        json!({ "written": written }),
        format!("man pages={} dir={}", written.len(), dir.display()),
        format!(
            "Wrote {} man pages to {}: {}\n",
            written.len(),
            dir.display(),
            pages
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    )))
}

/// Whether questions may be asked: a person at a terminal, and no flag saying otherwise.
fn can_prompt(global: &GlobalArgs) -> bool {
    !(global.yes || global.silent || global.json)
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
}

/// The wizard on this process's terminal.
fn terminal_wizard() -> Wizard<'static, std::io::StdinLock<'static>, std::io::Stderr> {
    Wizard::new(
        std::io::stdin().lock(),
        std::io::stderr(),
        Profile::builtin(),
    )
}

/// Starts jcdiag's own log in the state folder (see [`jcdiag_client::logfile`]). A log that cannot be
/// written does not stop the run; it is said on stderr.
fn start_log(global: &GlobalArgs, config: &Config, command: &str) {
    let level = if global.verbose > 0 {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    match jcdiag_client::logfile::start(&state_dir(global, config), level) {
        Ok(_) => {
            // Flag values are not logged: `--token` would be one of them.
            tracing::info!(
                command,
                version = env!("CARGO_PKG_VERSION"),
                elevated = jcdiag_client::collect::system::is_elevated(),
                silent = global.silent,
                "run started"
            );
        }
        Err(e) if !(global.quiet || global.silent || global.json) => {
            eprintln!("warning: jcdiag's log cannot be written ({e}); going on without it");
        }
        Err(_) => {}
    }
}

/// `jcdiag configure`: empty values count as not given (an MSI passes every property).
fn configure_command(global: &GlobalArgs, args: ConfigureArgs) -> Result<(), Failure> {
    let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let mut values = Vec::new();
    if let Some(endpoint) = given(args.endpoint) {
        jcdiag_client::deliver::client::parse_endpoint(&endpoint)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        values.push(("endpoint", endpoint));
    }
    if let Some(token) = given(args.token) {
        values.push(("token", token));
    }
    if values.is_empty() {
        return Err(Failure::Usage(
            "nothing to configure: give --endpoint URL and/or --token TOKEN".into(),
        ));
    }
    let path = global.config.clone().unwrap_or_else(Config::default_path);
    Config::update(&path, &values).map_err(|e| Failure::Internal(e.to_string()))?;
    let keys: Vec<&str> = values.iter().map(|(key, _)| *key).collect();
    println!("{}: set {}", path.display(), keys.join(", "));
    Ok(())
}

fn load_config(global: &GlobalArgs) -> Result<Config, Failure> {
    Config::load(global.config.as_deref()).map_err(|e| Failure::Usage(e.to_string()))
}

/// What a bundle holds beyond what `collect` gathers by itself.
#[derive(Default)]
struct Extras {
    /// `record`'s window.
    recording: Option<Recording>,
    /// Images found in the screenshot folders (not named by the user), already agreed to.
    found_screenshots: Vec<PathBuf>,
}

fn collect_command(global: &GlobalArgs, args: CollectArgs) -> Result<Report, Failure> {
    let config = load_config(global)?;
    if !args.collection.dry_run {
        start_log(global, &config, "collect");
    }
    let form = layered_form(&args.form, &config)?;
    form.validate(&[])
        .map_err(|e| Failure::Usage(e.to_string()))?;
    collect_with(global, &config, &form, &args, Extras::default(), "collect")
}

fn collect_with(
    global: &GlobalArgs,
    config: &Config,
    form: &CaseForm,
    args: &CollectArgs,
    extras: Extras,
    command: &str,
) -> Result<Report, Failure> {
    let out = configured_out(&args.collection, config).unwrap_or_else(|| PathBuf::from("."));
    let outcome = build_bundle(
        global,
        config,
        form,
        &args.place,
        &args.collection,
        out,
        command,
        extras,
    )?;
    if args.collection.dry_run {
        return Ok(preview_report(outcome));
    }
    let path = outcome.bundle.display().to_string();
    let mut report = Report::ok(
        bundle_json(&outcome),
        format!(
            "ok bundle={path} size={} sha256={} warnings={}",
            outcome.size,
            outcome.sha256,
            outcome.warnings.len()
        ),
        format!(
            "Bundle written: {path}\n  {} entries, {} bytes, sha256 {}\n{}",
            outcome.entries.len() + 1,
            outcome.size,
            outcome.sha256,
            alias_table_line(&outcome)
        ),
    );
    report.warnings = outcome.warnings;
    Ok(report)
}

/// Where `--obfuscate`'s alias table was kept, for the human report.
fn alias_table_line(outcome: &Outcome) -> String {
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

/// `--out` (flag or environment), else the config file's `out`.
fn configured_out(collection: &CollectionArgs, config: &Config) -> Option<PathBuf> {
    collection.out.clone().or(config.out.clone())
}

fn bundle_json(outcome: &Outcome) -> Value {
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

/// The log caps: flag/env > config file > default.
fn caps(collection: &CollectionArgs, config: &Config) -> Result<Caps, Failure> {
    Ok(Caps {
        per_file: size_setting(
            collection.max_log_size,
            config.max_log_size.as_deref(),
            "max_log_size",
            DEFAULT_LOG_CAP,
        )?,
        total: size_setting(
            collection.max_total_log_size,
            config.max_total_log_size.as_deref(),
            "max_total_log_size",
            DEFAULT_TOTAL_CAP,
        )?,
    })
}

/// Which layout, where, and whether it is the running system itself.
fn place_of(place: &WhereArgs) -> Result<(TargetOs, PathBuf, bool), Failure> {
    let os = place.target_os.unwrap_or_else(TargetOs::current);
    let live = place.sysroot.is_none() && os == TargetOs::current();
    let sysroot = place
        .sysroot
        .clone()
        .unwrap_or_else(TargetOs::default_sysroot);
    if !sysroot.is_dir() {
        return Err(Failure::Usage(format!(
            "--sysroot {}: not a folder; give the root of the system disk to collect from",
            sysroot.display()
        )));
    }
    Ok((os, sysroot, live))
}

fn check_out(out: &Path) -> Result<(), Failure> {
    if !collect::out_dir(out).is_dir() {
        return Err(Failure::Usage(format!(
            "--out {}: the folder does not exist; create it or choose another",
            out.display()
        )));
    }
    Ok(())
}

/// Whether a terminal user is there to answer questions.
/// Asks a yes/no question on the terminal; anything but yes is no.
fn ask(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok()
        && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Offers images from the screenshot folders: asked on a terminal; unattended, `given` decides.
fn offer_screenshots(
    global: &GlobalArgs,
    what: &str,
    found: Vec<PathBuf>,
    given: bool,
) -> Vec<PathBuf> {
    if found.is_empty() {
        return found;
    }
    if !can_prompt(global) || given {
        return if given { found } else { Vec::new() };
    }
    let list: String = found
        .iter()
        .map(|p| format!("  {}\n", p.display()))
        .collect();
    if ask(&format!("{what}:\n{list}Add them to the case?")) {
        found
    } else {
        Vec::new()
    }
}

/// Collects a bundle into `out` with every input layered and checked.
#[allow(clippy::too_many_arguments)]
fn build_bundle(
    global: &GlobalArgs,
    config: &Config,
    form: &CaseForm,
    place: &WhereArgs,
    collection: &CollectionArgs,
    out: PathBuf,
    command: &str,
    extras: Extras,
) -> Result<Outcome, Failure> {
    let profile = Profile::builtin();
    let caps = caps(collection, config)?;
    let screenshot_cap = size_setting(
        collection.max_screenshot_size,
        config.max_screenshot_size.as_deref(),
        "max_screenshot_size",
        DEFAULT_SCREENSHOT_CAP,
    )?;
    // Screenshots are checked before anything is written: a bad one is a usage error.
    let mut screenshots = form
        .screenshot
        .iter()
        .map(|p| collect::screenshots::read(p, screenshot_cap))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::Usage(e.to_string()))?;

    let (os, sysroot, live) = place_of(place)?;
    check_out(&out)?;

    // Images found in the screenshot folders: `--screenshots-since` (the flag is the request;
    // a terminal user is asked) and those `record` saw appear. A bad one is left out, noted.
    let mut found = extras.found_screenshots;
    if let Some(since) = collection.screenshots_since {
        let from = std::time::SystemTime::now()
            .checked_sub(since)
            .unwrap_or(std::time::UNIX_EPOCH);
        let recent = collect::screenshots::recent(profile, os, &sysroot, live, from)
            .into_iter()
            .filter(|p| !found.contains(p))
            .collect();
        found.extend(offer_screenshots(
            global,
            "Images saved in the screenshot folders within --screenshots-since",
            recent,
            !can_prompt(global),
        ));
    }
    let mut skipped = Vec::new();
    for path in found {
        if screenshots.iter().any(|s| s.source == path) {
            continue;
        }
        match collect::screenshots::read(&path, screenshot_cap) {
            Ok(shot) => screenshots.push(shot),
            Err(e) => skipped.push((path.display().to_string(), e.to_string())),
        }
    }

    let mut key_words = profile.secrets.key_words.clone();
    key_words.extend(config.secret_key_words.iter().map(|w| w.to_lowercase()));
    let scrubber = Scrubber::new(&key_words, &profile.secrets.public_keys)
        .map_err(|e| Failure::Internal(format!("the secret rules cannot be built: {e}")))?;

    let now = chrono::Utc::now();
    let interactive = std::io::stdin().is_terminal() && !global.silent;
    let run = RunInfo::detect(command, global.silent, interactive);
    let trust = Trust {
        require_root_owner: run.elevated,
    };
    let sla = sla_terms(profile, config)?;
    let mut case = jcdiag_client::case::record(form, profile, &sla, now);
    if let Some(recording) = &extras.recording {
        case["recording"] = json!({
            "start": recording.start_rfc3339(),
            "end": recording.end_rfc3339(),
        });
    }
    let spinner = collection_spinner(global);
    let step = |what: &str| spinner.set_message(what.to_string());
    let collected = collect::collect(collect::Request {
        profile,
        scrubber: &scrubber,
        os,
        sysroot,
        live,
        trust,
        caps,
        since: collection.since,
        screenshots,
        form,
        case,
        run,
        out,
        now,
        dry_run: collection.dry_run,
        obfuscate: collection.obfuscate.clone(),
        progress: &step,
        recording: extras.recording,
        skipped,
    });
    spinner.finish_and_clear();
    let mut outcome = collected.map_err(|e| Failure::Internal(e.to_string()))?;
    if !collection.dry_run {
        let mut redactions = jcdiag_scrub::Redactions::default();
        for entry in &outcome.entries {
            redactions.add(&jcdiag_scrub::Redactions(entry.redactions.clone()));
        }
        tracing::info!(
            bundle = %outcome.bundle.display(),
            size = outcome.size,
            sha256 = %outcome.sha256,
            entries = outcome.entries.len(),
            redactions = ?redactions.0,
            "bundle written"
        );
        for warning in &outcome.warnings {
            tracing::warn!("{warning}");
        }
    }
    if let (Some(mapping), false) = (&outcome.obfuscation, collection.dry_run) {
        match write_alias_table(&state_dir(global, config), &outcome.bundle, mapping) {
            Ok(path) => outcome.obfuscation_map = Some(path),
            Err(e) => outcome.warnings.push(format!(
                "the alias table of --obfuscate could not be kept ({e}): the aliases in the bundle cannot be traced back"
            )),
        }
    }
    Ok(outcome)
}

/// Keeps `--obfuscate`'s alias → original table on this machine only, owner-only, in the
/// state folder: `obfuscation/<bundle name>.json`. It never enters the bundle.
fn write_alias_table(state_dir: &Path, bundle: &Path, mapping: &Value) -> std::io::Result<PathBuf> {
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

/// The `--dry-run` report: what would be sent, nothing written.
fn preview_report(outcome: Outcome) -> Report {
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
            "Would send (nothing was written):\n{}",
            collect::preview(&outcome.entries)
        ),
    );
    report.warnings = outcome.warnings;
    report
}

/// Consent before anything leaves the machine: `--yes`/`--silent`, or a "yes" typed at a
/// terminal after the preview. Without a terminal and without `--yes`, nothing is sent.
fn consent(global: &GlobalArgs, preview: &str) -> Result<(), Failure> {
    if global.yes || global.silent {
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(Failure::Usage(
            "consent: no terminal to ask on; pass --yes (or --silent) to send without asking"
                .into(),
        ));
    }
    if ask(&format!(
        "These files will be sent to JumpCloud support:\n{preview}Send them?"
    )) {
        Ok(())
    } else {
        Err(Failure::Usage(
            "consent: not given; nothing was sent".into(),
        ))
    }
}

/// What `submit` settles before collecting: the form (asked for on a terminal), the way the
/// case travels (endpoint, with its TLS settings, or email) and jcdiag's log.
struct SubmitPlan {
    config: Config,
    form: CaseForm,
    /// `None` for `--via email`.
    api: Option<Api>,
    smtp: Option<jcdiag_client::email::SmtpTarget>,
}

/// `submit`, and the wizard (`jcdiag` alone): `ask` says which missing fields to prompt for
/// (`None`: unattended, never prompt).
fn submit_command(
    global: &GlobalArgs,
    mut args: SubmitArgs,
    ask: Option<Scope>,
) -> Result<Report, Failure> {
    let plan = plan_submit(global, &mut args, ask, "submit")?;
    submit_planned(global, args, plan, Extras::default())
}

fn plan_submit(
    global: &GlobalArgs,
    args: &mut SubmitArgs,
    ask: Option<Scope>,
    command: &str,
) -> Result<SubmitPlan, Failure> {
    let config = load_config(global)?;
    let mut form = layered_form(&args.collect.form, &config)?;
    // Adding to an existing case needs no new form; a new case needs what support triages by.
    let required: &[&str] = if form.case.is_some() || args.bundle.is_some() {
        &[]
    } else {
        &["description", "severity", "tier", "email"]
    };
    if let Some(scope) = ask {
        let screenshot_cap = size_setting(
            args.collect.collection.max_screenshot_size,
            config.max_screenshot_size.as_deref(),
            "max_screenshot_size",
            DEFAULT_SCREENSHOT_CAP,
        )?;
        let check = |path: &Path| {
            collect::screenshots::read(path, screenshot_cap)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let mut wizard = terminal_wizard();
        let wizard_error = |e: crate::wizard::WizardError| Failure::Usage(e.to_string());
        wizard
            .fill(&mut form, required, scope, &check)
            .map_err(wizard_error)?;
        let by_endpoint = args.email.via == Via::Endpoint && !refused_for_tier(&form);
        if by_endpoint && args.send.endpoint.is_none() && config.endpoint.is_none() {
            args.send.endpoint = Some(
                wizard
                    .ask_required("Support endpoint URL (https://…): ")
                    .map_err(wizard_error)?,
            );
        }
        if by_endpoint && args.send.token.is_none() && config.token.is_none() {
            args.send.token = Some(
                wizard
                    .ask_required("Upload token (from your support contact): ")
                    .map_err(wizard_error)?,
            );
        }
    }
    form.validate(required)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    if !args.collect.collection.dry_run {
        start_log(global, &config, command);
    }
    let by_email = args.email.via == Via::Email;
    // Settle TLS and proxy settings before collecting: a bad --ca-file is a usage error,
    // not a case stuck in the outbox. A free-tier case is refused for its tier first, so
    // nothing about sending is asked of it.
    let api = if by_email || refused_for_tier(&form) {
        None
    } else {
        let connection = connection(&args.send, &config)?;
        Some(Api::new(connection).map_err(|e| Failure::Usage(e.to_string()))?)
    };
    let smtp = match (&args.email.smtp, by_email) {
        (Some(url), true) => Some(
            jcdiag_client::email::parse_smtp_url(url).map_err(|e| Failure::Usage(e.to_string()))?,
        ),
        _ => None,
    };
    Ok(SubmitPlan {
        config,
        form,
        api,
        smtp,
    })
}

/// A new case on the free tier: the guideline gives free accounts no support cases.
fn refused_for_tier(form: &CaseForm) -> bool {
    form.tier.as_deref() == Some("free") && form.case.is_none()
}

/// Collects (or takes the given bundle), asks consent, and delivers through the outbox (or
/// writes and sends the email).
fn submit_planned(
    global: &GlobalArgs,
    args: SubmitArgs,
    plan: SubmitPlan,
    extras: Extras,
) -> Result<Report, Failure> {
    let SubmitPlan {
        config,
        form,
        api,
        smtp,
    } = plan;
    let by_email = api.is_none();
    let profile = Profile::builtin();
    if refused_for_tier(&form) {
        let note = profile.sla.tiers[&jcdiag_profile::sla::Tier::Free]
            .no_target_note
            .clone()
            .unwrap_or_default();
        let out =
            configured_out(&args.collect.collection, &config).unwrap_or_else(|| PathBuf::from("."));
        let kept = match &args.bundle {
            Some(bundle) => bundle.clone(),
            None => {
                build_bundle(
                    global,
                    &config,
                    &form,
                    &args.collect.place,
                    &args.collect.collection,
                    out,
                    "submit",
                    extras,
                )?
                .bundle
            }
        };
        return Err(Failure::Usage(format!(
            "tier: free accounts cannot open support cases. {note} The bundle is kept at {}; attach it to a case once you have support.",
            kept.display()
        )));
    }

    let state_dir = state_dir(global, &config);
    let outbox = Outbox::new(&state_dir);
    let staging = state_dir.join("staging");
    jcdiag_fs::fsafe::create_private_dir(&staging).map_err(|e| {
        Failure::Usage(format!(
            "--state-dir {}: {e}; choose a writable folder",
            state_dir.display()
        ))
    })?;
    let (bundle, warnings, local_copy, case_json) = match &args.bundle {
        Some(bundle) => {
            let case_json = case_json_of(bundle)?;
            consent(global, &zip_listing(bundle)?)?;
            (bundle.clone(), Vec::new(), Some(bundle.clone()), case_json)
        }
        None => {
            // An emailed case keeps its bundle where the user can see it (default: here).
            let out = configured_out(&args.collect.collection, &config)
                .or_else(|| by_email.then(|| PathBuf::from(".")));
            let keep_local = out.is_some();
            let outcome = build_bundle(
                global,
                &config,
                &form,
                &args.collect.place,
                &args.collect.collection,
                out.unwrap_or(staging.clone()),
                if extras.recording.is_some() {
                    "record"
                } else {
                    "submit"
                },
                extras,
            )?;
            if args.collect.collection.dry_run {
                return Ok(preview_report(outcome));
            }
            // Ctrl-C while the question is open removes the bundle like a refusal does.
            let in_progress = jcdiag_client::interrupt::remove_if_interrupted(&outcome.bundle);
            let agreed = consent(global, &collect::preview(&outcome.entries));
            drop(in_progress);
            if let Err(refused) = agreed {
                if !keep_local {
                    let _ = std::fs::remove_file(&outcome.bundle);
                }
                return Err(refused);
            }
            let case_json = case_json_of(&outcome.bundle)?;
            let local = keep_local.then(|| outcome.bundle.clone());
            (outcome.bundle, outcome.warnings, local, case_json)
        }
    };
    let Some(api) = api else {
        return email_case(&args, &config, &form, &bundle, warnings, smtp.as_ref());
    };
    let state = DeliveryState {
        id: deliver::outbox::new_id(),
        created: deliver::outbox::now_rfc3339(),
        case_id: form.case.clone(),
        attach_to_existing: form.case.is_some(),
        endpoint: Some(api.endpoint().to_string()),
        // Absolute, so that a flush from another folder finds it.
        ca_file: args
            .send
            .ca_file
            .clone()
            .or(config.ca_file.clone())
            .map(|path| std::fs::canonicalize(&path).unwrap_or(path)),
        // A bundle added to a case has the case's target, which only the endpoint knows; the
        // bundle's own form may say another severity.
        response_due: if form.case.is_some() {
            None
        } else {
            case_json["response_due"].as_str().map(str::to_string)
        },
        ..DeliveryState::default()
    };
    let case_bytes = serde_json::to_vec(&case_json).expect("JSON serialises");
    // A bundle made just now in the staging folder is moved in; any other is copied.
    let take = local_copy.is_none();
    let entry = outbox
        .add(&bundle, take, &case_bytes, state)
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let shown_bundle = local_copy.unwrap_or_else(|| entry.bundle());
    let deadline = Instant::now()
        + args
            .send
            .deadline
            .or(config_deadline(&config)?)
            .unwrap_or(DEFAULT_DEADLINE);
    let (sha256, size) = (entry.state.sha256.clone(), entry.state.size);
    let outbox_id = entry.state.id.clone();
    let bar = upload_bar(global);
    let result = block_on(async {
        deliver::deliver(&api, &outbox, entry, deadline, chunk_size(&args.send), &bar).await
    })?;
    bar.0.finish_and_clear();
    let mut json = json!({
        "bundle": shown_bundle.display().to_string(),
        "sha256": sha256,
        "size": size,
        "warnings": warnings,
    });
    let mut report = match result {
        Ok(delivered) => {
            json["case_id"] = json!(delivered.case_id);
            json["status"] = json!("delivered");
            json["response_due"] = json!(delivered.response_due);
            let (received, target) = if form.case.is_some() {
                (
                    format!("Bundle added to case {}", delivered.case_id),
                    case_target(
                        profile,
                        &delivered.case_id,
                        delivered.response_due.as_deref(),
                        true,
                    ),
                )
            } else {
                let target = case_json["response_target"].as_str().unwrap_or_default();
                (
                    format!("Case {} received", delivered.case_id),
                    target.to_string(),
                )
            };
            Report::ok(
                json,
                format!(
                    "delivered case={} sha256={sha256} response_due={}",
                    delivered.case_id,
                    delivered.response_due.as_deref().unwrap_or("none")
                ),
                format!(
                    "{received} (receipt {}).\n  {target}\n  Bundle: {size} bytes, sha256 {sha256}\n",
                    delivered.receipt.receipt_id
                ),
            )
        }
        Err(failure) => {
            let code = failure.exit_code();
            if code == 1 || code == 2 {
                return Err(if code == 2 {
                    Failure::Usage(failure.to_string())
                } else {
                    Failure::Internal(failure.to_string())
                });
            }
            json["case_id"] = json!(form.case);
            json["status"] = json!("queued");
            // What the endpoint said about the case before the upload stopped, if it answered.
            let kept = outbox.get(&outbox_id).ok().map(|e| e.state);
            let answered = kept.as_ref().is_some_and(|s| s.upload_url.is_some());
            let known_due = kept.and_then(|s| s.response_due);
            let attached = form.case.as_deref().map(|id| {
                format!(
                    "  {}\n",
                    case_target(profile, id, known_due.as_deref(), answered)
                )
            });
            json["response_due"] = json!(attached.as_ref().and(known_due));
            // The outbox keeps the endpoint and CA file but never the token: name what a
            // flush still needs.
            let failure = if code == 3 {
                format!("{failure}; run `{}` to retry", flush_hint(global, &config))
            } else {
                failure.to_string()
            };
            json["error"] = json!(failure);
            // The email channel is the fallback the guideline itself names.
            let by_email = (code == 3).then(|| {
                format!(
                    "\nIf the endpoint stays unreachable, send the case by email instead:\n  jcdiag submit --via email --yes \"{}\"\n",
                    shown_bundle.display()
                )
            });
            Report {
                line: format!("queued outbox={outbox_id} exit={code}: {failure}"),
                human: format!(
                    "Case kept in the outbox as {outbox_id}.\n{}{}",
                    attached.unwrap_or_default(),
                    by_email.unwrap_or_default()
                ),
                json,
                warnings: Vec::new(),
                exit_code: code,
                problem: Some(failure.to_string()),
            }
        }
    };
    report.warnings = warnings;
    Ok(report)
}

/// The response target of an existing case, as the endpoint gave it (`due`: RFC 3339, `answered`:
/// whether it answered at all), in the support time zone like a new case's target.
fn case_target(profile: &Profile, case_id: &str, due: Option<&str>, answered: bool) -> String {
    if !answered {
        return format!(
            "Case {case_id}: response target not known yet (the endpoint has not answered about the case)"
        );
    }
    match due.map(chrono::DateTime::parse_from_rfc3339) {
        Some(Ok(due)) => format!(
            "Case {case_id}: first response due by {} (the case's target, from the endpoint)",
            due.with_timezone(&profile.sla.support_hours.time_zone)
                .format("%a %Y-%m-%d %H:%M %Z")
        ),
        Some(Err(_)) => format!(
            "Case {case_id}: response target {} (from the endpoint)",
            due.unwrap_or_default()
        ),
        None => format!("Case {case_id}: the endpoint gives no response target for this case"),
    }
}

/// The `outbox flush` command that resumes a queued case: the token when no config file gives
/// it, and the state folder when it did not come from the config file or the default.
fn flush_hint(global: &GlobalArgs, config: &Config) -> String {
    let mut hint = "jcdiag outbox flush".to_string();
    if let Some(dir) = &global.state_dir {
        hint += &format!(" --state-dir \"{}\"", dir.display());
    }
    if config.token.is_none() {
        hint += " --token …";
    }
    hint
}

/// `record`: watch the logs and screenshot folders until Ctrl-C, `--for` or `--stop-file`,
/// then bundle like `collect`, or send like `submit` with `--submit`. Everything that could
/// refuse the bundle or the upload is checked before the recording starts.
fn record_command(global: &GlobalArgs, args: RecordArgs) -> Result<Report, Failure> {
    let RecordArgs {
        duration,
        stop_file,
        submit,
        poll,
        include_new_screenshots,
        collect,
        send,
    } = args;
    let mut submit_args = SubmitArgs {
        bundle: None,
        collect,
        send,
        email: Default::default(),
    };
    let plan = if submit {
        let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        if !(global.yes || global.silent || terminal) {
            return Err(Failure::Usage(
                "consent: no terminal to ask on after the recording; pass --yes (or --silent) to send without asking"
                    .into(),
            ));
        }
        let ask = can_prompt(global).then_some(Scope::Required);
        Some(plan_submit(global, &mut submit_args, ask, "record")?)
    } else {
        None
    };
    let config = load_config(global)?;
    if !submit {
        start_log(global, &config, "record");
    }
    let form = layered_form(&submit_args.collect.form, &config)?;
    form.validate(&[])
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let collection = &submit_args.collect.collection;
    if let Some(out) = configured_out(collection, &config) {
        check_out(&out)?;
    } else if !submit {
        check_out(Path::new("."))?;
    }
    let (os, sysroot, live) = place_of(&submit_args.collect.place)?;
    let caps = caps(collection, &config)?;
    let mut recorder = Recorder::start(record::Options {
        profile: Profile::builtin(),
        os,
        sysroot,
        live,
        trust: Trust {
            require_root_owner: jcdiag_client::collect::system::is_elevated(),
        },
        poll,
        per_file_cap: caps.per_file,
    })
    .map_err(|e| Failure::Internal(e.to_string()))?;
    let window = jcdiag_client::interrupt::begin_recording();
    let talk = !global.quiet;
    if talk {
        let how = match recorder.watch() {
            Watch::Events => "watching for file events".to_string(),
            Watch::Polling(why) => format!("polling ({why})"),
        };
        let until = match duration {
            Some(d) => format!("for {}s, or until Ctrl-C", d.as_secs()),
            None => "until Ctrl-C".into(),
        };
        eprintln!(
            "jcdiag: recording since {} ({how}); reproduce the problem now. Recording {until}.",
            recorder
                .start_time()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
    }
    let deadline = duration.map(|d| Instant::now() + d);
    let stop = || {
        window.stop_requested()
            || deadline.is_some_and(|d| Instant::now() >= d)
            || stop_file.as_deref().is_some_and(|f| f.exists())
    };
    let live_status = talk && !global.silent && !global.json && std::io::stderr().is_terminal();
    let mut show = |status: &record::Status| {
        if live_status {
            eprint!("\r\x1b[2K{}", status_line(status));
        }
    };
    let result = recorder.run(&stop, &mut show);
    drop(window);
    if live_status {
        eprint!("\r\x1b[2K");
    }
    result.map_err(|e| Failure::Internal(e.to_string()))?;
    let recording = recorder
        .finish()
        .map_err(|e| Failure::Internal(e.to_string()))?;
    if talk {
        let lines: u64 = recording.logs.iter().map(|l| l.lines).sum();
        eprintln!(
            "jcdiag: recorded {} to {}: {lines} log lines, {} new screenshots",
            recording.start_rfc3339(),
            recording.end_rfc3339(),
            recording.new_screenshots.len()
        );
    }
    let window = json!({ "start": recording.start_rfc3339(), "end": recording.end_rfc3339() });
    let found_screenshots = offer_screenshots(
        global,
        "Screenshots taken during the recording",
        recording.new_screenshots.clone(),
        include_new_screenshots,
    );
    let extras = Extras {
        recording: Some(recording),
        found_screenshots,
    };
    let mut report = match plan {
        Some(plan) => submit_planned(global, submit_args, plan, extras)?,
        None => collect_with(
            global,
            &config,
            &form,
            &submit_args.collect,
            extras,
            "record",
        )?,
    };
    if report.json.is_object() && !report.json.get("dry_run").is_some_and(|v| v == true) {
        report.json["recording"] = window;
    }
    Ok(report)
}

/// `recording 01:05  jcagent.log 120 lines, jcUpdate.log 3 lines  screenshots 1  (Ctrl-C ends)`
fn status_line(status: &record::Status) -> String {
    let secs = status.elapsed.as_secs();
    let logs = if status.logs.is_empty() {
        "no log lines yet".to_string()
    } else {
        status
            .logs
            .iter()
            .map(|(name, lines)| format!("{name} {lines} lines"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "recording {:02}:{:02}  {logs}  screenshots {}  (Ctrl-C ends)",
        secs / 60,
        secs % 60,
        status.screenshots
    )
}

/// The entries of a bundle made earlier, for the consent preview.
fn zip_listing(bundle: &Path) -> Result<String, Failure> {
    let bad =
        |why: String| Failure::Usage(format!("{}: not a zip bundle ({why})", bundle.display()));
    let file = std::fs::File::open(bundle).map_err(|e| bad(e.to_string()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let mut text = String::new();
    let mut names = Vec::new();
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
        let name = entry.name().map(|n| n.to_string()).unwrap_or_default();
        text.push_str(&format!("  {name:<48} {:>10} bytes\n", entry.size()));
        names.push(name);
    }
    if let Some(note) = collect::no_agent_log_note(names.iter().map(String::as_str)) {
        text.push_str(note);
    }
    Ok(text)
}

/// The case record inside a bundle (what the endpoint is sent when the case is created).
/// `submit --via email`: the case as an email beside the bundle (`<bundle>.eml`), sent when
/// `--smtp` is given. The bundle stays where it is; nothing goes to the outbox.
fn email_case(
    args: &SubmitArgs,
    config: &Config,
    form: &CaseForm,
    bundle: &Path,
    warnings: Vec<String>,
    smtp: Option<&jcdiag_client::email::SmtpTarget>,
) -> Result<Report, Failure> {
    let profile = Profile::builtin();
    // A bundle made earlier carries its form: flags given now win, case.json fills the rest.
    let case = case_json_of(bundle)?;
    let recorded = |path: &[&str]| {
        path.iter()
            .try_fold(&case, |v, key| v.get(*key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let from = form
        .email
        .clone()
        .or_else(|| recorded(&["form", "contact", "email"]));
    let Some(from) = from.as_deref() else {
        return Err(Failure::Usage(
            "email: needed to send the case by email (it is the sender); give --email".into(),
        ));
    };
    let name = form
        .name
        .clone()
        .or_else(|| recorded(&["form", "contact", "name"]));
    let description = form
        .description
        .clone()
        .or_else(|| recorded(&["form", "description"]))
        .unwrap_or_default();
    let severity = form.severity.or_else(|| {
        case["severity"]["level"]
            .as_u64()
            .and_then(|l| u8::try_from(l).ok())
    });
    let partner = form.partner == Some(true) || case["form"]["partner"] == json!(true);
    let (sha256, size) = jcdiag_client::bundle::sha256_file(bundle)
        .map_err(|e| Failure::Internal(format!("{}: {e}", bundle.display())))?;
    let summary = zip_text(bundle, "summary.txt")?;
    let limit = args
        .email
        .attachment_limit
        .unwrap_or(jcdiag_client::email::DEFAULT_ATTACHMENT_LIMIT);
    let mail = jcdiag_client::email::CaseMail {
        from,
        from_name: name.as_deref(),
        partner,
        severity,
        description: &description,
        existing_case: form.case.as_deref(),
        summary: &summary,
        bundle,
        bundle_size: size,
        bundle_sha256: &sha256,
        attachment_limit: limit,
    };
    let email_error = |e: jcdiag_client::email::EmailError| match e {
        jcdiag_client::email::EmailError::Usage(m) => Failure::Usage(m),
        other => Failure::Internal(other.to_string()),
    };
    let (message, attached) =
        jcdiag_client::email::case_message(profile, &mail).map_err(email_error)?;
    let eml = bundle.with_extension("eml");
    jcdiag_client::email::write_eml(&eml, &message).map_err(email_error)?;
    tracing::info!(eml = %eml.display(), attached, "case written as an email");
    let eml_text = eml.display().to_string();
    let mut json = json!({
        "bundle": bundle.display().to_string(),
        "sha256": sha256,
        "size": size,
        "warnings": warnings,
        "case_id": form.case,
        "response_due": case["response_due"],
        "eml": eml_text,
    });
    let attachment = if attached {
        "the bundle is attached"
    } else {
        "the bundle is too large to attach: the message says where it is and how to upload it"
    };
    let Some(target) = smtp else {
        json["status"] = json!("drafted");
        let mut report = Report::ok(
            json,
            format!("drafted eml={eml_text} sha256={sha256}"),
            format!(
                "The case is written as an email to send from your mail client: {eml_text}
  ({attachment})
  To send it from here instead, give --smtp smtps://user@your-mail-server.
"
            ),
        );
        report.warnings = warnings;
        return Ok(report);
    };
    let password = std::env::var("JCDIAG_SMTP_PASSWORD").ok();
    let ca_file = args.send.ca_file.clone().or(config.ca_file.clone());
    match jcdiag_client::email::send(target, password, ca_file.as_deref(), &message) {
        Ok(()) => {
            tracing::info!(server = %target.host, "case emailed");
            json["status"] = json!("emailed");
            let mut report = Report::ok(
                json,
                format!("emailed eml={eml_text} sha256={sha256}"),
                format!(
                    "The case was emailed to JumpCloud support through {} ({attachment}).
  A copy is at {eml_text}
",
                    target.host
                ),
            );
            report.warnings = warnings;
            Ok(report)
        }
        Err(e) => {
            json["status"] = json!("drafted");
            let mut report = Report::ok(
                json,
                format!("drafted eml={eml_text} exit=3: {e}"),
                format!(
                    "The case is written as an email: {eml_text}
"
                ),
            );
            report.warnings = warnings;
            report.exit_code = 3;
            report.problem = Some(format!(
                "{e}; the message is kept at {eml_text}: send it from your mail client, or run this again"
            ));
            Ok(report)
        }
    }
}

/// A text entry of a bundle (e.g. `summary.txt`).
fn zip_text(bundle: &Path, name: &str) -> Result<String, Failure> {
    let bad = |why: String| {
        Failure::Usage(format!(
            "{}: not a jcdiag bundle ({why}); make one with `jcdiag collect`",
            bundle.display()
        ))
    };
    let file = std::fs::File::open(bundle).map_err(|e| bad(e.to_string()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let mut entry = zip.by_name(name).map_err(|e| bad(format!("{name}: {e}")))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut entry, &mut text).map_err(|e| bad(e.to_string()))?;
    Ok(text)
}

/// `jcdiag escalate`: recorded on the endpoint, or, when it cannot be reached, an email draft
/// replying on the case with escalations@ in Cc (the guideline's own path).
fn escalate_command(global: &GlobalArgs, args: EscalateArgs) -> Result<Report, Failure> {
    let config = load_config(global)?;
    start_log(global, &config, "escalate");
    let profile = Profile::builtin();
    let reason = args.reason.trim();
    if reason.is_empty() {
        return Err(Failure::Usage(
            "reason: empty; say why the case needs escalating with --reason".into(),
        ));
    }
    let probe = CaseForm {
        case: Some(args.case_id.clone()),
        email: args.email.clone().or(config.email.clone()),
        ..CaseForm::default()
    };
    probe
        .validate(&[])
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let next_steps = jcdiag_client::email::escalation_next_steps(profile);
    let configured = args.send.endpoint.is_some() || config.endpoint.is_some();
    let unreachable = if configured {
        let api = Api::new(connection(&args.send, &config)?)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        let deadline = Instant::now()
            + args
                .send
                .deadline
                .or(config_deadline(&config)?)
                .unwrap_or(ESCALATION_DEADLINE);
        let outcome = block_on(deliver::escalate(&api, &args.case_id, reason, deadline))?;
        match outcome {
            Ok(deliver::Escalation::Recorded) => {
                return Ok(Report::ok(
                    json!({ "case_id": args.case_id, "status": "recorded" }),
                    format!("recorded case={}", args.case_id),
                    format!(
                        "Escalation of case {} recorded by the support endpoint.
{next_steps}",
                        args.case_id
                    ),
                ));
            }
            Ok(deliver::Escalation::Unreachable(why)) => why,
            Err(refused) => {
                let message = match refused {
                    DeliverError::Refused(m) => format!("refused by the endpoint: {m}"),
                    other => other.to_string(),
                };
                return Err(Failure::Refused(message));
            }
        }
    } else {
        "no endpoint is configured".to_string()
    };
    // The address: --email, the config file, else the contact of this case in the outbox;
    // without one the draft is left for the mail client to complete.
    let from = probe
        .email
        .clone()
        .or_else(|| outbox_contact(&state_dir(global, &config), &args.case_id));
    let message = jcdiag_client::email::escalation_message(
        profile,
        &jcdiag_client::email::EscalationMail {
            from: from.as_deref(),
            from_name: args.name.as_deref().or(config.name.as_deref()),
            partner: args.partner || config.partner == Some(true),
            case_id: &args.case_id,
            reason,
            in_reply_to: args.in_reply_to.as_deref(),
        },
    )
    .map_err(|e| Failure::Usage(e.to_string()))?;
    let dir = args
        .out
        .clone()
        .or(config.out.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let eml = dir.join(format!("jcdiag-escalation-{}-{stamp}.eml", args.case_id));
    jcdiag_client::email::write_eml(&eml, &message).map_err(|e| Failure::Usage(e.to_string()))?;
    tracing::info!(case_id = %args.case_id, eml = %eml.display(), "escalation drafted: {unreachable}");
    let eml_text = eml.display().to_string();
    Ok(Report::ok(
        json!({ "case_id": args.case_id, "status": "drafted", "eml": eml_text }),
        format!("drafted case={} eml={eml_text}", args.case_id),
        format!(
            "The support endpoint could not take the escalation ({unreachable}).\n\
             An email draft replying on case {} with {} in Cc is at:\n  {eml_text}\n\
             {} ({}).\n{next_steps}",
            args.case_id,
            profile.contacts.escalation_email,
            if from.is_some() {
                "Send it from your mail client"
            } else {
                "Open it in your mail client, which asks for your address, and send it"
            },
            profile.escalation.how
        ),
    ))
}

/// The contact email of the newest outbox entry for `case_id`, if any.
fn outbox_contact(state_dir: &Path, case_id: &str) -> Option<String> {
    let entries = Outbox::new(state_dir).list().ok()?;
    entries
        .into_iter()
        .flatten()
        .filter(|e| e.state.case_id.as_deref() == Some(case_id))
        .filter_map(|e| {
            let case: Value = serde_json::from_slice(&std::fs::read(e.case_json()).ok()?).ok()?;
            let email = case["form"]["contact"]["email"].as_str()?.to_string();
            jcdiag_client::form::looks_like_email(&email).then_some(email)
        })
        .next_back()
}

fn case_json_of(bundle: &Path) -> Result<Value, Failure> {
    serde_json::from_str(&zip_text(bundle, "case.json")?).map_err(|e| {
        Failure::Usage(format!(
            "{}: not a jcdiag bundle (case.json: {e}); make one with `jcdiag collect`",
            bundle.display()
        ))
    })
}

fn outbox_command(global: &GlobalArgs, args: OutboxArgs) -> Result<Report, Failure> {
    let config = load_config(global)?;
    if !matches!(args.action, None | Some(OutboxAction::List)) {
        start_log(global, &config, "outbox");
    }
    let outbox = Outbox::new(&state_dir(global, &config));
    match args.action.unwrap_or(OutboxAction::List) {
        OutboxAction::List => {
            let entries = outbox
                .list()
                .map_err(|e| Failure::Internal(e.to_string()))?;
            let mut rows = Vec::new();
            let mut human = String::new();
            for entry in entries {
                match entry {
                    Ok(e) => {
                        let s = &e.state;
                        rows.push(json!({
                            "id": s.id, "case_id": s.case_id, "created": s.created,
                            "size": s.size, "attempts": s.attempts, "last_error": s.last_error,
                        }));
                        human.push_str(&format!(
                            "{}  case {}  {} bytes  created {}  attempts {}{}\n",
                            s.id,
                            s.case_id.as_deref().unwrap_or("(new)"),
                            s.size,
                            s.created,
                            s.attempts,
                            s.last_error
                                .as_ref()
                                .map(|e| format!("\n    last error: {e}"))
                                .unwrap_or_default()
                        ));
                    }
                    Err(e) => human.push_str(&format!("damaged entry: {e}\n")),
                }
            }
            if rows.is_empty() {
                human.push_str("The outbox is empty.\n");
            }
            let count = rows.len();
            Ok(Report::ok(
                Value::Array(rows),
                format!("outbox entries={count}"),
                human,
            ))
        }
        OutboxAction::Purge { id } => {
            let entry = outbox.get(&id).map_err(|e| Failure::Usage(e.to_string()))?;
            outbox
                .remove(&entry)
                .map_err(|e| Failure::Internal(e.to_string()))?;
            Ok(Report::ok(
                json!({ "purged": id }),
                format!("purged {id}"),
                format!("Removed {id} from the outbox.\n"),
            ))
        }
        OutboxAction::Flush(send) => {
            let entries = outbox
                .list()
                .map_err(|e| Failure::Internal(e.to_string()))?;
            // Each case goes to the endpoint given now or, failing that, the one it was sent to.
            let connections = entries
                .iter()
                .flatten()
                .map(|entry| {
                    let stored = &entry.state;
                    connection_or(&send, &config, stored.endpoint.as_deref(), &stored.ca_file)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let deadline = Instant::now()
                + send
                    .deadline
                    .or(config_deadline(&config)?)
                    .unwrap_or(DEFAULT_DEADLINE);
            let results = block_on(async {
                let mut results = Vec::new();
                for (entry, connection) in entries.into_iter().flatten().zip(connections) {
                    let api = Api::new(connection)?;
                    let id = entry.state.id.clone();
                    let outcome =
                        deliver::deliver(&api, &outbox, entry, deadline, chunk_size(&send), &())
                            .await;
                    results.push((id, outcome));
                }
                Ok::<_, DeliverError>(results)
            })?
            .map_err(|e| Failure::Usage(e.to_string()))?;
            let mut rows = Vec::new();
            let mut human = String::new();
            let mut exit_code = 0;
            for (id, outcome) in results {
                match outcome {
                    Ok(d) => {
                        human.push_str(&format!("{id}: delivered as case {}\n", d.case_id));
                        rows.push(json!({ "id": id, "case_id": d.case_id, "status": "delivered" }));
                    }
                    Err(e) => {
                        exit_code = exit_code.max(e.exit_code());
                        human.push_str(&format!("{id}: {e}\n"));
                        rows.push(json!({ "id": id, "status": "queued", "error": e.to_string() }));
                    }
                }
            }
            if rows.is_empty() {
                human.push_str("The outbox is empty: nothing to send.\n");
            }
            let delivered = rows.iter().filter(|r| r["status"] == "delivered").count();
            let line = format!(
                "flushed delivered={delivered} kept={}",
                rows.len() - delivered
            );
            Ok(Report {
                json: Value::Array(rows),
                line,
                human,
                warnings: Vec::new(),
                exit_code,
                problem: (exit_code != 0).then(|| "some cases are still in the outbox".to_string()),
            })
        }
    }
}

/// The upload progress bar: bytes, rate and time left, on a terminal only.
struct UploadBar(indicatif::ProgressBar);

impl deliver::Progress for UploadBar {
    fn uploaded(&self, confirmed: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(confirmed);
    }
}

/// Bars only for a person watching: a terminal, and not silent, JSON or quiet.
fn shows_progress(global: &GlobalArgs) -> bool {
    std::io::stderr().is_terminal() && !global.silent && !global.json && !global.quiet
}

/// The collection spinner: what is being read and scrubbed right now.
fn collection_spinner(global: &GlobalArgs) -> indicatif::ProgressBar {
    if !shows_progress(global) {
        return indicatif::ProgressBar::hidden();
    }
    let style = indicatif::ProgressStyle::with_template("{spinner:.cyan} collecting: {msg}")
        .expect("the template is valid");
    let spinner = indicatif::ProgressBar::new_spinner().with_style(style);
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

fn upload_bar(global: &GlobalArgs) -> UploadBar {
    if !shows_progress(global) {
        return UploadBar(indicatif::ProgressBar::hidden());
    }
    let style = indicatif::ProgressStyle::with_template(
        "uploading {bar:30.cyan} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .expect("the template is valid");
    UploadBar(indicatif::ProgressBar::new(0).with_style(style))
}

/// Runs async delivery code on a runtime made for this command.
fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, DeliverError>>,
) -> Result<Result<T, DeliverError>, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("cannot start the network runtime: {e}")))?;
    let result = runtime.block_on(future);
    match result {
        Err(DeliverError::Usage(message)) => Err(Failure::Usage(message)),
        other => Ok(other),
    }
}

/// Endpoint, token and TLS settings: flag/env > config file. Both endpoint and token are needed.
fn connection(send: &SendArgs, config: &Config) -> Result<Connection, Failure> {
    connection_or(send, config, None, &None)
}

/// Like [`connection`], with an endpoint and CA file to fall back on (an outbox entry's).
fn connection_or(
    send: &SendArgs,
    config: &Config,
    endpoint: Option<&str>,
    ca_file: &Option<PathBuf>,
) -> Result<Connection, Failure> {
    let given = send.endpoint.clone().or(config.endpoint.clone());
    // The stored CA file goes only with the stored endpoint: it was given for that one.
    let ca_file = ca_file.as_ref().filter(|_| given.is_none());
    let endpoint = given.or(endpoint.map(str::to_string));
    let token = send.token.clone().or(config.token.clone());
    let mut missing = Vec::new();
    if endpoint.is_none() {
        missing.push("endpoint: missing; give --endpoint https://… (or JCDIAG_ENDPOINT, or `endpoint` in the config file)");
    }
    if token.as_deref().is_none_or(str::is_empty) {
        missing
            .push("token: missing; give --token (or JCDIAG_TOKEN, or `token` in the config file)");
    }
    if !missing.is_empty() {
        return Err(Failure::Usage(format!(
            "cannot send:\n  {}",
            missing.join("\n  ")
        )));
    }
    let endpoint = deliver::client::parse_endpoint(&endpoint.unwrap_or_default())
        .map_err(|e| Failure::Usage(e.to_string()))?;
    Ok(Connection {
        endpoint,
        token: token.unwrap_or_default(),
        ca_file: send
            .ca_file
            .clone()
            .or(config.ca_file.clone())
            .or(ca_file.cloned()),
        proxy: send.proxy.clone().or(config.proxy.clone()),
    })
}

fn chunk_size(send: &SendArgs) -> usize {
    send.chunk_size.map_or(deliver::CHUNK_SIZE, |size| {
        size.clamp(1024, 64 << 20) as usize
    })
}

fn config_deadline(config: &Config) -> Result<Option<Duration>, Failure> {
    config
        .deadline
        .as_deref()
        .map(|d| {
            jcdiag_fs::duration::parse_duration(d)
                .map_err(|e| Failure::Usage(format!("config file, deadline: {e}")))
        })
        .transpose()
}

fn state_dir(global: &GlobalArgs, config: &Config) -> PathBuf {
    global
        .state_dir
        .clone()
        .or(config.state_dir.clone())
        .unwrap_or_else(|| Config::default_state_dir(jcdiag_client::collect::system::is_elevated()))
}

/// flag/env > form file > config file.
fn layered_form(args: &FormArgs, config: &Config) -> Result<CaseForm, Failure> {
    let from_flags = CaseForm {
        description: args.description.clone(),
        troubleshooting: args.troubleshooting.clone(),
        error: args.errors.clone(),
        severity: args.severity,
        tier: args.tier.clone(),
        email: args.email.clone(),
        name: args.name.clone(),
        org: args.org.clone(),
        partner: args.partner.then_some(true),
        case: args.case_id.clone(),
        screenshot: args.screenshots.clone(),
    };
    let from_file = match &args.form {
        Some(path) => CaseForm::from_file(path).map_err(|e| Failure::Usage(e.to_string()))?,
        None => CaseForm::default(),
    };
    Ok(from_flags.or(from_file).or(config.form()))
}

fn size_setting(
    flag: Option<u64>,
    config: Option<&str>,
    key: &str,
    default: u64,
) -> Result<u64, Failure> {
    if let Some(size) = flag {
        return Ok(size);
    }
    match config {
        Some(text) => {
            parse_size(text).map_err(|e| Failure::Usage(format!("config file, {key}: {e}")))
        }
        None => Ok(default),
    }
}

/// The profile's response terms with the config file's holidays added.
fn sla_terms(profile: &Profile, config: &Config) -> Result<SlaProfile, Failure> {
    let mut sla = profile.sla.clone();
    for day in &config.holidays {
        let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
            Failure::Usage(format!(
                "config file, holidays: `{day}` is not a date like 2026-12-25"
            ))
        })?;
        sla.support_hours.holidays.insert(date);
    }
    Ok(sla)
}

fn sla_command(global: &GlobalArgs, args: SlaArgs) -> Result<Report, Failure> {
    let config = load_config(global)?;
    let profile = Profile::builtin();
    let sla = sla_terms(profile, &config)?;
    let tier: jcdiag_profile::sla::Tier = args
        .tier
        .parse()
        .map_err(|e| Failure::Usage(format!("--tier: {e}")))?;
    let severity = jcdiag_profile::sla::Severity::try_from(args.severity)
        .map_err(|e| Failure::Usage(format!("--severity: {e}")))?;
    let filed = match &args.at {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|_| {
                Failure::Usage(format!(
                    "--at: `{text}` is not an RFC 3339 time like 2026-11-27T16:30:00-07:00"
                ))
            })?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let target = jcdiag_client::case::target(&sla, tier, severity, filed)
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let channels = profile.channels_of(tier.id(), args.partner);
    let definition = &profile.severities[&severity.to_string()].definition;
    let mut human = format!(
        "{}\nSeverity {severity}: {definition}\nChannels:\n",
        target.text
    );
    for channel in &channels {
        human.push_str(&format!("  - {channel}\n"));
    }
    Ok(Report::ok(
        json!({
            "tier": tier,
            "severity": severity,
            "response_due": target.due_rfc3339(),
            "channels": channels,
        }),
        format!(
            "response_due={}",
            target.due_rfc3339().unwrap_or_else(|| "none".into())
        ),
        human,
    ))
}
