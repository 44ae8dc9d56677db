//! `jcdiag collect`, and the bundle every other command builds the same way.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{CommandError, Report, ask, can_prompt, start_log};
use crate::cli::{CollectArgs, CollectionArgs, GlobalArgs, WhereArgs};
use crate::config::Config;
use crate::output::{alias_table_line, bundle_json, collection_spinner, preview_report};
use crate::settings::{
    DEFAULT_SCREENSHOT_CAP, caps, check_out, configured_out, layered_form, load_config, place_of,
    size_setting, sla_terms, state_dir,
};
use jcdiag_client::collect::{self, Outcome, RunInfo};
use jcdiag_client::form::CaseForm;
use jcdiag_client::record::Recording;
use jcdiag_fs::fsafe::Trust;
use jcdiag_profile::Profile;
use jcdiag_scrub::Scrubber;

/// What a bundle holds beyond what `collect` gathers by itself.
#[derive(Default)]
pub(crate) struct Extras {
    /// `record`'s window.
    pub(crate) recording: Option<Recording>,
    /// Images found in the screenshot folders (not named by the user), already agreed to.
    pub(crate) found_screenshots: Vec<PathBuf>,
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
    form.validate(&[])
        .map_err(|e| CommandError::Usage(e.to_string()))?;
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
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_bundle(
    global: &GlobalArgs,
    config: &Config,
    form: &CaseForm,
    place: &WhereArgs,
    collection: &CollectionArgs,
    out: PathBuf,
    command: &str,
    extras: Extras,
) -> Result<Outcome, CommandError> {
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
        .map_err(|e| CommandError::Usage(e.to_string()))?;

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
        .map_err(|e| CommandError::Internal(format!("the secret rules cannot be built: {e}")))?;

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
    let mut outcome = collected.map_err(|e| CommandError::Internal(e.to_string()))?;
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
pub(crate) fn write_alias_table(
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
