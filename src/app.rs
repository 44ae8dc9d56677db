//! Runs a parsed command line: layers the inputs, calls the library, prints the result.
//!
//! Output rules (SPEC "Machine-readable output"): `--json` prints one object on stdout and
//! nothing else there; `--silent` prints one result line; otherwise a short human report.
//! Problems go to stderr. Every failure maps to one documented exit code.

use std::io::IsTerminal;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::cli::{Cli, CollectArgs, Command, FormArgs, GlobalArgs, SlaArgs};
use crate::collect::{self, Caps, RunInfo};
use crate::config::Config;
use crate::form::CaseForm;
use crate::fsafe::Trust;
use crate::profile::Profile;
use crate::scrub::Scrubber;
use crate::size::parse_size;
use crate::target::TargetOs;

/// A failure with its exit code (SPEC "Exit codes").
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Exit 1: nothing usable was produced.
    #[error("{0}")]
    Internal(String),
    /// Exit 2: the message names the input and what is wrong with it.
    #[error("{0}")]
    Usage(String),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Internal(_) => 1,
            Failure::Usage(_) => 2,
        }
    }
}

/// What a successful command reports.
pub struct Report {
    /// The `--json` object.
    pub json: Value,
    /// The `--silent` result line.
    pub line: String,
    /// The human report (stdout).
    pub human: String,
    pub warnings: Vec<String>,
}

const DEFAULT_LOG_CAP: u64 = 10 << 20;
const DEFAULT_TOTAL_CAP: u64 = 64 << 20;
const DEFAULT_SCREENSHOT_CAP: u64 = 20 << 20;

/// Runs one command line; `None` means "print this text as is" (completions, man page).
pub fn run(cli: Cli) -> Result<Option<Report>, Failure> {
    crate::interrupt::install();
    match cli.command {
        Some(Command::Collect(args)) => collect_command(&cli.global, *args).map(Some),
        Some(Command::Sla(args)) => sla_command(&cli.global, args).map(Some),
        Some(Command::Completions { shell }) => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "jcdiag", &mut std::io::stdout());
            Ok(None)
        }
        Some(Command::Man) => {
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(|e| Failure::Internal(format!("cannot print the man page: {e}")))?;
            Ok(None)
        }
        None => Err(Failure::Usage(
            "no command given: run `jcdiag collect --description \"…\"` (see `jcdiag --help`)"
                .into(),
        )),
    }
}

fn collect_command(global: &GlobalArgs, args: CollectArgs) -> Result<Report, Failure> {
    let config =
        Config::load(global.config.as_deref()).map_err(|e| Failure::Usage(e.to_string()))?;
    let form = layered_form(&args.form, &config)?;
    form.validate(&[])
        .map_err(|e| Failure::Usage(e.to_string()))?;

    let profile = Profile::builtin();
    let caps = Caps {
        per_file: size_setting(
            args.collection.max_log_size,
            config.max_log_size.as_deref(),
            "max_log_size",
            DEFAULT_LOG_CAP,
        )?,
        total: size_setting(
            args.collection.max_total_log_size,
            config.max_total_log_size.as_deref(),
            "max_total_log_size",
            DEFAULT_TOTAL_CAP,
        )?,
    };
    let screenshot_cap = size_setting(
        args.collection.max_screenshot_size,
        config.max_screenshot_size.as_deref(),
        "max_screenshot_size",
        DEFAULT_SCREENSHOT_CAP,
    )?;
    // Screenshots are checked before anything is written: a bad one is a usage error.
    let screenshots = form
        .screenshot
        .iter()
        .map(|p| collect::screenshots::read(p, screenshot_cap))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::Usage(e.to_string()))?;

    let os = args.place.target_os.unwrap_or_else(TargetOs::current);
    let live = args.place.sysroot.is_none() && os == TargetOs::current();
    let sysroot = args
        .place
        .sysroot
        .clone()
        .unwrap_or_else(TargetOs::default_sysroot);
    if !sysroot.is_dir() {
        return Err(Failure::Usage(format!(
            "--sysroot {}: not a folder; give the root of the system disk to collect from",
            sysroot.display()
        )));
    }
    let out = args
        .collection
        .out
        .clone()
        .or(config.out.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    if !collect::out_dir(&out).is_dir() {
        return Err(Failure::Usage(format!(
            "--out {}: the folder does not exist; create it or choose another",
            out.display()
        )));
    }

    let mut key_words = profile.secrets.key_words.clone();
    key_words.extend(config.secret_key_words.iter().map(|w| w.to_lowercase()));
    let scrubber = Scrubber::new(&key_words, &profile.secrets.public_keys)
        .map_err(|e| Failure::Internal(format!("the secret rules cannot be built: {e}")))?;

    let now = chrono::Utc::now();
    let interactive = std::io::stdin().is_terminal() && !global.silent;
    let run = RunInfo::detect("collect", global.silent, interactive);
    let trust = Trust {
        require_root_owner: run.elevated,
    };
    let sla = sla_terms(profile, &config)?;
    let case = crate::case::record(&form, profile, &sla, now);
    let outcome = collect::collect(collect::Request {
        profile,
        scrubber: &scrubber,
        os,
        sysroot,
        live,
        trust,
        caps,
        since: args.collection.since,
        screenshots,
        form: &form,
        case,
        run,
        out,
        now,
    })
    .map_err(|e| Failure::Internal(e.to_string()))?;

    let path = outcome.bundle.display().to_string();
    Ok(Report {
        json: json!({
            "bundle": path,
            "sha256": outcome.sha256,
            "size": outcome.size,
            "warnings": outcome.warnings,
        }),
        line: format!(
            "ok bundle={path} size={} sha256={} warnings={}",
            outcome.size,
            outcome.sha256,
            outcome.warnings.len()
        ),
        human: format!(
            "Bundle written: {path}\n  {} entries, {} bytes, sha256 {}\n",
            outcome.entries.len() + 1,
            outcome.size,
            outcome.sha256
        ),
        warnings: outcome.warnings,
    })
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
fn sla_terms(profile: &Profile, config: &Config) -> Result<crate::sla::SlaProfile, Failure> {
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
    let config =
        Config::load(global.config.as_deref()).map_err(|e| Failure::Usage(e.to_string()))?;
    let profile = Profile::builtin();
    let sla = sla_terms(profile, &config)?;
    let tier: crate::sla::Tier = args
        .tier
        .parse()
        .map_err(|e| Failure::Usage(format!("--tier: {e}")))?;
    let severity = crate::sla::Severity::try_from(args.severity)
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
    let target = crate::case::target(&sla, tier, severity, filed)
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
    Ok(Report {
        json: json!({
            "tier": tier.id(),
            "severity": severity.get(),
            "response_due": target.due_rfc3339(),
            "channels": channels,
        }),
        line: format!(
            "response_due={}",
            target.due_rfc3339().unwrap_or_else(|| "none".into())
        ),
        human,
        warnings: Vec::new(),
    })
}
