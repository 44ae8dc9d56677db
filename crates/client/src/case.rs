//! `case.json`: the form as support receives it, with the seed's definitions and the response
//! target attached.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::form::CaseForm;
use jcdiag_profile::Profile;
use jcdiag_profile::sla::{ResponseDue, ResponseRule, Severity, SlaError, SlaProfile, Tier};

pub use jcdiag_protocol::CASE_SCHEMA as SCHEMA;
use jcdiag_protocol::{CaseRecord, Contact, SeverityInfo};

/// The response target of a case, as a time and as a sentence.
#[derive(Debug, Clone)]
pub struct Target {
    pub due: Option<DateTime<Tz>>,
    pub text: String,
}

impl Target {
    pub fn due_rfc3339(&self) -> Option<String> {
        self.due
            .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, false))
    }
}

/// The response target for a tier and severity filed at `filed`.
pub fn target(
    sla: &SlaProfile,
    tier: Tier,
    severity: Severity,
    filed: DateTime<Utc>,
) -> Result<Target, SlaError> {
    let terms = &sla.tiers[&tier];
    Ok(match sla.response_due(tier, severity, filed)? {
        ResponseDue::At(due) => {
            let rule = match terms.response.get(&severity) {
                Some(ResponseRule::Wall { hours }) => format!("{hours} h, {}", terms.availability),
                Some(ResponseRule::Support { hours }) => {
                    format!("{hours} support hours, {}", terms.availability)
                }
                Some(ResponseRule::NextBusinessDay) => {
                    format!("next business day, {}", terms.availability)
                }
                None => terms.availability.clone(),
            };
            Target {
                due: Some(due),
                text: format!(
                    "{} severity {severity}: first response due by {} ({rule})",
                    terms.name,
                    due.format("%a %Y-%m-%d %H:%M %Z")
                ),
            }
        }
        ResponseDue::NoPublishedTarget(note) | ResponseDue::NoCases(note) => Target {
            due: None,
            text: note,
        },
    })
}

/// Parses the form's tier and severity, when both are given.
pub fn tier_and_severity(form: &CaseForm) -> Option<(Tier, Severity)> {
    let tier = form.tier.as_deref()?.parse().ok()?;
    let severity = Severity::try_from(form.severity?).ok()?;
    Some((tier, severity))
}

/// The case record for a form filed at `now`.
pub fn case_record(
    form: &CaseForm,
    profile: &Profile,
    sla: &SlaProfile,
    now: DateTime<Utc>,
) -> CaseRecord {
    // The same Tier and Severity types the intake and `sla --json` use: name and number.
    let severity = form
        .severity
        .and_then(|n| Severity::try_from(n).ok())
        .map(|level| {
            let info = profile.severities.get(&level.to_string());
            SeverityInfo {
                level,
                name: info.map(|i| i.name.clone()),
                definition: info.map(|i| i.definition.clone()),
            }
        });
    let target =
        tier_and_severity(form).and_then(|(tier, severity)| target(sla, tier, severity, now).ok());
    let tier = form.tier.as_deref().and_then(|t| t.parse::<Tier>().ok());
    CaseRecord {
        schema: SCHEMA.into(),
        case_id: form.case.clone(),
        created: Some(now.to_rfc3339_opts(SecondsFormat::Secs, true)),
        form: jcdiag_protocol::CaseForm {
            description: form.description.clone(),
            troubleshooting: form.troubleshooting.clone(),
            errors: form.error.clone(),
            screenshots: form
                .screenshot
                .iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect(),
            contact: Contact {
                name: form.name.clone(),
                email: form.email.clone(),
            },
            org: form.org.clone(),
            partner: form.partner.unwrap_or(false),
            extra: Default::default(),
        },
        tier,
        severity,
        response_due: target.as_ref().and_then(Target::due_rfc3339),
        response_target: Some(target.map_or_else(
            || "not computed: tier and severity not both given".to_string(),
            |t| t.text,
        )),
        channels: tier
            .map(|t| profile.channels_of(t.id(), form.partner == Some(true)))
            .unwrap_or_default(),
        tool_version: Some(env!("CARGO_PKG_VERSION").into()),
        recording: None,
        extra: Default::default(),
    }
}

/// [`case_record`] as JSON, for callers that add to it.
pub fn record(form: &CaseForm, profile: &Profile, sla: &SlaProfile, now: DateTime<Utc>) -> Value {
    serde_json::to_value(case_record(form, profile, sla, now)).expect("a case record serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_standard_case_on_friday_afternoon_is_due_monday() {
        let sla = &Profile::builtin().sla;
        // Friday 2026-11-27 16:30 MST = 23:30 UTC.
        let t = target(
            sla,
            Tier::Standard,
            Severity::try_from(1).unwrap(),
            at("2026-11-27T23:30:00Z"),
        )
        .unwrap();
        assert_eq!(
            t.due_rfc3339().as_deref(),
            Some("2026-11-30T12:30:00-07:00")
        );
        assert!(
            t.text.contains("Standard severity 1") && t.text.contains("4 support hours"),
            "{}",
            t.text
        );
    }

    #[test]
    fn free_and_jumpstart_have_no_time_but_say_why() {
        let sla = &Profile::builtin().sla;
        let sev = Severity::try_from(2).unwrap();
        let free = target(sla, Tier::Free, sev, Utc::now()).unwrap();
        assert!(free.due.is_none() && free.text.contains("JumpStart"));
        let jumpstart = target(sla, Tier::Jumpstart, sev, Utc::now()).unwrap();
        assert!(jumpstart.due.is_none() && jumpstart.text.contains("no published response target"));
    }

    #[test]
    fn the_record_carries_the_seed_definition_and_channels() {
        let form = CaseForm {
            description: Some("x".into()),
            severity: Some(1),
            tier: Some("premium".into()),
            ..Default::default()
        };
        let profile = Profile::builtin();
        let record = record(&form, profile, &profile.sla, at("2026-11-27T12:00:00Z"));
        assert_eq!(record["schema"], SCHEMA);
        assert_eq!(
            record["severity"]["definition"],
            profile.severities["1"].definition.as_str()
        );
        assert_eq!(record["response_due"], "2026-11-27T06:00:00-07:00");
        assert!(record["channels"].to_string().contains("+1 720 240 5005"));
    }
}
