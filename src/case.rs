//! `case.json`: the form as support receives it, with the seed's definitions attached.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::form::CaseForm;
use crate::profile::Profile;

pub const SCHEMA: &str = "jcdiag.case/1";

/// The case record for a form filed at `now`.
pub fn record(form: &CaseForm, profile: &Profile, now: DateTime<Utc>) -> Value {
    let severity = form.severity.map(|level| {
        let info = profile.severities.get(&level.to_string());
        json!({
            "level": level,
            "name": info.map(|i| i.name.clone()),
            "definition": info.map(|i| i.definition.clone()),
        })
    });
    let tier = form.tier.as_deref();
    json!({
        "schema": SCHEMA,
        "case_id": form.case,
        "created": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "form": {
            "description": form.description,
            "troubleshooting": form.troubleshooting,
            "errors": form.error,
            "screenshots": form.screenshot.iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect::<Vec<_>>(),
            "contact": { "name": form.name, "email": form.email },
            "org": form.org,
            "partner": form.partner.unwrap_or(false),
        },
        "tier": tier,
        "severity": severity,
        "response_due": null,
        "response_target": "not computed yet",
        "channels": tier.map(|t| profile.channels_of(t, form.partner == Some(true))).unwrap_or_default(),
        "tool_version": env!("CARGO_PKG_VERSION"),
    })
}
