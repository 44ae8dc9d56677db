//! `jcdiag escalate`: recorded by the endpoint, or an email draft when it cannot be reached.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use super::{block_on, start_log};
use crate::cli::{EscalateArgs, GlobalArgs};
use crate::exit::CommandError;
use crate::output::Report;
use crate::settings::{ESCALATION_DEADLINE, connection, deadline, load_config, state_dir};
use jcdiag_client::deliver::{self, Api, DeliverError, Outbox};
use jcdiag_client::form::CaseForm;
use jcdiag_profile::Profile;

/// `jcdiag escalate`: recorded on the endpoint, or, when it cannot be reached, an email draft
/// replying on the case with escalations@ in Cc (the guideline's own path).
pub(crate) fn escalate_command(
    global: &GlobalArgs,
    args: EscalateArgs,
) -> Result<Report, CommandError> {
    let config = load_config(global)?;
    start_log(global, &config, "escalate");
    let profile = Profile::builtin();
    let reason = args.reason.trim();
    if reason.is_empty() {
        return Err(CommandError::Usage(
            "reason: empty; say why the case needs escalating with --reason".into(),
        ));
    }
    let probe = CaseForm {
        case: Some(args.case_id.clone()),
        email: args.email.clone().or(config.email.clone()),
        ..CaseForm::default()
    };
    probe.validate(&[])?;
    let next_steps = jcdiag_client::email::escalation_next_steps(profile);
    let configured = args.send.endpoint.is_some() || config.endpoint.is_some();
    let unreachable = if configured {
        let api = Api::new(connection(&args.send, &config)?)?;
        let deadline = Instant::now() + deadline(&args.send, &config, ESCALATION_DEADLINE);
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
                return Err(CommandError::Refused(message));
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
    )?;
    let dir = args
        .out
        .clone()
        .or(config.out.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let eml = dir.join(format!("jcdiag-escalation-{}-{stamp}.eml", args.case_id));
    // The draft goes where --out says: a folder that cannot take it is the user's to fix.
    jcdiag_client::email::write_eml(&eml, &message)
        .map_err(|e| CommandError::Usage(e.to_string()))?;
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
pub(crate) fn outbox_contact(state_dir: &Path, case_id: &str) -> Option<String> {
    let entries = Outbox::new(state_dir).list().ok()?;
    entries
        .into_iter()
        .flatten()
        .filter(|e| e.state.case_id.as_deref() == Some(case_id))
        .filter_map(|e| e.case().ok()?.form.contact.email)
        .rfind(|email| jcdiag_client::form::looks_like_email(email))
}
