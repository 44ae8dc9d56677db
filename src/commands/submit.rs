//! `jcdiag submit` and the wizard: collect (or take a bundle), ask consent, deliver through the
//! outbox, or write and send the case by email.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{Value, json};

use super::collect::{Extras, build_bundle};
use super::{ask, block_on, start_log, terminal_wizard};
use crate::cli::{GlobalArgs, SubmitArgs, Via};
use crate::config::Config;
use crate::exit::{CommandError, code, delivery_exit_code};
use crate::output::Report;
use crate::output::{preview_report, upload_bar};
use crate::settings::{
    DEFAULT_DEADLINE, chunk_size, configured_out, connection, deadline, layered_form, load_config,
    screenshot_cap, state_dir,
};
use crate::wizard::Scope;
use jcdiag_client::collect;
use jcdiag_client::deliver::{self, Api, DeliveryState, Outbox};
use jcdiag_client::form::{CaseForm, tier_refusal};
use jcdiag_client::sources::screenshots;
use jcdiag_profile::Profile;

/// Consent before anything leaves the machine: `--yes`/`--silent`, or a "yes" typed at a
/// terminal after the preview. Without a terminal and without `--yes`, nothing is sent.
pub(crate) fn consent(global: &GlobalArgs, preview: &str) -> Result<(), CommandError> {
    if global.yes || global.silent {
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(CommandError::Usage(
            "consent: no terminal to ask on; pass --yes (or --silent) to send without asking"
                .into(),
        ));
    }
    if ask(&format!(
        "These files will be sent to JumpCloud support:\n{preview}Send them?"
    )) {
        Ok(())
    } else {
        Err(CommandError::Usage(
            "consent: not given; nothing was sent".into(),
        ))
    }
}

/// What `submit` settles before collecting: the form (asked for on a terminal), the way the
/// case travels (endpoint, with its TLS settings, or email) and jcdiag's log.
pub(crate) struct SubmitPlan {
    config: Config,
    form: CaseForm,
    /// `None` for `--via email`.
    api: Option<Api>,
    smtp: Option<jcdiag_client::email::SmtpTarget>,
    /// When `--deadline` starts counting: `record --submit` sets the end of the recording;
    /// otherwise it starts once the bundle is made and agreed to.
    pub(crate) deadline_from: Option<Instant>,
}

/// `submit`, and the wizard (`jcdiag` alone): `ask` says which missing fields to prompt for
/// (`None`: unattended, never prompt).
pub(crate) fn submit_command(
    global: &GlobalArgs,
    mut args: SubmitArgs,
    ask: Option<Scope>,
) -> Result<Report, CommandError> {
    let plan = plan_submit(global, &mut args, ask, "submit")?;
    submit_planned(global, args, plan, Extras::default())
}

pub(crate) fn plan_submit(
    global: &GlobalArgs,
    args: &mut SubmitArgs,
    ask: Option<Scope>,
    command: &str,
) -> Result<SubmitPlan, CommandError> {
    let config = load_config(global)?;
    let mut form = layered_form(&args.collect.form, &config)?;
    // Adding to an existing case needs no new form; a new case needs what support triages by.
    let required: &[&str] = if form.case.is_some() || args.bundle.is_some() {
        &[]
    } else {
        &["description", "severity", "tier", "email"]
    };
    if let Some(scope) = ask {
        let screenshot_cap = screenshot_cap(&args.collect.collection, &config);
        let check = |path: &Path| {
            screenshots::read(path, screenshot_cap)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let mut wizard = terminal_wizard();
        wizard.fill(&mut form, required, scope, &check)?;
        let by_endpoint = args.email.via == Via::Endpoint && !refused_for_tier(&form);
        if by_endpoint && args.send.endpoint.is_none() && config.endpoint.is_none() {
            args.send.endpoint = Some(wizard.ask_required("Support endpoint URL (https://…): ")?);
        }
        if by_endpoint && args.send.token.is_none() && config.token.is_none() {
            args.send.token =
                Some(wizard.ask_required("Upload token (from your support contact): ")?);
        }
    }
    form.validate(required)?;
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
        Some(Api::new(connection)?)
    };
    let smtp = match (&args.email.smtp, by_email) {
        (Some(url), true) => Some(jcdiag_client::email::parse_smtp_url(url)?),
        _ => None,
    };
    Ok(SubmitPlan {
        config,
        form,
        api,
        smtp,
        deadline_from: None,
    })
}

/// A new case on a tier that accepts none (Free): the guideline's rule, from the profile.
pub(crate) fn refused_for_tier(form: &CaseForm) -> bool {
    tier_refusal(form, &Profile::builtin().sla).is_some()
}

/// Collects (or takes the given bundle), asks consent, and delivers through the outbox (or
/// writes and sends the email).
pub(crate) fn submit_planned(
    global: &GlobalArgs,
    args: SubmitArgs,
    plan: SubmitPlan,
    extras: Extras,
) -> Result<Report, CommandError> {
    let SubmitPlan {
        config,
        form,
        api,
        smtp,
        deadline_from,
    } = plan;
    // Time spent waiting for the user's consent is not sending time.
    let mut consent_wait = std::time::Duration::ZERO;
    let by_email = api.is_none();
    let profile = Profile::builtin();
    if let Some(note) = tier_refusal(&form, &profile.sla) {
        let out =
            configured_out(&args.collect.collection, &config).unwrap_or_else(|| PathBuf::from("."));
        let kept = match &args.bundle {
            Some(bundle) => bundle.clone(),
            None => {
                build_bundle(global, &config, &form, &args.collect, out, "submit", extras)?.bundle
            }
        };
        return Err(CommandError::Usage(format!(
            "tier: free accounts cannot open support cases. {note} The bundle is kept at {}; attach it to a case once you have support.",
            kept.display()
        )));
    }

    let state_dir = state_dir(global, &config);
    let outbox = Outbox::new(&state_dir);
    let staging = state_dir.join("staging");
    jcdiag_fs::fsafe::create_private_dir(&staging).map_err(|e| {
        CommandError::Usage(format!(
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
            let extras = Extras {
                network: super::doctor::network_for(&args, api.as_ref().map(Api::connection))?,
                ..extras
            };
            let outcome = build_bundle(
                global,
                &config,
                &form,
                &args.collect,
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
            let asked = Instant::now();
            let agreed = consent(
                global,
                &format!(
                    "{}\nWhat jcdiag found on this machine (findings.json):\n{}",
                    collect::preview(&outcome.entries),
                    jcdiag_client::findings::render(&outcome.findings, false, 3)
                ),
            );
            consent_wait = asked.elapsed();
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
    let entry = outbox.add(&bundle, take, &case_bytes, state)?;
    let shown_bundle = local_copy.unwrap_or_else(|| entry.bundle());
    let deadline = deadline_from.map_or_else(Instant::now, |from| from + consent_wait)
        + deadline(&args.send, &config, DEFAULT_DEADLINE);
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
            let code = delivery_exit_code(&failure);
            match code {
                code::USAGE => return Err(CommandError::Usage(failure.to_string())),
                code::INTERNAL => return Err(CommandError::Internal(failure.to_string())),
                _ => {}
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
            let failure = if code == code::QUEUED {
                format!("{failure}; run `{}` to retry", flush_hint(global, &config))
            } else {
                failure.to_string()
            };
            json["error"] = json!(failure);
            // The email channel is the fallback the guideline itself names.
            let by_email = (code == code::QUEUED).then(|| {
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
pub(crate) fn case_target(
    profile: &Profile,
    case_id: &str,
    due: Option<&str>,
    answered: bool,
) -> String {
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
pub(crate) fn flush_hint(global: &GlobalArgs, config: &Config) -> String {
    let mut hint = "jcdiag outbox flush".to_string();
    if let Some(dir) = &global.state_dir {
        hint += &format!(" --state-dir \"{}\"", dir.display());
    }
    if config.token.is_none() {
        hint += " --token …";
    }
    hint
}

/// The entries of a bundle made earlier, for the consent preview.
pub(crate) fn zip_listing(bundle: &Path) -> Result<String, CommandError> {
    let bad = |why: String| {
        CommandError::Usage(format!("{}: not a zip bundle ({why})", bundle.display()))
    };
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
pub(crate) fn email_case(
    args: &SubmitArgs,
    config: &Config,
    form: &CaseForm,
    bundle: &Path,
    warnings: Vec<String>,
    smtp: Option<&jcdiag_client::email::SmtpTarget>,
) -> Result<Report, CommandError> {
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
        return Err(CommandError::Usage(
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
        .map_err(|e| CommandError::Internal(format!("{}: {e}", bundle.display())))?;
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
    let (message, attached) = jcdiag_client::email::case_message(profile, &mail)?;
    let eml = bundle.with_extension("eml");
    jcdiag_client::email::write_eml(&eml, &message)?;
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
pub(crate) fn zip_text(bundle: &Path, name: &str) -> Result<String, CommandError> {
    let bad = |why: String| {
        CommandError::Usage(format!(
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

pub(crate) fn case_json_of(bundle: &Path) -> Result<Value, CommandError> {
    serde_json::from_str(&zip_text(bundle, "case.json")?).map_err(|e| {
        CommandError::Usage(format!(
            "{}: not a jcdiag bundle (case.json: {e}); make one with `jcdiag collect`",
            bundle.display()
        ))
    })
}
