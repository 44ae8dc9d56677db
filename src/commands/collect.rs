//! `jcdiag collect`, and the bundle every other command builds the same way.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::{ask, can_prompt, start_log};
use crate::cli::{CollectArgs, GlobalArgs};
use crate::config::Config;
use crate::exit::CommandError;
use crate::output::Report;
use crate::output::{alias_table_line, bundle_json, collection_spinner, preview_report};
use crate::settings::{
    caps, check_out, configured_out, layered_form, load_config, parity_options, place_of,
    screenshot_cap, sla_terms, state_dir,
};
use jcdiag_client::collect::{self, Outcome, RunInfo};
use jcdiag_client::form::CaseForm;
use jcdiag_client::record::Recording;
use jcdiag_client::sources::screenshots;
use jcdiag_fs::fsafe::Trust;
use jcdiag_profile::Profile;

/// What a bundle holds beyond what `collect` gathers by itself.
#[derive(Default)]
pub(crate) struct Extras {
    /// `record`'s window.
    pub(crate) recording: Option<Recording>,
    /// Images found in the screenshot folders (not named by the user), already agreed to.
    pub(crate) found_screenshots: Vec<PathBuf>,
    /// Network checks run before collecting (`submit`), for findings.json.
    pub(crate) network: jcdiag_client::findings::NetworkFindings,
}

pub(crate) fn collect_command(
    global: &GlobalArgs,
    args: CollectArgs,
) -> Result<Report, CommandError> {
    let config = load_config(global)?;
    if !args.collection.dry_run {
        start_log(global, &config, "collect");
    }
    let form = layered_form(&args.form, &config)?;
    form.validate(&[])?;
    collect_with(global, &config, &form, &args, Extras::default(), "collect")
}

pub(crate) fn collect_with(
    global: &GlobalArgs,
    config: &Config,
    form: &CaseForm,
    args: &CollectArgs,
    extras: Extras,
    command: &str,
) -> Result<Report, CommandError> {
    let out = configured_out(&args.collection, config).unwrap_or_else(|| PathBuf::from("."));
    let outcome = build_bundle(global, config, form, args, out, command, extras)?;
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

/// Offers images from the screenshot folders: asked on a terminal; unattended, `given` decides.
pub(crate) fn offer_screenshots(
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
pub(crate) fn build_bundle(
    global: &GlobalArgs,
    config: &Config,
    form: &CaseForm,
    args: &CollectArgs,
    out: PathBuf,
    command: &str,
    extras: Extras,
) -> Result<Outcome, CommandError> {
    let (place, collection) = (&args.place, &args.collection);
    let profile = Profile::builtin();
    let caps = caps(collection, config);
    let parity = parity_options(collection, config, profile)?;
    let screenshot_cap = screenshot_cap(collection, config);
    // Screenshots are checked before anything is written: a bad one is a usage error.
    let mut screenshots = form
        .screenshot
        .iter()
        .map(|p| screenshots::read(p, screenshot_cap))
        .collect::<Result<Vec<_>, _>>()?;

    let (os, sysroot, live) = place_of(place)?;
    check_out(&out)?;

    // Images found in the screenshot folders: `--screenshots-since` (the flag is the request;
    // a terminal user is asked) and those `record` saw appear. A bad one is left out, noted.
    let mut found = extras.found_screenshots;
    let mut skipped = Vec::new();
    if let Some(since) = collection.screenshots_since {
        let from = std::time::SystemTime::now()
            .checked_sub(since)
            .unwrap_or(std::time::UNIX_EPOCH);
        // Folders and files refused on the way (a link, a file the user could not read) go to
        // the manifest.
        let (recent, refused) = screenshots::recent_checked(profile, os, &sysroot, live, from);
        skipped.extend(refused);
        let recent = recent.into_iter().filter(|p| !found.contains(p)).collect();
        found.extend(offer_screenshots(
            global,
            "Images saved in the screenshot folders within --screenshots-since",
            recent,
            !can_prompt(global),
        ));
    }
    for path in found {
        if screenshots.iter().any(|s| s.source == path) {
            continue;
        }
        match screenshots::read(&path, screenshot_cap) {
            Ok(shot) => screenshots.push(shot),
            Err(e) => skipped.push((path.display().to_string(), e.to_string())),
        }
    }

    let scrubber = collect::scrubber_with(
        profile,
        &config.secret_key_words,
        &config.disabled_secret_rules,
    )
    .map_err(|e| match e {
        jcdiag_scrub::ScrubError::Provider(
            unknown @ jcdiag_scrub::provider::ProviderError::UnknownRule(_),
        ) => CommandError::Usage(format!(
            "disabled_secret_rules in the config file: {unknown}"
        )),
        e => CommandError::Internal(format!("the secret rules cannot be built: {e}")),
    })?;

    let now = chrono::Utc::now();
    let interactive = std::io::stdin().is_terminal() && !global.silent;
    let run = RunInfo::detect(command, global.silent, interactive);
    let trust = Trust {
        require_root_owner: run.elevated,
    };
    let sla = sla_terms(profile, config)?;
    let mut case = jcdiag_client::case::case_record(form, profile, &sla, now);
    case.recording = extras
        .recording
        .as_ref()
        .map(|recording| jcdiag_protocol::RecordingWindow {
            start: recording.start_rfc3339(),
            end: recording.end_rfc3339(),
        });
    let case = serde_json::to_value(case)
        .map_err(|e| CommandError::Internal(format!("case.json cannot be written: {e}")))?;
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
        network: extras.network,
        parity,
    });
    spinner.finish_and_clear();
    let mut outcome = collected?;
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
        match collect::keep_alias_table(&state_dir(global, config), &outcome.bundle, mapping) {
            Ok(path) => outcome.obfuscation_map = Some(path),
            Err(e) => outcome.warnings.push(format!(
                "the alias table of --obfuscate could not be kept ({e}): the aliases in the bundle cannot be traced back"
            )),
        }
    }
    Ok(outcome)
}
