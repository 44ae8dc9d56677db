//! The intake's own response targets: from the org's tier on record, the case's severity, the
//! time the case arrived and the support hours of the built-in profile plus `serve --holiday`.
//! A client's case.json may claim any target; the queue never uses it.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use jcdiag_profile::Profile;
use jcdiag_profile::sla::{ResponseDue, Severity, Tier};

/// When the first response to a case is due, as stored and answered (RFC 3339 in the support
/// time zone, as jcdiag's own case.json and `jcdiag sla` give it), or `None`
/// for a tier without a published target (JumpStart) or without cases (Free).
pub fn response_due(
    holidays: &BTreeSet<NaiveDate>,
    tier: Tier,
    severity: Severity,
    received: DateTime<Utc>,
) -> Option<String> {
    let mut sla = Profile::builtin().sla.clone();
    sla.support_hours.holidays.extend(holidays.iter().copied());
    match sla.response_due(tier, severity, received) {
        Ok(ResponseDue::At(due)) => Some(due.to_rfc3339_opts(SecondsFormat::Secs, true)),
        Ok(ResponseDue::NoPublishedTarget(_) | ResponseDue::NoCases(_)) => None,
        Err(error) => {
            tracing::warn!("no response target for a {tier} case: {error}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holidays_push_a_standard_target_past_them() {
        // Monday 2026-11-30 10:00 MST, severity 1: due 14:00 the same day, or, with Monday
        // and Tuesday off, 13:00 on Wednesday (the clock starts at Wednesday's opening).
        let filed = "2026-11-30T17:00:00Z".parse().unwrap();
        let severity: Severity = "1".parse().unwrap();
        let none = BTreeSet::new();
        assert_eq!(
            response_due(&none, Tier::Standard, severity, filed).as_deref(),
            Some("2026-11-30T14:00:00-07:00")
        );
        let off: BTreeSet<NaiveDate> = ["2026-11-30", "2026-12-01"]
            .iter()
            .map(|d| d.parse().unwrap())
            .collect();
        assert_eq!(
            response_due(&off, Tier::Standard, severity, filed).as_deref(),
            Some("2026-12-02T13:00:00-07:00")
        );
        assert_eq!(response_due(&none, Tier::Jumpstart, severity, filed), None);
    }
}
