//! Settings resolved once: flags and `JCDIAG_*` over the form file over the config file over
//! the defaults, each turned into the typed value the commands use (caps, places, the
//! connection, the deadline, the state folder, the form, the response-target terms).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{CollectionArgs, FormArgs, GlobalArgs, SendArgs, WhereArgs};
use crate::config::Config;
use crate::exit::CommandError;
use jcdiag_client::collect;
use jcdiag_client::deliver::{self, Connection};
use jcdiag_client::form::CaseForm;
use jcdiag_client::sources::Caps;
use jcdiag_profile::Profile;
use jcdiag_profile::sla::SlaProfile;
use jcdiag_profile::target::TargetOs;

pub(crate) const DEFAULT_LOG_CAP: u64 = 10 << 20;

pub(crate) const DEFAULT_TOTAL_CAP: u64 = 64 << 20;

pub(crate) const DEFAULT_SCREENSHOT_CAP: u64 = 20 << 20;

/// Leaves a JumpCloud Command (120 s) room to print and exit.
pub(crate) const DEFAULT_DEADLINE: Duration = Duration::from_secs(100);

/// A person waiting for an escalation gets the email draft sooner.
pub(crate) const ESCALATION_DEADLINE: Duration = Duration::from_secs(20);

pub(crate) fn load_config(global: &GlobalArgs) -> Result<Config, CommandError> {
    Ok(Config::load(global.config.as_deref())?)
}

/// `--out` (flag or environment), else the config file's `out`.
pub(crate) fn configured_out(collection: &CollectionArgs, config: &Config) -> Option<PathBuf> {
    collection.out.clone().or(config.out.clone())
}

/// The log caps: flag/env > config file > default.
pub(crate) fn caps(collection: &CollectionArgs, config: &Config) -> Caps {
    Caps {
        per_file: collection
            .max_log_size
            .or(config.max_log_size)
            .unwrap_or(DEFAULT_LOG_CAP),
        total: collection
            .max_total_log_size
            .or(config.max_total_log_size)
            .unwrap_or(DEFAULT_TOTAL_CAP),
    }
}

/// Which layout, where, and whether it is the running system itself.
pub(crate) fn place_of(place: &WhereArgs) -> Result<(TargetOs, PathBuf, bool), CommandError> {
    let os = place.target_os.unwrap_or_else(TargetOs::current);
    let live = place.sysroot.is_none() && os == TargetOs::current();
    let sysroot = place
        .sysroot
        .clone()
        .unwrap_or_else(TargetOs::default_sysroot);
    if !sysroot.is_dir() {
        return Err(CommandError::Usage(format!(
            "--sysroot {}: not a folder; give the root of the system disk to collect from",
            sysroot.display()
        )));
    }
    Ok((os, sysroot, live))
}

pub(crate) fn check_out(out: &Path) -> Result<(), CommandError> {
    if !collect::out_dir(out).is_dir() {
        return Err(CommandError::Usage(format!(
            "--out {}: the folder does not exist; create it or choose another",
            out.display()
        )));
    }
    Ok(())
}

/// Endpoint, token and TLS settings: flag/env > config file. Both endpoint and token are needed.
pub(crate) fn connection(send: &SendArgs, config: &Config) -> Result<Connection, CommandError> {
    connection_or(send, config, None, &None)
}

/// Like [`connection`], with an endpoint and CA file to fall back on (an outbox entry's).
pub(crate) fn connection_or(
    send: &SendArgs,
    config: &Config,
    endpoint: Option<&str>,
    ca_file: &Option<PathBuf>,
) -> Result<Connection, CommandError> {
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
        return Err(CommandError::Usage(format!(
            "cannot send:\n  {}",
            missing.join("\n  ")
        )));
    }
    let endpoint = deliver::client::parse_endpoint(&endpoint.unwrap_or_default())?;
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

pub(crate) fn chunk_size(send: &SendArgs) -> usize {
    send.chunk_size.map_or(deliver::CHUNK_SIZE, |size| {
        size.clamp(1024, 64 << 20) as usize
    })
}

/// `--deadline` (flag or environment), else the config file's, else `default`.
pub(crate) fn deadline(send: &SendArgs, config: &Config, default: Duration) -> Duration {
    send.deadline.or(config.deadline).unwrap_or(default)
}

pub(crate) fn state_dir(global: &GlobalArgs, config: &Config) -> PathBuf {
    global
        .state_dir
        .clone()
        .or(config.state_dir.clone())
        .unwrap_or_else(|| Config::default_state_dir(jcdiag_client::collect::system::is_elevated()))
}

/// flag/env > form file > config file.
pub(crate) fn layered_form(args: &FormArgs, config: &Config) -> Result<CaseForm, CommandError> {
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
        Some(path) => CaseForm::from_file(path)?,
        None => CaseForm::default(),
    };
    Ok(from_flags.or(from_file).or(config.form()))
}

/// The largest screenshot accepted: flag/env > config file > default.
pub(crate) fn screenshot_cap(collection: &CollectionArgs, config: &Config) -> u64 {
    collection
        .max_screenshot_size
        .or(config.max_screenshot_size)
        .unwrap_or(DEFAULT_SCREENSHOT_CAP)
}

/// The profile's response terms with the config file's holidays added.
pub(crate) fn sla_terms(profile: &Profile, config: &Config) -> Result<SlaProfile, CommandError> {
    let mut sla = profile.sla.clone();
    for day in &config.holidays {
        let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
            CommandError::Usage(format!(
                "config file, holidays: `{day}` is not a date like 2026-12-25"
            ))
        })?;
        sla.support_hours.holidays.insert(date);
    }
    Ok(sla)
}

/// The parity list's switches: `--skip-source` (flag/env, else the config file's
/// `skip_sources`), each a source or an item name of the profile, and the time budget.
pub(crate) fn parity_options(
    collection: &CollectionArgs,
    config: &Config,
    profile: &Profile,
) -> Result<collect::parity::Options, CommandError> {
    let skip = if collection.skip_source.is_empty() {
        config.skip_sources.clone()
    } else {
        collection.skip_source.clone()
    };
    let lists = &profile.parity;
    let known = |name: &str| {
        lists.sources.iter().any(|s| s.name == name)
            || name == "journal"
            || [&lists.linux, &lists.macos, &lists.windows]
                .iter()
                .any(|l| l.commands.iter().any(|c| c.name == name))
    };
    if let Some(bad) = skip.iter().find(|name| !known(name)) {
        let sources: Vec<&str> = lists.sources.iter().map(|s| s.name.as_str()).collect();
        return Err(CommandError::Usage(format!(
            "--skip-source {bad}: no such source; give one of {} or a command's name (journal, iptables, sc-queryex…)",
            sources.join(", ")
        )));
    }
    Ok(collect::parity::Options {
        budget: collection
            .collection_budget
            .or(config.collection_budget)
            .unwrap_or(collect::parity::DEFAULT_BUDGET),
        skip,
    })
}
