//! `jcdiag sla`.

use serde_json::json;

use crate::cli::{GlobalArgs, SlaArgs};
use crate::exit::CommandError;
use crate::output::Report;
use crate::settings::{load_config, sla_terms};
use jcdiag_profile::Profile;

pub(crate) fn sla_command(global: &GlobalArgs, args: SlaArgs) -> Result<Report, CommandError> {
    let config = load_config(global)?;
    let profile = Profile::builtin();
    let sla = sla_terms(profile, &config)?;
    let tier: jcdiag_profile::sla::Tier = args
        .tier
        .parse()
        .map_err(|e| CommandError::Usage(format!("--tier: {e}")))?;
    let severity = jcdiag_profile::sla::Severity::try_from(args.severity)
        .map_err(|e| CommandError::Usage(format!("--severity: {e}")))?;
    let filed = match &args.at {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|_| {
                CommandError::Usage(format!(
                    "--at: `{text}` is not an RFC 3339 time like 2026-11-27T16:30:00-07:00"
                ))
            })?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let target = jcdiag_client::case::target(&sla, tier, severity, filed)?;
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
